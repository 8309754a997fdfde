/* json_yaml.c: JSON values printed as kubectl prints them: YAML (libyaml's emitter) and Go's
 * indented JSON (see json_yaml.h).
 *
 * kubectl's YAML goes JSON -> Go map -> go-yaml v2, and go-yaml's emitter is a port of
 * libyaml's, so asking libyaml for the same scalar styles go-yaml asks for gives the same
 * text: go-yaml decides only "plain, literal or double-quoted" (plain unless the text would
 * resolve to another type, literal when it holds a newline); the emitter then falls back from
 * plain to single quotes where plain is not allowed (": ", leading "- ", "#", ...). What
 * resolves to another type is go-yaml v2's resolve(), reproduced in yaml_plain_is_other(). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "json_yaml.h"

/* ------------------------------------------------------------------ Go's float formatting */

/* The shortest decimal digits of f > 0 that read back to f, and the decimal point position
 * (value = 0.DIGITS x 10^dp), as strconv computes them. */
static void shortest_digits(double f, char *digits, size_t cap, int *dp)
{
    char buf[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    size_t n = 0;
    char *e = strchr(buf, 'e');
    for (char *c = buf; c < e && n + 1 < cap; c++)
        if (isdigit((unsigned char)*c))
            digits[n++] = *c;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *dp = atoi(e + 1) + 1;
}

void json_yaml_go_float(double f, char fmt, char *out, size_t outlen)
{
    char digits[32], body[96];
    int dp, nd;
    size_t o = 0;
    const char *sign = signbit(f) ? "-" : "";
    if (isnan(f)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(f)) {
        snprintf(out, outlen, "%sInf", f < 0 ? "-" : "+");
        return;
    }
    f = fabs(f);
    if (f == 0) {
        snprintf(digits, sizeof(digits), "0");
        dp = 1;
    } else
        shortest_digits(f, digits, sizeof(digits), &dp);
    nd = (int)strlen(digits);
    if (fmt == 'g' || fmt == 'v') {
        int x = dp - 1;
        fmt = (x < -4 || x >= 6) && f != 0 ? 'e' : 'f';
    }
    if (fmt == 'e') {
        int x = f == 0 ? 0 : dp - 1;
        body[o++] = digits[0];
        if (nd > 1) {
            body[o++] = '.';
            for (int i = 1; i < nd; i++)
                body[o++] = digits[i];
        }
        snprintf(body + o, sizeof(body) - o, "e%c%02d", x < 0 ? '-' : '+', abs(x));
    } else {
        if (dp <= 0) {
            body[o++] = '0';
            body[o++] = '.';
            for (int i = 0; i < -dp && o < 60; i++)
                body[o++] = '0';
            for (int i = 0; i < nd; i++)
                body[o++] = digits[i];
        } else if (dp >= nd) {
            for (int i = 0; i < nd; i++)
                body[o++] = digits[i];
            for (int i = nd; i < dp && o < 90; i++)
                body[o++] = '0';
        } else {
            for (int i = 0; i < nd; i++) {
                if (i == dp)
                    body[o++] = '.';
                body[o++] = digits[i];
            }
        }
        body[o] = '\0';
    }
    snprintf(out, outlen, "%s%s", sign, body);
}

/* ------------------------------------------------------------------ Go's JSON */

typedef struct sbuf_s {
    char *data;
    size_t len, cap;
    int oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd) {
            b->oom = 1;
            return;
        }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void go_json_string(sbuf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *rep = NULL;
        size_t skip = 1;
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c == '\b')
            rep = "\\b";
        else if (c == '\f')
            rep = "\\f";
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(esc, sizeof(esc), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            rep = esc;
        } else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
            /* U+2028 and U+2029: Go escapes them for JavaScript's sake */
            snprintf(esc, sizeof(esc), "\\u202%c", (unsigned char)s[i + 2] == 0xa8 ? '8' : '9');
            rep = esc;
            skip = 3;
        }
        if (!rep)
            continue;
        sb_add(b, s + start, i - start);
        sb_puts(b, rep);
        i += skip - 1;
        start = i + 1;
    }
    sb_add(b, s + start, n - start);
    sb_add(b, "\"", 1);
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void go_json_indent(sbuf_t *b, int depth)
{
    sb_add(b, "\n", 1);
    for (int i = 0; i < depth; i++)
        sb_add(b, "    ", 4);
}

