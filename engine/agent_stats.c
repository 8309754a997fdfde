/* agent_stats.c: the agent's resource-usage endpoint, what the API server scrapes to serve
 * metrics.k8s.io (`kubectl top`), as metrics-server scrapes kubelets.
 *
 *   GET /stats/summary        (bearer token as the other endpoints; on_http checks it)
 *
 * answers a subset of kubelet's Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1):
 * node {nodeName, startTime, cpu, memory} and pods [{podRef, startTime, containers [{name,
 * startTime, cpu, memory}], cpu, memory}], where cpu is {time, usageNanoCores,
 * usageCoreNanoSeconds} and memory {time, workingSetBytes, usageBytes} (the node's also
 * availableBytes). See docs/agent.md, "Resource usage".
 *
 * Collection runs in the background, never per request: every --stats-interval seconds a
 * round asks Docker `GET /containers/<id>/stats?stream=false&one-shot=true` (API 1.41: one
 * reading, without Docker's second sample a second later) for every running app container
 * of the runtime cache, at most STATS_INFLIGHT at a time, each bounded by STATS_TIMEOUT_MS;
 * rounds never overlap (a tick that finds one still running is skipped). When the last
 * answer is in, the reply is built from the samples and kept as a JSON string: requests are
 * answered from that string and never wait for Docker. The node's own figures are read from
 * /proc/stat and /proc/meminfo when a round starts.
 *
 * usageNanoCores is a rate: each container's sample keeps Docker's cumulative
 * cpu_stats.cpu_usage.total_usage and the time Docker read it ("read"), and the next sample
 * gives delta usage / delta time. A container's first sample has no rate and the field is
 * left out (as kubelet does); so is the pod's while any of its containers has none.
 *
 * Samples of containers that are no longer running (or whose reading failed) are dropped
 * when the next round starts, so the table never holds more than the running containers.
 * A failed reading drops that container's sample only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "agent_internal.h"
#include "jsondump.h"
#include "log.h"
#include "util.h"

/* Docker stats requests at a time. Docker (20.10 and later) answers a one-shot request at
 * the next tick of its stats collector, which reads every subscribed container once a
 * second: requests in flight together wait for the same tick, so a round takes about
 * ceil(containers / STATS_INFLIGHT) seconds. 8 would make a full node (110 pods) take 14 s,
 * longer than the default interval; 32 takes 4 s. The bound is on connections to Docker;
 * its work per tick is the same either way. */
#define STATS_INFLIGHT     32
#define STATS_TIMEOUT_MS   5000     /* per request: a tick and Docker's reading, with room */

/* One stats request in flight. Owned by the stats state (its list) until the answer or
 * agent_stats_release. */
typedef struct stats_req_s {
    agent_stats_t *s;
    struct stats_req_s *prev, *next;
    docker_call_t *call;
    char id[96];
} stats_req_t;

struct agent_stats_s {
    agent_t *a;
    int interval_s;
    struct event *timer;
    /* docker id -> the container's last sample, owned:
     *   {"total": cumulative cpu ns, "readNs": when Docker read it (ns since the epoch),
     *    "nanoCores": the rate since the sample before (absent in a first sample),
     *    "ws": working set bytes, "usage": usage bytes, "time": readNs as RFC 3339} */
    json_t *samples;
    json_t *queue;          /* the round's container ids (array), owned; NULL between rounds */
    size_t next;            /* the next queue index to ask */
    int inflight, running;
    uint64_t round_at_us;   /* when the running round started (monotonic) */
    stats_req_t *reqs;      /* requests in flight */
    /* The node: the previous /proc/stat reading, for the rate. */
    long long node_cpu_ns;
    uint64_t node_cpu_at_us;   /* monotonic */
    int node_have;
    json_t *node;           /* the node part of the next reply (built when a round starts) */
    char *body;             /* the last complete reply (JSON), owned; NULL before the first */
    unsigned long long rounds, failures;
};

/* ---------------------------------------------------------------------------- helpers */

/* An integer member, 0 when absent or not a number. */
static long long num(const json_t *o, const char *path)
{
    json_t *v = json_path(o, path);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return 0;
}

