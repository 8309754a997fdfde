/* api_eviction.c: POST pods/<name>/eviction (policy/v1 Eviction), the way kubectl drain,
 * descheduler-like tools and autoscalers remove a pod without breaking its
 * PodDisruptionBudget (kube's pkg/registry/core/pod/storage/eviction.go).
 *
 * Order of a request:
 *   1. the body: an Eviction whose name, if given, is the pod's; its deleteOptions (and the
 *      dryRun query) are used for the delete;
 *   2. the pod (404 if none). A pod already being deleted is answered Success at once; a
 *      pod that is Pending, Succeeded or Failed is deleted without looking at budgets;
 *   3. the PodDisruptionBudgets of its namespace whose selector matches it: none, the pod is
 *      deleted; more than one, 500 (kube supports one); one, its status decides:
 *        - status older than the budget (observedGeneration < generation): 429;
 *        - an unready pod: deleted without using the budget when the policy
 *          (spec.unhealthyPodEvictionPolicy) is AlwaysAllow, or it is IfHealthyBudget (the
 *          default) and the budget is healthy (currentHealthy >= desiredHealthy); else 429;
 *        - a ready pod and disruptionsAllowed 0: 429 TooManyRequests, "Cannot evict pod as it
 *          would violate the pod's disruption budget.", with a DisruptionBudget cause saying
 *          how many healthy pods it needs and has (kubectl drain prints it and retries);
 *        - else the budget's status is written first, compare-and-swap on its
 *          resourceVersion: disruptionsAllowed one less, and the pod in disruptedPods with the
 *          time, so that evictions racing through other API servers cannot both use the last
 *          disruption (a conflict starts over from step 2, at most EVICT_TRIES times, then
 *          429). The disruption controller (policies/controllers/disruption.lua) recomputes
 *          the status from the pods and drops the entry once the pod is gone;
 *   4. the delete, as DELETE of the pod with the deleteOptions and a uid precondition (the
 *      pod checked is the pod deleted). Its error, if any, is the answer; else 201 with a
 *      Success Status, as kube answers.
 * A dry run (dryRun=All) goes through every check and writes nothing.
 *
 * Depends on api.h (internal requests: api_handle_update, api_handle_delete), store.h,
 * selector.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "jsonload.h"
#include "selector.h"
#include "util.h"

#define EVICT_TRIES 5

typedef struct evict_s {
    api_req_t *r;            /* the client's request; replied exactly once */
    json_t *options;         /* the DeleteOptions for the pod, owned */
    int dry_run;
    int tries;
    json_t *pod;             /* the pod as read, owned */
} evict_t;

static void evict_free(void *p)
{
    evict_t *e = p;
    if (!e)
        return;
    json_decref(e->options);
    json_decref(e->pod);
    free(e);
}

static void start(evict_t *e);

static void too_many(evict_t *e, const char *cause_fmt, const char *name, long long need, long long have)
{
    char cause[512];
    snprintf(cause, sizeof(cause), cause_fmt, name, need, have);
    json_t *details = json_pack("{s:[{s:s,s:s}]}", "causes", "reason", "DisruptionBudget", "message", cause);
    api_reply_status(e->r, 429, "TooManyRequests", details,
                     "Cannot evict pod as it would violate the pod's disruption budget.");
}

/* ---------------------------------------------------------------------------- step 4 */

static void deleted(api_req_t *child, int code, const char *body, size_t len)
{
    evict_t *e = child->done_priv;
    api_req_t *r = e->r;
    if (code >= 300) {
        /* The delete's own Status (404 if it went meanwhile, 409 on a changed uid...). */
        api_reply(r, code, "application/json", body, len);
        return;
    }
    api_reply_json(r, 201, json_pack("{s:s,s:s,s:{},s:s}", "kind", "Status", "apiVersion", "v1",
                                     "metadata", "status", "Success"));
}

static void delete_pod(evict_t *e)
{
    api_req_t *r = e->r, *child = calloc(1, sizeof(*child));
    json_t *md = json_object_get(e->pod, "metadata");
    if (!child)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    child->srv = r->srv;
    child->kind = r->kind;
    child->verb = VERB_DELETE;
    child->started = util_now_us();
    child->done = deleted;
    child->done_priv = e;
    child->ns = strdup(r->ns);
    child->name = strdup(r->name);
    child->options = json_deep_copy(e->options);
    if (!json_is_object(json_object_get(child->options, "preconditions")) && json_str(md, "uid"))
        json_object_set_new(child->options, "preconditions", json_pack("{s:s}", "uid", json_str(md, "uid")));
    if (e->dry_run)
        json_object_set_new(child->options, "dryRun", json_pack("[s]", "All"));
    api_handle_delete(child);
}

