/* jsonload.c: see jsonload.h.
 *
 * A recursive-descent scanner over the buffer. What makes it faster than jansson's loader is
 * that strings without escapes (nearly all of them in Kubernetes objects) go from the buffer
 * to json_stringn_nocheck or json_object_setn_new_nocheck in one copy, found by a table-driven
 * loop, where jansson reads every byte through a stream callback into a growing buffer and
 * copies it again. Values are made with jansson's own constructors, so the tree is the same.
 *
 * Every rule below mirrors jansson 2.14's load.c and utf.c; where that would take care (errors
 * and their positions, JSON_REJECT_DUPLICATES, JSON_ALLOW_NUL, numbers strtoll or strtod
 * would reject, very deep nesting), the scanner gives up and jsonload() asks json_loadb. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonload.h"
#include "jsonstr.h"

/* Deeper nesting is left to jansson (its limit is 2048, JSON_PARSER_MAX_DEPTH): it also
 * bounds this scanner's recursion. */
#define JSONLOAD_MAX_DEPTH 512

typedef struct scan_s {
    const unsigned char *p, *end;
    unsigned depth;
    char *scratch;              /* decoded strings with escapes; owned, freed at the end */
    size_t scratch_len, scratch_cap;
} scan_t;

static json_t *scan_value(scan_t *s);

static inline void skip_ws(scan_t *s)
{
    const unsigned char *p = s->p, *end = s->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    s->p = p;
}

static int scratch_add(scan_t *s, const void *data, size_t len)
{
    if (len == 0)
        return 0;   /* a string opening with an escape: the scratch may not exist yet */
    if (s->scratch_len + len > s->scratch_cap) {
        size_t cap = s->scratch_cap ? s->scratch_cap : 256;
        while (cap < s->scratch_len + len)
            cap *= 2;
        char *grown = realloc(s->scratch, cap);
        if (!grown)
            return -1;
        s->scratch = grown;
        s->scratch_cap = cap;
    }
    memcpy(s->scratch + s->scratch_len, data, len);
    s->scratch_len += len;
    return 0;
}

static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
    uint32_t v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* The escape after the backslash at *pp, appended to the scratch decoded; *pp moves past it. */
static int scan_escape(scan_t *s, const unsigned char **pp)
{
    const unsigned char *p = *pp + 1, *end = s->end;
    unsigned char out[4];
    uint32_t v, lo;
    size_t n;

    if (p >= end)
        return -1;
    switch (*p) {
    case '"': case '\\': case '/': out[0] = *p; n = 1; break;
    case 'b': out[0] = '\b'; n = 1; break;
    case 'f': out[0] = '\f'; n = 1; break;
    case 'n': out[0] = '\n'; n = 1; break;
    case 'r': out[0] = '\r'; n = 1; break;
    case 't': out[0] = '\t'; n = 1; break;
    case 'u':
        if (hex4(p + 1, end, &v) != 0)
            return -1;
        p += 4;
        if (v >= 0xd800 && v <= 0xdbff) {
            /* A high surrogate must be followed by an escaped low one. */
            if (end - p < 3 || p[1] != '\\' || p[2] != 'u' || hex4(p + 3, end, &lo) != 0 ||
                lo < 0xdc00 || lo > 0xdfff)
                return -1;
            p += 6;
            v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
        } else if ((v >= 0xdc00 && v <= 0xdfff) || v == 0) {
            return -1;   /* a lone low surrogate; \u0000 needs JSON_ALLOW_NUL */
        }
        if (v < 0x80) {
            out[0] = (unsigned char)v;
            n = 1;
        } else if (v < 0x800) {
            out[0] = 0xc0 | (v >> 6);
            out[1] = 0x80 | (v & 0x3f);
            n = 2;
        } else if (v < 0x10000) {
            out[0] = 0xe0 | (v >> 12);
            out[1] = 0x80 | ((v >> 6) & 0x3f);
            out[2] = 0x80 | (v & 0x3f);
            n = 3;
        } else {
            out[0] = 0xf0 | (v >> 18);
            out[1] = 0x80 | ((v >> 12) & 0x3f);
            out[2] = 0x80 | ((v >> 6) & 0x3f);
            out[3] = 0x80 | (v & 0x3f);
            n = 4;
        }
        break;
    default:
        return -1;
    }
    *pp = p + 1;
    return scratch_add(s, out, n);
}

