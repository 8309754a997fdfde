/* t/c/spdy.c: unit tests for engine/spdy.c: a client session and an accepting session
 * talking to each other (streams with headers, replies, data, FIN, resets, ping, GOAWAY) with
 * their bytes moved whole, one at a time and in random pieces; the header compression
 * context across blocks; fixed fields byte for byte; frames built here with zlib directly
 * decoded by the session; every bound and protocol error spdy.h lists; stream errors that
 * must not kill the session; API misuse.
 *
 * The SPDY/3 dictionary is built again here, from the same word list but by a loop, and
 * checked against its published Adler-32; zlib then checks spdy.c's copy against it in both
 * directions (the dictionary id in every zlib header). */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "spdy.h"
#include "tap.h"

/* --------------------------------------------------------------------- the dictionary */

static uint8_t dict[2048];
static size_t dict_len;

static void build_dict(void)
{
    static const char *const words[] = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
        "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
        "cache-control", "connection", "content-base", "content-encoding", "content-language",
        "content-length", "content-location", "content-md5", "content-range", "content-type",
        "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
        "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range",
        "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
        "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status",
        "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
    };
    static const char tail[] =
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
        "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
        "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
        "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    dict_len = 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        dict[dict_len++] = 0;
        dict[dict_len++] = 0;
        dict[dict_len++] = 0;
        dict[dict_len++] = (uint8_t)n;
        memcpy(dict + dict_len, words[i], n);
        dict_len += n;
    }
    memcpy(dict + dict_len, tail, sizeof(tail) - 1);
    dict_len += sizeof(tail) - 1;
}

/* ------------------------------------------------------------------- byte builders */

static void add32(struct evbuffer *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    evbuffer_add(b, p, 4);
}

static void add_ctrl(struct evbuffer *b, int version, int type, int flags, uint32_t len)
{
    add32(b, 0x80000000u | (uint32_t)version << 16 | (uint32_t)type);
    add32(b, (uint32_t)flags << 24 | len);
}

static void add_data(struct evbuffer *b, uint32_t id, int flags, const char *data, size_t len)
{
    add32(b, id);
    add32(b, (uint32_t)flags << 24 | (uint32_t)len);
    evbuffer_add(b, data, len);
}

/* A raw header block: count, then "name", "value" pairs from a NULL-terminated list
 * (values may hold NULs only through add_pair). */
static void add_pair(struct evbuffer *b, const char *name, size_t nl, const char *value, size_t vl)
{
    add32(b, (uint32_t)nl);
    evbuffer_add(b, name, nl);
    add32(b, (uint32_t)vl);
    evbuffer_add(b, value, vl);
}

/* The test's own compressor: one zlib stream for a sequence of blocks, with the SPDY
 * dictionary, Z_SYNC_FLUSH per block (or Z_FINISH when asked). */
typedef struct tz_s {
    z_stream z;
} tz_t;

static void tz_init(tz_t *t, const void *d, size_t dlen)
{
    memset(t, 0, sizeof(*t));
    deflateInit(&t->z, Z_DEFAULT_COMPRESSION);
    if (d)
        deflateSetDictionary(&t->z, d, (uInt)dlen);
}

static void tz_block(tz_t *t, struct evbuffer *raw, struct evbuffer *out, int flush)
{
    size_t n = evbuffer_get_length(raw);
    uint8_t *in = malloc(n + 1), buf[4096];
    evbuffer_remove(raw, in, n);
    t->z.next_in = in;
    t->z.avail_in = (uInt)n;
    do {
        t->z.next_out = buf;
        t->z.avail_out = sizeof(buf);
        deflate(&t->z, flush);
        evbuffer_add(out, buf, sizeof(buf) - t->z.avail_out);
    } while (t->z.avail_out == 0);
    free(in);
}

/* A SYN_STREAM (or SYN_REPLY/HEADERS with a 4-byte fixed part) whose header block is `raw`
 * compressed by t; raw is consumed. */
static void add_syn(struct evbuffer *b, tz_t *t, int type, uint32_t id, int flags,
                    struct evbuffer *raw, int flush)
{
    struct evbuffer *z = evbuffer_new();
    tz_block(t, raw, z, flush);
    size_t fixed = type == 1 ? 10 : 4;
    add_ctrl(b, 3, type, flags, (uint32_t)(fixed + evbuffer_get_length(z)));
    add32(b, id);
    if (type == 1) {
        add32(b, 0);
        uint8_t ps[2] = { 0, 0 };
        evbuffer_add(b, ps, 2);
    }
    evbuffer_add_buffer(b, z);
    evbuffer_free(z);
}

/* The common case: a SYN_STREAM with "port: <port>" only. */
static void add_simple_syn(struct evbuffer *b, tz_t *t, uint32_t id, const char *port)
{
    struct evbuffer *raw = evbuffer_new();
    add32(raw, 1);
    add_pair(raw, "port", 4, port, strlen(port));
    add_syn(b, t, 1, id, 0, raw, Z_SYNC_FLUSH);
    evbuffer_free(raw);
}

