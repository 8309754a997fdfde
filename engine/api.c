/* api.c: request routing, replies and errors, discovery, OpenAPI, health and metrics.
 * The resource handlers live in api_read.c, api_watch.c and api_write.c; the groups that
 * are not stored kinds in api_review.c and api_metrics.c (metrics.k8s.io). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "api.h"
#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "table.h"
#include "yaml_json.h"
#include "util.h"
#include "jsonload.h"
#include "jsondump.h"

static const char *const verb_names[] = { "GET", "LIST", "WATCH", "POST", "PUT", "PATCH",
                                          "DELETE", "DELETECOLLECTION", "OTHER" };

/* ---- replies ----------------------------------------------------------------------- */

const char *api_query(api_req_t *r, const char *key)
{
    return r->query_parsed ? evhttp_find_header(&r->query, key) : NULL;
}

table_include_t api_table_include(api_req_t *r)
{
    const char *v = api_query(r, "includeObject");
    if (v && !strcmp(v, "Object"))
        return TABLE_INCLUDE_OBJECT;
    if (v && !strcmp(v, "None"))
        return TABLE_INCLUDE_NONE;
    return TABLE_INCLUDE_METADATA;
}

int api_wants_table(api_req_t *r)
{
    const char *accept;
    if (!r->req)
        return 0;
    accept = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Accept");
    /* kubectl lists Table first and plain JSON as the fallback; we always can do Table. */
    return accept && strstr(accept, "as=Table") != NULL;
}

void api_resource_name(const kind_t *k, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s%s", k->plural, *k->group ? "." : "", k->group);
}

void api_req_free(api_req_t *r)
{
    if (!r)
        return;
    free(r->ns);
    free(r->name);
    free(r->sub);
    if (r->query_parsed)
        evhttp_clear_headers(&r->query);
    json_decref(r->body);
    json_decref(r->options);
    json_decref(r->current);
    json_decref(r->pending);
    json_decref(r->deleted);
    if (r->op_free)
        r->op_free(r->op);
    free(r);
}

void api_record(api_req_t *r, int code)
{
    char labels[256];
    const char *res = r->kind ? r->kind->plural : "";
    snprintf(labels, sizeof(labels), "verb=\"%s\",resource=\"%s\",subresource=\"%s\",code=\"%d\"",
             verb_names[r->verb], res, r->sub ? r->sub : "", code);
    metrics_add("apiserver_request_total", labels, 1);
    snprintf(labels, sizeof(labels), "verb=\"%s\",resource=\"%s\"", verb_names[r->verb], res);
    metrics_observe("apiserver_request_duration_seconds", labels,
                    (double)(util_now_us() - r->started) / 1e6);
}

void api_reply_buffer(api_req_t *r, int code, const char *content_type, struct evbuffer *body)
{
    api_record(r, code);
    if (r->req) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
        evhttp_add_header(h, "Content-Type", content_type);
        evhttp_add_header(h, "Cache-Control", "no-cache, private");
        evhttp_send_reply(r->req, code, NULL, body);
    } else if (r->done) {
        size_t len = evbuffer_get_length(body);
        r->done(r, code, (const char *)evbuffer_pullup(body, -1), len);
    }
    evbuffer_free(body);
    api_req_free(r);
}

void api_reply(api_req_t *r, int code, const char *content_type, const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        api_record(r, 500);
        if (r->req)
            evhttp_send_error(r->req, 500, "out of memory");
        api_req_free(r);
        return;
    }
    evbuffer_add(out, body, len);
    api_reply_buffer(r, code, content_type, out);
}

void api_reply_json(api_req_t *r, int code, json_t *obj)
{
    char *s = jsondump(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) {
        api_reply(r, 500, "application/json", "{}", 2);
        return;
    }
    api_reply(r, code, "application/json", s, strlen(s));
    free(s);
}

static const char *reason_for(int code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "";
    }
}

json_t *api_status_object(int code, const char *reason, json_t *details, const char *message)
{
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", code < 400 ? "Success" : "Failure", "message",
                           message, "reason", reason ? reason : reason_for(code), "code", code);
    if (details)
        json_object_set_new(st, "details", details);
    return st;
}

void api_reply_status(api_req_t *r, int code, const char *reason, json_t *details,
                      const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_reply_json(r, code, api_status_object(code, reason, details, msg));
}

