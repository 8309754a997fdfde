/* up_sup.c: the process supervisor of `berth up` (see up.h).
 *
 * Why a supervisor of processes and not threads in one process: the server, the agents and
 * the proxy each own a libevent loop, signal handlers, global state (log level, kinds table,
 * metrics) and their own shutdown path; as processes they run exactly as they do when
 * started by hand, a crash of one (or a leak, or a hang) stays in it, and each gets its own
 * log. The cost is a few MB of memory per child. docs/up.md has the longer version.
 *
 * Signals: SIGINT, SIGTERM, SIGHUP and SIGCHLD stay blocked in `berth up` and are taken
 * synchronously with sigtimedwait, so there are no handlers and no races between a child
 * exiting and the loop deciding what to do. Children get their own process group, so a
 * Ctrl-C in the terminal reaches `berth up` alone and it stops them in order (agents, proxy,
 * server, Redis), and PR_SET_PDEATHSIG, so they do not outlive a `berth up` that was killed
 * with SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "up.h"

#define UP_BACKOFF_MIN_S 1.0
#define UP_BACKOFF_MAX_S 30.0
#define UP_BACKOFF_RESET_S 60.0 /* a child that ran this long starts again from the minimum */

static sigset_t sup_sigs;       /* what we take with sigtimedwait */
static sigset_t sup_old_mask;   /* the mask children get back */

double up_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

up_sup_t *up_sup_create(void)
{
    up_sup_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    sigemptyset(&sup_sigs);
    sigaddset(&sup_sigs, SIGINT);
    sigaddset(&sup_sigs, SIGTERM);
    sigaddset(&sup_sigs, SIGHUP);
    sigaddset(&sup_sigs, SIGCHLD);
    /* A shell starts background commands with SIGINT ignored; blocked signals are queued
     * whatever their disposition, but make the disposition plain anyway. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &sup_sigs, &sup_old_mask);
    return s;
}

void up_sup_free(up_sup_t *s)
{
    if (!s)
        return;
    up_child_t *c = s->children, *next;
    for (; c; c = next) {
        next = c->next;
        for (char **a = c->argv; a && *a; a++)
            free(*a);
        free(c->argv);
        free(c->name);
        free(c->path);
        free(c->log_path);
        free(c);
    }
    free(s);
}

up_child_t *up_sup_add(up_sup_t *s, const char *name, const char *log_path, int stop_group,
                       int stop_timeout_s, const char *path, char *const argv[])
{
    up_child_t *c = calloc(1, sizeof(*c)), **tail;
    size_t n = 0;
    if (!c)
        return NULL;
    while (argv[n])
        n++;
    c->argv = calloc(n + 1, sizeof(char *));
    c->name = strdup(name);
    c->log_path = strdup(log_path);
    c->path = path ? strdup(path) : NULL;
    if (!c->argv || !c->name || !c->log_path || (path && !c->path))
        goto failed;
    for (size_t i = 0; i < n; i++)
        if (!(c->argv[i] = strdup(argv[i])))
            goto failed;
    c->stop_group = stop_group;
    c->stop_timeout_s = stop_timeout_s;
    c->port_arg = -1;
    c->backoff = UP_BACKOFF_MIN_S;
    for (tail = &s->children; *tail; tail = &(*tail)->next)
        ;
    *tail = c;
    return c;
failed:
    for (size_t i = 0; c->argv && i < n; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->name);
    free(c->log_path);
    free(c->path);
    free(c);
    return NULL;
}

/* A port argument "HOST:PORT" that is taken now gets a free port instead (an agent's log
 * endpoint, the proxy's metrics: nothing outside needs them at a fixed port, and two
 * clusters, or a test next to `make run`, must not fight over them). */
static void child_repick_port(up_child_t *c)
{
    char *arg = c->argv[c->port_arg], *colon = strrchr(arg, ':'), buf[300];
    int port = colon ? atoi(colon + 1) : 0, got = up_free_port(port);
    if (!colon || !got || got == port)
        return;
    snprintf(buf, sizeof(buf), "%.*s:%d", (int)(colon - arg), arg, got);
    char *n = strdup(buf);
    if (n) {
        free(c->argv[c->port_arg]);
        c->argv[c->port_arg] = n;
    }
}

int up_child_spawn(up_sup_t *s, up_child_t *c)
{
    char stamp[64];
    time_t t = time(NULL);
    struct tm tm;
    pid_t parent = getpid(), pid;
    int logfd;

    if (c->port_arg >= 0)
        child_repick_port(c);
    logfd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd >= 0) {
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        dprintf(logfd, "==== berth up: %s %s #%d:", stamp, c->name, c->spawns + 1);
        for (char **a = c->argv; *a; a++)
            dprintf(logfd, " %s", *a);
        dprintf(logfd, "\n");
    }
    pid = fork();
    if (pid < 0) {
        int e = errno;
        if (logfd >= 0)
            close(logfd);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        /* The child: nothing here may allocate in ways that matter; exec or _exit. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &sup_old_mask, NULL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0 && null != 0) {
            dup2(null, 0);
            close(null);
        }
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        if (c->path)
            execv(c->path, c->argv);
        else
            execvp(c->argv[0], c->argv);
        dprintf(2, "berth up: cannot run %s: %s\n", c->path ? c->path : c->argv[0],
                strerror(errno));
        _exit(127);
    }
    if (logfd >= 0)
        close(logfd);
    c->pid = pid;
    c->spawns++;
    c->started = up_now();
    c->restart_at = 0;
    return 0;
}

static void describe_status(int st, char *out, size_t outlen)
{
    if (WIFEXITED(st))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(out, outlen, "stopped (wait status %#x)", st);
}

/* Collect every child that exited; schedule the restart of those that were not asked to. */
static void sup_reap(up_sup_t *s)
{
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        for (up_child_t *c = s->children; c; c = c->next) {
            if (c->pid != p)
                continue;
            c->pid = 0;
            c->last_status = st;
            if (s->stopping)
                break;
            double now = up_now(), ran = now - c->started;
            char how[128];
            c->exits++;
            if (ran >= UP_BACKOFF_RESET_S)
                c->backoff = UP_BACKOFF_MIN_S;
            c->restart_at = now + c->backoff;
            describe_status(st, how, sizeof(how));
            fprintf(stderr, "berth up: %s %s after %.0f s; restarting it in %.0f s (log: %s)\n",
                    c->name, how, ran, c->backoff, c->log_path);
            c->backoff *= 2;
            if (c->backoff > UP_BACKOFF_MAX_S)
                c->backoff = UP_BACKOFF_MAX_S;
            break;
        }
        /* Not ours (a dockerd we started, the compiler of pause.c): nothing to do. */
    }
}

/* Take one of our signals, waiting at most secs. Returns it, or 0 on timeout. */
static int sup_take_signal(double secs)
{
    struct timespec ts;
    siginfo_t info;
    if (secs < 0)
        secs = 0;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    int sig = sigtimedwait(&sup_sigs, &info, &ts);
    return sig < 0 ? 0 : sig;
}

int up_sup_wait(up_sup_t *s, int ms)
{
    double end = up_now() + ms / 1000.0;
    for (;;) {
        sup_reap(s);
        if (s->stop_signal)
            return 1;
        double now = up_now(), next = end;
        for (up_child_t *c = s->children; c; c = c->next) {
            if (c->restart_at <= 0 || c->pid)
                continue;
            if (c->restart_at <= now) {
                if (up_child_spawn(s, c) != 0) {
                    fprintf(stderr, "berth up: cannot start %s: %s\n", c->name, strerror(errno));
                    c->restart_at = now + c->backoff;
                }
            }
            if (c->restart_at > 0 && c->restart_at < next)
                next = c->restart_at;
        }
        if (now >= end)
            return 0;
        int sig = sup_take_signal(next - now);
        /* SIGHUP too: the terminal `berth up` runs in went away, and a cluster nobody can
         * Ctrl-C any more should not linger. */
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
            s->stop_signal = sig;
    }
}

void up_sup_stop(up_sup_t *s)
{
    int maxg = 0, told = 0;
    double began = up_now();
    s->stopping = 1;
    for (up_child_t *c = s->children; c; c = c->next) {
        c->restart_at = 0;
        if (c->stop_group > maxg)
            maxg = c->stop_group;
    }
    sup_reap(s);
    for (int g = 0; g <= maxg; g++) {
        int timeout = 0, alive = 0;
        for (up_child_t *c = s->children; c; c = c->next) {
            if (c->stop_group != g || !c->pid)
                continue;
            kill(c->pid, SIGTERM);
            if (c->stop_timeout_s > timeout)
                timeout = c->stop_timeout_s;
            alive++;
        }
        double end = up_now() + timeout;
        while (alive && up_now() < end) {
            int sig = sup_take_signal(0.2);
            /* The terminal's Ctrl-C and a wrapper script passing it on arrive together:
             * only a later one is worth an answer. */
            if (sig && sig != SIGCHLD && !told && up_now() - began > 1.0) {
                fprintf(stderr, "berth up: already stopping (each part gets a few seconds)\n");
                told = 1;
            }
            sup_reap(s);
            alive = 0;
            for (up_child_t *c = s->children; c; c = c->next)
                if (c->stop_group == g && c->pid)
                    alive++;
        }
        for (up_child_t *c = s->children; c; c = c->next) {
            if (c->stop_group != g || !c->pid)
                continue;
            fprintf(stderr, "berth up: %s did not stop within %d s of SIGTERM; killing it\n",
                    c->name, c->stop_timeout_s);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &c->last_status, 0);
            c->pid = 0;
        }
    }
}

