/* luarun.h: `berth run SCRIPT.lua [ARGS...]`, operations scripts against a cluster.
 *
 * A script is the user's own program, so it runs in a plain LuaJIT state: the full standard
 * library, the JIT on, no time budget and no memory cap (unlike policies, luavm.h). What it
 * shares with the policies is the Lua library under lua/ and the shape of the cluster API:
 *
 *   require("berth.cluster")  lua/berth/script/cluster.lua: get/list/index/create/update/
 *                             patch/delete/evict/event/bind/log with the policies' names and
 *                             arguments, but synchronous over HTTP (each call returns the
 *                             server's answer, or nil, message, code);
 *   require("berth.script")   lua/berth/script.lua: watch, wait_for, apply, logs, exec,
 *                             sleep, print/printf, log helpers, exit, args;
 *   require("berth.script.core")  the C functions both are built on (this unit): HTTP
 *                             requests and streams through kubeclient.h, discovery, exec
 *                             through execclient.h, manifests, JSON/YAML, clocks, exit.
 *
 * luarun.c is the verb (flags, the state, the error report "berth run: file:line: msg" and
 * the exit code); luarun_core.c holds the core module. Depends on kubeclient.h, cli.h,
 * execclient.h, luajson.h, yaml_json.h and LuaJIT. Called by main.c (run_main). The Lua API
 * is documented in docs/lua-api.md, "Scripts: berth run". */
#ifndef BERTH_LUARUN_H
#define BERTH_LUARUN_H

#include <lua.h>

#include "kubeclient.h"

#define LUARUN_CORE_MODULE "berth.script.core"
#define LUARUN_EXIT_MT     "berth.script.exit"   /* metatable of the exit(code) sentinel */

/* What the core functions need, owned by run_main for the life of the state. */
typedef struct luarun_s {
    kubeclient_t           *kc;        /* requests (borrowed from run_main) */
    kubeclient_opts_t       opts;      /* to open extra clients for streams (borrowed) */
    kubeclient_t           *stream_kc; /* an idle client kept for watch streams, or NULL */
    int                     streaming; /* stream_kc is in use by a stream now */
    const char             *script;    /* the script's path as given */
    const char             *lua_dir;   /* where berth's Lua library is */
    int                     verbose;   /* --verbose: debug log lines shown */
} luarun_t;

/* Push the core module table (LUARUN_CORE_MODULE) for run (borrowed: must outlive L). */
void luarun_inject_core_api(lua_State *L, luarun_t *run);

/* 1 if the value at idx is the sentinel that script.exit(code) raises, with *code set. */
int luarun_is_exit(lua_State *L, int idx, int *code);

/* `berth run`: main.c's entry point. argv[0] is "run". */
int run_main(int argc, char **argv);

#endif
