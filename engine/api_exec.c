/* api_exec.c: pods/<name>/exec and pods/<name>/portforward, relayed to the node agent
 * running the pod.
 *
 * portforward follows the same path with three differences: no container is chosen, the pod
 * must be Running, and besides the websocket upgrade (subprotocol
 * SPDY/3.1+portforward.k8s.io from kubectl, v4.channel.k8s.io from client-node) a SPDY/3.1
 * upgrade is relayed too: the agent is asked with the same Upgrade and
 * X-Stream-Protocol-Version headers, and its 101 (with the version it chose) is answered to
 * the client before the bytes flow. The agent speaks both protocols (agent_portforward.c).
 *
 * exec:
 *
 * kubectl 1.31 asks with GET and "Upgrade: websocket" (subprotocol v5.channel.k8s.io); when
 * that upgrade fails for any reason it asks again with POST and SPDY/3.1, and prints what
 * that second answer says. So both requests go through the same checks and get the same
 * errors as ordinary Status objects (HTTP, before any upgrade):
 *   404 the pod does not exist; 400 no command, no stream, a container that is not in the
 *   pod (or none named in a pod of several), a completed pod, a pod without a node, or what
 *   the agent refuses (container not found / not running); 503 the agent does not answer.
 * Only a websocket request is then upgraded; a SPDY request that passed every check gets 400
 * "SPDY is not supported" (the agent is asked to check it with a plain GET, which it answers
 * 426 when it would have run the command).
 *
 * How the websocket flows: the agent speaks the channel protocol itself (agent_exec.c), so
 * this side does not parse frames. The request's connection is taken over from evhttp at
 * once (ws_hijack_t); the pod and its Node are read from the store; the agent's endpoint is
 * found as for logs (the berth.dev/agent-endpoint annotation, else InternalIP and
 * daemonEndpoints.kubeletEndpoint.Port); a raw connection to the agent carries the same
 * upgrade request (same Sec-WebSocket-Key and offered subprotocols) to
 * GET /exec/<ns>/<pod>/<container>?<the client's query>. When the agent answers 101, the
 * client gets its own 101 (accept key from its key, the subprotocol the agent chose) and from
 * then on bytes are copied both ways unchanged: the client's masked frames reach the agent,
 * the agent's pings, output frames, channel 3 Status and close frame reach the client. Half
 * closes are passed on (end of stream from one side shuts the other's write side once
 * everything is delivered); a direction pauses while the other side has more than RELAY_HIGH
 * bytes waiting; an error on either side, or 30 s after the first end of stream, ends both.
 * Depends on api.h, websocket.h, libevent bufferevents. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "kinds.h"
#include "log.h"
#include "util.h"
#include "websocket.h"
#include "jsonload.h"

#define RELAY_HIGH          (1024 * 1024)
#define AGENT_MAX_HEAD      (64 * 1024)    /* the agent's response head, or its error body */
#define AGENT_TIMEOUT_S     30             /* connect and answer (it creates the exec first) */
#define RELAY_LINGER_S      30             /* after the first end of stream */
#define CLIENT_MAX_EARLY    (64 * 1024)    /* client bytes before the upgrade */

typedef enum { X_LOOKUP, X_AGENT, X_RELAY } exec_stage_t;

typedef struct exec_op_s {
    api_req_t *r;                  /* until the reply or the upgrade */
    exec_stage_t stage;
    ws_hijack_t hj;                /* the client's connection */
    int portforward;               /* pods/portforward, not exec */
    int attach;                    /* pods/attach: exec's path without a command */
    int websocket;                 /* the client asked for a websocket upgrade */
    int spdy;                      /* port-forward only: it asked for a SPDY/3.1 upgrade */
    char versions[512];            /* its X-Stream-Protocol-Version offers, comma-separated */
    int client_gone;               /* the client closed while the store was being read */
    char key[64];
    char container[256], node[256], endpoint[400];
    struct bufferevent *abev;      /* to the agent */
    int connecting, connect_failed;
    int agent_status;              /* from the agent's response head; 0 before */
    long body_left;                /* its error body: bytes still expected, -1 until EOF */
    int c_eof, a_eof;              /* relay: the client / the agent ended its stream */
    struct event *linger;
} exec_op_t;

/* ---------------------------------------------------------------------------- ending */

static void op_release(exec_op_t *op)
{
    if (op->abev)
        bufferevent_free(op->abev);
    op->abev = NULL;
    if (op->linger)
        event_free(op->linger);
    op->linger = NULL;
}

