/* agent_portforward.c: the agent's port-forward endpoint, what `kubectl port-forward`
 * reaches through the API server (api_exec.c relays the upgraded connection unchanged).
 *
 *   GET|POST /portforward/<namespace>/<pod>[?ports=N[,M]]
 *
 * Three ways in, one behaviour (kubelet's, pkg/kubelet/cri/streaming/portforward):
 *   - websocket, subprotocol "SPDY/3.1+portforward.k8s.io" (kubectl 1.31's default): binary
 *     messages tunnel a SPDY/3.1 byte stream (message boundaries mean nothing);
 *   - "Upgrade: SPDY/3.1" with X-Stream-Protocol-Version portforward.k8s.io (client-go's
 *     SPDY dialer, kubectl with KUBECTL_PORT_FORWARD_WEBSOCKETS=false): raw SPDY after 101;
 *   - websocket, subprotocol v4.channel.k8s.io (or none; @kubernetes/client-node): the ports
 *     come from the query, port i uses channel 2i for data and 2i+1 for errors, and the first
 *     message on each of them carries the port as 2 bytes, little endian.
 * With SPDY the client opens, per forwarded connection, an error stream and a data stream
 * with the same requestid header (spdy.h). Once both are there the agent connects to the
 * port, and bytes flow between the data stream and the connection; the pod closing its side
 * ends the data stream (FIN) and the error stream; a failure is written to the error stream
 * as text (kubectl prints it) before both end. A pair that stays incomplete for
 * PF_PAIR_TIMEOUT_S gets "timed out waiting for streams".
 *
 * Where it connects: 127.0.0.1:<port> inside the pod's network namespace, as kubelet does,
 * so a server bound to the pod's localhost is reachable: the socket is created after setns()
 * into the infra container's namespace (/proc/<pid>/ns/net) and the thread returns to its
 * own at once; a socket keeps the namespace it was made in. Without the privilege for setns
 * (an agent not running as root) it connects to the pod IP instead, and says so at debug
 * level.
 *
 * Flow control: a direction stops reading while the side it writes to has more than PF_HIGH
 * bytes queued. Liveness: websocket pings every PF_PING_S; a client silent for
 * PF_READ_TIMEOUT_S (kubectl pings over SPDY every 10 s, websocket clients answer pings) is
 * dropped; raw SPDY gets PF_RAW_IDLE_S, kubelet's streaming idle timeout.
 *
 * Memory: a session owns its connections, SPDY session, decoder and timers; everything is
 * freed by sess_free, from any state. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent_internal.h"
#include "log.h"
#include "spdy.h"
#include "util.h"
#include "websocket.h"

#define PF_HIGH              (1024 * 1024)
#define PF_MAX_MESSAGE       (1024 * 1024)   /* one websocket message from the client */
#define PF_MAX_EARLY         (1024 * 1024)   /* client data for a connection still connecting */
#define PF_MAX_PORTS         16              /* channel mode: ports in one request */
#define PF_MAX_CONNS         256             /* SPDY: forwarded connections at once */
#define PF_PING_S            30
#define PF_READ_TIMEOUT_S    120
#define PF_RAW_IDLE_S        (4 * 3600)
#define PF_PAIR_TIMEOUT_S    30
#define PF_LINGER_S          5

#define PF_PROTO_SPDY_WS     "SPDY/3.1+portforward.k8s.io"
#define PF_PROTO_SPDY        "portforward.k8s.io"

typedef enum { M_WS_SPDY, M_RAW_SPDY, M_WS_CHANNEL } pf_mode_t;
typedef enum { S_STREAMING, S_FINISHING } pf_state_t;

typedef struct pf_conn_s pf_conn_t;

struct pf_session_s {
    agent_t *a;
    pf_session_t *prev, *next;
    pf_mode_t mode;
    pf_state_t state;
    ws_hijack_t hj;                /* the client connection, taken from evhttp */
    ws_decoder_t dec;
    spdy_session_t *spdy;          /* SPDY modes */
    char name[520], uid[128], pod_ip[64];
    int pid;                       /* the infra container's process: its network namespace */
    pf_conn_t *conns;
    size_t nconns;
    int nports, ports[PF_MAX_PORTS];   /* channel mode */
    int client_paused;             /* not reading the client: a pod connection is full */
    int out_paused;                /* not reading the client: our answers to it pile up */
    struct event *timer;           /* ping, linger */
};

