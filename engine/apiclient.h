/* apiclient.h: a small asynchronous HTTP/JSON client for berth's API server.
 *
 * Every component other than the API server (scheduler, controllers, node agent) talks to the
 * API through this: one-shot requests (GET/POST/PUT/PATCH/DELETE with an optional JSON body,
 * answered with the status code and the parsed JSON body) and streaming GETs for watches
 * (the newline-delimited JSON events of a ?watch=true response, each parsed and handed over
 * as it arrives). A call in flight has a connection to itself, so a long watch never blocks a
 * request queued behind it; one-shot requests reuse idle keep-alive connections, and at most
 * a bounded number of them (1024, or a quarter of the descriptor limit) are on the wire at
 * once, the others waiting their turn in order. A one-shot request is never sent twice,
 * except a GET whose reused connection turned out closed. Connection failures are reported
 * through the callbacks (status 0 and a reason), never by crashing.
 *
 * Depends on libevent (evhttp client) and jansson. Called by informer.c and the tests.
 *
 * Callbacks run on the event loop the client was created with. An apiclient_* call that fails
 * at once returns NULL and never calls its callback. */
#ifndef BERTH_APICLIENT_H
#define BERTH_APICLIENT_H

#include <jansson.h>
#include <event2/event.h>

typedef struct apiclient_s apiclient_t;
typedef struct apiclient_call_s apiclient_call_t;

/* A finished one-shot request. status is the HTTP status, or 0 when no response arrived
 * (connection refused or lost, timeout); errstr then says why (else NULL). body is the parsed
 * JSON response, or NULL when it was empty or not JSON; borrowed for the duration of the call
 * (json_incref it to keep it). */
typedef void apiclient_done_fn(int status, json_t *body, const char *errstr, void *priv);

/* One event of a watch stream ({"type":..., "object":...}), borrowed for the duration of the
 * call. Lines that are not JSON objects are skipped. */
typedef void apiclient_event_fn(json_t *event, void *priv);

/* The watch stream ended. status is 200 for a stream that ended normally (server timeout),
 * another HTTP status when the server refused the watch (body: its parsed Status object or
 * NULL, borrowed), or 0 when the connection failed (errstr says why). */
typedef void apiclient_end_fn(int status, json_t *body, const char *errstr, void *priv);

/* A client for base_url ("http://host:port"; a trailing path is ignored). NULL if the URL is
 * not an http URL with a host, or on allocation failure. Caller frees with apiclient_free. */
apiclient_t *apiclient_create(struct event_base *base, const char *base_url);

/* Cancel every outstanding call (their callbacks are not called) and free the client. Must not
 * be called from inside one of this client's callbacks. */
void apiclient_free(apiclient_t *c);

/* Seconds a one-shot request may take before it fails with status 0 (default 30), waiting
 * for a connection included; also how long an idle keep-alive connection is kept. */
void apiclient_set_timeout(apiclient_t *c, int seconds);

/* Start a request. method: "GET", "POST", "PUT", "PATCH" or "DELETE". path starts with '/'
 * and includes any query string. body (borrowed) is sent as JSON when non-NULL; content_type
 * defaults to application/json, or application/merge-patch+json for PATCH. done is called
 * exactly once unless the call is cancelled first. The returned handle is valid until done
 * returns or apiclient_cancel is called. */
apiclient_call_t *apiclient_request(apiclient_t *c, const char *method, const char *path,
                                    const char *content_type, json_t *body,
                                    apiclient_done_fn *done, void *priv);

/* Start a streaming GET (path normally carries watch=true). on_event is called for each
 * complete line; on_end exactly once when the stream ends, unless cancelled first. The handle
 * is valid until on_end returns or apiclient_cancel is called. read_timeout (seconds, 0 for
 * the default of 660) bounds the silence between two pieces of the stream. */
apiclient_call_t *apiclient_watch(apiclient_t *c, const char *path, int read_timeout,
                                  apiclient_event_fn *on_event, apiclient_end_fn *on_end,
                                  void *priv);

/* The caller of this one-shot request has no use for a successful response's body (an Event
 * written, a binding): done gets NULL for it instead of the parsed JSON, which saves the
 * parse. Error bodies (a Status) are still parsed. Call right after apiclient_request; NULL
 * is ignored. */
void apiclient_discard_body(apiclient_call_t *call);

/* Stop a call: no callback of it runs afterwards and its connection is closed. Allowed from
 * inside any callback (including this call's own). */
void apiclient_cancel(apiclient_call_t *call);

/* Append s to buf percent-encoded for a URL query value. */
struct evbuffer;
int apiclient_query_escape(struct evbuffer *buf, const char *s);

#endif
