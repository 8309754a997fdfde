/* docker.c: see docker.h.
 *
 * The libcurl multi handle is driven the way curl's hiper/ghiper examples do it: curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to time out
 * (CURLMOPT_TIMERFUNCTION); libevent events call curl_multi_socket_action back, and finished
 * transfers are collected with curl_multi_info_read. curl forbids removing a handle from
 * inside its own callbacks, so docker_cancel only marks a call: its write callback then
 * aborts the transfer, and a zero-delay "reap" event removes cancelled calls from the loop. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "docker.h"
#include "jsonload.h"
#include "jsondump.h"

#define DOCKER_MAX_BODY  (64u << 20)     /* one-shot body or error body, bytes */

struct docker_s {
    struct event_base *base;
    CURLM *multi;
    struct event *timer, *reap;
    char *socket_path;       /* unix socket, or NULL for tcp */
    char *base_url;          /* "http://localhost" or "http://host:port" */
    docker_call_t *calls;
    docker_hijack_t *hijacks;  /* pending (before their done callback) */
    int running;
};

struct docker_call_s {
    docker_t *d;
    docker_call_t *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    char *req_body;
    char *acc;               /* one-shot body or error body */
    size_t acc_len, acc_cap;
    docker_done_fn *done;
    docker_data_fn *on_data;
    docker_end_fn *on_end;
    void *priv;
    int stream, probe;
    int status;              /* HTTP status, read at the first body byte */
    int cancelled, finished;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct sock_s {
    docker_t *d;
    curl_socket_t fd;
    struct event *ev;
} sock_t;

static int global_init_done;

/* ---------------------------------------------------------------------------- calls */

static void call_unlink(docker_call_t *c)
{
    docker_t *d = c->d;
    if (c->prev)
        c->prev->next = c->next;
    else if (d->calls == c)
        d->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void call_free(docker_call_t *c)
{
    if (c->easy) {
        curl_multi_remove_handle(c->d->multi, c->easy);
        curl_easy_cleanup(c->easy);
    }
    curl_slist_free_all(c->headers);
    free(c->req_body);
    free(c->acc);
    free(c);
}

static void acc_append(docker_call_t *c, const char *p, size_t n)
{
    if (c->acc_len + n + 1 > DOCKER_MAX_BODY)
        return;
    if (c->acc_len + n + 1 > c->acc_cap) {
        size_t cap = c->acc_cap ? c->acc_cap * 2 : 4096;
        while (cap < c->acc_len + n + 1)
            cap *= 2;
        char *a = realloc(c->acc, cap);
        if (!a)
            return;
        c->acc = a;
        c->acc_cap = cap;
    }
    memcpy(c->acc + c->acc_len, p, n);
    c->acc_len += n;
    c->acc[c->acc_len] = 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    docker_call_t *c = userdata;
    size_t n = size * nmemb;
    if (c->cancelled)
        return 0;              /* aborts the transfer; the reaper frees it */
    if (!c->status) {
        long code = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
        c->status = (int)code;
    }
    if (c->stream && c->status >= 200 && c->status < 300) {
        if (c->on_data)
            c->on_data(ptr, n, c->priv);
        return c->cancelled ? 0 : n;
    }
    acc_append(c, ptr, n);
    return n;
}

/* Docker's error bodies are {"message": "..."}; plain text is taken as is. */
static const char *error_message(docker_call_t *c, json_t *body, char *buf, size_t len)
{
    const char *m = body ? json_string_value(json_object_get(body, "message")) : NULL;
    if (m)
        return m;
    if (c->acc_len) {
        snprintf(buf, len, "%.*s", (int)c->acc_len, c->acc);
        size_t l = strlen(buf);
        while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
            buf[--l] = 0;
        return buf;
    }
    snprintf(buf, len, "docker answered %d", c->status);
    return buf;
}

static void call_finish(docker_call_t *c, CURLcode rc)
{
    char msg[1024];
    json_t *body = NULL;
    const char *errstr = NULL;
    int status = c->status;

    curl_multi_remove_handle(c->d->multi, c->easy);
    call_unlink(c);
    c->finished = 1;
    if (c->cancelled) {
        call_free(c);
        return;
    }
    if (!status && rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
        status = (int)code;
    }
    if (rc != CURLE_OK && !(c->stream && status >= 200 && status < 300 &&
                            (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR))) {
        /* A 2xx stream that the server cut (Docker restarting) is a normal end. */
        snprintf(msg, sizeof(msg), "docker: %s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        errstr = msg;
        if (!(c->stream && status >= 200 && status < 300))
            status = 0;
    }
    if (c->probe) {
        if (rc == CURLE_OK && !status)
            status = 200;    /* connect_only */
        if (rc != CURLE_OK)
            status = 0;
        c->done(status, NULL, errstr, c->priv);
    } else if (c->stream) {
        if (status && (status < 200 || status >= 300)) {
            json_error_t jerr;
            body = c->acc_len ? jsonload(c->acc, c->acc_len, JSON_DECODE_ANY, &jerr) : NULL;
            errstr = error_message(c, body, msg, sizeof(msg));
        }
        c->on_end(status, errstr, c->priv);
    } else {
        json_error_t jerr;
        if (status && c->acc_len)
            body = jsonload(c->acc, c->acc_len, JSON_DECODE_ANY, &jerr);
        if (status >= 400)
            errstr = error_message(c, body, msg, sizeof(msg));
        c->done(status, body, errstr, c->priv);
    }
    json_decref(body);
    call_free(c);
}

static void check_done(docker_t *d)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        docker_call_t *c = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (c)
            call_finish(c, m->data.result);
    }
}

/* ---------------------------------------------------------------------------- the loop */

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    sock_t *s = arg;
    docker_t *d = s->d;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(d->multi, fd, flags, &d->running);
    check_done(d);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    docker_t *d = arg;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &d->running);
    check_done(d);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    docker_t *d = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            event_free(s->ev);
            free(s);
            curl_multi_assign(d->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        s->d = d;
        s->fd = fd;
        curl_multi_assign(d->multi, fd, s);
    } else {
        event_free(s->ev);
    }
    short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    s->ev = event_new(d->base, fd, ev, on_sock_event, s);
    if (!s->ev)
        return -1;
    event_add(s->ev, NULL);
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    docker_t *d = userp;
    if (timeout_ms < 0) {
        evtimer_del(d->timer);
        return 0;
    }
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    evtimer_add(d->timer, &tv);
    return 0;
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    docker_t *d = arg;
    docker_call_t *c = d->calls, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->cancelled) {
            call_unlink(c);
            c->finished = 1;
            call_free(c);
        }
    }
}

