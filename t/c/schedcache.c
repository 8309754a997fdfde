/* t/c/schedcache.c: the scheduler cache's hand-over to Lua (engine/schedcache.c) and the
 * shared conversions behind it (luajson_push_pooled, engine/luajson.c): a pending pod and
 * its updates as the policy sees them, the assumed copy derived from the pending pod's
 * table, pods_on arrays rebuilt after a change (unchanged pods keep their tables, changed
 * ones are seen changed), subtrees shared between pods of one template and converted
 * exactly, and table.new in the policy sandbox. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "tap.h"
#include "luajson.h"
#include "luavm.h"
#include "schedcache.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v)
        diag("bad JSON in the test: %s", jerr.text);
    return v;
}

static json_t *node(const char *name)
{
    json_t *n = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{},s:{s:{s:s,s:s,s:s}}}", "apiVersion",
                          "v1", "kind", "Node", "metadata", "name", name, "resourceVersion", "1",
                          "labels", "zone", "a", "spec", "status", "allocatable", "cpu", "4",
                          "memory", "8Gi", "pods", "110");
    return n;
}

/* A pod of one template: name, resourceVersion, node (NULL: pending), the app label and
 * the cpu request vary. */
static json_t *pod(const char *name, const char *rv, const char *node_name, const char *app,
                   const char *cpu)
{
    json_t *p = json_pack(
        "{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s,s:s}},s:{s:[{s:s,s:s,s:{s:{s:s,s:s}}}],"
        "s:[{s:s,s:s,s:s}],s:{s:s}},s:{s:s}}",
        "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", "default",
        "resourceVersion", rv, "labels", "app", app, "tier", "web", "spec", "containers",
        "name", "c", "image", "nginx", "resources", "requests", "cpu", cpu, "memory", "64Mi",
        "tolerations", "key", "k", "operator", "Exists", "effect", "NoSchedule",
        "nodeSelector", "zone", "a", "status", "phase", node_name ? "Running" : "Pending");
    if (node_name)
        json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node_name));
    return p;
}

/* Runs chunk with the values on the stack as ... ; it returns a string (left on the
 * stack's top is popped): the test's verdict, "ok" or what was wrong. */
static void check_lua(lua_State *L, int nargs, const char *chunk, const char *what)
{
    if (luaL_loadstring(L, chunk) != 0) {
        ok(0, "%s: %s", what, lua_tostring(L, -1));
        lua_pop(L, 1 + nargs);
        return;
    }
    lua_insert(L, -(nargs + 1));
    if (lua_pcall(L, nargs, 1, 0) != 0) {
        ok(0, "%s: %s", what, lua_tostring(L, -1));
        lua_pop(L, 1);
        return;
    }
    is_str(lua_tostring(L, -1), "ok", "%s", what);
    lua_pop(L, 1);
}

/* The decision's arguments for key: pod, ctx (left on the stack). */
static int push_args(schedcache_t *sc, lua_State *L, const char *key, json_t *p)
{
    char err[256];
    int rc = schedcache_push_args(sc, L, key, p, 0, err, sizeof(err));
    if (rc != 0)
        diag("push_args: %s", err);
    return rc;
}

/* JSON of the Lua value at the top equals want (popped). */
static int lua_equals_json(lua_State *L, const json_t *want)
{
    char err[256];
    json_t *got = luajson_to_json(L, -1, err, sizeof(err));
    int same = got && json_equal(got, (json_t *)want);
    if (!same) {
        char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;
        char *w = json_dumps(want, JSON_SORT_KEYS);
        diag("got  %s", g ? g : err);
        diag("want %s", w);
        free(g);
        free(w);
    }
    json_decref(got);
    lua_pop(L, 1);
    return same;
}

