/* validate_internal.h: what the validate_*.c files share; not for other units.
 *
 * validate.c holds the cause builder, the typed JSON accessors, the name rules, ObjectMeta
 * checks and the kind table; validate_pod.c the Pod spec, pod templates and the workload
 * kinds that embed them (ReplicationController, ReplicaSet, Deployment); validate_kinds.c
 * the other kinds (Namespace, Service, Endpoints, Node, Event, ConfigMap, Secret, Lease,
 * and apps' DaemonSet, StatefulSet, ControllerRevision).
 *
 * A val_t carries the causes array and the field path being checked. Checks push a path
 * segment, check, and pop back to the mark val_push returned. Emitters take an optional
 * `child` appended to the current path for that one cause (NULL = the current path). */
#ifndef BERTH_VALIDATE_INTERNAL_H
#define BERTH_VALIDATE_INTERNAL_H

#include <stddef.h>
#include <jansson.h>
#include "validate.h"

#define VAL_PATH_MAX 1024

typedef struct val_s {
    json_t *causes;           /* borrowed: the array causes are appended to */
    int count;                /* causes appended through this val_t */
    size_t len;               /* strlen(path) */
    char path[VAL_PATH_MAX];  /* the field path being checked, "spec.containers[0]" */
} val_t;

/* Accessor results. */
enum { VAL_BAD = -1, VAL_ABSENT = 0, VAL_OK = 1 };

/* ---- path ---- each push returns a mark for val_pop */
size_t val_push(val_t *v, const char *name);        /* ".name" ("name" at the root) */
size_t val_push_index(val_t *v, size_t i);          /* "[i]" */
size_t val_push_key(val_t *v, const char *key);     /* "[key]", as field.Path.Key */
void val_pop(val_t *v, size_t mark);

/* ---- emitters ---- */
void val_required(val_t *v, const char *child, const char *detail);
void val_forbidden(val_t *v, const char *child, const char *detail);
void val_invalid_s(val_t *v, const char *child, const char *value, const char *detail);
void val_invalid_i(val_t *v, const char *child, long long value, const char *detail);
void val_invalid_r(val_t *v, const char *child, const char *rendered, const char *detail);
void val_invalid_j(val_t *v, const char *child, const json_t *value, const char *detail);
void val_not_supported(val_t *v, const char *child, const char *value,
                       const char *const *valid);   /* valid: NULL-terminated */
void val_not_supported_r(val_t *v, const char *child, const char *rendered,
                         const char *const *valid);
void val_duplicate_s(val_t *v, const char *child, const char *value);
void val_duplicate_r(val_t *v, const char *child, const char *rendered);
void val_not_found(val_t *v, const char *child, const char *value);
void val_too_long(val_t *v, const char *child, long max);
void val_type(val_t *v, const char *child, const json_t *value, const char *type);

/* Go's %q of s, appended to a malloc'd buffer; caller frees. */
char *val_quote(const char *s);
/* Render a JSON value as an error value: strings quoted, numbers plain, null "null",
 * containers as compact JSON (cut at 200 bytes). Caller frees. */
char *val_render(const json_t *value);
/* Go's %#v of a labels map: map[string]string{"a":"1"} or map[string]string(nil). */
char *val_render_labels(const json_t *labels);

/* ---- typed access ---- obj may be NULL or not an object (then everything is absent).
 * On a wrong type a FieldValueTypeInvalid cause names obj's path + key. JSON null counts
 * as absent, as a Go decoder leaves the zero value. */
int val_get(val_t *v, const json_t *obj, const char *key, json_type want, const json_t **out);
const char *val_str(val_t *v, const json_t *obj, const char *key);
const json_t *val_obj(val_t *v, const json_t *obj, const char *key);
const json_t *val_arr(val_t *v, const json_t *obj, const char *key);
int val_int(val_t *v, const json_t *obj, const char *key, long long *out);
int val_bool(val_t *v, const json_t *obj, const char *key, int *out);
/* The same read without causes, for a member already type-checked: 1 if it is an integer. */
int val_int_quiet(const json_t *obj, const char *key, long long *out);
/* An object of strings (labels, selector, data). Non-string values get type causes and
 * are skipped by callers that use val_map_str. */
