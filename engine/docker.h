/* docker.h: an asynchronous client for the Docker Engine API (v1.41) on a libevent loop.
 *
 * The node agent runs containers through this. Requests go over Docker's unix socket
 * (unix:///var/run/docker.sock) or a tcp://host:port address, with libcurl's multi interface
 * driven by the libevent loop (curl_multi_socket_action from socket and timer events): no
 * thread, no blocking call. Three kinds of call:
 *   - one-shot JSON requests: the status and the parsed JSON body (Docker's {"message": ...}
 *     on errors);
 *   - streaming requests: the body handed over as it arrives (GET /events, GET
 *     /containers/<id>/logs, POST /images/create, POST /exec/<id>/start), with
 *     docker_demux_t to split Docker's multiplexed stdout/stderr frames (8-byte headers,
 *     used when the container has no TTY);
 *   - plain HTTP probes to any address (docker_probe: the agent's httpGet and tcpSocket
 *     probes share the curl multi);
 *   - hijacked connections (docker_hijack: POST /exec/<id>/start for `kubectl exec`), where
 *     Docker switches the HTTP connection to a raw two-way stream. libcurl cannot hand a
 *     connection over after a 101, so these use a plain bufferevent and a hand-written
 *     request on their own connection to the socket.
 * A Docker that is down or restarting is reported as status 0 with a reason, never by
 * crashing; callers retry later.
 *
 * Depends on libcurl, libevent, jansson. Called by the node agent (agent*.c).
 *
 * Callbacks run on the loop. A docker_* call that fails at once returns NULL and never calls
 * its callback. */
#ifndef BERTH_DOCKER_H
#define BERTH_DOCKER_H

#include <stddef.h>
#include <jansson.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define DOCKER_API_VERSION "v1.41"

typedef struct docker_s docker_t;
typedef struct docker_call_s docker_call_t;

/* A finished one-shot request: status is the HTTP status, or 0 when Docker did not answer
 * (errstr says why; else errstr is NULL, or Docker's error message for a status >= 400).
 * body is the parsed JSON response or NULL; borrowed for the duration of the call. */
typedef void docker_done_fn(int status, json_t *body, const char *errstr, void *priv);

/* A piece of a streaming 2xx response body (any split), borrowed for the call. */
typedef void docker_data_fn(const char *data, size_t len, void *priv);

/* A stream ended: status as for docker_done_fn (a non-2xx status means no data was handed
 * over; errstr then carries Docker's message). */
typedef void docker_end_fn(int status, const char *errstr, void *priv);

/* A client for url: "unix:///var/run/docker.sock" (also a bare absolute path) or
 * "tcp://host:port". NULL on a bad URL or allocation failure. Free with docker_free. */
docker_t *docker_create(struct event_base *base, const char *url);

/* Cancel every call (no callback runs) and free the client. Not from inside a callback. */
void docker_free(docker_t *d);

/* A one-shot request. path is the API path without the version prefix ("/containers/json?
 * all=1"); it is sent as /v1.41<path>. body (borrowed) is sent as JSON when non-NULL.
 * timeout_ms bounds the whole call (0: 30 s). done is called exactly once unless cancelled. */
docker_call_t *docker_request(docker_t *d, const char *method, const char *path, json_t *body,
                              long timeout_ms, docker_done_fn *done, void *priv);

/* A streaming request; timeout_ms 0 means none. on_data for each piece of a 2xx body; on_end
 * exactly once unless cancelled. */
docker_call_t *docker_stream(docker_t *d, const char *method, const char *path, json_t *body,
                             long timeout_ms, docker_data_fn *on_data, docker_end_fn *on_end,
                             void *priv);

/* A plain HTTP GET of url ("http://10.0.0.5:8080/healthz"), or with connect_only a TCP
 * connect to url's host and port, bounded by timeout_ms. done gets the HTTP status (0 when
 * the connection failed or timed out; 200 for a successful connect_only) and no body. */
docker_call_t *docker_probe(docker_t *d, const char *url, int connect_only, long timeout_ms,
                            docker_done_fn *done, void *priv);

/* A hijacked connection, as `docker exec -i` and `docker attach` make them: POST path with
 * body (borrowed; JSON) on a new connection, with "Connection: Upgrade" and "Upgrade: tcp".
 * Docker answers "101 UPGRADED" and the connection becomes the process's stdin (what is
 * written; shutdown(SHUT_WR) closes it) and its output (read; multiplexed with 8-byte frame
 * headers unless the exec has a TTY, see docker_demux_t). done is called exactly once unless
 * cancelled: with status 101 (or 200 from an engine that streams without upgrading) and bev,
 * positioned after the response head, now the caller's (callbacks unset, not enabled, no
 * timeouts; bufferevent_free closes the socket); or with bev NULL, status 0 (Docker did not
 * answer within timeout_ms, 0: 30 s) or Docker's status, and errstr. */
typedef struct docker_hijack_s docker_hijack_t;
typedef void docker_hijack_fn(int status, struct bufferevent *bev, const char *errstr,
                              void *priv);
docker_hijack_t *docker_hijack(docker_t *d, const char *path, json_t *body, long timeout_ms,
                               docker_hijack_fn *done, void *priv);
/* Drop a pending hijack; its callback does not run. Not after done was called. */
void docker_hijack_cancel(docker_hijack_t *h);

/* Stop a call: none of its callbacks runs afterwards. Allowed from inside any callback
 * (including its own). */
void docker_cancel(docker_call_t *call);

/* Percent-encode s for a URL query value into out (NUL-terminated, truncated to outlen). */
void docker_escape(const char *s, char *out, size_t outlen);

/* ---- Docker's multiplexed stream (attach, logs and exec without a TTY) ------------------
 * Each frame: 1 byte stream (0 stdin, 1 stdout, 2 stderr), 3 zero bytes, 4 bytes big-endian
 * length, then the payload. Feed it pieces of any size; out is called for each piece of
 * payload in order. */
typedef void docker_demux_fn(int stream, const char *data, size_t len, void *priv);

typedef struct docker_demux_s {
    unsigned char hdr[8];
    size_t hdr_len;        /* header bytes collected so far */
    size_t remaining;      /* payload bytes left in the current frame */
    int stream;
} docker_demux_t;

void docker_demux_init(docker_demux_t *dm);
void docker_demux_feed(docker_demux_t *dm, const char *data, size_t len, docker_demux_fn *out,
                       void *priv);

#endif
