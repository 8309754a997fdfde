/* controllers.c: see controllers.h. */
#include <dirent.h>
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
#include "controllers.h"
#include "selector.h"
#include "eventcorr.h"
#include "informer.h"
#include "kinds.h"
#include "leader.h"
#include "log.h"
#include "luacluster.h"
#include "luajson.h"
#include "luavm.h"
#include "metrics.h"
#include "plugins.h"
#include "policy.h"
#include "scheduler.h"
#include "util.h"
#include "workqueue.h"

#define CM_MAX_RES        32     /* distinct resources all controllers name */
#define CM_MAX_CTRL       32     /* controller policies */
#define CM_MAX_DECL       8      /* children or watches of one controller */
#define CM_RUNTIME        "berth.controller.runtime"
#define CM_EXPECT_TIMEOUT_MS 30000   /* give up waiting for a sync's writes to show (client-go: 5 min) */
#define CM_EXPECT_POLL_MS 20
#define CM_PACE_MAX_MS    1000   /* pacing never holds a parent back longer than this */
#define CM_PACE_CHILD_US  50     /* per child of the parent: 10,000 pods, 0.5 s between syncs */
#define CM_COMPONENT      "controller-manager"

typedef struct controllers_s controllers_t;

typedef struct cm_res_s {
    char           name[160];       /* "v1/pods", "apps/v1/replicasets" */
    informer_t    *inf;
    controllers_t *cm;
} cm_res_t;

typedef struct ctrl_s {
    controllers_t *cm;
    int            index;           /* in cm->ctrls */
    char           policy[POLICY_NAME_MAX];   /* "controllers/replicaset.lua", "cronjob/plugin.lua" */
    policy_set_t  *set;             /* cm->policies, or cm->plugins for a plugin's controllers */
    char           sub[64];         /* "" (the file is the controller), a name in the plugin's
                                     * controllers table, or "@load_balancer" (its hook) */
    int            declared;        /* a good version declared parent etc. */
    int            parent;          /* index in cm->res */
    int            children[CM_MAX_DECL], nchildren;
    int            watches[CM_MAX_DECL], nwatches;
    /* triggers: a change of an object of triggers[i] resyncs the parents in its namespace
     * whose selector matches its old or new labels, for the watch event types in
     * trigger_on[i] (TRIG_* bits). A resource both triggered and watched is triggered. */
    int            triggers[CM_MAX_DECL], ntriggers;
    unsigned       trigger_on[CM_MAX_DECL];
    int            selector_map;    /* the policy's selector shape is "map" (a Service's) */
    int            adopt;
    int            all;             /* parent "*": every object of every resource (the GC) */
    int            uses_all;        /* uses "*": reads every resource (the namespace controller) */
    workqueue_t   *queue;
    /* Expectations: parent key -> {"inflight": n, "rv": highest rv answered, "since": ms}. */
    json_t        *expect;
    /* The policy's child_events: plural -> {create|create_failed|delete|delete_failed ->
     * {type, reason, message}}, recorded from the answers to its creates and deletes. */
    json_t        *child_events;
    /* Pacing: parent key -> the monotonic ms before which it is not synced again (see
     * pace_ms): a big parent whose children change all the time (10,000 pods turning
     * Ready) is synced a few times a second, not after every event, and the loop it shares
     * with the API serves. */
    json_t        *not_before;
} ctrl_t;

struct controllers_s {
    struct event_base *base;
    apiclient_t       *client;
    luacluster_t      *lua;
    eventcorr_t       *events;         /* repeated events become count increases */
    policy_set_t      *policies;
    policy_set_t      *plugins;        /* plugins/<name>/plugin.lua, NULL without --plugins */
    leader_t          *leader;
    cm_res_t           res[CM_MAX_RES];
    int                nres;
    ctrl_t            *ctrls[CM_MAX_CTRL];
    int                nctrls;
    struct event      *resync_ev;
    int                resync_s;
    char               dir[PATH_MAX];
    char               plugin_dir[PATH_MAX];
    char               lib_dir[PATH_MAX];
    json_t            *settings;       /* ctx.settings, from the flags */
    json_t            *resources;      /* ctx.resources(): [{resource, namespaced, apiVersion, kind}] */
    int                all_resources;  /* informers on every kind were made */
    unsigned           kinds_gen;      /* kinds_generation() they were made for */
    unsigned long      plugins_sig;    /* plugins_signature() at the last scan */
    int                sync_kinds;     /* opts->sync_kinds */
    struct event      *plugins_ev;     /* the plugin directory poll */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *md_str(const json_t *obj, const char *field)
{
    return json_str(json_object_get(obj, "metadata"), field);
}

/* The informer cache key of obj: "<ns>/<name>" or "<name>". */
static void obj_key(const json_t *obj, char *out, size_t outlen)
{
    const char *ns = md_str(obj, "namespace"), *name = md_str(obj, "name");
    if (ns && *ns)
        snprintf(out, outlen, "%s/%s", ns, name ? name : "");
    else
        snprintf(out, outlen, "%s", name ? name : "");
}

/* The uid of obj's controller ownerReference, or NULL. */
static const char *controller_uid(const json_t *obj)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref)
        if (json_is_true(json_object_get(ref, "controller")))
            return json_str(ref, "uid");
    return NULL;
}

static unsigned long long rv_num(const char *rv)
{
    return rv ? strtoull(rv, NULL, 10) : 0;
}

/* The kind of a built-in plural, for Events about parents. */
static const char *kind_for(const char *plural)
{
    static const char *const map[][2] = {
        { "replicasets", "ReplicaSet" }, { "deployments", "Deployment" },
        { "replicationcontrollers", "ReplicationController" }, { "services", "Service" },
        { "jobs", "Job" }, { "cronjobs", "CronJob" }, { "statefulsets", "StatefulSet" },
        { "daemonsets", "DaemonSet" }, { "nodes", "Node" }, { "namespaces", "Namespace" },
        { "pods", "Pod" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i][0], plural))
            return map[i][1];
    return plural;
}

/* ---- queueing ---------------------------------------------------------------------- */

static void enqueue(ctrl_t *c, const json_t *parent)
{
    char key[600];
    obj_key(parent, key, sizeof(key));
    if (*key)
        workqueue_add(c->queue, key);
}

#define TRIG_ADDED    1u
#define TRIG_MODIFIED 2u
#define TRIG_DELETED  4u
#define TRIG_ALL      (TRIG_ADDED | TRIG_MODIFIED | TRIG_DELETED)

typedef struct ns_walk_s {
    ctrl_t     *c;
    const char *ns;     /* NULL: every parent */
} ns_walk_t;

static int enqueue_in_ns(const char *key, json_t *obj, void *priv)
{
    ns_walk_t *w = priv;
    const char *ns = md_str(obj, "namespace");
    if (!w->ns || (ns && !strcmp(ns, w->ns)))
        workqueue_add(w->c->queue, key);
    return 0;
}

static void enqueue_any(ctrl_t *c, const cm_res_t *r, const json_t *obj);

typedef struct sel_walk_s {
    ctrl_t        *c;
    const char    *ns;
    const json_t  *labels;
} sel_walk_t;

/* Whether the parent's spec.selector matches labels: a LabelSelector, or a plain map for the
 * "map" shape. A parent without a selector selects nothing here (a Service without one has
 * user-managed Endpoints; a PodDisruptionBudget's null selects no pod); a selector that does
 * not parse matches, so its parent is synced and reports it. */
