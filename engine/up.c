/* up.c: `berth up`, the all-in-one cluster on one machine (docs/up.md).
 *
 *   berth up [--data-dir DIR] [--listen ADDR] [--nodes N] [--redis URL] [--policies DIR]
 *            [--plugins DIR] [--docker URL] [--node-prefix P] [--log-level L]
 *
 * One foreground process supervising the parts of a cluster as child processes (up_sup.c):
 * a private redis-server (unless --redis), `berth server` (API, scheduler, controllers),
 * N `berth agent`s (node-1..node-N) and one `berth proxy`. Before any node starts it checks
 * that Docker answers and that the infra image is there (up_docker.c). It writes
 * DIR/kubeconfig, waits for the API and the nodes, prints where things are, and stays until
 * SIGINT/SIGTERM/SIGHUP, when it stops the agents (pods keep running), the proxy, the server
 * and Redis, in that order. Started again on the same DIR it resumes: Redis reloads its
 * append-only file, the agents adopt the containers that kept running, and the settings of
 * the last run (DIR/up.json) are the defaults.
 *
 * The data directory:
 *   up.pid        the lock: flock'd while a `berth up` runs on DIR, holds its pid
 *   up.json       the settings of the last run
 *   kubeconfig    for kubectl --kubeconfig and the berth CLI
 *   redis/        redis.sock and the append-only file
 *   nodes/<name>/ each agent's --root-dir (pod volumes)
 *   logs/         <child>.log, dockerd.log when berth up started dockerd
 *   pause/        scripts/pause.c built for the berth/pause image, when it was missing
 *
 * Depends on up_sup.c, up_docker.c, jansson, libcurl. Called by main.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

#include "up.h"
#include "util.h"

int up_main(int argc, char **argv);

#define UP_MAX_NODES 64
#define UP_REDIS_WAIT_S 60
#define UP_API_WAIT_S 60
#define UP_NODES_WAIT_S 90
#define UP_NODE_LOCK_DIR "/tmp/berth-nodes"

/* Settings: from the command line, else DIR/up.json of the last run, else the defaults. */
typedef struct up_opts_s {
    char *data_dir;
    char *listen;
    int nodes;
    char *redis;       /* NULL: a private redis-server */
    char *policies;
    char *plugins;
    char *docker;      /* NULL: the agent's default, unix:///var/run/docker.sock */
    char *node_prefix;
    char *log_level;
} up_opts_t;

typedef struct up_s {
    up_opts_t o;
    char dir[PATH_MAX];      /* absolute data directory */
    char exe[PATH_MAX];      /* this binary, for argv[0] of the children */
    char api_url[300];       /* http://127.0.0.1:6443 */
    char nodeports[96];      /* the proxy's --nodeport-address: 127.0.0.1[,bridge gateway] */
    char redis_url[PATH_MAX + 48];
    char redis_sock[PATH_MAX + 32];
    char token_path[PATH_MAX + 16];   /* <dir>/agent-token: what the server shows the agents */
    up_sup_t *sup;
    up_child_t *redis, *server, *proxy;
    up_child_t *agents[UP_MAX_NODES];
    char node_names[UP_MAX_NODES][64];
    time_t started_wall;
    int prev_nodes;          /* --nodes of the last run (up.json), 0 if none */
    int node_locks[UP_MAX_NODES]; /* lock_node_names' fds, -1 when none */
    char node_lock_paths[UP_MAX_NODES][320];
} up_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth up [--data-dir DIR] [--listen ADDR] [--nodes N] [--redis URL]\n"
            "                [--policies DIR] [--plugins DIR] [--docker URL] [--node-prefix P]\n"
            "                [--log-level LEVEL]\n"
            "\n"
            "An all-in-one cluster in the foreground: a private Redis (unless --redis), the API\n"
            "server with the scheduler and controllers, N node agents running pods through\n"
            "Docker, and the service proxy. Ctrl-C stops it (pods keep running); berth up on the\n"
            "same data directory resumes it, with the settings of the last run as defaults.\n"
            "\n"
            "  --data-dir DIR     state, kubeconfig and logs (default ~/.berth)\n"
            "  --listen ADDR      the API's address (default 127.0.0.1:6443)\n"
            "  --nodes N          node agents node-1..node-N (default 1; 0: control plane only,\n"
            "                     no Docker needed)\n"
            "  --redis URL        use this Redis (redis://HOST:PORT/DB or unix:///path) instead\n"
            "                     of starting one\n"
            "  --policies DIR     scheduler and controller policies (berth server --policies)\n"
            "  --plugins DIR      plugins (berth server --plugins)\n"
            "  --docker URL       the Docker engine (default unix:///var/run/docker.sock)\n"
            "  --node-prefix P    node names are P1..PN (default node-); two clusters on one\n"
            "                     Docker engine need different ones\n"
            "  --log-level LEVEL  of every component: error, warn, info, debug (default info)\n");
}

