/* luavm.c: unit tests for engine/luavm.c: loading, calls, error messages with file:line,
 * the time budget and memory cap (runaway loops must return, and the VM must keep
 * working), the sandbox, require, and a micro benchmark of the budget's cost (diag only).
 * Policies live in t/data/policies/; run from the repository root (t/0160-luavm.t cds
 * there). BERTH_LUAVM_BENCH_CALLS sets the benchmark size (default 200 calls). */
#include "tap.h"
#include "luavm.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>

#define DIR "t/data/policies"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1: the VMs make_vm creates run interpreted (the JIT is on by default). */
static int g_no_jit;

static luavm_t *make_vm(unsigned budget_ms, size_t mem, const char *policy)
{
    char err[512];
    luavm_opts_t opts = { .lib_dir = DIR, .budget_ms = budget_ms, .mem_limit_bytes = mem,
                          .no_jit = g_no_jit };
    luavm_t *vm = luavm_create(&opts, err, sizeof err);
    if (vm == NULL) {
        diag("luavm_create: %s", err);
        return NULL;
    }
    if (policy) {
        char path[256], chunk[256];
        snprintf(path, sizeof path, DIR "/%s.lua", policy);
        snprintf(chunk, sizeof chunk, "@policies/%s.lua", policy);
        if (luavm_load_file(vm, path, chunk, err, sizeof err) != LUAVM_OK) {
            diag("load %s: %s", policy, err);
            luavm_free(vm);
            return NULL;
        }
    }
    return vm;
}

/* Call a hook without arguments, drop its results. */
static int call0(luavm_t *vm, const char *hook)
{
    int st = luavm_call(vm, hook, 0, 0);
    return st;
}

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

static void still_works(luavm_t *vm, const char *after);

/* After a timeout with the JIT on, the VM may have been abandoned (stopped inside compiled
 * code): it must say so, refuse calls, keep its source, and a VM rebuilt from that source
 * must work. Otherwise the same VM must still work. Returns the VM to go on with. */
static luavm_t *after_timeout(luavm_t *vm, const char *after, unsigned budget, size_t mem,
                              const char *policy)
{
    if (!luavm_dead(vm)) {
        still_works(vm, after);
        return vm;
    }
    char err[512], chunk[256];
    size_t len = 0;
    const char *src = luavm_source(vm, &len);
    ok(luavm_jit(vm), "%s: only a JIT VM is ever discarded", after);
    ok(contains(luavm_errmsg(vm), "stopped inside JIT-compiled code"),
       "%s: the message says the VM was discarded: %s", after, luavm_errmsg(vm));
    is_int(luavm_call(vm, "ok", 0, 0), LUAVM_ERROR, "%s: a dead VM refuses calls", after);
    is_int(luavm_has_hook(vm, "ok"), 0, "%s: and has no hooks", after);
    ok(src != NULL && len > 0, "%s: its source is kept", after);
    luavm_opts_t opts = { .lib_dir = DIR, .budget_ms = budget, .mem_limit_bytes = mem,
                          .no_jit = g_no_jit };
    luavm_t *fresh = luavm_create(&opts, err, sizeof err);
    snprintf(chunk, sizeof chunk, "@policies/%s.lua", policy);
    is_int(fresh && src ? luavm_load_buffer(fresh, src, len, chunk, err, sizeof err) : -99,
           LUAVM_OK, "%s: a VM rebuilt from that source loads", after);
    luavm_free(vm);
    if (fresh)
        still_works(fresh, after);
    return fresh;
}

/* After any failure the same VM must answer a normal call. */
static void still_works(luavm_t *vm, const char *after)
{
    lua_State *L = luavm_state(vm);
    int top = lua_gettop(L);
    int st = luavm_call(vm, "ok", 0, 1);
    ok(st == LUAVM_OK && lua_tointeger(L, -1) == 42, "VM still works after %s", after);
    if (st == LUAVM_OK)
        lua_pop(L, 1);
    is_int(lua_gettop(L), top, "stack balanced after %s", after);
}

