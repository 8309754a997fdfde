/* up.h: the parts of `berth up`, the all-in-one cluster (docs/up.md).
 *
 * up.c is the command: options, the data directory and its lock, the order things start in,
 * the waits and what is printed. Behind it:
 *   - up_sup.c, a small process supervisor: children are fork/exec'd (berth's subcommands
 *     through /proc/self/exe, redis-server through PATH), each logging to its own file, each
 *     restarted with a backoff when it dies, all stopped in a fixed order on SIGINT/SIGTERM;
 *   - up_docker.c, the checks made before any node starts: does a Docker engine answer (and
 *     what to tell the user when not), is the infra image berth/pause:latest there (built
 *     from scripts/pause.c and imported when not), plus the blocking HTTP helper (libcurl
 *     easy, unix sockets too) that up.c also uses to ask the API server.
 *
 * Everything here is blocking and single-threaded: `berth up` waits on signals with
 * sigtimedwait (up_sup_wait), there is no event loop. Depends on libcurl and jansson.
 * Called by up.c only. */
#ifndef BERTH_UP_H
#define BERTH_UP_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- up_sup.c: supervisor */

typedef struct up_child_s up_child_t;
typedef struct up_sup_s up_sup_t;

struct up_child_s {
    char *name;          /* "redis", "server", "proxy", "node-1": also the log's name */
    char *path;          /* what is exec'd: a path, or NULL to look argv[0] up in PATH */
    char **argv;         /* NULL-terminated, owned */
    char *log_path;      /* stdout and stderr are appended here */
    int stop_group;      /* up_sup_stop stops group 0 first, then 1, ... */
    int stop_timeout_s;  /* SIGTERM, then SIGKILL after this long */
    int port_arg;        /* argv index of a "127.0.0.1:PORT" re-picked when taken; -1: none */
    pid_t pid;           /* running process, 0 when none */
    int spawns;          /* how many times it was started */
    int exits;           /* how many times it died without being asked to */
    int last_status;     /* the wait status of the last exit */
    double started;      /* up_now() at the last spawn */
    double restart_at;   /* > 0: due to be restarted at this up_now() */
    double backoff;      /* seconds before the next restart */
    up_child_t *next;
};

struct up_sup_s {
    up_child_t *children;  /* in the order they were added */
    int stop_signal;       /* the SIGINT/SIGTERM that asked us to stop, 0 until then */
    int stopping;          /* up_sup_stop runs: no restarts */
};

/* Block SIGINT, SIGTERM, SIGHUP and SIGCHLD (they are taken with sigtimedwait from now on),
 * ignore SIGPIPE. Call once before any child is spawned. NULL when out of memory. Free with
 * up_sup_free (which does not stop anything: call up_sup_stop first). */
up_sup_t *up_sup_create(void);
void up_sup_free(up_sup_t *s);

/* Register a child (not started): path is exec'd with argv (NULL path: argv[0] looked up in
 * PATH). Everything is copied. Returns it, borrowed from s; NULL when out of memory. */
up_child_t *up_sup_add(up_sup_t *s, const char *name, const char *log_path, int stop_group,
                       int stop_timeout_s, const char *path, char *const argv[]);

/* Start c now: fork, then in the child its own process group (so the terminal's Ctrl-C
 * reaches only `berth up`, which then stops things in order), SIGTERM when `berth up` dies
 * (PR_SET_PDEATHSIG), default signal dispositions, stdin /dev/null, stdout+stderr appended to
 * its log after a header line, exec. -1 when fork fails. */
int up_child_spawn(up_sup_t *s, up_child_t *c);

/* Wait up to ms for something to happen, reaping children and restarting those whose backoff
 * ran out meanwhile (1 s doubling to 30 s, back to 1 s after a child ran 60 s). Returns 1 as
 * soon as SIGINT, SIGTERM or SIGHUP arrived (s->stop_signal says which), else 0 when ms
 * elapsed. */
int up_sup_wait(up_sup_t *s, int ms);

/* Stop every child, group by group (SIGTERM, SIGKILL after its timeout), each group only
 * when the previous one is gone. Bounded by the sum of the groups' timeouts (plus 5 s). */
void up_sup_stop(up_sup_t *s);

/* Monotonic seconds. */
double up_now(void);

/* A loopback TCP port nobody listens on: prefer if it can be bound now, else one the kernel
 * picks. 0 on failure. */
int up_free_port(int prefer);

/* Is something accepting connections on host:port (IPv4 literal or name)? */
int up_port_answers(const char *hostport);

/* Print the last lines of path to out, each prefixed with "    ". */
void up_log_tail(const char *path, int lines, FILE *out);

/* ---------------------------------------------------------------- up_docker.c */

/* One blocking HTTP request. url is "http://host:port/path"; with unix_path the connection
 * goes to that unix socket instead (the host part is then only the Host header). body may be
 * NULL. *out (when out is non-NULL) receives the response body, NUL-terminated, which the
 * caller frees. Returns the HTTP status, or 0 with err set when there was no answer. */
long up_http(const char *url, const char *unix_path, const char *method, const char *ctype,
             const void *body, size_t body_len, long timeout_ms, char **out, char *err,
             size_t errlen);

/* Make sure a Docker engine answers on docker_url (GET /_ping). When none does and we are
 * root, the URL is Docker's default socket and dockerd is installed, start dockerd (its own
 * session, not supervised: it outlives `berth up`, like the pods) with its log in
 * log_path and wait for it. Otherwise print to stderr what the user has to do. 0 when an
 * engine answers, -1 (message printed) when not. */
int up_docker_ensure(const char *docker_url, const char *log_path);

/* Make sure the infra image berth/pause:latest exists in that engine: if not, compile
 * scripts/pause.c (found beside bin/, i.e. <exe>/../../scripts/pause.c) with $CC or cc
 * -static -Os into work_dir and import it (POST /images/create?fromSrc=-). Returns 0 when it
 * was there, 1 when it was imported, -1 with err set. */
int up_pause_ensure(const char *docker_url, const char *work_dir, char *err, size_t errlen);

#endif
