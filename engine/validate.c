/* validate.c: object validation as kube-apiserver does it: the cause builder, typed JSON
 * access, name rules, ObjectMeta and the kind table that dispatches to validate_pod.c and
 * validate_kinds.c.
 *
 * Field paths and messages follow k8s.io/apimachinery/pkg/util/validation (and /field) and
 * k8s.io/kubernetes/pkg/apis/core/validation, so kubectl shows what it would show against a
 * real cluster. Where Kubernetes would fail while decoding (a label that is a number, a
 * malformed quantity) we report a cause that names the field instead.
 *
 * Depends on jansson only. Called by the API write path (validate_object, validate_update). */
#include "validate.h"
#include "validate_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Messages, spelled as apimachinery spells them (RegexError puts two spaces before "or"). */

#define MSG_LABEL_RE "a lowercase RFC 1123 label must consist of lower case alphanumeric " \
    "characters or '-', and must start and end with an alphanumeric character (e.g. " \
    "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define MSG_SUBDOMAIN_RE "a lowercase RFC 1123 subdomain must consist of lower case " \
    "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric " \
    "character (e.g. 'example.com', regex used for validation is " \
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define MSG_DNS1035_RE "a DNS-1035 label must consist of lower case alphanumeric " \
    "characters or '-', start with an alphabetic character, and end with an alphanumeric " \
    "character (e.g. 'my-name',  or 'abc-123', regex used for validation is " \
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
#define MSG_QNAME_RE "must consist of alphanumeric characters, '-', '_' or '.', and must " \
    "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or " \
    "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define MSG_LABEL_VALUE_RE "a valid label must be an empty string or consist of " \
    "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric " \
    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is " \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define MSG_CONFIG_KEY_RE "a valid config key must consist of alphanumeric characters, " \
    "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for " \
    "validation is '[-._a-zA-Z0-9]+')"
#define MSG_MAX63 "must be no more than 63 characters"
#define MSG_MAX253 "must be no more than 253 characters"

/* ------------------------------------------------------------------------------------ */
/* Path */

/* Largest n <= max such that s[0..n) ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static size_t path_append(val_t *v, const char *s)
{
    size_t mark = v->len, room = VAL_PATH_MAX - 1 - v->len;
    size_t n = utf8_cut(s, strlen(s), room);
    memcpy(v->path + v->len, s, n);
    v->len += n;
    v->path[v->len] = '\0';
    return mark;
}

size_t val_push(val_t *v, const char *name)
{
    size_t mark = v->len;
    if (v->len > 0 && name[0] != '[')
        path_append(v, ".");
    path_append(v, name);
    return mark;
}

size_t val_push_index(val_t *v, size_t i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "[%zu]", i);
    return path_append(v, buf);
}

size_t val_push_key(val_t *v, const char *key)
{
    size_t mark = path_append(v, "[");
    path_append(v, key);
    path_append(v, "]");
    return mark;
}

void val_pop(val_t *v, size_t mark)
{
    if (mark <= v->len) {
        v->len = mark;
        v->path[mark] = '\0';
    }
}

/* ------------------------------------------------------------------------------------ */
/* Rendering values the way field.Error.ErrorBody prints them. */

static void quote_to(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            p++;
        } else if (c >= 0x20 && c < 0x7f) {
            fputc(c, f);
            p++;
        } else if (c < 0x80) {
            const char *esc = NULL;
            switch (c) {
            case '\a': esc = "\\a"; break;
            case '\b': esc = "\\b"; break;
            case '\f': esc = "\\f"; break;
            case '\n': esc = "\\n"; break;
            case '\r': esc = "\\r"; break;
            case '\t': esc = "\\t"; break;
            case '\v': esc = "\\v"; break;
            }
            if (esc)
                fputs(esc, f);
            else
                fprintf(f, "\\x%02x", c);
            p++;
        } else {
            /* Keep a well-formed multi-byte character as is, except the C1 controls Go
             * escapes as \u00XX; an ill-formed byte is printed as \xXX as Go does. */
            int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            int okseq = n > 0 && c < 0xF5;
            for (int i = 1; okseq && i < n; i++)
                if ((p[i] & 0xC0) != 0x80)
                    okseq = 0;
            if (!okseq) {
                fprintf(f, "\\x%02x", c);
                p++;
            } else if (n == 2 && c == 0xC2 && p[1] < 0xA0) {
                fprintf(f, "\\u%04x", p[1]);
                p += 2;
            } else {
                fwrite(p, 1, (size_t)n, f);
                p += n;
            }
        }
    }
    fputc('"', f);
}

char *val_quote(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    quote_to(f, s);
    fclose(f);
    return buf;
}

/* Go's %v of a float64: the shortest form that reads back the same. */
static void real_to(FILE *f, double d)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    fputs(buf, f);
}

char *val_render(const json_t *value)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (!value || json_is_null(value)) {
        fputs("null", f);
    } else if (json_is_string(value)) {
        quote_to(f, json_string_value(value));
    } else if (json_is_integer(value)) {
        fprintf(f, "%lld", (long long)json_integer_value(value));
    } else if (json_is_real(value)) {
        real_to(f, json_real_value(value));
    } else if (json_is_boolean(value)) {
        fputs(json_is_true(value) ? "true" : "false", f);
    } else {
        char *js = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        if (js) {
            size_t n = strlen(js), cut = utf8_cut(js, n, 200);
            fwrite(js, 1, cut, f);
            if (cut < n)
                fputs("...", f);
            free(js);
        }
    }
    fclose(f);
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object, sorted (Go prints maps in key order). Caller frees the array. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    size_t count = json_object_size(obj), i = 0;
    const char **keys = calloc(count ? count : 1, sizeof *keys);
    const char *k;
    json_t *val;
    if (!keys) {
        *n = 0;
        return NULL;
    }
    json_object_foreach((json_t *)obj, k, val) keys[i++] = k;
    qsort(keys, i, sizeof *keys, cmp_str);
    *n = i;
    return keys;
}

