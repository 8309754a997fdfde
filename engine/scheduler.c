/* scheduler.c: see scheduler.h. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "apiclient.h"
#include "informer.h"
#include "leader.h"
#include "luacluster.h"
#include "log.h"
#include "luajson.h"
#include "luavm.h"
#include "metrics.h"
#include "policy.h"
#include "schedcache.h"
#include "eventcorr.h"
#include "scheduler.h"
#include "util.h"
#include "workqueue.h"

#define DEFAULT_SCHEDULER SCHEDULER_DEFAULT_NAME

struct scheduler_s {
    struct event_base *base;
    apiclient_t *client;
    eventcorr_t *events;        /* repeated events become count increases */
    informer_t *pods, *nodes;
    workqueue_t *queue;
    policy_set_t *policies;
    int percentage;
    /* Nodes and the pods counted on each, bound or assumed (bound by us, binding not yet
     * seen by the informer), and their Lua conversions. */
    schedcache_t *cache;
    json_t *attempts;          /* key -> failed attempts, for the retry backoff */
    json_t *waits_on_pods;     /* unschedulable keys whose pods have pod affinity or spread
                                * constraints: another pod's binding may let them fit */
    leader_t *leader;          /* only the leader schedules */
    luacluster_t *lua;         /* berth.cluster in the policy VMs */
    /* The scheduling queue: keys the work queue handed out wait in `incoming`; when
     * `batch` is empty, incoming becomes the batch, ordered by the policy's sort hook, and
     * the batch is decided one pod per turn of the loop (so API requests sharing the loop,
     * inside berth server, are served between two decisions). */
    json_t *batch, *incoming;
    size_t batch_next;
    struct event *drain_ev;
};

/* Keys the work queue hands out at once: the most pods one batch orders. */
#define SCHED_BATCH_MAX 512

/* kube-scheduler's pod backoff: 1 s doubling to 10 s per failed attempt. */
#define BACKOFF_INITIAL_MS 1000
#define BACKOFF_MAX_MS     10000

static void retry_later(scheduler_t *s, const char *key)
{
    json_int_t n = json_integer_value(json_object_get(s->attempts, key));
    long delay = BACKOFF_INITIAL_MS;
    for (json_int_t i = 0; i < n && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    json_object_set_new(s->attempts, key, json_integer(n + 1));
    workqueue_add_after(s->queue, key, delay);
}

/* kube-scheduler parks an unschedulable pod until a cluster event may let it fit (a node
 * added or changed, a pod deleted or finished, for pods with pod affinity or spread
 * constraints a pod bound), and at the latest after podMaxInUnschedulablePodsDuration
 * (5 min). berth flushes after 60 s: a Lua policy may depend on state the scheduler cannot
 * tell changed. Retrying every 10 s instead cost a decision and an Event per pending pod
 * every 10 s, a steady load with many pods pending. */
#define UNSCHEDULABLE_FLUSH_MS 60000

static int waits_on_pods(const json_t *pod)
{
    return json_is_object(json_path(pod, "spec.affinity.podAffinity")) ||
           json_array_size(json_path(pod, "spec.topologySpreadConstraints")) > 0;
}

static void park_unschedulable(scheduler_t *s, const char *key, const json_t *pod)
{
    json_int_t n = json_integer_value(json_object_get(s->attempts, key));
    json_object_set_new(s->attempts, key, json_integer(n + 1));   /* cluster_changed sees it */
    if (waits_on_pods(pod))
        json_object_set_new(s->waits_on_pods, key, json_true());
    workqueue_add_after(s->queue, key, UNSCHEDULABLE_FLUSH_MS);
}

static void forget(scheduler_t *s, const char *key)
{
    json_object_del(s->attempts, key);
    json_object_del(s->waits_on_pods, key);
    workqueue_forget(s->queue, key);
}

typedef struct bind_op_s {
    scheduler_t *s;
    char *key, *node;
} bind_op_t;

static void finish(scheduler_t *s, const char *key);

/* ---- small helpers ----------------------------------------------------------------- */

static const char *md_str(const json_t *obj, const char *field)
{
    return json_str(json_object_get(obj, "metadata"), field);
}

static void pod_key(const json_t *pod, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", md_str(pod, "namespace") ? md_str(pod, "namespace") : "",
             md_str(pod, "name") ? md_str(pod, "name") : "");
}

