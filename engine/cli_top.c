/* cli_top.c: `berth top node|pod`, as kubectl top prints them, from metrics.k8s.io/v1beta1
 * (served by the API server from what the node agents measure: docs/metrics.md).
 *
 *   berth top node [NAME] [-l SELECTOR] [--no-headers] [--sort-by cpu|memory]
 *   berth top pod [NAME] [-n NS | -A] [-l SELECTOR] [--containers] [--no-headers]
 *                 [--sort-by cpu|memory]
 *
 * Columns and units are kubectl's (metricsutil.TopCmdPrinter): CPU in millicores ("250m",
 * rounded up as Quantity.MilliValue does), memory in MiB ("64Mi", rounded down); node
 * percentages of the node's allocatable; a node without metrics prints <unknown>. An API
 * server without the group gets kubectl's "error: Metrics API not available". Depends on
 * cli.h, tabwriter.h, validate.h (quantities). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_write.h"
#include "tabwriter.h"
#include "util.h"
#include "validate.h"

#define METRICS_PREFIX "/apis/metrics.k8s.io/v1beta1"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth top node [NAME] [-l SELECTOR] [--sort-by cpu|memory] [--no-headers]\n"
            "       berth top pod [NAME] [-n NS | -A] [-l SELECTOR] [--containers]\n"
            "                     [--sort-by cpu|memory] [--no-headers]\n"
            "  CPU and memory in use, as the node agents measured it (metrics.k8s.io).\n");
}

typedef struct top_opts_s {
    cli_conn_t conn;
    const char *selector, *sort_by, *name;
    int all_namespaces, containers, no_headers;
} top_opts_t;

/* A quantity's value in base units; 0 for a missing or bad one. */
static long double qty(const json_t *v)
{
    long double out = 0;
    const char *err;
    if (json_is_string(v) && val_quantity_parse(json_string_value(v), &out, &err) == 0)
        return out;
    if (json_is_number(v))
        return json_number_value(v);
    return 0;
}

static long long milli_up(long double cores)
{
    return (long long)ceill(cores * 1000.0L - 1e-9L);
}

static long long mebi_down(long double bytes)
{
    return (long long)(ceill(bytes) / (1024.0L * 1024.0L));
}

/* GET path: the body on 2xx (new reference), else NULL with kubectl's error printed. */
static json_t *get(kubeclient_t *kc, const char *path)
{
    return cliw_request(kc, "GET", path, NULL, NULL, NULL, 0, NULL, NULL);
}

/* kubectl checks discovery first. 1 when the group is served, 0 when not, -1 when /apis
 * could not be read (printed). */
static int metrics_available(kubeclient_t *kc)
{
    json_t *groups = get(kc, "/apis");
    if (!groups)
        return -1;
    json_t *g;
    size_t i;
    int found = 0;
    json_array_foreach(json_object_get(groups, "groups"), i, g)
        if (json_str(g, "name") && !strcmp(json_str(g, "name"), "metrics.k8s.io"))
            found = 1;
    json_decref(groups);
    return found;
}

/* The path of a metrics GET: resource "nodes" or "pods", ns NULL for every namespace. */
static char *metrics_path(const char *resource, const char *ns, const char *name,
                          const char *selector)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs(METRICS_PREFIX, f);
    if (ns) {
        fputs("/namespaces/", f);
        cli_query_put(f, ns);
    }
    fprintf(f, "/%s", resource);
    if (name) {
        fputc('/', f);
        cli_query_put(f, name);
    }
    if (selector) {
        fputs("?labelSelector=", f);
        cli_query_put(f, selector);
    }
    fclose(f);
    return out;
}

typedef struct row_s {
    const json_t *item;
    long double cpu, mem;   /* cores, bytes */
} row_t;

static const char *sort_key;

static int by_usage(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    long double vx = !strcmp(sort_key, "cpu") ? x->cpu : x->mem;
    long double vy = !strcmp(sort_key, "cpu") ? y->cpu : y->mem;
    return vx < vy ? 1 : vx > vy ? -1 : 0;
}

static int by_name(const void *a, const void *b)
{
    const char *x = json_str(((const row_t *)a)->item, "name");
    const char *y = json_str(((const row_t *)b)->item, "name");
    return strcmp(x ? x : "", y ? y : "");
}

/* items as rows with their usage summed (pods: over containers), sorted when asked. Caller
 * frees the array. */
