/* bench/fakelet.c: a stand-in for node agents, for tests and benchmarks of the control plane.
 *
 * Watches every pod; a pod bound to a node (spec.nodeName) that is not yet Running and Ready
 * gets the status a kubelet would write once its containers started: phase Running, a pod IP
 * (10.244.x.y, unique per pod in this process), hostIP, startTime, the PodScheduled,
 * Initialized, ContainersReady and Ready conditions, and a ready, running status per
 * container. A bound pod being deleted is confirmed gone (DELETE with gracePeriodSeconds=0),
 * as a kubelet does once its containers stopped. Nothing runs: no Docker here.
 *
 *   fakelet --server URL [--delay-ms N] [--workers N] [--node NAME] [--heartbeat SECONDS]
 *           [--complete-after-ms N]
 *
 * --complete-after-ms N lets pods that run to completion (restartPolicy Never or OnFailure:
 * Jobs' pods) finish that long after they started: phase Succeeded, containers terminated
 * with exit code 0. Without it they run forever.
 * --heartbeat renews every node's Lease in kube-node-lease that often (a kubelet does every
 * 10 s), so the node lifecycle controller sees the nodes alive; 0 (the default) does not.
 * --delay-ms holds each pod back that long before it turns Ready (a start-up time);
 * --node limits it to one node's pods; --workers bounds the requests in flight (default 32).
 * Runs until SIGTERM/SIGINT. Depends on the engine's informer, workqueue and apiclient. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "../engine/apiclient.h"
#include "../engine/informer.h"
#include "../engine/log.h"
#include "../engine/util.h"
#include "../engine/workqueue.h"

typedef struct fakelet_s {
    apiclient_t *client;
    informer_t *pods;
    workqueue_t *queue;
    const char *node;
    long delay_ms;
    unsigned next_ip;
    json_t *ips;        /* pod uid -> IP given */
    informer_t *nodes;  /* with --heartbeat */
    int heartbeat_s;
    long complete_ms;   /* --complete-after-ms; 0: never */
} fakelet_t;

typedef struct op_s {
    fakelet_t *f;
    char key[600];
} op_t;

static const char *md(const json_t *o, const char *f)
{
    return json_str(json_object_get(o, "metadata"), f);
}

static int is_ready(const json_t *pod)
{
    size_t i;
    json_t *c;
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    if (!phase || strcmp(phase, "Running"))
        return 0;
    json_array_foreach(json_path(pod, "status.conditions"), i, c) {
        const char *t = json_str(c, "type"), *s = json_str(c, "status");
        if (t && !strcmp(t, "Ready"))
            return s && !strcmp(s, "True");
    }
    return 0;
}

/* What this agent must do for a pod: 1 start it, 2 confirm its deletion, 0 nothing. */
static int wanted(fakelet_t *f, const json_t *pod)
{
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    if (!node || !*node || (f->node && strcmp(node, f->node)))
        return 0;
    if (md(pod, "deletionTimestamp"))
        return 2;
    if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
        return 0;
    if (!is_ready(pod))
        return 1;
    const char *rp = json_str(json_object_get(pod, "spec"), "restartPolicy");
    if (f->complete_ms > 0 && rp && (!strcmp(rp, "Never") || !strcmp(rp, "OnFailure")))
        return 3;
    return 0;
}

static void op_done(int status, json_t *body, const char *errstr, void *priv)
{
    op_t *op = priv;
    if (status == 0 || (status >= 300 && status != 404 && status != 409))
        workqueue_add_rate_limited(op->f->queue, op->key);
    else
        workqueue_forget(op->f->queue, op->key);
    workqueue_done(op->f->queue, op->key);
    free(op);
}

