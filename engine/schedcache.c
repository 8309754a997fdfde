/* schedcache.c: see schedcache.h.
 *
 * C side: the nodes, and per node the pods counted there, with a generation number per
 * node (bumped whenever that node's pods change), one for the node list, one for all pods
 * and one for the pods with affinity. Generations come from one counter, so a number is
 * never reused, even across a node's deletion and re-creation.
 *
 * The names of the nodes whose pods changed are also logged, in a ring of the last
 * SCHEDCACHE_LOG changes, for ctx.pods_changed: a policy that keeps something per node
 * asks which nodes changed since its last look instead of asking every node.
 *
 * Lua side, per VM: registry[<this cache as light userdata>] = cache table C with
 *   conv      key -> converted object (weak values)      rvs  object -> resourceVersion (weak keys)
 *   on_arr    node name -> array of its pods             on_gen  node name -> generation
 *   nodes, nodes_gen / pods, pods_gen / aff, aff_gen      the other cached arrays
 *   f_on, f_pods, f_aff, f_chg                            the ctx functions, made once
 * Conversion keys carry a prefix per role, since a pod is converted differently while
 * pending, assumed (a copy with spec.nodeName) and bound: "q/", "a/", "p/"; nodes "n/". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "luajson.h"
#include "schedcache.h"
#include "util.h"

/* How many node changes ctx.pods_changed can report; a token older than that gets "all". */
#define SCHEDCACHE_LOG 4096

struct schedcache_s {
    json_t *nodes;        /* name -> node (own reference), in insertion order */
    json_t *node_pods;    /* name -> { key -> pod }: the pods counted on that node */
    json_t *node_gen;     /* name -> generation of that node's pod set */
    json_t *pod_node;     /* key -> node name the pod is counted on */
    json_t *assumed;      /* key -> true for pods counted by schedcache_assume */
    json_t *affinity;     /* key -> counted pod carrying spec.affinity */
    json_int_t counter;   /* source of every generation */
    json_int_t nodes_gen, pods_gen, aff_gen;
    json_int_t nodes_deleted_gen; /* changes when a node is deleted */
    char *log[SCHEDCACHE_LOG];    /* change i (0-based, of log_n) at log[i % SCHEDCACHE_LOG] */
    json_int_t log_n;             /* changes logged so far: the current token */
};

/* The table slot that pushes use to hand results out of lua_cpcall. */
static const char schedcache_out_pod, schedcache_out_ctx;

schedcache_t *schedcache_create(void)
{
    schedcache_t *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return NULL;
    sc->nodes = json_object();
    sc->node_pods = json_object();
    sc->node_gen = json_object();
    sc->pod_node = json_object();
    sc->assumed = json_object();
    sc->affinity = json_object();
    sc->counter = 1;
    if (!sc->nodes || !sc->node_pods || !sc->node_gen || !sc->pod_node || !sc->assumed ||
        !sc->affinity) {
        schedcache_free(sc);
        return NULL;
    }
    return sc;
}

void schedcache_free(schedcache_t *sc)
{
    if (!sc)
        return;
    json_decref(sc->nodes);
    json_decref(sc->node_pods);
    json_decref(sc->node_gen);
    json_decref(sc->pod_node);
    json_decref(sc->assumed);
    json_decref(sc->affinity);
    for (size_t i = 0; i < SCHEDCACHE_LOG; i++)
        free(sc->log[i]);
    free(sc);
}

/* ---- C side ------------------------------------------------------------------------ */

static const char *node_name_of(const json_t *node)
{
    return json_str(json_object_get(node, "metadata"), "name");
}

void schedcache_node_set(schedcache_t *sc, json_t *node)
{
    const char *name = node_name_of(node);
    if (!name)
        return;
    json_object_set(sc->nodes, name, node);
    sc->nodes_gen = ++sc->counter;
}

void schedcache_node_delete(schedcache_t *sc, const json_t *node)
{
    const char *name = node_name_of(node);
    if (name && json_object_del(sc->nodes, name) == 0) {
        sc->nodes_gen = ++sc->counter;
        sc->nodes_deleted_gen = sc->nodes_gen;
    }
}

