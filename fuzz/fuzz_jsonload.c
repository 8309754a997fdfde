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
#include "../t/json_same.h"   /* same_shape: strict tree equality */

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
