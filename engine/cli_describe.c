/* cli_describe.c: `berth describe`, in kubectl's describe layout.
 *
 * `describe TYPE NAME...`, `TYPE/NAME...`, `TYPE` (every object of the type) and `TYPE -l SEL`
 * fetch the objects and print each as kubectl's describers do: the same field names, order
 * and <none>/<unset> placeholders, aligned by Go's tabwriter (tabwriter.c, minwidth 0,
 * padding 2) so that the columns fall where kubectl puts them, and an Events table from
 * the events whose involvedObject.{name,namespace,kind,uid} field selectors name the object.
 *
 * Specialised describers: Pod, Node, Deployment, ReplicaSet, DaemonSet, StatefulSet, Service,
 * and the simple ones for Namespace, ConfigMap, Secret, ReplicationController and Endpoints.
 * Every other kind, plugin kinds included, gets kubectl's generic describer: Name,
 * Namespace, Labels, Annotations, then every field of the object with camelCase keys
 * turned into words.
 *
 * Differences from kubectl 1.31 on purpose: Service "Endpoints:" comes from the Endpoints
 * object (berth serves no EndpointSlices, where kubectl would print <none>); Job and CronJob
 * (plugin kinds here) get the generic describer.
 *
 * Depends on cli.h/kubeclient.h, tabwriter.h, and json_yaml.h (Go's float format). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json_yaml.h"
#include "tabwriter.h"
#include "util.h"
#include "jsonload.h"

#define CHUNK_SIZE 500
#define MAX_ANNOTATION_LEN 140

typedef struct describe_s {
    kubeclient_t *kc;
    const char *ns;
    int all_ns, show_events;
    const char *selector;
} describe_t;

/* ------------------------------------------------------------------ small helpers */

/* GET path (JSON). Returns the body (new reference) when the status is 2xx. Otherwise NULL
 * with *status set (0 when no answer came) and errline set to kubectl's line; *body_out, when
 * given, receives the error body (new reference or NULL). */
static json_t *get_json(describe_t *d, const char *path, long *status, char *errline,
                        size_t errlen, json_t **body_out)
{
    char err[1024];
    char *resp = NULL;
    size_t len = 0;
    json_error_t jerr;
    *status = 0;
    if (body_out)
        *body_out = NULL;
    if (kubeclient_request(d->kc, "GET", path, NULL, NULL, 0, "application/json", status, &resp,
                           &len, err, sizeof(err)) < 0) {
        cli_conn_error_line(d->kc, err, errline, errlen);
        return NULL;
    }
    json_t *body = jsonload(resp, len, 0, &jerr);
    free(resp);
    if (*status >= 200 && *status <= 299 && json_is_object(body))
        return body;
    cli_status_error_line(body, *status, errline, errlen);
    if (body_out)
        *body_out = body;
    else
        json_decref(body);
    return NULL;
}

/* Every item of a list, following continue tokens. New array, or NULL with errline set. */
static json_t *list_all(describe_t *d, const kube_resource_t *r, const char *ns,
                        const char *label_sel, const char *field_sel, char *errline,
                        size_t errlen)
{
    json_t *items = json_array();
    char *cont = NULL;
    for (;;) {
        long status;
        char *path = cli_get_path(r, ns, NULL, label_sel, field_sel, CHUNK_SIZE, cont, NULL);
        json_t *page = path ? get_json(d, path, &status, errline, errlen, NULL) : NULL;
        free(path);
        free(cont);
        cont = NULL;
        if (!page) {
            json_decref(items);
            return NULL;
        }
        json_array_extend(items, json_object_get(page, "items"));
        const char *c = json_str(json_object_get(page, "metadata"), "continue");
        if (c && *c)
            cont = strdup(c);
        json_decref(page);
        if (!cont)
            return items;
    }
}

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_str(obj, key);
    return s ? s : dflt;
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return str_or(json_object_get(obj, "metadata"), key, "");
}

static long long int_of(const json_t *v)
{
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return 0;
}

/* translateTimestampSince: "<unknown>" for a missing time. */
static void since(const char *ts, char *out, size_t outlen)
{
    time_t t = ts && *ts ? util_parse_rfc3339(ts) : (time_t)-1;
    if (t == (time_t)-1) {
        snprintf(out, outlen, "<unknown>");
        return;
    }
    cli_human_duration((long long)(time(NULL) - t), out, outlen);
}

/* time.RFC1123Z in local time; Go's zero time for a missing one. */
static void rfc1123z(const char *ts, char *out, size_t outlen)
{
    time_t t = ts && *ts ? util_parse_rfc3339(ts) : (time_t)-1;
    struct tm tm;
    if (t == (time_t)-1 || !localtime_r(&t, &tm)) {
        snprintf(out, outlen, "Mon, 01 Jan 0001 00:00:00 +0000");
        return;
    }
    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object, sorted bytewise. Caller frees the array (keys borrowed). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    const char *key;
    json_t *v;
    size_t i = 0;
    *n = json_object_size(obj);
    const char **keys = malloc((*n ? *n : 1) * sizeof(*keys));
    if (!keys) {
        *n = 0;
        return NULL;
    }
    json_object_foreach((json_t *)obj, key, v)
        keys[i++] = key;
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

/* The sort key of element e: its string field key, or "key,key2" with key2 (kubectl sorts
 * taints by "effect,key"); "" for a missing field. Into out. */
static const char *sort_key(const json_t *e, const char *key, const char *key2, char *out,
                            size_t outlen)
{
    if (!key2)
        return str_or(e, key, "");
    snprintf(out, outlen, "%s,%s", str_or(e, key, ""), str_or(e, key2, ""));
    return out;
}

/* The elements of arr in the stable order of sort_key (Go's sort.SliceStable, as kubectl's
 * describers sort mounts, tolerations, taints...); *n is their count. The caller frees the
 * array (elements borrowed). NULL when arr is empty or on no memory. */
static json_t **sorted_by(const json_t *arr, const char *key, const char *key2, size_t *n)
{
    json_t **v;
    *n = json_array_size(arr);
    if (!*n || !(v = malloc(*n * sizeof(*v))))
        return NULL;
    for (size_t i = 0; i < *n; i++)
        v[i] = json_array_get(arr, i);
    for (size_t a = 1; a < *n; a++)   /* insertion sort: stable */
        for (size_t b = a; b > 0; b--) {
            char k1[600], k2[600];
            if (strcmp(sort_key(v[b - 1], key, key2, k1, sizeof(k1)),
                       sort_key(v[b], key, key2, k2, sizeof(k2))) <= 0)
                break;
            json_t *x = v[b];
            v[b] = v[b - 1];
            v[b - 1] = x;
        }
    return v;
}

/* ------------------------------------------------------------------ resource quantities */

/* resource.Quantity, enough for describe: milli-units and the format it was written in. */
typedef enum { Q_DECIMAL_SI, Q_BINARY_SI, Q_DECIMAL_EXP } qfmt_t;
typedef struct qty_s {
    long long milli;
    qfmt_t fmt;
} qty_t;

static int qty_parse(const char *s, qty_t *q)
{
    char *end;
    q->milli = 0;
    q->fmt = Q_DECIMAL_SI;
    if (!s || !*s)
        return -1;
    long double v = strtold(s, &end);
    long double mul = 1;
    if (end == s)
        return -1;
    static const struct {
        const char *suf;
        long double mul;
        qfmt_t fmt;
    } sufs[] = {
        { "Ki", 1024.0L, Q_BINARY_SI },
        { "Mi", 1048576.0L, Q_BINARY_SI },
        { "Gi", 1073741824.0L, Q_BINARY_SI },
        { "Ti", 1099511627776.0L, Q_BINARY_SI },
        { "Pi", 1125899906842624.0L, Q_BINARY_SI },
        { "Ei", 1152921504606846976.0L, Q_BINARY_SI },
        { "n", 1e-9L, Q_DECIMAL_SI }, { "u", 1e-6L, Q_DECIMAL_SI }, { "m", 1e-3L, Q_DECIMAL_SI },
        { "k", 1e3L, Q_DECIMAL_SI }, { "M", 1e6L, Q_DECIMAL_SI }, { "G", 1e9L, Q_DECIMAL_SI },
        { "T", 1e12L, Q_DECIMAL_SI }, { "P", 1e15L, Q_DECIMAL_SI }, { "E", 1e18L, Q_DECIMAL_SI },
        { "", 1, Q_DECIMAL_SI },
    };
    /* strtold ate an exponent ("1e3") already: that is the DecimalExponent form */
    if (strpbrk(s, "eE") && strpbrk(s, "eE") < end && !strchr("EP", *(end - 1)))
        q->fmt = Q_DECIMAL_EXP;
    size_t i;
    for (i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++)
        if (!strcmp(end, sufs[i].suf)) {
            mul = sufs[i].mul;
            if (*end)
                q->fmt = sufs[i].fmt;
            break;
        }
    if (i == sizeof(sufs) / sizeof(sufs[0]))
        return -1;
    q->milli = (long long)ceill(v * mul * 1000.0L - 1e-9L);
    return 0;
}

/* Quantity.String(): the canonical form in the quantity's own format. */
static void qty_string(const qty_t *q, char *out, size_t outlen)
{
    long long m = q->milli;
    if (m == 0) {
        snprintf(out, outlen, "0");
        return;
    }
    if (q->fmt == Q_BINARY_SI && m % 1000 == 0 && (m / 1000 >= 1024 || m / 1000 <= -1024)) {
        static const char *const bsuf[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
        long long v = m / 1000;
        int e = 0;
        while (e < 6 && v % 1024 == 0) {
            v /= 1024;
            e++;
        }
        snprintf(out, outlen, "%lld%s", v, bsuf[e]);
        return;
    }
    long long mant = m;
    int exp = -3;
    while (mant % 10 == 0) {
        mant /= 10;
        exp++;
    }
    while (exp % 3 != 0 || exp > 18) {
        mant *= 10;
        exp--;
    }
    if (q->fmt == Q_DECIMAL_EXP) {
        if (exp)
            snprintf(out, outlen, "%llde%d", mant, exp);
        else
            snprintf(out, outlen, "%lld", mant);
        return;
    }
    static const char *const dsuf[] = { "m", "", "k", "M", "G", "T", "P", "E" };
    if (exp < -3) {
        snprintf(out, outlen, "%lld%s", mant, exp == -9 ? "n" : "u");
        return;
    }
    snprintf(out, outlen, "%lld%s", mant, dsuf[(exp + 3) / 3]);
}

/* ------------------------------------------------------------------ the prefix writer */

/* kubectl's PrefixWriter: two spaces per level, then the text with terminal escapes made
 * harmless (ESC -> ^[, CR -> \r), into the tabwriter. */
typedef struct pw_s {
    tabwriter_t *tw;
} pw_t;

static void pw_text(pw_t *w, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\x1b')
            tabwriter_write(w->tw, "^[", 2);
        else if (*p == '\r')
            tabwriter_write(w->tw, "\\r", 2);
        else
            tabwriter_write(w->tw, p, 1);
    }
}

static void pw(pw_t *w, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pw(pw_t *w, int level, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    for (int i = 0; i < level; i++)
        tabwriter_write(w->tw, "  ", 2);
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n >= 0 && s)
        pw_text(w, s);
    free(s);
}

/* "Title:\t" and the strings of arr joined by ",", on a line; for an empty arr the line
 * "Title:\t<none>" when none is given ("<none>"), else nothing. */
static void pw_strings(pw_t *w, const char *title, const json_t *arr, const char *none)
{
    size_t i;
    json_t *x;
    if (!json_array_size(arr)) {
        if (none)
            pw(w, 0, "%s:\t%s\n", title, none);
        return;
    }
    pw(w, 0, "%s:\t", title);
    json_array_foreach(arr, i, x)
        pw(w, 0, "%s%s", i ? "," : "", json_is_string(x) ? json_string_value(x) : "");
    pw(w, 0, "\n");
}

/* printLabelsMultilineWithIndent */
static void print_labels(pw_t *w, const char *indent, const char *title, const json_t *labels)
{
    size_t n;
    pw(w, 0, "%s%s:\t", indent, title);
    const char **keys = sorted_keys(labels, &n);
    if (!n)
        pw(w, 0, "<none>\n");
    for (size_t i = 0; i < n; i++) {
        if (i)
            pw(w, 0, "%s\t", indent);
        pw(w, 0, "%s=%s\n", keys[i], str_or(labels, keys[i], ""));
    }
    free(keys);
}

/* printAnnotationsMultiline: long or multi-line values on lines of their own, cut at 140. */
static void print_annotations(pw_t *w, const char *title, const json_t *ann)
{
    size_t n, shown = 0;
    pw(w, 0, "%s:\t", title);
    const char **keys = sorted_keys(ann, &n);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(keys[i], "kubectl.kubernetes.io/last-applied-configuration"))
            continue;
        if (shown++)
            pw(w, 0, "\t");
        const char *v = str_or(ann, keys[i], "");
        size_t vl = strlen(v);
        if (vl && v[vl - 1] == '\n')
            vl--;
        if (vl + strlen(keys[i]) + 2 > MAX_ANNOTATION_LEN || memchr(v, '\n', vl)) {
            pw(w, 0, "%s:\n", keys[i]);
            const char *line = v;
            for (;;) {
                const char *nl = memchr(line, '\n', (size_t)(v + vl - line));
                size_t ll = nl ? (size_t)(nl - line) : (size_t)(v + vl - line);
                if (ll > MAX_ANNOTATION_LEN - 2)
                    pw(w, 0, "\t  %.*s...\n", MAX_ANNOTATION_LEN - 2, line);
                else
                    pw(w, 0, "\t  %.*s\n", (int)ll, line);
                if (!nl)
                    break;
                line = nl + 1;
            }
        } else
            pw(w, 0, "%s: %.*s\n", keys[i], (int)vl, v);
    }
    if (!shown)
        pw(w, 0, "<none>\n");
    free(keys);
}

