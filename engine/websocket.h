/* websocket.h: RFC 6455 websockets as `kubectl exec` uses them, and taking a connection over
 * from evhttp.
 *
 * Three parts:
 *   - the frame codec: frame headers, masking, an incremental decoder that reassembles
 *     fragmented messages, hands control frames (ping, pong, close) over as they come and
 *     bounds every size (a frame or message over the bound is an error with close code 1009;
 *     a malformed frame is one with 1002). No extensions (RSV bits must be 0), so no
 *     permessage-deflate;
 *   - handshake helpers: Sec-WebSocket-Accept (SHA-1 + base64, OpenSSL), a random client
 *     key, subprotocol choice, header token lists;
 *   - ws_hijack_t: libevent 2.1's evhttp cannot switch protocols, so a handler that wants
 *     to upgrade takes the request's connection (its bufferevent) over from evhttp, as
 *     docs/agent.md ("exec") explains; until it answers 101 it can still give the
 *     connection back for an ordinary evhttp reply.
 *
 * The Kubernetes channel protocol on top (v4/v5.channel.k8s.io): every message is binary,
 * byte 0 is the channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 v5 close).
 *
 * Depends on libevent (evbuffer, bufferevent, evhttp) and OpenSSL (SHA-1). Called by
 * api_exec.c (the API server's relay), agent_exec.c (the agent's exec endpoint) and
 * execclient.c (a blocking client, which uses only the codec and the handshake helpers). */
#ifndef BERTH_WEBSOCKET_H
#define BERTH_WEBSOCKET_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define WS_OP_CONT    0x0
#define WS_OP_TEXT    0x1
#define WS_OP_BINARY  0x2
#define WS_OP_CLOSE   0x8
#define WS_OP_PING    0x9
#define WS_OP_PONG    0xA

#define WS_CLOSE_NORMAL      1000
#define WS_CLOSE_GOING_AWAY  1001
#define WS_CLOSE_PROTOCOL    1002
#define WS_CLOSE_NO_STATUS   1005   /* never sent: a close frame without a code */
#define WS_CLOSE_TOO_BIG     1009
#define WS_CLOSE_INTERNAL    1011

#define WS_MAX_HEADER   14          /* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_MAX_CONTROL  125         /* control frame payloads, RFC 6455 5.5 */

/* The Kubernetes remote command channels. */
#define WS_CH_STDIN   0
#define WS_CH_STDOUT  1
#define WS_CH_STDERR  2
#define WS_CH_STATUS  3
#define WS_CH_RESIZE  4
#define WS_CH_CLOSE   255           /* v5: [255, channel] closes that channel (stdin EOF) */

#define WS_PROTO_V5 "v5.channel.k8s.io"
#define WS_PROTO_V4 "v4.channel.k8s.io"

/* Results of the decoder. */
#define WS_OK      0
#define WS_AGAIN   1
#define WS_ERROR  (-1)

/* ---- frames ------------------------------------------------------------------------ */

/* The header of one frame into out; returns its length (2..14). mask NULL: unmasked (what a
 * server sends); else the 4-byte masking key, which the caller applies to the payload. */
size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], int opcode, int fin, uint64_t len,
                       const uint8_t *mask);

/* XOR data with the masking key, as if data started at byte offset of the payload. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Append one complete (FIN) frame with payload to out; masked (a client) with a random key.
 * 0, or -1 on allocation failure. */
int ws_frame_append(struct evbuffer *out, int opcode, const void *payload, size_t len,
                    int masked);

/* A binary channel message: one frame whose payload is channel followed by data. */
int ws_channel_append(struct evbuffer *out, int channel, const void *data, size_t len,
                      int masked);

/* A close frame with code and a reason (truncated to fit 125 bytes). */
int ws_close_append(struct evbuffer *out, int code, const char *reason, int masked);

/* ---- the decoder ------------------------------------------------------------------- */

typedef struct ws_message_s {
    int opcode;               /* WS_OP_TEXT, _BINARY, _CLOSE, _PING or _PONG */
    const uint8_t *data;      /* unmasked payload; borrowed until the next decode */
    size_t len;
    int close_code;           /* WS_OP_CLOSE: the code, WS_CLOSE_NO_STATUS if none */
} ws_message_t;

