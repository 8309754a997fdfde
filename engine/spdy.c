/* spdy.c: see spdy.h. A SPDY/3.1 session codec: frames in, callbacks out; calls in, frames
 * queued in an evbuffer out.
 *
 * Layout: the header dictionary; byte helpers; the stream table; header blocks (encode +
 * deflate, inflate + decode); frame writers; the frame reader (spdy_feed); the public calls.
 *
 * Memory ownership, in one place:
 *   - the session owns `in` (bytes fed but not yet parsed: at most one partial frame plus
 *     whatever the last spdy_feed call brought), `out` (frames queued for the caller, who
 *     drains it), both zlib streams, the stream table and `hbuf` (the last inflated header
 *     block, which also holds the NUL-terminated names and values handed to callbacks);
 *   - pointers given to callbacks (headers, data) point into `hbuf` or into `in` and are
 *     valid only during the call: the frame is drained from `in` right after it;
 *   - spdy_header_t arrays passed to spdy_reply/spdy_open are borrowed for the call only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "spdy.h"

#define SPDY_VERSION 3

/* Control frame types (draft 3, 2.6). NOOP (5) and CREDENTIAL (10) are skipped like any
 * unknown type. */
#define T_SYN_STREAM    1
#define T_SYN_REPLY     2
#define T_RST_STREAM    3
#define T_SETTINGS      4
#define T_PING          6
#define T_GOAWAY        7
#define T_HEADERS       8
#define T_WINDOW_UPDATE 9

#define FLAG_FIN            0x01
#define FLAG_UNIDIRECTIONAL 0x02

#define MAX_STREAM_ID 0x7fffffffu

/* Streams tracked at once. A peer that opens more without finishing any gets
 * RST_STREAM REFUSED_STREAM for the extra ones instead of growing the table without end
 * (kubectl opens two per forwarded connection). */
#define SESSION_MAX_STREAMS 1024

/* ------------------------------------------------------------------- the dictionary */

/* The zlib dictionary both directions start from: SPDY Protocol Draft 3, section
 * 2.6.10.1 ("Compression"), 1423 bytes. It is 65 header words, each after its length as a
 * 32-bit big-endian integer, then one run of status codes, reason phrases, dates and
 * common values with no lengths. Written here from that list; its Adler-32 (the
 * dictionary id in every zlib header the peer sends) must be 0xe3c6a7c2, which
 * t/c/spdy.c checks against a copy the test builds on its own. Adjacent string literals
 * keep each "\x.." length from swallowing the word's first letters. */
static const char spdy_dict[] =
    "\0\0\0\x07" "options"           "\0\0\0\x04" "head"
    "\0\0\0\x04" "post"              "\0\0\0\x03" "put"
    "\0\0\0\x06" "delete"            "\0\0\0\x05" "trace"
    "\0\0\0\x06" "accept"            "\0\0\0\x0e" "accept-charset"
    "\0\0\0\x0f" "accept-encoding"   "\0\0\0\x0f" "accept-language"
    "\0\0\0\x0d" "accept-ranges"     "\0\0\0\x03" "age"
    "\0\0\0\x05" "allow"             "\0\0\0\x0d" "authorization"
    "\0\0\0\x0d" "cache-control"     "\0\0\0\x0a" "connection"
    "\0\0\0\x0c" "content-base"      "\0\0\0\x10" "content-encoding"
    "\0\0\0\x10" "content-language"  "\0\0\0\x0e" "content-length"
    "\0\0\0\x10" "content-location"  "\0\0\0\x0b" "content-md5"
    "\0\0\0\x0d" "content-range"     "\0\0\0\x0c" "content-type"
    "\0\0\0\x04" "date"              "\0\0\0\x04" "etag"
    "\0\0\0\x06" "expect"            "\0\0\0\x07" "expires"
    "\0\0\0\x04" "from"              "\0\0\0\x04" "host"
    "\0\0\0\x08" "if-match"          "\0\0\0\x11" "if-modified-since"
    "\0\0\0\x0d" "if-none-match"     "\0\0\0\x08" "if-range"
    "\0\0\0\x13" "if-unmodified-since" "\0\0\0\x0d" "last-modified"
    "\0\0\0\x08" "location"          "\0\0\0\x0c" "max-forwards"
    "\0\0\0\x06" "pragma"            "\0\0\0\x12" "proxy-authenticate"
    "\0\0\0\x13" "proxy-authorization" "\0\0\0\x05" "range"
    "\0\0\0\x07" "referer"           "\0\0\0\x0b" "retry-after"
    "\0\0\0\x06" "server"            "\0\0\0\x02" "te"
    "\0\0\0\x07" "trailer"           "\0\0\0\x11" "transfer-encoding"
    "\0\0\0\x07" "upgrade"           "\0\0\0\x0a" "user-agent"
    "\0\0\0\x04" "vary"              "\0\0\0\x03" "via"
    "\0\0\0\x07" "warning"           "\0\0\0\x10" "www-authenticate"
    "\0\0\0\x06" "method"            "\0\0\0\x03" "get"
    "\0\0\0\x06" "status"            "\0\0\0\x06" "200 OK"
    "\0\0\0\x07" "version"           "\0\0\0\x08" "HTTP/1.1"
    "\0\0\0\x03" "url"               "\0\0\0\x06" "public"
    "\0\0\0\x0a" "set-cookie"        "\0\0\0\x0a" "keep-alive"
    "\0\0\0\x06" "origin"
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505"
    "203 Non-Authoritative Information" "204 No Content" "301 Moved Permanently"
    "400 Bad Request" "401 Unauthorized" "403 Forbidden" "404 Not Found"
    "500 Internal Server Error" "501 Not Implemented" "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    "application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/* The literal's own terminating NUL is not part of the dictionary. */