/* r->op_free: the request is being freed (after an error reply). The client connection is
 * evhttp's again by then. */
static void op_free(void *p)
{
    exec_op_t *op = p;
    if (!op)
        return;
    op_release(op);
    free(op);
}

/* End after the upgrade, or for a client that is gone: close both connections. */
static void op_close(exec_op_t *op)
{
    api_req_t *r = op->r;
    op->r = NULL;
    ws_hijack_close(&op->hj);          /* frees the evhttp request too */
    if (r) {
        r->req = NULL;
        r->op = NULL;
        r->op_free = NULL;
        api_req_free(r);
    }
    op_release(op);
    free(op);
}

/* Before the upgrade: an ordinary Status reply, through evhttp again. */
static void op_fail(exec_op_t *op, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void op_fail(exec_op_t *op, int code, const char *reason, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (op->client_gone || !op->hj.evcon) {
        api_record(op->r, code);
        op_close(op);
        return;
    }
    ws_hijack_giveback(&op->hj);
    api_reply_status(op->r, code, reason, NULL, "%s", msg);   /* frees op via op_free */
}

/* evhttp frees the client connection (the server is shutting down). */
static void client_gone_cb(void *priv)
{
    exec_op_t *op = priv;
    if (op->r)
        op->r->req = NULL;
    if (op->stage == X_LOOKUP) {
        op->client_gone = 1;       /* the store callback finishes */
        return;
    }
    op_close(op);
}

/* ---------------------------------------------------------------------------- relay */

static void relay_pump(exec_op_t *op, struct bufferevent *from, struct bufferevent *to)
{
    struct evbuffer *in = bufferevent_get_input(from);
    evbuffer_add_buffer(bufferevent_get_output(to), in);
    if (evbuffer_get_length(bufferevent_get_output(to)) > RELAY_HIGH)
        bufferevent_disable(from, EV_READ);   /* resumed by to's write callback */
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
    op_close(arg);
}

/* One side ended its stream: pass the half close on once its bytes are delivered. */
static void relay_eof(exec_op_t *op, struct bufferevent *from, struct bufferevent *to)
{
    static const struct timeval linger = { RELAY_LINGER_S, 0 };
    if (from == op->abev)
        op->a_eof = 1;
    else
        op->c_eof = 1;
    bufferevent_disable(from, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(to)) == 0)
        shutdown(bufferevent_getfd(to), SHUT_WR);
    if (op->a_eof && op->c_eof) {
        op_close(op);
        return;
    }
    if (!evtimer_pending(op->linger, NULL))
        evtimer_add(op->linger, &linger);
}

static void client_relay_read(struct bufferevent *bev, void *arg)
{
    exec_op_t *op = arg;
    relay_pump(op, bev, op->abev);
}

static void agent_relay_read(struct bufferevent *bev, void *arg)
{
    exec_op_t *op = arg;
    relay_pump(op, bev, op->hj.bev);
}

/* A side's output drained: resume the reader feeding it, or pass on a half close. */
static void client_relay_write(struct bufferevent *bev, void *arg)
{
    exec_op_t *op = arg;
    if (op->a_eof)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
    else
        bufferevent_enable(op->abev, EV_READ);
}

static void agent_relay_write(struct bufferevent *bev, void *arg)
{
    exec_op_t *op = arg;
    if (op->c_eof)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
    else
        bufferevent_enable(op->hj.bev, EV_READ);
}

static void client_relay_event(struct bufferevent *bev, short what, void *arg)
{
    exec_op_t *op = arg;
    if (what & BEV_EVENT_EOF) {
        relay_pump(op, bev, op->abev);
        relay_eof(op, bev, op->abev);
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        op_close(op);
    }
}

static void agent_relay_event(struct bufferevent *bev, short what, void *arg)
{
    exec_op_t *op = arg;
    if (what & BEV_EVENT_EOF) {
        relay_pump(op, bev, op->hj.bev);
        relay_eof(op, bev, op->hj.bev);
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        op_close(op);
    }
}

