/* patch.c: JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) over jansson documents.
 *
 * The strategic merge patch lives in patch_strategic.c; both implement patch.h.
 * Depends on jansson only. Called by the API write path (PATCH) and fuzz/fuzz_patch.c.
 *
 * Every entry point works on a private deep copy of the document, so a patch that fails
 * half way leaves nothing behind: the copy is dropped and the caller's document was never
 * touched. Recursion is bounded (PATCH_MAX_DEPTH levels of patch nesting, and a bound on
 * how deep a JSON Patch may make the document) so hostile input yields an error, not a
 * stack overflow. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"

/* How deep a merge patch may nest. Kubernetes objects are a few dozen levels at most. */
#define PATCH_MAX_DEPTH 100
/* JSON Patch: the deepest pointer accepted, and the deepest document it may build.
 * jansson's own parser stops at 2048 levels; staying under it keeps every later
 * json_dumps/json_deep_copy of the result within a known stack budget. */
#define PATCH_MAX_POINTER 512
#define PATCH_MAX_DOC_DEPTH 2048
/* "copy" can double a document per operation; like the apiserver (evanphx/json-patch's
 * AccumulatedCopySizeLimit) we cap what one patch may copy in total, counted in values
 * plus string bytes, so a short patch cannot build a huge document. */
#define PATCH_MAX_COPY_WEIGHT (4u << 20)

static void patch_fail(int *code, char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void patch_fail(int *code, char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;

    if (code)
        *code = status;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
}

/* ---------------------------------------------------------------------------------------
 * JSON Pointer (RFC 6901)
 * ------------------------------------------------------------------------------------- */

typedef struct patch_ptr_s {
    char  **tok;   /* unescaped reference tokens, owned */
    size_t  n;
} patch_ptr_t;

static void patch_ptr_release(patch_ptr_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->tok[i]);
    free(p->tok);
    p->tok = NULL;
    p->n = 0;
}

/* Split s into unescaped tokens. "" is the whole document (no tokens). Returns 0, or -1
 * for a syntax error (no leading '/', a '~' not followed by 0 or 1, too many tokens) or
 * out of memory; p is empty on failure. */
static int patch_ptr_parse(const char *s, patch_ptr_t *p)
{
    size_t count = 0, len = strlen(s);

    p->tok = NULL;
    p->n = 0;
    if (len == 0)
        return 0;
    if (s[0] != '/')
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/')
            count++;
    if (count > PATCH_MAX_POINTER)
        return -1;
    p->tok = calloc(count, sizeof(*p->tok));
    if (!p->tok)
        return -1;

    const char *seg = s + 1;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t seglen = end ? (size_t)(end - seg) : strlen(seg);
        char *t = malloc(seglen + 1), *o = t;

        if (!t)
            goto failed;
        p->tok[p->n++] = t;
        for (size_t i = 0; i < seglen; i++) {
            if (seg[i] != '~') {
                *o++ = seg[i];
                continue;
            }
            if (i + 1 >= seglen || (seg[i + 1] != '0' && seg[i + 1] != '1'))
                goto failed;
            *o++ = seg[i + 1] == '0' ? '~' : '/';
            i++;
        }
        *o = '\0';
        if (!end)
            break;
        seg = end + 1;
    }
    return 0;

failed:
    patch_ptr_release(p);
    return -1;
}

/* An array index token: "0" or digits without a leading zero, below size_max. "-" is not
 * an index (callers handle it). Returns 0 and sets *out, or -1. */
static int patch_index(const char *t, size_t *out)
{
    size_t v = 0, len = strlen(t);

    if (len == 0 || len > 9 || (len > 1 && t[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (t[i] < '0' || t[i] > '9')
            return -1;
        v = v * 10 + (size_t)(t[i] - '0');
    }
    *out = v;
    return 0;
}

/* The value at the first n tokens of p, borrowed from root; NULL if there is none. */
static json_t *patch_ptr_walk(json_t *root, const patch_ptr_t *p, size_t n)
{
    json_t *cur = root;

    for (size_t i = 0; i < n && cur; i++) {
        size_t idx;

        if (json_is_object(cur))
            cur = json_object_get(cur, p->tok[i]);
        else if (json_is_array(cur) && patch_index(p->tok[i], &idx) == 0)
            cur = json_array_get(cur, idx);   /* NULL when out of range */
        else
            cur = NULL;
    }
    return cur;
}

/* Nesting depth of v (a scalar is 1), or limit+1 as soon as it exceeds limit. */
static size_t patch_depth(const json_t *v, size_t limit)
{
    size_t best = 0, d;
    const char *k;
    json_t *m;
    size_t i;

    if (limit == 0)
        return 1;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) {
            d = patch_depth(m, limit - 1);
            if (d > best)
                best = d;
            if (best >= limit)
                break;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            d = patch_depth(m, limit - 1);
            if (d > best)
                best = d;
            if (best >= limit)
                break;
        }
    }
    return best + 1;
}