static void go_json_value(sbuf_t *b, const json_t *v, int depth)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char *key;
        json_t *val;
        if (!n) {
            sb_puts(b, "{}");
            return;
        }
        const char **keys = malloc(n * sizeof(*keys));
        if (!keys) {
            b->oom = 1;
            return;
        }
        json_object_foreach((json_t *)v, key, val)
            keys[i++] = key;
        qsort(keys, n, sizeof(*keys), cmp_bytes);
        sb_add(b, "{", 1);
        for (i = 0; i < n; i++) {
            go_json_indent(b, depth + 1);
            go_json_string(b, keys[i], strlen(keys[i]));
            sb_add(b, ": ", 2);
            go_json_value(b, json_object_get(v, keys[i]), depth + 1);
            if (i + 1 < n)
                sb_add(b, ",", 1);
        }
        free(keys);
        go_json_indent(b, depth);
        sb_add(b, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!n) {
            sb_puts(b, "[]");
            return;
        }
        sb_add(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            go_json_indent(b, depth + 1);
            go_json_value(b, json_array_get(v, i), depth + 1);
            if (i + 1 < n)
                sb_add(b, ",", 1);
        }
        go_json_indent(b, depth);
        sb_add(b, "]", 1);
        return;
    }
    case JSON_STRING:
        go_json_string(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_puts(b, num);
        return;
    case JSON_REAL: {
        double f = json_real_value(v), a = fabs(f);
        int e = a != 0 && (a < 1e-6 || a >= 1e21);
        json_yaml_go_float(f, e ? 'e' : 'f', num, sizeof(num));
        if (e) {
            /* encoding/json: e-07 -> e-7 */
            size_t l = strlen(num);
            if (l >= 4 && num[l - 4] == 'e' && num[l - 3] == '-' && num[l - 2] == '0') {
                num[l - 2] = num[l - 1];
                num[l - 1] = '\0';
            }
        }
        sb_puts(b, num);
        return;
    }
    case JSON_TRUE:
        sb_puts(b, "true");
        return;
    case JSON_FALSE:
        sb_puts(b, "false");
        return;
    case JSON_NULL:
        sb_puts(b, "null");
        return;
    }
}

char *json_yaml_go_json(const json_t *v)
{
    sbuf_t b = { 0 };
    go_json_value(&b, v, 0);
    sb_add(&b, "\n", 1);
    if (b.oom) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/* ------------------------------------------------------------------ go-yaml's resolve */

static int all_digits(const char *s, size_t n, int base)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        int d = isdigit(c) ? c - '0' : isxdigit(c) ? 10 + tolower(c) - 'a' : 99;
        if (d >= base)
            return 0;
    }
    return 1;
}

/* Go's strconv.ParseInt(s, 0, 64) or ParseUint(s, 0, 64) accepting s (no underscores). */
static int go_parses_int(const char *s, size_t n)
{
    int neg = 0, sign = 0;
    if (n && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        sign = 1;
        s++, n--;
    }
    int base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2, n -= 2;
    else if (n >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2, n -= 2;
    else if (n >= 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2, n -= 2;
    else if (n >= 2 && s[0] == '0')
        base = 8, s++, n--;
    if (!all_digits(s, n, base))
        return 0;
    /* range: int64 for signed forms, uint64 otherwise (ParseUint takes no sign) */
    unsigned long long v = 0, lim = sign ? (neg ? 9223372036854775808ULL : 9223372036854775807ULL)
                                         : 18446744073709551615ULL;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        unsigned d = (unsigned)(isdigit(c) ? c - '0' : 10 + tolower(c) - 'a');
        if (v > (lim - d) / (unsigned)base)
            return 0;
        v = v * (unsigned)base + d;
    }
    return 1;
}

/* Skip an exponent ([eE][-+]?[0-9]+) at s[*i], if one starts there. 0 when it has no digits. */
static int skip_exponent(const char *s, size_t n, size_t *i)
{
    size_t d;
    if (*i >= n || (s[*i] != 'e' && s[*i] != 'E'))
        return 1;
    ++*i;
    if (*i < n && (s[*i] == '+' || s[*i] == '-'))
        ++*i;
    for (d = *i; *i < n && isdigit((unsigned char)s[*i]); ++*i)
        ;
    return *i > d;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int yaml_style_float(const char *s, size_t n)
{
    size_t i = 0, d;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == d)
            return 0;
    } else {
        for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == d)
            return 0;
        if (i < n && s[i] == '.')
            for (i++; i < n && isdigit((unsigned char)s[i]); i++)
                ;
    }
    return skip_exponent(s, n, &i) && i == n;
}

