/* api_read.c: get and list, as JSON (stored bytes sent as they are) or as Tables. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "api.h"
#include "selector.h"
#include "table.h"
#include "util.h"
#include "jsonload.h"
#include "jsondump.h"

/* ---- get --------------------------------------------------------------------------- */

static void get_done(const store_result_t *res, void *priv)
{
    api_req_t *r = priv;
    if (res->status == STORE_NOT_FOUND)
        return api_reply_not_found(r, r->kind, r->name);
    if (res->status != STORE_OK)
        return api_reply_store_error(r, res, res->errstr);
    if (!api_wants_table(r))
        return api_reply(r, 200, "application/json", res->data, res->len);
    json_t *obj = jsonload(res->data, res->len, 0, NULL);
    if (!obj)
        return api_reply_status(r, 500, "InternalError", NULL, "stored object is not valid JSON");
    json_t *rows = json_array();
    json_array_append_new(rows,
                          table_row(r->kind->columns, obj, time(NULL), api_table_include(r)));
    api_reply_json(r, 200, api_table_wrap(r->kind, rows, json_str(json_object_get(obj, "metadata"),
                                                                 "resourceVersion"), 1));
    json_decref(obj);
}

void api_handle_get(api_req_t *r)
{
    if (store_get(r->srv->store, r->kind, r->ns, r->name, get_done, r) != 0)
        api_reply_store_error(r, NULL, "not connected");
}

static void scale_get_done(const store_result_t *res, void *priv)
{
    api_req_t *r = priv;
    if (res->status == STORE_NOT_FOUND)
        return api_reply_not_found(r, r->kind, r->name);
    if (res->status != STORE_OK)
        return api_reply_store_error(r, res, res->errstr);
    json_t *obj = jsonload(res->data, res->len, 0, NULL);
    if (!obj)
        return api_reply_status(r, 500, "InternalError", NULL, "stored object is not valid JSON");
    api_reply_json(r, 200, api_scale_from(r->kind, obj));
    json_decref(obj);
}

void api_handle_scale_get(api_req_t *r)
{
    if (store_get(r->srv->store, r->kind, r->ns, r->name, scale_get_done, r) != 0)
        api_reply_store_error(r, NULL, "not connected");
}

/* ---- list -------------------------------------------------------------------------- */

static void list_op_free(list_op_t *op)
{
    if (!op)
        return;
    label_selector_free(op->labels);
    field_selector_free(op->fields);
    free(op->start);
    free(op);
}

static char *continue_token(uint64_t rv, const char *key, size_t keylen)
{
    json_t *t = json_pack("{s:s,s:I,s:s%}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start",
                          key, keylen);
    char *s = jsondump(t, JSON_COMPACT), *b = s ? util_base64(s, strlen(s)) : NULL;
    free(s);
    json_decref(t);
    return b;
}

static int parse_continue(const char *token, uint64_t *rv, char **start)
{
    size_t len;
    unsigned char *raw = util_base64_decode(token, &len);
    json_t *t = raw ? jsonload((const char *)raw, len, 0, NULL) : NULL;
    free(raw);
    json_t *jrv = json_object_get(t, "rv");
    const char *s = json_str(t, "start");
    int ok = json_is_integer(jrv) && json_integer_value(jrv) > 0 && s;
    if (ok) {
        *rv = (uint64_t)json_integer_value(jrv);
        *start = strdup(s);
    }
    json_decref(t);
    return ok ? 0 : -1;
}

/* resourceVersion=0 without a continue token: kube-apiserver answers it from its watch
 * cache, whole, whatever the limit (client-go informers start so); with a token it pages.
 * The list cache does the same (listcache_list_any). */
static int list_answered_whole(const list_op_t *op)
{
    return op->rv_any && !op->start;
}

