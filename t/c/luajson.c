/* t/c/luajson.c: jansson <-> Lua conversion (engine/luajson.c): round trips of realistic
 * objects, empty arrays and objects, null, numbers, depth limits, errors for tables that are
 * not JSON, the registry cache, and a timing of each way to hand a pod to a policy. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "tap.h"
#include "luajson.h"

static const char *pod_text =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c8f6-x2x9q\","
    "\"namespace\":\"default\",\"uid\":\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\","
    "\"resourceVersion\":\"123456\",\"generateName\":\"web-7d4b9c8f6-\","
    "\"creationTimestamp\":\"2026-11-27T06:00:00Z\",\"labels\":{\"app\":\"web\","
    "\"pod-template-hash\":\"7d4b9c8f6\",\"tier\":\"frontend\"},\"annotations\":{"
    "\"kubectl.kubernetes.io/restartedAt\":\"2026-11-26T10:00:00Z\"},\"ownerReferences\":[{"
    "\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c8f6\",\"uid\":"
    "\"6f1c0e2a-aaaa-bbbb-cccc-000000000001\",\"controller\":true,\"blockOwnerDeletion\":true}],"
    "\"finalizers\":[]},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.25\","
    "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"resources\":{\"requests\":{"
    "\"cpu\":\"100m\",\"memory\":\"128Mi\"},\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"}},"
    "\"env\":[{\"name\":\"MODE\",\"value\":\"prod\"},{\"name\":\"EMPTY\",\"value\":\"\"}],"
    "\"volumeMounts\":[{\"name\":\"kube-api-access\",\"mountPath\":\"/var/run/secrets\","
    "\"readOnly\":true}],\"imagePullPolicy\":\"IfNotPresent\",\"terminationMessagePath\":"
    "\"/dev/termination-log\",\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":80},"
    "\"initialDelaySeconds\":3,\"periodSeconds\":10,\"failureThreshold\":3}},{\"name\":\"sidecar\","
    "\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"sleep 3600\"],\"resources\":{}}],"
    "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":"
    "\"ClusterFirst\",\"nodeSelector\":{\"disktype\":\"ssd\"},\"serviceAccountName\":\"default\","
    "\"schedulerName\":\"default-scheduler\",\"priority\":0,\"tolerations\":[{\"key\":"
    "\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
    "\"tolerationSeconds\":300}],\"affinity\":{\"nodeAffinity\":{"
    "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":[{"
    "\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]}]}]}}},"
    "\"volumes\":[{\"name\":\"kube-api-access\",\"projected\":{\"defaultMode\":420,\"sources\":[{"
    "\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}}]}}]},"
    "\"status\":{\"phase\":\"Pending\",\"qosClass\":\"Burstable\",\"conditions\":[{\"type\":"
    "\"PodScheduled\",\"status\":\"False\",\"lastProbeTime\":null,\"lastTransitionTime\":"
    "\"2026-11-27T06:00:00Z\",\"reason\":\"Unschedulable\"}]}}";

static const char *node_text =
    "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\",\"labels\":{"
    "\"kubernetes.io/hostname\":\"node-1\",\"kubernetes.io/os\":\"linux\",\"zone\":\"a\"},"
    "\"resourceVersion\":\"99\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\",\"taints\":[{\"key\":"
    "\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}],\"unschedulable\":false},"
    "\"status\":{\"capacity\":{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"110\"},"
    "\"allocatable\":{\"cpu\":\"7800m\",\"memory\":\"31Gi\",\"pods\":\"110\"},\"conditions\":[{"
    "\"type\":\"Ready\",\"status\":\"True\",\"lastHeartbeatTime\":\"2026-11-27T06:00:00Z\"}],"
    "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.11\"}],\"images\":[],"
    "\"nodeInfo\":{\"kubeletVersion\":\"v1.31.0\",\"architecture\":\"amd64\"},"
    "\"load\":0.75,\"bigCounter\":9007199254740992}}";

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v)
        diag("parse error: %s", jerr.text);
    return v;
}

/* JSON text -> Lua -> JSON; 1 if the result equals the input. */
static int round_trip(lua_State *L, const char *text)
{
    json_t *in = parse(text), *out;
    char err[256];
    int same, top = lua_gettop(L);

    if (!in || luajson_push(L, in) != 0) {
        json_decref(in);
        return 0;
    }
    out = luajson_to_json(L, -1, err, sizeof err);
    if (!out)
        diag("to_json: %s", err);
    same = out && json_equal(in, out);
    if (out && !same) {
        char *a = json_dumps(in, JSON_ENCODE_ANY), *b = json_dumps(out, JSON_ENCODE_ANY);
        diag("in:  %s", a);
        diag("out: %s", b);
        free(a);
        free(b);
    }
    json_decref(in);
    json_decref(out);
    lua_settop(L, top);
    return same && lua_gettop(L) == top;
}

