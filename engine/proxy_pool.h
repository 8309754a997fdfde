/* proxy_pool.h: relays (proxy_relay.h) run on worker threads, for berth proxy.
 *
 * The proxy's own event loop accepts client connections, picks the endpoint and connects
 * to it; the connected pair is then handed to one of N workers, each a thread with its own
 * event loop, which relays the bytes until both sides are done. Moving the bytes is most
 * of a proxy's CPU time, so with N workers a proxy uses more than one core, as haproxy
 * (nbthread) and nginx (worker processes) do; all decisions (round robin, ClientIP
 * affinity, retries) stay on the one proxy loop, so no proxy state is shared.
 *
 * A pair goes to the worker with the fewest running relays (the next one in turn on a
 * tie). Counters are kept per worker with relaxed atomics and summed on request.
 *
 * Threads: proxy_pool_* are called from the proxy loop's thread only. Each worker's event
 * base is touched only by its thread while it runs; a mutex guards its queue of new pairs,
 * and an eventfd wakes it.
 *
 * Depends on proxy_relay.h, libevent, pthreads. Called by proxy.c. */
#ifndef BERTH_PROXY_POOL_H
#define BERTH_PROXY_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "proxy_relay.h"

typedef struct proxy_pool_s proxy_pool_t;

typedef struct proxy_pool_stats_s {
    uint64_t active;            /* pairs handed over and not finished (queued or relaying) */
    uint64_t relay_errors;      /* relays cut by a reset or an error */
    uint64_t bytes_up, bytes_down;  /* over finished relays */
} proxy_pool_stats_t;

#define PROXY_POOL_MAX 64

/* Start nthreads workers (1..PROXY_POOL_MAX) relaying with mode; with 0, no thread: the
 * relays run on base, started at once by proxy_pool_submit (the caller's loop must run
 * base). NULL with err when a thread, event base or eventfd cannot be made. */
proxy_pool_t *proxy_pool_create(struct event_base *base, int nthreads, proxy_relay_mode_t mode,
                                char *err, size_t errlen);

/* Hand a connected pair (non-blocking sockets) to a worker, which owns them from now on.
 * -1 when it cannot be queued (out of memory): both sockets are closed then. */
int proxy_pool_submit(proxy_pool_t *p, int client, int backend);

/* The counters summed over the workers. */
void proxy_pool_stats(proxy_pool_t *p, proxy_pool_stats_t *out);

/* The number of worker threads (0: relays on the caller's base). */
int proxy_pool_threads(const proxy_pool_t *p);

/* Stop the workers, close every relay still running (and pairs still queued), free. */
void proxy_pool_free(proxy_pool_t *p);

/* The number of worker threads "auto" means here: the CPUs this process may run on, at
 * most 8. */
int proxy_pool_auto_threads(void);

#endif
