/* listcache.c: see listcache.h.
 *
 * Per kind: the objects sorted by store field ("<ns>/<name>"), in Redis' lexicographic
 * order so that pages and continue tokens are the same as the store's; the
 * resourceVersion the copy is at (pos) and the kind's last write (modrv).
 *
 * Taking a copy never blocks Redis nor a list: HSCAN steps of SCAN_COUNT objects, after
 * reading berth:rv (rv0), then one delta from rv0 that replays every change made since, in
 * order, over whatever versions the steps saw; lists meanwhile go to the store as before.
 * Once ready, a list waits for a delta read sent after it arrived, applies it and is
 * answered from the copy; a timer catches copies in use up every refresh interval so that
 * those deltas stay small. A copy not listed for IDLE_SECONDS is dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "listcache.h"
#include "log.h"
#include "metrics.h"
#include "selector.h"
#include "util.h"
#include "jsonload.h"

#define DELTA_MIN      1000   /* changes a delta may carry at least (more than half the copy:
                                 copy anew) */
#define SCAN_COUNT     1000   /* objects per HSCAN step */
#define IDLE_SECONDS   120    /* a copy not listed for this long is dropped */
#define RETRY_SECONDS  5      /* after a copy failed, lists go to the store this long */

typedef struct kcache_s kcache_t;

typedef enum { FOR_LIST, FOR_REFRESH, FOR_CATCHUP } purpose_t;

/* One delta read in flight: for a list (the list's arguments and callback), for the
 * refresh timer, or the catch-up that ends taking a copy. */
typedef struct read_s {
    kcache_t *kc;
    purpose_t purpose;
    char *ns, *start_after;
    size_t limit;
    int any;                    /* resourceVersion=0: from the copy, the limit is ignored */
    store_list_cb *cb;
    void *privdata;
    struct read_s *next;        /* in kc->waiting */
} read_t;

struct kcache_s {
    listcache_t *lc;
    const kind_t *kind;         /* the latest request's: kinds stay valid until exit */
    char *store_key;
    int ready;                  /* items hold the kind as of pos */
    int building;               /* a copy is being taken */
    int refreshing;             /* the timer's delta is in flight */
    unsigned generation;        /* store_generation() the copy was taken in */
    uint64_t pos, modrv;
    store_item_t *items;        /* sorted; key and data share one allocation, at key */
    size_t n;
    store_item_t *scan;         /* the copy being taken, as the HSCAN steps bring it */
    size_t nscan, capscan;
    uint64_t scan_rv;           /* berth:rv read before the first step */
    uint64_t last_listed, retry_at;   /* util_now_us() */
    read_t *waiting;            /* resourceVersion=0 lists waiting for the copy being taken */
    kcache_t *next;
};

struct listcache_s {
    store_t *store;
    struct event *timer;
    kcache_t *kinds;
};

/* ---- items ------------------------------------------------------------------------- */

