/* agent_exec.c: the agent's exec and attach endpoints, what `kubectl exec` and `kubectl
 * attach` (and `kubectl run -i`) reach through the API server.
 *
 *   GET /attach/<namespace>/<pod>/<container>?stdin=&stdout=&stderr=&tty=
 * is the same session on the container's own stdio: no exec is created, the stream is
 * Docker's POST /containers/<id>/attach (raw with the container's TTY, multiplexed without),
 * resizes go to /containers/<id>/resize, and when the stream ends the Status is Success (the
 * container's exit code is in the pod's status, where kubectl run -i reads it). Stdin reaches
 * the process only if the pod asked for it (stdin: true, created with OpenStdin; stdinOnce
 * closes it when the first attach ends).
 *
 * exec:
 *
 *   GET /exec/<namespace>/<pod>/<container>?command=sh&command=-c&command=...
 *       &stdin=true&stdout=true&stderr=true&tty=false
 *   Upgrade: websocket, Sec-WebSocket-Protocol: v5.channel.k8s.io (or v4)
 *
 * The session, in order:
 *   1. checks (plain HTTP text errors, which the API server turns into Status objects):
 *      404 the pod is not on this node or the container has no instance, 400 it is not
 *      running or the query is wrong, 426 everything is fine but the request is not a
 *      websocket upgrade (the API server asks that way to check a SPDY request);
 *   2. the connection is taken over from evhttp (ws_hijack_t), Docker's exec is created
 *      (POST /containers/<id>/exec) and started on a hijacked connection to Docker
 *      (docker_hijack: POST /exec/<id>/start, Upgrade: tcp) -- a Docker error here is still
 *      an HTTP error (502);
 *   3. 101 to the client, then the channel protocol: stdin frames (channel 0) are written to
 *      Docker's stream, a v5 CLOSE of channel 0 shuts its write side (the process sees EOF),
 *      resize frames (channel 4, TTY only) become POST /exec/<id>/resize; Docker's output is
 *      demultiplexed (no TTY) into channel 1 and 2 frames; pings are answered and one is sent
 *      every 30 s;
 *   4. when Docker's stream ends the exit code is read (GET /exec/<id>/json, until it is no
 *      longer Running), the channel 3 Status goes out (Success, or NonZeroExitCode with an
 *      ExitCode cause), then a close frame (1000); the client's close or end of stream, or
 *      10 s, ends the session.
 * A client that goes away ends the session at once (the process is left to finish; Docker
 * has no way to kill an exec). Both directions stop reading while the other side has more
 * than EXEC_HIGH bytes waiting, so memory stays bounded. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent_internal.h"
#include "log.h"
#include "util.h"
#include "websocket.h"
#include "jsonload.h"
#include "jsondump.h"

#define EXEC_HIGH            (1024 * 1024)   /* bytes waiting before a direction pauses */
#define EXEC_MAX_MESSAGE     (1024 * 1024)   /* one client message */
#define EXEC_PING_S          30
#define EXEC_READ_TIMEOUT_S  120             /* nothing from the client (pongs count) */
#define EXEC_LINGER_S        10              /* after our close frame */
#define EXEC_INSPECT_TRIES   50              /* x 100 ms for the exit code to settle */
#define EXEC_MAX_ARGS        256

typedef enum { S_PREPARING, S_STREAMING, S_FINISHING } exec_state_t;

struct exec_session_s {
    agent_t *a;
    exec_session_t *prev, *next;
    exec_state_t state;
    ws_hijack_t hj;                /* the client connection, taken from evhttp */
    struct evhttp_request *req;    /* until the 101 (error replies) */
    ws_decoder_t dec;
    char key[64];
    const char *proto;             /* chosen subprotocol (static) */
    int attach;                    /* kubectl attach: the container's own stdio, no exec */
    char ctr_id[96];               /* attach: the container */
    int v5, tty, want_stdin, want_stdout, want_stderr;
    char name[800], ctr_name[256], exec_id[96];
    docker_call_t *call;           /* exec create, inspect */
    docker_call_t *resize_call;
    int resize_w, resize_h;        /* a resize waiting for resize_call */
    docker_hijack_t *hijack;
    struct bufferevent *dbev;      /* Docker's stream */
    docker_demux_t dm;
    int stdin_closed;              /* v5 CLOSE of stdin: shut Docker's write side when drained */
    int docker_eof;
    int inspect_tries;
    struct event *timer;           /* ping, inspect retry, linger */
};