static void test_calls(void)
{
    luavm_t *vm = make_vm(0, 0, "basic");
    lua_State *L;
    int st;

    ok(vm != NULL, "create + load basic.lua");
    if (!vm)
        return;
    L = luavm_state(vm);
    ok(luavm_has_hook(vm, "ok"), "has_hook ok");
    ok(!luavm_has_hook(vm, "nope"), "has_hook nope = 0");
    is_int(call0(vm, "self_test"), LUAVM_OK, "self_test hook");

    lua_pushinteger(L, 2);
    lua_pushinteger(L, 40);
    st = luavm_call(vm, "add", 2, 1);
    is_int(st, LUAVM_OK, "add(2, 40)");
    is_int(lua_tointeger(L, -1), 42, "add result");
    lua_pop(L, 1);

    lua_pushstring(L, "a");
    lua_pushstring(L, "b");
    lua_pushstring(L, "c");
    st = luavm_call(vm, "echo", 3, LUA_MULTRET);
    is_int(st, LUAVM_OK, "echo with LUA_MULTRET");
    is_int(lua_gettop(L), 3, "three results");
    is_str(lua_tostring(L, 3), "c", "third result");
    lua_settop(L, 0);

    lua_pushinteger(L, 21);
    st = luavm_call(vm, "use_helper", 1, 1);
    is_int(st, LUAVM_OK, "hook using a required module");
    is_int(lua_tointeger(L, -1), 42, "helper.double(21)");
    lua_pop(L, 1);

    lua_newtable(L);
    for (int i = 1; i <= 5; i++) {
        lua_pushinteger(L, i);
        lua_rawseti(L, -2, i);
    }
    st = luavm_call(vm, "sort", 1, 1);
    is_int(st, LUAVM_OK, "table.sort with a Lua comparator");
    is_str(lua_tostring(L, -1), "5,4,3,2,1", "sorted");
    lua_pop(L, 1);

    lua_pushinteger(L, 1);
    st = luavm_call(vm, "missing", 1, 1);
    is_int(st, LUAVM_NOHOOK, "missing hook gives LUAVM_NOHOOK");
    ok(contains(luavm_errmsg(vm), "no hook 'missing'"), "NOHOOK message: %s", luavm_errmsg(vm));
    is_int(lua_gettop(L), 0, "NOHOOK pops the arguments");
    still_works(vm, "NOHOOK");

    luavm_free(vm);
}

static void test_errors(void)
{
    luavm_t *vm = make_vm(0, 0, "basic");
    lua_State *L;
    int st;

    if (!ok(vm != NULL, "create for error tests"))
        return;
    L = luavm_state(vm);

    st = call0(vm, "fail");
    is_int(st, LUAVM_ERROR, "error() gives LUAVM_ERROR");
    is_str(luavm_errmsg(vm), "policies/basic.lua:20: boom", "message has file:line");
    ok(contains(luavm_traceback(vm), "stack traceback"), "traceback kept");
    ok(contains(luavm_traceback(vm), "policies/basic.lua:23"), "traceback names the caller");
    still_works(vm, "an error");

    st = call0(vm, "fail_level0");
    is_int(st, LUAVM_ERROR, "error(msg, 0)");
    is_str(luavm_errmsg(vm), "policies/basic.lua:25: no position",
           "position added from the first policy frame");

    st = call0(vm, "fail_table");
    is_int(st, LUAVM_ERROR, "error({})");
    is_str(luavm_errmsg(vm), "policies/basic.lua:27: (error object is a table value)",
           "non-string error object");

    lua_pushnil(L);
    st = luavm_call(vm, "fail_arith", 1, 1);
    is_int(st, LUAVM_ERROR, "index a nil argument");
    ok(contains(luavm_errmsg(vm), "policies/basic.lua:29: attempt to index"),
       "runtime error message: %s", luavm_errmsg(vm));

    st = call0(vm, "recurse");
    is_int(st, LUAVM_ERROR, "unbounded recursion is an error");
    ok(contains(luavm_errmsg(vm), "stack overflow"), "stack overflow: %s", luavm_errmsg(vm));
    still_works(vm, "stack overflow");

    lua_pushinteger(L, 1);
    lua_pushinteger(L, 2);
    st = luavm_call(vm, "add", 3, 1);
    is_int(st, LUAVM_ERROR, "more nargs than values on the stack");
    lua_settop(L, 0);
    still_works(vm, "bad nargs");
    luavm_free(vm);
}

