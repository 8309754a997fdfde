/* luajson.h: converts jansson values to Lua tables for policies and policy results back.
 *
 * berth's informers parse each Kubernetes object once per change into a json_t; policies
 * (LuaJIT, luavm.h) read those objects as plain Lua tables and return tables that the host
 * turns back into JSON. The mapping:
 *
 *   JSON                Lua
 *   object              table with string keys (no metatable)
 *   array               1-based sequence whose metatable is the shared luajson_push_array_mt
 *                       table (also for [] so an empty array goes back as [], not {})
 *   string              string (may hold NUL bytes)
 *   integer             number. A Lua number is a double: integers beyond +-2^53 lose
 *                       precision. Kubernetes uses int64 only for values far below that
 *                       (resourceVersion and quantities are strings).
 *   real                number
 *   true / false        boolean
 *   null                the light userdata luajson_push_null() pushes. The host publishes it
 *                       as berth.null, and policies compare with `v == berth.null`; Lua nil
 *                       cannot be stored in a table, so it could not keep {"a": null}.
 *
 * And back, luajson_to_json(): a table is an array if its metatable is the array metatable
 * or its keys are exactly 1..n with n > 0; otherwise it is an object and every key must be a
 * string. Integral numbers within +-2^53 become JSON integers, other finite numbers reals.
 * Errors name the path of the bad value, with 1-based Lua indexes ("spec.containers[1].x").
 *
 * Read-only objects: measured and rejected. A read-only view needs a proxy table (an empty
 * table whose metatable has __index = the data and a __newindex that raises). LuaJIT 2.1 as
 * shipped (no LUAJIT_ENABLE_LUA52COMPAT) honours neither __pairs nor __len on tables and its
 * ipairs reads raw slots, so pairs(), ipairs() and # on a proxy see an empty table: a policy
 * could not iterate labels or containers (t/c/luajson.c checks this). Proxies also cost more
 * than a fresh copy (measured on a 2 KB pod, -O2: luajson_push 7.5 us; proxies on top of
 * it +11 us; a Lua-to-Lua deep copy of a cached table 8.5 us, no cheaper than converting
 * the json_t again, so there is no copy function either). So there is no
 * luajson_push_frozen; a caller picks one of:
 *   - luajson_push(): the policy call gets its own tables (about 7.5 us per pod); whatever
 *     the policy does to them reaches nothing else. The default for policy hooks.
 *   - luajson_ref() once per change + luajson_push_ref() per call: the shared cached table
 *     (one lua_rawgeti). The contract is that policies never modify it; the host is trusted
 *     to hand it only to hooks that read, and luajson_ref_unchanged() lets tests and debug
 *     builds verify that they did not.
 * Measured costs per pod are printed by t/c/luajson.c (its "bench" diag line).
 *
 * Limits: nesting deeper than LUAJSON_MAX_DEPTH levels is refused both ways (a cycle in a Lua
 * table is reported as such). Functions like lua_createtable raise a Lua memory error when
 * the VM is out of memory; luajson_push/luajson_to_json/luajson_ref_unchanged follow that Lua
 * API convention (call them where a Lua error is caught, e.g. inside a lua_pcall'd function),
 * while luajson_ref() runs protected and reports failure with LUA_NOREF.
 *
 * Depends on jansson 2.14 (length-aware keys), LuaJIT 2.1 (Lua 5.1 API) and, for the pool's
 * clean-up, luavm.h (luavm_on_discard). Meant for the policy glue (policy.c), the informer's
 * per-object cache and the scheduler's cache (schedcache.c, which uses the pool); tested by
 * t/c/luajson.c and t/c/schedcache.c. */
#ifndef BERTH_LUAJSON_H
#define BERTH_LUAJSON_H

#include <stddef.h>
#include <jansson.h>
#include <lua.h>

#define LUAJSON_MAX_DEPTH 100      /* levels of nested objects/arrays, both directions */
#define LUAJSON_MAX_EXACT_INT 9007199254740992.0   /* 2^53: doubles are exact up to here */