/* An RFC 3339 time with optional fraction ("2026-11-28T03:06:30.668653899Z") as ns since the
 * epoch; -1 when malformed or zero (Docker's "0001-01-01T00:00:00Z"). */
static long long parse_ns(const char *s)
{
    time_t t = util_parse_rfc3339(s);
    long long ns = 0, scale = 100000000;
    if (t <= 0)
        return -1;
    const char *dot = strchr(s, '.');
    if (dot)
        for (const char *p = dot + 1; *p >= '0' && *p <= '9' && scale; p++, scale /= 10)
            ns += (*p - '0') * scale;
    return (long long)t * 1000000000LL + ns;
}

/* Docker's time (any precision) as kube prints it, to the second; "" when malformed. */
static void to_rfc3339(const char *docker_time, char out[32])
{
    time_t t = util_parse_rfc3339(docker_time);
    if (t <= 0)
        out[0] = 0;
    else
        util_rfc3339(t, out);
}

/* ---------------------------------------------------------------------------- the node */

/* The aggregate cpu line of /proc/stat as busy ns (everything but idle and iowait, as
 * the root cgroup's cpuacct counts it; guest time is already in user) and btime. */
static int read_proc_stat(long long *busy_ns, time_t *boot)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    int ok = 0;
    long hz = sysconf(_SC_CLK_TCK);
    if (!f)
        return -1;
    if (hz <= 0)
        hz = 100;
    *boot = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long us, ni, sy, id, io, irq, sirq, st;
        if (!strncmp(line, "cpu ", 4) &&
            sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &us, &ni, &sy, &id, &io,
                   &irq, &sirq, &st) == 8) {
            *busy_ns = (long long)((us + ni + sy + irq + sirq + st) * (1000000000ULL / (unsigned long long)hz));
            ok = 1;
        } else if (!strncmp(line, "btime ", 6)) {
            *boot = (time_t)atoll(line + 6);
        }
    }
    fclose(f);
    return ok ? 0 : -1;
}

static void read_meminfo(long long *total, long long *avail, long long *mfree)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    *total = *avail = *mfree = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "MemTotal:", 9))
            *total = atoll(line + 9) * 1024;
        else if (!strncmp(line, "MemAvailable:", 13))
            *avail = atoll(line + 13) * 1024;
        else if (!strncmp(line, "MemFree:", 8))
            *mfree = atoll(line + 8) * 1024;
    }
    fclose(f);
}

/* The node's part of the summary, read now; the cpu rate is over the time since the last
 * reading (the round before). Returns a new reference. */
static json_t *node_sample(agent_stats_t *s)
{
    char stamp[32], boot_s[32];
    long long busy = 0, total, avail, mfree;
    time_t boot = 0;
    util_rfc3339(time(NULL), stamp);
    json_t *cpu = json_pack("{s:s}", "time", stamp);
    if (read_proc_stat(&busy, &boot) == 0) {
        uint64_t now = util_now_us();
        json_object_set_new(cpu, "usageCoreNanoSeconds", json_integer(busy));
        if (s->node_have && now > s->node_cpu_at_us && busy >= s->node_cpu_ns) {
            /* ns of cpu per µs of wall time, times 1e6: ns per second, i.e. nanocores */
            double rate = (double)(busy - s->node_cpu_ns) * 1e6 / (double)(now - s->node_cpu_at_us);
            json_object_set_new(cpu, "usageNanoCores", json_integer((json_int_t)rate));
        }
        s->node_cpu_ns = busy;
        s->node_cpu_at_us = now;
        s->node_have = 1;
    }
    read_meminfo(&total, &avail, &mfree);
    long long ws = total - avail;
    json_t *mem = json_pack("{s:s,s:I,s:I,s:I}", "time", stamp, "workingSetBytes",
                            (json_int_t)(ws > 0 ? ws : 0), "usageBytes",
                            (json_int_t)(total - mfree > 0 ? total - mfree : 0), "availableBytes",
                            (json_int_t)avail);
    json_t *node = json_pack("{s:s,s:o,s:o}", "nodeName", s->a->node, "cpu", cpu, "memory", mem);
    if (boot > 0) {
        util_rfc3339(boot, boot_s);
        json_object_set_new(node, "startTime", json_string(boot_s));
    }
    return node;
}

