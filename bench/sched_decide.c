/* bench/sched_decide.c: the cost of a scheduling decision, the Lua policy against C.
 *
 * Builds a synthetic cluster of N nodes in the scheduler's cache (engine/schedcache.c, the
 * same cache and Lua hand-over `berth scheduler` uses), then places P pods one by one:
 *
 *   lua   the default policy (policies/scheduler.lua through lua/berth/framework.lua) in
 *         the production sandbox (engine/policy.c: JIT on, wall-clock budget, memory cap),
 *         through the scheduler's decision function (scheduler_decide_pod: the pod and ctx
 *         handed to Lua by the cache, the schedule hook called, its result read), each
 *         choice assumed in the cache as the scheduler does before binding;
 *   c     a C baseline of the same filter and score, written the way a compiled scheduler
 *         plugin would be: per-node aggregates kept incrementally (kube's NodeInfo), the
 *         filters kube's default profile runs for these pods (unschedulable, node selector,
 *         taints/tolerations, resource fit on cpu/memory/pods), LeastAllocated and
 *         BalancedAllocation scores, and the same node sampling (percentageOfNodesToScore
 *         adaptive, rotating start).
 *
 * Both run in this one process on the same data; the output line gives decisions per second
 * of each and their ratio. No network, no Redis: this is the decision alone. The end-to-end
 * rate (API, bindings, events) is bench/sched.sh's.
 *
 *   sched_decide -n NODES -p PODS -d POLICY_DIR -l LUA_DIR [-b POD_JSON]
 * Prints: nodes=N pods=P lua_per_s=X c_per_s=Y ratio=Z agree=F
 * (agree: fraction of pods both placed on the same node; sampling and tie-breaking are the
 * same, so it is close to 1 but score rounding may differ). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "../engine/luavm.h"
#include "../engine/policy.h"
#include "../engine/schedcache.h"
#include "../engine/scheduler.h"
#include "../engine/util.h"
#include "../engine/validate_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *make_node(int i)
{
    char name[64], zone[32];
    snprintf(name, sizeof(name), "node-%d", i);
    snprintf(zone, sizeof(zone), "zone-%d", i % 3);
    json_t *n = json_pack(
        "{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s,s:s}},s:{},s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}",
        "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "resourceVersion", "1",
        "labels", "kubernetes.io/os", "linux", "kubernetes.io/hostname", name,
        "topology.kubernetes.io/zone", zone, "spec", "status", "allocatable", "cpu", "64",
        "memory", "256Gi", "pods", "500", "capacity", "cpu", "64", "memory", "256Gi", "pods",
        "500", "conditions", "type", "Ready", "status", "True");
    /* One node in ten carries a taint the pods do not tolerate. */
    if (i % 10 == 9)
        json_object_set_new(json_object_get(n, "spec"), "taints",
                            json_pack("[{s:s,s:s,s:s}]", "key", "dedicated", "value", "db",
                                      "effect", "NoSchedule"));
    return n;
}

/* ---- the C baseline ------------------------------------------------------------------ */

typedef struct cnode_s {
    const char *name;
    const json_t *node;
    double alloc_cpu, alloc_mem, alloc_pods;   /* milli-cpu, bytes, count */
    double req_cpu, req_mem, nz_cpu, nz_mem, pods;
} cnode_t;

#define DEFAULT_MILLI_CPU 100.0
#define DEFAULT_MEMORY (200.0 * 1024 * 1024)

static double quantity(const json_t *v, int milli)
{
    long double q;
    const char *err;
    if (!json_is_string(v) || val_quantity_parse(json_string_value(v), &q, &err) != 0)
        return 0;
    return milli ? (double)(q * 1000) : (double)q;
}

static void pod_requests(const json_t *pod, double *cpu, double *mem)
{
    size_t i;
    json_t *c;
    *cpu = *mem = 0;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        *cpu += quantity(json_path(c, "resources.requests.cpu"), 1);
        *mem += quantity(json_path(c, "resources.requests.memory"), 0);
    }
}

static int tolerates(const json_t *tols, const json_t *taint)
{
    size_t i;
    json_t *t;
    const char *key = json_str(taint, "key"), *value = json_str(taint, "value");
    const char *effect = json_str(taint, "effect");
    json_array_foreach(tols, i, t) {
        const char *tk = json_str(t, "key"), *op = json_str(t, "operator");
        const char *te = json_str(t, "effect"), *tv = json_str(t, "value");
        if (te && *te && (!effect || strcmp(te, effect)))
            continue;
        if (op && !strcmp(op, "Exists")) {
            if (!tk || !*tk || (key && !strcmp(tk, key)))
                return 1;
            continue;
        }
        if (tk && key && !strcmp(tk, key) && (tv ? tv : "")[0] == (value ? value : "")[0] &&
            !strcmp(tv ? tv : "", value ? value : ""))
            return 1;
    }
    return 0;
}

