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
 * server.c (inside `berth server`) and by `berth scheduler`. */
#ifndef BERTH_SCHEDULER_H
#define BERTH_SCHEDULER_H

#include <event2/event.h>

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

#endif
