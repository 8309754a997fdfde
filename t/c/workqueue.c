/* t/c/workqueue.c: unit tests for engine/workqueue.c on a real libevent loop: deduplication,
 * one-at-a-time per key, worker limit, delays, per-key backoff, fairness to the loop. Every
 * wait is bounded; a watchdog ends the run if the loop itself hangs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "tap.h"
#include "workqueue.h"

static struct event_base *base;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    printf("Bail out! workqueue test: watchdog fired, the loop hangs\n");
    fflush(stdout);
    exit(1);
}

/* Run the loop until *flag is non-zero or ms elapse; returns *flag. */
static int run_until(const int *flag, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!*flag && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return *flag;
}

static void run_for(int ms)
{
    int never = 0;
    run_until(&never, ms);
}

/* ---------------------------------------------------------------------------- a recorder */

#define MAXLOG 4096

typedef struct {
    char log[MAXLOG][32];
    uint64_t when[MAXLOG];
    int n;
    int busy[8];                  /* keys "k0".."k7" being processed */
    int overlap;                  /* a key was handed out while being processed */
    int max_active;
    int async_ms;                 /* > 0: call done after this delay */
    int readd_times;              /* re-add (plain) from inside process this many times */
    int rl_times;                 /* re-add rate-limited this many times */
    int done_flag;
    int want;                     /* set done_flag after this many process calls */
    int hold;                     /* leave done() to the test */
} rec_t;

static rec_t R;
static workqueue_t *Q;

typedef struct {
    workqueue_t *q;
    char key[32];
    struct event *ev;
} later_t;

static int key_slot(const char *key)
{
    return (key[0] == 'k' && key[1] >= '0' && key[1] <= '7' && !key[2]) ? key[1] - '0' : -1;
}

static void finish(workqueue_t *q, const char *key)
{
    int s = key_slot(key);
    if (s >= 0)
        R.busy[s] = 0;
    workqueue_done(q, key);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    later_t *l = arg;
    finish(l->q, l->key);
    event_free(l->ev);
    free(l);
}

static void process(workqueue_t *q, const char *key, void *priv)
{
    int s = key_slot(key);
    if (R.n < MAXLOG) {
        snprintf(R.log[R.n], sizeof(R.log[0]), "%s", key);
        R.when[R.n] = now_ms();
    }
    R.n++;
    if (s >= 0) {
        if (R.busy[s])
            R.overlap = 1;
        R.busy[s] = 1;
    }
    if ((int)workqueue_active(q) > R.max_active)
        R.max_active = (int)workqueue_active(q);
    if (R.want && R.n >= R.want)
        R.done_flag = 1;
    if (R.readd_times > 0) {
        R.readd_times--;
        workqueue_add(q, key);
    }
    if (R.rl_times > 0) {
        R.rl_times--;
        workqueue_add_rate_limited(q, key);
    }
    if (R.hold)
        return;
    if (R.async_ms > 0) {
        later_t *l = calloc(1, sizeof(*l));
        struct timeval tv = { 0, R.async_ms * 1000 };
        l->q = q;
        snprintf(l->key, sizeof(l->key), "%s", key);
        l->ev = evtimer_new(base, on_later, l);
        evtimer_add(l->ev, &tv);
        return;
    }
    finish(q, key);
}

static void reset(int workers)
{
    if (Q)
        workqueue_free(Q);
    memset(&R, 0, sizeof(R));
    Q = workqueue_create(base, workers, process, NULL);
}

static int count_of(const char *key)
{
    int c = 0;
    for (int i = 0; i < R.n && i < MAXLOG; i++)
        c += !strcmp(R.log[i], key);
    return c;
}

/* ---------------------------------------------------------------------------- tests */

static void test_dedup(void)
{
    reset(1);
    ok(Q != NULL, "workqueue_create");
    workqueue_add(Q, "k0");
    workqueue_add(Q, "k0");
    workqueue_add(Q, "k1");
    workqueue_add(Q, "k0");
    is_int(workqueue_len(Q), 2, "a waiting key is held once");
    is_int(R.n, 0, "nothing is processed from inside workqueue_add");
    R.want = 2;
    run_until(&R.done_flag, 2000);
    run_for(20);
    is_int(R.n, 2, "two keys processed");
    is_str(R.log[0], "k0", "in the order they were added (first)");
    is_str(R.log[1], "k1", "in the order they were added (second)");
    is_int(workqueue_len(Q), 0, "queue empty afterwards");
}

