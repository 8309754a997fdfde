/* luacluster.h: the Lua cluster API, require("berth.cluster"), that policies, controllers and
 * scripts use to read the cluster and act on it.
 *
 * Reads come from informer caches the host registered (luacluster_add_informer): get, list
 * (namespace, label selector, index) and index. Each cached object is converted to a Lua table
 * once per change and the same table is handed to every reader in that VM until the informer
 * reports a change (luacluster_forget from the informer's handlers) or the resourceVersion
 * differs: objects are SHARED and policies must not modify them (not enforced: see luajson.h,
 * "Read-only objects", for why there is no frozen view).
 *
 * Actions (create, update, patch, delete, evict, event, bind) are QUEUED while a hook runs and
 * sent only when the host says the call succeeded:
 *
 *     luacluster_begin(lc, L);
 *     st = policy_call(p, "reconcile", 1, 0);
 *     if (st == LUAVM_OK) luacluster_commit(lc, L); else luacluster_discard(lc, L);
 *
 * so an abandoned call (error, timeout, no memory) has no effect. Outside a begin..commit
 * window (the main chunk and self_test at load time, or a host that did not call begin)
 * actions are checked and then dropped: a self_test may exercise the code that acts without
 * acting. Committed actions go out through the apiclient in order: at most
 * LUACLUSTER_MAX_INFLIGHT at once, and an action never starts while an earlier one on the
 * same object is still in flight, so "create X; patch X" arrive in that order. Failures
 * (status 0 or >= 300) are logged, counted in /metrics
 * (berth_lua_cluster_action_failures_total{component,verb}) and, like successes, reported to
 * the optional done callback.
 *
 * Paths come from the resource string: "v1/pods" (or just "pods" for core kinds) ->
 * /api/v1[/namespaces/<ns>]/pods, "apps/v1/replicasets" -> /apis/apps/v1/..., with an
 * optional subresource ("v1/pods/status"). Whether a kind is namespaced comes from the kinds
 * registry (kinds.h) when the process loaded it (the API server does), otherwise from whether
 * a namespace was given.
 *
 * VMs: one luacluster_t serves any number of VMs (a policy's old and new versions during a
 * hot reload, several policies). luacluster_open() gives a VM its own state (conversion cache,
 * queue), owned by a userdata in that VM and freed when the VM closes, so a reloaded policy
 * gets fresh conversions and no state outlives its lua_State.
 *
 * Depends on informer.h, apiclient.h, luajson.h, luavm.h, selector.h, kinds.h, log.h,
 * metrics.h. Used by the controller runtime and the scheduler (from their informer handlers
 * and around policy calls), and by t/c/luacluster.c. Single-threaded: the event-loop thread
 * that runs the VMs. The Lua API is documented in docs/lua-api.md, "Cluster access". */
#ifndef BERTH_LUACLUSTER_H
#define BERTH_LUACLUSTER_H

#include <jansson.h>
#include <lua.h>

#include "apiclient.h"
#include "informer.h"
#include "luavm.h"

#define LUACLUSTER_MODULE        "berth.cluster"
#define LUACLUSTER_MAX_INFLIGHT  64      /* committed requests in flight per luacluster_t */
#define LUACLUSTER_MAX_QUEUE     10000   /* actions one hook call may queue */
#define LUACLUSTER_MAX_INFORMERS 64

/* luacluster_commit_opts flags. SLOW_START: the creates of the commit go out in slow-start
 * batches (kube's slowStartBatch, initial batch 1), one group per collection: one create,
 * then 2, 4, 8, ... each batch only once the previous one has been answered; after a batch
 * with a failure the group's remaining creates are not sent but reported with status
 * LUACLUSTER_SKIPPED. Other actions of the commit are sent as usual. */
#define LUACLUSTER_SLOW_START    1
/* The done callback's status for an action that was committed but never sent. */
#define LUACLUSTER_SKIPPED       (-1)

typedef struct luacluster_s luacluster_t;

/* The result of one committed action. verb is "create", "update", "patch", "delete",
 * "evict", "event" or "bind"; method and path the request sent; status the HTTP status or 0
 * (errstr then says why: no connection, or the request could not start), or
 * LUACLUSTER_SKIPPED for a slow-start create that was not sent; body the parsed
 * response (a Status on failure), borrowed for the call, may be NULL. Called from the event
 * loop, or from inside luacluster_commit() for a request that could not start. The callback
 * may call luacluster_* functions except luacluster_free. */
