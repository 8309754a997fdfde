/* proxy_relay.c: see proxy_relay.h. The loop of each direction is nginx's stream proxy
 * loop: flush what is pending, read if there is room, stop on EAGAIN, pass on the half
 * close once drained. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy_relay.h"

/* Bytes one splice(2) moves at most: the default pipe capacity, so a splice into an empty
 * pipe never blocks on the pipe. */
#define SPLICE_CHUNK (64 * 1024)
/* Splice rounds per wake-up before yielding to other connections (the read event stays
 * armed, level-triggered, so the rest follows on the next loop turn). */
#define SPLICE_ROUNDS 16
/* Splice mode copies a direction with read(2)/write(2) through a per-thread buffer of this
 * size until one read fills it: short exchanges then cost no pipes, bulk streams splice. */
#define COPY_CHUNK (16 * 1024)
/* Buffer mode: a direction stops reading while this much waits to be written. */
#define BUFFER_HIGH (256 * 1024)
/* Buffer mode: bytes one read(2) or write(2) moves at most. */
#define BUFFER_CHUNK (128 * 1024)

typedef struct dir_s {
    proxy_relay_t *r;
    int src, dst;
    int pipe[2];               /* splice mode: the kernel buffer between src and dst, made
                                * when the direction turns out to be a stream (-1 before) */
    size_t pending;            /* bytes in the pipe (or in held) not yet written to dst */
    char *held;                /* splice mode, copying: what dst did not take yet */
    size_t held_off;
    int eof;                   /* src reached end of stream */
    int drained;               /* splice mode: the last read from src came up short */
    int done;                  /* eof seen and everything delivered; dst shut down */
    struct event *rev, *wev;   /* splice mode: src readable, dst writable */
    struct bufferevent *in, *out;  /* buffer mode: src's and dst's bufferevents */
    uint64_t bytes;
} dir_t;

struct proxy_relay_s {
    proxy_relay_mode_t mode;
    int client, backend;
    dir_t up, down;                /* client -> backend, backend -> client */
    struct bufferevent *bc, *bb;   /* buffer mode */
    proxy_relay_done_fn *done;
    void *priv;
    int finishing;
};

static void relay_release(proxy_relay_t *r)
{
    dir_t *d[2] = { &r->up, &r->down };
    for (int i = 0; i < 2; i++) {
        if (d[i]->rev)
            event_free(d[i]->rev);
        if (d[i]->wev)
            event_free(d[i]->wev);
        if (d[i]->pipe[0] >= 0)
            close(d[i]->pipe[0]);
        if (d[i]->pipe[1] >= 0)
            close(d[i]->pipe[1]);
        free(d[i]->held);
    }
    /* Buffer mode: BEV_OPT_CLOSE_ON_FREE closes the sockets. */
    if (r->bc)
        bufferevent_free(r->bc);
    else if (r->client >= 0)
        close(r->client);
    if (r->bb)
        bufferevent_free(r->bb);
    else if (r->backend >= 0)
        close(r->backend);
    free(r);
}

void proxy_relay_free(proxy_relay_t *r)
{
    if (r)
        relay_release(r);
}

proxy_relay_mode_t proxy_relay_mode(const proxy_relay_t *r)
{
    return r->mode;
}

/* End the relay: report, then free. ok: both directions ended cleanly. */
static void relay_finish(proxy_relay_t *r, int ok)
{
    if (r->finishing)
        return;
    r->finishing = 1;
    if (r->done)
        r->done(r, r->up.bytes, r->down.bytes, ok, r->priv);
    relay_release(r);
}

static void relay_check_done(proxy_relay_t *r)
{
    if (r->up.done && r->down.done)
        relay_finish(r, 1);
}

/* ---- splice ------------------------------------------------------------------------ */

static __thread char copy_buf[COPY_CHUNK];

/* Copying (no pipe yet): read what src has, write it to dst, keep what dst did not take.
 * A read that fills the buffer means a stream: make the pipe, later reads splice. Returns
 * 1 to go on, 0 to wait (events set), -1 when the relay was finished. */