/* A pod this scheduler should place: not bound, not terminating, not finished. */
static int pod_pending(const json_t *pod)
{
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    if (node && *node)
        return 0;
    if (md_str(pod, "deletionTimestamp"))
        return 0;
    return !phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"));
}

static int pod_finished(const json_t *pod)
{
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

int scheduler_policy_name(const char *name, char *out, size_t outlen)
{
    if (!name || !*name || !strcmp(name, DEFAULT_SCHEDULER)) {
        snprintf(out, outlen, "scheduler.lua");
        return 0;
    }
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return -1;
    if (name[0] == '.' || strlen(name) > 200)
        return -1;
    snprintf(out, outlen, "schedulers/%s.lua", name);
    return 0;
}

/* The policy file for a pod's schedulerName, or -1 for a name that is not valid as a
 * file name (then it is not ours). */
static int policy_name_for(const json_t *pod, char *out, size_t outlen)
{
    return scheduler_policy_name(json_str(json_object_get(pod, "spec"), "schedulerName"), out,
                                 outlen);
}

static void record_event(scheduler_t *s, const json_t *pod, const char *type, const char *reason,
                         const char *message);

/* ---- API writes -------------------------------------------------------------------- */

static void ignore_done(int status, json_t *body, const char *errstr, void *priv)
{
    if (status == 0 || status >= 300)
        log_debug("scheduler: API write failed: %d %s", status, errstr ? errstr : "");
}

/* An Event about obj (a pod, or the scheduler's Lease for events about the scheduler). */
static void record_event_for(scheduler_t *s, const char *kind, const char *api_version,
                             const json_t *obj, const char *type, const char *reason,
                             const char *message);

static void record_event(scheduler_t *s, const json_t *pod, const char *type, const char *reason,
                         const char *message)
{
    record_event_for(s, "Pod", "v1", pod, type, reason, message);
}

static void record_event_for(scheduler_t *s, const char *kind, const char *api_version,
                             const json_t *pod, const char *type, const char *reason,
                             const char *message)
{
    char path[900];
    const char *ns = md_str(pod, "namespace"), *name = md_str(pod, "name");
    /* The reporter is the profile that handled the pod, as kube-scheduler reports it. */
    const char *source = json_str(json_object_get(pod, "spec"), "schedulerName");
    if (!source || !*source || strcmp(kind, "Pod"))
        source = DEFAULT_SCHEDULER;
    if (!ns || !name)
        return;
    eventcorr_event_t e = { source, kind, api_version, ns, name, md_str(pod, "uid"), type,
                            reason, message };
    const char *method, *ctype;
    json_t *ev = eventcorr_request(s->events, time(NULL), &e, &method, &ctype, path,
                                   sizeof(path));
    if (ev)
        apiclient_discard_body(
            apiclient_request(s->client, method, path, ctype, ev, ignore_done, NULL));
    json_decref(ev);
}

static void mark_unschedulable(scheduler_t *s, const json_t *pod, const char *message)
{
    char path[600], stamp[32];
    util_rfc3339(time(NULL), stamp);
    json_t *patch = json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:n,s:s}]}}", "status", "conditions",
                              "type", "PodScheduled", "status", "False", "reason", "Unschedulable",
                              "message", message, "lastProbeTime", "lastTransitionTime", stamp);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", md_str(pod, "namespace"),
             md_str(pod, "name"));
    apiclient_discard_body(apiclient_request(s->client, "PATCH", path,
                                             "application/strategic-merge-patch+json", patch,
                                             ignore_done, NULL));
    json_decref(patch);
}

