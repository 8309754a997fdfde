/* util.h: small helpers shared by the core: ids, timestamps, JSON path access.
 * Depends on jansson. */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

/* A random RFC 4122 version 4 UUID into out (37 bytes). */
void util_uuid(char out[37]);
/* n random characters from Kubernetes' generateName alphabet (bcdfghjklmnpqrstvwxz2456789). */
void util_random_suffix(char *out, size_t n);
/* RFC 3339 UTC timestamp with second precision ("2026-11-27T04:31:26Z") into out (21+ bytes). */
void util_rfc3339(time_t t, char out[32]);
/* Parse an RFC 3339 timestamp; -1 if malformed. */
time_t util_parse_rfc3339(const char *s);
/* Monotonic clock in microseconds. */
uint64_t util_now_us(void);

/* Get a string member, or NULL if absent or not a string. obj may be NULL. */
const char *json_str(const json_t *obj, const char *key);
/* Get obj[key] as an object, creating it (or replacing a non-object) when missing. Borrowed. */
json_t *json_obj_ensure(json_t *obj, const char *key);
/* Follow a dotted path of object keys ("spec.template.spec"); NULL if any step is missing. */
json_t *json_path(const json_t *obj, const char *dotted);
/* Whether obj's status.conditions has a condition of this type with status "True" (a pod's
 * Ready, a node's Ready). */
int json_condition_true(const json_t *obj, const char *type);

/* Base64 (standard alphabet, padded) of len bytes; caller frees. */
char *util_base64(const void *data, size_t len);
/* Decode base64; returns malloc'd bytes and *outlen, or NULL if malformed. */
unsigned char *util_base64_decode(const char *s, size_t *outlen);

#endif
