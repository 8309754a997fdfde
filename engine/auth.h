/* auth.h: the one authentication and authorization step every API request passes.
 *
 * Today it admits every request (plain HTTP on a loopback address). TLS client
 * certificates and bearer tokens plug in here, so no handler ever checks identity itself.
 * Depends on libevent. Called by api.c before routing. */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include <stddef.h>
#include <event2/http.h>

#include <jansson.h>

typedef struct auth_user_s {
    char name[128];            /* "system:anonymous" until tokens exist */
    const char *groups[4];     /* static strings: "system:unauthenticated" ... */
    size_t ngroups;
} auth_user_t;

/* Returns 0 and fills user when the request may proceed; otherwise the HTTP code to
 * answer (401 or 403) with msg saying why. verb/resource/ns name the request. */
int auth_check(struct evhttp_request *req, const char *verb, const char *resource,
               const char *ns, auth_user_t *user, char *msg, size_t msglen);

/* What the requester of req may do in namespace ns (NULL: cluster-wide), as the status of a
 * SelfSubjectRulesReview: {resourceRules, nonResourceRules, incomplete}. New reference. */
json_t *auth_rules(struct evhttp_request *req, const char *ns);

/* Why the policy allows a request (the reason of an allowed access review). Static. */
const char *auth_policy_reason(void);

#endif
