/* agent.c: see agent.h. The node (registration, status, lease), the runtime cache (Docker's
 * view of this node's containers), the HTTP endpoints (exec sessions live in agent_exec.c,
 * port-forwards in agent_portforward.c, resource usage in agent_stats.c) and `berth agent`. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent_internal.h"
#include "log.h"
#include "util.h"

#define AGENT_TICK_S          10     /* lease renewal and runtime resync */
#define AGENT_NODE_STATUS_S   60     /* node status at least this often */
#define AGENT_LEASE_SECONDS   40

static void node_sync(agent_t *a);

const char *agent_label(json_t *ctr, const char *name)
{
    return json_str(json_path(ctr, "Config.Labels"), name);
}

/* ---------------------------------------------------------------------------- machine */

static long long meminfo_bytes(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long long v = 0;
    size_t kl = strlen(key);
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atoll(line + kl + 1) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

static void os_image(char *out, size_t len)
{
    FILE *f = fopen("/etc/os-release", "r");
    char line[512];
    snprintf(out, len, "Linux");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "PRETTY_NAME=", 12))
            continue;
        char *v = line + 12;
        v[strcspn(v, "\n")] = 0;
        if (*v == '"') {
            v++;
            char *q = strrchr(v, '"');
            if (q)
                *q = 0;
        }
        snprintf(out, len, "%.200s", v);
        break;
    }
    fclose(f);
}

static void first_ipv4(char *out, size_t len)
{
    struct ifaddrs *ifa, *i;
    snprintf(out, len, "127.0.0.1");
    if (getifaddrs(&ifa))
        return;
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        /* Docker's own bridges are not the node's address. */
        if (!strncmp(i->ifa_name, "docker", 6) || !strncmp(i->ifa_name, "br-", 3) ||
            !strncmp(i->ifa_name, "veth", 4))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, len);
        break;
    }
    freeifaddrs(ifa);
}

static json_t *node_capacity(agent_t *a)
{
    char buf[64];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct statvfs vfs;
    long long storage = 0;
    if (statvfs(a->docker_root[0] ? a->docker_root : "/", &vfs) == 0 ||
        statvfs("/", &vfs) == 0)
        storage = (long long)vfs.f_blocks * (long long)vfs.f_frsize;
    json_t *cap = json_object();
    snprintf(buf, sizeof(buf), "%ld", cpus > 0 ? cpus : 1);
    json_object_set_new(cap, "cpu", json_string(buf));
    snprintf(buf, sizeof(buf), "%lldKi", meminfo_bytes("MemTotal") / 1024);
    json_object_set_new(cap, "memory", json_string(buf));
    snprintf(buf, sizeof(buf), "%lld", storage);
    json_object_set_new(cap, "ephemeral-storage", json_string(buf));
    json_object_set_new(cap, "pods", json_string("110"));
    return cap;
}

static json_t *condition(const char *type, int status, const char *reason, const char *msg,
                         const char *stamp)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status ? "True" : "False",
                     "reason", reason, "message", msg, "lastHeartbeatTime", stamp,
                     "lastTransitionTime", stamp);
}