static int copy_read(dir_t *d)
{
    ssize_t n = read(d->src, copy_buf, COPY_CHUNK);
    if (n == 0) {
        d->eof = 1;
        return 1;
    }
    if (n < 0) {
        if (errno == EINTR)
            return 1;
        if (errno == EAGAIN) {
            event_add(d->rev, NULL);
            return 0;
        }
        relay_finish(d->r, 0);
        return -1;
    }
    ssize_t w = write(d->dst, copy_buf, (size_t)n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            relay_finish(d->r, 0);
            return -1;
        }
        w = 0;
    }
    d->bytes += (uint64_t)w;
    if (w < n) {
        d->held = malloc((size_t)(n - w));
        if (!d->held) {
            relay_finish(d->r, 0);
            return -1;
        }
        memcpy(d->held, copy_buf + w, (size_t)(n - w));
        d->held_off = 0;
        d->pending = (size_t)(n - w);
        return 1;
    }
    if (n == COPY_CHUNK) {
        if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) != 0)
            d->pipe[0] = d->pipe[1] = -1;   /* no fd to spare: keep copying */
    } else {
        d->drained = 1;
    }
    return 1;
}

/* Move what can be moved now in one direction. Returns -1 when the relay was finished
 * (freed: the caller must not touch it). */
static int splice_pump(dir_t *d)
{
    proxy_relay_t *r = d->r;
    for (int round = 0; round < SPLICE_ROUNDS; round++) {
        if (d->pending > 0) {
            ssize_t n = d->held ? write(d->dst, d->held + d->held_off, d->pending)
                                : splice(d->pipe[0], NULL, d->dst, NULL, d->pending,
                                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->pending -= (size_t)n;
                d->bytes += (uint64_t)n;
                if (d->held) {
                    d->held_off += (size_t)n;
                    if (d->pending == 0) {
                        free(d->held);
                        d->held = NULL;
                    }
                }
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                /* dst is full: stop reading src until dst drains. */
                event_del(d->rev);
                event_add(d->wev, NULL);
                return 0;
            }
            relay_finish(r, 0);
            return -1;
        }
        event_del(d->wev);
        if (d->drained && !d->eof) {
            /* The last read came up short, so src is most likely empty: skip the read that
             * would say EAGAIN. src stays armed (level-triggered), so anything that did
             * arrive wakes us again. */
            d->drained = 0;
            event_add(d->rev, NULL);
            return 0;
        }
        if (d->eof) {
            shutdown(d->dst, SHUT_WR);
            d->done = 1;
            event_del(d->rev);
            if (r->up.done && r->down.done) {
                relay_finish(r, 1);
                return -1;
            }
            return 0;
        }
        if (d->pipe[1] < 0) {
            int rc = copy_read(d);
            if (rc <= 0)
                return rc;
            continue;
        }
        ssize_t n = splice(d->src, NULL, d->pipe[1], NULL, SPLICE_CHUNK,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->pending = (size_t)n;
            d->drained = (size_t)n < SPLICE_CHUNK;
            continue;
        }
        if (n == 0) {
            d->eof = 1;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            event_add(d->rev, NULL);
            return 0;
        }
        relay_finish(r, 0);
        return -1;
    }
    /* Yield: src stays armed (level-triggered), or dst if bytes are pending. */
    if (d->pending > 0) {
        event_del(d->rev);
        event_add(d->wev, NULL);
    } else {
        event_add(d->rev, NULL);
    }
    return 0;
}

static void splice_cb(evutil_socket_t fd, short what, void *arg)
{
    splice_pump(arg);
}

/* The pipes are made later, per direction, once it carries a stream (copy_read). */
static int splice_setup(proxy_relay_t *r, struct event_base *base)
{
    dir_t *d[2] = { &r->up, &r->down };
    for (int i = 0; i < 2; i++) {
        d[i]->rev = event_new(base, d[i]->src, EV_READ | EV_PERSIST, splice_cb, d[i]);
        d[i]->wev = event_new(base, d[i]->dst, EV_WRITE | EV_PERSIST, splice_cb, d[i]);
        if (!d[i]->rev || !d[i]->wev)
            return -1;
    }
    event_add(r->up.rev, NULL);
    event_add(r->down.rev, NULL);
    return 0;
}

static void splice_teardown(proxy_relay_t *r)
{
    dir_t *d[2] = { &r->up, &r->down };
    for (int i = 0; i < 2; i++) {
        if (d[i]->rev)
            event_free(d[i]->rev);
        if (d[i]->wev)
            event_free(d[i]->wev);
        d[i]->rev = d[i]->wev = NULL;
        for (int j = 0; j < 2; j++) {
            if (d[i]->pipe[j] >= 0)
                close(d[i]->pipe[j]);
            d[i]->pipe[j] = -1;
        }
    }
}

/* ---- bufferevents ------------------------------------------------------------------ */

