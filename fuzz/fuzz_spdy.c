/* fuzz_spdy.c: a SPDY/3.1 session (engine/spdy.c) fed arbitrary bytes.
 *
 * Byte 0 picks the side (bit 0: 0 the accepting side, 1 the client, which first opens two
 * streams and sends a ping so replies and pongs have something to match), how the rest is
 * fed (bits 1-4: 1 to 15 bytes at a time, or all at once when 0) and whether callbacks act
 * (bit 5: reply with the peer's own headers, echo data, reset some streams).
 *
 * Checked, besides what ASan/UBSan catch:
 *   - the same input fed whole and in pieces gives the same callbacks, the same output
 *     bytes and the same result: frame boundaries must not depend on message boundaries;
 *   - once spdy_feed returned -1 it keeps returning -1 and says why;
 *   - header names and values are NUL-terminated, names non-empty and lowercase, and there
 *     are at most SPDY_MAX_PAIRS of them; the stream table stays within its bound;
 *   - whatever the session queued parses without a protocol error in a fresh session of
 *     the other side: the writer never emits what our own reader would reject.
 * Built by scripts/fuzz.sh with engine/spdy.c. */
#include "spdy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_s {
    spdy_session_t *s;
    int act;
    uint64_t hash;        /* FNV-1a over every callback and its arguments */
} run_t;

static void mix(run_t *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 0x100000001b3ull;
}

static void mix32(run_t *r, uint32_t v)
{
    mix(r, &v, sizeof(v));
}

static void on_stream(void *priv, uint32_t id, const spdy_header_t *h, size_t nh, int fin)
{
    run_t *r = priv;
    if (nh > SPDY_MAX_PAIRS)
        abort();
    mix32(r, 'S');
    mix32(r, id);
    mix32(r, (uint32_t)fin);
    for (size_t i = 0; i < nh; i++) {
        if (!h[i].name_len || h[i].name[h[i].name_len] || h[i].value[h[i].value_len])
            abort();
        for (size_t j = 0; j < h[i].name_len; j++)
            if (h[i].name[j] >= 'A' && h[i].name[j] <= 'Z')
                abort();
        mix(r, h[i].name, h[i].name_len + 1);
        mix(r, h[i].value, h[i].value_len + 1);
    }
    if (r->act) {
        if (id % 7 == 3)
            spdy_reset(r->s, id, SPDY_REFUSED_STREAM);
        else
            spdy_reply(r->s, id, h, nh, id % 5 == 1);   /* fails on the client: fine */
    }
}

static void on_data(void *priv, uint32_t id, const uint8_t *data, size_t len, int fin)
{
    run_t *r = priv;
    mix32(r, 'D');
    mix32(r, id);
    mix32(r, (uint32_t)fin);
    mix(r, data, len);
    if (r->act)
        spdy_data(r->s, id, data, len, fin);
}

static void on_reset(void *priv, uint32_t id, uint32_t status)
{
    run_t *r = priv;
    mix32(r, 'R');
    mix32(r, id);
    mix32(r, status);
}

static void on_goaway(void *priv, uint32_t last, uint32_t status)
{
    run_t *r = priv;
    mix32(r, 'G');
    mix32(r, last);
    mix32(r, status);
    if (r->act)
        spdy_goaway(r->s, SPDY_GOAWAY_OK);
}

static void on_pong(void *priv, uint32_t id)
{
    run_t *r = priv;
    mix32(r, 'P');
    mix32(r, id);
}

static const spdy_callbacks_t cbs = { on_stream, on_data, on_reset, on_goaway };

/* One run over p[0..len) in pieces of `step` (0: whole). Returns the last spdy_feed result;
 * *out gets the session's output (caller frees), r->hash the transcript. */
static int run(run_t *r, int client, const uint8_t *p, size_t len, size_t step, uint8_t **out,
               size_t *outlen)
{
    static const spdy_header_t h[] = {
        { "streamtype", 10, "error", 5 }, { "port", 4, "80", 2 }, { "requestid", 9, "0", 1 },
    };
    r->hash = 0xcbf29ce484222325ull;
    r->s = client ? spdy_client_new(&cbs, r) : spdy_session_new(&cbs, r);
    if (!r->s)
        abort();
    if (client) {
        spdy_on_pong(r->s, on_pong);
        if (spdy_open(r->s, h, 3, 0) != 1 || spdy_open(r->s, h, 3, 1) != 3 || spdy_ping(r->s) != 1)
            abort();
    }
    int rc = 0, failed = 0;
    char err[256];
    if (!step)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        err[0] = 0;
        rc = spdy_feed(r->s, p + off, n, err, sizeof(err));
        if (failed && rc != -1)
            abort();   /* a failed session must stay failed */
        if (rc == -1 && !err[0])
            abort();   /* and say why */
        if (rc == -1)
            failed = 1;
        if (spdy_open_streams(r->s) > 1024)
            abort();
    }
    mix32(r, (uint32_t)rc);
    struct evbuffer *o = spdy_output(r->s);
    *outlen = evbuffer_get_length(o);
    *out = malloc(*outlen + 1);
    if (!*out)
        abort();
    evbuffer_remove(o, *out, *outlen);
    spdy_session_free(r->s);
    return rc;
}

static void noop_stream(void *priv, uint32_t id, const spdy_header_t *h, size_t nh, int fin) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int client = data[0] & 1;
    size_t step = (data[0] >> 1) & 15;
    int act = (data[0] >> 5) & 1;

    run_t whole = { .act = act }, pieces = { .act = act };
    uint8_t *o1, *o2;
    size_t n1, n2;
    int rc1 = run(&whole, client, data + 1, size - 1, 0, &o1, &n1);
    int rc2 = run(&pieces, client, data + 1, size - 1, step ? step : 1, &o2, &n2);
    if (rc1 != rc2 || whole.hash != pieces.hash || n1 != n2 || memcmp(o1, o2, n1)) {
        fprintf(stderr, "whole and piecewise feeding differ: rc %d/%d, output %zu/%zu bytes\n",
                rc1, rc2, n1, n2);
        abort();
    }

    /* The output must be clean SPDY for the other side. */
    spdy_callbacks_t quiet = { noop_stream, NULL, NULL, NULL };
    spdy_session_t *peer = client ? spdy_session_new(&quiet, NULL) : spdy_client_new(&quiet, NULL);
    char err[256] = "";
    if (!peer)
        abort();
    if (spdy_feed(peer, o1, n1, err, sizeof(err)) != 0) {
        fprintf(stderr, "our own output is a protocol error: %s\n", err);
        abort();
    }
    spdy_session_free(peer);
    free(o1);
    free(o2);
    return 0;
}
