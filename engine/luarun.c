/* luarun.c: the `berth run` verb (see luarun.h): its flags, the Lua state a script runs in,
 * and how a script's end becomes the exit status.
 *
 *   berth run [--server URL] [--kubeconfig FILE] [--context NAME] [-n NS] [--lua DIR]
 *             [--traceback] [--verbose] SCRIPT.lua [ARGS...]
 *
 * Flags go before the script; everything after its name is the script's (arg[1..], and
 * require("berth.script").args). The state is a plain LuaJIT one: luaL_openlibs, JIT on, no
 * budget, with package.path on berth's lua/ directory and then the script's own directory.
 * Exit status: 0 when the script ends (or the integer it returns, or script.exit(code)); 1
 * when it raises, after one line "berth run: file:line: message" on stderr (--traceback adds
 * the stack); 2 for a usage error of berth run itself. */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "cli.h"
#include "luarun.h"
#include "scheduler.h"

/* What runs before the script: the core module, require("berth.cluster") as the scripts'
 * synchronous version, and pcall/xpcall/coroutine.resume that let the exit sentinel through
 * (so a script's pcall cannot swallow script.exit). */
static const char lr_boot[] =
    "local core, lua_dir, script_dir = ...\n"
    "package.path = lua_dir .. '/?.lua;' .. script_dir .. '/?.lua;' .. package.path\n"
    "package.loaded['berth.script.core'] = core\n"
    "package.preload['berth.cluster'] = function() return require('berth.script.cluster') end\n"
    "local is_exit, pcall0, xpcall0, resume0, err0 = core.is_exit, pcall, xpcall,\n"
    "    coroutine.resume, error\n"
    "local function pass(ok, ...)\n"
    "    if not ok and is_exit((...)) then err0((...), 0) end\n"
    "    return ok, ...\n"
    "end\n"
    "pcall = function(f, ...) return pass(pcall0(f, ...)) end\n"
    "xpcall = function(f, h, ...)\n"
    "    return pass(xpcall0(f, function(e) if is_exit(e) then return e end return h(e) end, ...))\n"
    "end\n"
    "coroutine.resume = function(co, ...) return pass(resume0(co, ...)) end\n";

static void lr_usage(FILE *out)
{
    fprintf(out,
            "usage: berth run [--server URL] [--kubeconfig FILE] [--context NAME] [-n NS]\n"
            "                 [--lua DIR] [--traceback] [--verbose] SCRIPT.lua [ARGS...]\n"
            "Runs an operations script against the cluster with berth's Lua API\n"
            "(require \"berth.cluster\", require \"berth.script\"; docs/lua-api.md).\n"
            "Flags go before SCRIPT; the arguments after it are the script's. SCRIPT - reads\n"
            "the script from stdin. Exit status: 0, the script's exit(code), 1 on an error.\n");
}

/* The message handler: keeps the exit sentinel as it is; turns anything else into a table
 * {message, traceback}. */
static int lr_msgh(lua_State *L)
{
    const char *msg;
    if (luarun_is_exit(L, 1, NULL))
        return 1;
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
        msg = lua_tostring(L, 1);
    else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
        msg = lua_tostring(L, -1);
    else
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    lua_createtable(L, 2, 0);
    lua_pushstring(L, msg);
    lua_rawseti(L, -2, 1);
    luaL_traceback(L, L, NULL, 1);
    lua_rawseti(L, -2, 2);
    return 1;
}

