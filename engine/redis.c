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

#define MAX_SENTINELS 16

struct rconn_s {
    struct event_base *base;
    redisAsyncContext *ac;      /* NULL while down */
    redisAsyncContext *sac;     /* the sentinel being asked, NULL when none */
    char *master_name;          /* redis-sentinel:// URLs: the master to ask for */
    char *sentinel_host[MAX_SENTINELS];
    int sentinel_port[MAX_SENTINELS];
    int nsentinels, sentinel_next;
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

/* Parse len bytes of "host[:port]" (port default_port when absent); -1 if malformed. */
static int parse_host_port(const char *p, size_t len, int default_port, char **host, int *port)
{
    const char *colon = memchr(p, ':', len);
    *port = default_port;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (end != p + len || v <= 0 || v > 65535)
            return -1;
        *port = (int)v;
        len = (size_t)(colon - p);
    }
    *host = len ? strndup(p, len) : strdup("127.0.0.1");
    return *host ? 0 : -1;
}

/* redis-sentinel://[:password@]host[:port][,host[:port]...]/master-name[/db] */
static int parse_sentinel_url(rconn_t *c, const char *url, char *err, size_t errlen)
{
    const char *p = strstr(url, "://") + 3, *at = strchr(p, '@'), *slash;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        c->password = colon ? strndup(colon + 1, (size_t)(at - colon - 1))
                            : strndup(p, (size_t)(at - p));
        p = at + 1;
    }
    slash = strchr(p, '/');
    if (!slash || !slash[1]) {
        snprintf(err, errlen, "redis URL %s: expected redis-sentinel://host:port,.../master-name",
                 url);
        return -1;
    }
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(slash - p);
        if (c->nsentinels == MAX_SENTINELS ||
            parse_host_port(p, len, 26379, &c->sentinel_host[c->nsentinels],
                            &c->sentinel_port[c->nsentinels]) < 0) {
            snprintf(err, errlen, "redis URL %s: bad sentinel address (at most %d)", url,
                     MAX_SENTINELS);
            return -1;
        }
        c->nsentinels++;
        p += len + (comma != NULL);
    }
    const char *db = strchr(slash + 1, '/');
    c->master_name = db ? strndup(slash + 1, (size_t)(db - slash - 1)) : strdup(slash + 1);
    if (db && db[1])
        c->db = atoi(db + 1);
    if (!c->master_name || !*c->master_name || !c->nsentinels) {
        snprintf(err, errlen, "redis URL %s: no master name or no sentinel", url);
        return -1;
    }
    return 0;
}

static int parse_url(rconn_t *c, const char *url, char *err, size_t errlen)
{
    if (!strncmp(url, "redis-sentinel://", 17))
        return parse_sentinel_url(c, url, err, errlen);
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
        snprintf(err, errlen, "redis URL %s: expected redis://host:port/db, unix:///path or "
                 "redis-sentinel://host:port,.../master", url);
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
    if (parse_host_port(p, hostlen, 6379, &c->host, &c->port) < 0) {
        snprintf(err, errlen, "redis URL %s: bad port", url);
        return -1;
    }
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
    if (c->master_name) {
        /* The sentinels' answer may be stale (a failover in progress): write only to a
         * server that says it is the master. */
        const char *role = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                                   reply->element[0]->type == REDIS_REPLY_STRING
                               ? reply->element[0]->str : "unknown";
        if (strcmp(role, "master")) {
            snprintf(c->errstr, sizeof(c->errstr), "%s:%d is a %s, not the master of %s",
                     c->host, c->port, role, c->master_name);
            log_warn("redis %s: %s; asking the sentinels again", c->name, c->errstr);
            redisAsyncDisconnect(ac);
            return;
        }
        log_info("redis %s: master %s is %s:%d", c->name, c->master_name, c->host, c->port);
    }
    c->backoff_ms = BACKOFF_MIN_MS;
    c->errstr[0] = '\0';
    log_info("redis %s: connected", c->name);
    set_up(c, 1);
}

