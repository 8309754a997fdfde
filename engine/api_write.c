/* api_write.c: create, update, patch, delete, deletecollection and the write subresources
 * (status, scale, binding, namespace finalize).
 *
 * Every change but create is a read-modify-write: read the object, compute the new one
 * (the operation's mutate function), validate it, and write it with the resourceVersion
 * that was read as the precondition. If someone else wrote in between, the store answers
 * Conflict and, unless the client itself named a resourceVersion, the whole step is
 * retried, as kube-apiserver's GuaranteedUpdate does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "defaults.h"
#include "log.h"
#include "patch.h"
#include "selector.h"
#include "svcalloc.h"
#include "util.h"
#include "validate.h"
#include "jsonload.h"
#include "jsondump.h"

/* Conflicts on a write the client did not condition on a resourceVersion are retried, as
 * kube-apiserver's GuaranteedUpdate does; each round lets at least one writer through, so
 * this bound is only reached under pathological contention. */
#define RMW_ATTEMPTS 200

typedef enum { REPLY_OBJECT, REPLY_SCALE, REPLY_BINDING } reply_shape_t;

/* A mutate function computes the new object from the current one (borrowed). It returns a
 * new reference, or NULL after setting *err to a Status object (new reference). */
typedef json_t *mutate_fn(api_req_t *r, const json_t *cur, json_t **err);

typedef struct rmw_s {
    mutate_fn *mutate;
    reply_shape_t shape;
    int create_if_missing;      /* apply patch, PUT of kinds that allow create-on-update */
    uint64_t precondition;      /* a resourceVersion the client named: conflicts are final */
    int reply_code;             /* 200, or 202 when a deletion is pending */
    int deleting;               /* this write is a real delete */
    int trusted;                /* mutate builds the final object itself (delete, binding):
                                   no carry-over of metadata, no update validation */
    time_t reap_at;             /* a graceful deletion is being written: its deadline */
    char reap_uid[40];
    svcalloc_plan_t *alloc;     /* Service cluster IP / node ports this write claims */
} rmw_t;

/* A create keeps its Service allocation plan in r->op (creates have no other op). */
static void alloc_plan_free(void *p)
{
    svcalloc_plan_free(p);
}

static svcalloc_plan_t *create_plan(api_req_t *r)
{
    return r->op_free == alloc_plan_free ? r->op : NULL;
}

static void rmw_op_free(void *p)
{
    rmw_t *op = p;
    if (op)
        svcalloc_plan_free(op->alloc);
    free(op);
}

static void rmw_start(api_req_t *r);
static void create_write(api_req_t *r, json_t *obj);

/* ---- helpers ----------------------------------------------------------------------- */

static json_t *status_err(int code, const char *reason, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *status_err(int code, const char *reason, json_t *details, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return api_status_object(code, reason, details, msg);
}

static void reply_err(api_req_t *r, json_t *st)
{
    int code = (int)json_integer_value(json_object_get(st, "code"));
    api_reply_json(r, code ? code : 500, st);
}

static json_t *md_of(json_t *obj)
{
    return json_obj_ensure(obj, "metadata");
}

static uint64_t rv_of(const json_t *obj)
{
    const char *s = json_str(json_object_get(obj, "metadata"), "resourceVersion");
    return s ? strtoull(s, NULL, 10) : 0;
}

static const char *query_or_option(api_req_t *r, const char *key)
{
    const char *v = api_query(r, key);
    return v && *v ? v : NULL;
}

/* dryRun=All in the query, or "dryRun":["All"] in a DeleteOptions body (kubectl delete
 * --dry-run=server sends the latter). */
static int dry_run(api_req_t *r)
{
    const char *v = api_query(r, "dryRun");
    if (v && !strcmp(v, "All"))
        return 1;
    if (r->verb != VERB_DELETE && r->verb != VERB_DELETECOLLECTION)
        return 0;
    json_t *opts = r->options ? r->options : r->body, *d;
    size_t i;
    json_array_foreach(json_object_get(opts, "dryRun"), i, d)
        if (json_is_string(d) && !strcmp(json_string_value(d), "All"))
            return 1;
    return 0;
}

/* "Deployment.apps" or "Pod": how Invalid messages name a kind. */
static void kind_name(const kind_t *k, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s%s", k->kind, *k->group ? "." : "", k->group);
}

static json_t *invalid_status(const kind_t *k, const char *name, json_t *causes)
{
    char kn[256], msg[4096] = "";
    size_t i, n = json_array_size(causes);
    json_t *c;
    json_array_foreach(causes, i, c) {
        const char *field = json_str(c, "field"), *m = json_str(c, "message");
        snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s%s%s%s", i ? ", " : "",
                 field ? field : "", field && *field ? ": " : "", m ? m : "");
    }
    kind_name(k, kn, sizeof(kn));
    json_t *details = json_pack("{s:s,s:s,s:O}", "name", name ? name : "", "kind", k->kind,
                                "causes", causes);
    if (*k->group)
        json_object_set_new(details, "group", json_string(k->group));
    return status_err(422, "Invalid", details, "%s \"%s\" is invalid: %s%s%s", kn, name ? name : "",
                      n > 1 ? "[" : "", msg, n > 1 ? "]" : "");
}

static json_t *conflict_status(const kind_t *k, const char *name, const char *why)
{
    char res[256];
    api_resource_name(k, res, sizeof(res));
    json_t *details = json_pack("{s:s,s:s}", "name", name, "kind", k->plural);
    if (*k->group)
        json_object_set_new(details, "group", json_string(k->group));
    return status_err(409, "Conflict", details, "Operation cannot be fulfilled on %s \"%s\": %s",
                      res, name, why);
}

/* Serialize obj with the resourceVersion placeholder the store fills in. Caller frees. */
static char *dump_for_store(json_t *obj)
{
    json_object_set_new(md_of(obj), "resourceVersion", json_string(store_rv_placeholder()));
    return jsondump(obj, JSON_COMPACT);
}

/* The apiVersion and kind in a body must name the endpoint's kind when present. */
static json_t *check_type(const kind_t *k, json_t *body)
{
    const char *av = json_str(body, "apiVersion"), *kind = json_str(body, "kind");
    if (av && *av && strcmp(av, k->group_version))
        return status_err(400, "BadRequest", NULL,
                          "the API version in the data (%s) does not match the expected API "
                          "version (%s)", av, k->group_version);
    if (kind && *kind && strcmp(kind, k->kind))
        return status_err(400, "BadRequest", NULL,
                          "the kind in the data (%s) does not match the expected kind (%s)",
                          kind, k->kind);
    json_object_set_new(body, "apiVersion", json_string(k->group_version));
    json_object_set_new(body, "kind", json_string(k->kind));
    return NULL;
}

