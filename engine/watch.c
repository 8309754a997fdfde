/* watch.c: see watch.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis.h"
#include "watch.h"
#include "jsonload.h"

#define RING_CAP      4096     /* recent events kept per kind for joining watchers */
#define RANGE_BATCH   1000     /* stream entries per catch-up call */
#define READ_BATCH    1000     /* stream entries per XREAD */
#define PENDING_LIMIT 10       /* seconds a watcher may wait for its feed to start */

typedef enum { W_PENDING, W_CATCHUP, W_LIVE } watcher_state_t;

typedef struct feed_s feed_t;

struct watcher_s {
    feed_t *feed;
    uint64_t last;             /* newest rv delivered (or the subscription rv) */
    watcher_state_t state;
    int busy;                  /* a range call is in flight, or events are being handed over */
    int dead;                  /* unsubscribed/closed while busy: freed when that ends */
    unsigned ranges;           /* catch-up calls made, to bound the loop */
    watch_deliver_fn *deliver;
    watch_close_fn *close;
    void *owner;
    watcher_t *prev, *next;
};

struct feed_s {
    watch_hub_t *hub;
    const kind_t *kind;
    rconn_t *conn;
    int running;               /* the base is known and XREAD is being issued */
    uint64_t complete_from;    /* the ring holds every event with rv > this */
    uint64_t last;             /* newest rv read from the stream */
    watch_event_t ring[RING_CAP];
    size_t head, count;        /* oldest entry at head */
    watcher_t *watchers;
    struct event *pending_timer;
    feed_t *next;
};

struct watch_hub_s {
    struct event_base *base;
    store_t *store;
    char *url;
    feed_t *feeds;
    size_t nwatchers;
};

static void feed_read(feed_t *f);

/* ---- events ------------------------------------------------------------------------ */

static void event_clear(watch_event_t *ev)
{
    free(ev->key);
    free(ev->obj);
    free(ev->prev);
    json_decref(ev->obj_json);
    json_decref(ev->prev_json);
    memset(ev, 0, sizeof(*ev));
}

/* Fill ev from one stream entry [id, [field, value, ...]]. Returns 0 or -1 if malformed. */
static int event_from_entry(watch_event_t *ev, const redisReply *entry)
{
    store_change_t ch;
    memset(ev, 0, sizeof(*ev));
    if (store_entry_parse(entry, &ch) != 0)
        return -1;
    ev->rv = ch.rv;
    ev->type = ch.type;
    ev->key = strndup(ch.key, ch.keylen);
    ev->obj = malloc(ch.len + 1);
    if (ev->obj) {
        memcpy(ev->obj, ch.data, ch.len);
        ev->obj[ch.len] = '\0';
        ev->objlen = ch.len;
    }
    ev->prev = ch.prev ? strndup(ch.prev, ch.prevlen) : strdup("");
    if (!ev->key || !ev->obj || !ev->prev) {
        event_clear(ev);
        return -1;
    }
    return 0;
}

json_t *watch_event_object(watch_event_t *ev)
{
    if (!ev->obj_json && ev->obj)
        ev->obj_json = jsonload(ev->obj, ev->objlen, 0, NULL);
    return ev->obj_json;
}

json_t *watch_event_prev(watch_event_t *ev)
{
    if (!ev->prev_json && ev->prev && ev->prev[0])
        ev->prev_json = jsonload(ev->prev, strlen(ev->prev), 0, NULL);
    return ev->prev_json;
}

/* ---- watchers ---------------------------------------------------------------------- */

static void watcher_unlink(watcher_t *w)
{
    feed_t *f = w->feed;
    if (w->prev)
        w->prev->next = w->next;
    else if (f->watchers == w)
        f->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    f->hub->nwatchers--;
}

/* End a watcher from the hub's side: tell the owner, then forget it. */
static void watcher_close(watcher_t *w, int code, const char *message)
{
    watch_close_fn *close = w->close;
    void *owner = w->owner;
    watcher_unlink(w);
    if (w->busy)
        w->dead = 1;        /* freed when the range reply arrives */
    else
        free(w);
    close(owner, code, message);
}

void watch_unsubscribe(watcher_t *w)
{
    if (!w)
        return;
    watcher_unlink(w);
    if (w->busy)
        w->dead = 1;
    else
        free(w);
}

static void deliver(watcher_t *w, watch_event_t *ev)
{
    if (ev->rv <= w->last)
        return;
    w->last = ev->rv;
    w->deliver(w->owner, ev);
}

/* Hand the ring's events after w->last to w, then deliver live from now on. The owner may
 * end the watch from inside deliver(): while w is busy, unsubscribe only marks it dead. */