/* ---------------------------------------------------------------- settings */

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

static void opts_free(up_opts_t *o)
{
    free(o->data_dir);
    free(o->listen);
    free(o->redis);
    free(o->policies);
    free(o->plugins);
    free(o->docker);
    free(o->node_prefix);
    free(o->log_level);
}

/* Fill what the command line left unset from DIR/up.json. */
static void opts_load(up_t *u, const int *given)
{
    char path[PATH_MAX + 16];
    json_t *j;
    snprintf(path, sizeof(path), "%s/up.json", u->dir);
    if (!(j = json_load_file(path, 0, NULL)))
        return;
    static const struct { const char *key; size_t off; int flag; } strs[] = {
        { "listen", offsetof(up_opts_t, listen), 'l' },
        { "redis", offsetof(up_opts_t, redis), 'r' },
        { "policies", offsetof(up_opts_t, policies), 'p' },
        { "plugins", offsetof(up_opts_t, plugins), 'g' },
        { "docker", offsetof(up_opts_t, docker), 'D' },
        { "node_prefix", offsetof(up_opts_t, node_prefix), 'P' },
        { "log_level", offsetof(up_opts_t, log_level), 'L' },
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        json_t *v = json_object_get(j, strs[i].key);
        if (given[strs[i].flag] || !json_is_string(v))
            continue;
        set_str((char **)((char *)&u->o + strs[i].off), json_string_value(v));
    }
    if (json_is_integer(json_object_get(j, "nodes")))
        u->prev_nodes = (int)json_integer_value(json_object_get(j, "nodes"));
    if (!given['n'] && json_is_integer(json_object_get(j, "nodes")))
        u->o.nodes = u->prev_nodes;
    json_decref(j);
}

static void opts_save(up_t *u)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    json_t *j = json_object();
#define PUT(k, v) json_object_set_new(j, k, (v) ? json_string(v) : json_null())
    PUT("listen", u->o.listen);
    json_object_set_new(j, "nodes", json_integer(u->o.nodes));
    PUT("node_prefix", u->o.node_prefix);
    PUT("redis", u->o.redis);
    PUT("docker", u->o.docker);
    PUT("policies", u->o.policies);
    PUT("plugins", u->o.plugins);
    PUT("log_level", u->o.log_level);
#undef PUT
    snprintf(path, sizeof(path), "%s/up.json", u->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
        rename(tmp, path);
    json_decref(j);
}

/* A relative path given on the command line is made absolute (the children must not depend
 * on our working directory staying what it is). */