static json_t *check_body_object(api_req_t *r)
{
    if (!json_is_object(r->body))
        return status_err(400, "BadRequest", NULL,
                          r->body ? "the request body must be a JSON object"
                                  : "the request body is empty: an object is required");
    json_t *md = json_object_get(r->body, "metadata");
    if (md && !json_is_object(md))
        return status_err(400, "BadRequest", NULL, "metadata: must be an object");
    return check_type(r->kind, r->body);
}

static json_t *check_namespace(api_req_t *r, json_t *obj)
{
    json_t *md = md_of(obj);
    const char *ns = json_str(md, "namespace");
    if (!r->kind->namespaced) {
        json_object_del(md, "namespace");
        return NULL;
    }
    if (ns && *ns && r->ns && strcmp(ns, r->ns))
        return status_err(400, "BadRequest", NULL,
                          "the namespace of the provided object does not match the namespace "
                          "sent on the request");
    if (r->ns)
        json_object_set_new(md, "namespace", json_string(r->ns));
    return NULL;
}

/* Everything but metadata and status: a change here bumps metadata.generation. */
static int spec_changed(const json_t *a, const json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(x, "metadata");
    json_object_del(x, "status");
    json_object_del(y, "metadata");
    json_object_del(y, "status");
    int changed = !json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return changed;
}