/* The agent said 101: answer the client's upgrade and start copying. */
static void start_relay(exec_op_t *op, const char *protocol)
{
    api_req_t *r = op->r;
    struct bufferevent *c = op->hj.bev, *a = op->abev;
    if (op->spdy)
        evbuffer_add_printf(bufferevent_get_output(c),
                            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                            "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n", protocol);
    else
        ws_write_101(bufferevent_get_output(c), op->key, protocol);
    api_record(r, 101);
    op->r = NULL;
    r->req = NULL;      /* the connection owns it; ws_hijack_close frees both */
    r->op = NULL;
    r->op_free = NULL;
    api_req_free(r);
    op->stage = X_RELAY;
    op->linger = evtimer_new(bufferevent_get_base(a), linger_cb, op);
    /* Liveness is the agent's business (it pings, and times out a silent client). */
    bufferevent_set_timeouts(c, NULL, NULL);
    bufferevent_set_timeouts(a, NULL, NULL);
    bufferevent_setcb(c, client_relay_read, client_relay_write, client_relay_event, op);
    bufferevent_setcb(a, agent_relay_read, agent_relay_write, agent_relay_event, op);
    bufferevent_enable(c, EV_READ | EV_WRITE);
    bufferevent_enable(a, EV_READ | EV_WRITE);
    /* What already arrived: client bytes sent early, agent bytes right after its head. */
    if (evbuffer_get_length(bufferevent_get_input(c)))
        relay_pump(op, c, a);
    if (evbuffer_get_length(bufferevent_get_input(a)))
        relay_pump(op, a, c);
}

/* ---------------------------------------------------------------------------- the agent */

/* The agent's answer was not 101: its (text) body is the message. */
static void agent_refused(exec_op_t *op)
{
    struct evbuffer *in = bufferevent_get_input(op->abev);
    char msg[1024];
    size_t n = evbuffer_get_length(in);
    if (n >= sizeof(msg))
        n = sizeof(msg) - 1;
    evbuffer_remove(in, msg, n);
    msg[n] = 0;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
        msg[--n] = 0;
    int code = op->agent_status;
    if (code == 426 && !op->portforward)
        op_fail(op, 400, "BadRequest",
                "berth serves %s over websockets only (subprotocol " WS_PROTO_V5 ", kubectl "
                "1.30 or newer); the SPDY/3.1 upgrade is not supported", op->attach ? "attach" : "exec");
    else if (code == 426)
        op_fail(op, 400, "BadRequest", "Upgrade request required");
    else if (code == 403)
        op_fail(op, 403, "Forbidden", "%s", *msg ? msg : "the node agent refused the upgrade");
    else if (code == 400 || code == 404)
        op_fail(op, 400, "BadRequest", "%s", *msg ? msg : op->portforward ? "the node agent refused the port-forward"
                                                                        : "the node agent refused the command");
    else
        op_fail(op, 500, "InternalError", "the node agent of node \"%s\" answered %d: %s",
                op->node, code, *msg ? msg : "(no message)");
}

static void agent_read(struct bufferevent *bev, void *arg)
{
    exec_op_t *op = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!op->agent_status) {
        size_t n = evbuffer_get_length(in);
        size_t take = n < AGENT_MAX_HEAD ? n : AGENT_MAX_HEAD;
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
        struct evkeyvalq h;
        int status = 0;
        TAILQ_INIT(&h);
        long hl = p ? ws_response_head_parse(p, take, &status, &h) : -1;
        if (hl == 0 && n < AGENT_MAX_HEAD) {
            evhttp_clear_headers(&h);
            return;
        }
        if (hl <= 0) {
            evhttp_clear_headers(&h);
            op_fail(op, 503, "ServiceUnavailable", "the node agent of node \"%s\" (%s) sent a malformed answer",
                    op->node, op->endpoint);
            return;
        }
        evbuffer_drain(in, (size_t)hl);
        op->agent_status = status;
        const char *cl = evhttp_find_header(&h, "Content-Length");
        op->body_left = cl ? atol(cl) : -1;
        if (status == 101) {
            /* The upgrade we asked for: SPDY with the version the agent chose, or a
             * websocket accepted for our key, with its subprotocol. */
            char chosen[128];
            int good;
            if (op->spdy) {
                const char *ver = evhttp_find_header(&h, "X-Stream-Protocol-Version");
                snprintf(chosen, sizeof(chosen), "%s", ver ? ver : "");
                good = ws_header_has_token(evhttp_find_header(&h, "Upgrade"), "SPDY/3.1") && *chosen &&
                       !strpbrk(chosen, "\r\n");
            } else {
                const char *accept = evhttp_find_header(&h, "Sec-WebSocket-Accept");
                const char *proto = evhttp_find_header(&h, "Sec-WebSocket-Protocol");
                char want[32];
                ws_accept_key(op->key, want);
                snprintf(chosen, sizeof(chosen), "%s", proto ? proto : "");
                good = op->websocket && accept && !strcmp(accept, want);
            }
            evhttp_clear_headers(&h);
            if (!good) {
                op_fail(op, 500, "InternalError", "the node agent of node \"%s\" answered an unexpected upgrade",
                        op->node);
                return;
            }
            start_relay(op, chosen);
            return;
        }
        evhttp_clear_headers(&h);
    }
    size_t n = evbuffer_get_length(in);
    if ((op->body_left >= 0 && (long)n >= op->body_left) || n >= AGENT_MAX_HEAD)
        agent_refused(op);
}