void api_reply_not_found(api_req_t *r, const kind_t *k, const char *name)
{
    char res[256];
    api_resource_name(k, res, sizeof(res));
    json_t *details = json_pack("{s:s,s:s}", "name", name, "kind", k->plural);
    if (*k->group)
        json_object_set_new(details, "group", json_string(k->group));
    api_reply_status(r, 404, "NotFound", details, "%s \"%s\" not found", res, name);
}

void api_reply_store_error(api_req_t *r, const store_result_t *res, const char *errstr)
{
    if (res && res->status == STORE_ERROR)
        api_reply_status(r, 500, "InternalError", NULL, "the store failed: %s",
                         errstr ? errstr : "unknown error");
    else
        api_reply_status(r, 503, "ServiceUnavailable", NULL,
                         "the store (Redis) is unavailable: %s; try again shortly",
                         errstr ? errstr : "not connected");
}

json_t *api_table_wrap(const kind_t *k, json_t *rows, const char *rv, int with_columns)
{
    json_t *t = json_pack("{s:s,s:s,s:{s:s}}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                          "metadata", "resourceVersion", rv ? rv : "");
    json_object_set_new(t, "columnDefinitions",
                        with_columns ? table_column_definitions(k->columns) : json_array());
    json_object_set_new(t, "rows", rows);
    return t;
}

/* ---- discovery --------------------------------------------------------------------- */

static json_t *verbs_all(void)
{
    return json_pack("[ssssssss]", "create", "delete", "deletecollection", "get", "list", "patch",
                     "update", "watch");
}

static json_t *sub_entry(const kind_t *k, const char *sub, const char *kind, json_t *verbs)
{
    char name[300];
    snprintf(name, sizeof(name), "%s/%s", k->plural, sub);
    return json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "", "namespaced",
                     k->namespaced, "kind", kind, "verbs", verbs);
}

static json_t *resource_list(const char *group, const char *version)
{
    json_t *list = json_array();
    char gv[256];
    const kind_t *k;
    snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
    for (size_t i = 0; (k = kinds_at(i)); i++) {
        if (strcmp(k->group, group) || strcmp(k->version, version))
            continue;
        json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", k->plural, "singularName",
                              k->singular, "namespaced", k->namespaced, "kind", k->kind, "verbs",
                              verbs_all());
        if (json_array_size(k->short_names))
            json_object_set(e, "shortNames", k->short_names);
        if (json_array_size(k->categories))
            json_object_set(e, "categories", k->categories);
        json_array_append_new(list, e);
        /* Subresources after the resource: client-node takes the first entry of a kind. */
        if (k->subresources & KIND_SUB_STATUS)
            json_array_append_new(list, sub_entry(k, "status", k->kind,
                                                  json_pack("[sss]", "get", "patch", "update")));
        if (k->subresources & KIND_SUB_SCALE) {
            json_t *s = sub_entry(k, "scale", "Scale", json_pack("[sss]", "get", "patch", "update"));
            json_object_set_new(s, "group", json_string("autoscaling"));
            json_object_set_new(s, "version", json_string("v1"));
            json_array_append_new(list, s);
        }
        if (k->subresources & KIND_SUB_BINDING)
            json_array_append_new(list, sub_entry(k, "binding", "Binding", json_pack("[s]", "create")));
        if (k->subresources & KIND_SUB_LOG)
            json_array_append_new(list, sub_entry(k, "log", k->kind, json_pack("[s]", "get")));
        if (k->subresources & KIND_SUB_EXEC)
            json_array_append_new(list, sub_entry(k, "exec", "PodExecOptions",
                                                  json_pack("[ss]", "create", "get")));
        if (k->subresources & KIND_SUB_ATTACH)
            json_array_append_new(list, sub_entry(k, "attach", "PodAttachOptions",
                                                  json_pack("[ss]", "create", "get")));
        if (k->subresources & KIND_SUB_EVICTION) {
            /* kubectl drain finds pods/eviction here and posts a policy/v1 Eviction. */
            json_t *s = sub_entry(k, "eviction", "Eviction", json_pack("[s]", "create"));
            json_object_set_new(s, "group", json_string("policy"));
            json_object_set_new(s, "version", json_string("v1"));
            json_array_append_new(list, s);
        }
        if (k->subresources & KIND_SUB_PORTFORWARD)
            json_array_append_new(list, sub_entry(k, "portforward", "PodPortForwardOptions",
                                                  json_pack("[ss]", "create", "get")));
        if (!*k->group && !strcmp(k->plural, "namespaces"))
            json_array_append_new(list, sub_entry(k, "finalize", "Namespace",
                                                  json_pack("[s]", "update")));
    }
    return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", list);
}