/* Run a Lua chunk that evaluates to a value, convert it; returns the JSON text (caller frees)
 * or NULL with err set. */
static char *eval_to_json(lua_State *L, const char *expr, char *err, size_t errlen)
{
    char *text = NULL;
    json_t *v;
    int top = lua_gettop(L);

    if (luaL_loadstring(L, expr) || lua_pcall(L, 0, 1, 0)) {
        snprintf(err, errlen, "lua: %s", lua_tostring(L, -1));
        lua_settop(L, top);
        return NULL;
    }
    v = luajson_to_json(L, -1, err, errlen);
    if (v) {
        text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(v);
    }
    if (lua_gettop(L) != top + 1)
        diag("stack changed by luajson_to_json");
    lua_settop(L, top);
    return text;
}

static void is_json(lua_State *L, const char *expr, const char *want)
{
    char err[256] = "";
    char *got = eval_to_json(L, expr, err, sizeof err);
    is_str(got ? got : err, want, "%s -> %s", expr, want);
    free(got);
}

static void is_err(lua_State *L, const char *expr, const char *want)
{
    char err[256] = "";
    char *got = eval_to_json(L, expr, err, sizeof err);
    ok(!got, "%s fails", expr);
    is_str(err, want, "  with '%s'", want);
    free(got);
}