#define SPDY_DICT_LEN (sizeof(spdy_dict) - 1)
_Static_assert(sizeof(spdy_dict) - 1 == 1423, "the SPDY/3 dictionary is 1423 bytes");

/* ---------------------------------------------------------------------------- session */

#define ST_REPLIED    0x01   /* SYN_REPLY sent (our streams: received) */
#define ST_LOCAL_FIN  0x02   /* we send nothing more */
#define ST_REMOTE_FIN 0x04   /* the peer sends nothing more */

typedef struct spdy_stream_s {
    uint32_t id;
    uint8_t state;           /* ST_* */
} spdy_stream_t;

struct spdy_session_s {
    spdy_callbacks_t cb;
    void *priv;
    void (*on_pong)(void *priv, uint32_t id);
    int client;              /* 1: we open odd streams; 0: we accept the peer's odd ones */
    int dead;                /* a protocol error was seen: every feed returns -1 */
    int feeding;             /* inside spdy_feed: it must not be re-entered from a callback */
    int goaway_sent, goaway_received;
    char why[160];           /* the protocol error, repeated by later spdy_feed calls */

    struct evbuffer *in, *out;
    z_stream zin, zout;      /* one context per direction for the whole session */
    int zin_ok, zout_ok;     /* initialized, so freed at the end */

    uint32_t last_peer_id;   /* highest stream id the peer opened: ids must grow */
    uint32_t last_good_id;   /* highest one we accepted: GOAWAY's last good id */
    uint32_t next_id;        /* client: next stream id to open */
    uint32_t next_ping;      /* client: next ping id */

    spdy_stream_t *streams;  /* sorted by id */
    size_t nstreams, cap;

    uint8_t *hbuf;           /* inflated header block (+1 byte for the last NUL) */
    size_t hcap;
};

/* ----------------------------------------------------------------------- byte helpers */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The 8 bytes before a control frame's payload. len must be < 2^24 (callers bound it). */
static void control_header(uint8_t *p, uint16_t type, uint8_t flags, uint32_t len)
{
    p[0] = 0x80;
    p[1] = SPDY_VERSION;
    p[2] = (uint8_t)(type >> 8);
    p[3] = (uint8_t)type;
    put32(p + 4, (uint32_t)flags << 24 | (len & 0xffffff));
}

/* The ids the peer opens: odd when we accept (the peer is the client), even otherwise. */
static uint32_t peer_parity(const spdy_session_t *s)
{
    return s->client ? 0 : 1;
}

/* ---------------------------------------------------------------------- stream table */

