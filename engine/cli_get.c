/* cli_get.c: `berth get` and `berth version`, for people without kubectl.
 *
 * get asks the server for meta.k8s.io Tables (engine/table.c renders them, AGE included) and
 * prints them the way kubectl's table printer does: upper-cased headers, priority > 0 columns
 * only with -o wide, a NAMESPACE column with -A, LABELS with --show-labels, "kind.group/"
 * before names when several kinds are printed, a blank line between kinds, and Go's
 * tabwriter alignment (tabwriter.c) so that the bytes match. -o json|yaml|name ask for plain
 * JSON and print objects (one named object) or a v1 List (anything else), managedFields
 * left out, as kubectl does by default. -w prints the table, then the rows of the watch
 * events under it, until --request-timeout or Ctrl-C.
 *
 * Arguments as kubectl reads them: TYPE, TYPE NAME..., TYPE1,TYPE2 [NAME...], TYPE/NAME...,
 * and "all" (the resources in discovery's "all" category). Requests go out first, then
 * everything that came back is printed, then the errors (kubectl's order); any error makes
 * the exit status 1.
 *
 * Depends on cli.h/kubeclient.h (connection, discovery, requests), json_yaml.h and
 * tabwriter.h. */
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
#include "jsondump.h"

#define BERTH_CLIENT_VERSION "v0.1.0"
#define TABLE_ACCEPT                                                                         \
    "application/json;as=Table;v=v1;g=meta.k8s.io,"                                         \
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
#define CHUNK_SIZE 500

typedef enum { OUT_TABLE, OUT_WIDE, OUT_JSON, OUT_YAML, OUT_NAME } out_fmt_t;

typedef struct get_s {
    kubeclient_t *kc;
    const char *ns;              /* namespace of namespaced requests */
    out_fmt_t out;
    int all_ns, show_labels, no_headers, watch, watch_only, ignore_not_found;
    const char *selector, *field_selector;
    int timeout;                 /* --request-timeout in seconds, 0: none */
    json_t *errors;              /* array of error lines, printed after the output */
} get_t;

/* One request: a list of a resource (name NULL) or one object. */
typedef struct target_s {
    kube_resource_t r;
    const char *name;            /* borrowed from argv */
} target_t;

/* What came back for a target: a Table (table output) or an object or list. */
typedef struct info_s {
    const target_t *t;
    json_t *obj;
} info_t;

/* ------------------------------------------------------------------ small helpers */

/* "Error from server (Reason): message" or the transport failure as kubectl words it, into
 * the error list (printed after the output). */
static void add_error(get_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(get_t *g, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    json_array_append_new(g->errors, json_string(line));
}

/* GET path as JSON with accept; on success the body (new reference) with *status 2xx. On
 * failure NULL with the error line added to g->errors (404s dropped with
 * --ignore-not-found). */
static json_t *get_json(get_t *g, const char *path, const char *accept, const target_t *list)
{
    char err[1024], line[1200];
    char *resp = NULL;
    size_t len = 0;
    long status = 0;
    json_error_t jerr;
    if (kubeclient_request(g->kc, "GET", path, NULL, NULL, 0, accept, &status, &resp, &len, err,
                           sizeof(err)) < 0) {
        cli_conn_error_line(g->kc, err, line, sizeof(line));
        add_error(g, "%s", line);
        return NULL;
    }
    json_t *body = jsonload(resp, len, 0, &jerr);
    free(resp);
    if (status < 200 || status > 299) {
        if (!(status == 404 && g->ignore_not_found)) {
            /* cli-runtime's EnhanceListError: say what was listed */
            const char *msg = json_str(body, "message");
            if (list && msg && (status == 400 || status == 404)) {
                char subj[400], enhanced[1500];
                snprintf(subj, sizeof(subj), "%s/%s, Resource=%s", list->r.group,
                         list->r.version, list->r.resource);
                if (!g->selector && !g->field_selector)
                    snprintf(enhanced, sizeof(enhanced), "Unable to list \"%s\": %s", subj, msg);
                else
                    snprintf(enhanced, sizeof(enhanced),
                             "Unable to find \"%s\" that match label selector \"%s\", field "
                             "selector \"%s\": %s", subj, g->selector ? g->selector : "",
                             g->field_selector ? g->field_selector : "", msg);
                json_object_set_new(body, "message", json_string(enhanced));
            }
            cli_status_error_line(body, status, line, sizeof(line));
            add_error(g, "%s", line);
        }
        json_decref(body);
        return NULL;
    }
    if (!json_is_object(body)) {
        add_error(g, "error: GET %s: the server answered HTTP %ld with a body that is not a JSON "
                     "object", path, status);
        json_decref(body);
        return NULL;
    }
    return body;
}

static int same_resource(const kube_resource_t *a, const kube_resource_t *b)
{
    return !strcmp(a->group, b->group) && !strcmp(a->resource, b->resource);
}

/* ------------------------------------------------------------------ arguments */

/* "5s", "1m", "2h", "30" (seconds), "0": seconds, or -1. */
static int parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    if (!*end || !strcmp(end, "s"))
        return (int)ceil(v);
    if (!strcmp(end, "ms"))
        return (int)ceil(v / 1000);
    if (!strcmp(end, "m"))
        return (int)(v * 60);
    if (!strcmp(end, "h"))
        return (int)(v * 3600);
    return -1;
}

