/* listcache.h: the API server's copy of each listed kind, kept current from the kind's
 * event stream, so that lists are answered from memory (kube-apiserver's watch cache plays
 * this role; etcd plays Redis').
 *
 * The first list of a kind starts taking a copy in the background (HSCAN steps, then the
 * changes made meanwhile replayed from the stream) and is answered from the store, as are
 * lists until the copy is ready. From then on every list first reads, in one Redis step,
 * the kind's changes since the copy and the current resourceVersion (store_list_delta),
 * applies them, and is answered from the copy: exactly what the store would have answered
 * at that resourceVersion, without moving the objects out of Redis again. A list is
 * answered only from a read sent after it arrived, so it sees every write acknowledged
 * before it, whichever API server took the write. When the stream no longer holds every
 * change (trimmed), when there are many, when the resourceVersion goes back or when the
 * connection to Redis was made again, the copy is dropped and taken anew.
 *
 * Memory: the copies hold every object of each kind listed in the last two minutes, as
 * kube-apiserver's watch cache does for every kind. `berth server --no-list-cache` turns it
 * off.
 *
 * Depends on store.h. Used by api_read.c. */
#ifndef BERTH_LISTCACHE_H
#define BERTH_LISTCACHE_H

#include <stddef.h>
#include <event2/event.h>

#include "kinds.h"
#include "store.h"

typedef struct listcache_s listcache_t;

/* refresh_ms: how often copies in use are caught up in the background (0: only when
 * listed). */
listcache_t *listcache_create(struct event_base *base, store_t *store, unsigned refresh_ms);
/* Frees the copies. Lists still waiting are not called back: free the store first (its
 * callbacks fail them, and a copy being taken then fails, which sends the lists waiting for
 * it to the store, which fails them too). */
void listcache_free(listcache_t *lc);

/* As store_list(): the same arguments, results and promise (0 and cb exactly once later,
 * or -1 and never cb). The items passed to cb are borrowed until it returns. */
int listcache_list(listcache_t *lc, const kind_t *k, const char *ns, const char *start_after,
                   size_t limit, store_list_cb *cb, void *privdata);

/* A list with resourceVersion=0 ("any") and no continue token: as listcache_list, but
 * from the copy the whole kind (or namespace) is answered and the limit is ignored, as
 * kube-apiserver's watch cache does (informers start with such a list: one answer instead
 * of a page chain). While a copy is being taken the list waits for it rather than going to
 * the store; if taking it fails, the list goes to the store with its limit. */
int listcache_list_any(listcache_t *lc, const kind_t *k, const char *ns, size_t limit,
                       store_list_cb *cb, void *privdata);

/* What label and field selectors of k match against for an item of a list this cache
 * answered (list->cached): the object's selector projection (selector.h), made on first
 * use and kept with the item until it changes, as kube-apiserver's cache keeps each
 * object's label and field sets. Borrowed; NULL if the stored JSON does not parse. */
const json_t *listcache_match(const kind_t *k, store_item_t *it);

#endif
