/* apiclient.c: asynchronous HTTP/JSON calls to the API server on libevent's evhttp client.
 *
 * One evhttp_connection per call in flight: a watch holds its connection for minutes, and
 * evhttp queues requests on a connection one after another. A call's connection is never
 * freed from inside one of its own evhttp callbacks (evhttp still uses it when the callback
 * returns): finishing or cancelling a call arms a zero-delay "reap" timer that frees it from
 * the loop.
 *
 * Keep-alive. A one-shot request whose response left the connection open gives the connection
 * back to the client's idle pool when it is reaped, and the next one-shot request takes it
 * (most recently used first) instead of resolving the address and connecting again, which was
 * about 12% of a scheduler's CPU. Watches still use a connection of their own, closed when
 * they end. At most max_conns one-shot requests are on the wire at once; more wait in a FIFO
 * for a connection (as with Go's MaxConnsPerHost), the wait counting against their timeout.
 * Without that bound a scheduler draining a long queue had thousands of bindings in flight,
 * each on a connection of its own, far more than any pool would keep.
 *
 * A pooled connection may have been closed by the server meanwhile (a restart, an idle
 * timeout, a proxy). What keeps a request from being written into such a connection (Go's
 * net/http has a background read on each idle connection for the same purpose):
 *   - while a connection is idle, evhttp watches it for reads (close detection): a close
 *     seen by the loop, or any byte arriving, resets it, and a reset one is never reused;
 *   - before reuse the socket is peeked (recv MSG_PEEK|MSG_DONTWAIT): an end of file, an
 *     error or stray bytes waiting (the server closed it while this loop was busy elsewhere)
 *     discard it;
 *   - an idle connection expires after the request timeout (evhttp's read timeout applies
 *     to the idle connection too), far below the API server's idle timeout (3600 s), so the
 *     server does not close one just as it is reused.
 * What is left is a close racing the request itself: the request was written and no response
 * came. Whether the server processed it is then unknown, so only a GET without a body
 * (idempotent) is sent again, once, on a new connection; any other method reports the failure
 * (status 0), as a lost fresh connection always did, and its caller decides (a binding sent
 * twice gets a 409, never a second binding). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "apiclient.h"
#include "util.h"
#include "jsonload.h"
#include "jsondump.h"

#define APICLIENT_DEFAULT_TIMEOUT 30
#define APICLIENT_WATCH_TIMEOUT   660            /* longer than any timeoutSeconds we ask for */
#define APICLIENT_MAX_LINE        (64u << 20)    /* one watch event or error body, bytes */
#define APICLIENT_MAX_BODY        (512u << 20)   /* one response body, bytes */
#define APICLIENT_MAX_HEADERS     (64u << 10)
#define APICLIENT_MAX_CONNS       1024           /* one-shot requests on the wire at once */
#define APICLIENT_MIN_CONNS       16
#define APICLIENT_MAX_IDLE        64             /* pooled keep-alive connections */

struct apiclient_s {
    struct event_base *base;
    char *host;
    int port;
    int timeout;
    apiclient_call_t *calls;       /* every call not yet reaped */
    apiclient_call_t *wait_head, *wait_tail;   /* one-shot calls waiting for a connection */
    int busy;                      /* one-shot calls holding a connection */
    int max_conns;                 /* bound on busy */
    struct evhttp_connection *idle[APICLIENT_MAX_IDLE];   /* most recently used last */
    int nidle;
};

struct apiclient_call_s {
    apiclient_t *c;
    apiclient_call_t *prev, *next;
    struct evhttp_connection *evcon;
    struct event *reap;
    struct evbuffer *acc;          /* stream: bytes of the unfinished line, or a non-200 body */
    apiclient_done_fn *done;
    apiclient_event_fn *on_event;
    apiclient_end_fn *on_end;
    void *priv;
    int stream;
    int cancelled;                 /* no user callback may run any more */
    int starting;                  /* inside evhttp_make_request */
    int failed_early;              /* evhttp failed it from inside evhttp_make_request */
    int err;                       /* last evhttp_request_error, -1 if none */
    int reused;                    /* evcon came from the idle pool */
    int keep;                      /* response complete, connection open: pool it when reaped */
    int resend;                    /* a GET to send again on a new connection (on_reap) */
    int busy;                      /* counted in c->busy */
    int waiting;                   /* in c's wait FIFO (reap is then its deadline) */
    apiclient_call_t *wait_next;
    enum evhttp_cmd_type type;
    char *path;
    char *text;                    /* encoded body until sent */
    int had_body;
    int discard_ok_body;           /* apiclient_discard_body: no parse of a 2xx body */
    char *ctype;
    uint64_t queued_us;            /* when it started waiting (util_now_us) */
};

