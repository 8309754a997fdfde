/* websocket.c: see websocket.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <event2/event.h>

#include "websocket.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---------------------------------------------------------------------------- frames */

size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], int opcode, int fin, uint64_t len,
                       const uint8_t *mask)
{
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
}

void ws_random(uint8_t *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(out + got, len - got, GRND_NONBLOCK);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < len) {
        /* No entropy yet (early boot): masks only need to be unpredictable to the
         * intermediaries of a browser, which is not our threat model. */
        static unsigned seed;
        if (!seed)
            seed = (unsigned)time(NULL) ^ (unsigned)getpid();
        for (; got < len; got++)
            out[got] = (uint8_t)(rand_r(&seed) >> 7);
    }
}

/* One frame: header + the two payload pieces (a channel byte and data, either may be
 * empty), masked when asked. */
static int frame_append2(struct evbuffer *out, int opcode, const void *a, size_t alen,
                         const void *b, size_t blen, int masked)
{
    uint8_t hdr[WS_MAX_HEADER], mask[4];
    size_t len = alen + blen;
    if (masked)
        ws_random(mask, sizeof(mask));
    size_t hl = ws_frame_header(hdr, opcode, 1, len, masked ? mask : NULL);
    if (evbuffer_add(out, hdr, hl) != 0)
        return -1;
    if (!masked) {
        if ((alen && evbuffer_add(out, a, alen) != 0) || (blen && evbuffer_add(out, b, blen) != 0))
            return -1;
        return 0;
    }
    uint8_t *tmp = malloc(len ? len : 1);
    if (!tmp)
        return -1;
    if (alen)
        memcpy(tmp, a, alen);
    if (blen)
        memcpy(tmp + alen, b, blen);
    ws_mask(tmp, len, mask, 0);
    int rc = len ? evbuffer_add(out, tmp, len) : 0;
    free(tmp);
    return rc;
}

int ws_frame_append(struct evbuffer *out, int opcode, const void *payload, size_t len, int masked)
{
    return frame_append2(out, opcode, payload, len, NULL, 0, masked);
}

int ws_channel_append(struct evbuffer *out, int channel, const void *data, size_t len, int masked)
{
    uint8_t ch = (uint8_t)channel;
    return frame_append2(out, WS_OP_BINARY, &ch, 1, data, len, masked);
}

int ws_close_append(struct evbuffer *out, int code, const char *reason, int masked)
{
    uint8_t pl[WS_MAX_CONTROL];
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > WS_MAX_CONTROL - 2)
        rl = WS_MAX_CONTROL - 2;
    pl[0] = (uint8_t)(code >> 8);
    pl[1] = (uint8_t)code;
    if (rl)
        memcpy(pl + 2, reason, rl);
    return frame_append2(out, WS_OP_CLOSE, pl, rl + 2, NULL, 0, masked);
}

/* ---------------------------------------------------------------------------- decoder */

void ws_decoder_init(ws_decoder_t *d, int server, size_t max_message)
{
    memset(d, 0, sizeof(*d));
    d->server = server;
    d->max_message = max_message;
}

void ws_decoder_release(ws_decoder_t *d)
{
    free(d->msg);
    d->msg = NULL;
    d->msg_len = d->msg_cap = 0;
    d->msg_opcode = 0;
}

static int fail(ws_decoder_t *d, int code, const char *why)
{
    d->close_code = code;
    d->errstr = why;
    return WS_ERROR;
}

typedef struct frame_s {
    int fin, opcode;
    const uint8_t *mask;      /* NULL when unmasked */
    size_t hl;                /* header length */
    uint64_t plen;            /* payload length */
} frame_t;

/* Parse and check a frame header at p[0..avail). WS_OK with f filled, WS_AGAIN when the
 * header is not complete, WS_ERROR on a violation. Sizes are checked here, before the
 * payload arrives, so nobody buffers a frame that will be refused. */
