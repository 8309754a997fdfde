/* patch.h: the patch types the API server accepts, applied to jansson documents.
 *
 *   JSON Patch (RFC 6902)          application/json-patch+json
 *   JSON Merge Patch (RFC 7386)    application/merge-patch+json
 *   Strategic merge patch          application/strategic-merge-patch+json
 *     (merge keys of the built-in Kubernetes types, and the directives kubectl sends:
 *      $patch (replace|delete|merge), $retainKeys, $setElementOrder/<list>,
 *      $deleteFromPrimitiveList/<list>; every $-key is stripped from the result)
 *
 * Depends on jansson only. Called by the API write path and the fuzzers.
 *
 * Every function leaves its inputs untouched (borrowed) and returns a new reference the
 * caller releases with json_decref(), or NULL with *code set to the HTTP status the API
 * should answer (400 for a malformed patch, 422 for a patch that cannot apply, such as a
 * failed "test" operation or a path that does not exist) and err holding a message. */
#ifndef BERTH_PATCH_H
#define BERTH_PATCH_H

#include <stddef.h>
#include <jansson.h>

json_t *patch_json_apply(const json_t *doc, const json_t *ops, int *code, char *err, size_t errlen);
json_t *patch_merge_apply(const json_t *doc, const json_t *patch, int *code, char *err, size_t errlen);

/* api_version and kind name the type of doc ("apps/v1", "Deployment"), which decides the
 * merge keys of its lists. A type the table does not know gets merge-patch semantics for
 * lists (replace), as Kubernetes does for a type without patch metadata. */
json_t *patch_strategic_apply(const json_t *doc, const json_t *patch, const char *api_version,
                              const char *kind, int *code, char *err, size_t errlen);

/* True if the strategic patch table knows this type (else the API answers 415 for SMP). */
int patch_strategic_known(const char *api_version, const char *kind);

#endif