/* ---------------------------------------------------------------------------- step 3 */

static void budget_written(api_req_t *child, int code, const char *body, size_t len)
{
    evict_t *e = child->done_priv;
    if (code == 409) {
        /* Another eviction (or the controller) changed the budget: look again. */
        if (++e->tries < EVICT_TRIES)
            return start(e);
        return api_reply_status(e->r, 429, "TooManyRequests", NULL,
                                "Cannot evict pod: its disruption budget kept changing; try again");
    }
    if (code >= 300) {
        api_reply(e->r, code, "application/json", body, len);
        return;
    }
    delete_pod(e);
}

static long long num(const json_t *obj, const char *path)
{
    json_t *v = json_path(obj, path);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* The one budget that covers the pod decides (see the top of the file). */
static void use_budget(evict_t *e, json_t *pdb)
{
    api_req_t *r = e->r;
    const char *name = json_str(json_object_get(pdb, "metadata"), "name");
    long long gen = num(pdb, "metadata.generation"), seen = num(pdb, "status.observedGeneration");
    long long allowed = num(pdb, "status.disruptionsAllowed");
    long long healthy = num(pdb, "status.currentHealthy"), desired = num(pdb, "status.desiredHealthy");
    if (seen < gen) {
        json_t *details = json_pack("{s:[{s:s,s:s}]}", "causes", "reason", "DisruptionBudget",
                                    "message", "The disruption budget is still being processed by the server.");
        return api_reply_status(r, 429, "TooManyRequests", details,
                                "Cannot evict pod as it would violate the pod's disruption budget.");
    }
    if (!json_condition_true(e->pod, "Ready")) {
        const char *policy = json_str(json_object_get(pdb, "spec"), "unhealthyPodEvictionPolicy");
        if ((policy && !strcmp(policy, "AlwaysAllow")) || healthy >= desired)
            return delete_pod(e);
        return too_many(e, "The disruption budget %s needs %lld healthy pods and has %lld currently",
                        name, desired, healthy);
    }
    if (allowed < 0)
        return api_reply_status(r, 403, "Forbidden", NULL, "pdb disruptions allowed is negative");
    if (json_object_size(json_path(pdb, "status.disruptedPods")) > 2000)
        return api_reply_status(r, 403, "Forbidden", NULL,
                                "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
    if (allowed == 0)
        return too_many(e, "The disruption budget %s needs %lld healthy pods and has %lld currently",
                        name, desired, healthy);
    if (e->dry_run)
        return delete_pod(e);
    /* Spend one disruption: the status, compare-and-swap on the budget's resourceVersion. */
    json_t *st = json_object_get(pdb, "status");
    char now[32];
    util_rfc3339(time(NULL), now);
    json_object_set_new(st, "disruptionsAllowed", json_integer(allowed - 1));
    if (!json_is_object(json_object_get(st, "disruptedPods")))
        json_object_set_new(st, "disruptedPods", json_object());
    json_object_set_new(json_object_get(st, "disruptedPods"), r->name, json_string(now));
    api_req_t *child = calloc(1, sizeof(*child));
    if (!child)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    child->srv = r->srv;
    child->kind = kinds_find("policy", "v1", "poddisruptionbudgets");
    child->verb = VERB_UPDATE;
    child->started = util_now_us();
    child->done = budget_written;
    child->done_priv = e;
    child->ns = strdup(r->ns);
    child->name = strdup(name);
    child->sub = strdup("status");
    child->body = json_incref(pdb);
    api_handle_update(child);
}

static void budgets_listed(const store_list_t *list, void *priv)
{
    evict_t *e = priv;
    api_req_t *r = e->r;
    json_t *labels = json_path(e->pod, "metadata.labels"), *match = NULL;
    int n = 0;
    if (list->status != STORE_OK)
        return api_reply_store_error(r, NULL, list->errstr);
    for (size_t i = 0; i < list->n; i++) {
        json_t *pdb = jsonload(list->items[i].data, list->items[i].len, 0, NULL);
        json_t *sel = json_path(pdb, "spec.selector");
        char err[256];
        label_selector_t *ls = json_is_object(sel) ? label_selector_from_json(sel, err, sizeof(err)) : NULL;
        /* policy/v1: an empty selector selects every pod of the namespace; none, no pod. */
        if (ls && label_selector_match(ls, labels)) {
            n++;
            if (!match)
                match = json_incref(pdb);
        }
        label_selector_free(ls);
        json_decref(pdb);
    }
    if (n == 0) {
        json_decref(match);
        return delete_pod(e);
    }
    if (n > 1) {
        json_decref(match);
        return api_reply_status(r, 500, "InternalError", NULL,
                                "This pod has more than one PodDisruptionBudget, which the eviction "
                                "subresource does not support.");
    }
    use_budget(e, match);
    json_decref(match);
}

/* ---------------------------------------------------------------------------- step 2 */

static void pod_read(const store_result_t *res, void *priv)
{
    evict_t *e = priv;
    api_req_t *r = e->r;
    if (res->status == STORE_NOT_FOUND)
        return api_reply_not_found(r, r->kind, r->name);
    if (res->status != STORE_OK)
        return api_reply_store_error(r, NULL, res->errstr);
    json_decref(e->pod);
    e->pod = jsonload(res->data, res->len, 0, NULL);
    if (!e->pod)
        return api_reply_status(r, 500, "InternalError", NULL, "the stored pod is not JSON");
    json_t *md = json_object_get(e->pod, "metadata");
    const char *phase = json_str(json_object_get(e->pod, "status"), "phase");
    if (json_str(md, "deletionTimestamp"))
        return api_reply_json(r, 200, json_pack("{s:s,s:s,s:{},s:s}", "kind", "Status", "apiVersion", "v1",
                                                "metadata", "status", "Success"));
    if (phase && (!strcmp(phase, "Pending") || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
        return delete_pod(e);
    const kind_t *pk = kinds_find("policy", "v1", "poddisruptionbudgets");
    if (!pk)
        return delete_pod(e);
    if (store_list(r->srv->store, pk, r->ns, NULL, 0, budgets_listed, e) != 0)
        api_reply_store_error(r, NULL, "not connected");
}

static void start(evict_t *e)
{
    api_req_t *r = e->r;
    if (!store_is_up(r->srv->store) || store_get(r->srv->store, r->kind, r->ns, r->name, pod_read, e) != 0)
        api_reply_store_error(r, NULL, "not connected");
}

/* ---------------------------------------------------------------------------- step 1 */

void api_handle_eviction(api_req_t *r)
{
    json_t *b = r->body;
    const char *kind = json_str(b, "kind"), *av = json_str(b, "apiVersion");
    const char *name = json_str(json_object_get(b, "metadata"), "name");
    const char *dry = api_query(r, "dryRun");
    if (!json_is_object(b))
        return api_reply_status(r, 400, "BadRequest", NULL, "the request body must be an Eviction object");
    if ((kind && strcmp(kind, "Eviction")) ||
        (av && strcmp(av, "policy/v1") && strcmp(av, "policy/v1beta1")))
        return api_reply_status(r, 400, "BadRequest", NULL, "the body is a %s %s, expected policy/v1 Eviction",
                                av ? av : "", kind ? kind : "");
    if (name && strcmp(name, r->name))
        return api_reply_status(r, 400, "BadRequest", NULL, "name in URL does not match name in Eviction object");
    json_t *opts = json_object_get(b, "deleteOptions");
    if (opts && !json_is_object(opts) && !json_is_null(opts))
        return api_reply_status(r, 400, "BadRequest", NULL, "deleteOptions must be a DeleteOptions object");
    evict_t *e = calloc(1, sizeof(*e));
    if (!e)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    e->r = r;
    e->options = json_is_object(opts) ? json_deep_copy(opts) : json_object();
    const char *dr0 = json_string_value(json_array_get(json_object_get(e->options, "dryRun"), 0));
    e->dry_run = (dry && !strcmp(dry, "All")) || (dr0 && !strcmp(dr0, "All"));
    r->op = e;
    r->op_free = evict_free;
    start(e);
}
