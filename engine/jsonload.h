/* jsonload.h: a faster json_loadb for the hot paths (watch events, list pages, stored
 * objects, request bodies).
 *
 * jsonload() returns exactly what jansson's json_loadb(buf, len, flags, err) returns: the
 * same tree (the same objects, key order, integers and reals), or NULL with jansson's own
 * error. It builds the tree through jansson's API with a tighter scanner than jansson's
 * byte-at-a-time lexer (about 2x on Kubernetes objects; docs/dependencies.md). Anything it
 * does not handle itself -- every error, flags other than JSON_DECODE_ANY, nesting deeper
 * than jansson allows, a number strtoll/strtod would reject -- it leaves to json_loadb, so
 * jansson stays the reference for all that is unusual; fuzz/fuzz_jsonload.c checks the two
 * agree on every input.
 *
 * The caller owns the returned reference. err may be NULL. */
#ifndef BERTH_JSONLOAD_H
#define BERTH_JSONLOAD_H

#include <stddef.h>

#include <jansson.h>

json_t *jsonload(const char *buf, size_t len, size_t flags, json_error_t *err);

/* The scanner alone: NULL where jsonload would fall back to jansson (for tests and the
 * fuzzer, which check that it never accepts what jansson rejects). */
json_t *jsonload_fast(const char *buf, size_t len, size_t flags);

#endif