/* A resource list (limits, requests, capacity, allocatable): "Title:" at level, then each
 * resource in name order with its quantity in canonical form (as written when it does not
 * parse) a level deeper. Nothing for an empty list. */
static void describe_resource_list(pw_t *w, int level, const char *title, const json_t *rl)
{
    size_t n;
    const char **keys = sorted_keys(rl, &n);
    if (n)
        pw(w, level, "%s:\n", title);
    for (size_t i = 0; i < n; i++) {
        const char *v = str_or(rl, keys[i], "");
        qty_t q;
        char qs[64];
        if (qty_parse(v, &q) == 0)
            qty_string(&q, qs, sizeof(qs));
        else
            snprintf(qs, sizeof(qs), "%s", v);
        pw(w, level + 1, "%s:\t%s\n", keys[i], qs);
    }
    free(keys);
}

/* The Conditions table of a ReplicaSet or ReplicationController; nothing without any. */
static void describe_rs_conditions(pw_t *w, const json_t *conds)
{
    size_t i;
    json_t *c;
    if (!json_array_size(conds))
        return;
    pw(w, 0, "Conditions:\n  Type\tStatus\tReason\n");
    pw(w, 1, "----\t------\t------\n");
    json_array_foreach(conds, i, c)
        pw(w, 1, "%s \t%s\t%s\n", str_or(c, "type", ""), str_or(c, "status", ""),
           str_or(c, "reason", ""));
}

/* ------------------------------------------------------------------ label selectors */

