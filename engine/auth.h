/* auth.h: the one authentication and authorization step every API request passes.
 *
 * Today it admits every request (plain HTTP on a loopback address). TLS client
 * certificates and bearer tokens plug in here, so no handler ever checks identity itself.
 * Depends on libevent. Called by api.c before routing. */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include <stddef.h>
#include <event2/http.h>

typedef struct auth_user_s {
    char name[128];            /* "system:anonymous" until tokens exist */
} auth_user_t;

/* Returns 0 and fills user when the request may proceed; otherwise the HTTP code to
 * answer (401 or 403) with msg saying why. verb/resource/ns name the request. */
int auth_check(struct evhttp_request *req, const char *verb, const char *resource,
               const char *ns, auth_user_t *user, char *msg, size_t msglen);

#endif