/* The string whose opening quote is at s->p: *out points into the buffer when it has no
 * escapes, into the scratch (valid until the next string) when it has; s->p moves past the
 * closing quote. */
static int scan_string(scan_t *s, const char **out, size_t *outlen)
{
    const unsigned char *p = s->p + 1, *start = p, *end = s->end;
    size_t n;

    for (;;) {
        while (p < end && jsonstr_plain[*p])
            p++;
        if (p >= end)
            return -1;
        if (*p == '"') {
            *out = (const char *)start;
            *outlen = (size_t)(p - start);
            s->p = p + 1;
            return 0;
        }
        if (*p == '\\')
            break;
        if (*p < 0x20 || !(n = utf8_seq(p, end)))
            return -1;
        p += n;
    }
    /* Escapes: decode into the scratch from here on. */
    s->scratch_len = 0;
    if (scratch_add(s, start, (size_t)(p - start)) != 0)
        return -1;
    for (;;) {
        const unsigned char *run = p;
        while (p < end && jsonstr_plain[*p])
            p++;
        if (p > run && scratch_add(s, run, (size_t)(p - run)) != 0)
            return -1;
        if (p >= end)
            return -1;
        if (*p == '"')
            break;
        if (*p == '\\') {
            if (scan_escape(s, &p) != 0)
                return -1;
            continue;
        }
        if (*p < 0x20 || !(n = utf8_seq(p, end)) || scratch_add(s, p, n) != 0)
            return -1;
        p += n;
    }
    *out = s->scratch;
    *outlen = s->scratch_len;
    s->p = p + 1;
    return 0;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* jansson's number grammar (lex_scan_number): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * an integer when there is neither fraction nor exponent. */
static json_t *scan_number(scan_t *s)
{
    const unsigned char *p = s->p, *end = s->end, *start = p, *digits;
    int neg = 0, real = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    digits = p;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return NULL;
    } else if (is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        real = 1;
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    s->p = p;
    if (!real) {
        /* strtoll's range; anything near its edge is left to jansson. */
        uint64_t v = 0;
        for (const unsigned char *d = digits; d < p; d++) {
            if (v >= UINT64_C(100000000000000000))   /* 10^17: 19+ digits */
                return NULL;
            v = v * 10 + (uint64_t)(*d - '0');
        }
        return json_integer(neg ? -(json_int_t)v : (json_int_t)v);
    }
    char tmp[64], *tail;
    size_t len = (size_t)(p - start);
    if (len >= sizeof(tmp))
        return NULL;
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    errno = 0;
    double d = strtod(tmp, &tail);
    if (tail != tmp + len || ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE))
        return NULL;
    return json_real(d);
}

/* Where an object or array (closed by close) goes on: 1 when a member or element follows,
 * 0 past the closing bracket, -1 for anything else. first: right after the opening
 * bracket, where the close may come at once and a ',' may not; else after a member. */
static int next_member(scan_t *s, unsigned char close, int first)
{
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    if (*s->p == close) {
        s->p++;
        return 0;
    }
    if (first)
        return 1;
    if (*s->p != ',')
        return -1;
    s->p++;
    skip_ws(s);
    return 1;
}