/* Resources of discovery's "all" category, in discovery order (what kubectl expands "all"
 * to). Appends to *targets; -1 with err set when discovery fails. */
static int expand_all(get_t *g, target_t **targets, size_t *n, char *err, size_t errlen)
{
    long status;
    json_t *groups = kubeclient_json(g->kc, "GET", "/apis", NULL, NULL, &status, err, errlen);
    json_t *paths = json_array();
    json_t *g1, *gv;
    size_t i;
    if (!groups)
        goto failed;
    json_array_append_new(paths, json_string("/api/v1"));
    json_array_foreach(json_object_get(groups, "groups"), i, g1) {
        const char *v = json_str(json_object_get(g1, "preferredVersion"), "groupVersion");
        if (v) {
            char p[300];
            snprintf(p, sizeof(p), "/apis/%s", v);
            json_array_append_new(paths, json_string(p));
        }
    }
    json_decref(groups);
    json_array_foreach(paths, i, gv) {
        json_t *doc = kubeclient_json(g->kc, "GET", json_string_value(gv), NULL, NULL, &status,
                                      err, errlen);
        json_t *res;
        size_t j;
        if (!doc)
            goto failed;
        const char *gvs = json_str(doc, "groupVersion");
        json_array_foreach(json_object_get(doc, "resources"), j, res) {
            const char *name = json_str(res, "name");
            json_t *cat;
            size_t k;
            int in_all = 0;
            json_array_foreach(json_object_get(res, "categories"), k, cat)
                in_all |= json_is_string(cat) && !strcmp(json_string_value(cat), "all");
            if (!in_all || !name || strchr(name, '/') || !gvs)
                continue;
            target_t *nt = realloc(*targets, (*n + 1) * sizeof(*nt));
            if (!nt) {
                json_decref(doc);
                snprintf(err, errlen, "out of memory");
                goto failed;
            }
            *targets = nt;
            target_t *t = &nt[(*n)++];
            memset(t, 0, sizeof(*t));
            const char *slash = strchr(gvs, '/');
            if (slash) {
                snprintf(t->r.group, sizeof(t->r.group), "%.*s", (int)(slash - gvs), gvs);
                snprintf(t->r.version, sizeof(t->r.version), "%s", slash + 1);
            } else
                snprintf(t->r.version, sizeof(t->r.version), "%s", gvs);
            snprintf(t->r.resource, sizeof(t->r.resource), "%s", name);
            snprintf(t->r.kind, sizeof(t->r.kind), "%s", json_str(res, "kind") ? json_str(res, "kind") : "");
            snprintf(t->r.singular, sizeof(t->r.singular), "%s",
                     json_str(res, "singularName") ? json_str(res, "singularName") : "");
            t->r.namespaced = json_is_true(json_object_get(res, "namespaced"));
        }
        json_decref(doc);
    }
    json_decref(paths);
    return 0;
failed:
    json_decref(paths);
    return -1;
}

static int add_target(target_t **targets, size_t *n, const kube_resource_t *r, const char *name)
{
    target_t *nt = realloc(*targets, (*n + 1) * sizeof(*nt));
    if (!nt)
        return -1;
    *targets = nt;
    nt[*n].r = *r;
    nt[*n].name = name;
    (*n)++;
    return 0;
}

/* Resolve one comma-separated list of types ("pods,svc", "all") into targets with names. */
static int resolve_types(get_t *g, const char *types, const char *const *names, size_t nnames,
                         target_t **targets, size_t *n, char *err, size_t errlen)
{
    char *copy = strdup(types), *save = NULL;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all")) {
            size_t before = *n;
            if (expand_all(g, targets, n, err, errlen) < 0) {
                free(copy);
                return -1;
            }
            if (nnames) {
                /* all NAME: each expanded type with each name */
                size_t added = *n - before;
                target_t *exp = malloc((added ? added : 1) * sizeof(*exp));
                if (!exp) {
                    free(copy);
                    return -1;
                }
                memcpy(exp, *targets + before, added * sizeof(*exp));
                *n = before;
                for (size_t i = 0; i < added; i++)
                    for (size_t j = 0; j < nnames; j++)
                        add_target(targets, n, &exp[i].r, names[j]);
                free(exp);
            }
            continue;
        }
        kube_resource_t r;
        if (kubeclient_resolve(g->kc, tok, &r, err, errlen) < 0) {
            free(copy);
            return -1;
        }
        if (!nnames)
            add_target(targets, n, &r, NULL);
        for (size_t j = 0; j < nnames; j++)
            add_target(targets, n, &r, names[j]);
    }
    free(copy);
    return 0;
}

/* ------------------------------------------------------------------ requests */