/* strtod of a float text, refusing what Go's ParseFloat refuses (out of range). */
static int float_in_range(const char *s, size_t n)
{
    char buf[128];
    if (n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return !isinf(strtod(buf, NULL));
}

static size_t take_digits(const char *s, size_t n, size_t i, size_t max, int *val)
{
    size_t k = 0;
    *val = 0;
    while (i + k < n && k < max && isdigit((unsigned char)s[i + k])) {
        *val = *val * 10 + (s[i + k] - '0');
        k++;
    }
    return k;
}

/* go-yaml v2's parseTimestamp: time.Parse with "2006-1-2T15:4:5.999999999Z07:00", the same
 * with a lower-case t, "2006-1-2 15:4:5.999999999" and "2006-1-2". */
static int yaml_timestamp(const char *s, size_t n)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int year, mon, day;
    size_t i = 0, k;
    if (take_digits(s, n, 0, 5, &year) != 4 || n < 5 || s[4] != '-')
        return 0;
    i = 5;
    if (!(k = take_digits(s, n, i, 2, &mon)) || mon < 1 || mon > 12)
        return 0;
    i += k;
    if (i >= n || s[i] != '-')
        return 0;
    i++;
    if (!(k = take_digits(s, n, i, 2, &day)) || day < 1)
        return 0;
    i += k;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] || (mon == 2 && day == 29 && !leap))
        return 0;
    if (i == n)
        return 1;
    char sepc = s[i];
    if (sepc != 'T' && sepc != 't' && sepc != ' ')
        return 0;
    i++;
    static const int tmax[] = { 23, 59, 59 };   /* hh:mm:ss */
    for (int f = 0; f < 3; f++) {
        int v;
        if (f && (i >= n || s[i++] != ':'))
            return 0;
        if (!(k = take_digits(s, n, i, 2, &v)) || v > tmax[f])
            return 0;
        i += k;
    }
    if (i + 1 < n && (s[i] == '.' || s[i] == ',') && isdigit((unsigned char)s[i + 1]))
        for (i++; i < n && isdigit((unsigned char)s[i]); i++)
            ;
    if (sepc == ' ')
        return i == n;
    if (i < n && s[i] == 'Z')
        return i + 1 == n;
    return i + 6 == n && (s[i] == '+' || s[i] == '-') && isdigit((unsigned char)s[i + 1]) &&
           isdigit((unsigned char)s[i + 2]) && s[i + 3] == ':' &&
           isdigit((unsigned char)s[i + 4]) && isdigit((unsigned char)s[i + 5]);
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ (YAML 1.1 sexagesimal, quoted by go-yaml) */
static int yaml_base60_float(const char *s, size_t n)
{
    size_t i = 0;
    int groups = 0;
    if (!n || !memchr(s, ':', n))
        return 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    if (i >= n || !isdigit((unsigned char)s[i]))
        return 0;
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
        i++;
    while (i < n && s[i] == ':') {
        i++;
        if (i + 1 < n && s[i] >= '0' && s[i] <= '5' && isdigit((unsigned char)s[i + 1]))
            i += 2;
        else if (i < n && isdigit((unsigned char)s[i]))
            i++;
        else
            return 0;
        groups++;
    }
    if (!groups)
        return 0;
    if (i < n && s[i] == '.')
        for (i++; i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'); i++)
            ;
    return i == n;
}

/* 1 if the plain scalar s would not read back as the string s (go-yaml v2's resolve). */
static int yaml_plain_is_other(const char *s, size_t n)
{
    static const char *const words[] = {
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", NULL,
    };
    char plain[128];
    size_t pn = 0;
    if (n == 0)
        return 1;
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == n && !memcmp(words[i], s, n))
            return 1;
    if (s[0] == '.') {
        /* Go's ParseFloat: .5, .5e3 */
        size_t i = 1, d;
        for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == d || !skip_exponent(s, n, &i))
            return 0;
        return i == n && float_in_range(s, n);
    }
    if (!isdigit((unsigned char)s[0]) && s[0] != '+' && s[0] != '-')
        return 0;
    if (yaml_timestamp(s, n))
        return 1;
    if (n >= sizeof(plain))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            plain[pn++] = s[i];
    if (go_parses_int(plain, pn))
        return 1;
    if (yaml_style_float(plain, pn) && float_in_range(plain, pn))
        return 1;
    return 0;
}

/* ------------------------------------------------------------------ go-yaml's key order */

static int next_rune(const char *s, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    int r = c, extra = 0;
    if (c >= 0xf0)
        r = c & 7, extra = 3;
    else if (c >= 0xe0)
        r = c & 15, extra = 2;
    else if (c >= 0xc0)
        r = c & 31, extra = 1;
    (*i)++;
    while (extra-- > 0 && s[*i] && ((unsigned char)s[*i] & 0xc0) == 0x80)
        r = (r << 6) | ((unsigned char)s[(*i)++] & 0x3f);
    return r;
}

static int rune_letter(int r)
{
    return (r < 128 && isalpha(r)) || r >= 0xc0;
}

static int rune_digit(int r)
{
    return r >= '0' && r <= '9';
}

static size_t runes(const char *s, int *out, size_t cap)
{
    size_t i = 0, n = 0;
    while (s[i] && n < cap)
        out[n++] = next_rune(s, &i);
    return n;
}

/* go-yaml v2's keyList.Less for two string keys: letters after other runes, digit runs
 * compared as numbers. */