static json_t *group_entry(const char *group)
{
    json_t *versions = json_array(), *preferred = NULL;
    const kind_t *k;
    for (size_t i = 0; (k = kinds_at(i)); i++) {
        if (strcmp(k->group, group))
            continue;
        int seen = 0;
        size_t j;
        json_t *v;
        json_array_foreach(versions, j, v)
            if (!strcmp(json_str(v, "version"), k->version))
                seen = 1;
        if (seen)
            continue;
        v = json_pack("{s:s,s:s}", "groupVersion", k->group_version, "version", k->version);
        json_array_append_new(versions, v);
        if (!preferred)
            preferred = json_deep_copy(v);
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:o}", "kind", "APIGroup", "apiVersion", "v1", "name",
                     group, "versions", versions, "preferredVersion",
                     preferred ? preferred : json_object());
}

static json_t *group_list(const api_server_t *srv)
{
    json_t *groups = json_array();
    const kind_t *k;
    for (size_t i = 0; (k = kinds_at(i)); i++) {
        if (!*k->group)
            continue;
        int seen = 0;
        size_t j;
        json_t *g;
        json_array_foreach(groups, j, g)
            if (!strcmp(json_str(g, "name"), k->group))
                seen = 1;
        if (!seen) {
            json_t *e = group_entry(k->group);
            json_object_del(e, "kind");
            json_object_del(e, "apiVersion");
            json_array_append_new(groups, e);
        }
    }
    api_review_groups(groups);
    api_metrics_groups(srv, groups);
    return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

/* A minimal OpenAPI v3 description: kubectl's default validation only needs to learn that
 * each kind's PATCH accepts the fieldValidation parameter (see the API surface reference);
 * strategic merge is left out of requestBody so kubectl builds patches from its built-in
 * types rather than from schemas we do not publish. */
static unsigned openapi_hash(void)
{
    unsigned h = 5381;
    const kind_t *k;
    for (size_t i = 0; (k = kinds_at(i)); i++)
        for (const char *p = k->store_key; *p; p++)
            h = h * 33 + (unsigned char)*p;
    return h;
}

static json_t *openapi_index(void)
{
    json_t *paths = json_object();
    const kind_t *k;
    unsigned h = openapi_hash();
    for (size_t i = 0; (k = kinds_at(i)); i++) {
        char key[300], url[400];
        snprintf(key, sizeof(key), "%s/%s", *k->group ? "apis" : "api", k->group_version);
        snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%08X", key, h);
        json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
    }
    return json_pack("{s:o}", "paths", paths);
}

static json_t *openapi_gv(const char *gvpath)
{
    json_t *paths = json_object();
    const kind_t *k;
    for (size_t i = 0; (k = kinds_at(i)); i++) {
        char key[300], path[600];
        snprintf(key, sizeof(key), "%s/%s", *k->group ? "apis" : "api", k->group_version);
        if (strcmp(key, gvpath))
            continue;
        snprintf(path, sizeof(path), "/%s/%s%s/{name}", key,
                 k->namespaced ? "namespaces/{namespace}/" : "", k->plural);
        json_t *op = json_pack(
            "{s:{s:s,s:s,s:s},s:[{s:s,s:s,s:{s:s}}],s:{s:{s:{s:{s:s}},s:{s:{s:s}},s:{s:{s:s}}}},"
            "s:{s:{s:s}}}",
            "x-kubernetes-group-version-kind", "group", k->group, "version", k->version, "kind",
            k->kind, "parameters", "name", "fieldValidation", "in", "query", "schema", "type",
            "string", "requestBody", "content", "application/json-patch+json", "schema", "type",
            "object", "application/merge-patch+json", "schema", "type", "object",
            "application/apply-patch+yaml", "schema", "type", "object", "responses", "200",
            "description", "OK");
        json_object_set_new(paths, path, json_pack("{s:o}", "patch", op));
    }
    return json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:{}}}", "openapi", "3.0.0", "info", "title",
                     "Kubernetes", "version", "v1.31.0", "paths", paths, "components", "schemas");
}

/* /openapi/v2: a document with no definitions. kubectl fetches it (as protobuf, gnostic's
 * openapi_v2.Document) to validate what v3 cannot place, such as a v1 List of objects
 * (`kubectl create -f` of `kubectl get -o json` output); a kind the document does not
 * define is not validated client-side, and the server validates it anyway. Without the
 * document that validation fails with "the server could not find the requested resource". */