/* The path of a target's request: the object, or the list with the selectors and limit. */
static char *target_path(get_t *g, const target_t *t, const char *cont, int watch,
                         const char *rv)
{
    int list = !t->name;
    return cli_get_path(&t->r, g->all_ns && list ? NULL : g->ns, t->name,
                        list ? g->selector : NULL, list ? g->field_selector : NULL,
                        list && !watch ? CHUNK_SIZE : 0, cont, watch ? (rv ? rv : "0") : NULL);
}

/* kubectl's default printer for a response that is not a Table: NAME and AGE. */
static json_t *table_from_objects(const json_t *obj)
{
    json_t *table = json_pack("{s:s,s:s,s:{s:O},s:[{s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:i}],s:[]}",
                              "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata",
                              "resourceVersion", json_path(obj, "metadata.resourceVersion")
                                                     ? json_path(obj, "metadata.resourceVersion")
                                                     : json_null(),
                              "columnDefinitions", "name", "Name", "type", "string", "format",
                              "name", "priority", 0, "name", "Age", "type", "string", "format",
                              "", "priority", 0, "rows");
    json_t *items = json_object_get(obj, "items"), *single = NULL, *it;
    size_t i;
    if (!table)
        return NULL;
    if (!json_is_array(items)) {
        single = json_pack("[O]", obj);
        items = single;
    }
    json_array_foreach(items, i, it) {
        char age[32] = "<unknown>";
        const char *ts = json_str(json_object_get(it, "metadata"), "creationTimestamp");
        time_t t = ts ? util_parse_rfc3339(ts) : -1;
        if (t != (time_t)-1)
            cli_human_duration((long long)(time(NULL) - t), age, sizeof(age));
        json_array_append_new(json_object_get(table, "rows"),
                              json_pack("{s:[s,s],s:{s:O}}", "cells",
                                        json_str(json_object_get(it, "metadata"), "name")
                                            ? json_str(json_object_get(it, "metadata"), "name")
                                            : "",
                                        age, "object", "metadata",
                                        json_object_get(it, "metadata")));
    }
    json_decref(single);
    return table;
}

/* Fetch one target, following continue tokens; appends one info per page. */
static void fetch_target(get_t *g, const target_t *t, info_t **infos, size_t *n)
{
    int table = g->out == OUT_TABLE || g->out == OUT_WIDE;
    char *cont = NULL;
    for (;;) {
        char *path = target_path(g, t, cont, 0, NULL);
        json_t *obj = path ? get_json(g, path, table ? TABLE_ACCEPT : "application/json",
                                      t->name ? NULL : t)
                           : NULL;
        free(path);
        free(cont);
        cont = NULL;
        if (!obj)
            return;
        if (table) {
            const char *kind = json_str(obj, "kind");
            if (!kind || strcmp(kind, "Table")) {
                json_t *tb = table_from_objects(obj);
                json_decref(obj);
                if (!tb)
                    return;
                obj = tb;
            }
        }
        info_t *ni = realloc(*infos, (*n + 1) * sizeof(*ni));
        if (!ni) {
            json_decref(obj);
            return;
        }
        *infos = ni;
        ni[*n].t = t;
        ni[*n].obj = obj;
        (*n)++;
        const char *c = json_str(json_object_get(obj, "metadata"), "continue");
        if (t->name || !c || !*c)
            return;
        cont = strdup(c);
        if (!cont)
            return;
    }
}

/* ------------------------------------------------------------------ the table printer */

typedef struct tprinter_s {
    tabwriter_t *tw;
    const kube_resource_t *mapping;  /* the kind being printed */
    json_t *columns;                 /* the columnDefinitions printed last (owned) */
    int printed_headers;
    int with_kind;
    size_t extra_written;            /* separators written around the tabwriter */
} tprinter_t;

static void put_cell(tabwriter_t *tw, const json_t *cell)
{
    char num[64];
    switch (json_typeof(cell)) {
    case JSON_STRING: {
        const char *s = json_string_value(cell);
        size_t n = json_string_length(cell), cut = strcspn(s, "\f\n\r");
        int truncated = cut < n;
        for (size_t i = 0; i < (truncated ? cut : n); i++) {
            if (s[i] == '\x1b')
                tabwriter_write(tw, "^[", 2);
            else
                tabwriter_write(tw, s + i, 1);
        }
        if (truncated)
            tabwriter_write(tw, "...", 3);
        return;
    }
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(cell));
        tabwriter_puts(tw, num);
        return;
    case JSON_REAL:
        json_yaml_go_float(json_real_value(cell), 'v', num, sizeof(num));
        tabwriter_puts(tw, num);
        return;
    case JSON_TRUE:
        tabwriter_puts(tw, "true");
        return;
    case JSON_FALSE:
        tabwriter_puts(tw, "false");
        return;
    case JSON_NULL:
        return;
    default: {
        char *s = jsondump(cell, JSON_COMPACT);
        if (s)
            tabwriter_puts(tw, s);
        free(s);
    }
    }
}