static void watcher_go_live(watcher_t *w)
{
    feed_t *f = w->feed;
    w->state = W_LIVE;
    w->busy = 1;
    for (size_t i = 0; i < f->count && !w->dead; i++) {
        watch_event_t *ev = &f->ring[(f->head + i) % RING_CAP];
        if (ev->rv > w->last)
            deliver(w, ev);
    }
    w->busy = 0;
    if (w->dead)
        free(w);
}

static void watcher_start_range(watcher_t *w);

static void range_reply(struct redisReply *r, void *priv)
{
    watcher_t *w = priv;
    feed_t *f = w->feed;
    const redisReply *entries;
    uint64_t trimmed = 0;

    w->busy = 0;
    if (w->dead) {
        free(w);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
        watcher_close(w, 503, r && r->type == REDIS_REPLY_ERROR ? r->str
                                                                 : "the store is unavailable");
        return;
    }
    const char *dash = strchr(r->element[0]->str, '-');
    trimmed = dash ? strtoull(dash + 1, NULL, 10) : 0;
    if (w->last < trimmed) {
        char msg[128];
        snprintf(msg, sizeof(msg), "too old resource version: %" PRIu64 " (%" PRIu64 ")", w->last,
                 trimmed + 1);
        watcher_close(w, 410, msg);
        return;
    }
    entries = r->element[1];
    for (size_t i = 0; i < entries->elements; i++) {
        watch_event_t ev;
        if (event_from_entry(&ev, entries->element[i]) != 0)
            continue;
        /* The owner may end the watch from inside deliver(): stay busy so that only marks
         * it dead. */
        w->busy = 1;
        deliver(w, &ev);
        w->busy = 0;
        event_clear(&ev);
        if (w->dead) {
            free(w);
            return;
        }
    }
    if (!f->running)
        return;     /* the feed failed meanwhile; the watcher stays pending until it restarts */
    if (w->last >= f->complete_from)
        watcher_go_live(w);
    else
        watcher_start_range(w);
}

static void watcher_start_range(watcher_t *w)
{
    feed_t *f = w->feed;
    w->state = W_CATCHUP;
    if (++w->ranges > 100000 ||
        store_stream_range(f->hub->store, f->kind, w->last, RANGE_BATCH, range_reply, w) != 0) {
        watcher_close(w, 503, "the store is unavailable");
        return;
    }
    w->busy = 1;
}

/* Serve a watcher whose feed is running. */
static void watcher_begin(watcher_t *w)
{
    if (w->last >= w->feed->complete_from)
        watcher_go_live(w);
    else
        watcher_start_range(w);
}

/* ---- feeds ------------------------------------------------------------------------- */

static void feed_close_all(feed_t *f, int code, const char *message)
{
    while (f->watchers)
        watcher_close(f->watchers, code, message);
}

static void feed_clear_ring(feed_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        event_clear(&f->ring[(f->head + i) % RING_CAP]);
    f->head = f->count = 0;
}

static void feed_push(feed_t *f, watch_event_t *ev)
{
    if (f->count == RING_CAP) {
        watch_event_t *old = &f->ring[f->head];
        f->complete_from = old->rv;
        event_clear(old);
        f->head = (f->head + 1) % RING_CAP;
        f->count--;
    }
    f->ring[(f->head + f->count) % RING_CAP] = *ev;
    f->count++;
}

static void read_reply(rconn_t *c, redisReply *r, void *priv)
{
    feed_t *f = priv;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            log_warn("watch %s: XREAD failed: %s", f->kind->store_key, r->str);
        /* The connection is gone (its state callback closes the watchers) or Redis refused
         * the read: in both cases reconnect and start over. */
        if (r)
            rconn_reset(f->conn);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            watch_event_t ev;
            if (event_from_entry(&ev, entries->element[i]) != 0 || ev.rv <= f->last) {
                event_clear(&ev);
                continue;
            }
            f->last = ev.rv;
            feed_push(f, &ev);
            watch_event_t *stored = &f->ring[(f->head + f->count - 1) % RING_CAP];
            watcher_t *w = f->watchers, *next;
            for (; w; w = next) {
                next = w->next;
                if (w->state == W_LIVE)
                    deliver(w, stored);
            }
        }
    }
    feed_read(f);
}

static void feed_read(feed_t *f)
{
    char key[512], id[64];
    if (!f->running)
        return;
    store_key("s", f->kind, key, sizeof(key));
    snprintf(id, sizeof(id), "0-%" PRIu64, f->last);
    /* BLOCK with a timeout, not 0: a silent dead connection then shows within seconds. */
    if (rconn_command(f->conn, read_reply, f, "XREAD COUNT %d BLOCK 5000 STREAMS %s %s",
                      READ_BATCH, key, id) != 0)
        log_debug("watch %s: connection down", f->kind->store_key);
}

