/* api_metrics.c: metrics.k8s.io/v1beta1, the Resource Metrics API `kubectl top` reads, served
 * the way metrics-server serves it, but from inside the API server and from memory.
 *
 *   GET /apis/metrics.k8s.io/v1beta1/nodes[/NAME]                      NodeMetrics(List)
 *   GET /apis/metrics.k8s.io/v1beta1/pods                              PodMetricsList, all namespaces
 *   GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods[/NAME]         PodMetrics(List)
 *
 * The scraper: every --metrics-resolution seconds a round lists the Nodes (through the list
 * cache, as any list) and sends GET /stats/summary to the agent of each Ready one (found as
 * pods/log finds it, api_log.c), at most SCRAPE_PARALLEL at a time, each bounded by
 * SCRAPE_TIMEOUT_S and SCRAPE_MAX_BODY. An answer that parses replaces the node's entry in
 * the cache; a node that fails SCRAPE_MAX_MISSES rounds in a row loses it, and a node that is
 * gone loses it at once. A round starts only when the previous one is over. Nothing is
 * stored in Redis, and with several API servers each scrapes on its own.
 *
 * Serving joins the cache with the Nodes and Pods as the store has them now (a list through
 * the list cache, or a get): labels come from there (so labelSelector matches them and
 * metadata.labels is filled), and an object deleted since the last scrape has no metrics.
 * What the summary gives is kubelet's Summary API: usageNanoCores and workingSetBytes, as
 * metrics-server reads them; a pod with a container lacking either is left out, as
 * metrics-server leaves it out.
 *
 * Depends on api.h (api_agent_*), listcache.h / store.h, selector.h, libevent's evhttp
 * client, jansson. Called by api.c (discovery, routing) and server.c (create, through
 * api_server_release free). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "auth.h"
#include "jsonload.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define METRICS_GROUP "metrics.k8s.io"
#define METRICS_VERSION "v1beta1"
#define METRICS_GV METRICS_GROUP "/" METRICS_VERSION

#define SCRAPE_PARALLEL 16                  /* summaries in flight at once */
#define SCRAPE_TIMEOUT_S 5                  /* per read, write and connect */
#define SCRAPE_DEADLINE_S (2 * SCRAPE_TIMEOUT_S)   /* a whole scrape, however it trickles */
#define SCRAPE_MAX_BODY (8 * 1024 * 1024)
#define SCRAPE_MAX_MISSES 3                 /* failed rounds in a row before the data goes */

typedef struct scrape_s scrape_t;

/* One GET /stats/summary. Its result is handled on the loop turn after it completes
 * (sweep), never inside libevent's callback: the connection can only be freed then, and
 * libevent may call back from within evhttp_make_request itself. */
struct scrape_s {
    api_metrics_t *m;
    char node[256];
    struct evhttp_connection *conn;
    struct evhttp_request *req;     /* until it completes */
    time_t started;
    int done;                       /* completed (or failed): waiting for sweep */
    int code;                       /* the agent's status, 0 if none */
    int error;                      /* an evhttp_request_error, or -1 */
    const char *why;                /* our own reason to fail it (deadline), static */
    struct evbuffer *body;          /* the 200 answer, taken from the request */
    scrape_t *next;
};

struct api_metrics_s {
    api_server_t *srv;
    int resolution;
    char window[16];                /* "15s" */
    struct event *timer;            /* a round every resolution seconds */
    struct event *sweeper;          /* activated when a scrape completes */
    /* The cache. nodes: name -> {"misses": N, "node": usage (absent if none), "pods":
     * {"<ns>/<name>": pod usage}}; pods: "<ns>/<name>" -> the same pod objects, the index
     * serving reads. A usage is {"timestamp", "usage": {cpu, memory}}; a pod's is
     * {"timestamp", "containers": [{"name", "usage"}]}. */
    json_t *nodes;
    json_t *pods;
    /* The round in progress. */
    int listing;                    /* the node list is in flight */
    json_t *todo;                   /* [[name, agent URL]...] still to scrape, from next */
    size_t next;
    int inflight;
    scrape_t *active;               /* every scrape not yet swept */
};

/* ---- quantities ---------------------------------------------------------------------- */

/* CPU from nanocores as metrics-server's resource.NewScaledQuantity(n, -9) prints it: the
 * largest suffix that keeps it whole ("250m", "1234567n", "2"). */
