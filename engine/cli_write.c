/* cli_write.c: helpers of the write verbs (see cli_write.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_write.h"
#include "util.h"
#include "jsonload.h"

/* ------------------------------------------------------------------ small things */

int cliw_dry_run_flag(const char *arg, cliw_dry_t *out)
{
    const char *v;
    if (!strcmp(arg, "--dry-run")) {
        *out = CLIW_DRY_CLIENT;
        return 1;
    }
    if (strncmp(arg, "--dry-run=", 10))
        return 0;
    v = arg + 10;
    if (!*v || !strcmp(v, "client") || !strcmp(v, "true"))
        *out = CLIW_DRY_CLIENT;
    else if (!strcmp(v, "server"))
        *out = CLIW_DRY_SERVER;
    else if (!strcmp(v, "none") || !strcmp(v, "false"))
        *out = CLIW_DRY_NONE;
    else {
        fprintf(stderr, "error: Invalid dry-run value (%s). Must be \"none\", \"server\", or "
                        "\"client\".\n", v);
        return -1;
    }
    return 1;
}

const char *cliw_dry_suffix(cliw_dry_t d)
{
    return d == CLIW_DRY_CLIENT ? " (dry run)" : d == CLIW_DRY_SERVER ? " (server dry run)" : "";
}

int cliw_duration(const char *s, double *secs)
{
    double total = 0;
    int neg = 0;
    const char *p = s;
    char *end;
    if (!s || !*s)
        return -1;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!*p)
        return -1;
    /* a bare number: seconds (Go wants a unit except for "0"; kubectl users type "30") */
    double bare = strtod(p, &end);
    if (end != p && !*end) {
        *secs = neg ? -bare : bare;
        return 0;
    }
    while (*p) {
        double v = strtod(p, &end);
        if (end == p || *p == '-' || *p == '+')
            return -1;
        p = end;
        static const struct {
            const char *unit;
            double mult;
        } units[] = { { "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "ms", 1e-3 },
                      { "s", 1 },     { "m", 60 },    { "h", 3600 } };
        size_t best = 0, bestlen = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (!strncmp(p, units[i].unit, l) && l > bestlen)
                best = i, bestlen = l;
        }
        if (!bestlen)
            return -1;
        total += v * units[best].mult;
        p += bestlen;
    }
    *secs = neg ? -total : total;
    return 0;
}

double cliw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cliw_duration_flag(int argc, char **argv, int *i, const char *long_name, double *secs)
{
    int m;
    const char *v = cli_flag_value(argc, argv, i, long_name, NULL, &m);
    if (m <= 0)
        return m;
    if (cliw_duration(v, secs) < 0) {
        fprintf(stderr, "error: invalid argument \"%s\" for \"%s\" flag: time: invalid "
                        "duration \"%s\"\n", v, long_name, v);
        return -1;
    }
    return 1;
}

int cliw_other_arg(const char *arg, void (*usage)(FILE *), char **pos, size_t *npos)
{
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
        usage(stdout);
        return 1;
    }
    if (arg[0] == '-' && arg[1]) {
        fprintf(stderr, "error: unknown flag: %s\n", arg);
        usage(stderr);
        return -1;
    }
    pos[(*npos)++] = (char *)arg;
    return 0;
}

void cliw_source_file(const char *source, char *out, size_t len)
{
    snprintf(out, len, "%s", source ? source : "");
    char *paren = strstr(out, " (document ");
    if (!paren)
        paren = strstr(out, " (item ");
    if (paren)
        *paren = '\0';
}

void cliw_print_error(const json_t *body, long status, const char *doing, const char *file)
{
    const char *msg = json_str(body, "message"), *kind = json_str(body, "kind");
    const char *reason = json_str(body, "reason");
    if (!file || !msg || !kind || strcmp(kind, "Status")) {
        cli_print_error(body, status);
        return;
    }
    if (reason && *reason)
        fprintf(stderr, "Error from server (%s): error when %s \"%s\": %s\n", reason, doing,
                file, msg);
    else
        fprintf(stderr, "Error from server: error when %s \"%s\": %s\n", doing, file, msg);
}