static int parent_selects(const ctrl_t *c, const json_t *parent, const json_t *labels)
{
    const json_t *sel = json_path(parent, "spec.selector");
    char err[256];
    if (!json_is_object(sel))
        return 0;
    json_t *wrapped = c->selector_map ? json_pack("{s:O}", "matchLabels", (json_t *)sel) : NULL;
    label_selector_t *ls = label_selector_from_json(wrapped ? wrapped : sel, err, sizeof(err));
    json_decref(wrapped);
    if (!ls)
        return 1;
    int hit = label_selector_match(ls, json_is_object(labels) ? labels : NULL);
    label_selector_free(ls);
    return hit;
}

static int enqueue_selecting(const char *key, json_t *obj, void *priv)
{
    sel_walk_t *w = priv;
    const char *ns = md_str(obj, "namespace");
    if ((!w->ns || (ns && !strcmp(ns, w->ns))) && parent_selects(w->c, obj, w->labels))
        workqueue_add(w->c->queue, key);
    return 0;
}

typedef struct any_walk_s {
    ctrl_t   *c;
    cm_res_t *r;
} any_walk_t;

static int gc_interesting(controllers_t *cm, const json_t *obj);

static int enqueue_any_cb(const char *key, json_t *obj, void *priv)
{
    any_walk_t *w = priv;
    if (gc_interesting(w->c->cm, obj))
        enqueue_any(w->c, w->r, obj);
    return 0;
}

static void enqueue_all(ctrl_t *c, const char *ns)
{
    ns_walk_t w = { c, ns };
    if (!c->declared)
        return;
    if (c->all) {
        for (int i = 0; i < c->cm->nres; i++) {
            any_walk_t aw = { c, &c->cm->res[i] };
            informer_foreach(c->cm->res[i].inf, enqueue_any_cb, &aw);
        }
        return;
    }
    informer_foreach(c->cm->res[c->parent].inf, enqueue_in_ns, &w);
}

static int has_index(const int *list, int n, int r)
{
    for (int i = 0; i < n; i++)
        if (list[i] == r)
            return 1;
    return 0;
}

/* An object of a child resource changed: queue its controller, or for an orphan the
 * parents that may adopt it, or a parent of the same name (children owned by name, such as
 * a Service's Endpoints). */
static void child_changed(ctrl_t *c, const json_t *obj)
{
    informer_t *pinf = c->cm->res[c->parent].inf;
    const char *uid = controller_uid(obj);
    if (uid) {
        json_t *parents = informer_by_index(pinf, "uid", uid), *p;
        size_t i;
        json_array_foreach(parents, i, p)
            enqueue(c, p);
        json_decref(parents);
        return;
    }
    json_t *same = informer_get(pinf, md_str(obj, "namespace"), md_str(obj, "name"));
    if (same)
        enqueue(c, same);
    if (c->adopt)
        enqueue_all(c, md_str(obj, "namespace"));
}

/* Queue "<resource>|<key>" for a controller of every object ("*"). */
static void enqueue_any(ctrl_t *c, const cm_res_t *r, const json_t *obj)
{
    char key[800];
    int n = snprintf(key, sizeof(key), "%s|", r->name);
    obj_key(obj, key + n, sizeof(key) - (size_t)n);
    workqueue_add(c->queue, key);
}

/* Whether an object with this uid is in some cache; its object through *found. */
static int uid_cached(controllers_t *cm, const char *uid, json_t **found)
{
    for (int j = 0; j < cm->nres; j++) {
        json_t *hits = informer_by_index(cm->res[j].inf, "uid", uid);
        json_t *first = json_array_get(hits, 0);
        if (first) {
            if (found)
                *found = first;   /* still referenced by the cache */
            json_decref(hits);
            return 1;
        }
        json_decref(hits);
    }
    return 0;
}

/* Being deleted with a finalizer the garbage collector acts on. */
static int gc_finalizing(const json_t *obj)
{
    size_t i;
    json_t *f;
    if (!md_str(obj, "deletionTimestamp"))
        return 0;
    json_array_foreach(json_path(obj, "metadata.finalizers"), i, f) {
        const char *s = json_string_value(f);
        if (s && (!strcmp(s, "orphan") || !strcmp(s, "foregroundDeletion")))
            return 1;
    }
    return 0;
}

/* Whether the garbage collector has anything to decide about obj: an owner missing from
 * the caches, or a deletion finalizer. Objects whose owners are all there (nearly all of
 * them, nearly always) are not synced at all. */
static int gc_interesting(controllers_t *cm, const json_t *obj)
{
    size_t i;
    json_t *ref;
    if (gc_finalizing(obj))
        return 1;
    json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref) {
        const char *uid = json_str(ref, "uid");
        if (uid && !uid_cached(cm, uid, NULL))
            return 1;
    }
    return 0;
}

/* For the garbage collector: the object itself when interesting (above), its dependents
 * when it changed or went away (they may have lost an owner), and its owners when they are
 * waiting for their dependents to go (foreground deletion). */
static void changed_any(ctrl_t *c, cm_res_t *r, const json_t *obj)
{
    controllers_t *cm = c->cm;
    const char *uid = md_str(obj, "uid");
    size_t i;
    json_t *x, *ref;
    if (gc_interesting(cm, obj))
        enqueue_any(c, r, obj);
    for (int j = 0; uid && j < cm->nres; j++) {
        json_t *deps = informer_by_index(cm->res[j].inf, "owner", uid);
        json_array_foreach(deps, i, x)
            if (gc_interesting(cm, x))
                enqueue_any(c, &cm->res[j], x);
        json_decref(deps);
    }
    json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref) {
        const char *ouid = json_str(ref, "uid");
        for (int j = 0; ouid && j < cm->nres; j++) {
            json_t *owners = informer_by_index(cm->res[j].inf, "uid", ouid);
            size_t k;
            json_array_foreach(owners, k, x)
                if (gc_finalizing(x))
                    enqueue_any(c, &cm->res[j], x);
            json_decref(owners);
        }
    }
}

/* The index of r in c's triggers, or -1. */
static int trigger_of(const ctrl_t *c, int r)
{
    for (int i = 0; i < c->ntriggers; i++)
        if (c->triggers[i] == r)
            return i;
    return -1;
}

/* obj of resource r was added, modified or deleted (ev, a TRIG_* bit). */
static void changed(cm_res_t *r, const json_t *obj, unsigned ev)
{
    controllers_t *cm = r->cm;
    int ri = (int)(r - cm->res);
    for (int i = 0; i < cm->nctrls; i++) {
        ctrl_t *c = cm->ctrls[i];
        if (!c->declared)
            continue;
        if (c->all) {
            changed_any(c, r, obj);
            continue;
        }
        if (c->parent == ri)
            enqueue(c, obj);
        if (has_index(c->children, c->nchildren, ri))
            child_changed(c, obj);
        int t = trigger_of(c, ri);
        if (t >= 0) {
            if (c->trigger_on[t] & ev) {
                sel_walk_t w = { c, md_str(obj, "namespace"), json_path(obj, "metadata.labels") };
                informer_foreach(cm->res[c->parent].inf, enqueue_selecting, &w);
            }
        } else if (has_index(c->watches, c->nwatches, ri)) {
            enqueue_all(c, md_str(obj, "namespace"));
        }
    }
}

