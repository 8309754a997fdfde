/* table.c: meta.k8s.io/v1 Table rendering (kubectl get with Accept: ...;as=Table).
 *
 * A column spec is a JSON array (see table.h). Each column either names a built-in cell
 * function ("pod.status") or picks a value with a small JSONPath subset, as CRD
 * additionalPrinterColumns do. The built-in functions reproduce the cell text of
 * k8s.io/kubernetes/pkg/printers/internalversion/printers.go as the apiserver produces it
 * (it always renders the wide columns; kubectl hides priority > 0 unless -o wide), so
 * kubectl prints the same columns and text as against a real cluster.
 *
 * Built-in specs live in engine/tables.json, compiled in as embed_tables_json and parsed
 * once on first use. Ages follow apimachinery's duration.HumanDuration.
 *
 * Depends on jansson and pthread (one-time parse). Called by the API for list, get and
 * watch with as=Table, and by kinds.c for plugin specs (table_spec_check). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* asprintf, vasprintf, strndup, even when built outside the Makefile */
#endif
#include "table.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char embed_tables_json[];

/* Bounds, so no object can make a cell or a path walk unbounded. */
#define TABLE_CELL_MAX      (256 * 1024)  /* longest cell text we build */
#define TABLE_COLUMNS_MAX   64
#define TABLE_JP_LEN_MAX    512
#define TABLE_JP_SEGS_MAX   32
#define TABLE_JP_RESULTS    1000

#define NS_PER_SEC  INT64_C(1000000000)

/* ---------------------------------------------------------------------------------------
 * Small string builder. Grows on the heap up to TABLE_CELL_MAX and silently stops there:
 * a truncated cell is better than a failed table.
 * ------------------------------------------------------------------------------------- */

typedef struct sbuf_s {
    char  *p;
    size_t len, cap;
} sbuf_t;

static void sb_addn(sbuf_t *sb, const char *s, size_t n)
{
    if (sb->len + n > TABLE_CELL_MAX)
        n = TABLE_CELL_MAX - sb->len;
    if (n == 0)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < sb->len + n + 1)
            cap *= 2;
        char *p = realloc(sb->p, cap);
        if (!p)
            return;
        sb->p = p;
        sb->cap = cap;
    }
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
}

static void sb_add(sbuf_t *sb, const char *s)
{
    sb_addn(sb, s, strlen(s));
}

static void sb_addf(sbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(sbuf_t *sb, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_addn(sb, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static const char *sb_str(const sbuf_t *sb)
{
    return sb->p ? sb->p : "";
}

/* A JSON string cell from the builder; frees the builder. New reference. */
static json_t *sb_to_json(sbuf_t *sb)
{
    json_t *j = json_stringn(sb_str(sb), sb->len);
    free(sb->p);
    sb->p = NULL;
    sb->len = sb->cap = 0;
    return j ? j : json_string("");
}

/* ---------------------------------------------------------------------------------------
 * JSON access helpers. All return borrowed values or defaults; a wrong type reads as absent.
 * ------------------------------------------------------------------------------------- */

/* obj.k1.k2... (NULL-terminated key list). */
static const json_t *jget(const json_t *obj, ...)
{
    va_list ap;
    const char *k;
    va_start(ap, obj);
    while (obj && (k = va_arg(ap, const char *)) != NULL)
        obj = json_is_object(obj) ? json_object_get(obj, k) : NULL;
    va_end(ap);
    return obj;
}

static const char *jstr(const json_t *v, const char *dflt)
{
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* Integer fields of the API are int32; reals are truncated as a Go decoder would refuse
 * them anyway. Clamped so sums cannot overflow. */
static long long jint(const json_t *v, long long dflt)
{
    long long x;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d == d))
            return dflt;
        x = d > (double)INT32_MAX ? INT32_MAX : d < (double)INT32_MIN ? INT32_MIN : (long long)d;
    } else
        return dflt;
    if (x > INT32_MAX) x = INT32_MAX;
    if (x < INT32_MIN) x = INT32_MIN;
    return x;
}

static int jtrue(const json_t *v)
{
    return json_is_true(v);
}

static int nonempty(const char *s)
{
    return s && *s;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort and drop duplicates (Go's sets.String List()). Returns the new count. */
static size_t sort_unique(const char **v, size_t n)
{
    if (n < 2)
        return n;
    qsort(v, n, sizeof *v, str_cmp);
    size_t o = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i], v[o - 1]) != 0)
            v[o++] = v[i];
    return o;
}

/* ---------------------------------------------------------------------------------------
 * Time: RFC 3339 parsing and apimachinery's duration.HumanDuration.
 * ------------------------------------------------------------------------------------- */

typedef struct ttime_s {
    int64_t sec;   /* seconds since the Unix epoch, UTC */
    int32_t nsec;
    int     set;   /* 0: absent (Go's zero time) */
} ttime_t;

#define GO_ZERO_TIME_SEC INT64_C(-62135596800)   /* 0001-01-01T00:00:00Z */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "2006-01-02T15:04:05[.999999999](Z|+07:00)". 0 on success. */
static int ttime_parse(const char *s, ttime_t *t)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    int32_t ns = 0;
    memset(t, 0, sizeof *t);
    if (!s || strlen(s) < 20)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n < 9) {
                ns = ns * 10 + (*p - '0');
                n++;
            }
            p++;
        }
        if (n == 0)
            return -1;
        while (n++ < 9)
            ns *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return -1;
        p += 6;
    } else
        return -1;
    if (*p)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 59 || oh > 23 || om > 59)
        return -1;
    t->sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
             sign * (oh * 3600 + om * 60);
    t->nsec = ns;
    t->set = !(t->sec == GO_ZERO_TIME_SEC && ns == 0);
    return 0;
}

/* A timestamp field: absent, null, unparsable or the zero time all read as unset, which
 * is what the Go types hold for them. */
static ttime_t ttime_of(const json_t *v)
{
    ttime_t t;
    if (ttime_parse(jstr(v, NULL), &t) != 0)
        memset(&t, 0, sizeof t);
    return t;
}

static int ttime_before(const ttime_t *a, const ttime_t *b)
{
    int64_t as = a->set ? a->sec : GO_ZERO_TIME_SEC, bs = b->set ? b->sec : GO_ZERO_TIME_SEC;
    return as < bs || (as == bs && a->nsec < b->nsec);
}

/* now - t in nanoseconds, saturating like Go's time.Sub. */
static int64_t ttime_since(const ttime_t *t, time_t now)
{
    __int128 d = ((__int128)now - t->sec) * NS_PER_SEC - t->nsec;
    if (d > INT64_MAX) return INT64_MAX;
    if (d < INT64_MIN) return INT64_MIN;
    return (int64_t)d;
}

/* duration.HumanDuration: "0s".."119s", "2m5s".."9m59s", "10m".."179m", "3h".."7h59m",
 * "8h".."47h", "2d".."7d23h", "8d".."729d", "2y".."7y364d", "8y"... */
static void human_duration(int64_t d, char *out, size_t n)
{
    int64_t seconds = d / NS_PER_SEC;
    if (seconds < -1) {
        snprintf(out, n, "<invalid>");
        return;
    }
    if (seconds < 0) {
        snprintf(out, n, "0s");
        return;
    }
    if (seconds < 60 * 2) {
        snprintf(out, n, "%" PRId64 "s", seconds);
        return;
    }
    int64_t minutes = d / (60 * NS_PER_SEC);
    if (minutes < 10) {
        int64_t s = seconds % 60;
        if (s == 0)
            snprintf(out, n, "%" PRId64 "m", minutes);
        else
            snprintf(out, n, "%" PRId64 "m%" PRId64 "s", minutes, s);
        return;
    }
    if (minutes < 60 * 3) {
        snprintf(out, n, "%" PRId64 "m", minutes);
        return;
    }
    int64_t hours = d / (3600 * NS_PER_SEC);
    if (hours < 8) {
        int64_t m = minutes % 60;
        if (m == 0)
            snprintf(out, n, "%" PRId64 "h", hours);
        else
            snprintf(out, n, "%" PRId64 "h%" PRId64 "m", hours, m);
    } else if (hours < 48) {
        snprintf(out, n, "%" PRId64 "h", hours);
    } else if (hours < 24 * 8) {
        int64_t h = hours % 24;
        if (h == 0)
            snprintf(out, n, "%" PRId64 "d", hours / 24);
        else
            snprintf(out, n, "%" PRId64 "d%" PRId64 "h", hours / 24, h);
    } else if (hours < 24 * 365 * 2) {
        snprintf(out, n, "%" PRId64 "d", hours / 24);
    } else if (hours < 24 * 365 * 8) {
        int64_t dy = (hours / 24) % 365;
        if (dy == 0)
            snprintf(out, n, "%" PRId64 "y", hours / 24 / 365);
        else
            snprintf(out, n, "%" PRId64 "y%" PRId64 "d", hours / 24 / 365, dy);
    } else {
        snprintf(out, n, "%" PRId64 "y", hours / 24 / 365);
    }
}

/* translateTimestampSince: "<unknown>" for the zero time. */
static void age_text(const ttime_t *t, time_t now, char *out, size_t n)
{
    if (!t->set) {
        snprintf(out, n, "<unknown>");
        return;
    }
    human_duration(ttime_since(t, now), out, n);
}