/* "k=v,k2=v2" sorted by key, or "<none>" (labels.FormatLabels). */
static void put_labels(tabwriter_t *tw, const json_t *labels)
{
    size_t n = json_object_size(labels), i = 0;
    const char *key;
    json_t *v;
    if (!n) {
        tabwriter_puts(tw, "<none>");
        return;
    }
    const char **keys = malloc(n * sizeof(*keys));
    if (!keys)
        return;
    json_object_foreach((json_t *)labels, key, v)
        keys[i++] = key;
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *tmp = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = tmp;
        }
    for (i = 0; i < n; i++)
        tabwriter_printf(tw, "%s%s=%s", i ? "," : "", keys[i],
                         json_str(labels, keys[i]) ? json_str(labels, keys[i]) : "");
    free(keys);
}

static int column_visible(const get_t *g, const json_t *col)
{
    return g->out == OUT_WIDE || json_integer_value(json_object_get(col, "priority")) == 0;
}

/* Print one Table (kubectl's HumanReadablePrinter.PrintObj + decorateTable + printTable). */
static void print_table(get_t *g, tprinter_t *p, const kube_resource_t *r, json_t *table)
{
    json_t *cols = json_object_get(table, "columnDefinitions");
    json_t *rows = json_object_get(table, "rows"), *col, *row;
    int no_headers = g->no_headers;
    int with_ns = g->all_ns && r->namespaced;
    size_t i, name_col = (size_t)-1;
    char prefix[300];
    if (p->printed_headers && (!json_array_size(cols) || json_equal(cols, p->columns)))
        no_headers = 1;
    if (!json_array_size(cols))
        cols = p->columns;
    else if (!json_equal(cols, p->columns)) {
        json_decref(p->columns);
        p->columns = json_incref(cols);
        p->printed_headers = 0;
    }
    if (!json_array_size(rows))
        return;
    p->printed_headers = 1;
    cli_kind_string(r, prefix, sizeof(prefix));
    if (p->with_kind)
        json_array_foreach(cols, i, col) {
            const char *fmt = json_str(col, "format"), *type = json_str(col, "type");
            if (fmt && type && !strcmp(fmt, "name") && !strcmp(type, "string")) {
                name_col = i;
                break;
            }
        }
    if (!no_headers) {
        int first = 1;
        if (with_ns) {
            tabwriter_puts(p->tw, "NAMESPACE");
            first = 0;
        }
        json_array_foreach(cols, i, col) {
            if (!column_visible(g, col))
                continue;
            if (!first)
                tabwriter_puts(p->tw, "\t");
            first = 0;
            for (const char *c = json_str(col, "name") ? json_str(col, "name") : ""; *c; c++) {
                char up = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
                tabwriter_write(p->tw, &up, 1);
            }
        }
        if (g->show_labels)
            tabwriter_puts(p->tw, first ? "LABELS" : "\tLABELS");
        tabwriter_puts(p->tw, "\n");
    }
    json_array_foreach(rows, i, row) {
        json_t *cells = json_object_get(row, "cells"), *meta = json_path(row, "object.metadata");
        size_t c;
        int first = 1;
        if (with_ns) {
            tabwriter_puts(p->tw, json_str(meta, "namespace") ? json_str(meta, "namespace") : "");
            first = 0;
        }
        json_array_foreach(cells, c, col) {
            if (c >= json_array_size(cols))
                break;
            if (!column_visible(g, json_array_get(cols, c)))
                continue;
            if (!first)
                tabwriter_puts(p->tw, "\t");
            first = 0;
            if (c == name_col && json_is_string(col))
                tabwriter_printf(p->tw, "%s/%s", prefix, json_string_value(col));
            else
                put_cell(p->tw, col);
        }
        if (g->show_labels) {
            if (!first)
                tabwriter_puts(p->tw, "\t");
            put_labels(p->tw, json_object_get(meta, "labels"));
        }
        tabwriter_puts(p->tw, "\n");
    }
}

/* Switch the printer to another kind: flush, forget widths, and arm the blank line that
 * separates kinds once something has been printed. */
static void printer_switch(get_t *g, tprinter_t *p, const kube_resource_t *r, int *sep_ready)
{
    if (p->mapping && same_resource(p->mapping, r))
        return;
    tabwriter_flush(p->tw);
    tabwriter_forget_widths(p->tw);
    if (p->mapping && !g->no_headers && tabwriter_written(p->tw) + p->extra_written > 0)
        *sep_ready = 1;
    json_decref(p->columns);
    p->columns = NULL;
    p->printed_headers = 0;
    p->mapping = r;
}

static int table_has_rows(const json_t *table)
{
    return json_array_size(json_object_get(table, "rows")) > 0;
}

/* ------------------------------------------------------------------ generic output */

/* An object fit for -o json|yaml: kind and apiVersion set, managedFields dropped. New ref. */
static json_t *printable_object(const json_t *obj, const kube_resource_t *r)
{
    json_t *o = cli_typed_copy(obj, r);
    if (!o)
        return NULL;
    json_t *meta = json_object_get(o, "metadata");
    if (json_is_object(meta))
        json_object_del(meta, "managedFields");
    return o;
}