static void client_read(struct bufferevent *bev, void *arg);

/* ---------------------------------------------------------------------------- lifetime */

static void sess_free(exec_session_t *s)
{
    agent_t *a = s->a;
    if (s->prev)
        s->prev->next = s->next;
    else if (a->execs == s)
        a->execs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->call)
        docker_cancel(s->call);
    if (s->resize_call)
        docker_cancel(s->resize_call);
    if (s->hijack)
        docker_hijack_cancel(s->hijack);
    if (s->dbev)
        bufferevent_free(s->dbev);
    if (s->timer)
        event_free(s->timer);
    ws_hijack_close(&s->hj);
    ws_decoder_release(&s->dec);
    free(s);
}

void agent_exec_release(agent_t *a)
{
    while (a->execs)
        sess_free(a->execs);
}

/* evhttp freed the client connection (the agent's evhttp is going away). */
static void sess_gone(void *priv)
{
    sess_free(priv);
}

/* Before the 101: give the connection back to evhttp, answer with an error, end. */
static void sess_fail_http(exec_session_t *s, int code, const char *msg)
{
    struct evhttp_request *req = s->req;
    ws_hijack_giveback(&s->hj);
    s->req = NULL;
    if (req)
        agent_reply_text(req, code, code == 404 ? "Not Found" : code == 400 ? "Bad Request" : "Bad Gateway",
                   "%s", msg);
    sess_free(s);
}

static void timer_set(exec_session_t *s, int secs, int usecs)
{
    struct timeval tv = { secs, usecs };
    evtimer_add(s->timer, &tv);
}

/* ---------------------------------------------------------------------------- the end */

static void send_status(exec_session_t *s, json_t *st)
{
    struct evbuffer *out = bufferevent_get_output(s->hj.bev);
    char *js = jsondump(st, JSON_COMPACT);
    json_decref(st);
    if (js) {
        ws_channel_append(out, WS_CH_STATUS, js, strlen(js), 0);
        free(js);
    }
    ws_close_append(out, WS_CLOSE_NORMAL, "", 0);
    s->state = S_FINISHING;
    /* The client answers our close; its end of stream or the linger timer ends it. The write
     * callback shuts our side once the close frame is out. */
    timer_set(s, EXEC_LINGER_S, 0);
    bufferevent_set_timeouts(s->hj.bev, NULL, NULL);
    bufferevent_enable(s->hj.bev, EV_READ | EV_WRITE);
}

static json_t *status_failure(const char *reason, const char *msg)
{
    return json_pack("{s:{},s:s,s:s,s:s}", "metadata", "status", "Failure", "reason", reason,
                     "message", msg);
}

static void exec_inspected(int status, json_t *body, const char *errstr, void *priv)
{
    exec_session_t *s = priv;
    s->call = NULL;
    if (status != 200 || !json_is_object(body)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "cannot read the exit code of the command: %s",
                 errstr ? errstr : "Docker did not answer");
        send_status(s, status_failure("InternalError", msg));
        return;
    }
    if (json_is_true(json_object_get(body, "Running")) && ++s->inspect_tries < EXEC_INSPECT_TRIES) {
        timer_set(s, 0, 100000);   /* Docker records the exit a moment after the stream ends */
        return;
    }
    json_int_t code = json_integer_value(json_object_get(body, "ExitCode"));
    if (code == 0) {
        send_status(s, json_pack("{s:{},s:s}", "metadata", "status", "Success"));
        return;
    }
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)code);
    send_status(s, json_pack("{s:{},s:s,s:s,s:s,s:{s:[{s:s,s:s}]}}", "metadata", "status",
                             "Failure", "message", "command terminated with non-zero exit code",
                             "reason", "NonZeroExitCode", "details", "causes", "reason",
                             "ExitCode", "message", num));
}

