/* schedcache.h: the scheduler's view of the cluster, and how it reaches a policy VM.
 *
 * kube-scheduler keeps a cache of NodeInfo (the pods on each node, bound or assumed) so a
 * decision does not walk the whole cluster. berth's equivalent keeps, per node, the pods
 * bound there plus the pods this scheduler assumed there (bound by us, binding not yet seen
 * by the informer), and hands them to Lua as tables that are converted once and reused:
 *
 *   - each object is converted to a Lua table once per resourceVersion, sharing equal
 *     subtrees with the objects converted before it (luajson_push_pooled: the pods of one
 *     ReplicaSet share their spec); the last SCHEDCACHE_KEEP pending pods handed out are
 *     held, so the queue's order hook and the decision convert a pod once;
 *   - an assumed pod's table is the pending pod's with a new top and spec table
 *     (spec.nodeName set), not a second conversion;
 *   - ctx.nodes is one array, rebuilt only when a node changes;
 *   - ctx.pods_on(name) returns one array per node, rebuilt only when that node's pods
 *     change (the rebuild converts only the pods counted since the last array). A policy
 *     may therefore memoize what it computes from such an array (the
 *     requests summed over a node's pods, say) in a table with weak keys, keyed by the
 *     array: the same array means the same pods. Policies must not modify these tables.
 *   - ctx.pods() (every scheduled pod) and ctx.pods_with_affinity() are cached the same way.
 *   - ctx.pods_changed(token) returns a new token and the names of the nodes whose pods
 *     changed since token (a log of the last 4096 changes), so a policy that keeps
 *     something per node refreshes only those, without asking pods_on for every node.
 *
 * Pods that finished (Succeeded, Failed) hold nothing and are left out; terminating pods
 * still hold their resources and are counted.
 *
 * The cache serves several VMs (one per scheduling policy) and survives hot reloads: the
 * Lua side lives in each VM's registry (under a key unique to this cache) and dies with the
 * VM. Conversions are held in a table with weak values, so the table of a pod that is gone
 * (or of a pending pod between two decisions) is collected with nothing to clean up; the
 * C side keeps only generation numbers that say when an array must be rebuilt.
 *
 * Depends on jansson, LuaJIT (Lua 5.1 API) and luajson.h. Used by scheduler.c,
 * policytest.c and bench/sched_decide.c; tested by t/c/schedcache.c. Single-threaded. */
#ifndef BERTH_SCHEDCACHE_H
#define BERTH_SCHEDCACHE_H

#include <jansson.h>
#include <lua.h>

typedef struct schedcache_s schedcache_t;

/* An empty cache; NULL when out of memory. Free with schedcache_free. */
schedcache_t *schedcache_create(void);
void schedcache_free(schedcache_t *sc);

/* A node was added or changed (node is borrowed; the cache keeps its own reference). */
void schedcache_node_set(schedcache_t *sc, json_t *node);
void schedcache_node_delete(schedcache_t *sc, const json_t *node);

/* A pod was added or changed, under cache key (its informer key "<ns>/<name>"). A pod with
 * spec.nodeName counts on that node (an assumption for the same key is dropped: the
 * binding was seen); a pending one is only remembered for conversion. Borrowed. */
void schedcache_pod_set(schedcache_t *sc, const char *key, json_t *pod);
void schedcache_pod_delete(schedcache_t *sc, const char *key, const json_t *pod);

/* The scheduler chose node for the pending pod under key: count it there until its binding
 * is seen (schedcache_pod_set) or fails (schedcache_unassume). pod is borrowed (copied). */
void schedcache_assume(schedcache_t *sc, const char *key, const json_t *pod, const char *node);
void schedcache_unassume(schedcache_t *sc, const char *key);
int schedcache_is_assumed(const schedcache_t *sc, const char *key);

/* Push the two arguments of a decision: the pending pod (under key) as a Lua table, then a
 * new ctx table: nodes, pods_on, pods, pods_with_affinity, pods_changed,
 * percentage_of_nodes_to_score, state (empty), now. The closures hold sc: the cache must outlive the call they are used
 * in (it does: decisions are synchronous). Runs protected: 0, or -1 with nothing pushed
 * and the reason in err (out of memory, an object too deep to convert). */
int schedcache_push_args(schedcache_t *sc, lua_State *L, const char *key, const json_t *pod,
                         int percentage_of_nodes_to_score, char *err, size_t errlen);

/* Push an array of n pending pods (keys[i] -> pods[i], borrowed) as Lua tables, converted
 * as schedcache_push_args converts the pending pod (so a decision reuses them). Protected
 * like it: 0, or -1 with nothing pushed and err filled. */
int schedcache_push_pods(schedcache_t *sc, lua_State *L, const char *const *keys,
                         json_t *const *pods, size_t n, char *err, size_t errlen);

/* Counts for tests and metrics. */
size_t schedcache_node_count(const schedcache_t *sc);
size_t schedcache_pod_count(const schedcache_t *sc);   /* bound + assumed */

#endif