json_t *cliw_request(kubeclient_t *kc, const char *method, const char *path,
                     const char *content_type, json_t *body, long *status, int quiet_404,
                     const char *doing, const char *file)
{
    char err[1024];
    long st = 0;
    json_t *resp = path ? kubeclient_json(kc, method, path, content_type, body, &st, err,
                                          sizeof(err)) : NULL;
    if (status)
        *status = resp ? st : 0;
    if (!resp) {
        if (path && st == 0)
            cli_print_conn_error(kc, err);   /* no answer: kubectl's connection line */
        else
            fprintf(stderr, "error: %s\n", path ? err : "out of memory");
        return NULL;
    }
    if (st >= 200 && st <= 299)
        return resp;
    if (!(st == 404 && quiet_404))
        cliw_print_error(resp, st, doing, file);
    json_decref(resp);
    return NULL;
}

int cliw_json_equal(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach((json_t *)a, k, v)
            if (!cliw_json_equal(v, json_object_get(b, k)))
                return 0;
        return 1;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!cliw_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* ------------------------------------------------------------------ -f sources */

static int has_manifest_suffix(const char *n)
{
    size_t l = strlen(n);
    return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")) ||
           (l > 5 && !strcmp(n + l - 5, ".json"));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the entries of one file (or "-") to out; a failure goes to errors. */
static void read_one(const char *path, json_t *out, json_t *errors)
{
    char err[1536];
    json_t *m = kubeclient_read_manifests(path, err, sizeof(err));
    if (!m) {
        json_array_append_new(errors, json_string(err));
        return;
    }
    json_array_extend(out, m);
    json_decref(m);
}

json_t *cliw_read_sources(char **sources, size_t n, json_t *errors)
{
    json_t *out = json_array();
    for (size_t s = 0; out && s < n; s++) {
        const char *src = sources[s];
        struct stat st;
        if (!strcmp(src, "-") || stat(src, &st) < 0 || !S_ISDIR(st.st_mode)) {
            read_one(src, out, errors);   /* a missing file: kubeclient names it */
            continue;
        }
        DIR *d = opendir(src);
        if (!d) {
            char msg[1200];
            snprintf(msg, sizeof(msg), "%s: %s", src, strerror(errno));
            json_array_append_new(errors, json_string(msg));
            continue;
        }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || !has_manifest_suffix(de->d_name))
                continue;
            char **grown = realloc(names, (nn + 1) * sizeof(*grown));
            if (!grown)
                break;
            names = grown;
            if (asprintf(&names[nn], "%s%s%s", src, src[strlen(src) - 1] == '/' ? "" : "/",
                         de->d_name) < 0)
                break;
            nn++;
        }
        closedir(d);
        if (nn)
            qsort(names, nn, sizeof(*names), cmp_names);
        for (size_t i = 0; i < nn; i++) {
            read_one(names[i], out, errors);
            free(names[i]);
        }
        free(names);
    }
    return out;
}

int cliw_print_source_errors(const json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
        fprintf(stderr, "error: %s\n", json_string_value(e));
    return json_array_size(errors) ? 1 : 0;
}

int cliw_object_namespace(kubeclient_t *kc, const cli_conn_t *conn, const kube_resource_t *r,
                          json_t *obj, const char **ns)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *own = json_str(md, "namespace");
    *ns = NULL;
    if (!r->namespaced) {
        if (md)
            json_object_del(md, "namespace");
        return 0;
    }
    if (own && *own && conn->namespace_given && strcmp(own, conn->opts.namespace_)) {
        fprintf(stderr, "error: the namespace from the provided object \"%s\" does not match "
                        "the namespace \"%s\". You must pass '--namespace=%s' to perform this "
                        "operation.\n", own, conn->opts.namespace_, own);
        return -1;
    }
    if (!own || !*own) {
        if (!json_is_object(md)) {
            md = json_object();
            json_object_set_new(obj, "metadata", md);
        }
        json_object_set_new(md, "namespace", json_string(kubeclient_namespace(kc)));
    }
    *ns = json_str(md, "namespace");
    return 0;
}

/* ------------------------------------------------------------------ arguments */