static int finalizers_empty(const kind_t *k, const json_t *obj)
{
    if (json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers")))
        return 0;
    if (!*k->group && !strcmp(k->kind, "Namespace") &&
        json_array_size(json_path(obj, "spec.finalizers")))
        return 0;
    return 1;
}

/* A terminating object leaves the store once nothing holds it: no finalizers, and for a
 * pod, its node confirmed (grace 0) or its grace period ran out. */
static int ready_to_remove(const kind_t *k, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ts = json_str(md, "deletionTimestamp");
    if (!ts || !finalizers_empty(k, obj))
        return 0;
    if (!k->graceful)
        return 1;
    json_t *grace = json_object_get(md, "deletionGracePeriodSeconds");
    if (!grace || json_integer_value(grace) == 0)
        return 1;
    time_t deadline = util_parse_rfc3339(ts);
    return deadline >= 0 && deadline <= time(NULL);
}

static char *projection_of(const kind_t *k, const json_t *obj)
{
    json_t *p = selector_projection(obj, k->field_selectors);
    char *s = p ? jsondump(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return s;
}

/* ---- create ------------------------------------------------------------------------ */

static void create_done(const store_result_t *res, void *priv)
{
    api_req_t *r = priv;
    json_t *md = json_object_get(r->current, "metadata");
    const char *name = json_str(md, "name");

    switch (res->status) {
    case STORE_OK:
        svcalloc_commit(create_plan(r));
        return api_reply(r, 201, "application/json", res->data, res->len);
    case STORE_TAKEN: {
        json_t *st = NULL;
        if (svcalloc_taken(create_plan(r), res->claim, name, &st) && r->attempts++ < RMW_ATTEMPTS) {
            json_decref(st);
            create_write(r, json_incref(r->current));
            return;
        }
        return reply_err(r, st);
    }
    case STORE_EXISTS:
        if (json_str(md, "generateName") && r->attempts++ < RMW_ATTEMPTS) {
            json_t *obj = json_incref(r->current);
            json_object_del(md, "name");
            create_write(r, obj);
            return;
        }
        {
            char resname[256];
            api_resource_name(r->kind, resname, sizeof(resname));
            json_t *details = json_pack("{s:s,s:s}", "name", name, "kind", r->kind->plural);
            if (*r->kind->group)
                json_object_set_new(details, "group", json_string(r->kind->group));
            return api_reply_status(r, 409, "AlreadyExists", details, "%s \"%s\" already exists",
                                    resname, name);
        }
    case STORE_NS_TERMINATING: {
        char resname[256];
        api_resource_name(r->kind, resname, sizeof(resname));
        return api_reply_status(r, 403, "Forbidden",
                                json_pack("{s:s,s:s}", "name", name ? name : "", "kind", r->kind->plural),
                                "%s \"%s\" is forbidden: unable to create new content in namespace "
                                "%s because it is being terminated", resname, name ? name : "",
                                json_str(md, "namespace"));
    }
    case STORE_NS_MISSING:
        return api_reply_status(r, 404, "NotFound",
                                json_pack("{s:s,s:s}", "name", json_str(md, "namespace"), "kind",
                                          "namespaces"),
                                "namespaces \"%s\" not found", json_str(md, "namespace"));
    default:
        return api_reply_store_error(r, res, res->errstr);
    }
}

/* Takes ownership of obj: a body that passed check_body_object/check_namespace. */
static void create_write(api_req_t *r, json_t *obj)
{
    json_t *md = md_of(obj), *causes, *alloc_err = NULL;
    char uid[37], stamp[32], *text;
    const char *gen = json_str(md, "generateName");
    svcalloc_plan_t *plan = create_plan(r);
    size_t nclaims;

    if (plan) {   /* a retry: forget what the last attempt picked */
        svcalloc_undo(plan, obj);
        svcalloc_plan_free(plan);
        r->op = NULL;
        r->op_free = NULL;
    }

    if (!json_str(md, "name") || !*json_str(md, "name")) {
        if (gen && *gen) {
            char suffix[8], *name;
            util_random_suffix(suffix, 5);
            if (asprintf(&name, "%s%s", gen, suffix) >= 0) {
                json_object_set_new(md, "name", json_string(name));
                free(name);
            }
        }
    }
    util_uuid(uid);
    util_rfc3339(time(NULL), stamp);
    json_object_set_new(md, "uid", json_string(uid));
    json_object_set_new(md, "creationTimestamp", json_string(stamp));
    json_object_del(md, "deletionTimestamp");
    json_object_del(md, "deletionGracePeriodSeconds");
    json_object_del(md, "managedFields");
    json_object_del(md, "selfLink");
    if (r->kind->generation)
        json_object_set_new(md, "generation", json_integer(1));
    else
        json_object_del(md, "generation");
    defaults_prepare_create(r->kind, obj);
    defaults_apply(r->kind, obj);

    causes = json_array();
    if (validate_object(r->kind->group, r->kind->kind, obj, causes) > 0) {
        json_t *st = invalid_status(r->kind, json_str(md, "name"), causes);
        json_decref(causes);
        json_decref(obj);
        return reply_err(r, st);
    }
    json_decref(causes);
    if (svcalloc_create(r->kind, obj, dry_run(r), &plan, &alloc_err) != 0) {
        json_decref(obj);
        return reply_err(r, alloc_err);
    }
    if (plan) {
        r->op = plan;
        r->op_free = alloc_plan_free;
    }

    json_decref(r->current);
    r->current = obj;
    if (dry_run(r)) {
        json_object_set_new(md, "resourceVersion", json_string(""));
        return api_reply_json(r, 201, json_incref(obj));
    }
    text = dump_for_store(obj);
    if (!text)
        return api_reply_status(r, 500, "InternalError", NULL, "cannot serialize the object");
    const store_claim_t *claims = svcalloc_claims(plan, &nclaims);
    if (store_write_claims(r->srv->store, r->kind, STORE_CREATE, r->ns, json_str(md, "name"), 0,
                           text, NULL, r->kind->namespaced ? r->ns : NULL, claims, nclaims,
                           create_done, r) != 0) {
        free(text);
        return api_reply_store_error(r, NULL, "not connected");
    }
    free(text);
}

void api_handle_create(api_req_t *r)
{
    json_t *st = check_body_object(r);
    if (!st)
        st = check_namespace(r, r->body);
    if (!st) {
        const char *rv = json_str(json_object_get(r->body, "metadata"), "resourceVersion");
        if (rv && *rv)
            st = status_err(500, "InternalError", NULL,
                            "resourceVersion should not be set on objects to be created");
    }
    if (st)
        return reply_err(r, st);
    if (r->kind->namespaced && !r->ns)
        return api_reply_status(r, 400, "BadRequest", NULL, "a namespace is required");
    json_t *obj = r->body;
    r->body = NULL;
    create_write(r, obj);
}

/* ---- read-modify-write ------------------------------------------------------------- */

static void reply_written(api_req_t *r, const char *data, size_t len)
{
    rmw_t *op = r->op;
    if (op->shape == REPLY_OBJECT)
        return api_reply(r, op->reply_code ? op->reply_code : 200, "application/json", data, len);
    if (op->shape == REPLY_BINDING) {
        /* The same bytes json_dumps made of the Status once built here. */
        static const char ok[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                                 "\"status\":\"Success\",\"code\":201}";
        return api_reply(r, 201, "application/json", ok, sizeof(ok) - 1);
    }
    json_t *obj = jsonload(data, len, 0, NULL);
    api_reply_json(r, 200, api_scale_from(r->kind, obj));
    json_decref(obj);
}

static void rmw_free_op(api_req_t *r)
{
    rmw_op_free(r->op);
    r->op = NULL;
    r->op_free = NULL;
}

static void written(const store_result_t *res, void *priv)
{
    api_req_t *r = priv;
    rmw_t *op = r->op;
    const char *name = r->name;

    switch (res->status) {
    case STORE_OK: {
        /* Pods whose grace period started get a timer that removes them when it ends. */
        if (op->reap_at)
            api_reaper_track(r->srv, r->ns, r->name, op->reap_uid, op->reap_at);
        svcalloc_commit(op->alloc);
        reply_written(r, res->data, res->len);
        return;
    }
    case STORE_TAKEN: {
        json_t *st = NULL;
        if (svcalloc_taken(op->alloc, res->claim, name, &st) && r->attempts++ < RMW_ATTEMPTS) {
            json_decref(st);
            return rmw_start(r);
        }
        return reply_err(r, st);
    }
    case STORE_CONFLICT:
        if (!op->precondition && r->attempts++ < RMW_ATTEMPTS)
            return rmw_start(r);
        return reply_err(r, conflict_status(r->kind, name,
                                            "the object has been modified; please apply your "
                                            "changes to the latest version and try again"));
    case STORE_NOT_FOUND:
        return api_reply_not_found(r, r->kind, name);
    default:
        return api_reply_store_error(r, res, res->errstr);
    }
}

/* Write new (owned) in place of r->current, or remove the object when a finished deletion
 * allows it. */
static void rmw_write(api_req_t *r, json_t *new_obj)
{
    rmw_t *op = r->op;
    store_op_t sop = STORE_UPDATE;
    char *text, *prev;
    json_t *st = NULL;
    size_t nclaims;

    op->reap_at = 0;
    if (ready_to_remove(r->kind, new_obj)) {
        sop = STORE_DELETE;
        op->deleting = 1;
    } else if (r->kind->graceful) {
        const json_t *md = json_object_get(new_obj, "metadata");
        const char *ts = json_str(md, "deletionTimestamp"), *uid = json_str(md, "uid");
        if (ts && finalizers_empty(r->kind, new_obj)) {
            op->reap_at = util_parse_rfc3339(ts);
            snprintf(op->reap_uid, sizeof(op->reap_uid), "%s", uid ? uid : "");
        }
    }
    if (svcalloc_update(r->kind, r->current, sop == STORE_DELETE ? NULL : new_obj,
                        !op->trusted && !r->sub, dry_run(r), &op->alloc, &st) != 0) {
        json_decref(new_obj);
        return reply_err(r, st);
    }
    if (dry_run(r)) {
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRIu64, r->current_rv);
        json_object_set_new(md_of(new_obj), "resourceVersion", json_string(rv));
        char *s = jsondump(new_obj, JSON_COMPACT);
        json_decref(new_obj);
        reply_written(r, s ? s : "{}", s ? strlen(s) : 2);
        free(s);
        return;
    }
    prev = sop == STORE_UPDATE ? projection_of(r->kind, r->current) : NULL;
    text = dump_for_store(new_obj);
    json_decref(new_obj);
    if (!text) {
        free(prev);
        return api_reply_status(r, 500, "InternalError", NULL, "cannot serialize the object");
    }
    const store_claim_t *claims = svcalloc_claims(op->alloc, &nclaims);
    if (store_write_claims(r->srv->store, r->kind, sop, r->ns, r->name, r->current_rv, text, prev,
                           NULL, claims, nclaims, written, r) != 0) {
        free(text);
        free(prev);
        return api_reply_store_error(r, NULL, "not connected");
    }
    free(text);
    free(prev);
}

/* Carry over what clients cannot change and derive generation, for r->sub (NULL or
 * "status"). Takes new_obj; returns the object to write (new reference). */
static json_t *merge_for_update(api_req_t *r, const json_t *cur, json_t *new_obj)
{
    const kind_t *k = r->kind;
    json_t *md_new, *md_cur = json_object_get(cur, "metadata");
    static const char *const kept[] = { "uid", "creationTimestamp", "deletionTimestamp",
                                        "deletionGracePeriodSeconds", "namespace", NULL };

    if (r->sub && !strcmp(r->sub, "status")) {
        /* The status subresource changes status only. */
        json_t *out = json_deep_copy(cur);
        json_t *status = json_object_get(new_obj, "status");
        if (status)
            json_object_set(out, "status", status);
        else
            json_object_del(out, "status");
        json_decref(new_obj);
        return out;
    }
    json_object_set_new(new_obj, "apiVersion", json_string(k->group_version));
    json_object_set_new(new_obj, "kind", json_string(k->kind));
    md_new = md_of(new_obj);
    for (int i = 0; kept[i]; i++) {
        json_t *v = json_object_get(md_cur, kept[i]);
        if (v)
            json_object_set(md_new, kept[i], v);
        else
            json_object_del(md_new, kept[i]);
    }
    const char *name = json_str(md_new, "name");
    if (!name)
        json_object_set(md_new, "name", json_object_get(md_cur, "name"));
    json_object_del(md_new, "managedFields");
    json_object_del(md_new, "selfLink");
    if ((k->subresources & KIND_SUB_STATUS)) {
        json_t *status = json_object_get(cur, "status");
        if (status)
            json_object_set(new_obj, "status", status);
        else
            json_object_del(new_obj, "status");
    }
    defaults_apply(k, new_obj);
    defaults_prepare_update(k, cur, new_obj);
    if (k->generation) {
        json_int_t gen = json_integer_value(json_object_get(md_cur, "generation"));
        if (gen <= 0)
            gen = 1;
        if (spec_changed(cur, new_obj))
            gen++;
        json_object_set_new(md_new, "generation", json_integer(gen));
    }
    return new_obj;
}

static void rmw_got(const store_result_t *res, void *priv)
{
    api_req_t *r = priv;
    rmw_t *op = r->op;
    json_t *err = NULL, *new_obj, *causes;

    if (res->status == STORE_NOT_FOUND) {
        if (op->create_if_missing) {
            new_obj = op->mutate(r, NULL, &err);
            if (!new_obj)
                return reply_err(r, err);
            rmw_free_op(r);
            if (!(err = check_type(r->kind, new_obj)) && !(err = check_namespace(r, new_obj))) {
                json_t *md = md_of(new_obj);
                if (!json_str(md, "name"))
                    json_object_set_new(md, "name", json_string(r->name));
                return create_write(r, new_obj);
            }
            json_decref(new_obj);
            return reply_err(r, err);
        }
        return api_reply_not_found(r, r->kind, r->name);
    }
    if (res->status != STORE_OK)
        return api_reply_store_error(r, res, res->errstr);
    json_decref(r->current);
    r->current = jsonload(res->data, res->len, 0, NULL);
    if (!r->current)
        return api_reply_status(r, 500, "InternalError", NULL, "stored object is not valid JSON");
    r->current_rv = rv_of(r->current);
    if (op->precondition && op->precondition != r->current_rv)
        return reply_err(r, conflict_status(r->kind, r->name,
                                            "the object has been modified; please apply your "
                                            "changes to the latest version and try again"));
    new_obj = op->mutate(r, r->current, &err);
    if (!new_obj)
        return reply_err(r, err);
    if (new_obj == r->current) {       /* nothing to change (e.g. a repeated delete) */
        json_decref(new_obj);
        return reply_written(r, res->data, res->len);
    }
    /* A resourceVersion inside a patch or body is a precondition too. */
    uint64_t asked = rv_of(new_obj);
    if (asked && asked != r->current_rv) {
        json_decref(new_obj);
        return reply_err(r, conflict_status(r->kind, r->name,
                                            "the object has been modified; please apply your "
                                            "changes to the latest version and try again"));
    }
    if (op->trusted)
        return rmw_write(r, new_obj);
    new_obj = merge_for_update(r, r->current, new_obj);
    if (!new_obj)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    svcalloc_prepare_update(r->kind, r->current, new_obj);
    causes = json_array();
    if (validate_update(r->kind->group, r->kind->kind, r->current, new_obj, causes) > 0) {
        json_t *st = invalid_status(r->kind, r->name, causes);
        json_decref(causes);
        json_decref(new_obj);
        return reply_err(r, st);
    }
    json_decref(causes);
    rmw_write(r, new_obj);
}

static void rmw_start(api_req_t *r)
{
    rmw_t *op = r->op;
    svcalloc_plan_free(op->alloc);   /* a retry computes its own */
    op->alloc = NULL;
    if (store_get(r->srv->store, r->kind, r->ns, r->name, rmw_got, r) != 0)
        api_reply_store_error(r, NULL, "not connected");
}

/* Install op (owned by r from here) and run it. */
static void rmw_run_as(api_req_t *r, mutate_fn *fn, reply_shape_t shape, int create_if_missing,
                       uint64_t precondition, int trusted)
{
    rmw_t *op = calloc(1, sizeof(*op));
    if (!op)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    op->mutate = fn;
    op->shape = shape;
    op->create_if_missing = create_if_missing;
    op->precondition = precondition;
    op->trusted = trusted;
    r->op = op;
    r->op_free = rmw_op_free;
    rmw_start(r);
}

static void rmw_run(api_req_t *r, mutate_fn *fn, reply_shape_t shape, int create_if_missing,
                    uint64_t precondition)
{
    rmw_run_as(r, fn, shape, create_if_missing, precondition, 0);
}


/* ---- update (PUT) ------------------------------------------------------------------ */

static json_t *mutate_put(api_req_t *r, const json_t *cur, json_t **err)
{
    return json_deep_copy(r->body);
}

static json_t *scale_to_replicas(api_req_t *r, const json_t *cur, json_t *scale, json_t **err);

static json_t *mutate_put_scale(api_req_t *r, const json_t *cur, json_t **err)
{
    return scale_to_replicas(r, cur, json_deep_copy(r->body), err);
}

static json_t *mutate_finalize(api_req_t *r, const json_t *cur, json_t **err)
{
    json_t *out = json_deep_copy(cur);
    json_t *fin = json_path(r->body, "spec.finalizers");
    json_t *spec = json_obj_ensure(out, "spec");
    if (fin)
        json_object_set(spec, "finalizers", fin);
    else
        json_object_del(spec, "finalizers");
    return out;
}

void api_handle_update(api_req_t *r)
{
    json_t *st;
    const char *name;
    if (r->sub && !strcmp(r->sub, "scale")) {
        if (!json_is_object(r->body))
            return api_reply_status(r, 400, "BadRequest", NULL, "the request body must be a Scale object");
        return rmw_run(r, mutate_put_scale, REPLY_SCALE, 0, rv_of(r->body));
    }
    if (!(st = check_body_object(r)) && !(st = check_namespace(r, r->body))) {
        name = json_str(json_object_get(r->body, "metadata"), "name");
        if (name && strcmp(name, r->name))
            st = status_err(400, "BadRequest", NULL,
                            "the name of the object (%s) does not match the name on the URL (%s)",
                            name, r->name);
    }
    if (st)
        return reply_err(r, st);
    if (r->sub && !strcmp(r->sub, "finalize"))
        return rmw_run(r, mutate_finalize, REPLY_OBJECT, 0, rv_of(r->body));
    rmw_run(r, mutate_put, REPLY_OBJECT, r->kind->create_on_update && !r->sub, rv_of(r->body));
}

/* ---- patch ------------------------------------------------------------------------- */

typedef enum { PT_JSON, PT_MERGE, PT_STRATEGIC, PT_APPLY } patch_kind_t;

static int patch_kind_of(api_req_t *r, patch_kind_t *pk)
{
    const char *ct = r->req ? evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type") : NULL;
    if (!ct)
        return -1;
    if (!strncmp(ct, "application/json-patch+json", 27))
        *pk = PT_JSON;
    else if (!strncmp(ct, "application/merge-patch+json", 28))
        *pk = PT_MERGE;
    else if (!strncmp(ct, "application/strategic-merge-patch+json", 38))
        *pk = PT_STRATEGIC;
    else if (!strncmp(ct, "application/apply-patch+yaml", 28) || !strncmp(ct, "application/apply-patch+json", 28))
        *pk = PT_APPLY;
    else
        return -1;
    return 0;
}

static json_t *apply_patch(api_req_t *r, const json_t *doc, const json_t *patch, json_t **err)
{
    patch_kind_t pk = PT_MERGE;
    int code = 0;
    char msg[1024] = "";
    json_t *out = NULL;
    patch_kind_of(r, &pk);
    switch (pk) {
    case PT_JSON:
        out = patch_json_apply(doc, patch, &code, msg, sizeof(msg));
        break;
    case PT_MERGE:
        out = patch_merge_apply(doc, patch, &code, msg, sizeof(msg));
        break;
    case PT_STRATEGIC:
    case PT_APPLY:
        if (patch_strategic_known(r->kind->group_version, r->kind->kind))
            out = patch_strategic_apply(doc, patch, r->kind->group_version, r->kind->kind, &code,
                                        msg, sizeof(msg));
        else
            out = patch_merge_apply(doc, patch, &code, msg, sizeof(msg));
        break;
    }
    if (!out) {
        if (code == 422 || code == 0)
            *err = status_err(422, "Invalid", NULL, "the server rejected our request due to an error in our request: %s", msg);
        else
            *err = status_err(code, NULL, NULL, "%s", msg);
        return NULL;
    }
    if (!json_is_object(out)) {
        json_decref(out);
        *err = status_err(422, "Invalid", NULL, "the patch turned the object into something that is not a JSON object");
        return NULL;
    }
    return out;
}

static json_t *mutate_patch(api_req_t *r, const json_t *cur, json_t **err)
{
    patch_kind_t pk = PT_MERGE;
    patch_kind_of(r, &pk);
    if (!cur)   /* apply patch of a missing object: the patch is the object */
        return json_deep_copy(r->body);
    if (r->sub && !strcmp(r->sub, "status")) {
        json_t *out = apply_patch(r, cur, r->body, err);
        return out;
    }
    json_t *out = apply_patch(r, cur, r->body, err);
    if (out && pk == PT_APPLY) {
        /* Server-side apply without field ownership: the applied config merges into the
         * live object (create-or-merge). managedFields are not tracked. */
        json_object_del(md_of(out), "managedFields");
    }
    return out;
}

static json_t *mutate_patch_scale(api_req_t *r, const json_t *cur, json_t **err)
{
    json_t *scale = api_scale_from(r->kind, cur);
    json_t *patched = apply_patch(r, scale, r->body, err);
    json_decref(scale);
    if (!patched)
        return NULL;
    return scale_to_replicas(r, cur, patched, err);
}

void api_handle_patch(api_req_t *r)
{
    patch_kind_t pk;
    const char *fm = api_query(r, "fieldManager");

    if (patch_kind_of(r, &pk) != 0)
        return api_reply_status(r, 415, "UnsupportedMediaType", NULL,
                                "the body of the request was in an unknown format - accepted "
                                "media types include: application/json-patch+json, "
                                "application/merge-patch+json, application/apply-patch+yaml%s",
                                patch_strategic_known(r->kind->group_version, r->kind->kind)
                                    ? ", application/strategic-merge-patch+json" : "");
    if (pk == PT_STRATEGIC && !patch_strategic_known(r->kind->group_version, r->kind->kind))
        return api_reply_status(r, 415, "UnsupportedMediaType", NULL,
                                "the body of the request was in an unknown format - accepted "
                                "media types include: application/json-patch+json, "
                                "application/merge-patch+json, application/apply-patch+yaml");
    if (!r->body)
        return api_reply_status(r, 400, "BadRequest", NULL, "the patch is empty");
    if (pk == PT_JSON ? !json_is_array(r->body) : !json_is_object(r->body))
        return api_reply_status(r, 400, "BadRequest", NULL,
                                pk == PT_JSON ? "a JSON patch must be an array of operations"
                                              : "the patch must be a JSON object");
    if (pk == PT_APPLY) {
        if (!fm || !*fm)
            return api_reply_status(r, 422, "Invalid",
                                    json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "kind", "PatchOptions",
                                              "causes", "reason", "FieldValueRequired", "message",
                                              "Required value: is required for apply patch",
                                              "field", "fieldManager"),
                                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                    "Required value: is required for apply patch");
        json_t *st = check_type(r->kind, r->body);
        if (!st)
            st = check_namespace(r, r->body);
        if (st)
            return reply_err(r, st);
    }
    if (r->sub && !strcmp(r->sub, "scale"))
        return rmw_run(r, mutate_patch_scale, REPLY_SCALE, 0, 0);
    rmw_run(r, mutate_patch, REPLY_OBJECT, pk == PT_APPLY && !r->sub, 0);
}

/* ---- scale ------------------------------------------------------------------------- */

/* "a=b,c=d" (and matchExpressions), the form Scale.status.selector carries. */
static char *selector_string(const json_t *sel)
{
    json_t *ml = json_object_get(sel, "matchLabels");
    json_t *me = json_object_get(sel, "matchExpressions");
    char buf[4096] = "";
    const char *key;
    json_t *v;
    size_t i;
    if (!ml && !me && json_is_object(sel))
        ml = (json_t *)sel;   /* ReplicationController: a plain map */
    json_object_foreach(ml, key, v) {
        if (json_is_string(v))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s=%s", *buf ? "," : "",
                     key, json_string_value(v));
    }
    json_array_foreach(me, i, v) {
        const char *k = json_str(v, "key"), *op = json_str(v, "operator");
        if (!k || !op)
            continue;
        if (!strcmp(op, "Exists"))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", *buf ? "," : "", k);
        else if (!strcmp(op, "DoesNotExist"))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s!%s", *buf ? "," : "", k);
        else {
            size_t j;
            json_t *val;
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s %s (", *buf ? "," : "", k,
                     !strcmp(op, "In") ? "in" : "notin");
            json_array_foreach(json_object_get(v, "values"), j, val)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", j ? "," : "",
                         json_string_value(val) ? json_string_value(val) : "");
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ")");
        }
    }
    return strdup(buf);
}