static int frame_head(ws_decoder_t *d, const uint8_t *p, size_t avail, frame_t *f)
{
    if (avail < 2)
        return WS_AGAIN;
    f->fin = (p[0] & 0x80) != 0;
    f->opcode = p[0] & 0x0f;
    int masked = (p[1] & 0x80) != 0;
    f->plen = p[1] & 0x7f;
    f->hl = 2;
    f->mask = NULL;
    if (p[0] & 0x70)
        return fail(d, WS_CLOSE_PROTOCOL, "reserved bits set (no extension was negotiated)");
    if (f->opcode & 0x8) {
        if (f->opcode != WS_OP_CLOSE && f->opcode != WS_OP_PING && f->opcode != WS_OP_PONG)
            return fail(d, WS_CLOSE_PROTOCOL, "unknown control opcode");
        if (!f->fin)
            return fail(d, WS_CLOSE_PROTOCOL, "fragmented control frame");
        if (f->plen > WS_MAX_CONTROL)
            return fail(d, WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
    } else if (f->opcode > WS_OP_BINARY) {
        return fail(d, WS_CLOSE_PROTOCOL, "unknown data opcode");
    }
    if (masked != (d->server != 0))
        return fail(d, WS_CLOSE_PROTOCOL, d->server ? "client frame not masked"
                                                    : "server frame masked");
    if (f->plen == 126) {
        if (avail < 4)
            return WS_AGAIN;
        f->plen = ((uint64_t)p[2] << 8) | p[3];
        f->hl = 4;
    } else if (f->plen == 127) {
        if (avail < 10)
            return WS_AGAIN;
        if (p[2] & 0x80)
            return fail(d, WS_CLOSE_PROTOCOL, "frame length with the most significant bit set");
        f->plen = 0;
        for (int i = 0; i < 8; i++)
            f->plen = (f->plen << 8) | p[2 + i];
        f->hl = 10;
    }
    if (masked) {
        if (avail < f->hl + 4)
            return WS_AGAIN;
        f->mask = p + f->hl;
        f->hl += 4;
    }
    if (!(f->opcode & 0x8)) {
        if (f->opcode == WS_OP_CONT && !d->msg_opcode)
            return fail(d, WS_CLOSE_PROTOCOL, "continuation frame without a message");
        if (f->opcode != WS_OP_CONT && d->msg_opcode)
            return fail(d, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
        size_t have = f->opcode == WS_OP_CONT ? d->msg_len : 0;
        if (f->plen > d->max_message || have + f->plen > d->max_message)
            return fail(d, WS_CLOSE_TOO_BIG, "message too big");
    }
    return WS_OK;
}

static const uint8_t empty_payload[1];

int ws_decode(ws_decoder_t *d, const uint8_t *buf, size_t len, size_t *used, ws_message_t *msg)
{
    size_t off = 0;
    *used = 0;
    memset(msg, 0, sizeof(*msg));
    for (;;) {
        frame_t f;
        const uint8_t *p = buf + off;
        size_t avail = len - off;
        int rc = frame_head(d, p, avail, &f);
        if (rc != WS_OK)
            return rc;
        if (avail - f.hl < f.plen)
            return WS_AGAIN;
        const uint8_t *pl = p + f.hl;
        size_t plen = (size_t)f.plen;
        if (f.opcode & 0x8) {
            if (f.opcode == WS_OP_CLOSE && plen == 1)
                return fail(d, WS_CLOSE_PROTOCOL, "close frame with a one-byte payload");
            memcpy(d->ctl, pl, plen);
            if (f.mask)
                ws_mask(d->ctl, plen, f.mask, 0);
            off += f.hl + plen;
            *used = off;
            msg->opcode = f.opcode;
            msg->data = plen ? d->ctl : empty_payload;
            msg->len = plen;
            msg->close_code = WS_CLOSE_NO_STATUS;
            if (f.opcode == WS_OP_CLOSE && plen >= 2)
                msg->close_code = (d->ctl[0] << 8) | d->ctl[1];
            return WS_OK;
        }
        if (f.opcode != WS_OP_CONT) {
            d->msg_opcode = f.opcode;
            d->msg_len = 0;
        }
        if (d->msg_len + plen > d->msg_cap) {
            size_t cap = d->msg_cap ? d->msg_cap : 4096;
            while (cap < d->msg_len + plen)
                cap *= 2;
            if (cap > d->max_message)
                cap = d->max_message;
            uint8_t *m = realloc(d->msg, cap ? cap : 1);
            if (!m)
                return fail(d, WS_CLOSE_INTERNAL, "out of memory");
            d->msg = m;
            d->msg_cap = cap;
        }
        if (plen) {
            memcpy(d->msg + d->msg_len, pl, plen);
            if (f.mask)
                ws_mask(d->msg + d->msg_len, plen, f.mask, 0);
        }
        d->msg_len += plen;
        off += f.hl + plen;
        *used = off;
        if (f.fin) {
            msg->opcode = d->msg_opcode;
            msg->data = d->msg_len ? d->msg : empty_payload;
            msg->len = d->msg_len;
            d->msg_opcode = 0;
            return WS_OK;
        }
    }
}

int ws_decode_evbuffer(ws_decoder_t *d, struct evbuffer *in, ws_message_t *msg)
{
    for (;;) {
        uint8_t hdr[WS_MAX_HEADER];
        size_t n = evbuffer_get_length(in), used = 0;
        ev_ssize_t got = evbuffer_copyout(in, hdr, n < sizeof(hdr) ? n : sizeof(hdr));
        frame_t f;
        int rc = frame_head(d, hdr, got > 0 ? (size_t)got : 0, &f);
        if (rc != WS_OK)
            return rc;
        size_t flen = f.hl + (size_t)f.plen;
        if (n < flen)
            return WS_AGAIN;
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)flen);
        if (!p)
            return fail(d, WS_CLOSE_INTERNAL, "out of memory");
        rc = ws_decode(d, p, flen, &used, msg);
        evbuffer_drain(in, used);
        if (rc != WS_AGAIN || used == 0)
            return rc;
    }
}

/* ---------------------------------------------------------------------------- handshakes */