/* The size of v: one per value plus the bytes of strings and keys, capped at budget+1. */
static size_t patch_weight(const json_t *v, size_t budget)
{
    size_t w = 1;
    const char *k;
    json_t *m;
    size_t i;

    if (json_is_string(v))
        return w + json_string_length(v);
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) {
            w += strlen(k) + patch_weight(m, budget - (w < budget ? w : budget));
            if (w > budget)
                return budget + 1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            w += patch_weight(m, budget - (w < budget ? w : budget));
            if (w > budget)
                return budget + 1;
        }
    }
    return w;
}

/* RFC 6902 §4.6 equality: numbers compare by value (1 == 1.0), objects ignore member
 * order. depth bounds the recursion; too deep compares unequal. */
static int patch_equal(const json_t *a, const json_t *b, int depth)
{
    const char *k;
    json_t *m;
    size_t i;

    if (depth > PATCH_MAX_DOC_DEPTH)
        return 0;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach((json_t *)a, k, m) {
            json_t *o = json_object_get(b, k);
            if (!o || !patch_equal(m, o, depth + 1))
                return 0;
        }
        return 1;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(a, i, m)
            if (!patch_equal(m, json_array_get(b, i), depth + 1))
                return 0;
        return 1;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default:
        return 1;   /* true, false, null */
    }
}

/* ---------------------------------------------------------------------------------------
 * JSON Patch (RFC 6902)
 * ------------------------------------------------------------------------------------- */

typedef struct patch_op_ctx_s {
    json_t     *root;    /* the working copy, owned; replaced by add/replace at "" */
    size_t      copied;  /* weight copied so far by "copy" operations */
    const char *op;      /* name of the current op, for messages */
    const char *path;    /* its path as written, for messages */
    int        *code;
    char       *err;
    size_t      errlen;
} patch_op_ctx_t;

static int patch_missing(patch_op_ctx_t *c, const char *path)
{
    patch_fail(c->code, c->err, c->errlen, 422,
               "jsonpatch %s operation does not apply: doc is missing path: \"%s\": missing value",
               c->op, path);
    return -1;
}

/* Insert val (takes ownership) at p. Objects get the member set (replaced if present);
 * arrays take an index 0..size or "-" to append. Returns 0 or -1 with the error set. */
static int patch_do_add(patch_op_ctx_t *c, const patch_ptr_t *p, const char *path, json_t *val)
{
    json_t *parent;
    const char *last;
    size_t idx;

    if (p->n + patch_depth(val, PATCH_MAX_DOC_DEPTH) > PATCH_MAX_DOC_DEPTH) {
        json_decref(val);
        patch_fail(c->code, c->err, c->errlen, 422,
                   "jsonpatch %s operation does not apply: the result would nest too deeply", c->op);
        return -1;
    }
    if (p->n == 0) {
        json_decref(c->root);
        c->root = val;
        return 0;
    }
    parent = patch_ptr_walk(c->root, p, p->n - 1);
    last = p->tok[p->n - 1];
    if (json_is_object(parent)) {
        if (json_object_set_new(parent, last, val) != 0)
            goto oom;
        return 0;
    }
    if (json_is_array(parent)) {
        if (strcmp(last, "-") == 0) {
            if (json_array_append_new(parent, val) != 0)
                goto oom;
            return 0;
        }
        if (patch_index(last, &idx) != 0 || idx > json_array_size(parent)) {
            json_decref(val);
            patch_fail(c->code, c->err, c->errlen, 422,
                       "jsonpatch %s operation does not apply: index out of range in path: \"%s\"",
                       c->op, path);
            return -1;
        }
        if (json_array_insert_new(parent, idx, val) != 0)
            goto oom;
        return 0;
    }
    json_decref(val);
    return patch_missing(c, path);

oom:
    patch_fail(c->code, c->err, c->errlen, 500, "out of memory applying the patch");
    return -1;
}

/* Detach the value at p and hand it to the caller (a new reference via *out when out is
 * not NULL, else it is released). The root cannot be removed. Returns 0 or -1. */