static void on_add(informer_t *inf, json_t *obj, void *priv)
{
    changed(priv, obj, TRIG_ADDED);
}

static void on_update(informer_t *inf, json_t *old, json_t *obj, void *priv)
{
    cm_res_t *r = priv;
    luacluster_forget(r->cm->lua, r->name, old);
    /* A change of owner or of labels concerns the old parent as much as the new one. */
    if (!json_equal(json_path(old, "metadata.ownerReferences"), json_path(obj, "metadata.ownerReferences")) ||
        !json_equal(json_path(old, "metadata.labels"), json_path(obj, "metadata.labels")))
        changed(r, old, TRIG_MODIFIED);
    changed(r, obj, TRIG_MODIFIED);
}

static void on_delete(informer_t *inf, json_t *obj, void *priv)
{
    cm_res_t *r = priv;
    luacluster_forget(r->cm->lua, r->name, obj);
    changed(r, obj, TRIG_DELETED);
}

static void index_uid(json_t *obj, json_t *keys, void *priv)
{
    const char *uid = md_str(obj, "uid");
    if (uid)
        json_array_append_new(keys, json_string(uid));
}

/* Every owner's uid (ownerReferences), for the garbage collector's dependents. */
static void index_owner(json_t *obj, json_t *keys, void *priv)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_path(obj, "metadata.ownerReferences"), i, ref)
        if (json_str(ref, "uid"))
            json_array_append_new(keys, json_string(json_str(ref, "uid")));
}

/* Pods by spec.nodeName (the node lifecycle controller's evictions). */
static void index_node(json_t *obj, json_t *keys, void *priv)
{
    const char *node = json_str(json_object_get(obj, "spec"), "nodeName");
    if (node && *node)
        json_array_append_new(keys, json_string(node));
}

static void index_controller(json_t *obj, json_t *keys, void *priv)
{
    const char *uid = controller_uid(obj);
    if (uid)
        json_array_append_new(keys, json_string(uid));
}

/* Objects without a controller ownerReference by namespace: the orphans a controller with
 * adopt = true may claim (runtime.lua), without walking the owned pods of the namespace. */
static void index_orphan(json_t *obj, json_t *keys, void *priv)
{
    const char *ns = md_str(obj, "namespace");
    if (ns && *ns && !controller_uid(obj))
        json_array_append_new(keys, json_string(ns));
}

/* The informer for resource ("v1/pods", "apps/v1/replicasets"), made on first use. -1 for
 * a malformed resource or too many. */
static int resource(controllers_t *cm, const char *name)
{
    char path[300];
    int slashes = 0;
    for (int i = 0; i < cm->nres; i++)
        if (!strcmp(cm->res[i].name, name))
            return i;
    for (const char *p = name; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            return -1;
    }
    if (cm->nres >= CM_MAX_RES || strlen(name) >= sizeof(cm->res[0].name) || !*name)
        return -1;
    if (slashes == 1)
        snprintf(path, sizeof(path), "/api/%s", name);
    else if (slashes == 2)
        snprintf(path, sizeof(path), "/apis/%s", name);
    else
        return -1;
    cm_res_t *r = &cm->res[cm->nres];
    informer_config_t cfg;
    informer_handlers_t h;
    memset(&cfg, 0, sizeof(cfg));
    cfg.path = path;
    memset(&h, 0, sizeof(h));
    h.on_add = on_add;
    h.on_update = on_update;
    h.on_delete = on_delete;
    h.priv = r;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->cm = cm;
    r->inf = informer_create(cm->base, cm->client, &cfg, &h);
    if (!r->inf || informer_add_index(r->inf, "uid", index_uid, NULL) != 0 ||
        informer_add_index(r->inf, "controller", index_controller, NULL) != 0 ||
        informer_add_index(r->inf, "owner", index_owner, NULL) != 0 ||
        informer_add_index(r->inf, "node", index_node, NULL) != 0 ||
        informer_add_index(r->inf, "orphan", index_orphan, NULL) != 0 ||
        luacluster_add_informer(cm->lua, name, r->inf) != 0) {
        if (r->inf)
            informer_free(r->inf);
        r->inf = NULL;
        return -1;
    }
    informer_start(r->inf);
    /* ctx.resources(): what a policy may list, with what its objects are called. */
    char group[160], version[64], plural[128], api[200];
    const kind_t *k = NULL;
    if (slashes == 1 && sscanf(name, "%63[^/]/%127s", version, plural) == 2)
        k = kinds_find("", version, plural);
    else if (slashes == 2 && sscanf(name, "%159[^/]/%63[^/]/%127s", group, version, plural) == 3)
        k = kinds_find(group, version, plural);
    snprintf(api, sizeof(api), "%.*s", (int)(strrchr(name, '/') - name), name);
    json_array_append_new(cm->resources, json_pack("{s:s,s:b,s:s,s:s?}", "resource", name,
                                                   "namespaced", k ? k->namespaced : 1,
                                                   "apiVersion", api, "kind", k ? k->kind : NULL));
    return cm->nres++;
}

/* Informers on every kind the API serves (the registry: built-ins and plugins' kinds). */
static void make_all_resources(controllers_t *cm)
{
    const kind_t *k;
    char name[200];
    if (cm->all_resources)
        return;
    cm->all_resources = 1;
    cm->kinds_gen = kinds_generation();
    for (size_t i = 0; (k = kinds_at(i)) != NULL; i++) {
        if (*k->group)
            snprintf(name, sizeof(name), "%s/%s/%s", k->group, k->version, k->plural);
        else
            snprintf(name, sizeof(name), "%s/%s", k->version, k->plural);
        if (resource(cm, name) < 0)
            log_warn("controllers: cannot watch %s", name);
    }
}

static int all_synced(controllers_t *cm)
{
    for (int i = 0; i < cm->nres; i++)
        if (!informer_has_synced(cm->res[i].inf))
            return 0;
    return 1;
}

/* ---- declarations ------------------------------------------------------------------ */

/* Read the string list field of the table on top of L into out (resource indexes). */
static int read_list(controllers_t *cm, lua_State *L, const char *field, int *out, int *n,
                     char *err, size_t errlen)
{
    *n = 0;
    lua_getfield(L, -1, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "'%s' must be a list of resources", field);
        return -1;
    }
    for (int i = 1;; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        /* "v1/pods", or { resource = "v1/endpoints", by_name = true, ... } */
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "resource");
            lua_remove(L, -2);
        }
        const char *s = lua_tostring(L, -1);
        int r = s && lua_type(L, -1) == LUA_TSTRING ? resource(cm, s) : -1;
        lua_pop(L, 1);
        if (r < 0 || *n >= CM_MAX_DECL) {
            lua_pop(L, 1);
            snprintf(err, errlen, "'%s'[%d] is not a resource like \"v1/pods\" or \"apps/v1/replicasets\" (or too many)",
                     field, i);
            return -1;
        }
        out[(*n)++] = r;
    }
    lua_pop(L, 1);
    return 0;
}

/* "triggers": { ["v1/pods"] = { match = "selector", on = { "DELETED" } } }. 0, or -1 with
 * err set. */
