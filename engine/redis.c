/* redis.c: see redis.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "redis.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PROBE_TIMEOUT_S 5

struct rconn_s {
    struct event_base *base;
    redisAsyncContext *ac;      /* NULL while down */
    int up;                     /* connected and SELECT/AUTH sent */
    int closing;
    char *host, *path, *password, *name;
    int port, db;
    int backoff_ms;
    struct event *retry;
    struct event *probe;        /* bounds the wait for the first PING after connecting */
    rconn_state_cb *state_cb;
    void *state_priv;
    char errstr[256];
};

typedef struct rcall_s {
    rconn_t *conn;
    rconn_reply_cb *cb;
    void *privdata;
} rcall_t;

static void rconn_connect(rconn_t *c);

static int parse_url(rconn_t *c, const char *url, char *err, size_t errlen)
{
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7, *q = strchr(p, '?');
        c->path = q ? strndup(p, (size_t)(q - p)) : strdup(p);
        if (q && !strncmp(q, "?db=", 4))
            c->db = atoi(q + 4);
        if (!c->path || c->path[0] != '/') {
            snprintf(err, errlen, "redis URL %s: a unix socket path must be absolute", url);
            return -1;
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8)) {
        snprintf(err, errlen, "redis URL %s: expected redis://host:port/db or unix:///path", url);
        return -1;
    }
    const char *p = url + 8, *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        c->password = colon ? strndup(colon + 1, (size_t)(at - colon - 1)) : strndup(p, (size_t)(at - p));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hostlen = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hostlen);
    c->port = 6379;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != p + hostlen || port <= 0 || port > 65535) {
            snprintf(err, errlen, "redis URL %s: bad port", url);
            return -1;
        }
        c->port = (int)port;
        hostlen = (size_t)(colon - p);
    }
    c->host = hostlen ? strndup(p, hostlen) : strdup("127.0.0.1");
    if (slash && slash[1])
        c->db = atoi(slash + 1);
    return 0;
}