struct pf_conn_s {
    pf_session_t *s;
    pf_conn_t *next;
    char request_id[64];
    uint32_t data_id, error_id;    /* SPDY streams; 0 until seen */
    int index;                     /* channel mode: the port's index */
    int port;
    struct bufferevent *bev;       /* to the pod; NULL until both streams are there */
    struct evbuffer *early;        /* client data before the connection is up */
    int connected, client_fin, shut;   /* shut: 1 write side shut, 2 channel mode: done */
    int pod_eof;                       /* SPDY: the pod ended its side; FIN sent */
    int connecting, connect_failed;    /* inside bufferevent_socket_connect */
    struct event *pair_timer;
};

static void flush_spdy(pf_session_t *s);
static void client_read(struct bufferevent *bev, void *arg);

/* ---------------------------------------------------------------------------- helpers */

static struct evbuffer *client_out(pf_session_t *s)
{
    return bufferevent_get_output(s->hj.bev);
}

/* A socket in the network namespace of process pid, or -1 (errno set) when the namespace
 * cannot be entered. The calling thread is back in its own namespace on return. */
static int socket_in_netns(int pid)
{
    char path[64];
    int self, target, fd, saved;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0)
        return -1;
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
        saved = errno;
        close(target);
        errno = saved;
        return -1;
    }
    if (setns(target, CLONE_NEWNET) != 0) {
        saved = errno;
        close(target);
        close(self);
        errno = saved;
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    saved = errno;
    if (setns(self, CLONE_NEWNET) != 0) {
        /* Every later socket of this thread would be the pod's: nothing safe is left. */
        log_error("agent: port-forward: cannot return to the agent's network namespace: %s",
                  strerror(errno));
        abort();
    }
    close(target);
    close(self);
    errno = saved;
    return fd;
}

/* ---------------------------------------------------------------------------- lifetime */

static void conn_free(pf_conn_t *c)
{
    pf_session_t *s = c->s;
    for (pf_conn_t **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            s->nconns--;
            break;
        }
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->early)
        evbuffer_free(c->early);
    if (c->pair_timer)
        event_free(c->pair_timer);
    free(c);
}

static void sess_free(pf_session_t *s)
{
    agent_t *a = s->a;
    if (s->prev)
        s->prev->next = s->next;
    else if (a->portforwards == s)
        a->portforwards = s->next;
    if (s->next)
        s->next->prev = s->prev;
    while (s->conns)
        conn_free(s->conns);
    if (s->spdy)
        spdy_session_free(s->spdy);
    if (s->timer)
        event_free(s->timer);
    ws_hijack_close(&s->hj);
    ws_decoder_release(&s->dec);
    free(s);
}

void agent_portforward_release(agent_t *a)
{
    while (a->portforwards)
        sess_free(a->portforwards);
}

static void sess_gone(void *priv)
{
    sess_free(priv);
}

/* Stop: what is queued for the client goes out, then the connection closes (client_write
 * or the linger timer). */
static void sess_finish(pf_session_t *s, int ws_code, const char *reason)
{
    if (s->state == S_FINISHING)
        return;
    s->state = S_FINISHING;
    while (s->conns)
        conn_free(s->conns);
    if (s->mode != M_RAW_SPDY)
        ws_close_append(client_out(s), ws_code, reason, 0);
    struct timeval tv = { PF_LINGER_S, 0 };
    evtimer_add(s->timer, &tv);
    bufferevent_set_timeouts(s->hj.bev, NULL, NULL);
    bufferevent_enable(s->hj.bev, EV_READ | EV_WRITE);
    if (evbuffer_get_length(client_out(s)) == 0)
        shutdown(bufferevent_getfd(s->hj.bev), SHUT_WR);
}

/* ---------------------------------------------------------------------------- to the client */

/* SPDY bytes queued by the session go to the client: as they are, or tunnelled in binary
 * websocket messages. */
