/* policy.h: the policy manager. Loads berth's Lua policies (scheduler, controllers) from a
 * directory, one sandboxed VM per file (engine/luavm.h), keeps each one's last good version
 * running, and hot-reloads them when their file changes or on SIGHUP.
 *
 * Loading is lazy: policy_get(set, "scheduler.lua") loads the file on first use, and from
 * then on the set watches it. Names are relative to the directory: "<file>.lua" or
 * "<subdir>/<file>.lua" (one level of subdirectory, e.g. "schedulers/binpack.lua"). Chunk
 * names are "@policies/<name>", so every message starts with "policies/<name>:<line>:".
 *
 * A policy table may set two numbers besides its hooks:
 *   budget_ms  wall-clock budget of each call (and of self_test), 1..POLICY_MAX_BUDGET_MS
 *   memory_mb  memory cap of its VM, 1..POLICY_MAX_MEMORY_MB
 * Values out of range are clamped; a value that is not a number fails the load.
 *
 * Reload: inotify on the directory and on each subdirectory a loaded policy lives in
 * (IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE, IN_MODIFY, IN_DELETE, IN_MOVED_FROM), read from
 * an event on the libevent loop. Events are debounced (opts->debounce_ms after the last
 * one) so that an editor's truncate + write or write-temp + rename is loaded once, whole.
 * policy_set_reload_all() (the caller's SIGHUP handler) reloads every policy at once. A
 * reload builds a NEW VM, loads the file, runs its self_test hook if it has one (under the
 * budget, in the new VM) and only then swaps it in; on any failure, or if the file was
 * deleted, the last good version keeps running and the report callback says why.
 *
 * Calls are synchronous on the loop thread and a swap happens only from a loop callback (or
 * policy_set_reload_all), so a swap always falls between two calls; the old VM is freed at
 * the swap.
 *
 * Setup: opts->setup, when set, is called on every new VM before its file is loaded (first
 * load and each reload), so the host can add its modules (luavm_preload, luacluster_open).
 *
 * Metrics (engine/metrics.h): berth_policy_reloads_total{policy,result} with result
 * "success", "failure" or "deleted", berth_policy_call_failures_total{policy,reason}
 * with reason "error", "timeout", "nomem" or "malformed", and
 * berth_policy_vm_discards_total{policy}.
 *
 * JIT: policies run with LuaJIT's compiler on. A call that overruns inside compiled code
 * makes luavm abandon the VM (luavm.h); the failing call returns LUAVM_TIMEOUT as usual and,
 * before it returns, the same version is rebuilt from its source in a fresh VM with the JIT
 * off (setup runs again), so the caller's next policy_state() is that VM. Host C state tied
 * to the old VM hears of it through luavm_on_discard.
 *
 * Depends on luavm (LuaJIT), libevent, Linux inotify, metrics. Used by the scheduler and the
 * controllers (bin/berth), and by t/c/policy.c. Single-threaded: the loop thread only (the
 * luavm timers signal the thread that created the VMs). */
#ifndef BERTH_POLICY_H
#define BERTH_POLICY_H

#include <stddef.h>
#include <lua.h>
#include <event2/event.h>

#define POLICY_MAX_BUDGET_MS       1000u
#define POLICY_MAX_MEMORY_MB       1024u
#define POLICY_DEFAULT_DEBOUNCE_MS 150u
#define POLICY_NAME_MAX            128
#define POLICY_SET_MAX             256   /* distinct names one set will track */

typedef struct policy_set_s policy_set_t;
typedef struct policy_s policy_t;

/* Called once per load or reload result (and when a loaded policy's file disappears).
 * policy is the relative name ("scheduler.lua"); ok is 1 for a successful (re)load, 0 for a
 * failure, in which case message starts with "policies/<name>:<line>:" when the failure is in
 * Lua code (a compile error, a runtime error in the main chunk or in self_test, a timeout)
 * and ends with "(kept version N)" when an older version keeps running. Both strings are
 * borrowed for the duration of the call. The callback must not free the set nor call
 * policy_set_reload_all(). */
typedef void (*policy_report_fn)(void *priv, const char *policy, int ok, const char *message);

/* Prepares each new VM of a policy before its file is loaded: at the first load and at
 * every reload (including the second VM built for a policy that sets its own limits, and
 * VMs whose load then fails and which are freed). The host puts its modules in here, e.g.
 * luavm_preload(vm, ...) or luacluster_open(). vm is borrowed; the callback must not load
 * a file into it nor call it. Returns 0, or -1 with err filled to fail this load (reported
 * like a load error; the running version is kept). */
struct luavm_s;
typedef int (*policy_setup_fn)(void *priv, const char *policy, struct luavm_s *vm,
                               char *err, size_t errlen);

