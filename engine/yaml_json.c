/* yaml_json.c: YAML streams to jansson values over libyaml's event API (see yaml_json.h).
 *
 * Events are folded into JSON as they arrive, with a stack of open containers. The
 * event API (rather than libyaml's document loader) is used because the loader gives
 * every untagged scalar the !!str tag, which hides whether a scalar was plain -- the one
 * fact YAML 1.1 resolution needs.
 *
 * Resolution of plain scalars follows go-yaml v2 (what sigs.k8s.io/yaml runs):
 *   y Y yes Yes YES true True TRUE on On ON          -> true
 *   n N no No NO false False FALSE off Off OFF       -> false
 *   "" ~ null Null NULL                              -> null
 *   Go integer syntax after removing '_' (sign, 0x, 0o, 0b, leading-0 octal) -> integer
 *   [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? -> number; an integral float
 *     becomes a JSON integer, as Go's encoding/json prints 1e3 as 1000
 *   .inf .nan and the like stay strings: JSON cannot hold them
 *   anything else, and every quoted or block scalar -> string
 * Explicit tags !!str !!int !!float !!bool !!null are honoured; other tags are ignored
 * and the scalar kept as a string. Mapping keys are stringified as sigs.k8s.io/yaml does
 * (true -> "true", 1 -> "1"); null and non-scalar keys are errors.
 *
 * Choices where YAML tools differ:
 *   - a duplicate key in one mapping is an error ("key "a" already set in map"), as in
 *     sigs.k8s.io/yaml's strict mode;
 *   - merge keys (<<: *base, or a list of them) are supported; keys written in the
 *     mapping win over merged ones, and among merged maps the first listed wins;
 *   - an alias is expanded by deep copy; more than 10000 nodes produced by aliases in one
 *     stream, or nesting deeper than 100, is an error;
 *   - yaml_parse_one of an empty stream gives JSON null (as YAMLToJSON("") does), and
 *     null documents do not count towards "exactly one".
 *
 * Depends on libyaml and jansson. Called by the API server's body decoding and by
 * manifest loading. */
#include "yaml_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YP_MAX_DEPTH     100
#define YP_MAX_ALIAS_NODES 10000

#define TAG_INT   "tag:yaml.org,2002:int"
#define TAG_FLOAT "tag:yaml.org,2002:float"
#define TAG_BOOL  "tag:yaml.org,2002:bool"
#define TAG_NULL  "tag:yaml.org,2002:null"
#define TAG_MERGE "tag:yaml.org,2002:merge"

typedef struct yp_anchor_s {
    char   *name;
    json_t *value;      /* reference held by the table */
    size_t  nodes;      /* nodes in value, what an alias to it adds */
    int     height;     /* container levels in value */
} yp_anchor_t;

typedef struct yp_frame_s {
    json_t     *node;       /* the object or array being filled */
    int         is_map;
    char       *anchor;     /* registered when the container ends, or NULL */
    yaml_mark_t start;
    size_t      nodes;      /* nodes below this one */
    int         height;     /* container levels below this one */
    /* mappings only */
    int         have_key;
    int         key_is_merge;
    char       *key;
    size_t      keylen;
    yaml_mark_t key_mark;
    json_t     *merged;     /* entries from << merges, added where absent at the end */
} yp_frame_t;

typedef struct yp_s {
    yaml_parser_t parser;
    const char   *buf;
    size_t        len;
    yp_frame_t    frames[YP_MAX_DEPTH];
    int           depth;
    yp_anchor_t  *anchors;
    size_t        nanchors, capanchors;
    size_t        alias_nodes;
    json_t       *root;
    int           have_root;
    char         *err;
    size_t        errlen;
} yp_t;

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                                */
/* ------------------------------------------------------------------------------------ */