static void inspect(exec_session_t *s)
{
    char path[160];
    snprintf(path, sizeof(path), "/exec/%s/json", s->exec_id);
    s->call = docker_request(s->a->docker, "GET", path, NULL, 5000, exec_inspected, s);
    if (!s->call)
        send_status(s, status_failure("InternalError", "cannot reach Docker for the exit code"));
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    exec_session_t *s = arg;
    switch (s->state) {
    case S_PREPARING:
        break;
    case S_STREAMING:
        if (s->docker_eof) {
            inspect(s);
        } else {
            ws_frame_append(bufferevent_get_output(s->hj.bev), WS_OP_PING, "", 0, 0);
            timer_set(s, EXEC_PING_S, 0);
        }
        break;
    case S_FINISHING:
        sess_free(s);
        break;
    }
}

/* ---------------------------------------------------------------------------- Docker side */

static void send_output(int stream, const char *data, size_t len, void *priv)
{
    exec_session_t *s = priv;
    if ((stream == 1 && !s->want_stdout) || (stream == 2 && !s->want_stderr) ||
        (stream != 1 && stream != 2) || !len)
        return;
    ws_channel_append(bufferevent_get_output(s->hj.bev), stream == 1 ? WS_CH_STDOUT : WS_CH_STDERR,
                      data, len, 0);
}

static void docker_read(struct bufferevent *bev, void *arg)
{
    exec_session_t *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char buf[32768];
    size_t n;
    while ((n = evbuffer_get_length(in)) > 0) {
        int got = evbuffer_remove(in, buf, n < sizeof(buf) ? n : sizeof(buf));
        if (got <= 0)
            break;
        if (s->tty)
            send_output(1, buf, (size_t)got, s);
        else
            docker_demux_feed(&s->dm, buf, (size_t)got, send_output, s);
    }
    if (evbuffer_get_length(bufferevent_get_output(s->hj.bev)) > EXEC_HIGH)
        bufferevent_disable(bev, EV_READ);   /* client_write resumes it */
}

/* Docker took all the stdin written so far. */
static void docker_write(struct bufferevent *bev, void *arg)
{
    exec_session_t *s = arg;
    if (s->stdin_closed == 1) {
        s->stdin_closed = 2;
        shutdown(bufferevent_getfd(bev), SHUT_WR);
    }
    if (s->state == S_STREAMING)
        bufferevent_enable(s->hj.bev, EV_READ);
}

static void docker_event(struct bufferevent *bev, short what, void *arg)
{
    exec_session_t *s = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    /* The process ended (or Docker went away): whatever was read has been sent on. */
    bufferevent_free(s->dbev);
    s->dbev = NULL;
    s->docker_eof = 1;
    evtimer_del(s->timer);
    if (s->attach) {
        /* As kubelet: an attach that ran its course is a Success; the container's exit code
         * is in the pod's status (kubectl run -i reads it there). */
        send_status(s, json_pack("{s:{},s:s}", "metadata", "status", "Success"));
        return;
    }
    inspect(s);
}

static void resize_done(int status, json_t *body, const char *errstr, void *priv);

static void resize(exec_session_t *s, int w, int h)
{
    char path[200];
    if (s->resize_call) {
        s->resize_w = w;
        s->resize_h = h;
        return;
    }
    s->resize_w = s->resize_h = 0;
    if (s->attach)
        snprintf(path, sizeof(path), "/containers/%s/resize?h=%d&w=%d", s->ctr_id, h, w);
    else
        snprintf(path, sizeof(path), "/exec/%s/resize?h=%d&w=%d", s->exec_id, h, w);
    s->resize_call = docker_request(s->a->docker, "POST", path, NULL, 5000, resize_done, s);
}

static void resize_done(int status, json_t *body, const char *errstr, void *priv)
{
    exec_session_t *s = priv;
    s->resize_call = NULL;
    if (status != 200 && status != 201)
        log_debug("agent: exec resize: %d %s", status, errstr ? errstr : "");
    if (s->resize_w > 0 && s->resize_h > 0)
        resize(s, s->resize_w, s->resize_h);
}

/* ---------------------------------------------------------------------------- client side */

