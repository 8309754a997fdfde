/* yaml_json.h: YAML documents to jansson values (libyaml), for apply-patch+yaml bodies and
 * manifests.
 *
 * Scalars resolve as sigs.k8s.io/yaml does (YAML 1.1 as go-yaml v2): plain true/false/
 * yes/no/on/off -> booleans, null/~/empty -> null, integers and floats -> numbers, anything
 * quoted -> string. Anchors and aliases are expanded (bounded, against alias bombs).
 * Mapping keys must be scalars. Errors carry "line N, column M: <problem>".
 *
 * Depends on libyaml and jansson. */
#ifndef BERTH_YAML_JSON_H
#define BERTH_YAML_JSON_H

#include <stddef.h>
#include <jansson.h>

/* Parse exactly one document. New reference, or NULL with err set (also when the input
 * holds several documents). */
json_t *yaml_parse_one(const char *buf, size_t len, char *err, size_t errlen);
/* Parse a multi-document stream into a JSON array of the non-empty documents. */
json_t *yaml_parse_all(const char *buf, size_t len, char *err, size_t errlen);

#endif
