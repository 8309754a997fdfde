/* up_docker.c: what `berth up` checks in Docker before it starts a node, and the blocking
 * HTTP helper it uses for that and for the API server (see up.h).
 *
 * The agent has its own asynchronous Docker client (docker.c, on its event loop); `berth
 * up` only asks three questions before anything runs (does an engine answer, is the infra
 * image there, did the import work), so a blocking libcurl easy handle is enough. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "up.h"

#define UP_DOCKER_DEFAULT "unix:///var/run/docker.sock"
#define UP_PAUSE_IMAGE "berth/pause:latest"

/* ---------------------------------------------------------------- HTTP */

typedef struct up_buf_s {
    char *p;
    size_t n, cap;
} up_buf_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *priv)
{
    up_buf_t *b = priv;
    size_t len = size * nmemb;
    if (b->n + len + 1 > b->cap) {
        size_t cap = (b->n + len + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = 0;
    return len;
}

long up_http(const char *url, const char *unix_path, const char *method, const char *ctype,
             const void *body, size_t body_len, long timeout_ms, char **out, char *err,
             size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", ct[200];
    up_buf_t b = { NULL, 0, 0 };
    long status = 0;
    CURLcode rc;
    if (out)
        *out = NULL;
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (unix_path && *unix_path)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, unix_path);
    /* Never through an http_proxy from the environment: everything here is local. */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 3000 ? timeout_ms : 3000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (method && strcmp(method, body ? "POST" : "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (ctype) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, ct);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (out) {
            *out = b.p ? b.p : strdup("");
            b.p = NULL;
        }
    } else {
        snprintf(err, errlen, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
    }
    free(b.p);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

/* ---------------------------------------------------------------- where Docker is */

/* Split a --docker URL as the agent reads it (docker.c): unix:///path or /path -> that
 * socket; tcp://host:port -> http://host:port. 0, or -1 for anything else. */
static int docker_where(const char *url, char *sock, size_t socklen, char *base, size_t baselen)
{
    if (!url)
        url = UP_DOCKER_DEFAULT;
    if (!strncmp(url, "unix://", 7) || url[0] == '/') {
        snprintf(sock, socklen, "%s", url[0] == '/' ? url : url + 7);
        snprintf(base, baselen, "http://localhost");
        return 0;
    }
    if (!strncmp(url, "tcp://", 6)) {
        sock[0] = 0;
        snprintf(base, baselen, "http://%s", url + 6);
        return 0;
    }
    return -1;
}

/* GET /_ping. 0 when Docker answered "OK"; else -1 and err. */
static int docker_ping(const char *url, char *err, size_t errlen)
{
    char sock[PATH_MAX], base[512], u[600], *body = NULL;
    if (docker_where(url, sock, sizeof(sock), base, sizeof(base)) != 0) {
        snprintf(err, errlen, "bad --docker URL %s (want unix:///path or tcp://host:port)", url);
        return -1;
    }
    snprintf(u, sizeof(u), "%s/_ping", base);
    long st = up_http(u, sock, "GET", NULL, NULL, 0, 5000, &body, err, errlen);
    int ok = st == 200;
    if (st && !ok)
        snprintf(err, errlen, "GET /_ping answered HTTP %ld", st);
    free(body);
    return ok ? 0 : -1;
}

/* Why a unix socket does not answer, in words: the errno of a plain connect(). */
static int unix_connect_errno(const char *path)
{
    struct sockaddr_un sa;
    size_t len = strlen(path);
    int fd, e = 0;
    if (len >= sizeof(sa.sun_path))
        return ENAMETOOLONG;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        e = errno;
    close(fd);
    return e;
}

/* The dockerd binary if package docker.io (or docker-ce) is installed, else NULL. */
static const char *find_dockerd(char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin",
             path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, outlen, "%s/dockerd", d);
        if (access(out, X_OK) == 0)
            return out;
    }
    return NULL;
}

/* Start dockerd in its own session, not supervised (it outlives us, as the containers do).
 * Returns 0 once it answers (30 s at most). */
static int start_dockerd(const char *dockerd, const char *url, const char *log_path)
{
    char err[256];
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        sigset_t none;
        setsid();
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null >= 0)
            dup2(null, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execl(dockerd, "dockerd", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 60; i++) {
        int st;
        if (docker_ping(url, err, sizeof(err)) == 0)
            return 0;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return -1;
        struct timespec ts = { 0, 500 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

int up_docker_ensure(const char *docker_url, const char *log_path)
{
    char err[512], sock[PATH_MAX], base[512], dbuf[PATH_MAX];
    const char *url = docker_url ? docker_url : UP_DOCKER_DEFAULT;
    const char *dockerd;
    int is_default, e = 0;

    if (docker_ping(url, err, sizeof(err)) == 0)
        return 0;
    if (docker_where(url, sock, sizeof(sock), base, sizeof(base)) != 0) {
        fprintf(stderr, "berth up: %s\n", err);
        return -1;
    }
    is_default = *sock &&
                 (!strcmp(sock, "/var/run/docker.sock") || !strcmp(sock, "/run/docker.sock"));
    if (*sock)
        e = unix_connect_errno(sock);
    dockerd = find_dockerd(dbuf, sizeof(dbuf));

    fprintf(stderr, "berth up: no Docker engine answers on %s (%s).\n", url,
            e == ENOENT         ? "no such socket"
            : e == ECONNREFUSED ? "connection refused: nothing listens there"
            : e                 ? strerror(e)
                                : err);
    if (e == EACCES || e == EPERM) {
        fprintf(stderr,
                "Docker runs, but this user may not use its socket %s. Either run berth up as\n"
                "root, or add yourself to the docker group and log in again:\n"
                "    sudo usermod -aG docker $USER\n",
                sock);
        return -1;
    }
    if (dockerd && is_default && geteuid() == 0) {
        fprintf(stderr, "berth up: Docker is installed (%s) but not running: starting it "
                        "(log: %s; it keeps running after berth up stops)\n",
                dockerd, log_path);
        if (start_dockerd(dockerd, url, log_path) == 0) {
            fprintf(stderr, "berth up: dockerd answers\n");
            return 0;
        }
        fprintf(stderr, "berth up: dockerd did not come up; its log:\n");
        up_log_tail(log_path, 15, stderr);
    }
    fprintf(stderr,
            "berth up runs pods as Docker containers, so its nodes need a Docker engine.\n");
    if (!dockerd) {
        fprintf(stderr,
                "Docker is not installed (Debian package docker.io). Install it, as root:\n"
                "    apt-get install docker.io\n"
                "and run berth up again.\n");
    } else {
        fprintf(stderr,
                "Docker is installed (%s) but not running. Start it, as root:\n"
                "    systemctl start docker\n"
                "or, where there is no systemd:\n"
                "    dockerd >/var/log/dockerd.log 2>&1 &\n"
                "and run berth up again.\n",
                dockerd);
    }
    if (!is_default) {
        fprintf(stderr, "(--docker %s: is that where the engine listens? ", url);
        if (docker_ping(UP_DOCKER_DEFAULT, err, sizeof(err)) == 0)
            fprintf(stderr, "One answers on %s: leave --docker out to use it.)\n",
                    UP_DOCKER_DEFAULT);
        else
            fprintf(stderr, "The default is %s.)\n", UP_DOCKER_DEFAULT);
    }
    fprintf(stderr, "berth up --nodes 0 runs the control plane alone, without Docker.\n");
    return -1;
}

/* ---------------------------------------------------------------- the infra image */

/* One regular file as a ustar archive: header, data padded to 512, two zero blocks. */
static char *tar_one(const char *name, const char *data, size_t len, size_t *outlen)
{
    size_t padded = (len + 511) / 512 * 512, total = 512 + padded + 1024;
    unsigned char *t = calloc(1, total);
    unsigned sum = 0;
    if (!t)
        return NULL;
    snprintf((char *)t, 100, "%s", name);
    snprintf((char *)t + 100, 8, "%07o", 0755);
    snprintf((char *)t + 108, 8, "%07o", 0);
    snprintf((char *)t + 116, 8, "%07o", 0);
    snprintf((char *)t + 124, 12, "%011o", (unsigned)len);
    snprintf((char *)t + 136, 12, "%011o", (unsigned)time(NULL));
    memset(t + 148, ' ', 8);
    t[156] = '0';
    memcpy(t + 257, "ustar", 6);
    memcpy(t + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += t[i];
    snprintf((char *)t + 148, 8, "%06o", sum);
    t[155] = ' ';
    memcpy(t + 512, data, len);
    *outlen = total;
    return (char *)t;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)n)) && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p)
        *len = (size_t)n;
    fclose(f);
    return p;
}

/* scripts/pause.c of the tree this binary was built in: <exe>/../../scripts/pause.c. */
static int find_pause_source(char *out, size_t outlen)
{
    char exe[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    if (n <= 0)
        return -1;
    exe[n] = 0;
    for (int i = 0; i < 2; i++) {
        if (!(slash = strrchr(exe, '/')))
            return -1;
        *slash = 0;
    }
    snprintf(out, outlen, "%s/scripts/pause.c", exe);
    return access(out, R_OK);
}

int up_pause_ensure(const char *docker_url, const char *work_dir, char *err, size_t errlen)
{
    char sock[PATH_MAX], base[512], u[1024], src[PATH_MAX], bin[PATH_MAX], log[PATH_MAX];
    char *resp = NULL, *data, *tar;
    size_t len, tlen;
    long st;
    int status;
    pid_t pid;

    if (docker_where(docker_url, sock, sizeof(sock), base, sizeof(base)) != 0) {
        snprintf(err, errlen, "bad --docker URL");
        return -1;
    }
    snprintf(u, sizeof(u), "%s/v1.41/images/%s/json", base, UP_PAUSE_IMAGE);
    st = up_http(u, sock, "GET", NULL, NULL, 0, 10000, NULL, err, errlen);
    if (st == 200)
        return 0;
    if (st != 404) {
        if (st)
            snprintf(err, errlen, "GET /images/%s/json answered HTTP %ld", UP_PAUSE_IMAGE, st);
        return -1;
    }
    if (find_pause_source(src, sizeof(src)) != 0) {
        snprintf(err, errlen, "image %s is missing and scripts/pause.c is not beside this "
                 "binary to build it (run scripts/test-images.sh in berth's source tree)",
                 UP_PAUSE_IMAGE);
        return -1;
    }
    mkdir(work_dir, 0755);
    snprintf(bin, sizeof(bin), "%s/pause", work_dir);
    snprintf(log, sizeof(log), "%s/build.log", work_dir);
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/bin/sh", "sh", "-c", "exec ${CC:-cc} -static -Os -s -o \"$1\" \"$2\"", "sh", bin,
              src, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "compiling %s failed (a static libc is needed: apt-get install "
                 "libc6-dev); see %s", src, log);
        return -1;
    }
    data = read_file(bin, &len);
    if (!data) {
        snprintf(err, errlen, "cannot read %s", bin);
        return -1;
    }
    tar = tar_one("pause", data, len, &tlen);
    free(data);
    if (!tar) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* docker import --change 'CMD ["/pause"]' */
    snprintf(u, sizeof(u), "%s/v1.41/images/create?fromSrc=-&repo=berth%%2Fpause&tag=latest"
             "&changes=CMD%%20%%5B%%22%%2Fpause%%22%%5D", base);
    st = up_http(u, sock, "POST", "application/x-tar", tar, tlen, 60000, &resp, err, errlen);
    free(tar);
    if (st != 200 || (resp && strstr(resp, "\"errorDetail\""))) {
        if (st)
            snprintf(err, errlen, "importing %s: HTTP %ld %.200s", UP_PAUSE_IMAGE, st,
                     resp ? resp : "");
        free(resp);
        return -1;
    }
    free(resp);
    return 1;
}