static void serve_openapi_v2(api_req_t *r)
{
    const char *accept = r->req ? evhttp_find_header(evhttp_request_get_input_headers(r->req), "Accept") : NULL;
    if (accept && strstr(accept, "protobuf")) {
        /* Document{swagger: "2.0" (field 1), info (field 2): Info{title (1), version (2)}} */
        static const char doc[] = "\x0a\x03" "2.0"
                                  "\x12\x15" "\x0a\x0a" "Kubernetes" "\x12\x07" "v1.31.0";
        api_reply(r, 200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", doc,
                  sizeof(doc) - 1);
        return;
    }
    api_reply_json(r, 200, json_pack("{s:s,s:{s:s,s:s},s:{},s:{}}", "swagger", "2.0", "info", "title",
                                 "Kubernetes", "version", "v1.31.0", "paths", "definitions"));
}

/* ---- routing ----------------------------------------------------------------------- */

#define MAX_SEGMENTS 12

static int split_path(const char *path, char **seg, int max)
{
    int n = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == max)
            return -1;
        char *raw = strndup(p, len);
        seg[n] = raw ? evhttp_uridecode(raw, 0, NULL) : NULL;
        free(raw);
        if (!seg[n])
            return -1;
        n++;
        p += len;
    }
    return n;
}

static void parse_query(api_req_t *r, const char *q)
{
    TAILQ_INIT(&r->query);
    r->query_parsed = 1;
    if (!q)
        return;
    char *copy = strdup(q), *save = NULL;
    for (char *part = copy ? strtok_r(copy, "&", &save) : NULL; part;
         part = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(part, '=');
        if (eq)
            *eq = '\0';
        /* Form encoding: '+' is a space (client-go encodes label selectors that way). */
        char *k = evhttp_uridecode(part, 1, NULL), *v = evhttp_uridecode(eq ? eq + 1 : "", 1, NULL);
        if (k && v && !evhttp_find_header(&r->query, k))
            evhttp_add_header(&r->query, k, v);
        free(k);
        free(v);
    }
    free(copy);
}

static int read_body(api_req_t *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);
    const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
    json_error_t jerr;

    if (len == 0)
        return 0;
    if (len > API_MAX_BODY) {
        api_reply_status(r, 413, "RequestEntityTooLarge", NULL,
                         "Request entity too large: limit is %d", API_MAX_BODY);
        return -1;
    }
    const char *data = (const char *)evbuffer_pullup(in, -1);
    if (ctype && (strstr(ctype, "yaml") != NULL)) {
        char err[512];
        r->body = yaml_parse_one(data, len, err, sizeof(err));
        if (!r->body) {
            api_reply_status(r, 400, "BadRequest", NULL, "the request body is not valid YAML: %s",
                             err);
            return -1;
        }
        return 0;
    }
    if (ctype && !strstr(ctype, "json")) {
        api_reply_status(r, 415, "UnsupportedMediaType", NULL,
                         "the body of the request was in an unknown format - accepted media "
                         "types include: application/json, application/yaml");
        return -1;
    }
    r->body = jsonload(data, len, JSON_DECODE_ANY, &jerr);
    if (!r->body) {
        api_reply_status(r, 400, "BadRequest", NULL,
                         "the request body is not valid JSON: line %d, column %d: %s", jerr.line,
                         jerr.column, jerr.text);
        return -1;
    }
    return 0;
}

static void reply_discovery(api_req_t *r, json_t *doc)
{
    api_reply_json(r, 200, doc);
}

static void serve_health(api_req_t *r, const char *what)
{
    api_server_t *srv = r->srv;
    if (!strcmp(what, "readyz") && !store_is_up(srv->store)) {
        api_reply(r, 503, "text/plain; charset=utf-8", "[-]store failed: Redis unavailable\nreadyz check failed\n",
                  strlen("[-]store failed: Redis unavailable\nreadyz check failed\n"));
        return;
    }
    api_reply(r, 200, "text/plain; charset=utf-8", "ok", 2);
}

static void serve_metrics(api_req_t *r)
{
    struct evbuffer *out = evbuffer_new();
    metrics_set("apiserver_longrunning_requests", "verb=\"WATCH\"", (double)watch_count(r->srv->hub));
    metrics_set("berth_store_up", "", store_is_up(r->srv->store) ? 1 : 0);
    metrics_render(out);
    size_t len = evbuffer_get_length(out);
    api_reply(r, 200, "text/plain; version=0.0.4", (const char *)evbuffer_pullup(out, -1), len);
    evbuffer_free(out);
}

static void not_found(api_req_t *r)
{
    api_reply_status(r, 404, "NotFound", json_object(), "the server could not find the requested resource");
}