/* Push v as a Lua value. Returns 0 with one value pushed, or -1 with nothing pushed when v
 * nests deeper than LUAJSON_MAX_DEPTH or the Lua stack cannot grow. v is borrowed (only
 * read). May raise a Lua memory error (see the header comment). */
int luajson_push(lua_State *L, const json_t *v);

/* Push the null sentinel (a light userdata, the same value in every state, so it can be
 * compared with == from Lua and with luajson_is_null from C). */
void luajson_push_null(lua_State *L);

/* 1 if the value at idx is the null sentinel. */
int luajson_is_null(lua_State *L, int idx);

/* Push the shared array metatable (created in the registry as "luajson.array_mt" on first
 * use). The host can publish it, e.g. as berth.array_mt, so a policy can build an empty
 * array to return with setmetatable({}, berth.array_mt). */
void luajson_push_array_mt(lua_State *L);

/* Convert the Lua value at idx (left in place) to a new JSON value. Returns a new reference
 * (caller frees with json_decref), or NULL with err set to a one-line message such as
 * "cannot convert a function at spec.x" or "table key 3 is not a string at metadata.labels".
 * err may be NULL if errlen is 0. */
json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen);

/* Convert v and keep the result in the registry: returns a reference (luaL_ref) for
 * luajson_push_ref, or LUA_NOREF when v is too deep or the VM is out of
 * memory (runs protected; nothing is left on the stack). The informer keeps the reference
 * next to its json_t and replaces it when the object changes ("convert once per change").
 * Each reference is its own conversion: two refs of one json_t are two tables. Free with
 * luajson_unref. */
int luajson_ref(lua_State *L, const json_t *v);

/* Release a reference from luajson_ref. LUA_NOREF and LUA_REFNIL are no-ops. */
void luajson_unref(lua_State *L, int ref);

/* Push the cached value itself: the same table for every caller, so it must only be read
 * (see "Read-only objects" above). */
void luajson_push_ref(lua_State *L, int ref);

/* Shared subtrees. Pods of one ReplicaSet differ in their names and little else, and a
 * node's heartbeat changes a few fields of its status, so converting each object whole
 * converts mostly what an earlier object already had. luajson_push_pooled converts v like
 * luajson_push but takes the members of a top-level object, and their members (spec,
 * metadata.labels, spec.containers, status.images, ...), from a pool of earlier
 * conversions when they are equal (json_equal) to a subtree converted before: the same
 * table then serves several objects, so, as with luajson_push_ref, policies must only
 * read what they get. The top-level table is always new. The pool is per VM (made on first
 * use, LUAJSON_POOL_SLOTS slots chosen by a hash of the content, each holding a reference
 * to the json_t its table was made from, dropped when the VM closes or luavm discards it;
 * the tables themselves are held weakly). Same results and failures as luajson_push (it
 * falls back to it when the pool cannot be made); may raise a Lua memory error. */
#define LUAJSON_POOL_SLOTS 4096    /* a power of two */
int luajson_push_pooled(lua_State *L, const json_t *v);

/* luajson_push_pooled, for a new version of an object already converted: base_json is the
 * version the table at stack index base was converted from, and each member of v equal to
 * base_json's (the same json_t, or json_equal) is taken from that table, unchecked and
 * unhashed. The scheduler converts a pod whose binding it has just seen so (the spec is
 * the one of the copy it assumed). A base that is not a table, or a base_json that is not
 * an object, is ignored. */
int luajson_push_pooled_from(lua_State *L, const json_t *v, int base, const json_t *base_json);

typedef struct luajson_pool_stats_s {
    unsigned long hits, misses;    /* subtrees taken from the pool / converted into it */
} luajson_pool_stats_t;

/* The counts of L's pool (zeros when it has none), for tests. */
void luajson_pool_stats(lua_State *L, luajson_pool_stats_t *out);

/* 1 if the cached value still converts to JSON equal to v (nothing modified it), else 0.
 * Costs a full luajson_to_json (about 16 us per pod): for tests and debug checks after a
 * policy call. json_equal does not compare keys containing NUL bytes correctly. */
int luajson_ref_unchanged(lua_State *L, int ref, const json_t *v);

#endif
