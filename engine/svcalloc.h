/* svcalloc.h: Service cluster IPs and node ports, allocated as kube-apiserver's Service
 * REST storage allocates them (pkg/registry/core/service/storage/alloc.go).
 *
 * Ranges: --service-cluster-ip-range (default 127.77.0.0/16, a loopback range the proxy binds without any setup; IPv4 only, no dual stack) and
 * --service-node-port-range (default 30000-32767). A Service that needs a cluster IP and
 * names none gets a free one; one that names one gets it if it is in the range and free;
 * NodePort and LoadBalancer services get a node port for each port that names none.
 * Dynamic picks prefer the upper part of each range, leaving the lower band (kube's
 * calculateRangeOffset) to static choices, as kube does.
 *
 * Truth lives in Redis, in two hashes written by the store's write script together with
 * the object (store_write_claims), so allocation is atomic with the write:
 *   berth:alloc:clusterips   hash  IP   -> "<ns>/<name>" of the Service holding it
 *   berth:alloc:nodeports    hash  port -> "<ns>/<name>"
 * A write whose slot is held by another Service changes nothing and answers STORE_TAKEN.
 * This process keeps a bitmap of each range as a hint for picking (a slot picked by a
 * request in flight is marked at once, so concurrent requests here never pick the same);
 * a stale hint (another API server) only costs a retry. svcalloc_repair() rebuilds both
 * hashes from the stored Services in one script, and the hints from them, each time the
 * store comes up: kube's repair controllers, run at start.
 *
 * A plan is what one write of one Service claims and releases. It is created by
 * svcalloc_create() or svcalloc_update(), handed to store_write_claims() through
 * svcalloc_claims(), and ended with svcalloc_commit() (the write succeeded) and
 * svcalloc_plan_free(). Freeing an uncommitted plan gives its picks back (dry runs,
 * failed writes).
 *
 * Depends on jansson, store.h, kinds.h, api.h (Status objects). Used by api_write.c
 * (create, update, delete) and server.c (flags, repair). One allocator per process. */
#ifndef BERTH_SVCALLOC_H
#define BERTH_SVCALLOC_H

#include <stddef.h>
#include <jansson.h>

#include "kinds.h"
#include "store.h"

typedef struct svcalloc_plan_s svcalloc_plan_t;

/* Set the ranges ("127.77.0.0/16", "30000-32767"; NULL keeps the default). -1 with err if
 * malformed. Without a call the defaults apply. */
int svcalloc_configure(const char *cidr, const char *node_ports, char *err, size_t errlen);
/* Rebuild the allocation tables from the stored Services and reload the hints. Queued on
 * the store connection, so it runs before any write sent after it. */
void svcalloc_repair(store_t *s);

/* Create of obj (validated): fill clusterIP(s), ipFamilies, ipFamilyPolicy, nodePorts.
 * 0 with *plan (NULL if k is not Service or nothing to claim), or -1 with *err (a Status,
 * new reference: 422 Invalid, or 500 InternalError when a range is full). dry_run: user
 * choices are checked against the hint only. */
int svcalloc_create(const kind_t *k, json_t *obj, int dry_run, svcalloc_plan_t **plan,
                    json_t **err);
/* Update, before validation: what kube's strategy does to an update (PrepareForUpdate):
 * values the client left out are taken from old (clusterIP, clusterIPs, nodePorts by port
 * name), clusterIP and clusterIPs are kept in step, and values a new type does not use are
 * dropped (NodePort -> ClusterIP drops the node ports). */
void svcalloc_prepare_update(const kind_t *k, const json_t *old, json_t *obj);
/* Update (obj) or removal (obj NULL) of old: claims what obj holds that old did not,
 * releases the rest. allocate: pick what obj lacks (client updates; not for status or
 * internal writes). Returns as svcalloc_create(). */
int svcalloc_update(const kind_t *k, const json_t *old, json_t *obj, int allocate, int dry_run,
                    svcalloc_plan_t **plan, json_t **err);

/* The claims to write with the object (borrowed from the plan; NULL/0 for a NULL plan). */
const store_claim_t *svcalloc_claims(const svcalloc_plan_t *p, size_t *n);
/* The write succeeded: the hint keeps the picks and learns the claims and releases. */
void svcalloc_commit(svcalloc_plan_t *p);
/* The write answered STORE_TAKEN for claim i. Returns 1 if the slot was picked here (so a
 * retry picks another), 0 if the client chose it; *err always gets the Status to answer
 * with when not retrying (new reference). name: the Service's name, for the message. */
int svcalloc_taken(svcalloc_plan_t *p, size_t claim, const char *name, json_t **err);
/* Before retrying a create with obj: remove from obj the values this plan picked. */
void svcalloc_undo(svcalloc_plan_t *p, json_t *obj);
void svcalloc_plan_free(svcalloc_plan_t *p);

#endif