static json_t *node_status(agent_t *a)
{
    struct utsname u;
    char osimg[256], stamp[32], rt[96];
    uname(&u);
    os_image(osimg, sizeof(osimg));
    util_rfc3339(time(NULL), stamp);
    snprintf(rt, sizeof(rt), "docker://%s", a->docker_version[0] ? a->docker_version : "unknown");
    json_t *st = json_object();
    json_object_set_new(st, "capacity", node_capacity(a));
    json_object_set_new(st, "allocatable", node_capacity(a));
    json_object_set_new(st, "addresses", json_pack("[{s:s,s:s},{s:s,s:s}]", "type", "InternalIP",
                                                   "address", a->host_ip, "type", "Hostname",
                                                   "address", a->hostname));
    json_object_set_new(st, "daemonEndpoints",
                        json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", a->log_port));
    json_object_set_new(st, "nodeInfo", json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "machineID", "", "systemUUID", "",
        "bootID", "", "kernelVersion", u.release, "osImage", osimg, "containerRuntimeVersion",
        rt, "kubeletVersion", "v1.31.0-berth", "kubeProxyVersion", "v1.31.0-berth",
        "operatingSystem", "linux", "architecture",
        !strcmp(u.machine, "aarch64") ? "arm64" : !strcmp(u.machine, "x86_64") ? "amd64" : u.machine));
    json_t *conds = json_array();
    json_array_append_new(conds, condition("MemoryPressure", 0, "KubeletHasSufficientMemory",
                                           "kubelet has sufficient memory available", stamp));
    json_array_append_new(conds, condition("DiskPressure", 0, "KubeletHasNoDiskPressure",
                                           "kubelet has no disk pressure", stamp));
    json_array_append_new(conds, condition("PIDPressure", 0, "KubeletHasSufficientPID",
                                           "kubelet has sufficient PID available", stamp));
    if (a->docker_ok)
        json_array_append_new(conds, condition("Ready", 1, "KubeletReady",
                                               "berth agent is posting ready status", stamp));
    else
        json_array_append_new(conds, condition("Ready", 0, "KubeletNotReady",
                                               "container runtime is down: Docker does not answer",
                                               stamp));
    json_object_set_new(st, "conditions", conds);
    return st;
}

static json_t *node_labels(agent_t *a)
{
    struct utsname u;
    uname(&u);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "kubernetes.io/hostname", a->node,
                     "kubernetes.io/os", "linux", "kubernetes.io/arch",
                     !strcmp(u.machine, "aarch64") ? "arm64" : !strcmp(u.machine, "x86_64") ? "amd64" : u.machine,
                     "beta.kubernetes.io/os", "linux", "beta.kubernetes.io/arch",
                     !strcmp(u.machine, "aarch64") ? "arm64" : !strcmp(u.machine, "x86_64") ? "amd64" : u.machine);
}

/* What changes in a node status besides heartbeat times: compared to decide on an update. */
static json_t *status_essence(json_t *st)
{
    json_t *e = json_deep_copy(st);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(e, "conditions"), i, c) {
        json_object_del(c, "lastHeartbeatTime");
        json_object_del(c, "lastTransitionTime");
    }
    return e;
}

/* ---------------------------------------------------------------------------- node */

static void node_status_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    a->node_call = NULL;
    a->node_busy = 0;
    if (status == 200)
        return;
    log_warn("agent: node status update: %d %s", status, errstr ? errstr : "");
    a->node_status_at = 0;
    if (status == 404)
        a->node_registered = 0;
    json_decref(a->last_node_status);
    a->last_node_status = NULL;
}

static void node_patch_status(agent_t *a, json_t *st)
{
    char path[512];
    json_t *patch = json_pack("{s:O}", "status", st);
    snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", a->node);
    a->node_busy = 1;
    a->node_call = apiclient_request(a->api, "PATCH", path, "application/merge-patch+json", patch,
                                     node_status_done, a);
    if (!a->node_call)
        a->node_busy = 0;
    json_decref(patch);
}

static void node_create_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    a->node_call = NULL;
    a->node_busy = 0;
    if (status == 201 || status == 200 || status == 409) {
        if (status != 409)
            log_info("agent: registered node %s", a->node);
        a->node_registered = 1;
        a->node_status_at = 0;
        json_decref(a->last_node_status);
        a->last_node_status = NULL;
        node_sync(a);
        return;
    }
    log_warn("agent: cannot register node %s: %d %s", a->node, status, errstr ? errstr : "");
}

/* Where the API server reaches the log endpoint, as an annotation on the Node: the address
 * --listen binds, or the InternalIP when it binds every address. kube puts only the port in
 * status.daemonEndpoints (the host is the InternalIP); an agent on loopback needs more. */
#define AGENT_ENDPOINT_ANNOTATION "berth.dev/agent-endpoint"

static json_t *node_annotations(agent_t *a)
{
    char url[400];
    const char *h = a->log_host;
    if (!*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "[::]"))
        h = a->host_ip;
    snprintf(url, sizeof(url), "http://%s:%d", h, a->log_port);
    return json_pack("{s:s}", AGENT_ENDPOINT_ANNOTATION, url);
}