static void test_load_errors(void)
{
    char err[512], path[] = "/tmp/luavm-bytecode-XXXXXX";
    luavm_t *vm;
    int st, fd;

    vm = make_vm(0, 0, NULL);
    st = luavm_load_file(vm, DIR "/syntax.lua", "@policies/syntax.lua", err, sizeof err);
    is_int(st, LUAVM_ERROR, "syntax error");
    ok(contains(err, "policies/syntax.lua:2:"), "syntax error has file:line: %s", err);
    luavm_free(vm);

    vm = make_vm(0, 0, NULL);
    st = luavm_load_file(vm, DIR "/notable.lua", "@policies/notable.lua", err, sizeof err);
    is_int(st, LUAVM_ERROR, "policy returning a number");
    ok(contains(err, "must return a table"), "message: %s", err);
    luavm_free(vm);

    vm = make_vm(0, 0, NULL);
    st = luavm_load_file(vm, DIR "/loaderr.lua", "@policies/loaderr.lua", err, sizeof err);
    is_int(st, LUAVM_ERROR, "error while loading");
    ok(contains(err, "policies/loaderr.lua:4:"), "load-time error has file:line: %s", err);
    luavm_free(vm);

    vm = make_vm(0, 0, NULL);
    st = luavm_load_file(vm, DIR "/loadglobal.lua", "@policies/loadglobal.lua", err, sizeof err);
    is_int(st, LUAVM_ERROR, "global write at load time");
    ok(contains(err, "policies/loadglobal.lua:2: attempt to set global 'filter'"), "%s", err);
    luavm_free(vm);

    vm = make_vm(30, 0, NULL);
    st = luavm_load_file(vm, DIR "/loadspin.lua", "@policies/loadspin.lua", err, sizeof err);
    is_int(st, LUAVM_TIMEOUT, "a policy that never finishes loading");
    ok(contains(err, luavm_dead(vm) ? "policies/loadspin.lua: time budget of 30 ms exceeded"
                                    : "policies/loadspin.lua:2: time budget of 30 ms exceeded"),
       "%s", err);
    luavm_free(vm);

    vm = make_vm(0, 0, NULL);
    st = luavm_load_file(vm, DIR "/nosuch.lua", NULL, err, sizeof err);
    is_int(st, LUAVM_ERROR, "missing file");
    ok(contains(err, "cannot open"), "%s", err);
    st = luavm_load_file(vm, DIR, NULL, err, sizeof err);
    is_int(st, LUAVM_ERROR, "a directory");
    luavm_free(vm);

    /* Real LuaJIT bytecode, made by a plain state with string.dump. */
    fd = mkstemp(path);
    if (ok(fd >= 0, "temp file for bytecode")) {
        lua_State *P = luaL_newstate();
        size_t len = 0;
        const char *bc;
        luaL_openlibs(P);
        (void)luaL_dostring(P, "return string.dump(function() return {} end)");
        bc = lua_tolstring(P, -1, &len);
        ok(bc && len > 4 && bc[0] == '\x1b', "bytecode made");
        ok(bc && write(fd, bc, len) == (ssize_t)len, "bytecode written");
        close(fd);
        lua_close(P);
        vm = make_vm(0, 0, NULL);
        st = luavm_load_file(vm, path, "@policies/bytecode.lua", err, sizeof err);
        is_int(st, LUAVM_ERROR, "bytecode policy rejected");
        ok(contains(err, "binary chunks are not allowed"), "%s", err);
        luavm_free(vm);
        unlink(path);
    }

    vm = make_vm(0, 0, "basic");
    st = luavm_load_file(vm, DIR "/basic.lua", NULL, err, sizeof err);
    is_int(st, LUAVM_ERROR, "second load into one VM");
    still_works(vm, "a refused second load");
    luavm_free(vm);

    vm = make_vm(0, 0, NULL);
    is_int(luavm_call(vm, "ok", 0, 0), LUAVM_ERROR, "call before any load");
    ok(!luavm_has_hook(vm, "ok"), "no hooks before load");
    luavm_free(vm);
}