/* First index whose key is >= key (or > key when strict). */
static size_t bound(const kcache_t *kc, const char *key, size_t keylen, int strict)
{
    size_t lo = 0, hi = kc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = store_key_cmp(kc->items[mid].key, kc->items[mid].keylen, key, keylen);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* One allocation: key, NUL, data, NUL. */
static int item_set(store_item_t *it, const char *key, size_t keylen, const char *data, size_t len)
{
    char *block = malloc(keylen + len + 2);
    if (!block)
        return -1;
    memcpy(block, key, keylen);
    block[keylen] = '\0';
    memcpy(block + keylen + 1, data, len);
    block[keylen + 1 + len] = '\0';
    it->key = block;
    it->keylen = keylen;
    it->data = block + keylen + 1;
    it->len = len;
    it->match = NULL;
    return 0;
}

/* Free one item's allocation and projection (the struct itself belongs to an array). */
static void item_clear(store_item_t *it)
{
    free((char *)it->key);
    json_decref(it->match);
    it->key = it->data = NULL;
    it->match = NULL;
}

static void items_free(store_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        item_clear(&items[i]);
    free(items);
}

static void count_objects(const kcache_t *kc)
{
    char labels[300];
    snprintf(labels, sizeof(labels), "resource=\"%s\"", kc->store_key);
    metrics_set("berth_list_cache_objects", labels, (double)kc->n);
}

static void drop(kcache_t *kc)
{
    items_free(kc->items, kc->n);
    kc->items = NULL;
    kc->n = 0;
    kc->ready = 0;
    kc->pos = kc->modrv = 0;
    count_objects(kc);
}

/* The last change of each key, sorted by key: changes[] come in rv order, so ties on the
 * key sort by rv. */
static int change_cmp(const void *a, const void *b)
{
    const store_change_t *x = *(const store_change_t *const *)a;
    const store_change_t *y = *(const store_change_t *const *)b;
    int c = store_key_cmp(x->key, x->keylen, y->key, y->keylen);
    return c ? c : (x->rv > y->rv) - (x->rv < y->rv);
}

/* Apply the changes newer than the copy. -1: out of memory (the copy is then dropped). */
static int apply(kcache_t *kc, const store_delta_t *d)
{
    const store_change_t **last = NULL;
    size_t m = 0, inserts = 0, removes = 0;
    store_item_t *merged;

    for (size_t i = 0; i < d->n; i++)
        if (d->changes[i].rv > kc->pos)
            m++;
    if (!m)
        return 0;
    last = malloc(m * sizeof(*last));
    if (!last)
        return -1;
    m = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->changes[i].rv > kc->pos)
            last[m++] = &d->changes[i];
    qsort(last, m, sizeof(*last), change_cmp);
    /* Keep the last change per key; updates of present keys are done in place. */
    for (size_t i = 0; i < m; i++) {
        if (i + 1 < m &&
            !store_key_cmp(last[i]->key, last[i]->keylen, last[i + 1]->key, last[i + 1]->keylen))
            continue;
        const store_change_t *ch = last[i];
        size_t at = bound(kc, ch->key, ch->keylen, 0);
        int present = at < kc->n &&
                      !store_key_cmp(kc->items[at].key, kc->items[at].keylen, ch->key, ch->keylen);
        int deleted = !strcmp(ch->type, "DELETED");
        if (present && deleted) {
            kc->items[at].data = NULL;  /* removed by the merge; the key still sorts */
            removes++;
        } else if (present) {
            store_item_t it;
            if (item_set(&it, ch->key, ch->keylen, ch->data, ch->len) != 0)
                goto oom;
            item_clear(&kc->items[at]);
            kc->items[at] = it;
        } else if (!deleted) {
            last[inserts++] = ch;       /* inserted below, packed at the front, in key order */
        }
    }
    if (!inserts && !removes) {
        free(last);
        return 0;
    }
    /* Inserts and removals: copy the new objects first, then one merge that cannot fail. */
    store_item_t *ins = calloc(inserts + 1, sizeof(*ins));
    size_t made = 0;
    while (ins && made < inserts && item_set(&ins[made], last[made]->key, last[made]->keylen,
                                             last[made]->data, last[made]->len) == 0)
        made++;
    merged = ins && made == inserts ? malloc((kc->n + inserts - removes + 1) * sizeof(*merged))
                                    : NULL;
    if (!merged) {
        items_free(ins, made);
        goto oom;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < kc->n || j < inserts) {
        if (i < kc->n && !kc->items[i].data) {
            item_clear(&kc->items[i++]);
            continue;
        }
        if (j < inserts && (i == kc->n || store_key_cmp(ins[j].key, ins[j].keylen, kc->items[i].key,
                                                   kc->items[i].keylen) < 0))
            merged[n++] = ins[j++];
        else
            merged[n++] = kc->items[i++];
    }
    free(ins);
    free(kc->items);
    kc->items = merged;
    kc->n = n;
    free(last);
    return 0;
oom:
    free(last);
    drop(kc);   /* copied anew next time */
    return -1;
}