static int read_triggers(controllers_t *cm, lua_State *L, int *out, unsigned *on, int *n,
                         char *err, size_t errlen)
{
    *n = 0;
    lua_getfield(L, -1, "triggers");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "'triggers' must be a table of resource = { match = \"selector\" }");
        return -1;
    }
    int rc = 0;
    /* On an error the loop breaks with the key and value still pushed (popped below). */
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
        const char *res = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int r = res ? resource(cm, res) : -1;
        if (r < 0 || *n >= CM_MAX_DECL) {
            snprintf(err, errlen, "'triggers': '%s' is not a resource like \"v1/pods\" (or too many)",
                     res ? res : "?");
            rc = -1;
            break;
        }
        if (!lua_istable(L, -1)) {
            snprintf(err, errlen, "'triggers'['%s'] must be a table { match = \"selector\" }", res);
            rc = -1;
            break;
        }
        lua_getfield(L, -1, "match");
        int sel = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "selector");
        lua_pop(L, 1);
        if (!sel) {
            snprintf(err, errlen, "'triggers'['%s'].match must be \"selector\"", res);
            rc = -1;
            break;
        }
        unsigned mask = 0;
        lua_getfield(L, -1, "on");
        if (lua_isnil(L, -1)) {
            mask = TRIG_ALL;
        } else if (lua_istable(L, -1)) {
            for (int i = 1;; i++) {
                lua_rawgeti(L, -1, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
                unsigned bit = !strcmp(e, "ADDED") ? TRIG_ADDED : !strcmp(e, "MODIFIED") ? TRIG_MODIFIED
                             : !strcmp(e, "DELETED") ? TRIG_DELETED : 0;
                lua_pop(L, 1);
                if (!bit) {
                    snprintf(err, errlen, "'triggers'['%s'].on[%d] must be \"ADDED\", "
                             "\"MODIFIED\" or \"DELETED\"", res, i);
                    rc = -1;
                    break;
                }
                mask |= bit;
            }
        } else {
            snprintf(err, errlen, "'triggers'['%s'].on must be a list of event types", res);
            rc = -1;
        }
        lua_pop(L, 1);
        if (rc != 0)
            break;
        out[*n] = r;
        on[(*n)++] = mask;
    }
    if (rc != 0)
        lua_pop(L, 2);   /* the value and the key lua_next left */
    lua_pop(L, 1);
    return rc;
}

/* "uses": resources a policy reads through ctx.list/ctx.get; informers made for them. */
static int read_uses(controllers_t *cm, lua_State *L, char *err, size_t errlen)
{
    int uses[CM_MAX_DECL], n;
    return read_list(cm, L, "uses", uses, &n, err, errlen);
}

/* Push the controller table of c: the policy's table, a plugin's controllers[sub], or the
 * runtime's wrapper around a plugin's load_balancer hook. 0, or -1 with nothing pushed. */
static int push_controller(ctrl_t *c, policy_t *p, lua_State *L)
{
    if (!policy_push_table(p))
        return -1;
    if (!c->sub[0])
        return 0;
    if (!strcmp(c->sub, "@load_balancer")) {
        lua_getfield(L, -1, "hooks");
        if (!lua_istable(L, -1)) {
            lua_pop(L, 2);
            return -1;
        }
        lua_getfield(L, -1, "load_balancer");
        lua_remove(L, -2);
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        /* runtime.load_balancer_controller(hook): built in the policy's VM, protected */
        if (policy_require(p, CM_RUNTIME) != LUAVM_OK) {
            lua_pop(L, 1);
            return -1;
        }
        lua_getfield(L, -1, "load_balancer_controller");
        lua_remove(L, -2);
        lua_insert(L, -2);
        if (policy_call_function(p, "load_balancer", 1, 1) != LUAVM_OK)
            return -1;
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        return 0;
    }
    lua_getfield(L, -1, "controllers");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return -1;
    }
    lua_getfield(L, -1, c->sub);
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* Read what the controller's current version declares. 0, or -1 with err set. */
static int declare(ctrl_t *c, char *err, size_t errlen)
{
    controllers_t *cm = c->cm;
    policy_t *p = policy_get(c->set, c->policy);
    lua_State *L;
    int parent, children[CM_MAX_DECL], nchildren, watches[CM_MAX_DECL], nwatches, rc = -1;
    int triggers[CM_MAX_DECL], ntriggers = 0;
    unsigned trigger_on[CM_MAX_DECL];
    if (!p) {
        snprintf(err, errlen, "not loaded");
        return -1;
    }
    L = policy_state(p);
    if (push_controller(c, p, L) != 0) {
        snprintf(err, errlen, c->sub[0] ? "no controller '%s' in the plugin" : "not loaded", c->sub);
        return -1;
    }
    lua_getfield(L, -1, "parent");
    c->all = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "*");
    if (c->all) {
        make_all_resources(cm);
        parent = 0;
    } else {
        parent = lua_type(L, -1) == LUA_TSTRING ? resource(cm, lua_tostring(L, -1)) : -1;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "uses");
    c->uses_all = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "*");
    if (c->uses_all)
        make_all_resources(cm);
    lua_pop(L, 1);
    lua_getfield(L, -1, "sync");
    int has_sync = lua_isfunction(L, -1);
    lua_pop(L, 1);
    if (parent < 0)
        snprintf(err, errlen, "'parent' must name a resource like \"apps/v1/replicasets\"");
    else if (!has_sync)
        snprintf(err, errlen, "a controller needs a sync(parent, children, ctx) function");
    else if (read_list(cm, L, "children", children, &nchildren, err, errlen) == 0 &&
             read_list(cm, L, "watches", watches, &nwatches, err, errlen) == 0 &&
             read_triggers(cm, L, triggers, trigger_on, &ntriggers, err, errlen) == 0 &&
             (c->uses_all || read_uses(cm, L, err, errlen) == 0)) {
        lua_getfield(L, -1, "selector");
        c->selector_map = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "map");
        lua_pop(L, 1);
        lua_getfield(L, -1, "adopt");
        c->adopt = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, -1, "child_events");
        json_t *ce = lua_istable(L, -1) ? luajson_to_json(L, -1, err, errlen) : NULL;
        lua_pop(L, 1);
        json_decref(c->child_events);
        /* keyed by the plural, which is what the answer's path shows */
        c->child_events = json_object();
        const char *res;
        json_t *v;
        json_object_foreach(ce, res, v) {
            const char *slash = strrchr(res, '/');
            json_object_set(c->child_events, slash ? slash + 1 : res, v);
        }
        json_decref(ce);
        c->parent = parent;
        memcpy(c->children, children, sizeof(children));
        c->nchildren = nchildren;
        memcpy(c->watches, watches, sizeof(watches));
        c->nwatches = nwatches;
        memcpy(c->triggers, triggers, sizeof(triggers));
        memcpy(c->trigger_on, trigger_on, sizeof(trigger_on));
        c->ntriggers = ntriggers;
        c->declared = 1;
        rc = 0;
    }
    lua_pop(L, 1);
    return rc;
}

/* ---- Events and reports ------------------------------------------------------------ */

static void ignore_done(int status, json_t *body, const char *errstr, void *priv)
{
}