json_t *api_scale_from(const kind_t *k, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    json_t *scale_md = json_object();
    static const char *const keys[] = { "name", "namespace", "uid", "resourceVersion",
                                        "creationTimestamp", NULL };
    for (int i = 0; keys[i]; i++)
        if (json_object_get(md, keys[i]))
            json_object_set(scale_md, keys[i], json_object_get(md, keys[i]));
    json_t *replicas = json_path(obj, "spec.replicas");
    json_t *st = json_path(obj, "status.replicas");
    char *sel = selector_string(json_path(obj, "spec.selector"));
    json_t *scale = json_pack("{s:s,s:s,s:o,s:{s:I},s:{s:I,s:s}}", "kind", "Scale", "apiVersion",
                              "autoscaling/v1", "metadata", scale_md, "spec", "replicas",
                              (json_int_t)(replicas ? json_integer_value(replicas) : 1), "status",
                              "replicas", (json_int_t)(st ? json_integer_value(st) : 0), "selector",
                              sel ? sel : "");
    free(sel);
    return scale;
}

/* Takes scale (owned): a Scale from the client; returns the object with its replicas. */
static json_t *scale_to_replicas(api_req_t *r, const json_t *cur, json_t *scale, json_t **err)
{
    json_t *rep = json_path(scale, "spec.replicas");
    if (!json_is_integer(rep) || json_integer_value(rep) < 0) {
        json_t *causes = json_pack("[{s:s,s:s,s:s}]", "reason", "FieldValueInvalid", "message",
                                   "Invalid value: must be greater than or equal to 0", "field",
                                   "spec.replicas");
        *err = status_err(422, "Invalid", json_pack("{s:s,s:s,s:s,s:o}", "name", r->name, "group",
                                                   "autoscaling", "kind", "Scale", "causes", causes),
                          "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: %s: "
                          "must be greater than or equal to 0", r->name,
                          json_is_integer(rep) ? "negative" : "not an integer");
        json_decref(scale);
        return NULL;
    }
    json_t *out = json_deep_copy(cur);
    json_object_set(json_obj_ensure(out, "spec"), "replicas", rep);
    /* A resourceVersion in the Scale is a precondition on the object. */
    const char *rv = json_str(json_object_get(scale, "metadata"), "resourceVersion");
    if (rv && *rv)
        json_object_set_new(md_of(out), "resourceVersion", json_string(rv));
    json_decref(scale);
    return out;
}

