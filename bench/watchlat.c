/* watchlat.c: watch delivery latency of the berth API server. One process holds W watch
 * streams (one epoll thread reads them all) while a writer thread creates E pods, one every
 * SPACING ms, on its own connection. For every (watcher, pod) pair the latency is the time
 * from just before the create request is written to the moment that watcher has read the
 * ADDED line naming the pod.
 *
 *   watchlat -p PORT [-s NS] [-w WATCHERS] [-e EVENTS] [-i SPACING_MS] -b BODYFILE [-P PREFIX]
 *
 * Prints one line of key=value pairs (expected, received, p50_ms, p99_ms, max_ms) on stdout;
 * exit status 1 when an event went missing or a request failed. The namespace should hold no
 * pods named PREFIX<i> yet (each run uses its own PREFIX).
 *
 * Depends on bench_http.c and pthreads. Built and run by scripts/bench.sh. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "bench_http.h"

#define MAX_LINE (1 << 20)

typedef struct watcher_s {
    int fd;
    int idx;
    bh_resp_t resp;
    char *line;            /* the current, incomplete event line (owned) */
    size_t line_len;
    int line_overflow;     /* the line outgrew MAX_LINE: ignore it up to its newline */
    uint64_t t_read;       /* when the bytes being parsed were read */
    unsigned char *seen;   /* seen[i]: this watcher got pod i's ADDED event */
} watcher_t;

typedef struct bench_s {
    int port, nwatch, nevents, spacing_ms;
    const char *ns, *prefix;
    char *body_pre, *body_post;
    uint64_t *t_send;          /* per event, written by the writer thread before the send */
    bh_sample_t lat;
    bh_sample_t create_lat;    /* the writer's own create round trips (the reference) */
    unsigned long received, duplicates, strays;
    int writer_failed;
} bench_t;

static bench_t B;

/* One complete event line: an ADDED event for PREFIX<i> records watcher w's latency for i.
 * The first "name":"PREFIX occurrence is metadata.name: the pod's own name comes before
 * any container name in the stored object, and containers are not named PREFIX<i>. */
static void on_line(watcher_t *w, const char *line, size_t len)
{
    char pat[160];
    const char *p;
    char *end;
    unsigned long i;
    (void)len;
    if (!strstr(line, "\"type\":\"ADDED\""))
        return;
    snprintf(pat, sizeof(pat), "\"name\":\"%s", B.prefix);
    if (!(p = strstr(line, pat))) {
        B.strays++;
        return;
    }
    p += strlen(pat);
    i = strtoul(p, &end, 10);
    if (end == p || *end != '"' || i >= (unsigned long)B.nevents) {
        B.strays++;
        return;
    }
    if (w->seen[i]) {
        B.duplicates++;
        return;
    }
    w->seen[i] = 1;
    B.received++;
    bh_sample_add(&B.lat, (double)(w->t_read - __atomic_load_n(&B.t_send[i], __ATOMIC_ACQUIRE)) / 1e6);
}

static void on_body(void *priv, const char *data, size_t len)
{
    watcher_t *w = priv;
    size_t k;
    for (k = 0; k < len; k++) {
        char ch = data[k];
        if (ch == '\n') {
            if (!w->line_overflow) {
                w->line[w->line_len] = 0;
                on_line(w, w->line, w->line_len);
            }
            w->line_len = 0;
            w->line_overflow = 0;
        } else if (w->line_len + 1 < MAX_LINE) {
            w->line[w->line_len++] = ch;
        } else {
            w->line_overflow = 1;
        }
    }
}

/* GET the namespace's pod list on a fresh connection; returns its resourceVersion or "". */
static void list_rv(char *rv, size_t rvsize)
{
    static char body[1 << 16];
    static size_t body_len;
    char req[512], buf[65536];
    bh_resp_t r;
    int fd = bh_connect(B.port);
    const char *p;
    size_t k = 0;

    rv[0] = 0;
    if (fd < 0)
        return;
    body_len = 0;
    snprintf(req, sizeof(req),
             "GET /api/v1/namespaces/%s/pods?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
             "Connection: close\r\n\r\n", B.ns);
    bh_resp_init(&r, NULL, NULL);
    if (bh_write_all(fd, req, strlen(req)) == 0) {
        ssize_t n;
        while (r.state != BH_DONE && (n = read(fd, buf, sizeof(buf))) > 0) {
            /* Keep the start of the response: the list's metadata comes first. */
            long used = bh_resp_feed(&r, buf, (size_t)n);
            if (used < 0)
                break;
            if (body_len + (size_t)used < sizeof(body)) {
                memcpy(body + body_len, buf, (size_t)used);
                body_len += (size_t)used;
            }
        }
    }
    close(fd);
    body[body_len < sizeof(body) ? body_len : sizeof(body) - 1] = 0;
    if ((p = strstr(body, "\"resourceVersion\":\""))) {
        p += strlen("\"resourceVersion\":\"");
        while (p[k] >= '0' && p[k] <= '9' && k + 1 < rvsize) {
            rv[k] = p[k];
            k++;
        }
        rv[k] = 0;
    }
}

