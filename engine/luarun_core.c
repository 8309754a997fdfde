/* luarun_core.c: the C functions of `berth run` scripts, require("berth.script.core") (see
 * luarun.h). Everything here is small and mechanical: an HTTP request or stream through the
 * blocking kubeclient, discovery, exec, manifests, JSON and YAML, clocks. The policy-shaped
 * API and the script helpers are Lua (lua/berth/script.lua, lua/berth/script/cluster.lua)
 * on top of these.
 *
 * Conventions: misuse (a wrong argument type) raises; a failure of the cluster or of the
 * data returns nil, message. No Lua error ever crosses libcurl: the watch callback runs
 * under lua_pcall and its error is raised again once the stream has returned. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "execclient.h"
#include "luajson.h"
#include "luarun.h"
#include "yaml_json.h"
#include "jsonload.h"

#define LR_OTHER_MAX  (64u * 1024)   /* non-event text kept from a stream (a Status) */
#define LR_LINE_MAX   (64u * 1024 * 1024) /* one watch event */
#define LR_OUT_MAX    (256u * 1024 * 1024) /* exec output kept per stream */

static luarun_t *lr_run(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* Push a new JSON value as Lua, or nil when it cannot be converted; takes ownership. */
static void lr_push_json(lua_State *L, json_t *v)
{
    if (v == NULL || luajson_push(L, v) != 0)
        lua_pushnil(L);
    json_decref(v);
}

/* The body argument of a request: nil, a table, or JSON text. New reference or NULL for
 * nil; raises on a bad one. */
static json_t *lr_body_arg(lua_State *L, int idx, const char *fn)
{
    char err[256];
    json_t *body;
    if (lua_isnoneornil(L, idx))
        return NULL;
    if (lua_type(L, idx) == LUA_TSTRING) {
        json_error_t jerr;
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        body = jsonload(s, len, JSON_DECODE_ANY, &jerr);
        if (body == NULL)
            luaL_error(L, "%s: the body is not JSON: %s", fn, jerr.text);
        return body;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: the body must be a table or JSON text (got a %s)", fn,
                   luaL_typename(L, idx));
    body = luajson_to_json(L, idx, err, sizeof(err));
    if (body == NULL)
        luaL_error(L, "%s: %s", fn, err);
    return body;
}

/* ---------------------------------------------------------------------------------------
 * Requests */

/* core.request(method, path, body, content_type) -> status, decoded body (nil when empty
 * or not JSON, then a third value says why); nil, err when no answer arrived. */
static int lr_request(lua_State *L)
{
    luarun_t *run = lr_run(L);
    const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    const char *ctype = luaL_optstring(L, 4, NULL);
    json_t *body = lr_body_arg(L, 3, "request"), *resp;
    char err[512] = "";
    long status = 0;

    resp = kubeclient_json(run->kc, method, path, ctype, body, &status, err, sizeof(err));
    json_decref(body);
    if (resp == NULL && status <= 0) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] ? err : "no answer");
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)status);
    if (resp == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 3;
    }
    lr_push_json(L, resp);
    return 2;
}

/* core.raw(method, path, accept [, body, content_type]) -> status, text; nil, err when no
 * answer arrived. For logs and anything that is not JSON. */
static int lr_raw(lua_State *L)
{
    luarun_t *run = lr_run(L);
    const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    const char *accept = luaL_optstring(L, 3, NULL);
    size_t blen = 0;
    const char *body = luaL_optlstring(L, 4, NULL, &blen);
    const char *ctype = luaL_optstring(L, 5, NULL);
    char err[512] = "", *resp = NULL;
    size_t rlen = 0;
    long status = 0;

    if (kubeclient_request(run->kc, method, path, ctype, body, blen, accept, &status, &resp,
                           &rlen, err, sizeof(err)) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] ? err : "no answer");
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)status);
    lua_pushlstring(L, resp ? resp : "", resp ? rlen : 0);
    free(resp);
    return 2;
}

/* ---------------------------------------------------------------------------------------
 * Streams (watch) */

typedef struct lr_stream_s {
    lua_State *L;
    int        fn;          /* absolute stack index of the callback */
    char      *line;        /* the partial line carried between pieces */
    size_t     len, cap;
    char      *other;       /* text that was not an event (a Status body), capped */
    size_t     olen;
    int        result_ref;  /* what fn returned to stop, or the error it raised */
    int        state;       /* 0 running, 1 fn stopped the stream, 2 fn raised, 3 too long */
} lr_stream_t;