static json_t *age_cell(const json_t *ts, time_t now)
{
    char buf[32];
    ttime_t t = ttime_of(ts);
    age_text(&t, now, buf, sizeof buf);
    return json_string(buf);
}

/* ---------------------------------------------------------------------------------------
 * Label formatting: labels.Set.String() and metav1.LabelSelectorAsSelector().String().
 * ------------------------------------------------------------------------------------- */

/* labels.FormatLabels: "k=v" pairs sorted as strings, joined by ",", "<none>" if empty. */
static json_t *format_label_map(const json_t *map)
{
    size_t n = json_is_object(map) ? json_object_size(map) : 0;
    if (n == 0)
        return json_string("<none>");
    char **pairs = calloc(n, sizeof *pairs);
    size_t k = 0;
    const char *key;
    json_t *val;
    if (!pairs)
        return json_string("<none>");
    json_object_foreach((json_t *)map, key, val) {
        if (k < n && asprintf(&pairs[k], "%s=%s", key, jstr(val, "")) >= 0)
            k++;
    }
    qsort(pairs, k, sizeof *pairs, str_cmp);
    sbuf_t sb = {0};
    for (size_t i = 0; i < k; i++) {
        if (i)
            sb_add(&sb, ",");
        sb_add(&sb, pairs[i]);
        free(pairs[i]);
    }
    free(pairs);
    if (sb.len == 0)
        sb_add(&sb, "<none>");
    return sb_to_json(&sb);
}

static int is_name_part(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* validation.IsQualifiedName: [dns-subdomain "/"] name-part. */
static int is_qualified_name(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return is_name_part(s, strlen(s));
    size_t pn = (size_t)(slash - s);
    if (pn == 0 || pn > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[pn - 1]))
        return 0;
    for (size_t i = 0; i < pn; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.'))
            return 0;
    }
    return is_name_part(slash + 1, strlen(slash + 1));
}

static int is_label_value(const char *s)
{
    return *s == '\0' || is_name_part(s, strlen(s));
}

typedef struct lreq_s {
    const char *key;
    int         op;    /* 0 =, 1 in, 2 notin, 3 exists, 4 !exists */
    const char **vals;
    size_t      nvals;
    size_t      order; /* original position: ties keep input order */
} lreq_t;

static int lreq_cmp(const void *a, const void *b)
{
    const lreq_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

/* LabelSelectorAsSelector(sel).String() into sb. Returns 0, or -1 when the Go code errs
 * (bad operator, bad key or value, value count wrong for the operator). A nil selector and
 * an empty one both print as "". */
static int format_label_selector(const json_t *sel, sbuf_t *sb)
{
    const json_t *ml = json_object_get(sel, "matchLabels");
    const json_t *me = json_object_get(sel, "matchExpressions");
    size_t nml = json_is_object(ml) ? json_object_size(ml) : 0;
    size_t nme = json_is_array(me) ? json_array_size(me) : 0;
    if (!json_is_object(sel) || nml + nme == 0)
        return 0;
    lreq_t *r = calloc(nml + nme, sizeof *r);
    size_t n = 0;
    int rc = -1;
    if (!r)
        return -1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)ml, key, val) {
        const char *v = jstr(val, NULL);
        if (!v || !is_qualified_name(key) || !is_label_value(v))
            goto done;
        r[n].key = key;
        r[n].op = 0;
        r[n].vals = malloc(sizeof(char *));
        if (!r[n].vals)
            goto done;
        r[n].vals[0] = v;
        r[n].nvals = 1;
        r[n].order = n;
        n++;
    }
    for (size_t i = 0; i < nme; i++) {
        const json_t *e = json_array_get(me, i);
        const char *k = jstr(json_object_get(e, "key"), NULL);
        const char *op = jstr(json_object_get(e, "operator"), "");
        const json_t *vs = json_object_get(e, "values");
        size_t nv = json_is_array(vs) ? json_array_size(vs) : 0;
        int o;
        if (!k || !is_qualified_name(k))
            goto done;
        if (!strcmp(op, "In")) o = 1;
        else if (!strcmp(op, "NotIn")) o = 2;
        else if (!strcmp(op, "Exists")) o = 3;
        else if (!strcmp(op, "DoesNotExist")) o = 4;
        else goto done;
        if ((o <= 2 && nv == 0) || (o >= 3 && nv != 0))
            goto done;
        r[n].key = k;
        r[n].op = o;
        r[n].order = n;
        if (nv) {
            r[n].vals = calloc(nv, sizeof(char *));
            if (!r[n].vals)
                goto done;
            for (size_t j = 0; j < nv; j++) {
                const char *v = jstr(json_array_get(vs, j), NULL);
                if (!v || !is_label_value(v)) {
                    n++;
                    goto done;
                }
                r[n].vals[j] = v;
            }
            r[n].nvals = nv;
            qsort(r[n].vals, nv, sizeof(char *), str_cmp);
        }
        n++;
    }
    qsort(r, n, sizeof *r, lreq_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(sb, ",");
        if (r[i].op == 4)
            sb_add(sb, "!");
        sb_add(sb, r[i].key);
        if (r[i].op == 0) {
            sb_add(sb, "=");
            sb_add(sb, r[i].vals[0]);
        } else if (r[i].op == 1 || r[i].op == 2) {
            sb_add(sb, r[i].op == 1 ? " in (" : " notin (");
            for (size_t j = 0; j < r[i].nvals; j++) {
                if (j)
                    sb_add(sb, ",");
                sb_add(sb, r[i].vals[j]);
            }
            sb_add(sb, ")");
        }
    }
    rc = 0;
done:
    for (size_t i = 0; i < n; i++)
        free(r[i].vals);
    free(r);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Row context: the object being rendered and, for pods, the printPod summary computed
 * once for all the pod.* cells of the row.
 * ------------------------------------------------------------------------------------- */

typedef struct pod_sum_s {
    int       done;
    long long ready, total, restarts;
    ttime_t   last_restart;
    char     *reason;   /* owned */
} pod_sum_t;

typedef struct row_ctx_s {
    const json_t *obj;
    time_t        now;
    pod_sum_t     pod;
} row_ctx_t;

typedef json_t *(*cell_fn)(row_ctx_t *c);

static void set_reason(pod_sum_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(pod_sum_t *p, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s && strlen(s) > 1024)
        s[1024] = '\0';
    free(p->reason);
    p->reason = s;
}

static int has_condition(const json_t *conds, const char *type, const char *status)
{
    size_t i;
    json_t *c;
    if (!json_is_array(conds))
        return 0;
    json_array_foreach(conds, i, c) {
        if (!strcmp(jstr(json_object_get(c, "type"), ""), type))
            return !strcmp(jstr(json_object_get(c, "status"), ""), status);
    }
    return 0;
}

/* hasPodReadyCondition looks at every entry, not only the first of the type. */
static int any_condition(const json_t *conds, const char *type, const char *status)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        if (!strcmp(jstr(json_object_get(c, "type"), ""), type) &&
            !strcmp(jstr(json_object_get(c, "status"), ""), status))
            return 1;
    }
    return 0;
}

static int restartable_init(const json_t *init_containers, const char *name)
{
    size_t i;
    json_t *c;
    if (!name || !json_is_array(init_containers))
        return 0;
    /* The Go code builds a map by name, so a later duplicate wins. */
    int found = 0;
    json_array_foreach(init_containers, i, c) {
        if (!strcmp(jstr(json_object_get(c, "name"), ""), name))
            found = !strcmp(jstr(json_object_get(c, "restartPolicy"), ""), "Always");
    }
    return found;
}

static void note_last_termination(const json_t *st, ttime_t *last)
{
    const json_t *lt = jget(st, "lastState", "terminated", NULL);
    if (json_is_object(lt)) {
        ttime_t fin = ttime_of(json_object_get(lt, "finishedAt"));
        if (ttime_before(last, &fin))
            *last = fin;
    }
}