static row_t *rows_of(const json_t *items, int pods, const char *sort_by, size_t *n)
{
    *n = json_array_size(items);
    row_t *rows = calloc(*n ? *n : 1, sizeof(*rows));
    if (!rows)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        const json_t *it = json_array_get(items, i), *c;
        size_t j;
        rows[i].item = it;
        if (pods) {
            json_array_foreach(json_object_get(it, "containers"), j, c) {
                rows[i].cpu += qty(json_path(c, "usage.cpu"));
                rows[i].mem += qty(json_path(c, "usage.memory"));
            }
        } else {
            rows[i].cpu = qty(json_path(it, "usage.cpu"));
            rows[i].mem = qty(json_path(it, "usage.memory"));
        }
    }
    if (sort_by) {
        sort_key = sort_by;
        qsort(rows, *n, sizeof(*rows), by_usage);
    }
    return rows;
}

static int top_node(kubeclient_t *kc, const top_opts_t *o)
{
    char *path = metrics_path("nodes", NULL, o->name, o->selector);
    json_t *m = path ? get(kc, path) : NULL;
    free(path);
    if (!m)
        return 1;
    json_t *items = o->name ? json_pack("[O]", m) : json_incref(json_object_get(m, "items"));
    /* the Nodes, for allocatable and for those without metrics */
    char *npath = NULL;
    if (o->name) {
        char *e = cli_query_escape(o->name);
        if (e && asprintf(&npath, "/api/v1/nodes/%s", e) < 0)
            npath = NULL;
        free(e);
    } else {
        char *e = o->selector ? cli_query_escape(o->selector) : NULL;
        if (asprintf(&npath, "/api/v1/nodes%s%s", e ? "?labelSelector=" : "", e ? e : "") < 0)
            npath = NULL;
        free(e);
    }
    json_t *nodes = npath ? get(kc, npath) : NULL;
    free(npath);
    if (!nodes) {
        json_decref(items);
        json_decref(m);
        return 1;
    }
    json_t *node_list = o->name ? json_pack("[O]", nodes) : json_incref(json_object_get(nodes, "items"));
    size_t n, i, k;
    row_t *rows = rows_of(items, 0, o->sort_by, &n);
    tabwriter_t *tw = tabwriter_create(stdout, 6, 3, 0);
    if (!o->no_headers)
        tabwriter_puts(tw, "NAME\tCPU(cores)\tCPU%\tMEMORY(bytes)\tMEMORY%\t\n");
    for (i = 0; rows && i < n; i++) {
        const char *name = json_str(json_object_get(rows[i].item, "metadata"), "name");
        const json_t *node = NULL, *x;
        json_array_foreach(node_list, k, x)
            if (name && json_str(json_object_get(x, "metadata"), "name") &&
                !strcmp(json_str(json_object_get(x, "metadata"), "name"), name))
                node = x;
        long double acpu = qty(json_path(node, "status.allocatable.cpu"));
        long double amem = qty(json_path(node, "status.allocatable.memory"));
        long long cm = milli_up(rows[i].cpu);
        tabwriter_printf(tw, "%s\t%lldm\t%lld%%\t%lldMi\t%lld%%\t\n", name ? name : "", cm,
                         acpu > 0 ? (long long)((long double)cm / (acpu * 1000.0L) * 100.0L) : 0,
                         mebi_down(rows[i].mem),
                         amem > 0 ? (long long)(ceill(rows[i].mem) / amem * 100.0L) : 0);
    }
    /* kubectl lists the nodes without metrics after the others */
    json_t *x;
    json_array_foreach(node_list, k, x) {
        const char *name = json_str(json_object_get(x, "metadata"), "name");
        int has = 0;
        for (i = 0; rows && i < n; i++) {
            const char *mn = json_str(json_object_get(rows[i].item, "metadata"), "name");
            if (name && mn && !strcmp(name, mn))
                has = 1;
        }
        if (name && !has)
            tabwriter_printf(tw, "%s\t<unknown>\t<unknown>\t<unknown>\t<unknown>\t\n", name);
    }
    tabwriter_free(tw);
    free(rows);
    json_decref(node_list);
    json_decref(nodes);
    json_decref(items);
    json_decref(m);
    return 0;
}