/* Runs protected: fn(event) with the event's table; returns fn's first result. */
static int lr_call_event(lua_State *L)
{
    json_t *ev = lua_touserdata(L, 2);
    lua_settop(L, 1);
    if (luajson_push(L, ev) != 0)
        return luaL_error(L, "watch: an event nests too deep");
    lua_call(L, 1, 1);
    return 1;
}

static void lr_stream_other(lr_stream_t *s, const char *p, size_t n)
{
    if (s->olen + n + 2 > LR_OTHER_MAX)
        n = s->olen + 2 < LR_OTHER_MAX ? LR_OTHER_MAX - s->olen - 2 : 0;
    if (n == 0)
        return;
    char *o = realloc(s->other, s->olen + n + 2);
    if (o == NULL)
        return;
    s->other = o;
    memcpy(o + s->olen, p, n);
    s->olen += n;
    o[s->olen++] = '\n';
    o[s->olen] = '\0';
}

/* One complete line: an event goes to fn, anything else is kept aside. 0 to go on. */
static int lr_stream_line(lr_stream_t *s, const char *p, size_t n)
{
    lua_State *L = s->L;
    json_t *ev;
    int st;

    while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    while (n && (*p == ' ' || *p == '\r'))
        p++, n--;
    if (n == 0)
        return 0;
    ev = jsonload(p, n, 0, NULL);
    if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type")) ||
        !json_object_get(ev, "object")) {
        json_decref(ev);
        lr_stream_other(s, p, n);
        return 0;
    }
    if (!lua_checkstack(L, 4)) {
        json_decref(ev);
        lua_pushstring(L, "watch: the Lua stack is full");
        s->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        s->state = 2;
        return 1;
    }
    lua_pushcfunction(L, lr_call_event);
    lua_pushvalue(L, s->fn);
    lua_pushlightuserdata(L, ev);
    st = lua_pcall(L, 2, 1, 0);
    json_decref(ev);
    if (st != 0) {
        s->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        s->state = 2;
        return 1;
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    s->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->state = 1;
    return 1;
}

static int lr_stream_data(const char *data, size_t len, void *priv)
{
    lr_stream_t *s = priv;
    if (s->state)
        return 1;
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (s->len + take + 1 > s->cap) {
            size_t cap = s->cap ? s->cap : 4096;
            while (cap < s->len + take + 1)
                cap *= 2;
            if (cap > LR_LINE_MAX) {
                s->state = 3;
                return 1;
            }
            char *l = realloc(s->line, cap);
            if (l == NULL) {
                s->state = 3;
                return 1;
            }
            s->line = l;
            s->cap = cap;
        }
        memcpy(s->line + s->len, data, take);
        s->len += take;
        data += take;
        len -= take;
        if (nl) {
            data++;
            len--;
            size_t n = s->len;
            s->len = 0;
            if (lr_stream_line(s, s->line, n))
                return 1;
        }
    }
    return 0;
}

/* core.stream(path, timeout_seconds, fn): a streaming GET of a watch; fn(event) for each
 * event ({type=, object=}); a non-nil result stops the stream. Returns
 *   "stopped", value          fn returned value (not nil)
 *   "ended", status, text     the server ended the stream or the timeout was reached;
 *                             text is whatever came that was not an event (a Status)
 *   nil, err                  no stream (connection refused, broken off)
 * and raises again what fn raised. */