static void cpu_quantity(uint64_t nano, char *out, size_t len)
{
    if (nano % 1000000000u == 0)
        snprintf(out, len, "%" PRIu64, nano / 1000000000u);
    else if (nano % 1000000u == 0)
        snprintf(out, len, "%" PRIu64 "m", nano / 1000000u);
    else if (nano % 1000u == 0)
        snprintf(out, len, "%" PRIu64 "u", nano / 1000u);
    else
        snprintf(out, len, "%" PRIu64 "n", nano);
}

/* Memory from bytes as a BinarySI quantity prints it: "123456Ki", or plain bytes when not a
 * multiple of 1024. */
static void memory_quantity(uint64_t bytes, char *out, size_t len)
{
    static const char *const suffix[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    size_t i = 0;
    while (bytes && bytes % 1024 == 0 && i + 1 < sizeof(suffix) / sizeof(suffix[0])) {
        bytes /= 1024;
        i++;
    }
    snprintf(out, len, "%" PRIu64 "%s", bytes, suffix[i]);
}

/* ---- the summary ----------------------------------------------------------------------- */

/* obj[key] as a non-negative integer into *out; 0, or -1 if missing or not one. */
static int get_count(const json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* {"cpu", "memory"} from a stats object with cpu.usageNanoCores and memory.workingSetBytes
 * (new reference), or NULL if either is missing (a container sampled once has no rate). */
static json_t *usage_of(const json_t *stats)
{
    uint64_t nano, bytes;
    char cpu[32], mem[32];
    if (get_count(json_object_get(stats, "cpu"), "usageNanoCores", &nano) != 0 ||
        get_count(json_object_get(stats, "memory"), "workingSetBytes", &bytes) != 0)
        return NULL;
    cpu_quantity(nano, cpu, sizeof(cpu));
    memory_quantity(bytes, mem, sizeof(mem));
    return json_pack("{s:s,s:s}", "cpu", cpu, "memory", mem);
}

/* The sample's time: stats.cpu.time when it is an RFC 3339 time, else fallback. */
static const char *sample_time(const json_t *stats, const char *fallback)
{
    const char *t = json_str(json_object_get(stats, "cpu"), "time");
    return t && util_parse_rfc3339(t) > 0 ? t : fallback;
}

/* One summary pod as {"timestamp", "containers"} (new reference), or NULL to leave it out. */
static json_t *pod_usage(const json_t *p, const char *now)
{
    json_t *cs = json_object_get(p, "containers"), *c, *out;
    size_t i;
    const char *ts = NULL;
    if (!json_is_array(cs) || !json_array_size(cs))
        return NULL;
    out = json_array();
    json_array_foreach(cs, i, c) {
        const char *name = json_str(c, "name");
        json_t *u = name && *name ? usage_of(c) : NULL;
        if (!u) {
            json_decref(out);
            return NULL;
        }
        if (!ts)
            ts = sample_time(c, NULL);
        json_array_append_new(out, json_pack("{s:s,s:o}", "name", name, "usage", u));
    }
    ts = sample_time(p, ts ? ts : now);
    return json_pack("{s:s,s:o}", "timestamp", ts, "containers", out);
}

/* A node's cache entry from its agent's summary (new reference), or NULL with why. */
static json_t *summary_entry(const json_t *sum, const char *now, const char **why)
{
    json_t *node = json_object_get(sum, "node"), *pods = json_object_get(sum, "pods"), *p;
    size_t i;
    if (!json_is_object(node)) {
        *why = "the summary has no node object";
        return NULL;
    }
    if (pods && !json_is_array(pods)) {
        *why = "the summary's pods are not an array";
        return NULL;
    }
    json_t *entry = json_pack("{s:i,s:{}}", "misses", 0, "pods");
    json_t *u = usage_of(node);
    if (u)
        json_object_set_new(entry, "node",
                            json_pack("{s:s,s:o}", "timestamp", sample_time(node, now), "usage", u));
    json_array_foreach(pods, i, p) {
        json_t *ref = json_object_get(p, "podRef");
        const char *name = json_str(ref, "name"), *ns = json_str(ref, "namespace");
        char key[512];
        if (!name || !*name || !ns || !*ns)
            continue;
        json_t *pu = pod_usage(p, now);
        if (!pu)
            continue;
        snprintf(key, sizeof(key), "%s/%s", ns, name);
        json_object_set_new(json_object_get(entry, "pods"), key, pu);
    }
    return entry;
}

/* ---- the cache ------------------------------------------------------------------------- */

static void unindex(api_metrics_t *m, json_t *entry)
{
    const char *key;
    json_t *p;
    json_object_foreach(json_object_get(entry, "pods"), key, p)
        if (json_object_get(m->pods, key) == p)   /* not since found on another node */
            json_object_del(m->pods, key);
}

/* Replace node's entry (entry stolen). */
static void entry_set(api_metrics_t *m, const char *node, json_t *entry)
{
    const char *key;
    json_t *p;
    unindex(m, json_object_get(m->nodes, node));
    json_object_foreach(json_object_get(entry, "pods"), key, p)
        json_object_set(m->pods, key, p);
    json_object_set_new(m->nodes, node, entry);
}

/* A round without an answer from node, for the reason fmt says. The first of a row, and one
 * for another reason than the last, is logged at level (the others at debug); the data goes
 * after SCRAPE_MAX_MISSES. create: track a node not yet in the cache (to log its failures
 * once rather than every round). */
static void entry_miss(api_metrics_t *m, const char *node, int level, int create, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
static void entry_miss(api_metrics_t *m, const char *node, int level, int create, const char *fmt,
                       ...)
{
    char why[512];
    va_list ap;
    json_t *e = json_object_get(m->nodes, node);
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (!e) {
        if (!create)
            return;
        e = json_pack("{s:i,s:{}}", "misses", 0, "pods");
        json_object_set_new(m->nodes, node, e);
    }
    json_int_t misses = json_integer_value(json_object_get(e, "misses")) + 1;
    const char *last = json_str(e, "why");
    json_object_set_new(e, "misses", json_integer(misses));
    if ((misses == 1 || !last || strcmp(last, why)) && level <= log_level)
        log_line(level, "metrics: node %s: %s", node, why);
    else
        log_debug("metrics: node %s: %s (%lld rounds in a row)", node, why, (long long)misses);
    json_object_set_new(e, "why", json_string(why));
    if (misses >= SCRAPE_MAX_MISSES &&
        (json_object_get(e, "node") || json_object_size(json_object_get(e, "pods")))) {
        log_info("metrics: node %s: no metrics after %d failed scrapes", node, SCRAPE_MAX_MISSES);
        unindex(m, e);
        json_object_del(e, "node");
        json_object_set_new(e, "pods", json_object());
    }
}

/* ---- the scraper ----------------------------------------------------------------------- */

static void scrape_more(api_metrics_t *m);

static void on_scrape_error(enum evhttp_request_error error, void *arg)
{
    scrape_t *s = arg;
    s->error = (int)error;
}

static void on_scrape_done(struct evhttp_request *req, void *arg)
{
    scrape_t *s = arg;
    s->req = NULL;
    s->done = 1;
    if (req && (s->code = evhttp_request_get_response_code(req)) == 200) {
        s->body = evbuffer_new();
        if (s->body)
            evbuffer_add_buffer(s->body, evhttp_request_get_input_buffer(req));
    }
    event_active(s->m->sweeper, EV_TIMEOUT, 0);
}

static const char *error_text(int error)
{
    switch (error) {
    case EVREQ_HTTP_TIMEOUT: return "timed out";
    case EVREQ_HTTP_EOF: return "the connection closed early";
    case EVREQ_HTTP_INVALID_HEADER: return "not an HTTP answer";
    case EVREQ_HTTP_BUFFER_ERROR: return "cannot connect";
    case EVREQ_HTTP_DATA_TOO_LONG: return "the answer is larger than 8 MB: dropped";
    default: return "cannot connect";
    }
}

/* What the answer of a completed scrape does to the cache. */
static void scrape_result(api_metrics_t *m, scrape_t *s)
{
    char now[32];
    util_rfc3339(time(NULL), now);
    if (s->code == 0) {
        metrics_add("berth_metrics_scrapes_total", "result=\"error\"", 1);
        entry_miss(m, s->node, s->error == EVREQ_HTTP_DATA_TOO_LONG ? LOG_WARN : LOG_INFO, 1,
                   "GET /stats/summary: %s", s->why ? s->why : error_text(s->error));
        return;
    }
    if (s->code != 200) {
        metrics_add("berth_metrics_scrapes_total", "result=\"error\"", 1);
        entry_miss(m, s->node, s->code == 503 ? LOG_INFO : LOG_WARN, 1,
                   "GET /stats/summary: HTTP %d%s", s->code,
                   s->code == 503 ? " (the agent serves no stats)" : "");
        return;
    }
    size_t len = s->body ? evbuffer_get_length(s->body) : 0;
    json_error_t jerr;
    const char *why = NULL;
    json_t *sum = len ? jsonload((const char *)evbuffer_pullup(s->body, -1), len, 0, &jerr) : NULL;
    json_t *entry = sum ? summary_entry(sum, now, &why) : NULL;
    json_decref(sum);
    if (!entry) {
        metrics_add("berth_metrics_scrapes_total", "result=\"error\"", 1);
        if (!sum)
            entry_miss(m, s->node, LOG_WARN, 1, "GET /stats/summary: the answer is not JSON: %s",
                       len ? jerr.text : "empty body");
        else
            entry_miss(m, s->node, LOG_WARN, 1, "GET /stats/summary: %s", why);
        return;
    }
    metrics_add("berth_metrics_scrapes_total", "result=\"ok\"", 1);
    json_t *old = json_object_get(m->nodes, s->node);
    if (old && json_integer_value(json_object_get(old, "misses")) > 0)
        log_info("metrics: node %s: scraped again", s->node);
    entry_set(m, s->node, entry);
}

static void scrape_free(scrape_t *s)
{
    if (s->conn)
        evhttp_connection_free(s->conn);   /* frees a request still pending, without callbacks */
    if (s->body)
        evbuffer_free(s->body);
    free(s);
}

/* The loop turn after scrapes completed: their results, then the next ones. */
static void sweep(evutil_socket_t fd, short what, void *arg)
{
    api_metrics_t *m = arg;
    scrape_t **pp = &m->active;
    while (*pp) {
        scrape_t *s = *pp;
        if (!s->done) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        scrape_result(m, s);
        scrape_free(s);
        m->inflight--;
    }
    scrape_more(m);
}

static void scrape_start(api_metrics_t *m, const char *node, const char *base)
{
    char host[300];
    scrape_t *s = calloc(1, sizeof(*s));
    if (!s)
        return;
    s->m = m;
    s->error = -1;
    s->started = time(NULL);
    snprintf(s->node, sizeof(s->node), "%s", node);
    s->conn = api_agent_connect(m->srv, base, host, sizeof(host));
    s->req = s->conn ? evhttp_request_new(on_scrape_done, s) : NULL;
    if (!s->req) {
        entry_miss(m, node, LOG_WARN, 1, "cannot reach its agent at %s", base);
        scrape_free(s);
        return;
    }
    evhttp_connection_set_timeout(s->conn, SCRAPE_TIMEOUT_S);
    evhttp_connection_set_max_body_size(s->conn, SCRAPE_MAX_BODY);
    evhttp_request_set_error_cb(s->req, on_scrape_error);
    api_agent_headers(m->srv, s->req, host);
    evhttp_add_header(evhttp_request_get_output_headers(s->req), "Accept", "application/json");
    s->next = m->active;
    m->active = s;
    m->inflight++;
    if (evhttp_make_request(s->conn, s->req, EVHTTP_REQ_GET, "/stats/summary") != 0 && !s->done) {
        /* Refused at once without a callback: libevent freed the request. */
        s->req = NULL;
        s->done = 1;
        s->why = "cannot connect";
        event_active(m->sweeper, EV_TIMEOUT, 0);
    }
}

/* Start scrapes while there are slots; the round ends when none is left. */
static void scrape_more(api_metrics_t *m)
{
    while (m->inflight < SCRAPE_PARALLEL && m->todo && m->next < json_array_size(m->todo)) {
        json_t *t = json_array_get(m->todo, m->next++);
        scrape_start(m, json_string_value(json_array_get(t, 0)),
                     json_string_value(json_array_get(t, 1)));
    }
    if (m->todo && m->next >= json_array_size(m->todo) && !m->inflight) {
        json_decref(m->todo);
        m->todo = NULL;
        m->next = 0;
    }
}

static void nodes_listed(const store_list_t *list, void *priv)
{
    api_metrics_t *m = priv;
    m->listing = 0;
    if (list->status != STORE_OK) {
        log_debug("metrics: cannot list the nodes: %s", list->errstr ? list->errstr : "store down");
        return;
    }
    json_t *present = json_object(), *e;
    const char *name;
    void *tmp;
    m->todo = json_array();
    m->next = 0;
    for (size_t i = 0; i < list->n; i++) {
        json_t *node = jsonload(list->items[i].data, list->items[i].len, 0, NULL);
        const char *n = json_str(json_object_get(node, "metadata"), "name");
        char base[400];
        if (n) {
            json_object_set_new(present, n, json_true());
            if (!json_condition_true(node, "Ready"))
                entry_miss(m, n, LOG_DEBUG, 0, "not Ready");
            else if (api_agent_endpoint(node, base, sizeof(base)) != 0)
                entry_miss(m, n, LOG_DEBUG, 0, "no agent endpoint (berth.dev/agent-endpoint, or "
                                               "an InternalIP and daemonEndpoints port)");
            else
                json_array_append_new(m->todo, json_pack("[ss]", n, base));
        }
        json_decref(node);
    }
    json_object_foreach_safe(m->nodes, tmp, name, e) {
        if (!json_object_get(present, name)) {
            unindex(m, e);
            json_object_del(m->nodes, name);
        }
    }
    json_decref(present);
    scrape_more(m);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    api_metrics_t *m = arg;
    api_server_t *srv = m->srv;
    time_t now = time(NULL);
    int late = 0;
    /* A scrape that trickles past the deadline (each read within the timeout) is ended. */
    for (scrape_t *s = m->active; s; s = s->next) {
        if (!s->done && s->req && now - s->started >= SCRAPE_DEADLINE_S) {
            struct evhttp_request *req = s->req;
            s->req = NULL;
            s->done = 1;
            s->why = "no whole answer in time";
            evhttp_cancel_request(req);   /* no done callback for a cancel */
            late = 1;
        }
    }
    if (late)
        event_active(m->sweeper, EV_TIMEOUT, 0);
    if (m->listing || m->todo) {
        log_debug("metrics: the previous round is still running");
        return;
    }
    if (!store_is_up(srv->store))
        return;
    const kind_t *nk = kinds_find("", "v1", "nodes");
    if (!nk)
        return;
    m->listing = 1;
    int rc = srv->lists ? listcache_list(srv->lists, nk, NULL, NULL, 0, nodes_listed, m)
                        : store_list(srv->store, nk, NULL, NULL, 0, nodes_listed, m);
    if (rc != 0)
        m->listing = 0;
}

api_metrics_t *api_metrics_create(api_server_t *srv, int resolution)
{
    api_metrics_t *m = calloc(1, sizeof(*m));
    struct timeval tv = { resolution, 0 };
    if (!m)
        return NULL;
    m->srv = srv;
    m->resolution = resolution;
    snprintf(m->window, sizeof(m->window), "%ds", resolution);
    m->nodes = json_object();
    m->pods = json_object();
    m->timer = event_new(srv->base, -1, EV_PERSIST, on_tick, m);
    m->sweeper = event_new(srv->base, -1, 0, sweep, m);
    if (!m->nodes || !m->pods || !m->timer || !m->sweeper || event_add(m->timer, &tv) != 0)
        goto failed;
    metrics_describe("berth_metrics_scrapes_total", "counter",
                     "GET /stats/summary of node agents by result (ok, error).");
    return m;
failed:
    api_metrics_free(m);
    return NULL;
}

void api_metrics_free(api_metrics_t *m)
{
    if (!m)
        return;
    if (m->timer)
        event_free(m->timer);
    if (m->sweeper)
        event_free(m->sweeper);
    while (m->active) {
        scrape_t *s = m->active;
        m->active = s->next;
        scrape_free(s);
    }
    json_decref(m->todo);
    json_decref(m->nodes);
    json_decref(m->pods);
    free(m);
}

/* ---- discovery ------------------------------------------------------------------------- */

int api_metrics_group(const api_server_t *srv, const char *group)
{
    return srv->metrics && !strcmp(group, METRICS_GROUP);
}

void api_metrics_groups(const api_server_t *srv, json_t *groups)
{
    if (srv->metrics)
        json_array_append_new(groups, json_pack("{s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "name",
                                                METRICS_GROUP, "versions", "groupVersion",
                                                METRICS_GV, "version", METRICS_VERSION,
                                                "preferredVersion", "groupVersion", METRICS_GV,
                                                "version", METRICS_VERSION));
}

json_t *api_metrics_resource_list(const char *version)
{
    if (strcmp(version, METRICS_VERSION))
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:b,s:s,s:[ss]},{s:s,s:s,s:b,s:s,s:[ss]}]}",
                     "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", METRICS_GV,
                     "resources",
                     "name", "nodes", "singularName", "", "namespaced", 0, "kind", "NodeMetrics",
                     "verbs", "get", "list",
                     "name", "pods", "singularName", "", "namespaced", 1, "kind", "PodMetrics",
                     "verbs", "get", "list");
}