/* printPod's Ready / Status / Restarts logic, step for step. */
static void pod_summary(row_ctx_t *c)
{
    pod_sum_t *p = &c->pod;
    if (p->done)
        return;
    p->done = 1;
    const json_t *spec = json_object_get(c->obj, "spec");
    const json_t *status = json_object_get(c->obj, "status");
    const json_t *containers = json_object_get(spec, "containers");
    const json_t *inits = json_object_get(spec, "initContainers");
    const json_t *conds = json_object_get(status, "conditions");
    const json_t *ics = json_object_get(status, "initContainerStatuses");
    const json_t *cs = json_object_get(status, "containerStatuses");
    const char *phase = jstr(json_object_get(status, "phase"), "");
    const char *sreason = jstr(json_object_get(status, "reason"), "");
    size_t i, ninit = json_is_array(inits) ? json_array_size(inits) : 0;
    long long restarts = 0, rinit_restarts = 0;
    ttime_t last = {0}, last_rinit = {0};
    json_t *it;

    p->total = json_is_array(containers) ? (long long)json_array_size(containers) : 0;
    set_reason(p, "%s", *sreason ? sreason : phase);
    if (json_is_array(conds)) {
        json_array_foreach(conds, i, it) {
            if (!strcmp(jstr(json_object_get(it, "type"), ""), "PodScheduled") &&
                !strcmp(jstr(json_object_get(it, "reason"), ""), "SchedulingGated"))
                set_reason(p, "SchedulingGated");
        }
    }
    for (i = 0; i < ninit; i++)
        if (!strcmp(jstr(jget(json_array_get(inits, i), "restartPolicy", NULL), ""), "Always"))
            p->total++;

    int initializing = 0;
    if (json_is_array(ics)) {
        json_array_foreach(ics, i, it) {
            const char *name = jstr(json_object_get(it, "name"), NULL);
            int restartable = restartable_init(inits, name);
            long long rc = jint(json_object_get(it, "restartCount"), 0);
            const json_t *term = jget(it, "state", "terminated", NULL);
            const json_t *wait = jget(it, "state", "waiting", NULL);
            restarts += rc;
            note_last_termination(it, &last);
            if (restartable) {
                rinit_restarts += rc;
                note_last_termination(it, &last_rinit);
            }
            if (json_is_object(term) && jint(json_object_get(term, "exitCode"), 0) == 0)
                continue;
            if (restartable && jtrue(json_object_get(it, "started"))) {
                if (jtrue(json_object_get(it, "ready")))
                    p->ready++;
                continue;
            }
            if (json_is_object(term)) {
                const char *r = jstr(json_object_get(term, "reason"), "");
                long long sig = jint(json_object_get(term, "signal"), 0);
                if (*r)
                    set_reason(p, "Init:%s", r);
                else if (sig != 0)
                    set_reason(p, "Init:Signal:%lld", sig);
                else
                    set_reason(p, "Init:ExitCode:%lld", jint(json_object_get(term, "exitCode"), 0));
            } else if (json_is_object(wait) && nonempty(jstr(json_object_get(wait, "reason"), "")) &&
                       strcmp(jstr(json_object_get(wait, "reason"), ""), "PodInitializing") != 0) {
                set_reason(p, "Init:%s", jstr(json_object_get(wait, "reason"), ""));
            } else {
                set_reason(p, "Init:%zu/%zu", i, ninit);
            }
            initializing = 1;
            break;
        }
    }

    if (!initializing || has_condition(conds, "Initialized", "True")) {
        restarts = rinit_restarts;
        last = last_rinit;
        int has_running = 0;
        size_t n = json_is_array(cs) ? json_array_size(cs) : 0;
        for (size_t k = n; k-- > 0;) {
            const json_t *st = json_array_get(cs, k);
            const json_t *term = jget(st, "state", "terminated", NULL);
            const json_t *wait = jget(st, "state", "waiting", NULL);
            const json_t *run = jget(st, "state", "running", NULL);
            restarts += jint(json_object_get(st, "restartCount"), 0);
            note_last_termination(st, &last);
            if (json_is_object(wait) && nonempty(jstr(json_object_get(wait, "reason"), ""))) {
                set_reason(p, "%s", jstr(json_object_get(wait, "reason"), ""));
            } else if (json_is_object(term) && nonempty(jstr(json_object_get(term, "reason"), ""))) {
                set_reason(p, "%s", jstr(json_object_get(term, "reason"), ""));
            } else if (json_is_object(term)) {
                long long sig = jint(json_object_get(term, "signal"), 0);
                if (sig != 0)
                    set_reason(p, "Signal:%lld", sig);
                else
                    set_reason(p, "ExitCode:%lld", jint(json_object_get(term, "exitCode"), 0));
            } else if (jtrue(json_object_get(st, "ready")) && json_is_object(run)) {
                has_running = 1;
                p->ready++;
            }
        }
        if (p->reason && !strcmp(p->reason, "Completed") && has_running)
            set_reason(p, "%s", json_is_array(conds) && any_condition(conds, "Ready", "True")
                                     ? "Running" : "NotReady");
    }

    const json_t *del = jget(c->obj, "metadata", "deletionTimestamp", NULL);
    if (del && !json_is_null(del)) {
        if (!strcmp(sreason, "NodeLost"))
            set_reason(p, "Unknown");
        else if (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0)
            set_reason(p, "Terminating");
    }
    p->restarts = restarts;
    p->last_restart = last;
}

/* ---------------------------------------------------------------------------------------
 * Cell functions. Each returns a new reference (a string or an integer, as the Go printer
 * appends a string or an int64).
 * ------------------------------------------------------------------------------------- */

static const json_t *meta(row_ctx_t *c, const char *k)
{
    return jget(c->obj, "metadata", k, NULL);
}

static json_t *str_cell(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("");   /* invalid UTF-8 cannot come from jansson input */
}

static json_t *cell_meta_name(row_ctx_t *c)
{
    return str_cell(jstr(meta(c, "name"), ""));
}

static json_t *cell_meta_age(row_ctx_t *c)
{
    return age_cell(meta(c, "creationTimestamp"), c->now);
}

/* The default convertor: creationTimestamp.UTC().Format(time.RFC3339). */
static json_t *cell_meta_created_at(row_ctx_t *c)
{
    ttime_t t = ttime_of(meta(c, "creationTimestamp"));
    int64_t sec = t.set ? t.sec : GO_ZERO_TIME_SEC;
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t rem = sec - days * 86400;
    int y;
    unsigned m, d;
    char buf[48];
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, (int)(rem / 3600),
             (int)(rem % 3600 / 60), (int)(rem % 60));
    return json_string(buf);
}

static json_t *cell_pod_ready(row_ctx_t *c)
{
    char buf[64];
    pod_summary(c);
    snprintf(buf, sizeof buf, "%lld/%lld", c->pod.ready, c->pod.total);
    return json_string(buf);
}

static json_t *cell_pod_status(row_ctx_t *c)
{
    pod_summary(c);
    return str_cell(c->pod.reason);
}

static json_t *cell_pod_restarts(row_ctx_t *c)
{
    char age[32], buf[96];
    pod_summary(c);
    if (c->pod.restarts != 0 && c->pod.last_restart.set) {
        age_text(&c->pod.last_restart, c->now, age, sizeof age);
        snprintf(buf, sizeof buf, "%lld (%s ago)", c->pod.restarts, age);
    } else
        snprintf(buf, sizeof buf, "%lld", c->pod.restarts);
    return json_string(buf);
}

static json_t *cell_pod_ip(row_ctx_t *c)
{
    const json_t *status = json_object_get(c->obj, "status");
    const json_t *ips = json_object_get(status, "podIPs");
    const char *ip;
    /* The v1 -> internal conversion fills podIPs from podIP when only podIP is set. */
    if (json_is_array(ips) && json_array_size(ips) > 0)
        ip = jstr(jget(json_array_get(ips, 0), "ip", NULL), "");
    else
        ip = jstr(json_object_get(status, "podIP"), "");
    return str_cell(*ip ? ip : "<none>");
}

static json_t *cell_pod_node(row_ctx_t *c)
{
    const char *n = jstr(jget(c->obj, "spec", "nodeName", NULL), "");
    return str_cell(*n ? n : "<none>");
}

static json_t *cell_pod_nominated_node(row_ctx_t *c)
{
    const char *n = jstr(jget(c->obj, "status", "nominatedNodeName", NULL), "");
    return str_cell(*n ? n : "<none>");
}

static json_t *cell_pod_readiness_gates(row_ctx_t *c)
{
    const json_t *gates = jget(c->obj, "spec", "readinessGates", NULL);
    const json_t *conds = jget(c->obj, "status", "conditions", NULL);
    size_t ng = json_is_array(gates) ? json_array_size(gates) : 0, i, j;
    size_t true_conds = 0;
    json_t *g, *cond;
    char buf[64];
    if (ng == 0)
        return json_string("<none>");
    json_array_foreach(gates, i, g) {
        const char *type = jstr(json_object_get(g, "conditionType"), "");
        if (!json_is_array(conds))
            continue;
        json_array_foreach(conds, j, cond) {
            if (!strcmp(jstr(json_object_get(cond, "type"), ""), type)) {
                if (!strcmp(jstr(json_object_get(cond, "status"), ""), "True"))
                    true_conds++;
                break;
            }
        }
    }
    snprintf(buf, sizeof buf, "%zu/%zu", true_conds, ng);
    return json_string(buf);
}

/* spec.replicas is always set on a stored object (defaulted to 1); read it the same way. */
static long long desired_replicas(row_ctx_t *c)
{
    return jint(jget(c->obj, "spec", "replicas", NULL), 1);
}

static json_t *cell_deployment_ready(row_ctx_t *c)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%lld/%lld", jint(jget(c->obj, "status", "readyReplicas", NULL), 0),
             desired_replicas(c));
    return json_string(buf);
}

static json_t *cell_deployment_up_to_date(row_ctx_t *c)
{
    return json_integer(jint(jget(c->obj, "status", "updatedReplicas", NULL), 0));
}

static json_t *cell_deployment_available(row_ctx_t *c)
{
    return json_integer(jint(jget(c->obj, "status", "availableReplicas", NULL), 0));
}