static int c_filter(const cnode_t *n, const json_t *pod, double cpu, double mem)
{
    const json_t *spec = json_object_get(pod, "spec"), *sel, *taint, *labels;
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_true(json_path(n->node, "spec.unschedulable")))
        return 0;
    sel = json_object_get(spec, "nodeSelector");
    labels = json_path(n->node, "metadata.labels");
    json_object_foreach((json_t *)sel, k, v) {
        const char *have = json_str(labels, k);
        if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
            return 0;
    }
    json_array_foreach(json_path(n->node, "spec.taints"), i, taint) {
        const char *effect = json_str(taint, "effect");
        if (effect && (!strcmp(effect, "NoSchedule") || !strcmp(effect, "NoExecute")) &&
            !tolerates(json_object_get(spec, "tolerations"), taint))
            return 0;
    }
    if (n->pods + 1 > n->alloc_pods || n->req_cpu + cpu > n->alloc_cpu ||
        n->req_mem + mem > n->alloc_mem)
        return 0;
    return 1;
}

static double least(double used, double cap)
{
    if (cap <= 0 || used > cap)
        return 0;
    return floor((cap - used) * 100 / cap);
}

static double c_score(const cnode_t *n, double cpu, double mem)
{
    double nzc = n->nz_cpu + (cpu > 0 ? cpu : DEFAULT_MILLI_CPU);
    double nzm = n->nz_mem + (mem > 0 ? mem : DEFAULT_MEMORY);
    double fit = floor((least(nzc, n->alloc_cpu) + least(nzm, n->alloc_mem)) / 2);
    double fc = fmin((n->req_cpu + cpu) / n->alloc_cpu, 1), fm = fmin((n->req_mem + mem) / n->alloc_mem, 1);
    double balanced = floor((1 - fabs(fc - fm) / 2) * 100);
    return fit + balanced;
}

static int num_to_find(int all)
{
    if (all < 100)
        return all;
    int pct = 50 - all / 125;
    if (pct < 5)
        pct = 5;
    int n = all * pct / 100;
    return n < 100 ? 100 : n;
}