static void bump_node(schedcache_t *sc, const char *node)
{
    json_object_set_new(sc->node_gen, node, json_integer(++sc->counter));
    /* Out of memory: the name is lost, so every token up to here must read "all". Dropping
     * the whole ring does that (a token more than SCHEDCACHE_LOG behind reads "all"). */
    char **slot = &sc->log[sc->log_n % SCHEDCACHE_LOG];
    free(*slot);
    *slot = strdup(node);
    if (!*slot) {
        sc->log_n += SCHEDCACHE_LOG + 1;
        return;
    }
    sc->log_n++;
}

/* Stop counting the pod under key wherever it is counted. */
static void unplace(schedcache_t *sc, const char *key)
{
    const char *node = json_string_value(json_object_get(sc->pod_node, key));
    if (!node)
        return;
    json_object_del(json_object_get(sc->node_pods, node), key);
    if (json_object_size(json_object_get(sc->node_pods, node)) == 0)
        json_object_del(sc->node_pods, node);
    bump_node(sc, node);
    json_object_del(sc->pod_node, key);   /* node is dead from here */
    json_object_del(sc->assumed, key);
    if (json_object_del(sc->affinity, key) == 0)
        sc->aff_gen = ++sc->counter;
    sc->pods_gen = ++sc->counter;
}

/* Count pod (a reference is taken) under key on node. */
static void place(schedcache_t *sc, const char *key, json_t *pod, const char *node)
{
    json_t *on = json_object_get(sc->node_pods, node);
    if (!on) {
        on = json_object();
        json_object_set_new(sc->node_pods, node, on);
    }
    json_object_set(on, key, pod);
    json_object_set_new(sc->pod_node, key, json_string(node));
    bump_node(sc, node);
    if (json_is_object(json_path(pod, "spec.affinity"))) {
        json_object_set(sc->affinity, key, pod);
        sc->aff_gen = ++sc->counter;
    }
    sc->pods_gen = ++sc->counter;
}

