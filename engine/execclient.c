/* execclient.c: see execclient.h.
 *
 * One call is one connection: GET /api/v1/namespaces/<ns>/pods/<pod>/exec?command=...
 * with "Upgrade: websocket" offering v5.channel.k8s.io and v4.channel.k8s.io, then the
 * channel protocol (websocket.h) on a plain blocking socket driven by poll(2): stdin goes out
 * in masked binary frames of at most EXEC_CHUNK bytes on channel 0 followed (v5) by the CLOSE
 * signal [255, 0]; channel 1 and 2 frames go to the callbacks; the channel 3 Status gives
 * the exit code; pings are answered; the server's close frame is answered and ends the call.
 * Reading and writing are interleaved, so a command that answers while it still reads its
 * input cannot deadlock against us. The whole call is bounded by timeout_seconds.
 *
 * What it cannot do yet: https servers and bearer tokens (kubeclient.h does not hand its TLS
 * material or token out); it says so instead of connecting. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "execclient.h"
#include "websocket.h"
#include "jsonload.h"

#define EXEC_CHUNK        (32 * 1024)        /* stdin bytes per frame */
#define EXEC_MAX_HEAD     (64 * 1024)        /* the response head, or an error body */
#define EXEC_MAX_MESSAGE  (16 * 1024 * 1024) /* one message from the server */

typedef struct session_s {
    int fd;
    struct evbuffer *in, *out;
    ws_decoder_t dec;
    const execclient_opts_t *o;
    int v5;
    size_t stdin_sent;
    int stdin_done;            /* all stdin and its CLOSE queued */
    int close_sent, finished;
    int have_status, exit_code;
    char status_msg[1024];     /* a Failure that is not an exit code */
    long long deadline_ms;
} session_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(long long deadline)
{
    long long l = deadline - now_ms();
    return l < 0 ? 0 : l > 1000000 ? 1000000 : (int)l;
}