static json_t *scan_object(scan_t *s)
{
    json_t *obj = json_object(), *v;
    const char *key;
    size_t klen;
    char small[128], *copy;
    int more;

    if (!obj)
        return NULL;
    s->p++;
    for (more = next_member(s, '}', 1); more > 0; more = next_member(s, '}', 0)) {
        if (s->p >= s->end || *s->p != '"' || scan_string(s, &key, &klen) != 0)
            goto fail;
        copy = NULL;
        if (key == s->scratch) {
            /* Escaped keys are rare: keep the key while the value reuses the scratch. */
            copy = klen < sizeof(small) ? small : malloc(klen);
            if (!copy)
                goto fail;
            memcpy(copy, key, klen);
            key = copy;
        }
        skip_ws(s);
        v = NULL;
        if (s->p < s->end && *s->p == ':') {
            s->p++;
            skip_ws(s);
            v = scan_value(s);
        }
        /* json_object_setn_new_nocheck takes v even when it fails. A repeated key replaces
         * the value and keeps its place, as jansson's loader does. */
        int bad = !v || json_object_setn_new_nocheck(obj, key, klen, v) != 0;
        if (copy && copy != small)
            free(copy);
        if (bad)
            goto fail;
    }
    if (more == 0)
        return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *scan_array(scan_t *s)
{
    json_t *arr = json_array(), *v;
    int more;

    if (!arr)
        return NULL;
    s->p++;
    for (more = next_member(s, ']', 1); more > 0; more = next_member(s, ']', 0)) {
        v = scan_value(s);
        if (!v || json_array_append_new(arr, v) != 0)
            goto fail;
    }
    if (more == 0)
        return arr;
fail:
    json_decref(arr);
    return NULL;
}

static int literal(scan_t *s, const char *word, size_t len)
{
    if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
        return -1;
    s->p += len;
    /* jansson reads a whole identifier: "truex" is not "true" then "x". */
    if (s->p < s->end && ((*s->p | 0x20) >= 'a' && (*s->p | 0x20) <= 'z'))
        return -1;
    return 0;
}

/* The value at s->p (no whitespace before it). */
static json_t *scan_value(scan_t *s)
{
    json_t *v = NULL;
    const char *str;
    size_t len;

    if (s->p >= s->end || ++s->depth > JSONLOAD_MAX_DEPTH)
        return NULL;
    switch (*s->p) {
    case '{': v = scan_object(s); break;
    case '[': v = scan_array(s); break;
    case '"':
        if (scan_string(s, &str, &len) == 0)
            v = json_stringn_nocheck(str, len);
        break;
    case 't': v = literal(s, "true", 4) == 0 ? json_true() : NULL; break;
    case 'f': v = literal(s, "false", 5) == 0 ? json_false() : NULL; break;
    case 'n': v = literal(s, "null", 4) == 0 ? json_null() : NULL; break;
    default:
        if (*s->p == '-' || is_digit(*s->p))
            v = scan_number(s);
        break;
    }
    s->depth--;
    return v;
}

json_t *jsonload_fast(const char *buf, size_t len, size_t flags)
{
    scan_t s;
    json_t *v;

    if (!buf || (flags & ~(size_t)JSON_DECODE_ANY))
        return NULL;
    memset(&s, 0, sizeof(s));
    s.p = (const unsigned char *)buf;
    s.end = s.p + len;
    skip_ws(&s);
    if (s.p >= s.end || (!(flags & JSON_DECODE_ANY) && *s.p != '{' && *s.p != '['))
        return NULL;
    v = scan_value(&s);
    if (v) {
        skip_ws(&s);
        if (s.p != s.end) {
            json_decref(v);
            v = NULL;
        }
    }
    free(s.scratch);
    return v;
}

json_t *jsonload(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    json_t *v = jsonload_fast(buf, len, flags);
    if (!v)
        return json_loadb(buf, len, flags, err);
    if (err) {
        /* What json_loadb leaves in it on success: no text, line and column -1, and the
         * position its lexer reached, which is the end (the scanner read every byte). */
        memset(err, 0, sizeof(*err));
        err->line = err->column = -1;
        err->position = (int)len;
        snprintf(err->source, sizeof(err->source), "<buffer>");
    }
    return v;
}