typedef struct ws_decoder_s {
    int server;               /* 1: frames must be masked (peer is a client); 0: must not */
    size_t max_message;       /* bound on one (reassembled) data message */
    uint8_t *msg;             /* the data message being reassembled */
    size_t msg_len, msg_cap;
    int msg_opcode;           /* its opcode; 0 when no fragmented message is in progress */
    uint8_t ctl[WS_MAX_CONTROL];
    int close_code;           /* after WS_ERROR: the code to close with */
    const char *errstr;       /* after WS_ERROR: why (static) */
} ws_decoder_t;

void ws_decoder_init(ws_decoder_t *d, int server, size_t max_message);
void ws_decoder_release(ws_decoder_t *d);

/* Decode from buf[0..len): consumes whole frames only. WS_OK: a message is in *msg and
 * *used bytes were consumed. WS_AGAIN: no complete message yet; *used bytes (whole fragment
 * frames, maybe 0) were consumed all the same. WS_ERROR: a protocol violation (d->errstr,
 * d->close_code); the connection should be closed. */
int ws_decode(ws_decoder_t *d, const uint8_t *buf, size_t len, size_t *used, ws_message_t *msg);

/* The same over an evbuffer, draining what was consumed. */
int ws_decode_evbuffer(ws_decoder_t *d, struct evbuffer *in, ws_message_t *msg);

/* ---- handshakes -------------------------------------------------------------------- */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)). out
 * gets 28 characters and a NUL. */
void ws_accept_key(const char *key, char out[32]);

/* A fresh Sec-WebSocket-Key (base64 of 16 random bytes): 24 characters and a NUL. */
void ws_client_key(char out[32]);

/* Random bytes (getrandom, else a weaker fallback); for masks and keys. */
void ws_random(uint8_t *out, size_t len);

/* Whether a comma-separated header value (Connection: keep-alive, Upgrade) names token,
 * case-insensitively. value may be NULL. */
int ws_header_has_token(const char *value, const char *token);

/* The subprotocol to answer: the first of supported (NULL-terminated, the server's order of
 * preference) that the comma-separated offered list names; NULL if none. */
const char *ws_select_protocol(const char *offered, const char *const *supported);

/* Whether request headers ask for a websocket upgrade: Upgrade: websocket, Connection
 * naming upgrade, Sec-WebSocket-Version 13 and a Sec-WebSocket-Key. */
int ws_is_upgrade(const struct evkeyvalq *headers);

/* Parse an HTTP/1.x response head at the start of buf[0..len). Returns the head's length
 * (through the blank line) with *status set and, when headers is non-NULL, the header lines
 * added to it (caller clears with evhttp_clear_headers); 0 when the head is not complete
 * yet; -1 when it is malformed. */
long ws_response_head_parse(const char *buf, size_t len, int *status, struct evkeyvalq *headers);

/* ---- taking a connection over from evhttp ------------------------------------------ */

typedef void ws_hijack_gone_fn(void *priv);

typedef struct ws_hijack_s {
    struct evhttp_connection *evcon;   /* NULL once closed or gone */
    struct bufferevent *bev;           /* the connection's bufferevent (evhttp's) */
    ws_hijack_gone_fn *gone;
    void *priv;
} ws_hijack_t;

/* Take req's connection over from evhttp: from here on the bufferevent's callbacks are
 * readcb/writecb/eventcb (with cbarg) and evhttp neither reads nor writes it; bytes the
 * client sent after the request head are in its input buffer. Timeouts are cleared. gone is
 * called (with priv) if evhttp frees the connection itself, which happens only when the whole
 * evhttp server is freed; then the caller must not touch it again. Call from the request
 * handler, before returning to evhttp: a client byte arriving while evhttp still reads would
 * make libevent 2.1 abort ("illegal connection state"). 0, or -1 (no connection). */
int ws_hijack_start(ws_hijack_t *h, struct evhttp_request *req, bufferevent_data_cb readcb,
                    bufferevent_data_cb writecb, bufferevent_event_cb eventcb, void *cbarg,
                    ws_hijack_gone_fn *gone, void *priv);

/* Hand the connection back for an ordinary reply (evhttp_send_reply and friends install
 * evhttp's callbacks again); only before anything was written to it. */
void ws_hijack_giveback(ws_hijack_t *h);

/* Close the connection: free it (the socket, and the request unless owned) now. Output
 * still buffered is lost, so callers wait until it drained. */
void ws_hijack_close(ws_hijack_t *h);

/* Write "101 Switching Protocols" for a websocket upgrade with the accept key for key and
 * the chosen subprotocol (NULL: none) to out. */
void ws_write_101(struct evbuffer *out, const char *key, const char *protocol);

#endif