/* ---- answering ---------------------------------------------------------------------- */

static read_t *read_new(kcache_t *kc, purpose_t purpose)
{
    read_t *rd = calloc(1, sizeof(*rd));
    if (rd) {
        rd->kc = kc;
        rd->purpose = purpose;
    }
    return rd;
}

static void read_free(read_t *rd)
{
    free(rd->ns);
    free(rd->start_after);
    free(rd);
}

static void count_list(const kcache_t *kc, const char *source)
{
    char labels[320];
    snprintf(labels, sizeof(labels), "resource=\"%s\",source=\"%s\"", kc->store_key, source);
    metrics_add("berth_list_cache_lists_total", labels, 1);
}

/* Answer a list from the copy. */
static void answer_from_copy(kcache_t *kc, const read_t *rd)
{
    store_list_t list = { 0 };
    size_t lo = 0, hi = kc->n;
    if (rd->ns && *rd->ns && kc->kind->namespaced) {
        /* Keys of one namespace are the range ["<ns>/", "<ns>0"): '0' follows '/'. */
        char k[320];
        size_t nl = strlen(rd->ns);
        if (nl + 1 < sizeof(k)) {
            memcpy(k, rd->ns, nl);
            k[nl] = '/';
            lo = bound(kc, k, nl + 1, 0);
            k[nl] = '0';
            hi = bound(kc, k, nl + 1, 0);
        } else {
            lo = hi = 0;   /* longer than any namespace name */
        }
    }
    if (rd->start_after && *rd->start_after) {
        size_t s = bound(kc, rd->start_after, strlen(rd->start_after), 1);
        if (s > lo)
            lo = s;
    }
    if (lo > hi)
        lo = hi;
    list.status = STORE_OK;
    list.cached = 1;
    list.rv = kc->pos;
    list.modrv = kc->modrv;
    list.items = kc->items + lo;
    list.n = hi - lo;
    if (rd->limit && !rd->any && list.n > rd->limit) {
        list.n = rd->limit;
        list.more = 1;
    }
    count_list(kc, "cache");
    rd->cb(&list, rd->privdata);
}

/* A list read from the store (no copy is ready); same promise as store_list. */
static int list_from_store(kcache_t *kc, const char *ns, const char *start_after, size_t limit,
                           store_list_cb *cb, void *privdata)
{
    count_list(kc, "store");
    return store_list(kc->lc->store, kc->kind, ns, start_after, limit, cb, privdata);
}

/* Answer rd's list, if it has one (from the copy, from the store, or with an error), and
 * free rd. From the store the read is sent now, after the list arrived, so it is as fresh
 * as the copy would have been. */
static void read_finish(read_t *rd, int from_copy, store_status_t status, const char *errstr)
{
    store_list_t failed = { .status = status, .errstr = errstr };
    if (!rd->cb)
        ;
    else if (status != STORE_OK)
        rd->cb(&failed, rd->privdata);
    else if (from_copy)
        answer_from_copy(rd->kc, rd);
    else if (list_from_store(rd->kc, rd->ns, rd->start_after, rd->limit, rd->cb,
                             rd->privdata) != 0) {
        failed.status = STORE_UNAVAILABLE;
        failed.errstr = "the connection to Redis was lost";
        rd->cb(&failed, rd->privdata);
    }
    read_free(rd);
}

/* ---- taking a copy ----------------------------------------------------------------- */

static void delta_done(const store_delta_t *d, void *priv);
static void scan_done(const store_list_t *list, const char *next, void *priv);

static int send_delta(kcache_t *kc, read_t *rd)
{
    size_t count = kc->n / 2 > DELTA_MIN ? kc->n / 2 : DELTA_MIN;
    return store_list_delta(kc->lc->store, kc->kind, kc->pos, count, delta_done, rd);
}

