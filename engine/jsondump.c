/* jsondump.c: see jsondump.h. The rules are jansson 2.14's dump.c for JSON_COMPACT without
 * JSON_INDENT: "," and ":" with no spaces, keys in insertion order, strings with '"', '\'
 * and the control characters escaped (\b \f \n \r \t, else \u00XX in upper-case hex),
 * everything else as it is, '/' and non-ASCII included. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsondump.h"
#include "jsonstr.h"

/* Deeper trees (jansson itself has no limit but the stack) are left to json_dumps. */
#define JSONDUMP_MAX_DEPTH 512

typedef struct out_s {
    char *buf;
    size_t len, cap;
} out_t;

static int grow(out_t *o, size_t more)
{
    size_t cap = o->cap ? o->cap : 1024;
    while (cap - o->len < more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *b = realloc(o->buf, cap);
    if (!b)
        return -1;
    o->buf = b;
    o->cap = cap;
    return 0;
}

static inline int put(out_t *o, const void *data, size_t n)
{
    if (o->cap - o->len < n && grow(o, n) != 0)
        return -1;
    memcpy(o->buf + o->len, data, n);
    o->len += n;
    return 0;
}

static inline int put_c(out_t *o, char c)
{
    if (o->len == o->cap && grow(o, 1) != 0)
        return -1;
    o->buf[o->len++] = c;
    return 0;
}

static int put_string(out_t *o, const char *str, size_t len)
{
    const unsigned char *p = (const unsigned char *)str, *end = p + len, *run;
    static const char hex[] = "0123456789ABCDEF";
    size_t n;

    if (put_c(o, '"') != 0)
        return -1;
    while (p < end) {
        run = p;
        while (p < end && jsonstr_plain[*p])
            p++;
        if (p > run && put(o, run, (size_t)(p - run)) != 0)
            return -1;
        if (p >= end)
            break;
        if (*p >= 0x80) {
            /* jansson refuses to write a string that is not valid UTF-8. */
            if (!(n = utf8_seq(p, end)) || put(o, p, n) != 0)
                return -1;
            p += n;
            continue;
        }
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0xf];
            elen = 6;
            break;
        }
        if (put(o, esc, elen) != 0)
            return -1;
        p++;
    }
    return put_c(o, '"');
}

static int put_integer(out_t *o, json_int_t v)
{
    char tmp[24], *e = tmp + sizeof(tmp), *s = e;
    /* Through uint64_t: the magnitude of INT64_MIN does not fit in json_int_t. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--s = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--s = '-';
    return put(o, s, (size_t)(e - s));
}

static int put_value(out_t *o, const json_t *v, unsigned depth)
{
    if (depth > JSONDUMP_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        void *it = json_object_iter((json_t *)v);
        if (put_c(o, '{') != 0)
            return -1;
        for (int first = 1; it; it = json_object_iter_next((json_t *)v, it), first = 0) {
            if ((!first && put_c(o, ',') != 0) ||
                put_string(o, json_object_iter_key(it), json_object_iter_key_len(it)) != 0 ||
                put_c(o, ':') != 0 || put_value(o, json_object_iter_value(it), depth + 1) != 0)
                return -1;
        }
        return put_c(o, '}');
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (put_c(o, '[') != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if ((i && put_c(o, ',') != 0) || put_value(o, json_array_get(v, i), depth + 1) != 0)
                return -1;
        }
        return put_c(o, ']');
    }
    case JSON_STRING:
        return put_string(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(o, json_integer_value(v));
    case JSON_TRUE:
        return put(o, "true", 4);
    case JSON_FALSE:
        return put(o, "false", 5);
    case JSON_NULL:
        return put(o, "null", 4);
    default:
        return -1;   /* reals: jansson's %.17g and its clean-ups */
    }
}

char *jsondump_fast(const json_t *v, size_t flags)
{
    out_t o = { NULL, 0, 0 };

    if (!v || (flags & ~(size_t)(JSON_COMPACT | JSON_ENCODE_ANY)) != 0 || !(flags & JSON_COMPACT))
        return NULL;
    if (!(flags & JSON_ENCODE_ANY) && !json_is_object(v) && !json_is_array(v))
        return NULL;
    if (put_value(&o, v, 0) != 0 || put_c(&o, '\0') != 0) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}

char *jsondump(const json_t *v, size_t flags)
{
    char *s = jsondump_fast(v, flags);
    return s ? s : json_dumps(v, flags);
}