/* Index of the first stream whose id is >= id. */
static size_t stream_pos(const spdy_session_t *s, uint32_t id)
{
    size_t lo = 0, hi = s->nstreams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->streams[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static spdy_stream_t *stream_find(spdy_session_t *s, uint32_t id)
{
    size_t i = stream_pos(s, id);
    return i < s->nstreams && s->streams[i].id == id ? &s->streams[i] : NULL;
}

/* Track a new stream. Ids arrive increasing on each side, so this is nearly always an
 * append; the insertion keeps the table sorted anyway. NULL when full or out of memory. */
static spdy_stream_t *stream_add(spdy_session_t *s, uint32_t id, uint8_t state)
{
    if (s->nstreams >= SESSION_MAX_STREAMS)
        return NULL;
    if (s->nstreams == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        spdy_stream_t *n = realloc(s->streams, cap * sizeof(*n));
        if (!n)
            return NULL;
        s->streams = n;
        s->cap = cap;
    }
    size_t i = stream_pos(s, id);
    memmove(&s->streams[i + 1], &s->streams[i], (s->nstreams - i) * sizeof(*s->streams));
    s->streams[i].id = id;
    s->streams[i].state = state;
    s->nstreams++;
    return &s->streams[i];
}

static void stream_remove(spdy_session_t *s, uint32_t id)
{
    size_t i = stream_pos(s, id);
    if (i >= s->nstreams || s->streams[i].id != id)
        return;
    memmove(&s->streams[i], &s->streams[i + 1], (s->nstreams - i - 1) * sizeof(*s->streams));
    s->nstreams--;
}

/* Forget a stream once both sides finished. Looked up again by id because a callback may
 * have reset it in between. */
static void stream_maybe_done(spdy_session_t *s, uint32_t id)
{
    spdy_stream_t *st = stream_find(s, id);
    if (st && (st->state & (ST_LOCAL_FIN | ST_REMOTE_FIN)) == (ST_LOCAL_FIN | ST_REMOTE_FIN))
        stream_remove(s, id);
}

/* -------------------------------------------------------------------- frame writers */

static int write_rst(spdy_session_t *s, uint32_t id, uint32_t status)
{
    uint8_t f[16];
    control_header(f, T_RST_STREAM, 0, 8);
    put32(f + 8, id & MAX_STREAM_ID);
    put32(f + 12, status);
    return evbuffer_add(s->out, f, sizeof(f));
}

static int write_ping(spdy_session_t *s, uint32_t id)
{
    uint8_t f[12];
    control_header(f, T_PING, 0, 4);
    put32(f + 8, id);
    return evbuffer_add(s->out, f, sizeof(f));
}

static int write_goaway(spdy_session_t *s, uint32_t status)
{
    uint8_t f[16];
    control_header(f, T_GOAWAY, 0, 8);
    put32(f + 8, s->last_good_id);
    put32(f + 12, status);
    s->goaway_sent = 1;
    return evbuffer_add(s->out, f, sizeof(f));
}

/* A protocol error: remember why, queue GOAWAY PROTOCOL_ERROR once, and refuse all later
 * input. Returns -1 so parsers can `return fail(...)`. */
static int fail(spdy_session_t *s, const char *fmt, ...)
{
    if (s->dead)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof(s->why), fmt, ap);
    va_end(ap);
    s->dead = 1;
    (void)write_goaway(s, SPDY_GOAWAY_PROTOCOL_ERROR);
    return -1;
}

/* A stream error (draft 3, 2.4.2): RST_STREAM queued; if we track the stream it is
 * forgotten and the application told through on_reset, with the status we sent. */
static void stream_error(spdy_session_t *s, uint32_t id, uint32_t status)
{
    (void)write_rst(s, id, status);
    if (stream_find(s, id)) {
        stream_remove(s, id);
        if (s->cb.on_reset)
            s->cb.on_reset(s->priv, id, status);
    }
}

/* Names must be non-empty and lowercase (spdystream's reader fails the whole connection
 * on an uppercase one); the raw block must respect the same bounds we apply to the peer's.
 * Returns the raw block's length, or 0 if the headers cannot be sent. */
static size_t block_size(const spdy_header_t *h, size_t nh)
{
    if (nh > SPDY_MAX_PAIRS || (nh && !h))
        return 0;
    size_t n = 4;
    for (size_t i = 0; i < nh; i++) {
        if (!h[i].name || !h[i].name_len || (h[i].value_len && !h[i].value))
            return 0;
        for (size_t j = 0; j < h[i].name_len; j++)
            if (h[i].name[j] >= 'A' && h[i].name[j] <= 'Z')
                return 0;
        if (h[i].name_len > SPDY_MAX_HEADERS || h[i].value_len > SPDY_MAX_HEADERS)
            return 0;
        n += 8 + h[i].name_len + h[i].value_len;
        if (n > SPDY_MAX_HEADERS)
            return 0;
    }
    return n;
}

/* Queue a SYN_STREAM or SYN_REPLY: the control header, the fixed fields (`fixed`,
 * `fixedlen` bytes) and the header block deflated in the session's context with
 * Z_SYNC_FLUSH, so the peer can inflate it as soon as the frame is whole. */
static int write_headers_frame(spdy_session_t *s, uint16_t type, uint8_t flags,
                               const uint8_t *fixed, size_t fixedlen, const spdy_header_t *h,
                               size_t nh)
{
    size_t rawlen = block_size(h, nh);
    if (!rawlen || !s->zout_ok)
        return -1;
    uint8_t *raw = malloc(rawlen);
    size_t cap = deflateBound(&s->zout, rawlen) + 16, zlen = 0;
    uint8_t *z = malloc(8 + fixedlen + cap);
    int rc = -1;
    if (!raw || !z)
        goto out;

    uint8_t *p = raw;
    put32(p, (uint32_t)nh);
    p += 4;
    for (size_t i = 0; i < nh; i++) {
        put32(p, (uint32_t)h[i].name_len);
        memcpy(p + 4, h[i].name, h[i].name_len);
        p += 4 + h[i].name_len;
        put32(p, (uint32_t)h[i].value_len);
        if (h[i].value_len)
            memcpy(p + 4, h[i].value, h[i].value_len);
        p += 4 + h[i].value_len;
    }

    s->zout.next_in = raw;
    s->zout.avail_in = (uInt)rawlen;
    for (;;) {
        s->zout.next_out = z + 8 + fixedlen + zlen;
        s->zout.avail_out = (uInt)(cap - zlen);
        int zrc = deflate(&s->zout, Z_SYNC_FLUSH);
        zlen = cap - s->zout.avail_out;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            /* Cannot happen with a valid stream; if it does, the peer's inflater is now
             * out of step with ours, so the session cannot go on. */
            fail(s, "spdy: deflate failed (%d)", zrc);
            goto out;
        }
        if (s->zout.avail_in == 0 && s->zout.avail_out != 0)
            break;   /* all input taken and the flush fully written */
        /* deflateBound does not count the sync-flush marker: grow and go on */
        size_t ncap = cap * 2;
        uint8_t *nz = realloc(z, 8 + fixedlen + ncap);
        if (!nz) {
            fail(s, "spdy: out of memory while deflating headers");
            goto out;
        }
        z = nz;
        cap = ncap;
    }
    control_header(z, type, flags, (uint32_t)(fixedlen + zlen));
    memcpy(z + 8, fixed, fixedlen);
    rc = evbuffer_add(s->out, z, 8 + fixedlen + zlen);
out:
    free(raw);
    free(z);
    return rc;
}