/* ---- serving --------------------------------------------------------------------------- */

typedef struct metrics_op_s {
    int nodes;                      /* nodes, else pods */
    label_selector_t *labels;
    field_selector_t *fields;
} metrics_op_t;

static void metrics_op_free(void *p)
{
    metrics_op_t *op = p;
    if (!op)
        return;
    label_selector_free(op->labels);
    field_selector_free(op->fields);
    free(op);
}

/* A NodeMetrics or PodMetrics item from its cached usage and the object's metadata
 * (new reference). */
static json_t *metrics_item(api_metrics_t *m, const json_t *usage, const json_t *meta, int node,
                            int with_kind)
{
    char now[32];
    util_rfc3339(time(NULL), now);
    json_t *md = json_pack("{s:s}", "name", json_str(meta, "name") ? json_str(meta, "name") : "");
    if (!node)
        json_object_set_new(md, "namespace", json_string(json_str(meta, "namespace") ? json_str(meta, "namespace") : ""));
    /* metrics-server stamps the item when it serves it */
    json_object_set_new(md, "creationTimestamp", json_string(now));
    json_t *labels = json_object_get(meta, "labels");
    if (json_is_object(labels) && json_object_size(labels))
        json_object_set_new(md, "labels", json_deep_copy(labels));
    json_t *item = json_object();
    if (with_kind) {
        json_object_set_new(item, "kind", json_string(node ? "NodeMetrics" : "PodMetrics"));
        json_object_set_new(item, "apiVersion", json_string(METRICS_GV));
    }
    json_object_set_new(item, "metadata", md);
    json_object_set(item, "timestamp", json_object_get(usage, "timestamp"));
    json_object_set_new(item, "window", json_string(m->window));
    if (node)
        json_object_set(item, "usage", json_object_get(usage, "usage"));
    else
        json_object_set(item, "containers", json_object_get(usage, "containers"));
    return item;
}