/* The copy is ready, or taking it failed: the lists that waited for it send their delta
 * read now, as any list does (so each still sees every write acknowledged before it
 * arrived), or go to the store with their limit. */
static void wake_waiting(kcache_t *kc)
{
    read_t *rd = kc->waiting;
    kc->waiting = NULL;
    while (rd) {
        read_t *next = rd->next;
        rd->next = NULL;
        if (!kc->ready || send_delta(kc, rd) != 0)
            read_finish(rd, 0, STORE_OK, NULL);
        rd = next;
    }
}

static void scan_clear(kcache_t *kc)
{
    items_free(kc->scan, kc->nscan);
    kc->scan = NULL;
    kc->nscan = kc->capscan = 0;
}

static void build_failed(kcache_t *kc, const char *why)
{
    log_warn("list cache %s: taking the copy failed (%s): lists read Redis for %d s",
             kc->store_key, why, RETRY_SECONDS);
    scan_clear(kc);
    kc->building = 0;
    kc->retry_at = util_now_us() + RETRY_SECONDS * 1000000ull;
    wake_waiting(kc);
}

static void scan_rv_done(const store_result_t *res, void *priv)
{
    kcache_t *kc = priv;
    if (!kc->building)
        return;
    if (res->status != STORE_OK) {
        build_failed(kc, res->errstr ? res->errstr : "no resourceVersion");
        return;
    }
    kc->scan_rv = res->rv;
    if (store_scan(kc->lc->store, kc->kind, "0", SCAN_COUNT, scan_done, kc) != 0)
        build_failed(kc, "the connection to Redis was lost");
}


static void scan_done(const store_list_t *list, const char *next, void *priv)
{
    kcache_t *kc = priv;
    if (!kc->building)
        return;
    if (list->status != STORE_OK || kc->generation != store_generation(kc->lc->store)) {
        build_failed(kc, list->errstr ? list->errstr : "Redis was reconnected");
        return;
    }
    if (kc->nscan + list->n > kc->capscan) {
        size_t cap = kc->capscan ? kc->capscan * 2 : 1024;
        while (cap < kc->nscan + list->n)
            cap *= 2;
        store_item_t *grown = realloc(kc->scan, cap * sizeof(*grown));
        if (!grown) {
            build_failed(kc, "out of memory");
            return;
        }
        kc->scan = grown;
        kc->capscan = cap;
    }
    for (size_t i = 0; i < list->n; i++) {
        const store_item_t *it = &list->items[i];
        if (item_set(&kc->scan[kc->nscan], it->key, it->keylen, it->data, it->len) != 0) {
            build_failed(kc, "out of memory");
            return;
        }
        kc->nscan++;
    }
    if (strcmp(next, "0") != 0) {
        if (store_scan(kc->lc->store, kc->kind, next, SCAN_COUNT, scan_done, kc) != 0)
            build_failed(kc, "the connection to Redis was lost");
        return;
    }
    /* The whole hash was seen. Sorted, without the objects HSCAN returned twice; the
     * versions differ only for objects written since scan_rv, which the delta replays. */
    if (kc->nscan)
        qsort(kc->scan, kc->nscan, sizeof(*kc->scan), store_item_cmp);
    size_t n = 0;
    for (size_t i = 0; i < kc->nscan; i++) {
        if (n && !store_item_cmp(&kc->scan[n - 1], &kc->scan[i]))
            item_clear(&kc->scan[i]);
        else
            kc->scan[n++] = kc->scan[i];
    }
    drop(kc);
    kc->items = kc->scan;
    kc->n = n;
    kc->pos = kc->scan_rv;
    kc->scan = NULL;
    kc->nscan = kc->capscan = 0;
    read_t *rd = read_new(kc, FOR_CATCHUP);
    if (!rd || send_delta(kc, rd) != 0) {
        free(rd);
        drop(kc);
        build_failed(kc, "the connection to Redis was lost");
    }
}