/* printDeployment: selector.String(), "<invalid>" when it does not convert. */
static json_t *cell_deployment_selector(row_ctx_t *c)
{
    sbuf_t sb = {0};
    if (format_label_selector(jget(c->obj, "spec", "selector", NULL), &sb) != 0) {
        free(sb.p);
        return json_string("<invalid>");
    }
    return sb_to_json(&sb);
}

/* metav1.FormatLabelSelector: "<error>" on a bad selector, "<none>" when it prints empty. */
static json_t *cell_replicaset_selector(row_ctx_t *c)
{
    sbuf_t sb = {0};
    if (format_label_selector(jget(c->obj, "spec", "selector", NULL), &sb) != 0) {
        free(sb.p);
        return json_string("<error>");
    }
    if (sb.len == 0)
        sb_add(&sb, "<none>");
    return sb_to_json(&sb);
}

static json_t *cell_rc_selector(row_ctx_t *c)
{
    return format_label_map(jget(c->obj, "spec", "selector", NULL));
}

static json_t *cell_replicas_desired(row_ctx_t *c)
{
    return json_integer(desired_replicas(c));
}

static json_t *cell_replicas_current(row_ctx_t *c)
{
    return json_integer(jint(jget(c->obj, "status", "replicas", NULL), 0));
}

static json_t *cell_replicas_ready(row_ctx_t *c)
{
    return json_integer(jint(jget(c->obj, "status", "readyReplicas", NULL), 0));
}

/* printDaemonSet: the five status counts as int64 cells, absent ones 0. */
static json_t *ds_count(row_ctx_t *c, const char *key)
{
    return json_integer(jint(jget(c->obj, "status", key, NULL), 0));
}

static json_t *cell_ds_desired(row_ctx_t *c)
{
    return ds_count(c, "desiredNumberScheduled");
}

static json_t *cell_ds_current(row_ctx_t *c)
{
    return ds_count(c, "currentNumberScheduled");
}

static json_t *cell_ds_ready(row_ctx_t *c)
{
    return ds_count(c, "numberReady");
}

static json_t *cell_ds_up_to_date(row_ctx_t *c)
{
    return ds_count(c, "updatedNumberScheduled");
}

static json_t *cell_ds_available(row_ctx_t *c)
{
    return ds_count(c, "numberAvailable");
}

/* labels.FormatLabels(spec.template.spec.nodeSelector). */
static json_t *cell_ds_node_selector(row_ctx_t *c)
{
    return format_label_map(jget(c->obj, "spec", "template", "spec", "nodeSelector", NULL));
}

/* printStatefulSet: "%d/%d" of readyReplicas and *spec.Replicas; unlike a Deployment's
 * cell, a missing spec.replicas prints 0 (the printer reads the internal type, where the
 * pointer is gone and zero is zero). */
static json_t *cell_sts_ready(row_ctx_t *c)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%lld/%lld", jint(jget(c->obj, "status", "readyReplicas", NULL), 0),
             jint(jget(c->obj, "spec", "replicas", NULL), 0));
    return json_string(buf);
}

/* printControllerRevision: the controller owner reference as formatResourceName prints a
 * GroupKind and a name: lower("Kind.group") + "/" + name, lower("Kind") for the core group,
 * "<none>" without a controller. A bad apiVersion ("a/b/c") makes the Go printer fail the
 * whole row; here it reads as the core group, since a table must not fail on one object. */
static json_t *cell_cr_controller(row_ctx_t *c)
{
    const json_t *refs = jget(c->obj, "metadata", "ownerReferences", NULL);
    const json_t *ctl = NULL, *r;
    size_t i;
    if (json_is_array(refs)) {
        json_array_foreach(refs, i, r) {
            if (jtrue(json_object_get(r, "controller"))) {
                ctl = r;
                break;
            }
        }
    }
    if (!ctl)
        return json_string("<none>");
    const char *kind = jstr(json_object_get(ctl, "kind"), "");
    const char *name = jstr(json_object_get(ctl, "name"), "");
    const char *api = jstr(json_object_get(ctl, "apiVersion"), "");
    const char *slash = strchr(api, '/');
    sbuf_t sb = {0};
    if (!*kind) {
        /* GroupKind.Empty() only when both are empty; formatResourceName then prints the
         * bare name. A group with no kind prints ".group/name". */
        if (!slash || slash == api)
            return str_cell(name);
    }
    sb_add(&sb, kind);
    if (slash && slash != api) {
        sb_add(&sb, ".");
        sb_addn(&sb, api, (size_t)(slash - api));
    }
    for (size_t k = 0; k < sb.len; k++)
        sb.p[k] = (char)tolower((unsigned char)sb.p[k]);
    sb_add(&sb, "/");
    sb_add(&sb, name);
    return sb_to_json(&sb);
}

/* The revision, an int64 cell (the column says "string"; the printer appends an int64). */
static json_t *cell_cr_revision(row_ctx_t *c)
{
    const json_t *v = json_object_get(c->obj, "revision");
    return json_integer(json_is_integer(v) ? json_integer_value(v) : 0);
}

/* layoutContainerCells over spec.template.spec.containers: field joined by ",". */
static json_t *template_containers_field(row_ctx_t *c, const char *field)
{
    const json_t *cs = jget(c->obj, "spec", "template", "spec", "containers", NULL);
    sbuf_t sb = {0};
    size_t i;
    json_t *ct;
    if (json_is_array(cs)) {
        json_array_foreach(cs, i, ct) {
            if (i)
                sb_add(&sb, ",");
            sb_add(&sb, jstr(json_object_get(ct, field), ""));
        }
    }
    return sb_to_json(&sb);
}

static json_t *cell_template_containers(row_ctx_t *c)
{
    return template_containers_field(c, "name");
}

static json_t *cell_template_images(row_ctx_t *c)
{
    return template_containers_field(c, "image");
}

/* Defaulting sets spec.type on every stored Service; a missing one reads as ClusterIP. */
static const char *service_type(row_ctx_t *c)
{
    return jstr(jget(c->obj, "spec", "type", NULL), "ClusterIP");
}

static json_t *cell_service_type(row_ctx_t *c)
{
    return str_cell(service_type(c));
}

static json_t *cell_service_cluster_ip(row_ctx_t *c)
{
    const json_t *spec = json_object_get(c->obj, "spec");
    const json_t *ips = json_object_get(spec, "clusterIPs");
    if (json_is_array(ips) && json_array_size(ips) > 0)
        return str_cell(jstr(json_array_get(ips, 0), ""));
    /* clusterIPs is filled from clusterIP on the way in; honour an object that has only it. */
    const char *ip = jstr(json_object_get(spec, "clusterIP"), "");
    return str_cell(*ip ? ip : "<none>");
}

static void join_strings(sbuf_t *sb, const json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (i)
            sb_add(sb, ",");
        sb_add(sb, jstr(v, ""));
    }
}

/* getServiceExternalIP with wide=true (the server renders wide, so nothing is clipped). */
static json_t *cell_service_external_ip(row_ctx_t *c)
{
    const json_t *spec = json_object_get(c->obj, "spec");
    const json_t *ext = json_object_get(spec, "externalIPs");
    size_t next = json_is_array(ext) ? json_array_size(ext) : 0;
    const char *type = service_type(c);
    sbuf_t sb = {0};

    if (!strcmp(type, "ClusterIP") || !strcmp(type, "NodePort")) {
        if (next == 0)
            return json_string("<none>");
        join_strings(&sb, ext);
        return sb_to_json(&sb);
    }
    if (!strcmp(type, "LoadBalancer")) {
        const json_t *ing = jget(c->obj, "status", "loadBalancer", "ingress", NULL);
        size_t ni = json_is_array(ing) ? json_array_size(ing) : 0, n = 0;
        const char **v = ni ? calloc(ni, sizeof *v) : NULL;
        for (size_t i = 0; v && i < ni; i++) {
            const json_t *e = json_array_get(ing, i);
            const char *ip = jstr(json_object_get(e, "ip"), "");
            const char *host = jstr(json_object_get(e, "hostname"), "");
            if (*ip)
                v[n++] = ip;
            else if (*host)
                v[n++] = host;
        }
        n = sort_unique(v, n);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_add(&sb, ",");
            sb_add(&sb, v[i]);
        }
        free(v);
        if (next > 0) {
            if (sb.len)
                sb_add(&sb, ",");
            join_strings(&sb, ext);
            return sb_to_json(&sb);
        }
        if (sb.len)
            return sb_to_json(&sb);
        free(sb.p);
        return json_string("<pending>");
    }
    if (!strcmp(type, "ExternalName"))
        return str_cell(jstr(json_object_get(spec, "externalName"), ""));
    return json_string("<unknown>");
}

/* makePortString: "80/TCP", "80:30080/TCP", joined by ","; "<none>" when empty. */
static json_t *cell_service_ports(row_ctx_t *c)
{
    const json_t *ports = jget(c->obj, "spec", "ports", NULL);
    sbuf_t sb = {0};
    size_t i;
    json_t *p;
    if (json_is_array(ports)) {
        json_array_foreach(ports, i, p) {
            long long port = jint(json_object_get(p, "port"), 0);
            long long np = jint(json_object_get(p, "nodePort"), 0);
            const char *proto = jstr(json_object_get(p, "protocol"), "TCP");
            if (i)
                sb_add(&sb, ",");
            if (np > 0)
                sb_addf(&sb, "%lld:%lld/%s", port, np, proto);
            else
                sb_addf(&sb, "%lld/%s", port, proto);
        }
    }
    if (sb.len == 0) {
        free(sb.p);
        return json_string("<none>");
    }
    return sb_to_json(&sb);
}