/* ------------------------------------------------------------------- header blocks */

/* Inflate one compressed header block (the rest of a SYN_STREAM, SYN_REPLY or HEADERS
 * frame) into s->hbuf, continuing the session's context. Every byte must be consumed and
 * the result must stay within SPDY_MAX_HEADERS. *outlen gets the inflated length. */
static int inflate_block(spdy_session_t *s, const uint8_t *in, size_t inlen, size_t *outlen)
{
    size_t n = 0;
    z_stream *z = &s->zin;
    z->next_in = (Bytef *)in;   /* zlib's API is not const-correct; it does not write it */
    z->avail_in = (uInt)inlen;
    for (;;) {
        /* one byte of hbuf stays free for the NUL after the last value */
        size_t room = s->hcap ? s->hcap - 1 - n : 0;
        if (room == 0) {
            if (n > SPDY_MAX_HEADERS)
                return fail(s, "spdy: a header block inflates past %d bytes", SPDY_MAX_HEADERS);
            size_t cap = s->hcap ? s->hcap * 2 : 1024;
            if (cap > SPDY_MAX_HEADERS + 2)
                cap = SPDY_MAX_HEADERS + 2;   /* room for MAX + 1 bytes: one too many shows */
            uint8_t *nb = realloc(s->hbuf, cap);
            if (!nb)
                return fail(s, "spdy: out of memory inflating headers");
            s->hbuf = nb;
            s->hcap = cap;
            continue;
        }
        uInt before_in = z->avail_in;
        z->next_out = s->hbuf + n;
        z->avail_out = (uInt)room;
        int rc = inflate(z, Z_SYNC_FLUSH);
        n += room - z->avail_out;
        if (rc == Z_NEED_DICT) {
            if (inflateSetDictionary(z, (const Bytef *)spdy_dict, SPDY_DICT_LEN) != Z_OK)
                return fail(s, "spdy: the header block wants a dictionary other than SPDY/3's");
            continue;
        }
        if (rc == Z_STREAM_END)
            return fail(s, "spdy: the peer ended its header compression stream");
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return fail(s, "spdy: corrupt header block (zlib: %s)", z->msg ? z->msg : "error");
        if (n > SPDY_MAX_HEADERS)
            return fail(s, "spdy: a header block inflates past %d bytes", SPDY_MAX_HEADERS);
        if (z->avail_in == 0 && z->avail_out != 0)
            break;   /* all input consumed and all output it makes written */
        if (rc == Z_BUF_ERROR && z->avail_in == before_in && z->avail_out == room)
            return fail(s, "spdy: corrupt header block (zlib made no progress)");
    }
    *outlen = n;
    return 0;
}