static void start_build(kcache_t *kc)
{
    if (kc->ready || kc->building || util_now_us() < kc->retry_at)
        return;
    kc->building = 1;
    kc->generation = store_generation(kc->lc->store);
    if (store_current_rv(kc->lc->store, scan_rv_done, kc) != 0)
        build_failed(kc, "the connection to Redis was lost");
}

/* The catch-up after the HSCAN steps: the copy becomes ready at d->rv. */
static void catchup_done(kcache_t *kc, const store_delta_t *d)
{
    char labels[300];
    if (!kc->building)
        return;
    kc->building = 0;
    if (d->status != STORE_OK || kc->generation != store_generation(kc->lc->store) ||
        d->rv < kc->pos || !d->complete) {
        /* Failed, or the stream lost changes made during the scan: the window is shorter
         * than the scan took. Later lists try again. */
        drop(kc);
        build_failed(kc, d->status != STORE_OK ? d->errstr
                         : !d->complete ? "more changes during the scan than the stream keeps"
                                        : "Redis changed under the scan");
        return;
    }
    if (apply(kc, d) != 0) {
        build_failed(kc, "out of memory");
        return;
    }
    kc->pos = d->rv;
    kc->modrv = d->modrv;
    kc->ready = 1;
    kc->retry_at = 0;
    snprintf(labels, sizeof(labels), "resource=\"%s\"", kc->store_key);
    metrics_add("berth_list_cache_snapshots_total", labels, 1);
    count_objects(kc);
    wake_waiting(kc);
}

static void delta_done(const store_delta_t *d, void *priv)
{
    read_t *rd = priv;
    kcache_t *kc = rd->kc;

    if (rd->purpose == FOR_CATCHUP) {
        catchup_done(kc, d);
        read_free(rd);
        return;
    }
    if (rd->purpose == FOR_REFRESH)
        kc->refreshing = 0;
    if (d->status != STORE_OK) {
        read_finish(rd, 0, d->status, d->errstr);
        return;
    }
    if (kc->ready && d->rv < kc->pos) {
        log_warn("list cache %s: resourceVersion went back from %llu to %llu: copying again",
                 kc->store_key, (unsigned long long)kc->pos, (unsigned long long)d->rv);
        drop(kc);
    }
    if (kc->ready && d->rv > kc->pos && !d->complete)
        drop(kc);   /* too many changes, or some trimmed away */
    if (kc->ready && d->rv > kc->pos) {
        if (apply(kc, d) == 0) {
            kc->pos = d->rv;
            if (d->modrv > kc->modrv)
                kc->modrv = d->modrv;
            count_objects(kc);
        }   /* else the copy was dropped: the list goes to the store */
    }
    start_build(kc);
    read_finish(rd, kc->ready, STORE_OK, NULL);
}

/* ---- the timer --------------------------------------------------------------------- */

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    listcache_t *lc = arg;
    uint64_t now = util_now_us();
    for (kcache_t *kc = lc->kinds; kc; kc = kc->next) {
        if (!kc->ready)
            continue;
        if (now - kc->last_listed > IDLE_SECONDS * 1000000ull) {
            log_debug("list cache %s: not listed for %d s: dropping the copy", kc->store_key,
                      IDLE_SECONDS);
            drop(kc);
        } else if (!kc->refreshing && kc->generation == store_generation(lc->store)) {
            read_t *rd = read_new(kc, FOR_REFRESH);
            if (rd && send_delta(kc, rd) == 0)
                kc->refreshing = 1;
            else
                free(rd);
        }
    }
}

/* ---- the interface ----------------------------------------------------------------- */