static void base64(const uint8_t *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

void ws_accept_key(const char *key, char out[32])
{
    uint8_t digest[SHA_DIGEST_LENGTH];
    char buf[256];
    snprintf(buf, sizeof(buf), "%.200s%s", key ? key : "", WS_GUID);
    SHA1((const unsigned char *)buf, strlen(buf), digest);
    base64(digest, sizeof(digest), out);
}

void ws_client_key(char out[32])
{
    uint8_t raw[16];
    ws_random(raw, sizeof(raw));
    base64(raw, sizeof(raw), out);
}

/* The next comma-separated token of *s (spaces trimmed) into tok; 0 at the end. */
static int next_token(const char **s, char *tok, size_t toklen)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (!*p)
        return 0;
    const char *e = p;
    while (*e && *e != ',')
        e++;
    const char *t = e;
    while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    size_t n = (size_t)(t - p);
    if (n >= toklen)
        n = toklen - 1;
    memcpy(tok, p, n);
    tok[n] = 0;
    *s = e;
    return 1;
}

int ws_header_has_token(const char *value, const char *token)
{
    char tok[256];
    const char *s = value;
    if (!value)
        return 0;
    while (next_token(&s, tok, sizeof(tok)))
        if (!strcasecmp(tok, token))
            return 1;
    return 0;
}

const char *ws_select_protocol(const char *offered, const char *const *supported)
{
    if (!offered)
        return NULL;
    for (; *supported; supported++) {
        char tok[256];
        const char *s = offered;
        while (next_token(&s, tok, sizeof(tok)))
            if (!strcmp(tok, *supported))
                return *supported;
    }
    return NULL;
}

int ws_is_upgrade(const struct evkeyvalq *headers)
{
    struct evkeyvalq *h = (struct evkeyvalq *)headers;
    const char *up = evhttp_find_header(h, "Upgrade");
    const char *conn = evhttp_find_header(h, "Connection");
    const char *ver = evhttp_find_header(h, "Sec-WebSocket-Version");
    const char *key = evhttp_find_header(h, "Sec-WebSocket-Key");
    return ws_header_has_token(up, "websocket") && ws_header_has_token(conn, "upgrade") &&
           ver && !strcmp(ver, "13") && key && *key;
}

long ws_response_head_parse(const char *buf, size_t len, int *status, struct evkeyvalq *headers)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i;
            break;
        }
    if (!end)
        return 0;
    if (end - buf < 12 || strncmp(buf, "HTTP/1.", 7) || buf[8] != ' ' ||
        !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]))
        return -1;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    const char *line = memchr(buf, '\n', (size_t)(end - buf));
    while (headers && line && line < end) {
        line++;
        const char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
        if (!eol)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon && colon > line) {
            char name[128], value[1024];
            size_t nl = (size_t)(colon - line), vl;
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            vl = (size_t)(eol - v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (nl < sizeof(name) && vl < sizeof(value)) {
                memcpy(name, line, nl);
                name[nl] = 0;
                memcpy(value, v, vl);
                value[vl] = 0;
                evhttp_add_header(headers, name, value);
            }
        }
        line = eol + 1;
    }
    return (long)(end - buf) + 4;
}

/* ---------------------------------------------------------------------------- hijack */

/* evhttp frees the connection (evhttp_free): tell the owner, who must forget it. */
static void hijack_closed(struct evhttp_connection *evcon, void *arg)
{
    ws_hijack_t *h = arg;
    ws_hijack_gone_fn *gone = h->gone;
    void *priv = h->priv;
    h->evcon = NULL;
    h->bev = NULL;
    if (gone)
        gone(priv);
}

int ws_hijack_start(ws_hijack_t *h, struct evhttp_request *req, bufferevent_data_cb readcb,
                    bufferevent_data_cb writecb, bufferevent_event_cb eventcb, void *cbarg,
                    ws_hijack_gone_fn *gone, void *priv)
{
    struct evhttp_connection *evcon = req ? evhttp_request_get_connection(req) : NULL;
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    memset(h, 0, sizeof(*h));
    if (!bev)
        return -1;
    h->evcon = evcon;
    h->bev = bev;
    h->gone = gone;
    h->priv = priv;
    evhttp_connection_set_closecb(evcon, hijack_closed, h);
    bufferevent_setcb(bev, readcb, writecb, eventcb, cbarg);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return 0;
}

void ws_hijack_giveback(ws_hijack_t *h)
{
    if (h->evcon) {
        evhttp_connection_set_closecb(h->evcon, NULL, NULL);
        bufferevent_setcb(h->bev, NULL, NULL, NULL, NULL);
    }
    h->evcon = NULL;
    h->bev = NULL;
}

void ws_hijack_close(ws_hijack_t *h)
{
    struct evhttp_connection *evcon = h->evcon;
    h->evcon = NULL;
    h->bev = NULL;
    if (evcon) {
        evhttp_connection_set_closecb(evcon, NULL, NULL);
        evhttp_connection_free(evcon);
    }
}

void ws_write_101(struct evbuffer *out, const char *key, const char *protocol)
{
    char accept[32];
    ws_accept_key(key, accept);
    evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", accept);
    if (protocol && *protocol)
        evbuffer_add_printf(out, "Sec-WebSocket-Protocol: %s\r\n", protocol);
    evbuffer_add(out, "\r\n", 2);
}
