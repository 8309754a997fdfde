/* t/c/informer.c: engine/informer.c and engine/apiclient.c against a real bin/berth server.
 *
 * Run by t/2600-informer.t, which starts redis-server and berth and passes:
 *   BERTH_URL          the server ("http://127.0.0.1:PORT")
 *   INFORMER_CTL_REQ   a FIFO to ask the script for actions ("restart ARGS": stop berth and
 *   INFORMER_CTL_REP   start it again on the same port with ARGS); the answer ("ok" or
 *                      "fail") comes back on the second FIFO.
 * Without the FIFOs the restart, reconnect and 410 parts are skipped.
 *
 * Two event loops: `base` runs the informers, `wbase` a second client that makes the writes
 * synchronously. While the test works on wbase (or waits for the script) the informers' loop
 * stands still, which is how their watch is "down" while objects change. Every wait is
 * bounded, and a watchdog on each loop ends a hung run. */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "apiclient.h"
#include "informer.h"
#include "tap.h"

#define NS "inf"
#define CMS "/api/v1/namespaces/" NS "/configmaps"

static struct event_base *base, *wbase;
static apiclient_t *client, *wclient;

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
    printf("Bail out! informer test: watchdog fired\n");
    fflush(stdout);
    _exit(1);
}

/* ---------------------------------------------------------------------------- writer */

typedef struct {
    int done, status;
    json_t *body;
    char err[128];
} sync_t;

static void sync_done(int status, json_t *body, const char *errstr, void *priv)
{
    sync_t *s = priv;
    s->done = 1;
    s->status = status;
    s->body = json_incref(body);
    snprintf(s->err, sizeof(s->err), "%s", errstr ? errstr : "");
}

/* One request on the writer loop, waited for (10 s at most). Takes ownership of body.
 * Returns the status (0 on failure); *out gets the parsed response (caller decrefs) if
 * out is non-NULL. */
static int call(const char *method, const char *path, json_t *body, json_t **out)
{
    sync_t s = { 0 };
    uint64_t end = now_ms() + 10000;
    apiclient_call_t *c = apiclient_request(wclient, method, path, NULL, body, sync_done, &s);
    json_decref(body);
    if (!c)
        return 0;
    while (!s.done && now_ms() < end)
        event_base_loop(wbase, EVLOOP_ONCE);
    if (!s.done) {
        apiclient_cancel(c);
        return 0;
    }
    if (out)
        *out = s.body;
    else
        json_decref(s.body);
    return s.status;
}

static json_t *cm(const char *name, const char *app, const char *v)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "labels", "app", app, "data", "v", v);
}

static int create_cm(const char *name, const char *app, const char *v)
{
    return call("POST", CMS, cm(name, app, v), NULL);
}

static int patch_cm(const char *name, json_t *patch)
{
    char path[256];
    snprintf(path, sizeof(path), CMS "/%s", name);
    return call("PATCH", path, patch, NULL);
}

static int delete_cm(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), CMS "/%s", name);
    return call("DELETE", path, NULL, NULL);
}

/* ---------------------------------------------------------------------------- recording */

typedef struct {
    const char *label;
    json_t *log;        /* "ADD name", "UPDATE name old-v new-v", "DELETE name" */
    int bad_borrow;     /* a handler saw a cache that did not hold the new state */
} rec_t;

static const char *name_of(json_t *obj)
{
    const char *n = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    return n ? n : "?";
}

static const char *v_of(json_t *obj)
{
    const char *v = json_string_value(json_object_get(json_object_get(obj, "data"), "v"));
    return v ? v : "-";
}

static void rec_add(informer_t *inf, json_t *obj, void *priv)
{
    rec_t *r = priv;
    char line[256];
    snprintf(line, sizeof(line), "ADD %s", name_of(obj));
    json_array_append_new(r->log, json_string(line));
    if (informer_get(inf, NS, name_of(obj)) != obj)
        r->bad_borrow = 1;
}