static void list_done(const store_list_t *list, void *priv)
{
    api_req_t *r = priv;
    list_op_t *op = r->op;
    int table = api_wants_table(r);
    int filtering = !label_selector_empty(op->labels) || !field_selector_empty(op->fields);
    uint64_t rv;
    char rvs[32], *cont = NULL;
    size_t count = 0, *chosen = NULL;
    json_t **parsed = NULL;
    int more = 0;

    r->op = NULL;
    if (list->status != STORE_OK) {
        list_op_free(op);
        return api_reply_store_error(r, NULL, list->errstr);
    }
    if (op->token_rv && list->modrv > op->token_rv) {
        /* Redis keeps no old versions: once the kind changed, the pages after the first can
         * no longer show the first page's snapshot. Kubernetes answers the same after an etcd
         * compaction; clients start the list again. */
        list_op_free(op);
        return api_reply_status(r, 410, "Expired", NULL,
                                "The provided continue parameter is too old to display a "
                                "consistent list result. You can start a new list without the "
                                "continue parameter.");
    }
    rv = op->token_rv ? op->token_rv : list->rv;
    if (op->min_rv > rv) {
        uint64_t asked = op->min_rv;
        list_op_free(op);
        return api_reply_status(r, 504, "Timeout", json_pack("{s:[{s:s,s:s}],s:i}", "causes",
                                "reason", "ResourceVersionTooLarge", "message",
                                "Too large resource version", "retryAfterSeconds", 1),
                                "Too large resource version: %" PRIu64 ", current: %" PRIu64,
                                asked, rv);
    }
    snprintf(rvs, sizeof(rvs), "%" PRIu64, rv);
    size_t limit = list_answered_whole(op) && list->cached ? 0 : op->limit;

    /* Choose the items first, so the continue token is known before the body is written
     * and the stored bytes are copied exactly once. */
    chosen = malloc((list->n ? list->n : 1) * sizeof(size_t));
    if (filtering || table)
        parsed = calloc(list->n ? list->n : 1, sizeof(json_t *));
    if (!chosen || ((filtering || table) && !parsed)) {
        free(chosen);
        free(parsed);
        list_op_free(op);
        return api_reply_status(r, 500, "InternalError", NULL, "out of memory");
    }
    for (size_t i = 0; i < list->n; i++) {
        const store_item_t *it = &list->items[i];
        if (filtering && !table && list->cached) {
            /* The cache keeps what selectors match against: no parse per list. */
            const json_t *m = listcache_match(r->kind, &list->items[i]);
            if (!m || !label_selector_match(op->labels, json_object_get(json_object_get(m, "metadata"), "labels")) ||
                !field_selector_match(op->fields, m))
                continue;
        } else if (parsed) {
            parsed[i] = jsonload(it->data, it->len, 0, NULL);
            json_t *md = json_object_get(parsed[i], "metadata");
            if (!parsed[i] || !label_selector_match(op->labels, json_object_get(md, "labels")) ||
                !field_selector_match(op->fields, parsed[i]))
                continue;
        }
        if (limit && count == limit) {
            more = 1;
            break;
        }
        chosen[count++] = i;
    }
    if (!filtering && list->more)
        more = 1;
    if (more && count)
        cont = continue_token(rv, list->items[chosen[count - 1]].key,
                              list->items[chosen[count - 1]].keylen);

    if (table) {
        json_t *rows = json_array();
        time_t now = time(NULL);
        table_include_t include = api_table_include(r);
        for (size_t j = 0; j < count; j++)
            json_array_append_new(rows, table_row(r->kind->columns, parsed[chosen[j]], now, include));
        json_t *t = api_table_wrap(r->kind, rows, rvs, 1);
        if (cont)
            json_object_set_new(json_object_get(t, "metadata"), "continue", json_string(cont));
        api_reply_json(r, 200, t);
    } else {
        struct evbuffer *out = evbuffer_new();
        evbuffer_add_printf(out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%s\"",
                            r->kind->list_kind, r->kind->group_version, rvs);
        if (cont)
            evbuffer_add_printf(out, ",\"continue\":\"%s\"", cont);
        evbuffer_add(out, "},\"items\":[", 11);
        for (size_t j = 0; j < count; j++) {
            const store_item_t *it = &list->items[chosen[j]];
            if (j)
                evbuffer_add(out, ",", 1);
            evbuffer_add(out, it->data, it->len);
        }
        evbuffer_add(out, "]}", 2);
        api_reply_buffer(r, 200, "application/json", out);
    }
    if (parsed)
        for (size_t i = 0; i < list->n; i++)
            json_decref(parsed[i]);
    free(parsed);
    free(chosen);
    free(cont);
    list_op_free(op);
}

/* Parse the list parameters shared by list, watch and deletecollection. Replies with 400
 * and returns NULL on a bad one. */
list_op_t *api_list_params(api_req_t *r)
{
    char err[512];
    list_op_t *op = calloc(1, sizeof(*op));
    const char *v;

    if (!op) {
        api_reply_status(r, 500, "InternalError", NULL, "out of memory");
        return NULL;
    }
    op->labels = label_selector_parse(api_query(r, "labelSelector"), err, sizeof(err));
    if (!op->labels) {
        list_op_free(op);
        api_reply_status(r, 400, "BadRequest", NULL, "unable to parse requirement: %s", err);
        return NULL;
    }
    op->fields = field_selector_parse(api_query(r, "fieldSelector"), r->kind->field_selectors,
                                      err, sizeof(err));
    if (!op->fields) {
        list_op_free(op);
        api_reply_status(r, 400, "BadRequest", NULL, "%s", err);
        return NULL;
    }
    if ((v = api_query(r, "limit")) && *v) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (*end || n < 0) {
            list_op_free(op);
            api_reply_status(r, 400, "BadRequest", NULL, "limit: Invalid value: \"%s\": must be a non-negative integer", v);
            return NULL;
        }
        op->limit = (size_t)n;
    }
    if ((v = api_query(r, "continue")) && *v) {
        if (parse_continue(v, &op->token_rv, &op->start) != 0) {
            list_op_free(op);
            api_reply_status(r, 400, "BadRequest", NULL, "continue key is not valid: %s", v);
            return NULL;
        }
    }
    if ((v = api_query(r, "resourceVersion")) && *v) {
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        if (*end) {
            list_op_free(op);
            api_reply_status(r, 400, "BadRequest", NULL,
                             "resourceVersion: Invalid value: \"%s\": must be a non-negative integer", v);
            return NULL;
        }
        op->min_rv = n;
        op->rv_given = n != 0;
        op->rv_any = n == 0;
    }
    /* A field selector that pins the namespace narrows an all-namespaces list. */
    const char *pinned = field_selector_namespace(op->fields);
    if (pinned && !r->ns && r->kind->namespaced)
        r->ns = strdup(pinned);
    return op;
}

void api_list_params_free(list_op_t *op)
{
    list_op_free(op);
}

void api_handle_list(api_req_t *r)
{
    list_op_t *op = api_list_params(r);
    if (!op)
        return;
    int filtering = !label_selector_empty(op->labels) || !field_selector_empty(op->fields);
    r->op = op;
    size_t limit = filtering ? 0 : op->limit;
    int rc;
    if (!r->srv->lists)
        rc = store_list(r->srv->store, r->kind, r->ns, op->start, limit, list_done, r);
    else if (list_answered_whole(op))
        rc = listcache_list_any(r->srv->lists, r->kind, r->ns, limit, list_done, r);
    else
        rc = listcache_list(r->srv->lists, r->kind, r->ns, op->start, limit, list_done, r);
    if (rc != 0) {
        r->op = NULL;
        list_op_free(op);
        api_reply_store_error(r, NULL, "not connected");
    }
}
