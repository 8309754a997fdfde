/* luavm.h: a sandboxed LuaJIT VM that runs berth's policies (scheduler, controllers) under a
 * wall-clock budget per call and a memory cap per VM.
 *
 * A policy is a text Lua file that returns a table of hooks (functions). The host loads it
 * with luavm_load_file(), pushes arguments on luavm_state() and calls a hook by name with
 * luavm_call(). Each call either finishes, or fails with a distinct status and a one-line
 * message that starts with "file:line:" of the innermost policy frame; the VM stays usable
 * after any failure. Hot reload: create a new VM, load, optionally call its "self_test"
 * hook, then swap and free the old one.
 *
 * The environment is an allow list, frozen (see docs/policies.md): base functions, string
 * (no dump), table, math, os.time/clock/date, a text-only load, collectgarbage("count"),
 * and require() limited to opts->lib_dir and to host modules (luavm_preload). Reading an unknown global and writing any global
 * raise errors.
 *
 * Budget mechanism (docs/policies.md, "Budgets"): the JIT is on (opts->no_jit turns it
 * off). No hook is installed while a policy runs; a per-VM POSIX timer aimed at the calling
 * thread fires a signal at the deadline, whose handler installs a count hook that raises an
 * error at the next bytecode the interpreter runs: the VM stays usable. LuaJIT hooks never
 * fire inside compiled traces, so with the JIT on the timer fires again LUAVM_GRACE_MS
 * later; if the call still runs and the signal lands in compiled code (not in LuaJIT's C
 * runtime, the allocator, libc or a host function), the handler jumps out of it and the VM
 * is abandoned: it returns LUAVM_TIMEOUT and from then on luavm_dead() is 1, its memory is
 * freed (the allocator keeps every block on a list), and only luavm_free may be called;
 * the host rebuilds it (policy.c does, from luavm_source, with the JIT off). Memory: a
 * custom allocator counts bytes and refuses to grow past the cap while a call runs, so even
 * one huge allocation fails cleanly.
 * Known limit: a single C function that runs long without allocating (a pathological
 * string.find pattern) is not interrupted until it returns.
 *
 * Threads: a VM is used only by the thread that created it (the timer signals that thread;
 * luavm_create unblocks the signal there, and the thread must not block it again).
 * The process-wide handler for the timer's signal (SIGRTMIN+5) is installed by the first
 * luavm_create(); nothing else in berth may use that signal.
 *
 * Depends on LuaJIT 2.1 (built with GC64, so lua_newstate accepts our allocator) and POSIX
 * timers. Used by the scheduler and the controllers (policies/), and by t/c/luavm.c. */
#ifndef BERTH_LUAVM_H
#define BERTH_LUAVM_H

#include <stddef.h>
#include <lua.h>

/* Status codes of luavm_load_file() and luavm_call(). */
enum {
    LUAVM_OK      = 0,
    LUAVM_ERROR   = -1,  /* a Lua error, a compile error, a bad file, misuse of the API */
    LUAVM_TIMEOUT = -2,  /* the call ran past opts->budget_ms */
    LUAVM_NOMEM   = -3,  /* the VM would have grown past opts->mem_limit_bytes */
    LUAVM_NOHOOK  = -4   /* the policy has no function under that name */
};

#define LUAVM_DEFAULT_BUDGET_MS  50
#define LUAVM_DEFAULT_MEM_LIMIT  (64u * 1024 * 1024)
#define LUAVM_MAX_SOURCE_BYTES   (4u * 1024 * 1024)   /* policy and module files */

typedef struct luavm_s luavm_t;

typedef struct luavm_opts_s {
    /* Directory require() reads modules from: require("a.b") loads <lib_dir>/a/b.lua with
     * the chunk name "@lua/a/b.lua". NULL disables require. Copied by luavm_create. */
    const char *lib_dir;
    unsigned    budget_ms;        /* wall clock per call; 0 means LUAVM_DEFAULT_BUDGET_MS */
    size_t      mem_limit_bytes;  /* whole VM; 0 means LUAVM_DEFAULT_MEM_LIMIT */
    int         no_jit;           /* 1: interpreter only (always so where the signal's
                                   * program counter cannot be read: not x86-64/arm64) */
} luavm_opts_t;

/* A fresh VM with the policy environment and no policy loaded. opts may be NULL (defaults).
 * NULL with err filled on failure (no memory, no timer, a LuaJIT without custom
 * allocators). Caller frees with luavm_free(). */
luavm_t *luavm_create(const luavm_opts_t *opts, char *err, size_t errlen);

/* Close the Lua state, delete the timer. NULL is a no-op. Must not be called from inside a
 * hook of the same VM. */
void luavm_free(luavm_t *vm);

/* Read path (text only: bytecode is rejected), compile it with chunkname (e.g.
 * "@policies/scheduler.lua"; NULL means "@" path) and run it under the budget. The chunk
 * must return a table: its function fields are the hooks. Only one policy per VM: a second
 * load returns LUAVM_ERROR. Returns a LUAVM_* status; on failure err holds the message
 * (compile errors look like "policies/x.lua:12: ... near ..."), also kept in
 * luavm_errmsg(). */