static int patch_do_remove(patch_op_ctx_t *c, const patch_ptr_t *p, const char *path, json_t **out)
{
    json_t *parent, *v;
    const char *last;
    size_t idx;

    if (p->n == 0) {
        patch_fail(c->code, c->err, c->errlen, 422,
                   "jsonpatch %s operation does not apply: cannot remove the whole document", c->op);
        return -1;
    }
    parent = patch_ptr_walk(c->root, p, p->n - 1);
    last = p->tok[p->n - 1];
    if (json_is_object(parent)) {
        v = json_object_get(parent, last);
        if (!v)
            return patch_missing(c, path);
        if (out)
            *out = json_incref(v);
        json_object_del(parent, last);
        return 0;
    }
    if (json_is_array(parent)) {
        if (patch_index(last, &idx) != 0 || idx >= json_array_size(parent)) {
            patch_fail(c->code, c->err, c->errlen, 422,
                       "jsonpatch %s operation does not apply: index out of range in path: \"%s\"",
                       c->op, path);
            return -1;
        }
        if (out)
            *out = json_incref(json_array_get(parent, idx));
        json_array_remove(parent, idx);
        return 0;
    }
    return patch_missing(c, path);
}

/* A string member of an op, or NULL. */
static const char *patch_op_str(const json_t *op, const char *name)
{
    return json_string_value(json_object_get(op, name));
}

/* Apply one operation to c->root. Returns 0, or -1 with the error set. */
static int patch_json_one(patch_op_ctx_t *c, const json_t *op, size_t n)
{
    const char *name, *path, *from = NULL;
    const json_t *value;
    patch_ptr_t p = { 0 }, f = { 0 };
    int rc = -1;

    if (!json_is_object(op)) {
        patch_fail(c->code, c->err, c->errlen, 400, "jsonpatch: operation %zu is not an object", n);
        return -1;
    }
    name = patch_op_str(op, "op");
    path = patch_op_str(op, "path");
    value = json_object_get(op, "value");
    if (!name) {
        patch_fail(c->code, c->err, c->errlen, 400, "jsonpatch: operation %zu has no \"op\"", n);
        return -1;
    }
    c->op = name;
    c->path = path;
    if (!path) {
        patch_fail(c->code, c->err, c->errlen, 400,
                   "jsonpatch %s operation %zu has no \"path\"", name, n);
        return -1;
    }
    if (patch_ptr_parse(path, &p) != 0) {
        patch_fail(c->code, c->err, c->errlen, 400,
                   "jsonpatch %s operation has an invalid path: \"%s\"", name, path);
        return -1;
    }

    if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0 || strcmp(name, "test") == 0) {
        if (!value) {
            patch_fail(c->code, c->err, c->errlen, 400,
                       "jsonpatch %s operation on \"%s\" has no \"value\"", name, path);
            goto done;
        }
    } else if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
        from = patch_op_str(op, "from");
        if (!from || patch_ptr_parse(from, &f) != 0) {
            patch_fail(c->code, c->err, c->errlen, 400,
                       "jsonpatch %s operation on \"%s\" has %s \"from\"", name, path,
                       from ? "an invalid" : "no");
            goto done;
        }
    } else if (strcmp(name, "remove") != 0) {
        patch_fail(c->code, c->err, c->errlen, 400, "jsonpatch: unexpected op: %s", name);
        goto done;
    }

    if (strcmp(name, "add") == 0) {
        json_t *v = json_deep_copy(value);
        rc = v ? patch_do_add(c, &p, path, v) : -1;
    } else if (strcmp(name, "remove") == 0) {
        rc = patch_do_remove(c, &p, path, NULL);
    } else if (strcmp(name, "replace") == 0) {
        /* replace = remove + add, but the target must exist first */
        if (!patch_ptr_walk(c->root, &p, p.n)) {
            rc = patch_missing(c, path);
        } else if (p.n == 0) {
            json_t *v = json_deep_copy(value);
            rc = v ? patch_do_add(c, &p, path, v) : -1;
        } else {
            json_t *parent = patch_ptr_walk(c->root, &p, p.n - 1), *v = json_deep_copy(value);
            size_t idx;
            if (!v)
                goto done;
            if (p.n + patch_depth(v, PATCH_MAX_DOC_DEPTH) > PATCH_MAX_DOC_DEPTH) {
                json_decref(v);
                patch_fail(c->code, c->err, c->errlen, 422,
                           "jsonpatch replace operation does not apply: the result would nest too deeply");
            } else if (json_is_object(parent)) {
                rc = json_object_set_new(parent, p.tok[p.n - 1], v) == 0 ? 0 : -1;
            } else if (patch_index(p.tok[p.n - 1], &idx) == 0) {
                rc = json_array_set_new(parent, idx, v) == 0 ? 0 : -1;
            } else {
                json_decref(v);
            }
        }
    } else if (strcmp(name, "test") == 0) {
        json_t *cur = patch_ptr_walk(c->root, &p, p.n);
        if (!cur)
            rc = patch_missing(c, path);
        else if (!patch_equal(cur, value, 0))
            patch_fail(c->code, c->err, c->errlen, 422,
                       "jsonpatch test operation does not apply: testing value \"%s\" failed: test failed",
                       path);
        else
            rc = 0;
    } else if (strcmp(name, "copy") == 0) {
        json_t *src = patch_ptr_walk(c->root, &f, f.n);
        size_t w = src ? patch_weight(src, PATCH_MAX_COPY_WEIGHT) : 0;
        if (!src) {
            rc = patch_missing(c, from);
        } else if (w > PATCH_MAX_COPY_WEIGHT - c->copied) {
            patch_fail(c->code, c->err, c->errlen, 422,
                       "jsonpatch copy operation does not apply: the values copied by the patch "
                       "exceed the limit of %u", PATCH_MAX_COPY_WEIGHT);
        } else {
            c->copied += w;
            json_t *v = json_deep_copy(src);
            rc = v ? patch_do_add(c, &p, path, v) : -1;
        }
    } else {  /* move */
        json_t *v = NULL;
        int prefix = f.n < p.n;

        for (size_t i = 0; prefix && i < f.n; i++)
            if (strcmp(f.tok[i], p.tok[i]) != 0)
                prefix = 0;
        if (!patch_ptr_walk(c->root, &f, f.n)) {
            rc = patch_missing(c, from);
        } else if (prefix) {
            patch_fail(c->code, c->err, c->errlen, 422,
                       "jsonpatch move operation does not apply: \"%s\" is a child of \"%s\"", path, from);
        } else if (strcmp(from, path) == 0) {
            rc = 0;
        } else if (f.n == 0) {
            /* moving the root into itself was ruled out above; nothing else remains */
            rc = patch_missing(c, from);
        } else if (patch_do_remove(c, &f, from, &v) == 0) {
            rc = patch_do_add(c, &p, path, v);
        }
    }
    if (rc != 0 && c->code && *c->code == 0)
        patch_fail(c->code, c->err, c->errlen, 500, "out of memory applying the patch");