/* Split an inflated block (s->hbuf, n bytes) into h[], at most SPDY_MAX_PAIRS entries,
 * and NUL-terminate names and values in place: each terminator overwrites the first byte
 * of the next length field, so all lengths are read in a first pass. */
static int decode_block(spdy_session_t *s, size_t n, spdy_header_t *h, size_t *nh)
{
    const uint8_t *b = s->hbuf;
    if (n < 4)
        return fail(s, "spdy: header block of %zu bytes has no pair count", n);
    uint32_t count = get32(b);
    if (count > SPDY_MAX_PAIRS)
        return fail(s, "spdy: header block has %u pairs, more than %d", count, SPDY_MAX_PAIRS);
    size_t off = 4;
    for (uint32_t i = 0; i < count; i++) {
        if (n - off < 4)
            return fail(s, "spdy: header block ends inside pair %u's name length", i);
        uint32_t len = get32(b + off);
        off += 4;
        if (len > n - off)
            return fail(s, "spdy: header name length %u runs past the block", len);
        if (len == 0)
            return fail(s, "spdy: empty header name");
        for (uint32_t j = 0; j < len; j++)
            if (b[off + j] >= 'A' && b[off + j] <= 'Z')
                return fail(s, "spdy: header name '%.*s' is not lowercase",
                            (int)(len > 64 ? 64 : len), (const char *)b + off);
        h[i].name = (const char *)b + off;
        h[i].name_len = len;
        off += len;
        if (n - off < 4)
            return fail(s, "spdy: header block ends inside pair %u's value length", i);
        len = get32(b + off);
        off += 4;
        if (len > n - off)
            return fail(s, "spdy: header value length %u runs past the block", len);
        h[i].value = (const char *)b + off;
        h[i].value_len = len;
        off += len;
    }
    if (off != n)
        return fail(s, "spdy: %zu bytes after the last header pair", n - off);
    for (uint32_t i = 0; i < count; i++) {
        s->hbuf[(const uint8_t *)h[i].name - b + h[i].name_len] = 0;
        s->hbuf[(const uint8_t *)h[i].value - b + h[i].value_len] = 0;   /* hbuf has n+1 bytes */
    }
    *nh = count;
    return 0;
}

static int read_headers(spdy_session_t *s, const uint8_t *in, size_t inlen, spdy_header_t *h,
                        size_t *nh)
{
    size_t n;
    if (inflate_block(s, in, inlen, &n) < 0)
        return -1;
    return decode_block(s, n, h, nh);
}

/* ---------------------------------------------------------------------- frame reader */

static int on_data_frame(spdy_session_t *s, uint32_t id, uint8_t flags, const uint8_t *p,
                         size_t len)
{
    if (id == 0)
        return fail(s, "spdy: data frame on stream 0");
    spdy_stream_t *st = stream_find(s, id);
    if (!st) {
        /* never opened, or already forgotten (finished or reset): the peer may still have
         * had frames in flight; RST tells it, and spdystream ignores RSTs it cannot place */
        (void)write_rst(s, id, SPDY_INVALID_STREAM);
        return 0;
    }
    if (st->state & ST_REMOTE_FIN) {
        stream_error(s, id, SPDY_STREAM_ALREADY_CLOSED);
        return 0;
    }
    int fin = flags & FLAG_FIN;
    if (fin)
        st->state |= ST_REMOTE_FIN;
    if (s->cb.on_data)
        s->cb.on_data(s->priv, id, p, len, fin);
    if (fin)
        stream_maybe_done(s, id);
    return 0;
}

static int on_syn_stream(spdy_session_t *s, uint8_t flags, const uint8_t *p, size_t len)
{
    if (len < 10)
        return fail(s, "spdy: SYN_STREAM of %zu bytes, shorter than its fixed fields", len);
    uint32_t id = get32(p) & MAX_STREAM_ID;
    if (id == 0)
        return fail(s, "spdy: SYN_STREAM with stream id 0");
    if ((id & 1) != peer_parity(s))
        return fail(s, "spdy: SYN_STREAM with stream id %u: the peer's ids are %s", id,
                    peer_parity(s) ? "odd" : "even");
    if (id <= s->last_peer_id)
        return fail(s, "spdy: SYN_STREAM with stream id %u, not above the last one (%u)", id,
                    s->last_peer_id);
    spdy_header_t h[SPDY_MAX_PAIRS];
    size_t nh = 0;
    /* the block is inflated even for a stream we refuse: the context spans the session */
    if (read_headers(s, p + 10, len - 10, h, &nh) < 0)
        return -1;
    s->last_peer_id = id;
    int fin = flags & FLAG_FIN;
    uint8_t state = (fin ? ST_REMOTE_FIN : 0) | (flags & FLAG_UNIDIRECTIONAL ? ST_LOCAL_FIN : 0);
    /* The client side takes no pushed streams; after our GOAWAY we take no new ones. */
    if (s->client || s->goaway_sent || !stream_add(s, id, state)) {
        (void)write_rst(s, id, SPDY_REFUSED_STREAM);
        return 0;
    }
    s->last_good_id = id;
    if (s->cb.on_stream)
        s->cb.on_stream(s->priv, id, h, nh, fin);
    stream_maybe_done(s, id);
    return 0;
}

