/* fuzz_websocket.c: the websocket decoder and the handshake parsers on arbitrary bytes.
 *
 * Byte 0 picks the side (bit 0: a server's decoder, which wants masked frames) and how the
 * rest is fed to the evbuffer decoder (bits 1-4: 1 to 16 bytes at a time, or all at once when
 * they are 0). The same bytes also go to the contiguous decoder, to the HTTP response head
 * parser, and as text to the header-token and subprotocol helpers. Built by scripts/fuzz.sh
 * with engine/websocket.c. */
#include "websocket.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

static void drain_messages(ws_decoder_t *d, struct evbuffer *in)
{
    ws_message_t m;
    int rc;
    while ((rc = ws_decode_evbuffer(d, in, &m)) == WS_OK) {
        if (m.len)
            (void)(m.data[0] + m.data[m.len - 1]);   /* the payload must be readable */
    }
    if (rc == WS_ERROR && (!d->errstr || d->close_code < 1000))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int server = data[0] & 1;
    size_t step = (data[0] >> 1) & 15;
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    /* evbuffer decoder, in pieces */
    ws_decoder_t d;
    ws_decoder_init(&d, server, 4096);
    struct evbuffer *in = evbuffer_new();
    if (!step)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        evbuffer_add(in, p + off, n);
        drain_messages(&d, in);
    }
    evbuffer_free(in);
    ws_decoder_release(&d);

    /* contiguous decoder */
    ws_decoder_init(&d, server, 4096);
    size_t off = 0, used;
    ws_message_t m;
    while (off < len && ws_decode(&d, p + off, len - off, &used, &m) != WS_ERROR) {
        if (used > len - off)
            abort();
        if (!used)
            break;
        off += used;
    }
    ws_decoder_release(&d);

    /* text helpers */
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, p, len);
    text[len] = 0;
    int status = 0;
    struct evkeyvalq h;
    TAILQ_INIT(&h);
    long hl = ws_response_head_parse(text, len, &status, &h);
    if (hl > (long)len)
        abort();
    evhttp_clear_headers(&h);
    static const char *const protos[] = { WS_PROTO_V5, WS_PROTO_V4, NULL };
    (void)ws_select_protocol(text, protos);
    (void)ws_header_has_token(text, "upgrade");
    char accept[32];
    ws_accept_key(text, accept);
    free(text);
    return 0;
}