int luavm_load_file(luavm_t *vm, const char *path, const char *chunkname,
                    char *err, size_t errlen);

/* Like luavm_load_file, from a buffer (text only) with the chunk name given. */
int luavm_load_buffer(luavm_t *vm, const char *buf, size_t len, const char *chunkname,
                      char *err, size_t errlen);

/* The policy source as loaded (borrowed, NUL-terminated; also after the VM died), or NULL
 * before a load got as far as compiling. */
const char *luavm_source(const luavm_t *vm, size_t *len);

/* 1 once a call was abandoned inside compiled code (see above): only luavm_free, luavm_source,
 * luavm_errmsg and these getters may be used. */
int luavm_dead(const luavm_t *vm);
/* 1 if the JIT compiler is on in this VM. */
int luavm_jit(const luavm_t *vm);

/* Host modules that tie C state to a VM free it in a __gc metamethod, which lua_close runs.
 * An abandoned VM is never closed: register fn(priv) here to hear of that instead. A no-op
 * (returning 0) for states not made by luavm. luavm_forget_discard drops the registration
 * (call it from the __gc). 0, or -1 when out of memory. */
int luavm_on_discard(lua_State *L, void (*fn)(void *priv), void *priv);
void luavm_forget_discard(lua_State *L, void *priv);

/* 1 if the loaded policy has a function named hook, else 0. */
int luavm_has_hook(luavm_t *vm, const char *hook);

/* A plain field of the table the policy returned (read with rawget: no policy code runs).
 * Returns the field's Lua type (LUA_TNIL when absent or no policy is loaded); when it is a
 * number, *out holds it. For settings such as budget_ms. */
int luavm_policy_field(luavm_t *vm, const char *field, double *out);

/* Make require(name) return a host module in this VM: calls open(name) once, now, with
 * upvalue as its first upvalue (a light userdata, lua_upvalueindex(1)), and stores what it
 * returns as the loaded module `name` (so require never looks for a file of that name). A
 * table result is stored frozen, as the standard libraries are: a read-only proxy (writes
 * raise, pairs() sees an empty table, index functions by name). open runs unprotected by
 * the budget and the cap but under lua_cpcall, so a Lua error in it is returned as
 * LUAVM_ERROR with luavm_errmsg() set. Call it before luavm_load_file (policy.h's setup
 * hook), never from inside a call. The module's functions must respect the sandbox: they
 * must not hand out the full libraries or the registry. Returns a LUAVM_* status. */
int luavm_preload(luavm_t *vm, const char *name, lua_CFunction open, void *upvalue);

/* The Lua state, borrowed: push the nargs arguments of the next luavm_call() here and read
 * its results. The memory cap is not enforced outside calls, so pushing arguments cannot
 * fail for it (keep them small). Do not call Lua functions on it directly: only
 * luavm_call() runs under the budget. */
lua_State *luavm_state(luavm_t *vm);

/* Call hook with the nargs values on top of the stack (they are always popped). On LUAVM_OK
 * exactly nresults values are left on the stack (LUA_MULTRET is allowed); the caller pops
 * them. On any other status nothing is left and luavm_errmsg() says why. Calls do not nest. */
int luavm_call(luavm_t *vm, const char *hook, int nargs, int nresults);

/* The message of the last failure, one line starting with "file:line:" when the failure
 * happened in Lua code (not for LUAVM_NOMEM: the stack is gone when the allocator refuses,
 * so that message names the hook). Borrowed until the next load or call. "" after OK. */
/* Like luavm_call, for a function the host pushed itself (below its nargs arguments), such
 * as a library function that drives the policy's hooks: the same budget, memory cap and
 * error handling. name (static or long-lived) names it in messages. */
int luavm_call_function(luavm_t *vm, const char *name, int nargs, int nresults);

/* Push module as the policy's own require(module) returns it (loading it under the budget
 * if needed). LUAVM_OK with the module on the stack, or a failure status (luavm_errmsg). */
int luavm_require(luavm_t *vm, const char *module);

/* Push the table the loaded policy returned; 0 (nothing pushed) before a policy loaded.
 * The host reads fields of it (controller declarations) and passes it to library code;
 * it must not change it. */
int luavm_push_policy(luavm_t *vm);

const char *luavm_errmsg(const luavm_t *vm);

/* The stack traceback of the last LUAVM_ERROR/LUAVM_TIMEOUT, for logs; "" if none. Borrowed
 * like luavm_errmsg(). */
const char *luavm_traceback(const luavm_t *vm);

/* Bytes the VM holds now (what the cap compares against). */
size_t luavm_mem_used(const luavm_t *vm);

/* "ok", "error", "timeout", "nomem", "nohook", for logs and tests. */
const char *luavm_status_name(int status);

#endif