static int lr_stream(lua_State *L)
{
    luarun_t *run = lr_run(L);
    const char *path = luaL_checkstring(L, 1);
    double timeout = luaL_optnumber(L, 2, 0);
    lr_stream_t s;
    kubeclient_t *kc;
    char err[512] = "";
    long status = 0;
    int rc, own = 0;

    luaL_checktype(L, 3, LUA_TFUNCTION);
    memset(&s, 0, sizeof(s));
    s.L = L;
    s.fn = 3;
    s.result_ref = LUA_NOREF;
    /* A stream gets its own client: fn may make requests on the main one meanwhile. */
    if (!run->streaming && run->stream_kc) {
        kc = run->stream_kc;
    } else {
        kc = kubeclient_open(&run->opts, err, sizeof(err));
        if (kc == NULL) {
            lua_pushnil(L);
            lua_pushstring(L, err);
            return 2;
        }
        own = run->streaming || run->stream_kc;
        if (!own)
            run->stream_kc = kc;
    }
    if (!own)
        run->streaming = 1;
    rc = kubeclient_stream(kc, path, NULL, timeout > 0 ? (int)ceil(timeout) : 0,
                           lr_stream_data, &s, &status, err, sizeof(err));
    if (!own)
        run->streaming = 0;
    else
        kubeclient_free(kc);
    /* The last line may come without its newline. */
    if (rc == 0 && s.state == 0 && s.len)
        lr_stream_line(&s, s.line, s.len);
    free(s.line);
    if (s.state == 1 || s.state == 2) {
        free(s.other);
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.result_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, s.result_ref);
        if (s.state == 2)
            return lua_error(L);
        lua_pushstring(L, "stopped");
        lua_insert(L, -2);
        return 2;
    }
    if (s.state == 3) {
        free(s.other);
        lua_pushnil(L);
        lua_pushstring(L, "watch: an event line was too long or memory ran out");
        return 2;
    }
    if (rc != 0) {
        free(s.other);
        lua_pushnil(L);
        lua_pushstring(L, err[0] ? err : "the stream broke off");
        return 2;
    }
    lua_pushstring(L, "ended");
    lua_pushinteger(L, (lua_Integer)status);
    lua_pushlstring(L, s.other ? s.other : "", s.olen);
    free(s.other);
    return 3;
}

/* ---------------------------------------------------------------------------------------
 * Discovery */

static void lr_push_resource(lua_State *L, const kube_resource_t *r)
{
    lua_createtable(L, 0, 8);
    lua_pushstring(L, r->group);
    lua_setfield(L, -2, "group");
    lua_pushstring(L, r->version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, r->resource);
    lua_setfield(L, -2, "resource");
    lua_pushstring(L, r->singular);
    lua_setfield(L, -2, "singular");
    lua_pushstring(L, r->kind);
    lua_setfield(L, -2, "kind");
    lua_pushboolean(L, r->namespaced);
    lua_setfield(L, -2, "namespaced");
    if (r->group[0])
        lua_pushfstring(L, "%s/%s", r->group, r->version);
    else
        lua_pushstring(L, r->version);
    lua_setfield(L, -2, "apiVersion");
}

static void lr_field(lua_State *L, int idx, const char *name, char *out, size_t outlen)
{
    lua_getfield(L, idx, name);
    snprintf(out, outlen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
}

/* A resource table (from lr_push_resource) back into a struct. */
static void lr_to_resource(lua_State *L, int idx, kube_resource_t *r)
{
    memset(r, 0, sizeof(*r));
    luaL_checktype(L, idx, LUA_TTABLE);
    lr_field(L, idx, "group", r->group, sizeof(r->group));
    lr_field(L, idx, "version", r->version, sizeof(r->version));
    lr_field(L, idx, "resource", r->resource, sizeof(r->resource));
    lr_field(L, idx, "singular", r->singular, sizeof(r->singular));
    lr_field(L, idx, "kind", r->kind, sizeof(r->kind));
    lua_getfield(L, idx, "namespaced");
    r->namespaced = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!r->version[0] || !r->resource[0])
        luaL_error(L, "not a resource table (version and resource are required)");
}