/* A Warning Event on the manager's Lease (kube-system/berth-controller-manager). */
static void lease_event(controllers_t *cm, const char *reason, const char *message)
{
    char stamp[32];
    util_rfc3339(time(NULL), stamp);
    json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,"
                           "s:{s:s},s:s,s:s,s:i,s:s}",
                           "apiVersion", "v1", "kind", "Event", "metadata", "generateName",
                           "berth-controller-manager.", "namespace", "kube-system",
                           "involvedObject", "kind", "Lease", "namespace", "kube-system", "name",
                           "berth-controller-manager", "apiVersion", "coordination.k8s.io/v1",
                           "type", "Warning", "reason", reason, "message", message, "source",
                           "component", CM_COMPONENT, "firstTimestamp", stamp, "lastTimestamp",
                           stamp, "count", 1, "reportingComponent", CM_COMPONENT);
    apiclient_request(cm->client, "POST", "/api/v1/namespaces/kube-system/events", NULL, ev,
                      ignore_done, NULL);
    json_decref(ev);
}

static ctrl_t *find_ctrl(controllers_t *cm, policy_set_t *set, const char *policy,
                         const char *sub)
{
    for (int i = 0; i < cm->nctrls; i++)
        if (cm->ctrls[i]->set == set && !strcmp(cm->ctrls[i]->policy, policy) &&
            !strcmp(cm->ctrls[i]->sub, sub))
            return cm->ctrls[i];
    return NULL;
}

static void process(workqueue_t *q, const char *key, void *priv);

/* The controller for (set, policy, sub), made on first sight. */
static ctrl_t *add_ctrl(controllers_t *cm, policy_set_t *set, const char *policy, const char *sub)
{
    ctrl_t *c = find_ctrl(cm, set, policy, sub);
    if (c)
        return c;
    if (cm->nctrls >= CM_MAX_CTRL) {
        log_error("controllers: more than %d controllers; %s %s skipped", CM_MAX_CTRL, policy, sub);
        return NULL;
    }
    if (!(c = calloc(1, sizeof(*c))))
        return NULL;
    c->cm = cm;
    c->set = set;
    c->index = cm->nctrls;
    snprintf(c->policy, sizeof(c->policy), "%s", policy);
    snprintf(c->sub, sizeof(c->sub), "%s", sub);
    c->expect = json_object();
    c->not_before = json_object();
    c->queue = workqueue_create(cm->base, 1, process, c);
    cm->ctrls[cm->nctrls++] = c;
    return c;
}

/* A plugin (re)loaded: one controller per entry of its controllers table, and one for its
 * load_balancer hook. */
static void plugin_controllers(controllers_t *cm, const char *policy)
{
    policy_t *p = policy_get(cm->plugins, policy);
    if (!p || !policy_push_table(p))
        return;
    lua_State *L = policy_state(p);
    char names[CM_MAX_CTRL][64];
    int n = 0, lb = 0;
    lua_getfield(L, -1, "controllers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) && n < CM_MAX_CTRL) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1) &&
                strlen(lua_tostring(L, -2)) < sizeof(names[0]) && lua_tostring(L, -2)[0] != '@')
                snprintf(names[n++], sizeof(names[0]), "%s", lua_tostring(L, -2));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "hooks");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "load_balancer");
        lb = lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    for (int i = 0; i < n; i++)
        add_ctrl(cm, cm->plugins, policy, names[i]);
    if (lb)
        add_ctrl(cm, cm->plugins, policy, "@load_balancer");
}

static void report(controllers_t *cm, policy_set_t *set, const char *what, const char *policy,
                   int ok, const char *message)
{
    char err[512];
    if (!ok) {
        log_error("controllers: %s %s: %s", what, policy, message);
        if (cm->client)
            lease_event(cm, set == cm->plugins ? "PluginLoadFailed" : "PolicyLoadFailed", message);
        return;
    }
    log_info("controllers: %s %s loaded", what, policy);
    if (set == cm->plugins)
        plugin_controllers(cm, policy);
    for (int i = 0; i < cm->nctrls; i++) {
        ctrl_t *c = cm->ctrls[i];
        if (c->set != set || strcmp(c->policy, policy))
            continue;
        if (declare(c, err, sizeof(err)) != 0) {
            char msg[700];
            snprintf(msg, sizeof(msg), "%s/%s%s%s: %s", set == cm->plugins ? "plugins" : "policies",
                     policy, c->sub[0] ? " " : "", c->sub, err);
            log_error("controllers: %s", msg);
            lease_event(cm, set == cm->plugins ? "PluginLoadFailed" : "PolicyLoadFailed", msg);
            c->declared = 0;
        } else {
            enqueue_all(c, NULL);
        }
    }
}

static void policy_report(void *priv, const char *policy, int ok, const char *message)
{
    controllers_t *cm = priv;
    report(cm, cm->policies, "policy", policy, ok, message);
}

static void plugin_report(void *priv, const char *policy, int ok, const char *message)
{
    controllers_t *cm = priv;
    report(cm, cm->plugins, "plugin", policy, ok, message);
}

/* ---- one sync ---------------------------------------------------------------------- */

/* Whether the parent's last sync has been seen through: every action answered and the
 * informers of its resources past the resourceVersions the answers carried. */
static int expectations_met(ctrl_t *c, const char *key)
{
    json_t *e = json_object_get(c->expect, key);
    if (!e)
        return 1;
    if (now_ms() - json_integer_value(json_object_get(e, "since")) > CM_EXPECT_TIMEOUT_MS) {
        log_warn("controllers: %s %s: writes of the last sync not seen after %d s; syncing anyway",
                 c->policy, key, CM_EXPECT_TIMEOUT_MS / 1000);
        json_object_del(c->expect, key);
        return 1;
    }
    if (json_integer_value(json_object_get(e, "inflight")) > 0)
        return 0;
    /* Each resource's informer must be past the resourceVersions its answers carried. */
    const char *ri;
    json_t *rv;
    json_object_foreach(json_object_get(e, "rvs"), ri, rv) {
        int r = atoi(ri);
        if (r >= 0 && r < c->cm->nres &&
            rv_num(informer_resource_version(c->cm->res[r].inf)) < (unsigned long long)json_integer_value(rv))
            return 0;
    }
    json_object_del(c->expect, key);
    return 1;
}

/* Every parent's expectations met: a load balancer hook hands out addresses from one pool,
 * so it must see the status it wrote for one Service before it picks for the next. */
static int all_expectations_met(ctrl_t *c)
{
    const char *k;
    json_t *v, *tmp;
    int met = 1;
    json_object_foreach_safe(c->expect, tmp, k, v)
        if (!expectations_met(c, k))
            met = 0;
    return met;
}

/* How long after a sync that cost cost_ms the same parent may be synced again. A sync is
 * followed by at most one more within 4 times its cost, and, when it wrote none of its
 * children (it only counted them for status, say), within CM_PACE_CHILD_US per child: a
 * ReplicaSet of 10,000 pods turning Ready, whose every change queues it, is synced about
 * twice a second however cheap its sync is (kube's work queue coalesces the same way while
 * a sync runs), while one that creates or deletes pods goes on as soon as the expectations
 * let it. Both capped at CM_PACE_MAX_MS; small parents (a few children, a few ms) are not
 * held back at all. */
static long pace_ms(long long cost_ms, double nchildren, double child_writes)
{
    long long pace = cost_ms >= 5 ? cost_ms * 4 : 0;
    if (child_writes <= 0) {
        double by_children = nchildren * CM_PACE_CHILD_US / 1000.0;
        if (by_children > pace)
            pace = (long long)by_children;
    }
    return (long)(pace > CM_PACE_MAX_MS ? CM_PACE_MAX_MS : pace);
}