static int top_pod(kubeclient_t *kc, const top_opts_t *o)
{
    const char *ns = o->all_namespaces ? NULL : kubeclient_namespace(kc);
    char *path = metrics_path("pods", ns, o->name, o->selector);
    json_t *m = path ? get(kc, path) : NULL;
    free(path);
    if (!m)
        return 1;
    json_t *items = o->name ? json_pack("[O]", m) : json_incref(json_object_get(m, "items"));
    size_t n, i, j;
    if (json_array_size(items) == 0) {
        if (ns)
            fprintf(stderr, "No resources found in %s namespace.\n", ns);
        else
            fprintf(stderr, "No resources found\n");
        json_decref(items);
        json_decref(m);
        return 0;
    }
    row_t *rows = rows_of(items, 1, o->sort_by, &n);
    tabwriter_t *tw = tabwriter_create(stdout, 6, 3, 0);
    if (!o->no_headers)
        tabwriter_printf(tw, "%s%s\tCPU(cores)\tMEMORY(bytes)\t\n",
                         o->all_namespaces ? "NAMESPACE\t" : "",
                         o->containers ? "POD\tNAME" : "NAME");
    for (i = 0; rows && i < n; i++) {
        const json_t *md = json_object_get(rows[i].item, "metadata"), *c;
        const char *pns = json_str(md, "namespace"), *pname = json_str(md, "name");
        if (!o->containers) {
            tabwriter_printf(tw, "%s%s%s\t%lldm\t%lldMi\t\n", o->all_namespaces ? (pns ? pns : "") : "",
                             o->all_namespaces ? "\t" : "", pname ? pname : "",
                             milli_up(rows[i].cpu), mebi_down(rows[i].mem));
            continue;
        }
        /* kubectl's ContainerMetricsSorter: by name, or by usage with --sort-by */
        size_t nc = json_array_size(json_object_get(rows[i].item, "containers"));
        row_t *crows = calloc(nc ? nc : 1, sizeof(*crows));
        if (!crows)
            break;
        json_array_foreach(json_object_get(rows[i].item, "containers"), j, c) {
            crows[j].item = c;
            crows[j].cpu = qty(json_path(c, "usage.cpu"));
            crows[j].mem = qty(json_path(c, "usage.memory"));
        }
        qsort(crows, nc, sizeof(*crows), o->sort_by ? by_usage : by_name);
        for (j = 0; j < nc; j++)
            tabwriter_printf(tw, "%s%s%s\t%s\t%lldm\t%lldMi\t\n",
                             o->all_namespaces ? (pns ? pns : "") : "",
                             o->all_namespaces ? "\t" : "", pname ? pname : "",
                             json_str(crows[j].item, "name") ? json_str(crows[j].item, "name") : "",
                             milli_up(crows[j].cpu), mebi_down(crows[j].mem));
        free(crows);
    }
    tabwriter_free(tw);
    free(rows);
    json_decref(items);
    json_decref(m);
    return 0;
}

int cli_top_main(int argc, char **argv)
{
    top_opts_t o = { 0 };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    int rc = 1, m;
    kubeclient_t *kc = NULL;

    if (!pos)
        return 1;
    for (int i = 1; i < argc; i++) {
        int used = cli_conn_flag(&o.conn, argc, argv, &i);
        const char *v, *a = argv[i];
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--selector", "-l", &m)) || m) {
            if (m < 0)
                goto usage_error;
            o.selector = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--sort-by", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            if (strcmp(v, "cpu") && strcmp(v, "memory")) {
                fprintf(stderr, "error: --sort-by accepts only cpu or memory\n");
                goto usage_error;
            }
            o.sort_by = v;
        } else if (cli_flag_bool(a, "--all-namespaces", "-A", &o.all_namespaces) ||
                   cli_flag_bool(a, "--containers", NULL, &o.containers) ||
                   cli_flag_bool(a, "--no-headers", NULL, &o.no_headers)) {
            continue;
        } else if ((m = cliw_other_arg(a, usage, pos, &npos))) {
            free(pos);
            return m < 0 ? 2 : 0;
        }
    }
    if (npos == 0 || npos > 2) {
        usage(stderr);
        goto usage_error;
    }
    int node = !strcmp(pos[0], "node") || !strcmp(pos[0], "nodes") || !strcmp(pos[0], "no");
    int pod = !strcmp(pos[0], "pod") || !strcmp(pos[0], "pods") || !strcmp(pos[0], "po");
    if (!node && !pod) {
        fprintf(stderr, "error: unknown command \"%s\" for \"berth top\" (node or pod)\n", pos[0]);
        goto usage_error;
    }
    o.name = npos == 2 ? pos[1] : NULL;
    if (o.name && o.selector) {
        fprintf(stderr, "error: only one of NAME or --selector can be provided\n");
        goto usage_error;
    }
    if (node && (o.containers || o.all_namespaces)) {
        fprintf(stderr, "error: --containers and -A are for pods\n");
        goto usage_error;
    }
    if (!(kc = cli_connect(&o.conn)))
        goto out;
    int avail = metrics_available(kc);
    if (avail <= 0) {
        if (avail == 0)
            fprintf(stderr, "error: Metrics API not available\n");
        goto out;
    }
    rc = node ? top_node(kc, &o) : top_pod(kc, &o);
out:
    kubeclient_free(kc);
    free(pos);
    return rc;
usage_error:
    free(pos);
    return 2;
}