/* ---------------------------------------------------------------------------- idle pool */

/* The socket of an idle connection, or -1 when evhttp has reset it (closed by the server,
 * expired, or the response said Connection: close). */
static evutil_socket_t conn_fd(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    return bev ? bufferevent_getfd(bev) : -1;
}

/* Whether an idle connection can carry a request: still connected, nothing buffered, and
 * the socket has neither an end of file, an error nor stray bytes waiting. */
static int conn_usable(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = conn_fd(evcon);
    char b;
    ssize_t n;

    if (fd < 0 || !bev || evbuffer_get_length(bufferevent_get_input(bev)) ||
        evbuffer_get_length(bufferevent_get_output(bev)))
        return 0;
    do
        n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A usable idle connection (ownership passes to the caller), or NULL. Unusable ones met on
 * the way are freed: none of them is inside one of its callbacks. */
static struct evhttp_connection *pool_take(apiclient_t *c)
{
    while (c->nidle > 0) {
        struct evhttp_connection *evcon = c->idle[--c->nidle];
        if (conn_usable(evcon))
            return evcon;
        evhttp_connection_free(evcon);
    }
    return NULL;
}

/* Keep evcon (owned) for a later request if it is still connected and there is room. */
static void pool_put(apiclient_t *c, struct evhttp_connection *evcon)
{
    if (conn_fd(evcon) < 0 || c->nidle == APICLIENT_MAX_IDLE) {
        evhttp_connection_free(evcon);
        return;
    }
    c->idle[c->nidle++] = evcon;
}

/* ---------------------------------------------------------------------------- lifetime */

static void wait_remove(apiclient_call_t *call)
{
    apiclient_t *c = call->c;
    apiclient_call_t **p = &c->wait_head, *prev = NULL;
    while (*p && *p != call) {
        prev = *p;
        p = &(*p)->wait_next;
    }
    if (*p) {
        *p = call->wait_next;
        if (c->wait_tail == call)
            c->wait_tail = prev;
    }
    call->wait_next = NULL;
    call->waiting = 0;
}

/* Unlink and free a call; no callback runs. A finished one-shot call's connection is idle
 * again (evhttp is done with it): it goes back to the pool. */
static void call_destroy(apiclient_call_t *call)
{
    apiclient_t *c = call->c;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    if (call->waiting)
        wait_remove(call);
    if (call->busy)
        c->busy--;
    /* evhttp_connection_free frees a pending request without calling its callback. */
    if (call->evcon) {
        if (call->keep)
            pool_put(c, call->evcon);
        else
            evhttp_connection_free(call->evcon);
    }
    if (call->reap)
        event_free(call->reap);
    if (call->acc)
        evbuffer_free(call->acc);
    free(call->path);
    free(call->text);
    free(call->ctype);
    free(call);
}

static void call_schedule_reap(apiclient_call_t *call)
{
    struct timeval zero = { 0, 0 };
    call->cancelled = 1;
    evtimer_add(call->reap, &zero);
}

static int call_send(apiclient_call_t *call, int timeout, int fresh);

/* Send waiting calls while connections are free. Runs from the loop only (a failure to
 * start is reported through the call's callback here). */
static void wait_pump(apiclient_t *c)
{
    while (c->wait_head && c->busy < c->max_conns) {
        apiclient_call_t *call = c->wait_head;
        int64_t left_ms = (int64_t)c->timeout * 1000 - (int64_t)((util_now_us() - call->queued_us) / 1000);
        wait_remove(call);
        evtimer_del(call->reap);
        if (left_ms <= 0) {
            /* Its deadline passed while a connection was freed: not sent at all. */
            call->done(0, NULL, "timed out", call->priv);
            call_schedule_reap(call);
        } else if (call_send(call, (int)((left_ms + 999) / 1000), 0) != 0) {
            call->done(0, NULL, "connection failed", call->priv);
            call_schedule_reap(call);
        }
    }
}

/* Send a GET again on a new connection (on_done found its pooled one dead). Runs from the
 * loop, so the old connection can be freed. If it cannot even start, the call ends here. */
static void call_resend(apiclient_call_t *call)
{
    evhttp_connection_free(call->evcon);
    call->evcon = NULL;
    if (call_send(call, call->c->timeout, 1) == 0)
        return;
    call->done(0, NULL, "connection failed", call->priv);
    call_schedule_reap(call);
}

/* The call's timer: it was reaped (cancelled or finished), it is a GET to send again, or it
 * waited its whole timeout for a connection. */
static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    apiclient_call_t *call = arg;
    apiclient_t *c = call->c;
    if (!call->cancelled && call->waiting) {
        wait_remove(call);
        call->done(0, NULL, "timed out", call->priv);
        call_schedule_reap(call);
        return;
    }
    if (!call->cancelled && call->resend) {
        call->resend = 0;
        call_resend(call);
        return;
    }
    call_destroy(call);
    wait_pump(c);
}

