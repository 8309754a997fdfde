/* luajson.c: jansson values <-> Lua tables (see luajson.h for the mapping and the choices). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luajson.h"
#include "luavm.h"

#define ARRAY_MT_KEY "luajson.array_mt"

/* The null sentinel is the address of this byte: one value for every lua_State. */
static const char luajson_null_tag;

void luajson_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&luajson_null_tag);
}

int luajson_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
           lua_touserdata(L, idx) == (void *)&luajson_null_tag;
}

void luajson_push_array_mt(lua_State *L)
{
    if (luaL_newmetatable(L, ARRAY_MT_KEY)) {
        /* A marker field, so the table says what it is when a policy prints it. */
        lua_pushliteral(L, "array");
        lua_setfield(L, -2, "__luajson");
    }
}

/* ---------------------------------------------------------------------------------------
 * JSON -> Lua
 * ------------------------------------------------------------------------------------- */

/* Push v; mt is the absolute stack index of the array metatable. 0 or -1 (the caller resets
 * the stack on -1). Each level needs 3 slots: the table, a key or index, the value. */
static int push_value(lua_State *L, const json_t *v, int depth, int mt)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        if (depth >= LUAJSON_MAX_DEPTH || !lua_checkstack(L, 3))
            return -1;
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach((json_t *)v, key, item) {
            lua_pushlstring(L, key, json_object_iter_key_len(json_object_key_to_iter(key)));
            if (push_value(L, item, depth + 1, mt) < 0)
                return -1;
            lua_rawset(L, -3);
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t i, n = json_array_size(v);
        if (depth >= LUAJSON_MAX_DEPTH || !lua_checkstack(L, 3))
            return -1;
        lua_createtable(L, (int)n, 0);
        for (i = 0; i < n; i++) {
            if (push_value(L, json_array_get(v, i), depth + 1, mt) < 0)
                return -1;
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_pushvalue(L, mt);
        lua_setmetatable(L, -2);
        return 0;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        /* Exact up to 2^53; larger int64 values are rounded (see luajson.h). */
        lua_pushnumber(L, (lua_Number)json_integer_value(v));
        return 0;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        return 0;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        return 0;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        return 0;
    case JSON_NULL:
    default:
        luajson_push_null(L);
        return 0;
    }
}

int luajson_push(lua_State *L, const json_t *v)
{
    int top = lua_gettop(L);
    int mt;

    if (!lua_checkstack(L, 4))
        return -1;
    luajson_push_array_mt(L);
    mt = lua_gettop(L);
    if (push_value(L, v, 0, mt) < 0) {
        lua_settop(L, top);
        return -1;
    }
    lua_remove(L, mt);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Lua -> JSON
 * ------------------------------------------------------------------------------------- */

typedef struct conv_s {
    lua_State  *L;
    int         mt;                                /* stack index of the array metatable */
    char       *err;
    size_t      errlen;
    char        path[256];
    size_t      pathlen;
    const void *tables[LUAJSON_MAX_DEPTH];         /* the tables on the current path */
} conv_t;

static void conv_fail(conv_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* err = "<message> at <path>"; "(top)" is the value passed to luajson_to_json itself. */
static void conv_fail(conv_t *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!c->err || c->errlen == 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < c->errlen)
        snprintf(c->err + n, c->errlen - (size_t)n, " at %s",
                 c->pathlen ? c->path : "(top)");
}

/* Append ".key" (or "key" at the top) or "[i]" to the path; returns the old length for
 * path_pop. A path that no longer fits ends in "..." and stays cut. memcpy, not snprintf:
 * this runs for every member of every converted table. */
static size_t path_append(conv_t *c, const char *sep, size_t seplen, const char *s, size_t len)
{
    size_t old = c->pathlen;

    if (old + seplen + len + 1 > sizeof c->path) {
        if (old < sizeof c->path - 1) {
            memcpy(c->path + sizeof c->path - 4, "...", 4);
            c->pathlen = sizeof c->path - 1;
        }
        return old;
    }
    memcpy(c->path + old, sep, seplen);
    memcpy(c->path + old + seplen, s, len);
    c->pathlen = old + seplen + len;
    c->path[c->pathlen] = '\0';
    return old;
}

static size_t path_push_key(conv_t *c, const char *key, size_t keylen)
{
    return path_append(c, ".", c->pathlen ? 1 : 0, key, keylen);
}

static size_t path_push_index(conv_t *c, size_t i)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%zu]", i);
    return path_append(c, "[", 1, num, (size_t)n);
}