static void process(workqueue_t *q, const char *key, void *priv)
{
    fakelet_t *f = priv;
    json_t *pod = informer_get_key(f->pods, key);
    int what = pod ? wanted(f, pod) : 0;
    char path[800], stamp[32];
    op_t *op;
    if (!what || !(op = calloc(1, sizeof(*op)))) {
        workqueue_done(q, key);
        return;
    }
    op->f = f;
    snprintf(op->key, sizeof(op->key), "%s", key);
    if (what == 2) {
        json_t *opts = json_pack("{s:s,s:s,s:i,s:{s:s}}", "apiVersion", "v1", "kind",
                                 "DeleteOptions", "gracePeriodSeconds", 0, "preconditions",
                                 "uid", md(pod, "uid") ? md(pod, "uid") : "");
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", md(pod, "namespace"),
                 md(pod, "name"));
        if (!apiclient_request(f->client, "DELETE", path, NULL, opts, op_done, op)) {
            workqueue_done(q, key);
            free(op);
        }
        json_decref(opts);
        return;
    }
    if (what == 3) {
        char stamp3[32];
        util_rfc3339(time(NULL), stamp3);
        json_t *done = json_array(), *ct;
        size_t j;
        json_array_foreach(json_path(pod, "spec.containers"), j, ct) {
            json_array_append_new(done, json_pack(
                "{s:s?,s:s?,s:s?,s:b,s:b,s:i,s:{s:{s:i,s:s,s:s,s:s}}}", "name", json_str(ct, "name"),
                "image", json_str(ct, "image"), "imageID", json_str(ct, "image"), "ready", 0,
                "started", 0, "restartCount", 0, "state", "terminated", "exitCode", 0, "reason",
                "Completed", "startedAt", stamp3, "finishedAt", stamp3));
        }
        json_t *patch = json_pack(
            "{s:{s:s,s:o,s:[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}}", "status", "phase", "Succeeded",
            "containerStatuses", done, "conditions",
            "type", "Ready", "status", "False", "reason", "PodCompleted", "lastTransitionTime", stamp3,
            "type", "ContainersReady", "status", "False", "reason", "PodCompleted", "lastTransitionTime", stamp3);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", md(pod, "namespace"),
                 md(pod, "name"));
        if (!apiclient_request(f->client, "PATCH", path, "application/strategic-merge-patch+json",
                               patch, op_done, op)) {
            workqueue_done(q, key);
            free(op);
        }
        json_decref(patch);
        return;
    }
    const char *uid = md(pod, "uid") ? md(pod, "uid") : key;
    const char *ip = json_string_value(json_object_get(f->ips, uid));
    char ipbuf[32];
    if (!ip) {
        unsigned n = ++f->next_ip;
        snprintf(ipbuf, sizeof(ipbuf), "10.244.%u.%u", (n / 250) % 250, n % 250 + 1);
        json_object_set_new(f->ips, uid, json_string(ipbuf));
        ip = ipbuf;
    }
    util_rfc3339(time(NULL), stamp);
    json_t *statuses = json_array(), *c;
    size_t i;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        json_array_append_new(statuses, json_pack(
            "{s:s?,s:s?,s:s?,s:b,s:b,s:i,s:{s:{s:s}}}", "name", json_str(c, "name"), "image",
            json_str(c, "image"), "imageID", json_str(c, "image"), "ready", 1, "started", 1,
            "restartCount", 0, "state", "running", "startedAt", stamp));
    }
    json_t *patch = json_pack(
        "{s:{s:s,s:s,s:[{s:s}],s:s,s:s,s:o,s:[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]}}",
        "status", "phase", "Running", "podIP", ip, "podIPs", "ip", ip, "hostIP", "10.0.0.1",
        "startTime", stamp, "containerStatuses", statuses, "conditions",
        "type", "PodScheduled", "status", "True", "lastTransitionTime", stamp,
        "type", "Initialized", "status", "True", "lastTransitionTime", stamp,
        "type", "ContainersReady", "status", "True", "lastTransitionTime", stamp,
        "type", "Ready", "status", "True", "lastTransitionTime", stamp);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", md(pod, "namespace"),
             md(pod, "name"));
    if (!apiclient_request(f->client, "PATCH", path, "application/merge-patch+json", patch,
                           op_done, op)) {
        workqueue_done(q, key);
        free(op);
    }
    json_decref(patch);
}