static void bind_done(int status, json_t *body, const char *errstr, void *priv)
{
    bind_op_t *op = priv;
    scheduler_t *s = op->s;
    json_t *pod = informer_get_key(s->pods, op->key);
    if (status == 201 || status == 200) {
        char msg[600];
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"scheduled\"", 1);
        snprintf(msg, sizeof(msg), "Successfully assigned %s to %s", op->key, op->node);
        if (pod)
            record_event(s, pod, "Normal", "Scheduled", msg);
        forget(s, op->key);
    } else {
        /* 409: someone else bound it, or it is being deleted; the informer will tell. Any
         * other failure: forget the assumption and try again later. */
        schedcache_unassume(s->cache, op->key);
        if (status != 409) {
            metrics_add("berth_scheduler_schedule_attempts_total", "result=\"error\"", 1);
            log_warn("scheduler: binding %s to %s failed: %d %s", op->key, op->node, status,
                     errstr ? errstr : "");
            retry_later(s, op->key);
        }
    }
    free(op->key);
    free(op->node);
    free(op);
}

static void bind_pod(scheduler_t *s, const char *key, json_t *pod, const char *node)
{
    char path[600];
    bind_op_t *op = calloc(1, sizeof(*op));
    json_t *binding = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
                                "Binding", "metadata", "name", md_str(pod, "name"), "target",
                                "apiVersion", "v1", "kind", "Node", "name", node);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/binding", md_str(pod, "namespace"),
             md_str(pod, "name"));
    if (op) {
        op->s = s;
        op->key = strdup(key);
        op->node = strdup(node);
    }
    schedcache_assume(s->cache, key, pod, node);
    apiclient_call_t *call =
        op && op->key && op->node
            ? apiclient_request(s->client, "POST", path, NULL, binding, bind_done, op)
            : NULL;
    apiclient_discard_body(call);   /* bind_done reads the status only */
    if (!call) {
        if (op) {
            free(op->key);
            free(op->node);
            free(op);
        }
        schedcache_unassume(s->cache, key);
        retry_later(s, key);
    }
    /* The binding completes in the background, as kube-scheduler's binding cycle does: the
     * pod is assumed on its node meanwhile, so the next decisions count it and a repeated
     * key is skipped. */
    finish(s, key);
    json_decref(binding);
}

/* ---- one decision ------------------------------------------------------------------ */

/* A key's decision is over: the queue may hand it out again (after a delay, a change). */
static void finish(scheduler_t *s, const char *key)
{
    workqueue_done(s->queue, key);
}

static int same_unschedulable(const json_t *pod, const char *msg)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "status.conditions"), i, c) {
        const char *type = json_str(c, "type"), *st = json_str(c, "status"), *m = json_str(c, "message");
        if (type && !strcmp(type, "PodScheduled"))
            return st && !strcmp(st, "False") && m && !strcmp(m, msg);
    }
    return 0;
}

static void decide(scheduler_t *s, const char *key)
{
    json_t *pod = informer_get_key(s->pods, key);
    char pname[300], msg[2400];
    policy_t *p;
    scheduler_decision_t d;

    if (!leader_is_leading(s->leader)) {
        finish(s, key);   /* requeued when this scheduler becomes the leader */
        return;
    }
    if (!pod || !pod_pending(pod) || schedcache_is_assumed(s->cache, key) ||
        policy_name_for(pod, pname, sizeof(pname)) != 0) {
        forget(s, key);
        finish(s, key);
        return;
    }
    p = policy_get(s->policies, pname);
    if (!p) {
        /* No policy by that name: another scheduler's pod, or ours with a file that never
         * loaded (that is reported by the policy set); look again after a while. */
        if (!strcmp(pname, "scheduler.lua"))
            retry_later(s, key);
        finish(s, key);
        return;
    }
    scheduler_decide_pod(p, s->cache, s->lua, 1, key, pod, s->percentage, &d);
    switch (d.outcome) {
    case SCHEDULER_NO_ARGS:
        log_warn("scheduler: %s: %s", key, d.message);
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"error\"", 1);
        break;
    case SCHEDULER_POLICY_FAILED:
        snprintf(msg, sizeof(msg), "scheduling policy %s failed (%s): %s", pname,
                 luavm_status_name(d.status), d.message);
        log_warn("scheduler: %s: %s", key, msg);
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"error\"", 1);
        record_event(s, pod, "Warning", "FailedScheduling", msg);
        break;
    case SCHEDULER_PLACED:
        if (d.bound_by_policy) {
            /* The policy's bind hook bound it: count it on the node until the informer
             * shows the binding (or, if the binding never comes, the pod is retried). */
            metrics_add("berth_scheduler_schedule_attempts_total", "result=\"scheduled\"", 1);
            schedcache_assume(s->cache, key, pod, d.node);
            workqueue_add_after(s->queue, key, BACKOFF_MAX_MS);
            finish(s, key);
            return;
        }
        bind_pod(s, key, pod, d.node);
        return;
    case SCHEDULER_UNSCHEDULABLE:
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"unschedulable\"", 1);
        /* The condition changes only when the reason does; the Event is recorded on every
         * attempt, as kube-scheduler does, and the correlator makes a repeat a count
         * increase of the same Event. */
        if (!same_unschedulable(pod, d.message))
            mark_unschedulable(s, pod, d.message);
        record_event(s, pod, "Warning", "FailedScheduling", d.message);
        park_unschedulable(s, key, pod);
        finish(s, key);
        return;
    default:   /* SCHEDULER_MALFORMED, counted by scheduler_decide_pod */
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"error\"", 1);
        break;
    }
    retry_later(s, key);
    finish(s, key);
}

