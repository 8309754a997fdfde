/* kinds.h: the registry of resource kinds the API serves.
 *
 * A kind is data: group, version, plural, Kind, scope, subresources, the field selectors it
 * accepts and its table columns. Built-in kinds come from engine/kinds.json (compiled in);
 * plugins register more at run time with kinds_register_json(), and retire them when they are
 * removed or changed. Discovery, CRUD, watch and tables are generic code driven by this
 * table. Single-threaded: called from the event loop only.
 *
 * Depends on jansson and table.h (default columns). Used by the API, store and watch code. */
#ifndef BERTH_KINDS_H
#define BERTH_KINDS_H

#include <stdbool.h>
#include <jansson.h>

#define KIND_SUB_STATUS  (1u << 0)
#define KIND_SUB_SCALE   (1u << 1)
#define KIND_SUB_BINDING (1u << 2)
#define KIND_SUB_LOG     (1u << 3)
#define KIND_SUB_EXEC    (1u << 4)
#define KIND_SUB_PORTFORWARD (1u << 5)
#define KIND_SUB_ATTACH  (1u << 6)
#define KIND_SUB_EVICTION (1u << 7)

typedef struct kind_s {
    char *group;          /* "" for core */
    char *version;        /* "v1" */
    char *group_version;  /* "v1" or "apps/v1" (apiVersion of objects) */
    char *kind;           /* "Pod" */
    char *list_kind;      /* "PodList" */
    char *plural;         /* "pods" */
    char *singular;       /* "pod" */
    char *store_key;      /* "pods" or "deployments.apps": names the Redis keys */
    bool  namespaced;
    bool  generation;     /* metadata.generation is kept (bumped on spec changes) */
    bool  graceful;       /* deletion is graceful (pods: stays until the node confirms) */
    bool  create_on_update; /* PUT of a missing object creates it (Endpoints, Lease, Event) */
    unsigned subresources;/* KIND_SUB_* */
    json_t *short_names;  /* array of strings, owned */
    json_t *categories;   /* array of strings, owned */
    const char **field_selectors; /* NULL-terminated field paths beyond metadata.name/namespace */
    json_t *columns;      /* table column spec (see table.h), owned */
    json_t *def;          /* the definition as registered, owned */
    char *owner;          /* the plugin that registered it, or NULL (built-in) */
} kind_t;

/* Load the built-in kinds. Returns 0, or -1 with a message on stderr. */
int kinds_init(void);
void kinds_release(void);

/* Register a kind from its JSON definition (borrowed). Returns the kind (owned by the
 * registry, valid until kinds_release) or NULL with err set. */
const kind_t *kinds_register_json(const json_t *def, char *err, size_t errlen);

/* The same in two steps, so a caller can validate several definitions before serving any:
 * kinds_build makes the kind (owner: the registering plugin, or NULL) without registering it,
 * or NULL with err set; kinds_insert registers it (and owns it from then on, also on
 * failure: NULL with err set when its group/version/plural is taken); kinds_build_free
 * drops one that was built and not inserted. */
kind_t *kinds_build(const json_t *def, const char *owner, char *err, size_t errlen);
const kind_t *kinds_insert(kind_t *k, char *err, size_t errlen);
void kinds_build_free(kind_t *k);

/* Stop serving k: lookups and kinds_at no longer return it. Its memory stays valid until
 * kinds_release, since requests and watches in flight may hold the pointer. 0, or -1 when
 * k is not served. */
int kinds_retire(const kind_t *k);
/* Bumped by every registration and retirement, so holders of per-kind state (informers,
 * caches) can tell that the set of kinds changed. */
unsigned kinds_generation(void);

/* Look up by group + plural ("" + "pods", "apps" + "deployments"). NULL if unknown. */
const kind_t *kinds_find(const char *group, const char *version, const char *plural);
/* Look up by apiVersion + Kind, as found in an object's body. */
const kind_t *kinds_find_kind(const char *api_version, const char *kind);
/* Look up by store key ("deployments.apps"). */
const kind_t *kinds_find_store_key(const char *store_key);

/* Iterate: returns the i-th kind or NULL past the end. */
const kind_t *kinds_at(size_t i);

#endif