static void flush_spdy(pf_session_t *s)
{
    struct evbuffer *o = spdy_output(s->spdy), *out = client_out(s);
    size_t n;
    if (s->state == S_FINISHING) {
        evbuffer_drain(o, evbuffer_get_length(o));
        return;
    }
    if (s->mode == M_RAW_SPDY) {
        evbuffer_add_buffer(out, o);
        return;
    }
    while ((n = evbuffer_get_length(o)) > 0) {
        uint8_t hdr[WS_MAX_HEADER];
        if (n > 256 * 1024)
            n = 256 * 1024;
        evbuffer_add(out, hdr, ws_frame_header(hdr, WS_OP_BINARY, 1, n, NULL));
        evbuffer_remove_buffer(o, out, n);
    }
}

/* Pause the pod connections while the client is behind; client_write resumes them. */
static void check_client_full(pf_session_t *s)
{
    if (evbuffer_get_length(client_out(s)) <= PF_HIGH)
        return;
    for (pf_conn_t *c = s->conns; c; c = c->next)
        if (c->bev && c->connected)
            bufferevent_disable(c->bev, EV_READ);
}

/* Data from the pod for connection c (or its error text): to the client. */
static void send_to_client(pf_conn_t *c, const void *data, size_t len, int error)
{
    pf_session_t *s = c->s;
    if (s->mode == M_WS_CHANNEL) {
        ws_channel_append(client_out(s), 2 * c->index + (error ? 1 : 0), data, len, 0);
        return;
    }
    uint32_t id = error ? c->error_id : c->data_id;
    if (id)
        spdy_data(s->spdy, id, data, len, 0);
    flush_spdy(s);
}

/* Connection c is over: SPDY ends both streams (the error text, if any, first) and forgets
 * it; channel mode writes the error and, once every port is done, closes the websocket
 * (v4 has no way to end one channel). */
static void conn_end(pf_conn_t *c, const char *error)
{
    pf_session_t *s = c->s;
    if (s->mode == M_WS_CHANNEL) {
        if (error)
            send_to_client(c, error, strlen(error), 1);
        if (c->bev) {
            bufferevent_free(c->bev);
            c->bev = NULL;
        }
        c->shut = 2;
        for (pf_conn_t *o = s->conns; o; o = o->next)
            if (o->shut != 2)
                return;
        sess_finish(s, WS_CLOSE_NORMAL, "");
        return;
    }
    if (c->error_id) {
        if (error)
            spdy_data(s->spdy, c->error_id, error, strlen(error), 0);
        spdy_data(s->spdy, c->error_id, NULL, 0, 1);
    }
    if (c->data_id && !c->pod_eof)
        spdy_data(s->spdy, c->data_id, NULL, 0, 1);
    flush_spdy(s);
    conn_free(c);
}

static void conn_fail(pf_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void conn_fail(pf_conn_t *c, const char *fmt, ...)
{
    pf_session_t *s = c->s;
    char why[512], msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof(msg), "error forwarding port %d to pod %s, uid %s: %s", c->port, s->name,
             s->uid, why);
    log_debug("agent: %s", msg);
    conn_end(c, msg);
}

/* ---------------------------------------------------------------------------- the pod side */

static void pod_read(struct bufferevent *bev, void *arg)
{
    pf_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char buf[SPDY_DATA_CHUNK];
    int n;
    while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0)
        send_to_client(c, buf, (size_t)n, 0);
    check_client_full(c->s);
}

/* The client ended its side and all of it was written: pass the end of stream on. With the
 * pod's side ended too the connection is over (c is freed). */
static void pod_shut_write(pf_conn_t *c)
{
    if (c->client_fin && !c->shut && c->connected &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        c->shut = 1;
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
        if (c->pod_eof)
            conn_end(c, NULL);
    }
}

/* The pod took what was queued: resume the client, pass on its end of stream. */
static void pod_write(struct bufferevent *bev, void *arg)
{
    pf_conn_t *c = arg;
    pf_session_t *s = c->s;
    pod_shut_write(c);
    if (s->client_paused && s->state == S_STREAMING) {
        /* Go on with what is already buffered: no read callback comes for it. Last, as it
         * may end c. */
        s->client_paused = 0;
        bufferevent_enable(s->hj.bev, EV_READ);
        client_read(s->hj.bev, s);
    }
}