static json_t *cell_service_selector(row_ctx_t *c)
{
    return format_label_map(jget(c->obj, "spec", "selector", NULL));
}

/* formatEndpoints(endpoints, nil): at most three "ip:port" then " + N more...". */
static json_t *cell_endpoints(row_ctx_t *c)
{
    const json_t *subsets = json_object_get(c->obj, "subsets");
    const size_t maximum = 3;
    size_t listed = 0, count = 0, i, j, k;
    int more = 0;
    sbuf_t sb = {0};
    json_t *ss, *port, *addr;

    if (!json_is_array(subsets) || json_array_size(subsets) == 0)
        return json_string("<none>");
    json_array_foreach(subsets, i, ss) {
        const json_t *addrs = json_object_get(ss, "addresses");
        const json_t *ports = json_object_get(ss, "ports");
        size_t na = json_is_array(addrs) ? json_array_size(addrs) : 0;
        if (!json_is_array(ports) || json_array_size(ports) == 0) {
            count += na;
            for (k = 0; k < na; k++) {
                if (listed == maximum) {
                    more = 1;
                    break;
                }
                if (listed++)
                    sb_add(&sb, ",");
                sb_add(&sb, jstr(jget(json_array_get(addrs, k), "ip", NULL), ""));
            }
            continue;
        }
        json_array_foreach(ports, j, port) {
            long long pn = jint(json_object_get(port, "port"), 0);
            count += na;
            for (k = 0; k < na; k++) {
                if (listed == maximum) {
                    more = 1;
                    break;
                }
                addr = json_array_get(addrs, k);
                const char *ip = jstr(json_object_get(addr, "ip"), "");
                if (listed++)
                    sb_add(&sb, ",");
                /* net.JoinHostPort brackets hosts that contain a colon (IPv6). */
                if (strchr(ip, ':'))
                    sb_addf(&sb, "[%s]:%lld", ip, pn);
                else {
                    sb_add(&sb, ip);
                    sb_addf(&sb, ":%lld", pn);
                }
            }
        }
    }
    if (more)
        sb_addf(&sb, " + %zu more...", count - maximum);
    return sb_to_json(&sb);
}

/* printNode: the Ready condition, then ",SchedulingDisabled" when cordoned. */
static json_t *cell_node_status(row_ctx_t *c)
{
    const json_t *conds = jget(c->obj, "status", "conditions", NULL);
    const json_t *ready = NULL;
    size_t i;
    json_t *cond;
    sbuf_t sb = {0};
    if (json_is_array(conds)) {
        json_array_foreach(conds, i, cond) {
            /* a map keyed by type: the last entry of a type wins */
            if (!strcmp(jstr(json_object_get(cond, "type"), ""), "Ready"))
                ready = cond;
        }
    }
    if (!ready)
        sb_add(&sb, "Unknown");
    else if (!strcmp(jstr(json_object_get(ready, "status"), ""), "True"))
        sb_add(&sb, "Ready");
    else
        sb_add(&sb, "NotReady");
    if (jtrue(jget(c->obj, "spec", "unschedulable", NULL)))
        sb_add(&sb, ",SchedulingDisabled");
    return sb_to_json(&sb);
}

/* findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role=<role>. */
static json_t *cell_node_roles(row_ctx_t *c)
{
    static const char prefix[] = "node-role.kubernetes.io/";
    const json_t *labels = jget(c->obj, "metadata", "labels", NULL);
    size_t nl = json_is_object(labels) ? json_object_size(labels) : 0, n = 0;
    const char **roles;
    const char *key;
    json_t *val;
    sbuf_t sb = {0};
    if (nl == 0)
        return json_string("<none>");
    roles = calloc(nl, sizeof *roles);
    if (!roles)
        return json_string("<none>");
    json_object_foreach((json_t *)labels, key, val) {
        if (!strncmp(key, prefix, sizeof prefix - 1)) {
            if (key[sizeof prefix - 1])
                roles[n++] = key + sizeof prefix - 1;
        } else if (!strcmp(key, "kubernetes.io/role") && nonempty(jstr(val, ""))) {
            roles[n++] = jstr(val, "");
        }
    }
    n = sort_unique(roles, n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(&sb, ",");
        sb_add(&sb, roles[i]);
    }
    free(roles);
    if (sb.len == 0)
        sb_add(&sb, "<none>");
    return sb_to_json(&sb);
}

static json_t *cell_node_version(row_ctx_t *c)
{
    return str_cell(jstr(jget(c->obj, "status", "nodeInfo", "kubeletVersion", NULL), ""));
}

static json_t *node_address(row_ctx_t *c, const char *type)
{
    const json_t *addrs = jget(c->obj, "status", "addresses", NULL);
    size_t i;
    json_t *a;
    if (json_is_array(addrs)) {
        json_array_foreach(addrs, i, a) {
            if (!strcmp(jstr(json_object_get(a, "type"), ""), type))
                return str_cell(jstr(json_object_get(a, "address"), ""));
        }
    }
    return json_string("<none>");
}

static json_t *cell_node_internal_ip(row_ctx_t *c)
{
    return node_address(c, "InternalIP");
}

static json_t *cell_node_external_ip(row_ctx_t *c)
{
    return node_address(c, "ExternalIP");
}

static json_t *node_info(row_ctx_t *c, const char *field)
{
    const char *v = jstr(jget(c->obj, "status", "nodeInfo", field, NULL), "");
    return str_cell(*v ? v : "<unknown>");
}

static json_t *cell_node_os_image(row_ctx_t *c)
{
    return node_info(c, "osImage");
}

static json_t *cell_node_kernel_version(row_ctx_t *c)
{
    return node_info(c, "kernelVersion");
}

static json_t *cell_node_container_runtime(row_ctx_t *c)
{
    return node_info(c, "containerRuntimeVersion");
}

/* printEvent: firstTimestamp, else eventTime. */
static void event_first_seen(row_ctx_t *c, char *buf, size_t n)
{
    ttime_t t = ttime_of(json_object_get(c->obj, "firstTimestamp"));
    if (!t.set)
        t = ttime_of(json_object_get(c->obj, "eventTime"));
    age_text(&t, c->now, buf, n);
}

static json_t *cell_event_first_seen(row_ctx_t *c)
{
    char buf[32];
    event_first_seen(c, buf, sizeof buf);
    return json_string(buf);
}

/* lastTimestamp, else the first-seen text; a series overrides with lastObservedTime. */
static json_t *cell_event_last_seen(row_ctx_t *c)
{
    char buf[32];
    const json_t *series = json_object_get(c->obj, "series");
    if (json_is_object(series)) {
        ttime_t t = ttime_of(json_object_get(series, "lastObservedTime"));
        age_text(&t, c->now, buf, sizeof buf);
        return json_string(buf);
    }
    ttime_t last = ttime_of(json_object_get(c->obj, "lastTimestamp"));
    if (last.set)
        age_text(&last, c->now, buf, sizeof buf);
    else
        event_first_seen(c, buf, sizeof buf);
    return json_string(buf);
}

static json_t *cell_event_count(row_ctx_t *c)
{
    const json_t *series = json_object_get(c->obj, "series");
    if (json_is_object(series))
        return json_integer(jint(json_object_get(series, "count"), 0));
    long long n = jint(json_object_get(c->obj, "count"), 0);
    /* Singleton events of the events.k8s.io API carry no count. */
    return json_integer(n == 0 ? 1 : n);
}

static json_t *cell_event_type(row_ctx_t *c)
{
    return str_cell(jstr(json_object_get(c->obj, "type"), ""));
}

static json_t *cell_event_reason(row_ctx_t *c)
{
    return str_cell(jstr(json_object_get(c->obj, "reason"), ""));
}

/* "pod/web-1": the kind lower-cased, then the name if there is one. */
static json_t *cell_event_object(row_ctx_t *c)
{
    const json_t *io = json_object_get(c->obj, "involvedObject");
    const char *kind = jstr(json_object_get(io, "kind"), "");
    const char *name = jstr(json_object_get(io, "name"), "");
    sbuf_t sb = {0};
    sb_add(&sb, kind);
    for (size_t i = 0; i < sb.len; i++)
        sb.p[i] = (char)tolower((unsigned char)sb.p[i]);
    if (*name) {
        sb_add(&sb, "/");
        sb_add(&sb, name);
    }
    return sb_to_json(&sb);
}

static json_t *cell_event_subobject(row_ctx_t *c)
{
    return str_cell(jstr(jget(c->obj, "involvedObject", "fieldPath", NULL), ""));
}