void scheduler_decide_pod(policy_t *p, schedcache_t *cache, luacluster_t *lua, int commit,
                          const char *key, const json_t *pod, int percentage,
                          scheduler_decision_t *d)
{
    lua_State *L = policy_state(p);
    int rc;

    d->outcome = SCHEDULER_MALFORMED;
    d->status = LUAVM_OK;
    d->bound_by_policy = 0;
    d->node[0] = d->message[0] = '\0';
    if (schedcache_push_args(cache, L, key, pod, percentage, d->message, sizeof(d->message)) != 0) {
        d->outcome = SCHEDULER_NO_ARGS;
        return;
    }
    if (lua)
        luacluster_begin(lua, L);
    rc = policy_call(p, "schedule", 2, 3);
    if (rc != LUAVM_OK) {
        if (lua)
            luacluster_discard(lua, L);
        d->outcome = SCHEDULER_POLICY_FAILED;
        d->status = rc;
        snprintf(d->message, sizeof(d->message), "%s", policy_errmsg(p) ? policy_errmsg(p) : "");
        return;
    }
    /* Actions the policy took through berth.cluster (a bind hook that binds the pod
     * itself, Events) are sent now that the call succeeded. */
    if (lua) {
        if (commit)
            luacluster_commit(lua, L);
        else
            luacluster_discard(lua, L);
    }
    if (lua_type(L, -3) == LUA_TSTRING) {
        d->outcome = SCHEDULER_PLACED;
        d->bound_by_policy = lua_toboolean(L, -1);
        snprintf(d->node, sizeof(d->node), "%s", lua_tostring(L, -3));
    } else if (lua_isnil(L, -3) && lua_type(L, -2) == LUA_TSTRING) {
        d->outcome = SCHEDULER_UNSCHEDULABLE;
        snprintf(d->message, sizeof(d->message), "%s", lua_tostring(L, -2));
    } else {
        policy_note_malformed(p, "schedule must return a node name, or nil and a message");
        snprintf(d->message, sizeof(d->message), "%s", policy_errmsg(p) ? policy_errmsg(p) : "");
    }
    lua_pop(L, 3);
}

/* ---- the scheduling queue ---------------------------------------------------------- */

/* Order the batch with the default policy's `order` hook (framework.with_defaults makes it
 * from the policy's sort hook: kube's QueueSort, which is one for all profiles). A policy
 * without it, or one that fails, leaves the batch in arrival order. */
