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
 *   [1..4]    per role (pending, assumed, bound pods; nodes): key -> converted object,
 *             weak values; [5] object -> resourceVersion, weak keys (see SLOT_*)
 *   [6], [7]  the ring of the last pending conversions handed out, and its position
 *   on_arr    node name -> array of its pods             on_gen  node name -> generation
 *   nodes, nodes_gen / pods, pods_gen / aff, aff_gen      the other cached arrays
 *   f_on, f_pods, f_aff, f_chg                            the ctx functions, made once
 * A pod is converted differently while pending, assumed (a copy with spec.nodeName) and
 * bound, hence a table per role; an assumed pod's table is derived from its pending one. */
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

/* How many pending pods' conversions a VM holds on to (push_pending): the scheduler's
 * batch (SCHED_BATCH_MAX, 512 keys) is ordered, then decided one by one. */
#define SCHEDCACHE_KEEP 512

/* How many assumed copies replaced by their bound versions are kept for push_obj at most. */
#define SCHEDCACHE_REPLACED_MAX 4096

struct schedcache_s {
    json_t *nodes;        /* name -> node (own reference), in insertion order */
    json_t *node_pods;    /* name -> { key -> pod }: the pods counted on that node */
    json_t *node_gen;     /* name -> generation of that node's pod set */
    json_t *pod_node;     /* key -> node name the pod is counted on */
    json_t *pod_gen;      /* key -> generation at which it was counted there */
    json_t *assumed;      /* key -> true for pods counted by schedcache_assume */
    json_t *affinity;     /* key -> counted pod carrying spec.affinity */
    json_t *replaced;     /* key -> the assumed copy its bound version replaced: push_obj
                           * converts the bound pod from the copy's conversion */
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
    sc->pod_gen = json_object();
    sc->assumed = json_object();
    sc->affinity = json_object();
    sc->replaced = json_object();
    sc->counter = 1;
    if (!sc->nodes || !sc->node_pods || !sc->node_gen || !sc->pod_node || !sc->pod_gen || !sc->assumed ||
        !sc->affinity || !sc->replaced) {
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
    json_decref(sc->pod_gen);
    json_decref(sc->assumed);
    json_decref(sc->affinity);
    json_decref(sc->replaced);
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
    json_object_del(sc->pod_gen, key);
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
    json_object_set_new(sc->pod_gen, key, json_integer(++sc->counter));
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
    json_t *was = NULL;
    if (json_object_get(sc->assumed, key)) {
        /* The binding seen: keep the assumed copy until the bound pod is converted. Bounded:
         * pods never converted (no policy asked for their node) must not pile up. */
        const char *at = json_string_value(json_object_get(sc->pod_node, key));
        was = json_incref(json_object_get(json_object_get(sc->node_pods, at ? at : ""), key));
        if (json_object_size(sc->replaced) >= SCHEDCACHE_REPLACED_MAX)
            json_object_clear(sc->replaced);
    }
    unplace(sc, key);
    if (node && *node && !pod_finished(pod))
        place(sc, key, pod, node);
    if (was && node && *node)
        json_object_set_new(sc->replaced, key, was);
    else {
        json_decref(was);
        json_object_del(sc->replaced, key);
    }
}

void schedcache_pod_delete(schedcache_t *sc, const char *key, const json_t *pod)
{
    (void)pod;
    unplace(sc, key);
    json_object_del(sc->replaced, key);
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

/* The roles an object is converted in. A pod is converted differently while pending,
 * assumed (a copy with spec.nodeName) and bound, so each role has its own table of
 * conversions (key -> table, weak values) in the cache table's array part. */
enum { ROLE_PENDING = 0, ROLE_ASSUMED, ROLE_BOUND, ROLE_NODE, ROLES };

/* Slots of the cache table's array part (the named fields are listed in the file header):
 * read by lua_rawgeti on every object a decision hands out, cheaper than a field name. */
enum {
    SLOT_CONV = 1,                  /* SLOT_CONV + role: key -> conversion (weak values) */
    SLOT_RVS = SLOT_CONV + ROLES,   /* conversion -> resourceVersion (weak keys) */
    SLOT_KEEP,                      /* ring of the last SCHEDCACHE_KEEP pending conversions */
    SLOT_KEEP_POS,                  /* next position in that ring, 0-based */
    SLOTS = SLOT_KEEP_POS
};

/* Whether t (at index t) is the conversion of resourceVersion rv. */
static int conv_current(lua_State *L, int cache, int t, const char *rv)
{
    const char *have;
    int same;
    lua_rawgeti(L, cache, SLOT_RVS);
    lua_pushvalue(L, t);
    lua_rawget(L, -2);
    have = lua_tostring(L, -1);
    same = have && !strcmp(have, rv);
    lua_pop(L, 2);
    return same;
}

/* Push a new table with the fields of the object table at idx (absolute), but the field
 * named skip (NULL: none); size is the number of fields expected. */
static void push_shallow_copy(lua_State *L, int idx, int size, const char *skip)
{
    lua_createtable(L, 0, size);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (skip && lua_type(L, -2) == LUA_TSTRING && !strcmp(lua_tostring(L, -2), skip)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

/* Push the assumed copy of a pod (obj: the pod with spec.nodeName set, as
 * schedcache_assume made it) derived from the pending pod's conversion at index q, which
 * luajson_push made from the same pod at the same resourceVersion: a new top table and a
 * new spec table, everything below them shared, as schedcache_assume shares the json_t
 * below them. Converting the copy again cost as much as the pending pod itself (about a
 * third of a decision at 100 nodes). 0, or -1 with nothing pushed when q's spec is not an
 * object table (then the caller converts obj). */
static int push_assumed(lua_State *L, int q, const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *node = json_object_get(spec, "nodeName");
    int qspec, top;
    if (!json_is_string(node))
        return -1;
    lua_pushliteral(L, "spec");
    lua_rawget(L, q);
    qspec = lua_gettop(L);
    if (!lua_istable(L, qspec) || lua_getmetatable(L, qspec)) {   /* not an object */
        lua_settop(L, qspec - 1);
        return -1;
    }
    push_shallow_copy(L, q, (int)json_object_size(obj), "spec");
    top = lua_gettop(L);
    push_shallow_copy(L, qspec, (int)json_object_size(spec), NULL);
    lua_pushlstring(L, json_string_value(node), json_string_length(node));
    lua_setfield(L, -2, "nodeName");
    lua_setfield(L, top, "spec");
    lua_replace(L, qspec);                             /* the copy where q's spec was */
    return 0;
}

/* Push obj converted, reusing the conversion stored for key in role's table of the cache
 * table at index `cache` while the object's resourceVersion is unchanged. An assumed pod
 * is derived from its pending conversion when that is still there, and a bound pod from
 * the conversion of the assumed copy it replaced (sc->replaced): the members the binding
 * left alone, the spec above all, are taken from it unconverted. sc may be NULL (no
 * bound pods). Raises on failure (only ever called protected). */
static void push_obj(schedcache_t *sc, lua_State *L, int cache, int role, const char *key,
                     const json_t *obj)
{
    const char *rv = json_str(json_object_get(obj, "metadata"), "resourceVersion");
    int conv, t;
    lua_rawgeti(L, cache, SLOT_CONV + role);           /* conv */
    conv = lua_gettop(L);
    lua_pushstring(L, key);                            /* conv key */
    lua_pushvalue(L, -1);
    lua_rawget(L, conv);                               /* conv key t? */
    t = lua_gettop(L);
    if (rv && lua_istable(L, t) && conv_current(L, cache, t, rv)) {
        lua_replace(L, conv);
        lua_settop(L, conv);                           /* t */
        return;
    }
    lua_pop(L, 1);                                     /* conv key */
    int derived = 0;
    if (role == ROLE_ASSUMED && rv) {
        lua_rawgeti(L, cache, SLOT_CONV + ROLE_PENDING);
        lua_pushvalue(L, -2);
        lua_rawget(L, -2);                             /* conv key qconv q? */
        if (lua_istable(L, -1) && conv_current(L, cache, lua_gettop(L), rv) &&
            push_assumed(L, lua_gettop(L), obj) == 0) {
            lua_replace(L, -3);                        /* conv key t q */
            lua_pop(L, 1);
            derived = 1;
        } else {
            lua_pop(L, 2);
        }
    }
    json_t *was = role == ROLE_BOUND && sc ? json_object_get(sc->replaced, key) : NULL;
    if (was) {
        const char *was_rv = json_str(json_object_get(was, "metadata"), "resourceVersion");
        lua_rawgeti(L, cache, SLOT_CONV + ROLE_ASSUMED);
        lua_pushvalue(L, -2);
        lua_rawget(L, -2);                             /* conv key aconv a? */
        if (was_rv && lua_istable(L, -1) && conv_current(L, cache, lua_gettop(L), was_rv)) {
            if (luajson_push_pooled_from(L, obj, lua_gettop(L), was) != 0)
                luaL_error(L, "cannot convert %s for the policy", key);
            lua_replace(L, -3);                        /* conv key t a */
            lua_pop(L, 1);
            derived = 1;
        } else {
            lua_pop(L, 2);
        }
        json_object_del(sc->replaced, key);            /* was is gone from here */
    }
    if (!derived && luajson_push_pooled(L, obj) != 0)  /* conv key t */
        luaL_error(L, "cannot convert %s for the policy", key);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, conv);
    if (rv) {
        lua_rawgeti(L, cache, SLOT_RVS);
        lua_pushvalue(L, -2);
        lua_pushstring(L, rv);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    lua_replace(L, conv);
    lua_settop(L, conv);                               /* t */
}

/* Push the pending pod under key, and hold its conversion in the ring of the last
 * SCHEDCACHE_KEEP pending pods handed out: the table of a pod the scheduling queue ordered
 * is then still there when the pod's turn comes, and that of a pod just decided when the
 * pods_on array of its node is rebuilt with its assumed copy (derived from it). The
 * conversion tables are weak, and a collection between two decisions would otherwise lose
 * them. */
static void push_pending(lua_State *L, int cache, const char *key, const json_t *pod)
{
    lua_Integer pos;
    push_obj(NULL, L, cache, ROLE_PENDING, key, pod);
    lua_rawgeti(L, cache, SLOT_KEEP_POS);
    pos = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, cache, SLOT_KEEP);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (int)(pos + 1));
    lua_pop(L, 1);
    lua_pushinteger(L, (pos + 1) % SCHEDCACHE_KEEP);
    lua_rawseti(L, cache, SLOT_KEEP_POS);
}

/* The cached array field `field` if its generation (field_gen) is gen; else 0 with
 * nothing pushed. *since (may be NULL) gets the generation of the array cached (0: none). */
static int cached_array(lua_State *L, int cache, const char *field, const char *gen_field,
                        json_int_t gen, json_int_t *since)
{
    lua_getfield(L, cache, gen_field);
    int stored = lua_isnumber(L, -1);
    json_int_t have = stored ? (json_int_t)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    if (since)
        *since = have;
    if (!stored || have != gen)
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

/* Push the pods of a map (key -> pod) into the array on top, from *n + 1 on. since: the
 * generation of an array this one replaces (0 for none), which held every pod of the map
 * counted at or before it: their conversions are current (a pod that changes is counted
 * anew, at a later generation), so they are looked up without the resourceVersion check.
 * Rebuilding a node's array after one pod was added then converts that pod alone. */
static void push_pod_map(schedcache_t *sc, lua_State *L, int cache, json_t *map, int *n,
                         int skip_terminating, json_int_t since)
{
    const char *key;
    json_t *pod;
    json_object_foreach(map, key, pod) {
        int role = json_object_get(sc->assumed, key) ? ROLE_ASSUMED : ROLE_BOUND;
        if (skip_terminating && json_str(json_object_get(pod, "metadata"), "deletionTimestamp"))
            continue;
        if (since > 0 && json_integer_value(json_object_get(sc->pod_gen, key)) <= since) {
            lua_rawgeti(L, cache, SLOT_CONV + role);
            lua_pushstring(L, key);
            lua_rawget(L, -2);
            lua_remove(L, -2);
            if (lua_istable(L, -1)) {
                lua_rawseti(L, -2, ++*n);
                continue;
            }
            lua_pop(L, 1);
        }
        push_obj(sc, L, cache, role, key, pod);
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
    int stored = lua_isnumber(L, -1);
    json_int_t since = stored ? (json_int_t)lua_tonumber(L, -1) : 0;
    if (stored && since == gen) {
        lua_pop(L, 2);
        lua_getfield(L, cache, "on_arr");
        lua_getfield(L, -1, name);
        return 1;
    }
    lua_pop(L, 1);
    json_t *map = json_object_get(sc->node_pods, name);
    lua_createtable(L, (int)json_object_size(map), 0); /* on_gen arr */
    push_pod_map(sc, L, cache, map, &n, 0, since);
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
    json_int_t since;
    if (cached_array(L, cache, "pods", "pods_gen", sc->pods_gen, &since))
        return 1;
    lua_createtable(L, (int)json_object_size(sc->pod_node), 0);
    json_object_foreach(sc->node_pods, node, map)
        push_pod_map(sc, L, cache, map, &n, 1, since);
    keep_array(L, cache, "pods", "pods_gen", sc->pods_gen);
    return 1;
}

/* ctx.pods_with_affinity(): the counted pods carrying spec.affinity. */
static int l_pods_with_affinity(lua_State *L)
{
    schedcache_t *sc = lua_touserdata(L, lua_upvalueindex(1));
    int cache = lua_upvalueindex(2);
    int n = 0;
    json_int_t since;
    if (cached_array(L, cache, "aff", "aff_gen", sc->aff_gen, &since))
        return 1;
    lua_createtable(L, (int)json_object_size(sc->affinity), 0);
    push_pod_map(sc, L, cache, sc->affinity, &n, 0, since);
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
    lua_createtable(L, SLOTS, 16);
    int cache = lua_gettop(L);
    for (int role = 0; role < ROLES; role++) {
        lua_newtable(L);
        set_weak(L, "v");
        lua_rawseti(L, cache, SLOT_CONV + role);
    }
    lua_newtable(L);
    set_weak(L, "k");
    lua_rawseti(L, cache, SLOT_RVS);
    lua_createtable(L, SCHEDCACHE_KEEP, 0);
    lua_rawseti(L, cache, SLOT_KEEP);
    lua_pushinteger(L, 0);
    lua_rawseti(L, cache, SLOT_KEEP_POS);
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
    if (cached_array(L, cache, "nodes", "nodes_gen", sc->nodes_gen, NULL))
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
        push_obj(sc, L, cache, ROLE_NODE, name, node);
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
    push_pending(L, 1, a->key, a->pod);
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
        push_pending(L, 1, a->keys[i], a->pods[i]);
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