static void absolutize(char **p)
{
    char buf[2 * PATH_MAX + 2], cwd[PATH_MAX];
    if (!*p || (*p)[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return;
    snprintf(buf, sizeof(buf), "%s/%s", cwd, *p);
    set_str(p, buf);
}

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---------------------------------------------------------------- locks */

/* DIR/up.pid, flock'd for as long as we run: a second `berth up` on DIR refuses. The lock
 * goes with the process, so a `berth up` that was killed leaves no stale lock (the file and
 * its old pid stay, harmlessly). Returns the fd (kept open, close-on-exec) or -1. */
static int lock_data_dir(const char *dir)
{
    char path[PATH_MAX + 16], buf[64] = "";
    int fd;
    snprintf(path, sizeof(path), "%s/up.pid", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "berth up: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
        fprintf(stderr,
                "berth up: %s is in use by another berth up (pid %s); stop that one first\n"
                "(Ctrl-C where it runs, or kill -INT %s), or give this one another --data-dir\n",
                dir, *buf ? buf : "?", *buf ? buf : "<pid>");
        close(fd);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
        fprintf(stderr, "berth up: cannot write %s: %s\n", path, strerror(errno));
    return fd;
}

/* Two clusters on one Docker engine with the same node name would destroy each other's
 * pods: an agent removes every container labelled with its node name whose pod its own
 * cluster does not know. So each node name is also locked host-wide, per Docker engine:
 * /tmp/berth-nodes/<hash of the Docker URL>-<node>.lock, flock'd while we run (the fds are
 * in u->node_locks, close-on-exec) and removed by unlock_node_names. A lock file can be
 * unlinked by its holder between our open and our flock, so a lock only counts when the
 * path still names the file we locked. 0 or -1 (message printed); a lock directory we
 * cannot use is only a warning. */
static int lock_node_names(up_t *u)
{
    const char *url = u->o.docker ? u->o.docker : "unix:///var/run/docker.sock";
    unsigned h = 2166136261u;
    for (const char *p = url; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    if (mkdir(UP_NODE_LOCK_DIR, 01777) == 0)
        chmod(UP_NODE_LOCK_DIR, 01777);
    for (int i = 0; i < u->o.nodes; i++) {
        char *path = u->node_lock_paths[i], buf[PATH_MAX + 64] = "";
        struct stat a, b;
        int fd = -1;
        snprintf(path, sizeof(u->node_lock_paths[i]), "%s/%08x-%s.lock", UP_NODE_LOCK_DIR, h,
                 u->node_names[i]);
        for (int tries = 0; tries < 5; tries++) {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
            if (fd < 0)
                break;
            fchmod(fd, 0666);
            if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = 0;
                buf[strcspn(buf, "\n")] = 0;
                fprintf(stderr,
                        "berth up: node %s is already run on this Docker engine by another "
                        "berth up (%s).\nTwo clusters must not share node names (an agent "
                        "removes the containers of its node that its own cluster does not "
                        "know): give this one another --node-prefix.\n",
                        u->node_names[i], *buf ? buf : "pid unknown");
                close(fd);
                return -1;
            }
            if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino)
                break;
            close(fd); /* its holder removed it meanwhile: lock the new one */
            fd = -1;
        }
        if (fd < 0) {
            fprintf(stderr, "berth up: warning: cannot lock %s (%s): not checking that node %s "
                    "is unique on this Docker engine\n", path, strerror(errno),
                    u->node_names[i]);
            continue;
        }
        u->node_locks[i] = fd;
        snprintf(buf, sizeof(buf), "pid %ld, data dir %s\n", (long)getpid(), u->dir);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, strlen(buf), 0) < 0) {
            /* only informative */
        }
    }
    return 0;
}

/* Remove the lock files we hold (while holding them), then let go. */
static void unlock_node_names(up_t *u)
{
    for (int i = 0; i < UP_MAX_NODES; i++) {
        if (u->node_locks[i] < 0)
            continue;
        unlink(u->node_lock_paths[i]);
        close(u->node_locks[i]);
        u->node_locks[i] = -1;
    }
}

/* ---------------------------------------------------------------- waiting for things */

/* PING on Redis's unix socket: 1 when it answered +PONG (-LOADING while it reads its
 * append-only file is not yet). */
static int redis_ping(const char *sock)
{
    struct sockaddr_un sa;
    char buf[64];
    size_t len = strlen(sock);
    int fd, ok = 0;
    if (len >= sizeof(sa.sun_path))
        return 0;
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock, len + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, "PING\r\n", 6) == 6) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 1000) == 1) {
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            ok = n >= 5 && !strncmp(buf, "+PONG", 5);
        }
    }
    close(fd);
    return ok;
}

static int api_ready(up_t *u)
{
    char url[400], err[256];
    snprintf(url, sizeof(url), "%s/readyz", u->api_url);
    return up_http(url, NULL, "GET", NULL, NULL, 0, 2000, NULL, err, sizeof(err)) == 200;
}