static size_t hex2bin(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* -------------------------------------------------------------- recording callbacks */

typedef struct rec_s {
    spdy_session_t *s;
    char log[32768];         /* since the last rec_clear */
    size_t len;
    char all[32768];         /* everything, for comparing whole conversations */
    size_t alen;
    int reset_in_on_stream;   /* on_stream resets the stream at once */
    int feed_in_callback;     /* on_data calls spdy_feed (must be refused) */
    int inner_rc;
    char err[256];
} rec_t;

static void append(char *buf, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    if (n > 0)
        *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

static void logf_(rec_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(r->log, sizeof(r->log), &r->len, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    append(r->all, sizeof(r->all), &r->alen, fmt, ap);
    va_end(ap);
}

/* bytes with NUL shown as '|' */
static void log_bytes(rec_t *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        logf_(r, "%c", p[i] ? p[i] : '|');
}

static void rec_stream(void *priv, uint32_t id, const spdy_header_t *h, size_t nh, int fin)
{
    rec_t *r = priv;
    logf_(r, "S%u%s{", id, fin ? "F" : "");
    for (size_t i = 0; i < nh; i++) {
        log_bytes(r, h[i].name, h[i].name_len);
        logf_(r, "=");
        log_bytes(r, h[i].value, h[i].value_len);
        if (h[i].name[h[i].name_len] || h[i].value[h[i].value_len])
            logf_(r, "(not NUL-terminated)");
        logf_(r, i + 1 < nh ? " " : "");
    }
    logf_(r, "} ");
    if (r->reset_in_on_stream)
        spdy_reset(r->s, id, SPDY_REFUSED_STREAM);
}

static void rec_data(void *priv, uint32_t id, const uint8_t *data, size_t len, int fin)
{
    rec_t *r = priv;
    logf_(r, "D%u%s:%s", id, fin ? "F" : "", data ? "" : "(NULL)");
    if (len <= 32) {
        log_bytes(r, (const char *)data, len);
    } else {
        unsigned sum = 0;
        for (size_t i = 0; i < len; i++)
            sum = sum * 31 + data[i];
        logf_(r, "[%zu bytes, sum %08x]", len, sum);
    }
    logf_(r, " ");
    if (r->feed_in_callback)
        r->inner_rc = spdy_feed(r->s, "x", 1, NULL, 0);
}

static void rec_reset(void *priv, uint32_t id, uint32_t status)
{
    logf_(priv, "R%u:%u ", id, status);
}

static void rec_goaway(void *priv, uint32_t last, uint32_t status)
{
    logf_(priv, "G%u:%u ", last, status);
}

static void rec_pong(void *priv, uint32_t id)
{
    logf_(priv, "P%u ", id);
}

static const spdy_callbacks_t rec_cb = { rec_stream, rec_data, rec_reset, rec_goaway };

static void rec_server(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->s = spdy_session_new(&rec_cb, r);
}

static void rec_client(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->s = spdy_client_new(&rec_cb, r);
    spdy_on_pong(r->s, rec_pong);
}

static void rec_clear(rec_t *r)
{
    r->len = 0;
    r->log[0] = 0;
}

/* Feed a whole evbuffer (consumed) to r's session. */
static int feed(rec_t *r, struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    uint8_t *p = malloc(n + 1);
    evbuffer_remove(b, p, n);
    int rc = spdy_feed(r->s, p, n, r->err, sizeof(r->err));
    free(p);
    return rc;
}

/* The session's queued output, removed, into buf (at most cap bytes); returns its length. */
static size_t take_out(spdy_session_t *s, uint8_t *buf, size_t cap)
{
    struct evbuffer *o = spdy_output(s);
    size_t n = evbuffer_get_length(o);
    if (n > cap)
        n = cap;
    evbuffer_remove(o, buf, n);
    evbuffer_drain(o, evbuffer_get_length(o));
    return n;
}

static int out_is(spdy_session_t *s, const char *hex, const char *what)
{
    uint8_t want[256], got[4096];
    size_t wn = hex2bin(hex, want), gn = take_out(s, got, sizeof(got));
    int same = wn == gn && !memcmp(want, got, wn);
    if (!ok(same, "%s", what)) {
        printf("#   got:      ");
        for (size_t i = 0; i < gn && i < 64; i++)
            printf("%02x", got[i]);
        printf("\n#   expected: %s\n", hex);
    }
    return same;
}

/* ------------------------------------------------------------- two sessions talking */

/* Move everything src's session queued into dst's session, in pieces of the given mode:
 * 0 whole, 1 one byte at a time, 2 random sizes 1-40. */
static int move(rec_t *src, rec_t *dst, int mode, unsigned *seed)
{
    struct evbuffer *o = spdy_output(src->s);
    size_t n = evbuffer_get_length(o);
    uint8_t *p = malloc(n + 1);
    evbuffer_remove(o, p, n);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = mode == 0 ? n - off : mode == 1 ? 1 : 1 + (size_t)(rand_r(seed) % 40);
        if (k > n - off)
            k = n - off;
        rc = spdy_feed(dst->s, p + off, k, dst->err, sizeof(dst->err));
        off += k;
    }
    free(p);
    return rc;
}

static int pump(rec_t *c, rec_t *s, int mode, unsigned *seed)
{
    for (int i = 0; i < 8; i++) {
        if (!evbuffer_get_length(spdy_output(c->s)) && !evbuffer_get_length(spdy_output(s->s)))
            return 0;
        if (move(c, s, mode, seed) < 0 || move(s, c, mode, seed) < 0)
            return -1;
    }
    return -1;
}

#define H(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

/* The whole conversation kubectl port-forward has with the agent, and more. Checks run
 * when `check` is set (mode 0); the other modes compare the logs. */
static void scenario(int mode, unsigned seed, int check, char *clog, char *slog, size_t loglen)
{
    rec_t *c = malloc(sizeof(*c)), *s = malloc(sizeof(*s));
    rec_client(c);
    rec_server(s);
    int pumped = 0;

    /* kubectl: error stream, data stream, closes its side of the error stream at once */
    spdy_header_t herr[] = { H("streamtype", "error"), H("port", "8080"), H("requestid", "0") };
    spdy_header_t hdata[] = { H("streamtype", "data"), H("port", "8080"), H("requestid", "0"),
                              H("multi", "a\0b") };
    uint32_t e = spdy_open(c->s, herr, 3, 0), d = spdy_open(c->s, hdata, 4, 0);
    int rc = spdy_data(c->s, e, NULL, 0, 1);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        is_int(e, 1, "the client's first stream is 1");
        is_int(d, 3, "its second is 3");
        is_int(rc, 0, "the client closes its side of the error stream before any reply");
        is_str(s->log, "S1{streamtype=error port=8080 requestid=0} "
                       "S3{streamtype=data port=8080 requestid=0 multi=a|b} D1F: ",
               "the server sees both streams, their headers (a NUL-separated value kept), the FIN");
        is_int(spdy_open_streams(s->s), 2, "the server tracks two streams");
    }

    /* the agent replies to both */
    spdy_header_t hrep[] = { H("x-berth", "ok") };
    int r1 = spdy_reply(s->s, e, hrep, 1, 0), r2 = spdy_reply(s->s, d, NULL, 0, 0);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        ok(r1 == 0 && r2 == 0, "the server replies to both");
        is_str(c->log, "S1{x-berth=ok} S3{} ", "the client sees both replies, with their headers");
    }

    /* data both ways on the data stream; the agent writes an error and closes its side of
     * the error stream, which then has both sides finished */
    rec_clear(c);
    rec_clear(s);
    spdy_data(c->s, d, "GET / HTTP/1.0\r\n\r\n", 18, 0);
    spdy_data(s->s, d, "HTTP/1.0 200 OK\r\n", 17, 0);
    spdy_data(s->s, e, "boom", 4, 1);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        is_str(s->log, "D3:GET / HTTP/1.0\r\n\r\n ", "the server receives the client's data");
        is_str(c->log, "D3:HTTP/1.0 200 OK\r\n D1F:boom ", "the client receives both");
        is_int(spdy_open_streams(s->s), 1, "the error stream is gone on the server");
        is_int(spdy_open_streams(c->s), 1, "and on the client");
        is_int(spdy_data(s->s, e, "x", 1, 0), -1, "no data on a finished stream");
    }

    /* FIN both ways on the data stream */
    rec_clear(c);
    rec_clear(s);
    spdy_data(c->s, d, NULL, 0, 1);
    spdy_data(s->s, d, "bye", 3, 1);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        is_str(s->log, "D3F: ", "the server sees the client's FIN");
        is_str(c->log, "D3F:bye ", "the client sees the server's last data with FIN");
        is_int(spdy_open_streams(s->s), 0, "both sides finished: the server tracks no stream");
        is_int(spdy_open_streams(c->s), 0, "nor does the client");
    }

    /* resets both ways */
    rec_clear(c);
    rec_clear(s);
    uint32_t a = spdy_open(c->s, hdata, 3, 0), b = spdy_open(c->s, hdata, 3, 0);
    pumped |= pump(c, s, mode, &seed);
    rec_clear(s);
    int x1 = spdy_reset(s->s, a, SPDY_CANCEL), x2 = spdy_reset(c->s, b, SPDY_CANCEL);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        ok(a == 5 && b == 7 && x1 == 0 && x2 == 0, "streams 5 and 7 opened and reset");
        is_str(c->log, "R5:5 ", "the client hears the server's reset of 5 (CANCEL)");
        is_str(s->log, "R7:5 ", "the server hears the client's reset of 7");
        ok(spdy_open_streams(s->s) == 0 && spdy_open_streams(c->s) == 0, "reset streams are forgotten");
        is_int(spdy_reset(s->s, a, SPDY_CANCEL), -1, "a forgotten stream cannot be reset again");
    }

    /* ping: the server echoes, the client hears its own id back */
    rec_clear(c);
    rec_clear(s);
    uint32_t p1 = spdy_ping(c->s), p2 = spdy_ping(c->s);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        ok(p1 == 1 && p2 == 3, "the client's pings are 1 and 3");
        is_str(c->log, "P1 P3 ", "both echoed back to on_pong");
        is_str(s->log, "", "the server's application sees nothing of pings");
    }

    /* more than SPDY_DATA_CHUNK at once: split into frames, FIN on the last */
    rec_clear(c);
    uint32_t big = spdy_open(c->s, hdata, 3, 1);
    pumped |= pump(c, s, mode, &seed);
    char *blob = malloc(80000);
    for (int i = 0; i < 80000; i++)
        blob[i] = (char)(i * 7);
    spdy_reply(s->s, big, NULL, 0, 0);
    size_t before = evbuffer_get_length(spdy_output(s->s));
    spdy_data(s->s, big, blob, 80000, 1);
    size_t framed = evbuffer_get_length(spdy_output(s->s)) - before;
    pumped |= pump(c, s, mode, &seed);
    free(blob);
    if (check) {
        is_int(big, 9, "a stream opened with FIN: 9");
        is_int(framed, 80000 + 3 * 8, "80000 bytes go out as three frames");
        ok(strstr(c->log, "D9:[32768 bytes") && strstr(c->log, "D9F:[14464 bytes"),
           "of 32768, 32768 and 14464 bytes, FIN on the last only");
        ok(strstr(c->log, "D9F:[") == strrchr(c->log, 'D'), "FIN only on the last");
        is_int(spdy_open_streams(s->s), 0, "both sides finished stream 9");
    }

    /* GOAWAY: the last good stream is the last the server accepted */
    rec_clear(c);
    int g = spdy_goaway(s->s, SPDY_GOAWAY_OK);
    pumped |= pump(c, s, mode, &seed);
    if (check) {
        is_int(g, 0, "the server sends GOAWAY");
        is_str(c->log, "G9:0 ", "the client hears GOAWAY, last good 9, status OK");
        is_int(spdy_open(c->s, hdata, 3, 0), 0, "the client opens nothing after GOAWAY");
        is_int(pumped, 0, "no session failed during the conversation");
    }

    snprintf(clog, loglen, "%.*s", (int)c->alen, c->all);
    snprintf(slog, loglen, "%.*s|%d", (int)s->alen, s->all, pumped);
    spdy_session_free(c->s);
    spdy_session_free(s->s);
    free(c);
    free(s);
}

