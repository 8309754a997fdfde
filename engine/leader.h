/* leader.h: leader election on a coordination.k8s.io/v1 Lease, as Kubernetes components do.
 *
 * Every candidate tries every retry period to take or renew the Lease: it takes it when it is
 * missing, held by itself, or expired (renewTime + leaseDurationSeconds in the past), with
 * the Lease's resourceVersion as the compare-and-swap so that two candidates never both win.
 * A leader that cannot renew within the renew deadline stops leading before its Lease can
 * expire for the others.
 *
 * Depends on apiclient, libevent, jansson. Used by the scheduler (and the controllers). */
#ifndef BERTH_LEADER_H
#define BERTH_LEADER_H

#include <event2/event.h>

#include "apiclient.h"

typedef struct leader_s leader_t;
typedef void leader_change_fn(int leading, void *priv);

typedef struct leader_opts_s {
    const char *ns, *name;     /* the Lease, e.g. kube-system/berth-scheduler */
    const char *identity;      /* this candidate, e.g. hostname_pid */
    int lease_seconds;         /* leaseDurationSeconds (default 15) */
    int renew_deadline_ms;     /* give up leading after this long without a renewal (10000) */
    int retry_ms;              /* how often to try (2000) */
} leader_opts_t;

leader_t *leader_create(struct event_base *base, apiclient_t *client, const leader_opts_t *opts,
                        leader_change_fn *change, void *priv);
int leader_is_leading(const leader_t *l);
void leader_free(leader_t *l);

#endif