static void node_get_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    char path[512];
    a->node_call = NULL;
    a->node_busy = 0;
    if (status == 404) {
        json_t *node = json_pack("{s:s,s:s,s:{s:s,s:o,s:o},s:{},s:o}", "apiVersion", "v1", "kind",
                                 "Node", "metadata", "name", a->node, "labels", node_labels(a),
                                 "annotations", node_annotations(a), "spec", "status",
                                 node_status(a));
        a->node_busy = 1;
        a->node_call = apiclient_request(a->api, "POST", "/api/v1/nodes", NULL, node,
                                         node_create_done, a);
        if (!a->node_call)
            a->node_busy = 0;
        json_decref(node);
        return;
    }
    if (status != 200) {
        log_warn("agent: cannot read node %s: %d %s", a->node, status, errstr ? errstr : "");
        return;
    }
    /* It exists (registered earlier): make sure our labels are on it. */
    json_t *patch = json_pack("{s:{s:o,s:o}}", "metadata", "labels", node_labels(a),
                              "annotations", node_annotations(a));
    snprintf(path, sizeof(path), "/api/v1/nodes/%s", a->node);
    a->node_busy = 1;
    a->node_call = apiclient_request(a->api, "PATCH", path, "application/merge-patch+json", patch,
                                     node_create_done, a);
    if (!a->node_call)
        a->node_busy = 0;
    json_decref(patch);
}

/* Register the node if needed, then update its status when it changed or once a minute. */
static void node_sync(agent_t *a)
{
    char path[512];
    if (a->node_busy)
        return;
    if (!a->node_registered) {
        snprintf(path, sizeof(path), "/api/v1/nodes/%s", a->node);
        a->node_busy = 1;
        a->node_call = apiclient_request(a->api, "GET", path, NULL, NULL, node_get_done, a);
        if (!a->node_call)
            a->node_busy = 0;
        return;
    }
    json_t *st = node_status(a), *ess = status_essence(st);
    time_t now = time(NULL);
    if (!a->last_node_status || !json_equal(ess, a->last_node_status) ||
        now - a->node_status_at >= AGENT_NODE_STATUS_S) {
        json_decref(a->last_node_status);
        a->last_node_status = json_incref(ess);
        a->node_status_at = now;
        node_patch_status(a, st);
    }
    json_decref(ess);
    json_decref(st);
}

static void lease_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    a->lease_call = NULL;
    if (status != 200 && status != 201)
        log_warn("agent: lease renewal: %d %s", status, errstr ? errstr : "");
}

static void lease_renew(agent_t *a)
{
    char path[512], stamp[64];
    struct timespec ts;
    struct tm tm;
    if (a->lease_call)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%06ldZ", ts.tv_nsec / 1000);
    json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion",
                              "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", a->node,
                              "namespace", "kube-node-lease", "spec", "holderIdentity", a->node,
                              "leaseDurationSeconds", AGENT_LEASE_SECONDS, "renewTime", stamp);
    snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s",
             a->node);
    a->lease_call = apiclient_request(a->api, "PUT", path, NULL, lease, lease_done, a);
    json_decref(lease);
}

/* ---------------------------------------------------------------------------- runtime cache */

static void refresh_finished(agent_t *a)
{
    int was_ok = a->docker_ok;
    a->docker_ok = 1;
    a->docker_synced = 1;
    if (!was_ok)
        node_sync(a);
    /* A refresh asked for while this list was out (an action ended: a container was just
     * created, say) means this list may predate it: syncing pods on it could create that
     * container a second time. List again and sync on the fresh one. */
    if (a->refresh_again) {
        a->refresh_again = 0;
        agent_refresh(a);
        return;
    }
    agent_pods_sync(a);
}

static void inspect_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    if (status == 200 && json_is_object(body)) {
        const char *id = json_str(body, "Id");
        if (id && agent_label(body, LBL_NODE) && !strcmp(agent_label(body, LBL_NODE), a->node))
            json_object_set(a->containers, id, body);
    } else if (status == 0) {
        a->refresh_again = 1;
    }
    if (--a->pending_inspects == 0) {
        a->listing = 0;
        refresh_finished(a);
    }
}