static void test_readd_while_processing(void)
{
    reset(4);
    R.hold = 1;               /* the test calls done itself */
    R.want = 1;
    workqueue_add(Q, "k2");
    run_until(&R.done_flag, 2000);
    is_int(R.n, 1, "k2 is being processed");
    is_int(workqueue_active(Q), 1, "one key active");
    workqueue_add(Q, "k2");
    workqueue_add(Q, "k2");
    run_for(20);
    is_int(R.n, 1, "re-added while processing: not handed out again yet");
    is_int(workqueue_len(Q), 0, "nor counted as waiting");
    R.done_flag = 0;
    R.want = 2;
    finish(Q, "k2");
    run_until(&R.done_flag, 2000);
    run_for(20);
    is_int(R.n, 2, "processed again once after done()");
    ok(!R.overlap, "never processed twice at the same time");
    finish(Q, "k2");
    workqueue_done(Q, "k2");
    workqueue_done(Q, "never-added");
    is_int(workqueue_active(Q), 0, "no key active at the end; extra done() calls are ignored");
}

static void test_workers(void)
{
    reset(2);
    R.async_ms = 20;
    for (int i = 0; i < 6; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        workqueue_add(Q, k);
    }
    R.want = 6;
    run_until(&R.done_flag, 3000);
    run_for(40);
    is_int(R.n, 6, "all six keys processed");
    is_int(R.max_active, 2, "never more than two keys at once with two workers");
    ok(!R.overlap, "no key overlapped itself");
}

static void test_add_after(void)
{
    reset(1);
    uint64_t t0 = now_ms();
    workqueue_add_after(Q, "k3", 60);
    is_int(workqueue_delayed(Q), 1, "k3 is delayed");
    is_int(workqueue_len(Q), 0, "and not ready");
    R.want = 1;
    run_until(&R.done_flag, 2000);
    ok(R.n == 1 && R.when[0] >= t0 + 55, "add_after(60 ms) processed after ~60 ms (%d ms)",
       (int)(R.when[0] - t0));
    is_int(workqueue_delayed(Q), 0, "nothing delayed afterwards");

    reset(1);
    t0 = now_ms();
    workqueue_add_after(Q, "k4", 2000);
    workqueue_add_after(Q, "k4", 30);
    workqueue_add_after(Q, "k4", 1000);
    is_int(workqueue_delayed(Q), 1, "a delayed key is held once");
    R.want = 1;
    run_until(&R.done_flag, 1500);
    ok(R.n == 1 && R.when[0] < t0 + 900, "the earliest delay wins (%d ms)", (int)(R.when[0] - t0));
    run_for(50);
    is_int(R.n, 1, "processed once");

    reset(1);
    workqueue_add_after(Q, "k5", 0);
    is_int(workqueue_len(Q), 1, "add_after(0) is a plain add");
    workqueue_add_after(Q, "a", 40);
    workqueue_add_after(Q, "b", 10);
    workqueue_add_after(Q, "c", 25);
    R.want = 4;
    run_until(&R.done_flag, 2000);
    is_int(R.n, 4, "four keys");
    ok(!strcmp(R.log[1], "b") && !strcmp(R.log[2], "c") && !strcmp(R.log[3], "a"),
       "delayed keys come out in due order (%s %s %s)", R.log[1], R.log[2], R.log[3]);
}