done:
    patch_ptr_release(&p);
    patch_ptr_release(&f);
    return rc;
}

json_t *patch_json_apply(const json_t *doc, const json_t *ops, int *code, char *err, size_t errlen)
{
    patch_op_ctx_t c = { .code = code, .err = err, .errlen = errlen };
    const json_t *op;
    size_t i;
    int dummy = 0;

    if (!c.code)
        c.code = &dummy;
    *c.code = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_array(ops)) {
        patch_fail(c.code, err, errlen, 400, "jsonpatch: the patch must be a JSON array of operations");
        return NULL;
    }
    c.root = doc ? json_deep_copy(doc) : json_null();
    if (!c.root) {
        patch_fail(c.code, err, errlen, 500, "out of memory applying the patch");
        return NULL;
    }
    json_array_foreach(ops, i, op) {
        if (patch_json_one(&c, op, i) != 0) {
            json_decref(c.root);
            return NULL;
        }
    }
    return c.root;
}

/* ---------------------------------------------------------------------------------------
 * JSON Merge Patch (RFC 7386)
 * ------------------------------------------------------------------------------------- */

/* Merge patch into target. Takes ownership of target (NULL is allowed), borrows patch,
 * returns a new reference or NULL (error set) when the patch nests too deeply. */
static json_t *patch_merge(json_t *target, const json_t *patch, int depth,
                           int *code, char *err, size_t errlen)
{
    const char *k;
    json_t *pv;

    if (depth > PATCH_MAX_DEPTH) {
        json_decref(target);
        patch_fail(code, err, errlen, 400, "merge patch nests deeper than %d levels", PATCH_MAX_DEPTH);
        return NULL;
    }
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
        if (!target)
            return NULL;
    }
    json_object_foreach((json_t *)patch, k, pv) {
        json_t *cur, *merged;

        if (json_is_null(pv)) {
            json_object_del(target, k);
            continue;
        }
        cur = json_object_get(target, k);
        merged = patch_merge(json_incref(cur), pv, depth + 1, code, err, errlen);
        if (!merged || json_object_set_new(target, k, merged) != 0) {
            json_decref(target);
            return NULL;
        }
    }
    return target;
}

json_t *patch_merge_apply(const json_t *doc, const json_t *patch, int *code, char *err, size_t errlen)
{
    int dummy = 0;
    json_t *res;

    if (!code)
        code = &dummy;
    *code = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!patch) {
        patch_fail(code, err, errlen, 400, "merge patch: no patch document");
        return NULL;
    }
    res = patch_merge(doc ? json_deep_copy(doc) : NULL, patch, 0, code, err, errlen);
    if (!res && *code == 0)
        patch_fail(code, err, errlen, 500, "out of memory applying the patch");
    return res;
}