static void labels_to(FILE *f, const json_t *labels)
{
    if (!labels || !json_is_object(labels)) {
        fputs("map[string]string(nil)", f);
        return;
    }
    size_t n;
    const char **keys = sorted_keys(labels, &n);
    fputs("map[string]string{", f);
    for (size_t i = 0; i < n; i++) {
        const json_t *val = json_object_get(labels, keys[i]);
        if (i)
            fputs(", ", f);
        quote_to(f, keys[i]);
        fputc(':', f);
        quote_to(f, json_is_string(val) ? json_string_value(val) : "");
    }
    fputc('}', f);
    free(keys);
}

char *val_render_labels(const json_t *labels)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    labels_to(f, labels);
    fclose(f);
    return buf;
}

/* Go's %#v of a *metav1.LabelSelector as the immutability message shows it. */
char *val_render_selector(const json_t *sel)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (!sel || !json_is_object(sel)) {
        fputs("null", f);
        fclose(f);
        return buf;
    }
    const json_t *ml = json_object_get(sel, "matchLabels");
    const json_t *me = json_object_get(sel, "matchExpressions");
    fputs("v1.LabelSelector{MatchLabels:", f);
    labels_to(f, json_is_object(ml) ? ml : NULL);
    fputs(", MatchExpressions:", f);
    if (!json_is_array(me)) {
        fputs("[]v1.LabelSelectorRequirement(nil)", f);
    } else {
        fputs("[]v1.LabelSelectorRequirement{", f);
        for (size_t i = 0; i < json_array_size(me); i++) {
            const json_t *r = json_array_get(me, i);
            const json_t *vals = json_object_get(r, "values");
            if (i)
                fputs(", ", f);
            fputs("v1.LabelSelectorRequirement{Key:", f);
            quote_to(f, val_s(r, "key"));
            fputs(", Operator:", f);
            quote_to(f, val_s(r, "operator"));
            fputs(", Values:", f);
            if (!json_is_array(vals)) {
                fputs("[]string(nil)", f);
            } else {
                fputs("[]string{", f);
                for (size_t j = 0; j < json_array_size(vals); j++) {
                    const json_t *s = json_array_get(vals, j);
                    if (j)
                        fputs(", ", f);
                    quote_to(f, json_is_string(s) ? json_string_value(s) : "");
                }
                fputc('}', f);
            }
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputc('}', f);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------------------------ */
/* Emitters */

static void emit(val_t *v, const char *child, const char *reason, const char *type,
                 const char *rendered, const char *detail)
{
    size_t mark = v->len;
    char *msg = NULL;
    size_t len = 0;
    FILE *f;

    if (child)
        val_push(v, child);
    f = open_memstream(&msg, &len);
    if (f) {
        fputs(type, f);
        if (rendered)
            fprintf(f, ": %s", rendered);
        if (detail && *detail)
            fprintf(f, ": %s", detail);
        fclose(f);
        json_t *cause = json_object();
        json_object_set_new(cause, "reason", json_string(reason));
        /* Messages quote user values with Go's escaping, so they are UTF-8 unless a
         * bounded buffer cut a character; then fall back to the bare error type. */
        json_t *m = json_stringn(msg, len);
        json_object_set_new(cause, "message", m ? m : json_string(type));
        json_object_set_new(cause, "field", json_string(v->path));
        json_array_append_new(v->causes, cause);
        v->count++;
        free(msg);
    }
    val_pop(v, mark);
}

void val_required(val_t *v, const char *child, const char *detail)
{
    emit(v, child, "FieldValueRequired", "Required value", NULL, detail);
}

void val_forbidden(val_t *v, const char *child, const char *detail)
{
    emit(v, child, "FieldValueForbidden", "Forbidden", NULL, detail);
}

void val_invalid_r(val_t *v, const char *child, const char *rendered, const char *detail)
{
    emit(v, child, "FieldValueInvalid", "Invalid value", rendered ? rendered : "null",
         detail);
}

void val_invalid_s(val_t *v, const char *child, const char *value, const char *detail)
{
    char *q = val_quote(value ? value : "");
    val_invalid_r(v, child, q, detail);
    free(q);
}

void val_invalid_i(val_t *v, const char *child, long long value, const char *detail)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", value);
    val_invalid_r(v, child, buf, detail);
}

void val_invalid_j(val_t *v, const char *child, const json_t *value, const char *detail)
{
    char *r = val_render(value);
    val_invalid_r(v, child, r, detail);
    free(r);
}

void val_not_supported(val_t *v, const char *child, const char *value,
                       const char *const *valid)
{
    char *q = val_quote(value ? value : "");
    val_not_supported_r(v, child, q, valid);
    free(q);
}

void val_not_supported_r(val_t *v, const char *child, const char *rendered,
                         const char *const *valid)
{
    char *detail = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&detail, &len);
    if (f) {
        fputs("supported values: ", f);
        for (int i = 0; valid && valid[i]; i++) {
            if (i)
                fputs(", ", f);
            quote_to(f, valid[i]);
        }
        fclose(f);
    }
    emit(v, child, "FieldValueNotSupported", "Unsupported value", rendered, detail);
    free(detail);
}