static const json_t *usage_for(api_metrics_t *m, int node, const char *key, size_t keylen)
{
    if (node)
        return json_object_get(json_object_getn(m->nodes, key, keylen), "node");
    return json_object_getn(m->pods, key, keylen);
}

static void reply_missing(api_req_t *r, int node)
{
    json_t *details = json_pack("{s:s,s:s,s:s}", "name", r->name, "group", METRICS_GROUP, "kind",
                                node ? "nodes" : "pods");
    if (node)
        api_reply_status(r, 404, "NotFound", details, "nodemetrics.%s \"%s\" not found",
                         METRICS_GROUP, r->name);
    else
        api_reply_status(r, 404, "NotFound", details, "podmetrics.%s \"%s/%s\" not found",
                         METRICS_GROUP, r->ns, r->name);
}

static void got_object(const store_result_t *res, void *priv)
{
    api_req_t *r = priv;
    metrics_op_t *op = r->op;
    api_metrics_t *m = r->srv->metrics;
    char key[512];
    if (res->status == STORE_NOT_FOUND)
        return reply_missing(r, op->nodes);
    if (res->status != STORE_OK)
        return api_reply_store_error(r, res, res->errstr);
    if (op->nodes)
        snprintf(key, sizeof(key), "%s", r->name);
    else
        snprintf(key, sizeof(key), "%s/%s", r->ns, r->name);
    const json_t *usage = m ? usage_for(m, op->nodes, key, strlen(key)) : NULL;
    json_t *obj = usage ? jsonload(res->data, res->len, 0, NULL) : NULL;
    if (!obj)
        return reply_missing(r, op->nodes);
    api_reply_json(r, 200, metrics_item(m, usage, json_object_get(obj, "metadata"), op->nodes, 1));
    json_decref(obj);
}