/* ---- binding ----------------------------------------------------------------------- */

/* A shallow copy of out's member key (an object, or a new empty one) put in its place, so
 * that the caller can change it without touching the object out was copied from. NULL when
 * out of memory. */
static json_t *own_member(json_t *out, const char *key)
{
    json_t *m = json_object_get(out, key);
    json_t *c = json_is_object(m) ? json_copy(m) : json_object();
    if (!c || json_object_set_new(out, key, c) != 0)
        return NULL;
    return c;
}

/* The pod with spec.nodeName and PodScheduled=True. Only the objects on the way to the
 * changed members are copied (the top, metadata, spec, status and its conditions array);
 * everything else is shared with cur, which stays as the store returned it (rmw_write still
 * reads it, and a conflict retry reads the pod again). */
static json_t *mutate_bind(api_req_t *r, const json_t *cur, json_t **err)
{
    const char *target = json_str(json_object_get(r->body, "target"), "name");
    const char *bound = json_str(json_object_get(cur, "spec"), "nodeName");
    char stamp[32], why[512];
    if (!target || !*target) {
        *err = status_err(422, "Invalid", NULL, "Binding.core \"%s\" is invalid: target.name: Required value", r->name);
        return NULL;
    }
    if (bound && *bound) {
        snprintf(why, sizeof(why), "pod %s is already assigned to node \"%s\"", r->name, bound);
        *err = conflict_status(r->kind, r->name, why);
        return NULL;
    }
    if (json_str(json_object_get(cur, "metadata"), "deletionTimestamp")) {
        snprintf(why, sizeof(why), "pod %s is being deleted, cannot be assigned to a host", r->name);
        *err = conflict_status(r->kind, r->name, why);
        return NULL;
    }
    json_t *out = json_copy((json_t *)cur), *spec, *status, *conds;
    int replaced = 0;
    size_t i;
    json_t *c;
    util_rfc3339(time(NULL), stamp);
    /* metadata too: the store's placeholder resourceVersion is written into it. */
    if (!out || !own_member(out, "metadata") || !(spec = own_member(out, "spec")) ||
        !(status = own_member(out, "status")) || !(conds = json_array()))
        goto oom;
    /* The conditions without the first PodScheduled, then the new one at the end. */
    json_array_foreach(json_object_get(status, "conditions"), i, c) {
        const char *type = json_is_object(c) ? json_str(c, "type") : NULL;
        if (!replaced && type && !strcmp(type, "PodScheduled")) {
            replaced = 1;
            continue;
        }
        json_array_append(conds, c);
    }
    if (json_object_set_new(status, "conditions", conds) != 0 ||
        json_object_set_new(spec, "nodeName", json_string(target)) != 0 ||
        json_array_append_new(conds, json_pack("{s:s,s:s,s:n,s:s}", "type", "PodScheduled",
                                               "status", "True", "lastProbeTime",
                                               "lastTransitionTime", stamp)) != 0)
        goto oom;
    return out;
oom:
    json_decref(out);
    *err = status_err(500, "InternalError", NULL, "out of memory");
    return NULL;
}