static void agent_event(struct bufferevent *bev, short what, void *arg)
{
    exec_op_t *op = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (op->connecting) {
        op->connect_failed = 1;
        return;
    }
    if (op->agent_status && (what & BEV_EVENT_EOF)) {
        agent_refused(op);       /* a body that ends with the connection */
        return;
    }
    const char *why = (what & BEV_EVENT_TIMEOUT) ? "timed out"
                      : (what & BEV_EVENT_EOF)   ? "closed the connection"
                                                 : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    op_fail(op, 503, "ServiceUnavailable", "the node agent of node \"%s\" (%s) does not answer: %s",
            op->node, op->endpoint, why);
}

/* Before the upgrade the client is not expected to send; keep it, bounded. A client that
 * goes away ends everything (or, during a store read, once the read returns). */
static void client_wait_read(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_input(bev)) > CLIENT_MAX_EARLY)
        bufferevent_disable(bev, EV_READ);
}

static void client_wait_event(struct bufferevent *bev, short what, void *arg)
{
    exec_op_t *op = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (op->stage == X_LOOKUP) {
        op->client_gone = 1;
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        return;
    }
    api_record(op->r, 499);
    op_close(op);
}

static void connect_agent(exec_op_t *op)
{
    api_req_t *r = op->r;
    char host[300], port[16];
    const char *hp = op->endpoint + 7;   /* after http:// */
    const char *colon = strrchr(hp, ':');
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        snprintf(host, sizeof(host), "%.*s", rb ? (int)(rb - hp - 1) : 0, hp + 1);
        colon = rb && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hp) : (int)strlen(hp), hp);
    }
    snprintf(port, sizeof(port), "%d", colon ? atoi(colon + 1) : 10250);

    op->abev = bufferevent_socket_new(r->srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!op->abev) {
        op_fail(op, 500, "InternalError", "out of memory");
        return;
    }
    struct evbuffer *out = bufferevent_get_output(op->abev);
    char *ens = evhttp_uriencode(r->ns, -1, 0), *epod = evhttp_uriencode(r->name, -1, 0),
         *ectr = evhttp_uriencode(op->container, -1, 0);
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
    if (op->portforward)
        evbuffer_add_printf(out, "%s /portforward/%s/%s?%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: berth-apiserver\r\n",
                            op->spdy ? "POST" : "GET", ens ? ens : "", epod ? epod : "", q ? q : "", host, port);
    else
        evbuffer_add_printf(out, "GET /%s/%s/%s/%s?%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: berth-apiserver\r\n",
                            op->attach ? "attach" : "exec", ens ? ens : "", epod ? epod : "",
                            ectr ? ectr : "", q ? q : "", host, port);
    free(ens);
    free(epod);
    free(ectr);
    if (r->srv->agent_token)
        evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", r->srv->agent_token);
    if (op->websocket) {
        const char *offered = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                                                 "Sec-WebSocket-Protocol");
        evbuffer_add_printf(out, "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                 "Sec-WebSocket-Key: %s\r\n", op->key);
        if (offered)
            evbuffer_add_printf(out, "Sec-WebSocket-Protocol: %s\r\n", offered);
    } else if (op->spdy) {
        evbuffer_add_printf(out, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n");
        if (*op->versions)
            evbuffer_add_printf(out, "X-Stream-Protocol-Version: %s\r\n", op->versions);
    } else {
        evbuffer_add_printf(out, "Connection: close\r\n");
    }
    evbuffer_add(out, "\r\n", 2);
    struct timeval tv = { AGENT_TIMEOUT_S, 0 };
    bufferevent_set_timeouts(op->abev, &tv, &tv);
    bufferevent_setcb(op->abev, agent_read, NULL, agent_event, op);
    bufferevent_enable(op->abev, EV_READ | EV_WRITE);
    op->stage = X_AGENT;
    /* A connect that fails at once calls agent_event from inside; it only notes it then. */
    op->connecting = 1;
    int rc = bufferevent_socket_connect_hostname(op->abev, NULL, AF_UNSPEC, host, atoi(port));
    op->connecting = 0;
    if (rc != 0 || op->connect_failed)
        op_fail(op, 503, "ServiceUnavailable", "the node agent of node \"%s\" (%s) does not answer: "
                "cannot connect", op->node, op->endpoint);
}