/* Report a failed pcall (error value on top) and return the exit status. */
static int lr_report(lua_State *L, int traceback)
{
    int code;
    if (luarun_is_exit(L, -1, &code))
        return code;
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        fprintf(stderr, "berth run: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        if (traceback) {
            lua_rawgeti(L, -1, 2);
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else {
        fprintf(stderr, "berth run: %s\n",
                lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)");
    }
    return 1;
}

/* The script's directory, for require of its neighbours ("." for a bare name or stdin). */
static void lr_script_dir(const char *script, char *out, size_t outlen)
{
    char tmp[4096];
    if (!strcmp(script, "-")) {
        snprintf(out, outlen, ".");
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s", script);
    snprintf(out, outlen, "%s", dirname(tmp));
}

/* Run the script in L; returns the exit status. */
static int lr_execute(lua_State *L, luarun_t *run, int argc, char **argv, int traceback)
{
    char sdir[4096];
    int st, base, nres;

    lua_pushcfunction(L, lr_msgh);
    base = lua_gettop(L);

    /* The boot chunk: module paths, the core, exit-safe pcall. */
    lr_script_dir(run->script, sdir, sizeof(sdir));
    if (luaL_loadbuffer(L, lr_boot, sizeof(lr_boot) - 1, "=berth-run") != 0)
        return lr_report(L, traceback);
    luarun_inject_core_api(L, run);
    lua_pushstring(L, run->lua_dir);
    lua_pushstring(L, sdir);
    if (lua_pcall(L, 3, 0, base) != 0)
        return lr_report(L, traceback);

    /* arg, as the standalone interpreter sets it. */
    lua_createtable(L, argc, 2);
    lua_pushstring(L, "berth run");
    lua_rawseti(L, -2, -1);
    lua_pushstring(L, run->script);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");

    if (luaL_loadfile(L, strcmp(run->script, "-") ? run->script : NULL) != 0) {
        /* "cannot open x.lua" or a syntax error "x.lua:3: ... near ...". */
        fprintf(stderr, "berth run: %s\n", lua_tostring(L, -1));
        return 1;
    }
    luaL_checkstack(L, argc + 4, "too many arguments");
    for (int i = 0; i < argc; i++)
        lua_pushstring(L, argv[i]);
    st = lua_pcall(L, argc, LUA_MULTRET, base);
    if (st != 0)
        return lr_report(L, traceback);
    nres = lua_gettop(L) - base;
    /* A script may end with `return 3`: that is its exit status. */
    if (nres > 0 && lua_type(L, base + 1) == LUA_TNUMBER) {
        double d = lua_tonumber(L, base + 1);
        if (d >= 0 && d <= 255)
            return (int)d;
        return 1;
    }
    if (nres > 0 && lua_type(L, base + 1) == LUA_TBOOLEAN && !lua_toboolean(L, base + 1))
        return 1;
    return 0;
}

int run_main(int argc, char **argv)
{
    cli_conn_t conn;
    luarun_t run;
    const char *lua_dir = NULL, *script = NULL;
    char ldir[4096], probe[4200];
    int traceback = 0, i, rc;
    lua_State *L;

    memset(&conn, 0, sizeof(conn));
    memset(&run, 0, sizeof(run));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int used, matched;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !strcmp(a, "-"))
            break;
        used = cli_conn_flag(&conn, argc, argv, &i);
        if (used < 0)
            return 2;
        if (used)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            lr_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--traceback")) {
            traceback = 1;
            continue;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            run.verbose = 1;
            continue;
        }
        v = cli_flag_value(argc, argv, &i, "--lua", NULL, &matched);
        if (matched < 0)
            return 2;
        if (matched) {
            lua_dir = v;
            continue;
        }
        fprintf(stderr, "berth run: unknown flag %s (flags go before the script)\n", a);
        lr_usage(stderr);
        return 2;
    }
    if (i >= argc) {
        fprintf(stderr, "berth run: no script given\n");
        lr_usage(stderr);
        return 2;
    }
    script = argv[i];
    if (lua_dir == NULL) {
        scheduler_default_dir("lua", ldir, sizeof(ldir));
        lua_dir = ldir;
    }
    snprintf(probe, sizeof(probe), "%s/berth/script.lua", lua_dir);
    if (access(probe, R_OK) != 0) {
        fprintf(stderr, "berth run: berth's Lua library is not in %s (no berth/script.lua "
                "there): give it with --lua DIR\n", lua_dir);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Line-buffered, so a script's output interleaves with its log lines in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    run.kc = cli_connect(&conn);
    if (run.kc == NULL)
        return 1;
    run.opts = conn.opts;
    run.script = script;
    run.lua_dir = lua_dir;
    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "berth run: cannot create a Lua state (out of memory)\n");
        kubeclient_free(run.kc);
        return 1;
    }
    luaL_openlibs(L);
    rc = lr_execute(L, &run, argc - i - 1, argv + i + 1, traceback);
    fflush(stdout);
    lua_close(L);
    if (run.stream_kc)
        kubeclient_free(run.stream_kc);
    kubeclient_free(run.kc);
    return rc;
}