static void test_budget(void)
{
    static const char *const spins[] = {
        "spin", "spin_count", "spin_call", "spin_pcall", "spin_xpcall", "spin_sort"
    };
    luavm_t *vm = make_vm(50, 0, "basic");
    double t0;
    size_t i;

    if (!ok(vm != NULL, "create for budget tests"))
        return;
    for (i = 0; i < sizeof spins / sizeof spins[0]; i++) {
        int st;
        t0 = now_s();
        st = call0(vm, spins[i]);
        is_int(st, LUAVM_TIMEOUT, "%s returns LUAVM_TIMEOUT", spins[i]);
        diag("%s stopped after %.1f ms (budget 50 ms): %s", spins[i], (now_s() - t0) * 1e3,
             luavm_errmsg(vm));
        ok(contains(luavm_errmsg(vm), luavm_dead(vm) ? "policies/basic.lua: " : "policies/basic.lua:")
           && contains(luavm_errmsg(vm), "time budget of 50 ms exceeded"),
           "timeout message has the file (and the line, unless stopped in compiled code)");
        vm = after_timeout(vm, spins[i], 50, 0, "basic");
        if (!vm)
            return;
    }

    /* Hot reload: a second VM loads and self-tests while the first one runs; a timeout
     * in one leaves the other alone. */
    {
        luavm_t *next = make_vm(50, 0, "basic");
        if (ok(next != NULL, "second VM for reload")) {
            is_int(call0(next, "self_test"), LUAVM_OK, "new VM passes self_test");
            is_int(call0(vm, "spin"), LUAVM_TIMEOUT, "old VM times out");
            still_works(next, "the other VM timed out");
            vm = after_timeout(vm, "spin in the old VM", 50, 0, "basic");
            luavm_free(vm);
            vm = next;
            still_works(vm, "the swap");
        }
    }
    luavm_free(vm);
}

/* A VM on another thread, one that started with every signal blocked: its timer must
 * signal that thread, and create must have unblocked the signal there. */
static void *thread_main(void *arg)
{
    int *res = arg;
    luavm_t *vm = make_vm(50, 0, "basic");
    if (vm == NULL)
        return NULL;
    res[0] = call0(vm, "spin");
    if (luavm_dead(vm)) {
        luavm_free(vm);
        vm = make_vm(50, 0, "basic");
        if (vm == NULL)
            return NULL;
    }
    res[1] = call0(vm, "ok");
    luavm_free(vm);
    return NULL;
}