static void rec_update(informer_t *inf, json_t *old, json_t *obj, void *priv)
{
    rec_t *r = priv;
    char line[256];
    snprintf(line, sizeof(line), "UPDATE %s %s %s", name_of(obj), v_of(old), v_of(obj));
    json_array_append_new(r->log, json_string(line));
    if (informer_get(inf, NS, name_of(obj)) != obj)
        r->bad_borrow = 1;
}

static void rec_delete(informer_t *inf, json_t *obj, void *priv)
{
    rec_t *r = priv;
    char line[256];
    snprintf(line, sizeof(line), "DELETE %s", name_of(obj));
    json_array_append_new(r->log, json_string(line));
    if (informer_get(inf, NS, name_of(obj)))
        r->bad_borrow = 1;
}

static int log_has(rec_t *r, const char *line)
{
    size_t i;
    json_t *v;
    json_array_foreach(r->log, i, v)
        if (!strcmp(json_string_value(v), line))
            return 1;
    return 0;
}

static char *log_text(rec_t *r)
{
    return json_dumps(r->log, JSON_COMPACT);
}

static void log_is(rec_t *r, const char *want, const char *what)
{
    char *got = log_text(r);
    is_str(got, want, "%s", what);
    free(got);
}

static void index_app(json_t *obj, json_t *keys, void *priv)
{
    const char *app = json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), "app"));
    if (app)
        json_array_append_new(keys, json_string(app));
}

/* ---------------------------------------------------------------------------- waiting */

/* Run the informers' loop until pred() or ms pass; returns pred(). */
static int run_until(int (*pred)(void *), void *arg, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!pred(arg) && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return pred(arg);
}

static int never(void *arg)
{
    return 0;
}

static int synced(void *arg)
{
    return informer_has_synced(arg);
}

typedef struct {
    rec_t *r;
    size_t n;
} log_len_t;

static int log_reaches(void *arg)
{
    log_len_t *l = arg;
    return json_array_size(l->r->log) >= l->n;
}

/* The server's view of NS's configmaps as name -> resourceVersion; NULL on failure. */
static json_t *server_state(const char *selector_app)
{
    json_t *body = NULL, *out, *item;
    char path[256];
    size_t i;
    if (selector_app)
        snprintf(path, sizeof(path), CMS "?labelSelector=app%%3D%s", selector_app);
    else
        snprintf(path, sizeof(path), CMS);
    if (call("GET", path, NULL, &body) != 200) {
        json_decref(body);
        return NULL;
    }
    out = json_object();
    json_array_foreach(json_object_get(body, "items"), i, item)
        json_object_set_new(out, name_of(item),
                            json_string(json_string_value(json_object_get(
                                json_object_get(item, "metadata"), "resourceVersion"))));
    json_decref(body);
    return out;
}

typedef struct {
    informer_t *inf;
    json_t *want;   /* name -> rv */
} converge_t;

