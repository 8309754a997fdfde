/* jsondump.h: a faster json_dumps for the hot paths (objects written to the store, replies,
 * request bodies).
 *
 * jsondump(v, flags) returns the same bytes json_dumps(v, flags) does (jansson 2.14), or
 * NULL where it does: compact output (JSON_COMPACT, optionally JSON_ENCODE_ANY) is written
 * in one pass into one growing buffer, where jansson calls back per token and formats
 * integers with snprintf. Anything else -- other flags, reals, deep nesting, strings that
 * are not valid UTF-8 -- is handed to json_dumps, which stays the reference;
 * fuzz/fuzz_jsondump.c checks the two agree. The caller frees the result. */
#ifndef BERTH_JSONDUMP_H
#define BERTH_JSONDUMP_H

#include <jansson.h>

char *jsondump(const json_t *v, size_t flags);

/* The fast writer alone: NULL where jsondump hands over to json_dumps (tests, fuzzer). */
char *jsondump_fast(const json_t *v, size_t flags);

#endif
