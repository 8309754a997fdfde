/* store.h: Kubernetes objects in Redis, the role etcd plays for kube-apiserver.
 *
 * Layout (for a kind whose store key is R, e.g. "pods" or "deployments.apps"):
 *   berth:rv        the cluster-wide resourceVersion counter (INCR per write)
 *   berth:o:R       hash  "<ns>/<name>" (or "<name>" if cluster-scoped) -> object JSON
 *   berth:v:R       hash  same field -> the object's resourceVersion
 *   berth:i:R       sorted set of the fields (score 0): ordered ranges for list/continue
 *   berth:s:R       stream of events, entry id 0-<rv>, fields t (type), k (field),
 *                   o (object JSON), p (selector projection of the previous object)
 *   berth:m         hash  R -> resourceVersion of R's last write (continue-token checks)
 * Every write is one Lua script: compare the expected resourceVersion, INCR the counter,
 * store, append the event, trim the stream to the window. Nothing is half-written.
 *
 * The object JSON handed to store_write() carries store_rv_placeholder() as the value of
 * metadata.resourceVersion; the script puts the new resourceVersion there, so the stored
 * bytes are final and the API can send them without decoding.
 *
 * Depends on redis.h, kinds.h. Used by the API server. */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "kinds.h"

typedef struct store_s store_t;

typedef enum {
    STORE_OK = 0,
    STORE_UNAVAILABLE,   /* Redis down or the call failed: answer 503 */
    STORE_NOT_FOUND,
    STORE_EXISTS,
    STORE_CONFLICT,      /* resourceVersion mismatch */
    STORE_NS_MISSING,    /* the namespace of a namespaced create does not exist */
    STORE_NS_TERMINATING,/* ... or is being deleted */
    STORE_ERROR,         /* Redis answered an error: answer 500 */
    STORE_TAKEN          /* a claim's slot is held by another object (store_write_claims) */
} store_status_t;

typedef enum { STORE_CREATE, STORE_UPDATE, STORE_DELETE } store_op_t;

typedef struct store_result_s {
    store_status_t status;
    uint64_t rv;           /* the object's (get) or the new (write) resourceVersion */
    const char *data;      /* get: stored bytes; write: the bytes as stored; borrowed until
                              the callback returns */
    size_t len;
    const char *errstr;    /* STORE_ERROR / STORE_UNAVAILABLE detail */
    size_t claim;          /* STORE_TAKEN: index of the claim whose slot is held */
} store_result_t;

typedef struct store_item_s {
    const char *key;       /* "<ns>/<name>" or "<name>" */
    size_t keylen;
    const char *data;      /* object JSON */
    size_t len;
    json_t *match;         /* list cache only: what selectors match against, made on first
                              use (listcache_match); NULL otherwise */
} store_item_t;

typedef struct store_list_s {
    store_status_t status;
    uint64_t rv;           /* the snapshot's resourceVersion */
    uint64_t modrv;        /* resourceVersion of the kind's last write */
    size_t n;
    store_item_t *items;   /* borrowed until the callback returns */
    int more;              /* a limit cut the list short */
    int cached;            /* the items are the list cache's (listcache_match applies) */
    const char *errstr;
} store_list_t;

typedef void store_cb(const store_result_t *res, void *privdata);
typedef void store_list_cb(const store_list_t *list, void *privdata);
typedef void store_state_cb(int up, void *privdata);

/* Connect (in the background). NULL with err if the URL is malformed. window is the
 * number of events kept per kind's stream. */
store_t *store_create(struct event_base *base, const char *url, long window,
                      char *err, size_t errlen);
void store_free(store_t *s);
int  store_is_up(const store_t *s);
const char *store_url(const store_t *s);
void store_set_state_cb(store_t *s, store_state_cb *cb, void *privdata);

/* The placeholder string to put in metadata.resourceVersion of objects to write. */
const char *store_rv_placeholder(void);

/* Each call returns 0 and later calls cb exactly once, or returns -1 (Redis down) and
 * never calls cb. ns is NULL or "" for cluster-scoped kinds. */
int store_get(store_t *s, const kind_t *k, const char *ns, const char *name,
              store_cb *cb, void *privdata);
/* List in key order. ns NULL = all namespaces. start_after: continue after this key (or
 * NULL). limit 0 = everything. */
int store_list(store_t *s, const kind_t *k, const char *ns, const char *start_after,
               size_t limit, store_list_cb *cb, void *privdata);
/* Write. expect_rv 0 = no precondition (update/delete). json: the object with the
 * placeholder (for delete: the final state to put in the DELETED event). prev: the selector
 * projection of the previous object for the event, or NULL. require_ns: for creates of
 * namespaced objects, the namespace that must exist (or NULL). */
int store_write(store_t *s, const kind_t *k, store_op_t op, const char *ns, const char *name,
                uint64_t expect_rv, const char *json, const char *prev, const char *require_ns,
                store_cb *cb, void *privdata);

