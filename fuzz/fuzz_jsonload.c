/* fuzz_jsonload.c: jsonload (engine/jsonload.c) against jansson's json_loadb, with flags 0
 * and JSON_DECODE_ANY. The scanner alone (jsonload_fast) may decline any input, but what it
 * accepts jansson must accept with the same tree: the same type at every node (1 is not
 * 1.0), the same key order, reals equal bit for bit. jsonload must then succeed or fail as
 * json_loadb does, with the same tree and the same error. Built by scripts/fuzz.sh; needs
 * engine/jsonload.c and jansson. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonload.h"

/* As t/c/jsonload.c: json_equal with types, key order and real bits. */
static int same_shape(json_t *a, json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter(a), *ib = json_object_iter(b);
        while (ia && ib) {
            size_t la = json_object_iter_key_len(ia), lb = json_object_iter_key_len(ib);
            if (la != lb || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) != 0 ||
                !same_shape(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
            ia = json_object_iter_next(a, ia);
            ib = json_object_iter_next(b, ib);
        }
        return !ia && !ib;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_shape(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double da = json_real_value(a), db = json_real_value(b);
        return memcmp(&da, &db, sizeof(da)) == 0;
    }
    default:
        return 1;
    }
}

static int same_error(const json_error_t *a, const json_error_t *b)
{
    return strcmp(a->text, b->text) == 0 && strcmp(a->source, b->source) == 0 &&
           a->line == b->line && a->column == b->column && a->position == b->position;
}

static void one(const char *buf, size_t len, size_t flags)
{
    json_error_t rerr, gerr;
    json_t *ref = json_loadb(buf, len, flags, &rerr);
    json_t *fast = jsonload_fast(buf, len, flags);
    if (fast && (!ref || !same_shape(fast, ref)))
        abort();    /* the scanner accepted what jansson rejects, or built another tree */
    json_t *got = jsonload(buf, len, flags, &gerr);
    if (!got != !ref || !same_shape(got, ref) || !same_error(&gerr, &rerr))
        abort();    /* jsonload and json_loadb disagree */
    json_decref(ref);
    json_decref(fast);
    json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one((const char *)data, size, 0);
    one((const char *)data, size, JSON_DECODE_ANY);
    return 0;
}
