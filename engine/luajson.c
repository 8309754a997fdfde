/* luajson.c: jansson values <-> Lua tables (see luajson.h for the mapping and the choices). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "luajson.h"

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
