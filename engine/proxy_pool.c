/* proxy_pool.c: see proxy_pool.h.
 *
 * Objects and who owns what:
 *   proxy_pool_t  the workers (an array), owned by the proxy;
 *   worker_t      a thread, its event base, its queue of pairs not yet started (under
 *                 lock) and its list of running relays (touched by the thread only, and by
 *                 proxy_pool_free once the thread has ended); with no threads, one worker
 *                 on the caller's base and thread, which starts each pair at once;
 *   wrelay_t      one running relay on a worker's list. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proxy_pool.h"

typedef struct worker_s worker_t;

typedef struct wrelay_s {
    worker_t *w;
    struct wrelay_s *prev, *next;
    proxy_relay_t *relay;
} wrelay_t;

typedef struct pair_s {
    int client, backend;
} pair_t;

struct worker_s {
    proxy_pool_t *pool;
    pthread_t thread;
    int started;                /* its thread runs */
    int on_caller;              /* no thread: base is the caller's, pairs start at once */
    struct event_base *base;
    struct event *wake;
    int efd;
    pthread_mutex_t lock;
    pair_t *queue;              /* under lock */
    size_t nqueue, capqueue;    /* under lock */
    int stop;                   /* under lock */
    wrelay_t *relays;           /* the thread's own */
    /* Written by the thread (relays, bytes, errors) or the proxy loop (queued), read by
     * the proxy loop: relaxed atomics, they are counters. */
    uint64_t queued, finished, relay_errors, bytes_up, bytes_down;
};

struct proxy_pool_s {
    proxy_relay_mode_t mode;
    int n;
    unsigned next;
    worker_t *w;
};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)

static void relay_done(proxy_relay_t *r, uint64_t up, uint64_t down, int ok, void *priv)
{
    wrelay_t *wr = priv;
    worker_t *w = wr->w;
    ADD(w->bytes_up, up);
    ADD(w->bytes_down, down);
    if (!ok)
        ADD(w->relay_errors, 1);
    if (wr->prev)
        wr->prev->next = wr->next;
    else
        w->relays = wr->next;
    if (wr->next)
        wr->next->prev = wr->prev;
    free(wr);
    ADD(w->finished, 1);
}

static void start_pair(worker_t *w, pair_t pr)
{
    wrelay_t *wr = calloc(1, sizeof(*wr));
    if (!wr) {
        close(pr.client);
        close(pr.backend);
        ADD(w->relay_errors, 1);
        ADD(w->finished, 1);
        return;
    }
    wr->w = w;
    wr->relay = proxy_relay_start(w->base, pr.client, pr.backend, w->pool->mode, relay_done, wr);
    if (!wr->relay) {   /* the sockets are closed already */
        free(wr);
        ADD(w->relay_errors, 1);
        ADD(w->finished, 1);
        return;
    }
    wr->next = w->relays;
    if (w->relays)
        w->relays->prev = wr;
    w->relays = wr;
}