static void list_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    size_t i;
    json_t *c;
    char path[256];
    if (status != 200 || !json_is_array(body)) {
        a->listing = 0;
        if (a->docker_ok)
            log_warn("agent: Docker does not answer: %s", errstr ? errstr : "bad list");
        a->docker_ok = 0;
        node_sync(a);
        return;   /* the tick retries */
    }
    json_t *present = json_object();
    a->pending_inspects = 1;     /* held until the loop below is done */
    json_array_foreach(body, i, c) {
        const char *id = json_str(c, "Id"), *state = json_str(c, "State");
        if (!id)
            continue;
        json_object_set_new(present, id, json_true());
        const char *old = json_string_value(json_object_get(a->seen_state, id));
        if (old && state && !strcmp(old, state) && json_object_get(a->containers, id))
            continue;
        json_object_set_new(a->seen_state, id, json_string(state ? state : ""));
        snprintf(path, sizeof(path), "/containers/%s/json", id);
        if (docker_request(a->docker, "GET", path, NULL, 10000, inspect_done, a))
            a->pending_inspects++;
    }
    /* Forget containers that are gone. */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(a->containers, tmp, k, v) {
        if (!json_object_get(present, k)) {
            /* k belongs to the entry deleted first: keep a copy for the other tables. */
            char id[256];
            snprintf(id, sizeof(id), "%s", k);
            json_object_del(a->containers, id);
            json_object_del(a->seen_state, id);
            json_object_del(a->removing, id);
        }
    }
    json_object_foreach_safe(a->seen_state, tmp, k, v) {
        if (!json_object_get(present, k))
            json_object_del(a->seen_state, k);
    }
    json_decref(present);
    inspect_done(-1, NULL, NULL, a);
}

void agent_refresh(agent_t *a)
{
    char filt[256], esc[512], path[700];
    if (a->listing) {
        a->refresh_again = 1;
        return;
    }
    snprintf(filt, sizeof(filt), "{\"label\":[\"%s=%s\"]}", LBL_NODE, a->node);
    docker_escape(filt, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", esc);
    a->listing = 1;
    if (!docker_request(a->docker, "GET", path, NULL, 15000, list_done, a))
        a->listing = 0;
}

static void on_refresh_debounce(evutil_socket_t fd, short what, void *arg)
{
    agent_refresh(arg);
}

static void on_sync_ev(evutil_socket_t fd, short what, void *arg)
{
    agent_t *a = arg;
    if (a->docker_synced)
        agent_pods_sync(a);
}

void agent_kick(agent_t *a)
{
    event_active(a->sync_ev, 0, 0);
}

static void remove_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    if (status != 204 && status != 404)
        log_warn("agent: removing a container: %d %s", status, errstr ? errstr : "");
    agent_refresh(a);
}

void agent_remove_container(agent_t *a, const char *id)
{
    char path[256];
    if (json_object_get(a->removing, id))
        return;
    json_object_set_new(a->removing, id, json_true());
    snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
    if (!docker_request(a->docker, "DELETE", path, NULL, 60000, remove_done, a))
        json_object_del(a->removing, id);
}

/* Docker's event stream: any event about our containers re-lists (debounced). */
static void events_start(agent_t *a);

static void events_data(const char *data, size_t len, void *priv)
{
    agent_t *a = priv;
    struct timeval tv = { 0, 50000 };
    if (!evtimer_pending(a->refresh_debounce, NULL))
        evtimer_add(a->refresh_debounce, &tv);
}

static void events_end(int status, const char *errstr, void *priv)
{
    agent_t *a = priv;
    struct timeval tv = { 1, 0 };
    a->events_call = NULL;
    if (status != 200)
        log_debug("agent: Docker event stream ended: %d %s", status, errstr ? errstr : "");
    evtimer_add(a->events_retry, &tv);
}