static int pod_finished(const json_t *pod)
{
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

void schedcache_pod_set(schedcache_t *sc, const char *key, json_t *pod)
{
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    unplace(sc, key);
    if (node && *node && !pod_finished(pod))
        place(sc, key, pod, node);
}

void schedcache_pod_delete(schedcache_t *sc, const char *key, const json_t *pod)
{
    (void)pod;
    unplace(sc, key);
}

void schedcache_assume(schedcache_t *sc, const char *key, const json_t *pod, const char *node)
{
    /* The pod with spec.nodeName set: new top and spec objects, everything below them
     * shared with pod (the cache, like the informer, never changes an object in place). */
    json_t *copy = json_copy((json_t *)pod);
    json_t *spec = json_copy(json_object_get(pod, "spec"));
    if (!spec)
        spec = json_object();
    if (!copy || !spec) {
        json_decref(copy);
        json_decref(spec);
        return;
    }
    json_object_set_new(spec, "nodeName", json_string(node));
    json_object_set_new(copy, "spec", spec);
    unplace(sc, key);
    place(sc, key, copy, node);
    json_object_set_new(sc->assumed, key, json_true());
    json_decref(copy);
}

void schedcache_unassume(schedcache_t *sc, const char *key)
{
    if (json_object_get(sc->assumed, key))
        unplace(sc, key);
}

int schedcache_is_assumed(const schedcache_t *sc, const char *key)
{
    return json_object_get(sc->assumed, key) != NULL;
}

size_t schedcache_node_count(const schedcache_t *sc)
{
    return json_object_size(sc->nodes);
}

size_t schedcache_pod_count(const schedcache_t *sc)
{
    return json_object_size(sc->pod_node);
}

/* ---- Lua side ---------------------------------------------------------------------- */

/* Push obj converted, reusing the conversion stored under prefix+key in the cache table
 * at index `cache` while the object's resourceVersion is unchanged. Raises on failure
 * (only ever called protected). */
static void push_obj(lua_State *L, int cache, const char *prefix, const char *key,
                     const json_t *obj)
{
    const char *rv = json_str(json_object_get(obj, "metadata"), "resourceVersion");
    char ckey[700];
    snprintf(ckey, sizeof(ckey), "%s%s", prefix, key);
    lua_getfield(L, cache, "conv");                    /* conv */
    lua_getfield(L, -1, ckey);                         /* conv t? */
    if (rv && lua_istable(L, -1)) {
        lua_getfield(L, cache, "rvs");                 /* conv t rvs */
        lua_pushvalue(L, -2);
        lua_rawget(L, -2);                             /* conv t rvs rv? */
        const char *have = lua_tostring(L, -1);
        if (have && !strcmp(have, rv)) {
            lua_pop(L, 2);
            lua_remove(L, -2);                         /* t */
            return;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);                                     /* conv */
    if (luajson_push(L, obj) != 0)                     /* conv t */
        luaL_error(L, "cannot convert %s%s for the policy", prefix, key);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, ckey);
    if (rv) {
        lua_getfield(L, cache, "rvs");
        lua_pushvalue(L, -2);
        lua_pushstring(L, rv);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);                                 /* t */
}

/* The cached array field `field` if its generation (field_gen) is gen; else 0 with
 * nothing pushed. */
static int cached_array(lua_State *L, int cache, const char *field, const char *gen_field,
                        json_int_t gen)
{
    lua_getfield(L, cache, gen_field);
    int fresh = lua_isnumber(L, -1) && (json_int_t)lua_tonumber(L, -1) == gen;
    lua_pop(L, 1);
    if (!fresh)
        return 0;
    lua_getfield(L, cache, field);
    return 1;
}

/* Store the array on top as field (generation gen), leaving it on top. */
static void keep_array(lua_State *L, int cache, const char *field, const char *gen_field,
                       json_int_t gen)
{
    lua_pushvalue(L, -1);
    lua_setfield(L, cache, field);
    lua_pushnumber(L, (lua_Number)gen);
    lua_setfield(L, cache, gen_field);
}

/* Push the pods of one node's map as a new array. */
static void push_pod_map(schedcache_t *sc, lua_State *L, int cache, json_t *map, int *n,
                         int skip_terminating)
{
    const char *key;
    json_t *pod;
    json_object_foreach(map, key, pod) {
        if (skip_terminating && json_str(json_object_get(pod, "metadata"), "deletionTimestamp"))
            continue;
        push_obj(L, cache, json_object_get(sc->assumed, key) ? "a/" : "p/", key, pod);
        lua_rawseti(L, -2, ++*n);
    }
}

/* ctx.pods_on(nodeName): the pods counted on that node, one array per node generation. */
static int l_pods_on(lua_State *L)
{
    schedcache_t *sc = lua_touserdata(L, lua_upvalueindex(1));
    int cache = lua_upvalueindex(2);
    const char *name = luaL_checkstring(L, 1);
    json_int_t gen = json_integer_value(json_object_get(sc->node_gen, name));
    int n = 0;

    lua_getfield(L, cache, "on_gen");                  /* on_gen */
    lua_getfield(L, -1, name);
    if (lua_isnumber(L, -1) && (json_int_t)lua_tonumber(L, -1) == gen) {
        lua_pop(L, 2);
        lua_getfield(L, cache, "on_arr");
        lua_getfield(L, -1, name);
        return 1;
    }
    lua_pop(L, 1);
    lua_newtable(L);                                   /* on_gen arr */
    push_pod_map(sc, L, cache, json_object_get(sc->node_pods, name), &n, 0);
    lua_getfield(L, cache, "on_arr");                  /* on_gen arr on_arr */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    lua_pushnumber(L, (lua_Number)gen);
    lua_setfield(L, -3, name);
    return 1;
}

/* ctx.pods_changed(token): the current token and an array of the names of the nodes whose
 * pods changed after token (a token from an earlier call; a name may repeat), or only the
 * current token when token is not one (nil, or too old for the log): the caller must then
 * take every node as changed. */
static int l_pods_changed(lua_State *L)
{
    schedcache_t *sc = lua_touserdata(L, lua_upvalueindex(1));
    json_int_t now = sc->log_n;
    lua_pushnumber(L, (lua_Number)now);
    if (!lua_isnumber(L, 1))
        return 1;
    lua_Number t = lua_tonumber(L, 1);
    if (!(t >= 0 && t <= (lua_Number)now) || (lua_Number)(json_int_t)t != t ||   /* NaN too */
        now - (json_int_t)t > SCHEDCACHE_LOG)
        return 1;
    json_int_t since = (json_int_t)t;
    lua_createtable(L, (int)(now - since), 0);
    for (json_int_t i = since; i < now; i++) {
        const char *name = sc->log[i % SCHEDCACHE_LOG];
        lua_pushstring(L, name ? name : "");
        lua_rawseti(L, -2, (int)(i - since + 1));
    }
    return 2;
}

/* ctx.pods(): every counted pod that is not terminating (inter-pod affinity, spread). */
static int l_pods(lua_State *L)
{
    schedcache_t *sc = lua_touserdata(L, lua_upvalueindex(1));
    int cache = lua_upvalueindex(2);
    const char *node;
    json_t *map;
    int n = 0;
    if (cached_array(L, cache, "pods", "pods_gen", sc->pods_gen))
        return 1;
    lua_newtable(L);
    json_object_foreach(sc->node_pods, node, map)
        push_pod_map(sc, L, cache, map, &n, 1);
    keep_array(L, cache, "pods", "pods_gen", sc->pods_gen);
    return 1;
}

/* ctx.pods_with_affinity(): the counted pods carrying spec.affinity. */
static int l_pods_with_affinity(lua_State *L)
{
    schedcache_t *sc = lua_touserdata(L, lua_upvalueindex(1));
    int cache = lua_upvalueindex(2);
    int n = 0;
    if (cached_array(L, cache, "aff", "aff_gen", sc->aff_gen))
        return 1;
    lua_newtable(L);
    push_pod_map(sc, L, cache, sc->affinity, &n, 0);
    keep_array(L, cache, "aff", "aff_gen", sc->aff_gen);
    return 1;
}

static void set_weak(lua_State *L, const char *mode)
{
    lua_newtable(L);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
}

/* Push this cache's table in L's registry, creating it on first use. */
static void push_cache_table(schedcache_t *sc, lua_State *L)
{
    lua_pushlightuserdata(L, sc);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1))
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    int cache = lua_gettop(L);
    lua_newtable(L);
    set_weak(L, "v");
    lua_setfield(L, cache, "conv");
    lua_newtable(L);
    set_weak(L, "k");
    lua_setfield(L, cache, "rvs");
    lua_newtable(L);
    lua_setfield(L, cache, "on_arr");
    lua_newtable(L);
    lua_setfield(L, cache, "on_gen");
    static const struct { const char *name; lua_CFunction fn; } fns[] = {
        { "f_on", l_pods_on }, { "f_pods", l_pods }, { "f_aff", l_pods_with_affinity },
        { "f_chg", l_pods_changed },
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        lua_pushlightuserdata(L, sc);
        lua_pushvalue(L, cache);
        lua_pushcclosure(L, fns[i].fn, 2);
        lua_setfield(L, cache, fns[i].name);
    }
    lua_pushlightuserdata(L, sc);
    lua_pushvalue(L, cache);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* ctx.nodes: one array, rebuilt when a node changed. */
