/* spdy.h: a SPDY/3.1 session, as `kubectl port-forward` speaks it (client-go over
 * moby/spdystream), for the side that accepts streams (the agent).
 *
 * Transport-agnostic and push-style: the caller feeds the bytes it received (raw, or the
 * payloads of the binary websocket messages that tunnel them, in order: message boundaries
 * mean nothing) and sends what the session queued in its output evbuffer. Nothing here does
 * I/O or keeps time.
 *
 * What is handled (SPDY/3 draft, sections 2.2-2.6):
 *   - data frames, FIN flag; a data frame for a stream the peer has not opened or has
 *     finished is dropped (RST_STREAM INVALID_STREAM / STREAM_ALREADY_CLOSED queued);
 *     INVALID_STREAM also answers data for a stream already forgotten (finished or reset);
 *   - SYN_STREAM (headers decompressed, handed to on_stream), SYN_REPLY sent by
 *     spdy_reply, RST_STREAM both ways, PING echoed at once (the peer's ids; we never ping
 *     first), GOAWAY both ways, SETTINGS, HEADERS and WINDOW_UPDATE read and ignored
 *     (spdystream enforces no flow-control window, so none is kept here either; NOOP and
 *     unknown control types are skipped, as the spec says); HEADERS' block is still
 *     inflated (the context spans the session) and a FIN on it closes the peer's side like
 *     an empty data frame with FIN (on_data with len 0);
 *   - new streams are refused (RST_STREAM REFUSED_STREAM, no on_stream) after we sent
 *     GOAWAY, and beyond 1024 tracked at once; a SYN_REPLY for a stream we did not open and
 *     a second SYN_REPLY are stream errors (RST_STREAM, on_reset);
 *   - header blocks: 32-bit counts and lengths, zlib with the SPDY/3 dictionary, one
 *     compression context per direction for the whole session (Z_SYNC_FLUSH per block).
 *     Names arrive lowercase and non-empty (anything else is a protocol error, as in
 *     spdystream's reader); values with several parts keep their NUL separators.
 * Bounds, each a protocol error (spdy_feed returns -1 and the session is dead): a frame
 * longer than SPDY_MAX_FRAME, a header block that inflates past SPDY_MAX_HEADERS bytes or
 * has more than SPDY_MAX_PAIRS pairs, a control frame whose version is not 3, a frame
 * shorter than its fixed fields, stream ids that are 0, even (the peer is the client: its
 * streams are odd) or not increasing; also zlib data that does not inflate (corrupt, another
 * dictionary, the zlib stream ended) and a block whose lengths run past its end or that has
 * bytes after its last pair. Before returning -1 a GOAWAY PROTOCOL_ERROR is queued so the
 * caller can flush it and close; nothing after the bad frame is parsed.
 *
 * Memory: the session owns its evbuffers, zlib streams and stream table; header and data
 * pointers handed to callbacks are valid only during the call (data is never NULL, even
 * when len is 0). One session per connection, single-threaded. */
#ifndef BERTH_SPDY_H
#define BERTH_SPDY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#define SPDY_MAX_FRAME    (1024 * 1024)   /* a frame's length field; spdystream writes <= 32 KiB */
#define SPDY_MAX_HEADERS  (64 * 1024)     /* one header block, inflated */
#define SPDY_MAX_PAIRS    64
#define SPDY_DATA_CHUNK   (32 * 1024)     /* spdy_data splits longer writes into frames this big */

/* RST_STREAM and GOAWAY status codes (draft 3, 2.6.3 and 2.6.6). */
#define SPDY_PROTOCOL_ERROR        1
#define SPDY_INVALID_STREAM        2
#define SPDY_REFUSED_STREAM        3
#define SPDY_CANCEL                5
#define SPDY_INTERNAL_ERROR        6
#define SPDY_STREAM_IN_USE         8
#define SPDY_STREAM_ALREADY_CLOSED 9
#define SPDY_GOAWAY_OK             0
#define SPDY_GOAWAY_PROTOCOL_ERROR 1

typedef struct spdy_header_s {
    const char *name;    /* NUL-terminated copies; a value may also contain NULs (parts) */
    size_t name_len;
    const char *value;
    size_t value_len;
} spdy_header_t;