/* A protocol error or the client's close: answer with a close frame and linger. */
static void client_close(exec_session_t *s, int code, const char *reason)
{
    if (s->dbev) {
        bufferevent_free(s->dbev);
        s->dbev = NULL;
    }
    ws_close_append(bufferevent_get_output(s->hj.bev), code, reason, 0);
    s->state = S_FINISHING;
    evtimer_del(s->timer);
    timer_set(s, EXEC_LINGER_S, 0);
}

static void client_message(exec_session_t *s, const ws_message_t *m)
{
    struct evbuffer *out = bufferevent_get_output(s->hj.bev);
    switch (m->opcode) {
    case WS_OP_PING:
        ws_frame_append(out, WS_OP_PONG, m->data, m->len, 0);
        return;
    case WS_OP_PONG:
        return;
    case WS_OP_CLOSE:
        client_close(s, m->close_code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : m->close_code, "");
        return;
    default:
        break;
    }
    if (m->len < 1)
        return;
    int ch = m->data[0];
    if (ch == WS_CH_STDIN) {
        if (s->want_stdin && s->dbev && !s->stdin_closed && m->len > 1) {
            bufferevent_write(s->dbev, m->data + 1, m->len - 1);
            if (evbuffer_get_length(bufferevent_get_output(s->dbev)) > EXEC_HIGH)
                bufferevent_disable(s->hj.bev, EV_READ);   /* docker_write resumes it */
        }
    } else if (ch == WS_CH_RESIZE) {
        json_t *j = jsonload((const char *)m->data + 1, m->len - 1, 0, NULL);
        json_int_t w = json_integer_value(json_object_get(j, "Width"));
        json_int_t h = json_integer_value(json_object_get(j, "Height"));
        json_decref(j);
        if (s->tty && w > 0 && h > 0 && w < 100000 && h < 100000)
            resize(s, (int)w, (int)h);
    } else if (ch == WS_CH_CLOSE && s->v5 && m->len >= 2 && m->data[1] == WS_CH_STDIN) {
        if (!s->stdin_closed && s->dbev) {
            s->stdin_closed = 1;
            if (evbuffer_get_length(bufferevent_get_output(s->dbev)) == 0) {
                s->stdin_closed = 2;
                shutdown(bufferevent_getfd(s->dbev), SHUT_WR);
            }
        }
    }
}

static void client_read(struct bufferevent *bev, void *arg)
{
    exec_session_t *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (s->state == S_PREPARING) {
        /* Nothing is expected before the 101; keep it (bounded) for later. */
        if (evbuffer_get_length(in) > EXEC_MAX_MESSAGE)
            sess_free(s);
        return;
    }
    while (s->state == S_STREAMING) {
        ws_message_t m;
        int rc = ws_decode_evbuffer(&s->dec, in, &m);
        if (rc == WS_AGAIN)
            return;
        if (rc == WS_ERROR) {
            log_debug("agent: exec: bad frame from the client: %s", s->dec.errstr);
            client_close(s, s->dec.close_code, s->dec.errstr);
            return;
        }
        client_message(s, &m);
        if (s->dbev && evbuffer_get_length(bufferevent_get_output(s->dbev)) > EXEC_HIGH)
            return;   /* paused */
    }
    /* Finishing: the client's close reply and anything after it are dropped. */
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* Everything written to the client went out. */
static void client_write(struct bufferevent *bev, void *arg)
{
    exec_session_t *s = arg;
    if (s->state == S_FINISHING) {
        shutdown(bufferevent_getfd(bev), SHUT_WR);
        return;
    }
    if (s->dbev)
        bufferevent_enable(s->dbev, EV_READ);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    exec_session_t *s = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (s->state == S_STREAMING)
            log_debug("agent: exec in %s: the client went away", s->name);
        sess_free(s);
    }
}

/* ---------------------------------------------------------------------------- start */