static void events_start(agent_t *a)
{
    char filt[256], esc[512], path[700];
    snprintf(filt, sizeof(filt), "{\"type\":[\"container\"],\"label\":[\"%s=%s\"]}", LBL_NODE, a->node);
    docker_escape(filt, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/events?filters=%s", esc);
    a->events_call = docker_stream(a->docker, "GET", path, NULL, 0, events_data, events_end, a);
    agent_refresh(a);
}

static void on_events_retry(evutil_socket_t fd, short what, void *arg)
{
    agent_t *a = arg;
    if (!a->events_call)
        events_start(a);
}

static void version_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    const char *v = json_str(body, "Version");
    if (status == 200 && v)
        snprintf(a->docker_version, sizeof(a->docker_version), "%s", v);
    else
        log_warn("agent: Docker does not answer GET /version: %s", errstr ? errstr : "");
    node_sync(a);   /* the first registration waits for this answer */
}

static void info_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    const char *r = json_str(body, "DockerRootDir");
    if (status == 200 && r)
        snprintf(a->docker_root, sizeof(a->docker_root), "%s", r);
}

/* The gateway of Docker's default bridge: the host's address as containers see it, where the
 * proxy serves node ports to pods (docs/proxy.md, "Pods reaching services"). */
static void bridge_done(int status, json_t *body, const char *errstr, void *priv)
{
    agent_t *a = priv;
    json_t *cfg = json_array_get(json_path(body, "IPAM.Config"), 0);
    const char *gw = json_str(cfg, "Gateway");
    if (status == 200 && gw && strlen(gw) < sizeof(a->bridge_gateway))
        snprintf(a->bridge_gateway, sizeof(a->bridge_gateway), "%s", gw);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    agent_t *a = arg;
    lease_renew(a);
    if (!a->docker_version[0] || !a->docker_ok) {
        docker_request(a->docker, "GET", "/version", NULL, 5000, version_done, a);
        docker_request(a->docker, "GET", "/info", NULL, 5000, info_done, a);
    }
    if (!a->bridge_gateway[0])
        docker_request(a->docker, "GET", "/networks/bridge", NULL, 5000, bridge_done, a);
    node_sync(a);
    agent_refresh(a);
}

/* ---------------------------------------------------------------------------- pod informer */

static void pod_added(informer_t *inf, json_t *obj, void *priv)
{
    agent_kick(priv);
}

static void pod_updated(informer_t *inf, json_t *old, json_t *obj, void *priv)
{
    agent_kick(priv);
}

static void pod_deleted(informer_t *inf, json_t *obj, void *priv)
{
    agent_kick(priv);
}

/* ---------------------------------------------------------------------------- log endpoint */

typedef struct logreq_s {
    agent_t *a;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    docker_call_t *call;
    docker_demux_t dm;
    long long limit, sent;
    int started, tty;
} logreq_t;

static void logreq_free(logreq_t *lr)
{
    if (lr->evcon)
        evhttp_connection_set_closecb(lr->evcon, NULL, NULL);
    free(lr);
}

static void log_out(int stream, const char *data, size_t len, void *priv)
{
    logreq_t *lr = priv;
    if (stream != 1 && stream != 2)
        return;
    if (lr->limit > 0) {
        if (lr->sent >= lr->limit)
            return;
        if ((long long)len > lr->limit - lr->sent)
            len = (size_t)(lr->limit - lr->sent);
    }
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return;
    evbuffer_add(b, data, len);
    lr->sent += (long long)len;
    evhttp_send_reply_chunk(lr->req, b);
    evbuffer_free(b);
}

static void log_start_reply(logreq_t *lr)
{
    if (lr->started)
        return;
    lr->started = 1;
    evhttp_add_header(evhttp_request_get_output_headers(lr->req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply_start(lr->req, 200, "OK");
}

static void log_data(const char *data, size_t len, void *priv)
{
    logreq_t *lr = priv;
    log_start_reply(lr);
    if (lr->tty)
        log_out(1, data, len, lr);
    else
        docker_demux_feed(&lr->dm, data, len, log_out, lr);
    if (lr->limit > 0 && lr->sent >= lr->limit && lr->call) {
        docker_cancel(lr->call);
        lr->call = NULL;
        evhttp_send_reply_end(lr->req);
        logreq_free(lr);
    }
}

static void log_end(int status, const char *errstr, void *priv)
{
    logreq_t *lr = priv;
    lr->call = NULL;
    if (!lr->started && status != 200) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "%s\n", errstr ? errstr : "cannot read the logs");
        evhttp_send_reply(lr->req, status == 404 ? 404 : 502, "Error", b);
        evbuffer_free(b);
    } else {
        log_start_reply(lr);
        evhttp_send_reply_end(lr->req);
    }
    logreq_free(lr);
}