static void method_not_allowed(api_req_t *r)
{
    api_reply_status(r, 405, "MethodNotAllowed", json_object(),
                     "the server does not allow this method on the requested resource");
}

/* Resource requests: seg points after the group/version prefix. */
static void route_resource(api_req_t *r, const char *group, const char *version, char **seg,
                           int n, enum evhttp_cmd_type method)
{
    const kind_t *k;
    char msg[256];
    auth_user_t user;
    int code;

    /* namespaces/<ns>/<plural>/... unless it is the namespace object itself
     * (namespaces/<name>[/status|/finalize]). */
    if (n >= 3 && !strcmp(seg[0], "namespaces") && strcmp(seg[2], "status") &&
        strcmp(seg[2], "finalize")) {
        r->ns = strdup(seg[1]);
        seg += 2;
        n -= 2;
    }
    if (n < 1 || n > 3)
        return not_found(r);
    k = kinds_find(group, version, seg[0]);
    if (!k || (r->ns && !k->namespaced))
        return not_found(r);
    r->kind = k;
    if (n >= 2)
        r->name = strdup(seg[1]);
    if (n == 3) {
        r->sub = strdup(seg[2]);
        unsigned bit = !strcmp(r->sub, "status")    ? KIND_SUB_STATUS
                       : !strcmp(r->sub, "scale")   ? KIND_SUB_SCALE
                       : !strcmp(r->sub, "binding") ? KIND_SUB_BINDING
                       : !strcmp(r->sub, "log")     ? KIND_SUB_LOG
                       : !strcmp(r->sub, "exec")    ? KIND_SUB_EXEC
                       : !strcmp(r->sub, "portforward") ? KIND_SUB_PORTFORWARD
                       : !strcmp(r->sub, "attach")  ? KIND_SUB_ATTACH
                       : !strcmp(r->sub, "eviction") ? KIND_SUB_EVICTION
                                                    : 0;
        int finalize = !strcmp(r->sub, "finalize") && !strcmp(k->plural, "namespaces") && !*k->group;
        if (!(k->subresources & bit) && !finalize)
            return not_found(r);
    }
    /* A namespaced object named without a namespace does not exist at that path. */
    if (k->namespaced && !r->ns && r->name)
        return not_found(r);
    if (k->namespaced && !r->ns && method == EVHTTP_REQ_POST)
        return not_found(r);

    switch (method) {
    case EVHTTP_REQ_GET:
        r->verb = r->name ? VERB_GET : (api_query(r, "watch") && strcmp(api_query(r, "watch"), "false") &&
                                        strcmp(api_query(r, "watch"), "0"))
                                           ? VERB_WATCH : VERB_LIST;
        break;
    case EVHTTP_REQ_POST: r->verb = VERB_CREATE; break;
    case EVHTTP_REQ_PUT: r->verb = VERB_UPDATE; break;
    case EVHTTP_REQ_PATCH: r->verb = VERB_PATCH; break;
    case EVHTTP_REQ_DELETE: r->verb = r->name ? VERB_DELETE : VERB_DELETECOLLECTION; break;
    default: return method_not_allowed(r);
    }
    code = auth_check(r->req, verb_names[r->verb], k->plural, r->ns, &user, msg, sizeof(msg));
    if (code)
        return api_reply_status(r, code, NULL, NULL, "%s", msg);

    if (r->sub && !strcmp(r->sub, "log") && r->verb == VERB_GET)
        return api_handle_log(r);
    /* exec: GET with a websocket upgrade (kubectl 1.30+, client-node), POST for SPDY. */
    if (r->sub && (!strcmp(r->sub, "exec") || !strcmp(r->sub, "attach")) &&
        (r->verb == VERB_GET || r->verb == VERB_CREATE))
        return api_handle_exec(r);
    /* portforward: the same, websocket (SPDY tunnelled, or channels) or SPDY itself. */
    if (r->sub && !strcmp(r->sub, "portforward") && (r->verb == VERB_GET || r->verb == VERB_CREATE))
        return api_handle_portforward(r);
    if (r->sub && (!strcmp(r->sub, "log") || !strcmp(r->sub, "exec") || !strcmp(r->sub, "attach") ||
                   !strcmp(r->sub, "portforward")))
        return method_not_allowed(r);
    if (r->sub && !strcmp(r->sub, "eviction")) {
        if (r->verb != VERB_CREATE)
            return method_not_allowed(r);
        if (read_body(r) != 0)
            return;
        return api_handle_eviction(r);
    }
    if (r->verb == VERB_CREATE && r->name) {
        if (r->sub && !strcmp(r->sub, "binding")) {
            if (read_body(r) != 0)
                return;
            return api_handle_binding(r);
        }
        return method_not_allowed(r);
    }
    if (r->sub && !strcmp(r->sub, "binding"))
        return method_not_allowed(r);
    if (r->verb == VERB_UPDATE && !r->name)
        return method_not_allowed(r);
    if (r->verb == VERB_PATCH && !r->name)
        return method_not_allowed(r);
    if (r->sub && (r->verb == VERB_DELETE))
        return method_not_allowed(r);
    if (r->sub && !strcmp(r->sub, "finalize") && r->verb != VERB_UPDATE)
        return method_not_allowed(r);
    if (r->verb == VERB_CREATE || r->verb == VERB_UPDATE || r->verb == VERB_PATCH ||
        r->verb == VERB_DELETE || r->verb == VERB_DELETECOLLECTION) {
        const char *dry = api_query(r, "dryRun");
        if (dry && *dry && strcmp(dry, "All")) {
            const char *opts = r->verb == VERB_CREATE ? "CreateOptions"
                               : r->verb == VERB_UPDATE ? "UpdateOptions"
                               : r->verb == VERB_PATCH  ? "PatchOptions" : "DeleteOptions";
            return api_reply_status(r, 422, "Invalid",
                                    json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "group", "meta.k8s.io",
                                              "kind", opts, "causes", "reason",
                                              "FieldValueNotSupported", "message",
                                              "Unsupported value: supported values: \"All\"",
                                              "field", "dryRun"),
                                    "%s.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: "
                                    "\"%s\": supported values: \"All\"", opts, dry);
        }
        if (read_body(r) != 0)
            return;
    }
    if (!store_is_up(r->srv->store))
        return api_reply_store_error(r, NULL, "not connected");
    switch (r->verb) {
    case VERB_GET:
        if (r->sub && !strcmp(r->sub, "scale"))
            return api_handle_scale_get(r);
        return api_handle_get(r);
    case VERB_LIST: return api_handle_list(r);
    case VERB_WATCH: return api_handle_watch(r);
    case VERB_CREATE: return api_handle_create(r);
    case VERB_UPDATE: return api_handle_update(r);
    case VERB_PATCH: return api_handle_patch(r);
    case VERB_DELETE: return api_handle_delete(r);
    case VERB_DELETECOLLECTION: return api_handle_deletecollection(r);
    default: return method_not_allowed(r);
    }
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    api_server_t *srv = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    char *seg[MAX_SEGMENTS];
    int n;
    api_req_t *r = calloc(1, sizeof(*r));

    if (!r) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    r->srv = srv;
    r->req = req;
    r->started = util_now_us();
    r->verb = VERB_OTHER;
    parse_query(r, evhttp_uri_get_query(uri));
    n = split_path(evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/", seg, MAX_SEGMENTS);
    if (n < 0) {
        api_reply_status(r, 404, "NotFound", json_object(), "the server could not find the requested resource");
        return;
    }

    /* Non-resource paths (discovery, health, metrics, OpenAPI) pass the same single auth
     * step here; resource requests pass it in route_resource, once their verb is known. */
    int resource_path = (n >= 3 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1")) ||
                        (n >= 4 && !strcmp(seg[0], "apis"));
    if (!resource_path) {
        char msg[256];
        auth_user_t user;
        int code = auth_check(req, "get", "", NULL, &user, msg, sizeof(msg));
        if (code) {
            api_reply_status(r, code, NULL, NULL, "%s", msg);
            for (int i = 0; i < n; i++)
                free(seg[i]);
            return;
        }
    }

    if (n == 1 && method == EVHTTP_REQ_GET && (!strcmp(seg[0], "healthz") || !strcmp(seg[0], "livez") ||
                                               !strcmp(seg[0], "readyz")))
        serve_health(r, seg[0]);
    else if (n == 1 && method == EVHTTP_REQ_GET && !strcmp(seg[0], "metrics"))
        serve_metrics(r);
    else if (n == 1 && method == EVHTTP_REQ_GET && !strcmp(seg[0], "version"))
        reply_discovery(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor",
                                     "31", "gitVersion", "v1.31.0-berth", "gitCommit", "",
                                     "gitTreeState", "clean", "buildDate", "2026-11-27T00:00:00Z",
                                     "goVersion", "n/a (C)", "compiler", "gcc", "platform",
                                     "linux/amd64"));
    else if (n >= 1 && method != EVHTTP_REQ_GET && (!strcmp(seg[0], "api") || !strcmp(seg[0], "apis")) &&
             n <= (strcmp(seg[0], "api") ? 3 : 2))
        method_not_allowed(r);
    else if (n == 1 && !strcmp(seg[0], "api"))
        reply_discovery(r, json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions",
                                     "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
                                     "serverAddress", srv->listen_addr));
    else if (n == 2 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1"))
        reply_discovery(r, resource_list("", "v1"));
    else if (n == 1 && !strcmp(seg[0], "apis"))
        reply_discovery(r, group_list(srv));
    else if (n == 2 && !strcmp(seg[0], "apis") && api_metrics_group(srv, seg[1])) {
        json_t *groups = json_array();
        api_metrics_groups(srv, groups);
        json_t *doc = json_deep_copy(json_array_get(groups, 0));
        json_decref(groups);
        json_object_set_new(doc, "kind", json_string("APIGroup"));
        json_object_set_new(doc, "apiVersion", json_string("v1"));
        reply_discovery(r, doc);
    } else if (n == 3 && !strcmp(seg[0], "apis") && api_metrics_group(srv, seg[1])) {
        json_t *doc = api_metrics_resource_list(seg[2]);
        if (doc)
            reply_discovery(r, doc);
        else
            not_found(r);
    } else if (n >= 4 && !strcmp(seg[0], "apis") && api_metrics_group(srv, seg[1])) {
        api_handle_metrics(r, seg + 2, n - 2, method);
    } else if (n == 2 && !strcmp(seg[0], "apis") && api_review_group(seg[1])) {
        json_t *groups = json_array();
        api_review_groups(groups);
        json_t *e = NULL;
        size_t i;
        json_array_foreach(groups, i, e)
            if (!strcmp(json_str(e, "name"), seg[1]))
                break;
        json_t *doc = json_deep_copy(e);
        json_decref(groups);
        json_object_set_new(doc, "kind", json_string("APIGroup"));
        json_object_set_new(doc, "apiVersion", json_string("v1"));
        reply_discovery(r, doc);
    } else if (n == 3 && !strcmp(seg[0], "apis") && api_review_group(seg[1])) {
        json_t *doc = api_review_resource_list(seg[1], seg[2]);
        if (doc)
            reply_discovery(r, doc);
        else
            not_found(r);
    } else if (n == 4 && !strcmp(seg[0], "apis") && api_review_group(seg[1]) && !strcmp(seg[2], "v1")) {
        auth_user_t user;
        char msg[256];
        int code = auth_check(r->req, "create", seg[3], NULL, &user, msg, sizeof(msg));
        if (code)
            api_reply_status(r, code, NULL, NULL, "%s", msg);
        else if (read_body(r) == 0)
            api_handle_review(r, seg[1], seg[3], &user);
    }
    else if (n == 2 && !strcmp(seg[0], "apis")) {
        json_t *doc = group_entry(seg[1]);
        if (json_array_size(json_object_get(doc, "versions")) == 0) {
            json_decref(doc);
            not_found(r);
        } else {
            reply_discovery(r, doc);
        }
    }
    else if (n == 3 && !strcmp(seg[0], "apis")) {
        json_t *doc = resource_list(seg[1], seg[2]);
        if (json_array_size(json_object_get(doc, "resources")) == 0) {
            json_decref(doc);
            not_found(r);
        } else {
            reply_discovery(r, doc);
        }
    } else if (n == 2 && !strcmp(seg[0], "openapi") && !strcmp(seg[1], "v2") && method == EVHTTP_REQ_GET) {
        serve_openapi_v2(r);
    } else if (n >= 2 && !strcmp(seg[0], "openapi") && !strcmp(seg[1], "v3") && method == EVHTTP_REQ_GET) {
        if (n == 2) {
            reply_discovery(r, openapi_index());
        } else {
            char gvpath[512] = "";
            for (int i = 2; i < n; i++)
                snprintf(gvpath + strlen(gvpath), sizeof(gvpath) - strlen(gvpath), "%s%s",
                         i > 2 ? "/" : "", seg[i]);
            json_t *doc = openapi_gv(gvpath);
            if (json_object_size(json_object_get(doc, "paths")) == 0) {
                json_decref(doc);
                not_found(r);
            } else {
                reply_discovery(r, doc);
            }
        }
    } else if (n >= 3 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1"))
        route_resource(r, "", "v1", seg + 2, n - 2, method);
    else if (n >= 4 && !strcmp(seg[0], "apis"))
        route_resource(r, seg[1], seg[2], seg + 3, n - 3, method);
    else
        not_found(r);

    for (int i = 0; i < n; i++)
        free(seg[i]);
}

/* ---- setup ------------------------------------------------------------------------- */

static void ensure_reply(api_req_t *r, int code, const char *body, size_t len)
{
    if (code != 201 && code != 409)
        log_warn("could not create namespace %s: HTTP %d", r->name ? r->name : "?", code);
}

void api_ensure_namespaces(api_server_t *srv)
{
    static const char *const names[] = { "default", "kube-system", "kube-public", "kube-node-lease" };
    const kind_t *k = kinds_find("", "v1", "namespaces");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        api_req_t *r = calloc(1, sizeof(*r));
        if (!r)
            return;
        r->srv = srv;
        r->kind = k;
        r->verb = VERB_CREATE;
        r->started = util_now_us();
        r->done = ensure_reply;
        r->body = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                            "metadata", "name", names[i]);
        r->name = strdup(names[i]);
        api_handle_create(r);
    }
}