/* Connect to host:port within the deadline. The socket stays non-blocking. */
static int dial(const char *host, const char *port, long long deadline, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL, *a;
    int fd = -1, rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    snprintf(err, errlen, "cannot connect to %s:%s", host, port);
    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = { fd, POLLOUT, 0 };
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (poll(&p, 1, left_ms(deadline)) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                break;
            snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port,
                     soerr ? strerror(soerr) : "timed out");
        } else {
            snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Send what is queued, as far as the socket takes it now. -1 on a broken connection. */
static int flush_some(session_t *s)
{
    while (evbuffer_get_length(s->out)) {
        size_t n = evbuffer_get_length(s->out);
        if (n > 65536)
            n = 65536;
        const void *p = evbuffer_pullup(s->out, (ev_ssize_t)n);
        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
        if (w < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        evbuffer_drain(s->out, (size_t)w);
    }
    return 0;
}

/* Read what the socket has. 1 when something was read, 0 at end of stream, -1 on error. */
static int read_some(session_t *s)
{
    int n = evbuffer_read(s->in, s->fd, 65536);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 1 : -1;
    return n > 0;
}

/* Queue stdin frames while little is waiting to go out, then the CLOSE signal. */
static void queue_stdin(session_t *s)
{
    const execclient_opts_t *o = s->o;
    while (!s->stdin_done && evbuffer_get_length(s->out) < 4 * EXEC_CHUNK) {
        if (o->stdin_data && s->stdin_sent < o->stdin_len) {
            size_t n = o->stdin_len - s->stdin_sent;
            if (n > EXEC_CHUNK)
                n = EXEC_CHUNK;
            ws_channel_append(s->out, WS_CH_STDIN, o->stdin_data + s->stdin_sent, n, 1);
            s->stdin_sent += n;
            continue;
        }
        if (o->stdin_data && s->v5) {
            uint8_t ch = WS_CH_STDIN;
            ws_channel_append(s->out, WS_CH_CLOSE, &ch, 1, 1);
        }
        s->stdin_done = 1;
    }
}

static void take_status(session_t *s, const uint8_t *data, size_t len)
{
    json_t *st = jsonload((const char *)data, len, 0, NULL);
    const char *status = json_string_value(json_object_get(st, "status"));
    s->have_status = 1;
    if (status && !strcmp(status, "Success")) {
        s->exit_code = 0;
    } else {
        const char *reason = json_string_value(json_object_get(st, "reason"));
        size_t i;
        json_t *c;
        int found = 0;
        json_array_foreach(json_object_get(json_object_get(st, "details"), "causes"), i, c) {
            const char *cr = json_string_value(json_object_get(c, "reason"));
            const char *cm = json_string_value(json_object_get(c, "message"));
            if (cr && !strcmp(cr, "ExitCode") && cm) {
                s->exit_code = atoi(cm);
                found = 1;
            }
        }
        if (!found || !reason || strcmp(reason, "NonZeroExitCode")) {
            const char *m = json_string_value(json_object_get(st, "message"));
            snprintf(s->status_msg, sizeof(s->status_msg), "%s",
                     m ? m : st ? "the command failed" : "the server sent a malformed status");
        }
    }
    json_decref(st);
}

/* Handle one message; -1 when the caller's callback asked to stop. */
static int on_message(session_t *s, const ws_message_t *m)
{
    const execclient_opts_t *o = s->o;
    switch (m->opcode) {
    case WS_OP_PING:
        ws_frame_append(s->out, WS_OP_PONG, m->data, m->len, 1);
        return 0;
    case WS_OP_CLOSE:
        if (!s->close_sent) {
            ws_close_append(s->out, WS_CLOSE_NORMAL, "", 1);
            s->close_sent = 1;
        }
        s->finished = 1;
        return 0;
    case WS_OP_BINARY:
    case WS_OP_TEXT:
        break;
    default:
        return 0;
    }
    if (m->len < 1)
        return 0;
    const char *data = (const char *)m->data + 1;
    size_t len = m->len - 1;
    switch (m->data[0]) {
    case WS_CH_STDOUT:
        if (o->on_stdout && len && o->on_stdout(data, len, o->priv))
            return -1;
        break;
    case WS_CH_STDERR:
        if (o->on_stderr && len && o->on_stderr(data, len, o->priv))
            return -1;
        break;
    case WS_CH_STATUS:
        take_status(s, m->data + 1, len);
        break;
    default:
        break;
    }
    return 0;
}

/* The request path with its query into out. */
static void build_path(struct evbuffer *out, const char *ns, const execclient_opts_t *o,
                       const char *container, const char *prefix)
{
    char *e_ns = evhttp_uriencode(ns, -1, 0), *e_pod = evhttp_uriencode(o->pod, -1, 0);
    evbuffer_add_printf(out, "%s/api/v1/namespaces/%s/pods/%s/exec?", prefix, e_ns ? e_ns : "",
                        e_pod ? e_pod : "");
    free(e_ns);
    free(e_pod);
    for (char *const *a = o->command; a && *a; a++) {
        char *e = evhttp_uriencode(*a, -1, 1);
        evbuffer_add_printf(out, "command=%s&", e ? e : "");
        free(e);
    }
    if (container) {
        char *e = evhttp_uriencode(container, -1, 1);
        evbuffer_add_printf(out, "container=%s&", e ? e : "");
        free(e);
    }
    evbuffer_add_printf(out, "stdout=true&stderr=true%s", o->stdin_data ? "&stdin=true" : "");
}

/* Read the response head; -1 with err set on a refusal (the Status message) or failure. */
static int handshake(session_t *s, const char *key, char *err, size_t errlen)
{
    for (;;) {
        size_t n = evbuffer_get_length(s->in);
        size_t take = n < EXEC_MAX_HEAD ? n : EXEC_MAX_HEAD;
        const char *p = take ? (const char *)evbuffer_pullup(s->in, (ev_ssize_t)take) : "";
        struct evkeyvalq h;
        int status = 0;
        TAILQ_INIT(&h);
        long hl = take ? ws_response_head_parse(p, take, &status, &h) : 0;
        if (hl < 0 || (hl == 0 && n >= EXEC_MAX_HEAD)) {
            evhttp_clear_headers(&h);
            snprintf(err, errlen, "the server sent a malformed answer to the exec request");
            return -1;
        }
        if (hl > 0) {
            evbuffer_drain(s->in, (size_t)hl);
            if (status == 101) {
                char want[32];
                const char *acc = evhttp_find_header(&h, "Sec-WebSocket-Accept");
                const char *proto = evhttp_find_header(&h, "Sec-WebSocket-Protocol");
                ws_accept_key(key, want);
                int good = acc && !strcmp(acc, want);
                s->v5 = proto && !strcmp(proto, WS_PROTO_V5);
                evhttp_clear_headers(&h);
                if (!good) {
                    snprintf(err, errlen, "the server answered the upgrade with a wrong Sec-WebSocket-Accept");
                    return -1;
                }
                return 0;
            }
            /* A refusal: its body (a Status, normally) says why. */
            const char *cl = evhttp_find_header(&h, "Content-Length");
            long want = cl ? atol(cl) : -1;
            evhttp_clear_headers(&h);
            while ((want < 0 || (long)evbuffer_get_length(s->in) < want) &&
                   evbuffer_get_length(s->in) < EXEC_MAX_HEAD) {
                struct pollfd pf = { s->fd, POLLIN, 0 };
                if (poll(&pf, 1, left_ms(s->deadline_ms)) <= 0 || read_some(s) <= 0)
                    break;
            }
            size_t bl = evbuffer_get_length(s->in);
            const char *body = bl ? (const char *)evbuffer_pullup(s->in, (ev_ssize_t)bl) : "";
            json_t *j = bl ? jsonload(body, bl, 0, NULL) : NULL;
            const char *m = json_string_value(json_object_get(j, "message"));
            if (m)
                snprintf(err, errlen, "%s", m);
            else if (bl)
                snprintf(err, errlen, "the server refused the exec (%d): %.*s", status,
                         (int)(bl < 500 ? bl : 500), body);
            else
                snprintf(err, errlen, "the server refused the exec (HTTP %d)", status);
            json_decref(j);
            return -1;
        }
        struct pollfd pf = { s->fd, POLLIN, 0 };
        int pr = poll(&pf, 1, left_ms(s->deadline_ms));
        if (pr == 0) {
            snprintf(err, errlen, "timed out waiting for the server to answer the exec request");
            return -1;
        }
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        int r = read_some(s);
        if (r <= 0) {
            snprintf(err, errlen, "the server closed the connection before answering the exec request");
            return -1;
        }
    }
}

int execclient_run(kubeclient_t *kc, const execclient_opts_t *o, int *exit_code,
                   char *err, size_t errlen)
{
    session_t s;
    char host[256], port[16], prefix[512] = "", key[32], container[256];
    const char *server = kubeclient_server(kc);
    const char *ns = o->namespace_ ? o->namespace_ : kubeclient_namespace(kc);
    int rc = -1, timeout = o->timeout_seconds > 0 ? o->timeout_seconds : 60;

    memset(&s, 0, sizeof(s));
    s.fd = -1;
    s.o = o;
    *exit_code = -1;
    if (!o->pod || !*o->pod || !o->command || !o->command[0]) {
        snprintf(err, errlen, "exec needs a pod and a command");
        return -1;
    }
    if (!server || strncmp(server, "http://", 7)) {
        snprintf(err, errlen, "exec to %s: only http:// servers are supported so far (no TLS or "
                 "token for websockets yet)", server ? server : "(no server)");
        return -1;
    }
    /* http://host[:port][/prefix] */
    const char *hp = server + 7, *slash = strchr(hp, '/');
    size_t hpl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (slash)
        snprintf(prefix, sizeof(prefix), "%s", slash);
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        prefix[--pl] = 0;
    if (hp[0] == '[') {
        const char *rb = memchr(hp, ']', hpl);
        if (!rb) {
            snprintf(err, errlen, "bad server URL %s", server);
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(rb - hp - 1), hp + 1);
        snprintf(port, sizeof(port), "%s", rb + 1 < hp + hpl && rb[1] == ':' ? "" : "80");
        if (!*port)
            snprintf(port, sizeof(port), "%.*s", (int)(hp + hpl - rb - 2), rb + 2);
    } else {
        const char *colon = memchr(hp, ':', hpl);
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hp) : (int)hpl, hp);
        if (colon)
            snprintf(port, sizeof(port), "%.*s", (int)(hp + hpl - colon - 1), colon + 1);
        else
            snprintf(port, sizeof(port), "80");
    }

    /* No container named: the pod's first one, as documented. */
    if (o->container) {
        snprintf(container, sizeof(container), "%s", o->container);
    } else {
        char path[1024];
        long status = 0;
        char *e_ns = evhttp_uriencode(ns, -1, 0), *e_pod = evhttp_uriencode(o->pod, -1, 0);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", e_ns ? e_ns : "", e_pod ? e_pod : "");
        free(e_ns);
        free(e_pod);
        json_t *pod = kubeclient_json(kc, "GET", path, NULL, NULL, &status, err, errlen);
        if (!pod)
            return -1;
        const char *name = json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0), "name"));
        if (status != 200 || !name) {
            snprintf(err, errlen, "%s", status != 200 ? kubeclient_status_message(pod, status)
                                                      : "the pod has no containers");
            json_decref(pod);
            return -1;
        }
        snprintf(container, sizeof(container), "%s", name);
        json_decref(pod);
    }

    s.deadline_ms = now_ms() + (long long)timeout * 1000;
    s.in = evbuffer_new();
    s.out = evbuffer_new();
    ws_decoder_init(&s.dec, 0, EXEC_MAX_MESSAGE);
    if (!s.in || !s.out) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    s.fd = dial(host, port, s.deadline_ms, err, errlen);
    if (s.fd < 0)
        goto done;

    ws_client_key(key);
    evbuffer_add_printf(s.out, "GET ");
    build_path(s.out, ns, o, container, prefix);
    evbuffer_add_printf(s.out, " HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: berth-execclient\r\n"
                               "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: %s, %s\r\n\r\n",
                        host, port, key, WS_PROTO_V5, WS_PROTO_V4);
    while (evbuffer_get_length(s.out)) {
        struct pollfd pf = { s.fd, POLLOUT, 0 };
        if (poll(&pf, 1, left_ms(s.deadline_ms)) <= 0 || flush_some(&s) < 0) {
            snprintf(err, errlen, "cannot send the exec request to %s", server);
            goto done;
        }
    }
    if (handshake(&s, key, err, errlen) != 0)
        goto done;

    /* The session. */
    for (;;) {
        ws_message_t m;
        int d;
        while (!s.finished && (d = ws_decode_evbuffer(&s.dec, s.in, &m)) != WS_AGAIN) {
            if (d == WS_ERROR) {
                snprintf(err, errlen, "bad websocket frame from the server: %s", s.dec.errstr);
                goto done;
            }
            if (on_message(&s, &m) != 0) {
                snprintf(err, errlen, "the output callback stopped the command");
                goto done;
            }
        }
        if (!s.finished)
            queue_stdin(&s);
        if (flush_some(&s) < 0) {
            if (s.finished || s.have_status)
                break;
            snprintf(err, errlen, "the connection to %s broke: %s", server, strerror(errno));
            goto done;
        }
        if (s.finished && !evbuffer_get_length(s.out))
            break;
        int wait = left_ms(s.deadline_ms);
        if (wait == 0) {
            snprintf(err, errlen, "timed out after %d s", timeout);
            goto done;
        }
        struct pollfd pf = { s.fd, POLLIN | (evbuffer_get_length(s.out) ? POLLOUT : 0), 0 };
        int pr = poll(&pf, 1, wait);
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            goto done;
        }
        if (pr > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
            int r = read_some(&s);
            if (r < 0) {
                if (s.have_status)
                    break;
                snprintf(err, errlen, "the connection to %s broke: %s", server, strerror(errno));
                goto done;
            }
            if (r == 0)
                break;   /* end of stream; everything before it was decoded above */
        }
    }
    if (!s.have_status) {
        snprintf(err, errlen, "the exec connection ended without an exit status");
        goto done;
    }
    if (s.status_msg[0]) {
        snprintf(err, errlen, "%s", s.status_msg);
        goto done;
    }
    *exit_code = s.exit_code;
    rc = 0;
done:
    if (s.fd >= 0)
        close(s.fd);
    if (s.in)
        evbuffer_free(s.in);
    if (s.out)
        evbuffer_free(s.out);
    ws_decoder_release(&s.dec);
    return rc;
}