static void yp_fail(yp_t *p, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "line N, column M: <problem>" with 1-based positions. */
static void yp_fail(yp_t *p, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    int n = 0;
    if (!p->err || p->errlen == 0)
        return;
    if (m)
        n = snprintf(p->err, p->errlen, "line %zu, column %zu: ", m->line + 1, m->column + 1);
    if (n < 0 || (size_t)n >= p->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Turn libyaml's error state into our message. Reader errors carry only a byte offset;
 * the line and column are counted from the buffer. */
static void yp_fail_parser(yp_t *p)
{
    yaml_parser_t *ps = &p->parser;
    const char *problem = ps->problem ? ps->problem : "unknown error";
    yaml_mark_t m = ps->problem_mark;

    switch (ps->error) {
    case YAML_MEMORY_ERROR:
        yp_fail(p, NULL, "out of memory");
        return;
    case YAML_READER_ERROR: {
        size_t off = ps->problem_offset < p->len ? ps->problem_offset : p->len;
        memset(&m, 0, sizeof m);
        for (size_t i = 0; i < off; i++) {
            if (p->buf[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
        yp_fail(p, &m, "%s", problem);
        return;
    }
    default:
        if (ps->context)
            yp_fail(p, &m, "%s (%s at line %zu, column %zu)", problem, ps->context,
                    ps->context_mark.line + 1, ps->context_mark.column + 1);
        else
            yp_fail(p, &m, "%s", problem);
    }
}

/* Go's %#v of a string, for keys in messages. */
static void yp_goquote(char *out, size_t outlen, const char *s, size_t n)
{
    size_t w = 0;
    if (outlen < 8) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    out[w++] = '"';
    for (size_t i = 0; i < n && w + 6 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[w++] = '\\';
            out[w++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            w += (size_t)snprintf(out + w, outlen - w, "\\x%02x", c);
        } else {
            out[w++] = (char)c;
        }
    }
    out[w++] = '"';
    out[w] = '\0';
}

/* ------------------------------------------------------------------------------------ */
/* Scalar resolution                                                                     */
/* ------------------------------------------------------------------------------------ */

typedef enum { YV_STR, YV_NULL, YV_BOOL, YV_INT, YV_FLOAT, YV_MERGE } yv_kind_t;

static int yp_in(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

/* Go's strconv.ParseInt(s, 0, 64) then ParseUint(s, 0, 64) on a string without
 * underscores. Returns 1 with *iv, 2 with *uv (beyond int64), 0 if not an integer. */
static int yp_go_int(const char *s, long long *iv, unsigned long long *uv)
{
    int neg = 0, sign = 0, base = 10;
    const char *p = s;
    unsigned long long acc = 0;

    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        sign = 1;
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && p[1]) {
        base = 8;
        p += 1;
    }
    if (!*p)
        return 0;
    for (; *p; p++) {
        int d;
        char c = *p;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        if (d >= base)
            return 0;
        if (acc > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
            return 0;   /* beyond uint64: Go reports a range error */
        acc = acc * (unsigned)base + (unsigned)d;
    }
    if (neg) {
        if (acc > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *iv = acc == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)acc;
        return 1;
    }
    if (acc <= (unsigned long long)LLONG_MAX) {
        *iv = (long long)acc;
        return 1;
    }
    if (sign)
        return 0;   /* ParseUint takes no sign */
    *uv = acc;
    return 2;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int yp_float_syntax(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    } else {
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* A finite double as JSON: integral values within int64 as integers (Go's encoding/json
 * prints 1000.0 as 1000), others as reals. */
static json_t *yp_number(double d)
{
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* Implicit resolution of a plain scalar (go-yaml v2 resolve()). s is NUL-terminated;
 * a scalar holding NUL bytes is never anything but a string. */
static json_t *yp_resolve_plain(const char *s, size_t len, yv_kind_t *kind)
{
    static const char *const yes[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                       "on", "On", "ON", NULL };
    static const char *const no[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                      "off", "Off", "OFF", NULL };
    static const char *const nul[] = { "", "~", "null", "Null", "NULL", NULL };
    char c = len ? s[0] : 'N';

    *kind = YV_STR;
    if (strlen(s) != len)
        return json_stringn(s, len);
    if (strchr("yYnNtTfFoO~N", c) || len == 0) {
        if (yp_in(s, yes)) {
            *kind = YV_BOOL;
            return json_true();
        }
        if (yp_in(s, no)) {
            *kind = YV_BOOL;
            return json_false();
        }
        if (yp_in(s, nul)) {
            *kind = YV_NULL;
            return json_null();
        }
        return json_stringn(s, len);
    }
    if (c == '.') {
        /* .inf/.nan spellings stay strings; other .5 forms are floats */
        if (yp_float_syntax(s)) {
            errno = 0;
            double d = strtod(s, NULL);
            if (isfinite(d)) {
                *kind = YV_FLOAT;
                return yp_number(d);
            }
        }
        return json_stringn(s, len);
    }
    if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
        char *plain = malloc(len + 1);
        size_t w = 0;
        json_t *v = NULL;
        if (!plain)
            return NULL;
        for (size_t i = 0; i < len; i++)
            if (s[i] != '_')
                plain[w++] = s[i];
        plain[w] = '\0';
        long long iv;
        unsigned long long uv;
        int r = yp_go_int(plain, &iv, &uv);
        if (r == 1) {
            *kind = YV_INT;
            v = json_integer(iv);
        } else if (r == 2) {
            /* jansson has no unsigned 64-bit integer; the nearest double */
            *kind = YV_INT;
            v = json_real((double)uv);
        } else if (yp_float_syntax(plain)) {
            double d = strtod(plain, NULL);
            if (isfinite(d)) {
                *kind = YV_FLOAT;
                v = yp_number(d);
            }
        }
        free(plain);
        return v ? v : json_stringn(s, len);
    }
    return json_stringn(s, len);
}

static const char *yp_short_tag(const char *tag)
{
    static const char prefix[] = "tag:yaml.org,2002:";
    static __thread char buf[64];
    if (!strncmp(tag, prefix, sizeof prefix - 1)) {
        snprintf(buf, sizeof buf, "!!%s", tag + sizeof prefix - 1);
        return buf;
    }
    return tag;
}

/* A scalar event to a JSON value (new reference), or NULL with the error set. */
static json_t *yp_scalar(yp_t *p, const yaml_event_t *ev, yv_kind_t *kind)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    json_t *v;

    *kind = YV_STR;
    if (!tag && !ev->data.scalar.plain_implicit) {
        v = json_stringn(s, len);            /* quoted or block scalar */
    } else if (!tag) {
        if (len == 2 && !memcmp(s, "<<", 2)) {
            *kind = YV_MERGE;
            v = json_stringn(s, len);
        } else {
            v = yp_resolve_plain(s, len, kind);
        }
    } else if (!strcmp(tag, TAG_MERGE)) {
        *kind = YV_MERGE;
        v = json_stringn(s, len);
    } else if (!strcmp(tag, TAG_INT) || !strcmp(tag, TAG_FLOAT) || !strcmp(tag, TAG_BOOL) ||
               !strcmp(tag, TAG_NULL)) {
        v = yp_resolve_plain(s, len, kind);
        if (!v)
            goto oom;
        int fits = (!strcmp(tag, TAG_INT) && *kind == YV_INT) ||
                   (!strcmp(tag, TAG_FLOAT) && (*kind == YV_FLOAT || *kind == YV_INT)) ||
                   (!strcmp(tag, TAG_BOOL) && *kind == YV_BOOL) ||
                   (!strcmp(tag, TAG_NULL) && *kind == YV_NULL);
        if (!fits) {
            static const char *const names[] = { "!!str", "!!null", "!!bool", "!!int",
                                                 "!!float", "!!merge" };
            yp_fail(p, &ev->start_mark, "cannot decode %s `%.*s` as a %s", names[*kind],
                    (int)(len > 64 ? 64 : len), s, yp_short_tag(tag));
            json_decref(v);
            return NULL;
        }
        if (!strcmp(tag, TAG_FLOAT) && *kind == YV_INT && json_is_integer(v)) {
            /* !!float 1 is 1.0; JSON prints it as the integer anyway */
            *kind = YV_FLOAT;
        }
        return v;
    } else {
        /* !!str, !!timestamp, !!binary, local and unknown tags: the text as written */
        v = json_stringn(s, len);
    }
    if (!v)
        goto oom;   /* json_stringn also refuses bad UTF-8, which libyaml never emits */
    return v;
oom:
    yp_fail(p, &ev->start_mark, "out of memory");
    return NULL;
}

/* Key text for a resolved scalar, as sigs.k8s.io/yaml turns map keys into JSON object
 * keys. Returns a malloc'd string (length in *len) or NULL for keys it cannot use. */
static char *yp_key_text(const json_t *v, size_t *len)
{
    char buf[64];
    const char *s = buf;
    size_t n;

    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_true(v)) {
        s = "true";
        n = 4;
    } else if (json_is_false(v)) {
        s = "false";
        n = 5;
    } else if (json_is_integer(v)) {
        n = (size_t)snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        n = strlen(buf);
    } else {
        return NULL;
    }
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
        *len = n;
    }
    return out;
}

/* ------------------------------------------------------------------------------------ */
/* Anchors                                                                               */
/* ------------------------------------------------------------------------------------ */

/* Remember value under name; takes a new reference to value. */
static int yp_anchor_add(yp_t *p, const char *name, json_t *value, size_t nodes, int height,
                         const yaml_mark_t *m)
{
    if (p->nanchors == p->capanchors) {
        size_t cap = p->capanchors ? p->capanchors * 2 : 8;
        yp_anchor_t *a = realloc(p->anchors, cap * sizeof *a);
        if (!a)
            goto oom;
        p->anchors = a;
        p->capanchors = cap;
    }
    char *dup = strdup(name);
    if (!dup)
        goto oom;
    yp_anchor_t *a = &p->anchors[p->nanchors++];
    a->name = dup;
    a->value = json_incref(value);
    a->nodes = nodes;
    a->height = height;
    return 1;
oom:
    yp_fail(p, m, "out of memory");
    return 0;
}

/* The latest definition wins, as YAML allows an anchor to be redefined. */
static yp_anchor_t *yp_anchor_find(yp_t *p, const char *name)
{
    for (size_t i = p->nanchors; i-- > 0;)
        if (!strcmp(p->anchors[i].name, name))
            return &p->anchors[i];
    return NULL;
}

/* Anchors do not reach across documents. The alias budget does: it is for the whole
 * stream, or many documents each just under it would add up without bound. */
static void yp_anchors_clear(yp_t *p)
{
    for (size_t i = 0; i < p->nanchors; i++) {
        free(p->anchors[i].name);
        json_decref(p->anchors[i].value);
    }
    p->nanchors = 0;
}

/* ------------------------------------------------------------------------------------ */
/* The container stack                                                                   */
/* ------------------------------------------------------------------------------------ */

static void yp_frame_release(yp_frame_t *f)
{
    json_decref(f->node);
    json_decref(f->merged);
    free(f->anchor);
    free(f->key);
    memset(f, 0, sizeof *f);
}

static void yp_stack_clear(yp_t *p)
{
    while (p->depth > 0)
        yp_frame_release(&p->frames[--p->depth]);
    json_decref(p->root);
    p->root = NULL;
    p->have_root = 0;
}

static int yp_in_key_position(const yp_t *p)
{
    return p->depth > 0 && p->frames[p->depth - 1].is_map && !p->frames[p->depth - 1].have_key;
}

/* Copy the entries of src into dst where dst lacks them. */
static int yp_merge_into(json_t *dst, json_t *src)
{
    const char *k;
    size_t klen;
    json_t *v;
    void *tmp;
    json_object_keylen_foreach_safe(src, tmp, k, klen, v) {
        if (!json_object_getn(dst, k, klen) && json_object_setn(dst, k, klen, v) != 0)
            return 0;
    }
    return 1;
}

/* A << value: a mapping, or a sequence of mappings (earlier ones win). */
static int yp_merge(yp_t *p, yp_frame_t *f, json_t *v)
{
    if (!f->merged && !(f->merged = json_object()))
        goto oom;
    if (json_is_object(v)) {
        if (!yp_merge_into(f->merged, v))
            goto oom;
        return 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            if (!json_is_object(e))
                goto bad;
        json_array_foreach(v, i, e)
            if (!yp_merge_into(f->merged, e))
                goto oom;
        return 1;
    }
bad:
    yp_fail(p, &f->key_mark, "map merge requires map or sequence of maps as the value");
    return 0;
oom:
    yp_fail(p, &f->key_mark, "out of memory");
    return 0;
}

/* Hand a finished value to its parent (or make it the document root). Takes ownership
 * of v whatever happens. */
static int yp_deliver(yp_t *p, json_t *v, size_t nodes, int height, const yaml_mark_t *m)
{
    if (p->depth == 0) {
        json_decref(p->root);
        p->root = v;
        p->have_root = 1;
        return 1;
    }
    yp_frame_t *f = &p->frames[p->depth - 1];
    f->nodes += nodes;
    if (height > f->height)
        f->height = height;
    if (!f->is_map) {
        if (json_array_append_new(f->node, v) != 0)
            goto oom;
        return 1;
    }
    int ok;
    if (f->key_is_merge) {
        ok = yp_merge(p, f, v);
        json_decref(v);
    } else {
        ok = json_object_setn_new(f->node, f->key, f->keylen, v) == 0;
        if (!ok)
            yp_fail(p, m, "out of memory");
    }
    free(f->key);
    f->key = NULL;
    f->have_key = 0;
    f->key_is_merge = 0;
    return ok;
oom:
    yp_fail(p, m, "out of memory");
    return 0;
}

/* The scalar (or aliased scalar) v becomes the pending key of the top mapping. */
static int yp_set_key(yp_t *p, const json_t *v, int is_merge, const yaml_mark_t *m)
{
    yp_frame_t *f = &p->frames[p->depth - 1];
    f->key_mark = *m;
    if (is_merge) {
        f->have_key = 1;
        f->key_is_merge = 1;
        return 1;
    }
    if (json_is_null(v)) {
        yp_fail(p, m, "null mapping keys are not supported");
        return 0;
    }
    if (json_is_object(v) || json_is_array(v)) {
        yp_fail(p, m, "mapping keys must be scalars");
        return 0;
    }
    size_t len;
    char *key = yp_key_text(v, &len);
    if (!key) {
        yp_fail(p, m, "out of memory");
        return 0;
    }
    if (json_object_getn(f->node, key, len)) {
        char q[160];
        yp_goquote(q, sizeof q, key, len);
        yp_fail(p, m, "key %s already set in map", q);
        free(key);
        return 0;
    }
    f->key = key;
    f->keylen = len;
    f->have_key = 1;
    return 1;
}

static int yp_on_scalar(yp_t *p, const yaml_event_t *ev)
{
    yv_kind_t kind;
    json_t *v = yp_scalar(p, ev, &kind);
    if (!v)
        return 0;
    if (ev->data.scalar.anchor &&
        !yp_anchor_add(p, (const char *)ev->data.scalar.anchor, v, 1, 0, &ev->start_mark)) {
        json_decref(v);
        return 0;
    }
    if (yp_in_key_position(p)) {
        int ok = yp_set_key(p, v, kind == YV_MERGE, &ev->start_mark);
        json_decref(v);
        return ok;
    }
    return yp_deliver(p, v, 1, 0, &ev->start_mark);
}

static int yp_on_alias(yp_t *p, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    yp_anchor_t *a = yp_anchor_find(p, name);
    if (!a) {
        for (int i = 0; i < p->depth; i++) {
            if (p->frames[i].anchor && !strcmp(p->frames[i].anchor, name)) {
                yp_fail(p, &ev->start_mark, "anchor '%s' value contains itself", name);
                return 0;
            }
        }
        yp_fail(p, &ev->start_mark, "unknown anchor '%s' referenced", name);
        return 0;
    }
    if (yp_in_key_position(p))
        return yp_set_key(p, a->value, 0, &ev->start_mark);
    if (a->nodes > YP_MAX_ALIAS_NODES - p->alias_nodes) {
        yp_fail(p, &ev->start_mark, "aliases expand to more than %d nodes",
                YP_MAX_ALIAS_NODES);
        return 0;
    }
    p->alias_nodes += a->nodes;
    if (p->depth + a->height > YP_MAX_DEPTH) {
        yp_fail(p, &ev->start_mark, "exceeded max depth of %d", YP_MAX_DEPTH);
        return 0;
    }
    json_t *copy = json_deep_copy(a->value);
    if (!copy) {
        yp_fail(p, &ev->start_mark, "out of memory");
        return 0;
    }
    return yp_deliver(p, copy, a->nodes, a->height, &ev->start_mark);
}

static int yp_on_start(yp_t *p, const yaml_event_t *ev, int is_map)
{
    const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
                                       : ev->data.sequence_start.anchor;
    if (yp_in_key_position(p)) {
        yp_fail(p, &ev->start_mark, "mapping keys must be scalars");
        return 0;
    }
    if (p->depth >= YP_MAX_DEPTH) {
        yp_fail(p, &ev->start_mark, "exceeded max depth of %d", YP_MAX_DEPTH);
        return 0;
    }
    yp_frame_t *f = &p->frames[p->depth];
    memset(f, 0, sizeof *f);
    f->is_map = is_map;
    f->start = ev->start_mark;
    f->node = is_map ? json_object() : json_array();
    if (anchor)
        f->anchor = strdup((const char *)anchor);
    if (!f->node || (anchor && !f->anchor)) {
        yp_frame_release(f);
        yp_fail(p, &ev->start_mark, "out of memory");
        return 0;
    }
    p->depth++;
    return 1;
}

static int yp_on_end(yp_t *p, const yaml_event_t *ev)
{
    yp_frame_t *f = &p->frames[--p->depth];
    yp_frame_t done = *f;
    yaml_mark_t start = done.start;
    int ok = 1;
    memset(f, 0, sizeof *f);

    if (done.merged)
        ok = yp_merge_into(done.node, done.merged);
    size_t nodes = done.nodes + 1;
    int height = done.height + 1;
    json_t *v = json_incref(done.node);
    if (ok && done.anchor)
        ok = yp_anchor_add(p, done.anchor, v, nodes, height, &start);
    else if (!ok)
        yp_fail(p, &ev->start_mark, "out of memory");
    yp_frame_release(&done);
    if (!ok) {
        json_decref(v);
        return 0;
    }
    return yp_deliver(p, v, nodes, height, &start);
}

/* ------------------------------------------------------------------------------------ */
/* Streams                                                                               */
/* ------------------------------------------------------------------------------------ */

/* Parse the whole stream; each document root that is not null is appended to docs.
 * second receives the start of the second such document, if any. */
static int yp_run(yp_t *p, json_t *docs, yaml_mark_t *second, int *count)
{
    yaml_event_t ev;
    yaml_mark_t doc_start = {0};
    *count = 0;

    for (;;) {
        if (!yaml_parser_parse(&p->parser, &ev)) {
            yp_fail_parser(p);
            return 0;
        }
        int ok = 1, end = 0;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_NO_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            end = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            doc_start = ev.start_mark;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (p->have_root && !json_is_null(p->root)) {
                if (++*count == 2 && second)
                    *second = doc_start;
                ok = json_array_append(docs, p->root) == 0;
                if (!ok)
                    yp_fail(p, &ev.start_mark, "out of memory");
            }
            json_decref(p->root);
            p->root = NULL;
            p->have_root = 0;
            yp_anchors_clear(p);
            break;
        case YAML_ALIAS_EVENT:
            ok = yp_on_alias(p, &ev);
            break;
        case YAML_SCALAR_EVENT:
            ok = yp_on_scalar(p, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            ok = yp_on_start(p, &ev, 0);
            break;
        case YAML_MAPPING_START_EVENT:
            ok = yp_on_start(p, &ev, 1);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            ok = p->depth > 0 && yp_on_end(p, &ev);
            break;
        }
        yaml_event_delete(&ev);
        if (!ok)
            return 0;
        if (end)
            return 1;
    }
}

static json_t *yp_parse(const char *buf, size_t len, char *err, size_t errlen, int one)
{
    yp_t *p = calloc(1, sizeof *p);
    json_t *docs = json_array();
    json_t *out = NULL;
    yaml_mark_t second = {0};
    int count = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!p || !docs || !yaml_parser_initialize(&p->parser)) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        free(p);
        json_decref(docs);
        return NULL;
    }
    p->buf = buf ? buf : "";
    p->len = buf ? len : 0;
    p->err = err;
    p->errlen = errlen;
    yaml_parser_set_input_string(&p->parser, (const unsigned char *)p->buf, p->len);

    if (yp_run(p, docs, one ? &second : NULL, &count)) {
        if (!one) {
            out = json_incref(docs);
        } else if (count > 1) {
            yp_fail(p, &second, "expected a single document in the stream, found another");
        } else {
            out = count ? json_incref(json_array_get(docs, 0)) : json_null();
        }
    }
    yp_stack_clear(p);
    yp_anchors_clear(p);
    free(p->anchors);
    yaml_parser_delete(&p->parser);
    free(p);
    json_decref(docs);
    return out;
}

json_t *yaml_parse_one(const char *buf, size_t len, char *err, size_t errlen)
{
    return yp_parse(buf, len, err, errlen, 1);
}

json_t *yaml_parse_all(const char *buf, size_t len, char *err, size_t errlen)
{
    return yp_parse(buf, len, err, errlen, 0);
}