/* A listener on host:port with the largest backlog the kernel allows, for evhttp.
 * evhttp_bind_socket listens with 128: every client request comes on a connection of its
 * own (apiclient.h), so a burst (the scheduler binding, the controllers creating, the agents
 * reporting) overflowed it, the kernel dropped the SYNs, and each dropped client waited out
 * the one-second SYN retransmission. NULL on failure (errno set when the system said why). */
#define API_LISTEN_BACKLOG 4096   /* the kernel caps it at net.core.somaxconn */

static struct evconnlistener *api_listener(struct event_base *base, const char *host, int port)
{
    struct evutil_addrinfo hints, *ai = NULL;
    struct evconnlistener *lev = NULL;
    char portstr[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_PASSIVE;
    snprintf(portstr, sizeof(portstr), "%d", port);
    errno = 0;
    if (evutil_getaddrinfo(*host ? host : NULL, portstr, &hints, &ai) != 0 || !ai)
        return NULL;
    lev = evconnlistener_new_bind(base, NULL, NULL,
                                  LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE,
                                  API_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    return lev;
}

int api_server_init(api_server_t *srv, struct event_base *base, store_t *store, watch_hub_t *hub,
                    const char *listen_addr)
{
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    int port;

    memset(srv, 0, sizeof(*srv));
    srv->base = base;
    srv->store = store;
    srv->hub = hub;
    srv->listen_addr = listen_addr;
    if (!colon || (size_t)(colon - listen_addr) >= sizeof(host)) {
        log_error("--listen %s: expected HOST:PORT", listen_addr);
        return -1;
    }
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = '\0';
    if (host[0] == '[') {   /* [::1]:6443 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    port = atoi(colon + 1);
    srv->http = evhttp_new(base);
    if (!srv->http)
        return -1;
    /* Bodies up to a generous bound are read so that oversized ones get a proper Status
     * (413) from us; beyond it evhttp drops the connection. */
    evhttp_set_max_body_size(srv->http, 8 * API_MAX_BODY);
    evhttp_set_max_headers_size(srv->http, 1024 * 1024);
    evhttp_set_timeout(srv->http, 3600);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(srv->http, dispatch, srv);
    struct evconnlistener *lev = api_listener(base, host, port);
    if (!lev || !evhttp_bind_listener(srv->http, lev)) {
        int e = errno;
        if (lev)
            evconnlistener_free(lev);
        log_error("cannot listen on %s: %s", listen_addr, e ? strerror(e) : "no such address");
        return -1;
    }
    metrics_describe("apiserver_request_total", "counter",
                     "Requests by verb, resource, subresource and HTTP code.");
    metrics_describe("apiserver_request_duration_seconds", "histogram",
                     "Request latency by verb and resource (watches: until the stream starts).");
    metrics_describe("apiserver_longrunning_requests", "gauge", "Open watch streams.");
    metrics_describe("berth_store_request_duration_seconds", "histogram",
                     "Latency of calls to the Redis store by operation.");
    metrics_describe("berth_store_up", "gauge", "1 while the Redis store is connected.");
    return 0;
}

void api_server_release(api_server_t *srv)
{
    api_metrics_free(srv->metrics);
    srv->metrics = NULL;
    api_reaper_release(srv);
    if (srv->reaper)
        event_free(srv->reaper);
    if (srv->http)
        evhttp_free(srv->http);
    listcache_free(srv->lists);
    srv->lists = NULL;
}
