/* t/c/apiclient.c: engine/apiclient.c's keep-alive connections and its bound on requests in
 * flight, against a scripted HTTP server on a thread of its own (so that it can close
 * connections while the client's loop stands still, hold responses, or drop a request
 * without answering, and count what it accepted and received).
 *
 * What is checked: one-shot requests reuse one connection; a pooled connection the server
 * closed is not written into, whether the client's loop saw the close (evhttp's close
 * detection) or not (the peek before reuse), and the request is received exactly once; a
 * close racing a request resends a GET once on a new connection and never a POST; a
 * response with Connection: close is not reused; an idle connection expires after the
 * timeout; at most max_conns requests are on the wire (a quarter of the descriptor limit,
 * lowered here to 100), the rest wait in order, time out while waiting, and can be
 * cancelled while waiting. Run by t/0106-apiclient.t. Every wait is bounded. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <jansson.h>

#include "apiclient.h"
#include "tap.h"

/* ---------------------------------------------------------------------------- fake server */

enum { MODE_OK, MODE_DROP_NEXT, MODE_HOLD, MODE_CLOSE_HDR };

#define MAX_CONNS 256
#define MAX_LOG   1024

typedef struct {
    int fd;
    char buf[8192];
    size_t len;
    int held;                /* requests received and not answered (MODE_HOLD) */
} sconn_t;

static struct {
    pthread_mutex_t mu;
    int lfd, wake[2], port;
    sconn_t conns[MAX_CONNS];
    int nconns, max_open;
    int accepts, peer_closes;
    int mode;
    int close_all_req, close_all_done;
    int release_req;
    char log[MAX_LOG][64];   /* "METHOD PATH" of each request received */
    int nlog;
    int stop;
} S = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void s_reply(sconn_t *c, const char *method, const char *path, int close_hdr)
{
    char body[256], out[512];
    int code = strcmp(method, "GET") ? 201 : 200;
    int blen = snprintf(body, sizeof(body), "{\"kind\":\"Echo\",\"method\":\"%s\",\"path\":\"%s\"}",
                        method, path);
    int n = snprintf(out, sizeof(out), "HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n%s\r\n%s", code, blen,
                     close_hdr ? "Connection: close\r\n" : "", body);
    if (write(c->fd, out, (size_t)n) != n) {
        /* the client went away: it will see it */
    }
}

static void s_close(int i)
{
    close(S.conns[i].fd);
    S.conns[i] = S.conns[--S.nconns];
}

/* Answer or hold the complete requests in c's buffer. Returns -1 when c must be closed. */
static int s_serve(sconn_t *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        char method[16] = "", path[40] = "";
        size_t head, clen = 0;
        if (!end)
            return 0;
        head = (size_t)(end - c->buf) + 4;
        char *cl = strcasestr(c->buf, "Content-Length:");
        if (cl && cl < end)
            clen = strtoul(cl + 15, NULL, 10);
        if (c->len < head + clen)
            return 0;
        sscanf(c->buf, "%15s %39s", method, path);
        memmove(c->buf, c->buf + head + clen, c->len - head - clen);
        c->len -= head + clen;
        if (S.nlog < MAX_LOG)
            snprintf(S.log[S.nlog++], sizeof(S.log[0]), "%s %s", method, path);
        switch (S.mode) {
        case MODE_DROP_NEXT:
            S.mode = MODE_OK;
            return -1;
        case MODE_HOLD:
            c->held++;
            break;
        case MODE_CLOSE_HDR:
            s_reply(c, method, path, 1);
            return -1;
        default:
            s_reply(c, method, path, 0);
        }
    }
}