/* RFC 3339 "2024-05-01T10:00:00Z" to seconds; 0 when it does not parse. */
static time_t parse_stamp(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return timegm(&tm);
}

/* The node is Ready, and said so since this `berth up` started: a resumed cluster still
 * holds the Ready condition of the last run until the node lifecycle controller notices. */
static int node_ready(up_t *u, const char *name)
{
    char url[400], err[256], *body = NULL;
    int ready = 0;
    snprintf(url, sizeof(url), "%s/api/v1/nodes/%s", u->api_url, name);
    if (up_http(url, NULL, "GET", NULL, NULL, 0, 3000, &body, err, sizeof(err)) == 200) {
        json_t *j = json_loads(body, 0, NULL), *c;
        size_t i;
        json_array_foreach(json_object_get(json_object_get(j, "status"), "conditions"), i, c) {
            const char *type = json_string_value(json_object_get(c, "type"));
            const char *st = json_string_value(json_object_get(c, "status"));
            const char *hb = json_string_value(json_object_get(c, "lastHeartbeatTime"));
            if (type && !strcmp(type, "Ready") && st && !strcmp(st, "True") &&
                parse_stamp(hb) >= u->started_wall - 2)
                ready = 1;
        }
        json_decref(j);
    }
    free(body);
    return ready;
}

/* A child that must be up before we go on died during start-up: say why and give up. */
static int startup_failed(up_t *u, up_child_t *c, const char *what)
{
    fprintf(stderr, "berth up: %s %s; its log (%s):\n", c->name, what, c->log_path);
    up_log_tail(c->log_path, 15, stderr);
    return -1;
}

/* ---------------------------------------------------------------- the children */

static up_child_t *add_berth(up_t *u, const char *name, int group, int timeout, char **args)
{
    char *argv[32], log[PATH_MAX + 64];
    int n = 0;
    argv[n++] = u->exe;
    for (; *args && n < 28; args++)
        argv[n++] = *args;
    if (u->o.log_level) {
        argv[n++] = "--log-level";
        argv[n++] = u->o.log_level;
    }
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/logs/%s.log", u->dir, name);
    /* /proc/self/exe: the children run the very binary `berth up` runs, even when bin/berth
     * was rebuilt meanwhile. */
    return up_sup_add(u->sup, name, log, group, timeout, "/proc/self/exe", argv);
}

/* The private Redis, as scripts/run.sh used to start it: no TCP port, a unix socket under the
 * data directory, the append-only file on (fsync every second) and no RDB snapshots. */
static int start_redis(up_t *u)
{
    char dir[PATH_MAX + 16], log[PATH_MAX + 32];
    struct sockaddr_un sa;
    snprintf(dir, sizeof(dir), "%s/redis", u->dir);
    snprintf(u->redis_sock, sizeof(u->redis_sock), "%s/redis.sock", dir);
    snprintf(u->redis_url, sizeof(u->redis_url), "unix://%s", u->redis_sock);
    snprintf(log, sizeof(log), "%s/logs/redis.log", u->dir);
    if (strlen(u->redis_sock) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "berth up: %s is too long for a unix socket (%zu bytes at most): use a "
                "shorter --data-dir, or --redis URL\n", u->redis_sock, sizeof(sa.sun_path) - 1);
        return -1;
    }
    mkdir(dir, 0700);
    char *argv[] = { "redis-server", "--port", "0", "--unixsocket", u->redis_sock,
                     "--unixsocketperm", "700", "--dir", dir, "--appendonly", "yes",
                     "--save", "", "--daemonize", "no", "--logfile", "", NULL };
    u->redis = up_sup_add(u->sup, "redis", log, 3, 30, NULL, argv);
    if (!u->redis || up_child_spawn(u->sup, u->redis) != 0) {
        fprintf(stderr, "berth up: cannot start redis-server: %s\n", strerror(errno));
        return -1;
    }
    double end = up_now() + UP_REDIS_WAIT_S;
    while (!redis_ping(u->redis_sock)) {
        if (u->redis->exits) {
            int st = u->redis->last_status;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
                fprintf(stderr, "berth up: redis-server is missing: apt-get install "
                        "redis-server, or give --redis URL\n");
            return startup_failed(u, u->redis, "did not start");
        }
        if (up_now() > end)
            return startup_failed(u, u->redis, "does not answer PING");
        if (up_sup_wait(u->sup, 100))
            return -1;
    }
    return 0;
}

