/* loadgen.c: closed-loop HTTP load for the berth API server: C keep-alive connections, each
 * with one request in flight, all driven by one epoll thread (like redis-benchmark, which is
 * the reference it is compared with). Measures throughput and per-request latency.
 *
 *   loadgen -p PORT -m create|get|list [-c CONNS] [-s NS] [-d SECONDS | -N COUNT]
 *           [-w WARMUP] [-b BODYFILE] [-P PREFIX] [-k KEYS]
 *
 *   create  POST /api/v1/namespaces/NS/pods with BODYFILE, "@NAME@" in it replaced by
 *           PREFIX<i>, i = 0, 1, 2, ... in issue order (so -N 10000 loads PREFIX0..PREFIX9999)
 *   get     GET .../pods/PREFIX<i>, i uniformly random in [0, KEYS)
 *   list    GET .../pods
 *
 * -d: run WARMUP (default 0.5) seconds unmeasured, then SECONDS measured; requests still in
 * flight at the end are drained and not counted. -N: exactly COUNT requests, all measured.
 * Prints one line of key=value pairs (rps, p50_ms, p99_ms, ...; total counts every response,
 * warm-up and drain included, for CPU-per-request figures) on stdout; exit status 1 if a
 * connection failed or any response was not 2xx.
 *
 * Depends on bench_http.c. Built and run by scripts/bench.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench_http.h"

enum { MODE_CREATE, MODE_GET, MODE_LIST };

typedef struct conn_s {
    int fd;
    bh_resp_t resp;
    char *out;          /* the request being written (owned) */
    size_t out_len, out_off;
    uint64_t t_start;
    int measured;       /* issued inside the measurement window */
} conn_t;

typedef struct gen_s {
    int mode, port;
    const char *ns, *prefix;
    char *body_pre, *body_post;   /* BODYFILE split at "@NAME@" (owned) */
    unsigned long keys;
    unsigned long next_name;      /* create: the next i */
    unsigned long issued, limit;  /* limit 0: duration mode */
    uint64_t rng;
    uint64_t t_measure, t_end;    /* duration mode window */
    unsigned long ok, errors, in_flight;
    unsigned long completed;      /* every response, warm-up and drain included */
    int first_bad_status;
    uint64_t resp_bytes;
    bh_sample_t lat;
} gen_t;

static uint64_t rng_next(gen_t *g)
{
    /* xorshift64: cheap, and good enough to spread gets over the keys. */
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

/* Build the next request into c->out. Returns 0, or -1 when out of memory. */
static int build_request(gen_t *g, conn_t *c)
{
    char *buf = NULL;
    int n;
    if (g->mode == MODE_CREATE) {
        char name[128];
        size_t blen;
        snprintf(name, sizeof(name), "%s%lu", g->prefix, g->next_name++);
        blen = strlen(g->body_pre) + strlen(name) + strlen(g->body_post);
        n = asprintf(&buf,
                     "POST /api/v1/namespaces/%s/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "User-Agent: berth-bench\r\nAccept: application/json\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s%s%s",
                     g->ns, blen, g->body_pre, name, g->body_post);
    } else if (g->mode == MODE_GET) {
        unsigned long i = (unsigned long)(rng_next(g) % g->keys);
        n = asprintf(&buf,
                     "GET /api/v1/namespaces/%s/pods/%s%lu HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "User-Agent: berth-bench\r\nAccept: application/json\r\n\r\n",
                     g->ns, g->prefix, i);
    } else {
        n = asprintf(&buf,
                     "GET /api/v1/namespaces/%s/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "User-Agent: berth-bench\r\nAccept: application/json\r\n\r\n",
                     g->ns);
    }
    if (n < 0)
        return -1;
    free(c->out);
    c->out = buf;
    c->out_len = (size_t)n;
    c->out_off = 0;
    return 0;
}

/* Write what is left of c->out; 1 when all written, 0 when the socket is full, -1 on error. */
static int flush_out(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        c->out_off += (size_t)n;
    }
    return 1;
}