static void *s_main(void *arg)
{
    struct pollfd p[MAX_CONNS + 2];
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&S.mu);
        if (S.stop) {
            pthread_mutex_unlock(&S.mu);
            return NULL;
        }
        if (S.close_all_req) {
            while (S.nconns)
                s_close(0);
            S.close_all_req = 0;
            S.close_all_done++;
        }
        if (S.release_req) {
            /* Answer what was held (the mode is OK again by now). */
            for (int i = 0; i < S.nconns; i++)
                for (; S.conns[i].held > 0; S.conns[i].held--)
                    s_reply(&S.conns[i], "GET", "/held", 0);
            S.release_req = 0;
        }
        p[n++] = (struct pollfd){ S.lfd, POLLIN, 0 };
        p[n++] = (struct pollfd){ S.wake[0], POLLIN, 0 };
        for (int i = 0; i < S.nconns; i++)
            p[n++] = (struct pollfd){ S.conns[i].fd, POLLIN, 0 };
        pthread_mutex_unlock(&S.mu);

        if (poll(p, (nfds_t)n, 100) <= 0)
            continue;

        pthread_mutex_lock(&S.mu);
        if (p[1].revents) {
            char b[64];
            if (read(S.wake[0], b, sizeof(b)) < 0) {
                /* nothing: only a wake-up */
            }
        }
        /* Connections first (their indexes are those polled), then new ones. */
        for (int i = n - 1; i >= 2; i--) {
            sconn_t *c = &S.conns[i - 2];
            if (!p[i].revents || i - 2 >= S.nconns || c->fd != p[i].fd)
                continue;
            ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
            if (r <= 0) {
                S.peer_closes++;
                s_close(i - 2);
                continue;
            }
            c->len += (size_t)r;
            c->buf[c->len] = '\0';
            if (s_serve(c) < 0)
                s_close(i - 2);
        }
        if (p[0].revents) {
            int fd = accept(S.lfd, NULL, NULL);
            if (fd >= 0 && S.nconns < MAX_CONNS) {
                S.conns[S.nconns] = (sconn_t){ .fd = fd };
                S.nconns++;
                S.accepts++;
                if (S.nconns > S.max_open)
                    S.max_open = S.nconns;
            } else if (fd >= 0) {
                close(fd);
            }
        }
        pthread_mutex_unlock(&S.mu);
    }
}

