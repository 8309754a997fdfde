/* api_review.c: the review APIs clients ask "who am I, what may I do" with:
 *
 *   POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews   kubectl auth can-i VERB RES
 *   POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews    kubectl auth can-i --list
 *   POST /apis/authentication.k8s.io/v1/selfsubjectreviews        kubectl auth whoami
 *
 * They are not stored kinds (nothing is written, there is nothing to get, list or watch), so
 * they are not in the kind table: discovery lists them from here, with the one verb they
 * have. Every answer comes from auth.c, the one place that authenticates and authorizes: an
 * access review runs auth_check for the attributes asked about, with the requester's own
 * credentials; the rules review lists auth_rules; whoami is the user auth_check found. So
 * when auth.c learns tokens and policies, these follow without a change here.
 *
 * Depends on api.h, auth.h, jansson. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "util.h"

#define AUTHZ "authorization.k8s.io"
#define AUTHN "authentication.k8s.io"

int api_review_group(const char *group)
{
    return !strcmp(group, AUTHZ) || !strcmp(group, AUTHN);
}

void api_review_groups(json_t *groups)
{
    static const char *const names[] = { AUTHN, AUTHZ };
    for (size_t i = 0; i < 2; i++) {
        char gv[64];
        snprintf(gv, sizeof(gv), "%s/v1", names[i]);
        json_array_append_new(groups, json_pack("{s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "name", names[i],
                                                "versions", "groupVersion", gv, "version", "v1",
                                                "preferredVersion", "groupVersion", gv, "version", "v1"));
    }
}

static json_t *entry(const char *plural, const char *kind)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:[s]}", "name", plural, "singularName", "", "namespaced", 0,
                     "kind", kind, "verbs", "create");
}

json_t *api_review_resource_list(const char *group, const char *version)
{
    json_t *list;
    char gv[64];
    if (!api_review_group(group) || strcmp(version, "v1"))
        return NULL;
    list = json_array();
    if (!strcmp(group, AUTHZ)) {
        json_array_append_new(list, entry("selfsubjectaccessreviews", "SelfSubjectAccessReview"));
        json_array_append_new(list, entry("selfsubjectrulesreviews", "SelfSubjectRulesReview"));
    } else {
        json_array_append_new(list, entry("selfsubjectreviews", "SelfSubjectReview"));
    }
    snprintf(gv, sizeof(gv), "%s/v1", group);
    return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", list);
}

/* The request's body as a review of kind `kind`, or NULL after a Status reply. */
static json_t *review_body(api_req_t *r, const char *kind, const char *group)
{
    json_t *b = r->body;
    const char *k = json_str(b, "kind"), *av = json_str(b, "apiVersion");
    char want[64];
    snprintf(want, sizeof(want), "%s/v1", group);
    if (!json_is_object(b)) {
        api_reply_status(r, 400, "BadRequest", NULL, "the request body must be a %s object", kind);
        return NULL;
    }
    if ((k && strcmp(k, kind)) || (av && strcmp(av, want))) {
        api_reply_status(r, 400, "BadRequest", NULL, "the body is a %s %s, expected %s %s",
                         av ? av : "", k ? k : "", want, kind);
        return NULL;
    }
    json_t *out = json_deep_copy(b);
    json_object_set_new(out, "kind", json_string(kind));
    json_object_set_new(out, "apiVersion", json_string(want));
    if (!json_is_object(json_object_get(out, "metadata")))
        json_object_set_new(out, "metadata", json_object());
    json_object_set_new(json_object_get(out, "metadata"), "creationTimestamp", json_null());
    return out;
}

static void access_review(api_req_t *r)
{
    json_t *rev = review_body(r, "SelfSubjectAccessReview", AUTHZ);
    if (!rev)
        return;
    json_t *spec = json_object_get(rev, "spec");
    json_t *ra = json_object_get(spec, "resourceAttributes"), *nra = json_object_get(spec, "nonResourceAttributes");
    if (!json_is_object(ra) == !json_is_object(nra)) {
        json_decref(rev);
        api_reply_status(r, 422, "Invalid", NULL,
                         "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: "
                         "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes "
                         "must be specified");
        return;
    }
    const char *verb = json_str(ra ? ra : nra, "verb");
    if (!verb || !*verb) {
        json_decref(rev);
        api_reply_status(r, 422, "Invalid", NULL,
                         "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.%s.verb: "
                         "Required value", ra ? "resourceAttributes" : "nonResourceAttributes");
        return;
    }
    char resource[300], msg[256] = "";
    auth_user_t who;
    const char *res = ra ? json_str(ra, "resource") : json_str(nra, "path");
    const char *sub = ra ? json_str(ra, "subresource") : NULL;
    snprintf(resource, sizeof(resource), "%s%s%s", res ? res : "", sub && *sub ? "/" : "", sub ? sub : "");
    const char *ns = ra ? json_str(ra, "namespace") : NULL;
    int code = auth_check(r->req, verb, resource, ns && *ns ? ns : NULL, &who, msg, sizeof(msg));
    json_t *status = json_pack("{s:b}", "allowed", code == 0);
    if (code != 0)
        json_object_set_new(status, "denied", json_true());
    json_object_set_new(status, "reason", json_string(code == 0 ? auth_policy_reason() : msg));
    json_object_set_new(rev, "status", status);
    api_reply_json(r, 201, rev);
}

static void rules_review(api_req_t *r)
{
    json_t *rev = review_body(r, "SelfSubjectRulesReview", AUTHZ);
    if (!rev)
        return;
    const char *ns = json_str(json_object_get(rev, "spec"), "namespace");
    json_object_set_new(rev, "status", auth_rules(r->req, ns));
    api_reply_json(r, 201, rev);
}

static void self_review(api_req_t *r, const auth_user_t *user)
{
    json_t *rev = review_body(r, "SelfSubjectReview", AUTHN);
    if (!rev)
        return;
    json_t *groups = json_array();
    for (size_t i = 0; i < user->ngroups; i++)
        json_array_append_new(groups, json_string(user->groups[i]));
    json_object_set_new(rev, "status", json_pack("{s:{s:s,s:o}}", "userInfo", "username", user->name,
                                                 "groups", groups));
    api_reply_json(r, 201, rev);
}

void api_handle_review(api_req_t *r, const char *group, const char *plural, const auth_user_t *user)
{
    int authz = !strcmp(group, AUTHZ);
    int known = authz ? !strcmp(plural, "selfsubjectaccessreviews") || !strcmp(plural, "selfsubjectrulesreviews")
                      : !strcmp(plural, "selfsubjectreviews");
    if (!known) {
        api_reply_status(r, 404, "NotFound", json_object(), "the server could not find the requested resource");
        return;
    }
    if (evhttp_request_get_command(r->req) != EVHTTP_REQ_POST) {
        api_reply_status(r, 405, "MethodNotAllowed", json_object(),
                         "the server does not allow this method on the requested resource");
        return;
    }
    if (!strcmp(plural, "selfsubjectaccessreviews"))
        access_review(r);
    else if (!strcmp(plural, "selfsubjectrulesreviews"))
        rules_review(r);
    else
        self_review(r, user);
}