static void test_thread(void)
{
    sigset_t all, old;
    pthread_t th;
    int res[2] = { 99, 99 };

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (ok(pthread_create(&th, NULL, thread_main, res) == 0, "thread started")) {
        pthread_join(th, NULL);
        is_int(res[0], LUAVM_TIMEOUT, "spin on a thread that blocked all signals times out");
        is_int(res[1], LUAVM_OK, "and its next call works");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void test_memory(void)
{
    static const char *const grows[] = { "grow_tables", "grow_double", "grow_strings", "grow_rep" };
    size_t limit = 16u * 1024 * 1024;
    /* A long budget: under valgrind filling 16 MiB takes a while and must end as NOMEM. */
    luavm_t *vm = make_vm(20000, limit, "basic");
    size_t i;
    int st;

    if (!ok(vm != NULL, "create for memory tests"))
        return;
    for (i = 0; i < sizeof grows / sizeof grows[0]; i++) {
        double t0 = now_s();
        st = call0(vm, grows[i]);
        is_int(st, LUAVM_NOMEM, "%s returns LUAVM_NOMEM", grows[i]);
        diag("%s stopped after %.1f ms: %s", grows[i], (now_s() - t0) * 1e3, luavm_errmsg(vm));
        ok(contains(luavm_errmsg(vm), "memory limit of 16777216 bytes exceeded in hook"),
           "NOMEM message");
        ok(luavm_mem_used(vm) < limit / 2, "memory freed after NOMEM (%zu bytes)",
           luavm_mem_used(vm));
        still_works(vm, grows[i]);
    }
    luavm_free(vm);

    /* A policy that catches NOMEM and retries forever is ended by the time budget. */
    vm = make_vm(200, limit, "basic");
    if (vm) {
        st = call0(vm, "grow_pcall");
        ok(st == LUAVM_TIMEOUT || st == LUAVM_NOMEM, "grow_pcall returns (%s)",
           luavm_status_name(st));
        vm = after_timeout(vm, "grow_pcall", 200, limit, "basic");
        luavm_free(vm);
    }

    vm = make_vm(0, 0, NULL);
    if (vm) {
        char err[256];
        luavm_opts_t tiny = { .lib_dir = DIR, .mem_limit_bytes = 1 };
        luavm_t *t = luavm_create(&tiny, err, sizeof err);
        ok(t != NULL, "a VM is created even with a cap below its baseline");
        if (t) {
            st = luavm_load_file(t, DIR "/basic.lua", NULL, err, sizeof err);
            is_int(st, LUAVM_NOMEM, "but loading into it is NOMEM");
            luavm_free(t);
        }
        luavm_free(vm);
    }
}

struct sandbox_case {
    const char *hook, *want;
};

static void test_sandbox(void)
{
    static const struct sandbox_case cases[] = {
        { "io", "sandbox.lua:5: undefined global 'io'" },
        { "os_execute", "sandbox.lua:6: attempt to call field 'execute'" },
        { "os_exit", "attempt to call field 'exit'" },
        { "os_getenv", "attempt to call field 'getenv'" },
        { "debug", "undefined global 'debug'" },
        { "ffi", "undefined global 'ffi'" },
        { "jit", "undefined global 'jit'" },
        { "require_ffi", "module 'ffi' not found" },
        { "require_jit", "module 'jit' not found" },
        { "require_up", "invalid module name '../basic'" },
        { "require_abs", "invalid module name '/etc/passwd'" },
        { "require_missing", "module 'nosuchmodule' not found" },
        { "require_fail", "lua/helper.lua:4: helper failed" },
        { "dump", "attempt to call field 'dump'" },
        { "dump_method", "attempt to call method 'dump'" },
        { "load_binary", "binary chunks are not allowed" },
        { "load_mode_b", "only text chunks" },
        { "load_sees_env", "undefined global 'undefined_name'" },
        { "loadstring", "undefined global 'loadstring'" },
        { "dofile", "undefined global 'dofile'" },
        { "loadfile", "undefined global 'loadfile'" },
        { "getfenv", "undefined global 'getfenv'" },
        { "rawset", "undefined global 'rawset'" },
        { "set_global", "sandbox.lua:37: attempt to set global 'x'" },
        { "set_existing_global", "attempt to set global 'pairs'" },
        { "set_G", "attempt to set global 'y'" },
        { "read_undefined", "sandbox.lua:40: undefined global 'undefined_thing'" },
        { "modify_string", "attempt to modify read-only table 'string'" },
        { "add_string", "attempt to modify read-only table 'string'" },
        { "modify_table", "attempt to modify read-only table 'table'" },
        { "modify_math", "attempt to modify read-only table 'math'" },
        { "modify_os", "attempt to modify read-only table 'os'" },
        { "setmt_string", "cannot change a protected metatable" },
        { "setmt_env", "cannot change a protected metatable" },
        { "string_mt", "attempt to index a boolean value" },
        { "getmt_env", "protected" },
        { "collect", "only \"count\" is allowed" },
        { "print", "undefined global 'print'" },
        { "coroutine", "undefined global 'coroutine'" },
        { "newproxy", "undefined global 'newproxy'" },
        { "package", "undefined global 'package'" },
    };
    luavm_t *vm = make_vm(0, 0, "sandbox");
    lua_State *L;
    size_t i;
    int st;

    if (!ok(vm != NULL, "create + load sandbox.lua"))
        return;
    L = luavm_state(vm);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st = call0(vm, cases[i].hook);
        if (!ok(st == LUAVM_ERROR && contains(luavm_errmsg(vm), cases[i].want),
                "sandbox blocks %s", cases[i].hook))
            diag("status %s, message: %s", luavm_status_name(st), luavm_errmsg(vm));
    }
    st = luavm_call(vm, "load_text", 0, 1);
    ok(st == LUAVM_OK && lua_tointeger(L, -1) == 2, "load of text works");
    lua_settop(L, 0);
    st = luavm_call(vm, "allowed", 0, 1);
    is_int(st, LUAVM_OK, "allowed functions work");
    is_str(lua_tostring(L, -1), "2 truetruestring ABC 3 false hi! true true2",
           "allowed results");
    if (st != LUAVM_OK)
        diag("%s", luavm_errmsg(vm));
    lua_settop(L, 0);
    luavm_free(vm);

    /* A VM without lib_dir has no require. */
    {
        char err[256];
        luavm_opts_t o = { 0 };
        vm = luavm_create(&o, err, sizeof err);
        if (ok(vm != NULL, "create without lib_dir")) {
            st = luavm_load_file(vm, DIR "/basic.lua", "@policies/basic.lua", err, sizeof err);
            is_int(st, LUAVM_ERROR, "basic.lua requires a module: fails without lib_dir");
            ok(contains(err, "policies/basic.lua:2: require is disabled"), "%s", err);
            luavm_free(vm);
        }
    }
}

/* ------------------------------------------------------------ micro benchmark ------- */

static void push_pod(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, 500);
    lua_setfield(L, -2, "cpu");
    lua_pushinteger(L, 1024);
    lua_setfield(L, -2, "mem");
}