/* ---------------------------------------------------------------------------- containers */

/* Keep Docker's reading of container id (body: the stats object, borrowed) as its sample,
 * with the rate since its previous sample when there is one. */
static void sample_store(agent_stats_t *s, const char *id, json_t *body)
{
    json_t *prev = json_object_get(s->samples, id);
    const char *read = json_str(body, "read");
    long long read_ns = parse_ns(read);
    long long total = num(body, "cpu_stats.cpu_usage.total_usage");
    long long usage = num(body, "memory_stats.usage");
    json_t *mstats = json_path(body, "memory_stats.stats");
    /* cgroup v1 has total_inactive_file (the hierarchy's), v2 only inactive_file. */
    long long inactive = json_object_get(mstats, "total_inactive_file")
                             ? num(mstats, "total_inactive_file")
                             : num(mstats, "inactive_file");
    long long ws = usage - inactive;
    char stamp[32];
    if (read_ns < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        read_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    if (prev && read_ns <= num(prev, "readNs"))
        return;    /* the same reading again: the previous sample (and rate) stands */
    util_rfc3339((time_t)(read_ns / 1000000000LL), stamp);
    json_t *smp = json_pack("{s:I,s:I,s:I,s:I,s:s}", "total", (json_int_t)total, "readNs",
                            (json_int_t)read_ns, "ws", (json_int_t)(ws > 0 ? ws : 0), "usage",
                            (json_int_t)usage, "time", stamp);
    if (prev && total >= num(prev, "total")) {
        /* A counter that went back is a restarted cgroup: a first sample again. */
        double rate = (double)(total - num(prev, "total")) * 1e9 /
                      (double)(read_ns - num(prev, "readNs"));
        json_object_set_new(smp, "nanoCores", json_integer((json_int_t)rate));
    }
    json_object_set_new(s->samples, id, smp);
}

static void round_end(agent_stats_t *s);
static void pump(agent_stats_t *s);

static void req_unlink(stats_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->s->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void stats_done(int status, json_t *body, const char *errstr, void *priv)
{
    stats_req_t *r = priv;
    agent_stats_t *s = r->s;
    req_unlink(r);
    if (status == 200 && json_is_object(body)) {
        sample_store(s, r->id, body);
    } else {
        /* Gone, stopped or Docker in trouble: this container only loses its sample. */
        log_debug("agent: stats of container %.12s: %d %s", r->id, status, errstr ? errstr : "");
        json_object_del(s->samples, r->id);
        s->failures++;
    }
    free(r);
    s->inflight--;
    pump(s);
}

/* Ask for the next containers of the round, up to STATS_INFLIGHT in flight; end the round
 * when every answer is in. */
static void pump(agent_stats_t *s)
{
    char path[256];
    while (s->inflight < STATS_INFLIGHT && s->next < json_array_size(s->queue)) {
        const char *id = json_string_value(json_array_get(s->queue, s->next++));
        stats_req_t *r = calloc(1, sizeof(*r));
        if (!r || !id || strlen(id) >= sizeof(r->id)) {
            free(r);
            continue;
        }
        r->s = s;
        snprintf(r->id, sizeof(r->id), "%s", id);
        snprintf(path, sizeof(path), "/containers/%s/stats?stream=false&one-shot=true", id);
        r->call = docker_request(s->a->docker, "GET", path, NULL, STATS_TIMEOUT_MS, stats_done, r);
        if (!r->call) {
            json_object_del(s->samples, id);
            s->failures++;
            free(r);
            continue;
        }
        r->next = s->reqs;
        if (s->reqs)
            s->reqs->prev = r;
        s->reqs = r;
        s->inflight++;
    }
    if (s->running && !s->inflight && s->next >= json_array_size(s->queue))
        round_end(s);
}

/* Whether a runtime-cache entry is an app (or init) container that runs now. */
static int counted(json_t *ctr)
{
    const char *name = agent_label(ctr, LBL_NAME);
    return name && strcmp(name, AGENT_INFRA_NAME) && json_is_true(json_path(ctr, "State.Running"));
}

static void on_round(evutil_socket_t fd, short what, void *arg)
{
    agent_stats_t *s = arg;
    const char *id;
    json_t *c, *v;
    void *tmp;
    if (s->running) {
        log_debug("agent: stats round still running after %d s; tick skipped", s->interval_s);
        return;
    }
    s->running = 1;
    s->round_at_us = util_now_us();
    json_decref(s->node);
    s->node = node_sample(s);
    s->queue = json_array();
    s->next = 0;
    json_t *live = json_object();
    json_object_foreach(s->a->containers, id, c) {
        if (!counted(c))
            continue;
        json_array_append_new(s->queue, json_string(id));
        json_object_set_new(live, id, json_true());
    }
    /* Containers that stopped or went away since the last round lose their samples. */
    json_object_foreach_safe(s->samples, tmp, id, v) {
        if (!json_object_get(live, id))
            json_object_del(s->samples, id);
    }
    json_decref(live);
    pump(s);
}

/* ---------------------------------------------------------------------------- the reply */

static json_t *cpu_json(const char *stamp, json_t *nano, long long total)
{
    json_t *cpu = json_pack("{s:s,s:I}", "time", stamp, "usageCoreNanoSeconds", (json_int_t)total);
    if (nano)
        json_object_set(cpu, "usageNanoCores", nano);
    return cpu;
}

/* Add container ctr's sample smp to its pod's entry in pods (uid -> pod), creating it. The
 * entry carries two working keys that round_end removes: "rated" (every container so far
 * has a rate) and "apiStart" (startTime came from the API). */
static void pod_add(agent_stats_t *s, json_t *pods, json_t *ctr, json_t *smp)
{
    const char *uid = agent_label(ctr, LBL_UID), *ns = agent_label(ctr, LBL_NS),
               *name = agent_label(ctr, LBL_POD), *cname = agent_label(ctr, LBL_NAME);
    const char *stamp = json_str(smp, "time");
    char started[32];
    if (!uid || !ns || !name || !cname || !stamp)
        return;
    json_t *pod = json_object_get(pods, uid);
    if (!pod) {
        pod = json_pack("{s:{s:s,s:s,s:s},s:[],s:{s:s,s:I,s:I},s:{s:s,s:I,s:I},s:b}", "podRef",
                        "name", name, "namespace", ns, "uid", uid, "containers", "cpu", "time",
                        stamp, "usageNanoCores", (json_int_t)0, "usageCoreNanoSeconds",
                        (json_int_t)0, "memory", "time", stamp, "workingSetBytes", (json_int_t)0,
                        "usageBytes", (json_int_t)0, "rated", 1);
        /* kube's pod startTime is the pod's status.startTime; without it (not seen yet) the
         * start of its first container. */
        const char *st = json_str(json_path(informer_get(s->a->pods, ns, name), "status"), "startTime");
        if (st)
            json_object_set_new(pod, "startTime", json_string(st));
        json_object_set_new(pod, "apiStart", json_boolean(st != NULL));
        json_object_set_new(pods, uid, pod);
    }
    to_rfc3339(json_str(json_object_get(ctr, "State"), "StartedAt"), started);
    json_t *nano = json_object_get(smp, "nanoCores");
    json_t *cj = json_pack("{s:s,s:o,s:{s:s,s:O,s:O}}", "name", cname, "cpu",
                           cpu_json(stamp, nano, num(smp, "total")), "memory", "time", stamp,
                           "workingSetBytes", json_object_get(smp, "ws"), "usageBytes",
                           json_object_get(smp, "usage"));
    if (started[0])
        json_object_set_new(cj, "startTime", json_string(started));
    json_array_append_new(json_object_get(pod, "containers"), cj);
    /* The pod: the sum of its containers, at the newest of their times. */
    json_t *pc = json_object_get(pod, "cpu"), *pm = json_object_get(pod, "memory");
    if (strcmp(stamp, json_str(pc, "time")) > 0) {
        json_object_set_new(pc, "time", json_string(stamp));
        json_object_set_new(pm, "time", json_string(stamp));
    }
    if (!nano)
        json_object_set_new(pod, "rated", json_false());
    json_object_set_new(pc, "usageNanoCores",
                        json_integer(num(pc, "usageNanoCores") + (nano ? json_integer_value(nano) : 0)));
    json_object_set_new(pc, "usageCoreNanoSeconds",
                        json_integer(num(pc, "usageCoreNanoSeconds") + num(smp, "total")));
    json_object_set_new(pm, "workingSetBytes",
                        json_integer(num(pm, "workingSetBytes") + num(smp, "ws")));
    json_object_set_new(pm, "usageBytes", json_integer(num(pm, "usageBytes") + num(smp, "usage")));
    if (started[0] && !json_is_true(json_object_get(pod, "apiStart")) &&
        (!json_str(pod, "startTime") || strcmp(started, json_str(pod, "startTime")) < 0))
        json_object_set_new(pod, "startTime", json_string(started));
}

/* The round is complete: build the reply from the node reading and the samples of the
 * containers that run now. */
static void round_end(agent_stats_t *s)
{
    const char *id, *k;
    json_t *c, *pod;
    s->running = 0;
    s->rounds++;
    json_decref(s->queue);
    s->queue = NULL;
    json_t *pods = json_object();
    json_object_foreach(s->a->containers, id, c) {
        json_t *smp = json_object_get(s->samples, id);
        if (smp && counted(c))
            pod_add(s, pods, c, smp);
    }
    json_t *list = json_array();
    json_object_foreach(pods, k, pod) {
        if (!json_is_true(json_object_get(pod, "rated")))
            json_object_del(json_object_get(pod, "cpu"), "usageNanoCores");
        json_object_del(pod, "rated");
        json_object_del(pod, "apiStart");
        json_array_append(list, pod);
    }
    json_decref(pods);
    log_debug("agent: stats round %llu: %zu pods in %llu ms (%llu failed readings so far)",
              s->rounds, json_array_size(list),
              (unsigned long long)((util_now_us() - s->round_at_us) / 1000), s->failures);
    json_t *sum = json_pack("{s:O,s:o}", "node", s->node, "pods", list);
    char *body = jsondump(sum, JSON_COMPACT);
    json_decref(sum);
    if (body) {
        free(s->body);
        s->body = body;
    }
}

/* ---------------------------------------------------------------------------- interface */

int agent_stats_init(agent_t *a, int interval_s)
{
    agent_stats_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->a = a;
    s->interval_s = interval_s;
    a->stats = s;
    if (interval_s <= 0)
        return 0;
    s->samples = json_object();
    s->timer = event_new(a->base, -1, EV_PERSIST, on_round, s);
    if (!s->samples || !s->timer)
        return -1;
    struct timeval tv = { interval_s, 0 };
    event_add(s->timer, &tv);
    /* The first round at once: the runtime cache is still empty, so it is the node alone
     * and completes here, and the endpoint has an answer from the start. */
    on_round(-1, 0, s);
    return 0;
}

void agent_stats_handle(agent_t *a, struct evhttp_request *req)
{
    agent_stats_t *s = a->stats;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        agent_reply_text(req, 405, "Method Not Allowed", "method not allowed");
        return;
    }
    if (!s || s->interval_s <= 0) {
        agent_reply_text(req, 503, "Service Unavailable",
                         "resource usage is not collected (--stats-interval 0)");
        return;
    }
    if (!s->body) {
        agent_reply_text(req, 503, "Service Unavailable", "no resource usage collected yet");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        agent_reply_text(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    evbuffer_add(b, s->body, strlen(s->body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

void agent_stats_release(agent_t *a)
{
    agent_stats_t *s = a->stats;
    if (!s)
        return;
    while (s->reqs) {
        stats_req_t *r = s->reqs;
        s->reqs = r->next;
        docker_cancel(r->call);
        free(r);
    }
    if (s->timer)
        event_free(s->timer);
    json_decref(s->samples);
    json_decref(s->queue);
    json_decref(s->node);
    free(s->body);
    free(s);
    a->stats = NULL;
}