/* formatEventSource: component (or reportingComponent), ", host" (or reportingInstance). */
static json_t *cell_event_source(row_ctx_t *c)
{
    const char *comp = jstr(jget(c->obj, "source", "component", NULL), "");
    const char *host = jstr(jget(c->obj, "source", "host", NULL), "");
    sbuf_t sb = {0};
    if (!*comp)
        comp = jstr(json_object_get(c->obj, "reportingComponent"), "");
    if (!*host)
        host = jstr(json_object_get(c->obj, "reportingInstance"), "");
    sb_add(&sb, comp);
    if (*host) {
        sb_add(&sb, ", ");
        sb_add(&sb, host);
    }
    return sb_to_json(&sb);
}

/* strings.TrimSpace on the message (ASCII white space). */
static json_t *cell_event_message(row_ctx_t *c)
{
    const char *m = jstr(json_object_get(c->obj, "message"), "");
    size_t n = strlen(m);
    while (n && isspace((unsigned char)*m)) {
        m++;
        n--;
    }
    while (n && isspace((unsigned char)m[n - 1]))
        n--;
    json_t *j = json_stringn(m, n);
    return j ? j : json_string("");
}

static json_t *cell_namespace_status(row_ctx_t *c)
{
    return str_cell(jstr(jget(c->obj, "status", "phase", NULL), ""));
}

static json_t *cell_lease_holder(row_ctx_t *c)
{
    return str_cell(jstr(jget(c->obj, "spec", "holderIdentity", NULL), ""));
}

static size_t obj_size(const json_t *v)
{
    return json_is_object(v) ? json_object_size(v) : 0;
}

static json_t *cell_configmap_data(row_ctx_t *c)
{
    return json_integer((json_int_t)(obj_size(json_object_get(c->obj, "data")) +
                                     obj_size(json_object_get(c->obj, "binaryData"))));
}

/* Defaulting sets type Opaque on every stored Secret. */
static json_t *cell_secret_type(row_ctx_t *c)
{
    return str_cell(jstr(json_object_get(c->obj, "type"), "Opaque"));
}

static json_t *cell_secret_data(row_ctx_t *c)
{
    return json_integer((json_int_t)obj_size(json_object_get(c->obj, "data")));
}

/* ---- batch/v1 (served by plugins/cronjob): printJob and printCronJob of kubectl 1.31 */

static json_t *cell_job_status(row_ctx_t *c)
{
    const json_t *conds = jget(c->obj, "status", "conditions", NULL);
    if (any_condition(conds, "Complete", "True"))
        return str_cell("Complete");
    if (any_condition(conds, "Failed", "True"))
        return str_cell("Failed");
    if (jget(c->obj, "metadata", "deletionTimestamp", NULL))
        return str_cell("Terminating");
    if (any_condition(conds, "Suspended", "True"))
        return str_cell("Suspended");
    if (any_condition(conds, "FailureTarget", "True"))
        return str_cell("FailureTarget");
    if (any_condition(conds, "SuccessCriteriaMet", "True"))
        return str_cell("SuccessCriteriaMet");
    return str_cell("Running");
}

static json_t *cell_job_completions(row_ctx_t *c)
{
    char buf[96];
    long long done = jint(jget(c->obj, "status", "succeeded", NULL), 0);
    const json_t *completions = jget(c->obj, "spec", "completions", NULL);
    long long parallelism = jint(jget(c->obj, "spec", "parallelism", NULL), 0);
    if (json_is_integer(completions))
        snprintf(buf, sizeof buf, "%lld/%lld", done, jint(completions, 0));
    else if (parallelism > 1)
        snprintf(buf, sizeof buf, "%lld/1 of %lld", done, parallelism);
    else
        snprintf(buf, sizeof buf, "%lld/1", done);
    return str_cell(buf);
}

static json_t *cell_job_duration(row_ctx_t *c)
{
    char buf[32] = "";
    ttime_t start = ttime_of(jget(c->obj, "status", "startTime", NULL));
    ttime_t end = ttime_of(jget(c->obj, "status", "completionTime", NULL));
    if (start.set && !end.set)
        human_duration(ttime_since(&start, c->now), buf, sizeof buf);
    else if (start.set) {
        __int128 d = ((__int128)end.sec - start.sec) * NS_PER_SEC + end.nsec - start.nsec;
        human_duration(d > INT64_MAX ? INT64_MAX : d < INT64_MIN ? INT64_MIN : (int64_t)d, buf,
                       sizeof buf);
    }
    return str_cell(buf);
}

/* spec.suspend is defaulted to false by kube's API server; berth's plugin kinds get no
 * defaults, so absent prints as the default would. */
static json_t *cell_cronjob_suspend(row_ctx_t *c)
{
    return str_cell(json_is_true(jget(c->obj, "spec", "suspend", NULL)) ? "True" : "False");
}

static json_t *cell_cronjob_active(row_ctx_t *c)
{
    return json_integer((json_int_t)json_array_size(jget(c->obj, "status", "active", NULL)));
}

static json_t *cell_cronjob_last_schedule(row_ctx_t *c)
{
    const json_t *t = jget(c->obj, "status", "lastScheduleTime", NULL);
    return t ? age_cell(t, c->now) : str_cell("<none>");
}

static json_t *cell_cronjob_timezone(row_ctx_t *c)
{
    return str_cell(jstr(jget(c->obj, "spec", "timeZone", NULL), "<none>"));
}

/* PodDisruptionBudget: an int-or-string budget as kubectl prints it, N/A when unset. */
static json_t *pdb_budget(row_ctx_t *c, const char *key)
{
    const json_t *b = jget(c->obj, "spec", key, NULL);
    if (json_is_integer(b))
        return json_integer(json_integer_value(b));
    if (json_is_string(b))
        return str_cell(json_string_value(b));
    return str_cell("N/A");
}

static json_t *cell_pdb_min_available(row_ctx_t *c)
{
    return pdb_budget(c, "minAvailable");
}

static json_t *cell_pdb_max_unavailable(row_ctx_t *c)
{
    return pdb_budget(c, "maxUnavailable");
}

static json_t *cell_pdb_allowed_disruptions(row_ctx_t *c)
{
    const json_t *n = jget(c->obj, "status", "disruptionsAllowed", NULL);
    return json_integer(json_is_integer(n) ? json_integer_value(n) : 0);
}

static const struct {
    const char *name;
    cell_fn     fn;
} cells[] = {
    {"pdb.minAvailable", cell_pdb_min_available},
    {"pdb.maxUnavailable", cell_pdb_max_unavailable},
    {"pdb.allowedDisruptions", cell_pdb_allowed_disruptions},
    {"meta.name", cell_meta_name},
    {"meta.age", cell_meta_age},
    {"meta.createdAt", cell_meta_created_at},
    {"pod.ready", cell_pod_ready},
    {"pod.status", cell_pod_status},
    {"pod.restarts", cell_pod_restarts},
    {"pod.ip", cell_pod_ip},
    {"pod.node", cell_pod_node},
    {"pod.nominatedNode", cell_pod_nominated_node},
    {"pod.readinessGates", cell_pod_readiness_gates},
    {"deployment.ready", cell_deployment_ready},
    {"deployment.upToDate", cell_deployment_up_to_date},
    {"deployment.available", cell_deployment_available},
    {"deployment.selector", cell_deployment_selector},
    {"replicas.desired", cell_replicas_desired},
    {"replicas.current", cell_replicas_current},
    {"replicas.ready", cell_replicas_ready},
    {"replicaset.selector", cell_replicaset_selector},
    {"replicationcontroller.selector", cell_rc_selector},
    {"daemonset.desired", cell_ds_desired},
    {"daemonset.current", cell_ds_current},
    {"daemonset.ready", cell_ds_ready},
    {"daemonset.upToDate", cell_ds_up_to_date},
    {"daemonset.available", cell_ds_available},
    {"daemonset.nodeSelector", cell_ds_node_selector},
    {"statefulset.ready", cell_sts_ready},
    {"controllerrevision.controller", cell_cr_controller},
    {"controllerrevision.revision", cell_cr_revision},
    {"template.containers", cell_template_containers},
    {"template.images", cell_template_images},
    {"service.type", cell_service_type},
    {"service.clusterIP", cell_service_cluster_ip},
    {"service.externalIP", cell_service_external_ip},
    {"service.ports", cell_service_ports},
    {"service.selector", cell_service_selector},
    {"endpoints.endpoints", cell_endpoints},
    {"node.status", cell_node_status},
    {"node.roles", cell_node_roles},
    {"node.version", cell_node_version},
    {"node.internalIP", cell_node_internal_ip},
    {"node.externalIP", cell_node_external_ip},
    {"node.osImage", cell_node_os_image},
    {"node.kernelVersion", cell_node_kernel_version},
    {"node.containerRuntime", cell_node_container_runtime},
    {"event.lastSeen", cell_event_last_seen},
    {"event.type", cell_event_type},
    {"event.reason", cell_event_reason},
    {"event.object", cell_event_object},
    {"event.subobject", cell_event_subobject},
    {"event.source", cell_event_source},
    {"event.message", cell_event_message},
    {"event.firstSeen", cell_event_first_seen},
    {"event.count", cell_event_count},
    {"namespace.status", cell_namespace_status},
    {"lease.holder", cell_lease_holder},
    {"configmap.data", cell_configmap_data},
    {"secret.type", cell_secret_type},
    {"secret.data", cell_secret_data},
    {"job.status", cell_job_status},
    {"job.completions", cell_job_completions},
    {"job.duration", cell_job_duration},
    {"cronjob.suspend", cell_cronjob_suspend},
    {"cronjob.active", cell_cronjob_active},
    {"cronjob.lastSchedule", cell_cronjob_last_schedule},
    {"cronjob.timezone", cell_cronjob_timezone},
};