static void print_name(const kube_resource_t *r, const json_t *obj)
{
    char prefix[300];
    cli_kind_string(r, prefix, sizeof(prefix));
    printf("%s/%s\n", prefix, json_str(json_object_get(obj, "metadata"), "name")
                                  ? json_str(json_object_get(obj, "metadata"), "name")
                                  : "");
}

/* Print one object (or the List) as -o json or -o yaml; *count numbers the YAML documents
 * ("---" between them, as kubectl's YAML printer does). */
static int print_doc(get_t *g, const json_t *obj, int *count)
{
    char err[256];
    char *text = g->out == OUT_JSON ? json_yaml_go_json(obj)
                                    : json_yaml_dump(obj, JSON_YAML_SORT_KEYS, NULL, err,
                                                     sizeof(err));
    if (!text) {
        fprintf(stderr, "error: %s\n", g->out == OUT_JSON ? "out of memory" : err);
        return -1;
    }
    if (g->out == OUT_YAML && (*count)++ > 0)
        fputs("---\n", stdout);
    fputs(text, stdout);
    free(text);
    return 0;
}

/* kubectl's printGeneric: one named object alone, anything else as a List. */
static int print_generic(get_t *g, info_t *infos, size_t n, int single_implied)
{
    int count = 0, rc = 0;
    if (g->out == OUT_NAME) {
        for (size_t i = 0; i < n; i++) {
            json_t *items = json_object_get(infos[i].obj, "items"), *it;
            size_t j;
            if (!json_is_array(items))
                print_name(&infos[i].t->r, infos[i].obj);
            else
                json_array_foreach(items, j, it)
                    print_name(&infos[i].t->r, it);
        }
        return 0;
    }
    if (single_implied && n == 1 && !json_is_array(json_object_get(infos[0].obj, "items"))) {
        json_t *o = printable_object(infos[0].obj, &infos[0].t->r);
        rc = o ? print_doc(g, o, &count) : -1;
        json_decref(o);
        return rc;
    }
    json_t *list = json_pack("{s:s,s:[],s:s,s:{s:s}}", "apiVersion", "v1", "items", "kind",
                             "List", "metadata", "resourceVersion", "");
    if (!list)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *items = json_object_get(infos[i].obj, "items"), *it;
        size_t j;
        if (!json_is_array(items))
            json_array_append_new(json_object_get(list, "items"),
                                  printable_object(infos[i].obj, &infos[i].t->r));
        else
            json_array_foreach(items, j, it)
                json_array_append_new(json_object_get(list, "items"),
                                      printable_object(it, &infos[i].t->r));
    }
    rc = print_doc(g, list, &count);
    json_decref(list);
    return rc;
}

/* ------------------------------------------------------------------ watch */

typedef struct watch_ctx_s {
    get_t *g;
    tprinter_t *p;
    const target_t *t;
    char *line;
    size_t len, cap;
    int suppress_first;   /* a watch of one object opens with a synthetic ADDED */
    int yaml_count;
    int failed;
} watch_ctx_t;

static void watch_event(watch_ctx_t *w, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *ev = jsonload(text, len, 0, &jerr);
    json_t *obj = json_object_get(ev, "object");
    const char *type = json_str(ev, "type");
    if (!ev || !json_is_object(obj) || !type) {
        json_decref(ev);
        return;
    }
    if (!strcmp(type, "ERROR")) {
        cli_print_error(obj, 0);
        w->failed = 1;
    } else if (!strcmp(type, "BOOKMARK")) {
        /* nothing to print */
    } else if (w->suppress_first) {
        w->suppress_first = 0;
    } else if (w->g->out == OUT_TABLE || w->g->out == OUT_WIDE) {
        const char *kind = json_str(obj, "kind");
        json_t *table = kind && !strcmp(kind, "Table") ? json_incref(obj) : table_from_objects(obj);
        if (table) {
            print_table(w->g, w->p, &w->t->r, table);
            tabwriter_flush(w->p->tw);
        }
        json_decref(table);
    } else if (w->g->out == OUT_NAME) {
        print_name(&w->t->r, obj);
    } else {
        json_t *o = printable_object(obj, &w->t->r);
        if (o)
            print_doc(w->g, o, &w->yaml_count);
        json_decref(o);
    }
    fflush(stdout);
    json_decref(ev);
}

static int watch_data(const char *data, size_t len, void *priv)
{
    watch_ctx_t *w = priv;
    if (w->len + len + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 65536;
        while (cap < w->len + len + 1)
            cap *= 2;
        char *nl = realloc(w->line, cap);
        if (!nl)
            return 1;
        w->line = nl;
        w->cap = cap;
    }
    memcpy(w->line + w->len, data, len);
    w->len += len;
    size_t start = 0;
    for (size_t i = 0; i < w->len; i++) {
        if (w->line[i] != '\n')
            continue;
        if (i > start)
            watch_event(w, w->line + start, i - start);
        start = i + 1;
    }
    memmove(w->line, w->line + start, w->len - start);
    w->len -= start;
    return w->failed;
}