/* core.resources() -> array of resource tables; nil, err when discovery failed. */
static int lr_resources(lua_State *L)
{
    luarun_t *run = lr_run(L);
    const kube_resource_t *rs;
    size_t n = 0;
    char err[512] = "";

    if (kubeclient_resources(run->kc, &rs, &n, err, sizeof(err)) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lr_push_resource(L, &rs[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* core.resolve(name) / core.resolve_kind(apiVersion, kind) -> resource table, or nil, err,
 * why: "unreachable" when discovery itself failed, "unknown" when the server does not
 * serve such a resource. */
static int lr_resolve_common(lua_State *L, int by_kind)
{
    luarun_t *run = lr_run(L);
    const char *a = luaL_checkstring(L, 1), *b = by_kind ? luaL_checkstring(L, 2) : NULL;
    const kube_resource_t *rs;
    kube_resource_t r;
    size_t n;
    char err[512] = "";
    int rc;

    if (kubeclient_resources(run->kc, &rs, &n, err, sizeof(err)) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, "unreachable");
        return 3;
    }
    rc = by_kind ? kubeclient_resolve_kind(run->kc, a, b, &r, err, sizeof(err))
                 : kubeclient_resolve(run->kc, a, &r, err, sizeof(err));
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, "unknown");
        return 3;
    }
    lr_push_resource(L, &r);
    return 1;
}

static int lr_resolve(lua_State *L)
{
    return lr_resolve_common(L, 0);
}

static int lr_resolve_kind(lua_State *L)
{
    return lr_resolve_common(L, 1);
}

/* core.path(resource, namespace, name, sub) -> the URL path (names percent-encoded). */
static int lr_path(lua_State *L)
{
    kube_resource_t r;
    const char *ns, *name, *sub;
    char *path;

    lr_to_resource(L, 1, &r);
    ns = luaL_optstring(L, 2, NULL);
    name = luaL_optstring(L, 3, NULL);
    sub = luaL_optstring(L, 4, NULL);
    path = kubeclient_path(&r, ns && *ns ? ns : NULL, name && *name ? name : NULL,
                           sub && *sub ? sub : NULL);
    if (path == NULL)
        return luaL_error(L, "out of memory");
    lua_pushstring(L, path);
    free(path);
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Exec */

/* Output kept from an exec; past LR_OUT_MAX the rest is dropped. */
typedef struct lr_buf_s {
    char  *p;
    size_t n, cap;
} lr_buf_t;

static int lr_buf_add(const char *data, size_t len, void *priv)
{
    lr_buf_t *b = priv;
    if (b->n + len > LR_OUT_MAX)
        len = LR_OUT_MAX - b->n;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return 0;
}

typedef struct lr_exec_out_s {
    lr_buf_t out, err;
} lr_exec_out_t;

static int lr_exec_stdout(const char *data, size_t len, void *priv)
{
    return lr_buf_add(data, len, &((lr_exec_out_t *)priv)->out);
}

static int lr_exec_stderr(const char *data, size_t len, void *priv)
{
    return lr_buf_add(data, len, &((lr_exec_out_t *)priv)->err);
}

/* core.exec(namespace, pod, argv, container, stdin, timeout) -> exit code, stdout, stderr;
 * nil, err when the command could not be run. */
static int lr_exec(lua_State *L)
{
    luarun_t *run = lr_run(L);
    execclient_opts_t o;
    lr_exec_out_t out;
    char err[512] = "";
    char **argv;
    int n, code = -1, rc;

    memset(&o, 0, sizeof(o));
    memset(&out, 0, sizeof(out));
    o.namespace_ = luaL_checkstring(L, 1);
    o.pod = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    o.container = luaL_optstring(L, 4, NULL);
    o.stdin_data = luaL_optlstring(L, 5, NULL, &o.stdin_len);
    o.timeout_seconds = (int)luaL_optnumber(L, 6, 0);
    n = (int)lua_objlen(L, 3);
    if (n < 1)
        return luaL_error(L, "exec: the command is an empty list");
    /* A userdata holds argv, so an error while reading the list leaks nothing. */
    argv = lua_newuserdata(L, sizeof(char *) * (size_t)(n + 1));
    luaL_checkstack(L, n, "exec: too many arguments");
    for (int i = 0; i < n; i++) {
        /* Each string stays on the stack (converted numbers live only there). */
        lua_rawgeti(L, 3, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "exec: command[%d] must be a string", i + 1);
        argv[i] = (char *)lua_tostring(L, -1);
    }
    argv[n] = NULL;
    o.command = argv;
    o.on_stdout = lr_exec_stdout;
    o.on_stderr = lr_exec_stderr;
    o.priv = &out;
    rc = execclient_run(run->kc, &o, &code, err, sizeof(err));
    if (rc != 0) {
        free(out.out.p);
        free(out.err.p);
        lua_pushnil(L);
        lua_pushstring(L, err[0] ? err : "exec failed");
        return 2;
    }
    lua_pushinteger(L, code);
    lua_pushlstring(L, out.out.p ? out.out.p : "", out.out.n);
    lua_pushlstring(L, out.err.p ? out.err.p : "", out.err.n);
    free(out.out.p);
    free(out.err.p);
    return 3;
}

/* ---------------------------------------------------------------------------------------
 * Manifests, JSON, YAML */

/* core.read_manifests(source) -> array of {source=, object=}; nil, err. */
static int lr_read_manifests(lua_State *L)
{
    const char *src = luaL_checkstring(L, 1);
    char err[512] = "";
    json_t *arr = kubeclient_read_manifests(src, err, sizeof(err));
    if (arr == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lr_push_json(L, arr);
    return 1;
}

/* core.json_encode(value [, pretty]) -> text; nil, err when the value has no JSON form.
 * Keys are sorted, so equal tables give equal text. */
static int lr_json_encode(lua_State *L)
{
    char err[256];
    json_t *v;
    char *s;
    luaL_checkany(L, 1);
    v = luajson_to_json(L, 1, err, sizeof(err));
    if (v == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    s = json_dumps(v, JSON_ENCODE_ANY | JSON_SORT_KEYS |
                      (lua_toboolean(L, 2) ? JSON_INDENT(2) : JSON_COMPACT));
    json_decref(v);
    if (s == NULL)
        return luaL_error(L, "json_encode: out of memory");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

/* core.json_decode(text) -> value; nil, err. */
static int lr_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    json_error_t jerr;
    json_t *v = jsonload(s, len, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return 2;
    }
    lr_push_json(L, v);
    return 1;
}

/* core.yaml_decode(text) -> array of the documents; nil, err. */
static int lr_yaml_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char err[512] = "";
    json_t *v = yaml_parse_all(s, len, err, sizeof(err));
    if (v == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lr_push_json(L, v);
    return 1;
}

/* core.array([t]) -> t marked as a JSON array (so {} encodes as []). */
static int lr_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    else
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luajson_push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Clocks, exit */

/* core.sleep(seconds) */
static int lr_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(s > 0))
        return 0;
    if (s > 1e9)
        s = 1e9;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

/* core.now() -> monotonic seconds (for deadlines) */
static int lr_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

/* core.time() -> wall-clock Unix seconds with a fraction */
static int lr_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

static int lr_exit_tostring(lua_State *L)
{
    int *code = luaL_checkudata(L, 1, LUARUN_EXIT_MT);
    lua_pushfstring(L, "exit(%d)", *code);
    return 1;
}

/* core.exit([code]): raises the exit sentinel, which run_main turns into the exit status.
 * true/nil -> 0, false -> 1, a number -> itself (0..255). */
static int lr_exit(lua_State *L)
{
    int code;
    if (lua_isnoneornil(L, 1) || (lua_type(L, 1) == LUA_TBOOLEAN && lua_toboolean(L, 1)))
        code = 0;
    else if (lua_type(L, 1) == LUA_TBOOLEAN)
        code = 1;
    else {
        double d = luaL_checknumber(L, 1);
        if (d != floor(d) || d < 0 || d > 255)
            return luaL_error(L, "exit: the code must be a whole number 0..255");
        code = (int)d;
    }
    int *u = lua_newuserdata(L, sizeof(int));
    *u = code;
    luaL_getmetatable(L, LUARUN_EXIT_MT);
    lua_setmetatable(L, -2);
    return lua_error(L);
}

int luarun_is_exit(lua_State *L, int idx, int *code)
{
    int *u = luaL_testudata(L, idx, LUARUN_EXIT_MT);
    if (u == NULL)
        return 0;
    if (code)
        *code = *u;
    return 1;
}

/* core.is_exit(v) -> true for the exit sentinel */
static int lr_is_exit(lua_State *L)
{
    lua_pushboolean(L, luarun_is_exit(L, 1, NULL));
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * The module */

static const luaL_Reg lr_funcs[] = {
    { "request", lr_request },         { "raw", lr_raw },
    { "stream", lr_stream },           { "resources", lr_resources },
    { "resolve", lr_resolve },         { "resolve_kind", lr_resolve_kind },
    { "path", lr_path },               { "exec", lr_exec },
    { "read_manifests", lr_read_manifests },
    { "json_encode", lr_json_encode }, { "json_decode", lr_json_decode },
    { "yaml_decode", lr_yaml_decode }, { "array", lr_array },
    { "sleep", lr_sleep },             { "now", lr_now },
    { "time", lr_time },               { "exit", lr_exit },
    { "is_exit", lr_is_exit },         { NULL, NULL }
};

void luarun_inject_core_api(lua_State *L, luarun_t *run)
{
    if (luaL_newmetatable(L, LUARUN_EXIT_MT)) {
        lua_pushcfunction(L, lr_exit_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    for (const luaL_Reg *f = lr_funcs; f->name; f++) {
        lua_pushlightuserdata(L, run);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    luajson_push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, kubeclient_namespace(run->kc));
    lua_setfield(L, -2, "namespace");
    lua_pushstring(L, kubeclient_server(run->kc));
    lua_setfield(L, -2, "server");
    lua_pushstring(L, kubeclient_source(run->kc));
    lua_setfield(L, -2, "source");
    lua_pushstring(L, run->script);
    lua_setfield(L, -2, "script");
    lua_pushstring(L, run->lua_dir);
    lua_setfield(L, -2, "lua_dir");
    lua_pushboolean(L, run->verbose);
    lua_setfield(L, -2, "verbose");
}