static cell_fn cell_lookup(const char *name)
{
    for (size_t i = 0; name && i < sizeof cells / sizeof cells[0]; i++)
        if (!strcmp(cells[i].name, name))
            return cells[i].fn;
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * JSONPath subset: .a.b, .a[0].b, .a[*].b, ['a.b'], optionally wrapped in {}.
 * ------------------------------------------------------------------------------------- */

typedef enum { JP_FIELD, JP_INDEX, JP_WILD } jp_kind_t;

typedef struct jp_seg_s {
    jp_kind_t kind;
    char     *name;   /* JP_FIELD, owned */
    long      index;  /* JP_INDEX; negative counts from the end */
} jp_seg_t;

typedef struct jpath_s {
    jp_seg_t seg[TABLE_JP_SEGS_MAX];
    size_t   n;
    int      wild;    /* has a [*] segment: several results */
} jpath_t;

static void jpath_release(jpath_t *jp)
{
    for (size_t i = 0; i < jp->n; i++)
        free(jp->seg[i].name);
    jp->n = 0;
}

/* Parse text into jp. 0, or -1 with err saying what is wrong. */
static int jpath_parse(const char *text, jpath_t *jp, char *err, size_t errlen)
{
    size_t len = text ? strlen(text) : 0;
    const char *p = text, *end;
    memset(jp, 0, sizeof *jp);
    if (len == 0 || len > TABLE_JP_LEN_MAX) {
        snprintf(err, errlen, "jsonPath must be 1 to %d characters", TABLE_JP_LEN_MAX);
        return -1;
    }
    end = text + len;
    if (*p == '{') {
        if (end[-1] != '}') {
            snprintf(err, errlen, "jsonPath %s: unclosed {", text);
            return -1;
        }
        p++;
        end--;
    }
    if (p == end || (*p != '.' && *p != '[')) {
        snprintf(err, errlen, "jsonPath %s: must start with . or [", text);
        return -1;
    }
    while (p < end) {
        jp_seg_t seg = {0};
        if (jp->n == TABLE_JP_SEGS_MAX) {
            snprintf(err, errlen, "jsonPath %s: more than %d segments", text, TABLE_JP_SEGS_MAX);
            goto failed;
        }
        if (*p == '.') {
            sbuf_t sb = {0};
            p++;
            while (p < end && *p != '.' && *p != '[') {
                if (*p == '\\' && p + 1 < end && p[1] == '.')
                    p++;   /* \. escapes a dot inside a key, as kubectl's jsonpath allows */
                else if (*p == ']' || *p == '{' || *p == '}' || isspace((unsigned char)*p)) {
                    free(sb.p);
                    snprintf(err, errlen, "jsonPath %s: unexpected '%c'", text, *p);
                    goto failed;
                }
                sb_addn(&sb, p, 1);
                p++;
            }
            if (sb.len == 0) {
                free(sb.p);
                snprintf(err, errlen, "jsonPath %s: empty field name", text);
                goto failed;
            }
            seg.kind = JP_FIELD;
            seg.name = sb.p;
        } else if (*p == '[') {
            const char *close = memchr(p, ']', (size_t)(end - p));
            if (!close) {
                snprintf(err, errlen, "jsonPath %s: unclosed [", text);
                goto failed;
            }
            const char *a = p + 1;
            size_t n = (size_t)(close - a);
            if (n == 1 && *a == '*') {
                seg.kind = JP_WILD;
                jp->wild = 1;
            } else if (n >= 2 && (*a == '\'' || *a == '"') && a[n - 1] == *a) {
                seg.kind = JP_FIELD;
                seg.name = strndup(a + 1, n - 2);
                if (!seg.name || !*seg.name) {
                    free(seg.name);
                    snprintf(err, errlen, "jsonPath %s: empty field name", text);
                    goto failed;
                }
            } else {
                char num[24];
                char *e;
                if (n == 0 || n >= sizeof num) {
                    snprintf(err, errlen, "jsonPath %s: bad index", text);
                    goto failed;
                }
                memcpy(num, a, n);
                num[n] = '\0';
                long v = strtol(num, &e, 10);
                if (*e || (!isdigit((unsigned char)num[0]) && num[0] != '-') || v < -1000000 ||
                    v > 1000000) {
                    snprintf(err, errlen, "jsonPath %s: bad index '%s'", text, num);
                    goto failed;
                }
                seg.kind = JP_INDEX;
                seg.index = v;
            }
            p = close + 1;
        } else {
            snprintf(err, errlen, "jsonPath %s: unexpected '%c'", text, *p);
            goto failed;
        }
        jp->seg[jp->n++] = seg;
    }
    return 0;
failed:
    jpath_release(jp);
    return -1;
}

/* Walk from v through segments [i..]; append (borrowed-then-increfed) results to out. */
static void jpath_eval(const jpath_t *jp, size_t i, const json_t *v, json_t *out)
{
    if (!v || json_array_size(out) >= TABLE_JP_RESULTS)
        return;
    if (i == jp->n) {
        json_array_append(out, (json_t *)v);
        return;
    }
    const jp_seg_t *s = &jp->seg[i];
    switch (s->kind) {
    case JP_FIELD:
        if (json_is_object(v))
            jpath_eval(jp, i + 1, json_object_get(v, s->name), out);
        break;
    case JP_INDEX:
        if (json_is_array(v)) {
            long n = (long)json_array_size(v), k = s->index < 0 ? n + s->index : s->index;
            if (k >= 0 && k < n)
                jpath_eval(jp, i + 1, json_array_get(v, (size_t)k), out);
        }
        break;
    case JP_WILD:
        if (json_is_array(v)) {
            size_t k;
            json_t *e;
            json_array_foreach(v, k, e) jpath_eval(jp, i + 1, e, out);
        } else if (json_is_object(v)) {
            const char *k;
            json_t *e;
            json_object_foreach((json_t *)v, k, e) jpath_eval(jp, i + 1, e, out);
        }
        break;
    }
}

/* Go's %v for a float64 (strconv 'g', shortest): the fewest digits that read back the
 * same, in exponent form when the exponent is below -4 or at least 6 ("1e+06"). */
static void go_float(double d, sbuf_t *sb)
{
    char buf[64];
    int prec;
    if (d != d) {
        sb_add(sb, "NaN");
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp < -4 || exp >= 6) {
        sb_add(sb, buf);
        return;
    }
    snprintf(buf, sizeof buf, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
    sb_add(sb, buf);
}

/* How JSONPath's text output (fmt.Fprint) writes one value. */
static void value_text(const json_t *v, sbuf_t *sb)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        sb_addn(sb, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        sb_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        go_float(json_real_value(v), sb);
        break;
    case JSON_TRUE:
        sb_add(sb, "true");
        break;
    case JSON_FALSE:
        sb_add(sb, "false");
        break;
    case JSON_NULL:
        sb_add(sb, "null");
        break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s)
            sb_add(sb, s);
        free(s);
    }
    }
}

/* cellForJSONValue of the CRD table convertor, per column type. New reference. */
static json_t *typed_cell(const char *type, const json_t *v, time_t now)
{
    if (!v || json_is_null(v))
        return json_null();
    if (!strcmp(type, "integer")) {
        if (json_is_integer(v))
            return json_integer(json_integer_value(v));
        if (json_is_real(v)) {
            double d = json_real_value(v);
            if (d >= -9.2e18 && d <= 9.2e18)
                return json_integer((json_int_t)d);
        }
    } else if (!strcmp(type, "number")) {
        if (json_is_number(v))
            return json_real(json_number_value(v));
    } else if (!strcmp(type, "boolean")) {
        if (json_is_boolean(v))
            return json_boolean(json_is_true(v));
    } else if (!strcmp(type, "date")) {
        if (json_is_string(v)) {
            ttime_t t;
            char buf[32];
            if (ttime_parse(json_string_value(v), &t) != 0)
                return json_string("<invalid>");
            age_text(&t, now, buf, sizeof buf);
            return json_string(buf);
        }
    } else if (json_is_string(v)) {
        return json_string(json_string_value(v));
    }
    return json_null();
}

static json_t *jsonpath_cell(const char *path, const char *type, const json_t *obj, time_t now)
{
    jpath_t jp;
    char err[8];
    json_t *res, *cell;
    if (jpath_parse(path, &jp, err, sizeof err) != 0)
        return json_null();
    res = json_array();
    if (!res) {
        jpath_release(&jp);
        return json_null();
    }
    jpath_eval(&jp, 0, obj, res);
    if (json_array_size(res) == 0) {
        cell = json_null();
    } else if (!strcmp(type, "string")) {
        /* Every match for [*] paths, joined by ","; a null alone gives no value. */
        size_t i;
        json_t *v;
        sbuf_t sb = {0};
        if (json_array_size(res) == 1 && json_is_null(json_array_get(res, 0))) {
            cell = json_null();
        } else {
            json_array_foreach(res, i, v) {
                if (i)
                    sb_add(&sb, ",");
                value_text(v, &sb);
            }
            cell = sb_to_json(&sb);
        }
    } else {
        cell = typed_cell(type, json_array_get(res, 0), now);
    }
    json_decref(res);
    jpath_release(&jp);
    return cell ? cell : json_null();
}