static void exec_started(int status, struct bufferevent *bev, const char *errstr, void *priv)
{
    exec_session_t *s = priv;
    char msg[1024];
    s->hijack = NULL;
    if (!bev) {
        if (status == 409)   /* it stopped since the exec was created */
            snprintf(msg, sizeof(msg), "container not running (\"%s\"): %s", s->ctr_name,
                     errstr ? errstr : "");
        else
            snprintf(msg, sizeof(msg), "cannot %s container %s: %s",
                     s->attach ? "attach to" : "start the command in", s->name,
                     errstr ? errstr : "Docker did not answer");
        sess_fail_http(s, status == 404 ? 404 : status == 409 ? 400 : 502, msg);
        return;
    }
    s->dbev = bev;
    bufferevent_setcb(bev, docker_read, docker_write, docker_event, s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    ws_write_101(bufferevent_get_output(s->hj.bev), s->key, s->proto);
    s->req = NULL;    /* owned by the connection, which we close ourselves */
    s->state = S_STREAMING;
    struct timeval rt = { EXEC_READ_TIMEOUT_S, 0 };
    bufferevent_set_timeouts(s->hj.bev, &rt, NULL);
    timer_set(s, EXEC_PING_S, 0);
    if (s->attach)
        log_debug("agent: attached to %s", s->name);
    else
        log_debug("agent: exec in %s started (%s)", s->name, s->exec_id);
    /* Bytes that came with or right after the request. */
    if (evbuffer_get_length(bufferevent_get_input(s->hj.bev)))
        client_read(s->hj.bev, s);
}

static void exec_created(int status, json_t *body, const char *errstr, void *priv)
{
    exec_session_t *s = priv;
    char msg[1024], path[160];
    const char *id = json_str(body, "Id");
    s->call = NULL;
    if (status != 201 || !id) {
        /* 409: it stopped since the runtime cache saw it running. */
        if (status == 409)
            snprintf(msg, sizeof(msg), "container not running (\"%s\"): %s", s->ctr_name,
                     errstr ? errstr : "");
        else
            snprintf(msg, sizeof(msg), "cannot exec in container %s: %s", s->name,
                     errstr ? errstr : "Docker did not answer");
        sess_fail_http(s, status == 404 ? 404 : status == 409 ? 400 : 502, msg);
        return;
    }
    snprintf(s->exec_id, sizeof(s->exec_id), "%s", id);
    snprintf(path, sizeof(path), "/exec/%s/start", id);
    json_t *b = json_pack("{s:b,s:b}", "Detach", 0, "Tty", s->tty);
    s->hijack = docker_hijack(s->a->docker, path, b, 30000, exec_started, s);
    json_decref(b);
    if (!s->hijack)
        sess_fail_http(s, 502, "cannot reach Docker");
}

static int query_true(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

void agent_exec_handle(agent_t *a, struct evhttp_request *req, const char *path, const char *query)
{
    static const char *const protos[] = { WS_PROTO_V5, WS_PROTO_V4, NULL };
    char ns[256], pod[256], name[256];
    struct evkeyvalq q;
    struct evkeyval *kv;
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
    exec_session_t *s = NULL;
    json_t *cmd = json_array();
    TAILQ_INIT(&q);
    int attach = !strncmp(path, "/attach/", 8);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        agent_reply_text(req, 405, "Method Not Allowed", "%s takes GET with a websocket upgrade",
                         attach ? "attach" : "exec");
        goto done;
    }
    if (sscanf(path + (attach ? 8 : 6), "%255[^/]/%255[^/]/%255[^/?]", ns, pod, name) != 3) {
        agent_reply_text(req, 404, "Not Found", "not found");
        goto done;
    }
    if (query)
        evhttp_parse_query_str(query, &q);
    TAILQ_FOREACH(kv, &q, next)
        if (!strcmp(kv->key, "command") && json_array_size(cmd) < EXEC_MAX_ARGS)
            json_array_append_new(cmd, json_string(kv->value));
    int in = query_true(evhttp_find_header(&q, "stdin")), out = query_true(evhttp_find_header(&q, "stdout")),
        err = query_true(evhttp_find_header(&q, "stderr")), tty = query_true(evhttp_find_header(&q, "tty"));
    if (!json_array_size(cmd) && !attach) {
        agent_reply_text(req, 400, "Bad Request", "you must specify at least one command for the container");
        goto done;
    }
    if (!in && !out && !err) {
        agent_reply_text(req, 400, "Bad Request", "you must specify at least one of stdin, stdout, stderr");
        goto done;
    }
    if (!informer_get(a->pods, ns, pod)) {
        agent_reply_text(req, 404, "Not Found", "pod \"%s\" (namespace %s) is not on node %s", pod, ns, a->node);
        goto done;
    }
    const char *id = agent_find_container(a, ns, pod, name, 0);
    if (!id) {
        agent_reply_text(req, 404, "Not Found", "container not found (\"%s\")", name);
        goto done;
    }
    json_t *ctr = json_object_get(a->containers, id);
    if (attach)   /* the stream is the container's: raw with its TTY, multiplexed without */
        tty = json_is_true(json_path(ctr, "Config.Tty"));
    if (!json_is_true(json_path(ctr, "State.Running"))) {
        agent_reply_text(req, 400, "Bad Request", "container not running (\"%s\")", name);
        goto done;
    }
    if (!ws_is_upgrade(hdrs)) {
        agent_reply_text(req, 426, "Upgrade Required",
                   "exec needs a websocket upgrade (Upgrade: websocket, Sec-WebSocket-Protocol "
                   WS_PROTO_V5 ")");
        goto done;
    }
    const char *proto = ws_select_protocol(evhttp_find_header(hdrs, "Sec-WebSocket-Protocol"), protos);
    if (!proto) {
        agent_reply_text(req, 400, "Bad Request",
                   "no supported websocket subprotocol requested (want " WS_PROTO_V5 " or " WS_PROTO_V4 ")");
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->timer = evtimer_new(a->base, on_timer, s))) {
        free(s);
        agent_reply_text(req, 500, "Internal Server Error", "out of memory");
        goto done;
    }
    s->a = a;
    s->req = req;
    s->proto = proto;
    s->v5 = !strcmp(proto, WS_PROTO_V5);
    s->attach = attach;
    snprintf(s->ctr_id, sizeof(s->ctr_id), "%s", id);
    s->tty = tty;
    s->want_stdin = in;
    s->want_stdout = out;
    s->want_stderr = err && !tty;
    snprintf(s->key, sizeof(s->key), "%s", evhttp_find_header(hdrs, "Sec-WebSocket-Key"));
    snprintf(s->name, sizeof(s->name), "%s/%s/%s", ns, pod, name);
    snprintf(s->ctr_name, sizeof(s->ctr_name), "%s", name);
    ws_decoder_init(&s->dec, 1, EXEC_MAX_MESSAGE);
    docker_demux_init(&s->dm);
    s->next = a->execs;
    if (a->execs)
        a->execs->prev = s;
    a->execs = s;
    if (ws_hijack_start(&s->hj, req, client_read, client_write, client_event, s, sess_gone, s) != 0) {
        s->req = NULL;
        sess_free(s);
        agent_reply_text(req, 500, "Internal Server Error", "no connection");
        goto done;
    }
    char dpath[200];
    if (attach) {
        /* Docker's attach on a connection of its own; stdin reaches the process only if the
         * container was created with OpenStdin (the pod's stdin: true). */
        snprintf(dpath, sizeof(dpath), "/containers/%s/attach?stream=1&stdin=%d&stdout=%d&stderr=%d",
                 id, in, out, s->want_stderr);
        s->hijack = docker_hijack(a->docker, dpath, NULL, 30000, exec_started, s);
        if (!s->hijack)
            sess_fail_http(s, 502, "cannot reach Docker");
        goto done;
    }
    snprintf(dpath, sizeof(dpath), "/containers/%s/exec", id);
    json_t *body = json_pack("{s:b,s:b,s:b,s:b,s:O}", "AttachStdin", in, "AttachStdout", out,
                             "AttachStderr", s->want_stderr, "Tty", tty, "Cmd", cmd);
    s->call = docker_request(a->docker, "POST", dpath, body, 10000, exec_created, s);
    json_decref(body);
    if (!s->call)
        sess_fail_http(s, 502, "cannot reach Docker");
done:
    json_decref(cmd);
    evhttp_clear_headers(&q);
}