void apiclient_discard_body(apiclient_call_t *call)
{
    if (call)
        call->discard_ok_body = 1;
}

void apiclient_cancel(apiclient_call_t *call)
{
    if (call)
        call_schedule_reap(call);
}

/* How many one-shot requests may be on the wire at once: APICLIENT_MAX_CONNS, or a quarter
 * of the descriptors this process may open if that is less (an in-process client's
 * connections cost the API server in the same process a descriptor each too). More in flight
 * is measurably faster (the API server and Redis then batch their reads and writes: with a
 * scheduler draining 10,000 pods, 1,024 gave 5-20% more pods/s than 256), but must not run a
 * process with the common 1,024-descriptor limit out of them. */
static int max_conns_for_fd_limit(void)
{
    struct rlimit rl;
    rlim_t n = APICLIENT_MAX_CONNS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < n)
        n = rl.rlim_cur / 4;
    return n < APICLIENT_MIN_CONNS ? APICLIENT_MIN_CONNS : (int)n;
}

apiclient_t *apiclient_create(struct event_base *base, const char *base_url)
{
    struct evhttp_uri *uri = evhttp_uri_parse(base_url);
    apiclient_t *c = NULL;
    const char *scheme, *host;

    if (!uri)
        return NULL;
    scheme = evhttp_uri_get_scheme(uri);
    host = evhttp_uri_get_host(uri);
    if (!scheme || strcmp(scheme, "http") || !host || !*host)
        goto failed;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->host = strdup(host)))
        goto failed;
    c->base = base;
    c->port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
    c->timeout = APICLIENT_DEFAULT_TIMEOUT;
    c->max_conns = max_conns_for_fd_limit();
    evhttp_uri_free(uri);
    return c;
failed:
    if (c)
        free(c->host);
    free(c);
    evhttp_uri_free(uri);
    return NULL;
}

void apiclient_free(apiclient_t *c)
{
    if (!c)
        return;
    c->wait_head = c->wait_tail = NULL;
    while (c->calls) {
        c->calls->keep = 0;
        c->calls->waiting = 0;
        call_destroy(c->calls);
    }
    while (c->nidle > 0)
        evhttp_connection_free(c->idle[--c->nidle]);
    free(c->host);
    free(c);
}

void apiclient_set_timeout(apiclient_t *c, int seconds)
{
    c->timeout = seconds > 0 ? seconds : APICLIENT_DEFAULT_TIMEOUT;
}

int apiclient_query_escape(struct evbuffer *buf, const char *s)
{
    char *e = evhttp_uriencode(s, -1, 0);
    int rc;
    if (!e)
        return -1;
    rc = evbuffer_add(buf, e, strlen(e));
    free(e);
    return rc;
}

/* ---------------------------------------------------------------------------- callbacks */

static const char *error_text(int err)
{
    switch (err) {
    case EVREQ_HTTP_TIMEOUT: return "timed out";
    case EVREQ_HTTP_EOF: return "connection closed before the response ended";
    case EVREQ_HTTP_INVALID_HEADER: return "invalid response header";
    case EVREQ_HTTP_BUFFER_ERROR: return "connection failed";
    case EVREQ_HTTP_REQUEST_CANCEL: return "request cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG: return "response too long";
    default: return "connection failed";
    }
}

static void on_error(enum evhttp_request_error err, void *arg)
{
    apiclient_call_t *call = arg;
    call->err = (int)err;
}

static json_t *parse_buffer(struct evbuffer *buf)
{
    size_t len = buf ? evbuffer_get_length(buf) : 0;
    if (!len)
        return NULL;
    const char *data = (const char *)evbuffer_pullup(buf, -1);
    return data ? jsonload(data, len, 0, NULL) : NULL;
}