/* The stream id and header block that SYN_REPLY and HEADERS (`what`) both start with.
 * 0, or -1 after fail(). */
static int id_and_headers(spdy_session_t *s, const char *what, const uint8_t *p, size_t len,
                          uint32_t *id, spdy_header_t *h, size_t *nh)
{
    if (len < 4)
        return fail(s, "spdy: %s of %zu bytes, shorter than its fixed fields", what, len);
    *id = get32(p) & MAX_STREAM_ID;
    if (*id == 0)
        return fail(s, "spdy: %s with stream id 0", what);
    *nh = 0;
    return read_headers(s, p + 4, len - 4, h, nh) < 0 ? -1 : 0;
}

static int on_syn_reply(spdy_session_t *s, uint8_t flags, const uint8_t *p, size_t len)
{
    spdy_header_t h[SPDY_MAX_PAIRS];
    size_t nh;
    uint32_t id;
    if (id_and_headers(s, "SYN_REPLY", p, len, &id, h, &nh) < 0)
        return -1;
    spdy_stream_t *st = stream_find(s, id);
    if (!st || (id & 1) == peer_parity(s)) {
        /* a reply for a stream we did not open */
        stream_error(s, id, SPDY_INVALID_STREAM);
        return 0;
    }
    if (st->state & ST_REPLIED) {
        stream_error(s, id, SPDY_STREAM_IN_USE);
        return 0;
    }
    int fin = flags & FLAG_FIN;
    st->state |= ST_REPLIED | (fin ? ST_REMOTE_FIN : 0);
    if (s->cb.on_stream)
        s->cb.on_stream(s->priv, id, h, nh, fin);
    stream_maybe_done(s, id);
    return 0;
}

static int on_headers(spdy_session_t *s, uint8_t flags, const uint8_t *p, size_t len)
{
    spdy_header_t h[SPDY_MAX_PAIRS];
    size_t nh;
    uint32_t id;
    if (id_and_headers(s, "HEADERS", p, len, &id, h, &nh) < 0)
        return -1;
    /* The headers themselves mean nothing to port-forward; a FIN on them still closes the
     * peer's side, as an empty data frame with FIN would. */
    spdy_stream_t *st = stream_find(s, id);
    if ((flags & FLAG_FIN) && st && !(st->state & ST_REMOTE_FIN))
        return on_data_frame(s, id, FLAG_FIN, p, 0);   /* never NULL: callers may pass it on */
    return 0;
}

static int on_control_frame(spdy_session_t *s, uint16_t type, uint8_t flags, const uint8_t *p,
                            size_t len)
{
    switch (type) {
    case T_SYN_STREAM:
        return on_syn_stream(s, flags, p, len);
    case T_SYN_REPLY:
        return on_syn_reply(s, flags, p, len);
    case T_HEADERS:
        return on_headers(s, flags, p, len);
    case T_RST_STREAM: {
        if (len < 8)
            return fail(s, "spdy: RST_STREAM of %zu bytes, shorter than its fixed fields", len);
        uint32_t id = get32(p) & MAX_STREAM_ID, status = get32(p + 4);
        if (id == 0)
            return fail(s, "spdy: RST_STREAM with stream id 0");
        if (stream_find(s, id)) {
            stream_remove(s, id);
            if (s->cb.on_reset)
                s->cb.on_reset(s->priv, id, status);
        }
        return 0;
    }
    case T_PING: {
        if (len < 4)
            return fail(s, "spdy: PING of %zu bytes, shorter than its fixed fields", len);
        uint32_t id = get32(p);
        /* Ids of our parity answer our pings; the peer's are echoed (spdystream does the
         * same, and kubectl's keepalive waits for the echo). */
        if ((id & 1) == peer_parity(s))
            return write_ping(s, id) < 0 ? fail(s, "spdy: out of memory") : 0;
        if (s->on_pong)
            s->on_pong(s->priv, id);
        return 0;
    }
    case T_GOAWAY: {
        if (len < 8)
            return fail(s, "spdy: GOAWAY of %zu bytes, shorter than its fixed fields", len);
        s->goaway_received = 1;
        if (s->cb.on_goaway)
            s->cb.on_goaway(s->priv, get32(p) & MAX_STREAM_ID, get32(p + 4));
        return 0;
    }
    case T_SETTINGS:
    case T_WINDOW_UPDATE:
    default:
        /* read and ignored: spdystream keeps no flow-control window; unknown types are
         * skipped, as draft 3 (2.2.1) says */
        return 0;
    }
}