static void seen(informer_t *inf, json_t *pod, void *priv)
{
    fakelet_t *f = priv;
    char key[600];
    if (!wanted(f, pod))
        return;
    snprintf(key, sizeof(key), "%s/%s", md(pod, "namespace"), md(pod, "name"));
    if (f->delay_ms > 0 && wanted(f, pod) == 1)
        workqueue_add_after(f->queue, key, f->delay_ms);
    else if (wanted(f, pod) == 3)
        workqueue_add_after(f->queue, key, f->complete_ms);
    else
        workqueue_add(f->queue, key);
}

static void updated(informer_t *inf, json_t *old, json_t *pod, void *priv)
{
    seen(inf, pod, priv);
}

static void lease_done(int status, json_t *body, const char *errstr, void *priv)
{
}

static int renew_one(const char *key, json_t *node, void *priv)
{
    fakelet_t *f = priv;
    char path[600], stamp[64];
    const char *name = md(node, "name");
    struct timespec ts;
    struct tm tm;
    if (!name || (f->node && strcmp(name, f->node)))
        return 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%06ldZ", ts.tv_nsec / 1000);
    json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion",
                              "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", name,
                              "namespace", "kube-node-lease", "spec", "holderIdentity", name,
                              "leaseDurationSeconds", 40, "renewTime", stamp);
    snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", name);
    apiclient_request(f->client, "PUT", path, NULL, lease, lease_done, NULL);
    json_decref(lease);
    return 0;
}

static void heartbeat(evutil_socket_t fd, short what, void *arg)
{
    fakelet_t *f = arg;
    informer_foreach(f->nodes, renew_one, f);
}

static void node_seen(informer_t *inf, json_t *node, void *priv)
{
    renew_one(NULL, node, priv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' }, { "delay-ms", required_argument, NULL, 'd' },
        { "workers", required_argument, NULL, 'w' }, { "node", required_argument, NULL, 'n' },
        { "heartbeat", required_argument, NULL, 'H' },
        { "complete-after-ms", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    fakelet_t f;
    const char *server = "http://127.0.0.1:6443";
    int workers = 32, c;
    memset(&f, 0, sizeof(f));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'd': f.delay_ms = atol(optarg); break;
        case 'w': workers = atoi(optarg) > 0 ? atoi(optarg) : 32; break;
        case 'n': f.node = optarg; break;
        case 'H': f.heartbeat_s = atoi(optarg); break;
        case 'c': f.complete_ms = atol(optarg); break;
        default:
            fprintf(stderr, "usage: fakelet --server URL [--delay-ms N] [--workers N] [--node NAME] [--heartbeat S]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    f.client = apiclient_create(base, server);
    f.ips = json_object();
    f.queue = workqueue_create(base, workers, process, &f);
    informer_config_t cfg = { "/api/v1/pods", NULL, NULL, NULL, 0, 0 };
    informer_handlers_t h = { seen, updated, NULL, &f };
    f.pods = f.client && f.queue ? informer_create(base, f.client, &cfg, &h) : NULL;
    if (!f.pods) {
        fprintf(stderr, "fakelet: bad server URL or out of memory\n");
        return 1;
    }
    informer_start(f.pods);
    struct event *hb = NULL;
    if (f.heartbeat_s > 0) {
        informer_config_t ncfg = { "/api/v1/nodes", NULL, NULL, NULL, 0, 0 };
        informer_handlers_t nh = { node_seen, NULL, NULL, &f };
        f.nodes = informer_create(base, f.client, &ncfg, &nh);
        hb = event_new(base, -1, EV_PERSIST, heartbeat, &f);
        struct timeval tv = { f.heartbeat_s, 0 };
        if (!f.nodes || !hb) {
            fprintf(stderr, "fakelet: out of memory\n");
            return 1;
        }
        informer_start(f.nodes);
        event_add(hb, &tv);
    }
    struct event *e1 = evsignal_new(base, SIGINT, on_signal, base);
    struct event *e2 = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(e1, NULL);
    event_add(e2, NULL);
    event_base_dispatch(base);
    event_free(e1);
    event_free(e2);
    informer_free(f.pods);
    if (hb)
        event_free(hb);
    if (f.nodes)
        informer_free(f.nodes);
    workqueue_free(f.queue);
    apiclient_free(f.client);
    json_decref(f.ips);
    event_base_free(base);
    return 0;
}