/* ------------------------------------------------------------------- error helpers */

/* A fresh accepting session fed `b` (consumed) whole, then again byte by byte: both must
 * fail with `want` in the message, queue GOAWAY PROTOCOL_ERROR (last good `last`), and stay
 * failed. A PING follows the bad bytes in the same call: nothing after the error may be
 * parsed, so no echo may follow the GOAWAY. */
static void expect_error(struct evbuffer *b, const char *want, uint32_t last, const char *what)
{
    add_ctrl(b, 3, 6, 0, 4);
    add32(b, 11);
    size_t n = evbuffer_get_length(b);
    uint8_t *p = malloc(n + 1);
    evbuffer_remove(b, p, n);
    char goaway[64];
    snprintf(goaway, sizeof(goaway), "8003000700000008%08x00000001", last);

    for (int bytewise = 0; bytewise < 2; bytewise++) {
        rec_t *r = malloc(sizeof(*r));
        rec_server(r);
        int rc = 0;
        if (bytewise) {
            for (size_t i = 0; i < n && rc == 0; i++)
                rc = spdy_feed(r->s, p + i, 1, r->err, sizeof(r->err));
        } else {
            rc = spdy_feed(r->s, p, n, r->err, sizeof(r->err));
        }
        if (!bytewise) {
            is_int(rc, -1, "%s: -1", what);
            if (!ok(strstr(r->err, want) != NULL, "%s: the error says '%s'", what, want))
                diag("error: %s", r->err);
            /* the GOAWAY is the last thing queued (a RST or reply may precede it) */
            uint8_t got[4096];
            size_t gn = take_out(r->s, got, sizeof(got));
            char tailhex[40] = "";
            for (size_t i = gn >= 16 ? gn - 16 : 0; i < gn; i++)
                snprintf(tailhex + strlen(tailhex), sizeof(tailhex) - strlen(tailhex), "%02x", got[i]);
            is_str(tailhex, goaway, "%s: GOAWAY PROTOCOL_ERROR queued", what);
            char err2[256] = "";
            int rc2 = spdy_feed(r->s, "\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12, err2,
                                sizeof(err2));
            ok(rc2 == -1 && strstr(err2, want), "%s: later calls keep returning -1 and why", what);
            ok(spdy_goaway(r->s, 0) == -1 && spdy_reply(r->s, 1, NULL, 0, 0) == -1 &&
               evbuffer_get_length(spdy_output(r->s)) == 0, "%s: and queue nothing more", what);
        } else {
            ok(rc == -1 && strstr(r->err, want), "%s: the same byte by byte", what);
        }
        spdy_session_free(r->s);
        free(r);
    }
    free(p);
}