static void probe_timeout(evutil_socket_t fd, short what, void *arg)
{
    rconn_t *c = arg;
    if (c->sac) {
        redisAsyncContext *sac = c->sac;
        snprintf(c->errstr, sizeof(c->errstr), "sentinel %s:%d: no answer within %d s",
                 c->sentinel_host[c->sentinel_next], c->sentinel_port[c->sentinel_next],
                 PROBE_TIMEOUT_S);
        log_warn("redis %s: %s", c->name, c->errstr);
        redisAsyncFree(sac);   /* sentinel_on_disconnect moves on to the next sentinel */
        return;
    }
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
    redisAsyncCommand((redisAsyncContext *)ac, probe_reply, NULL, c->master_name ? "ROLE" : "PING");
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

static void connect_data(rconn_t *c)
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

/* Sentinel mode: every (re)connection first asks a sentinel where the master is, trying
 * the sentinels in turn; the answer is then checked with ROLE (probe_reply). */
static void sentinel_failed(rconn_t *c)
{
    c->sentinel_next = (c->sentinel_next + 1) % c->nsentinels;
    schedule_retry(c);
}

static void sentinel_on_connect(const redisAsyncContext *ac, int status)
{
    rconn_t *c = ac->data;
    if (status == REDIS_OK)
        return;
    snprintf(c->errstr, sizeof(c->errstr), "sentinel %s:%d: %s",
             c->sentinel_host[c->sentinel_next], c->sentinel_port[c->sentinel_next],
             ac->errstr);
    log_debug("redis %s: %s", c->name, c->errstr);
    c->sac = NULL;   /* hiredis frees the context after this callback */
    evtimer_del(c->probe);
    sentinel_failed(c);
}

static void sentinel_on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn_t *c = ac->data;
    if (c->sac != ac)
        return;      /* closed by sentinel_reply after it answered */
    c->sac = NULL;
    evtimer_del(c->probe);
    if (!c->closing)
        sentinel_failed(c);
}

static void sentinel_reply(redisAsyncContext *ac, void *r, void *priv)
{
    rconn_t *c = ac->data;
    redisReply *reply = r;
    int found = 0;
    if (!reply)
        return;      /* the connection failed: sentinel_on_disconnect handles it */
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING) {
        char *host = strdup(reply->element[0]->str);
        int port = atoi(reply->element[1]->str);
        if (host && port > 0 && port <= 65535) {
            free(c->host);
            c->host = host;
            c->port = port;
            found = 1;
        } else
            free(host);
    }
    if (!found)
        snprintf(c->errstr, sizeof(c->errstr), "sentinel %s:%d does not know master %s%s%s",
                 c->sentinel_host[c->sentinel_next], c->sentinel_port[c->sentinel_next],
                 c->master_name, reply->type == REDIS_REPLY_ERROR ? ": " : "",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "");
    c->sac = NULL;   /* so sentinel_on_disconnect ignores this close */
    evtimer_del(c->probe);
    redisAsyncDisconnect(ac);
    if (found)
        connect_data(c);
    else {
        log_warn("redis %s: %s", c->name, c->errstr);
        sentinel_failed(c);
    }
}

static void rconn_connect(rconn_t *c)
{
    if (!c->master_name) {
        connect_data(c);
        return;
    }
    const char *host = c->sentinel_host[c->sentinel_next];
    int port = c->sentinel_port[c->sentinel_next];
    redisAsyncContext *sac = redisAsyncConnect(host, port);
    if (!sac || sac->err) {
        snprintf(c->errstr, sizeof(c->errstr), "sentinel %s:%d: %s", host, port,
                 sac ? sac->errstr : "out of memory");
        if (sac)
            redisAsyncFree(sac);
        sentinel_failed(c);
        return;
    }
    sac->data = c;
    c->sac = sac;
    redisLibeventAttach(sac, c->base);
    redisAsyncSetConnectCallback(sac, sentinel_on_connect);
    redisAsyncSetDisconnectCallback(sac, sentinel_on_disconnect);
    struct timeval tv = { PROBE_TIMEOUT_S, 0 };
    evtimer_add(c->probe, &tv);
    redisAsyncCommand(sac, sentinel_reply, NULL, "SENTINEL get-master-addr-by-name %s",
                      c->master_name);
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
    for (int i = 0; i < c->nsentinels; i++)
        free(c->sentinel_host[i]);
    free(c->master_name);
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
    rconn_t *c = call->conn;
    redisReply *reply = r;
    /* A master demoted by a failover keeps the connection open and refuses writes: drop
     * it, so the reconnection finds the new master (through the sentinels). */
    int demoted = reply && reply->type == REDIS_REPLY_ERROR &&
                  (!strncmp(reply->str, "READONLY", 8) || !strncmp(reply->str, "MASTERDOWN", 10));
    call->cb(c, r, call->privdata);
    free(call);
    if (demoted && c->ac == ac && !c->closing) {
        snprintf(c->errstr, sizeof(c->errstr), "%s", reply->str);
        log_warn("redis %s: %s; reconnecting", c->name, c->errstr);
        redisAsyncDisconnect(ac);
    }
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
    if (c->sac) {
        redisAsyncContext *sac = c->sac;
        c->sac = NULL;
        redisAsyncFree(sac);
    }
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac);
    }
    event_free(c->retry);
    event_free(c->probe);
    for (int i = 0; i < c->nsentinels; i++)
        free(c->sentinel_host[i]);
    free(c->master_name);
    free(c->host);
    free(c->path);
    free(c->password);
    free(c->name);
    free(c);
}