/* The writer thread: E creates, SPACING ms apart, each stamped just before it is written. */
static void *writer_main(void *arg)
{
    int fd = bh_connect(B.port), i;
    char buf[65536];
    (void)arg;
    if (fd < 0) {
        B.writer_failed = 1;
        return NULL;
    }
    for (i = 0; i < B.nevents; i++) {
        char *req = NULL, name[160];
        size_t blen;
        int n;
        bh_resp_t r;
        struct timespec ts;
        snprintf(name, sizeof(name), "%s%d", B.prefix, i);
        blen = strlen(B.body_pre) + strlen(name) + strlen(B.body_post);
        n = asprintf(&req,
                     "POST /api/v1/namespaces/%s/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "User-Agent: berth-bench\r\nAccept: application/json\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s%s%s",
                     B.ns, blen, B.body_pre, name, B.body_post);
        if (n < 0) {
            B.writer_failed = 1;
            break;
        }
        __atomic_store_n(&B.t_send[i], bh_now_ns(), __ATOMIC_RELEASE);
        if (bh_write_all(fd, req, (size_t)n) != 0) {
            free(req);
            __atomic_store_n(&B.writer_failed, 1, __ATOMIC_RELAXED);
            break;
        }
        free(req);
        bh_resp_init(&r, NULL, NULL);
        while (r.state != BH_DONE) {
            ssize_t got = read(fd, buf, sizeof(buf));
            if (got <= 0 || bh_resp_feed(&r, buf, (size_t)got) < 0) {
                B.writer_failed = 1;
                break;
            }
        }
        if (B.writer_failed)
            break;
        bh_sample_add(&B.create_lat, (double)(bh_now_ns() - B.t_send[i]) / 1e6);
        if (r.status != 201) {
            fprintf(stderr, "watchlat: create %s answered %d\n", name, r.status);
            B.writer_failed = 1;
            break;
        }
        ts.tv_sec = B.spacing_ms / 1000;
        ts.tv_nsec = (long)(B.spacing_ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
    close(fd);
    return NULL;
}

/* Read what a watcher has; -1 when the stream ended or broke. */
static int watcher_read(watcher_t *w)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        long used;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        w->t_read = bh_now_ns();
        used = bh_resp_feed(&w->resp, buf, (size_t)n);
        if (used < 0 || w->resp.state == BH_DONE)
            return -1;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: watchlat -p PORT -b BODYFILE [-s NS] [-w WATCHERS] [-e EVENTS] [-i SPACING_MS] [-P PREFIX]\n");
}

int main(int argc, char **argv)
{
    watcher_t *ws = NULL;
    int opt, i, ep = -1, rc = 1, writer_started = 0, ready = 0;
    const char *body_path = NULL;
    char rv[32], *at;
    pthread_t writer;
    uint64_t deadline;
    struct epoll_event evs[256];

    B.ns = "default";
    B.prefix = "watch-";
    B.nwatch = 100;
    B.nevents = 200;
    B.spacing_ms = 5;
    while ((opt = getopt(argc, argv, "p:s:w:e:i:b:P:")) != -1) {
        switch (opt) {
        case 'p': B.port = atoi(optarg); break;
        case 's': B.ns = optarg; break;
        case 'w': B.nwatch = atoi(optarg); break;
        case 'e': B.nevents = atoi(optarg); break;
        case 'i': B.spacing_ms = atoi(optarg); break;
        case 'b': body_path = optarg; break;
        case 'P': B.prefix = optarg; break;
        default: usage(); return 2;
        }
    }
    if (B.port <= 0 || !body_path || B.nwatch < 1 || B.nwatch > 10000 || B.nevents < 1 ||
        B.nevents > 1000000 || B.spacing_ms < 0 || strlen(B.prefix) > 100) {
        usage();
        return 2;
    }
    if (!(B.body_pre = bh_read_file(body_path)) || !(at = strstr(B.body_pre, "@NAME@"))) {
        fprintf(stderr, "watchlat: %s is unreadable or has no @NAME@ placeholder\n", body_path);
        free(B.body_pre);
        return 2;
    }
    *at = 0;
    B.body_post = at + 6;
    B.t_send = calloc((size_t)B.nevents, sizeof(*B.t_send));
    ws = calloc((size_t)B.nwatch, sizeof(*ws));
    ep = epoll_create1(0);
    if (!B.t_send || !ws || ep < 0)
        goto out;

    /* Watch from the list's resourceVersion, so the stream holds exactly what happens next. */
    list_rv(rv, sizeof(rv));
    if (!rv[0]) {
        fprintf(stderr, "watchlat: could not read the pod list's resourceVersion\n");
        goto out;
    }
    for (i = 0; i < B.nwatch; i++) {
        watcher_t *w = &ws[i];
        char req[512];
        struct epoll_event ev;
        w->idx = i;
        w->fd = -1;
        w->line = malloc(MAX_LINE);
        w->seen = calloc((size_t)B.nevents, 1);
        if (!w->line || !w->seen)
            goto out;
        if ((w->fd = bh_connect(B.port)) < 0) {
            perror("watchlat: connect");
            goto out;
        }
        snprintf(req, sizeof(req),
                 "GET /api/v1/namespaces/%s/pods?watch=true&resourceVersion=%s HTTP/1.1\r\n"
                 "Host: 127.0.0.1\r\nUser-Agent: berth-bench\r\nAccept: application/json\r\n\r\n",
                 B.ns, rv);
        if (bh_write_all(w->fd, req, strlen(req)) != 0)
            goto out;
        fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
        bh_resp_init(&w->resp, on_body, w);
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = w;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) != 0)
            goto out;
    }

    /* Every stream must have its 200 head before the first write, or early events would
     * measure connection setup instead of delivery. */
    deadline = bh_now_ns() + 10000000000ull;
    while (ready < B.nwatch && bh_now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 256, 100), k;
        for (k = 0; k < n; k++) {
            watcher_t *w = evs[k].data.ptr;
            int had = w->resp.status != 0;
            if (watcher_read(w) != 0) {
                fprintf(stderr, "watchlat: watch stream %d ended early (status %d)\n", w->idx, w->resp.status);
                goto out;
            }
            if (!had && w->resp.status) {
                if (w->resp.status != 200) {
                    fprintf(stderr, "watchlat: watch answered %d\n", w->resp.status);
                    goto out;
                }
                ready++;
            }
        }
    }
    if (ready < B.nwatch) {
        fprintf(stderr, "watchlat: only %d of %d watch streams started\n", ready, B.nwatch);
        goto out;
    }

    if (pthread_create(&writer, NULL, writer_main, NULL) != 0)
        goto out;
    writer_started = 1;
    /* All events, or give up 5 seconds after the writes should have finished. */
    deadline = bh_now_ns() + (uint64_t)B.nevents * ((uint64_t)B.spacing_ms + 20) * 1000000ull + 5000000000ull;
    while (B.received < (unsigned long)B.nwatch * (unsigned long)B.nevents && bh_now_ns() < deadline &&
           !__atomic_load_n(&B.writer_failed, __ATOMIC_RELAXED)) {
        int n = epoll_wait(ep, evs, 256, 100), k;
        for (k = 0; k < n; k++) {
            watcher_t *w = evs[k].data.ptr;
            if (watcher_read(w) != 0) {
                fprintf(stderr, "watchlat: watch stream %d ended during the run\n", w->idx);
                goto out;
            }
        }
    }
    {
        unsigned long expected = (unsigned long)B.nwatch * (unsigned long)B.nevents;
        double p50 = bh_quantile(B.lat.v, B.lat.n, 0.50), p99 = bh_quantile(B.lat.v, B.lat.n, 0.99);
        double mx = bh_quantile(B.lat.v, B.lat.n, 1.0);
        double c50, c99;
        /* Read the writer's own sample only once it has finished. */
        if (writer_started) {
            pthread_join(writer, NULL);
            writer_started = 0;
        }
        c50 = bh_quantile(B.create_lat.v, B.create_lat.n, 0.50);
        c99 = bh_quantile(B.create_lat.v, B.create_lat.n, 0.99);
        printf("watchers=%d events=%d spacing_ms=%d expected=%lu received=%lu duplicates=%lu "
               "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f create_p50_ms=%.3f create_p99_ms=%.3f\n",
               B.nwatch, B.nevents, B.spacing_ms, expected, B.received, B.duplicates, p50, p99, mx, c50, c99);
        rc = B.received == expected && !B.writer_failed ? 0 : 1;
        if (B.writer_failed)
            fprintf(stderr, "watchlat: the writer failed\n");
    }
out:
    if (writer_started)
        pthread_join(writer, NULL);
    if (ws) {
        for (i = 0; i < B.nwatch; i++) {
            if (ws[i].fd > 0)
                close(ws[i].fd);
            free(ws[i].line);
            free(ws[i].seen);
        }
        free(ws);
    }
    if (ep >= 0)
        close(ep);
    free(B.t_send);
    free(B.body_pre);
    free(B.lat.v);
    free(B.create_lat.v);
    return rc;
}