void val_duplicate_r(val_t *v, const char *child, const char *rendered)
{
    emit(v, child, "FieldValueDuplicate", "Duplicate value", rendered, NULL);
}

void val_duplicate_s(val_t *v, const char *child, const char *value)
{
    char *q = val_quote(value ? value : "");
    val_duplicate_r(v, child, q);
    free(q);
}

void val_not_found(val_t *v, const char *child, const char *value)
{
    char *q = val_quote(value ? value : "");
    emit(v, child, "FieldValueNotFound", "Not found", q, NULL);
    free(q);
}

void val_too_long(val_t *v, const char *child, long max)
{
    char detail[64];
    snprintf(detail, sizeof detail, "must have at most %ld bytes", max);
    emit(v, child, "FieldValueTooLong", "Too long", NULL, detail);
}

void val_type(val_t *v, const char *child, const json_t *value, const char *type)
{
    char *r = val_render(value), detail[64];
    snprintf(detail, sizeof detail, "must be of type %s", type);
    emit(v, child, "FieldValueTypeInvalid", "Invalid value", r ? r : "null", detail);
    free(r);
}

/* ------------------------------------------------------------------------------------ */
/* Typed access */

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    default: return "value";
    }
}

int val_get(val_t *v, const json_t *obj, const char *key, json_type want, const json_t **out)
{
    const json_t *m;
    int good;

    *out = NULL;
    if (!obj || !json_is_object(obj))
        return VAL_ABSENT;
    m = json_object_get(obj, key);
    if (!m || json_is_null(m))
        return VAL_ABSENT;
    switch (want) {
    case JSON_INTEGER:
        /* A JSON number with no fraction decodes into a Go int; 1.5 does not. */
        good = json_is_integer(m) ||
               (json_is_real(m) && json_real_value(m) == floor(json_real_value(m)) &&
                fabs(json_real_value(m)) < 9.2e18);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        good = json_is_boolean(m);
        break;
    default:
        good = json_typeof(m) == want;
    }
    if (!good) {
        val_type(v, key, m, type_name(want));
        return VAL_BAD;
    }
    *out = m;
    return VAL_OK;
}

const char *val_str(val_t *v, const json_t *obj, const char *key)
{
    const json_t *m;
    return val_get(v, obj, key, JSON_STRING, &m) == VAL_OK ? json_string_value(m) : NULL;
}

const json_t *val_obj(val_t *v, const json_t *obj, const char *key)
{
    const json_t *m;
    return val_get(v, obj, key, JSON_OBJECT, &m) == VAL_OK ? m : NULL;
}

const json_t *val_arr(val_t *v, const json_t *obj, const char *key)
{
    const json_t *m;
    return val_get(v, obj, key, JSON_ARRAY, &m) == VAL_OK ? m : NULL;
}

int val_int(val_t *v, const json_t *obj, const char *key, long long *out)
{
    const json_t *m;
    int rc = val_get(v, obj, key, JSON_INTEGER, &m);
    if (rc == VAL_OK)
        *out = json_is_integer(m) ? (long long)json_integer_value(m)
                                  : (long long)json_real_value(m);
    return rc;
}

int val_int_quiet(const json_t *obj, const char *key, long long *out)
{
    val_t scratch;
    scratch.causes = json_array();
    scratch.count = 0;
    scratch.len = 0;
    scratch.path[0] = '\0';
    int rc = scratch.causes ? val_int(&scratch, obj, key, out) : VAL_BAD;
    json_decref(scratch.causes);
    return rc == VAL_OK;
}

int val_bool(val_t *v, const json_t *obj, const char *key, int *out)
{
    const json_t *m;
    int rc = val_get(v, obj, key, JSON_TRUE, &m);
    if (rc == VAL_OK)
        *out = json_is_true(m);
    return rc;
}

const json_t *val_str_map(val_t *v, const json_t *obj, const char *key)
{
    const json_t *m = val_obj(v, obj, key);
    const char *k;
    json_t *val;
    if (!m)
        return NULL;
    json_object_foreach((json_t *)m, k, val) {
        if (!json_is_string(val) && !json_is_null(val)) {
            size_t mark = val_push(v, key);
            val_push_key(v, k);
            val_type(v, NULL, val, "string");
            val_pop(v, mark);
        }
    }
    return m;
}

const json_t *val_elem_obj(val_t *v, const json_t *arr, size_t i)
{
    const json_t *e = json_array_get(arr, i);
    if (json_is_object(e))
        return e;
    size_t mark = val_push_index(v, i);
    val_type(v, NULL, e, "object");
    val_pop(v, mark);
    return NULL;
}

const char *val_s(const json_t *obj, const char *key)
{
    const json_t *m = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(m) ? json_string_value(m) : "";
}

/* ------------------------------------------------------------------------------------ */
/* Name rules (k8s.io/apimachinery/pkg/util/validation) */

