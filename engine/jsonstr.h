/* jsonstr.h: the bytes of a JSON string as jansson reads and writes them, shared by
 * jsonload.c and jsondump.c so that both agree with jansson and with each other. */
#ifndef BERTH_JSONSTR_H
#define BERTH_JSONSTR_H

#include <stddef.h>
#include <stdint.h>

/* Bytes that stand for themselves inside a JSON string, read or written without a second
 * look: printable ASCII but the quote and the backslash. */
static const unsigned char jsonstr_plain[256] = {
    [0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

/* The length (2-4) of the valid multi-byte UTF-8 sequence at p, or 0: jansson's
 * utf8_check_first and utf8_check_full (no overlong forms, no surrogates, nothing above
 * U+10FFFF). ASCII bytes are the caller's to handle: for them it returns 0. */
static inline size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = *p;
    size_t n, i;
    uint32_t v;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;   /* 0x80-0xc1 and 0xf5-0xff never start one */
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    return n;
}

#endif