static int converged(void *arg)
{
    converge_t *c = arg;
    const char *name;
    json_t *rv;
    if (!c->want || informer_count(c->inf) != json_object_size(c->want))
        return 0;
    json_object_foreach(c->want, name, rv) {
        json_t *obj = informer_get(c->inf, NS, name);
        const char *orv = json_string_value(
            json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        if (!obj || !orv || strcmp(orv, json_string_value(rv)))
            return 0;
    }
    return 1;
}

/* Wait (ms) until inf's cache matches the server's current list. */
static int wait_converged(informer_t *inf, const char *selector_app, int ms)
{
    converge_t c = { inf, server_state(selector_app) };
    int rc = c.want ? run_until(converged, &c, ms) : 0;
    json_decref(c.want);
    return rc;
}

/* Every object is in the index under its label, and the index holds nothing else. */
static int index_consistent(informer_t *inf)
{
    const char *apps[] = { "a", "b" };
    size_t total = 0;
    for (int i = 0; i < 2; i++) {
        json_t *objs = informer_by_index(inf, "app", apps[i]), *o;
        size_t j;
        if (!objs)
            return 0;
        json_array_foreach(objs, j, o) {
            json_t *lab = json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"), "app");
            if (!json_is_string(lab) || strcmp(json_string_value(lab), apps[i]) ||
                informer_get(inf, NS, name_of(o)) != o) {
                json_decref(objs);
                return 0;
            }
        }
        total += json_array_size(objs);
        json_decref(objs);
    }
    return total == informer_count(inf);
}

/* ---------------------------------------------------------------------------- raw watches */

typedef struct {
    int events, ended, status, cancel_at;
    char first_type[32], body_kind[32];
    apiclient_call_t *call;
} wrec_t;

static void w_event(json_t *ev, void *priv)
{
    wrec_t *w = priv;
    if (!w->events)
        snprintf(w->first_type, sizeof(w->first_type), "%s",
                 json_string_value(json_object_get(ev, "type")) ? json_string_value(json_object_get(ev, "type")) : "");
    w->events++;
    if (w->cancel_at && w->events == w->cancel_at)
        apiclient_cancel(w->call);
}

static void w_end(int status, json_t *body, const char *errstr, void *priv)
{
    wrec_t *w = priv;
    w->ended = 1;
    w->status = status;
    snprintf(w->body_kind, sizeof(w->body_kind), "%s",
             json_string_value(json_object_get(body, "kind")) ? json_string_value(json_object_get(body, "kind")) : "");
}

static void wrun(const int *flag, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!*flag && now_ms() < end)
        event_base_loop(wbase, EVLOOP_ONCE);
}

static void test_apiclient_watch(void)
{
    wrec_t w = { 0 };
    w.call = apiclient_watch(wclient, CMS "?watch=true&timeoutSeconds=1", 0, w_event, w_end, &w);
    ok(w.call != NULL, "apiclient_watch started");
    wrun(&w.ended, 10000);
    ok(w.ended && w.status == 200, "a watch with timeoutSeconds=1 ends normally (status %d)", w.status);
    ok(w.events >= 7 && !strcmp(w.first_type, "ADDED"),
       "its events arrive one per line, parsed (%d, first %s)", w.events, w.first_type);

    wrec_t c = { .cancel_at = 2 };
    int never_flag = 0;
    c.call = apiclient_watch(wclient, CMS "?watch=true&timeoutSeconds=1", 0, w_event, w_end, &c);
    wrun(&never_flag, 1500);
    ok(c.events == 2 && !c.ended, "cancelled from inside its event callback: nothing after (%d)",
       c.events);

    wrec_t e = { 0 };
    e.call = apiclient_watch(wclient, "/api/v1/nothings?watch=true", 0, w_event, w_end, &e);
    wrun(&e.ended, 10000);
    ok(e.ended && e.status == 404 && !strcmp(e.body_kind, "Status") && !e.events,
       "a refused watch ends with its status and Status body (%d %s)", e.status, e.body_kind);
}

static void test_informer_backoff(void)
{
    informer_config_t cfg = { .path = "/api/v1/nothings" };
    informer_t *inf = informer_create(base, client, &cfg, NULL);
    informer_stats_t st;
    ok(inf && informer_start(inf) == 0, "an informer on a path that 404s starts");
    run_until(never, NULL, 1000);
    informer_get_stats(inf, &st);
    ok(!informer_has_synced(inf), "it never syncs");
    ok(st.failures >= 2 && st.failures <= 5,
       "its lists fail and are retried with backoff (100, 200, 400 ms ...: %u in 1 s)",
       st.failures);
    informer_free(inf);
}

/* ---------------------------------------------------------------------------- fake server */

/* A scripted API server on the informers' loop, for what berth will not do on demand: a
 * BOOKMARK, a watch refused with HTTP 410, an ERROR 410 event, a malformed line. */
typedef struct {
    json_t *uris;
    int lists, watches;
} fake_t;

static void fake_reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Gone", b);
    evbuffer_free(b);
}