const json_t *val_str_map(val_t *v, const json_t *obj, const char *key);
/* Element i of an array if it is an object, else a type cause at path[i] and NULL. */
const json_t *val_elem_obj(val_t *v, const json_t *arr, size_t i);
/* A member as a string, "" if absent or not a string (no cause). */
const char *val_s(const json_t *obj, const char *key);

/* ---- name rules ---- each emits Invalid(child, value, msg) per failed rule and returns
 * the number of causes. */
int val_dns1123_label(val_t *v, const char *child, const char *value);
int val_dns1123_subdomain(val_t *v, const char *child, const char *value);
int val_dns1035_label(val_t *v, const char *child, const char *value);
int val_qualified_name(val_t *v, const char *child, const char *value);
int val_label_value(val_t *v, const char *child, const char *value);
int val_config_key(val_t *v, const char *child, const char *value);
int val_port_name(val_t *v, const char *child, const char *value);
int val_port_num(val_t *v, const char *child, long long port);
int val_ip(val_t *v, const char *child, const char *value);
int val_cidr(val_t *v, const char *child, const char *value);
int val_is_ip(const char *value, unsigned char out[16], int *family);

/* ---- shared checks ---- */
void val_labels(val_t *v, const json_t *parent, const char *key);      /* labels map */
void val_annotations(val_t *v, const json_t *parent, const char *key);
void val_nonnegative(val_t *v, const json_t *obj, const char *key);    /* int >= 0 */
/* metav1.LabelSelector at obj[key]; returns 1 if it parses as a selector. */
int val_label_selector(val_t *v, const json_t *obj, const char *key);
/* 1 if the (valid) LabelSelector matches the labels object (may be NULL). */
int val_selector_matches(const json_t *selector, const json_t *labels);
char *val_render_selector(const json_t *selector);
/* Semantic equality as apimachinery's: null, absent, [] and {} are all equal. */
int val_semantic_equal(const json_t *a, const json_t *b);
void val_immutable(val_t *v, const char *child, const json_t *new_val, const json_t *old_val);

/* ---- quantities (resource.Quantity): val_quantity_parse is in validate.h ---- */
/* Quantity at obj[key] (string or number): VAL_OK and *out, VAL_ABSENT, or VAL_BAD (cause). */
int val_quantity(val_t *v, const json_t *obj, const char *key, long double *out,
                 char *text, size_t textlen);

/* ---- per-kind checks (validate_pod.c, validate_kinds.c) ---- obj is the whole object. */
void val_pod(val_t *v, const json_t *obj);
void val_pod_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_replication_controller(val_t *v, const json_t *obj);
void val_replica_set(val_t *v, const json_t *obj);
void val_deployment(val_t *v, const json_t *obj);
void val_pod_disruption_budget(val_t *v, const json_t *obj);
void val_selector_immutable(val_t *v, const json_t *old_obj, const json_t *obj);
void val_namespace(val_t *v, const json_t *obj);
void val_service(val_t *v, const json_t *obj);
void val_service_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_endpoints(val_t *v, const json_t *obj);
void val_node(val_t *v, const json_t *obj);
void val_node_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_event(val_t *v, const json_t *obj);
void val_config_map(val_t *v, const json_t *obj);
void val_config_map_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_secret(val_t *v, const json_t *obj);
void val_secret_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_lease(val_t *v, const json_t *obj);
void val_daemon_set(val_t *v, const json_t *obj);
void val_daemon_set_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_stateful_set(val_t *v, const json_t *obj);
void val_stateful_set_update(val_t *v, const json_t *old_obj, const json_t *obj);
void val_controller_revision(val_t *v, const json_t *obj);
void val_controller_revision_update(val_t *v, const json_t *old_obj, const json_t *obj);
/* Tolerations list at obj[key] (pods). */
void val_tolerations(val_t *v, const json_t *obj, const char *key);

/* ValidatePodTemplateSpec at <path>.template, as ReplicaSets and Deployments have it
 * (labels, annotations, the pod spec in template mode, no ephemeral containers,
 * restartPolicy Always); "Required" when required and absent. Returns the template or
 * NULL. validate_pod.c. */
const json_t *val_pod_template(val_t *v, const json_t *spec, int required);

#endif
