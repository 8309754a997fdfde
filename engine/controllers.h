/* controllers.h: the controller manager (kube-controller-manager's role). Runs every
 * controller policy in policies/controllers/ against the API.
 *
 * A controller policy declares what it reconciles and what it owns (docs/controllers.md):
 *
 *   return { parent = "apps/v1/replicasets", children = { "v1/pods" }, adopt = true,
 *            watches = { "v1/pods" }, sync = function(parent, children, ctx) ... end }
 *
 * The C core keeps one informer per resource any controller names (shared between them),
 * indexed by each object's uid and by the uid of its controller ownerReference, and one
 * rate-limited work queue of parent keys per controller. A parent is queued when it changes,
 * when one of its children changes (found through the controller ownerReference), when an
 * orphan appears in its namespace (adopt), when an object of a watched resource changes in
 * its namespace, on a periodic resync, and when its last sync asked to be requeued. One key
 * is synced at a time per controller; syncs of different parents interleave.
 *
 * A sync is one budgeted call of lua/berth/controller/runtime.lua's reconcile(policy, key):
 * it reads the parent and its children from the caches (berth.cluster), calls the policy's
 * sync and turns the declarative result into API actions, which berth.cluster queues and
 * the core commits only if the call succeeded. Expectations, as client-go's: until every
 * action of a parent's last sync has been answered and the informers have caught up with the
 * resourceVersions those answers carried, the parent is not synced again, so a controller
 * never acts twice on a stale cache (creating pods twice, say). The creates of a sync go out
 * in slow-start batches (1, 2, 4, ...; the rest skipped after a failed batch), failures back
 * off until a sync's writes all succeed, and a parent whose many children keep changing is
 * paced (docs/controllers.md, "What the runtime guarantees").
 *
 * Only the holder of the Lease kube-system/berth-controller-manager acts; others keep their
 * caches warm. Policies hot-reload like the scheduler's; a file that fails to load is
 * reported (log, Warning Event on the Lease) and skipped, the others run.
 *
 * Depends on apiclient, informer, workqueue, policy, luacluster, leader, libevent, jansson.
 * Called by server.c (inside `berth server`) and by `berth controllers`. */
#ifndef BERTH_CONTROLLERS_H
#define BERTH_CONTROLLERS_H

#include <event2/event.h>

typedef struct controllers_s controllers_t;

typedef struct controllers_opts_s {
    const char *server_url;        /* "http://127.0.0.1:6443" */
    const char *policy_dir;        /* policies/ (controllers are in its controllers/) */
    const char *lib_dir;           /* lua/ */
    const char *plugin_dir;        /* plugins/ (NULL or missing: no plugins) */
    int lease_seconds;             /* leader election Lease duration; 0: 15 s */
    int resync_seconds;            /* every parent synced at least this often; 0: 60 s */
    int node_monitor_grace_period; /* seconds without heartbeat before a node is Unknown; 0: 40 */
    int default_toleration_seconds;/* not-ready/unreachable NoExecute tolerated this long; 0: 300 */
    int sync_kinds;                /* 1: this process keeps the kind registry in step with the
                                    * plugin files itself (`berth controllers`); inside
                                    * `berth server` the server does */
} controllers_opts_t;

/* Start the controllers on base. NULL with err set on bad options or an unreadable
 * directory; a policy that fails to load is reported and skipped, not an error here. */
controllers_t *controllers_create(struct event_base *base, const controllers_opts_t *opts,
                                  char *err, size_t errlen);
/* Reload every policy now (SIGHUP). */
void controllers_reload(controllers_t *c);
void controllers_free(controllers_t *c);

/* `berth controllers --server URL [--policies DIR] [--lua DIR]`. */
int controllers_main(int argc, char **argv);

#endif