static void test_rate_limit(void)
{
    is_int(workqueue_backoff_ms(0), 5, "backoff 0: 5 ms");
    is_int(workqueue_backoff_ms(1), 10, "backoff 1: 10 ms");
    is_int(workqueue_backoff_ms(4), 80, "backoff 4: 80 ms");
    is_int(workqueue_backoff_ms(10), 5120, "backoff 10: 5.12 s");
    is_int(workqueue_backoff_ms(30), 1000000, "backoff capped at 1000 s");
    is_int(workqueue_backoff_ms(100000), 1000000, "backoff capped for huge counts");

    reset(1);
    uint64_t t0 = now_ms();
    R.rl_times = 4;           /* fail four times: 5 + 10 + 20 + 40 ms of backoff */
    workqueue_add(Q, "k6");
    R.want = 5;
    run_until(&R.done_flag, 3000);
    is_int(R.n, 5, "a key rate-limited four times is processed five times");
    ok(R.when[4] >= t0 + 70, "after the summed backoff (%d ms >= 75)", (int)(R.when[4] - t0));
    ok(R.when[2] - R.when[1] >= 9 && R.when[4] - R.when[3] >= 38,
       "each retry waits twice as long (%d, %d ms)", (int)(R.when[2] - R.when[1]),
       (int)(R.when[4] - R.when[3]));
    is_int(workqueue_num_requeues(Q, "k6"), 4, "num_requeues counts them");
    workqueue_forget(Q, "k6");
    is_int(workqueue_num_requeues(Q, "k6"), 0, "forget resets it");
    workqueue_add_rate_limited(Q, "k7");
    workqueue_add_rate_limited(Q, "k7");
    workqueue_add_rate_limited(Q, "k7");
    is_int(workqueue_num_requeues(Q, "k7"), 3, "three rate-limited adds");
    is_int(workqueue_delayed(Q), 1, "k7 waits once");
    R.want = 6;
    run_until(&R.done_flag, 2000);
    run_for(30);
    is_int(count_of("k7"), 1, "k7 processed once (earliest delay)");
    workqueue_forget(Q, "k7");
    is_int(workqueue_num_requeues(Q, "unknown"), 0, "unknown keys have no requeues");
}

static void test_fairness(void)
{
    reset(1);
    struct event *ev = evtimer_new(base, on_tick, NULL);
    struct timeval zero = { 0, 0 };
    R.readd_times = 10000000;   /* a key that re-adds itself every time */
    workqueue_add(Q, "k0");
    evtimer_add(ev, &zero);     /* due at once: must fire within a few batches */
    uint64_t t0 = now_ms();
    while (evtimer_pending(ev, NULL) && now_ms() < t0 + 3000)
        event_base_loop(base, EVLOOP_ONCE);
    ok(!evtimer_pending(ev, NULL) && R.n <= 4 * 64,
       "a timer still fires while a key keeps re-adding itself (after %d runs)", R.n);
    ok(!R.overlap, "and it never overlaps itself");
    event_free(ev);
    R.readd_times = 0;
    run_for(20);
}

static void test_free_busy(void)
{
    reset(2);
    R.async_ms = 0;
    workqueue_add(Q, "x1");
    workqueue_add_after(Q, "x2", 100000);
    workqueue_add_rate_limited(Q, "x3");
    workqueue_free(Q);
    Q = NULL;
    ok(1, "free with waiting, delayed and rate-limited keys");
    /* Some keys with a long key name and many items: the hash table grows. */
    reset(1);
    for (int i = 0; i < 3000; i++) {
        char k[64];
        snprintf(k, sizeof(k), "namespace-%d/some-object-name-%d", i % 7, i);
        workqueue_add(Q, k);
    }
    workqueue_add(Q, "namespace-0/some-object-name-0");
    is_int(workqueue_len(Q), 3000, "3000 distinct keys, duplicates dropped");
    R.want = 3000;
    run_until(&R.done_flag, 5000);
    is_int(R.n, 3000, "all processed");
    workqueue_free(Q);
    Q = NULL;
}

int main(void)
{
    base = event_base_new();
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = { 0, 5000 };
    event_add(tick, &tv);
    struct event *dog = evtimer_new(base, on_watchdog, NULL);
    struct timeval dtv = { 60, 0 };
    evtimer_add(dog, &dtv);

    test_dedup();
    test_readd_while_processing();
    test_workers();
    test_add_after();
    test_rate_limit();
    test_fairness();
    test_free_busy();

    if (Q)
        workqueue_free(Q);
    event_free(tick);
    event_free(dog);
    event_base_free(base);
    return done_testing();
}