static int yaml_key_less(const char *a, const char *b)
{
    int ar[512], br[512];
    size_t an = runes(a, ar, 512), bn = runes(b, br, 512);
    for (size_t i = 0; i < an && i < bn; i++) {
        if (ar[i] == br[i])
            continue;
        int al = rune_letter(ar[i]), bl = rune_letter(br[i]);
        if (al && bl)
            return ar[i] < br[i];
        if (al || bl)
            return bl;
        long long av = 0, bv = 0;
        size_t ai, bi;
        if (ar[i] == '0' || br[i] == '0') {
            for (size_t j = i; j-- > 0 && rune_digit(ar[j]);)
                if (ar[j] != '0') {
                    av = 1, bv = 1;
                    break;
                }
        }
        for (ai = i; ai < an && rune_digit(ar[ai]); ai++)
            av = av * 10 + (ar[ai] - '0');
        for (bi = i; bi < bn && rune_digit(br[bi]); bi++)
            bv = bv * 10 + (br[bi] - '0');
        if (av != bv)
            return av < bv;
        if (ai != bi)
            return ai < bi;
        return ar[i] < br[i];
    }
    return an < bn;
}

static int cmp_yaml_keys(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    if (yaml_key_less(a, b))
        return -1;
    if (yaml_key_less(b, a))
        return 1;
    return 0;
}

/* ------------------------------------------------------------------ the emitter */

static int yaml_out(void *data, unsigned char *buffer, size_t size)
{
    sbuf_t *b = data;
    sb_add(b, (const char *)buffer, size);
    return !b->oom;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
        return 0;
    return yaml_emitter_emit(em, &ev);
}

static int emit_string(yaml_emitter_t *em, const char *s, size_t n)
{
    yaml_scalar_style_t style;
    if (memchr(s, '\n', n))
        style = YAML_LITERAL_SCALAR_STYLE;
    else if (yaml_plain_is_other(s, n) || yaml_base60_float(s, n))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else
        style = YAML_PLAIN_SCALAR_STYLE;
    return emit_scalar(em, s, n, style);
}

static int emit_value(yaml_emitter_t *em, const json_t *v, int flags)
{
    yaml_event_t ev;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char *key;
        json_t *val;
        const char **keys = malloc((n ? n : 1) * sizeof(*keys));
        if (!keys)
            return 0;
        json_object_foreach((json_t *)v, key, val)
            keys[i++] = key;
        if (flags & JSON_YAML_SORT_KEYS)
            qsort(keys, n, sizeof(*keys), cmp_yaml_keys);
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev)) {
            free(keys);
            return 0;
        }
        for (i = 0; i < n; i++) {
            if (!emit_string(em, keys[i], strlen(keys[i])) ||
                !emit_value(em, json_object_get(v, keys[i]), flags)) {
                free(keys);
                return 0;
            }
        }
        free(keys);
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        json_array_foreach(v, i, item)
            if (!emit_value(em, item, flags))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING:
        return emit_string(em, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL: {
        double f = json_real_value(v);
        /* kubectl's YAML is made from JSON text, where a whole float reads back as an int */
        if (f == floor(f) && fabs(f) < 1e21)
            snprintf(num, sizeof(num), "%.0f", f);
        else
            json_yaml_go_float(f, 'g', num, sizeof(num));
        return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_TRUE:
        return emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
    return 0;
}

char *json_yaml_dump(const json_t *v, int flags, size_t *len, char *err, size_t errlen)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    sbuf_t b = { 0 };
    int ok;
    if (!yaml_emitter_initialize(&em)) {
        snprintf(err, errlen, "yaml emitter: out of memory");
        return NULL;
    }
    yaml_emitter_set_output(&em, yaml_out, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_indent(&em, 2);
    ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
         yaml_emitter_emit(&em, &ev) &&
         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
         yaml_emitter_emit(&em, &ev) && emit_value(&em, v, flags) &&
         yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
         yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
         yaml_emitter_flush(&em);
    if (!ok || b.oom) {
        snprintf(err, errlen, "yaml emitter: %s",
                 b.oom ? "out of memory" : em.problem ? em.problem : "failed");
        yaml_emitter_delete(&em);
        free(b.data);
        return NULL;
    }
    yaml_emitter_delete(&em);
    /* libyaml 0.2.5 ends a document whose last scalar is open-ended ("|+") with "...";
     * go-yaml does not. A line that is only "..." at column 0 can only be that marker. */
    if (b.len >= 4 && !strcmp(b.data + b.len - 4, "...\n") &&
        (b.len == 4 || b.data[b.len - 5] == '\n')) {
        b.len -= 4;
        b.data[b.len] = '\0';
    }
    if (!b.data) {
        b.data = strdup("");
        if (!b.data) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    if (len)
        *len = b.len;
    return b.data;
}
