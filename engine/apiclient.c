/* apiclient.c: asynchronous HTTP/JSON calls to the API server on libevent's evhttp client.
 *
 * One evhttp_connection per call: a watch holds its connection for minutes, and evhttp
 * queues requests on a connection one after another. A call's connection is never freed from
 * inside one of its own evhttp callbacks (evhttp still uses it when the callback returns):
 * finishing or cancelling a call arms a zero-delay "reap" timer that frees it from the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "apiclient.h"

#define APICLIENT_DEFAULT_TIMEOUT 30
#define APICLIENT_WATCH_TIMEOUT   660            /* longer than any timeoutSeconds we ask for */
#define APICLIENT_MAX_LINE        (64u << 20)    /* one watch event or error body, bytes */
#define APICLIENT_MAX_BODY        (512u << 20)   /* one response body, bytes */
#define APICLIENT_MAX_HEADERS     (64u << 10)

struct apiclient_s {
    struct event_base *base;
    char *host;
    int port;
    int timeout;
    apiclient_call_t *calls;       /* every call not yet reaped */
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
};

/* ---------------------------------------------------------------------------- lifetime */

static void call_destroy(apiclient_call_t *call)
{
    apiclient_t *c = call->c;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    /* Frees a pending request without calling its callback. */
    if (call->evcon)
        evhttp_connection_free(call->evcon);
    if (call->reap)
        event_free(call->reap);
    if (call->acc)
        evbuffer_free(call->acc);
    free(call);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    call_destroy(arg);
}

static void call_schedule_reap(apiclient_call_t *call)
{
    struct timeval zero = { 0, 0 };
    call->cancelled = 1;
    evtimer_add(call->reap, &zero);
}

void apiclient_cancel(apiclient_call_t *call)
{
    if (call)
        call_schedule_reap(call);
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
    while (c->calls)
        call_destroy(c->calls);
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
    return data ? json_loadb(data, len, 0, NULL) : NULL;
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
    if (status > 0)
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
    ev = json_loadb(line, len, 0, NULL);
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

static apiclient_call_t *call_start(apiclient_t *c, enum evhttp_cmd_type type, const char *path,
                                    const char *content_type, json_t *body, int stream,
                                    int timeout, const apiclient_call_t *cbs)
{
    apiclient_call_t *call = calloc(1, sizeof(*call));
    struct evhttp_request *req = NULL;
    struct evkeyvalq *h;

    if (!call || !path || path[0] != '/')
        goto failed;
    call->done = cbs->done;
    call->on_event = cbs->on_event;
    call->on_end = cbs->on_end;
    call->priv = cbs->priv;
    call->c = c;
    call->err = -1;
    call->stream = stream;
    call->reap = evtimer_new(c->base, on_reap, call);
    call->evcon = evhttp_connection_base_new(c->base, NULL, c->host, (unsigned short)c->port);
    if (!call->reap || !call->evcon)
        goto failed;
    if (stream && !(call->acc = evbuffer_new()))
        goto failed;
    evhttp_connection_set_timeout(call->evcon, timeout);
    evhttp_connection_set_max_headers_size(call->evcon, APICLIENT_MAX_HEADERS);
    /* For a stream evhttp counts the whole body, however long it runs: the limit there is on
     * each line (on_chunk). */
    if (!stream)
        evhttp_connection_set_max_body_size(call->evcon, APICLIENT_MAX_BODY);
    req = evhttp_request_new(stream ? on_stream_done : on_done, call);
    if (!req)
        goto failed;
    evhttp_request_set_error_cb(req, on_error);
    if (stream)
        evhttp_request_set_chunked_cb(req, on_chunk);
    h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", c->host);
    evhttp_add_header(h, "Accept", "application/json");
    evhttp_add_header(h, "User-Agent", "berth-apiclient");
    evhttp_add_header(h, "Connection", "close");
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
            goto failed;
        char len[32];
        evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
        /* evhttp adds Content-Length itself only for POST and PUT. */
        snprintf(len, sizeof(len), "%zu", strlen(text));
        evhttp_add_header(h, "Content-Length", len);
        free(text);
        evhttp_add_header(h, "Content-Type", content_type ? content_type
                          : type == EVHTTP_REQ_PATCH ? "application/merge-patch+json"
                                                     : "application/json");
    }
    /* Linked before the request starts: evhttp may report a failure from inside
     * evhttp_make_request, and the callbacks expect a live call. */
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    call->starting = 1;
    int rc = evhttp_make_request(call->evcon, req, type, path);
    call->starting = 0;
    if (rc != 0 || call->failed_early) {
        /* Failed at once: no callback may run for it. */
        call->cancelled = 1;
        call_destroy(call);
        return NULL;
    }
    return call;
failed:
    if (req)
        evhttp_request_free(req);
    if (call) {
        if (call->evcon)
            evhttp_connection_free(call->evcon);
        if (call->reap)
            event_free(call->reap);
        if (call->acc)
            evbuffer_free(call->acc);
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
