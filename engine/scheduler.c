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
#include "log.h"
#include "luajson.h"
#include "luavm.h"
#include "metrics.h"
#include "policy.h"
#include "scheduler.h"
#include "util.h"
#include "workqueue.h"

#define DEFAULT_SCHEDULER "default-scheduler"

struct scheduler_s {
    struct event_base *base;
    apiclient_t *client;
    informer_t *pods, *nodes;
    workqueue_t *queue;
    policy_set_t *policies;
    int percentage;
    /* Pods bound by us whose binding the pod informer has not shown yet, so the next
     * decision counts them on their node: key -> {"node": name, "pod": object}. */
    json_t *assumed;
    /* Objects already converted into a policy VM: "<vm>/<kind>/<key>" -> [ref, rv]. */
    json_t *converted;
    lua_State *converted_vm;
    json_t *attempts;          /* key -> failed attempts, for the retry backoff */
    leader_t *leader;          /* only the leader schedules */
    unsigned nodes_gen;        /* bumped on every node change */
    int nodes_ref;             /* ctx.nodes as built for nodes_ref_gen in converted_vm */
    unsigned nodes_ref_gen;
};

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

static void forget(scheduler_t *s, const char *key)
{
    json_object_del(s->attempts, key);
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

/* The policy file for a pod's schedulerName, or NULL for a name that is not valid as a
 * file name (then it is not ours). */
static int policy_name_for(const json_t *pod, char *out, size_t outlen)
{
    const char *name = json_str(json_object_get(pod, "spec"), "schedulerName");
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

static void record_event(scheduler_t *s, const json_t *pod, const char *type, const char *reason,
                         const char *message);

/* ---- objects into the policy VM ---------------------------------------------------- */

/* Push obj converted into L, reusing the conversion while the object (its
 * resourceVersion) and the VM are unchanged: objects are converted once per change. */
static void push_cached(scheduler_t *s, lua_State *L, const char *kind, const json_t *obj)
{
    char key[600];
    const char *rv = md_str(obj, "resourceVersion");
    json_t *entry;

    if (s->converted_vm != L) {
        /* A new VM (reload): the old refs died with the old VM. */
        json_object_clear(s->converted);
        s->converted_vm = L;
        s->nodes_ref = LUA_NOREF;
    }
    snprintf(key, sizeof(key), "%s/%s/%s", kind, md_str(obj, "namespace") ? md_str(obj, "namespace") : "",
             md_str(obj, "name") ? md_str(obj, "name") : "");
    entry = json_object_get(s->converted, key);
    if (entry && rv && json_is_string(json_array_get(entry, 1)) &&
        !strcmp(json_string_value(json_array_get(entry, 1)), rv)) {
        luajson_push_ref(L, (int)json_integer_value(json_array_get(entry, 0)));
        return;
    }
    if (entry)
        luajson_unref(L, (int)json_integer_value(json_array_get(entry, 0)));
    int ref = luajson_ref(L, obj);
    if (ref == LUA_NOREF || ref == LUA_REFNIL) {
        json_object_del(s->converted, key);
        if (luajson_push(L, obj) != 0)
            lua_pushnil(L);
        return;
    }
    json_object_set_new(s->converted, key, json_pack("[i,s]", ref, rv ? rv : ""));
    luajson_push_ref(L, ref);
}

/* Forget the conversion of an object that changed or went away. */
static void drop_cached(scheduler_t *s, const char *kind, const json_t *obj)
{
    char key[600];
    snprintf(key, sizeof(key), "%s/%s/%s", kind, md_str(obj, "namespace") ? md_str(obj, "namespace") : "",
             md_str(obj, "name") ? md_str(obj, "name") : "");
    json_t *entry = json_object_get(s->converted, key);
    if (entry && s->converted_vm)
        luajson_unref(s->converted_vm, (int)json_integer_value(json_array_get(entry, 0)));
    json_object_del(s->converted, key);
}

/* ctx.pods_on(nodeName): pods bound there, plus those we bound and the informer has not
 * shown yet. */
static int ctx_pods_on(lua_State *L)
{
    scheduler_t *s = lua_touserdata(L, lua_upvalueindex(1));
    const char *node = luaL_checkstring(L, 1);
    json_t *pods = informer_by_index(s->pods, "node", node), *pod;
    const char *key;
    json_t *a;
    int n = 0;
    size_t i;

    lua_newtable(L);
    /* Terminating pods still hold their resources until they are gone. */
    json_array_foreach(pods, i, pod) {
        push_cached(s, L, "pod", pod);
        lua_rawseti(L, -2, ++n);
    }
    json_decref(pods);
    json_object_foreach(s->assumed, key, a) {
        const char *an = json_str(a, "node");
        if (an && !strcmp(an, node)) {
            push_cached(s, L, "assumed", json_object_get(a, "pod"));
            lua_rawseti(L, -2, ++n);
        }
    }
    return 1;
}

/* ctx.pods_with_affinity(): the scheduled pods carrying spec.affinity, from an index: a
 * pod without affinity terms of its own only has to be checked against those. */
static int ctx_pods_with_affinity(lua_State *L)
{
    scheduler_t *s = lua_touserdata(L, lua_upvalueindex(1));
    json_t *pods = informer_by_index(s->pods, "affinity", "yes"), *pod, *a;
    const char *key;
    size_t i;
    int n = 0;
    lua_newtable(L);
    json_array_foreach(pods, i, pod) {
        push_cached(s, L, "pod", pod);
        lua_rawseti(L, -2, ++n);
    }
    json_decref(pods);
    json_object_foreach(s->assumed, key, a) {
        json_t *ap = json_object_get(a, "pod");
        if (json_is_object(json_path(ap, "spec.affinity"))) {
            push_cached(s, L, "assumed", ap);
            lua_rawseti(L, -2, ++n);
        }
    }
    return 1;
}

typedef struct push_all_s {
    scheduler_t *s;
    lua_State *L;
    int n;
} push_all_t;

static int push_bound(const char *key, json_t *pod, void *priv)
{
    push_all_t *pa = priv;
    if (pod_pending(pod) || md_str(pod, "deletionTimestamp"))
        return 0;
    push_cached(pa->s, pa->L, "pod", pod);
    lua_rawseti(pa->L, -2, ++pa->n);
    return 0;
}

/* ctx.pods(): every scheduled pod, for inter-pod affinity and topology spread. */
static int ctx_pods(lua_State *L)
{
    scheduler_t *s = lua_touserdata(L, lua_upvalueindex(1));
    push_all_t pa = { s, L, 0 };
    const char *key;
    json_t *a;
    lua_newtable(L);
    informer_foreach(s->pods, push_bound, &pa);
    json_object_foreach(s->assumed, key, a) {
        push_cached(s, L, "assumed", json_object_get(a, "pod"));
        lua_rawseti(L, -2, ++pa.n);
    }
    return 1;
}

static int push_node(const char *key, json_t *node, void *priv)
{
    push_all_t *pa = priv;
    push_cached(pa->s, pa->L, "node", node);
    lua_rawseti(pa->L, -2, ++pa->n);
    return 0;
}

/* ctx.nodes: one array table per VM, rebuilt only when a node changed (policies must not
 * modify it, as with every object the core hands them). */
static void push_nodes(scheduler_t *s, lua_State *L)
{
    if (s->converted_vm == L && s->nodes_ref != LUA_NOREF && s->nodes_ref_gen == s->nodes_gen) {
        luajson_push_ref(L, s->nodes_ref);
        return;
    }
    if (s->converted_vm == L && s->nodes_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, s->nodes_ref);
    s->nodes_ref = LUA_NOREF;
    push_all_t pa = { s, L, 0 };
    lua_newtable(L);
    informer_foreach(s->nodes, push_node, &pa);
    /* push_cached may have switched converted_vm to L (a reloaded policy): record it now. */
    lua_pushvalue(L, -1);
    s->nodes_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->nodes_ref_gen = s->nodes_gen;
}

static void push_ctx(scheduler_t *s, lua_State *L)
{
    lua_newtable(L);
    push_nodes(s, L);
    lua_setfield(L, -2, "nodes");
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, ctx_pods_with_affinity, 1);
    lua_setfield(L, -2, "pods_with_affinity");
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, ctx_pods_on, 1);
    lua_setfield(L, -2, "pods_on");
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, ctx_pods, 1);
    lua_setfield(L, -2, "pods");
    lua_pushinteger(L, s->percentage);
    lua_setfield(L, -2, "percentage_of_nodes_to_score");
    lua_newtable(L);
    lua_setfield(L, -2, "state");
    lua_pushnumber(L, (lua_Number)time(NULL));
    lua_setfield(L, -2, "now");
}

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
    char path[600], stamp[32], gen[300];
    const char *ns = md_str(pod, "namespace"), *name = md_str(pod, "name");
    if (!ns || !name)
        return;
    util_rfc3339(time(NULL), stamp);
    snprintf(gen, sizeof(gen), "%s.", name);
    json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s?,s:s},s:s,s:s,s:s,"
                           "s:{s:s},s:s,s:s,s:i,s:s,s:s}",
                           "apiVersion", "v1", "kind", "Event", "metadata", "generateName", gen,
                           "namespace", ns, "involvedObject", "kind", kind, "namespace", ns,
                           "name", name, "uid", md_str(pod, "uid"), "apiVersion", api_version, "type",
                           type, "reason", reason, "message", message, "source", "component",
                           DEFAULT_SCHEDULER, "firstTimestamp", stamp, "lastTimestamp", stamp,
                           "count", 1, "reportingComponent", DEFAULT_SCHEDULER,
                           "reportingInstance", DEFAULT_SCHEDULER);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
    apiclient_request(s->client, "POST", path, NULL, ev, ignore_done, NULL);
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
    apiclient_request(s->client, "PATCH", path, "application/strategic-merge-patch+json", patch,
                      ignore_done, NULL);
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
        json_object_del(s->assumed, op->key);
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
    json_t *assumed_pod = json_deep_copy(pod);
    json_object_set_new(json_obj_ensure(assumed_pod, "spec"), "nodeName", json_string(node));
    json_object_set_new(s->assumed, key, json_pack("{s:s,s:o}", "node", node, "pod", assumed_pod));
    if (!op || !op->key || !op->node ||
        !apiclient_request(s->client, "POST", path, NULL, binding, bind_done, op)) {
        if (op) {
            free(op->key);
            free(op->node);
            free(op);
        }
        json_object_del(s->assumed, key);
        retry_later(s, key);
    }
    /* The binding completes in the background, as kube-scheduler's binding cycle does: the
     * pod is assumed on its node meanwhile, so the next decisions count it and a repeated
     * key is skipped. */
    finish(s, key);
    json_decref(binding);
}