/* ---------------------------------------------------------------------------- API */

docker_t *docker_create(struct event_base *base, const char *url)
{
    docker_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (!global_init_done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_init_done = 1;
    }
    d->base = base;
    if (!url || !*url)
        url = "unix:///var/run/docker.sock";
    if (!strncmp(url, "unix://", 7) || url[0] == '/') {
        d->socket_path = strdup(url[0] == '/' ? url : url + 7);
        d->base_url = strdup("http://localhost");
    } else if (!strncmp(url, "tcp://", 6)) {
        size_t n = strlen(url + 6) + 8;
        d->base_url = malloc(n);
        if (d->base_url)
            snprintf(d->base_url, n, "http://%s", url + 6);
    } else if (!strncmp(url, "http://", 7)) {
        d->base_url = strdup(url);
    } else {
        goto failed;
    }
    if (!d->base_url || (url[0] != 't' && url[0] != 'h' && !d->socket_path))
        goto failed;
    size_t l = strlen(d->base_url);
    while (l && d->base_url[l - 1] == '/')
        d->base_url[--l] = 0;
    d->multi = curl_multi_init();
    d->timer = evtimer_new(base, on_timer, d);
    d->reap = event_new(base, -1, 0, on_reap, d);
    if (!d->multi || !d->timer || !d->reap)
        goto failed;
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    return d;
failed:
    docker_free(d);
    return NULL;
}

void docker_free(docker_t *d)
{
    if (!d)
        return;
    while (d->calls) {
        docker_call_t *c = d->calls;
        call_unlink(c);
        call_free(c);
    }
    while (d->hijacks)
        docker_hijack_cancel(d->hijacks);
    /* Removing the handles above made curl drop their sockets through sock_cb. */
    if (d->multi)
        curl_multi_cleanup(d->multi);
    if (d->timer)
        event_free(d->timer);
    if (d->reap)
        event_free(d->reap);
    free(d->socket_path);
    free(d->base_url);
    free(d);
}

static docker_call_t *call_start(docker_t *d, const char *method, const char *url, json_t *body,
                                 long timeout_ms, int use_socket)
{
    docker_call_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->d = d;
    c->easy = curl_easy_init();
    if (!c->easy)
        goto failed;
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    if (use_socket && d->socket_path)
        curl_easy_setopt(c->easy, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (timeout_ms > 0)
        curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        c->req_body = jsondump(body, JSON_COMPACT);
        if (!c->req_body)
            goto failed;
        c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->req_body);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(c->req_body));
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c->easy, CURLOPT_NOBODY, 1L);
    }
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    if (curl_multi_add_handle(d->multi, c->easy) != CURLM_OK)
        goto failed;
    c->next = d->calls;
    if (d->calls)
        d->calls->prev = c;
    d->calls = c;
    return c;
failed:
    if (c->easy)
        curl_easy_cleanup(c->easy);
    c->easy = NULL;
    call_free(c);
    return NULL;
}