static void on_done(struct evhttp_request *req, void *arg)
{
    apiclient_call_t *call = arg;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    json_t *body = NULL;

    if (call->starting)
        call->failed_early = 1;
    if (call->cancelled || call->starting)
        return;
    if (status == 0 && call->reused && call->type == EVHTTP_REQ_GET && !call->had_body &&
        call->err != EVREQ_HTTP_TIMEOUT && call->err != EVREQ_HTTP_DATA_TOO_LONG) {
        /* A pooled connection failed under a GET: most likely the server closed it just as
         * the request went out. Send it again on a new connection, from the loop (this
         * connection is still evhttp's until this callback returns). */
        struct timeval zero = { 0, 0 };
        call->resend = 1;
        evtimer_add(call->reap, &zero);
        return;
    }
    /* evhttp leaves a connection it reset (Connection: close, an error) without a socket;
     * pool_put checks that when the call is reaped. */
    call->keep = status > 0;
    if (status > 0 && !(call->discard_ok_body && status >= 200 && status < 300))
        body = parse_buffer(evhttp_request_get_input_buffer(req));
    call->done(status, body, status > 0 ? NULL : error_text(call->err), call->priv);
    json_decref(body);
    call_schedule_reap(call);
}

static void deliver_line(apiclient_call_t *call, const char *line, size_t len)
{
    json_t *ev;
    if (!len)
        return;
    ev = jsonload(line, len, 0, NULL);
    if (json_is_object(ev))
        call->on_event(ev, call->priv);
    json_decref(ev);
}

/* A piece of the response body arrived; for a 200 stream, hand over each complete line. */
static void on_chunk(struct evhttp_request *req, void *arg)
{
    apiclient_call_t *call = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    int status = evhttp_request_get_response_code(req);
    char *line;
    size_t len;

    if (call->cancelled) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    evbuffer_add_buffer(call->acc, in);
    if (status == 200) {
        while (!call->cancelled &&
               (line = evbuffer_readln(call->acc, &len, EVBUFFER_EOL_LF)) != NULL) {
            deliver_line(call, line, len);
            free(line);
        }
    }
    if (!call->cancelled && evbuffer_get_length(call->acc) > APICLIENT_MAX_LINE) {
        call->on_end(0, NULL, "watch event too long", call->priv);
        call_schedule_reap(call);
    }
}

static void on_stream_done(struct evhttp_request *req, void *arg)
{
    apiclient_call_t *call = arg;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    json_t *body = NULL;

    if (call->starting)
        call->failed_early = 1;
    if (call->cancelled || call->starting)
        return;
    if (status == 200) {
        /* A last line without its newline still counts. */
        size_t len = evbuffer_get_length(call->acc);
        if (len) {
            const char *data = (const char *)evbuffer_pullup(call->acc, -1);
            if (data)
                deliver_line(call, data, len);
        }
    } else if (status > 0) {
        body = parse_buffer(call->acc);
    }
    if (!call->cancelled)
        call->on_end(status, body, status > 0 ? NULL : error_text(call->err), call->priv);
    json_decref(body);
    call_schedule_reap(call);
}

/* ---------------------------------------------------------------------------- starting */