/* The alternative mechanism measured against ours: a count hook every 1000 bytecodes that
 * reads the clock (it never fires a timeout here). */
static double bench_deadline;
static void bench_count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (now_s() > bench_deadline)
        luaL_error(L, "timeout");
}

/* mode 0: JIT on, no hook; mode 1: JIT off, count hook every 1000 instructions. */
static double bench_plain(int mode, int nodes, int calls)
{
    lua_State *L = luaL_newstate();
    double t0, dt;
    int i, good = 1;

    luaL_openlibs(L);
    if (luaL_loadfile(L, DIR "/bench.lua") || lua_pcall(L, 0, 1, 0)) {
        diag("bench: %s", lua_tostring(L, -1));
        lua_close(L);
        return 0;
    }
    if (mode == 1) {
        luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
        bench_deadline = now_s() + 3600;
        lua_sethook(L, bench_count_hook, LUA_MASKCOUNT, 1000);
    }
    lua_getfield(L, -1, "setup");
    lua_pushinteger(L, nodes);
    lua_call(L, 1, 0);
    t0 = now_s();
    for (i = 0; i < calls; i++) {
        lua_getfield(L, -1, "schedule");
        push_pod(L);
        if (lua_pcall(L, 1, 2, 0) != 0 || !lua_isstring(L, -2))
            good = 0;
        lua_pop(L, lua_gettop(L) - 1);
    }
    dt = now_s() - t0;
    lua_close(L);
    return good ? (double)nodes * calls / dt : 0;
}