static int is_lower_alnum(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static int is_alnum(int c) { return isascii(c) && isalnum(c); }

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static int re_label(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum((unsigned char)s[0]) ||
        !is_lower_alnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int re_subdomain(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!re_label(p, n))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static int re_qname(const char *s, size_t n)
{
    if (n == 0 || !is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            return 0;
    }
    return 1;
}

const char *validate_dns1123_label(const char *s)
{
    if (!s)
        return MSG_LABEL_RE;
    if (strlen(s) > 63)
        return MSG_MAX63;
    return re_label(s, strlen(s)) ? NULL : MSG_LABEL_RE;
}

const char *validate_dns1123_subdomain(const char *s)
{
    if (!s)
        return MSG_SUBDOMAIN_RE;
    if (strlen(s) > 253)
        return MSG_MAX253;
    return re_subdomain(s) ? NULL : MSG_SUBDOMAIN_RE;
}

/* Each rule collects up to four messages, as the Go functions return []string. */
typedef struct { const char *m[4]; int n; } msgs_t;

static void add_msg(msgs_t *ms, const char *m)
{
    if (ms->n < 4)
        ms->m[ms->n++] = m;
}

static int emit_msgs(val_t *v, const char *child, const char *value, const msgs_t *ms)
{
    for (int i = 0; i < ms->n; i++)
        val_invalid_s(v, child, value, ms->m[i]);
    return ms->n;
}

static void label_msgs(const char *s, msgs_t *ms)
{
    if (strlen(s) > 63)
        add_msg(ms, MSG_MAX63);
    if (!re_label(s, strlen(s)))
        add_msg(ms, MSG_LABEL_RE);
}

static void subdomain_msgs(const char *s, msgs_t *ms, int prefix_part)
{
    if (strlen(s) > 253)
        add_msg(ms, prefix_part ? "prefix part " MSG_MAX253 : MSG_MAX253);
    if (!re_subdomain(s))
        add_msg(ms, prefix_part ? "prefix part " MSG_SUBDOMAIN_RE : MSG_SUBDOMAIN_RE);
}

int val_dns1123_label(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    label_msgs(value, &ms);
    return emit_msgs(v, child, value, &ms);
}

int val_dns1123_subdomain(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    subdomain_msgs(value, &ms, 0);
    return emit_msgs(v, child, value, &ms);
}

static void dns1035_msgs(const char *s, msgs_t *ms)
{
    size_t n = strlen(s);
    if (n > 63)
        add_msg(ms, MSG_MAX63);
    if (!re_label(s, n) || !(s[0] >= 'a' && s[0] <= 'z'))
        add_msg(ms, MSG_DNS1035_RE);
}

int val_dns1035_label(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    dns1035_msgs(value, &ms);
    return emit_msgs(v, child, value, &ms);
}

static void qname_msgs(const char *s, msgs_t *ms)
{
    const char *slash = strchr(s, '/'), *name = s;
    if (slash && strchr(slash + 1, '/')) {
        add_msg(ms, "a qualified name " MSG_QNAME_RE " with an optional DNS subdomain "
                    "prefix and '/' (e.g. 'example.com/MyName')");
        return;
    }
    if (slash) {
        size_t plen = (size_t)(slash - s);
        name = slash + 1;
        if (plen == 0) {
            add_msg(ms, "prefix part must be non-empty");
        } else {
            char *prefix = strndup(s, plen);
            if (prefix)
                subdomain_msgs(prefix, ms, 1);
            free(prefix);
        }
    }
    size_t n = strlen(name);
    if (n == 0)
        add_msg(ms, "name part must be non-empty");
    else if (n > 63)
        add_msg(ms, "name part " MSG_MAX63);
    if (!re_qname(name, n))
        add_msg(ms, "name part " MSG_QNAME_RE);
}

int val_qualified_name(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    qname_msgs(value, &ms);
    return emit_msgs(v, child, value, &ms);
}

int val_label_value(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    size_t n = strlen(value);
    if (n > 63)
        add_msg(&ms, MSG_MAX63);
    if (n > 0 && !re_qname(value, n))
        add_msg(&ms, MSG_LABEL_VALUE_RE);
    return emit_msgs(v, child, value, &ms);
}

/* hasChDirPrefix: keys that would be file names must not walk out of the directory. */
static void chdir_msgs(const char *s, msgs_t *ms)
{
    if (strcmp(s, ".") == 0)
        add_msg(ms, "must not be '.'");
    else if (strcmp(s, "..") == 0)
        add_msg(ms, "must not be '..'");
    else if (strncmp(s, "..", 2) == 0)
        add_msg(ms, "must not start with '..'");
}

int val_config_key(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    size_t n = strlen(value);
    int good = n > 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            good = 0;
    }
    if (n > 253)
        add_msg(&ms, MSG_MAX253);
    if (!good)
        add_msg(&ms, MSG_CONFIG_KEY_RE);
    chdir_msgs(value, &ms);
    return emit_msgs(v, child, value, &ms);
}

/* IANA_SVC_NAME (RFC 6335): what a named port may look like. */
int val_port_name(val_t *v, const char *child, const char *value)
{
    msgs_t ms = {{0}, 0};
    size_t n = strlen(value);
    int charset = n > 0, letter = 0;
    for (size_t i = 0; i < n; i++) {
        char c = value[i];
        if (c >= 'a' && c <= 'z')
            letter = 1;
        else if (!(c >= '0' && c <= '9') && c != '-')
            charset = 0;
    }
    if (n > 15)
        add_msg(&ms, "must be no more than 15 characters");
    if (!charset)
        add_msg(&ms, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    if (!letter)
        add_msg(&ms, "must contain at least one letter (a-z)");
    if (strstr(value, "--"))
        add_msg(&ms, "must not contain consecutive hyphens");
    if (n > 0 && (value[0] == '-' || value[n - 1] == '-'))
        add_msg(&ms, "must not begin or end with a hyphen");
    return emit_msgs(v, child, value, &ms);
}

int val_port_num(val_t *v, const char *child, long long port)
{
    if (port >= 1 && port <= 65535)
        return 0;
    val_invalid_i(v, child, port, "must be between 1 and 65535, inclusive");
    return 1;
}

int val_is_ip(const char *value, unsigned char out[16], int *family)
{
    unsigned char buf[16];
    if (!out)
        out = buf;
    if (inet_pton(AF_INET, value, out) == 1) {
        if (family)
            *family = 4;
        return 1;
    }
    if (inet_pton(AF_INET6, value, out) == 1) {
        if (family)
            *family = 6;
        return 1;
    }
    return 0;
}

int val_ip(val_t *v, const char *child, const char *value)
{
    if (val_is_ip(value, NULL, NULL))
        return 0;
    val_invalid_s(v, child, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    return 1;
}

int val_cidr(val_t *v, const char *child, const char *value)
{
    const char *slash = strchr(value, '/');
    int family = 0, good = 0;
    if (slash && slash[1]) {
        char *ip = strndup(value, (size_t)(slash - value));
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (ip && val_is_ip(ip, NULL, &family) && *end == '\0' && isdigit((unsigned char)slash[1]))
            good = bits >= 0 && bits <= (family == 4 ? 32 : 128);
        free(ip);
    }
    if (good)
        return 0;
    val_invalid_s(v, child, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
    return 1;
}

/* ------------------------------------------------------------------------------------ */
/* Labels, annotations, selectors */

void val_labels(val_t *v, const json_t *parent, const char *key)
{
    const json_t *m = val_str_map(v, parent, key);
    const char *k;
    json_t *val;
    if (!m)
        return;
    size_t mark = val_push(v, key);
    json_object_foreach((json_t *)m, k, val) {
        val_qualified_name(v, NULL, k);
        if (json_is_string(val))
            val_label_value(v, NULL, json_string_value(val));
    }
    val_pop(v, mark);
}

#define ANNOTATIONS_MAX (256 * 1024)

void val_annotations(val_t *v, const json_t *parent, const char *key)
{
    const json_t *m = val_str_map(v, parent, key);
    const char *k;
    json_t *val;
    size_t total = 0;
    if (!m)
        return;
    size_t mark = val_push(v, key);
    json_object_foreach((json_t *)m, k, val) {
        /* The rule is a qualified name, but case does not matter. */
        char *lower = strdup(k);
        msgs_t ms = {{0}, 0};
        if (lower) {
            for (char *p = lower; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            qname_msgs(lower, &ms);
            emit_msgs(v, NULL, k, &ms);
            free(lower);
        }
        total += strlen(k) + (json_is_string(val) ? json_string_length(val) : 0);
    }
    if (total > ANNOTATIONS_MAX)
        val_too_long(v, NULL, ANNOTATIONS_MAX);
    val_pop(v, mark);
}

void val_nonnegative(val_t *v, const json_t *obj, const char *key)
{
    long long n;
    if (val_int(v, obj, key, &n) == VAL_OK && n < 0)
        val_invalid_i(v, key, n, "must be greater than or equal to 0");
}

/* ValidateLabelSelector (strict values). Returns 1 if the selector would also convert to
 * a labels.Selector, which fails on the same things this reports. */
int val_label_selector(val_t *v, const json_t *obj, const char *key)
{
    const json_t *sel = val_obj(v, obj, key);
    int before = v->count;
    if (!sel)
        return json_is_object(obj) && json_object_get(obj, key) &&
               !json_is_null(json_object_get(obj, key)) ? 0 : 1;
    size_t mark = val_push(v, key);
    val_labels(v, sel, "matchLabels");
    const json_t *exprs = val_arr(v, sel, "matchExpressions");
    if (exprs) {
        size_t m2 = val_push(v, "matchExpressions");
        for (size_t i = 0; i < json_array_size(exprs); i++) {
            const json_t *r = val_elem_obj(v, exprs, i);
            if (!r)
                continue;
            size_t m3 = val_push_index(v, i);
            const char *op = val_str(v, r, "operator");
            const char *k = val_str(v, r, "key");
            const json_t *vals = val_arr(v, r, "values");
            size_t nvals = vals ? json_array_size(vals) : 0;
            op = op ? op : "";
            if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
                if (nvals == 0)
                    val_required(v, "values", "must be specified when `operator` is 'In' or 'NotIn'");
            } else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
                if (nvals > 0)
                    val_forbidden(v, "values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
            } else {
                val_invalid_s(v, "operator", op, "not a valid selector operator");
            }
            val_qualified_name(v, "key", k ? k : "");
            for (size_t j = 0; j < nvals; j++) {
                const json_t *s = json_array_get(vals, j);
                size_t m4 = val_push(v, "values");
                val_push_index(v, j);
                if (!json_is_string(s))
                    val_type(v, NULL, s, "string");
                else
                    val_label_value(v, NULL, json_string_value(s));
                val_pop(v, m4);
            }
            val_pop(v, m3);
        }
        val_pop(v, m2);
    }
    val_pop(v, mark);
    return v->count == before;
}

static int values_has(const json_t *vals, const char *s)
{
    for (size_t i = 0; i < json_array_size(vals); i++) {
        const json_t *e = json_array_get(vals, i);
        if (json_is_string(e) && !strcmp(json_string_value(e), s))
            return 1;
    }
    return 0;
}

int val_selector_matches(const json_t *sel, const json_t *labels)
{
    const json_t *ml = json_object_get(sel, "matchLabels");
    const json_t *me = json_object_get(sel, "matchExpressions");
    const char *k;
    json_t *want;
    json_object_foreach((json_t *)ml, k, want) {
        const json_t *have = json_object_get(labels, k);
        if (!json_is_string(have) || !json_is_string(want) ||
            strcmp(json_string_value(have), json_string_value(want)))
            return 0;
    }
    for (size_t i = 0; i < json_array_size(me); i++) {
        const json_t *r = json_array_get(me, i);
        const char *op = val_s(r, "operator");
        const json_t *have = json_object_get(labels, val_s(r, "key"));
        const json_t *vals = json_object_get(r, "values");
        int present = json_is_string(have);
        if (!strcmp(op, "In")) {
            if (!present || !values_has(vals, json_string_value(have)))
                return 0;
        } else if (!strcmp(op, "NotIn")) {
            if (present && values_has(vals, json_string_value(have)))
                return 0;
        } else if (!strcmp(op, "Exists")) {
            if (!present)
                return 0;
        } else if (!strcmp(op, "DoesNotExist")) {
            if (present)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

static int is_empty_value(const json_t *x)
{
    return !x || json_is_null(x) || (json_is_array(x) && json_array_size(x) == 0) ||
           (json_is_object(x) && json_object_size(x) == 0);
}

int val_semantic_equal(const json_t *a, const json_t *b)
{
    if (is_empty_value(a) || is_empty_value(b))
        return is_empty_value(a) && is_empty_value(b);
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)a, k, x)
            if (!val_semantic_equal(x, json_object_get(b, k)))
                return 0;
        json_object_foreach((json_t *)b, k, x)
            if (!json_object_get(a, k) && !is_empty_value(x))
                return 0;
        return 1;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!val_semantic_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

void val_immutable(val_t *v, const char *child, const json_t *new_val, const json_t *old_val)
{
    if (!val_semantic_equal(new_val, old_val))
        val_invalid_j(v, child, new_val, "field is immutable");
}

/* ------------------------------------------------------------------------------------ */
/* Quantities: resource.ParseQuantity's grammar, <signedNumber><suffix>. */

#define MSG_QTY_FORMAT "quantities must match the regular expression " \
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

int val_quantity_parse(const char *s, long double *out, const char **err)
{
    const char *p = s;
    long double num = 0, frac = 0.1L, sign = 1;
    int digits = 0, dot = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            if (dot++) {
                *err = MSG_QTY_FORMAT;
                return -1;
            }
        } else if (dot) {
            num += (*p - '0') * frac;
            frac /= 10;
            digits++;
        } else {
            num = num * 10 + (*p - '0');
            digits++;
        }
    }
    if (!digits) {
        *err = MSG_QTY_FORMAT;
        return -1;
    }
    /* suffix */
    static const struct { const char *s; long double mult; } suffixes[] = {
        {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L},
        {"Ti", 1099511627776.0L}, {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L},
        {"n", 1e-9L}, {"u", 1e-6L}, {"m", 1e-3L}, {"", 1.0L}, {"k", 1e3L}, {"M", 1e6L},
        {"G", 1e9L}, {"T", 1e12L}, {"P", 1e15L}, {"E", 1e18L},
    };
    long double mult = 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (!strcmp(p, suffixes[i].s)) {
            mult = suffixes[i].mult;
            break;
        }
    if (mult == 0 && (*p == 'e' || *p == 'E')) {
        /* decimal exponent: e<int> */
        const char *q = p + 1;
        if (*q == '+' || *q == '-')
            q++;
        int exp_digits = 0;
        for (const char *r = q; *r; r++) {
            if (*r < '0' || *r > '9') {
                exp_digits = -1;
                break;
            }
            exp_digits++;
        }
        if (exp_digits > 0 && exp_digits < 6) {
            long e = strtol(p + 1, NULL, 10);
            mult = powl(10.0L, (long double)e);
        }
    }
    if (mult == 0) {
        /* Which error Go gives depends on whether the whole string fits its regex. */
        int fits = 1;
        const char *q = p;
        while (*q && strchr("eEinumkKMGTP", *q))
            q++;
        if (*q == '+' || *q == '-')
            q++;
        while (*q >= '0' && *q <= '9')
            q++;
        if (*q)
            fits = 0;
        *err = fits ? "unable to parse quantity's suffix" : MSG_QTY_FORMAT;
        return -1;
    }
    *out = sign * num * mult;
    return 0;
}

int val_quantity(val_t *v, const json_t *obj, const char *key, long double *out,
                 char *text, size_t textlen)
{
    const json_t *m = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    char buf[64];
    const char *s, *err = NULL;

    if (!m || json_is_null(m))
        return VAL_ABSENT;
    if (json_is_string(m)) {
        s = json_string_value(m);
    } else if (json_is_integer(m)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(m));
        s = buf;
    } else if (json_is_real(m)) {
        /* the shortest text that reads back as the same number */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, json_real_value(m));
            if (strtod(buf, NULL) == json_real_value(m))
                break;
        }
        s = buf;
    } else {
        val_type(v, key, m, "string");
        return VAL_BAD;
    }
    if (text) {
        snprintf(text, textlen, "%s", s);
    }
    if (val_quantity_parse(s, out, &err) < 0) {
        size_t mark = val_push_key(v, key);
        val_invalid_s(v, NULL, s, err);
        val_pop(v, mark);
        return VAL_BAD;
    }
    return VAL_OK;
}

/* ------------------------------------------------------------------------------------ */
/* ObjectMeta */

enum { NAME_SUBDOMAIN, NAME_LABEL, NAME_DNS1035, NAME_PATH };

static void name_msgs(int rule, const char *s, msgs_t *ms)
{
    switch (rule) {
    case NAME_SUBDOMAIN: subdomain_msgs(s, ms, 0); break;
    case NAME_LABEL: label_msgs(s, ms); break;
    case NAME_DNS1035: dns1035_msgs(s, ms); break;
    default:
        /* path.IsValidPathSegmentName: the name must survive being a URL segment. */
        if (!strcmp(s, ".") || !strcmp(s, "..")) {
            add_msg(ms, !strcmp(s, ".") ? "may not be '.'" : "may not be '..'");
            break;
        }
        if (strchr(s, '/'))
            add_msg(ms, "may not contain '/'");
        if (strchr(s, '%'))
            add_msg(ms, "may not contain '%'");
    }
}

static int is_standard_finalizer(const char *s)
{
    return !strcmp(s, "kubernetes") || !strcmp(s, "orphan") ||
           !strcmp(s, "foregroundDeletion");
}

/* ValidateObjectMeta. rule: the kind's name rule; kube: also the core finalizer rule. */
static void val_meta(val_t *v, const json_t *obj, int rule, int namespaced, int kube)
{
    const json_t *meta;
    int rc = val_get(v, obj, "metadata", JSON_OBJECT, &meta);
    if (rc == VAL_BAD)
        return;
    size_t mark = val_push(v, "metadata");
    const char *name = val_str(v, meta, "name");
    const char *gen = val_str(v, meta, "generateName");
    const char *ns = val_str(v, meta, "namespace");

    if (gen && *gen) {
        /* A generated name gets a random suffix: a trailing '-' is fine there. */
        char *masked = strdup(gen);
        msgs_t ms = {{0}, 0};
        if (masked) {
            size_t n = strlen(masked);
            if (masked[n - 1] == '-')
                masked[n - 1] = 'a';
            name_msgs(rule, masked, &ms);
            emit_msgs(v, "generateName", gen, &ms);
            free(masked);
        }
    }
    if (!name || !*name) {
        /* The API server names the object from generateName before validating. */
        if (!gen || !*gen)
            val_required(v, "name", "name or generateName is required");
    } else {
        msgs_t ms = {{0}, 0};
        name_msgs(rule, name, &ms);
        emit_msgs(v, "name", name, &ms);
    }
    /* Cluster-scoped objects have their namespace cleared by the API server, so only a
     * namespaced object's namespace is checked. */
    if (namespaced && ns && *ns) {
        msgs_t ms = {{0}, 0};
        label_msgs(ns, &ms);
        emit_msgs(v, "namespace", ns, &ms);
    }
    val_nonnegative(v, meta, "generation");
    val_labels(v, meta, "labels");
    val_annotations(v, meta, "annotations");

    const json_t *owners = val_arr(v, meta, "ownerReferences");
    if (owners) {
        size_t m2 = val_push(v, "ownerReferences");
        char first[512] = "";
        for (size_t i = 0; i < json_array_size(owners); i++) {
            const json_t *r = val_elem_obj(v, owners, i);
            int controller = 0;
            if (!r)
                continue;
            const char *av = val_str(v, r, "apiVersion"), *kind = val_str(v, r, "kind");
            const char *oname = val_str(v, r, "name"), *uid = val_str(v, r, "uid");
            const char *slash = av ? strrchr(av, '/') : NULL;
            const char *version = slash ? slash + 1 : av;
            if (!version || !*version)
                val_invalid_s(v, "apiVersion", av ? av : "", "version must not be empty");
            if (!kind || !*kind)
                val_invalid_s(v, "kind", "", "must not be empty");
            if (!oname || !*oname)
                val_invalid_s(v, "name", "", "must not be empty");
            if (!uid || !*uid)
                val_invalid_s(v, "uid", "", "must not be empty");
            if (val_bool(v, r, "controller", &controller) == VAL_OK && controller) {
                char cur[512], detail[1200];
                snprintf(cur, sizeof cur, "%s/%s", kind ? kind : "", oname ? oname : "");
                if (first[0]) {
                    snprintf(detail, sizeof detail, "Only one reference can have Controller "
                             "set to true. Found \"true\" in references for %s and %s",
                             first, cur);
                    val_invalid_j(v, NULL, owners, detail);
                } else {
                    snprintf(first, sizeof first, "%s", cur);
                }
            }
        }
        val_pop(v, m2);
    }

    const json_t *fins = val_arr(v, meta, "finalizers");
    if (fins) {
        size_t m2 = val_push(v, "finalizers");
        for (size_t i = 0; i < json_array_size(fins); i++) {
            const json_t *f = json_array_get(fins, i);
            size_t m3 = val_push_index(v, i);
            if (!json_is_string(f)) {
                val_type(v, NULL, f, "string");
            } else {
                const char *s = json_string_value(f);
                val_qualified_name(v, NULL, s);
                if (kube && !strchr(s, '/') && !is_standard_finalizer(s))
                    val_invalid_s(v, NULL, s, "name is neither a standard finalizer name "
                                  "nor is it fully qualified");
            }
            val_pop(v, m3);
        }
        val_pop(v, m2);
    }
    val_pop(v, mark);
}

/* ValidateObjectMetaUpdate: identity fields stay. An empty uid or creationTimestamp in the
 * new object is fine: the API server carries the stored ones over. */
static void val_meta_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const json_t *om = json_object_get(old_obj, "metadata");
    const json_t *nm = json_object_get(obj, "metadata");
    static const char *const fields[] = {"name", "namespace", "uid", "creationTimestamp", NULL};
    if (!json_is_object(nm) || !json_is_object(om))
        return;
    size_t mark = val_push(v, "metadata");
    for (int i = 0; fields[i]; i++) {
        const json_t *n = json_object_get(nm, fields[i]);
        const json_t *o = json_object_get(om, fields[i]);
        if (!json_is_string(n) || !json_string_length(n))
            continue;
        if (!json_is_string(o) || strcmp(json_string_value(n), json_string_value(o)))
            val_invalid_j(v, fields[i], n, "field is immutable");
    }
    val_pop(v, mark);
}