/* ---------------------------------------------------------------------------------------
 * Specs: the built-in ones and checking plugin ones.
 * ------------------------------------------------------------------------------------- */

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static json_t *builtin_kinds;    /* the "kinds" object of tables.json, lives forever */
static json_t *default_spec;     /* Name + Created At, lives forever */

static void builtin_load(void)
{
    json_error_t jerr;
    json_t *root = json_loads(embed_tables_json, 0, &jerr);
    if (root) {
        json_t *k = json_object_get(root, "kinds");
        if (json_is_object(k))
            builtin_kinds = json_incref(k);
        json_decref(root);
    } else {
        fprintf(stderr, "table: engine/tables.json line %d: %s\n", jerr.line, jerr.text);
    }
    default_spec = builtin_kinds ? json_incref(json_object_get(builtin_kinds, "*")) : NULL;
    if (!json_is_array(default_spec)) {
        /* Should tables.json be broken, kubectl still gets the default convertor's table. */
        json_decref(default_spec);
        default_spec = json_pack("[{s:s,s:s,s:s,s:i,s:s,s:s},{s:s,s:s,s:s,s:i,s:s,s:s}]",
                                 "name", "Name", "type", "string", "format", "name",
                                 "priority", 0, "description", "", "cell", "meta.name",
                                 "name", "Created At", "type", "date", "format", "",
                                 "priority", 0, "description", "", "cell", "meta.createdAt");
    }
}

const json_t *table_spec_builtin(const char *group, const char *kind)
{
    char key[320];
    const json_t *spec = NULL;
    pthread_once(&builtin_once, builtin_load);
    if (kind && builtin_kinds) {
        int n = snprintf(key, sizeof key, "%s/%s", group ? group : "", kind);
        if (n > 0 && (size_t)n < sizeof key)
            spec = json_object_get(builtin_kinds, key);
    }
    return json_is_array(spec) ? spec : default_spec;
}

static const char *const column_types[] = {"string", "integer", "number", "boolean", "date"};

static int type_known(const char *t)
{
    for (size_t i = 0; t && i < sizeof column_types / sizeof column_types[0]; i++)
        if (!strcmp(column_types[i], t))
            return 1;
    return 0;
}

int table_spec_check(const json_t *spec, char *err, size_t errlen)
{
    size_t i;
    json_t *col;
    char jerr[200];
    if (!json_is_array(spec) || json_array_size(spec) == 0) {
        snprintf(err, errlen, "columns must be a non-empty array");
        return -1;
    }
    if (json_array_size(spec) > TABLE_COLUMNS_MAX) {
        snprintf(err, errlen, "more than %d columns", TABLE_COLUMNS_MAX);
        return -1;
    }
    json_array_foreach(spec, i, col) {
        const char *key;
        json_t *v;
        if (!json_is_object(col)) {
            snprintf(err, errlen, "column %zu: must be an object", i);
            return -1;
        }
        const char *name = jstr(json_object_get(col, "name"), NULL);
        if (!nonempty(name)) {
            snprintf(err, errlen, "column %zu: name must be a non-empty string", i);
            return -1;
        }
        json_object_foreach(col, key, v) {
            if (strcmp(key, "name") && strcmp(key, "type") && strcmp(key, "format") &&
                strcmp(key, "priority") && strcmp(key, "description") && strcmp(key, "jsonPath") &&
                strcmp(key, "cell")) {
                snprintf(err, errlen, "column %zu (%s): unknown field \"%s\"", i, name, key);
                return -1;
            }
        }
        if (!type_known(jstr(json_object_get(col, "type"), NULL))) {
            snprintf(err, errlen,
                     "column %zu (%s): type must be one of string, integer, number, boolean, date",
                     i, name);
            return -1;
        }
        v = json_object_get(col, "format");
        if (v && !json_is_string(v)) {
            snprintf(err, errlen, "column %zu (%s): format must be a string", i, name);
            return -1;
        }
        v = json_object_get(col, "description");
        if (v && !json_is_string(v)) {
            snprintf(err, errlen, "column %zu (%s): description must be a string", i, name);
            return -1;
        }
        v = json_object_get(col, "priority");
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                  json_integer_value(v) > INT32_MAX)) {
            snprintf(err, errlen, "column %zu (%s): priority must be a non-negative integer", i,
                     name);
            return -1;
        }
        const json_t *jp = json_object_get(col, "jsonPath");
        const json_t *cell = json_object_get(col, "cell");
        if ((jp != NULL) == (cell != NULL)) {
            snprintf(err, errlen, "column %zu (%s): needs exactly one of jsonPath and cell", i,
                     name);
            return -1;
        }
        if (cell && !cell_lookup(jstr(cell, NULL))) {
            snprintf(err, errlen, "column %zu (%s): unknown cell \"%s\"", i, name,
                     jstr(cell, "(not a string)"));
            return -1;
        }
        if (jp) {
            jpath_t parsed;
            if (!json_is_string(jp)) {
                snprintf(err, errlen, "column %zu (%s): jsonPath must be a string", i, name);
                return -1;
            }
            if (jpath_parse(json_string_value(jp), &parsed, jerr, sizeof jerr) != 0) {
                snprintf(err, errlen, "column %zu (%s): %s", i, name, jerr);
                return -1;
            }
            jpath_release(&parsed);
        }
    }
    return 0;
}

json_t *table_column_definitions(const json_t *spec)
{
    json_t *defs = json_array();
    size_t i;
    json_t *col;
    if (!defs || !json_is_array(spec))
        return defs;
    json_array_foreach(spec, i, col) {
        json_t *d = json_object();
        if (!d)
            break;
        /* TableColumnDefinition's field order; none of them is omitempty. */
        json_object_set_new(d, "name", json_string(jstr(json_object_get(col, "name"), "")));
        json_object_set_new(d, "type", json_string(jstr(json_object_get(col, "type"), "string")));
        json_object_set_new(d, "format", json_string(jstr(json_object_get(col, "format"), "")));
        json_object_set_new(d, "description",
                            json_string(jstr(json_object_get(col, "description"), "")));
        json_object_set_new(d, "priority",
                            json_integer(jint(json_object_get(col, "priority"), 0)));
        json_array_append_new(defs, d);
    }
    return defs;
}

/* PartialObjectMetadata with the object's metadata minus managedFields. */
static json_t *row_object(const json_t *obj)
{
    const json_t *m = json_object_get(obj, "metadata");
    json_t *md = json_is_object(m) ? json_deep_copy(m) : json_object();
    if (md)
        json_object_del(md, "managedFields");
    return json_pack("{s:s,s:s,s:o}", "kind", "PartialObjectMetadata", "apiVersion",
                     "meta.k8s.io/v1", "metadata", md ? md : json_object());
}

/* printPod marks finished pods so clients can tell them apart. */
static json_t *pod_row_conditions(const json_t *obj)
{
    const char *phase = jstr(jget(obj, "status", "phase", NULL), "");
    if (!strcmp(phase, "Succeeded"))
        return json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Completed", "status", "True", "reason",
                         "Succeeded", "message", "The pod has completed successfully.");
    if (!strcmp(phase, "Failed"))
        return json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Completed", "status", "True", "reason",
                         "Failed", "message", "The pod failed.");
    return NULL;
}

json_t *table_row(const json_t *spec, const json_t *obj, time_t now, table_include_t include)
{
    row_ctx_t ctx = {.obj = obj, .now = now};
    json_t *row = json_object(), *cellv = json_array(), *conds = NULL;
    size_t i;
    json_t *col;
    int is_pod = 0;

    if (!row || !cellv) {
        json_decref(row);
        json_decref(cellv);
        return NULL;
    }
    if (json_is_array(spec)) {
        json_array_foreach(spec, i, col) {
            const char *cname = jstr(json_object_get(col, "cell"), NULL);
            const char *path = jstr(json_object_get(col, "jsonPath"), NULL);
            json_t *v = NULL;
            if (cname) {
                cell_fn fn = cell_lookup(cname);
                if (fn)
                    v = fn(&ctx);
                if (!strncmp(cname, "pod.", 4))
                    is_pod = 1;
            } else if (path) {
                v = jsonpath_cell(path, jstr(json_object_get(col, "type"), "string"), obj, now);
            }
            json_array_append_new(cellv, v ? v : json_null());
        }
    }
    free(ctx.pod.reason);
    json_object_set_new(row, "cells", cellv);
    if (is_pod && (conds = pod_row_conditions(obj)) != NULL)
        json_object_set_new(row, "conditions", conds);
    if (include == TABLE_INCLUDE_OBJECT) {
        json_object_set(row, "object", (json_t *)obj);
    } else if (include == TABLE_INCLUDE_NONE) {
        json_object_set_new(row, "object", json_null());
    } else {
        json_t *o = row_object(obj);
        json_object_set_new(row, "object", o ? o : json_object());
    }
    return row;
}
