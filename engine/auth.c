/* auth.c: see auth.h. */
#include <stdio.h>

#include "auth.h"

/* No credentials are defined yet: everyone is system:anonymous and allowed everything. */

static void anonymous(auth_user_t *user)
{
    snprintf(user->name, sizeof(user->name), "system:anonymous");
    user->groups[0] = "system:unauthenticated";
    user->ngroups = 1;
}

int auth_check(struct evhttp_request *req, const char *verb, const char *resource,
               const char *ns, auth_user_t *user, char *msg, size_t msglen)
{
    anonymous(user);
    return 0;
}

json_t *auth_rules(struct evhttp_request *req, const char *ns)
{
    /* The policy above, written as rules: every verb on everything. */
    return json_pack("{s:[{s:[s],s:[s],s:[s]}],s:[{s:[s],s:[s]}],s:b}", "resourceRules", "verbs", "*",
                     "apiGroups", "*", "resources", "*", "nonResourceRules", "verbs", "*",
                     "nonResourceURLs", "*", "incomplete", 0);
}

const char *auth_policy_reason(void)
{
    return "berth admits every request: no authentication or authorization is configured";
}