static void pod_event(struct bufferevent *bev, short what, void *arg)
{
    pf_conn_t *c = arg;
    if (c->connecting && !(what & BEV_EVENT_CONNECTED)) {
        /* libevent reports a connect that fails at once from inside the call. */
        c->connect_failed = EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : ECONNREFUSED;
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = 1;
        if (c->early) {
            bufferevent_write_buffer(bev, c->early);
            evbuffer_free(c->early);
            c->early = NULL;
        }
        pod_shut_write(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        pod_read(bev, c);   /* whatever is left */
        if (c->s->mode == M_WS_CHANNEL || c->shut) {
            conn_end(c, NULL);
            return;
        }
        /* A half close (a server that answers, then ends its side, or `nc -l` whose stdin
         * is empty): the client gets its end of stream, and what it still sends goes on
         * until it ends its side too (pod_shut_write). */
        c->pod_eof = 1;
        if (c->data_id)
            spdy_data(c->s->spdy, c->data_id, NULL, 0, 1);
        flush_spdy(c->s);
        return;
    }
    int err = EVUTIL_SOCKET_ERROR();
    if (c->pod_eof) {
        conn_end(c, NULL);   /* the pod closed for good: nothing to report */
        return;
    }
    if (!c->connected)
        conn_fail(c, "failed to connect to localhost:%d inside the pod's network namespace: %s",
                  c->port, evutil_socket_error_to_string(err));
    else
        conn_fail(c, "the connection to port %d failed: %s", c->port,
                  evutil_socket_error_to_string(err));
}

/* Start the connection to c->port. On failure c is ended (and freed in SPDY mode). */
static void conn_connect(pf_conn_t *c)
{
    pf_session_t *s = c->s;
    struct sockaddr_in sin;
    int fd = -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)c->port);
    if (s->pid > 0)
        fd = socket_in_netns(s->pid);
    if (fd >= 0) {
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        if (s->pid > 0)
            log_debug("agent: port-forward to %s: cannot enter its network namespace (%s); "
                      "connecting to the pod IP", s->name, strerror(errno));
        if (!*s->pod_ip || inet_pton(AF_INET, s->pod_ip, &sin.sin_addr) != 1) {
            conn_fail(c, "the pod has no network namespace the agent can enter and no IPv4 pod IP");
            return;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            conn_fail(c, "socket: %s", strerror(errno));
            return;
        }
    }
    c->bev = bufferevent_socket_new(s->a->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        close(fd);
        conn_fail(c, "out of memory");
        return;
    }
    bufferevent_setcb(c->bev, pod_read, pod_write, pod_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->connecting = 1;
    int rc = bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin));
    int err = rc != 0 ? EVUTIL_SOCKET_ERROR() : 0;
    c->connecting = 0;
    if (rc != 0 || c->connect_failed)
        conn_fail(c, "failed to connect to localhost:%d inside the pod's network namespace: %s",
                  c->port, evutil_socket_error_to_string(c->connect_failed ? c->connect_failed : err));
}

/* Client bytes for connection c. */
static void to_pod(pf_conn_t *c, const uint8_t *data, size_t len, int fin)
{
    pf_session_t *s = c->s;
    if (len) {
        if (c->connected) {
            bufferevent_write(c->bev, data, len);
            if (evbuffer_get_length(bufferevent_get_output(c->bev)) > PF_HIGH && !s->client_paused) {
                s->client_paused = 1;   /* pod_write resumes */
                bufferevent_disable(s->hj.bev, EV_READ);
            }
        } else {
            if (!c->early)
                c->early = evbuffer_new();
            if (!c->early || evbuffer_get_length(c->early) + len > PF_MAX_EARLY) {
                conn_fail(c, "too much data before the connection to port %d was up", c->port);
                return;
            }
            evbuffer_add(c->early, data, len);
        }
    }
    if (fin) {
        c->client_fin = 1;
        pod_shut_write(c);
    }
}

/* ---------------------------------------------------------------------------- SPDY */

static pf_conn_t *conn_by_stream(pf_session_t *s, uint32_t id)
{
    for (pf_conn_t *c = s->conns; c; c = c->next)
        if (c->data_id == id || c->error_id == id)
            return c;
    return NULL;
}

