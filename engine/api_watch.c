/* api_watch.c: watch streams. One JSON event per line, flushed as it happens, over a
 * chunked 200 response; the hub (watch.c) supplies events in order, this file filters them
 * by namespace and selectors and frames them (as objects or as Table rows). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api.h"
#include "log.h"
#include "selector.h"
#include "table.h"
#include "util.h"
#include "jsonload.h"
#include "jsondump.h"

#define WATCH_DEFAULT_TIMEOUT 1800   /* seconds, as kube-apiserver's --min-request-timeout */
#define BOOKMARK_INTERVAL     60

typedef struct stream_s {
    api_req_t *r;
    list_op_t *op;
    watcher_t *w;
    struct evhttp_connection *evcon;
    struct event *timeout, *bookmark;
    int table, columns_sent;
    int ending;
} stream_t;

static void stream_free(stream_t *s)
{
    if (s->w)
        watch_unsubscribe(s->w);
    if (s->timeout)
        event_free(s->timeout);
    if (s->bookmark)
        event_free(s->bookmark);
    api_list_params_free(s->op);
    s->r->op = NULL;
    api_req_free(s->r);
    free(s);
}

static void send_line(stream_t *s, const char *type, const char *obj, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf)
        return;
    evbuffer_add_printf(buf, "{\"type\":\"%s\",\"object\":", type);
    evbuffer_add(buf, obj, len);
    evbuffer_add(buf, "}\n", 2);
    evhttp_send_reply_chunk(s->r->req, buf);
    evbuffer_free(buf);
}

static void send_json(stream_t *s, const char *type, json_t *obj)
{
    char *text = jsondump(obj, JSON_COMPACT);
    if (text) {
        send_line(s, type, text, strlen(text));
        free(text);
    }
}

/* End the response normally (timeout, error event sent, hub closed us). */
static void stream_end(stream_t *s)
{
    struct evhttp_request *req = s->r->req;
    if (s->ending)
        return;
    s->ending = 1;
    if (s->evcon)
        evhttp_connection_set_closecb(s->evcon, NULL, NULL);
    evhttp_send_reply_end(req);
    stream_free(s);
}

/* The client went away: the request is already detached from its connection. */
static void client_closed(struct evhttp_connection *evcon, void *arg)
{
    stream_t *s = arg;
    s->evcon = NULL;
    stream_end(s);
}

static void send_object(stream_t *s, const char *type, const char *raw, size_t len, json_t *obj)
{
    if (!s->table) {
        send_line(s, type, raw, len);
        return;
    }
    json_t *parsed = obj ? json_incref(obj) : jsonload(raw, len, 0, NULL);
    if (!parsed)
        return;
    json_t *rows = json_array();
    json_array_append_new(rows, table_row(s->r->kind->columns, parsed, time(NULL), api_table_include(s->r)));
    json_t *t = api_table_wrap(s->r->kind, rows,
                               json_str(json_object_get(parsed, "metadata"), "resourceVersion"),
                               !s->columns_sent);
    s->columns_sent = 1;
    send_json(s, type, t);
    json_decref(t);
    json_decref(parsed);
}

static int matches(stream_t *s, json_t *obj)
{
    if (!obj)
        return 0;
    return label_selector_match(s->op->labels,
                                json_object_get(json_object_get(obj, "metadata"), "labels")) &&
           field_selector_match(s->op->fields, obj);
}

static int key_in_namespace(const char *key, const char *ns)
{
    size_t n = strlen(ns);
    return !strncmp(key, ns, n) && key[n] == '/';
}

static void on_event(void *owner, watch_event_t *ev)
{
    stream_t *s = owner;
    const char *type = ev->type;
    int filtering = !label_selector_empty(s->op->labels) || !field_selector_empty(s->op->fields);

    if (s->r->ns && s->r->kind->namespaced && !key_in_namespace(ev->key, s->r->ns))
        return;
    if (filtering) {
        json_t *obj = watch_event_object(ev);
        int now = matches(s, obj);
        if (!strcmp(type, "MODIFIED")) {
            /* An object that starts or stops matching is ADDED to or DELETED from the
             * watcher's view, as kube-apiserver's watch cache does. */
            json_t *prev = watch_event_prev(ev);
            int before = prev ? matches(s, prev) : now;
            if (!before && !now)
                return;
            if (!before)
                type = "ADDED";
            else if (!now)
                type = "DELETED";
        } else if (!now) {
            return;
        }
        send_object(s, type, ev->obj, ev->objlen, obj);
        return;
    }
    send_object(s, type, ev->obj, ev->objlen, s->table ? watch_event_object(ev) : NULL);
}