/* Binding writes spec.nodeName, which a plain update may not change: skip merge rules by
 * handling the status subresource semantics here. */
void api_handle_binding(api_req_t *r)
{
    if (!json_is_object(r->body))
        return api_reply_status(r, 400, "BadRequest", NULL, "the request body must be a Binding object");
    const char *bname = json_str(json_object_get(r->body, "metadata"), "name");
    if (bname && strcmp(bname, r->name))
        return api_reply_status(r, 400, "BadRequest", NULL,
                                "the name of the object (%s) does not match the name on the URL (%s)",
                                bname, r->name);
    rmw_run_as(r, mutate_bind, REPLY_BINDING, 0, 0, 1);
}

/* ---- delete ------------------------------------------------------------------------ */

typedef struct delete_opts_s {
    long long grace;            /* -1: not given */
    const char *propagation;    /* NULL, Orphan, Background, Foreground */
    const char *pre_uid, *pre_rv;
} delete_opts_t;

static int delete_options(api_req_t *r, delete_opts_t *o, json_t **err)
{
    json_t *body = r->options ? r->options : r->body;
    const char *v;
    o->grace = -1;
    o->propagation = NULL;
    o->pre_uid = o->pre_rv = NULL;
    if (body && !json_is_object(body)) {
        *err = status_err(400, "BadRequest", NULL, "DeleteOptions must be a JSON object");
        return -1;
    }
    json_t *g = json_object_get(body, "gracePeriodSeconds");
    if (json_is_integer(g))
        o->grace = json_integer_value(g);
    if ((v = query_or_option(r, "gracePeriodSeconds")))
        o->grace = strtoll(v, NULL, 10);
    o->propagation = json_str(body, "propagationPolicy");
    if ((v = query_or_option(r, "propagationPolicy")))
        o->propagation = v;
    if (json_is_true(json_object_get(body, "orphanDependents")) ||
        ((v = query_or_option(r, "orphanDependents")) && !strcmp(v, "true")))
        o->propagation = "Orphan";
    if (o->propagation && strcmp(o->propagation, "Orphan") && strcmp(o->propagation, "Background") &&
        strcmp(o->propagation, "Foreground")) {
        *err = status_err(422, "Invalid", NULL,
                          "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported "
                          "value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
                          o->propagation);
        return -1;
    }
    json_t *pre = json_object_get(body, "preconditions");
    o->pre_uid = json_str(pre, "uid");
    o->pre_rv = json_str(pre, "resourceVersion");
    return 0;
}