static void path_pop(conv_t *c, size_t old)
{
    c->pathlen = old;
    c->path[old] = '\0';
}

static json_t *conv_value(conv_t *c, int idx, int depth);

/* Describe a non-string key for an error message. */
static void conv_bad_key(conv_t *c, int kidx)
{
    lua_State *L = c->L;
    if (lua_type(L, kidx) == LUA_TNUMBER)
        conv_fail(c, "table key %.14g is not a string (a table mixing a sequence and "
                  "string keys, or with holes, is not an array)", lua_tonumber(L, kidx));
    else
        conv_fail(c, "table key of type %s is not a string",
                  lua_typename(L, lua_type(L, kidx)));
}

/* 1 if the key at kidx is an integer in [1, limit]; *out gets it. */
static int key_index(lua_State *L, int kidx, double limit, double *out)
{
    double d;
    if (lua_type(L, kidx) != LUA_TNUMBER)
        return 0;
    d = lua_tonumber(L, kidx);
    if (!(d >= 1 && d <= limit) || d != floor(d))
        return 0;
    *out = d;
    return 1;
}

static json_t *conv_array(conv_t *c, int idx, size_t n, int depth)
{
    lua_State *L = c->L;
    json_t *arr = json_array();
    size_t i;

    if (!arr) {
        conv_fail(c, "out of memory");
        return NULL;
    }
    for (i = 1; i <= n; i++) {
        size_t old = path_push_index(c, i);
        json_t *item;
        lua_rawgeti(L, idx, (int)i);
        item = conv_value(c, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        path_pop(c, old);
        if (!item || json_array_append_new(arr, item) < 0) {
            if (item)
                conv_fail(c, "out of memory");
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *conv_object(conv_t *c, int idx, int depth)
{
    lua_State *L = c->L;
    json_t *obj = json_object();

    if (!obj) {
        conv_fail(c, "out of memory");
        return NULL;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t keylen, old;
        const char *key;
        json_t *item;

        /* Only real strings: lua_tolstring would turn a number key into a string in place
         * and break lua_next. */
        if (lua_type(L, -2) != LUA_TSTRING) {
            conv_bad_key(c, lua_gettop(L) - 1);
            lua_pop(L, 2);
            json_decref(obj);
            return NULL;
        }
        key = lua_tolstring(L, -2, &keylen);
        old = path_push_key(c, key, keylen);
        item = conv_value(c, lua_gettop(L), depth + 1);
        if (item && json_object_setn_new(obj, key, keylen, item) < 0) {
            conv_fail(c, "key is not valid UTF-8 (or out of memory)");
            item = NULL;       /* json_object_setn_new freed it */
        }
        path_pop(c, old);
        lua_pop(L, 1);
        if (!item) {
            lua_pop(L, 1);
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *conv_table(conv_t *c, int idx, int depth)
{
    lua_State *L = c->L;
    const void *self = lua_topointer(L, idx);
    size_t count = 0;
    double maxkey = 0, k;
    int all_index = 1, i, marked = 0;
    json_t *out;

    for (i = 0; i < depth; i++) {
        if (c->tables[i] == self) {
            conv_fail(c, "cannot convert a table that contains itself (a cycle)");
            return NULL;
        }
    }
    if (depth >= LUAJSON_MAX_DEPTH) {
        conv_fail(c, "tables nest deeper than %d levels", LUAJSON_MAX_DEPTH);
        return NULL;
    }
    if (!lua_checkstack(L, 4)) {
        conv_fail(c, "Lua stack overflow");
        return NULL;
    }
    c->tables[depth] = self;

    if (lua_getmetatable(L, idx)) {
        marked = lua_rawequal(L, -1, c->mt);
        lua_pop(L, 1);
    }

    /* Classify: a sequence 1..n (every key an index and as many keys as the largest one). */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (all_index) {
            if (key_index(L, lua_gettop(L), LUAJSON_MAX_EXACT_INT, &k)) {
                if (k > maxkey)
                    maxkey = k;
            } else {
                all_index = 0;
                if (marked) {
                    conv_fail(c, "array (it has the array metatable) has a key that is "
                              "not an index 1..n");
                    lua_pop(L, 1);
                    return NULL;
                }
            }
        }
    }
    if (all_index && (double)count == maxkey && (count > 0 || marked)) {
        if (count > (size_t)0x7fffffff) {
            conv_fail(c, "array too long");
            return NULL;
        }
        out = conv_array(c, idx, count, depth);
    } else if (marked) {
        conv_fail(c, "array (it has the array metatable) has holes");
        return NULL;
    } else {
        out = conv_object(c, idx, depth);
    }
    return out;
}

static json_t *conv_value(conv_t *c, int idx, int depth)
{
    lua_State *L = c->L;
    json_t *out;

    switch (lua_type(L, idx)) {
    case LUA_TTABLE:
        return conv_table(c, idx, depth);
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        out = json_stringn(s, len);
        if (!out)
            conv_fail(c, "string is not valid UTF-8 (or out of memory)");
        return out;
    }
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (isnan(d)) {
            conv_fail(c, "cannot convert NaN");
            return NULL;
        }
        if (isinf(d)) {
            conv_fail(c, "cannot convert an infinite number");
            return NULL;
        }
        if (d == floor(d) && fabs(d) <= LUAJSON_MAX_EXACT_INT)
            out = json_integer((json_int_t)d);
        else
            out = json_real(d);
        if (!out)
            conv_fail(c, "out of memory");
        return out;
    }
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TLIGHTUSERDATA:
        if (luajson_is_null(L, idx))
            return json_null();
        conv_fail(c, "cannot convert a userdata");
        return NULL;
    default:
        conv_fail(c, "cannot convert a %s", lua_typename(L, lua_type(L, idx)));
        return NULL;
    }
}

json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen)
{
    conv_t c;
    json_t *out;
    int top;

    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    if (err && errlen)
        err[0] = '\0';
    c.L = L;
    c.err = err;
    c.errlen = errlen;
    c.path[0] = '\0';
    c.pathlen = 0;
    if (!lua_checkstack(L, 2)) {
        c.mt = 0;
        conv_fail(&c, "Lua stack overflow");
        return NULL;
    }
    top = lua_gettop(L);
    luajson_push_array_mt(L);
    c.mt = lua_gettop(L);
    out = conv_value(&c, idx, 0);
    lua_settop(L, top);
    return out;
}

/* ---------------------------------------------------------------------------------------
 * The per-object cache
 * ------------------------------------------------------------------------------------- */

typedef struct ref_call_s {
    const json_t *v;
    int           ref;
} ref_call_t;

/* Runs under lua_cpcall so a memory error cannot escape to the informer (no pcall there). */
static int ref_protected(lua_State *L)
{
    ref_call_t *rc = lua_touserdata(L, 1);
    if (luajson_push(L, rc->v) == 0)
        rc->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int luajson_ref(lua_State *L, const json_t *v)
{
    ref_call_t rc = { v, LUA_NOREF };
    int top = lua_gettop(L);

    if (lua_cpcall(L, ref_protected, &rc) != 0)
        rc.ref = LUA_NOREF;     /* an error left its message: dropped below */
    lua_settop(L, top);
    return rc.ref;
}

void luajson_unref(lua_State *L, int ref)
{
    if (ref != LUA_NOREF && ref != LUA_REFNIL)
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

void luajson_push_ref(lua_State *L, int ref)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

int luajson_ref_unchanged(lua_State *L, int ref, const json_t *v)
{
    json_t *now;
    int same;

    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    now = luajson_to_json(L, -1, NULL, 0);
    lua_pop(L, 1);
    same = now && json_equal(now, v);
    json_decref(now);
    return same;
}

/* ---------------------------------------------------------------------------------------
 * Shared subtrees (the pool)
 *
 * C side, per VM: LUAJSON_POOL_SLOTS slots, direct-mapped by a hash of the subtree's
 * content, each with a reference to the json_t the slot's table was made from (the
 * representative). Lua side: registry[&pool_tabs_key] = slot index -> table, weak values.
 * A subtree is taken from the pool when its slot has the same hash, the representative is
 * equal to it (same_json) and the table is still alive; otherwise it is converted and replaces
 * the slot. The C struct is reached from a full userdata in the registry; its __gc (the VM
 * closes) or luavm's discard callback (the VM is abandoned) drops the references.
 * ------------------------------------------------------------------------------------- */

typedef struct pool_slot_s {
    uint64_t hash;
    json_t  *rep;
} pool_slot_t;

typedef struct luajson_pool_s {
    pool_slot_t   slots[LUAJSON_POOL_SLOTS];
    luajson_pool_stats_t stats;
} luajson_pool_t;

static const char pool_key, pool_tabs_key;
#define POOL_MT "luajson.pool"

static void pool_free(void *priv)
{
    luajson_pool_t *pool = priv;
    for (size_t i = 0; i < LUAJSON_POOL_SLOTS; i++)
        json_decref(pool->slots[i].rep);
    free(pool);
}

static int pool_gc(lua_State *L)
{
    luajson_pool_t **pp = luaL_checkudata(L, 1, POOL_MT);
    if (*pp) {
        luavm_forget_discard(L, *pp);
        pool_free(*pp);
        *pp = NULL;
    }
    return 0;
}

/* 64-bit hashes of JSON content: equal values (json_equal) hash equal. Objects combine
 * their members' hashes by addition, so the order of the keys does not matter, as it does
 * not to json_equal. Not a defence against chosen collisions, and needs not be: a slot
 * is used only after same_json agrees. */
static uint64_t pool_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t pool_hash_bytes(const char *s, size_t n, uint64_t h)
{
    uint64_t w;
    h ^= n * 0x9e3779b97f4a7c15ULL;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s, n);
    return pool_mix(h ^ w);
}

static uint64_t pool_hash(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        uint64_t h = 0x6f626a;
        json_object_foreach((json_t *)v, key, item) {
            size_t len = json_object_iter_key_len(json_object_key_to_iter(key));
            h += pool_mix(pool_hash_bytes(key, len, 0x6b6579) ^ pool_hash(item) * 31);
        }
        return pool_mix(h);
    }
    case JSON_ARRAY: {
        uint64_t h = 0x617272;
        for (size_t i = 0, n = json_array_size(v); i < n; i++)
            h = pool_mix(h * 31 + pool_hash(json_array_get(v, i)));
        return h;
    }
    case JSON_STRING:
        return pool_hash_bytes(json_string_value(v), json_string_length(v), 0x737472);
    case JSON_INTEGER:
        return pool_mix((uint64_t)json_integer_value(v) ^ 0x696e74);
    case JSON_REAL: {
        double d = json_real_value(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return pool_mix(bits ^ 0x7265616c);
    }
    default:
        return pool_mix((uint64_t)json_typeof(v) + 0x6c6974);
    }
}

/* json_equal, faster for what the pool compares: values parsed from the same kind of
 * source, whose objects list their keys in the same order. Objects are walked side by side
 * and compared key by key; only when the keys come in another order does it ask json_equal
 * (which looks each key up). */
static int same_json(const json_t *a, const json_t *b)
{
    if (a == b)
        return 1;
    if (!a || !b || json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
                         ib = json_object_iter_next((json_t *)b, ib)) {
            size_t la = json_object_iter_key_len(ia), lb = json_object_iter_key_len(ib);
            if (la != lb || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la))
                return json_equal((json_t *)a, (json_t *)b);
            if (!same_json(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
        }
        return 1;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!same_json(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL:
        return json_real_value(a) == json_real_value(b);
    default:
        return 1;   /* true, false, null: the type says it all */
    }
}

/* The VM's pool, made on first use. NULL when out of memory (then nothing is shared). */
static luajson_pool_t *pool_of(lua_State *L)
{
    luajson_pool_t *pool, **pp;
    lua_pushlightuserdata(L, (void *)&pool_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    pp = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (pp)
        return *pp;
    if (!(pool = calloc(1, sizeof(*pool))))
        return NULL;
    if (luavm_on_discard(L, pool_free, pool) != 0) {
        free(pool);
        return NULL;
    }
    lua_pushlightuserdata(L, (void *)&pool_tabs_key);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, (void *)&pool_key);
    pp = lua_newuserdata(L, sizeof(*pp));
    *pp = pool;
    if (luaL_newmetatable(L, POOL_MT)) {
        lua_pushcfunction(L, pool_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return pool;
}

/* Push a member of the top object (depth 1) or of one of its members (depth 2); tabs and mt
 * are stack indexes of the pool's tables and of the array metatable. */
static int push_pooled(lua_State *L, luajson_pool_t *pool, const json_t *v, int depth,
                       int tabs, int mt)
{
    int empty = json_is_object(v) ? json_object_size(v) == 0 :
                json_is_array(v) ? json_array_size(v) == 0 : 1;
    if (empty)
        return push_value(L, v, depth, mt);
    uint64_t h = pool_hash(v);
    size_t i = (size_t)(h & (LUAJSON_POOL_SLOTS - 1));
    pool_slot_t *slot = &pool->slots[i];
    if (slot->rep && slot->hash == h && same_json(slot->rep, v)) {
        lua_rawgeti(L, tabs, (int)i + 1);
        if (lua_istable(L, -1)) {
            pool->stats.hits++;
            return 0;
        }
        lua_pop(L, 1);
    }
    pool->stats.misses++;
    if (depth == 1 && json_is_object(v)) {
        const char *key;
        json_t *item;
        if (!lua_checkstack(L, 3))
            return -1;
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach((json_t *)v, key, item) {
            lua_pushlstring(L, key, json_object_iter_key_len(json_object_key_to_iter(key)));
            if (push_pooled(L, pool, item, depth + 1, tabs, mt) < 0)
                return -1;
            lua_rawset(L, -3);
        }
    } else if (depth == 1 && json_is_array(v)) {
        size_t n = json_array_size(v);
        if (!lua_checkstack(L, 3))
            return -1;
        lua_createtable(L, (int)n, 0);
        for (size_t k = 0; k < n; k++) {
            if (push_pooled(L, pool, json_array_get(v, k), depth + 1, tabs, mt) < 0)
                return -1;
            lua_rawseti(L, -2, (int)k + 1);
        }
        lua_pushvalue(L, mt);
        lua_setmetatable(L, -2);
    } else if (push_value(L, v, depth, mt) < 0) {
        return -1;
    }
    json_decref(slot->rep);
    slot->rep = json_incref((json_t *)v);
    slot->hash = h;
    lua_pushvalue(L, -1);
    lua_rawseti(L, tabs, (int)i + 1);
    return 0;
}

/* luajson_push_pooled, and luajson_push_pooled_from when base is not 0. */
static int push_pooled_top(lua_State *L, const json_t *v, int base, const json_t *base_json)
{
    const char *key;
    json_t *item;
    luajson_pool_t *pool;
    int top = lua_gettop(L), mt, tabs;

    if (!json_is_object(v) || !(pool = pool_of(L)))
        return luajson_push(L, v);
    if (base < 0)
        base = top + base + 1;
    if (!lua_checkstack(L, 7))
        return -1;
    luajson_push_array_mt(L);
    mt = lua_gettop(L);
    lua_pushlightuserdata(L, (void *)&pool_tabs_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    tabs = lua_gettop(L);
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, key, item) {
        size_t klen = json_object_iter_key_len(json_object_key_to_iter(key));
        lua_pushlstring(L, key, klen);
        const json_t *was = base ? json_object_getn(base_json, key, klen) : NULL;
        if (was && same_json(was, item)) {
            lua_pushvalue(L, -1);
            lua_rawget(L, base);
            if (!lua_isnil(L, -1)) {
                lua_rawset(L, -3);
                continue;
            }
            lua_pop(L, 1);
        }
        if (push_pooled(L, pool, item, 1, tabs, mt) < 0) {
            lua_settop(L, top);
            return -1;
        }
        lua_rawset(L, -3);
    }
    lua_replace(L, mt);
    lua_settop(L, mt);
    return 0;
}

int luajson_push_pooled(lua_State *L, const json_t *v)
{
    return push_pooled_top(L, v, 0, NULL);
}

int luajson_push_pooled_from(lua_State *L, const json_t *v, int base, const json_t *base_json)
{
    if (!base || !json_is_object(base_json) || !lua_istable(L, base))
        base = 0;
    return push_pooled_top(L, v, base, base_json);
}

void luajson_pool_stats(lua_State *L, luajson_pool_stats_t *out)
{
    luajson_pool_t **pp;
    memset(out, 0, sizeof(*out));
    lua_pushlightuserdata(L, (void *)&pool_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    pp = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (pp && *pp)
        *out = (*pp)->stats;
}