/* ---------------------------------------------------------------- ports and files */

static int bind_loopback(int port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), got = 0;
    if (fd < 0)
        return 0;
    /* SO_REUSEADDR as the servers set it: a port with connections in TIME_WAIT is free. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        got = ntohs(sa.sin_port);
    close(fd);
    return got;
}

int up_free_port(int prefer)
{
    int got = prefer > 0 ? bind_loopback(prefer) : 0;
    return got ? got : bind_loopback(0);
}

int up_port_answers(const char *hostport)
{
    char host[256], port[16];
    const char *colon = strrchr(hostport, ':');
    struct addrinfo hints, *res = NULL;
    int ok = 0;
    if (!colon || (size_t)(colon - hostport) >= sizeof(host))
        return 0;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    snprintf(port, sizeof(port), "%s", colon + 1);
    if (!strcmp(host, "0.0.0.0") || !*host)
        snprintf(host, sizeof(host), "127.0.0.1");
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return 0;
    for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = 1;
        } else if (errno == EINPROGRESS) {
            struct pollfd pfd = { fd, POLLOUT, 0 };
            int err = 0;
            socklen_t el = sizeof(err);
            if (poll(&pfd, 1, 1000) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
                ok = 1;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

void up_log_tail(const char *path, int lines, FILE *out)
{
    FILE *f = fopen(path, "r");
    char buf[65536];
    size_t n;
    long size;
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0, SEEK_SET);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = 0;
    char *p = buf + n;
    int seen = 0;
    while (p > buf) {
        if (p[-1] == '\n' && ++seen == lines)
            break;
        p--;
    }
    fprintf(out, "    --- %s ---\n", path);
    for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n"))
        fprintf(out, "    %s\n", line);
}