typedef struct spdy_callbacks_s {
    /* The peer opened stream `id` (odd). fin: it will send no data (its side is closed).
     * Answer later with spdy_reply or spdy_reset; until then the peer waits. */
    void (*on_stream)(void *priv, uint32_t id, const spdy_header_t *h, size_t nh, int fin);
    /* Data on stream `id`; len may be 0 when only fin is set. fin: the peer's side closed. */
    void (*on_data)(void *priv, uint32_t id, const uint8_t *data, size_t len, int fin);
    /* The peer reset stream `id`: forget it, send nothing more on it. Also called when the
     * session itself reset the stream because the peer broke its rules (data after its
     * FIN, a second SYN_REPLY): status is then what we sent. Not called for streams the
     * session no longer tracks. */
    void (*on_reset)(void *priv, uint32_t id, uint32_t status);
    /* The peer sent GOAWAY: it opens no more streams. */
    void (*on_goaway)(void *priv, uint32_t last_good_id, uint32_t status);
} spdy_callbacks_t;

typedef struct spdy_session_s spdy_session_t;

/* A session for the accepting side. NULL on allocation failure. cb is copied. */
spdy_session_t *spdy_session_new(const spdy_callbacks_t *cb, void *priv);
void spdy_session_free(spdy_session_t *s);

/* Parse every complete frame in data (partial frames are kept for the next call) and call
 * the callbacks. 0, or -1 on a protocol error: err says why, a GOAWAY is queued, and every
 * later call returns -1 with the same reason (and spdy_reply/data/reset/goaway/open/ping
 * fail and queue nothing). err may be NULL. Callbacks may call spdy_reply/data/reset/goaway
 * but must not free the session nor call spdy_feed (that call returns -1). */
int spdy_feed(spdy_session_t *s, const void *data, size_t len, char *err, size_t errlen);

/* Bytes to send, in order. The caller drains it (evbuffer_remove, bufferevent_write_buffer). */
struct evbuffer *spdy_output(spdy_session_t *s);

/* Queue a SYN_REPLY for the peer's stream id with the given headers (names lowercase,
 * non-empty; at most SPDY_MAX_PAIRS pairs and SPDY_MAX_HEADERS bytes in all; h may be NULL
 * when nh is 0). fin: we will send no data on it. 0, or -1 (unknown stream, already
 * replied, headers out of bounds, zlib) with nothing queued. */
int spdy_reply(spdy_session_t *s, uint32_t id, const spdy_header_t *h, size_t nh, int fin);
/* Queue data frames (at most SPDY_DATA_CHUNK each); fin closes our side after them
 * (len 0 with fin sends one empty FIN frame; len 0 without fin sends nothing). -1 if id is
 * not tracked, our side of it is already closed, or it is the peer's stream and not yet
 * replied to (spdystream drops data that arrives before the SYN_REPLY). */
int spdy_data(spdy_session_t *s, uint32_t id, const void *data, size_t len, int fin);
/* Queue RST_STREAM and forget the stream. -1, nothing queued, if the stream is not
 * tracked (finished, reset, never opened) or status is 0 (spdystream's reader fails the
 * whole connection on a zero status). */
int spdy_reset(spdy_session_t *s, uint32_t id, uint32_t status);
/* Queue GOAWAY (last good = the highest stream id the peer opened and we accepted).
 * Streams the peer opens afterwards are refused. */
int spdy_goaway(spdy_session_t *s, uint32_t status);

/* Streams the session still tracks (opened, not both sides finished, not reset). */
size_t spdy_open_streams(const spdy_session_t *s);

/* For tests and tools: the client side of a session (opens odd streams, accepts
 * SYN_REPLY). on_stream is then called for each SYN_REPLY received (h = its headers). */
spdy_session_t *spdy_client_new(const spdy_callbacks_t *cb, void *priv);
/* Client only: queue SYN_STREAM with the next odd id; returns it, or 0 on failure (also
 * after the peer's GOAWAY). Headers as for spdy_reply. */
uint32_t spdy_open(spdy_session_t *s, const spdy_header_t *h, size_t nh, int fin);
/* Client only: queue a PING with the next odd id; returns it. */
uint32_t spdy_ping(spdy_session_t *s);
/* Called for PING replies the client receives (may be NULL). */
void spdy_on_pong(spdy_session_t *s, void (*cb)(void *priv, uint32_t id));

#endif