static char *api_url(docker_t *d, const char *path)
{
    size_t n = strlen(d->base_url) + strlen(path) + 16;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%s/%s%s", d->base_url, DOCKER_API_VERSION, path);
    return u;
}

docker_call_t *docker_request(docker_t *d, const char *method, const char *path, json_t *body,
                              long timeout_ms, docker_done_fn *done, void *priv)
{
    char *url = api_url(d, path);
    if (!url || !done) {
        free(url);
        return NULL;
    }
    docker_call_t *c = call_start(d, method, url, body, timeout_ms > 0 ? timeout_ms : 30000, 1);
    free(url);
    if (c) {
        c->done = done;
        c->priv = priv;
    }
    return c;
}

docker_call_t *docker_stream(docker_t *d, const char *method, const char *path, json_t *body,
                             long timeout_ms, docker_data_fn *on_data, docker_end_fn *on_end,
                             void *priv)
{
    char *url = api_url(d, path);
    if (!url || !on_end) {
        free(url);
        return NULL;
    }
    docker_call_t *c = call_start(d, method, url, body, timeout_ms, 1);
    free(url);
    if (c) {
        c->stream = 1;
        c->on_data = on_data;
        c->on_end = on_end;
        c->priv = priv;
    }
    return c;
}

docker_call_t *docker_probe(docker_t *d, const char *url, int connect_only, long timeout_ms,
                            docker_done_fn *done, void *priv)
{
    if (!done)
        return NULL;
    docker_call_t *c = call_start(d, "GET", url, NULL, timeout_ms > 0 ? timeout_ms : 1000, 0);
    if (!c)
        return NULL;
    c->probe = 1;
    c->done = done;
    c->priv = priv;
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1000);
    if (connect_only)
        curl_easy_setopt(c->easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
    return c;
}

void docker_cancel(docker_call_t *call)
{
    if (!call || call->cancelled)
        return;
    call->cancelled = 1;
    if (!call->finished)
        event_active(call->d->reap, 0, 0);
}

void docker_escape(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = 0;
}

/* ---------------------------------------------------------------------------- demux */

void docker_demux_init(docker_demux_t *dm)
{
    memset(dm, 0, sizeof(*dm));
}

void docker_demux_feed(docker_demux_t *dm, const char *data, size_t len, docker_demux_fn *out,
                       void *priv)
{
    while (len) {
        if (dm->remaining) {
            size_t n = len < dm->remaining ? len : dm->remaining;
            out(dm->stream, data, n, priv);
            data += n;
            len -= n;
            dm->remaining -= n;
            continue;
        }
        dm->hdr[dm->hdr_len++] = (unsigned char)*data++;
        len--;
        if (dm->hdr_len == 8) {
            dm->stream = dm->hdr[0];
            dm->remaining = ((size_t)dm->hdr[4] << 24) | ((size_t)dm->hdr[5] << 16) |
                            ((size_t)dm->hdr[6] << 8) | dm->hdr[7];
            dm->hdr_len = 0;
        }
    }
}

/* ---------------------------------------------------------------------------- hijack */

#define HIJACK_MAX_HEAD  (64 * 1024)   /* response head, and an error body */

struct docker_hijack_s {
    docker_t *d;
    docker_hijack_t *prev, *next;
    struct bufferevent *bev;
    docker_hijack_fn *done;
    void *priv;
    int status;                 /* 0 until the response head arrived */
    long body_left;             /* error responses: body bytes still expected, -1: until EOF */
    int connecting, connect_failed;
};

static void hijack_unlink(docker_hijack_t *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else if (h->d->hijacks == h)
        h->d->hijacks = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
}

void docker_hijack_cancel(docker_hijack_t *h)
{
    if (!h)
        return;
    hijack_unlink(h);
    if (h->bev)
        bufferevent_free(h->bev);
    free(h);
}