static void order_batch(scheduler_t *s)
{
    size_t n = json_array_size(s->batch), i;
    policy_t *p;
    if (n < 2 || !(p = policy_get(s->policies, "scheduler.lua")) || !policy_has_hook(p, "order"))
        return;
    const char **keys = calloc(n, sizeof(*keys));
    json_t **pods = calloc(n, sizeof(*pods));
    size_t *perm = calloc(n, sizeof(*perm));
    size_t m = 0;
    char err[512];
    int st;
    if (!keys || !pods || !perm)
        goto out;
    /* Keys whose pod is gone stay first; they are dropped at once by decide(). */
    json_t *gone = json_array(), *present = json_array();
    for (i = 0; i < n; i++) {
        json_t *k = json_array_get(s->batch, i);
        json_t *pod = informer_get_key(s->pods, json_string_value(k));
        if (!pod) {
            json_array_append(gone, k);
            continue;
        }
        json_array_append(present, k);
        keys[m] = json_string_value(k);
        pods[m++] = pod;
    }
    if (m >= 2) {
        if (scheduler_order_pods(p, s->cache, keys, pods, m, perm, &st, err, sizeof(err)) == 0) {
            for (i = 0; i < m; i++)
                json_array_append(gone, json_array_get(present, perm[i]));
            json_decref(s->batch);
            s->batch = gone;
            gone = NULL;
        } else if (st != LUAVM_OK) {
            log_warn("scheduler: ordering the queue failed: %s", err);
        }
    }
    json_decref(gone);
    json_decref(present);
out:
    free(keys);
    free(pods);
    free(perm);
}