/* The eventfd fired: take the queue as it is and start its pairs. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    uint64_t n;
    pair_t *q;
    size_t nq;
    int stop;
    if (read(w->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("proxy: relay worker: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&w->lock);
    q = w->queue;
    nq = w->nqueue;
    w->queue = NULL;
    w->nqueue = w->capqueue = 0;
    stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < nq; i++)
        start_pair(w, q[i]);
    free(q);
    if (stop)
        event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static void worker_wake(worker_t *w)
{
    uint64_t one = 1;
    if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("proxy: relay worker: eventfd write: %s", strerror(errno));
}

int proxy_pool_auto_threads(void)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    return n > 8 ? 8 : n;
}

proxy_pool_t *proxy_pool_create(struct event_base *base, int nthreads, proxy_relay_mode_t mode,
                                char *err, size_t errlen)
{
    proxy_pool_t *p = calloc(1, sizeof(*p));
    if (nthreads < 0 || nthreads > PROXY_POOL_MAX) {
        snprintf(err, errlen, "relay threads must be 0..%d", PROXY_POOL_MAX);
        free(p);
        return NULL;
    }
    if (!p || !(p->w = calloc(nthreads ? (size_t)nthreads : 1, sizeof(worker_t)))) {
        snprintf(err, errlen, "out of memory");
        free(p);
        return NULL;
    }
    p->mode = mode;
    if (nthreads == 0) {
        worker_t *w = &p->w[0];
        w->pool = p;
        w->efd = -1;
        w->base = base;
        w->on_caller = 1;
        pthread_mutex_init(&w->lock, NULL);
        p->n = 1;
        return p;
    }
    for (int i = 0; i < nthreads; i++) {
        worker_t *w = &p->w[i];
        w->pool = p;
        w->efd = -1;
        pthread_mutex_init(&w->lock, NULL);
        p->n++;
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->base = event_base_new();
        if (w->efd < 0 || !w->base) {
            snprintf(err, errlen, "relay worker %d: %s", i,
                     w->efd < 0 ? strerror(errno) : "no event base");
            goto failed;
        }
        w->wake = event_new(w->base, w->efd, EV_READ | EV_PERSIST, wake_cb, w);
        if (!w->wake || event_add(w->wake, NULL) != 0) {
            snprintf(err, errlen, "relay worker %d: out of memory", i);
            goto failed;
        }
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            snprintf(err, errlen, "relay worker %d: %s", i, strerror(rc));
            goto failed;
        }
        w->started = 1;
    }
    return p;
failed:
    proxy_pool_free(p);
    return NULL;
}

int proxy_pool_submit(proxy_pool_t *p, int client, int backend)
{
    /* The worker with the fewest relays, starting the search at the next one in turn.
     * queued only grows on this thread, so queued - finished never wraps. */
    unsigned start = p->next++ % (unsigned)p->n;
    worker_t *best = &p->w[start];
    uint64_t best_load = LOAD(best->queued) - LOAD(best->finished);
    for (int k = 1; k < p->n && best_load > 0; k++) {
        worker_t *w = &p->w[(start + (unsigned)k) % (unsigned)p->n];
        uint64_t load = LOAD(w->queued) - LOAD(w->finished);
        if (load < best_load) {
            best = w;
            best_load = load;
        }
    }
    /* Counted before the worker can see the pair, so finished never passes queued. */
    ADD(best->queued, 1);
    if (best->on_caller) {
        start_pair(best, (pair_t){ client, backend });
        return 0;
    }
    pthread_mutex_lock(&best->lock);
    if (best->nqueue == best->capqueue) {
        size_t cap = best->capqueue ? best->capqueue * 2 : 16;
        pair_t *q = realloc(best->queue, cap * sizeof(*q));
        if (!q) {
            pthread_mutex_unlock(&best->lock);
            ADD(best->finished, 1);
            close(client);
            close(backend);
            return -1;
        }
        best->queue = q;
        best->capqueue = cap;
    }
    best->queue[best->nqueue++] = (pair_t){ client, backend };
    int wake = best->nqueue == 1;
    pthread_mutex_unlock(&best->lock);
    /* One wake-up per batch: the worker takes the whole queue when it runs. */
    if (wake)
        worker_wake(best);
    return 0;
}

void proxy_pool_stats(proxy_pool_t *p, proxy_pool_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < p->n; i++) {
        worker_t *w = &p->w[i];
        uint64_t queued = LOAD(w->queued), finished = LOAD(w->finished);
        out->active += queued > finished ? queued - finished : 0;
        out->relay_errors += LOAD(w->relay_errors);
        out->bytes_up += LOAD(w->bytes_up);
        out->bytes_down += LOAD(w->bytes_down);
    }
}

int proxy_pool_threads(const proxy_pool_t *p)
{
    return p->w[0].on_caller ? 0 : p->n;
}

void proxy_pool_free(proxy_pool_t *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        worker_t *w = &p->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_mutex_unlock(&w->lock);
        worker_wake(w);
    }
    for (int i = 0; i < p->n; i++) {
        worker_t *w = &p->w[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        /* The thread has ended: what it owned is ours now. */
        while (w->relays) {
            wrelay_t *wr = w->relays;
            w->relays = wr->next;
            proxy_relay_free(wr->relay);
            free(wr);
        }
        for (size_t j = 0; j < w->nqueue; j++) {
            close(w->queue[j].client);
            close(w->queue[j].backend);
        }
        free(w->queue);
        if (w->wake)
            event_free(w->wake);
        if (w->base && !w->on_caller)
            event_base_free(w->base);
        if (w->efd >= 0)
            close(w->efd);
        pthread_mutex_destroy(&w->lock);
    }
    free(p->w);
    free(p);
}