/* ------------------------------------------------------------------------------------ */
/* Kind table */

typedef struct val_kind_s {
    const char *group;
    const char *kind;
    int name_rule;
    int namespaced;
    void (*check)(val_t *v, const json_t *obj);
    void (*update)(val_t *v, const json_t *old_obj, const json_t *obj);
} val_kind_t;

static const val_kind_t kinds[] = {
    {"", "Namespace", NAME_LABEL, 0, val_namespace, NULL},
    {"", "Pod", NAME_SUBDOMAIN, 1, val_pod, val_pod_update},
    {"", "Service", NAME_DNS1035, 1, val_service, val_service_update},
    {"", "Endpoints", NAME_SUBDOMAIN, 1, val_endpoints, NULL},
    {"", "Node", NAME_SUBDOMAIN, 0, val_node, val_node_update},
    /* core/v1 Events skip ObjectMeta's name rule (kube keeps old clients working). */
    {"", "Event", NAME_PATH, 1, val_event, NULL},
    {"events.k8s.io", "Event", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"", "ConfigMap", NAME_SUBDOMAIN, 1, val_config_map, val_config_map_update},
    {"", "Secret", NAME_SUBDOMAIN, 1, val_secret, val_secret_update},
    {"", "ReplicationController", NAME_SUBDOMAIN, 1, val_replication_controller, NULL},
    {"apps", "Deployment", NAME_SUBDOMAIN, 1, val_deployment, val_selector_immutable},
    {"apps", "ReplicaSet", NAME_SUBDOMAIN, 1, val_replica_set, val_selector_immutable},
    {"apps", "DaemonSet", NAME_SUBDOMAIN, 1, val_daemon_set, val_daemon_set_update},
    /* StatefulSet names are DNS labels since kube 1.27: they become pod hostnames. */
    {"apps", "StatefulSet", NAME_LABEL, 1, val_stateful_set, val_stateful_set_update},
    {"apps", "ControllerRevision", NAME_SUBDOMAIN, 1, val_controller_revision,
     val_controller_revision_update},
    {"coordination.k8s.io", "Lease", NAME_SUBDOMAIN, 1, val_lease, NULL},
    {"policy", "PodDisruptionBudget", NAME_SUBDOMAIN, 1, val_pod_disruption_budget, NULL},
    /* ObjectMeta only: kinds whose name rule is known. */
    {"", "ServiceAccount", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"", "PersistentVolumeClaim", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"", "PersistentVolume", NAME_SUBDOMAIN, 0, NULL, NULL},
    {"", "PodTemplate", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"", "LimitRange", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"", "ResourceQuota", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"batch", "Job", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"batch", "CronJob", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"networking.k8s.io", "Ingress", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"networking.k8s.io", "NetworkPolicy", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"discovery.k8s.io", "EndpointSlice", NAME_SUBDOMAIN, 1, NULL, NULL},
    {"storage.k8s.io", "StorageClass", NAME_SUBDOMAIN, 0, NULL, NULL},
    {"scheduling.k8s.io", "PriorityClass", NAME_SUBDOMAIN, 0, NULL, NULL},
};