int scheduler_order_pods(policy_t *p, schedcache_t *cache, const char *const *keys,
                         json_t *const *pods, size_t m, size_t *perm, int *status, char *err,
                         size_t errlen)
{
    lua_State *L = policy_state(p);
    unsigned char *seen;
    size_t i;
    int rc, ok;

    *status = LUAVM_OK;
    if (!policy_has_hook(p, "order")) {
        snprintf(err, errlen, "%s has no order hook", policy_name(p));
        return -1;
    }
    if (!(seen = calloc(m ? m : 1, 1))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (schedcache_push_pods(cache, L, keys, pods, m, err, errlen) != 0) {
        free(seen);
        return -1;
    }
    rc = policy_call(p, "order", 1, 1);
    ok = rc == LUAVM_OK && lua_istable(L, -1) && lua_objlen(L, -1) == m;
    for (i = 0; ok && i < m; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        lua_Number v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (v < 1 || v > (lua_Number)m || v != (lua_Number)(size_t)v || seen[(size_t)v - 1])
            ok = 0;
        else {
            seen[(size_t)v - 1] = 1;
            perm[i] = (size_t)v - 1;
        }
    }
    free(seen);
    if (rc != LUAVM_OK) {
        *status = rc;
        snprintf(err, errlen, "%s", policy_errmsg(p) ? policy_errmsg(p) : "");
        return -1;
    }
    lua_pop(L, 1);
    if (!ok) {
        policy_note_malformed(p, "order must return a permutation of 1..#pods");
        snprintf(err, errlen, "%s", policy_errmsg(p) ? policy_errmsg(p) : "");
        return -1;
    }
    return 0;
}

static void drain(evutil_socket_t fd, short what, void *arg)
{
    scheduler_t *s = arg;
    if (s->batch_next >= json_array_size(s->batch)) {
        json_decref(s->batch);
        s->batch = s->incoming;
        s->incoming = json_array();
        s->batch_next = 0;
        order_batch(s);
    }
    if (s->batch_next < json_array_size(s->batch)) {
        char key[600];
        snprintf(key, sizeof(key), "%s", json_string_value(json_array_get(s->batch, s->batch_next++)));
        decide(s, key);
    }
    if (s->batch_next < json_array_size(s->batch) || json_array_size(s->incoming) > 0) {
        static const struct timeval zero = { 0, 0 };
        evtimer_add(s->drain_ev, &zero);
    }
}

/* The work queue hands out a key: it waits for its turn in the scheduling queue. */
static void take(workqueue_t *q, const char *key, void *priv)
{
    scheduler_t *s = priv;
    static const struct timeval zero = { 0, 0 };
    json_array_append_new(s->incoming, json_string(key));
    if (!evtimer_pending(s->drain_ev, NULL))
        evtimer_add(s->drain_ev, &zero);
}

/* ---- informer handlers ------------------------------------------------------------- */

static int requeue_pending(const char *key, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    if (pod_pending(pod))
        workqueue_add(s->queue, key);
    return 0;
}

/* The cluster changed in a way that may let waiting pods fit: try them again now. */
/* Only the pods that failed and wait for their backoff: the others are queued already.
 * Walking every pod instead cost O(pods) per deleted pod, which a rolling update of 10,000
 * replicas turns into O(pods^2). */
static void cluster_changed(scheduler_t *s)
{
    const char *key;
    json_t *v;
    json_object_foreach(s->attempts, key, v)
        workqueue_add(s->queue, key);
}

/* Every pending pod (a new leader takes over the queue). */
static void requeue_all(scheduler_t *s)
{
    informer_foreach(s->pods, requeue_pending, s);
}

/* A pod was bound (or appeared bound): the parked pods whose fit depends on other pods'
 * placement may fit now. */
static void pod_assigned(scheduler_t *s)
{
    const char *key;
    json_t *v;
    json_object_foreach(s->waits_on_pods, key, v)
        workqueue_add(s->queue, key);
}

static void pod_set(scheduler_t *s, json_t *pod)
{
    char key[600];
    pod_key(pod, key, sizeof(key));
    schedcache_pod_set(s->cache, key, pod);
    if (pod_pending(pod))
        workqueue_add(s->queue, key);
}

static void pod_added(informer_t *inf, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    pod_set(s, pod);
    if (!pod_pending(pod) && json_object_size(s->waits_on_pods) > 0)
        pod_assigned(s);
}

/* Only what can change a decision: a pod still pending whose spec and labels are as before
 * (say, our own PodScheduled condition was just written) waits for its backoff instead. */
static void pod_updated(informer_t *inf, json_t *old, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    char key[600];
    pod_key(pod, key, sizeof(key));
    luacluster_forget(s->lua, "v1/pods", old);
    if (pod_pending(old) && pod_pending(pod) &&
        json_equal(json_object_get(old, "spec"), json_object_get(pod, "spec")) &&
        json_equal(json_object_get(json_object_get(old, "metadata"), "labels"),
                   json_object_get(json_object_get(pod, "metadata"), "labels"))) {
        schedcache_pod_set(s->cache, key, pod);
        return;
    }
    pod_set(s, pod);
    /* Bound now, or a bound pod's labels changed: pod affinity and spread may differ. Not
     * on its status updates, which every running pod makes. */
    if (!pod_pending(pod) && json_object_size(s->waits_on_pods) > 0 &&
        (pod_pending(old) ||
         !json_equal(json_object_get(json_object_get(old, "metadata"), "labels"),
                     json_object_get(json_object_get(pod, "metadata"), "labels"))))
        pod_assigned(s);
    if (!pod_finished(old) && pod_finished(pod))
        cluster_changed(s);   /* a pod that finished frees its resources */
}

static void pod_deleted(informer_t *inf, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    char key[600];
    pod_key(pod, key, sizeof(key));
    luacluster_forget(s->lua, "v1/pods", pod);
    schedcache_pod_delete(s->cache, key, pod);
    json_object_del(s->attempts, key);
    json_object_del(s->waits_on_pods, key);
    if (!pod_pending(pod))
        cluster_changed(s);   /* its resources are free again */
}

static void node_added(informer_t *inf, json_t *node, void *priv)
{
    schedcache_node_set(((scheduler_t *)priv)->cache, node);
    cluster_changed(priv);
}

/* The condition types and statuses of a node, without the heartbeat times that change on
 * every status update. */
static json_t *condition_states(const json_t *node)
{
    json_t *out = json_object(), *c;
    size_t i;
    json_array_foreach(json_path(node, "status.conditions"), i, c) {
        const char *type = json_str(c, "type"), *st = json_str(c, "status");
        if (type && st)
            json_object_set_new(out, type, json_string(st));
    }
    return out;
}

/* Whether a node update can change a decision: labels, spec (taints, unschedulable),
 * allocatable or condition states. A heartbeat alone does not requeue every pending pod. */
static int node_changed_for_scheduling(const json_t *old, const json_t *node)
{
    if (!json_equal(json_path(old, "metadata.labels"), json_path(node, "metadata.labels")) ||
        !json_equal(json_object_get(old, "spec"), json_object_get(node, "spec")) ||
        !json_equal(json_path(old, "status.allocatable"), json_path(node, "status.allocatable")))
        return 1;
    json_t *a = condition_states(old), *b = condition_states(node);
    int changed = !json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return changed;
}

static void node_updated(informer_t *inf, json_t *old, json_t *node, void *priv)
{
    luacluster_forget(((scheduler_t *)priv)->lua, "v1/nodes", old);
    schedcache_node_set(((scheduler_t *)priv)->cache, node);
    if (node_changed_for_scheduling(old, node))
        cluster_changed(priv);
}

static void node_deleted(informer_t *inf, json_t *node, void *priv)
{
    luacluster_forget(((scheduler_t *)priv)->lua, "v1/nodes", node);
    schedcache_node_delete(((scheduler_t *)priv)->cache, node);
}

static void leadership(int leading, void *priv)
{
    scheduler_t *s = priv;
    if (leading)
        requeue_all(s);   /* pods that waited while another scheduler led */
}

/* Load and reload results: a log line always; a failure also becomes a Warning Event on
 * the scheduler's Lease (kube-system/berth-scheduler), where `kubectl get events -n
 * kube-system` shows it with the file and line. */
static void policy_report(void *priv, const char *policy, int ok, const char *message)
{
    scheduler_t *s = priv;
    if (ok) {
        log_info("scheduler: policy %s loaded", policy);
        cluster_changed(s);   /* a new version may place the pods the last one could not */
        return;
    }
    log_error("scheduler: policy %s: %s", policy, message);
    if (s->client) {
        json_t *lease = json_pack("{s:{s:s,s:s}}", "metadata", "namespace", "kube-system", "name",
                                  "berth-scheduler");
        record_event_for(s, "Lease", "coordination.k8s.io/v1", lease, "Warning",
                         "PolicyLoadFailed", message);
        json_decref(lease);
    }
}

/* ---- life cycle -------------------------------------------------------------------- */

void scheduler_default_dir(const char *name, char *out, size_t outlen)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            slash = strrchr(exe, '/');
            if (slash) {
                *slash = '\0';
                snprintf(out, outlen, "%s/%s", exe, name);
                if (access(out, R_OK) == 0)
                    return;
            }
        }
    }
    snprintf(out, outlen, "%s", name);
}