/* ---- one decision ------------------------------------------------------------------ */

typedef struct done_later_s {
    scheduler_t *s;
    char *key;
} done_later_t;

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    done_later_t *d = arg;
    workqueue_done(d->s->queue, d->key);
    free(d->key);
    free(d);
}

/* Finish a key on the next turn of the loop, not now: with one decision in flight, the
 * queue then hands out one pod per turn, so the API requests sharing this loop (inside
 * berth server) are served between two decisions instead of after a burst of them. */
static void finish(scheduler_t *s, const char *key)
{
    static const struct timeval zero = { 0, 0 };
    done_later_t *d = malloc(sizeof(*d));
    if (d && (d->key = strdup(key)) != NULL) {
        d->s = s;
        if (event_base_once(s->base, -1, EV_TIMEOUT, done_cb, d, &zero) == 0)
            return;
        free(d->key);
    }
    free(d);
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

static void process(workqueue_t *q, const char *key, void *priv)
{
    scheduler_t *s = priv;
    json_t *pod = informer_get_key(s->pods, key);
    char pname[300], msg[2048];
    policy_t *p;
    lua_State *L;
    int rc;

    if (!leader_is_leading(s->leader)) {
        finish(s, key);   /* requeued when this scheduler becomes the leader */
        return;
    }
    if (!pod || !pod_pending(pod) || json_object_get(s->assumed, key) ||
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
    L = policy_state(p);
    push_cached(s, L, "pending", pod);
    push_ctx(s, L);
    rc = policy_call(p, "schedule", 2, 2);
    if (rc != LUAVM_OK) {
        snprintf(msg, sizeof(msg), "scheduling policy %s failed (%s): %s", pname,
                 luavm_status_name(rc), policy_errmsg(p) ? policy_errmsg(p) : "");
        log_warn("scheduler: %s: %s", key, msg);
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"error\"", 1);
        record_event(s, pod, "Warning", "FailedScheduling", msg);
        retry_later(s, key);
        finish(s, key);
        return;
    }
    if (lua_type(L, -2) == LUA_TSTRING) {
        char node[256];
        snprintf(node, sizeof(node), "%s", lua_tostring(L, -2));
        lua_pop(L, 2);
        bind_pod(s, key, pod, node);
        return;
    }
    if (lua_isnil(L, -2) && lua_type(L, -1) == LUA_TSTRING) {
        snprintf(msg, sizeof(msg), "%s", lua_tostring(L, -1));
        lua_pop(L, 2);
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"unschedulable\"", 1);
        /* Write the condition and the Event when the reason changes, not on every retry. */
        if (!same_unschedulable(pod, msg)) {
            mark_unschedulable(s, pod, msg);
            record_event(s, pod, "Warning", "FailedScheduling", msg);
        }
    } else {
        lua_pop(L, 2);
        policy_note_malformed(p, "schedule must return a node name, or nil and a message");
        metrics_add("berth_scheduler_schedule_attempts_total", "result=\"error\"", 1);
    }
    retry_later(s, key);
    finish(s, key);
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
static void cluster_changed(scheduler_t *s)
{
    informer_foreach(s->pods, requeue_pending, s);
}

static void pod_added(informer_t *inf, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    char key[600];
    pod_key(pod, key, sizeof(key));
    if (pod_pending(pod))
        workqueue_add(s->queue, key);
    else
        json_object_del(s->assumed, key);
}

/* Only what can change a decision: a pod still pending whose spec and labels are as before
 * (say, our own PodScheduled condition was just written) waits for its backoff instead. */
static void pod_updated(informer_t *inf, json_t *old, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    drop_cached(s, "pod", old);
    drop_cached(s, "pending", old);
    if (pod_pending(old) && pod_pending(pod) &&
        json_equal(json_object_get(old, "spec"), json_object_get(pod, "spec")) &&
        json_equal(json_object_get(json_object_get(old, "metadata"), "labels"),
                   json_object_get(json_object_get(pod, "metadata"), "labels")))
        return;
    pod_added(inf, pod, priv);
}

static void pod_deleted(informer_t *inf, json_t *pod, void *priv)
{
    scheduler_t *s = priv;
    char key[600];
    pod_key(pod, key, sizeof(key));
    drop_cached(s, "pod", pod);
    drop_cached(s, "pending", pod);
    json_object_del(s->assumed, key);
    json_object_del(s->attempts, key);
    if (!pod_pending(pod))
        cluster_changed(s);   /* its resources are free again */
}

static void node_added(informer_t *inf, json_t *node, void *priv)
{
    ((scheduler_t *)priv)->nodes_gen++;
    cluster_changed(priv);
}

static void node_updated(informer_t *inf, json_t *old, json_t *node, void *priv)
{
    drop_cached(priv, "node", old);
    ((scheduler_t *)priv)->nodes_gen++;
    cluster_changed(priv);
}

static void node_deleted(informer_t *inf, json_t *node, void *priv)
{
    drop_cached(priv, "node", node);
    ((scheduler_t *)priv)->nodes_gen++;
}

static void index_by_node(json_t *pod, json_t *keys, void *priv)
{
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    if (node && *node)
        json_array_append_new(keys, json_string(node));
}

static void leadership(int leading, void *priv)
{
    scheduler_t *s = priv;
    if (leading)
        cluster_changed(s);   /* pods that waited while another scheduler led */
}

/* Load and reload results: a log line always; a failure also becomes a Warning Event on
 * the scheduler's Lease (kube-system/berth-scheduler), where `kubectl get events -n
 * kube-system` shows it with the file and line. */
static void index_by_affinity(json_t *pod, json_t *keys, void *priv)
{
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    if (node && *node && json_is_object(json_path(pod, "spec.affinity")))
        json_array_append_new(keys, json_string("yes"));
}

static void policy_report(void *priv, const char *policy, int ok, const char *message)
{
    scheduler_t *s = priv;
    if (ok) {
        log_info("scheduler: policy %s loaded", policy);
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
    s->assumed = json_object();
    s->converted = json_object();
    s->attempts = json_object();
    s->nodes_ref = LUA_NOREF;
    memset(&popts, 0, sizeof(popts));
    popts.report = policy_report;
    popts.priv = s;
    s->policies = policy_set_create(base, opts->policy_dir, opts->lib_dir, &popts, err, errlen);
    if (!s->policies)
        goto failed;
    s->client = apiclient_create(base, opts->server_url);
    if (!s->client) {
        snprintf(err, errlen, "bad server URL %s", opts->server_url);
        goto failed;
    }
    s->queue = workqueue_create(base, 1, process, s);
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
    if (!s->queue || !s->pods || !s->nodes ||
        informer_add_index(s->pods, "node", index_by_node, NULL) != 0 ||
        informer_add_index(s->pods, "affinity", index_by_affinity, NULL) != 0) {
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
    if (s->client)
        apiclient_free(s->client);
    if (s->policies)
        policy_set_free(s->policies);
    json_decref(s->assumed);
    json_decref(s->converted);
    json_decref(s->attempts);
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