static void add_finalizer(json_t *obj, const char *name)
{
    json_t *md = md_of(obj), *fin = json_object_get(md, "finalizers");
    size_t i;
    json_t *f;
    if (!json_is_array(fin)) {
        fin = json_array();
        json_object_set_new(md, "finalizers", fin);
    }
    json_array_foreach(fin, i, f)
        if (json_is_string(f) && !strcmp(json_string_value(f), name))
            return;
    json_array_append_new(fin, json_string(name));
}

static json_t *mutate_delete(api_req_t *r, const json_t *cur, json_t **err)
{
    rmw_t *op = r->op;
    delete_opts_t o;
    const json_t *md = json_object_get(cur, "metadata");
    const kind_t *k = r->kind;
    char stamp[32];

    if (delete_options(r, &o, err) != 0)
        return NULL;
    if (o.pre_uid && strcmp(o.pre_uid, json_str(md, "uid") ? json_str(md, "uid") : "")) {
        char why[256];
        snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                 o.pre_uid, json_str(md, "uid") ? json_str(md, "uid") : "");
        *err = conflict_status(k, r->name, why);
        return NULL;
    }
    if (o.pre_rv && strcmp(o.pre_rv, json_str(md, "resourceVersion") ? json_str(md, "resourceVersion") : "")) {
        char why[256];
        snprintf(why, sizeof(why), "Precondition failed: ResourceVersion in precondition: %s, "
                 "ResourceVersion in object meta: %s", o.pre_rv, json_str(md, "resourceVersion"));
        *err = conflict_status(k, r->name, why);
        return NULL;
    }
    if (!*k->group && !strcmp(k->kind, "Namespace") &&
        (!strcmp(r->name, "default") || !strcmp(r->name, "kube-system") || !strcmp(r->name, "kube-public"))) {
        *err = status_err(403, "Forbidden", json_pack("{s:s,s:s}", "name", r->name, "kind", "namespaces"),
                          "namespaces \"%s\" is forbidden: this namespace may not be deleted", r->name);
        return NULL;
    }

    long long grace = 0;
    if (k->graceful) {
        json_t *tg = json_path(cur, "spec.terminationGracePeriodSeconds");
        grace = o.grace >= 0 ? o.grace : json_is_integer(tg) ? json_integer_value(tg) : 30;
        const char *node = json_str(json_object_get(cur, "spec"), "nodeName");
        const char *phase = json_str(json_object_get(cur, "status"), "phase");
        /* Nothing runs a pod that never reached a node or already finished. */
        if (!node || !*node || (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
            grace = 0;
        if (grace < 0)
            grace = 0;
    }

    json_t *out = json_deep_copy(cur);
    json_t *omd = md_of(out);
    if (o.propagation && !strcmp(o.propagation, "Orphan"))
        add_finalizer(out, "orphan");
    else if (o.propagation && !strcmp(o.propagation, "Foreground"))
        add_finalizer(out, "foregroundDeletion");

    const char *existing = json_str(md, "deletionTimestamp");
    if (existing) {
        json_t *cg = json_object_get(md, "deletionGracePeriodSeconds");
        long long cur_grace = json_is_integer(cg) ? json_integer_value(cg) : 0;
        if (k->graceful && grace < cur_grace) {
            util_rfc3339(time(NULL) + grace, stamp);
            json_object_set_new(omd, "deletionTimestamp", json_string(stamp));
            json_object_set_new(omd, "deletionGracePeriodSeconds", json_integer(grace));
        }
        /* Still held (finalizers, grace period running): nothing to do but report it. Once
         * nothing holds it, the (re)delete removes it: the reaper and the node agent rely
         * on that. */
        if (!ready_to_remove(k, out) && json_equal(out, cur)) {
            json_decref(out);
            op->reply_code = 200;
            return (json_t *)json_incref((json_t *)cur);
        }
    } else {
        util_rfc3339(time(NULL) + grace, stamp);
        json_object_set_new(omd, "deletionTimestamp", json_string(stamp));
        json_object_set_new(omd, "deletionGracePeriodSeconds", json_integer(grace));
        if (!*k->group && !strcmp(k->kind, "Namespace"))
            json_object_set_new(json_obj_ensure(out, "status"), "phase", json_string("Terminating"));
    }
    /* 200 whether or not the object is gone yet, as kube-apiserver answers; 202 only when
     * a cascading delete was asked for with orphanDependents=false and the object stays. */
    op->reply_code = 200;
    if (!ready_to_remove(k, out)) {
        json_t *body = r->options ? r->options : r->body;
        const char *v = api_query(r, "orphanDependents");
        json_t *od = json_object_get(body, "orphanDependents");
        if ((od && json_is_false(od)) || (v && !strcmp(v, "false")))
            op->reply_code = 202;
    }
    return out;
}

void api_handle_delete(api_req_t *r)
{
    rmw_run_as(r, mutate_delete, REPLY_OBJECT, 0, 0, 1);
}


/* ---- deletecollection -------------------------------------------------------------- */

typedef struct collection_s {
    api_req_t *parent;
    size_t next;
} collection_t;

static void collection_next(api_req_t *parent);

static void collection_item_done(api_req_t *child, int code, const char *body, size_t len)
{
    api_req_t *parent = child->done_priv;
    if (code < 300) {
        json_t *obj = jsonload(body, len, 0, NULL);
        if (obj)
            json_array_append_new(parent->deleted, obj);
    }
    collection_next(parent);
}

static void collection_next(api_req_t *parent)
{
    collection_t *c = parent->op;
    json_t *item = json_array_get(parent->pending, c->next);
    if (!item) {
        json_t *list = json_pack("{s:s,s:s,s:{},s:O}", "kind", parent->kind->list_kind, "apiVersion",
                                 parent->kind->group_version, "metadata", "items", parent->deleted);
        return api_reply_json(parent, 200, list);
    }
    c->next++;
    api_req_t *child = calloc(1, sizeof(*child));
    if (!child)
        return collection_next(parent);
    child->srv = parent->srv;
    child->kind = parent->kind;
    child->verb = VERB_DELETE;
    child->started = util_now_us();
    child->done = collection_item_done;
    child->done_priv = parent;
    child->ns = json_str(item, "ns") ? strdup(json_str(item, "ns")) : NULL;
    child->name = strdup(json_str(item, "name"));
    /* The DeleteOptions body and the query options travel to each item as options. */
    child->options = json_is_object(parent->body) ? json_deep_copy(parent->body) : json_object();
    const char *v;
    if ((v = api_query(parent, "gracePeriodSeconds")) && *v)
        json_object_set_new(child->options, "gracePeriodSeconds", json_integer(strtoll(v, NULL, 10)));
    if ((v = api_query(parent, "propagationPolicy")) && *v)
        json_object_set_new(child->options, "propagationPolicy", json_string(v));
    if ((v = api_query(parent, "dryRun")) && !strcmp(v, "All"))
        json_object_set_new(child->options, "dryRun", json_pack("[s]", "All"));
    api_handle_delete(child);
}

static void collection_listed(const store_list_t *list, void *priv)
{
    api_req_t *r = priv;
    list_op_t *lop = r->op;
    if (list->status != STORE_OK) {
        api_list_params_free(lop);
        r->op = NULL;
        return api_reply_store_error(r, NULL, list->errstr);
    }
    r->pending = json_array();
    r->deleted = json_array();
    for (size_t i = 0; i < list->n; i++) {
        json_t *obj = jsonload(list->items[i].data, list->items[i].len, 0, NULL);
        json_t *md = json_object_get(obj, "metadata");
        if (obj && label_selector_match(lop->labels, json_object_get(md, "labels")) &&
            field_selector_match(lop->fields, obj))
            json_array_append_new(r->pending, json_pack("{s:s?,s:s}", "ns", json_str(md, "namespace"),
                                                        "name", json_str(md, "name")));
        json_decref(obj);
    }
    api_list_params_free(lop);
    collection_t *c = calloc(1, sizeof(*c));
    r->op = NULL;
    if (!c)
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    c->parent = r;
    r->op = c;
    r->op_free = free;
    collection_next(r);
}

void api_handle_deletecollection(api_req_t *r)
{
    list_op_t *lop = api_list_params(r);
    if (!lop)
        return;
    r->op = lop;
    if (store_list(r->srv->store, r->kind, r->ns, NULL, 0, collection_listed, r) != 0) {
        api_list_params_free(lop);
        r->op = NULL;
        api_reply_store_error(r, NULL, "not connected");
    }
}

/* ---- the pod reaper ---------------------------------------------------------------- */

typedef struct reap_s {
    char *ns, *name, *uid;
    time_t deadline;
    struct reap_s *next;
} reap_t;

static void reap_done(api_req_t *r, int code, const char *body, size_t len)
{
    if (code >= 300 && code != 404 && code != 409)
        log_warn("removing pod %s/%s after its grace period failed: HTTP %d", r->ns, r->name, code);
}

void api_reap_pod(api_server_t *srv, const char *ns, const char *name, const char *uid)
{
    api_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->srv = srv;
    r->kind = kinds_find("", "v1", "pods");
    r->verb = VERB_DELETE;
    r->started = util_now_us();
    r->done = reap_done;
    r->ns = strdup(ns);
    r->name = strdup(name);
    /* Re-running delete on a terminating pod removes it once the deadline has passed. */
    r->options = uid ? json_pack("{s:{s:s}}", "preconditions", "uid", uid) : json_object();
    api_handle_delete(r);
}

static void reaper_tick(evutil_socket_t fd, short what, void *arg)
{
    api_server_t *srv = arg;
    time_t now = time(NULL);
    reap_t **pp = &srv->reap_list;
    if (!store_is_up(srv->store))
        return;
    while (*pp) {
        reap_t *e = *pp;
        if (e->deadline <= now) {
            *pp = e->next;
            api_reap_pod(srv, e->ns, e->name, e->uid);
            free(e->ns);
            free(e->name);
            free(e->uid);
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

void api_reaper_track(api_server_t *srv, const char *ns, const char *name, const char *uid,
                      time_t deadline)
{
    for (reap_t *e = srv->reap_list; e; e = e->next)
        if (!strcmp(e->ns, ns) && !strcmp(e->name, name)) {
            e->deadline = deadline;
            return;
        }
    reap_t *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->ns = strdup(ns);
    e->name = strdup(name);
    e->uid = uid ? strdup(uid) : NULL;
    e->deadline = deadline;
    e->next = srv->reap_list;
    srv->reap_list = e;
    if (!srv->reaper) {
        struct timeval tv = { 1, 0 };
        srv->reaper = event_new(srv->base, -1, EV_PERSIST, reaper_tick, srv);
        evtimer_add(srv->reaper, &tv);
    }
}

#define REAP_SCAN_PAGE 1000

static void reaper_scanned(const store_list_t *list, void *priv)
{
    api_server_t *srv = priv;
    for (size_t i = 0; list->status == STORE_OK && i < list->n; i++) {
        /* Most pods are not terminating: look for the key in the bytes before parsing. */
        if (!memmem(list->items[i].data, list->items[i].len, "\"deletionTimestamp\"", 19))
            continue;
        json_t *obj = jsonload(list->items[i].data, list->items[i].len, 0, NULL);
        json_t *md = json_object_get(obj, "metadata");
        const char *ts = json_str(md, "deletionTimestamp");
        if (ts && json_str(md, "namespace") && json_str(md, "name"))
            api_reaper_track(srv, json_str(md, "namespace"), json_str(md, "name"),
                             json_str(md, "uid"), util_parse_rfc3339(ts));
        json_decref(obj);
    }
    /* Pages of 1000 keep the scan's memory and each pause of the loop small however many
     * pods there are. */
    if (list->status == STORE_OK && list->more && list->n) {
        char *last = strndup(list->items[list->n - 1].key, list->items[list->n - 1].keylen);
        if (last)
            store_list(srv->store, kinds_find("", "v1", "pods"), NULL, last, REAP_SCAN_PAGE,
                       reaper_scanned, srv);
        free(last);
    }
}

void api_reaper_scan(api_server_t *srv)
{
    store_list(srv->store, kinds_find("", "v1", "pods"), NULL, NULL, REAP_SCAN_PAGE,
               reaper_scanned, srv);
}

void api_reaper_release(api_server_t *srv)
{
    while (srv->reap_list) {
        reap_t *e = srv->reap_list;
        srv->reap_list = e->next;
        free(e->ns);
        free(e->name);
        free(e->uid);
        free(e);
    }
}