/* get -w: the list (or the object), then its changes as they come. */
static int run_watch(get_t *g, target_t *targets, size_t nt)
{
    info_t *infos = NULL;
    size_t ninfos = 0;
    int rc = 0;
    for (size_t i = 1; i < nt; i++)
        if (!same_resource(&targets[0].r, &targets[i].r) ||
            (targets[i].name == NULL) != (targets[0].name == NULL)) {
            fprintf(stderr, "error: watch is only supported on individual resources and "
                            "resource collections - more than 1 resource was found\n");
            return 1;
        }
    if (nt > 1) {
        fprintf(stderr, "error: watch is only supported on individual resources and resource "
                        "collections - more than 1 resource was found\n");
        return 1;
    }
    const target_t *t = &targets[0];
    fetch_target(g, t, &infos, &ninfos);
    if (json_array_size(g->errors)) {
        for (size_t i = 0; i < ninfos; i++)
            json_decref(infos[i].obj);
        free(infos);
        return 1;
    }
    tprinter_t p = { 0 };
    p.tw = tabwriter_create(stdout, 6, 3, 1);
    watch_ctx_t w = { 0 };
    w.g = g;
    w.p = &p;
    w.t = t;
    w.suppress_first = t->name != NULL;
    int table = g->out == OUT_TABLE || g->out == OUT_WIDE;
    const char *rv = "0";
    if (ninfos) {
        json_t *last = infos[ninfos - 1].obj;
        if (!t->name && json_str(json_object_get(last, "metadata"), "resourceVersion"))
            rv = json_str(json_object_get(last, "metadata"), "resourceVersion");
        if (!g->watch_only) {
            if (table) {
                p.mapping = &t->r;
                for (size_t i = 0; i < ninfos; i++)
                    print_table(g, &p, &t->r, infos[i].obj);
                tabwriter_flush(p.tw);
            } else {
                for (size_t i = 0; i < ninfos; i++) {
                    json_t *items = json_object_get(infos[i].obj, "items"), *it;
                    size_t j;
                    if (!json_is_array(items))
                        items = json_pack("[O]", infos[i].obj);
                    else
                        json_incref(items);
                    json_array_foreach(items, j, it) {
                        if (g->out == OUT_NAME)
                            print_name(&t->r, it);
                        else {
                            json_t *o = printable_object(it, &t->r);
                            if (o)
                                print_doc(g, o, &w.yaml_count);
                            json_decref(o);
                        }
                    }
                    json_decref(items);
                }
            }
            fflush(stdout);
        }
    }
    /* the watch: a list's from its resourceVersion, one object's by name from "now" */
    target_t wt = *t;
    get_t wg = *g;
    char fs[600];
    if (t->name) {
        snprintf(fs, sizeof(fs), "metadata.name=%s", t->name);
        wg.field_selector = fs;
        wt.name = NULL;
    }
    char *path = target_path(&wg, &wt, NULL, 1, rv);
    char err[1024];
    long status = 0;
    if (path && kubeclient_stream(g->kc, path, table ? TABLE_ACCEPT : "application/json",
                                  g->timeout, watch_data, &w, &status, err, sizeof(err)) < 0) {
        cli_print_conn_error(g->kc, err);
        rc = 1;
    } else if (status && (status < 200 || status > 299)) {
        json_error_t jerr;
        json_t *body = jsonload(w.line ? w.line : "", w.len, 0, &jerr);
        cli_print_error(body, status);
        json_decref(body);
        rc = 1;
    }
    if (w.failed)
        rc = 1;
    free(path);
    free(w.line);
    tabwriter_free(p.tw);
    json_decref(p.columns);
    for (size_t i = 0; i < ninfos; i++)
        json_decref(infos[i].obj);
    free(infos);
    return rc;
}

/* ------------------------------------------------------------------ get */

static void get_usage(FILE *f)
{
    fputs("Usage: berth get TYPE[,TYPE...] [NAME...] | TYPE/NAME... | all [flags]\n"
          "  -n, --namespace NS        the namespace (default: the kubeconfig's, or default)\n"
          "  -A, --all-namespaces      list across all namespaces\n"
          "  -l, --selector SEL        label selector (app=web, tier in (fe,be), !canary)\n"
          "      --field-selector SEL  field selector (metadata.name=x, status.phase!=Failed)\n"
          "  -o, --output FMT          wide, json, yaml or name\n"
          "      --show-labels         add a LABELS column\n"
          "      --no-headers          no header line\n"
          "  -w, --watch               keep printing changes (--watch-only: only the changes)\n"
          "      --request-timeout D   bound the watch (5s, 1m)\n"
          "      --ignore-not-found    no error for objects that do not exist\n"
          "  -s, --server URL  --kubeconfig PATH  --context NAME\n",
          f);
}

