/* informer.h: a list+watch cache of one kind of API object, after client-go's shared informer.
 *
 * The informer lists the kind (pages of limit=500 followed through `continue`), then watches
 * from the list's resourceVersion (allowWatchBookmarks=true, timeoutSeconds drawn from
 * 300-600 as client-go's reflector does), keeping a cache "<ns>/<name>" (or "<name>" for
 * cluster-scoped kinds) -> object and calling the add/update/delete handlers as it changes:
 *   - a watch that ends normally is restarted from the last resourceVersion seen (events and
 *     BOOKMARKs advance it);
 *   - a 410 Expired (an ERROR event or the HTTP status) re-lists, and the difference between
 *     the cache and the new list is delivered as adds, updates and deletes;
 *   - a connection failure or another error re-lists after an exponential backoff (100 ms
 *     doubling to 10 s, reset once a watch works).
 * Each object is parsed once, when its event or list page arrives; the cache holds that one
 * json_t, handlers and lookups borrow it. Secondary indexes map keys computed from an object
 * (pods by spec.nodeName, say) to the objects.
 *
 * Depends on apiclient.h (HTTP), libevent, jansson. Called by the scheduler, controllers and
 * node agent. */
#ifndef BERTH_INFORMER_H
#define BERTH_INFORMER_H

#include <stddef.h>
#include <jansson.h>
#include <event2/event.h>

#include "apiclient.h"

typedef struct informer_s informer_t;

/* The handlers. Objects are borrowed: valid until the handler returns (json_incref to keep
 * one), and must not be modified. `old` is the cached object being replaced. on_delete gets
 * the object's last state: the DELETED event's object, or the cached one when a re-list found
 * it gone. A re-list delivers updates only for objects whose resourceVersion changed. Handlers
 * run after the cache and indexes changed, so lookups from inside them see the new state. Any
 * handler may be NULL. A handler must not free the informer. */
typedef struct informer_handlers_s {
    void (*on_add)(informer_t *inf, json_t *obj, void *priv);
    void (*on_update)(informer_t *inf, json_t *old, json_t *obj, void *priv);
    void (*on_delete)(informer_t *inf, json_t *obj, void *priv);
    void *priv;
} informer_handlers_t;

typedef struct informer_config_s {
    const char *path;            /* "/api/v1/pods", "/apis/apps/v1/deployments" (required) */
    const char *ns;              /* only this namespace; NULL or "" for all */
    const char *label_selector;  /* NULL for none */
    const char *field_selector;  /* NULL for none */
    int page_size;               /* list limit; 0 for 500 */
    int watch_timeout;           /* timeoutSeconds of each watch; 0 for random 300-600 */
} informer_config_t;

/* Computes an object's keys for one index: append strings to keys (a JSON array). */
typedef void informer_index_fn(json_t *obj, json_t *keys, void *priv);

typedef struct informer_stats_s {
    unsigned lists;              /* full lists completed */
    unsigned watches;            /* watches started */
    unsigned expired;            /* 410s seen (ERROR events or HTTP status) */
    unsigned failures;           /* list or watch failures (connection, other statuses) */
} informer_stats_t;

/* An informer over client (borrowed; must outlive it). cfg's strings are copied. NULL if
 * cfg->path is missing or does not start with '/', or on allocation failure. Nothing happens
 * before informer_start. Caller frees with informer_free. */
informer_t *informer_create(struct event_base *base, apiclient_t *client,
                            const informer_config_t *cfg, const informer_handlers_t *handlers);

/* Stop listing and watching, free the cache, the indexes and the informer. Not from inside one
 * of its handlers. */
void informer_free(informer_t *inf);

/* Register index `name` (copied) computed by fn. Before informer_start only: -1 after, on a
 * duplicate name or on allocation failure. */
int informer_add_index(informer_t *inf, const char *name, informer_index_fn *fn, void *priv);

/* Begin the first list. 0, or -1 if already started or the list cannot be started (it is then
 * retried with backoff all the same). */
int informer_start(informer_t *inf);

/* True once a full list has been delivered to the handlers. */
int informer_has_synced(const informer_t *inf);

/* The cached object ns/name (ns NULL or "" for cluster-scoped), borrowed; NULL if absent. */
json_t *informer_get(informer_t *inf, const char *ns, const char *name);
/* The cached object by cache key ("<ns>/<name>" or "<name>"), borrowed. */
json_t *informer_get_key(informer_t *inf, const char *key);

/* Number of cached objects. */
size_t informer_count(const informer_t *inf);

/* Call fn for each cached object (borrowed) until it returns non-zero; returns that value or
 * 0. fn must not make the informer process events (it cannot: they run on the loop). */
int informer_foreach(informer_t *inf, int (*fn)(const char *key, json_t *obj, void *priv),
                     void *priv);

/* A new array of the cached objects (shared references: do not modify them). Caller
 * json_decrefs it. */
json_t *informer_list(informer_t *inf);

/* A new array of the objects whose index `name` yields key; an empty array when none, NULL if
 * there is no such index. Caller json_decrefs it. */
json_t *informer_by_index(informer_t *inf, const char *name, const char *key);

/* The last resourceVersion seen ("" before the first list), borrowed until the next event. */
const char *informer_resource_version(const informer_t *inf);

void informer_get_stats(const informer_t *inf, informer_stats_t *out);

#endif
