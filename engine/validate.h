/* validate.h: the API server's object validation, as the real API server does it.
 *
 * Each check appends causes to a JSON array, each {"reason","message","field"} as in a
 * metav1.Status's details.causes ("reason" is e.g. FieldValueRequired, FieldValueInvalid,
 * FieldValueNotSupported, FieldValueForbidden, FieldValueDuplicate, FieldValueTooLong;
 * "message" is e.g. "Required value" or "Invalid value: \"Foo\": a lowercase RFC 1123 ...";
 * "field" is the path, "spec.template.spec.containers[0].image").
 *
 * Depends on jansson. Called by the API write path before anything is stored. */
#ifndef BERTH_VALIDATE_H
#define BERTH_VALIDATE_H

#include <jansson.h>

/* Name rules. Return NULL if valid, else a static message like Kubernetes gives, e.g.
 * "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-'
 * or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex
 * used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" */
const char *validate_dns1123_subdomain(const char *s);

/* A resource.Quantity ("250m", "1.5Gi", "1234567n", "2e3"): 0 and *out, its value in base
 * units, or -1 with *err a static message. */
int val_quantity_parse(const char *s, long double *out, const char **err);
const char *validate_dns1123_label(const char *s);

/* Validate a whole object of the given type for create. group is "" for core, kind is
 * "Pod" etc. Checks metadata (name per kind rule, labels, annotations, generateName) and
 * the kind's spec rules. Unknown kinds get the metadata checks only. Returns the number of
 * causes appended (0 = valid). obj is borrowed, causes is a JSON array appended to. */
int validate_object(const char *group, const char *kind, const json_t *obj, json_t *causes);

/* Validate an update: everything validate_object checks, plus immutable fields (e.g. a
 * Deployment's or ReplicaSet's spec.selector, a Pod's spec beyond what may change, a
 * Service's clusterIP once set, a Secret/ConfigMap marked immutable). */
int validate_update(const char *group, const char *kind, const json_t *old_obj,
                    const json_t *new_obj, json_t *causes);

#endif