/* The client went away: stop reading Docker. evhttp frees the request itself. */
static void log_client_closed(struct evhttp_connection *evcon, void *arg)
{
    logreq_t *lr = arg;
    if (lr->call)
        docker_cancel(lr->call);
    lr->evcon = NULL;
    free(lr);
}

void agent_reply_text(struct evhttp_request *req, int code, const char *reason, const char *fmt, ...)
{
    struct evbuffer *b = evbuffer_new();
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(b, fmt, ap);
    va_end(ap);
    evbuffer_add(b, "\n", 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static int query_true(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static void on_http(struct evhttp_request *req, void *arg)
{
    agent_t *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evhttp_uri *u = evhttp_uri_parse(uri);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    struct evkeyvalq q;
    char ns[256], pod[256], name[256], dpath[1024];
    TAILQ_INIT(&q);
    if (path && !strcmp(path, "/healthz")) {
        agent_reply_text(req, 200, "OK", "ok");
        goto done;
    }
    if (a->token) {
        const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
        /* Compared in constant time: the token is the agent's only credential. */
        if (!auth || strncmp(auth, "Bearer ", 7) || strlen(auth + 7) != strlen(a->token) ||
            CRYPTO_memcmp(auth + 7, a->token, strlen(a->token))) {
            agent_reply_text(req, 401, "Unauthorized", "Unauthorized");
            goto done;
        }
    }
    if (!path || !strcmp(path, "/healthz")) {
        agent_reply_text(req, 200, "OK", "ok");
        goto done;
    }
    if (!strncmp(path, "/exec/", 6) || !strncmp(path, "/attach/", 8)) {
        agent_exec_handle(a, req, path, u ? evhttp_uri_get_query(u) : NULL);
        goto done;
    }
    if (!strncmp(path, "/portforward/", 13)) {
        agent_portforward_handle(a, req, path, u ? evhttp_uri_get_query(u) : NULL);
        goto done;
    }
    if (!strcmp(path, "/stats/summary")) {
        agent_stats_handle(a, req);
        goto done;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
        sscanf(path, "/containerLogs/%255[^/]/%255[^/]/%255[^/?]", ns, pod, name) != 3) {
        agent_reply_text(req, 404, "Not Found", "not found");
        goto done;
    }
    if (u && evhttp_uri_get_query(u))
        evhttp_parse_query_str(evhttp_uri_get_query(u), &q);
    const char *id = agent_find_container(a, ns, pod, name, query_true(evhttp_find_header(&q, "previous")));
    if (!id) {
        char msg[900];
        snprintf(msg, sizeof(msg), "container \"%s\" in pod \"%s\" (namespace %s) not found on node %s",
                 name, pod, ns, a->node);
        agent_reply_text(req, 404, "Not Found", "%s", msg);
        goto done;
    }
    json_t *ctr = json_object_get(a->containers, id);
    const char *tail = evhttp_find_header(&q, "tailLines");
    const char *since = evhttp_find_header(&q, "sinceSeconds");
    const char *limit = evhttp_find_header(&q, "limitBytes");
    int n = snprintf(dpath, sizeof(dpath), "/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps=%d",
                     id, query_true(evhttp_find_header(&q, "follow")),
                     query_true(evhttp_find_header(&q, "timestamps")));
    if (tail && atol(tail) >= 0)
        n += snprintf(dpath + n, sizeof(dpath) - n, "&tail=%ld", atol(tail));
    if (since && atol(since) > 0)
        snprintf(dpath + n, sizeof(dpath) - n, "&since=%ld", (long)time(NULL) - atol(since));
    logreq_t *lr = calloc(1, sizeof(*lr));
    if (!lr) {
        agent_reply_text(req, 500, "Internal Server Error", "out of memory");
        goto done;
    }
    lr->a = a;
    lr->req = req;
    lr->limit = limit ? atoll(limit) : 0;
    lr->tty = json_is_true(json_path(ctr, "Config.Tty"));
    docker_demux_init(&lr->dm);
    lr->call = docker_stream(a->docker, "GET", dpath, NULL, 0, log_data, log_end, lr);
    if (!lr->call) {
        free(lr);
        agent_reply_text(req, 500, "Internal Server Error", "cannot reach Docker");
        goto done;
    }
    lr->evcon = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(lr->evcon, log_client_closed, lr);
done:
    evhttp_clear_headers(&q);
    if (u)
        evhttp_uri_free(u);
}

/* ---------------------------------------------------------------------------- lifetime */

agent_t *agent_create(struct event_base *base, const agent_opts_t *o, char *err, size_t errlen)
{
    agent_t *a = calloc(1, sizeof(*a));
    char buf[PATH_MAX];
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->base = base;
    if (!o->node_name || !*o->node_name) {
        snprintf(err, errlen, "--node-name is required");
        goto failed;
    }
    a->node = strdup(o->node_name);
    a->server_url = strdup(o->server_url ? o->server_url : "http://127.0.0.1:6443");
    snprintf(buf, sizeof(buf), "/var/lib/berth/%s", o->node_name);
    a->root_dir = strdup(o->root_dir ? o->root_dir : buf);
    if (o->node_ip)
        snprintf(a->host_ip, sizeof(a->host_ip), "%s", o->node_ip);
    else
        first_ipv4(a->host_ip, sizeof(a->host_ip));
    if (gethostname(a->hostname, sizeof(a->hostname)))
        snprintf(a->hostname, sizeof(a->hostname), "%s", a->node);
    if (o->token_file) {
        FILE *f = fopen(o->token_file, "r");
        char tok[4096];
        if (!f || !fgets(tok, sizeof(tok), f)) {
            snprintf(err, errlen, "cannot read --token-file %s", o->token_file);
            if (f)
                fclose(f);
            goto failed;
        }
        fclose(f);
        tok[strcspn(tok, "\r\n")] = 0;
        a->token = strdup(tok);
    }
    a->containers = json_object();
    a->seen_state = json_object();
    a->removing = json_object();
    a->api = apiclient_create(base, a->server_url);
    if (!a->api) {
        snprintf(err, errlen, "bad --server URL %s", a->server_url);
        goto failed;
    }
    a->docker = docker_create(base, o->docker_url);
    if (!a->docker) {
        snprintf(err, errlen, "bad --docker URL %s", o->docker_url ? o->docker_url : "");
        goto failed;
    }
    /* The log endpoint. */
    const char *listen = o->listen ? o->listen : "127.0.0.1:10250";
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
        snprintf(err, errlen, "bad --listen %s (want HOST:PORT)", listen);
        goto failed;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    a->log_port = atoi(colon + 1);
    snprintf(a->log_host, sizeof(a->log_host), "%s", host);
    a->http = evhttp_new(base);
    if (!a->http || evhttp_bind_socket(a->http, host, (ev_uint16_t)a->log_port)) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(errno));
        goto failed;
    }
    evhttp_set_gencb(a->http, on_http, a);

    char fs[600];
    snprintf(fs, sizeof(fs), "spec.nodeName=%s", a->node);
    informer_config_t cfg = { "/api/v1/pods", NULL, NULL, fs, 0, 0 };
    informer_handlers_t h = { pod_added, pod_updated, pod_deleted, a };
    a->pods = informer_create(base, a->api, &cfg, &h);
    informer_config_t scfg = { "/api/v1/services", NULL, NULL, NULL, 0, 0 };
    informer_handlers_t sh = { NULL, NULL, NULL, a };
    a->services = informer_create(base, a->api, &scfg, &sh);
    a->events_retry = evtimer_new(base, on_events_retry, a);
    a->refresh_debounce = evtimer_new(base, on_refresh_debounce, a);
    a->tick = event_new(base, -1, EV_PERSIST, on_tick, a);
    a->sync_ev = event_new(base, -1, 0, on_sync_ev, a);
    if (!a->pods || !a->services || !a->events_retry || !a->refresh_debounce || !a->tick ||
        !a->sync_ev || agent_stats_init(a, o->stats_interval) < 0) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    struct timeval tv = { AGENT_TICK_S, 0 };
    event_add(a->tick, &tv);
    informer_start(a->pods);
    informer_start(a->services);
    docker_request(a->docker, "GET", "/version", NULL, 5000, version_done, a);
    docker_request(a->docker, "GET", "/networks/bridge", NULL, 5000, bridge_done, a);
    docker_request(a->docker, "GET", "/info", NULL, 5000, info_done, a);
    events_start(a);
    lease_renew(a);
    return a;
failed:
    agent_free(a);
    return NULL;
}

void agent_free(agent_t *a)
{
    if (!a)
        return;
    agent_exec_release(a);
    agent_portforward_release(a);
    agent_stats_release(a);
    agent_pods_free(a);
    if (a->pods)
        informer_free(a->pods);
    if (a->services)
        informer_free(a->services);
    if (a->http)
        evhttp_free(a->http);
    if (a->docker)
        docker_free(a->docker);
    if (a->api)
        apiclient_free(a->api);
    agent_actions_free(a);
    if (a->events_retry)
        event_free(a->events_retry);
    if (a->refresh_debounce)
        event_free(a->refresh_debounce);
    if (a->tick)
        event_free(a->tick);
    if (a->sync_ev)
        event_free(a->sync_ev);
    json_decref(a->containers);
    json_decref(a->seen_state);
    json_decref(a->removing);
    json_decref(a->last_node_status);
    free(a->node);
    free(a->server_url);
    free(a->root_dir);
    free(a->token);
    free(a);
}

/* ---------------------------------------------------------------------------- berth agent */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

int agent_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "node-name", required_argument, NULL, 'n' },
        { "docker", required_argument, NULL, 'd' },
        { "listen", required_argument, NULL, 'l' },
        { "root-dir", required_argument, NULL, 'r' },
        { "token-file", required_argument, NULL, 't' },
        { "node-ip", required_argument, NULL, 'i' },
        { "stats-interval", required_argument, NULL, 'S' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    agent_opts_t o;
    char err[512];
    int c;
    memset(&o, 0, sizeof(o));
    o.server_url = "http://127.0.0.1:6443";
    o.stats_interval = 10;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o.server_url = optarg; break;
        case 'n': o.node_name = optarg; break;
        case 'd': o.docker_url = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'r': o.root_dir = optarg; break;
        case 't': o.token_file = optarg; break;
        case 'i': o.node_ip = optarg; break;
        case 'S': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == 0 || *end || v < 0 || v > 86400) {
                fprintf(stderr, "berth agent: bad --stats-interval %s (seconds, 0 to 86400)\n", optarg);
                return 2;
            }
            o.stats_interval = (int)v;
            break;
        }
        case 'L': log_set_level_name(optarg); break;
        case 'h':
            printf("usage: berth agent --server URL --node-name NAME [--docker unix:///var/run/docker.sock]\n"
                   "                   [--listen 127.0.0.1:10250] [--root-dir /var/lib/berth/NAME]\n"
                   "                   [--token-file FILE] [--node-ip IP] [--stats-interval SECONDS]\n"
                   "                   [--log-level LEVEL]\n");
            return 0;
        default: return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    agent_t *a = agent_create(base, &o, err, sizeof(err));
    if (!a) {
        fprintf(stderr, "berth agent: %s\n", err);
        event_base_free(base);
        return 1;
    }
    struct event *e1 = evsignal_new(base, SIGINT, on_signal, base);
    struct event *e2 = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(e1, NULL);
    event_add(e2, NULL);
    log_info("agent: node %s, API %s, logs on %s", o.node_name, o.server_url,
             o.listen ? o.listen : "127.0.0.1:10250");
    event_base_dispatch(base);
    log_info("agent: stopping; containers keep running");
    event_free(e1);
    event_free(e2);
    agent_free(a);
    event_base_free(base);
    return 0;
}