static void fake_stream(struct evhttp_request *req, const char *lines)
{
    struct evbuffer *b = evbuffer_new();
    evhttp_send_reply_start(req, 200, "OK");
    evbuffer_add(b, lines, strlen(lines));
    evhttp_send_reply_chunk(req, b);
    evhttp_send_reply_end(req);
    evbuffer_free(b);
}

#define FAKE_CM(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"x\"," \
                          "\"resourceVersion\":\"" rv "\"}}"

static void fake_handle(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    const char *uri = evhttp_request_get_uri(req);
    json_array_append_new(f->uris, json_string(uri));
    if (!strstr(uri, "watch=true")) {
        if (f->lists++ == 0)
            fake_reply(req, 200, "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
                       "{\"resourceVersion\":\"10\"},\"items\":[" FAKE_CM("f1", "10") "]}");
        else
            fake_reply(req, 200, "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
                       "{\"resourceVersion\":\"30\"},\"items\":[" FAKE_CM("f2", "30") "]}");
        return;
    }
    switch (f->watches++) {
    case 0:
        fake_stream(req, "this is not json\n[1,2]\n"
                    "{\"type\":\"MODIFIED\",\"object\":" FAKE_CM("f1", "11") "}\n"
                    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"20\"}}}\n");
        break;
    case 1:
        fake_reply(req, 410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
        break;
    case 2:
        fake_stream(req, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}");
        break;
    default:
        fake_stream(req, "");
        break;
    }
}

static int fake_watches(void *arg)
{
    return ((fake_t *)arg)->watches >= 4;
}

static void test_fake_server(void)
{
    fake_t f = { json_array(), 0, 0 };
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *sock = http ? evhttp_bind_socket_with_handle(http, "127.0.0.1", 0) : NULL;
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    char url[64];
    if (!sock || getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &slen) != 0) {
        ok(0, "fake server listening");
        evhttp_free(http);
        json_decref(f.uris);
        return;
    }
    evhttp_set_gencb(http, fake_handle, &f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sin.sin_port));
    apiclient_t *fc = apiclient_create(base, url);
    rec_t r = { "F", json_array(), 0 };
    informer_handlers_t h = { rec_add, rec_update, rec_delete, &r };
    informer_config_t cfg = { .path = "/api/v1/configmaps" };
    informer_t *inf = informer_create(base, fc, &cfg, &h);
    informer_start(inf);
    ok(run_until(fake_watches, &f, 10000), "fake server: four watches made");
    const char *w1 = json_string_value(json_array_get(f.uris, 1));
    const char *w2 = json_string_value(json_array_get(f.uris, 2));
    const char *t = w1 ? strstr(w1, "timeoutSeconds=") : NULL;
    int secs = t ? atoi(t + strlen("timeoutSeconds=")) : 0;
    ok(w1 && strstr(w1, "allowWatchBookmarks=true") && strstr(w1, "resourceVersion=10"),
       "the first watch starts at the list's resourceVersion with bookmarks (%s)", w1 ? w1 : "");
    ok(secs >= 300 && secs <= 600, "timeoutSeconds drawn from 300-600 (%d)", secs);
    const char *l0 = json_string_value(json_array_get(f.uris, 0));
    const char *l1 = json_string_value(json_array_get(f.uris, 3));
    ok(l0 && !strstr(l0, "watch=true") && strstr(l0, "limit=500") && strstr(l0, "resourceVersion=0"),
       "the first list asks for any resourceVersion, as client-go's reflector does (%s)",
       l0 ? l0 : "");
    ok(l1 && !strstr(l1, "watch=true") && strstr(l1, "limit=500") && !strstr(l1, "resourceVersion="),
       "after a 410 the re-list asks for the latest (%s)", l1 ? l1 : "");
    ok(w2 && strstr(w2, "watch=true") && strstr(w2, "resourceVersion=20"),
       "the BOOKMARK advanced the resourceVersion of the next watch (%s)", w2 ? w2 : "");
    informer_stats_t st;
    informer_get_stats(inf, &st);
    is_int(st.expired, 2, "HTTP 410 and an ERROR 410 event both count as expired");
    ok(st.lists >= 3, "each was followed by a re-list (%u lists)", st.lists);
    log_is(&r, "[\"ADD f1\",\"UPDATE f1 - -\",\"ADD f2\",\"DELETE f1\"]",
           "malformed lines skipped; the re-list delivered the difference");
    ok(informer_get(inf, "x", "f2") && !informer_get(inf, "x", "f1") && informer_count(inf) == 1,
       "the cache holds what the last list said");
    is_str(json_string_value(json_object_get(informer_get(inf, "x", "f2"), "kind")), "ConfigMap",
           "kind filled in from the list's kind");
    informer_free(inf);
    apiclient_free(fc);
    evhttp_free(http);
    json_decref(r.log);
    json_decref(f.uris);
}