static int method_of(const char *m, enum evhttp_cmd_type *out)
{
    static const struct { const char *name; enum evhttp_cmd_type type; } methods[] = {
        { "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST }, { "PUT", EVHTTP_REQ_PUT },
        { "PATCH", EVHTTP_REQ_PATCH }, { "DELETE", EVHTTP_REQ_DELETE },
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (!strcmp(m, methods[i].name)) {
            *out = methods[i].type;
            return 0;
        }
    }
    return -1;
}

/* Send call's request (call->path, call->text, call->ctype): on a pooled connection for a
 * one-shot request unless fresh is set, else on a new one. Returns 0 once the request is on
 * its way, or -1 when it failed at once; no callback of the call has run then, and
 * call->evcon (if set) is left for call_destroy. */
static int call_send(apiclient_call_t *call, int timeout, int fresh)
{
    apiclient_t *c = call->c;
    struct evhttp_request *req;
    struct evkeyvalq *h;

    call->reused = 0;
    call->keep = 0;
    call->err = -1;
    call->failed_early = 0;
    if (!call->stream && !call->busy) {
        call->busy = 1;
        c->busy++;
    }
    call->evcon = !call->stream && !fresh ? pool_take(c) : NULL;
    if (call->evcon)
        call->reused = 1;
    else if (!(call->evcon = evhttp_connection_base_new(c->base, NULL, c->host,
                                                         (unsigned short)c->port)))
        return -1;
    evhttp_connection_set_timeout(call->evcon, timeout);
    evhttp_connection_set_max_headers_size(call->evcon, APICLIENT_MAX_HEADERS);
    /* For a stream evhttp counts the whole body, however long it runs: the limit there is on
     * each line (on_chunk). */
    if (!call->stream)
        evhttp_connection_set_max_body_size(call->evcon, APICLIENT_MAX_BODY);
    req = evhttp_request_new(call->stream ? on_stream_done : on_done, call);
    if (!req)
        return -1;
    evhttp_request_set_error_cb(req, on_error);
    if (call->stream)
        evhttp_request_set_chunked_cb(req, on_chunk);
    h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", c->host);
    evhttp_add_header(h, "Accept", "application/json");
    evhttp_add_header(h, "User-Agent", "berth-apiclient");
    /* A watch's connection is its own and ends with it; one-shot requests keep theirs. */
    if (call->stream)
        evhttp_add_header(h, "Connection", "close");
    if (call->text) {
        char len[32];
        size_t n = strlen(call->text);
        evbuffer_add(evhttp_request_get_output_buffer(req), call->text, n);
        /* evhttp adds Content-Length itself only for POST and PUT. */
        snprintf(len, sizeof(len), "%zu", n);
        evhttp_add_header(h, "Content-Length", len);
        evhttp_add_header(h, "Content-Type", call->ctype ? call->ctype
                          : call->type == EVHTTP_REQ_PATCH ? "application/merge-patch+json"
                                                           : "application/json");
        /* Never sent twice (see the top of the file): the copy is not needed any more. */
        free(call->text);
        call->text = NULL;
    }
    call->starting = 1;
    int rc = evhttp_make_request(call->evcon, req, call->type, call->path);
    call->starting = 0;
    return rc != 0 || call->failed_early ? -1 : 0;
}

static apiclient_call_t *call_start(apiclient_t *c, enum evhttp_cmd_type type, const char *path,
                                    const char *content_type, json_t *body, int stream,
                                    int timeout, const apiclient_call_t *cbs)
{
    apiclient_call_t *call = calloc(1, sizeof(*call));

    if (!call || !path || path[0] != '/')
        goto failed;
    call->done = cbs->done;
    call->on_event = cbs->on_event;
    call->on_end = cbs->on_end;
    call->priv = cbs->priv;
    call->c = c;
    call->err = -1;
    call->stream = stream;
    call->type = type;
    call->reap = evtimer_new(c->base, on_reap, call);
    if (!call->reap || !(call->path = strdup(path)))
        goto failed;
    if (stream && !(call->acc = evbuffer_new()))
        goto failed;
    if (body && !(call->text = jsondump(body, JSON_COMPACT)))
        goto failed;
    call->had_body = body != NULL;
    if (content_type && !(call->ctype = strdup(content_type)))
        goto failed;
    /* Linked before the request starts: evhttp may report a failure from inside
     * evhttp_make_request, and the callbacks expect a live call. */
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    if (!stream && (c->busy >= c->max_conns || c->wait_head)) {
        /* Every connection is busy: wait for one, at most the timeout. */
        struct timeval tv = { timeout, 0 };
        call->waiting = 1;
        call->queued_us = util_now_us();
        if (c->wait_tail)
            c->wait_tail->wait_next = call;
        else
            c->wait_head = call;
        c->wait_tail = call;
        evtimer_add(call->reap, &tv);
        return call;
    }
    if (call_send(call, timeout, 0) != 0) {
        /* Failed at once: no callback may run for it. */
        call->cancelled = 1;
        call_destroy(call);
        return NULL;
    }
    return call;
failed:
    if (call) {
        if (call->reap)
            event_free(call->reap);
        if (call->acc)
            evbuffer_free(call->acc);
        free(call->path);
        free(call->text);
        free(call->ctype);
        free(call);
    }
    return NULL;
}

apiclient_call_t *apiclient_request(apiclient_t *c, const char *method, const char *path,
                                    const char *content_type, json_t *body,
                                    apiclient_done_fn *done, void *priv)
{
    enum evhttp_cmd_type type;
    apiclient_call_t cbs = { .done = done, .priv = priv };
    if (!c || !method || !done || method_of(method, &type) != 0)
        return NULL;
    return call_start(c, type, path, content_type, body, 0, c->timeout, &cbs);
}

apiclient_call_t *apiclient_watch(apiclient_t *c, const char *path, int read_timeout,
                                  apiclient_event_fn *on_event, apiclient_end_fn *on_end,
                                  void *priv)
{
    apiclient_call_t cbs = { .on_event = on_event, .on_end = on_end, .priv = priv };
    if (!c || !on_event || !on_end)
        return NULL;
    return call_start(c, EVHTTP_REQ_GET, path, NULL, NULL, 1,
                      read_timeout > 0 ? read_timeout : APICLIENT_WATCH_TIMEOUT, &cbs);
}