int spdy_feed(spdy_session_t *s, const void *data, size_t len, char *err, size_t errlen)
{
    int rc = 0;
    if (s->feeding) {
        if (err && errlen)
            snprintf(err, errlen, "spdy: spdy_feed called from a callback");
        return -1;
    }
    if (s->dead) {
        rc = -1;
        goto out;
    }
    if (len && evbuffer_add(s->in, data, len) < 0) {
        rc = fail(s, "spdy: out of memory buffering input");
        goto out;
    }
    s->feeding = 1;
    for (;;) {
        uint8_t hd[8];
        size_t have = evbuffer_get_length(s->in);
        if (have < 8 || evbuffer_copyout(s->in, hd, 8) != 8)
            break;
        uint32_t w0 = get32(hd), w1 = get32(hd + 4);
        uint8_t flags = (uint8_t)(w1 >> 24);
        size_t flen = w1 & 0xffffff;
        int control = (w0 & 0x80000000u) != 0;
        /* decided from the 8 header bytes, before any payload is buffered */
        if (control && ((w0 >> 16) & 0x7fff) != SPDY_VERSION) {
            rc = fail(s, "spdy: control frame of version %u, not %d", (w0 >> 16) & 0x7fff,
                      SPDY_VERSION);
            break;
        }
        if (flen > SPDY_MAX_FRAME) {
            rc = fail(s, "spdy: %s frame of %zu bytes, longer than %d", control ? "control" : "data",
                      flen, SPDY_MAX_FRAME);
            break;
        }
        if (have < 8 + flen)
            break;
        const uint8_t *f = evbuffer_pullup(s->in, (ev_ssize_t)(8 + flen));
        if (!f) {
            rc = fail(s, "spdy: out of memory assembling a frame");
            break;
        }
        if (control)
            rc = on_control_frame(s, (uint16_t)(w0 & 0xffff), flags, f + 8, flen);
        else
            rc = on_data_frame(s, w0 & MAX_STREAM_ID, flags, f + 8, flen);
        evbuffer_drain(s->in, 8 + flen);
        if (rc < 0 || s->dead)   /* dead: a callback's call failed the session */
            break;
    }
    s->feeding = 0;
out:
    if (rc < 0 || s->dead) {
        rc = -1;
        evbuffer_drain(s->in, evbuffer_get_length(s->in));   /* nothing more is parsed */
        if (err && errlen)
            snprintf(err, errlen, "%s", s->why);
    }
    return rc;
}

/* ---------------------------------------------------------------------- public calls */

static spdy_session_t *session_new(const spdy_callbacks_t *cb, void *priv, int client)
{
    spdy_session_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (cb)
        s->cb = *cb;
    s->priv = priv;
    s->client = client;
    s->next_id = 1;
    s->next_ping = 1;
    s->in = evbuffer_new();
    s->out = evbuffer_new();
    if (!s->in || !s->out)
        goto failed;
    if (inflateInit(&s->zin) != Z_OK)
        goto failed;
    s->zin_ok = 1;
    /* Best compression, as spdystream's writer. A 2 KiB window (windowBits 11) still holds
     * the whole dictionary and all our blocks (a SYN_REPLY is a few dozen bytes), and
     * brings deflate's state from ~256 KiB to ~24 KiB per session; any reader accepts
     * it (the zlib header declares the window). */
    if (deflateInit2(&s->zout, Z_BEST_COMPRESSION, Z_DEFLATED, 11, 5, Z_DEFAULT_STRATEGY) != Z_OK)
        goto failed;
    s->zout_ok = 1;
    if (deflateSetDictionary(&s->zout, (const Bytef *)spdy_dict, SPDY_DICT_LEN) != Z_OK)
        goto failed;
    return s;
failed:
    spdy_session_free(s);
    return NULL;
}

spdy_session_t *spdy_session_new(const spdy_callbacks_t *cb, void *priv)
{
    return session_new(cb, priv, 0);
}

spdy_session_t *spdy_client_new(const spdy_callbacks_t *cb, void *priv)
{
    return session_new(cb, priv, 1);
}