static void process(workqueue_t *q, const char *key, void *priv)
{
    ctrl_t *c = priv;
    controllers_t *cm = c->cm;
    policy_t *p;
    lua_State *L;
    char tag[700], labels[300];
    int rc;

    if (!leader_is_leading(cm->leader) || !c->declared) {
        workqueue_done(q, key);   /* queued again on leadership or a good reload */
        return;
    }
    if (!expectations_met(c, key) || (!strcmp(c->sub, "@load_balancer") && !all_expectations_met(c))) {
        workqueue_add_after(q, key, CM_EXPECT_POLL_MS);
        workqueue_done(q, key);
        return;
    }
    p = policy_get(c->set, c->policy);
    if (!p) {
        workqueue_add_after(q, key, 5000);
        workqueue_done(q, key);
        return;
    }
    long long t_start = now_ms();
    json_int_t nb = json_integer_value(json_object_get(c->not_before, key));
    if (nb > t_start) {
        workqueue_add_after(q, key, (long)(nb - t_start));
        workqueue_done(q, key);
        return;
    }
    json_object_del(c->not_before, key);
    if ((c->all || c->uses_all) && !all_synced(cm)) {
        /* Deciding that an owner is gone, or a namespace empty, needs complete caches. */
        workqueue_add_after(q, key, 500);
        workqueue_done(q, key);
        return;
    }
    L = policy_state(p);
    rc = policy_require(p, CM_RUNTIME);
    if (rc == LUAVM_OK) {
        lua_getfield(L, -1, c->all ? "reconcile_any" : "reconcile");
        lua_remove(L, -2);
        if (push_controller(c, p, L) != 0) {
            lua_pop(L, 1);
            log_warn("controllers: %s %s: its controller table is gone", c->policy, c->sub);
            workqueue_add_after(q, key, 5000);
            workqueue_done(q, key);
            return;
        }
        lua_pushstring(L, key);
        luajson_push(L, cm->settings);
        luajson_push(L, cm->resources);
        luacluster_begin(cm->lua, L);
        rc = policy_call_function(p, "sync", 4, 1);
    }
    long long cost = now_ms() - t_start;
    snprintf(labels, sizeof(labels), "controller=\"%s%s%s\",result=\"%s\"", c->policy,
             c->sub[0] ? "#" : "", c->sub, rc == LUAVM_OK ? "success" : "error");
    metrics_add("berth_controller_syncs_total", labels, 1);
    snprintf(labels, sizeof(labels), "controller=\"%s%s%s\"", c->policy, c->sub[0] ? "#" : "", c->sub);
    metrics_add("berth_controller_sync_milliseconds_total", labels, (double)cost);
    if (rc != LUAVM_OK) {
        luacluster_discard(cm->lua, L);
        log_warn("controllers: %s %s: sync failed (%s): %s", c->policy, key,
                 luavm_status_name(rc), policy_errmsg(p) ? policy_errmsg(p) : "");
        workqueue_add_rate_limited(q, key);
        workqueue_done(q, key);
        return;
    }
    double requeue = 0, nchildren = 0, child_writes = 0;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "requeue_after");
        requeue = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
        lua_getfield(L, -2, "children");
        nchildren = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
        lua_getfield(L, -3, "child_writes");
        child_writes = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
    long pace = pace_ms(cost, nchildren, child_writes);
    if (pace > 0)
        json_object_set_new(c->not_before, key, json_integer(now_ms() + pace));
    snprintf(tag, sizeof(tag), "%d\n%s", c->index, key);
    int n = luacluster_commit_opts(cm->lua, L, tag, LUACLUSTER_SLOW_START);
    if (n > 0)
        json_object_set_new(c->expect, key, json_pack("{s:i,s:{},s:I}", "inflight", n, "rvs",
                                                      "since", (json_int_t)now_ms()));
    else
        workqueue_forget(q, key);   /* nothing to write: a success (else action_done decides) */
    if (requeue > 0)
        workqueue_add_after(q, key, (long)(requeue * 1000 > 86400000 ? 86400000 : requeue * 1000));
    workqueue_done(q, key);
}

/* An Event about obj (the parent), as kube's controllers record them. */
static void record_event(controllers_t *cm, const json_t *obj, const char *api_version,
                         const char *kind, const char *type, const char *reason,
                         const char *message)
{
    char path[900];
    const char *name = md_str(obj, "name"), *method, *ctype;
    if (!name)
        return;
    eventcorr_event_t e = { CM_COMPONENT, kind, api_version, md_str(obj, "namespace"), name,
                            md_str(obj, "uid"), type, reason, message };
    json_t *ev = eventcorr_request(cm->events, time(NULL), &e, &method, &ctype, path,
                                   sizeof(path));
    if (ev)
        apiclient_discard_body(
            apiclient_request(cm->client, method, path, ctype, ev, ignore_done, NULL));
    json_decref(ev);
}

/* The policy's child_events entry for an answered create or delete of a child. */
static void child_event(ctrl_t *c, const char *key, const char *verb, const char *path,
                        int status, json_t *body, const char *errstr)
{
    char plural[128], name[300], msg[1200], buf[700], *seg[16], *save = NULL, *tok;
    int ok = status >= 200 && status < 300, create = !strcmp(verb, "create"), n = 0;
    if ((!create && strcmp(verb, "delete")) || json_object_size(c->child_events) == 0)
        return;
    /* ".../<plural>" for a create, ".../<plural>/<name>" for a delete */
    snprintf(buf, sizeof(buf), "%s", path);
    buf[strcspn(buf, "?")] = '\0';
    for (tok = strtok_r(buf, "/", &save); tok && n < 16; tok = strtok_r(NULL, "/", &save))
        seg[n++] = tok;
    if (n < 2)
        return;
    snprintf(plural, sizeof(plural), "%s", create ? seg[n - 1] : seg[n - 2]);
    if (create)
        snprintf(name, sizeof(name), "%s", ok && md_str(body, "name") ? md_str(body, "name") : "");
    else
        snprintf(name, sizeof(name), "%s", seg[n - 1]);
    json_t *t = json_object_get(json_object_get(c->child_events, plural),
                                create ? (ok ? "create" : "create_failed") : (ok ? "delete" : "delete_failed"));
    const char *fmt = json_str(t, "message"), *reason = json_str(t, "reason");
    json_t *parent = informer_get_key(c->cm->res[c->parent].inf, key);
    if (!fmt || !reason || !parent)
        return;
    const char *arg = ok ? name : (json_str(body, "message") ? json_str(body, "message") : errstr ? errstr : "unknown error");
    /* the one %s of the template, replaced by hand: the template is the policy's text */
    const char *pct = strstr(fmt, "%s");
    if (pct)
        snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(pct - fmt), fmt, arg, pct + 2);
    else
        snprintf(msg, sizeof(msg), "%s", fmt);
    char api[200];
    const char *res = c->cm->res[c->parent].name, *slash = strrchr(res, '/');
    snprintf(api, sizeof(api), "%.*s", (int)(slash - res), res);
    record_event(c->cm, parent, api, kind_for(slash + 1),
                 json_str(t, "type") ? json_str(t, "type") : "Normal", reason, msg);
}

/* The resource (index in cm->res) of a request path among the controller's parent and
 * children: "/api/v1/namespaces/ns/pods[/name[/sub]]" is "v1/pods". -1 if none. */