static void pod_read(const store_result_t *res, void *priv);

/* The relay of request r (owned by r from here: r->op_free frees it); NULL after replying
 * 500. */
static exec_op_t *op_new(api_req_t *r)
{
    exec_op_t *op = calloc(1, sizeof(*op));
    if (!op) {
        api_reply_status(r, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    op->r = r;
    r->op = op;
    r->op_free = op_free;
    return op;
}

/* Take the client's connection now (evhttp would abort on client bytes while it waits for
 * us), then read the pod: pod_read goes on to the agent. */
static void op_begin(exec_op_t *op)
{
    api_req_t *r = op->r;
    if (ws_hijack_start(&op->hj, r->req, client_wait_read, NULL, client_wait_event, op,
                        client_gone_cb, op) != 0)
        return api_reply_status(r, 500, NULL, NULL, "the request has no connection");
    op->stage = X_LOOKUP;
    if (!store_is_up(r->srv->store) ||
        store_get(r->srv->store, r->kind, r->ns, r->name, pod_read, op) != 0)
        op_fail(op, 503, "ServiceUnavailable", "the store is unavailable");
}

/* ---------------------------------------------------------------------------- lookups */

static void node_read(const store_result_t *res, void *priv)
{
    exec_op_t *op = priv;
    if (op->client_gone) {
        op_close(op);
        return;
    }
    json_t *node = res->status == STORE_OK ? jsonload(res->data, res->len, 0, NULL) : NULL;
    int got = node && api_agent_endpoint(node, op->endpoint, sizeof(op->endpoint)) == 0;
    json_decref(node);
    if (res->status != STORE_OK && res->status != STORE_NOT_FOUND) {
        op_fail(op, 503, "ServiceUnavailable", "the store is unavailable");
        return;
    }
    if (!got) {
        op_fail(op, 503, "ServiceUnavailable",
                "no node agent serves node \"%s\": the Node %s no agent endpoint", op->node,
                res->status == STORE_NOT_FOUND ? "does not exist, so it has" : "has");
        return;
    }
    connect_agent(op);
}

static void pod_read(const store_result_t *res, void *priv)
{
    exec_op_t *op = priv;
    api_req_t *r = op->r;
    if (op->client_gone) {
        op_close(op);
        return;
    }
    if (res->status == STORE_NOT_FOUND) {
        ws_hijack_giveback(&op->hj);
        api_reply_not_found(r, r->kind, r->name);
        return;
    }
    json_t *pod = res->status == STORE_OK ? jsonload(res->data, res->len, 0, NULL) : NULL;
    if (!pod) {
        op_fail(op, 503, "ServiceUnavailable", "the store is unavailable");
        return;
    }
    const char *want = api_query(r, "container");
    json_t *cs = json_path(pod, "spec.containers"), *c;
    size_t i;
    if (op->portforward) {
        const char *phase = json_str(json_object_get(pod, "status"), "phase");
        const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
        if (!phase || strcmp(phase, "Running")) {
            op_fail(op, 400, "BadRequest", "unable to forward port because pod is not running. Current status=%s",
                    phase ? phase : "Unknown");
            json_decref(pod);
            return;
        }
        snprintf(op->node, sizeof(op->node), "%s", node ? node : "");
        json_decref(pod);
        const kind_t *nk = kinds_find("", "v1", "nodes");
        if (!*op->node || !nk || store_get(r->srv->store, nk, NULL, op->node, node_read, op) != 0)
            op_fail(op, 503, "ServiceUnavailable", "the store is unavailable");
        return;
    }
    if (want && *want) {
        int found = 0;
        static const char *const lists[] = { "spec.containers", "spec.initContainers",
                                             "spec.ephemeralContainers" };
        for (size_t l = 0; l < 3; l++)
            json_array_foreach(json_path(pod, lists[l]), i, c)
                if (json_str(c, "name") && !strcmp(json_str(c, "name"), want))
                    found = 1;
        if (!found) {
            json_decref(pod);
            op_fail(op, 400, "BadRequest", "container %s is not valid for pod %s", want, r->name);
            return;
        }
        snprintf(op->container, sizeof(op->container), "%s", want);
    } else {
        const char *dflt = json_str(json_path(pod, "metadata.annotations"),
                                    "kubectl.kubernetes.io/default-container");
        if (json_array_size(cs) == 1 || dflt) {
            snprintf(op->container, sizeof(op->container), "%s",
                     dflt ? dflt : json_str(json_array_get(cs, 0), "name") ? json_str(json_array_get(cs, 0), "name") : "");
        } else {
            char names[1024] = "";
            json_array_foreach(cs, i, c)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         i ? " " : "", json_str(c, "name") ? json_str(c, "name") : "");
            json_decref(pod);
            op_fail(op, 400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]",
                    r->name, names);
            return;
        }
    }
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
        op_fail(op, 400, "BadRequest", "cannot %s a container in a completed pod; current phase is %s",
                op->attach ? "attach to" : "exec into", phase);
        json_decref(pod);
        return;
    }
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    if (!node || !*node) {
        json_decref(pod);
        op_fail(op, 400, "BadRequest", "pod %s does not have a host assigned", r->name);
        return;
    }
    snprintf(op->node, sizeof(op->node), "%s", node);
    json_decref(pod);
    const kind_t *nk = kinds_find("", "v1", "nodes");
    if (!nk || store_get(r->srv->store, nk, NULL, op->node, node_read, op) != 0)
        op_fail(op, 503, "ServiceUnavailable", "the store is unavailable");
}