/* ------------------------------------------------------------------------------ main */

int main(void)
{
    static char clog[4][32800], slog[4][32800];
    uint8_t buf[200000];
    rec_t *r = malloc(sizeof(*r)), *c = malloc(sizeof(*c));
    struct evbuffer *b = evbuffer_new(), *raw = evbuffer_new();
    tz_t tz;

    /* ---- the dictionary ---- */
    build_dict();
    is_int(dict_len, 1423, "the SPDY/3 dictionary is 1423 bytes");
    is_int(adler32(1, dict, (uInt)dict_len), 0xe3c6a7c2, "its Adler-32 is the published 0xe3c6a7c2");

    /* ---- two sessions talking, with every split of the bytes ---- */
    scenario(0, 1, 1, clog[0], slog[0], sizeof(clog[0]));
    scenario(1, 1, 0, clog[1], slog[1], sizeof(clog[1]));
    scenario(2, 7, 0, clog[2], slog[2], sizeof(clog[2]));
    scenario(2, 12345, 0, clog[3], slog[3], sizeof(clog[3]));
    ok(!strcmp(clog[0], clog[1]) && !strcmp(slog[0], slog[1]), "one byte at a time: the same callbacks");
    ok(!strcmp(clog[0], clog[2]) && !strcmp(slog[0], slog[2]), "random pieces: the same callbacks");
    ok(!strcmp(clog[0], clog[3]) && !strcmp(slog[0], slog[3]), "other random pieces: the same callbacks");

    /* ---- the compression context spans blocks ---- */
    rec_client(c);
    rec_server(r);
    size_t len[3];
    for (int i = 0; i < 3; i++) {
        char rid[16];
        snprintf(rid, sizeof(rid), "%d", i);
        spdy_header_t h[] = { H("streamtype", "data"), H("port", "8080"),
                              { "requestid", 9, rid, strlen(rid) } };
        size_t before = evbuffer_get_length(spdy_output(c->s));
        spdy_open(c->s, h, 3, 0);
        len[i] = evbuffer_get_length(spdy_output(c->s)) - before;
    }
    ok(len[1] < len[0], "the second SYN_STREAM (%zu bytes) is smaller than the first (%zu)", len[1], len[0]);
    ok(len[2] <= len[1], "the third (%zu) no larger than the second", len[2]);
    /* inflate the client's blocks with zlib directly: one stream across the three */
    {
        size_t n = take_out(c->s, buf, sizeof(buf)), off = 0;
        evbuffer_add(b, buf, n);   /* to feed the server afterwards */
        z_stream zi;
        memset(&zi, 0, sizeof(zi));
        inflateInit(&zi);
        char joined[1024] = "";
        int good = 1;
        for (int i = 0; i < 3 && off + 18 <= n; i++) {
            size_t flen = (size_t)buf[off + 5] << 16 | (size_t)buf[off + 6] << 8 | buf[off + 7];
            uint8_t out[512];
            zi.next_in = buf + off + 18;
            zi.avail_in = (uInt)(flen - 10);
            zi.next_out = out;
            zi.avail_out = sizeof(out);
            int zrc = inflate(&zi, Z_SYNC_FLUSH);
            if (zrc == Z_NEED_DICT) {
                good &= inflateSetDictionary(&zi, dict, (uInt)dict_len) == Z_OK;
                zrc = inflate(&zi, Z_SYNC_FLUSH);
            }
            good &= zrc == Z_OK && zi.avail_in == 0;
            size_t on = sizeof(out) - zi.avail_out;
            for (size_t j = 0; j < on; j++)
                snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%c",
                         out[j] >= 32 && out[j] < 127 ? out[j] : '.');
            snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "|");
            off += 8 + flen;
        }
        inflateEnd(&zi);
        ok(good && off == n, "zlib with the test's dictionary inflates spdy.c's three blocks as one stream");
        is_str(joined,
               "........streamtype....data....port....8080....requestid....0|"
               "........streamtype....data....port....8080....requestid....1|"
               "........streamtype....data....port....8080....requestid....2|",
               "to the raw blocks draft 3 describes");
    }
    is_int(feed(r, b), 0, "the server reads all three");
    is_str(r->log, "S1{streamtype=data port=8080 requestid=0} S3{streamtype=data port=8080 requestid=1} "
                   "S5{streamtype=data port=8080 requestid=2} ",
           "and decodes the second and third blocks with the context the first left");
    /* the other direction: the server's replies, one stream across blocks too */
    rec_clear(c);
    spdy_header_t hrep[] = { H("x-reply", "one") };
    spdy_reply(r->s, 1, hrep, 1, 0);
    spdy_reply(r->s, 3, hrep, 1, 0);
    spdy_reply(r->s, 5, hrep, 1, 1);
    is_int(move(r, c, 0, NULL), 0, "the client reads three replies");
    is_str(c->log, "S1{x-reply=one} S3{x-reply=one} S5F{x-reply=one} ", "decoded across blocks");
    spdy_session_free(c->s);
    spdy_session_free(r->s);

    /* ---- fixed fields byte for byte ---- */
    rec_client(c);
    spdy_header_t hone[] = { H("port", "80") };
    is_int(spdy_open(c->s, hone, 1, 1), 1, "client opens stream 1 with FIN");
    {
        size_t n = take_out(c->s, buf, sizeof(buf));
        size_t flen = (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
        ok(n >= 18 && !memcmp(buf, "\x80\x03\x00\x01\x01", 5) && flen == n - 8,
           "SYN_STREAM: version 3, type 1, FIN, length = the rest");
        ok(!memcmp(buf + 8, "\x00\x00\x00\x01" "\x00\x00\x00\x00" "\x00\x00", 10),
           "stream 1, no associated stream, priority 0, slot 0");
        ok((buf[18] & 0x0f) == 8 && (buf[19] & 0x20) && !memcmp(buf + 20, "\xe3\xc6\xa7\xc2", 4),
           "the block starts a zlib stream (deflate, FDICT) with the SPDY/3 dictionary's id");
    }
    is_int(spdy_ping(c->s), 1, "client ping 1");
    out_is(c->s, "800300060000000400000001", "PING: type 6, length 4, id 1");
    spdy_session_free(c->s);

    rec_server(r);
    tz_init(&tz, dict, dict_len);
    add32(raw, 3);
    add_pair(raw, "streamtype", 10, "data", 4);
    add_pair(raw, "port", 4, "8080", 4);
    add_pair(raw, "multi", 5, "one\0two\0three", 13);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    is_int(feed(r, b), 0, "a SYN_STREAM compressed here by zlib directly is accepted");
    is_str(r->log, "S1{streamtype=data port=8080 multi=one|two|three} ",
           "and decoded, the three-part value whole");
    add_ctrl(b, 3, 6, 0, 4);
    add32(b, 7);
    feed(r, b);
    out_is(r->s, "800300060000000400000007", "the peer's PING 7 comes back byte for byte");
    add_ctrl(b, 3, 6, 0, 4);
    add32(b, 8);
    feed(r, b);
    out_is(r->s, "", "a PING with our parity (a pong to nothing we sent) is not echoed");

    is_int(spdy_reply(r->s, 1, NULL, 0, 0), 0, "reply with no headers");
    {
        size_t n = take_out(r->s, buf, sizeof(buf));
        size_t flen = (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
        ok(n > 12 && !memcmp(buf, "\x80\x03\x00\x02\x00", 5) && flen == n - 8 &&
           !memcmp(buf + 8, "\x00\x00\x00\x01", 4), "SYN_REPLY: type 2, no flags, length, stream 1");
        z_stream zi;
        memset(&zi, 0, sizeof(zi));
        inflateInit(&zi);
        uint8_t out[64];
        zi.next_in = buf + 12;
        zi.avail_in = (uInt)(n - 12);
        zi.next_out = out;
        zi.avail_out = sizeof(out);
        int zrc = inflate(&zi, Z_SYNC_FLUSH);
        if (zrc == Z_NEED_DICT && inflateSetDictionary(&zi, dict, (uInt)dict_len) == Z_OK)
            zrc = inflate(&zi, Z_SYNC_FLUSH);
        ok(zrc == Z_OK && sizeof(out) - zi.avail_out == 4 && !memcmp(out, "\0\0\0\0", 4),
           "its block inflates (test's dictionary) to a count of 0");
        inflateEnd(&zi);
    }
    spdy_data(r->s, 1, "hi", 2, 0);
    out_is(r->s, "000000010000000268" "69", "data frame: stream 1, no flags, length 2, the bytes");
    spdy_data(r->s, 1, NULL, 0, 1);
    out_is(r->s, "0000000101000000", "an empty data frame with FIN");
    add_simple_syn(b, &tz, 3, "81");
    feed(r, b);
    is_int(spdy_reset(r->s, 3, SPDY_CANCEL), 0, "reset stream 3");
    out_is(r->s, "800300030000000800000003" "00000005", "RST_STREAM: type 3, length 8, stream 3, CANCEL");
    spdy_goaway(r->s, SPDY_GOAWAY_OK);
    out_is(r->s, "8003000700000008" "00000003" "00000000", "GOAWAY: type 7, length 8, last good 3, OK");
    rec_clear(r);
    add_simple_syn(b, &tz, 5, "82");
    is_int(feed(r, b), 0, "a SYN_STREAM after our GOAWAY");
    out_is(r->s, "800300030000000800000005" "00000003", "is refused (RST_STREAM REFUSED_STREAM)");
    is_str(r->log, "", "and not handed to on_stream");
    spdy_session_free(r->s);
    deflateEnd(&tz.z);

    /* ---- bounds and protocol errors ---- */
    add_ctrl(b, 3, 1, 0, SPDY_MAX_FRAME + 1);
    expect_error(b, "longer than", 0, "control frame over SPDY_MAX_FRAME");
    add32(b, 1);
    add32(b, SPDY_MAX_FRAME + 1);
    expect_error(b, "longer than", 0, "data frame over SPDY_MAX_FRAME");

    tz_init(&tz, dict, dict_len);
    {
        char *big = malloc(70000);
        memset(big, 'a', 70000);
        add32(raw, 1);
        add_pair(raw, "x", 1, big, 70000);
        free(big);
    }
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    ok(evbuffer_get_length(b) < 1000, "a 70 KB block compresses to a small frame");
    expect_error(b, "inflates past", 0, "inflated block over SPDY_MAX_HEADERS");
    deflateEnd(&tz.z);

    tz_init(&tz, dict, dict_len);
    add32(raw, SPDY_MAX_PAIRS + 1);
    for (int i = 0; i <= SPDY_MAX_PAIRS; i++)
        add_pair(raw, "a", 1, "", 0);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "more than 64", 0, "65 header pairs");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 0xffffffff);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "pairs", 0, "a pair count of 2^32-1");
    deflateEnd(&tz.z);

    add_ctrl(b, 2, 1, 0, 10);
    evbuffer_add(b, "\0\0\0\1\0\0\0\0\0\0", 10);
    expect_error(b, "version 2", 0, "a SPDY/2 control frame");

    static const struct { int type; uint32_t len; const char *what; } shorts[] = {
        { 1, 6, "SYN_STREAM of 6 bytes" }, { 2, 2, "SYN_REPLY of 2 bytes" },
        { 3, 4, "RST_STREAM of 4 bytes" }, { 6, 2, "PING of 2 bytes" },
        { 7, 4, "GOAWAY of 4 bytes (SPDY/2's size)" }, { 8, 3, "HEADERS of 3 bytes" },
    };
    for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
        add_ctrl(b, 3, shorts[i].type, 0, shorts[i].len);
        evbuffer_add(b, "\0\0\0\1\0\0\0\0", shorts[i].len);
        expect_error(b, "shorter than its fixed fields", 0, shorts[i].what);
    }

    tz_init(&tz, dict, dict_len);
    add_simple_syn(b, &tz, 0, "1");
    expect_error(b, "stream id 0", 0, "SYN_STREAM on stream 0");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add_simple_syn(b, &tz, 2, "1");
    expect_error(b, "are odd", 0, "SYN_STREAM with an even id");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add_simple_syn(b, &tz, 3, "1");
    add_simple_syn(b, &tz, 1, "1");
    expect_error(b, "not above the last one (3)", 3, "SYN_STREAM 1 after 3");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add_simple_syn(b, &tz, 3, "1");
    add_simple_syn(b, &tz, 3, "1");
    expect_error(b, "not above", 3, "SYN_STREAM 3 twice");
    deflateEnd(&tz.z);
    add_data(b, 0, 0, "x", 1);
    expect_error(b, "stream 0", 0, "a data frame on stream 0");
    add_ctrl(b, 3, 3, 0, 8);
    add32(b, 0);
    add32(b, 5);
    expect_error(b, "stream id 0", 0, "RST_STREAM on stream 0");

    add_ctrl(b, 3, 1, 0, 10 + 10);
    evbuffer_add(b, "\0\0\0\1\0\0\0\0\0\0", 10);
    evbuffer_add(b, "\x78\xf9\xe3\xc6\xa7\xc2\xff\xff\xff\xff", 10);
    expect_error(b, "corrupt header block", 0, "corrupt deflate data");
    add_ctrl(b, 3, 1, 0, 10 + 8);
    evbuffer_add(b, "\0\0\0\1\0\0\0\0\0\0", 10);
    evbuffer_add(b, "not zlib", 8);
    expect_error(b, "corrupt header block", 0, "not a zlib stream");
    add_ctrl(b, 3, 1, 0, 10);
    evbuffer_add(b, "\0\0\0\1\0\0\0\0\0\0", 10);
    expect_error(b, "no pair count", 0, "an empty header block");

    tz_init(&tz, "another dictionary", 18);
    add32(raw, 0);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "dictionary other than", 0, "a block compressed with another dictionary");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 0);
    add_syn(b, &tz, 1, 1, 0, raw, Z_FINISH);
    expect_error(b, "ended its header compression", 0, "a block that ends the zlib stream");
    deflateEnd(&tz.z);

    tz_init(&tz, dict, dict_len);
    add32(raw, 1);
    add32(raw, 100);
    evbuffer_add(raw, "abc", 3);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "name length 100 runs past the block", 0, "a name length past the block");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 1);
    add32(raw, 5);
    evbuffer_add(raw, "port", 4);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "name length 5 runs past the block", 0, "a name length one past the block's end");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 1);
    add32(raw, 4);
    evbuffer_add(raw, "port", 4);
    add32(raw, 9);
    evbuffer_add(raw, "80", 2);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "value length 9 runs past", 0, "a value length past the block");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 1);
    add_pair(raw, "port", 4, "80", 2);
    evbuffer_add(raw, "zz", 2);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "2 bytes after the last header pair", 0, "bytes after the last pair");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 2);
    add_pair(raw, "port", 4, "80", 2);
    evbuffer_add(raw, "\0\0", 2);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "ends inside pair 1", 0, "a block cut inside a length");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 1);
    add_pair(raw, "Port", 4, "80", 2);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "'Port' is not lowercase", 0, "an uppercase header name");
    deflateEnd(&tz.z);
    tz_init(&tz, dict, dict_len);
    add32(raw, 1);
    add_pair(raw, "", 0, "80", 2);
    add_syn(b, &tz, 1, 1, 0, raw, Z_SYNC_FLUSH);
    expect_error(b, "empty header name", 0, "an empty header name");
    deflateEnd(&tz.z);

    /* ---- stream errors and skipped frames keep the session ---- */
    rec_server(r);
    tz_init(&tz, dict, dict_len);
    add_data(b, 5, 0, "x", 1);
    is_int(feed(r, b), 0, "data for a stream never opened: not fatal");
    out_is(r->s, "800300030000000800000005" "00000002", "RST_STREAM INVALID_STREAM queued for it");
    add_ctrl(b, 3, 10, 0, 4);   /* CREDENTIAL */
    add32(b, 0);
    add_ctrl(b, 3, 0x7fff, 0xff, 3);
    evbuffer_add(b, "abc", 3);
    add_ctrl(b, 3, 5, 0, 0);    /* NOOP */
    add_ctrl(b, 3, 4, 0, 12);   /* SETTINGS: 1 entry */
    add32(b, 1);
    add32(b, 0x01000007);
    add32(b, 256);
    add_ctrl(b, 3, 9, 0, 8);    /* WINDOW_UPDATE, session-wide */
    add32(b, 0);
    add32(b, 65536);
    add_ctrl(b, 3, 3, 0, 8);    /* RST for a stream we do not know */
    add32(b, 11);
    add32(b, 5);
    is_int(feed(r, b), 0, "CREDENTIAL, an unknown type, NOOP, SETTINGS, WINDOW_UPDATE, stray RST");
    out_is(r->s, "", "are skipped without a word");
    is_str(r->log, "", "and without a callback");
    add_simple_syn(b, &tz, 1, "80");
    add_data(b, 1, 1, "last", 4);
    add_data(b, 1, 0, "more", 4);
    is_int(feed(r, b), 0, "data after the peer's FIN: not fatal");
    is_str(r->log, "S1{port=80} D1F:last R1:9 ", "the application is told the stream was reset");
    out_is(r->s, "800300030000000800000001" "00000009", "RST_STREAM STREAM_ALREADY_CLOSED");
    is_int(spdy_open_streams(r->s), 0, "and the stream forgotten");
    rec_clear(r);
    add_simple_syn(b, &tz, 3, "80");
    {
        struct evbuffer *hb = evbuffer_new();
        add32(hb, 1);
        add_pair(hb, "trailer", 7, "x", 1);
        add_syn(b, &tz, 8, 3, 1, hb, Z_SYNC_FLUSH);   /* HEADERS with FIN */
        add32(hb, 0);
        add_syn(b, &tz, 2, 3, 0, hb, Z_SYNC_FLUSH);   /* SYN_REPLY to the server */
        evbuffer_free(hb);
    }
    add_simple_syn(b, &tz, 7, "81");
    is_int(feed(r, b), 0, "HEADERS with FIN, then a SYN_REPLY sent to the accepting side");
    is_str(r->log, "S3{port=80} D3F: R3:2 S7{port=81} ",
           "HEADERS' FIN closes the peer's side; the bogus reply resets the stream; the context holds");
    out_is(r->s, "800300030000000800000003" "00000002", "RST_STREAM INVALID_STREAM for the reply");
    add_ctrl(b, 3, 6, 0, 4);
    add32(b, 9);
    add_data(b, 7, 0, "ok", 2);
    is_int(feed(r, b), 0, "the session goes on");
    out_is(r->s, "800300060000000400000009", "answering pings");
    spdy_session_free(r->s);
    deflateEnd(&tz.z);

    /* the client side: a duplicate reply, a pushed stream */
    rec_client(c);
    spdy_open(c->s, hone, 1, 0);
    evbuffer_drain(spdy_output(c->s), evbuffer_get_length(spdy_output(c->s)));
    tz_init(&tz, dict, dict_len);
    add32(raw, 0);
    add_syn(b, &tz, 2, 1, 0, raw, Z_SYNC_FLUSH);
    add32(raw, 0);
    add_syn(b, &tz, 2, 1, 0, raw, Z_SYNC_FLUSH);
    add32(raw, 0);
    add_syn(b, &tz, 1, 2, 0, raw, Z_SYNC_FLUSH);
    is_int(feed(c, b), 0, "client: two replies for one stream, then a pushed stream");
    is_str(c->log, "S1{} R1:8 ", "the second reply resets the stream (STREAM_IN_USE)");
    out_is(c->s, "800300030000000800000001" "00000008" "800300030000000800000002" "00000003",
           "RST STREAM_IN_USE, and RST REFUSED_STREAM for the pushed stream 2");
    add_ctrl(b, 3, 6, 0, 4);
    add32(b, 2);
    feed(c, b);
    out_is(c->s, "800300060000000400000002", "the client echoes the server's (even) ping");
    spdy_session_free(c->s);
    deflateEnd(&tz.z);

    /* ---- API misuse ---- */
    rec_server(r);
    tz_init(&tz, dict, dict_len);
    add_simple_syn(b, &tz, 1, "80");
    feed(r, b);
    spdy_header_t upper[] = { H("Port", "80") }, empty[] = { { "", 0, "x", 1 } };
    spdy_header_t many[SPDY_MAX_PAIRS + 1];
    for (int i = 0; i <= SPDY_MAX_PAIRS; i++)
        many[i] = (spdy_header_t)H("a", "b");
    is_int(spdy_data(r->s, 1, "x", 1, 0), -1, "no data before our SYN_REPLY (spdystream would drop it)");
    is_int(spdy_reply(r->s, 3, NULL, 0, 0), -1, "no reply for an unknown stream");
    is_int(spdy_reply(r->s, 1, upper, 1, 0), -1, "no reply with an uppercase name");
    is_int(spdy_reply(r->s, 1, empty, 1, 0), -1, "nor an empty name");
    is_int(spdy_reply(r->s, 1, many, SPDY_MAX_PAIRS + 1, 0), -1, "nor 65 headers");
    {
        char *v = calloc(1, SPDY_MAX_HEADERS);
        spdy_header_t huge[] = { { "x", 1, v, SPDY_MAX_HEADERS } };
        is_int(spdy_reply(r->s, 1, huge, 1, 0), -1, "nor a block over SPDY_MAX_HEADERS bytes");
        free(v);
    }
    is_int(evbuffer_get_length(spdy_output(r->s)), 0, "none of them queued anything");
    is_int(spdy_reply(r->s, 1, many, SPDY_MAX_PAIRS, 1), 0, "64 headers and FIN are fine");
    is_int(spdy_reply(r->s, 1, NULL, 0, 0), -1, "but only one reply");
    is_int(spdy_data(r->s, 1, "x", 1, 0), -1, "no data after our FIN");
    is_int(spdy_data(r->s, 9, "x", 1, 0), -1, "nor on an unknown stream");
    is_int(spdy_reset(r->s, 1, 0), -1, "a reset needs a status");
    is_int(spdy_reset(r->s, 9, SPDY_CANCEL), -1, "and a stream we track");
    is_int(spdy_open(r->s, hone, 1, 0), 0, "the accepting side opens no streams");
    is_int(spdy_ping(r->s), 0, "nor pings first");
    evbuffer_drain(spdy_output(r->s), evbuffer_get_length(spdy_output(r->s)));
    /* callbacks that call back in */
    r->reset_in_on_stream = 1;
    add_simple_syn(b, &tz, 3, "80");
    is_int(feed(r, b), 0, "on_stream resetting its own stream");
    out_is(r->s, "800300030000000800000003" "00000003", "queues the RST");
    is_int(spdy_open_streams(r->s), 1, "and forgets the stream (1 is still open)");
    r->reset_in_on_stream = 0;
    r->feed_in_callback = 1;
    add_data(b, 1, 0, "y", 1);
    is_int(feed(r, b), 0, "on_data calling spdy_feed");
    is_int(r->inner_rc, -1, "is refused");
    r->feed_in_callback = 0;
    add_data(b, 1, 0, "z", 1);
    is_int(feed(r, b), 0, "without harm to the session");
    spdy_session_free(r->s);
    deflateEnd(&tz.z);

    /* a table bound: streams beyond the session's limit are refused, not fatal */
    rec_server(r);
    tz_init(&tz, dict, dict_len);
    for (uint32_t id = 1; id <= 2 * 1025; id += 2) {
        add32(raw, 0);
        add_syn(b, &tz, 1, id, 0, raw, Z_SYNC_FLUSH);
    }
    is_int(feed(r, b), 0, "1025 streams opened and never finished");
    is_int(spdy_open_streams(r->s), 1024, "1024 are tracked");
    out_is(r->s, "800300030000000800000801" "00000003", "the 1025th is refused");
    spdy_session_free(r->s);
    deflateEnd(&tz.z);

    spdy_session_free(NULL);
    evbuffer_free(b);
    evbuffer_free(raw);
    free(r);
    free(c);
    return done_testing();
}