scheduler_t *scheduler_create(struct event_base *base, const scheduler_opts_t *opts, char *err,
                              size_t errlen)
{
    scheduler_t *s = calloc(1, sizeof(*s));
    policy_opts_t popts;
    informer_config_t pc, nc;
    informer_handlers_t ph, nh;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base = base;
    s->percentage = opts->percentage_of_nodes_to_score;
    s->cache = schedcache_create();
    s->attempts = json_object();
    s->waits_on_pods = json_object();
    s->client = apiclient_create(base, opts->server_url);
    if (!s->client) {
        snprintf(err, errlen, "bad server URL %s", opts->server_url);
        goto failed;
    }
    s->lua = luacluster_create(s->client, DEFAULT_SCHEDULER);
    s->events = eventcorr_create();
    if (!s->events) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    memset(&popts, 0, sizeof(popts));
    popts.report = policy_report;
    popts.priv = s;
    popts.setup = luacluster_policy_setup;
    popts.setup_priv = s->lua;
    s->policies = policy_set_create(base, opts->policy_dir, opts->lib_dir, &popts, err, errlen);
    if (!s->policies)
        goto failed;
    s->batch = json_array();
    s->incoming = json_array();
    s->drain_ev = evtimer_new(base, drain, s);
    s->queue = workqueue_create(base, SCHED_BATCH_MAX, take, s);
    memset(&pc, 0, sizeof(pc));
    pc.path = "/api/v1/pods";
    memset(&ph, 0, sizeof(ph));
    ph.on_add = pod_added;
    ph.on_update = pod_updated;
    ph.on_delete = pod_deleted;
    ph.priv = s;
    s->pods = informer_create(base, s->client, &pc, &ph);
    memset(&nc, 0, sizeof(nc));
    nc.path = "/api/v1/nodes";
    memset(&nh, 0, sizeof(nh));
    nh.on_add = node_added;
    nh.on_update = node_updated;
    nh.on_delete = node_deleted;
    nh.priv = s;
    s->nodes = informer_create(base, s->client, &nc, &nh);
    if (!s->queue || !s->pods || !s->nodes || !s->cache || !s->lua || !s->drain_ev ||
        luacluster_add_informer(s->lua, "v1/pods", s->pods) != 0 ||
        luacluster_add_informer(s->lua, "v1/nodes", s->nodes) != 0) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    metrics_describe("berth_scheduler_schedule_attempts_total", "counter",
                     "Scheduling attempts by result (scheduled, unschedulable, error).");
    char host[128], identity[200];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "berth");
    host[sizeof(host) - 1] = '\0';
    snprintf(identity, sizeof(identity), "%s_%d", host, (int)getpid());
    leader_opts_t lo = { "kube-system", "berth-scheduler", identity, opts->lease_seconds, 0, 0 };
    if (opts->lease_seconds > 0) {
        /* Shorter leases (tests) renew and retry proportionally faster. */
        lo.renew_deadline_ms = opts->lease_seconds * 1000 * 2 / 3;
        lo.retry_ms = opts->lease_seconds * 1000 / 5 > 0 ? opts->lease_seconds * 1000 / 5 : 200;
    }
    s->leader = leader_create(base, s->client, &lo, leadership, s);
    if (!s->leader) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    informer_start(s->nodes);
    informer_start(s->pods);
    return s;
