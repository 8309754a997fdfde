/* table.h: meta.k8s.io/v1 Table rendering, for kubectl get (Accept: ...;as=Table).
 *
 * A column spec is data (JSON array), one entry per column:
 *   {"name":"Ready","type":"string","format":"","priority":0,"description":"...",
 *    "jsonPath":".status.readyReplicas"}          -- a value picked by a JSONPath subset, or
 *    "cell":"pod.ready"}                           -- a named built-in cell function.
 * Built-in kinds take their specs from engine/tables.json (keyed "<group>/<Kind>", core
 * group empty: "/Pod", "apps/Deployment"); plugins give jsonPath columns for their kinds.
 * Without a spec a kind gets Name + Created At, as the real server's default convertor.
 *
 * Depends on jansson. Called by the API (list, get and watch with as=Table). */
#ifndef BERTH_TABLE_H
#define BERTH_TABLE_H

#include <time.h>
#include <jansson.h>

/* The built-in spec for a kind, or the default spec. Borrowed (static lifetime). */
const json_t *table_spec_builtin(const char *group, const char *kind);
/* Check a spec (from a plugin): 0 if usable, else -1 with err naming the bad entry. */
int table_spec_check(const json_t *spec, char *err, size_t errlen);
/* The columnDefinitions array for a spec. New reference. */
json_t *table_column_definitions(const json_t *spec);
/* What a row's "object" holds (the request's includeObject): PartialObjectMetadata by
 * default, the whole object (kubectl asks for it with --sort-by), or nothing. */
typedef enum {
    TABLE_INCLUDE_METADATA = 0,
    TABLE_INCLUDE_OBJECT,
    TABLE_INCLUDE_NONE
} table_include_t;

/* One row {"cells":[...],"object":...} for obj (borrowed). now is the clock for ages ("5m",
 * "2d3h", as kubectl prints them). New reference. */
json_t *table_row(const json_t *spec, const json_t *obj, time_t now, table_include_t include);

#endif
