/* watch.h: the watch hub: one Redis stream reader per kind, fanned out to every watcher.
 *
 * For each kind with watchers the hub keeps a feed: a dedicated Redis connection blocked in
 * XREAD on the kind's stream (berth:s:<kind>), and a ring of the most recent events. A new
 * watcher at resourceVersion R is served from the ring when it covers R; otherwise it first
 * catches up from the stream itself (XRANGE), then joins the live feed through the ring, so
 * no event can fall between the two. A resourceVersion older than the stream's window closes
 * the watcher with 410 Expired; losing Redis closes every watcher so clients re-list.
 *
 * The hub knows nothing of HTTP or selectors: it hands each watcher every event with
 * rv > the watcher's last, in order; filtering and framing are the caller's (api_watch.c).
 *
 * Depends on redis.h, store.h, kinds.h, jansson. */
#ifndef BERTH_WATCH_H
#define BERTH_WATCH_H

#include <stdint.h>
#include <jansson.h>
#include <event2/event.h>

#include "kinds.h"
#include "store.h"

typedef struct watch_hub_s watch_hub_t;
typedef struct watcher_s watcher_t;

typedef struct watch_event_s {
    uint64_t rv;
    const char *type;          /* "ADDED", "MODIFIED", "DELETED" */
    char *key;                 /* "<ns>/<name>" or "<name>" */
    char *obj;                 /* the object JSON as stored */
    size_t objlen;
    char *prev;                /* selector projection of the previous object, or "" */
    json_t *obj_json;          /* parsed lazily by watch_event_object() */
    json_t *prev_json;
} watch_event_t;

/* Called for each event in order. ev is borrowed for the duration of the call. */
typedef void watch_deliver_fn(void *owner, watch_event_t *ev);
/* The hub ends the watcher (it is already unsubscribed and must not be used again). code is
 * 410 (Expired: resourceVersion too old) or 503 (store lost); message says why. */
typedef void watch_close_fn(void *owner, int code, const char *message);

watch_hub_t *watch_hub_create(struct event_base *base, store_t *store, const char *redis_url);
void watch_hub_free(watch_hub_t *hub);

/* k is no longer served (kinds_retire): its watchers are closed with 410 and message, so
 * clients re-list (and find the kind gone or changed), and its feed is freed. */
void watch_hub_drop_kind(watch_hub_t *hub, const kind_t *k, const char *message);

/* Subscribe to k's events after resourceVersion from_rv. Events may be delivered before
 * this returns. Returns NULL if out of memory. */
watcher_t *watch_subscribe(watch_hub_t *hub, const kind_t *k, uint64_t from_rv,
                           watch_deliver_fn *deliver, watch_close_fn *close, void *owner);
/* Stop delivering (the caller is done). Safe to call at most once, never after close. */
void watch_unsubscribe(watcher_t *w);

/* The newest resourceVersion the kind's feed has passed to its watchers (for bookmarks),
 * or 0 if unknown. */
uint64_t watch_feed_rv(watch_hub_t *hub, const kind_t *k);
/* The newest resourceVersion handed to w (delivered or not matching its filter): every
 * event up to it has been seen. For bookmarks. */
uint64_t watch_last_rv(const watcher_t *w);
/* Number of open watchers, for /metrics. */
size_t watch_count(const watch_hub_t *hub);

/* The event's object and previous-object projection, parsed once and cached (borrowed;
 * NULL if absent or unparsable). */
json_t *watch_event_object(watch_event_t *ev);
json_t *watch_event_prev(watch_event_t *ev);

#endif
