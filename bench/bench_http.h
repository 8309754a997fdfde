/* bench_http.h: the small HTTP/1.1 client pieces the benchmark programs share: connect to
 * 127.0.0.1, an incremental response parser (Content-Length and chunked bodies), a clock,
 * and percentiles of a latency sample.
 *
 * Depends on libc only. Used by bench/loadgen.c and bench/watchlat.c (built by
 * scripts/bench.sh). Not part of bin/berth. */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t bh_now_ns(void);

/* A whole file as a NUL-terminated string without trailing newlines (a request body);
 * NULL if unreadable. Caller frees. */
char *bh_read_file(const char *path);

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY set; -1 on failure (errno). */
int bh_connect(int port);

/* Write all of buf (blocking fd); 0 or -1. */
int bh_write_all(int fd, const char *buf, size_t len);

/* Called with each piece of the (de-chunked) body as it arrives; the bytes are borrowed for
 * the duration of the call. */
typedef void (*bh_body_cb)(void *priv, const char *data, size_t len);

typedef enum {
    BH_HEAD = 0, BH_BODY_LEN, BH_CHUNK_SIZE, BH_CHUNK_DATA, BH_CHUNK_CRLF, BH_TRAILER, BH_DONE
} bh_state_t;

typedef struct bh_resp_s {
    bh_state_t state;
    int status;            /* status code once the head is parsed, else 0 */
    int chunked;
    uint64_t left;         /* body bytes (BH_BODY_LEN) or chunk bytes still to come */
    uint64_t body_bytes;   /* de-chunked body bytes seen so far */
    char head[16384];      /* the head, or the current chunk-size / trailer line */
    size_t head_len;
    bh_body_cb on_body;    /* may be NULL */
    void *priv;
} bh_resp_t;

/* Start (or restart, for the next response on a keep-alive connection) a parser. */
void bh_resp_init(bh_resp_t *r, bh_body_cb on_body, void *priv);

/* Feed bytes read from the socket. Returns how many were consumed: fewer than len only when
 * the response ended (state BH_DONE) inside the buffer; the rest belongs to the next response.
 * Returns -1 on a malformed response. */
long bh_resp_feed(bh_resp_t *r, const char *data, size_t len);

/* Sort the sample in place and return the q-quantile (0 <= q <= 1), nearest rank. 0 when n is 0. */
double bh_quantile(double *v, size_t n, double q);

/* A growable array of doubles (latencies in ms). */
typedef struct bh_sample_s {
    double *v;
    size_t n, cap;
} bh_sample_t;

/* Append one value; -1 when out of memory. The caller frees s->v with free(). */
int bh_sample_add(bh_sample_t *s, double x);

#endif