/* <dir>/agent-token (0600), made once from 32 random bytes: the agents require it
 * (--token-file) and the server sends it (--agent-token-file), so nobody else on the host
 * can exec into pods or read their logs through an agent's port. */
static int ensure_agent_token(up_t *u)
{
    unsigned char raw[32];
    char hex[65];
    snprintf(u->token_path, sizeof(u->token_path), "%s/agent-token", u->dir);
    if (access(u->token_path, R_OK) == 0)
        return 0;
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(raw, 1, sizeof(raw), r) != sizeof(raw)) {
        if (r)
            fclose(r);
        fprintf(stderr, "berth up: cannot read /dev/urandom for the agent token\n");
        return -1;
    }
    fclose(r);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    int fd = open(u->token_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || dprintf(fd, "%s\n", hex) < 0) {
        fprintf(stderr, "berth up: cannot write %s: %s\n", u->token_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int start_server(up_t *u)
{
    char *args[18];
    int n = 0;
    args[n++] = "server";
    args[n++] = "--redis";
    args[n++] = u->o.redis ? u->o.redis : u->redis_url;
    args[n++] = "--listen";
    args[n++] = u->o.listen;
    if (u->o.policies) {
        args[n++] = "--policies";
        args[n++] = u->o.policies;
    }
    if (u->o.plugins) {
        args[n++] = "--plugins";
        args[n++] = u->o.plugins;
    }
    args[n++] = "--agent-token-file";
    args[n++] = u->token_path;
    args[n] = NULL;
    u->server = add_berth(u, "server", 2, 15, args);
    if (!u->server || up_child_spawn(u->sup, u->server) != 0) {
        fprintf(stderr, "berth up: cannot start berth server: %s\n", strerror(errno));
        return -1;
    }
    double end = up_now() + UP_API_WAIT_S;
    while (!api_ready(u)) {
        if (u->server->exits)
            return startup_failed(u, u->server, "did not start");
        if (up_now() > end)
            return startup_failed(u, u->server, "does not answer /readyz");
        if (up_sup_wait(u->sup, 100))
            return -1;
    }
    return 0;
}

/* The gateway address of Docker's default bridge network; -1 when Docker does not say. */
static int bridge_gateway(up_t *u, char *out, size_t len)
{
    const char *url = u->o.docker ? u->o.docker : "unix:///var/run/docker.sock";
    char err[256], *body = NULL;
    int rc = -1;
    if (strncmp(url, "unix://", 7))
        return -1;
    if (up_http("http://docker/networks/bridge", url + 7, "GET", NULL, NULL, 0, 5000, &body, err,
                sizeof(err)) == 200) {
        json_t *net = json_loads(body, 0, NULL);
        const char *gw = json_str(json_array_get(json_path(net, "IPAM.Config"), 0), "Gateway");
        if (gw && *gw && strlen(gw) < len) {
            snprintf(out, len, "%s", gw);
            rc = 0;
        }
        json_decref(net);
    }
    free(body);
    return rc;
}

static int start_nodes(up_t *u)
{
    char host[256] = "localhost", port[32];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = 0;
    snprintf(port, sizeof(port), "127.0.0.1:%d", up_free_port(10249));
    /* Node ports on loopback for the host, and on the Docker bridge's gateway for the pods:
     * the agents point service links of loopback cluster IPs there (docs/proxy.md). */
    char gw[64];
    snprintf(u->nodeports, sizeof(u->nodeports), "127.0.0.1");
    if (bridge_gateway(u, gw, sizeof(gw)) == 0)
        snprintf(u->nodeports, sizeof(u->nodeports), "127.0.0.1,%s", gw);
    char *pargs[] = { "proxy", "--server", u->api_url, "--node-name", host,
                      "--metrics-listen", port, "--nodeport-address", u->nodeports, NULL };
    u->proxy = add_berth(u, "proxy", 1, 10, pargs);
    if (!u->proxy)
        return -1;
    u->proxy->port_arg = 7; /* argv[0] is the binary */
    if (up_child_spawn(u->sup, u->proxy) != 0) {
        fprintf(stderr, "berth up: cannot start berth proxy: %s\n", strerror(errno));
        return -1;
    }
    for (int i = 0; i < u->o.nodes; i++) {
        char root[PATH_MAX + 80];
        snprintf(root, sizeof(root), "%s/nodes/%s", u->dir, u->node_names[i]);
        mkdir_p(root, 0755);
        snprintf(port, sizeof(port), "127.0.0.1:%d", up_free_port(10250 + i));
        char *args[] = { "agent", "--server", u->api_url, "--node-name", u->node_names[i],
                         "--root-dir", root, "--listen", port, "--token-file", u->token_path,
                         u->o.docker ? "--docker" : NULL, u->o.docker, NULL };
        u->agents[i] = add_berth(u, u->node_names[i], 0, 15, args);
        if (!u->agents[i])
            return -1;
        u->agents[i]->port_arg = 9;
        if (up_child_spawn(u->sup, u->agents[i]) != 0) {
            fprintf(stderr, "berth up: cannot start the agent of %s: %s\n", u->node_names[i],
                    strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Wait (UP_NODES_WAIT_S at most) for every node to report Ready. Returns how many did, or -1
 * when we were asked to stop meanwhile. */
static int wait_nodes(up_t *u, int *ready)
{
    double end = up_now() + UP_NODES_WAIT_S;
    int n = 0;
    memset(ready, 0, sizeof(int) * (size_t)u->o.nodes);
    while (n < u->o.nodes && up_now() < end) {
        for (int i = 0; i < u->o.nodes; i++)
            if (!ready[i] && node_ready(u, u->node_names[i]))
                ready[i] = 1, n++;
        if (n < u->o.nodes && up_sup_wait(u->sup, 250))
            return -1;
    }
    return n;
}

static int write_kubeconfig(up_t *u)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    FILE *f;
    snprintf(path, sizeof(path), "%s/kubeconfig", u->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return -1;
    fprintf(f,
            "# written by berth up (data dir %s)\n"
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: berth\n"
            "  cluster:\n"
            "    server: %s\n"
            "users:\n"
            "- name: berth\n"
            "  user: {}\n"
            "contexts:\n"
            "- name: berth\n"
            "  context: {cluster: berth, user: berth, namespace: default}\n"
            "current-context: berth\n",
            u->dir, u->api_url);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static void print_summary(up_t *u, const int *ready, int nready)
{
    printf("\nberth up: the cluster is up (data in %s)\n", u->dir);
    printf("  API         %s (scheduler and controllers inside)\n", u->api_url);
    printf("  kubeconfig  %s/kubeconfig\n", u->dir);
    if (u->o.nodes == 0)
        printf("  nodes       none (--nodes 0: control plane only, pods stay Pending)\n");
    for (int i = 0; i < u->o.nodes; i++)
        printf("  %s %s %s (log %s)\n", i ? "           " : "nodes      ", u->node_names[i],
               ready[i] ? "Ready" : "NOT Ready yet", u->agents[i]->log_path);
    if (u->o.nodes > 0)
        printf("  proxy       node ports on %s (pods reach Services there), cluster IPs "
               "127.77.x.y\n", u->nodeports);
    if (u->o.redis)
        printf("  store       %s\n", u->o.redis);
    else
        printf("  store       redis-server on %s (append-only file in %s/redis)\n",
               u->redis_sock, u->dir);
    printf("  logs        %s/logs/\n", u->dir);
    printf("\n  export KUBECONFIG=%s/kubeconfig\n  kubectl get nodes\n\n", u->dir);
    if (nready < u->o.nodes)
        printf("Not every node is Ready after %d s: see its log.\n", UP_NODES_WAIT_S);
    printf("Ctrl-C stops the cluster%s; berth up --data-dir %s resumes it.\n",
           u->o.nodes > 0 ? " (pods keep running and are adopted again)" : "", u->dir);
    fflush(stdout);
}

/* ---------------------------------------------------------------- berth up */

static int valid_node_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-' || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

int up_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "data-dir", required_argument, NULL, 'd' },
        { "listen", required_argument, NULL, 'l' },
        { "nodes", required_argument, NULL, 'n' },
        { "redis", required_argument, NULL, 'r' },
        { "policies", required_argument, NULL, 'p' },
        { "plugins", required_argument, NULL, 'g' },
        { "docker", required_argument, NULL, 'D' },
        { "node-prefix", required_argument, NULL, 'P' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    up_t *u = calloc(1, sizeof(*u));
    int given[256] = { 0 }, c, rc = 1, lockfd = -1, nready = 0, ready[UP_MAX_NODES];
    int curl_inited = 0;
    char *end;
    if (!u)
        return 1;
    for (int i = 0; i < UP_MAX_NODES; i++)
        u->node_locks[i] = -1;
    u->o.nodes = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c >= 0 && c < 256)
            given[c] = 1;
        switch (c) {
        case 'd': set_str(&u->o.data_dir, optarg); break;
        case 'l': set_str(&u->o.listen, optarg); break;
        case 'n':
            u->o.nodes = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || u->o.nodes < 0 || u->o.nodes > UP_MAX_NODES) {
                fprintf(stderr, "berth up: --nodes wants 0..%d, not '%s'\n", UP_MAX_NODES, optarg);
                rc = 2;
                goto out;
            }
            break;
        case 'r': set_str(&u->o.redis, optarg); break;
        case 'p': set_str(&u->o.policies, optarg); break;
        case 'g': set_str(&u->o.plugins, optarg); break;
        case 'D': set_str(&u->o.docker, optarg); break;
        case 'P': set_str(&u->o.node_prefix, optarg); break;
        case 'L': set_str(&u->o.log_level, optarg); break;
        case 'h': usage(stdout); rc = 0; goto out;
        default: usage(stderr); rc = 2; goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "berth up: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        rc = 2;
        goto out;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* The data directory and its lock come first: nothing else may be touched while
     * another `berth up` runs on it. */
    if (!u->o.data_dir) {
        const char *home = getenv("HOME");
        char buf[PATH_MAX];
        snprintf(buf, sizeof(buf), "%s/.berth", home && *home ? home : ".");
        set_str(&u->o.data_dir, buf);
    }
    if (mkdir_p(u->o.data_dir, 0755) != 0 || !realpath(u->o.data_dir, u->dir)) {
        fprintf(stderr, "berth up: cannot create --data-dir %s: %s\n", u->o.data_dir,
                strerror(errno));
        goto out;
    }
    if ((lockfd = lock_data_dir(u->dir)) < 0)
        goto out;
    absolutize(&u->o.policies);
    absolutize(&u->o.plugins);
    opts_load(u, given);
    if (!u->o.listen)
        set_str(&u->o.listen, "127.0.0.1:6443");
    if (!u->o.node_prefix)
        set_str(&u->o.node_prefix, "node-");
    {
        const char *colon = strrchr(u->o.listen, ':');
        if (!colon || atoi(colon + 1) <= 0) {
            fprintf(stderr, "berth up: bad --listen %s (want HOST:PORT)\n", u->o.listen);
            goto out;
        }
        int wildcard = colon == u->o.listen || !strncmp(u->o.listen, "0.0.0.0:", 8) ||
                       !strncmp(u->o.listen, "[::]:", 5);
        snprintf(u->api_url, sizeof(u->api_url), "http://%s%s", wildcard ? "127.0.0.1" : "",
                 wildcard ? colon : u->o.listen);
    }
    for (int i = 0; i < u->o.nodes; i++) {
        snprintf(u->node_names[i], sizeof(u->node_names[i]), "%s%d", u->o.node_prefix, i + 1);
        if (!valid_node_name(u->node_names[i])) {
            fprintf(stderr, "berth up: node name '%s' is not a DNS subdomain (--node-prefix)\n",
                    u->node_names[i]);
            goto out;
        }
    }
    {
        ssize_t n = readlink("/proc/self/exe", u->exe, sizeof(u->exe) - 1);
        u->exe[n > 0 ? n : 0] = 0;
        char *del = strstr(u->exe, " (deleted)");
        if (del)
            *del = 0;
        if (!*u->exe)
            snprintf(u->exe, sizeof(u->exe), "berth");
    }
    {
        char d[PATH_MAX + 16];
        snprintf(d, sizeof(d), "%s/logs", u->dir);
        mkdir(d, 0755);
        snprintf(d, sizeof(d), "%s/nodes", u->dir);
        mkdir(d, 0755);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_inited = 1;
    u->started_wall = time(NULL);
    if (!(u->sup = up_sup_create()))
        goto out;

    /* Docker before anything starts: a cluster whose nodes cannot run pods is no use. */
    if (u->o.nodes > 0) {
        char log[PATH_MAX + 32], work[PATH_MAX + 16], err[512];
        snprintf(log, sizeof(log), "%s/logs/dockerd.log", u->dir);
        if (up_docker_ensure(u->o.docker, log) != 0)
            goto out;
        snprintf(work, sizeof(work), "%s/pause", u->dir);
        int r = up_pause_ensure(u->o.docker, work, err, sizeof(err));
        if (r == 1)
            printf("berth up: built berth/pause:latest (scripts/pause.c) and imported it into "
                   "Docker\n");
        else if (r < 0)
            fprintf(stderr, "berth up: warning: the infra image berth/pause:latest: %s; pods "
                    "cannot start until it exists\n", err);
        if (lock_node_names(u) != 0)
            goto out;
    }
    if (up_port_answers(u->o.listen)) {
        fprintf(stderr, "berth up: something already answers on %s (another berth up or berth "
                "server?): stop it, or use --listen\n", u->o.listen);
        goto out;
    }

    printf("berth up: starting in %s (logs in %s/logs)\n", u->dir, u->dir);
    /* Fewer nodes than last time: nobody runs the others any more. Say what is left. */
    for (int i = u->o.nodes; i < u->prev_nodes && i < UP_MAX_NODES; i++)
        printf("berth up: node %s%d of the last run is not started (--nodes %d): it stays in "
               "the API until deleted, and its containers keep running:\n"
               "    kubectl delete node %s%d\n"
               "    docker rm -f $(docker ps -aq --filter label=berth.node=%s%d)\n",
               u->o.node_prefix, i + 1, u->o.nodes, u->o.node_prefix, i + 1, u->o.node_prefix,
               i + 1);
    if (!u->o.redis && start_redis(u) != 0)
        goto stop;
    if (write_kubeconfig(u) != 0) {
        fprintf(stderr, "berth up: cannot write %s/kubeconfig: %s\n", u->dir, strerror(errno));
        goto stop;
    }
    if (ensure_agent_token(u) != 0 || start_server(u) != 0)
        goto stop;
    printf("berth up: API on %s\n", u->api_url);
    if (u->o.nodes > 0) {
        if (start_nodes(u) != 0)
            goto stop;
        if ((nready = wait_nodes(u, ready)) < 0)
            goto stop;
    }
    /* Only a run that started is remembered: a typo in --docker must not stick. */
    opts_save(u);
    print_summary(u, ready, nready);
    while (!up_sup_wait(u->sup, 60000))
        ;
    rc = 0;
stop:
    if (u->sup->stop_signal)
        rc = 0;
    printf("berth up: stopping (agents, proxy, API server%s)\n", u->o.redis ? "" : ", Redis");
    up_sup_stop(u->sup);
    printf("berth up: stopped; data kept in %s%s\n", u->dir,
           u->o.nodes > 0 ? " (pods keep running and are adopted on the next berth up)" : "");
out:
    if (lockfd >= 0) {
        if (ftruncate(lockfd, 0) != 0) {
            /* the lock goes with the fd anyway */
        }
        close(lockfd);
    }
    unlock_node_names(u);
    up_sup_free(u->sup);
    opts_free(&u->o);
    free(u);
    if (curl_inited)
        curl_global_cleanup();
    return rc;
}
