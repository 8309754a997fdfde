/* t/c/websocket.c: unit tests for engine/websocket.c: the RFC 6455 handshake values, frame
 * headers at every length size, masking, the decoder (whole frames, fragments with a control
 * frame between them, byte-at-a-time input, every violation it must refuse with the right
 * close code), close codes, the channel framing, HTTP response heads, upgrade detection. */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "tap.h"
#include "websocket.h"

/* Decode every message of an evbuffer fed n bytes at a time; returns the messages'
 * opcodes and payloads joined as "op:payload|..." into out. The decoder's last result is
 * returned. */
static int decode_all(ws_decoder_t *d, const uint8_t *data, size_t len, size_t step, char *out,
                      size_t outlen)
{
    struct evbuffer *in = evbuffer_new();
    int rc = WS_AGAIN;
    out[0] = 0;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        evbuffer_add(in, data + off, n);
        ws_message_t m;
        while ((rc = ws_decode_evbuffer(d, in, &m)) == WS_OK) {
            size_t l = strlen(out);
            snprintf(out + l, outlen - l, "%d:%.*s|", m.opcode, (int)m.len, (const char *)m.data);
        }
        if (rc == WS_ERROR)
            break;
    }
    evbuffer_free(in);
    return rc;
}

/* One frame's bytes into buf; returns the length. */
static size_t frame(uint8_t *buf, int opcode, int fin, const char *payload, int masked)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t len = strlen(payload);
    size_t hl = ws_frame_header(buf, opcode, fin, len, masked ? key : NULL);
    memcpy(buf + hl, payload, len);
    if (masked)
        ws_mask(buf + hl, len, key, 0);
    return hl + len;
}

static int error_code(int server, const uint8_t *data, size_t len)
{
    ws_decoder_t d;
    char out[256];
    ws_decoder_init(&d, server, 1000);
    int rc = decode_all(&d, data, len, len, out, sizeof(out));
    int code = rc == WS_ERROR ? d.close_code : 0;
    ws_decoder_release(&d);
    return code;
}

