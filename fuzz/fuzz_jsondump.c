/* fuzz_jsondump.c: jsondump against json_dumps, byte for byte (engine/jsondump.h).
 *
 * The input is parsed as any JSON value (NUL bytes allowed); the first bytes of the input,
 * raw and possibly not UTF-8, become a string value and a key beside it. For each of
 * JSON_COMPACT and JSON_COMPACT|JSON_ENCODE_ANY: jsondump_fast, when it answers, must give
 * exactly json_dumps's bytes; jsondump must give them too, or NULL where json_dumps does;
 * and the fast writer must answer whenever it is meant to (no reals, depth at most 512,
 * valid UTF-8, a container at the top or JSON_ENCODE_ANY), so the comparison is not
 * vacuous. Built by scripts/fuzz.sh; needs jansson and engine/jsondump.c only. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsondump.h"

#define RAW_MAX 256

/* Whether the fast writer takes v: no reals, nothing deeper than 512 (the top is at 0).
 * Strings are checked by the caller (parsed ones are UTF-8; raw ones go through
 * json_stringn, which checks). */
static int fast_ok(const json_t *v, unsigned depth)
{
    if (depth > 512)
        return 0;
    switch (json_typeof(v)) {
    case JSON_REAL:
        return 0;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!fast_ok(json_array_get(v, i), depth + 1))
                return 0;
        return 1;
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
            if (!fast_ok(m, depth + 1))
                return 0;
        return 1;
    }
    default:
        return 1;
    }
}

static void compare(const json_t *v, int valid_utf8)
{
    static const size_t flag_sets[] = { JSON_COMPACT, JSON_COMPACT | JSON_ENCODE_ANY };
    int fast_expected = valid_utf8 && fast_ok(v, 0);

    for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
        size_t f = flag_sets[i];
        char *want = json_dumps(v, f);
        char *fast = jsondump_fast(v, f);
        char *got = jsondump(v, f);
        int top_ok = (f & JSON_ENCODE_ANY) || json_is_object(v) || json_is_array(v);

        if (fast && (!want || strcmp(fast, want) != 0))
            abort();    /* the fast writer wrote other bytes */
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
            abort();    /* jsondump is not json_dumps */
        if (!fast && fast_expected && top_ok)
            abort();    /* handed over what the fast writer should have taken */
        if (fast && (!fast_expected || !top_ok))
            abort();    /* answered where it should have handed over */
        free(want);
        free(fast);
        free(got);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    const char *raw = (const char *)data;
    size_t rawlen = size < RAW_MAX ? size : RAW_MAX;
    json_t *v = json_loadb(raw, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

    if (v)
        compare(v, 1);

    /* The raw bytes as a string, as a key, and with the parsed value under that key. */
    json_t *checked = json_stringn(raw, rawlen);
    int valid = checked != NULL;
    json_decref(checked);

    json_t *s = json_stringn_nocheck(raw, rawlen);
    if (!s)
        abort();
    compare(s, valid);

    json_t *o = json_object();
    json_object_set(o, "s", s);         /* s is kept: the raw key may be "s" and replace it */
    json_object_setn_new_nocheck(o, raw, rawlen, v ? v : json_null());
    compare(o, valid && (!v || fast_ok(v, 1)));

    json_t *a = json_array();
    json_array_append(a, s);
    json_array_append(a, o);
    compare(a, valid && (!v || fast_ok(v, 2)));

    json_decref(a);
    json_decref(o);
    json_decref(s);
    return 0;
}