static double bench_luavm(int nodes, int calls, double *per_call_us)
{
    luavm_t *vm = make_vm(5000, 0, "bench");
    lua_State *L;
    double t0, dt;
    int i, good = 1;

    if (vm == NULL)
        return 0;
    L = luavm_state(vm);
    lua_pushinteger(L, nodes);
    if (luavm_call(vm, "setup", 1, 0) != LUAVM_OK)
        good = 0;
    t0 = now_s();
    for (i = 0; i < calls; i++) {
        push_pod(L);
        if (luavm_call(vm, "schedule", 1, 2) != LUAVM_OK || !lua_isstring(L, -2))
            good = 0;
        lua_settop(L, 0);
    }
    dt = now_s() - t0;
    /* Fixed cost of one budgeted call: timer arm + disarm, pcall, handler push. */
    lua_pushinteger(L, 0);
    if (luavm_call(vm, "setup", 1, 0) != LUAVM_OK)
        good = 0;
    t0 = now_s();
    for (i = 0; i < calls * 20; i++) {
        push_pod(L);
        if (luavm_call(vm, "schedule", 1, 2) != LUAVM_OK)
            good = 0;
        lua_settop(L, 0);
    }
    *per_call_us = (now_s() - t0) / (calls * 20) * 1e6;
    luavm_free(vm);
    return good ? (double)nodes * calls / dt : 0;
}

static void test_bench(void)
{
    const char *env = getenv("BERTH_LUAVM_BENCH_CALLS");
    int calls = env ? atoi(env) : 200, nodes = 5000;
    double jit, hook, ours, ours_nojit, per_call = 0, per_call_nojit = 0;

    if (calls <= 0)
        calls = 1;
    jit = bench_plain(0, nodes, calls);
    hook = bench_plain(1, nodes, calls);
    ours = bench_luavm(nodes, calls, &per_call);
    g_no_jit = 1;
    ours_nojit = bench_luavm(nodes, calls, &per_call_nojit);
    g_no_jit = 0;
    ok(jit > 0 && hook > 0 && ours > 0 && ours_nojit > 0, "benchmark ran (%d calls x %d nodes)",
       calls, nodes);
    diag("filter+score, node evaluations/s: plain LuaJIT, JIT on, no hook: %.2f M", jit / 1e6);
    diag("  JIT off + count hook every 1000 instructions: %.2f M (%.2fx slower than JIT)",
         hook / 1e6, hook > 0 ? jit / hook : 0);
    diag("  luavm, JIT on (the default): %.2f M (%.2fx slower than plain JIT)",
         ours / 1e6, ours > 0 ? jit / ours : 0);
    diag("  luavm, JIT off (no_jit): %.2f M (%.2fx slower than plain JIT)",
         ours_nojit / 1e6, ours_nojit > 0 ? jit / ours_nojit : 0);
    diag("  luavm fixed cost per call (empty node list): %.2f us JIT on, %.2f us JIT off",
         per_call, per_call_nojit);
}

int main(void)
{
    if (access(DIR "/basic.lua", R_OK) != 0 && getenv("BERTH_TOP"))
        if (chdir(getenv("BERTH_TOP")) != 0)
            return 1;
    plan_no_plan();
    test_calls();
    test_errors();
    test_load_errors();
    test_budget();
    test_thread();
    test_memory();
    /* The same budget and cap tests with the interpreter only (opts.no_jit, and what a
     * policy rebuilt after an abandonment runs with): every stop is the soft one there. */
    g_no_jit = 1;
    test_budget();
    test_memory();
    g_no_jit = 0;
    test_sandbox();
    test_bench();
    return done_testing();
}