static const val_kind_t *kind_find(const char *group, const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].group, group ? group : "") && !strcmp(kinds[i].kind, kind ? kind : ""))
            return &kinds[i];
    return NULL;
}

static void val_init(val_t *v, json_t *causes)
{
    v->causes = causes;
    v->count = 0;
    v->len = 0;
    v->path[0] = '\0';
}

static void check_object(val_t *v, const char *group, const char *kind, const json_t *obj)
{
    const val_kind_t *k = kind_find(group, kind);
    int core = !group || !*group || !strcmp(group, "apps");

    if (!json_is_object(obj)) {
        val_type(v, NULL, obj, "object");
        return;
    }
    if (!k) {
        /* Unknown kinds: the generic rule every name must pass. */
        val_meta(v, obj, NAME_PATH, 1, 0);
        return;
    }
    val_meta(v, obj, k->name_rule, k->namespaced, core && strcmp(k->kind, "Event"));
    if (k->check)
        k->check(v, obj);
}

int validate_object(const char *group, const char *kind, const json_t *obj, json_t *causes)
{
    val_t v;
    if (!causes)
        return 0;
    val_init(&v, causes);
    check_object(&v, group, kind, obj);
    return v.count;
}

int validate_update(const char *group, const char *kind, const json_t *old_obj,
                    const json_t *new_obj, json_t *causes)
{
    val_t v;
    const val_kind_t *k = kind_find(group, kind);
    if (!causes)
        return 0;
    val_init(&v, causes);
    if (json_is_object(old_obj) && json_is_object(new_obj)) {
        val_meta_update(&v, old_obj, new_obj);
        if (k && k->update)
            k->update(&v, old_obj, new_obj);
    }
    check_object(&v, group, kind, new_obj);
    return v.count;
}