void api_handle_exec(api_req_t *r)
{
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(r->req);
    const char *cmd = api_query(r, "command");
    int attach = !strcmp(r->sub, "attach");
    int in = api_query(r, "stdin") && !strcmp(api_query(r, "stdin"), "true");
    int out = api_query(r, "stdout") && !strcmp(api_query(r, "stdout"), "true");
    int err = api_query(r, "stderr") && !strcmp(api_query(r, "stderr"), "true");
    if (!cmd && !attach)
        return api_reply_status(r, 400, "BadRequest", NULL,
                                "you must specify at least one command for the container");
    if (!in && !out && !err)
        return api_reply_status(r, 400, "BadRequest", NULL,
                                "you must specify at least one of stdin, stdout, stderr");
    exec_op_t *op = op_new(r);
    if (!op)
        return;
    op->attach = attach;
    op->websocket = evhttp_request_get_command(r->req) == EVHTTP_REQ_GET && ws_is_upgrade(hdrs);
    if (op->websocket)
        snprintf(op->key, sizeof(op->key), "%s", evhttp_find_header(hdrs, "Sec-WebSocket-Key"));
    op_begin(op);
}

/* The client's X-Stream-Protocol-Version offers (several headers, or commas), for the agent. */
static void collect_versions(struct evkeyvalq *hdrs, char *out, size_t outlen)
{
    struct evkeyval *kv;
    out[0] = 0;
    TAILQ_FOREACH(kv, hdrs, next) {
        if (strcasecmp(kv->key, "X-Stream-Protocol-Version") || strpbrk(kv->value, "\r\n"))
            continue;
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", kv->value);
    }
}

void api_handle_portforward(api_req_t *r)
{
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(r->req);
    int websocket = evhttp_request_get_command(r->req) == EVHTTP_REQ_GET && ws_is_upgrade(hdrs);
    int spdy = !websocket && ws_header_has_token(evhttp_find_header(hdrs, "Upgrade"), "SPDY/3.1") &&
               ws_header_has_token(evhttp_find_header(hdrs, "Connection"), "upgrade");
    if (!websocket && !spdy)
        return api_reply_status(r, 400, "BadRequest", NULL, "Upgrade request required");
    exec_op_t *op = op_new(r);
    if (!op)
        return;
    op->portforward = 1;
    op->websocket = websocket;
    op->spdy = spdy;
    if (websocket)
        snprintf(op->key, sizeof(op->key), "%s", evhttp_find_header(hdrs, "Sec-WebSocket-Key"));
    else
        collect_versions(hdrs, op->versions, sizeof(op->versions));
    op_begin(op);
}