static void set_up(rconn_t *c, int up)
{
    if (c->up == up)
        return;
    c->up = up;
    if (c->state_cb)
        c->state_cb(c, up, c->state_priv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    rconn_connect(arg);
}

static void schedule_retry(rconn_t *c)
{
    struct timeval tv;
    if (c->closing)
        return;
    tv.tv_sec = c->backoff_ms / 1000;
    tv.tv_usec = (c->backoff_ms % 1000) * 1000;
    evtimer_add(c->retry, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void probe_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    rconn_t *c = ac->data;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        return;   /* a lost connection reports itself through on_disconnect */
    evtimer_del(c->probe);
    c->backoff_ms = BACKOFF_MIN_MS;
    c->errstr[0] = '\0';
    log_info("redis %s: connected", c->name);
    set_up(c, 1);
}

static void probe_timeout(evutil_socket_t fd, short what, void *arg)
{
    rconn_t *c = arg;
    snprintf(c->errstr, sizeof(c->errstr), "no answer to PING within %d s", PROBE_TIMEOUT_S);
    log_warn("redis %s: %s", c->name, c->errstr);
    rconn_abort(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn_t *c = ac->data;
    if (status != REDIS_OK) {
        snprintf(c->errstr, sizeof(c->errstr), "%s", ac->errstr);
        log_debug("redis %s: connect failed: %s", c->name, ac->errstr);
        c->ac = NULL;   /* hiredis frees the context after this callback */
        schedule_retry(c);
        return;
    }
    /* A TCP connect succeeds even to a Redis that is stopped (the kernel accepts for it):
     * the connection is up only once Redis answers a PING. */
    struct timeval tv = { PROBE_TIMEOUT_S, 0 };
    evtimer_add(c->probe, &tv);
    redisAsyncCommand((redisAsyncContext *)ac, probe_reply, NULL, "PING");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn_t *c = ac->data;
    if (status != REDIS_OK)
        snprintf(c->errstr, sizeof(c->errstr), "%s", ac->errstr[0] ? ac->errstr : "connection lost");
    else
        snprintf(c->errstr, sizeof(c->errstr), "connection closed");
    c->ac = NULL;
    evtimer_del(c->probe);
    if (!c->closing && c->up)
        log_warn("redis %s: disconnected: %s", c->name, c->errstr);
    set_up(c, 0);
    schedule_retry(c);
}

static void ignore_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    rconn_t *c = ac->data;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_error("redis %s: %s", c->name, reply->str);
        /* A wrong password or database leaves the connection unusable: drop it. */
        redisAsyncDisconnect(ac);
    }
}

static void rconn_connect(rconn_t *c)
{
    redisAsyncContext *ac = c->path ? redisAsyncConnectUnix(c->path)
                                    : redisAsyncConnect(c->host, c->port);
    if (!ac || ac->err) {
        snprintf(c->errstr, sizeof(c->errstr), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Queued before the connection completes; Redis runs them first, in order. */
    if (c->password)
        redisAsyncCommand(ac, ignore_reply, NULL, "AUTH %s", c->password);
    if (c->db)
        redisAsyncCommand(ac, ignore_reply, NULL, "SELECT %d", c->db);
}

rconn_t *rconn_create(struct event_base *base, const char *url, const char *name,
                      char *err, size_t errlen)
{
    rconn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base = base;
    c->name = strdup(name);
    c->backoff_ms = BACKOFF_MIN_MS;
    if (parse_url(c, url, err, errlen) != 0)
        goto failed;
    c->retry = evtimer_new(base, retry_cb, c);
    c->probe = evtimer_new(base, probe_timeout, c);
    if (!c->retry || !c->probe)
        goto failed;
    rconn_connect(c);
    return c;
failed:
    if (c->retry)
        event_free(c->retry);
    if (c->probe)
        event_free(c->probe);
    free(c->host);
    free(c->path);
    free(c->password);
    free(c->name);
    free(c);
    return NULL;
}

void rconn_set_state_cb(rconn_t *c, rconn_state_cb *cb, void *privdata)
{
    c->state_cb = cb;
    c->state_priv = privdata;
}

int rconn_is_up(const rconn_t *c)
{
    return c->up;
}

const char *rconn_last_error(const rconn_t *c)
{
    return c->errstr[0] ? c->errstr : "not connected";
}

static void dispatch_reply(redisAsyncContext *ac, void *r, void *priv)
{
    rcall_t *call = priv;
    call->cb(call->conn, r, call->privdata);
    free(call);
}

int rconn_command_argv(rconn_t *c, rconn_reply_cb *cb, void *privdata, int argc,
                       const char **argv, const size_t *argvlen)
{
    rcall_t *call;
    if (!c->up || !c->ac)
        return -1;
    call = malloc(sizeof(*call));
    if (!call)
        return -1;
    call->conn = c;
    call->cb = cb;
    call->privdata = privdata;
    if (redisAsyncCommandArgv(c->ac, dispatch_reply, call, argc, argv, argvlen) != REDIS_OK) {
        free(call);
        return -1;
    }
    return 0;
}

int rconn_command(rconn_t *c, rconn_reply_cb *cb, void *privdata, const char *fmt, ...)
{
    rcall_t *call;
    va_list ap;
    int rc;
    if (!c->up || !c->ac)
        return -1;
    call = malloc(sizeof(*call));
    if (!call)
        return -1;
    call->conn = c;
    call->cb = cb;
    call->privdata = privdata;
    va_start(ap, fmt);
    rc = redisvAsyncCommand(c->ac, dispatch_reply, call, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(call);
        return -1;
    }
    return 0;
}

void rconn_reset(rconn_t *c)
{
    if (c->ac)
        redisAsyncDisconnect(c->ac);   /* on_disconnect schedules the retry */
}

void rconn_abort(rconn_t *c)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    /* redisAsyncFree fails the pending callbacks and calls on_disconnect, which marks the
     * connection down and schedules the reconnect. */
    redisAsyncFree(ac);
}

void rconn_free(rconn_t *c)
{
    if (!c)
        return;
    c->closing = 1;
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac);
    }
    event_free(c->retry);
    event_free(c->probe);
    free(c->host);
    free(c->path);
    free(c->password);
    free(c->name);
    free(c);
}