static void base_reply(rconn_t *c, redisReply *r, void *priv)
{
    feed_t *f = priv;
    uint64_t base;
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return;     /* the state callback handles the lost connection */
    base = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
    f->complete_from = f->last = base;
    f->running = 1;
    feed_read(f);
    for (watcher_t *w = f->watchers, *next; w; w = next) {
        next = w->next;
        if (w->state == W_PENDING)
            watcher_begin(w);
    }
}

static void feed_state(rconn_t *c, int up, void *priv)
{
    feed_t *f = priv;
    if (up) {
        rconn_command(f->conn, base_reply, f, "GET berth:rv");
        return;
    }
    f->running = 0;
    feed_clear_ring(f);
    feed_close_all(f, 503, "the connection to the store was lost; re-list and watch again");
}

static void pending_check(evutil_socket_t fd, short what, void *arg)
{
    feed_t *f = arg;
    if (f->running)
        return;
    for (watcher_t *w = f->watchers, *next; w; w = next) {
        next = w->next;
        if (w->state == W_PENDING)
            watcher_close(w, 503, "the store is unavailable");
    }
}

static feed_t *feed_get(watch_hub_t *hub, const kind_t *k)
{
    char err[256], name[300];
    feed_t *f;
    for (f = hub->feeds; f; f = f->next)
        if (f->kind == k)
            return f;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->hub = hub;
    f->kind = k;
    snprintf(name, sizeof(name), "watch:%s", k->store_key);
    f->conn = rconn_create(hub->base, hub->url, name, err, sizeof(err));
    f->pending_timer = evtimer_new(hub->base, pending_check, f);
    if (!f->conn || !f->pending_timer) {
        if (f->conn)
            rconn_free(f->conn);
        if (f->pending_timer)
            event_free(f->pending_timer);
        free(f);
        return NULL;
    }
    rconn_set_state_cb(f->conn, feed_state, f);
    f->next = hub->feeds;
    hub->feeds = f;
    return f;
}

/* ---- hub --------------------------------------------------------------------------- */

watch_hub_t *watch_hub_create(struct event_base *base, store_t *store, const char *redis_url)
{
    watch_hub_t *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return NULL;
    hub->base = base;
    hub->store = store;
    hub->url = strdup(redis_url);
    return hub;
}

void watch_hub_free(watch_hub_t *hub)
{
    if (!hub)
        return;
    while (hub->feeds) {
        feed_t *f = hub->feeds;
        hub->feeds = f->next;
        feed_close_all(f, 503, "the server is shutting down");
        rconn_set_state_cb(f->conn, NULL, NULL);
        rconn_free(f->conn);
        event_free(f->pending_timer);
        feed_clear_ring(f);
        free(f);
    }
    free(hub->url);
    free(hub);
}

void watch_hub_drop_kind(watch_hub_t *hub, const kind_t *k, const char *message)
{
    for (feed_t **pf = &hub->feeds; *pf; pf = &(*pf)->next) {
        feed_t *f = *pf;
        if (f->kind != k)
            continue;
        *pf = f->next;
        feed_close_all(f, 410, message);
        rconn_set_state_cb(f->conn, NULL, NULL);
        rconn_free(f->conn);
        event_free(f->pending_timer);
        feed_clear_ring(f);
        free(f);
        return;
    }
}

watcher_t *watch_subscribe(watch_hub_t *hub, const kind_t *k, uint64_t from_rv,
                           watch_deliver_fn *deliver_fn, watch_close_fn *close_fn, void *owner)
{
    feed_t *f = feed_get(hub, k);
    watcher_t *w;
    if (!f)
        return NULL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->feed = f;
    w->last = from_rv;
    w->deliver = deliver_fn;
    w->close = close_fn;
    w->owner = owner;
    w->state = W_PENDING;
    w->next = f->watchers;
    if (f->watchers)
        f->watchers->prev = w;
    f->watchers = w;
    hub->nwatchers++;
    if (f->running) {
        watcher_begin(w);
    } else {
        struct timeval tv = { PENDING_LIMIT, 0 };
        evtimer_add(f->pending_timer, &tv);
    }
    return w;
}

uint64_t watch_feed_rv(watch_hub_t *hub, const kind_t *k)
{
    for (feed_t *f = hub->feeds; f; f = f->next)
        if (f->kind == k)
            return f->running ? f->last : 0;
    return 0;
}

uint64_t watch_last_rv(const watcher_t *w)
{
    return w->state == W_LIVE ? w->last : 0;
}

size_t watch_count(const watch_hub_t *hub)
{
    return hub->nwatchers;
}
