/* selector.h: label selectors and field selectors, parsed once and matched many times.
 *
 * Label selector syntax as Kubernetes accepts it in ?labelSelector=:
 *   a=b, a==b, a!=b, a in (x,y), a notin (x,y), a (exists), !a (does not exist),
 *   joined by commas (AND). Also built from a LabelSelector object (matchLabels +
 *   matchExpressions with In/NotIn/Exists/DoesNotExist), as Deployments and ReplicaSets use.
 * Field selector syntax: f=v, f==v, f!=v joined by commas; the fields allowed are
 *   metadata.name, metadata.namespace and those the caller passes for the kind.
 *
 * Depends on jansson. Used by list, watch, the informers and the Lua library. */
#ifndef BERTH_SELECTOR_H
#define BERTH_SELECTOR_H

#include <stddef.h>
#include <jansson.h>

typedef struct label_selector_s label_selector_t;
typedef struct field_selector_s field_selector_t;

/* Parse; NULL or "" gives an empty selector that matches everything. On error returns
 * NULL and err holds a message naming the bad token. Caller frees with *_free(). */
label_selector_t *label_selector_parse(const char *text, char *err, size_t errlen);
/* From a metav1.LabelSelector object (borrowed). NULL with err on a bad operator. */
label_selector_t *label_selector_from_json(const json_t *sel, char *err, size_t errlen);
int  label_selector_empty(const label_selector_t *sel);
/* labels: the metadata.labels object, or NULL (no labels). Returns 1 on match, 0 if not. */
int  label_selector_match(const label_selector_t *sel, const json_t *labels);
void label_selector_free(label_selector_t *sel);

/* allowed: NULL-terminated list of field paths beyond metadata.name/metadata.namespace, or
 * NULL. An unsupported field gives NULL and err "field label not supported: <f>". */
field_selector_t *field_selector_parse(const char *text, const char *const *allowed,
                                       char *err, size_t errlen);
int  field_selector_empty(const field_selector_t *sel);
/* Match against an object (borrowed). Missing fields compare as "", booleans as
 * "true"/"false", numbers in decimal. */
int  field_selector_match(const field_selector_t *sel, const json_t *obj);
/* If the selector pins metadata.name / metadata.namespace with '=', return that value
 * (borrowed, valid while sel lives), else NULL. Lets list and watch narrow the scan. */
const char *field_selector_name(const field_selector_t *sel);
const char *field_selector_namespace(const field_selector_t *sel);
void field_selector_free(field_selector_t *sel);

/* The smallest object a selector can be matched against: metadata.name, namespace,
 * labels and each allowed field path of obj, at the same paths. New reference. Kept with
 * watch events so a watcher can tell that an object stopped matching. */
json_t *selector_projection(const json_t *obj, const char *const *allowed);

#endif