static void on_close(void *owner, int code, const char *message)
{
    stream_t *s = owner;
    s->w = NULL;   /* the hub has forgotten it */
    json_t *st = api_status_object(code, code == 410 ? "Expired" : "ServiceUnavailable", NULL, message);
    send_json(s, "ERROR", st);
    json_decref(st);
    stream_end(s);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    stream_end(arg);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
    stream_t *s = arg;
    uint64_t rv = s->w ? watch_last_rv(s->w) : 0;
    if (rv) {
        char obj[512];
        int n = snprintf(obj, sizeof(obj),
                         "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%" PRIu64 "\"}}",
                         s->r->kind->kind, s->r->kind->group_version, rv);
        send_line(s, "BOOKMARK", obj, (size_t)n);
    }
}

static void subscribe(stream_t *s, uint64_t rv)
{
    s->w = watch_subscribe(s->r->srv->hub, s->r->kind, rv, on_event, on_close, s);
    if (!s->w) {
        json_t *st = api_status_object(500, "InternalError", NULL, "cannot start the watch");
        send_json(s, "ERROR", st);
        json_decref(st);
        stream_end(s);
    }
}

/* resourceVersion "" or "0": the current state as ADDED events, then changes after it. */
static void initial_list_done(const store_list_t *list, void *priv)
{
    stream_t *s = priv;
    if (list->status != STORE_OK) {
        json_t *st = api_status_object(503, "ServiceUnavailable", NULL,
                                       list->errstr ? list->errstr : "the store is unavailable");
        send_json(s, "ERROR", st);
        json_decref(st);
        stream_end(s);
        return;
    }
    int filtering = !label_selector_empty(s->op->labels) || !field_selector_empty(s->op->fields);
    for (size_t i = 0; i < list->n; i++) {
        const store_item_t *it = &list->items[i];
        json_t *obj = NULL;
        if (filtering) {
            obj = jsonload(it->data, it->len, 0, NULL);
            if (!matches(s, obj)) {
                json_decref(obj);
                continue;
            }
        }
        send_object(s, "ADDED", it->data, it->len, obj);
        json_decref(obj);
    }
    subscribe(s, list->rv);
}

void api_handle_watch(api_req_t *r)
{
    list_op_t *op = api_list_params(r);
    stream_t *s;
    const char *v;
    long timeout = WATCH_DEFAULT_TIMEOUT;

    if (!op)
        return;
    if ((v = api_query(r, "timeoutSeconds")) && *v) {
        char *end;
        timeout = strtol(v, &end, 10);
        if (*end || timeout < 0) {
            api_list_params_free(op);
            return api_reply_status(r, 400, "BadRequest", NULL,
                                    "timeoutSeconds: Invalid value: \"%s\": must be a non-negative integer", v);
        }
        if (timeout == 0)
            timeout = WATCH_DEFAULT_TIMEOUT;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        api_list_params_free(op);
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    }
    s->r = r;
    s->op = op;
    r->op = op;
    s->table = api_wants_table(r);
    s->evcon = evhttp_request_get_connection(r->req);
    api_record(r, 200);

    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", s->table ? "application/json;as=Table;v=v1;g=meta.k8s.io"
                                                  : "application/json");
    evhttp_add_header(h, "Cache-Control", "no-cache, private");
    evhttp_send_reply_start(r->req, 200, "OK");
    if (s->evcon)
        evhttp_connection_set_closecb(s->evcon, client_closed, s);

    struct timeval tv = { timeout, 0 };
    s->timeout = evtimer_new(r->srv->base, on_timeout, s);
    evtimer_add(s->timeout, &tv);
    v = api_query(r, "allowWatchBookmarks");
    if (v && !strcmp(v, "true")) {
        struct timeval btv = { BOOKMARK_INTERVAL, 0 };
        s->bookmark = event_new(r->srv->base, -1, EV_PERSIST, on_bookmark, s);
        evtimer_add(s->bookmark, &btv);
    }

    if (!op->rv_given) {
        if (store_list(r->srv->store, r->kind, r->ns, NULL, 0, initial_list_done, s) != 0) {
            json_t *st = api_status_object(503, "ServiceUnavailable", NULL, "the store is unavailable");
            send_json(s, "ERROR", st);
            json_decref(st);
            stream_end(s);
        }
        return;
    }
    subscribe(s, op->min_rv);
}
