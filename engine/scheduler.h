/* scheduler.h: the scheduler (kube-scheduler's role). Places pending pods on nodes with Lua
 * policies and binds them through the API.
 *
 * The C core runs the loop: informers on pods and nodes (engine/informer.h), a rate-limited
 * work queue of pending pods (engine/workqueue.h), the policy set (engine/policy.h) with hot
 * reload, and the API writes (binding, PodScheduled condition, Events). The decision is the
 * policy's: for each pod it calls the policy's `schedule(pod, ctx)` hook
 * (lua/berth/framework.lua supplies it with kube-scheduler's framework behind it), under the
 * policy's time and memory budget. A pod's schedulerName picks the policy:
 * "default-scheduler" is policies/scheduler.lua, NAME is policies/schedulers/NAME.lua; pods
 * of a scheduler with no policy file are left to whoever runs it. Several schedulers may run
 * against one cluster: only the holder of the Lease kube-system/berth-scheduler schedules
 * (engine/leader.h); the others keep their caches warm and take over when it lapses.
 *
 * Depends on apiclient, informer, workqueue, policy, luajson, libevent, jansson. Called by
 * server.c (inside `berth server`) and by `berth scheduler`; its decision functions also by
 * `berth policy test` (engine/policytest.c). */
#ifndef BERTH_SCHEDULER_H
#define BERTH_SCHEDULER_H

#include <event2/event.h>
#include <jansson.h>

typedef struct scheduler_s scheduler_t;

typedef struct scheduler_opts_s {
    const char *server_url;        /* "http://127.0.0.1:6443" */
    const char *policy_dir;        /* policies/ */
    const char *lib_dir;           /* lua/ */
    int percentage_of_nodes_to_score; /* 0: adaptive, as kube-scheduler */
    int lease_seconds;             /* leader election Lease duration; 0: 15 s */
} scheduler_opts_t;

/* Start scheduling on base. NULL with err set on bad options. */
scheduler_t *scheduler_create(struct event_base *base, const scheduler_opts_t *opts,
                              char *err, size_t errlen);
/* Reload every policy now (SIGHUP). */
void scheduler_reload(scheduler_t *s);
void scheduler_free(scheduler_t *s);

/* `berth scheduler --server URL [--policies DIR] [--lua DIR]`. */
int scheduler_main(int argc, char **argv);

/* Where policies/ and lua/ are by default: next to the binary's directory (bin/../policies),
 * else the current directory. out gets the path. */
void scheduler_default_dir(const char *name, char *out, size_t outlen);

/* ---- one decision, shared with `berth policy test` --------------------------------------
 *
 * The scheduler's decision code path without its loop: the dry run (engine/policytest.c)
 * replays pods through these with its own policy sets and caches, so a candidate policy is
 * judged by exactly the code that would run it. */

#define SCHEDULER_DEFAULT_NAME "default-scheduler"

/* The policy file, relative to the policies directory, of a schedulerName: "scheduler.lua"
 * for "default-scheduler" (or NULL / ""), "schedulers/NAME.lua" otherwise. -1 when NAME is
 * not valid as a file name (then no berth policy schedules those pods). */
int scheduler_policy_name(const char *scheduler_name, char *out, size_t outlen);

enum {
    SCHEDULER_PLACED = 0,       /* node holds the choice */
    SCHEDULER_UNSCHEDULABLE,    /* message: kube's FailedScheduling text from the policy */
    SCHEDULER_NO_ARGS,          /* the arguments could not be built (message says why) */
    SCHEDULER_POLICY_FAILED,    /* the call raised, overran its budget or its memory cap:
                                   status is the LUAVM_* code, message "file:line: ..." */
    SCHEDULER_MALFORMED         /* schedule returned something unusable (counted as such) */
};

typedef struct scheduler_decision_s {
    int  outcome;               /* SCHEDULER_* */
    int  status;                /* LUAVM_* of the schedule call (LUAVM_OK unless it failed) */
    int  bound_by_policy;       /* PLACED: the policy's bind hook bound the pod itself */
    char node[256];
    char message[2048];
} scheduler_decision_t;

struct policy_s;
struct schedcache_s;
struct luacluster_s;

/* One scheduling cycle for the pending pod under key (borrowed): its arguments from cache,
 * then p's schedule hook under p's budget, its results read into *out. lua (may be NULL)
 * is the berth.cluster of p's VM: the actions the hook queued are sent when commit is 1 and
 * the call succeeded, dropped otherwise (the dry run passes 0). The cache is not changed:
 * counting a placed pod on its node (schedcache_assume) is the caller's. */
void scheduler_decide_pod(struct policy_s *p, struct schedcache_s *cache,
                          struct luacluster_s *lua, int commit, const char *key,
                          const json_t *pod, int percentage_of_nodes_to_score,
                          scheduler_decision_t *out);

/* The queue order of n pending pods (keys[i] -> pods[i], borrowed) by p's order hook
 * (framework.with_defaults makes it from the sort hook): 0 with perm[i] the index of the
 * pod to take i-th. -1 when it cannot be used, with err saying why and *status the LUAVM_*
 * of the call (LUAVM_OK when the hook was not called: no hook, or the arguments could not
 * be built; or when it returned something other than a permutation, counted as malformed);
 * then the caller keeps arrival order. */
int scheduler_order_pods(struct policy_s *p, struct schedcache_s *cache,
                         const char *const *keys, json_t *const *pods, size_t n, size_t *perm,
                         int *status, char *err, size_t errlen);

#endif