static void listed_objects(const store_list_t *list, void *priv)
{
    api_req_t *r = priv;
    metrics_op_t *op = r->op;
    api_metrics_t *m = r->srv->metrics;
    const kind_t *k = kinds_find("", "v1", op->nodes ? "nodes" : "pods");
    if (list->status != STORE_OK)
        return api_reply_store_error(r, NULL, list->errstr);
    json_t *items = json_array();
    for (size_t i = 0; m && i < list->n; i++) {
        store_item_t *it = &list->items[i];
        const json_t *usage = usage_for(m, op->nodes, it->key, it->keylen);
        if (!usage)
            continue;
        /* The cache keeps each object's selector projection (name, namespace, labels). */
        json_t *parsed = list->cached ? NULL : jsonload(it->data, it->len, 0, NULL);
        const json_t *obj = list->cached ? listcache_match(k, it) : parsed;
        const json_t *meta = json_object_get(obj, "metadata");
        if (obj && label_selector_match(op->labels, json_object_get(meta, "labels")) &&
            field_selector_match(op->fields, obj))
            json_array_append_new(items, metrics_item(m, usage, meta, op->nodes, 0));
        json_decref(parsed);
    }
    api_reply_json(r, 200, json_pack("{s:s,s:s,s:{},s:o}", "kind",
                                     op->nodes ? "NodeMetricsList" : "PodMetricsList",
                                     "apiVersion", METRICS_GV, "metadata", "items", items));
}