static void test_cache(void)
{
    lua_State *L = luaL_newstate();
    schedcache_t *sc = schedcache_create();
    json_t *na = node("node-a"), *nb = node("node-b");
    json_t *p1 = pod("p1", "10", NULL, "web", "100m");
    json_t *p1b = pod("p1", "11", NULL, "web", "300m");   /* p1 updated while pending */
    json_t *p2 = pod("p2", "1", NULL, "web", "100m");

    luaL_openlibs(L);
    schedcache_node_set(sc, na);
    schedcache_node_set(sc, nb);
    schedcache_pod_set(sc, "default/p1", p1);

    /* The pending pod, twice: the same table while its resourceVersion holds. */
    ok(push_args(sc, L, "default/p1", p1) == 0, "arguments of a pending pod");
    lua_pop(L, 1);
    ok(push_args(sc, L, "default/p1", p1) == 0, "the same pod again");
    lua_pop(L, 1);
    ok(lua_rawequal(L, -1, -2), "one table per resourceVersion");
    lua_pushvalue(L, -1);
    ok(lua_equals_json(L, p1), "it is the pod");
    lua_pop(L, 2);

    /* An updated pending pod is seen updated. */
    schedcache_pod_set(sc, "default/p1", p1b);
    ok(push_args(sc, L, "default/p1", p1b) == 0, "arguments of the updated pod");
    check_lua(L, 2, "local pod, ctx = ...\n"
              "if pod.metadata.resourceVersion ~= '11' then return 'rv ' .. pod.metadata.resourceVersion end\n"
              "if pod.spec.containers[1].resources.requests.cpu ~= '300m' then return 'old requests' end\n"
              "if #ctx.nodes ~= 2 then return 'nodes: ' .. #ctx.nodes end\n"
              "if #ctx.pods_on('node-a') ~= 0 then return 'node-a not empty' end\n"
              "return 'ok'", "the policy sees the update");

    /* Assumed on node-a: the copy with spec.nodeName, derived from the pending table. */
    ok(push_args(sc, L, "default/p1", p1b) == 0, "arguments again");
    lua_pop(L, 1);                                        /* the pending pod's table */
    schedcache_assume(sc, "default/p1", p1b, "node-a");
    ok(push_args(sc, L, "default/p2", p2) == 0, "next decision");
    lua_remove(L, -2);                                    /* pending-p1 ctx */
    check_lua(L, 2, "local pending, ctx = ...\n"
              "local on = ctx.pods_on('node-a')\n"
              "if #on ~= 1 then return 'pods on node-a: ' .. #on end\n"
              "local a = on[1]\n"
              "if a == pending then return 'the pending table itself' end\n"
              "if a.spec.nodeName ~= 'node-a' then return 'nodeName ' .. tostring(a.spec.nodeName) end\n"
              "if pending.spec.nodeName ~= nil then return 'the pending pod changed' end\n"
              "if a.spec.containers ~= pending.spec.containers then return 'containers not shared' end\n"
              "if a.metadata ~= pending.metadata then return 'metadata not shared' end\n"
              "for k, v in pairs(pending) do if k ~= 'spec' and a[k] ~= v then return 'field ' .. k end end\n"
              "for k, v in pairs(pending.spec) do if a.spec[k] ~= v then return 'spec field ' .. k end end\n"
              "if ctx.pods_on('node-a') ~= on then return 'not the same array' end\n"
              "return 'ok'", "the assumed copy is the pending pod with spec.nodeName");

    /* The assumed copy converts back to exactly what schedcache_assume counts. */
    {
        json_t *want = json_deep_copy(p1b);
        json_object_set_new(json_object_get(want, "spec"), "nodeName", json_string("node-a"));
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_getfield(L, -1, "pods_on");
        lua_pushliteral(L, "node-a");
        lua_call(L, 1, 1);
        lua_rawgeti(L, -1, 1);
        ok(lua_equals_json(L, want), "the assumed copy as JSON");
        lua_pop(L, 3);
        json_decref(want);
    }

    /* A second pod on node-a: a new array; p1 keeps its table. Then p1 is bound (the
     * informer's update: new resourceVersion, a label changed): seen updated. */
    {
        json_t *p3 = pod("p3", "5", "node-a", "db", "200m");
        json_t *p1bound = pod("p1", "12", "node-a", "web-bound", "300m");
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_getfield(L, -1, "pods_on");
        lua_pushliteral(L, "node-a");
        lua_call(L, 1, 1);                                 /* old array */
        lua_remove(L, -2);
        lua_remove(L, -2);
        schedcache_pod_set(sc, "default/p3", p3);
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_remove(L, -2);
        check_lua(L, 2, "local old, ctx = ...\n"
                  "local on = ctx.pods_on('node-a')\n"
                  "if on == old then return 'the same array after a change' end\n"
                  "if #on ~= 2 then return 'pods on node-a: ' .. #on end\n"
                  "local by = {}\n"
                  "for _, p in ipairs(on) do by[p.metadata.name] = p end\n"
                  "if by.p1 ~= old[1] then return 'p1 converted again' end\n"
                  "if not by.p3 or by.p3.metadata.labels.app ~= 'db' then return 'p3 missing' end\n"
                  "assumed_p1 = by.p1\n"
                  "return 'ok'", "a node's new array reuses the unchanged pods");
        schedcache_pod_set(sc, "default/p1", p1bound);
        ok(!schedcache_is_assumed(sc, "default/p1"), "the binding replaces the assumption");
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_remove(L, -2);
        check_lua(L, 1, "local ctx = ...\n"
                  "local on = ctx.pods_on('node-a')\n"
                  "if #on ~= 2 then return 'pods on node-a: ' .. #on end\n"
                  "local by = {}\n"
                  "for _, p in ipairs(on) do by[p.metadata.name] = p end\n"
                  "if by.p1.metadata.labels.app ~= 'web-bound' then return 'old labels' end\n"
                  "if by.p1.metadata.resourceVersion ~= '12' then return 'old rv' end\n"
                  "if by.p1.status.phase ~= 'Running' then return 'old status' end\n"
                  "if by.p1 == assumed_p1 then return 'the assumed table itself' end\n"
                  "if by.p1.spec ~= assumed_p1.spec then return 'the unchanged spec converted again' end\n"
                  "if #ctx.pods() ~= 2 then return 'pods(): ' .. #ctx.pods() end\n"
                  "return 'ok'", "the bound pod is seen updated, its unchanged spec the assumed copy's");
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_getfield(L, -1, "pods_on");
        lua_pushliteral(L, "node-a");
        lua_call(L, 1, 1);
        for (int i = 1; i <= 2; i++) {
            lua_rawgeti(L, -1, i);
            lua_getfield(L, -1, "metadata");
            lua_getfield(L, -1, "name");
            int is_p1 = !strcmp(lua_tostring(L, -1), "p1");
            lua_pop(L, 2);
            if (is_p1)
                ok(lua_equals_json(L, p1bound), "the bound pod's table as JSON is the bound pod");
            else
                lua_pop(L, 1);
        }
        lua_pop(L, 3);
        schedcache_pod_delete(sc, "default/p3", p3);
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_remove(L, -2);
        check_lua(L, 1, "local ctx = ...\n"
                  "local on = ctx.pods_on('node-a')\n"
                  "if #on ~= 1 or on[1].metadata.name ~= 'p1' then return 'after delete: ' .. #on end\n"
                  "return 'ok'", "a deleted pod leaves its node's array");
        json_decref(p3);
        json_decref(p1bound);
    }

    /* Bound with a spec other than the one assumed (a mutating admission, say): the new
     * spec is converted, not taken from the assumed copy. */
    {
        json_t *p4 = pod("p4", "20", NULL, "web", "100m");
        json_t *p4bound = pod("p4", "21", "node-b", "web", "500m");
        ok(push_args(sc, L, "default/p4", p4) == 0, "args");
        lua_pop(L, 2);
        schedcache_assume(sc, "default/p4", p4, "node-b");
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_remove(L, -2);
        check_lua(L, 1, "local ctx = ...\n"
                  "local on = ctx.pods_on('node-b')\n"
                  "if #on ~= 1 then return 'pods on node-b: ' .. #on end\n"
                  "assumed_p4 = on[1]\n"
                  "return 'ok'", "p4 assumed on node-b");
        schedcache_pod_set(sc, "default/p4", p4bound);
        ok(push_args(sc, L, "default/p2", p2) == 0, "args");
        lua_remove(L, -2);
        check_lua(L, 1, "local ctx = ...\n"
                  "local p = ctx.pods_on('node-b')[1]\n"
                  "if p.spec == assumed_p4.spec then return 'the old spec' end\n"
                  "if p.spec.containers[1].resources.requests.cpu ~= '500m' then return 'old requests' end\n"
                  "if p.spec.nodeName ~= 'node-b' then return 'nodeName' end\n"
                  "return 'ok'", "a bound pod whose spec changed is seen with its new spec");
        json_decref(p4);
        json_decref(p4bound);
    }
    is_int(lua_gettop(L), 0, "stack balanced");
    schedcache_free(sc);
    lua_close(L);
    json_decref(na);
    json_decref(nb);
    json_decref(p1);
    json_decref(p1b);
    json_decref(p2);
}

