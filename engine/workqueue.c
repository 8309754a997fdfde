/* workqueue.c: the rate-limited work queue (see workqueue.h).
 *
 * Each key known to the queue has one item, found through a chained hash table. An item is
 * kept while it is waiting (dirty), being processed, delayed (in the min-heap ordered by due
 * time) or has a backoff count to remember; then it is freed. The ready keys form a FIFO
 * linked through the items. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workqueue.h"

#define WQ_BATCH 64   /* keys handed out per loop iteration */

typedef struct wq_item_s {
    char *key;
    uint64_t hash;
    struct wq_item_s *hnext;       /* hash chain */
    struct wq_item_s *fnext;       /* ready FIFO */
    int dirty;                     /* wants processing (client-go's dirty set) */
    int in_fifo;
    int processing;
    long heap_idx;                 /* -1 when not delayed */
    uint64_t due_ms;
    int failures;
} wq_item_t;

struct workqueue_s {
    struct event_base *base;
    workqueue_process_fn *process;
    void *priv;
    int workers;
    size_t active;
    wq_item_t **buckets;
    size_t nbuckets, nitems;
    wq_item_t *fifo_head, *fifo_tail;
    size_t fifo_len;
    wq_item_t **heap;
    size_t heap_len, heap_cap;
    struct event *kick;            /* hands out ready keys */
    struct event *timer;           /* fires at the earliest due time */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---------------------------------------------------------------------------- items */

static wq_item_t *item_find(const workqueue_t *q, const char *key)
{
    uint64_t h = hash_key(key);
    for (wq_item_t *it = q->buckets[h & (q->nbuckets - 1)]; it; it = it->hnext)
        if (it->hash == h && !strcmp(it->key, key))
            return it;
    return NULL;
}

static int table_grow(workqueue_t *q)
{
    size_t n = q->nbuckets * 2;
    wq_item_t **b = calloc(n, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < q->nbuckets; i++) {
        wq_item_t *it = q->buckets[i], *next;
        for (; it; it = next) {
            next = it->hnext;
            it->hnext = b[it->hash & (n - 1)];
            b[it->hash & (n - 1)] = it;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
    return 0;
}

/* The item for key, created when missing; NULL on allocation failure. */
static wq_item_t *item_get(workqueue_t *q, const char *key)
{
    wq_item_t *it = item_find(q, key);
    if (it)
        return it;
    if (q->nitems >= q->nbuckets && table_grow(q) != 0)
        return NULL;
    it = calloc(1, sizeof(*it));
    if (!it || !(it->key = strdup(key))) {
        free(it);
        return NULL;
    }
    it->hash = hash_key(key);
    it->heap_idx = -1;
    it->hnext = q->buckets[it->hash & (q->nbuckets - 1)];
    q->buckets[it->hash & (q->nbuckets - 1)] = it;
    q->nitems++;
    return it;
}

/* Free the item when nothing refers to it any more. */
static void item_release(workqueue_t *q, wq_item_t *it)
{
    if (it->dirty || it->processing || it->heap_idx >= 0 || it->failures)
        return;
    wq_item_t **p = &q->buckets[it->hash & (q->nbuckets - 1)];
    while (*p != it)
        p = &(*p)->hnext;
    *p = it->hnext;
    q->nitems--;
    free(it->key);
    free(it);
}

/* ---------------------------------------------------------------------------- delays */

static int heap_less(const workqueue_t *q, size_t a, size_t b)
{
    return q->heap[a]->due_ms < q->heap[b]->due_ms;
}

static void heap_swap(workqueue_t *q, size_t a, size_t b)
{
    wq_item_t *t = q->heap[a];
    q->heap[a] = q->heap[b];
    q->heap[b] = t;
    q->heap[a]->heap_idx = (long)a;
    q->heap[b]->heap_idx = (long)b;
}

static void heap_up(workqueue_t *q, size_t i)
{
    while (i > 0 && heap_less(q, i, (i - 1) / 2)) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(workqueue_t *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->heap_len && heap_less(q, l, m))
            m = l;
        if (r < q->heap_len && heap_less(q, r, m))
            m = r;
        if (m == i)
            return;
        heap_swap(q, i, m);
        i = m;
    }
}

static wq_item_t *heap_pop(workqueue_t *q)
{
    wq_item_t *top = q->heap[0];
    q->heap_len--;
    if (q->heap_len) {
        q->heap[0] = q->heap[q->heap_len];
        q->heap[0]->heap_idx = 0;
        heap_down(q, 0);
    }
    top->heap_idx = -1;
    return top;
}

static void timer_arm(workqueue_t *q)
{
    evtimer_del(q->timer);
    if (!q->heap_len)
        return;
    uint64_t now = now_ms(), due = q->heap[0]->due_ms;
    uint64_t wait = due > now ? due - now : 0;
    struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
    evtimer_add(q->timer, &tv);
}

/* ---------------------------------------------------------------------------- dispatch */

/* A zero-delay timer rather than event_active(): libevent runs events activated during its
 * active pass in that same pass, so a key re-adding itself would never let the loop poll;
 * a timer is looked at only on the next iteration. */
static void kick_schedule(workqueue_t *q)
{
    static const struct timeval zero = { 0, 0 };
    if (q->fifo_head && q->active < (size_t)q->workers && !evtimer_pending(q->kick, NULL))
        evtimer_add(q->kick, &zero);
}

static void fifo_push(workqueue_t *q, wq_item_t *it)
{
    it->fnext = NULL;
    it->in_fifo = 1;
    if (q->fifo_tail)
        q->fifo_tail->fnext = it;
    else
        q->fifo_head = it;
    q->fifo_tail = it;
    q->fifo_len++;
}

static wq_item_t *fifo_pop(workqueue_t *q)
{
    wq_item_t *it = q->fifo_head;
    if (!it)
        return NULL;
    q->fifo_head = it->fnext;
    if (!q->fifo_head)
        q->fifo_tail = NULL;
    it->fnext = NULL;
    it->in_fifo = 0;
    q->fifo_len--;
    return it;
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    workqueue_t *q = arg;
    for (int n = 0; n < WQ_BATCH && q->fifo_head && q->active < (size_t)q->workers; n++) {
        wq_item_t *it = fifo_pop(q);
        it->dirty = 0;
        it->processing = 1;
        q->active++;
        q->process(q, it->key, q->priv);
    }
    kick_schedule(q);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    workqueue_t *q = arg;
    uint64_t now = now_ms();
    while (q->heap_len && q->heap[0]->due_ms <= now) {
        wq_item_t *it = heap_pop(q);
        /* Not through workqueue_add: the item already exists and must not be released. */
        if (!it->dirty) {
            it->dirty = 1;
            if (!it->processing)
                fifo_push(q, it);
        }
        item_release(q, it);
    }
    timer_arm(q);
    kick_schedule(q);
}

/* ---------------------------------------------------------------------------- API */

workqueue_t *workqueue_create(struct event_base *base, int workers, workqueue_process_fn *process,
                              void *priv)
{
    workqueue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->base = base;
    q->process = process;
    q->priv = priv;
    q->workers = workers > 0 ? workers : 1;
    q->nbuckets = 64;
    q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
    q->kick = evtimer_new(base, on_kick, q);
    q->timer = evtimer_new(base, on_timer, q);
    if (!q->buckets || !q->kick || !q->timer || !process) {
        workqueue_free(q);
        return NULL;
    }
    return q;
}

void workqueue_free(workqueue_t *q)
{
    if (!q)
        return;
    if (q->kick)
        event_free(q->kick);
    if (q->timer)
        event_free(q->timer);
    for (size_t i = 0; q->buckets && i < q->nbuckets; i++) {
        wq_item_t *it = q->buckets[i], *next;
        for (; it; it = next) {
            next = it->hnext;
            free(it->key);
            free(it);
        }
    }
    free(q->buckets);
    free(q->heap);
    free(q);
}

int workqueue_add(workqueue_t *q, const char *key)
{
    wq_item_t *it = item_get(q, key);
    if (!it)
        return -1;
    if (it->dirty)
        return 0;
    it->dirty = 1;
    if (!it->processing) {
        fifo_push(q, it);
        kick_schedule(q);
    }
    return 0;
}

int workqueue_add_after(workqueue_t *q, const char *key, long delay_ms)
{
    if (delay_ms <= 0)
        return workqueue_add(q, key);
    wq_item_t *it = item_get(q, key);
    if (!it)
        return -1;
    uint64_t due = now_ms() + (uint64_t)delay_ms;
    if (it->heap_idx >= 0) {
        if (due < it->due_ms) {
            it->due_ms = due;
            heap_up(q, (size_t)it->heap_idx);
            timer_arm(q);
        }
        return 0;
    }
    if (q->heap_len == q->heap_cap) {
        size_t cap = q->heap_cap ? q->heap_cap * 2 : 32;
        wq_item_t **h = realloc(q->heap, cap * sizeof(*h));
        if (!h) {
            item_release(q, it);
            return -1;
        }
        q->heap = h;
        q->heap_cap = cap;
    }
    it->due_ms = due;
    it->heap_idx = (long)q->heap_len;
    q->heap[q->heap_len++] = it;
    heap_up(q, (size_t)it->heap_idx);
    timer_arm(q);
    return 0;
}

long workqueue_backoff_ms(int failures)
{
    long d = WORKQUEUE_BASE_DELAY_MS;
    for (int i = 0; i < failures && d < WORKQUEUE_MAX_DELAY_MS; i++)
        d *= 2;
    return d < WORKQUEUE_MAX_DELAY_MS ? d : WORKQUEUE_MAX_DELAY_MS;
}

int workqueue_add_rate_limited(workqueue_t *q, const char *key)
{
    wq_item_t *it = item_get(q, key);
    if (!it)
        return -1;
    long delay = workqueue_backoff_ms(it->failures);
    if (it->failures < 1000000)
        it->failures++;
    return workqueue_add_after(q, key, delay);
}

void workqueue_forget(workqueue_t *q, const char *key)
{
    wq_item_t *it = item_find(q, key);
    if (it) {
        it->failures = 0;
        item_release(q, it);
    }
}

int workqueue_num_requeues(workqueue_t *q, const char *key)
{
    wq_item_t *it = item_find(q, key);
    return it ? it->failures : 0;
}

void workqueue_done(workqueue_t *q, const char *key)
{
    wq_item_t *it = item_find(q, key);
    if (!it || !it->processing)
        return;
    it->processing = 0;
    q->active--;
    if (it->dirty && !it->in_fifo)
        fifo_push(q, it);
    kick_schedule(q);
    item_release(q, it);
}

size_t workqueue_len(const workqueue_t *q)
{
    return q->fifo_len;
}

size_t workqueue_delayed(const workqueue_t *q)
{
    return q->heap_len;
}

size_t workqueue_active(const workqueue_t *q)
{
    return q->active;
}