static int s_start(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sin);
    pthread_t t;
    int one = 1;
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(S.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (S.lfd < 0 || bind(S.lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(S.lfd, 512) != 0 || getsockname(S.lfd, (struct sockaddr *)&sin, &len) != 0 ||
        pipe(S.wake) != 0)
        return -1;
    S.port = ntohs(sin.sin_port);
    return pthread_create(&t, NULL, s_main, NULL) == 0 ? 0 : -1;
}

static void s_wake(void)
{
    if (write(S.wake[1], "x", 1) != 1) {
        /* the pipe is never full for long */
    }
}

static void s_set_mode(int mode)
{
    pthread_mutex_lock(&S.mu);
    S.mode = mode;
    pthread_mutex_unlock(&S.mu);
}

static void s_reset_counts(void)
{
    pthread_mutex_lock(&S.mu);
    S.accepts = S.peer_closes = S.nlog = 0;
    S.max_open = S.nconns;
    pthread_mutex_unlock(&S.mu);
}

static int s_get(int *field)
{
    pthread_mutex_lock(&S.mu);
    int v = *field;
    pthread_mutex_unlock(&S.mu);
    return v;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Close every connection the server holds, and wait (without running the client's loop)
 * until it has. */
static void s_close_all(void)
{
    pthread_mutex_lock(&S.mu);
    int want = S.close_all_done + 1;
    S.close_all_req = 1;
    pthread_mutex_unlock(&S.mu);
    s_wake();
    uint64_t end = now_ms() + 5000;
    while (s_get(&S.close_all_done) < want && now_ms() < end)
        usleep(1000);
    usleep(50 * 1000);   /* the FINs are on their way over loopback */
}

static void s_release(void)
{
    pthread_mutex_lock(&S.mu);
    S.mode = MODE_OK;
    S.release_req = 1;
    pthread_mutex_unlock(&S.mu);
    s_wake();
}

/* How many log entries are "METHOD PATH". */
static int s_count(const char *line)
{
    int n = 0;
    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < S.nlog; i++)
        n += !strcmp(S.log[i], line);
    pthread_mutex_unlock(&S.mu);
    return n;
}

/* ---------------------------------------------------------------------------- client side */

static struct event_base *base;

typedef struct {
    int done, status, calls;
    char err[64];
} res_t;

static void on_done(int status, json_t *body, const char *errstr, void *priv)
{
    res_t *r = priv;
    r->done++;
    r->calls++;
    r->status = status;
    snprintf(r->err, sizeof(r->err), "%s", errstr ? errstr : "");
}

static void run_ms(int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    struct timeval tv = { 0, 20000 };
    while (now_ms() < end) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static int run_until_done(res_t *r, int n, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    struct timeval tv = { 0, 20000 };
    while (r->done < n && now_ms() < end) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    return r->done >= n;
}

/* One request, waited for. Returns its status (0: failed or timed out). */
static int req(apiclient_t *c, const char *method, const char *path, res_t *r)
{
    json_t *body = strcmp(method, "GET") ? json_pack("{s:s}", "kind", "Binding") : NULL;
    memset(r, 0, sizeof(*r));
    apiclient_call_t *call = apiclient_request(c, method, path, NULL, body, on_done, r);
    json_decref(body);
    if (!call || !run_until_done(r, 1, 10000))
        return 0;
    return r->status;
}

static void test_reuse(apiclient_t *c)
{
    res_t r;
    s_reset_counts();
    int all = 1;
    for (int i = 0; i < 5; i++)
        all &= req(c, i % 2 ? "POST" : "GET", "/seq", &r) == (i % 2 ? 201 : 200);
    ok(all, "five requests one after another answered");
    is_int(s_get(&S.accepts), 1, "on one connection");
}

static void test_closed_while_idle(apiclient_t *c)
{
    res_t r;
    /* The loop does not run between the close and the request: only the peek can tell. */
    req(c, "GET", "/warm", &r);
    s_reset_counts();
    s_close_all();
    is_int(req(c, "POST", "/after-close", &r), 201,
           "a POST after the server closed the idle connection (loop stood still) succeeds");
    is_int(s_count("POST /after-close"), 1, "the server received it exactly once");
    is_int(s_get(&S.accepts), 1, "on a new connection");

    /* The loop runs after the close: evhttp's close detection resets the connection. */
    s_reset_counts();
    s_close_all();
    run_ms(200);
    is_int(req(c, "POST", "/after-close-2", &r), 201,
           "a POST after a close the loop saw succeeds");
    is_int(s_count("POST /after-close-2"), 1, "received exactly once");
}

static void test_close_racing_request(apiclient_t *c)
{
    res_t r;
    req(c, "GET", "/warm", &r);
    s_reset_counts();
    /* The server reads the next request and closes without an answer: as if it closed the
     * connection just as the request went out. */
    s_set_mode(MODE_DROP_NEXT);
    is_int(req(c, "GET", "/dropped-get", &r), 200, "a GET dropped on a reused connection is sent again");
    is_int(s_count("GET /dropped-get"), 2, "once more, not more");
    is_int(s_get(&S.accepts), 1, "on a new connection");

    req(c, "GET", "/warm", &r);
    s_reset_counts();
    s_set_mode(MODE_DROP_NEXT);
    is_int(req(c, "POST", "/dropped-post", &r), 0,
           "a POST dropped on a reused connection fails (status 0)");
    ok(r.err[0] != '\0', "with a reason (%s)", r.err);
    is_int(r.calls, 1, "its callback ran once");
    run_ms(200);
    is_int(s_count("POST /dropped-post"), 1, "and it was not sent again");

    /* A fresh connection dropped is not retried either, even for a GET. */
    s_close_all();
    s_reset_counts();
    s_set_mode(MODE_DROP_NEXT);
    is_int(req(c, "GET", "/dropped-fresh", &r), 0, "a GET dropped on a fresh connection fails");
    is_int(s_count("GET /dropped-fresh"), 1, "sent once");
    s_set_mode(MODE_OK);
}

static void test_connection_close(apiclient_t *c)
{
    res_t r;
    req(c, "GET", "/warm", &r);
    s_reset_counts();
    s_set_mode(MODE_CLOSE_HDR);
    is_int(req(c, "GET", "/close-hdr", &r), 200, "a response with Connection: close");
    s_set_mode(MODE_OK);
    is_int(req(c, "GET", "/next", &r), 200, "the next request");
    is_int(s_get(&S.accepts), 1, "goes on a new connection");
}

static void test_idle_expiry(apiclient_t *c)
{
    res_t r;
    apiclient_set_timeout(c, 1);
    req(c, "GET", "/warm", &r);
    s_reset_counts();
    run_ms(2500);
    is_int(s_get(&S.peer_closes), 1, "an idle connection is closed after the timeout (1 s)");
    is_int(req(c, "GET", "/after-expiry", &r), 200, "the next request");
    is_int(s_get(&S.accepts), 1, "connects again");
    apiclient_set_timeout(c, 30);
}

static void test_bound(void)
{
    struct rlimit rl;
    res_t r = { 0 };
    apiclient_call_t *calls[60];
    char path[32];

    /* max_conns is a quarter of the descriptor limit (at least 16): 25 here. */
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit low = { 100, rl.rlim_max };
    ok(setrlimit(RLIMIT_NOFILE, &low) == 0, "descriptor limit lowered to 100");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", S.port);
    apiclient_t *c = apiclient_create(base, url);
    setrlimit(RLIMIT_NOFILE, &rl);

    s_close_all();
    s_reset_counts();
    s_set_mode(MODE_HOLD);
    for (int i = 0; i < 60; i++) {
        snprintf(path, sizeof(path), "/q/%d", i);
        calls[i] = apiclient_request(c, "GET", path, NULL, NULL, on_done, &r);
    }
    ok(calls[0] && calls[59], "60 requests started");
    apiclient_cancel(calls[59]);
    run_ms(500);
    is_int(s_get(&S.nlog), 25, "25 reached the server (max_conns 25); the rest wait");
    is_int(s_get(&S.max_open), 25, "on 25 connections");
    int first = 1;
    for (int i = 0; i < 25; i++) {
        snprintf(path, sizeof(path), "GET /q/%d", i);
        first &= s_count(path) == 1;
    }
    ok(first, "the first 25 in the order they were made");
    is_int(r.done, 0, "none answered yet");
    s_release();
    int all_done = run_until_done(&r, 59, 10000);
    ok(all_done, "once answers come, the waiting ones go out (%d done)", r.done);
    run_ms(300);
    is_int(r.done, 59, "every request but the cancelled one called back once");
    ok(s_get(&S.max_open) <= 25, "never more than 25 connections (%d)", s_get(&S.max_open));
    is_int(s_count("GET /q/59"), 0, "the cancelled one was never sent");
    ok(s_get(&S.accepts) <= 25, "the waiting ones reused the first connections (%d accepted)",
       s_get(&S.accepts));

    /* Waiting counts against the timeout. */
    apiclient_set_timeout(c, 1);
    memset(&r, 0, sizeof(r));
    s_close_all();
    s_reset_counts();
    s_set_mode(MODE_HOLD);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 30; i++) {
        snprintf(path, sizeof(path), "/t/%d", i);
        apiclient_request(c, "GET", path, NULL, NULL, on_done, &r);
    }
    ok(run_until_done(&r, 30, 10000), "30 requests to a server that never answers all end");
    uint64_t took = now_ms() - t0;
    ok(took >= 900 && took < 4000, "after about the timeout (%llu ms)", (unsigned long long)took);
    is_int(r.status, 0, "with status 0");
    is_int(s_get(&S.nlog), 25, "the 5 that waited were never sent");
    s_release();
    run_ms(200);
    apiclient_free(c);
}

int main(void)
{
    char url[64];
    if (s_start() != 0) {
        printf("Bail out! cannot start the fake server\n");
        return 1;
    }
    base = event_base_new();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", S.port);
    apiclient_t *c = apiclient_create(base, url);
    ok(c != NULL, "apiclient_create(%s)", url);

    test_reuse(c);
    test_closed_while_idle(c);
    test_close_racing_request(c);
    test_connection_close(c);
    test_idle_expiry(c);
    test_bound();

    apiclient_free(c);
    pthread_mutex_lock(&S.mu);
    S.stop = 1;
    pthread_mutex_unlock(&S.mu);
    event_base_free(base);
    return done_testing();
}