static int add_ref(cliw_ref_t **out, size_t *n, const kube_resource_t *r, const char *name)
{
    cliw_ref_t *grown = realloc(*out, (*n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    *out = grown;
    grown[*n].res = *r;
    snprintf(grown[*n].name, sizeof(grown[*n].name), "%s", name);
    (*n)++;
    return 0;
}

static int resolve_or_print(kubeclient_t *kc, const char *type, kube_resource_t *r)
{
    char err[512];
    if (kubeclient_resolve(kc, type, r, err, sizeof(err)) < 0) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    return 0;
}

long cliw_parse_refs(kubeclient_t *kc, char **args, size_t nargs, cliw_ref_t **out)
{
    cliw_ref_t *refs = NULL;
    size_t n = 0;
    kube_resource_t r;
    *out = NULL;
    if (!nargs)
        return 0;
    if (strchr(args[0], '/')) {
        for (size_t i = 0; i < nargs; i++) {
            char type[256];
            const char *slash = strchr(args[i], '/');
            if (!slash) {
                fprintf(stderr, "error: there is no need to specify a resource type as a "
                                "separate argument when passing arguments in resource/name "
                                "form (e.g. 'berth get resource/<resource_name>' instead of "
                                "'berth get resource resource/<resource_name>'\n");
                goto failed;
            }
            snprintf(type, sizeof(type), "%.*s", (int)(slash - args[i]), args[i]);
            if (!slash[1]) {
                fprintf(stderr, "error: arguments in resource/name form must have a single "
                                "resource and name\n");
                goto failed;
            }
            if (resolve_or_print(kc, type, &r) < 0 || add_ref(&refs, &n, &r, slash + 1) < 0)
                goto failed;
        }
        *out = refs;
        return (long)n;
    }
    /* TYPE[,TYPE...] [NAME...] */
    char *types = strdup(args[0]), *save = NULL;
    if (!types)
        goto failed;
    for (char *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (resolve_or_print(kc, t, &r) < 0) {
            free(types);
            goto failed;
        }
        if (nargs == 1 && add_ref(&refs, &n, &r, "") < 0) {
            free(types);
            goto failed;
        }
        for (size_t i = 1; i < nargs; i++) {
            if (strchr(args[i], '/')) {
                fprintf(stderr, "error: there is no need to specify a resource type as a "
                                "separate argument when passing arguments in resource/name "
                                "form (e.g. 'berth get resource/<resource_name>' instead of "
                                "'berth get resource resource/<resource_name>'\n");
                free(types);
                goto failed;
            }
            if (add_ref(&refs, &n, &r, args[i]) < 0) {
                free(types);
                goto failed;
            }
        }
    }
    free(types);
    *out = refs;
    return (long)n;

failed:
    free(refs);
    return -1;
}

int cliw_check_refs(const cliw_ref_t *refs, long n, int selecting)
{
    int named = 0, unnamed = 0;
    for (long i = 0; i < n; i++)
        *refs[i].name ? named++ : unnamed++;
    if (unnamed && !selecting) {
        fprintf(stderr, "error: resource(s) were provided, but no name was specified\n");
        return -1;
    }
    if (named && selecting) {
        fprintf(stderr, "error: name cannot be provided when a selector is specified\n");
        return -1;
    }
    return 0;
}

json_t *cliw_list(kubeclient_t *kc, const kube_resource_t *r, const char *ns,
                  const char *selector)
{
    char *path = cli_get_path(r, ns, NULL, selector && *selector ? selector : NULL, NULL, 0,
                              NULL, NULL);
    json_t *list = path ? cliw_request(kc, "GET", path, NULL, NULL, NULL, 0, NULL, NULL) : NULL;
    free(path);
    return list;
}

/* ------------------------------------------------------------------ following objects */

int cliw_objs_add(cliw_objs_t *l, const kube_resource_t *r, const char *ns, const char *name,
                  const char *uid)
{
    cliw_obj_t *grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    l->v = grown;
    grown[l->n].res = *r;
    grown[l->n].ns = ns && r->namespaced ? strdup(ns) : NULL;
    grown[l->n].name = strdup(name);
    grown[l->n].uid = uid ? strdup(uid) : NULL;
    l->n++;
    return 0;
}

void cliw_objs_release(cliw_objs_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].ns);
        free(l->v[i].name);
        free(l->v[i].uid);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

typedef struct follow_s {
    cliw_follow_fn *fn;
    void *priv;
    char *buf;          /* the part of a line not yet complete */
    size_t len, cap;
    int result;         /* 1 done, -1 failed, 0 going on */
    int relist;         /* an ERROR event (410 Gone): list again */
    char rv[64];        /* the resourceVersion to watch from */
} follow_t;

/* One watch event line. Returns nonzero to stop the stream. */
static int follow_line(follow_t *f, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *ev = jsonload(line, len, 0, &jerr);
    const char *type = json_str(ev, "type");
    json_t *obj = json_object_get(ev, "object");
    int stop = 0;
    if (!ev || !type) {
        json_decref(ev);
        return 0;
    }
    if (!strcmp(type, "ERROR")) {
        f->relist = 1;
        stop = 1;
    } else if (!strcmp(type, "BOOKMARK")) {
        const char *rv = json_str(json_object_get(obj, "metadata"), "resourceVersion");
        if (rv)
            snprintf(f->rv, sizeof(f->rv), "%s", rv);
    } else {
        const char *rv = json_str(json_object_get(obj, "metadata"), "resourceVersion");
        if (rv)
            snprintf(f->rv, sizeof(f->rv), "%s", rv);
        f->result = f->fn(strcmp(type, "DELETED") ? obj : NULL, f->priv);
        stop = f->result != 0;
    }
    json_decref(ev);
    return stop;
}

static int follow_data(const char *data, size_t len, void *priv)
{
    follow_t *f = priv;
    if (f->len + len + 1 > f->cap) {
        size_t cap = (f->len + len + 1) * 2;
        char *grown = realloc(f->buf, cap);
        if (!grown)
            return 1;
        f->buf = grown;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, data, len);
    f->len += len;
    size_t start = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (f->buf[i] != '\n')
            continue;
        if (i > start && follow_line(f, f->buf + start, i - start)) {
            f->len = 0;
            return 1;
        }
        start = i + 1;
    }
    memmove(f->buf, f->buf + start, f->len - start);
    f->len -= start;
    return 0;
}