typedef struct policy_opts_s {
    unsigned         budget_ms;       /* default per call; 0 means LUAVM_DEFAULT_BUDGET_MS */
    size_t           mem_limit_bytes; /* default per VM; 0 means LUAVM_DEFAULT_MEM_LIMIT */
    unsigned         debounce_ms;     /* 0 means POLICY_DEFAULT_DEBOUNCE_MS */
    int              no_watch;        /* 1: no inotify, reload only by policy_set_reload_all */
    policy_report_fn report;          /* may be NULL */
    void            *priv;            /* passed to report */
    policy_setup_fn  setup;           /* may be NULL */
    void            *setup_priv;      /* passed to setup */
} policy_opts_t;

typedef struct policy_stats_s {
    unsigned long loads;            /* successful loads and reloads (swaps), the first included */
    unsigned long reload_failures;  /* failed loads/reloads: compile, main chunk, self_test */
    unsigned long deletions;        /* times the file vanished while a version was running */
    unsigned long calls;            /* policy_call() invocations */
    unsigned long call_errors;      /* LUAVM_ERROR and LUAVM_NOHOOK */
    unsigned long call_timeouts;
    unsigned long call_nomem;
    unsigned long call_malformed;   /* results the caller rejected (policy_note_malformed) */
    unsigned      version;          /* 0 until the first good load, then +1 per swap */
    unsigned long vm_discards;      /* VMs abandoned inside compiled code and rebuilt */
} policy_stats_t;

/* A set over dir (copied). lib_dir (copied, may be NULL) is where require() finds modules.
 * opts may be NULL (defaults, no report). base (borrowed, must outlive the set) runs the
 * inotify event and the debounce timer. Nothing is loaded yet. NULL with err filled on
 * failure (no memory, dir not a directory, inotify unavailable unless opts->no_watch).
 * Caller frees with policy_set_free(). */
policy_set_t *policy_set_create(struct event_base *base, const char *dir, const char *lib_dir,
                                const policy_opts_t *opts, char *err, size_t errlen);

/* Free every policy and VM, the inotify fd and its events. NULL is a no-op. Not from inside
 * a report callback or a policy call. */
void policy_set_free(policy_set_t *set);

/* The policy named name (relative, "x.lua" or "sub/x.lua"), loading it on first use. NULL if
 * the name is invalid, the set already tracks POLICY_SET_MAX other names (reported), or the
 * file has never loaded successfully (the report callback said
 * why; a later call retries once the file has changed, so a file that appears later is
 * picked up on demand). Once returned, the policy_t stays valid until policy_set_free(),
 * even if its file is deleted (the last good version keeps answering). Borrowed. */
policy_t *policy_get(policy_set_t *set, const char *name);

/* Reload every policy the set knows now, synchronously (wired to SIGHUP by the caller).
 * Each result goes to the report callback. Returns the number of failures (deletions
 * included). */
int policy_set_reload_all(policy_set_t *set);

/* The VM's Lua state to push the nargs arguments of the next policy_call() and read its
 * results. Borrowed: valid until control returns to the event loop (a reload may replace
 * the VM there), so push, call, read and pop in one go. */
lua_State *policy_state(policy_t *p);

/* luavm_call() on the current version: hook with nargs arguments on policy_state(p), under
 * the policy's budget. Returns a LUAVM_* status; failures are counted (stats, metrics), and
 * policy_errmsg() says why. On LUAVM_OK nresults values are on the stack (caller pops). */
int policy_call(policy_t *p, const char *hook, int nargs, int nresults);

/* 1 if the current version defines a function hook. */
int policy_has_hook(policy_t *p, const char *hook);
/* policy_call for a function the host pushed below its arguments (luavm_call_function),
 * counted and reported like a hook call. */
int policy_call_function(policy_t *p, const char *name, int nargs, int nresults);
/* luavm_require in the current version's VM, counted like a call. */
int policy_require(policy_t *p, const char *module);
/* Push the policy's table (luavm_push_policy); 0 when none is loaded. */
int policy_push_table(policy_t *p);

/* The caller found the results of a call unusable (wrong type or shape): count it as a
 * "malformed" call failure. why (may be NULL) becomes policy_errmsg(), prefixed with
 * "policies/<name>: ". */
void policy_note_malformed(policy_t *p, const char *why);

/* The message of the last failed policy_call(), "file:line: ..." (borrowed until the next
 * call); "" after a success. */
const char *policy_errmsg(const policy_t *p);

/* The relative name ("scheduler.lua"); borrowed for the set's lifetime. */
const char *policy_name(const policy_t *p);

/* Bumped by each successful swap (1 after the first load): a caller caching anything
 * derived from the policy compares versions to see that it was reloaded. */
unsigned policy_version(const policy_t *p);

/* The effective per-call budget and memory cap of the current version. */
unsigned policy_budget_ms(const policy_t *p);
size_t policy_mem_limit(const policy_t *p);

/* Copy the counters into out. */
void policy_stats(const policy_t *p, policy_stats_t *out);

#endif