/* Allocation claims written by the same script as the object (svcalloc.c: Service cluster
 * IPs and node ports). A table is a Redis hash slot -> the store field ("<ns>/<name>") of the
 * object holding it. Before anything is written, every slot to take must be free or held
 * by this very object, else the write does nothing and answers STORE_TAKEN with the claim's
 * index. With the write, slots to take are set to this object and slots to give back are
 * removed if this object holds them. */
typedef struct store_claim_s {
    const char *table;     /* Redis key of the hash */
    const char *slot;
    int release;           /* 0: take the slot; 1: give it back */
} store_claim_t;

/* store_write() plus claims (n may be 0). claims are copied before it returns. */
int store_write_claims(store_t *s, const kind_t *k, store_op_t op, const char *ns,
                       const char *name, uint64_t expect_rv, const char *json, const char *prev,
                       const char *require_ns, const store_claim_t *claims, size_t nclaims,
                       store_cb *cb, void *privdata);

/* Store fields in the order Redis sorts them (memcmp, then length): the order of lists and
 * continue tokens. store_item_cmp compares two store_item_t for qsort. */
int store_key_cmp(const char *a, size_t alen, const char *b, size_t blen);
int store_item_cmp(const void *a, const void *b);

/* Key helpers shared with the watch hub. out gets "<ns>/<name>" or "<name>". */
void store_field(const kind_t *k, const char *ns, const char *name, char *out, size_t outlen);
void store_key(const char *what, const kind_t *k, char *out, size_t outlen);

/* Current global resourceVersion, then cb with res->rv. */
int store_current_rv(store_t *s, store_cb *cb, void *privdata);
/* Stream catch-up for watches: entries of k's stream with rv > after, at most count.
 * cb receives the raw hiredis reply: {maxdeleted, {id, {f, v, ...}}...} (see store.c). */
struct redisReply;
typedef void store_raw_cb(struct redisReply *reply, void *privdata);
int store_stream_range(store_t *s, const kind_t *k, uint64_t after, size_t count,
                       store_raw_cb *cb, void *privdata);
/* ---- for the list cache (listcache.h) ---- */

/* One change of a kind, from its event stream. */
typedef struct store_change_s {
    uint64_t rv;
    const char *type;      /* "ADDED", "MODIFIED" or "DELETED" (static) */
    const char *key;       /* "<ns>/<name>" or "<name>" */
    size_t keylen;
    const char *data;      /* the object as written (as deleted, for a delete) */
    size_t len;
    const char *prev;      /* selector projection of the previous object, or NULL */
    size_t prevlen;
} store_change_t;

/* One entry of a stream reply ([id, [field, value, ...]], as the write script adds them)
 * into ch, its strings borrowed from entry. 0, or -1 if it is not such an entry. Shared by
 * the list cache's deltas and the watch hub. */
int store_entry_parse(const struct redisReply *entry, store_change_t *ch);

typedef struct store_delta_s {
    store_status_t status;
    const char *errstr;
    uint64_t rv;           /* the cluster's resourceVersion when the changes were read */
    uint64_t modrv;        /* resourceVersion of the kind's last write */
    int complete;          /* 0: the stream no longer holds every change, or there were too
                              many: read a snapshot (store_list) instead */
    size_t n;
    store_change_t *changes;   /* in rv order; borrowed until the callback returns */
} store_delta_t;

typedef void store_delta_cb(const store_delta_t *d, void *privdata);

/* The changes of k with rv > after, at most count, read in one step with the current rv:
 * applied to a copy of the kind as of after, they give the kind as of d->rv. */
int store_list_delta(store_t *s, const kind_t *k, uint64_t after, size_t count,
                     store_delta_cb *cb, void *privdata);
/* One step of an HSCAN over k's objects, from cursor ("0" to start): cb gets some objects
 * (in no order; an object may come twice, and objects written meanwhile may be missed: read
 * the stream from before the first step to fix that up) and the next cursor, "0" at the
 * end. next is NULL when list->status is not STORE_OK. */
typedef void store_scan_cb(const store_list_t *list, const char *next, void *privdata);
int store_scan(store_t *s, const kind_t *k, const char *cursor, size_t count, store_scan_cb *cb,
               void *privdata);
/* Changes whenever the connection to Redis was lost and made again: data cached from the
 * store before may belong to another Redis, or one restored from an older copy. */
unsigned store_generation(const store_t *s);

/* Run a one-off Lua script (EVAL) on the store's connection, in order with the writes sent
 * before and after it (svcalloc's repair). cb receives the raw reply (NULL: connection lost). */
int store_eval(store_t *s, const char *script, int nkeys, const char *const *keys, int nargs,
               const char *const *args, store_raw_cb *cb, void *privdata);

#endif