int cliw_follow(kubeclient_t *kc, const kube_resource_t *r, const char *ns, const char *name,
                double deadline, cliw_follow_fn *fn, void *priv)
{
    follow_t f = { .fn = fn, .priv = priv, .relist = 1 };
    char *base = kubeclient_path(r, ns, NULL, NULL);
    char *fs_raw = NULL, *fs = NULL, err[1024];
    int rc = -1;
    if (!base || asprintf(&fs_raw, "metadata.name=%s", name) < 0 ||
        !(fs = cli_query_escape(fs_raw)))
        goto out;
    for (;;) {
        if (f.relist) {
            char *path = NULL;
            if (asprintf(&path, "%s?fieldSelector=%s", base, fs) < 0)
                goto out;
            json_t *list = cliw_request(kc, "GET", path, NULL, NULL, NULL, 0, NULL, NULL);
            free(path);
            if (!list)
                goto out;
            const char *rv = json_str(json_object_get(list, "metadata"), "resourceVersion");
            snprintf(f.rv, sizeof(f.rv), "%s", rv ? rv : "");
            json_t *items = json_object_get(list, "items");
            f.result = fn(json_array_size(items) ? json_array_get(items, 0) : NULL, priv);
            json_decref(list);
            f.relist = 0;
            if (f.result) {
                rc = f.result > 0 ? 0 : -1;
                goto out;
            }
        }
        double left = deadline ? deadline - cliw_now() : 0;
        if (deadline && left <= 0) {
            rc = 1;
            goto out;
        }
        /* a watch of at most 5 minutes at a time, like client-go's reflector; the client
         * ends it (whole seconds: kubeclient_stream's bound) a second before the server
         * would, so the deadline is overshot by less than a second */
        int secs = deadline ? (int)ceil(left) : 300;
        if (secs > 300)
            secs = 300;
        char *path = NULL;
        long status = 0;
        if (asprintf(&path, "%s?watch=true&fieldSelector=%s&resourceVersion=%s"
                            "&timeoutSeconds=%d&allowWatchBookmarks=true", base, fs, f.rv,
                     secs + 1) < 0)
            goto out;
        f.len = 0;
        int sr = kubeclient_stream(kc, path, "application/json", secs, follow_data, &f,
                                   &status, err, sizeof(err));
        free(path);
        if (sr < 0) {
            fprintf(stderr, "error: %s\n", err);
            goto out;
        }
        if (f.result) {
            rc = f.result > 0 ? 0 : -1;
            goto out;
        }
        if (status == 410)
            f.relist = 1;
        else if (status != 200) {
            fprintf(stderr, "error: watching %s \"%s\": the server answered HTTP %ld\n",
                    r->resource, name, status);
            goto out;
        }
    }
out:
    free(f.buf);
    free(base);
    free(fs_raw);
    free(fs);
    return rc;
}