typedef void luacluster_done_fn(void *priv, const char *verb, const char *method,
                                const char *path, int status, json_t *body,
                                const char *errstr);

typedef struct luacluster_stats_s {
    unsigned long conversions;   /* objects converted to Lua (cache misses) */
    unsigned long cache_hits;    /* objects handed out from the conversion cache */
    unsigned long queued;        /* actions queued inside a begin..commit window */
    unsigned long dropped;       /* actions checked outside a window and dropped */
    unsigned long discarded;     /* queued actions thrown away by luacluster_discard */
    unsigned long sent;          /* requests started */
    unsigned long succeeded;     /* 2xx answers */
    unsigned long failed;        /* other answers, no answer, or could not start */
    unsigned long skipped;       /* slow-start creates not sent after a failure, and events
                                  * not sent because the write they follow failed */
} luacluster_stats_t;

/* A cluster API over client (borrowed; must outlive lc). component (copied) names the
 * host in Events (source.component, reportingComponent) and logs, e.g.
 * "replicaset-controller". NULL on allocation failure. Caller frees with luacluster_free. */
luacluster_t *luacluster_create(apiclient_t *client, const char *component);

/* Cancel in-flight requests (their callbacks do not run), drop pending actions, detach
 * every VM (their module functions then raise "berth.cluster: the host closed the cluster
 * API") and free lc. VMs may outlive lc. NULL is a no-op. Not from a done callback. */
void luacluster_free(luacluster_t *lc);

/* Serve reads of resource ("v1/pods", "pods", "apps/v1/replicasets"; copied, normalized)
 * from inf (borrowed: must outlive lc, or until the host stops using lc). Returns 0, or -1
 * for an invalid resource string (or one with a subresource), a resource already
 * registered, or more than LUACLUSTER_MAX_INFORMERS. */
int luacluster_add_informer(luacluster_t *lc, const char *resource, informer_t *inf);

/* The object changed or went away: drop its conversion in every VM. Call it from the
 * informer's on_update (with the old or the new object: only namespace and name are read)
 * and on_delete. obj is borrowed. Unknown resources and uncached objects are no-ops. */
void luacluster_forget(luacluster_t *lc, const char *resource, const json_t *obj);

/* Give vm the module: require("berth.cluster") returns it there (luavm_preload), frozen.
 * Call it from policy_opts_t.setup, before the policy file is loaded. Returns a LUAVM_*
 * status (LUAVM_ERROR with luavm_errmsg() set on failure). The per-VM state it creates is
 * freed by lua_close (luavm_free). */
int luacluster_open(luacluster_t *lc, luavm_t *vm);

/* policy_setup_fn-compatible: priv (policy_opts_t.setup_priv) is the luacluster_t. For
 * policy_opts_t.setup when the cluster API is the only module the host adds. */
int luacluster_policy_setup(void *priv, const char *policy, luavm_t *vm, char *err,
                            size_t errlen);

/* Open the action window for the next call on L: actions queue until commit or discard.
 * A no-op for a state luacluster_open was not called on. */
void luacluster_begin(luacluster_t *lc, lua_State *L);

/* Close the window and send L's queued actions, in order (see above). Returns the number
 * of actions committed. */
int luacluster_commit(luacluster_t *lc, lua_State *L);

/* luacluster_commit, each action tagged with tag (copied; NULL for none): the done
 * callback reads it with luacluster_done_tag, so a host can tell which of its objects an
 * action was for (a controller's expectations per parent). */
int luacluster_commit_tagged(luacluster_t *lc, lua_State *L, const char *tag);

/* luacluster_commit_tagged with flags (LUACLUSTER_SLOW_START or 0). Every committed action
 * is reported to the done callback exactly once, skipped ones included. */
int luacluster_commit_opts(luacluster_t *lc, lua_State *L, const char *tag, int flags);

/* Inside a done callback: the tag of the action reported, or NULL. */
const char *luacluster_done_tag(const luacluster_t *lc);

/* Close the window and drop L's queued actions: nothing of them is sent. Returns the number
 * dropped. */
int luacluster_discard(luacluster_t *lc, lua_State *L);

/* Report each committed action's result to fn (NULL to stop). */
void luacluster_set_done(luacluster_t *lc, luacluster_done_fn *fn, void *priv);

/* Committed actions not finished yet (held in slow-start groups, pending, in flight), e.g.
 * for a test to wait on. */
unsigned luacluster_pending(const luacluster_t *lc);

void luacluster_stats(const luacluster_t *lc, luacluster_stats_t *out);

#endif
