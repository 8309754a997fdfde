/* defaults.h: what the API server fills in on create, as kube-apiserver's defaulting and
 * PrepareForCreate do: default field values per kind and the status a new object starts with.
 *
 * Depends on jansson, kinds.h. Called by api_write.c before validation. */
#ifndef BERTH_DEFAULTS_H
#define BERTH_DEFAULTS_H

#include <jansson.h>
#include "kinds.h"

/* Apply defaults to obj in place (create and update). */
void defaults_apply(const kind_t *k, json_t *obj);
/* Reset what a client may not set on create (status of most kinds). */
void defaults_prepare_create(const kind_t *k, json_t *obj);
/* What an update of the main resource derives from the stored object cur (a DaemonSet's
 * deprecated.daemonset.template.generation: +1 when the pod template changed). */
void defaults_prepare_update(const kind_t *k, const json_t *cur, json_t *obj);

#endif