static void sel_add(char **out, size_t *len, FILE *f, int *first, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void sel_add(char **out, size_t *len, FILE *f, int *first, const char *fmt, ...)
{
    va_list ap;
    (void)out, (void)len;
    if (!*first)
        fputc(',', f);
    *first = 0;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
}

typedef struct req_s {
    const char *key;
    char *text;
} req_t;

static int cmp_req(const void *a, const void *b)
{
    return strcmp(((const req_t *)a)->key, ((const req_t *)b)->key);
}

/* metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key, set values
 * sorted. "" for an empty selector. Caller frees. */
static char *selector_string(const json_t *sel)
{
    json_t *ml = json_object_get(sel, "matchLabels"), *me = json_object_get(sel, "matchExpressions");
    size_t n = json_object_size(ml) + json_array_size(me), k = 0, i;
    req_t *reqs = calloc(n ? n : 1, sizeof(*reqs));
    const char *key;
    json_t *v, *e;
    char *out = NULL;
    size_t len = 0;
    if (!reqs)
        return strdup("");
    json_object_foreach(ml, key, v) {
        reqs[k].key = key;
        if (asprintf(&reqs[k].text, "%s=%s", key, json_is_string(v) ? json_string_value(v) : "") < 0)
            reqs[k].text = NULL;
        k++;
    }
    json_array_foreach(me, i, e) {
        const char *op = str_or(e, "operator", ""), *ek = str_or(e, "key", "");
        json_t *vals = json_object_get(e, "values");
        size_t nv;
        char *vs = NULL;
        size_t vsl = 0;
        FILE *f = open_memstream(&vs, &vsl);
        const char **sv = malloc((json_array_size(vals) + 1) * sizeof(*sv));
        if (!f || !sv) {
            if (f)
                fclose(f);
            free(vs);
            free(sv);
            continue;
        }
        nv = 0;
        json_array_foreach(vals, nv, v)
            sv[nv] = json_is_string(v) ? json_string_value(v) : "";
        nv = json_array_size(vals);
        qsort(sv, nv, sizeof(*sv), cmp_str);
        for (size_t j = 0; j < nv; j++)
            fprintf(f, "%s%s", j ? "," : "", sv[j]);
        fclose(f);
        free(sv);
        reqs[k].key = ek;
        int rc = -1;
        if (!strcmp(op, "In"))
            rc = asprintf(&reqs[k].text, "%s in (%s)", ek, vs ? vs : "");
        else if (!strcmp(op, "NotIn"))
            rc = asprintf(&reqs[k].text, "%s notin (%s)", ek, vs ? vs : "");
        else if (!strcmp(op, "Exists"))
            rc = asprintf(&reqs[k].text, "%s", ek);
        else if (!strcmp(op, "DoesNotExist"))
            rc = asprintf(&reqs[k].text, "!%s", ek);
        if (rc < 0)
            reqs[k].text = NULL;
        free(vs);
        k++;
    }
    qsort(reqs, k, sizeof(*reqs), cmp_req);
    FILE *f = open_memstream(&out, &len);
    int first = 1;
    for (i = 0; i < k; i++) {
        if (f && reqs[i].text)
            sel_add(&out, &len, f, &first, "%s", reqs[i].text);
        free(reqs[i].text);
    }
    free(reqs);
    if (f)
        fclose(f);
    return out ? out : strdup("");
}

/* labels.FormatLabels of a map ("k=v,k2=v2" sorted, "<none>" when empty). Caller frees. */
static char *format_labels(const json_t *labels)
{
    size_t n;
    char *out = NULL;
    size_t len = 0;
    const char **keys = sorted_keys(labels, &n);
    if (!n) {
        free(keys);
        return strdup("<none>");
    }
    FILE *f = open_memstream(&out, &len);
    if (f) {
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s%s=%s", i ? "," : "", keys[i], str_or(labels, keys[i], ""));
        fclose(f);
    }
    free(keys);
    return out ? out : strdup("<none>");
}

/* ------------------------------------------------------------------ events */

typedef struct ev_sort_s {
    json_t *ev;
    time_t last;
    size_t idx;
} ev_sort_t;

static int cmp_events(const void *a, const void *b)
{
    const ev_sort_t *x = a, *y = b;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Events of obj (searchEvents): involvedObject name, namespace, kind (unless the caller
 * leaves kind out, as the pod describer does) and uid (uid_override instead when given).
 * Appends to events. */
static void search_events(describe_t *d, const json_t *obj, const char *kind,
                          const char *uid_override, json_t *events)
{
    static const kube_resource_t evres = { .version = "v1", .resource = "events",
                                            .kind = "Event", .namespaced = 1 };
    const char *ns = meta_str(obj, "namespace");
    const char *uid = uid_override ? uid_override : meta_str(obj, "uid");
    char *fs = NULL, errline[1200];
    size_t len = 0;
    FILE *f = open_memstream(&fs, &len);
    if (!f)
        return;
    fprintf(f, "involvedObject.name=%s,involvedObject.namespace=%s", meta_str(obj, "name"), ns);
    if (kind && *kind)
        fprintf(f, ",involvedObject.kind=%s", kind);
    if (*uid)
        fprintf(f, ",involvedObject.uid=%s", uid);
    fclose(f);
    json_t *items = list_all(d, &evres, *ns ? ns : NULL, NULL, fs, errline, sizeof(errline));
    free(fs);
    if (items)
        json_array_extend(events, items);
    json_decref(items);
}

/* DescribeEvents: the events sorted by lastTimestamp, in a table of their own. */
static void describe_events(pw_t *w, json_t *events)
{
    size_t n = json_array_size(events), i;
    json_t *e;
    if (!n) {
        pw(w, 0, "Events:\t<none>\n");
        return;
    }
    tabwriter_flush(w->tw);
    ev_sort_t *s = calloc(n, sizeof(*s));
    if (!s)
        return;
    json_array_foreach(events, i, e) {
        const char *lt = json_str(e, "lastTimestamp");
        s[i].ev = e;
        s[i].last = lt ? util_parse_rfc3339(lt) : (time_t)-1;
        s[i].idx = i;
    }
    qsort(s, n, sizeof(*s), cmp_events);
    pw(w, 0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
    pw(w, 1, "----\t------\t----\t----\t-------\n");
    for (i = 0; i < n; i++) {
        e = s[i].ev;
        char first[64], interval[160], last[64];
        const char *et = json_str(e, "eventTime");
        if (et && *et)
            since(et, first, sizeof(first));
        else
            since(json_str(e, "firstTimestamp"), first, sizeof(first));
        json_t *series = json_object_get(e, "series");
        long long count = int_of(json_object_get(e, "count"));
        if (json_is_object(series)) {
            since(json_str(series, "lastObservedTime"), last, sizeof(last));
            snprintf(interval, sizeof(interval), "%s (x%lld over %s)", last,
                     int_of(json_object_get(series, "count")), first);
        } else if (count > 1) {
            since(json_str(e, "lastTimestamp"), last, sizeof(last));
            snprintf(interval, sizeof(interval), "%s (x%lld over %s)", last, count, first);
        } else
            snprintf(interval, sizeof(interval), "%s", first);
        const char *source = str_or(json_object_get(e, "source"), "component", "");
        if (!*source)
            source = str_or(e, "reportingComponent", "");
        const char *msg = str_or(e, "message", "");
        size_t ml = strlen(msg);
        while (ml && isspace((unsigned char)msg[ml - 1]))
            ml--;
        while (ml && isspace((unsigned char)*msg))
            msg++, ml--;
        const char *fp = str_or(json_object_get(e, "involvedObject"), "fieldPath", "");
        pw(w, 1, "%s\t%s\t%s\t%s\t%s%s%.*s\n", str_or(e, "type", ""), str_or(e, "reason", ""),
           interval, source, fp, *fp ? ": " : "", (int)ml, msg);
    }
    free(s);
}

static void events_section(describe_t *d, pw_t *w, const json_t *obj, const char *kind)
{
    if (!d->show_events)
        return;
    json_t *events = json_array();
    search_events(d, obj, kind, NULL, events);
    describe_events(w, events);
    json_decref(events);
}

/* ------------------------------------------------------------------ containers and volumes */

static int str_in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

/* IntOrString.String() */
static void int_or_string(const json_t *v, char *out, size_t outlen)
{
    if (json_is_string(v))
        snprintf(out, outlen, "%s", json_string_value(v));
    else
        snprintf(out, outlen, "%lld", int_of(v));
}

/* "8080/TCP, 9090/UDP" for container ports (host ports with host; kubectl 1.31 leaves the
 * port names out). Caller frees. */
static char *container_ports(const json_t *ports, int host)
{
    char *out = NULL;
    size_t len = 0, i;
    json_t *p;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return strdup("");
    json_array_foreach(ports, i, p) {
        fprintf(f, "%s%lld/%s", i ? ", " : "",
                int_of(json_object_get(p, host ? "hostPort" : "containerPort")),
                str_or(p, "protocol", "TCP"));
    }
    fclose(f);
    return out;
}

/* Go's %v of a []string: "[a b c]". */
static void go_string_list(FILE *f, const json_t *arr)
{
    size_t i;
    json_t *v;
    fputc('[', f);
    json_array_foreach(arr, i, v)
        fprintf(f, "%s%s", i ? " " : "", json_is_string(v) ? json_string_value(v) : "");
    fputc(']', f);
}

/* DescribeProbe. Caller frees. */
static char *describe_probe(const json_t *p)
{
    char *out = NULL, port[64];
    size_t len = 0;
    json_t *x;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return strdup("");
    char attrs[200];
    snprintf(attrs, sizeof(attrs), "delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld",
             int_of(json_object_get(p, "initialDelaySeconds")),
             int_of(json_object_get(p, "timeoutSeconds")),
             int_of(json_object_get(p, "periodSeconds")),
             int_of(json_object_get(p, "successThreshold")),
             int_of(json_object_get(p, "failureThreshold")));
    if ((x = json_object_get(p, "exec"))) {
        fputs("exec ", f);
        go_string_list(f, json_object_get(x, "command"));
        fprintf(f, " %s", attrs);
    } else if ((x = json_object_get(p, "httpGet"))) {
        const char *host = str_or(x, "host", ""), *scheme = str_or(x, "scheme", "");
        int_or_string(json_object_get(x, "port"), port, sizeof(port));
        /* url.URL{Scheme, Host: JoinHostPort(host, port), Path}.String() */
        fputs("http-get ", f);
        for (const char *c = scheme; *c; c++)
            fputc(tolower((unsigned char)*c), f);
        if (*scheme)
            fputc(':', f);
        if (*port || *host)
            fputs("//", f);
        if (!*port)
            fputs(host, f);
        else if (strchr(host, ':'))
            fprintf(f, "[%s]:%s", host, port);
        else
            fprintf(f, "%s:%s", host, port);
        fprintf(f, "%s %s", str_or(x, "path", ""), attrs);
    } else if ((x = json_object_get(p, "tcpSocket"))) {
        int_or_string(json_object_get(x, "port"), port, sizeof(port));
        fprintf(f, "tcp-socket %s:%s %s", str_or(x, "host", ""), port, attrs);
    } else if ((x = json_object_get(p, "grpc"))) {
        fprintf(f, "grpc <pod>:%lld %s %s", int_of(json_object_get(x, "port")),
                str_or(x, "service", ""), attrs);
    } else
        fprintf(f, "unknown %s", attrs);
    fclose(f);
    return out;
}

/* EnvValueRetriever. kubectl's scheme has no field label conversions for pods, so only the
 * two fields every kind has (metadata.name, metadata.namespace) resolve; others print "". */
static void env_field_value(const json_t *pod, const char *path, char *out, size_t outlen)
{
    *out = '\0';
    if (pod && (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace")))
        snprintf(out, outlen, "%s", meta_str(pod, path + 9));
}

/* ExtractContainerResourceValue for limits/requests of cpu, memory, ephemeral-storage. */
static int env_resource_value(const json_t *container, const json_t *ref, char *out, size_t outlen)
{
    const char *res = str_or(ref, "resource", "");
    const char *dot = strchr(res, '.');
    qty_t v, div;
    if (!dot)
        return -1;
    char part[32];
    snprintf(part, sizeof(part), "%.*s", (int)(dot - res), res);
    if (strcmp(part, "limits") && strcmp(part, "requests"))
        return -1;
    const char *name = dot + 1;
    if (strcmp(name, "cpu") && strcmp(name, "memory") && strcmp(name, "ephemeral-storage"))
        return -1;
    if (qty_parse(str_or(json_path(container, "resources") ? json_object_get(json_path(container, "resources"), part) : NULL, name, "0"), &v) < 0)
        v.milli = 0;
    if (qty_parse(str_or(ref, "divisor", "1"), &div) < 0 || div.milli == 0)
        qty_parse("1", &div);
    double r;
    if (!strcmp(name, "cpu"))
        r = ceil((double)v.milli / (double)div.milli);
    else
        r = ceil((double)((v.milli + 999) / 1000) / (double)((div.milli + 999) / 1000));
    snprintf(out, outlen, "%lld", (long long)r);
    return 0;
}

static void describe_container(pw_t *w, const json_t *c, const json_t *status, const char *space,
                               const json_t *pod)
{
    size_t i;
    json_t *x;
    pw(w, 1, "%s%s:\n", *space ? " " : "", str_or(c, "name", ""));
    if (status)
        pw(w, 2, "Container ID:\t%s\n", str_or(status, "containerID", ""));
    pw(w, 2, "Image:\t%s\n", str_or(c, "image", ""));
    if (status)
        pw(w, 2, "Image ID:\t%s\n", str_or(status, "imageID", ""));
    char *ports = container_ports(json_object_get(c, "ports"), 0);
    char *hports = container_ports(json_object_get(c, "ports"), 1);
    if (strchr(ports, ','))
        pw(w, 2, "Ports:\t%s\n", ports);
    else
        pw(w, 2, "Port:\t%s\n", *ports ? ports : "<none>");
    if (strchr(hports, ','))
        pw(w, 2, "Host Ports:\t%s\n", hports);
    else
        pw(w, 2, "Host Port:\t%s\n", *hports ? hports : "<none>");
    free(ports);
    free(hports);
    json_t *sp = json_path(c, "securityContext.seccompProfile");
    if (sp) {
        pw(w, 2, "SeccompProfile:\t%s\n", str_or(sp, "type", ""));
        if (!strcmp(str_or(sp, "type", ""), "Localhost"))
            pw(w, 3, "LocalhostProfile:\t%s\n", str_or(sp, "localhostProfile", ""));
    }
    static const char *const cmdargs[] = { "command", "args" };
    for (int k = 0; k < 2; k++) {
        json_t *arr = json_object_get(c, cmdargs[k]);
        if (!json_array_size(arr))
            continue;
        pw(w, 2, "%s:\n", k ? "Args" : "Command");
        json_array_foreach(arr, i, x) {
            const char *s = json_is_string(x) ? json_string_value(x) : "";
            for (;;) {
                const char *nl = strchr(s, '\n');
                pw(w, 3, "%.*s\n", nl ? (int)(nl - s) : (int)strlen(s), s);
                if (!nl)
                    break;
                s = nl + 1;
            }
        }
    }
    if (status) {
        static const char *const states[] = { "state", "lastState" };
        for (int k = 0; k < 2; k++) {
            json_t *st = json_object_get(status, states[k]);
            const char *label = k ? "Last State" : "State";
            json_t *run = json_object_get(st, "running"), *wait = json_object_get(st, "waiting");
            json_t *term = json_object_get(st, "terminated");
            char t1[64], t2[64];
            if (k && !term)
                continue;
            if (run && !k) {
                rfc1123z(json_str(run, "startedAt"), t1, sizeof(t1));
                pw(w, 2, "%s:\tRunning\n", label);
                pw(w, 3, "Started:\t%s\n", t1);
            } else if (wait && !k) {
                pw(w, 2, "%s:\tWaiting\n", label);
                if (json_str(wait, "reason") && *json_str(wait, "reason"))
                    pw(w, 3, "Reason:\t%s\n", json_str(wait, "reason"));
            } else if (term) {
                pw(w, 2, "%s:\tTerminated\n", label);
                if (json_str(term, "reason") && *json_str(term, "reason"))
                    pw(w, 3, "Reason:\t%s\n", json_str(term, "reason"));
                if (json_str(term, "message") && *json_str(term, "message"))
                    pw(w, 3, "Message:\t%s\n", json_str(term, "message"));
                pw(w, 3, "Exit Code:\t%lld\n", int_of(json_object_get(term, "exitCode")));
                if (int_of(json_object_get(term, "signal")) > 0)
                    pw(w, 3, "Signal:\t%lld\n", int_of(json_object_get(term, "signal")));
                rfc1123z(json_str(term, "startedAt"), t1, sizeof(t1));
                rfc1123z(json_str(term, "finishedAt"), t2, sizeof(t2));
                pw(w, 3, "Started:\t%s\n", t1);
                pw(w, 3, "Finished:\t%s\n", t2);
            } else
                pw(w, 2, "%s:\tWaiting\n", label);
        }
        pw(w, 2, "Ready:\t%s\n", json_is_true(json_object_get(status, "ready")) ? "True" : "False");
        pw(w, 2, "Restart Count:\t%lld\n", int_of(json_object_get(status, "restartCount")));
    }
    static const char *const rk[] = { "limits", "requests" };
    for (int k = 0; k < 2; k++) {
        json_t *rl = json_path(c, "resources") ? json_object_get(json_path(c, "resources"), rk[k]) : NULL;
        describe_resource_list(w, 2, k ? "Requests" : "Limits", rl);
    }
    static const char *const probes[] = { "livenessProbe", "readinessProbe", "startupProbe" };
    static const char *const plabels[] = { "Liveness", "Readiness", "Startup" };
    for (int k = 0; k < 3; k++) {
        json_t *p = json_object_get(c, probes[k]);
        if (!json_is_object(p))
            continue;
        char *desc = describe_probe(p);
        pw(w, 2, "%s:\t%s\n", plabels[k], desc);
        free(desc);
    }
    json_t *envfrom = json_object_get(c, "envFrom");
    if (json_array_size(envfrom)) {
        pw(w, 2, "Environment Variables from:\n");
        json_array_foreach(envfrom, i, x) {
            json_t *cm = json_object_get(x, "configMapRef"), *sec = json_object_get(x, "secretRef");
            json_t *ref = cm ? cm : sec;
            const char *prefix = str_or(x, "prefix", "");
            int opt = json_is_true(json_object_get(ref, "optional"));
            const char *from = cm ? "ConfigMap" : sec ? "Secret" : "";
            if (*prefix)
                pw(w, 3, "%s\t%s with prefix '%s'\tOptional: %s\n", str_or(ref, "name", ""), from,
                   prefix, opt ? "true" : "false");
            else
                pw(w, 3, "%s\t%s\tOptional: %s\n", str_or(ref, "name", ""), from,
                   opt ? "true" : "false");
        }
    }
    json_t *env = json_object_get(c, "env");
    pw(w, 2, "Environment:%s\n", json_array_size(env) ? "" : "\t<none>");
    json_array_foreach(env, i, x) {
        json_t *vf = json_object_get(x, "valueFrom"), *ref;
        const char *name = str_or(x, "name", "");
        if (!vf) {
            const char *v = str_or(x, "value", "");
            int first = 1;
            for (;;) {
                const char *nl = strchr(v, '\n');
                int l = nl ? (int)(nl - v) : (int)strlen(v);
                if (first)
                    pw(w, 3, "%s:\t%.*s\n", name, l, v);
                else
                    pw(w, 3, "\t%.*s\n", l, v);
                first = 0;
                if (!nl)
                    break;
                v = nl + 1;
            }
        } else if ((ref = json_object_get(vf, "fieldRef"))) {
            char val[512];
            env_field_value(pod, str_or(ref, "fieldPath", ""), val, sizeof(val));
            pw(w, 3, "%s:\t%s (%s:%s)\n", name, val, str_or(ref, "apiVersion", ""),
               str_or(ref, "fieldPath", ""));
        } else if ((ref = json_object_get(vf, "resourceFieldRef"))) {
            char val[64] = "";
            const char *res = str_or(ref, "resource", "");
            if (env_resource_value(c, ref, val, sizeof(val)) < 0)
                *val = '\0';
            if (!strcmp(val, "0") && (!strcmp(res, "limits.cpu") || !strcmp(res, "limits.memory")))
                snprintf(val, sizeof(val), "node allocatable");
            pw(w, 3, "%s:\t%s (%s)\n", name, val, res);
        } else if ((ref = json_object_get(vf, "secretKeyRef"))) {
            pw(w, 3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %s\n", name,
               str_or(ref, "key", ""), str_or(ref, "name", ""),
               json_is_true(json_object_get(ref, "optional")) ? "true" : "false");
        } else if ((ref = json_object_get(vf, "configMapKeyRef"))) {
            pw(w, 3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %s\n", name,
               str_or(ref, "key", ""), str_or(ref, "name", ""),
               json_is_true(json_object_get(ref, "optional")) ? "true" : "false");
        }
    }
    json_t *mounts = json_object_get(c, "volumeMounts");
    pw(w, 2, "Mounts:%s\n", json_array_size(mounts) ? "" : "\t<none>");
    size_t nm;
    json_t **ms = sorted_by(mounts, "mountPath", NULL, &nm);
    if (ms) {
        for (i = 0; i < nm; i++) {
            const char *sub = str_or(ms[i], "subPath", "");
            pw(w, 3, "%s from %s (%s%s%s%s)\n", str_or(ms[i], "mountPath", ""),
               str_or(ms[i], "name", ""),
               json_is_true(json_object_get(ms[i], "readOnly")) ? "ro" : "rw",
               *sub ? ",path=\"" : "", sub, *sub ? "\"" : "");
        }
        free(ms);
    }
}

static void describe_containers(pw_t *w, const char *label, const json_t *containers,
                                const json_t *statuses, const char *space, const json_t *pod)
{
    size_t i, j;
    json_t *c, *s;
    pw(w, 0, "%s%s:%s\n", space, label, json_array_size(containers) ? "" : " <none>");
    json_array_foreach(containers, i, c) {
        json_t *status = NULL;
        json_array_foreach(statuses, j, s)
            if (!strcmp(str_or(s, "name", ""), str_or(c, "name", "")))
                status = s;
        describe_container(w, c, status, space, pod);
    }
}

static void describe_volumes(pw_t *w, const json_t *vols, const char *space)
{
    size_t i, j;
    json_t *v, *x, *src;
    if (!json_array_size(vols)) {
        pw(w, 0, "%sVolumes:\t<none>\n", space);
        return;
    }
    pw(w, 0, "%sVolumes:\n", space);
    json_array_foreach(vols, i, v) {
        pw(w, 1, "%s%s:\n", *space ? " " : "", str_or(v, "name", ""));
        if ((x = json_object_get(v, "hostPath"))) {
            pw(w, 2, "Type:\tHostPath (bare host directory volume)\n    Path:\t%s\n"
                     "    HostPathType:\t%s\n", str_or(x, "path", ""), str_or(x, "type", "<none>"));
        } else if ((x = json_object_get(v, "emptyDir"))) {
            qty_t q;
            char sl[64] = "<unset>";
            if (json_str(x, "sizeLimit") && qty_parse(json_str(x, "sizeLimit"), &q) == 0 && q.milli > 0)
                qty_string(&q, sl, sizeof(sl));
            pw(w, 2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                     "    Medium:\t%s\n    SizeLimit:\t%s\n", str_or(x, "medium", ""), sl);
        } else if ((x = json_object_get(v, "secret"))) {
            pw(w, 2, "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t%s\n"
                     "    Optional:\t%s\n", str_or(x, "secretName", ""),
               json_is_true(json_object_get(x, "optional")) ? "true" : "false");
        } else if ((x = json_object_get(v, "configMap"))) {
            pw(w, 2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t%s\n"
                     "    Optional:\t%s\n", str_or(x, "name", ""),
               json_is_true(json_object_get(x, "optional")) ? "true" : "false");
        } else if ((x = json_object_get(v, "persistentVolumeClaim"))) {
            pw(w, 2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the "
                     "same namespace)\n    ClaimName:\t%s\n    ReadOnly:\t%s\n",
               str_or(x, "claimName", ""),
               json_is_true(json_object_get(x, "readOnly")) ? "true" : "false");
        } else if ((x = json_object_get(v, "projected"))) {
            pw(w, 2, "Type:\tProjected (a volume that contains injected data from multiple "
                     "sources)\n");
            json_array_foreach(json_object_get(x, "sources"), j, src) {
                json_t *y;
                /* kubectl prints the *bool itself: <nil> when unset (an address when set,
                 * where the value is more use) */
                json_t *opt;
                if ((y = json_object_get(src, "secret"))) {
                    opt = json_object_get(y, "optional");
                    pw(w, 2, "SecretName:\t%s\n    SecretOptionalName:\t%s\n",
                       str_or(y, "name", ""), !opt ? "<nil>" : json_is_true(opt) ? "true" : "false");
                } else if (json_object_get(src, "downwardAPI"))
                    pw(w, 2, "DownwardAPI:\ttrue\n");
                else if ((y = json_object_get(src, "configMap"))) {
                    opt = json_object_get(y, "optional");
                    pw(w, 2, "ConfigMapName:\t%s\n    ConfigMapOptional:\t%s\n",
                       str_or(y, "name", ""), !opt ? "<nil>" : json_is_true(opt) ? "true" : "false");
                }
                else if ((y = json_object_get(src, "serviceAccountToken")))
                    pw(w, 2, "TokenExpirationSeconds:\t%lld\n",
                       int_of(json_object_get(y, "expirationSeconds")));
            }
        } else if ((x = json_object_get(v, "downwardAPI"))) {
            pw(w, 2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n"
                     "    Items:\n");
            json_array_foreach(json_object_get(x, "items"), j, src) {
                json_t *fr = json_object_get(src, "fieldRef"), *rr = json_object_get(src, "resourceFieldRef");
                if (fr)
                    pw(w, 3, "%s -> %s\n", str_or(fr, "fieldPath", ""), str_or(src, "path", ""));
                if (rr)
                    pw(w, 3, "%s -> %s\n", str_or(rr, "resource", ""), str_or(src, "path", ""));
            }
        } else if ((x = json_object_get(v, "nfs"))) {
            pw(w, 2, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n    Server:\t%s\n"
                     "    Path:\t%s\n    ReadOnly:\t%s\n", str_or(x, "server", ""),
               str_or(x, "path", ""), json_is_true(json_object_get(x, "readOnly")) ? "true" : "false");
        } else
            pw(w, 1, "<unknown>\n");
    }
}

/* printTolerationsMultilineWithIndent (sorted by key, stable). */
static void print_tolerations(pw_t *w, const char *indent, const char *title, const json_t *tols)
{
    size_t n = json_array_size(tols);
    pw(w, 0, "%s%s:\t", indent, title);
    if (!n) {
        pw(w, 0, "<none>\n");
        return;
    }
    json_t **t = sorted_by(tols, "key", NULL, &n);
    if (!t)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *key = str_or(t[i], "key", ""), *val = str_or(t[i], "value", "");
        const char *eff = str_or(t[i], "effect", ""), *op = str_or(t[i], "operator", "");
        if (i)
            pw(w, 0, "%s\t", indent);
        pw(w, 0, "%s", key);
        if (*val)
            pw(w, 0, "=%s", val);
        if (*eff)
            pw(w, 0, ":%s", eff);
        if (!strcmp(op, "Exists") && !*val)
            pw(w, 0, (*key || *eff) ? " op=Exists" : "op=Exists");
        if (json_object_get(t[i], "tolerationSeconds"))
            pw(w, 0, " for %llds", int_of(json_object_get(t[i], "tolerationSeconds")));
        pw(w, 0, "\n");
    }
    free(t);
}

static void describe_topology_spread(pw_t *w, const json_t *tscs, const char *space)
{
    size_t n = json_array_size(tscs);
    if (!n)
        return;
    json_t **t = sorted_by(tscs, "topologyKey", NULL, &n);
    if (!t)
        return;
    pw(w, 0, "%sTopology Spread Constraints:\t", space);
    for (size_t i = 0; i < n; i++) {
        if (i)
            pw(w, 0, "%s\t", space);
        pw(w, 0, "%s:%s when max skew %lld is exceeded", str_or(t[i], "topologyKey", ""),
           str_or(t[i], "whenUnsatisfiable", ""), int_of(json_object_get(t[i], "maxSkew")));
        json_t *ls = json_object_get(t[i], "labelSelector");
        if (json_is_object(ls)) {
            char *s = selector_string(ls);
            pw(w, 0, " for selector %s", *s ? s : "<none>");
            free(s);
        }
        pw(w, 0, "\n");
    }
    free(t);
}

/* "Pods Status:" of the workload describers: the pods' phases, or why they could not be
 * listed. */
static void pods_status_line(pw_t *w, int failed, const char *errline, const int counts[4])
{
    pw(w, 0, "Pods Status:\t");
    if (failed)
        pw(w, 0, "error in fetching pods: %s\n", errline);
    else
        pw(w, 0, "%d Running / %d Waiting / %d Succeeded / %d Failed\n", counts[0], counts[1],
           counts[2], counts[3]);
}

/* DescribePodTemplate */
static void describe_pod_template(pw_t *w, const json_t *tmpl)
{
    const json_t *spec = json_object_get(tmpl, "spec"), *meta = json_object_get(tmpl, "metadata");
    pw(w, 0, "Pod Template:\n");
    if (!tmpl) {
        pw(w, 1, "<unset>");
        return;
    }
    print_labels(w, "", "  Labels", json_object_get(meta, "labels"));
    if (json_object_size(json_object_get(meta, "annotations")))
        print_annotations(w, "  Annotations", json_object_get(meta, "annotations"));
    if (json_str(spec, "serviceAccountName") && *json_str(spec, "serviceAccountName"))
        pw(w, 1, "Service Account:\t%s\n", json_str(spec, "serviceAccountName"));
    if (json_array_size(json_object_get(spec, "initContainers")))
        describe_containers(w, "Init Containers", json_object_get(spec, "initContainers"), NULL,
                            "  ", NULL);
    describe_containers(w, "Containers", json_object_get(spec, "containers"), NULL, "  ", NULL);
    describe_volumes(w, json_object_get(spec, "volumes"), "  ");
    describe_topology_spread(w, json_object_get(spec, "topologySpreadConstraints"), "  ");
    if (json_str(spec, "priorityClassName") && *json_str(spec, "priorityClassName"))
        pw(w, 1, "Priority Class Name:\t%s\n", json_str(spec, "priorityClassName"));
    print_labels(w, "", "  Node-Selectors", json_object_get(spec, "nodeSelector"));
    print_tolerations(w, "", "  Tolerations", json_object_get(spec, "tolerations"));
}

/* "Kind/Name" of the controlling owner, or NULL. */
static const json_t *controller_of(const json_t *obj)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, o)
        if (json_is_true(json_object_get(o, "controller")))
            return o;
    return NULL;
}

/* ------------------------------------------------------------------ describers */

static int has_resources(const json_t *containers, const char *part, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
        if (json_object_get(json_object_get(json_object_get(c, "resources"), part), name))
            return 1;
    return 0;
}

/* qos.GetPodQOS: status.qosClass, else computed from the containers' resources. */
static const char *pod_qos(const json_t *pod)
{
    const char *q = json_str(json_object_get(pod, "status"), "qosClass");
    json_t *spec = json_object_get(pod, "spec");
    json_t *all = json_array();
    size_t i;
    json_t *c;
    if (q && *q) {
        json_decref(all);
        return q;
    }
    json_array_extend(all, json_object_get(spec, "containers"));
    json_array_extend(all, json_object_get(spec, "initContainers"));
    const char *res[] = { "cpu", "memory" };
    int any = 0, guaranteed = 1;
    for (int k = 0; k < 2; k++) {
        any |= has_resources(all, "requests", res[k]) || has_resources(all, "limits", res[k]);
        json_array_foreach(all, i, c) {
            json_t *lim = json_path(c, "resources") ? json_object_get(json_object_get(c, "resources"), "limits") : NULL;
            json_t *req = json_path(c, "resources") ? json_object_get(json_object_get(c, "resources"), "requests") : NULL;
            const char *l = json_str(lim, res[k]), *r = json_str(req, res[k]);
            qty_t ql, qr;
            if (!l) {
                guaranteed = 0;
                continue;
            }
            if (r && qty_parse(l, &ql) == 0 && qty_parse(r, &qr) == 0 && ql.milli != qr.milli)
                guaranteed = 0;
        }
    }
    json_decref(all);
    return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static void describe_pod(describe_t *d, pw_t *w, const json_t *pod)
{
    const json_t *spec = json_object_get(pod, "spec"), *status = json_object_get(pod, "status");
    const json_t *meta = json_object_get(pod, "metadata");
    char t[64];
    pw(w, 0, "Name:\t%s\n", meta_str(pod, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(pod, "namespace"));
    if (json_object_get(spec, "priority"))
        pw(w, 0, "Priority:\t%lld\n", int_of(json_object_get(spec, "priority")));
    if (*str_or(spec, "priorityClassName", ""))
        pw(w, 0, "Priority Class Name:\t%s\n", json_str(spec, "priorityClassName"));
    if (*str_or(spec, "runtimeClassName", ""))
        pw(w, 0, "Runtime Class Name:\t%s\n", json_str(spec, "runtimeClassName"));
    if (*str_or(spec, "serviceAccountName", ""))
        pw(w, 0, "Service Account:\t%s\n", json_str(spec, "serviceAccountName"));
    if (!*str_or(spec, "nodeName", ""))
        pw(w, 0, "Node:\t<none>\n");
    else
        pw(w, 0, "Node:\t%s/%s\n", json_str(spec, "nodeName"), str_or(status, "hostIP", ""));
    if (json_str(status, "startTime")) {
        rfc1123z(json_str(status, "startTime"), t, sizeof(t));
        pw(w, 0, "Start Time:\t%s\n", t);
    }
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    const char *phase = str_or(status, "phase", "");
    if (json_str(meta, "deletionTimestamp") && strcmp(phase, "Failed") && strcmp(phase, "Succeeded")) {
        since(json_str(meta, "deletionTimestamp"), t, sizeof(t));
        pw(w, 0, "Status:\tTerminating (lasts %s)\n", t);
        pw(w, 0, "Termination Grace Period:\t%llds\n",
           int_of(json_object_get(meta, "deletionGracePeriodSeconds")));
    } else
        pw(w, 0, "Status:\t%s\n", phase);
    if (*str_or(status, "reason", ""))
        pw(w, 0, "Reason:\t%s\n", json_str(status, "reason"));
    if (*str_or(status, "message", ""))
        pw(w, 0, "Message:\t%s\n", json_str(status, "message"));
    json_t *sp = json_path(spec, "securityContext.seccompProfile");
    if (sp) {
        pw(w, 0, "SeccompProfile:\t%s\n", str_or(sp, "type", ""));
        if (!strcmp(str_or(sp, "type", ""), "Localhost"))
            pw(w, 0, "LocalhostProfile:\t%s\n", str_or(sp, "localhostProfile", ""));
    }
    pw(w, 0, "IP:\t%s\n", str_or(status, "podIP", ""));
    json_t *ips = json_object_get(status, "podIPs"), *x;
    size_t i;
    if (!json_array_size(ips))
        pw(w, 0, "IPs:\t<none>\n");
    else {
        pw(w, 0, "IPs:\n");
        json_array_foreach(ips, i, x)
            pw(w, 1, "IP:\t%s\n", str_or(x, "ip", ""));
    }
    const json_t *ctl = controller_of(pod);
    if (ctl)
        pw(w, 0, "Controlled By:\t%s/%s\n", str_or(ctl, "kind", ""), str_or(ctl, "name", ""));
    if (*str_or(status, "nominatedNodeName", ""))
        pw(w, 0, "NominatedNodeName:\t%s\n", json_str(status, "nominatedNodeName"));
    if (json_array_size(json_object_get(spec, "initContainers")))
        describe_containers(w, "Init Containers", json_object_get(spec, "initContainers"),
                            json_object_get(status, "initContainerStatuses"), "", pod);
    describe_containers(w, "Containers", json_object_get(spec, "containers"),
                        json_object_get(status, "containerStatuses"), "", pod);
    json_t *gates = json_object_get(spec, "readinessGates");
    if (json_array_size(gates)) {
        pw(w, 0, "Readiness Gates:\n  Type\tStatus\n");
        json_array_foreach(gates, i, x) {
            const char *ct = str_or(x, "conditionType", ""), *st = "<none>";
            size_t j;
            json_t *c;
            json_array_foreach(json_object_get(status, "conditions"), j, c)
                if (!strcmp(str_or(c, "type", ""), ct)) {
                    st = str_or(c, "status", "");
                    break;
                }
            pw(w, 1, "%s \t%s \n", ct, st);
        }
    }
    json_t *conds = json_object_get(status, "conditions");
    if (json_array_size(conds)) {
        pw(w, 0, "Conditions:\n  Type\tStatus\n");
        json_array_foreach(conds, i, x)
            pw(w, 1, "%s \t%s \n", str_or(x, "type", ""), str_or(x, "status", ""));
    }
    describe_volumes(w, json_object_get(spec, "volumes"), "");
    pw(w, 0, "QoS Class:\t%s\n", pod_qos(pod));
    print_labels(w, "", "Node-Selectors", json_object_get(spec, "nodeSelector"));
    print_tolerations(w, "", "Tolerations", json_object_get(spec, "tolerations"));
    describe_topology_spread(w, json_object_get(spec, "topologySpreadConstraints"), "");
    events_section(d, w, pod, NULL);   /* the pod describer searches without the kind */
}

/* getPodStatusForController: the phases of the pods the controller owns. */
static void pod_status_for_controller(describe_t *d, const json_t *obj, const char *selector,
                                      int counts[4], char *errline, size_t errlen, int *failed)
{
    static const kube_resource_t pods = { .version = "v1", .resource = "pods", .kind = "Pod",
                                           .namespaced = 1 };
    json_t *items = list_all(d, &pods, meta_str(obj, "namespace"), selector, NULL, errline, errlen);
    size_t i;
    json_t *p;
    memset(counts, 0, 4 * sizeof(int));
    *failed = !items;
    json_array_foreach(items, i, p) {
        const json_t *ctl = controller_of(p);
        if (!ctl || strcmp(str_or(ctl, "uid", ""), meta_str(obj, "uid")))
            continue;
        const char *phase = str_or(json_object_get(p, "status"), "phase", "");
        if (!strcmp(phase, "Running"))
            counts[0]++;
        else if (!strcmp(phase, "Pending"))
            counts[1]++;
        else if (!strcmp(phase, "Succeeded"))
            counts[2]++;
        else if (!strcmp(phase, "Failed"))
            counts[3]++;
    }
    json_decref(items);
}

static void describe_replicaset(describe_t *d, pw_t *w, const json_t *rs)
{
    const json_t *spec = json_object_get(rs, "spec"), *meta = json_object_get(rs, "metadata");
    char *sel = selector_string(json_object_get(spec, "selector"));
    char errline[1200];
    int counts[4], failed;
    pod_status_for_controller(d, rs, sel, counts, errline, sizeof(errline), &failed);
    pw(w, 0, "Name:\t%s\n", meta_str(rs, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(rs, "namespace"));
    pw(w, 0, "Selector:\t%s\n", *sel ? sel : "<none>");
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    const json_t *ctl = controller_of(rs);
    if (ctl)
        pw(w, 0, "Controlled By:\t%s/%s\n", str_or(ctl, "kind", ""), str_or(ctl, "name", ""));
    pw(w, 0, "Replicas:\t%lld current / %lld desired\n",
       int_of(json_path(rs, "status.replicas")), int_of(json_object_get(spec, "replicas")));
    pods_status_line(w, failed, errline, counts);
    describe_pod_template(w, json_object_get(spec, "template"));
    describe_rs_conditions(w, json_path(rs, "status.conditions"));
    free(sel);
    events_section(d, w, rs, "ReplicaSet");
}

/* Templates equal once the pod-template-hash label is left out (EqualIgnoreHash). */
static int template_equal_ignore_hash(const json_t *a, const json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(json_path(x, "metadata.labels"), "pod-template-hash");
    json_object_del(json_path(y, "metadata.labels"), "pod-template-hash");
    int eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static void rs_list_string(pw_t *w, const char *label, json_t **rss, size_t n)
{
    pw(w, 0, "%s:\t", label);
    if (!n)
        pw(w, 0, "<none>");
    for (size_t i = 0; i < n; i++)
        pw(w, 0, "%s%s (%lld/%lld replicas created)", i ? ", " : "", meta_str(rss[i], "name"),
           int_of(json_path(rss[i], "status.replicas")),
           int_of(json_path(rss[i], "spec.replicas")));
    pw(w, 0, "\n");
}

static void describe_deployment(describe_t *d, pw_t *w, const json_t *dep)
{
    static const kube_resource_t rsres = { .group = "apps", .version = "v1",
                                           .resource = "replicasets", .kind = "ReplicaSet",
                                           .namespaced = 1 };
    const json_t *spec = json_object_get(dep, "spec"), *meta = json_object_get(dep, "metadata");
    const json_t *status = json_object_get(dep, "status");
    char *sel = selector_string(json_object_get(spec, "selector"));
    char t[64], errline[1200], a[64], b[64];
    size_t i;
    json_t *x;
    pw(w, 0, "Name:\t%s\n", meta_str(dep, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(dep, "namespace"));
    rfc1123z(json_str(meta, "creationTimestamp"), t, sizeof(t));
    pw(w, 0, "CreationTimestamp:\t%s\n", t);
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "Selector:\t%s\n", sel);
    pw(w, 0, "Replicas:\t%lld desired | %lld updated | %lld total | %lld available | %lld "
             "unavailable\n", int_of(json_object_get(spec, "replicas")),
       int_of(json_object_get(status, "updatedReplicas")),
       int_of(json_object_get(status, "replicas")),
       int_of(json_object_get(status, "availableReplicas")),
       int_of(json_object_get(status, "unavailableReplicas")));
    pw(w, 0, "StrategyType:\t%s\n", str_or(json_object_get(spec, "strategy"), "type", ""));
    pw(w, 0, "MinReadySeconds:\t%lld\n", int_of(json_object_get(spec, "minReadySeconds")));
    json_t *ru = json_path(spec, "strategy.rollingUpdate");
    if (json_is_object(ru)) {
        int_or_string(json_object_get(ru, "maxUnavailable"), a, sizeof(a));
        int_or_string(json_object_get(ru, "maxSurge"), b, sizeof(b));
        pw(w, 0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", a, b);
    }
    describe_pod_template(w, json_object_get(spec, "template"));
    json_t *conds = json_object_get(status, "conditions");
    if (json_array_size(conds)) {
        pw(w, 0, "Conditions:\n  Type\tStatus\tReason\n");
        pw(w, 1, "----\t------\t------\n");
        json_array_foreach(conds, i, x)
            pw(w, 1, "%s \t%s\t%s\n", str_or(x, "type", ""), str_or(x, "status", ""),
               str_or(x, "reason", ""));
    }
    /* deploymentutil.GetAllReplicaSets: the owned ones, the new one by its template */
    json_t *rss = list_all(d, &rsres, meta_str(dep, "namespace"), sel, NULL, errline, sizeof(errline));
    size_t n = json_array_size(rss), nold = 0;
    json_t **owned = calloc(n ? n : 1, sizeof(*owned)), *newrs = NULL;
    if (owned) {
        json_array_foreach(rss, i, x) {
            const json_t *ctl = controller_of(x);
            if (ctl && !strcmp(str_or(ctl, "uid", ""), meta_str(dep, "uid")))
                owned[nold++] = x;
        }
        /* oldest first, as ReplicaSetsByCreationTimestamp sorts them */
        for (size_t p = 1; p < nold; p++)
            for (size_t q = p; q > 0; q--) {
                const char *c1 = meta_str(owned[q - 1], "creationTimestamp");
                const char *c2 = meta_str(owned[q], "creationTimestamp");
                int c = strcmp(c1, c2);
                if (c < 0 || (c == 0 && strcmp(meta_str(owned[q - 1], "name"), meta_str(owned[q], "name")) <= 0))
                    break;
                json_t *tmp = owned[q];
                owned[q] = owned[q - 1];
                owned[q - 1] = tmp;
            }
        for (i = 0; i < nold; i++)
            if (template_equal_ignore_hash(json_path(owned[i], "spec.template"),
                                           json_object_get(spec, "template"))) {
                newrs = owned[i];
                memmove(owned + i, owned + i + 1, (nold - i - 1) * sizeof(*owned));
                nold--;
                break;
            }
        if (nold || newrs) {
            rs_list_string(w, "OldReplicaSets", owned, nold);
            rs_list_string(w, "NewReplicaSet", &newrs, newrs ? 1 : 0);
        }
        free(owned);
    }
    json_decref(rss);
    free(sel);
    events_section(d, w, dep, "Deployment");
}

/* kubectl's DaemonSetDescriber. The counts lines have no tab: kubectl writes them so. */
static void describe_daemonset(describe_t *d, pw_t *w, const json_t *ds)
{
    const json_t *spec = json_object_get(ds, "spec"), *meta = json_object_get(ds, "metadata");
    const json_t *status = json_object_get(ds, "status");
    char *sel = selector_string(json_object_get(spec, "selector"));
    char *nodesel = format_labels(json_path(spec, "template.spec.nodeSelector"));
    char errline[1200];
    int counts[4], failed;
    pod_status_for_controller(d, ds, sel, counts, errline, sizeof(errline), &failed);
    pw(w, 0, "Name:\t%s\n", meta_str(ds, "name"));
    pw(w, 0, "Selector:\t%s\n", sel);
    pw(w, 0, "Node-Selector:\t%s\n", nodesel);
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "Desired Number of Nodes Scheduled: %lld\n",
       int_of(json_object_get(status, "desiredNumberScheduled")));
    pw(w, 0, "Current Number of Nodes Scheduled: %lld\n",
       int_of(json_object_get(status, "currentNumberScheduled")));
    pw(w, 0, "Number of Nodes Scheduled with Up-to-date Pods: %lld\n",
       int_of(json_object_get(status, "updatedNumberScheduled")));
    pw(w, 0, "Number of Nodes Scheduled with Available Pods: %lld\n",
       int_of(json_object_get(status, "numberAvailable")));
    pw(w, 0, "Number of Nodes Misscheduled: %lld\n",
       int_of(json_object_get(status, "numberMisscheduled")));
    pods_status_line(w, failed, errline, counts);
    describe_pod_template(w, json_object_get(spec, "template"));
    free(sel);
    free(nodesel);
    events_section(d, w, ds, "DaemonSet");
}

/* describeVolumeClaimTemplates: name, storage class, labels, annotations, capacity and
 * access modes of each claim template (berth refuses them today; shown should one exist). */
static void describe_claim_templates(pw_t *w, const json_t *vcts)
{
    size_t i;
    json_t *c;
    if (!json_array_size(vcts)) {
        pw(w, 0, "Volume Claims:\t<none>\n");
        return;
    }
    pw(w, 0, "Volume Claims:\n");
    json_array_foreach(vcts, i, c) {
        const json_t *meta = json_object_get(c, "metadata"), *spec = json_object_get(c, "spec");
        const char *sc = json_str(spec, "storageClassName");
        pw(w, 1, "Name:\t%s\n", str_or(meta, "name", ""));
        pw(w, 1, "StorageClass:\t%s\n", sc ? sc : "");
        print_labels(w, "  ", "Labels", json_object_get(meta, "labels"));
        print_labels(w, "  ", "Annotations", json_object_get(meta, "annotations"));
        const char *cap = json_str(json_path(spec, "resources.requests"), "storage");
        pw(w, 1, "Capacity:\t%s\n", cap ? cap : "<default>");
        pw(w, 1, "Access Modes:\t[");   /* Go's %s of a slice */
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(spec, "accessModes"), j, m)
            pw(w, 0, "%s%s", j ? " " : "", json_is_string(m) ? json_string_value(m) : "");
        pw(w, 0, "]\n");
    }
}

/* kubectl's StatefulSetDescriber. */
static void describe_statefulset(describe_t *d, pw_t *w, const json_t *sts)
{
    const json_t *spec = json_object_get(sts, "spec"), *meta = json_object_get(sts, "metadata");
    char *sel = selector_string(json_object_get(spec, "selector"));
    char t[64], errline[1200], mu[64];
    int counts[4], failed;
    pod_status_for_controller(d, sts, sel, counts, errline, sizeof(errline), &failed);
    pw(w, 0, "Name:\t%s\n", meta_str(sts, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(sts, "namespace"));
    rfc1123z(json_str(meta, "creationTimestamp"), t, sizeof(t));
    pw(w, 0, "CreationTimestamp:\t%s\n", t);
    pw(w, 0, "Selector:\t%s\n", sel);
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "Replicas:\t%lld desired | %lld total\n", int_of(json_object_get(spec, "replicas")),
       int_of(json_path(sts, "status.replicas")));
    pw(w, 0, "Update Strategy:\t%s\n", str_or(json_object_get(spec, "updateStrategy"), "type", ""));
    const json_t *ru = json_path(spec, "updateStrategy.rollingUpdate");
    if (json_is_object(ru) && json_is_integer(json_object_get(ru, "partition"))) {
        pw(w, 1, "Partition:\t%lld\n", int_of(json_object_get(ru, "partition")));
        const json_t *m = json_object_get(ru, "maxUnavailable");
        if (m && !json_is_null(m)) {
            int_or_string(m, mu, sizeof(mu));
            pw(w, 1, "MaxUnavailable:\t%s\n", mu);
        }
    }
    pods_status_line(w, failed, errline, counts);
    describe_pod_template(w, json_object_get(spec, "template"));
    describe_claim_templates(w, json_object_get(spec, "volumeClaimTemplates"));
    free(sel);
    events_section(d, w, sts, "StatefulSet");
}

/* formatEndpoints (kubectl before EndpointSlices): ip:port for the ports named like the
 * service port, three at most then "+ N more...". */
static void format_endpoints(const json_t *ep, const char *port_name, char *out, size_t outlen)
{
    size_t i, j, k, o = 0;
    json_t *ss, *p, *a;
    int count = 0, listed = 0, more = 0;
    *out = '\0';
    if (!json_array_size(json_object_get(ep, "subsets"))) {
        snprintf(out, outlen, "<none>");
        return;
    }
    json_array_foreach(json_object_get(ep, "subsets"), i, ss) {
        json_t *ports = json_object_get(ss, "ports"), *addrs = json_object_get(ss, "addresses");
        if (!json_array_size(ports)) {
            json_array_foreach(addrs, k, a) {
                if (listed == 3)
                    more = 1;
                if (!more) {
                    o += (size_t)snprintf(out + o, outlen > o ? outlen - o : 0, "%s%s",
                                          listed ? "," : "", str_or(a, "ip", ""));
                    listed++;
                }
                count++;
            }
            continue;
        }
        json_array_foreach(ports, j, p) {
            if (strcmp(str_or(p, "name", ""), port_name))
                continue;
            json_array_foreach(addrs, k, a) {
                if (listed == 3)
                    more = 1;
                if (!more) {
                    const char *ip = str_or(a, "ip", "");
                    o += (size_t)snprintf(out + o, outlen > o ? outlen - o : 0,
                                          strchr(ip, ':') ? "%s[%s]:%lld" : "%s%s:%lld",
                                          listed ? "," : "", ip, int_of(json_object_get(p, "port")));
                    listed++;
                }
                count++;
            }
        }
        if (o >= outlen)
            break;
    }
    if (more && o < outlen)
        snprintf(out + o, outlen - o, " + %d more...", count - 3);
}

static void describe_service(describe_t *d, pw_t *w, const json_t *svc)
{
    static const kube_resource_t epres = { .version = "v1", .resource = "endpoints",
                                            .kind = "Endpoints", .namespaced = 1 };
    const json_t *spec = json_object_get(svc, "spec"), *meta = json_object_get(svc, "metadata");
    size_t i;
    json_t *x;
    char *path = kubeclient_path(&epres, meta_str(svc, "namespace"), meta_str(svc, "name"), NULL);
    char errline[1200];
    long status;
    json_t *ep = path ? get_json(d, path, &status, errline, sizeof(errline), NULL) : NULL;
    free(path);
    pw(w, 0, "Name:\t%s\n", meta_str(svc, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(svc, "namespace"));
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    char *sel = format_labels(json_object_get(spec, "selector"));
    pw(w, 0, "Selector:\t%s\n", sel);
    free(sel);
    pw(w, 0, "Type:\t%s\n", str_or(spec, "type", ""));
    if (json_str(spec, "ipFamilyPolicy"))
        pw(w, 0, "IP Family Policy:\t%s\n", json_str(spec, "ipFamilyPolicy"));
    pw_strings(w, "IP Families", json_object_get(spec, "ipFamilies"), "<none>");
    pw(w, 0, "IP:\t%s\n", str_or(spec, "clusterIP", ""));
    pw_strings(w, "IPs", json_object_get(spec, "clusterIPs"), "<none>");
    pw_strings(w, "External IPs", json_object_get(spec, "externalIPs"), NULL);
    if (*str_or(spec, "loadBalancerIP", ""))
        pw(w, 0, "Desired LoadBalancer IP:\t%s\n", json_str(spec, "loadBalancerIP"));
    if (*str_or(spec, "externalName", ""))
        pw(w, 0, "External Name:\t%s\n", json_str(spec, "externalName"));
    json_t *ing = json_path(svc, "status.loadBalancer.ingress");
    if (json_array_size(ing)) {
        pw(w, 0, "LoadBalancer Ingress:\t");
        json_array_foreach(ing, i, x) {
            if (i)
                pw(w, 0, ", ");
            if (*str_or(x, "ip", "")) {
                pw(w, 0, "%s", json_str(x, "ip"));
                if (json_str(x, "ipMode"))
                    pw(w, 0, " (%s)", json_str(x, "ipMode"));
            } else
                pw(w, 0, "%s", str_or(x, "hostname", ""));
        }
        pw(w, 0, "\n");
    }
    json_array_foreach(json_object_get(spec, "ports"), i, x) {
        const char *name = str_or(x, "name", "");
        const char *proto = str_or(x, "protocol", "TCP");
        char tp[64], eps[1024];
        pw(w, 0, "Port:\t%s\t%lld/%s\n", *name ? name : "<unset>",
           int_of(json_object_get(x, "port")), proto);
        int_or_string(json_object_get(x, "targetPort"), tp, sizeof(tp));
        pw(w, 0, "TargetPort:\t%s/%s\n", tp, proto);
        if (json_str(x, "appProtocol"))
            pw(w, 0, "AppProtocol:\t%s\n", json_str(x, "appProtocol"));
        if (int_of(json_object_get(x, "nodePort")))
            pw(w, 0, "NodePort:\t%s\t%lld/%s\n", *name ? name : "<unset>",
               int_of(json_object_get(x, "nodePort")), proto);
        if (ep)
            format_endpoints(ep, name, eps, sizeof(eps));
        else
            snprintf(eps, sizeof(eps), "<none>");
        pw(w, 0, "Endpoints:\t%s\n", eps);
    }
    pw(w, 0, "Session Affinity:\t%s\n", str_or(spec, "sessionAffinity", ""));
    if (*str_or(spec, "externalTrafficPolicy", ""))
        pw(w, 0, "External Traffic Policy:\t%s\n", json_str(spec, "externalTrafficPolicy"));
    if (json_str(spec, "internalTrafficPolicy"))
        pw(w, 0, "Internal Traffic Policy:\t%s\n", json_str(spec, "internalTrafficPolicy"));
    if (int_of(json_object_get(spec, "healthCheckNodePort")))
        pw(w, 0, "HealthCheck NodePort:\t%lld\n", int_of(json_object_get(spec, "healthCheckNodePort")));
    pw_strings(w, "LoadBalancer Source Ranges", json_object_get(spec, "loadBalancerSourceRanges"),
               NULL);
    if (json_str(spec, "trafficDistribution"))
        pw(w, 0, "Traffic Distribution:\t%s\n", json_str(spec, "trafficDistribution"));
    json_decref(ep);
    events_section(d, w, svc, "Service");
}

/* Sum of the pods' requests or limits for one resource (PodRequests: containers summed, init
 * containers by their maximum, plus overhead). */
static qty_t pod_resource(const json_t *pod, const char *part, const char *name)
{
    qty_t sum = { 0, Q_DECIMAL_SI }, q;
    int have = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        const char *v = json_str(json_object_get(json_object_get(c, "resources"), part), name);
        if (v && qty_parse(v, &q) == 0) {
            if (!have)
                sum.fmt = q.fmt;
            have = 1;
            sum.milli += q.milli;
        }
    }
    json_array_foreach(json_path(pod, "spec.initContainers"), i, c) {
        const char *v = json_str(json_object_get(json_object_get(c, "resources"), part), name);
        if (v && qty_parse(v, &q) == 0 && q.milli > sum.milli) {
            sum.milli = q.milli;
            if (!have)
                sum.fmt = q.fmt;
            have = 1;
        }
    }
    const char *ov = json_str(json_path(pod, "spec.overhead"), name);
    if (ov && qty_parse(ov, &q) == 0)
        sum.milli += q.milli;
    return sum;
}

static long long percent(long long num, long long den)
{
    if (den == 0)
        return 0;
    return (long long)((double)num / (double)den * 100);
}

static void describe_node(describe_t *d, pw_t *w, const json_t *node)
{
    static const kube_resource_t pods = { .version = "v1", .resource = "pods", .kind = "Pod",
                                           .namespaced = 1 };
    static const kube_resource_t leases = { .group = "coordination.k8s.io", .version = "v1",
                                            .resource = "leases", .kind = "Lease",
                                            .namespaced = 1 };
    const json_t *spec = json_object_get(node, "spec"), *status = json_object_get(node, "status");
    const json_t *meta = json_object_get(node, "metadata");
    const char *name = meta_str(node, "name");
    char t[64], t2[64], errline[1200], fs[600];
    size_t i, n;
    json_t *x;
    const char *key;

    pw(w, 0, "Name:\t%s\n", name);
    /* findNodeRoles */
    json_t *roles = json_object();
    json_object_foreach(json_object_get(meta, "labels"), key, x) {
        if (!strncmp(key, "node-role.kubernetes.io/", 24) && key[24])
            json_object_set_new(roles, key + 24, json_true());
        else if (!strcmp(key, "kubernetes.io/role") && json_is_string(x) && *json_string_value(x))
            json_object_set_new(roles, json_string_value(x), json_true());
    }
    const char **rk = sorted_keys(roles, &n);
    pw(w, 0, "Roles:\t");
    if (!n)
        pw(w, 0, "<none>");
    for (i = 0; i < n; i++)
        pw(w, 0, "%s%s", i ? "," : "", rk[i]);
    pw(w, 0, "\n");
    free(rk);
    json_decref(roles);
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    rfc1123z(json_str(meta, "creationTimestamp"), t, sizeof(t));
    pw(w, 0, "CreationTimestamp:\t%s\n", t);
    /* taints sorted by effect,key */
    json_t *taints = json_object_get(spec, "taints");
    n = json_array_size(taints);
    pw(w, 0, "Taints:\t");
    if (!n)
        pw(w, 0, "<none>\n");
    else {
        json_t **ts = sorted_by(taints, "effect", "key", &n);
        if (ts) {
            for (i = 0; i < n; i++) {
                const char *v = str_or(ts[i], "value", ""), *e = str_or(ts[i], "effect", "");
                if (i)
                    pw(w, 0, "\t");
                pw(w, 0, "%s%s%s%s%s\n", str_or(ts[i], "key", ""), *v ? "=" : "", v,
                   *e ? ":" : "", e);
            }
            free(ts);
        }
    }
    pw(w, 0, "Unschedulable:\t%s\n", json_is_true(json_object_get(spec, "unschedulable")) ? "true" : "false");
    char *lpath = kubeclient_path(&leases, "kube-node-lease", name, NULL);
    long st;
    json_t *lease = lpath ? get_json(d, lpath, &st, errline, sizeof(errline), NULL) : NULL;
    free(lpath);
    if (lease) {
        json_t *ls = json_object_get(lease, "spec");
        pw(w, 0, "Lease:\n");
        pw(w, 1, "HolderIdentity:\t%s\n", str_or(ls, "holderIdentity", "<unset>"));
        if (json_str(ls, "acquireTime"))
            rfc1123z(json_str(ls, "acquireTime"), t, sizeof(t));
        else
            snprintf(t, sizeof(t), "<unset>");
        pw(w, 1, "AcquireTime:\t%s\n", t);
        if (json_str(ls, "renewTime"))
            rfc1123z(json_str(ls, "renewTime"), t, sizeof(t));
        else
            snprintf(t, sizeof(t), "<unset>");
        pw(w, 1, "RenewTime:\t%s\n", t);
        json_decref(lease);
    } else {
        /* client-go's error text: the Status message alone */
        const char *m = strstr(errline, "): ");
        pw(w, 0, "Lease:\tFailed to get lease: %s\n", m ? m + 3 : errline);
    }
    json_t *conds = json_object_get(status, "conditions");
    if (json_array_size(conds)) {
        pw(w, 0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n");
        pw(w, 1, "----\t------\t-----------------\t------------------\t------\t-------\n");
        json_array_foreach(conds, i, x) {
            rfc1123z(json_str(x, "lastHeartbeatTime"), t, sizeof(t));
            rfc1123z(json_str(x, "lastTransitionTime"), t2, sizeof(t2));
            pw(w, 1, "%s \t%s \t%s \t%s \t%s \t%s\n", str_or(x, "type", ""),
               str_or(x, "status", ""), t, t2, str_or(x, "reason", ""), str_or(x, "message", ""));
        }
    }
    pw(w, 0, "Addresses:\n");
    json_array_foreach(json_object_get(status, "addresses"), i, x)
        pw(w, 1, "%s:\t%s\n", str_or(x, "type", ""), str_or(x, "address", ""));
    static const char *const lists[] = { "capacity", "allocatable" };
    static const char *const titles[] = { "Capacity", "Allocatable" };
    for (int k = 0; k < 2; k++)
        describe_resource_list(w, 0, titles[k], json_object_get(status, lists[k]));
    json_t *ni = json_object_get(status, "nodeInfo");
    pw(w, 0, "System Info:\n");
    pw(w, 0, "  Machine ID:\t%s\n", str_or(ni, "machineID", ""));
    pw(w, 0, "  System UUID:\t%s\n", str_or(ni, "systemUUID", ""));
    pw(w, 0, "  Boot ID:\t%s\n", str_or(ni, "bootID", ""));
    pw(w, 0, "  Kernel Version:\t%s\n", str_or(ni, "kernelVersion", ""));
    pw(w, 0, "  OS Image:\t%s\n", str_or(ni, "osImage", ""));
    pw(w, 0, "  Operating System:\t%s\n", str_or(ni, "operatingSystem", ""));
    pw(w, 0, "  Architecture:\t%s\n", str_or(ni, "architecture", ""));
    pw(w, 0, "  Container Runtime Version:\t%s\n", str_or(ni, "containerRuntimeVersion", ""));
    pw(w, 0, "  Kubelet Version:\t%s\n", str_or(ni, "kubeletVersion", ""));
    pw(w, 0, "  Kube-Proxy Version:\t%s\n", str_or(ni, "kubeProxyVersion", ""));
    if (*str_or(spec, "podCIDR", ""))
        pw(w, 0, "PodCIDR:\t%s\n", json_str(spec, "podCIDR"));
    pw_strings(w, "PodCIDRs", json_object_get(spec, "podCIDRs"), NULL);
    if (*str_or(spec, "providerID", ""))
        pw(w, 0, "ProviderID:\t%s\n", json_str(spec, "providerID"));

    /* describeNodeResource */
    snprintf(fs, sizeof(fs), "spec.nodeName=%s,status.phase!=Failed,status.phase!=Succeeded", name);
    json_t *npods = list_all(d, &pods, NULL, NULL, fs, errline, sizeof(errline));
    if (!npods)
        pw(w, 0, "Pods:\tnot authorized\n");
    else {
        json_t *alloc = json_object_get(status, "allocatable");
        if (!json_object_size(alloc))
            alloc = json_object_get(status, "capacity");
        qty_t acpu = { 0, 0 }, amem = { 0, 0 }, aeph = { 0, 0 };
        qty_parse(json_str(alloc, "cpu"), &acpu);
        qty_parse(json_str(alloc, "memory"), &amem);
        qty_parse(json_str(alloc, "ephemeral-storage"), &aeph);
        pw(w, 0, "Non-terminated Pods:\t(%zu in total)\n", json_array_size(npods));
        pw(w, 1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n");
        pw(w, 1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n");
        json_t *tot = json_object();   /* "requests/<res>" -> [milli, fmt] */
        json_array_foreach(npods, i, x) {
            qty_t cr = pod_resource(x, "requests", "cpu"), cl = pod_resource(x, "limits", "cpu");
            qty_t mr = pod_resource(x, "requests", "memory"), ml = pod_resource(x, "limits", "memory");
            char s1[64], s2[64], s3[64], s4[64], age[32];
            qty_string(&cr, s1, sizeof(s1));
            qty_string(&cl, s2, sizeof(s2));
            qty_string(&mr, s3, sizeof(s3));
            qty_string(&ml, s4, sizeof(s4));
            since(meta_str(x, "creationTimestamp"), age, sizeof(age));
            pw(w, 1, "%s\t%s\t\t%s (%lld%%)\t%s (%lld%%)\t%s (%lld%%)\t%s (%lld%%)\t%s\n",
               meta_str(x, "namespace"), meta_str(x, "name"), s1, percent(cr.milli, acpu.milli),
               s2, percent(cl.milli, acpu.milli), s3, percent(mr.milli, amem.milli), s4,
               percent(ml.milli, amem.milli), age);
            /* totals per resource name, first format wins (Quantity.Add keeps it) */
            static const char *const parts[] = { "requests", "limits" };
            for (int k = 0; k < 2; k++) {
                json_t *names = json_object(), *c;
                size_t j;
                const char *rn;
                json_t *dummy;
                json_array_foreach(json_path(x, "spec.containers"), j, c)
                    json_object_foreach(json_object_get(json_object_get(c, "resources"), parts[k]), rn, dummy)
                        json_object_set_new(names, rn, json_true());
                json_array_foreach(json_path(x, "spec.initContainers"), j, c)
                    json_object_foreach(json_object_get(json_object_get(c, "resources"), parts[k]), rn, dummy)
                        json_object_set_new(names, rn, json_true());
                json_object_foreach(names, rn, dummy) {
                    qty_t q = pod_resource(x, parts[k], rn);
                    char tk[300];
                    snprintf(tk, sizeof(tk), "%s/%s", parts[k], rn);
                    json_t *cur = json_object_get(tot, tk);
                    if (!cur)
                        json_object_set_new(tot, tk, json_pack("[I,i]", (json_int_t)q.milli, (int)q.fmt));
                    else
                        json_array_set_new(cur, 0, json_integer(json_integer_value(json_array_get(cur, 0)) + q.milli));
                }
                json_decref(names);
            }
        }
        pw(w, 0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
        pw(w, 1, "Resource\tRequests\tLimits\n");
        pw(w, 1, "--------\t--------\t------\n");
#define TOTAL(part, res, out)                                                                    \
    do {                                                                                         \
        char tk_[300];                                                                           \
        snprintf(tk_, sizeof(tk_), "%s/%s", part, res);                                          \
        json_t *c_ = json_object_get(tot, tk_);                                                  \
        (out).milli = c_ ? (long long)json_integer_value(json_array_get(c_, 0)) : 0;             \
        (out).fmt = c_ ? (qfmt_t)json_integer_value(json_array_get(c_, 1)) : Q_DECIMAL_SI;       \
    } while (0)
        static const char *const std[] = { "cpu", "memory", "ephemeral-storage" };
        const qty_t *allocs[] = { &acpu, &amem, &aeph };
        for (int k = 0; k < 3; k++) {
            qty_t rq, lq;
            char s1[64], s2[64];
            TOTAL("requests", std[k], rq);
            TOTAL("limits", std[k], lq);
            qty_string(&rq, s1, sizeof(s1));
            qty_string(&lq, s2, sizeof(s2));
            pw(w, 1, "%s\t%s (%lld%%)\t%s (%lld%%)\n", std[k], s1, percent(rq.milli, allocs[k]->milli),
               s2, percent(lq.milli, allocs[k]->milli));
        }
        const char **ak = sorted_keys(alloc, &n);
        static const char *const standard[] = { "cpu", "memory", "ephemeral-storage", "storage",
                                                "pods", NULL };
        for (int pass = 0; pass < 2; pass++)
            for (i = 0; i < n; i++) {
                int huge = !strncmp(ak[i], "hugepages-", 10);
                if ((pass == 0) != huge || (!huge && str_in_list(ak[i], standard)))
                    continue;
                qty_t rq, lq, aq = { 0, 0 };
                char s1[64], s2[64];
                TOTAL("requests", ak[i], rq);
                TOTAL("limits", ak[i], lq);
                qty_string(&rq, s1, sizeof(s1));
                qty_string(&lq, s2, sizeof(s2));
                if (huge) {
                    qty_parse(str_or(alloc, ak[i], "0"), &aq);
                    pw(w, 1, "%s\t%s (%lld%%)\t%s (%lld%%)\n", ak[i], s1, percent(rq.milli, aq.milli),
                       s2, percent(lq.milli, aq.milli));
                } else
                    pw(w, 1, "%s\t%s\t%s\n", ak[i], s1, s2);
            }
#undef TOTAL
        free(ak);
        json_decref(tot);
        json_decref(npods);
    }
    if (d->show_events) {
        /* controllers use the node's uid, the kubelet its name */
        json_t *events = json_array();
        search_events(d, node, "Node", NULL, events);
        search_events(d, node, "Node", name, events);
        describe_events(w, events);
        json_decref(events);
    }
}

static void describe_namespace(describe_t *d, pw_t *w, const json_t *ns)
{
    static const kube_resource_t quotas = { .version = "v1", .resource = "resourcequotas",
                                            .kind = "ResourceQuota", .namespaced = 1 };
    static const kube_resource_t limits = { .version = "v1", .resource = "limitranges",
                                            .kind = "LimitRange", .namespaced = 1 };
    const json_t *meta = json_object_get(ns, "metadata");
    json_t *conds = json_path(ns, "status.conditions"), *x;
    size_t i;
    char errline[1200], t[64];
    pw(w, 0, "Name:\t%s\n", meta_str(ns, "name"));
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "Status:\t%s\n", str_or(json_object_get(ns, "status"), "phase", ""));
    if (json_array_size(conds)) {
        pw(w, 0, "Conditions:\n");
        pw(w, 1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n");
        pw(w, 1, "----\t------\t------------------\t------\t-------\n");
        json_array_foreach(conds, i, x) {
            rfc1123z(json_str(x, "lastTransitionTime"), t, sizeof(t));
            pw(w, 1, "%s\t%s\t%s\t%s\t%s\n", str_or(x, "type", ""), str_or(x, "status", ""), t,
               str_or(x, "reason", ""), str_or(x, "message", ""));
        }
    }
    /* quotas and limit ranges: only their absence is described; a server without them
     * (404, as berth today) gets neither line, as kubectl does */
    json_t *q = list_all(d, &quotas, meta_str(ns, "name"), NULL, NULL, errline, sizeof(errline));
    if (q && !json_array_size(q))
        pw(w, 0, "\nNo resource quota.\n");
    json_decref(q);
    json_t *l = list_all(d, &limits, meta_str(ns, "name"), NULL, NULL, errline, sizeof(errline));
    if (l && !json_array_size(l))
        pw(w, 0, "\nNo LimitRange resource.\n");
    json_decref(l);
}

static void describe_configmap(describe_t *d, pw_t *w, const json_t *cm)
{
    const json_t *meta = json_object_get(cm, "metadata");
    size_t n;
    pw(w, 0, "Name:\t%s\n", meta_str(cm, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(cm, "namespace"));
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "\nData\n====\n");
    const char **keys = sorted_keys(json_object_get(cm, "data"), &n);
    for (size_t i = 0; i < n; i++) {
        pw(w, 0, "%s:\n----\n", keys[i]);
        pw(w, 0, "%s\n", str_or(json_object_get(cm, "data"), keys[i], ""));
        pw(w, 0, "\n");
    }
    free(keys);
    pw(w, 0, "\nBinaryData\n====\n");
    keys = sorted_keys(json_object_get(cm, "binaryData"), &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        unsigned char *bytes = util_base64_decode(str_or(json_object_get(cm, "binaryData"), keys[i], ""), &len);
        pw(w, 0, "%s: %zu bytes\n", keys[i], len);
        free(bytes);
    }
    free(keys);
    pw(w, 0, "\n");
    events_section(d, w, cm, "ConfigMap");
}

static void describe_secret(pw_t *w, const json_t *sec)
{
    const json_t *meta = json_object_get(sec, "metadata"), *data = json_object_get(sec, "data");
    const char *type = str_or(sec, "type", "");
    size_t n;
    pw(w, 0, "Name:\t%s\n", meta_str(sec, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(sec, "namespace"));
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "\nType:\t%s\n", type);
    pw(w, 0, "\nData\n====\n");
    const char **keys = sorted_keys(data, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        unsigned char *bytes = util_base64_decode(str_or(data, keys[i], ""), &len);
        if (!strcmp(keys[i], "token") && !strcmp(type, "kubernetes.io/service-account-token"))
            pw(w, 0, "%s:\t%.*s\n", keys[i], (int)len, bytes ? (const char *)bytes : "");
        else
            pw(w, 0, "%s:\t%zu bytes\n", keys[i], len);
        free(bytes);
    }
    free(keys);
}

static void describe_rc(describe_t *d, pw_t *w, const json_t *rc)
{
    const json_t *spec = json_object_get(rc, "spec"), *meta = json_object_get(rc, "metadata");
    char *sel = format_labels(json_object_get(spec, "selector"));
    char *qsel = json_object_size(json_object_get(spec, "selector")) ? strdup(sel) : strdup("");
    char errline[1200];
    int counts[4], failed;
    pod_status_for_controller(d, rc, qsel, counts, errline, sizeof(errline), &failed);
    pw(w, 0, "Name:\t%s\n", meta_str(rc, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(rc, "namespace"));
    pw(w, 0, "Selector:\t%s\n", sel);
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "Replicas:\t%lld current / %lld desired\n",
       int_of(json_path(rc, "status.replicas")), int_of(json_object_get(spec, "replicas")));
    pw(w, 0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed\n", counts[0],
       counts[1], counts[2], counts[3]);
    describe_pod_template(w, json_object_get(spec, "template"));
    describe_rs_conditions(w, json_path(rc, "status.conditions"));
    free(sel);
    free(qsel);
    events_section(d, w, rc, "ReplicationController");
}

static void describe_endpoints(describe_t *d, pw_t *w, const json_t *ep)
{
    const json_t *meta = json_object_get(ep, "metadata");
    size_t i, j;
    json_t *ss, *x;
    pw(w, 0, "Name:\t%s\n", meta_str(ep, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(ep, "namespace"));
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    pw(w, 0, "Subsets:\n");
    json_array_foreach(json_object_get(ep, "subsets"), i, ss) {
        static const char *const lists[] = { "addresses", "notReadyAddresses" };
        static const char *const labels[] = { "Addresses", "NotReadyAddresses" };
        for (int k = 0; k < 2; k++) {
            json_t *addrs = json_object_get(ss, lists[k]);
            pw(w, 1, "%s:\t", labels[k]);
            if (!json_array_size(addrs))
                pw(w, 0, "<none>");
            json_array_foreach(addrs, j, x)
                pw(w, 0, "%s%s", j ? "," : "", str_or(x, "ip", ""));
            pw(w, 0, "\n");
        }
        json_t *ports = json_object_get(ss, "ports");
        if (json_array_size(ports)) {
            pw(w, 1, "Ports:\n");
            pw(w, 2, "Name\tPort\tProtocol\n");
            pw(w, 2, "----\t----\t--------\n");
            json_array_foreach(ports, j, x)
                pw(w, 2, "%s\t%lld\t%s\n", *str_or(x, "name", "") ? json_str(x, "name") : "<unset>",
                   int_of(json_object_get(x, "port")), str_or(x, "protocol", ""));
        }
        pw(w, 0, "\n");
    }
    events_section(d, w, ep, "Endpoints");
}

/* ------------------------------------------------------------------ the generic describer */

/* fatih/camelcase.Split + kubectl's smartLabelFor (1.31). */
static void smart_label(const char *field, char *out, size_t outlen)
{
    static const char *const acronyms[] = { "API", "URL", "UID", "OSB", "GUID", NULL };
    size_t fl = strlen(field);
    for (size_t i = 0; i < fl; i++)
        if (!isalpha((unsigned char)field[i]) && field[i] != '-' && !((unsigned char)field[i] & 0x80)) {
            snprintf(out, outlen, "%s", field);
            return;
        }
    /* split into runs of lower, upper, digit, other */
    char parts[64][128];
    int np = 0, last = 0;
    for (size_t i = 0; i < fl && np < 64; i++) {
        unsigned char c = (unsigned char)field[i];
        int cls = islower(c) ? 1 : isupper(c) ? 2 : isdigit(c) ? 3 : 4;
        if (cls == last && np) {
            size_t l = strlen(parts[np - 1]);
            if (l + 1 < sizeof(parts[0])) {
                parts[np - 1][l] = (char)c;
                parts[np - 1][l + 1] = '\0';
            }
        } else {
            parts[np][0] = (char)c;
            parts[np][1] = '\0';
            np++;
        }
        last = cls;
    }
    /* "PDFL" "oader" -> "PDF" "Loader" */
    for (int i = 0; i + 1 < np; i++) {
        size_t l = strlen(parts[i]);
        if (isupper((unsigned char)parts[i][0]) && islower((unsigned char)parts[i + 1][0]) && l) {
            char moved = parts[i][l - 1];
            parts[i][l - 1] = '\0';
            size_t l2 = strlen(parts[i + 1]);
            if (l2 + 1 < sizeof(parts[0])) {
                memmove(parts[i + 1] + 1, parts[i + 1], l2 + 1);
                parts[i + 1][0] = moved;
            }
        }
    }
    size_t o = 0;
    int words = 0;
    out[0] = '\0';
    for (int i = 0; i < np; i++) {
        char word[128], up[128];
        if (!parts[i][0] || !strcmp(parts[i], "_"))
            continue;
        snprintf(word, sizeof(word), "%.127s", parts[i]);
        for (size_t k = 0; k <= strlen(word); k++)
            up[k] = (char)toupper((unsigned char)word[k]);
        if (str_in_list(up, acronyms))
            snprintf(word, sizeof(word), "%s", up);
        else
            word[0] = (char)toupper((unsigned char)word[0]);
        o += (size_t)snprintf(out + o, outlen > o ? outlen - o : 0, "%s%s", words++ ? " " : "", word);
    }
}

/* Go's %v of a value from an unstructured object. */
static void go_v(FILE *f, const json_t *v)
{
    char num[64];
    size_t i, n;
    json_t *x;
    switch (json_typeof(v)) {
    case JSON_STRING:
        fputs(json_string_value(v), f);
        return;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    case JSON_REAL:
        json_yaml_go_float(json_real_value(v), 'v', num, sizeof(num));
        fputs(num, f);
        return;
    case JSON_TRUE:
        fputs("true", f);
        return;
    case JSON_FALSE:
        fputs("false", f);
        return;
    case JSON_NULL:
        fputs("<nil>", f);
        return;
    case JSON_ARRAY:
        fputc('[', f);
        json_array_foreach(v, i, x) {
            if (i)
                fputc(' ', f);
            go_v(f, x);
        }
        fputc(']', f);
        return;
    case JSON_OBJECT: {
        const char **keys = sorted_keys(v, &n);
        fputs("map[", f);
        for (i = 0; i < n; i++) {
            fprintf(f, "%s%s:", i ? " " : "", keys[i]);
            go_v(f, json_object_get(v, keys[i]));
        }
        fputc(']', f);
        free(keys);
        return;
    }
    }
}

static int skipped(const char *expr)
{
    static const char *const skip[] = { ".metadata.managedFields", ".metadata.name",
                                        ".metadata.namespace", ".metadata.labels",
                                        ".metadata.annotations", NULL };
    return str_in_list(expr, skip);
}

/* printUnstructuredContent: fields sorted, maps and lists under a label, values after a tab. */
static void print_unstructured(pw_t *w, int level, const json_t *content, const char *prefix)
{
    size_t n, i, j;
    const char **keys = sorted_keys(content, &n);
    for (i = 0; i < n; i++) {
        json_t *v = json_object_get(content, keys[i]), *child;
        char label[512], *expr = NULL;
        if (asprintf(&expr, "%s.%s", prefix, keys[i]) < 0)
            continue;
        if (skipped(expr)) {
            free(expr);
            continue;
        }
        smart_label(keys[i], label, sizeof(label));
        if (json_is_object(v)) {
            pw(w, level, "%s:\n", label);
            print_unstructured(w, level + 1, v, expr);
        } else if (json_is_array(v)) {
            pw(w, level, "%s:\n", label);
            json_array_foreach(v, j, child) {
                if (json_is_object(child))
                    print_unstructured(w, level + 1, child, expr);
                else {
                    char *s = NULL;
                    size_t sl = 0;
                    FILE *f = open_memstream(&s, &sl);
                    if (f) {
                        go_v(f, child);
                        fclose(f);
                        pw(w, level + 1, "%s\n", s);
                    }
                    free(s);
                }
            }
        } else {
            char *s = NULL;
            size_t sl = 0;
            FILE *f = open_memstream(&s, &sl);
            if (f) {
                go_v(f, v);
                fclose(f);
                pw(w, level, "%s:\t%s\n", label, s);
            }
            free(s);
        }
        free(expr);
    }
    free(keys);
}

static void describe_generic(describe_t *d, pw_t *w, const json_t *obj, const kube_resource_t *r)
{
    const json_t *meta = json_object_get(obj, "metadata");
    pw(w, 0, "Name:\t%s\n", meta_str(obj, "name"));
    pw(w, 0, "Namespace:\t%s\n", meta_str(obj, "namespace"));
    print_labels(w, "", "Labels", json_object_get(meta, "labels"));
    print_annotations(w, "Annotations", json_object_get(meta, "annotations"));
    print_unstructured(w, 0, obj, "");
    events_section(d, w, obj, str_or(obj, "kind", r->kind));
}

/* ------------------------------------------------------------------ the verb */

static void describe_one(describe_t *d, const kube_resource_t *r, const json_t *obj, int *first)
{
    json_t *o = cli_typed_copy(obj, r);
    if (!o)
        return;
    if (!*first)
        fputs("\n\n", stdout);
    *first = 0;
    pw_t w = { tabwriter_create(stdout, 0, 2, 0) };
    if (!w.tw) {
        json_decref(o);
        return;
    }
    if (!*r->group && !strcmp(r->kind, "Pod"))
        describe_pod(d, &w, o);
    else if (!*r->group && !strcmp(r->kind, "Node"))
        describe_node(d, &w, o);
    else if (!*r->group && !strcmp(r->kind, "Service"))
        describe_service(d, &w, o);
    else if (!strcmp(r->group, "apps") && !strcmp(r->kind, "Deployment"))
        describe_deployment(d, &w, o);
    else if (!strcmp(r->group, "apps") && !strcmp(r->kind, "ReplicaSet"))
        describe_replicaset(d, &w, o);
    else if (!strcmp(r->group, "apps") && !strcmp(r->kind, "DaemonSet"))
        describe_daemonset(d, &w, o);
    else if (!strcmp(r->group, "apps") && !strcmp(r->kind, "StatefulSet"))
        describe_statefulset(d, &w, o);
    else if (!*r->group && !strcmp(r->kind, "Namespace"))
        describe_namespace(d, &w, o);
    else if (!*r->group && !strcmp(r->kind, "ConfigMap"))
        describe_configmap(d, &w, o);
    else if (!*r->group && !strcmp(r->kind, "Secret"))
        describe_secret(&w, o);
    else if (!*r->group && !strcmp(r->kind, "ReplicationController"))
        describe_rc(d, &w, o);
    else if (!*r->group && !strcmp(r->kind, "Endpoints"))
        describe_endpoints(d, &w, o);
    else
        describe_generic(d, &w, o, r);
    tabwriter_free(w.tw);
    fflush(stdout);
    json_decref(o);
}

int cli_describe_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    describe_t d = { 0 };
    const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    int rc = 0, first = 1;
    char err[1024], line[1200];
    json_t *errors = json_array();
    d.show_events = 1;
    if (!pos || !errors) {
        free(pos);
        json_decref(errors);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int used = cli_conn_flag(&conn, argc, argv, &i), m;
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("Usage: berth describe TYPE [NAME...] | TYPE/NAME... [-l SELECTOR] [-A]\n"
                 "  -n, --namespace NS     -A, --all-namespaces     -l, --selector SEL\n"
                 "      --show-events=false   leave the Events table out\n"
                 "  -s, --server URL  --kubeconfig PATH  --context NAME");
            free(pos);
            json_decref(errors);
            return 0;
        }
        if (cli_flag_bool(a, "--all-namespaces", "-A", &d.all_ns) ||
            cli_flag_bool(a, "--show-events", NULL, &d.show_events))
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--selector", "-l", &m)) || m) {
            if (m < 0)
                goto usage_error;
            d.selector = v;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--chunk-size", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown flag: %s\nSee 'berth describe --help' for usage.\n", a);
            goto usage_error;
        }
        pos[npos++] = a;
    }
    if (!npos) {
        fprintf(stderr, "You must specify the type of resource to describe. Use \"berth get all\" "
                        "to list the common ones.\n\nerror: Required resource not specified.\n"
                        "See 'berth describe --help' for usage.\n");
        free(pos);
        json_decref(errors);
        return 1;
    }
    d.kc = cli_connect(&conn);
    if (!d.kc) {
        free(pos);
        json_decref(errors);
        return 1;
    }
    d.ns = kubeclient_namespace(d.kc);

    size_t slashes = 0;
    for (size_t i = 0; i < npos; i++)
        slashes += strchr(pos[i], '/') != NULL;
    if (slashes && slashes != npos) {
        fprintf(stderr, "error: there is no need to specify a resource type as a separate argument "
                        "when passing arguments in resource/name form (e.g. 'berth describe "
                        "resource/<resource_name>' instead of 'berth describe resource "
                        "resource/<resource_name>'\n");
        rc = 1;
        goto out;
    }
    if ((slashes || npos > 1) && d.selector) {
        fprintf(stderr, "error: name cannot be provided when a selector is specified\n");
        rc = 1;
        goto out;
    }
    size_t nobjs = 0;
    for (size_t i = 0; i < (slashes ? npos : 1); i++) {
        char type[256];
        const char *slash = slashes ? strchr(pos[i], '/') : NULL;
        snprintf(type, sizeof(type), "%.*s", slash ? (int)(slash - pos[i]) : (int)strlen(pos[i]),
                 pos[i]);
        kube_resource_t r;
        if (kubeclient_resolve(d.kc, type, &r, err, sizeof(err)) < 0) {
            cli_print_resolve_error(d.kc, err);
            rc = 1;
            goto out;
        }
        const char *ns = d.all_ns ? NULL : d.ns;
        if (slash || npos > 1) {
            for (size_t j = slash ? 0 : 1; j < (slash ? 1 : npos); j++) {
                const char *name = slash ? slash + 1 : pos[j];
                char *path = kubeclient_path(&r, d.ns, name, NULL);
                long status;
                json_t *obj = path ? get_json(&d, path, &status, line, sizeof(line), NULL) : NULL;
                free(path);
                if (obj) {
                    describe_one(&d, &r, obj, &first);
                    nobjs++;
                    json_decref(obj);
                    continue;
                }
                if (status == 404 && npos == 2 && !slash) {
                    /* DescribeMatchingResources: names that start with what was typed */
                    char l2[1200];
                    json_t *items = list_all(&d, &r, d.ns, NULL, NULL, l2, sizeof(l2)), *it;
                    size_t k;
                    int found = 0;
                    json_array_foreach(items, k, it) {
                        int alone = 1;   /* kubectl prints "%s\n" for each, no separator */
                        if (strncmp(meta_str(it, "name"), name, strlen(name)))
                            continue;
                        describe_one(&d, &r, it, &alone);
                        fputs("\n", stdout);
                        found = 1;
                        nobjs++;
                    }
                    json_decref(items);
                    if (found)
                        continue;
                }
                json_array_append_new(errors, json_string(line));
            }
        } else {
            json_t *items = list_all(&d, &r, ns, d.selector, NULL, line, sizeof(line)), *it;
            size_t k;
            if (!items) {
                json_array_append_new(errors, json_string(line));
                continue;
            }
            json_array_foreach(items, k, it) {
                describe_one(&d, &r, it, &first);
                nobjs++;
            }
            json_decref(items);
        }
    }
    if (!nobjs && !json_array_size(errors)) {
        if (d.all_ns)
            fprintf(stderr, "No resources found\n");
        else
            fprintf(stderr, "No resources found in %s namespace.\n", d.ns);
    }
    fflush(stdout);
    {
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
            fprintf(stderr, "%s\n", json_string_value(e));
    }
    rc = json_array_size(errors) ? 1 : 0;
out:
    kubeclient_free(d.kc);
    free(pos);
    json_decref(errors);
    return rc;
usage_error:
    free(pos);
    json_decref(errors);
    return 2;
}