int main(void)
{
    char accept[32], key1[32], key2[32], out[4096];
    uint8_t buf[200000];
    ws_decoder_t d;

    /* ---- handshake values ---- */
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept);
    is_str(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Accept of RFC 6455's example key");
    ws_client_key(key1);
    ws_client_key(key2);
    is_int(strlen(key1), 24, "a client key is 24 base64 characters");
    ok(strcmp(key1, key2) != 0, "two client keys differ");

    ok(ws_header_has_token("keep-alive, Upgrade", "upgrade"), "Connection: keep-alive, Upgrade names upgrade");
    ok(!ws_header_has_token("keep-alive", "upgrade"), "keep-alive alone does not");
    ok(!ws_header_has_token(NULL, "upgrade"), "an absent header does not");
    static const char *const protos[] = { WS_PROTO_V5, WS_PROTO_V4, NULL };
    is_str(ws_select_protocol("v4.channel.k8s.io, v5.channel.k8s.io", protos), WS_PROTO_V5,
           "the server's preference wins (v5 before v4)");
    is_str(ws_select_protocol("v4.channel.k8s.io,channel.k8s.io", protos), WS_PROTO_V4, "v4 when v5 is not offered");
    ok(ws_select_protocol("channel.k8s.io, base64.channel.k8s.io", protos) == NULL, "none supported: NULL");
    ok(ws_select_protocol(NULL, protos) == NULL, "nothing offered: NULL");

    struct evkeyvalq h;
    TAILQ_INIT(&h);
    evhttp_add_header(&h, "Upgrade", "websocket");
    evhttp_add_header(&h, "Connection", "Upgrade");
    evhttp_add_header(&h, "Sec-WebSocket-Version", "13");
    ok(!ws_is_upgrade(&h), "no Sec-WebSocket-Key: not an upgrade");
    evhttp_add_header(&h, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    ok(ws_is_upgrade(&h), "with all four headers: an upgrade");
    evhttp_clear_headers(&h);
    evhttp_add_header(&h, "Upgrade", "SPDY/3.1");
    evhttp_add_header(&h, "Connection", "Upgrade");
    ok(!ws_is_upgrade(&h), "a SPDY upgrade is not a websocket one");
    evhttp_clear_headers(&h);

    /* ---- response heads ---- */
    const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Sec-WebSocket-Protocol:  v5.channel.k8s.io \r\n\r\nrest";
    int status = 0;
    long hl = ws_response_head_parse(head, strlen(head), &status, &h);
    is_int(hl, (long)strlen(head) - 4, "the head's length stops after the blank line");
    is_int(status, 101, "status 101");
    is_str(evhttp_find_header(&h, "Sec-WebSocket-Protocol"), "v5.channel.k8s.io", "header value trimmed");
    evhttp_clear_headers(&h);
    is_int(ws_response_head_parse(head, 30, &status, NULL), 0, "an incomplete head: 0");
    is_int(ws_response_head_parse("SSH-2.0-x\r\n\r\n", 13, &status, NULL), -1, "not HTTP: -1");

    /* ---- frame headers ---- */
    uint8_t hdr[WS_MAX_HEADER], mask[4] = { 1, 2, 3, 4 };
    is_int(ws_frame_header(hdr, WS_OP_BINARY, 1, 125, NULL), 2, "125 bytes: a 2-byte header");
    ok(hdr[0] == 0x82 && hdr[1] == 125, "FIN + binary, length 125");
    is_int(ws_frame_header(hdr, WS_OP_BINARY, 1, 126, NULL), 4, "126 bytes: 16-bit length");
    ok(hdr[1] == 126 && hdr[2] == 0 && hdr[3] == 126, "encoded as 126, 0x007e");
    is_int(ws_frame_header(hdr, WS_OP_TEXT, 0, 70000, mask), 14, "70000 bytes masked: 64-bit length + key");
    ok(hdr[0] == 0x01 && hdr[1] == (0x80 | 127) && hdr[7] == 0x01 && hdr[8] == 0x11 && hdr[9] == 0x70 &&
       !memcmp(hdr + 10, mask, 4), "no FIN, text, mask bit, 0x11170, the key");

    /* ---- round trips at each length class, both directions ---- */
    static const size_t lens[] = { 0, 1, 125, 126, 65535, 65536, 150000 };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (int masked = 0; masked < 2; masked++) {
            struct evbuffer *eb = evbuffer_new();
            uint8_t *payload = malloc(lens[i] + 1);
            for (size_t j = 0; j < lens[i]; j++)
                payload[j] = (uint8_t)(j * 7);
            ws_channel_append(eb, WS_CH_STDOUT, payload, lens[i], masked);
            ws_decoder_init(&d, masked, 1 << 20);
            ws_message_t m;
            int rc = ws_decode_evbuffer(&d, eb, &m);
            ok(rc == WS_OK && m.opcode == WS_OP_BINARY && m.len == lens[i] + 1 &&
               m.data[0] == WS_CH_STDOUT && !memcmp(m.data + 1, payload, lens[i]) &&
               evbuffer_get_length(eb) == 0,
               "channel frame of %zu bytes, %s, decodes back", lens[i], masked ? "masked" : "unmasked");
            ws_decoder_release(&d);
            evbuffer_free(eb);
            free(payload);
        }
    }

    /* ---- fragments with a ping between them, whole and byte by byte ---- */
    size_t n = 0;
    n += frame(buf + n, WS_OP_TEXT, 0, "Hel", 1);
    n += frame(buf + n, WS_OP_PING, 1, "p", 1);
    n += frame(buf + n, WS_OP_CONT, 0, "lo, ", 1);
    n += frame(buf + n, WS_OP_CONT, 1, "world", 1);
    n += frame(buf + n, WS_OP_BINARY, 1, "x", 1);
    static const size_t steps[] = { 1, 3, 1000 };
    for (size_t i = 0; i < 3; i++) {
        ws_decoder_init(&d, 1, 1000);
        int rc = decode_all(&d, buf, n, steps[i], out, sizeof(out));
        is_int(rc, WS_AGAIN, "fragments, %zu byte(s) at a time: no error", steps[i]);
        is_str(out, "9:p|1:Hello, world|2:x|", "the ping first, then the reassembled message");
        ws_decoder_release(&d);
    }

    /* ---- close frames ---- */
    struct evbuffer *eb = evbuffer_new();
    ws_close_append(eb, WS_CLOSE_NORMAL, "bye", 0);
    ws_decoder_init(&d, 0, 1000);
    ws_message_t m;
    ok(ws_decode_evbuffer(&d, eb, &m) == WS_OK && m.opcode == WS_OP_CLOSE && m.close_code == 1000 &&
       m.len == 5 && !memcmp(m.data + 2, "bye", 3), "close frame: code 1000, reason");
    ws_frame_append(eb, WS_OP_CLOSE, "", 0, 0);
    ok(ws_decode_evbuffer(&d, eb, &m) == WS_OK && m.close_code == WS_CLOSE_NO_STATUS,
       "an empty close frame: no status (1005)");
    ws_decoder_release(&d);
    evbuffer_free(eb);

    /* ---- violations ---- */
    n = frame(buf, WS_OP_BINARY, 1, "abc", 0);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "a server refuses an unmasked frame (1002)");
    n = frame(buf, WS_OP_BINARY, 1, "abc", 1);
    is_int(error_code(0, buf, n), WS_CLOSE_PROTOCOL, "a client refuses a masked frame");
    n = frame(buf, WS_OP_BINARY, 1, "abc", 1);
    buf[0] |= 0x40;
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "RSV1 without an extension");
    n = frame(buf, 3, 1, "abc", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "reserved data opcode 3");
    n = frame(buf, 0xB, 1, "", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "reserved control opcode 0xB");
    n = frame(buf, WS_OP_PING, 0, "x", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "a fragmented ping");
    memset(out, 'a', 126);
    out[126] = 0;
    n = frame(buf, WS_OP_PING, 1, out, 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "a 126-byte ping");
    n = frame(buf, WS_OP_CONT, 1, "x", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "a continuation without a message");
    n = frame(buf, WS_OP_TEXT, 0, "a", 1);
    n += frame(buf + n, WS_OP_TEXT, 1, "b", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "a new message inside a fragmented one");
    n = frame(buf, WS_OP_CLOSE, 1, "x", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_PROTOCOL, "a close frame with a one-byte payload");
    n = ws_frame_header(buf, WS_OP_BINARY, 1, 5000, mask);   /* header only: refused early */
    is_int(error_code(1, buf, n), WS_CLOSE_TOO_BIG, "a frame over the bound, refused from its header (1009)");
    n = frame(buf, WS_OP_TEXT, 0, "0123456789", 1);
    for (int i = 0; i < 100; i++)
        n += frame(buf + n, WS_OP_CONT, 0, "0123456789", 1);
    is_int(error_code(1, buf, n), WS_CLOSE_TOO_BIG, "fragments adding up over the bound");
    n = ws_frame_header(buf, WS_OP_BINARY, 1, 100, NULL);
    buf[1] = 127;
    memset(buf + 2, 0, 8);
    buf[2] = 0x80;
    is_int(error_code(0, buf, 10), WS_CLOSE_PROTOCOL, "a 64-bit length with its top bit set");

    /* ---- the raw decoder reports partial consumption ---- */
    n = frame(buf, WS_OP_TEXT, 0, "ab", 1);
    size_t first = n;
    n += frame(buf + n, WS_OP_CONT, 1, "cd", 1);
    ws_decoder_init(&d, 1, 1000);
    size_t used = 0;
    ok(ws_decode(&d, buf, first + 3, &used, &m) == WS_AGAIN && used == first,
       "a whole fragment is consumed while the next one is incomplete");
    ok(ws_decode(&d, buf + used, n - used, &used, &m) == WS_OK && m.len == 4 &&
       !memcmp(m.data, "abcd", 4), "then the message completes");
    ws_decoder_release(&d);

    return done_testing();
}