failed:
    scheduler_free(s);
    return NULL;
}

void scheduler_reload(scheduler_t *s)
{
    if (s)
        policy_set_reload_all(s->policies);
}

void scheduler_free(scheduler_t *s)
{
    if (!s)
        return;
    leader_free(s->leader);
    if (s->pods)
        informer_free(s->pods);
    if (s->nodes)
        informer_free(s->nodes);
    if (s->queue)
        workqueue_free(s->queue);
    if (s->drain_ev)
        event_free(s->drain_ev);
    /* The VMs (policies) hold per-VM state of the cluster module: free them first. */
    if (s->policies)
        policy_set_free(s->policies);
    luacluster_free(s->lua);
    eventcorr_free(s->events);
    if (s->client)
        apiclient_free(s->client);
    schedcache_free(s->cache);
    json_decref(s->attempts);
    json_decref(s->waits_on_pods);
    json_decref(s->batch);
    json_decref(s->incoming);
    free(s);
}

/* ---- berth scheduler --------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct event_base *base = arg;
    event_base_loopexit(base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    scheduler_reload(arg);
}

int scheduler_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "policies", required_argument, NULL, 'p' },
        { "lua", required_argument, NULL, 'l' },
        { "percentage-of-nodes-to-score", required_argument, NULL, 'P' },
        { "lease-seconds", required_argument, NULL, 'e' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char pdir[PATH_MAX], ldir[PATH_MAX], err[512];
    scheduler_opts_t so = { "http://127.0.0.1:6443", NULL, NULL, 0, 0 };
    int c;

    scheduler_default_dir("policies", pdir, sizeof(pdir));
    scheduler_default_dir("lua", ldir, sizeof(ldir));
    so.policy_dir = pdir;
    so.lib_dir = ldir;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': so.server_url = optarg; break;
        case 'p': so.policy_dir = optarg; break;
        case 'l': so.lib_dir = optarg; break;
        case 'P': so.percentage_of_nodes_to_score = atoi(optarg); break;
        case 'e': so.lease_seconds = atoi(optarg); break;
        case 'L': log_set_level_name(optarg); break;
        case 'h':
            printf("usage: berth scheduler [--server URL] [--policies DIR] [--lua DIR]\n"
                   "                       [--percentage-of-nodes-to-score N] [--lease-seconds N]\n"
                   "                       [--log-level LEVEL]\n");
            return 0;
        default: return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    scheduler_t *s = scheduler_create(base, &so, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "berth scheduler: %s\n", err);
        event_base_free(base);
        return 1;
    }
    struct event *e1 = evsignal_new(base, SIGINT, on_signal, base);
    struct event *e2 = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *e3 = evsignal_new(base, SIGHUP, on_hup, s);
    event_add(e1, NULL);
    event_add(e2, NULL);
    event_add(e3, NULL);
    log_info("scheduler: scheduling through %s with policies from %s", so.server_url, so.policy_dir);
    event_base_dispatch(base);
    event_free(e1);
    event_free(e2);
    event_free(e3);
    scheduler_free(s);
    event_base_free(base);
    return 0;
}