static dir_t *dir_reading(proxy_relay_t *r, struct bufferevent *bev)
{
    return bev == r->bc ? &r->up : &r->down;
}

static dir_t *dir_writing(proxy_relay_t *r, struct bufferevent *bev)
{
    return bev == r->bc ? &r->down : &r->up;
}

/* src's input to dst's output; stop reading src while dst has a backlog. */
static void buf_read_cb(struct bufferevent *bev, void *arg)
{
    dir_t *d = dir_reading(arg, bev);
    struct evbuffer *in = bufferevent_get_input(d->in);
    struct evbuffer *out = bufferevent_get_output(d->out);
    size_t n = evbuffer_get_length(in);
    d->bytes += n;
    evbuffer_add_buffer(out, in);
    if (evbuffer_get_length(out) >= BUFFER_HIGH)
        bufferevent_disable(d->in, EV_READ);
}

/* dst's output drained (low watermark 0: called when empty). */
static void buf_write_cb(struct bufferevent *bev, void *arg)
{
    proxy_relay_t *r = arg;
    dir_t *d = dir_writing(r, bev);
    if (d->eof) {
        if (!d->done) {
            shutdown(bufferevent_getfd(d->out), SHUT_WR);
            d->done = 1;
            relay_check_done(r);
        }
        return;
    }
    bufferevent_enable(d->in, EV_READ);
}

static void buf_event_cb(struct bufferevent *bev, short what, void *arg)
{
    proxy_relay_t *r = arg;
    dir_t *d = dir_reading(r, bev);
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        /* Whatever arrived before the end was passed on by the read callback. */
        d->eof = 1;
        bufferevent_disable(d->in, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(d->out)) == 0) {
            shutdown(bufferevent_getfd(d->out), SHUT_WR);
            d->done = 1;
            relay_check_done(r);
        }
        return;
    }
    relay_finish(r, 0);
}

static int buffer_setup(proxy_relay_t *r, struct event_base *base)
{
    r->bc = bufferevent_socket_new(base, r->client, BEV_OPT_CLOSE_ON_FREE);
    if (!r->bc)
        return -1;
    r->bb = bufferevent_socket_new(base, r->backend, BEV_OPT_CLOSE_ON_FREE);
    if (!r->bb)
        return -1;
    r->up.in = r->bc;
    r->up.out = r->bb;
    r->down.in = r->bb;
    r->down.out = r->bc;
    /* libevent reads and writes 16 KiB per call by default: too little for bulk streams. */
    bufferevent_set_max_single_read(r->bc, BUFFER_CHUNK);
    bufferevent_set_max_single_read(r->bb, BUFFER_CHUNK);
    bufferevent_set_max_single_write(r->bc, BUFFER_CHUNK);
    bufferevent_set_max_single_write(r->bb, BUFFER_CHUNK);
    bufferevent_setcb(r->bc, buf_read_cb, buf_write_cb, buf_event_cb, r);
    bufferevent_setcb(r->bb, buf_read_cb, buf_write_cb, buf_event_cb, r);
    bufferevent_enable(r->bc, EV_READ | EV_WRITE);
    bufferevent_enable(r->bb, EV_READ | EV_WRITE);
    return 0;
}

/* ---- start ------------------------------------------------------------------------- */

proxy_relay_t *proxy_relay_start(struct event_base *base, int client, int backend,
                                 proxy_relay_mode_t mode, proxy_relay_done_fn *done,
                                 void *priv)
{
    proxy_relay_t *r = calloc(1, sizeof(*r));
    if (!r) {
        close(client);
        close(backend);
        return NULL;
    }
    r->client = client;
    r->backend = backend;
    r->done = done;
    r->priv = priv;
    r->up = (dir_t){ .r = r, .src = client, .dst = backend, .pipe = { -1, -1 } };
    r->down = (dir_t){ .r = r, .src = backend, .dst = client, .pipe = { -1, -1 } };
    r->mode = mode;
    /* Small writes go out at once: a proxy must not add Nagle's delay to a request. */
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(backend, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (mode == PROXY_RELAY_SPLICE && splice_setup(r, base) != 0) {
        splice_teardown(r);
        r->mode = PROXY_RELAY_BUFFER;
    }
    if (r->mode == PROXY_RELAY_BUFFER && buffer_setup(r, base) != 0) {
        if (r->bc)
            r->client = -1;     /* closed with r->bc */
        relay_release(r);
        return NULL;
    }
    return r;
}