listcache_t *listcache_create(struct event_base *base, store_t *store, unsigned refresh_ms)
{
    listcache_t *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return NULL;
    lc->store = store;
    if (refresh_ms) {
        struct timeval tv = { refresh_ms / 1000, (refresh_ms % 1000) * 1000 };
        lc->timer = event_new(base, -1, EV_PERSIST, refresh_cb, lc);
        if (!lc->timer || event_add(lc->timer, &tv) != 0) {
            listcache_free(lc);
            return NULL;
        }
    }
    metrics_describe("berth_list_cache_objects", "gauge",
                     "Objects held by the API server's list cache, by resource.");
    metrics_describe("berth_list_cache_snapshots_total", "counter",
                     "Copies of a resource taken into the list cache.");
    metrics_describe("berth_list_cache_lists_total", "counter",
                     "Lists answered, by resource and source: cache, or store while no copy "
                     "is ready.");
    return lc;
}

void listcache_free(listcache_t *lc)
{
    if (!lc)
        return;
    if (lc->timer)
        event_free(lc->timer);
    while (lc->kinds) {
        kcache_t *kc = lc->kinds;
        lc->kinds = kc->next;
        items_free(kc->items, kc->n);
        items_free(kc->scan, kc->nscan);
        while (kc->waiting) {
            read_t *rd = kc->waiting;
            kc->waiting = rd->next;
            read_free(rd);
        }
        free(kc->store_key);
        free(kc);
    }
    free(lc);
}

const json_t *listcache_match(const kind_t *k, store_item_t *it)
{
    if (!it->match) {
        json_t *obj = jsonload(it->data, it->len, 0, NULL);
        if (!obj)
            return NULL;
        it->match = selector_projection(obj, k->field_selectors);
        json_decref(obj);
    }
    return it->match;
}

static kcache_t *kcache_get(listcache_t *lc, const kind_t *k)
{
    kcache_t *kc;
    for (kc = lc->kinds; kc; kc = kc->next)
        if (!strcmp(kc->store_key, k->store_key))
            break;
    if (!kc) {
        kc = calloc(1, sizeof(*kc));
        if (!kc || !(kc->store_key = strdup(k->store_key))) {
            free(kc);
            return NULL;
        }
        kc->lc = lc;
        kc->next = lc->kinds;
        lc->kinds = kc;
    }
    kc->kind = k;
    return kc;
}

static int list_common(listcache_t *lc, const kind_t *k, const char *ns, const char *start_after,
                       size_t limit, int any, store_list_cb *cb, void *privdata)
{
    kcache_t *kc = kcache_get(lc, k);
    read_t *rd;

    if (!kc)
        return -1;
    kc->last_listed = util_now_us();
    if (kc->ready && kc->generation != store_generation(lc->store))
        drop(kc);   /* Redis was reconnected: maybe another one, or restored */
    if (!kc->ready) {
        start_build(kc);
        if (!any || !kc->building)
            return list_from_store(kc, ns, start_after, limit, cb, privdata);
    }
    rd = read_new(kc, FOR_LIST);
    if (!rd || (ns && !(rd->ns = strdup(ns))) ||
        (start_after && !(rd->start_after = strdup(start_after)))) {
        if (rd)
            read_free(rd);
        return -1;
    }
    rd->limit = limit;
    rd->any = any;
    rd->cb = cb;
    rd->privdata = privdata;
    if (!kc->ready) {
        rd->next = kc->waiting;   /* any: wait for the copy being taken */
        kc->waiting = rd;
        return 0;
    }
    if (send_delta(kc, rd) != 0) {
        read_free(rd);   /* Redis down: the caller answers 503; cb is never called */
        return -1;
    }
    return 0;
}

int listcache_list(listcache_t *lc, const kind_t *k, const char *ns, const char *start_after,
                   size_t limit, store_list_cb *cb, void *privdata)
{
    return list_common(lc, k, ns, start_after, limit, 0, cb, privdata);
}

int listcache_list_any(listcache_t *lc, const kind_t *k, const char *ns, size_t limit,
                       store_list_cb *cb, void *privdata)
{
    return list_common(lc, k, ns, NULL, limit, 1, cb, privdata);
}