static const char *header(const spdy_header_t *h, size_t nh, const char *name)
{
    for (size_t i = 0; i < nh; i++)
        if (!strcmp(h[i].name, name))
            return h[i].value;
    return NULL;
}

static void pair_timeout(evutil_socket_t fd, short what, void *arg)
{
    pf_conn_t *c = arg;
    pf_session_t *s = c->s;
    conn_fail(c, "timed out waiting for streams");
    flush_spdy(s);
}

/* A stream from the client: validate its headers (a bad one is reset, as kubelet does),
 * answer it, and pair it with the other stream of its request. */
static void on_stream(void *priv, uint32_t id, const spdy_header_t *h, size_t nh, int fin)
{
    pf_session_t *s = priv;
    const char *type = header(h, nh, "streamtype"), *ports = header(h, nh, "port"),
               *rid = header(h, nh, "requestid");
    char *end = NULL, ridbuf[32];
    long port = ports ? strtol(ports, &end, 10) : 0;
    int is_error = type && !strcmp(type, "error"), is_data = type && !strcmp(type, "data");
    if (!ports || end == ports || *end || port < 1 || port > 65535 || (!is_error && !is_data) ||
        (rid && strlen(rid) >= sizeof(((pf_conn_t *)0)->request_id))) {
        log_debug("agent: port-forward to %s: stream %u refused (streamtype %s, port %s)", s->name,
                  id, type ? type : "missing", ports ? ports : "missing");
        spdy_reset(s->spdy, id, SPDY_PROTOCOL_ERROR);
        return;
    }
    if (!rid || !*rid) {
        /* Clients older than the requestid header: kubelet's guess from the stream ids. */
        snprintf(ridbuf, sizeof(ridbuf), "%u", is_error ? id : id - 2);
        rid = ridbuf;
    }
    pf_conn_t *c;
    for (c = s->conns; c; c = c->next)
        if (!strcmp(c->request_id, rid))
            break;
    if (c && ((is_error && c->error_id) || (is_data && c->data_id))) {
        spdy_reset(s->spdy, id, SPDY_PROTOCOL_ERROR);
        return;
    }
    if (!c) {
        if (s->nconns >= PF_MAX_CONNS || !(c = calloc(1, sizeof(*c))) ||
            !(c->pair_timer = evtimer_new(s->a->base, pair_timeout, c))) {
            free(c);
            spdy_reset(s->spdy, id, SPDY_REFUSED_STREAM);
            return;
        }
        c->s = s;
        c->port = (int)port;
        snprintf(c->request_id, sizeof(c->request_id), "%s", rid);
        c->next = s->conns;
        s->conns = c;
        s->nconns++;
        struct timeval tv = { PF_PAIR_TIMEOUT_S, 0 };
        evtimer_add(c->pair_timer, &tv);
    }
    spdy_reply(s->spdy, id, NULL, 0, 0);
    if (is_error) {
        c->error_id = id;
    } else {
        c->data_id = id;
        c->port = (int)port;   /* kubelet forwards to the data stream's port */
    }
    if (fin && is_data)
        c->client_fin = 1;
    if (c->error_id && c->data_id) {
        evtimer_del(c->pair_timer);
        conn_connect(c);
    }
}

static void on_data(void *priv, uint32_t id, const uint8_t *data, size_t len, int fin)
{
    pf_session_t *s = priv;
    pf_conn_t *c = conn_by_stream(s, id);
    if (!c || id != c->data_id)
        return;   /* the error stream carries nothing from the client; ended connections */
    to_pod(c, data, len, fin);
}

static void on_reset(void *priv, uint32_t id, uint32_t status)
{
    pf_session_t *s = priv;
    pf_conn_t *c = conn_by_stream(s, id);
    if (!c)
        return;
    if (c->data_id == id)
        c->data_id = 0;
    else
        c->error_id = 0;
    conn_end(c, NULL);
}

static void on_goaway(void *priv, uint32_t last_good_id, uint32_t status)
{
    pf_session_t *s = priv;
    log_debug("agent: port-forward to %s: the client sent GOAWAY", s->name);
}

/* ---------------------------------------------------------------------------- the client */