static void not_found(api_req_t *r)
{
    api_reply_status(r, 404, "NotFound", json_object(),
                     "the server could not find the requested resource");
}

void api_handle_metrics(api_req_t *r, char **seg, int n, enum evhttp_cmd_type method)
{
    api_server_t *srv = r->srv;
    char err[512], msg[256];
    auth_user_t user;
    int nodes;

    if (!srv->metrics || n < 2 || strcmp(seg[0], METRICS_VERSION))
        return not_found(r);
    seg++;
    n--;
    if (n >= 3 && !strcmp(seg[0], "namespaces") && !strcmp(seg[2], "pods")) {
        r->ns = strdup(seg[1]);
        seg += 2;
        n -= 2;
    }
    if (n > 2 || (strcmp(seg[0], "nodes") && strcmp(seg[0], "pods")))
        return not_found(r);
    nodes = !strcmp(seg[0], "nodes");
    if ((nodes && r->ns) || (!nodes && n == 2 && !r->ns))
        return not_found(r);
    if (n == 2)
        r->name = strdup(seg[1]);
    const char *watch = api_query(r, "watch");
    if (method != EVHTTP_REQ_GET || (watch && strcmp(watch, "false") && strcmp(watch, "0")))
        return api_reply_status(r, 405, "MethodNotAllowed", json_object(),
                                "the server does not allow this method on the requested resource");
    r->verb = r->name ? VERB_GET : VERB_LIST;
    int code = auth_check(r->req, r->name ? "get" : "list", seg[0], r->ns, &user, msg, sizeof(msg));
    if (code)
        return api_reply_status(r, code, NULL, NULL, "%s", msg);
    metrics_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    op->nodes = nodes;
    r->op = op;
    r->op_free = metrics_op_free;
    op->labels = label_selector_parse(api_query(r, "labelSelector"), err, sizeof(err));
    if (!op->labels)
        return api_reply_status(r, 400, "BadRequest", NULL, "unable to parse requirement: %s", err);
    op->fields = field_selector_parse(api_query(r, "fieldSelector"), NULL, err, sizeof(err));
    if (!op->fields)
        return api_reply_status(r, 400, "BadRequest", NULL, "%s", err);
    if (!store_is_up(srv->store))
        return api_reply_store_error(r, NULL, "not connected");
    const kind_t *k = kinds_find("", "v1", nodes ? "nodes" : "pods");
    int rc;
    if (!k)
        return not_found(r);
    if (r->name)
        rc = store_get(srv->store, k, r->ns, r->name, got_object, r);
    else if (srv->lists)
        rc = listcache_list(srv->lists, k, r->ns, NULL, 0, listed_objects, r);
    else
        rc = store_list(srv->store, k, r->ns, NULL, 0, listed_objects, r);
    if (rc != 0)
        api_reply_store_error(r, NULL, "not connected");
}