static int want_more(gen_t *g, uint64_t now)
{
    if (g->limit)
        return g->issued < g->limit;
    return now < g->t_end;
}

/* Start the next request on c if the run wants one. Returns -1 on a socket error. */
static int issue(gen_t *g, conn_t *c, int ep, uint64_t now)
{
    struct epoll_event ev;
    int w;
    if (!want_more(g, now))
        return 0;
    if (build_request(g, c) != 0)
        return -1;
    g->issued++;
    g->in_flight++;
    c->t_start = bh_now_ns();
    c->measured = g->limit ? 1 : c->t_start >= g->t_measure;
    bh_resp_init(&c->resp, NULL, NULL);
    w = flush_out(c);
    if (w < 0)
        return -1;
    memset(&ev, 0, sizeof(ev));
    ev.events = w ? EPOLLIN : EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* One response ended on c. */
static void complete(gen_t *g, conn_t *c, uint64_t now)
{
    int good = c->resp.status >= 200 && c->resp.status < 300;
    g->in_flight--;
    g->completed++;
    if (!good) {
        g->errors++;
        if (!g->first_bad_status)
            g->first_bad_status = c->resp.status;
    }
    /* Duration mode counts what completed inside the window; the drain after it does not. */
    if (c->measured && (g->limit || now <= g->t_end) && good) {
        g->ok++;
        g->resp_bytes += c->resp.body_bytes;
        bh_sample_add(&g->lat, (double)(now - c->t_start) / 1e6);
    }
}

/* Readable: parse, and start the next request when the response is complete. */
static int on_readable(gen_t *g, conn_t *c, int ep)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        long used;
        uint64_t now;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        now = bh_now_ns();
        used = bh_resp_feed(&c->resp, buf, (size_t)n);
        if (used < 0)
            return -1;
        if (c->resp.state == BH_DONE) {
            /* One request in flight per connection, so nothing may follow the response. */
            if (used != n)
                return -1;
            complete(g, c, now);
            return issue(g, c, ep, now);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen -p PORT -m create|get|list [-c CONNS] [-s NS] [-d SECONDS | -N COUNT]\n"
                    "               [-w WARMUP] [-b BODYFILE] [-P PREFIX] [-k KEYS]\n");
}