static void client_bytes_spdy(pf_session_t *s, const void *data, size_t len)
{
    char err[256];
    if (spdy_feed(s->spdy, data, len, err, sizeof(err)) != 0) {
        log_debug("agent: port-forward to %s: SPDY protocol error: %s", s->name, err);
        flush_spdy(s);
        sess_finish(s, WS_CLOSE_PROTOCOL, "SPDY protocol error");
        return;
    }
    flush_spdy(s);
    check_client_full(s);
}

static void client_message(pf_session_t *s, const ws_message_t *m)
{
    switch (m->opcode) {
    case WS_OP_PING:
        ws_frame_append(client_out(s), WS_OP_PONG, m->data, m->len, 0);
        return;
    case WS_OP_PONG:
        return;
    case WS_OP_CLOSE:
        sess_finish(s, m->close_code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : m->close_code, "");
        return;
    case WS_OP_TEXT:
        sess_finish(s, WS_CLOSE_PROTOCOL, "text messages are not part of port-forward");
        return;
    default:
        break;
    }
    if (s->mode == M_WS_SPDY) {
        client_bytes_spdy(s, m->data, m->len);
        return;
    }
    /* Channel mode: [channel, data...]; even channels carry data for port channel/2. */
    if (m->len < 1 || m->data[0] % 2 || m->data[0] / 2 >= s->nports)
        return;
    for (pf_conn_t *c = s->conns; c; c = c->next)
        if (c->index == m->data[0] / 2 && c->shut != 2)
            to_pod(c, m->data + 1, m->len - 1, 0);
}

/* Pings and resets are answered as the client's frames are read: a client that sends and
 * never reads would grow our output without bound, so its frames wait while that output is
 * over PF_HIGH (client_write reads on). */
static int out_full(pf_session_t *s)
{
    if (evbuffer_get_length(client_out(s)) <= PF_HIGH)
        return 0;
    if (!s->out_paused) {
        s->out_paused = 1;
        bufferevent_disable(s->hj.bev, EV_READ);
    }
    return 1;
}

static void client_read(struct bufferevent *bev, void *arg)
{
    pf_session_t *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (s->state == S_FINISHING) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (s->mode == M_RAW_SPDY) {
        size_t n;
        while (s->state == S_STREAMING && !s->client_paused && !out_full(s) &&
               (n = evbuffer_get_length(in)) > 0) {
            size_t take = n < 65536 ? n : 65536;
            const void *p = evbuffer_pullup(in, (ev_ssize_t)take);
            client_bytes_spdy(s, p, take);
            if (s->state == S_STREAMING)
                evbuffer_drain(in, take);
        }
        return;
    }
    while (s->state == S_STREAMING && !s->client_paused && !out_full(s)) {
        ws_message_t m;
        int rc = ws_decode_evbuffer(&s->dec, in, &m);
        if (rc == WS_AGAIN)
            return;
        if (rc == WS_ERROR) {
            log_debug("agent: port-forward to %s: bad frame: %s", s->name, s->dec.errstr);
            sess_finish(s, s->dec.close_code, s->dec.errstr);
            return;
        }
        client_message(s, &m);
    }
}

/* The client took everything queued for it. */
static void client_write(struct bufferevent *bev, void *arg)
{
    pf_session_t *s = arg;
    if (s->state == S_FINISHING) {
        shutdown(bufferevent_getfd(bev), SHUT_WR);
        return;
    }
    for (pf_conn_t *c = s->conns; c; c = c->next)
        if (c->bev && c->connected && !c->pod_eof)
            bufferevent_enable(c->bev, EV_READ);
    if (s->out_paused) {
        s->out_paused = 0;
        if (!s->client_paused) {
            bufferevent_enable(bev, EV_READ);
            client_read(bev, s);
        }
    }
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    pf_session_t *s = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        sess_free(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    pf_session_t *s = arg;
    if (s->state == S_FINISHING) {
        sess_free(s);
        return;
    }
    ws_frame_append(client_out(s), WS_OP_PING, "", 0, 0);
    struct timeval tv = { PF_PING_S, 0 };
    evtimer_add(s->timer, &tv);
}

/* ---------------------------------------------------------------------------- start */

/* The ports of a channel-mode request: every ports= and port= value, comma-separated. */
static int parse_ports(const char *query, int *ports, char *err, size_t errlen)
{
    struct evkeyvalq q;
    struct evkeyval *kv;
    int n = 0;
    TAILQ_INIT(&q);
    if (query)
        evhttp_parse_query_str(query, &q);
    TAILQ_FOREACH(kv, &q, next) {
        if (strcmp(kv->key, "ports") && strcmp(kv->key, "port"))
            continue;
        char buf[512], *save = NULL;
        snprintf(buf, sizeof(buf), "%s", kv->value);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *end;
            long p = strtol(t, &end, 10);
            if (end == t || *end || p < 1 || p > 65535) {
                snprintf(err, errlen, "unable to parse \"%s\" as a port", t);
                evhttp_clear_headers(&q);
                return -1;
            }
            if (n == PF_MAX_PORTS) {
                snprintf(err, errlen, "at most %d ports in one request", PF_MAX_PORTS);
                evhttp_clear_headers(&q);
                return -1;
            }
            ports[n++] = (int)p;
        }
    }
    evhttp_clear_headers(&q);
    if (!n)
        snprintf(err, errlen, "query parameter \"ports\" is required");
    return n ? n : -1;
}

