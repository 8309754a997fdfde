/* util.c: see util.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

static void random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0) {
            /* getrandom only fails before the pool is seeded or on EINTR: fall back. */
            for (; got < n; got++)
                buf[got] = (unsigned char)rand();
            return;
        }
        got += (size_t)r;
    }
}

void util_uuid(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

void util_random_suffix(char *out, size_t n)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char b[64];
    if (n > sizeof(b))
        n = sizeof(b);
    random_bytes(b, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
    out[n] = '\0';
}

void util_rfc3339(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t util_parse_rfc3339(const char *s)
{
    struct tm tm;
    const char *rest;
    if (!s)
        return -1;
    memset(&tm, 0, sizeof(tm));
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    if (*rest == '.')
        while (*++rest >= '0' && *rest <= '9')
            ;
    time_t t = timegm(&tm);
    if (*rest == 'Z' || *rest == 'z')
        return t;
    if ((*rest == '+' || *rest == '-') && strlen(rest) >= 6) {
        int hh = atoi(rest + 1), mm = atoi(rest + 4);
        long off = hh * 3600L + mm * 60L;
        return *rest == '+' ? t - off : t + off;
    }
    return -1;
}

uint64_t util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *json_str(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *json_obj_ensure(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}

json_t *json_path(const json_t *obj, const char *dotted)
{
    char key[256];
    const char *p = dotted;
    json_t *cur = (json_t *)obj;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(key) || !json_is_object(cur))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

int json_condition_true(const json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_path(obj, "status.conditions"), i, c)
        if (json_str(c, "type") && !strcmp(json_str(c, "type"), type))
            return json_str(c, "status") && !strcmp(json_str(c, "status"), "True");
    return 0;
}

char *util_base64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

unsigned char *util_base64_decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as data: take it back off. */
    if (n >= 1 && s[n - 1] == '=')
        r--;
    if (n >= 2 && s[n - 2] == '=')
        r--;
    *outlen = (size_t)r;
    return out;
}