/* ---------------------------------------------------------------------------- control */

static int ctl_out = -1, ctl_in = -1;

/* Ask the script to do something (blocks this process, so both loops stand still). */
static int ctl(const char *cmd)
{
    char buf[64];
    size_t got = 0;
    uint64_t end = now_ms() + 60000;
    if (ctl_out < 0)
        return -1;
    if (write(ctl_out, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(ctl_out, "\n", 1) != 1)
        return -1;
    while (got < sizeof(buf) - 1 && now_ms() < end) {
        struct pollfd p = { ctl_in, POLLIN, 0 };
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t n = read(ctl_in, buf + got, 1);
        if (n <= 0)
            return -1;
        if (buf[got] == '\n')
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return strcmp(buf, "ok") ? -1 : 0;
}

/* ---------------------------------------------------------------------------- tests */

static int count_cb(const char *key, json_t *obj, void *priv)
{
    (*(int *)priv)++;
    return 0;
}

static void test_apiclient_errors(void)
{
    ok(apiclient_create(base, "ftp://x") == NULL, "apiclient_create rejects a non-http URL");
    ok(apiclient_create(base, "not a url") == NULL, "apiclient_create rejects garbage");
    apiclient_t *dead = apiclient_create(wbase, "http://127.0.0.1:1");
    ok(dead != NULL, "a client for a port nobody listens on");
    sync_t s = { 0 };
    uint64_t end = now_ms() + 10000;
    ok(apiclient_request(dead, "BREW", "/", NULL, NULL, sync_done, &s) == NULL,
       "an unknown method fails at once");
    ok(apiclient_request(dead, "GET", "nopath", NULL, NULL, sync_done, &s) == NULL,
       "a path without '/' fails at once");
    ok(apiclient_request(dead, "GET", "/api", NULL, NULL, sync_done, &s) != NULL, "GET started");
    while (!s.done && now_ms() < end)
        event_base_loop(wbase, EVLOOP_ONCE);
    ok(s.done && s.status == 0 && s.err[0], "connection refused: status 0 and a reason (%s)", s.err);
    /* A call cancelled before it ran, then the client freed with it outstanding. */
    sync_t s2 = { 0 };
    apiclient_call_t *c = apiclient_request(dead, "GET", "/api", NULL, NULL, sync_done, &s2);
    apiclient_cancel(c);
    apiclient_request(dead, "GET", "/api", NULL, NULL, sync_done, &s2);
    apiclient_free(dead);
    ok(!s2.done, "cancelled and freed calls never call back");
}

static void test_apiclient_crud(void)
{
    json_t *body = NULL;
    int st = call("POST", "/api/v1/namespaces",
                  json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                            "metadata", "name", NS), &body);
    is_int(st, 201, "POST a namespace through apiclient");
    is_str(json_string_value(json_object_get(json_object_get(body, "metadata"), "name")), NS,
           "the parsed body is the created object");
    json_decref(body);
    body = NULL;
    st = call("GET", "/api/v1/namespaces/" NS "/configmaps/nope", NULL, &body);
    is_int(st, 404, "GET a missing object: 404");
    is_str(json_string_value(json_object_get(body, "kind")), "Status", "with a Status body");
    json_decref(body);
    is_int(create_cm("tmp", "a", "1"), 201, "POST a configmap");
    body = NULL;
    is_int(call("PUT", CMS "/tmp", cm("tmp", "a", "2"), &body), 200, "PUT it");
    is_str(v_of(body), "2", "PUT body came back");
    json_decref(body);
    is_int(patch_cm("tmp", json_pack("{s:{s:s}}", "data", "v", "3")), 200, "PATCH it (merge patch)");
    body = NULL;
    is_int(call("GET", CMS "/tmp", NULL, &body), 200, "GET it");
    is_str(v_of(body), "3", "the patch applied");
    json_decref(body);
    is_int(delete_cm("tmp"), 200, "DELETE it");
}

int main(void)
{
    const char *url = getenv("BERTH_URL");
    const char *req_path = getenv("INFORMER_CTL_REQ"), *rep_path = getenv("INFORMER_CTL_REP");

    if (!url || !*url) {
        /* t/2600-informer.t sets it; run alone, this has nothing to test against. */
        printf("Bail out! BERTH_URL is not set (run by t/2600-informer.t)\n");
        return 1;
    }
    srandom((unsigned)time(NULL));
    base = event_base_new();
    wbase = event_base_new();
    struct timeval tick_tv = { 0, 20000 }, dog_tv = { 150, 0 };
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct event *wtick = event_new(wbase, -1, EV_PERSIST, on_tick, NULL);
    struct event *dog = evtimer_new(base, on_watchdog, NULL);
    struct event *wdog = evtimer_new(wbase, on_watchdog, NULL);
    event_add(tick, &tick_tv);
    event_add(wtick, &tick_tv);
    evtimer_add(dog, &dog_tv);
    evtimer_add(wdog, &dog_tv);
    client = apiclient_create(base, url);
    wclient = apiclient_create(wbase, url);
    ok(client && wclient, "apiclient_create(%s)", url);
    if (req_path && rep_path) {
        ctl_out = open(req_path, O_WRONLY);
        ctl_in = open(rep_path, O_RDONLY);
    }

    test_apiclient_errors();
    test_fake_server();
    test_apiclient_crud();

    /* ---- initial list, paged */
    char name[32];
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "cm-%d", i);
        create_cm(name, i % 2 ? "b" : "a", "0");
    }
    rec_t ra = { "A", json_array(), 0 }, rb = { "B", json_array(), 0 };
    informer_handlers_t ha = { rec_add, rec_update, rec_delete, &ra };
    informer_handlers_t hb = { rec_add, rec_update, rec_delete, &rb };
    informer_config_t ca = { .path = "/api/v1/configmaps", .ns = NS, .page_size = 3,
                             .watch_timeout = 1 };
    informer_config_t cb = { .path = "/api/v1/configmaps", .ns = NS, .label_selector = "app=b" };
    informer_config_t cbad = { .path = "api/v1/configmaps" };
    ok(informer_create(base, client, &cbad, &ha) == NULL, "informer_create rejects a relative path");
    informer_t *a = informer_create(base, client, &ca, &ha);
    informer_t *b = informer_create(base, client, &cb, &hb);
    informer_t *nsi = informer_create(base, client,
                                      &(informer_config_t){ .path = "/api/v1/namespaces" }, NULL);
    ok(a && b && nsi, "informer_create");
    is_int(informer_add_index(a, "app", index_app, NULL), 0, "add index app");
    is_int(informer_add_index(a, "app", index_app, NULL), -1, "a duplicate index name is refused");
    ok(!informer_has_synced(a), "not synced before start");
    is_int(informer_start(a), 0, "start A (page size 3)");
    is_int(informer_start(b), 0, "start B (labelSelector app=b)");
    is_int(informer_start(nsi), 0, "start a cluster-scoped informer (namespaces)");
    is_int(informer_start(a), -1, "a second start is refused");
    is_int(informer_add_index(a, "late", index_app, NULL), -1, "no index after start");
    ok(run_until(synced, a, 10000), "A synced");
    ok(run_until(synced, b, 10000), "B synced");
    ok(run_until(synced, nsi, 10000), "namespaces informer synced");
    informer_stats_t st;
    informer_get_stats(a, &st);
    is_int(informer_count(a), 7, "A holds the 7 configmaps (3 pages)");
    is_int(json_array_size(ra.log), 7, "7 add events");
    ok(log_has(&ra, "ADD cm-0") && log_has(&ra, "ADD cm-6"), "adds for cm-0 .. cm-6");
    is_int(st.lists, 1, "one list");
    is_int(informer_count(b), 3, "B holds only app=b");
    ok(informer_get(b, NS, "cm-1") && !informer_get(b, NS, "cm-0"), "B's selector applied");
    ok(informer_get(nsi, NULL, NS) != NULL, "namespaces informer: get(NULL, \"" NS "\")");
    ok(informer_get(nsi, NULL, "default") != NULL, "namespaces informer: default exists");
    json_t *o = informer_get(a, NS, "cm-3");
    is_str(json_string_value(json_object_get(o, "kind")), "ConfigMap", "list items carry kind");
    is_str(v_of(o), "0", "get(ns, name) returns the object");
    ok(informer_get_key(a, NS "/cm-3") == o, "get_key(\"ns/name\") is the same object");
    ok(informer_get(a, NS, "nope") == NULL, "get of a missing object: NULL");
    json_t *ix = informer_by_index(a, "app", "a");
    is_int(json_array_size(ix), 4, "index app=a: 4 objects");
    json_decref(ix);
    ix = informer_by_index(a, "app", "zzz");
    ok(ix && json_array_size(ix) == 0, "index key without objects: empty array");
    json_decref(ix);
    ok(informer_by_index(a, "nope", "a") == NULL, "unknown index: NULL");
    int n = 0;
    informer_foreach(a, count_cb, &n);
    is_int(n, 7, "foreach visits every object");
    json_t *all = informer_list(a);
    is_int(json_array_size(all), 7, "list returns every object");
    json_decref(all);
    ok(strlen(informer_resource_version(a)) > 0, "a resourceVersion is known (%s)",
       informer_resource_version(a));

    test_apiclient_watch();
    test_informer_backoff();

    /* ---- live events through the watch */
    json_array_clear(ra.log);
    json_array_clear(rb.log);
    create_cm("cm-new", "a", "0");
    patch_cm("cm-0", json_pack("{s:{s:s}}", "data", "v", "1"));
    patch_cm("cm-1", json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "a"));
    delete_cm("cm-2");
    log_len_t la = { &ra, 4 }, lb = { &rb, 1 };
    ok(run_until(log_reaches, &la, 10000), "A saw four events");
    ok(run_until(log_reaches, &lb, 10000), "B saw one event");
    log_is(&ra, "[\"ADD cm-new\",\"UPDATE cm-0 0 1\",\"UPDATE cm-1 0 0\",\"DELETE cm-2\"]",
           "A: add, update (old and new), update, delete, in order");
    log_is(&rb, "[\"DELETE cm-1\"]", "B: cm-1 left its selector: delete");
    ok(!ra.bad_borrow && !rb.bad_borrow, "handlers see the cache already updated");
    ok(wait_converged(a, NULL, 5000), "A's cache matches the server");
    ok(wait_converged(b, "b", 5000), "B's cache matches the server");
    ok(index_consistent(a), "A's index matches its cache");
    ix = informer_by_index(a, "app", "a");
    is_int(json_array_size(ix), 5, "index app=a now: cm-0, cm-1, cm-4, cm-6, cm-new");
    json_decref(ix);
    /* A re-watches every second (watch_timeout 1): events keep flowing across re-watches. */
    run_until(never, NULL, 1500);
    json_array_clear(ra.log);
    patch_cm("cm-6", json_pack("{s:{s:s}}", "data", "v", "6"));
    la.n = 1;
    ok(run_until(log_reaches, &la, 10000), "an event after several re-watches");
    log_is(&ra, "[\"UPDATE cm-6 0 6\"]", "delivered once");
    informer_get_stats(a, &st);
    ok(st.watches >= 2, "A re-watched from its resourceVersion (%u watches, %u lists)",
       st.watches, st.lists);
    is_int(st.lists, 1, "without listing again");

    if (ctl_out < 0 || ctl_in < 0) {
        diag("no INFORMER_CTL_REQ/INFORMER_CTL_REP: restart and 410 checks skipped");
        goto out;
    }

    /* ---- berth restarts on the same port: reconnect and re-list */
    json_array_clear(ra.log);
    json_array_clear(rb.log);
    is_int(ctl("restart --watch-window 5"), 0, "berth restarted on the same port (--watch-window 5)");
    create_cm("cm-r1", "b", "0");
    delete_cm("cm-3");
    patch_cm("cm-4", json_pack("{s:{s:s}}", "data", "v", "4"));
    ok(wait_converged(a, NULL, 20000), "A converges after the restart");
    ok(wait_converged(b, "b", 20000), "B converges after the restart");
    ok(log_has(&ra, "ADD cm-r1") && log_has(&ra, "DELETE cm-3") && log_has(&ra, "UPDATE cm-4 0 4"),
       "A got the changes made while it was cut off as add, delete, update");
    ok(log_has(&rb, "ADD cm-r1") && log_has(&rb, "DELETE cm-3"), "so did B");
    informer_get_stats(a, &st);
    ok(st.failures >= 1 && st.lists >= 2, "A saw the connection fail and listed again "
       "(%u failures, %u lists)", st.failures, st.lists);
    ok(index_consistent(a), "A's index still matches");

    /* ---- a watch resumed from a resourceVersion out of the window: 410, re-list, diff */
    run_until(never, NULL, 500);
    json_array_clear(ra.log);
    informer_stats_t before;
    informer_get_stats(a, &before);
    usleep(1500 * 1000);     /* A's 1 s watch has ended on the server; it cannot re-watch yet */
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "cm-x%d", i);
        create_cm(name, "a", "x");
    }
    delete_cm("cm-4");
    delete_cm("cm-5");
    /* Redis trims streams approximately (MAXLEN ~, whole 100-entry nodes): write well past
     * the window so the events A missed are really gone. */
    for (int i = 0; i < 250; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i < 249 ? 100 + i : 7);
        patch_cm("cm-6", json_pack("{s:{s:s}}", "data", "v", v));
    }
    /* The restart empties the server's in-memory ring, so the resume must come from the
     * trimmed Redis stream. */
    is_int(ctl("restart --watch-window 5"), 0, "berth restarted again");
    ok(wait_converged(a, NULL, 20000), "A converges");
    informer_get_stats(a, &st);
    ok(st.expired > before.expired, "A got 410 Expired (%u) and listed again (%u lists)",
       st.expired, st.lists);
    ok(log_has(&ra, "DELETE cm-4") && log_has(&ra, "DELETE cm-5"),
       "objects that vanished meanwhile are delivered as deletes");
    ok(log_has(&ra, "ADD cm-x0") && log_has(&ra, "ADD cm-x7"), "new ones as adds");
    ok(log_has(&ra, "UPDATE cm-6 6 7"), "changed ones as updates");
    is_int(json_array_size(ra.log), 11, "nothing else (8 adds, 2 deletes, 1 update)");
    ok(index_consistent(a), "A's index matches after the re-list");
    ok(wait_converged(b, "b", 20000), "B converges too");
    ok(!ra.bad_borrow && !rb.bad_borrow, "handlers always saw the cache updated");

out:
    informer_free(a);
    informer_free(b);
    informer_free(nsi);
    json_decref(ra.log);
    json_decref(rb.log);
    apiclient_free(client);
    apiclient_free(wclient);
    event_free(tick);
    event_free(wtick);
    event_free(dog);
    event_free(wdog);
    event_base_free(base);
    event_base_free(wbase);
    if (ctl_out >= 0)
        close(ctl_out);
    if (ctl_in >= 0)
        close(ctl_in);
    return done_testing();
}