static int path_resource(ctrl_t *c, const char *path)
{
    int cand[1 + CM_MAX_DECL], n = 0;
    if (c->all)
        return -1;
    cand[n++] = c->parent;
    for (int i = 0; i < c->nchildren; i++)
        cand[n++] = c->children[i];
    for (int i = 0; i < n; i++) {
        const char *res = c->cm->res[cand[i]].name, *slash = strrchr(res, '/');
        char prefix[200], seg[140];
        snprintf(prefix, sizeof(prefix), "%s/%.*s/", strchr(res, '/') == slash ? "/api" : "/apis",
                 (int)(slash - res), res);
        snprintf(seg, sizeof(seg), "/%s", slash + 1);
        if (strncmp(path, prefix, strlen(prefix)))
            continue;
        const char *at = strstr(path, seg);
        if (at && (at[strlen(seg)] == '/' || at[strlen(seg)] == '\0' || at[strlen(seg)] == '?'))
            return cand[i];
    }
    return -1;
}

/* An action of some sync was answered: settle that parent's expectations. */
static void action_done(void *priv, const char *verb, const char *method, const char *path,
                        int status, json_t *body, const char *errstr)
{
    controllers_t *cm = priv;
    const char *tag = luacluster_done_tag(cm->lua), *nl;
    if (!tag || !(nl = strchr(tag, '\n')))
        return;
    int idx = atoi(tag);
    if (idx < 0 || idx >= cm->nctrls)
        return;
    ctrl_t *c = cm->ctrls[idx];
    const char *key = nl + 1;
    json_t *e = json_object_get(c->expect, key);
    if (status == LUACLUSTER_SKIPPED) {
        /* A create slow start did not send after a failed one: the failure requeued the
         * parent and recorded its event; this one only lowers the expectations. */
    } else if (status >= 200 && status < 300) {
        int r = e ? path_resource(c, path) : -1;
        if (r >= 0) {
            char ri[16];
            unsigned long long rv = rv_num(md_str(body, "resourceVersion"));
            json_t *rvs = json_object_get(e, "rvs");
            snprintf(ri, sizeof(ri), "%d", r);
            if (rv > (unsigned long long)json_integer_value(json_object_get(rvs, ri)))
                json_object_set_new(rvs, ri, json_integer((json_int_t)rv));
        }
    } else {
        /* A conflict or a rejection: look again after a backoff, from fresh caches. The
         * backoff grows while syncs keep failing (a template the API server rejects), and
         * is reset by a sync whose writes all succeed (below), as kube's work queue. */
        workqueue_add_rate_limited(c->queue, key);
        if (e)
            json_object_set_new(e, "failed", json_true());
    }
    if (status != LUACLUSTER_SKIPPED)
        child_event(c, key, verb, path, status, body, errstr);
    if (e) {
        json_int_t left = json_integer_value(json_object_get(e, "inflight")) - 1;
        json_object_set_new(e, "inflight", json_integer(left > 0 ? left : 0));
        if (left <= 0 && !json_is_true(json_object_get(e, "failed")))
            workqueue_forget(c->queue, key);
    }
}

/* ---- life cycle -------------------------------------------------------------------- */

static void resync(evutil_socket_t fd, short what, void *arg)
{
    controllers_t *cm = arg;
    for (int i = 0; i < cm->nctrls; i++)
        enqueue_all(cm->ctrls[i], NULL);
}

static void leadership(int leading, void *priv)
{
    if (leading)
        resync(-1, 0, priv);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every plugins/<name>/plugin.lua not loaded yet; their controllers are made when
 * the load reports (plugin_report). */
static void scan_plugins(controllers_t *cm)
{
    char names[CM_MAX_CTRL][272], path[PATH_MAX + 300];
    int n = 0;
    struct dirent *d;
    if (!cm->plugins)
        return;
    DIR *dh = opendir(cm->plugin_dir);
    if (!dh)
        return;
    while ((d = readdir(dh)) != NULL && n < CM_MAX_CTRL) {
        if (d->d_name[0] == '.' || strlen(d->d_name) > 200)
            continue;
        snprintf(path, sizeof(path), "%s/%s/plugin.lua", cm->plugin_dir, d->d_name);
        if (access(path, R_OK) == 0)
            snprintf(names[n++], sizeof(names[0]), "%s/plugin.lua", d->d_name);
    }
    closedir(dh);
    for (int i = 0; i < n; i++)
        policy_get(cm->plugins, names[i]);
}

/* Every second: a plugin directory that appeared is loaded (its controllers start), the
 * kinds follow the files when this process keeps its own registry, and the controllers that
 * watch every kind (garbage collector, namespace) get informers on kinds added since. A
 * retired kind's informer stays; it finds nothing to list until the kind is back. */
static void plugins_poll(evutil_socket_t fd, short what, void *arg)
{
    controllers_t *cm = arg;
    (void)fd;
    (void)what;
    if (cm->plugins) {
        unsigned long sig = plugins_signature(cm->plugin_dir);
        if (sig != cm->plugins_sig) {
            cm->plugins_sig = sig;
            if (cm->sync_kinds)
                plugins_sync_kinds(cm->plugin_dir, cm->lib_dir[0] ? cm->lib_dir : NULL, NULL, NULL);
            scan_plugins(cm);
        }
    }
    if (cm->all_resources && kinds_generation() != cm->kinds_gen) {
        cm->all_resources = 0;
        make_all_resources(cm);    /* known names are kept; new kinds get informers */
    }
}

/* Add a controller for every policies/controllers/<name>.lua not known yet. */
static void scan(controllers_t *cm)
{
    char dir[PATH_MAX + 16], *names[CM_MAX_CTRL * 2];
    int n = 0;
    struct dirent *d;
    snprintf(dir, sizeof(dir), "%s/controllers", cm->dir);
    DIR *dh = opendir(dir);
    if (!dh) {
        log_warn("controllers: no directory %s: no controllers run", dir);
        return;
    }
    while ((d = readdir(dh)) != NULL && n < CM_MAX_CTRL * 2) {
        size_t len = strlen(d->d_name);
        if (len > 4 && !strcmp(d->d_name + len - 4, ".lua") && d->d_name[0] != '.')
            names[n++] = strdup(d->d_name);
    }
    closedir(dh);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    for (int i = 0; i < n; i++) {
        char pname[POLICY_NAME_MAX];
        snprintf(pname, sizeof(pname), "controllers/%s", names[i]);
        free(names[i]);
        if (find_ctrl(cm, cm->policies, pname, ""))
            continue;
        add_ctrl(cm, cm->policies, pname, "");
        /* Loading reports through policy_report, which declares the controller. */
        policy_get(cm->policies, pname);
    }
    scan_plugins(cm);
}

controllers_t *controllers_create(struct event_base *base, const controllers_opts_t *opts,
                                  char *err, size_t errlen)
{
    controllers_t *cm = calloc(1, sizeof(*cm));
    policy_opts_t popts;
    if (!cm) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cm->base = base;
    cm->resync_s = opts->resync_seconds > 0 ? opts->resync_seconds : 60;
    cm->resources = json_array();
    cm->settings = json_pack("{s:i,s:i,s:i}", "node_monitor_grace_period",
                             opts->node_monitor_grace_period > 0 ? opts->node_monitor_grace_period : 40,
                             "default_toleration_seconds",
                             opts->default_toleration_seconds > 0 ? opts->default_toleration_seconds : 300,
                             "pod_eviction_timeout",
                             opts->default_toleration_seconds > 0 ? opts->default_toleration_seconds : 300);
    snprintf(cm->dir, sizeof(cm->dir), "%s", opts->policy_dir);
    cm->client = apiclient_create(base, opts->server_url);
    if (!cm->client) {
        snprintf(err, errlen, "bad server URL %s", opts->server_url);
        goto failed;
    }
    cm->lua = luacluster_create(cm->client, CM_COMPONENT);
    cm->events = eventcorr_create();
    if (!cm->lua || !cm->events) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    luacluster_set_done(cm->lua, action_done, cm);
    memset(&popts, 0, sizeof(popts));
    popts.report = policy_report;
    popts.priv = cm;
    popts.setup = luacluster_policy_setup;
    popts.setup_priv = cm->lua;
    cm->policies = policy_set_create(base, opts->policy_dir, opts->lib_dir, &popts, err, errlen);
    if (!cm->policies)
        goto failed;
    if (opts->plugin_dir && access(opts->plugin_dir, R_OK) == 0) {
        snprintf(cm->plugin_dir, sizeof(cm->plugin_dir), "%s", opts->plugin_dir);
        snprintf(cm->lib_dir, sizeof(cm->lib_dir), "%s", opts->lib_dir ? opts->lib_dir : "");
        popts.report = plugin_report;
        cm->plugins = policy_set_create(base, opts->plugin_dir, opts->lib_dir, &popts, err, errlen);
        if (!cm->plugins)
            goto failed;
    }
    metrics_describe("berth_controller_syncs_total", "counter",
                     "Controller syncs by controller policy and result (success, error).");
    metrics_describe("berth_controller_sync_milliseconds_total", "counter",
                     "Wall time spent in controller syncs, by controller policy.");
    char host[128], identity[200];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "berth");
    host[sizeof(host) - 1] = '\0';
    snprintf(identity, sizeof(identity), "%s_%d", host, (int)getpid());
    leader_opts_t lo = { "kube-system", "berth-controller-manager", identity, opts->lease_seconds, 0, 0 };
    if (opts->lease_seconds > 0) {
        lo.renew_deadline_ms = opts->lease_seconds * 1000 * 2 / 3;
        lo.retry_ms = opts->lease_seconds * 1000 / 5 > 0 ? opts->lease_seconds * 1000 / 5 : 200;
    }
    cm->leader = leader_create(base, cm->client, &lo, leadership, cm);
    cm->resync_ev = event_new(base, -1, EV_PERSIST, resync, cm);
    if (!cm->leader || !cm->resync_ev) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    struct timeval tv = { cm->resync_s, 0 };
    event_add(cm->resync_ev, &tv);
    cm->sync_kinds = opts->sync_kinds;
    cm->plugins_sig = cm->plugins ? plugins_signature(cm->plugin_dir) : 0;
    cm->plugins_ev = event_new(base, -1, EV_PERSIST, plugins_poll, cm);
    if (cm->plugins_ev) {
        struct timeval poll = { 1, 0 };
        event_add(cm->plugins_ev, &poll);
    }
    scan(cm);
    return cm;
failed:
    controllers_free(cm);
    return NULL;
}