/* Whether the SPDY upgrade offers our protocol (no X-Stream-Protocol-Version at all: an old
 * client, accepted as kubelet does). */
static int spdy_offers(struct evkeyvalq *hdrs)
{
    int any = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, hdrs, next) {
        if (strcasecmp(kv->key, "X-Stream-Protocol-Version"))
            continue;
        any = 1;
        if (ws_header_has_token(kv->value, PF_PROTO_SPDY))
            return 1;
    }
    return !any;
}

void agent_portforward_handle(agent_t *a, struct evhttp_request *req, const char *path,
                              const char *query)
{
    static const char *const protos[] = { PF_PROTO_SPDY_WS, WS_PROTO_V4, NULL };
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
    char ns[256], pod[256], err[256];
    pf_session_t *s;
    int ports[PF_MAX_PORTS], nports = 0;
    if (sscanf(path, "/portforward/%255[^/]/%255[^/?]", ns, pod) != 2) {
        agent_reply_text(req, 404, "Not Found", "not found");
        return;
    }
    json_t *p = informer_get(a->pods, ns, pod);
    if (!p) {
        agent_reply_text(req, 404, "Not Found", "pod \"%s\" (namespace %s) is not on node %s", pod, ns, a->node);
        return;
    }
    const char *infra = agent_find_container(a, ns, pod, AGENT_INFRA_NAME, 0);
    json_t *ictr = infra ? json_object_get(a->containers, infra) : NULL;
    json_int_t pid = json_integer_value(json_path(ictr, "State.Pid"));
    const char *ip = json_str(json_object_get(p, "status"), "podIP");
    if (!json_is_true(json_path(ictr, "State.Running")) || pid <= 0) {
        agent_reply_text(req, 400, "Bad Request", "pod \"%s\" (namespace %s) has no running network namespace "
                   "(its infra container is not running)", pod, ns);
        return;
    }
    pf_mode_t mode;
    const char *proto = NULL;
    if (ws_is_upgrade(hdrs)) {
        const char *offered = evhttp_find_header(hdrs, "Sec-WebSocket-Protocol");
        proto = offered ? ws_select_protocol(offered, protos) : NULL;
        if (offered && !proto) {
            agent_reply_text(req, 400, "Bad Request", "no supported websocket subprotocol requested (want "
                       PF_PROTO_SPDY_WS " or " WS_PROTO_V4 ")");
            return;
        }
        mode = proto && !strcmp(proto, PF_PROTO_SPDY_WS) ? M_WS_SPDY : M_WS_CHANNEL;
        if (mode == M_WS_CHANNEL && (nports = parse_ports(query, ports, err, sizeof(err))) < 0) {
            agent_reply_text(req, 400, "Bad Request", "%s", err);
            return;
        }
    } else if (ws_header_has_token(evhttp_find_header(hdrs, "Upgrade"), "SPDY/3.1") &&
               ws_header_has_token(evhttp_find_header(hdrs, "Connection"), "upgrade")) {
        if (!spdy_offers(hdrs)) {
            agent_reply_text(req, 403, "Forbidden", "unable to upgrade: unable to negotiate protocol: "
                       "the client does not offer " PF_PROTO_SPDY);
            return;
        }
        mode = M_RAW_SPDY;
    } else {
        agent_reply_text(req, 426, "Upgrade Required",
                   "port-forward needs an upgrade: a websocket (subprotocol " PF_PROTO_SPDY_WS " or "
                   WS_PROTO_V4 ") or SPDY/3.1");
        return;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->timer = evtimer_new(a->base, on_timer, s))) {
        free(s);
        agent_reply_text(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    s->a = a;
    s->mode = mode;
    s->pid = (int)pid;
    snprintf(s->name, sizeof(s->name), "%s/%s", ns, pod);
    snprintf(s->uid, sizeof(s->uid), "%s", json_str(json_object_get(p, "metadata"), "uid") ?
             json_str(json_object_get(p, "metadata"), "uid") : "");
    snprintf(s->pod_ip, sizeof(s->pod_ip), "%s", ip ? ip : "");
    ws_decoder_init(&s->dec, 1, PF_MAX_MESSAGE);
    if (mode != M_WS_CHANNEL) {
        static const spdy_callbacks_t cb = { on_stream, on_data, on_reset, on_goaway };
        if (!(s->spdy = spdy_session_new(&cb, s))) {
            event_free(s->timer);
            ws_decoder_release(&s->dec);
            free(s);
            agent_reply_text(req, 500, "Internal Server Error", "out of memory");
            return;
        }
    }
    char key[64];
    snprintf(key, sizeof(key), "%s", mode == M_RAW_SPDY ? "" : evhttp_find_header(hdrs, "Sec-WebSocket-Key"));
    s->next = a->portforwards;
    if (a->portforwards)
        a->portforwards->prev = s;
    a->portforwards = s;
    if (ws_hijack_start(&s->hj, req, client_read, client_write, client_event, s, sess_gone, s) != 0) {
        sess_free(s);
        agent_reply_text(req, 500, "Internal Server Error", "no connection");
        return;
    }
    /* From here the connection is ours: the 101, then the protocol. */
    struct evbuffer *out = client_out(s);
    if (mode == M_RAW_SPDY)
        evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                 "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: " PF_PROTO_SPDY "\r\n\r\n");
    else
        ws_write_101(out, key, proto);
    s->state = S_STREAMING;
    struct timeval rt = { mode == M_RAW_SPDY ? PF_RAW_IDLE_S : PF_READ_TIMEOUT_S, 0 };
    bufferevent_set_timeouts(s->hj.bev, &rt, NULL);
    if (mode != M_RAW_SPDY) {
        struct timeval tv = { PF_PING_S, 0 };
        evtimer_add(s->timer, &tv);
    }
    log_debug("agent: port-forward to %s (%s)", s->name,
              mode == M_WS_SPDY ? "SPDY over websocket" : mode == M_RAW_SPDY ? "SPDY" : "websocket channels");
    if (mode == M_WS_CHANNEL) {
        s->nports = nports;
        for (int i = 0; i < nports; i++) {
            pf_conn_t *c = calloc(1, sizeof(*c));
            if (!c) {
                sess_finish(s, WS_CLOSE_INTERNAL, "out of memory");
                return;
            }
            c->s = s;
            c->index = i;
            c->port = ports[i];
            c->next = s->conns;
            s->conns = c;
            s->nconns++;
            uint8_t le[2] = { (uint8_t)(ports[i] & 0xff), (uint8_t)(ports[i] >> 8) };
            ws_channel_append(out, 2 * i, le, 2, 0);
            ws_channel_append(out, 2 * i + 1, le, 2, 0);
        }
        /* Connect after every port's prefix is queued: a failure writes to its channel, and
         * the last one to fail ends the session (and frees the connections). */
        for (int i = 0; i < nports && s->state == S_STREAMING; i++) {
            pf_conn_t *c = s->conns;
            while (c && c->index != i)
                c = c->next;
            if (c)
                conn_connect(c);
        }
    }
    /* Bytes that came with or right after the request. */
    if (s->state == S_STREAMING && evbuffer_get_length(bufferevent_get_input(s->hj.bev)))
        client_read(s->hj.bev, s);
}