static int c_decide(cnode_t *nodes, int n, const json_t *pod, int *next_start)
{
    double cpu, mem, best_score = -1;
    int want = num_to_find(n), found = 0, processed = 0, best = -1;
    int start = *next_start % n;
    pod_requests(pod, &cpu, &mem);
    /* Feasible nodes in rotation order, then scored in node order as the framework does. */
    int *feasible = malloc(sizeof(int) * (size_t)want);
    for (int i = 0; i < n && found < want; i++) {
        int idx = (start + i) % n;
        processed++;
        if (c_filter(&nodes[idx], pod, cpu, mem))
            feasible[found++] = idx;
    }
    *next_start = (start + processed) % n;
    for (int i = 0; i < found; i++) {
        /* lowest index wins ties, as the Lua framework chooses in ctx.nodes order */
        double s = c_score(&nodes[feasible[i]], cpu, mem);
        if (s > best_score || (s == best_score && feasible[i] < best)) {
            best_score = s;
            best = feasible[i];
        }
    }
    free(feasible);
    if (best >= 0) {
        cnode_t *b = &nodes[best];
        b->req_cpu += cpu;
        b->req_mem += mem;
        b->nz_cpu += cpu > 0 ? cpu : DEFAULT_MILLI_CPU;
        b->nz_mem += mem > 0 ? mem : DEFAULT_MEMORY;
        b->pods += 1;
    }
    return best;
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int nnodes = 1000, npods = 2000, c;
    const char *pdir = "policies", *ldir = "lua", *podfile = "bench/pod.json";
    char err[512];
    while ((c = getopt(argc, argv, "n:p:d:l:b:")) != -1) {
        switch (c) {
        case 'n': nnodes = atoi(optarg); break;
        case 'p': npods = atoi(optarg); break;
        case 'd': pdir = optarg; break;
        case 'l': ldir = optarg; break;
        case 'b': podfile = optarg; break;
        default: fprintf(stderr, "usage: sched_decide -n NODES -p PODS -d DIR -l DIR [-b POD]\n"); return 2;
        }
    }
    json_error_t jerr;
    json_t *tmpl = json_load_file(podfile, 0, &jerr);
    if (!tmpl || nnodes < 1 || npods < 1) {
        fprintf(stderr, "sched_decide: %s: %s\n", podfile, tmpl ? "bad counts" : jerr.text);
        return 2;
    }
    json_object_set_new(json_object_get(tmpl, "metadata"), "namespace", json_string("default"));
    json_object_set_new(json_object_get(tmpl, "metadata"), "resourceVersion", json_string("1"));

    json_t **nodes = calloc((size_t)nnodes, sizeof(*nodes));
    json_t **pods = calloc((size_t)npods, sizeof(*pods));
    for (int i = 0; i < nnodes; i++)
        nodes[i] = make_node(i);
    for (int i = 0; i < npods; i++) {
        char name[64];
        pods[i] = json_deep_copy(tmpl);
        snprintf(name, sizeof(name), "pod-%d", i);
        json_object_set_new(json_object_get(pods[i], "metadata"), "name", json_string(name));
    }

    /* Lua */
    struct event_base *base = event_base_new();
    policy_opts_t popts;
    memset(&popts, 0, sizeof(popts));
    popts.no_watch = 1;
    policy_set_t *set = policy_set_create(base, pdir, ldir, &popts, err, sizeof(err));
    policy_t *p = set ? policy_get(set, "scheduler.lua") : NULL;
    schedcache_t *sc = schedcache_create();
    if (!p || !sc) {
        fprintf(stderr, "sched_decide: cannot load %s/scheduler.lua: %s\n", pdir, set ? "see log" : err);
        return 1;
    }
    for (int i = 0; i < nnodes; i++)
        schedcache_node_set(sc, nodes[i]);
    char **lua_choice = calloc((size_t)npods, sizeof(char *));
    int lua_failed = 0;
    double t0 = now_s();
    for (int i = 0; i < npods; i++) {
        char key[80];
        scheduler_decision_t d;
        snprintf(key, sizeof(key), "default/pod-%d", i);
        /* The scheduler's own decision function (engine/scheduler.c), as `berth server`
         * runs it for each pending pod, then the assumption it makes before binding. */
        scheduler_decide_pod(p, sc, NULL, 1, key, pods[i], 0, &d);
        if (d.outcome != SCHEDULER_PLACED && d.outcome != SCHEDULER_UNSCHEDULABLE) {
            if (!lua_failed)
                fprintf(stderr, "sched_decide: %s: %s\n", key, d.message);
            lua_failed++;
            continue;
        }
        if (d.outcome == SCHEDULER_PLACED) {
            lua_choice[i] = strdup(d.node);
            schedcache_assume(sc, key, pods[i], lua_choice[i]);
        }
    }
    double lua_s = now_s() - t0;

    /* C */
    cnode_t *cn = calloc((size_t)nnodes, sizeof(*cn));
    for (int i = 0; i < nnodes; i++) {
        cn[i].node = nodes[i];
        cn[i].name = json_str(json_object_get(nodes[i], "metadata"), "name");
        cn[i].alloc_cpu = quantity(json_path(nodes[i], "status.allocatable.cpu"), 1);
        cn[i].alloc_mem = quantity(json_path(nodes[i], "status.allocatable.memory"), 0);
        cn[i].alloc_pods = quantity(json_path(nodes[i], "status.allocatable.pods"), 0);
    }
    int next_start = 0, agree = 0;
    t0 = now_s();
    for (int i = 0; i < npods; i++) {
        int b = c_decide(cn, nnodes, pods[i], &next_start);
        if (b >= 0 && lua_choice[i] && !strcmp(cn[b].name, lua_choice[i]))
            agree++;
    }
    double c_s = now_s() - t0;

    printf("nodes=%d pods=%d lua_per_s=%.0f c_per_s=%.0f ratio=%.2f agree=%.3f lua_failed=%d\n",
           nnodes, npods, npods / lua_s, npods / c_s, lua_s / c_s, (double)agree / npods,
           lua_failed);
    for (int i = 0; i < npods; i++) {
        free(lua_choice[i]);
        json_decref(pods[i]);
    }
    for (int i = 0; i < nnodes; i++)
        json_decref(nodes[i]);
    free(lua_choice);
    free(cn);
    free(nodes);
    free(pods);
    schedcache_free(sc);
    policy_set_free(set);
    event_base_free(base);
    json_decref(tmpl);
    return lua_failed ? 1 : 0;
}
