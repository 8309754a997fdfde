/* bench_http.c: see bench_http.h. A response parser that never buffers bodies, so a 20 MB
 * list costs the load generator no memory, and the same parser can follow an endless
 * chunked watch stream. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_http.h"

uint64_t bh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bh_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    /* Requests are written in one call; without NODELAY a small POST body could wait for
     * the delayed ACK of the previous response and add 40 ms to a latency sample. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int bh_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

void bh_resp_init(bh_resp_t *r, bh_body_cb on_body, void *priv)
{
    r->state = BH_HEAD;
    r->status = 0;
    r->chunked = 0;
    r->left = 0;
    r->body_bytes = 0;
    r->head_len = 0;
    r->on_body = on_body;
    r->priv = priv;
}

/* The head is complete in r->head (NUL-terminated): status, Content-Length, chunked. */
static int parse_head(bh_resp_t *r)
{
    char *line, *save = NULL;
    int first = 1;
    r->left = 0;
    for (line = strtok_r(r->head, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        if (first) {
            if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12)
                return -1;
            r->status = atoi(line + 9);
            first = 0;
        } else if (!strncasecmp(line, "Content-Length:", 15)) {
            r->left = strtoull(line + 15, NULL, 10);
        } else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strcasestr(line + 18, "chunked")) {
            r->chunked = 1;
        }
    }
    if (first)
        return -1;
    if (r->chunked)
        r->state = BH_CHUNK_SIZE;
    else
        r->state = r->left ? BH_BODY_LEN : BH_DONE;
    r->head_len = 0;
    return 0;
}

static void deliver(bh_resp_t *r, const char *p, size_t n)
{
    r->body_bytes += n;
    if (r->on_body && n)
        r->on_body(r->priv, p, n);
}

long bh_resp_feed(bh_resp_t *r, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && r->state != BH_DONE) {
        switch (r->state) {
        case BH_HEAD: {
            /* Byte by byte until the blank line: heads are small, bodies are not. */
            if (r->head_len + 1 >= sizeof(r->head))
                return -1;
            r->head[r->head_len++] = data[i++];
            r->head[r->head_len] = 0;
            if (r->head_len >= 4 && !memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4)) {
                if (parse_head(r) != 0)
                    return -1;
            }
            break;
        }
        case BH_BODY_LEN:
        case BH_CHUNK_DATA: {
            size_t n = len - i;
            if (n > r->left)
                n = (size_t)r->left;
            deliver(r, data + i, n);
            i += n;
            r->left -= n;
            if (r->left == 0)
                r->state = r->state == BH_BODY_LEN ? BH_DONE : BH_CHUNK_CRLF;
            break;
        }
        case BH_CHUNK_CRLF:
            /* The CRLF after a chunk's data: skip the CR, leave on the LF. */
            if (data[i++] == '\n')
                r->state = BH_CHUNK_SIZE;
            break;
        case BH_CHUNK_SIZE:
            if (data[i] == '\n') {
                i++;
                r->head[r->head_len] = 0;
                if (r->head_len == 0 || (r->head_len == 1 && r->head[0] == '\r'))
                    return -1;
                r->left = strtoull(r->head, NULL, 16);
                r->head_len = 0;
                r->state = r->left ? BH_CHUNK_DATA : BH_TRAILER;
            } else {
                if (r->head_len + 1 >= sizeof(r->head))
                    return -1;
                r->head[r->head_len++] = data[i++];
            }
            break;
        case BH_TRAILER:
            /* Trailer lines until an empty one ends the message. */
            if (data[i] == '\n') {
                if (r->head_len == 0 || (r->head_len == 1 && r->head[0] == '\r'))
                    r->state = BH_DONE;
                r->head_len = 0;
            } else if (r->head_len + 1 < sizeof(r->head)) {
                r->head[r->head_len++] = data[i];
            }
            i++;
            break;
        case BH_DONE:
            break;
        }
    }
    return (long)i;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bh_quantile(double *v, size_t n, double q)
{
    size_t k;
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    /* Nearest rank: the smallest value with at least q of the sample at or below it. */
    k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

int bh_sample_add(bh_sample_t *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

char *bh_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(buf = malloc((size_t)n + 1))) {
        fclose(f);
        return NULL;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = 0;
    fclose(f);
    /* A trailing newline in the file is not part of the JSON we want to send. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    return buf;
}