/* Finish with an error: Docker's {"message": ...} from the body read so far, or why. */
static void hijack_fail(docker_hijack_t *h, const char *why)
{
    char msg[1024];
    docker_hijack_fn *done = h->done;
    void *priv = h->priv;
    int status = h->status;
    if (status) {
        struct evbuffer *in = bufferevent_get_input(h->bev);
        size_t n = evbuffer_get_length(in);
        const char *body = n ? (const char *)evbuffer_pullup(in, (ev_ssize_t)n) : "";
        json_t *j = n ? jsonload(body, n, JSON_DECODE_ANY, NULL) : NULL;
        const char *m = json_string_value(json_object_get(j, "message"));
        if (m)
            snprintf(msg, sizeof(msg), "%s", m);
        else if (n)
            snprintf(msg, sizeof(msg), "%.*s", (int)(n < 1000 ? n : 1000), body);
        else
            snprintf(msg, sizeof(msg), "docker answered %d", status);
        json_decref(j);
        size_t l = strlen(msg);
        while (l && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
            msg[--l] = 0;
    } else {
        snprintf(msg, sizeof(msg), "docker: %s", why);
    }
    docker_hijack_cancel(h);
    done(status, NULL, msg, priv);
}

static void hijack_read(struct bufferevent *bev, void *arg)
{
    docker_hijack_t *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!h->status) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0) {
            if (evbuffer_get_length(in) > HIJACK_MAX_HEAD)
                hijack_fail(h, "response head too long");
            return;
        }
        size_t hl = (size_t)end.pos + 4;
        char *head = malloc(hl + 1);
        if (!head) {
            hijack_fail(h, "out of memory");
            return;
        }
        evbuffer_remove(in, head, hl);
        head[hl] = 0;
        if (hl < 12 || strncmp(head, "HTTP/1.", 7) || head[8] != ' ') {
            free(head);
            hijack_fail(h, "malformed response");
            return;
        }
        h->status = atoi(head + 9);
        if (h->status <= 0)
            h->status = 500;
        h->body_left = -1;
        for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n"))
            if (!strncasecmp(line + 2, "Content-Length:", 15))
                h->body_left = atol(line + 17);
        free(head);
        if (h->status == 101 || h->status == 200) {
            docker_hijack_fn *done = h->done;
            void *priv = h->priv;
            int status = h->status;
            h->bev = NULL;
            hijack_unlink(h);
            free(h);
            bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
            bufferevent_disable(bev, EV_READ | EV_WRITE);
            bufferevent_set_timeouts(bev, NULL, NULL);
            done(status, bev, NULL, priv);
            return;
        }
    }
    /* An error status: collect its (bounded) body. */
    size_t n = evbuffer_get_length(in);
    if ((h->body_left >= 0 && (long)n >= h->body_left) || n > HIJACK_MAX_HEAD)
        hijack_fail(h, "");
}

static void hijack_event(struct bufferevent *bev, short what, void *arg)
{
    docker_hijack_t *h = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (h->connecting) {
        h->connect_failed = 1;
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        hijack_fail(h, "timed out");
        return;
    }
    int err = EVUTIL_SOCKET_ERROR();
    hijack_fail(h, (what & BEV_EVENT_EOF) ? "connection closed" : evutil_socket_error_to_string(err));
}

docker_hijack_t *docker_hijack(docker_t *d, const char *path, json_t *body, long timeout_ms,
                               docker_hijack_fn *done, void *priv)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    memset(&ss, 0, sizeof(ss));
    if (!done)
        return NULL;
    if (d->socket_path) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        if (strlen(d->socket_path) >= sizeof(sun->sun_path))
            return NULL;
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, d->socket_path);
        sl = sizeof(*sun);
    } else {
        /* base_url is http://host:port; a numeric or resolvable host. */
        char host[256], port[16] = "80";
        const char *hp = strstr(d->base_url, "://");
        hp = hp ? hp + 3 : d->base_url;
        const char *colon = strrchr(hp, ':');
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hp) : (int)strlen(hp), hp);
        if (colon)
            snprintf(port, sizeof(port), "%s", colon + 1);
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
            return NULL;
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        sl = ai->ai_addrlen;
        freeaddrinfo(ai);
    }
    docker_hijack_t *h = calloc(1, sizeof(*h));
    char *json = body ? jsondump(body, JSON_COMPACT) : NULL;
    if (!h)
        goto failed;
    h->d = d;
    h->done = done;
    h->priv = priv;
    h->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!h->bev)
        goto failed;
    struct timeval tv = { (timeout_ms > 0 ? timeout_ms : 30000) / 1000,
                          ((timeout_ms > 0 ? timeout_ms : 30000) % 1000) * 1000 };
    bufferevent_set_timeouts(h->bev, &tv, &tv);
    evbuffer_add_printf(bufferevent_get_output(h->bev),
                        "POST /%s%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth-agent\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                        "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n%s",
                        DOCKER_API_VERSION, path, json ? strlen(json) : 0, json ? json : "");
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    /* A connect that fails at once runs the event callback from inside
     * bufferevent_socket_connect: hijack_event only notes it then (connecting), and this
     * call reports the failure instead of the callback. */
    bufferevent_setcb(h->bev, hijack_read, NULL, hijack_event, h);
    h->connecting = 1;
    if (bufferevent_socket_connect(h->bev, (struct sockaddr *)&ss, (int)sl) != 0 ||
        h->connect_failed)
        goto failed;
    h->connecting = 0;
    free(json);
    h->next = d->hijacks;
    if (d->hijacks)
        d->hijacks->prev = h;
    d->hijacks = h;
    return h;
failed:
    free(json);
    if (h && h->bev)
        bufferevent_free(h->bev);
    free(h);
    return NULL;
}