static void push_nodes(schedcache_t *sc, lua_State *L, int cache)
{
    const char *name;
    json_t *node;
    int n = 0;
    if (cached_array(L, cache, "nodes", "nodes_gen", sc->nodes_gen))
        return;
    /* The arrays of deleted nodes would stay forever: after a deletion, start the per-node
     * arrays afresh (they are rebuilt on demand). Not on every node change: nodes change
     * often (status updates) and the arrays, and what policies memoize from them, hold. */
    lua_getfield(L, cache, "on_reset_gen");
    if (!lua_isnumber(L, -1) || (json_int_t)lua_tonumber(L, -1) != sc->nodes_deleted_gen) {
        lua_newtable(L);
        lua_setfield(L, cache, "on_arr");
        lua_newtable(L);
        lua_setfield(L, cache, "on_gen");
        lua_pushnumber(L, (lua_Number)sc->nodes_deleted_gen);
        lua_setfield(L, cache, "on_reset_gen");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    json_object_foreach(sc->nodes, name, node) {
        push_obj(L, cache, "n/", name, node);
        lua_rawseti(L, -2, ++n);
    }
    keep_array(L, cache, "nodes", "nodes_gen", sc->nodes_gen);
}

typedef struct push_args_s {
    schedcache_t *sc;
    const char *key;
    const json_t *pod;
    int percentage;
} push_args_t;

static int push_args_protected(lua_State *L)
{
    push_args_t *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    push_cache_table(a->sc, L);                        /* 1: cache */
    lua_pushlightuserdata(L, (void *)&schedcache_out_pod);
    push_obj(L, 1, "q/", a->key, a->pod);
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_pushlightuserdata(L, (void *)&schedcache_out_ctx);
    lua_createtable(L, 0, 9);                          /* 3: ctx */
    push_nodes(a->sc, L, 1);
    lua_setfield(L, 3, "nodes");
    lua_getfield(L, 1, "f_on");
    lua_setfield(L, 3, "pods_on");
    lua_getfield(L, 1, "f_pods");
    lua_setfield(L, 3, "pods");
    lua_getfield(L, 1, "f_aff");
    lua_setfield(L, 3, "pods_with_affinity");
    lua_getfield(L, 1, "f_chg");
    lua_setfield(L, 3, "pods_changed");
    lua_pushinteger(L, a->percentage);
    lua_setfield(L, 3, "percentage_of_nodes_to_score");
    lua_newtable(L);
    lua_setfield(L, 3, "state");
    lua_pushnumber(L, (lua_Number)time(NULL));
    lua_setfield(L, 3, "now");
    lua_rawset(L, LUA_REGISTRYINDEX);
    return 0;
}

static void take_out(lua_State *L, const void *slot)
{
    lua_pushlightuserdata(L, (void *)slot);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, (void *)slot);
    lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

int schedcache_push_args(schedcache_t *sc, lua_State *L, const char *key, const json_t *pod,
                         int percentage_of_nodes_to_score, char *err, size_t errlen)
{
    push_args_t a = { sc, key, pod, percentage_of_nodes_to_score };
    if (lua_cpcall(L, push_args_protected, &a) != 0) {
        snprintf(err, errlen, "building the policy's arguments: %s",
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_pop(L, 1);
        take_out(L, &schedcache_out_pod);
        take_out(L, &schedcache_out_ctx);
        lua_pop(L, 2);
        return -1;
    }
    take_out(L, &schedcache_out_pod);
    take_out(L, &schedcache_out_ctx);
    return 0;
}

typedef struct push_pods_s {
    schedcache_t *sc;
    const char *const *keys;
    json_t *const *pods;
    size_t n;
} push_pods_t;

static int push_pods_protected(lua_State *L)
{
    push_pods_t *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    push_cache_table(a->sc, L);                        /* 1: cache */
    lua_pushlightuserdata(L, (void *)&schedcache_out_pod);
    lua_createtable(L, (int)a->n, 0);
    for (size_t i = 0; i < a->n; i++) {
        push_obj(L, 1, "q/", a->keys[i], a->pods[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_rawset(L, LUA_REGISTRYINDEX);
    return 0;
}

int schedcache_push_pods(schedcache_t *sc, lua_State *L, const char *const *keys,
                         json_t *const *pods, size_t n, char *err, size_t errlen)
{
    push_pods_t a = { sc, keys, pods, n };
    if (lua_cpcall(L, push_pods_protected, &a) != 0) {
        snprintf(err, errlen, "building the policy's arguments: %s",
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_pop(L, 1);
        take_out(L, &schedcache_out_pod);
        lua_pop(L, 1);
        return -1;
    }
    take_out(L, &schedcache_out_pod);
    return 0;
}