void spdy_session_free(spdy_session_t *s)
{
    if (!s)
        return;
    if (s->zin_ok)
        inflateEnd(&s->zin);
    if (s->zout_ok)
        deflateEnd(&s->zout);
    if (s->in)
        evbuffer_free(s->in);
    if (s->out)
        evbuffer_free(s->out);
    free(s->streams);
    free(s->hbuf);
    free(s);
}

struct evbuffer *spdy_output(spdy_session_t *s)
{
    return s->out;
}

size_t spdy_open_streams(const spdy_session_t *s)
{
    return s->nstreams;
}

int spdy_reply(spdy_session_t *s, uint32_t id, const spdy_header_t *h, size_t nh, int fin)
{
    if (s->dead)
        return -1;
    spdy_stream_t *st = stream_find(s, id);
    if (!st || (id & 1) != peer_parity(s) || (st->state & ST_REPLIED))
        return -1;
    uint8_t fixed[4];
    put32(fixed, id);
    if (write_headers_frame(s, T_SYN_REPLY, fin ? FLAG_FIN : 0, fixed, 4, h, nh) < 0)
        return -1;
    st = stream_find(s, id);   /* write_headers_frame touches no table, but stay safe */
    if (!st)
        return -1;
    st->state |= ST_REPLIED | (fin ? ST_LOCAL_FIN : 0);
    stream_maybe_done(s, id);
    return 0;
}

int spdy_data(spdy_session_t *s, uint32_t id, const void *data, size_t len, int fin)
{
    if (s->dead || (len && !data))
        return -1;
    spdy_stream_t *st = stream_find(s, id);
    if (!st || (st->state & ST_LOCAL_FIN))
        return -1;
    /* On the peer's streams, data before our SYN_REPLY would be dropped by spdystream
     * (it delivers data only on replied streams), so refuse it here where it shows. */
    if ((id & 1) == peer_parity(s) && !(st->state & ST_REPLIED))
        return -1;
    const uint8_t *p = data;
    do {
        size_t n = len > SPDY_DATA_CHUNK ? SPDY_DATA_CHUNK : len;
        int last = n == len;
        if (!n && !fin)
            break;
        uint8_t hd[8];
        put32(hd, id & MAX_STREAM_ID);
        put32(hd + 4, (uint32_t)(last && fin ? FLAG_FIN : 0) << 24 | (uint32_t)n);
        if (evbuffer_add(s->out, hd, 8) < 0 || (n && evbuffer_add(s->out, p, n) < 0))
            return -1;
        if (n) {   /* data may be NULL when len is 0: no arithmetic on it */
            p += n;
            len -= n;
        }
    } while (len);
    if (fin) {
        st->state |= ST_LOCAL_FIN;
        stream_maybe_done(s, id);
    }
    return 0;
}

int spdy_reset(spdy_session_t *s, uint32_t id, uint32_t status)
{
    /* status 0 is not a status: spdystream's reader fails the connection on it */
    if (s->dead || status == 0 || !stream_find(s, id))
        return -1;
    stream_remove(s, id);
    return write_rst(s, id, status);
}

int spdy_goaway(spdy_session_t *s, uint32_t status)
{
    if (s->dead)
        return -1;
    return write_goaway(s, status);
}

uint32_t spdy_open(spdy_session_t *s, const spdy_header_t *h, size_t nh, int fin)
{
    if (!s->client || s->dead || s->goaway_received || s->next_id > MAX_STREAM_ID)
        return 0;
    if (!block_size(h, nh))
        return 0;
    uint32_t id = s->next_id;
    uint8_t fixed[10];
    put32(fixed, id);
    put32(fixed + 4, 0);   /* associated stream: none */
    fixed[8] = 0;          /* priority 0 (the highest), as spdystream sends */
    fixed[9] = 0;          /* credential slot */
    if (!stream_add(s, id, fin ? ST_LOCAL_FIN : 0))
        return 0;
    if (write_headers_frame(s, T_SYN_STREAM, fin ? FLAG_FIN : 0, fixed, 10, h, nh) < 0) {
        stream_remove(s, id);
        return 0;
    }
    s->next_id += 2;
    return id;
}

uint32_t spdy_ping(spdy_session_t *s)
{
    if (!s->client || s->dead)
        return 0;
    uint32_t id = s->next_ping;
    s->next_ping = id >= MAX_STREAM_ID - 1 ? 1 : id + 2;
    return write_ping(s, id) < 0 ? 0 : id;
}

void spdy_on_pong(spdy_session_t *s, void (*cb)(void *priv, uint32_t id))
{
    s->on_pong = cb;
}