int main(int argc, char **argv)
{
    gen_t g;
    conn_t *conns = NULL;
    int opt, nconn = 50, ep = -1, rc = 1, i;
    double seconds = 0, warmup = 0.5;
    const char *body_path = NULL, *mode = NULL;
    uint64_t t0, t_done;
    struct epoll_event evs[256];

    memset(&g, 0, sizeof(g));
    g.ns = "default";
    g.prefix = "bench-";
    g.keys = 1;
    g.rng = 0x9e3779b97f4a7c15ull;
    while ((opt = getopt(argc, argv, "p:m:c:s:d:N:w:b:P:k:")) != -1) {
        switch (opt) {
        case 'p': g.port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'c': nconn = atoi(optarg); break;
        case 's': g.ns = optarg; break;
        case 'd': seconds = atof(optarg); break;
        case 'N': g.limit = strtoul(optarg, NULL, 10); break;
        case 'w': warmup = atof(optarg); break;
        case 'b': body_path = optarg; break;
        case 'P': g.prefix = optarg; break;
        case 'k': g.keys = strtoul(optarg, NULL, 10); break;
        default: usage(); return 2;
        }
    }
    if (!mode || g.port <= 0 || nconn < 1 || nconn > 10000 || g.keys < 1 || (seconds <= 0) == (g.limit == 0)) {
        usage();
        return 2;
    }
    if (!strcmp(mode, "create"))
        g.mode = MODE_CREATE;
    else if (!strcmp(mode, "get"))
        g.mode = MODE_GET;
    else if (!strcmp(mode, "list"))
        g.mode = MODE_LIST;
    else {
        usage();
        return 2;
    }
    if (g.mode == MODE_CREATE) {
        char *at;
        if (!body_path || !(g.body_pre = bh_read_file(body_path))) {
            fprintf(stderr, "loadgen: create needs a readable -b BODYFILE\n");
            return 2;
        }
        if (!(at = strstr(g.body_pre, "@NAME@"))) {
            fprintf(stderr, "loadgen: %s has no @NAME@ placeholder\n", body_path);
            goto out;
        }
        *at = 0;
        g.body_post = at + 6;
    }
    if (g.limit && (unsigned long)nconn > g.limit)
        nconn = (int)g.limit;

    ep = epoll_create1(0);
    conns = calloc((size_t)nconn, sizeof(*conns));
    if (ep < 0 || !conns)
        goto out;
    for (i = 0; i < nconn; i++) {
        struct epoll_event ev;
        conns[i].fd = bh_connect(g.port);
        if (conns[i].fd < 0) {
            perror("loadgen: connect");
            goto out;
        }
        fcntl(conns[i].fd, F_SETFL, fcntl(conns[i].fd, F_GETFL) | O_NONBLOCK);
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = &conns[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
            goto out;
    }

    t0 = bh_now_ns();
    g.t_measure = t0 + (uint64_t)(warmup * 1e9);
    g.t_end = g.t_measure + (uint64_t)(seconds * 1e9);
    for (i = 0; i < nconn; i++)
        if (issue(&g, &conns[i], ep, t0) != 0) {
            perror("loadgen: write");
            goto out;
        }
    /* Run until nothing is in flight: duration mode stops issuing at t_end and drains, with
     * 30 seconds of patience for a server that stopped answering. */
    while (g.in_flight > 0) {
        int n = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), 100), k;
        uint64_t now = bh_now_ns();
        if (n < 0 && errno != EINTR)
            goto out;
        if (!g.limit && now > g.t_end + 30000000000ull) {
            fprintf(stderr, "loadgen: %lu requests unanswered 30 s after the end\n", g.in_flight);
            goto out;
        }
        for (k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            if (evs[k].events & EPOLLOUT) {
                int w = flush_out(c);
                struct epoll_event ev;
                if (w < 0)
                    goto sock_err;
                if (w) {
                    memset(&ev, 0, sizeof(ev));
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (on_readable(&g, c, ep) != 0)
                    goto sock_err;
            }
        }
    }
    t_done = bh_now_ns();
    {
        double secs = g.limit ? (double)(t_done - t0) / 1e9 : seconds;
        double p50 = bh_quantile(g.lat.v, g.lat.n, 0.50), p99 = bh_quantile(g.lat.v, g.lat.n, 0.99);
        double mx = bh_quantile(g.lat.v, g.lat.n, 1.0);
        printf("mode=%s conns=%d ok=%lu errors=%lu total=%lu seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f "
               "max_ms=%.3f resp_bytes=%.0f\n",
               mode, nconn, g.ok, g.errors, g.completed, secs, (double)g.ok / secs, p50, p99, mx,
               g.ok ? (double)g.resp_bytes / (double)g.ok : 0.0);
    }
    if (g.errors)
        fprintf(stderr, "loadgen: %lu responses were not 2xx (first: %d)\n", g.errors, g.first_bad_status);
    rc = g.errors ? 1 : 0;
    goto out;
sock_err:
    fprintf(stderr, "loadgen: connection failed or sent a malformed response: %s\n", strerror(errno));
out:
    if (conns) {
        for (i = 0; i < nconn; i++) {
            if (conns[i].fd > 0)
                close(conns[i].fd);
            free(conns[i].out);
        }
        free(conns);
    }
    if (ep >= 0)
        close(ep);
    free(g.body_pre);
    free(g.lat.v);
    return rc;
}
