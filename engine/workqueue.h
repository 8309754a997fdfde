/* workqueue.h: a rate-limited work queue of string keys on a libevent loop, after client-go's
 * workqueue.RateLimitingInterface.
 *
 * Controllers put keys ("<ns>/<name>") in; the queue hands each key to the process callback
 * with these guarantees:
 *   - a key waiting to be processed is held once, however often it is added;
 *   - a key is never processed twice at the same time: added again while being processed, it
 *     is processed again after workqueue_done();
 *   - at most `workers` keys are being processed at once;
 *   - workqueue_add_after() holds a key back for a delay (the earliest pending delay wins),
 *     workqueue_add_rate_limited() for a per-key exponential backoff (5 ms doubling on each
 *     call, capped at 1000 s) that workqueue_forget() resets.
 * Delays are served by one timer set to the earliest due key; keys are handed out from a
 * zero-delay event, never from inside workqueue_add*() or workqueue_done(), and a bounded
 * number per loop iteration so a key that keeps re-adding itself cannot starve the loop.
 *
 * Depends on libevent. Called by the controllers and the scheduler. */
#ifndef BERTH_WORKQUEUE_H
#define BERTH_WORKQUEUE_H

#include <stddef.h>
#include <event2/event.h>

typedef struct workqueue_s workqueue_t;

/* Process key (borrowed until workqueue_done). The callee must call workqueue_done(q, key)
 * exactly once when it has finished, now or later (from another callback on the loop). */
typedef void workqueue_process_fn(workqueue_t *q, const char *key, void *priv);

#define WORKQUEUE_BASE_DELAY_MS 5
#define WORKQUEUE_MAX_DELAY_MS  1000000   /* 1000 s */

/* A queue on base calling process with up to workers (>= 1) keys at once. NULL on allocation
 * failure. Caller frees with workqueue_free. */
workqueue_t *workqueue_create(struct event_base *base, int workers, workqueue_process_fn *process,
                              void *priv);

/* Free the queue and every key in it, pending, delayed or being processed (workqueue_done must
 * not be called for them afterwards). Not from inside the process callback. */
void workqueue_free(workqueue_t *q);

/* Queue key (copied) for processing. 0, or -1 on allocation failure. */
int workqueue_add(workqueue_t *q, const char *key);

/* Queue key after delay_ms milliseconds (<= 0: now). If key is already waiting for a later
 * time it moves to the earlier one. */
int workqueue_add_after(workqueue_t *q, const char *key, long delay_ms);

/* Queue key after its backoff: 5 ms << (times it was rate-limited since the last forget),
 * capped at 1000 s. */
int workqueue_add_rate_limited(workqueue_t *q, const char *key);

/* Reset key's backoff (the processing succeeded). Does not unqueue it. */
void workqueue_forget(workqueue_t *q, const char *key);

/* How many times key was rate-limited since the last forget. */
int workqueue_num_requeues(workqueue_t *q, const char *key);

/* The processing of key has finished; if it was added meanwhile it is queued again. Keys not
 * being processed are ignored. */
void workqueue_done(workqueue_t *q, const char *key);

/* Keys waiting to be processed now (not counting delayed or processing ones). */
size_t workqueue_len(const workqueue_t *q);
/* Keys held back by add_after / add_rate_limited. */
size_t workqueue_delayed(const workqueue_t *q);
/* Keys being processed. */
size_t workqueue_active(const workqueue_t *q);

/* The backoff that add_rate_limited would use after `failures` earlier calls, in ms. */
long workqueue_backoff_ms(int failures);

#endif
