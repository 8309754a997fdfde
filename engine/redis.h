/* redis.h: a Redis connection on the event loop (hiredis async + its libevent adapter)
 * that reconnects by itself.
 *
 * The connection is either up or down. While down, rconn_command() fails at once (the
 * caller answers 503) and a timer retries the connection with exponential backoff (100 ms
 * doubling to 5 s). A command in flight when the connection drops gets its callback with a
 * NULL reply. Callers learn of up/down transitions through the state callback.
 *
 * URLs: redis://[:password@]host[:port][/db], unix:///path/to/redis.sock[?db=N], and
 * redis-sentinel://[:password@]host[:port][,host[:port]...]/master-name[/db] for a replicated
 * Redis under Sentinel: each (re)connection asks the sentinels (in turn) for the master's
 * address and checks with ROLE that it is the master; a READONLY or MASTERDOWN reply (a
 * demoted master) drops the connection, so the next one finds the new master. The password
 * is the data nodes'; the sentinels are asked without one.
 *
 * Depends on hiredis, libevent. Used by store.c (commands) and watch.c (blocking reads). */
#ifndef BERTH_REDIS_H
#define BERTH_REDIS_H

#include <stddef.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

typedef struct rconn_s rconn_t;

/* reply is NULL if the command failed (connection lost); it is freed after the callback
 * returns, so copy what must outlive it. */
typedef void rconn_reply_cb(rconn_t *c, redisReply *reply, void *privdata);
typedef void rconn_state_cb(rconn_t *c, int up, void *privdata);

/* Create and start connecting. NULL with err set if the URL is malformed. */
rconn_t *rconn_create(struct event_base *base, const char *url, const char *name,
                      char *err, size_t errlen);
void rconn_set_state_cb(rconn_t *c, rconn_state_cb *cb, void *privdata);
int  rconn_is_up(const rconn_t *c);
const char *rconn_last_error(const rconn_t *c);

/* Send a command. Returns 0 if sent: cb is then called exactly once. Returns -1 if the
 * connection is down: cb is never called. argv/argvlen are copied before returning. */
int rconn_command_argv(rconn_t *c, rconn_reply_cb *cb, void *privdata, int argc,
                       const char **argv, const size_t *argvlen);
int rconn_command(rconn_t *c, rconn_reply_cb *cb, void *privdata, const char *fmt, ...);

/* Drop the connection now (as if it failed) and reconnect after the backoff. Pending
 * callbacks get NULL replies. */
void rconn_reset(rconn_t *c);
/* Drop the connection at once, not waiting for replies (Redis stopped answering): pending
 * callbacks get NULL replies now. Not from inside a reply callback. */
void rconn_abort(rconn_t *c);
/* Close for good. Pending callbacks get NULL replies. */
void rconn_free(rconn_t *c);

#endif