int cli_get_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    get_t g = { 0 };
    const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    int rc = 1;
    target_t *targets = NULL;
    size_t nt = 0;
    info_t *infos = NULL;
    size_t ninfos = 0;
    char err[1024];
    if (!pos)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int used = cli_conn_flag(&conn, argc, argv, &i), m, dummy;
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            get_usage(stdout);
            free(pos);
            return 0;
        }
        if (cli_flag_bool(a, "--all-namespaces", "-A", &g.all_ns) ||
            cli_flag_bool(a, "--show-labels", NULL, &g.show_labels) ||
            cli_flag_bool(a, "--no-headers", NULL, &g.no_headers) ||
            cli_flag_bool(a, "--watch", "-w", &g.watch) ||
            cli_flag_bool(a, "--ignore-not-found", NULL, &g.ignore_not_found))
            continue;
        if (cli_flag_bool(a, "--watch-only", NULL, &g.watch_only)) {
            g.watch |= g.watch_only;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--output", "-o", &m)) || m) {
            if (m < 0)
                goto usage_error;
            if (!strcmp(v, "wide"))
                g.out = OUT_WIDE;
            else if (!strcmp(v, "json"))
                g.out = OUT_JSON;
            else if (!strcmp(v, "yaml"))
                g.out = OUT_YAML;
            else if (!strcmp(v, "name"))
                g.out = OUT_NAME;
            else {
                fprintf(stderr, "error: unable to match a printer suitable for the output format "
                                "\"%s\", allowed formats are: json,name,wide,yaml\n", v);
                free(pos);
                return 1;
            }
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--selector", "-l", &m)) || m) {
            if (m < 0)
                goto usage_error;
            g.selector = v;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--field-selector", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            g.field_selector = v;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--request-timeout", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            if ((g.timeout = parse_duration(v)) < 0) {
                fprintf(stderr, "error: invalid duration \"%s\" for --request-timeout\n", v);
                goto usage_error;
            }
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--chunk-size", NULL, &dummy)) || dummy) {
            if (dummy < 0)
                goto usage_error;
            continue;   /* accepted for kubectl compatibility; pages are always 500 */
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown flag: %s\nSee 'berth get --help' for usage.\n", a);
            goto usage_error;
        }
        pos[npos++] = a;
    }
    if (!npos) {
        fprintf(stderr, "You must specify the type of resource to get. Use \"berth get all\" to "
                        "list the common ones.\n\nerror: Required resource not specified.\n"
                        "See 'berth get --help' for usage.\n");
        free(pos);
        return 1;
    }

    if (g.timeout > 0 && !g.watch)
        conn.opts.timeout_seconds = g.timeout;   /* kubectl bounds every request with it */
    g.kc = cli_connect(&conn);
    if (!g.kc) {
        free(pos);
        return 1;
    }
    g.ns = kubeclient_namespace(g.kc);
    g.errors = json_array();

    /* TYPE/NAME... or TYPE[,TYPE] [NAME...] */
    size_t slashes = 0;
    for (size_t i = 0; i < npos; i++)
        slashes += strchr(pos[i], '/') != NULL;
    int single_implied = 0;
    if (slashes && slashes != npos) {
        fprintf(stderr, "error: there is no need to specify a resource type as a separate "
                        "argument when passing arguments in resource/name form (e.g. 'berth get "
                        "resource/<resource_name>' instead of 'berth get resource "
                        "resource/<resource_name>'\n");
        goto out;
    }
    if ((slashes || npos > 1) && (g.selector || g.field_selector)) {
        fprintf(stderr, "error: name cannot be provided when a selector is specified\n");
        goto out;
    }
    if ((slashes || npos > 1) && g.all_ns) {
        fprintf(stderr, "error: a resource cannot be retrieved by name across all namespaces\n");
        goto out;
    }
    if (slashes) {
        for (size_t i = 0; i < npos; i++) {
            const char *slash = strchr(pos[i], '/');
            char type[256];
            snprintf(type, sizeof(type), "%.*s", (int)(slash - pos[i]), pos[i]);
            if (!slash[1]) {
                fprintf(stderr, "error: arguments in resource/name form must have a single "
                                "resource and name\n");
                goto out;
            }
            const char *names[1] = { slash + 1 };
            if (resolve_types(&g, type, names, 1, &targets, &nt, err, sizeof(err)) < 0)
                goto resolve_failed;
        }
        single_implied = npos == 1 && !strchr(pos[0], ',') && nt == 1;
    } else {
        if (resolve_types(&g, pos[0], pos + 1, npos - 1, &targets, &nt, err, sizeof(err)) < 0)
            goto resolve_failed;
        single_implied = npos == 2 && nt == 1;
    }
    if (!nt) {
        rc = 0;
        if (g.out == OUT_TABLE || g.out == OUT_WIDE)
            fprintf(stderr, "No resources found\n");
        goto out;
    }

    if (g.watch) {
        rc = run_watch(&g, targets, nt);
        goto out_quiet;
    }

    for (size_t i = 0; i < nt; i++)
        fetch_target(&g, &targets[i], &infos, &ninfos);

    if (g.out == OUT_TABLE || g.out == OUT_WIDE) {
        tprinter_t p = { 0 };
        int sep_ready = 0, all_namespaced = !g.all_ns;
        p.tw = tabwriter_create(stdout, 6, 3, 1);
        for (size_t i = 1; i < ninfos; i++)
            if (!same_resource(&infos[i].t->r, &infos[0].t->r))
                p.with_kind = 1;
        for (size_t i = 0; i < ninfos; i++) {
            const kube_resource_t *r = &infos[i].t->r;
            all_namespaced = all_namespaced && r->namespaced;
            printer_switch(&g, &p, r, &sep_ready);
            if (sep_ready && table_has_rows(infos[i].obj)) {
                fputc('\n', stdout);
                p.extra_written++;
                sep_ready = 0;
            }
            print_table(&g, &p, r, infos[i].obj);
        }
        tabwriter_flush(p.tw);
        if (tabwriter_written(p.tw) + p.extra_written == 0 && !g.ignore_not_found &&
            !json_array_size(g.errors)) {
            if (all_namespaced)
                fprintf(stderr, "No resources found in %s namespace.\n", g.ns);
            else
                fprintf(stderr, "No resources found\n");
        }
        tabwriter_free(p.tw);
        json_decref(p.columns);
    } else if (!(single_implied && json_array_size(g.errors)) || ninfos) {
        if (print_generic(&g, infos, ninfos, single_implied) < 0)
            json_array_append_new(g.errors, json_string("error: cannot print the output"));
    }
    fflush(stdout);
    {
        size_t i;
        json_t *e;
        json_array_foreach(g.errors, i, e)
            fprintf(stderr, "%s\n", json_string_value(e));
    }
    rc = json_array_size(g.errors) ? 1 : 0;
    goto out_quiet;

