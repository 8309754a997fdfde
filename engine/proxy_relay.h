/* proxy_relay.h: copy bytes both ways between two connected TCP sockets, for berth proxy.
 *
 * A relay owns a client socket and a backend socket and moves what one side sends to the
 * other until both directions are finished: a side that reaches end of stream has its
 * peer's write side shut down (SHUT_WR) once everything it sent was delivered, so
 * half-closed connections work (a client that sends its request then shuts down its write
 * side still gets the answer); a reset or any other error on either side ends the relay
 * and closes both sockets. A direction stops reading while its writer cannot keep up, so a
 * fast sender never grows memory without bound.
 *
 * Two ways to move the bytes, both non-blocking on the caller's event loop:
 *   PROXY_RELAY_SPLICE  Linux splice(2) through one pipe per direction: the bytes go
 *                       socket -> pipe -> socket inside the kernel, never copied to user
 *                       space. A direction starts by copying with read(2)/write(2)
 *                       through a 16 KiB per-thread buffer and makes its pipe (two fds)
 *                       only when a read fills that buffer, so short exchanges (a
 *                       request, an answer) cost no pipes.
 *   PROXY_RELAY_BUFFER  libevent bufferevents (read(2) into an evbuffer, write(2) out of
 *                       it): portable, fewer fds, cheaper for short exchanges.
 * docs/proxy.md has the measurement behind the default. SPLICE keeps copying when a pipe
 * cannot be made (fd limit).
 *
 * Depends on libevent. Called by proxy.c. */
#ifndef BERTH_PROXY_RELAY_H
#define BERTH_PROXY_RELAY_H

#include <stdint.h>
#include <event2/event.h>

typedef struct proxy_relay_s proxy_relay_t;

typedef enum {
    PROXY_RELAY_BUFFER = 0,
    PROXY_RELAY_SPLICE = 1,
} proxy_relay_mode_t;

/* The relay ended (both directions finished, or an error). up: bytes client -> backend,
 * down: backend -> client. ok: 1 when both directions ended with end of stream, 0 when an
 * error (reset, broken pipe) cut them. Called once; the relay and its sockets are freed
 * right after it returns. */
typedef void proxy_relay_done_fn(proxy_relay_t *r, uint64_t up, uint64_t down, int ok,
                                 void *priv);

/* Start relaying between client and backend (both connected, non-blocking; the relay takes
 * ownership of them, also when it fails to start: they are then closed). Sets TCP_NODELAY
 * on both (in the relay's thread, which with relay threads is not the accepting one). NULL on
 * allocation failure, and done is never called. */
proxy_relay_t *proxy_relay_start(struct event_base *base, int client, int backend,
                                 proxy_relay_mode_t mode, proxy_relay_done_fn *done,
                                 void *priv);

/* Stop a relay from outside (shutdown): close both sockets and free it; done is not
 * called. Not from inside its own done callback. */
void proxy_relay_free(proxy_relay_t *r);

/* The mode a relay actually uses (SPLICE may have fallen back to BUFFER). */
proxy_relay_mode_t proxy_relay_mode(const proxy_relay_t *r);

#endif