/* Run a Lua predicate with the value at the top of the stack bound to the global `obj`. */
static int lua_check(lua_State *L, const char *code)
{
    int r;
    lua_setglobal(L, "obj");
    if (luaL_loadstring(L, code) || lua_pcall(L, 0, 1, 0)) {
        diag("lua: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The rejected read-only alternative: an empty proxy per table, __index = the data. Built
 * here only to measure it and to show that pairs/#/ipairs cannot see through it. */
static int proxy_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only object");
}

static void proxy_wrap(lua_State *L, int depth)
{
    int src = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        if (lua_type(L, -1) == LUA_TTABLE && depth < LUAJSON_MAX_DEPTH) {
            proxy_wrap(L, depth + 1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, src);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_newtable(L);                 /* proxy */
    lua_createtable(L, 0, 3);        /* its metatable */
    lua_pushvalue(L, src);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, proxy_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, src);
}

static void bench(lua_State *L, json_t *pod, int iters)
{
    double t0, push_us, ref_us, proxy_us, back_us, parse_us;
    int i, ref = luajson_ref(L, pod);
    char *text = json_dumps(pod, JSON_COMPACT);

    t0 = now_us();
    for (i = 0; i < iters; i++) {
        json_t *v = json_loads(text, 0, NULL);
        json_decref(v);
    }
    parse_us = (now_us() - t0) / iters;

    t0 = now_us();
    for (i = 0; i < iters; i++) {
        luajson_push(L, pod);
        lua_pop(L, 1);
    }
    push_us = (now_us() - t0) / iters;

    t0 = now_us();
    for (i = 0; i < iters; i++) {
        luajson_push_ref(L, ref);
        lua_pop(L, 1);
    }
    ref_us = (now_us() - t0) / iters;

    t0 = now_us();
    for (i = 0; i < iters; i++) {
        luajson_push(L, pod);
        proxy_wrap(L, 0);
        lua_pop(L, 1);
    }
    proxy_us = (now_us() - t0) / iters - push_us;

    luajson_push(L, pod);
    t0 = now_us();
    for (i = 0; i < iters; i++) {
        json_t *v = luajson_to_json(L, -1, NULL, 0);
        json_decref(v);
    }
    back_us = (now_us() - t0) / iters;
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT, 0);

    diag("bench (%d iterations, %zu-byte pod): json_loads %.2f us; luajson_push %.2f us; "
         "luajson_push_ref %.3f us; "
         "read-only proxies on top of push +%.2f us; luajson_to_json %.2f us",
         iters, strlen(text), parse_us, push_us, ref_us, proxy_us, back_us);
    luajson_unref(L, ref);
    free(text);
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    json_t *pod, *node, *v;
    char err[256];
    int top, i, ref;

    plan_no_plan();
    luaL_openlibs(L);
    luajson_push_null(L);
    lua_setglobal(L, "null");
    luajson_push_array_mt(L);
    lua_setglobal(L, "array_mt");

    /* ---- round trips ---- */
    ok(round_trip(L, pod_text), "a realistic pod round-trips");
    ok(round_trip(L, node_text), "a realistic node round-trips");
    ok(round_trip(L, "{}"), "{} round-trips");
    ok(round_trip(L, "[]"), "[] round-trips");
    ok(round_trip(L, "{\"a\":[],\"b\":{},\"c\":[[],{}],\"d\":[{}]}"),
       "nested empty arrays and objects round-trip");
    ok(round_trip(L, "[1,null,3]"), "null inside an array keeps its slot");
    ok(round_trip(L, "{\"a\":null}"), "null member round-trips");
    ok(round_trip(L, "null"), "top-level null round-trips");
    ok(round_trip(L, "[0,-1,1.5,-2.25,1e-300,9007199254740992,-9007199254740992,1e300]"),
       "numbers round-trip");
    ok(round_trip(L, "[\"\",\"caf\\u00e9\",\"a\\u0000b\",true,false]"),
       "strings (with NUL) and booleans round-trip");
    {
        /* The parser refuses NUL in keys, but a json_t can hold one. */
        json_t *o = json_object(), *back;
        json_object_setn_new(o, "k\0ey", 4, json_integer(1));
        json_object_set_new(o, "", json_integer(2));
        luajson_push(L, o);
        back = luajson_to_json(L, -1, err, sizeof err);
        /* json_equal looks keys up by C string, so compare by hand. */
        ok(back && json_object_size(back) == 2 &&
           json_integer_value(json_object_getn(back, "k\0ey", 4)) == 1 &&
           json_integer_value(json_object_get(back, "")) == 2,
           "keys with NUL and the empty key round-trip");
        lua_pop(L, 1);
        json_decref(o);
        json_decref(back);
    }

    /* ---- what a policy sees ---- */
    pod = parse(pod_text);
    node = parse(node_text);
    top = lua_gettop(L);
    is_int(luajson_push(L, pod), 0, "push a pod");
    ok(lua_check(L, "return obj.metadata.name == 'web-7d4b9c8f6-x2x9q'"
                    " and obj.spec.containers[1].name == 'nginx'"
                    " and #obj.spec.containers == 2"
                    " and obj.spec.containers[1].ports[1].containerPort == 80"
                    " and obj.spec.terminationGracePeriodSeconds == 30"
                    " and obj.status.conditions[1].lastProbeTime == null"
                    " and type(null) == 'userdata'"
                    " and getmetatable(obj.metadata.finalizers) == array_mt"
                    " and #obj.metadata.finalizers == 0"
                    " and getmetatable(obj.metadata) == nil"),
       "fields, sequences, null and the array metatable from Lua");
    is_int(luajson_push(L, pod), 0, "push again");
    ok(lua_check(L, "local n = 0 for k, v in pairs(obj.metadata.labels) do n = n + 1 end"
                    " local m = 0 for i, c in ipairs(obj.spec.containers) do m = m + 1 end"
                    " return n == 3 and m == 2"),
       "pairs and ipairs work on pushed tables");
    is_int(lua_gettop(L), top, "stack balanced");
    v = json_integer(9007199254740993LL);
    luajson_push(L, v);
    ok(lua_tonumber(L, -1) == 9007199254740992.0, "2^53+1 is rounded to a double (documented)");
    lua_pop(L, 1);
    json_decref(v);
    luajson_push_null(L);
    ok(luajson_is_null(L, -1), "luajson_is_null on the sentinel");
    lua_pushlightuserdata(L, &top);
    ok(!luajson_is_null(L, -1), "luajson_is_null on another light userdata");
    lua_pop(L, 2);

    /* ---- Lua -> JSON ---- */
    is_json(L, "return {}", "{}");
    is_json(L, "return setmetatable({}, array_mt)", "[]");
    is_json(L, "return {1, 2, 3}", "[1,2,3]");
    is_json(L, "return {a = 1, b = {c = 'x'}}", "{\"a\":1,\"b\":{\"c\":\"x\"}}");
    is_json(L, "return {1, null, 3}", "[1,null,3]");
    is_json(L, "return {[2] = 'b', [1] = 'a'}", "[\"a\",\"b\"]");
    is_json(L, "return {x = null}", "{\"x\":null}");
    is_json(L, "return 1.5", "1.5");
    is_json(L, "return 3", "3");
    is_json(L, "return -0.0", "0");
    is_json(L, "return 2^53", "9007199254740992");
    is_json(L, "return -2^53", "-9007199254740992");
    is_json(L, "return 2^60", "1.152921504606847e18");
    is_json(L, "return 1e300", "1.0000000000000001e300");
    is_json(L, "return true", "true");
    is_json(L, "return 'a\\0b'", "\"a\\u0000b\"");
    is_json(L, "local a = setmetatable({}, array_mt) a[1] = 'x' a[2] = 'y' return a",
            "[\"x\",\"y\"]");
    is_json(L, "local a = {1, 2} a[2] = nil return a", "[1]");
    is_json(L, "return setmetatable({k = 1}, {__index = function() return 0 end})",
            "{\"k\":1}");

    is_err(L, "return {spec = {x = function() end}}", "cannot convert a function at spec.x");
    is_err(L, "return {spec = {containers = {{name = 'a', f = io.stdout}}}}",
           "cannot convert a userdata at spec.containers[1].f");
    is_err(L, "return {co = coroutine.create(function() end)}", "cannot convert a thread at co");
    is_err(L, "return {a = {x = 0/0}}", "cannot convert NaN at a.x");
    is_err(L, "return {a = {1, 1/0}}", "cannot convert an infinite number at a[2]");
    is_err(L, "return {a = -1/0}", "cannot convert an infinite number at a");
    is_err(L, "return {metadata = {labels = {[1.5] = 'x'}}}",
           "table key 1.5 is not a string (a table mixing a sequence and string keys, or "
           "with holes, is not an array) at metadata.labels");
    is_err(L, "return {1, 2, x = 3}",
           "table key 1 is not a string (a table mixing a sequence and string keys, or "
           "with holes, is not an array) at (top)");
    is_err(L, "return {[3] = 3}",
           "table key 3 is not a string (a table mixing a sequence and string keys, or "
           "with holes, is not an array) at (top)");
    is_err(L, "return {[true] = 1}", "table key of type boolean is not a string at (top)");
    is_err(L, "local t = {a = {}} t.a.b = t return t",
           "cannot convert a table that contains itself (a cycle) at a.b");
    is_err(L, "local t = {} t[1] = t return t",
           "cannot convert a table that contains itself (a cycle) at [1]");
    is_err(L, "local a = setmetatable({1}, array_mt) a.x = 1 return {list = a}",
           "array (it has the array metatable) has a key that is not an index 1..n at list");
    is_err(L, "local a = setmetatable({}, array_mt) a[1] = 1 a[3] = 3 return a",
           "array (it has the array metatable) has holes at (top)");
    is_err(L, "return {s = '\\255'}", "string is not valid UTF-8 (or out of memory) at s");
    is_err(L, "return {['\\255'] = 1}", "key is not valid UTF-8 (or out of memory) at \377");
    is_err(L, "return nil", "cannot convert a nil at (top)");
    is_err(L, "return print", "cannot convert a function at (top)");

    /* ---- depth limits ---- */
    {
        char *s;
        s = eval_to_json(L, "local t = {} local c = t for i = 1, 100 do c.a = {} c = c.a end "
                            "return t", err, sizeof err);
        ok(!s && strncmp(err, "tables nest deeper than 100 levels at a.a.a.", 44) == 0,
           "101 levels of tables are refused: %s", err);
        ok(strlen(err) == strlen("tables nest deeper than 100 levels at ") + 199,
           "  the path names all 100 keys");
        free(s);
        s = eval_to_json(L, "local t = {} local c = t for i = 1, 99 do c.a = {} c = c.a end "
                            "return t", err, sizeof err);
        ok(s != NULL, "100 levels of tables convert");
        free(s);
    }
    {
        json_t *deep = json_array(), *cur = deep;
        for (i = 1; i < LUAJSON_MAX_DEPTH; i++) {
            json_t *next = json_array();
            json_array_append_new(cur, next);
            cur = next;
        }
        top = lua_gettop(L);
        is_int(luajson_push(L, deep), 0, "100 nested arrays push");
        is_int(lua_gettop(L), top + 1, "  one value pushed");
        lua_settop(L, top);
        json_array_append_new(cur, json_array());
        json_array_append_new(cur, json_integer(1));
        is_int(luajson_push(L, deep), -1, "101 nested arrays refused");
        is_int(lua_gettop(L), top, "  nothing pushed");
        is_int(luajson_ref(L, deep), LUA_NOREF, "luajson_ref of a too deep value is LUA_NOREF");
        is_int(lua_gettop(L), top, "  nothing left on the stack");
        json_decref(deep);
    }

    /* ---- the cache ---- */
    top = lua_gettop(L);
    ref = luajson_ref(L, pod);
    ok(ref != LUA_NOREF && ref != LUA_REFNIL, "luajson_ref returns a reference");
    is_int(lua_gettop(L), top, "  stack balanced");
    luajson_push_ref(L, ref);
    luajson_push_ref(L, ref);
    ok(lua_rawequal(L, -1, -2), "luajson_push_ref pushes the same table each time");
    lua_pop(L, 2);
    ok(luajson_ref_unchanged(L, ref, pod), "luajson_ref_unchanged on an untouched ref");
    is_int(luajson_push(L, pod), 0, "a policy's own copy: luajson_push");
    ok(lua_check(L, "obj.metadata.labels.app = 'changed' obj.spec.containers[1] = nil "
                    "obj.metadata.finalizers[1] = 'x' return true"),
       "  the policy mutates its copy");
    ok(luajson_ref_unchanged(L, ref, pod), "  the cached table is unchanged");
    luajson_push_ref(L, ref);
    ok(lua_check(L, "obj.metadata.labels.app = 'changed' return true"),
       "a misbehaving policy mutates the shared table");
    ok(!luajson_ref_unchanged(L, ref, pod), "  luajson_ref_unchanged notices");
    luajson_unref(L, ref);
    ref = luajson_ref(L, pod);
    ok(luajson_ref_unchanged(L, ref, pod), "  and a new ref (as on the next change) is clean");
    is_int(lua_gettop(L), top, "  stack balanced");
    {
        int ref2 = luajson_ref(L, node);
        ok(ref2 != ref, "a second object gets its own reference");
        luajson_unref(L, ref);
        luajson_push_ref(L, ref2);
        v = luajson_to_json(L, -1, err, sizeof err);
        ok(v && json_equal(v, node), "  and survives unref of the first");
        json_decref(v);
        lua_pop(L, 1);
        luajson_unref(L, ref2);
    }
    luajson_unref(L, LUA_NOREF);
    luajson_unref(L, LUA_REFNIL);
    is_int(lua_gettop(L), top, "stack balanced after the cache tests");

    /* ---- why there is no read-only proxy in LuaJIT 5.1 mode ---- */
    luajson_push(L, pod);
    proxy_wrap(L, 0);
    lua_pushvalue(L, -1);
    ok(lua_check(L, "return obj.metadata.labels.app == 'web' and "
                    "not pcall(function() obj.metadata.x = 1 end)"),
       "a proxy reads through and refuses writes");
    ok(lua_check(L, "local n = 0 for k in pairs(obj.metadata.labels) do n = n + 1 end "
                    "return n == 0 and #obj.spec.containers == 0"),
       "but pairs and # see an empty proxy (no __pairs/__len on tables in LuaJIT)");

    bench(L, pod, argc > 1 ? atoi(argv[1]) : 2000);

    json_decref(pod);
    json_decref(node);
    lua_close(L);
    return done_testing();
}