resolve_failed:
    cli_print_resolve_error(g.kc, err);
    goto out;
usage_error:
    free(pos);
    return 2;
out:
    rc = 1;
out_quiet:
    for (size_t i = 0; i < ninfos; i++)
        json_decref(infos[i].obj);
    free(infos);
    free(targets);
    json_decref(g.errors);
    kubeclient_free(g.kc);
    free(pos);
    return rc;
}

/* ------------------------------------------------------------------ version */

int cli_version_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    int client_only = 0, rc = 0;
    out_fmt_t out = OUT_TABLE;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int used = cli_conn_flag(&conn, argc, argv, &i), m;
        if (used < 0)
            return 2;
        if (used || cli_flag_bool(argv[i], "--client", NULL, &client_only))
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--output", "-o", &m)) || m) {
            if (m < 0)
                return 2;
            if (!strcmp(v, "json"))
                out = OUT_JSON;
            else if (!strcmp(v, "yaml"))
                out = OUT_YAML;
            else {
                fprintf(stderr, "error: --output must be 'yaml' or 'json'\n");
                return 1;
            }
            continue;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("Usage: berth version [--client] [-o json|yaml] [-s URL | --kubeconfig PATH]");
            return 0;
        }
        fprintf(stderr, "error: unknown flag: %s\n", argv[i]);
        return 2;
    }
    json_t *client = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "major", "0", "minor", "1",
                               "gitVersion", BERTH_CLIENT_VERSION, "gitTreeState", "clean",
                               "compiler", "gcc", "platform", "linux/amd64");
    json_t *server = NULL;
    char line[1200] = "";
    if (!client_only) {
        kubeclient_t *kc = cli_connect(&conn);
        char err[1024];
        long status = 0;
        if (!kc) {
            json_decref(client);
            return 1;
        }
        server = kubeclient_json(kc, "GET", "/version", NULL, NULL, &status, err, sizeof(err));
        if (!server && !status)
            cli_conn_error_line(kc, err, line, sizeof(line));
        else if (!server)
            snprintf(line, sizeof(line), "error: %s", err);
        else if (status != 200) {
            cli_status_error_line(server, status, line, sizeof(line));
            json_decref(server);
            server = NULL;
        }
        kubeclient_free(kc);
    }
    if (out == OUT_TABLE) {
        printf("Client Version: %s (berth)\n", BERTH_CLIENT_VERSION);
        if (server)
            printf("Server Version: %s\n", json_str(server, "gitVersion") ? json_str(server, "gitVersion") : "");
    } else {
        json_t *doc = json_pack("{s:O}", "clientVersion", client);
        char e2[256];
        if (server)
            json_object_set(doc, "serverVersion", server);
        char *text = out == OUT_JSON ? json_yaml_go_json(doc)
                                     : json_yaml_dump(doc, JSON_YAML_SORT_KEYS, NULL, e2, sizeof(e2));
        if (text)
            fputs(text, stdout);
        free(text);
        json_decref(doc);
    }
    fflush(stdout);
    if (*line) {
        fprintf(stderr, "%s\n", line);
        rc = 1;
    }
    json_decref(client);
    json_decref(server);
    return rc;
}