void controllers_reload(controllers_t *cm)
{
    if (!cm)
        return;
    scan(cm);
    policy_set_reload_all(cm->policies);
    if (cm->plugins)
        policy_set_reload_all(cm->plugins);
}

void controllers_free(controllers_t *cm)
{
    if (!cm)
        return;
    leader_free(cm->leader);
    if (cm->resync_ev)
        event_free(cm->resync_ev);
    if (cm->plugins_ev)
        event_free(cm->plugins_ev);
    for (int i = 0; i < cm->nctrls; i++) {
        workqueue_free(cm->ctrls[i]->queue);
        json_decref(cm->ctrls[i]->expect);
        json_decref(cm->ctrls[i]->child_events);
        json_decref(cm->ctrls[i]->not_before);
        free(cm->ctrls[i]);
    }
    /* The VMs hold per-VM state of the cluster module: free them before it. */
    if (cm->policies)
        policy_set_free(cm->policies);
    if (cm->plugins)
        policy_set_free(cm->plugins);
    luacluster_free(cm->lua);
    eventcorr_free(cm->events);
    for (int i = 0; i < cm->nres; i++)
        informer_free(cm->res[i].inf);
    if (cm->client)
        apiclient_free(cm->client);
    json_decref(cm->settings);
    json_decref(cm->resources);
    free(cm);
}

/* ---- berth controllers ------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    controllers_reload(arg);
}

int controllers_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "policies", required_argument, NULL, 'p' },
        { "lua", required_argument, NULL, 'l' },
        { "plugins", required_argument, NULL, 'P' },
        { "lease-seconds", required_argument, NULL, 'e' },
        { "resync-seconds", required_argument, NULL, 'r' },
        { "node-monitor-grace-period", required_argument, NULL, 'g' },
        { "default-toleration-seconds", required_argument, NULL, 't' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char pdir[PATH_MAX], ldir[PATH_MAX], err[512];
    char gdir[PATH_MAX];
    controllers_opts_t co = { .server_url = "http://127.0.0.1:6443" };
    int c;

    scheduler_default_dir("policies", pdir, sizeof(pdir));
    scheduler_default_dir("lua", ldir, sizeof(ldir));
    scheduler_default_dir("plugins", gdir, sizeof(gdir));
    co.policy_dir = pdir;
    co.lib_dir = ldir;
    co.plugin_dir = gdir;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': co.server_url = optarg; break;
        case 'p': co.policy_dir = optarg; break;
        case 'l': co.lib_dir = optarg; break;
        case 'P': co.plugin_dir = optarg; break;
        case 'e': co.lease_seconds = atoi(optarg); break;
        case 'r': co.resync_seconds = atoi(optarg); break;
        case 'g': co.node_monitor_grace_period = atoi(optarg); break;
        case 't': co.default_toleration_seconds = atoi(optarg); break;
        case 'L': log_set_level_name(optarg); break;
        case 'h':
            printf("usage: berth controllers [--server URL] [--policies DIR] [--lua DIR] [--plugins DIR]\n"
                   "                         [--lease-seconds N] [--resync-seconds N] [--log-level LEVEL]\n"
                   "                         [--node-monitor-grace-period S] [--default-toleration-seconds S]\n");
            return 0;
        default: return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (kinds_init() != 0)
        return 1;
    plugins_register_kinds(co.plugin_dir, co.lib_dir);
    co.sync_kinds = 1;
    struct event_base *base = event_base_new();
    controllers_t *cm = controllers_create(base, &co, err, sizeof(err));
    if (!cm) {
        fprintf(stderr, "berth controllers: %s\n", err);
        event_base_free(base);
        return 1;
    }
    struct event *e1 = evsignal_new(base, SIGINT, on_signal, base);
    struct event *e2 = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *e3 = evsignal_new(base, SIGHUP, on_hup, cm);
    event_add(e1, NULL);
    event_add(e2, NULL);
    event_add(e3, NULL);
    log_info("controllers: running %s/controllers against %s", co.policy_dir, co.server_url);
    event_base_dispatch(base);
    event_free(e1);
    event_free(e2);
    event_free(e3);
    controllers_free(cm);
    event_base_free(base);
    return 0;
}