static void test_pool(void)
{
    lua_State *L = luaL_newstate();
    json_t *a = pod("a", "1", NULL, "web", "100m"), *b = pod("b", "1", NULL, "web", "100m");
    json_t *c = pod("c", "1", NULL, "web", "999m");          /* another spec */
    json_t *d = pod("d", "1", "node-1", "web", "100m");      /* bound: spec differs */
    luajson_pool_stats_t st;

    luaL_openlibs(L);
    ok(luajson_push_pooled(L, a) == 0 && luajson_push_pooled(L, b) == 0 &&
       luajson_push_pooled(L, c) == 0 && luajson_push_pooled(L, d) == 0, "four pods pooled");
    check_lua(L, 4, "local a, b, c, d = ...\n"
              "if a == b then return 'top-level tables shared' end\n"
              "if a.spec ~= b.spec then return 'equal specs not shared' end\n"
              "if a.metadata == b.metadata then return 'different metadata shared' end\n"
              "if a.metadata.labels ~= b.metadata.labels then return 'equal labels not shared' end\n"
              "if c.spec == a.spec then return 'different specs shared' end\n"
              "if c.spec.tolerations ~= a.spec.tolerations then return 'equal tolerations not shared' end\n"
              "if c.spec.containers[1].resources.requests.cpu ~= '999m' then return 'wrong cpu' end\n"
              "if d.spec == a.spec or d.spec.nodeName ~= 'node-1' then return 'bound spec' end\n"
              "if d.spec.containers ~= a.spec.containers then return 'containers not shared' end\n"
              "return 'ok'", "equal subtrees share one table, others do not");
    luajson_pool_stats(L, &st);
    ok(st.hits > 0 && st.misses > 0, "pool counts: %lu hits, %lu misses", st.hits, st.misses);
    ok(luajson_push_pooled(L, c) == 0, "c again");
    ok(lua_equals_json(L, c), "a pooled conversion is the object");
    ok(luajson_push_pooled(L, d) == 0, "d again");
    ok(lua_equals_json(L, d), "and with shared parts");
    /* Not an object, or empty: converted as luajson_push converts it. */
    {
        json_t *arr = parse("[1, {\"x\": []}, null]"), *empty = parse("{}");
        ok(luajson_push_pooled(L, arr) == 0 && lua_equals_json(L, arr), "an array");
        ok(luajson_push_pooled(L, empty) == 0 && lua_equals_json(L, empty), "an empty object");
        json_decref(arr);
        json_decref(empty);
    }
    /* A collection drops the tables nothing holds; the pool converts anew then. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    ok(luajson_push_pooled(L, a) == 0 && lua_equals_json(L, a), "after a collection");
    is_int(lua_gettop(L), 0, "stack balanced");
    lua_close(L);   /* the pool's __gc drops its references (valgrind/asan see leaks) */
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

/* The policy sandbox offers table.new (the default policy sizes its per-node arrays). */
static void test_table_new(void)
{
    char err[512];
    luavm_t *vm = luavm_create(NULL, err, sizeof(err));
    static const char src[] =
        "local t = table.new(4, 0)\n"
        "t[1], t[2] = 'a', 'b'\n"
        "return { n = #t, is_new = type(table.new) == 'function' }\n";
    double n = 0;
    ok(vm != NULL, "a VM");
    if (!vm)
        return;
    is_int(luavm_load_buffer(vm, src, sizeof(src) - 1, "@policies/t.lua", err, sizeof(err)),
           LUAVM_OK, "a policy using table.new loads");
    ok(luavm_policy_field(vm, "n", &n) == LUA_TNUMBER && n == 2, "and fills the table");
    luavm_free(vm);
}

/* A VM abandoned inside compiled code (a call overran its budget) is never closed: its
 * pool's references are dropped by luavm's discard callback instead of the __gc. (Leaks or
 * a double free show under `make asan`.) */
static void test_pool_discard(void)
{
    char err[512];
    luavm_opts_t o = { NULL, 30, 0, 0 };
    luavm_t *vm = luavm_create(&o, err, sizeof(err));
    static const char src[] =
        "return { spin = function() local x = 0 while true do x = x + 1 end end }\n";
    json_t *p = pod("a", "1", NULL, "web", "100m");
    ok(vm != NULL, "a VM with a 30 ms budget");
    if (!vm)
        return;
    ok(luavm_load_buffer(vm, src, sizeof(src) - 1, "@policies/spin.lua", err, sizeof(err)) ==
       LUAVM_OK, "a policy that spins");
    ok(luajson_push_pooled(luavm_state(vm), p) == 0, "a pooled conversion in it");
    lua_pop(luavm_state(vm), 1);
    is_int(luavm_call(vm, "spin", 0, 0), LUAVM_TIMEOUT, "the spin overruns");
    diag("VM %s", luavm_dead(vm) ? "abandoned (the pool went with the discard callback)" :
         "stopped by the hook (closed normally)");
    luavm_free(vm);
    json_decref(p);
}

int main(void)
{
    plan_no_plan();
    test_cache();
    test_pool();
    test_pool_discard();
    test_table_new();
    return done_testing();
}
