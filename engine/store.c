/* store.c: see store.h. Its Lua scripts (store_scripts.h) are the only code that writes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "store.h"
#include "store_scripts.h"
#include "util.h"

enum { SCRIPT_WRITE, SCRIPT_LIST, SCRIPT_RANGE, SCRIPT_DELTA, SCRIPT_N };
static const char *const scripts[SCRIPT_N] = { write_lua, list_lua, range_lua, delta_lua };
static char script_sha[SCRIPT_N][41];

#define CALL_TIMEOUT_US (10 * 1000000ull)   /* a Redis that stops answering for this long is
                                               treated as down */

typedef struct call_s call_t;

struct store_s {
    rconn_t *conn;
    call_t *oldest, *newest;    /* calls in flight, in the order they were sent */
    struct event *sweep;
    char *url;
    long window;
    store_state_cb *state_cb;
    void *state_priv;
    unsigned generation;        /* connections made so far */
};

static char rv_placeholder[48];

const char *store_rv_placeholder(void)
{
    return rv_placeholder;
}

void store_field(const kind_t *k, const char *ns, const char *name, char *out, size_t outlen)
{
    if (k->namespaced && ns && *ns)
        snprintf(out, outlen, "%s/%s", ns, name);
    else
        snprintf(out, outlen, "%s", name);
}

void store_key(const char *what, const kind_t *k, char *out, size_t outlen)
{
    snprintf(out, outlen, "berth:%s:%s", what, k->store_key);
}

static void load_reply(rconn_t *c, redisReply *r, void *priv)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("redis: SCRIPT LOAD failed: %s", r->str);
}

static void load_scripts(store_t *s)
{
    for (int i = 0; i < SCRIPT_N; i++)
        rconn_command(s->conn, load_reply, s, "SCRIPT LOAD %s", scripts[i]);
}

static void on_state(rconn_t *c, int up, void *priv)
{
    store_t *s = priv;
    /* Scripts are queued ahead of every later command on this connection, so EVALSHA
     * never races a Redis that restarted with an empty script cache. */
    if (up) {
        load_scripts(s);
        s->generation++;
    }
    if (s->state_cb)
        s->state_cb(up, s->state_priv);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg);

store_t *store_create(struct event_base *base, const char *url, long window, char *err,
                      size_t errlen)
{
    store_t *s = calloc(1, sizeof(*s));
    unsigned char digest[SHA_DIGEST_LENGTH];
    char nonce[17];

    if (!s)
        return NULL;
    for (int i = 0; i < SCRIPT_N; i++) {
        SHA1((const unsigned char *)scripts[i], strlen(scripts[i]), digest);
        for (int j = 0; j < SHA_DIGEST_LENGTH; j++)
            sprintf(&script_sha[i][j * 2], "%02x", digest[j]);
    }
    util_random_suffix(nonce, 16);
    snprintf(rv_placeholder, sizeof(rv_placeholder), "berth-rv-%s", nonce);
    s->window = window > 0 ? window : 100000;
    s->url = strdup(url);
    s->conn = rconn_create(base, url, "store", err, errlen);
    if (!s->conn) {
        free(s->url);
        free(s);
        return NULL;
    }
    rconn_set_state_cb(s->conn, on_state, s);
    s->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, s);
    if (s->sweep) {
        struct timeval tv = { 1, 0 };
        evtimer_add(s->sweep, &tv);
    }
    return s;
}

void store_free(store_t *s)
{
    if (!s)
        return;
    s->state_cb = NULL;
    if (s->sweep)
        event_free(s->sweep);
    rconn_free(s->conn);
    free(s->url);
    free(s);
}

int store_is_up(const store_t *s)
{
    return rconn_is_up(s->conn);
}

const char *store_url(const store_t *s)
{
    return s->url;
}

unsigned store_generation(const store_t *s)
{
    return s->generation;
}

void store_set_state_cb(store_t *s, store_state_cb *cb, void *privdata)
{
    s->state_cb = cb;
    s->state_priv = privdata;
}

/* ---- calls ------------------------------------------------------------------------- */

struct call_s {
    store_t *store;
    call_t *prev, *next;     /* in store's in-flight list */
    const char *op;          /* for metrics */
    uint64_t started;
    store_cb *cb;
    store_list_cb *list_cb;
    store_raw_cb *raw_cb;
    store_delta_cb *delta_cb;
    store_scan_cb *scan_cb;
    void *privdata;
    char *prefix, *suffix;   /* writes: the object around its resourceVersion */
    size_t prefix_len, suffix_len;
    /* namespace lists: keys read in the first transaction */
    const kind_t *kind;
    char *ns;
    char **keys;
    size_t nkeys;
    uint64_t rv, modrv;
    int attempts;
};

static call_t *call_new(store_t *s, const char *op, void *privdata)
{
    call_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->store = s;
    c->op = op;
    c->privdata = privdata;
    c->started = util_now_us();
    c->prev = s->newest;
    if (s->newest)
        s->newest->next = c;
    else
        s->oldest = c;
    s->newest = c;
    return c;
}

static void call_free(call_t *c)
{
    store_t *s = c->store;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->oldest = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->newest = c->prev;
    char labels[64];
    snprintf(labels, sizeof(labels), "operation=\"%s\"", c->op);
    metrics_observe("berth_store_request_duration_seconds", labels,
                    (double)(util_now_us() - c->started) / 1e6);
    free(c->prefix);
    free(c->suffix);
    free(c->ns);
    for (size_t i = 0; i < c->nkeys; i++)
        free(c->keys[i]);
    free(c->keys);
    free(c);
}

/* Once a second: if the oldest call has waited too long, Redis is hung (not merely slow):
 * drop the connection so every waiting request fails with 503 instead of hanging. */
static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    store_t *s = arg;
    if (s->oldest && util_now_us() - s->oldest->started > CALL_TIMEOUT_US) {
        log_error("redis store: no reply for %llu s: dropping the connection",
                  (unsigned long long)(CALL_TIMEOUT_US / 1000000));
        rconn_abort(s->conn);
    }
}

/* A reply that is not what the script returns means Redis is not the store we expect
 * (or the connection broke): report it, never guess. */
static store_status_t reply_failure(redisReply *r, const char **errstr)
{
    if (!r) {
        *errstr = "the connection to Redis was lost";
        return STORE_UNAVAILABLE;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        *errstr = r->str;
        if (!strncmp(r->str, "NOSCRIPT", 8) || !strncmp(r->str, "LOADING", 7) ||
            !strncmp(r->str, "BUSY", 4) || !strncmp(r->str, "READONLY", 8) ||
            !strncmp(r->str, "MASTERDOWN", 10))
            return STORE_UNAVAILABLE;
        return STORE_ERROR;
    }
    *errstr = "unexpected reply from Redis";
    return STORE_ERROR;
}

static void get_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_result_t res = { 0 };
    if (r && r->type == REDIS_REPLY_STRING) {
        res.status = STORE_OK;
        res.data = r->str;
        res.len = (size_t)r->len;
    } else if (r && r->type == REDIS_REPLY_NIL) {
        res.status = STORE_NOT_FOUND;
    } else {
        res.status = reply_failure(r, &res.errstr);
    }
    c->cb(&res, c->privdata);
    call_free(c);
}

int store_get(store_t *s, const kind_t *k, const char *ns, const char *name, store_cb *cb,
              void *privdata)
{
    char key[512], field[512];
    call_t *c = call_new(s, "get", privdata);
    if (!c)
        return -1;
    c->cb = cb;
    store_key("o", k, key, sizeof(key));
    store_field(k, ns, name, field, sizeof(field));
    if (rconn_command(s->conn, get_reply, c, "HGET %s %s", key, field) != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

static uint64_t reply_u64(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return (uint64_t)r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoull(r->str, NULL, 10);
    return 0;
}

static void list_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_list_t list = { 0 };
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && (r->elements - 3) % 2 == 0) {
        size_t n = (r->elements - 3) / 2;
        list.rv = reply_u64(r->element[0]);
        list.modrv = reply_u64(r->element[1]);
        list.more = reply_u64(r->element[2]) != 0;
        list.items = calloc(n ? n : 1, sizeof(store_item_t));
        if (!list.items) {
            list.status = STORE_ERROR;
            list.errstr = "out of memory";
        } else {
            for (size_t i = 0; i < n; i++) {
                redisReply *kr = r->element[3 + 2 * i], *vr = r->element[4 + 2 * i];
                /* A nil value cannot happen inside one script; skip it rather than crash. */
                if (kr->type != REDIS_REPLY_STRING || vr->type != REDIS_REPLY_STRING)
                    continue;
                list.items[list.n].key = kr->str;
                list.items[list.n].keylen = (size_t)kr->len;
                list.items[list.n].data = vr->str;
                list.items[list.n].len = (size_t)vr->len;
                list.n++;
            }
        }
    } else {
        list.status = reply_failure(r, &list.errstr);
    }
    c->list_cb(&list, c->privdata);
    free(list.items);
    call_free(c);
}

int store_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

int store_item_cmp(const void *a, const void *b)
{
    const store_item_t *x = a, *y = b;
    return store_key_cmp(x->key, x->keylen, y->key, y->keylen);
}

static void ignore_reply(rconn_t *conn, redisReply *r, void *priv)
{
}

/* list->items from an HGETALL/HSCAN array of field, value, ...: borrowed from h. */
static void items_from_pairs(store_list_t *list, const redisReply *h)
{
    list->items = calloc(h->elements / 2 + 1, sizeof(store_item_t));
    if (!list->items) {
        list->status = STORE_ERROR;
        list->errstr = "out of memory";
        return;
    }
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *kr = h->element[i], *vr = h->element[i + 1];
        if (kr->type != REDIS_REPLY_STRING || vr->type != REDIS_REPLY_STRING)
            continue;
        list->items[list->n].key = kr->str;
        list->items[list->n].keylen = (size_t)kr->len;
        list->items[list->n].data = vr->str;
        list->items[list->n].len = (size_t)vr->len;
        list->n++;
    }
}

/* The reply to MULTI / GET rv / HGET lastwrite / HGETALL / EXEC: one snapshot, sorted
 * here. */
static void list_all_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_list_t list = { 0 };
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[2]->type == REDIS_REPLY_ARRAY) {
        redisReply *h = r->element[2];
        list.rv = reply_u64(r->element[0]);
        list.modrv = reply_u64(r->element[1]);
        items_from_pairs(&list, h);
        if (list.items)
            qsort(list.items, list.n, sizeof(store_item_t), store_item_cmp);
    } else {
        list.status = reply_failure(r, &list.errstr);
    }
    c->list_cb(&list, c->privdata);
    free(list.items);
    call_free(c);
}

/* A whole kind across namespaces without limit: MULTI/EXEC around HGETALL is one
 * consistent snapshot like the script, but Redis does not convert 2n values through Lua
 * tables, which dominates for large lists. */
static int list_all(store_t *s, const kind_t *k, call_t *c)
{
    char okey[512];
    store_key("o", k, okey, sizeof(okey));
    if (rconn_command(s->conn, ignore_reply, NULL, "MULTI") != 0)
        return -1;
    rconn_command(s->conn, ignore_reply, NULL, "GET berth:rv");
    rconn_command(s->conn, ignore_reply, NULL, "HGET berth:m %s", k->store_key);
    rconn_command(s->conn, ignore_reply, NULL, "HGETALL %s", okey);
    return rconn_command(s->conn, list_all_reply, c, "EXEC");
}

/* A page (or a fallback): the list script, sorted ranges of the index. c is sent or freed. */
static int list_script(store_t *s, const kind_t *k, const char *ns, const char *start_after,
                       size_t limit, call_t *c)
{
    char okey[512], ikey[512], lim[32], min[600], max[600];
    const char *argv[11];
    size_t argvlen[11];
    store_key("o", k, okey, sizeof(okey));
    store_key("i", k, ikey, sizeof(ikey));
    /* Keys of one namespace are the range ["<ns>/", "<ns>0"): '0' follows '/' in ASCII. */
    if (ns && *ns && k->namespaced) {
        snprintf(min, sizeof(min), "[%s/", ns);
        snprintf(max, sizeof(max), "(%s0", ns);
    } else {
        snprintf(min, sizeof(min), "-");
        snprintf(max, sizeof(max), "+");
    }
    if (start_after && *start_after)
        snprintf(min, sizeof(min), "(%s", start_after);
    snprintf(lim, sizeof(lim), "%zu", limit);
    argv[0] = "EVALSHA";
    argv[1] = script_sha[SCRIPT_LIST];
    argv[2] = "4";
    argv[3] = okey;
    argv[4] = ikey;
    argv[5] = "berth:rv";
    argv[6] = "berth:m";
    argv[7] = min;
    argv[8] = max;
    argv[9] = lim;
    argv[10] = k->store_key;
    for (int i = 0; i < 11; i++)
        argvlen[i] = strlen(argv[i]);
    return rconn_command_argv(s->conn, list_reply, c, 11, argv, argvlen);
}


static int list_ns_keys(store_t *s, call_t *c);

static void list_ns_vals_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_list_t list = { 0 };
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == c->nkeys) {
        if (reply_u64(r->element[1]) != c->modrv) {
            /* The kind changed between the two reads: read again, then let the script do
             * it in one step. */
            for (size_t i = 0; i < c->nkeys; i++)
                free(c->keys[i]);
            free(c->keys);
            c->keys = NULL;
            c->nkeys = 0;
            if (++c->attempts < 3 ? list_ns_keys(c->store, c) : list_script(c->store, c->kind, c->ns, NULL, 0, c))
                goto failed;
            return;
        }
        redisReply *v = r->element[0];
        list.rv = c->rv;
        list.modrv = c->modrv;
        list.items = calloc(c->nkeys, sizeof(store_item_t));
        for (size_t i = 0; list.items && i < c->nkeys; i++) {
            if (v->element[i]->type != REDIS_REPLY_STRING)
                continue;
            list.items[list.n].key = c->keys[i];
            list.items[list.n].keylen = strlen(c->keys[i]);
            list.items[list.n].data = v->element[i]->str;
            list.items[list.n].len = (size_t)v->element[i]->len;
            list.n++;
        }
        if (!list.items) {
            list.status = STORE_ERROR;
            list.errstr = "out of memory";
        }
    } else {
        list.status = reply_failure(r, &list.errstr);
    }
    c->list_cb(&list, c->privdata);
    free(list.items);
    call_free(c);
    return;
failed:
    list.status = STORE_UNAVAILABLE;
    list.errstr = "the connection to Redis was lost";
    c->list_cb(&list, c->privdata);
    call_free(c);
}

static void list_ns_keys_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_list_t list = { 0 };
    char okey[512];
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_ARRAY) {
        list.status = reply_failure(r, &list.errstr);
        goto reply;
    }
    c->rv = reply_u64(r->element[0]);
    c->modrv = reply_u64(r->element[1]);
    redisReply *keys = r->element[2];
    if (keys->elements == 0) {
        list.rv = c->rv;
        list.modrv = c->modrv;
        goto reply;
    }
    c->keys = calloc(keys->elements, sizeof(char *));
    const char **argv = calloc(keys->elements + 2, sizeof(char *));
    size_t *argvlen = calloc(keys->elements + 2, sizeof(size_t));
    if (!c->keys || !argv || !argvlen) {
        free(argv);
        free(argvlen);
        list.status = STORE_ERROR;
        list.errstr = "out of memory";
        goto reply;
    }
    store_key("o", c->kind, okey, sizeof(okey));
    argv[0] = "HMGET";
    argv[1] = okey;
    for (size_t i = 0; i < keys->elements; i++) {
        c->keys[i] = strndup(keys->element[i]->str, (size_t)keys->element[i]->len);
        argv[i + 2] = c->keys[i] ? c->keys[i] : "";
        c->nkeys++;
    }
    for (size_t i = 0; i < keys->elements + 2; i++)
        argvlen[i] = strlen(argv[i]);
    /* Commands sent from a reply callback still go out in order, back to back. */
    int rc = rconn_command(c->store->conn, ignore_reply, NULL, "MULTI");
    if (rc == 0)
        rc = rconn_command_argv(c->store->conn, ignore_reply, NULL, (int)(keys->elements + 2), argv,
                                argvlen);
    if (rc == 0)
        rc = rconn_command(c->store->conn, ignore_reply, NULL, "HGET berth:m %s", c->kind->store_key);
    if (rc == 0)
        rc = rconn_command(c->store->conn, list_ns_vals_reply, c, "EXEC");
    free(argv);
    free(argvlen);
    if (rc == 0)
        return;
    list.status = STORE_UNAVAILABLE;
    list.errstr = "the connection to Redis was lost";
reply:
    c->list_cb(&list, c->privdata);
    call_free(c);
}

/* One namespace without limit, in two native transactions: the keys of its index range
 * (with the snapshot's resourceVersion), then their values. The kind's last-write version
 * read in both tells whether anything changed in between; if so, read again. Cheaper than
 * the script, which moves every value through a Lua table. */
static int list_ns_keys(store_t *s, call_t *c)
{
    char ikey[512], min[600], max[600];
    store_key("i", c->kind, ikey, sizeof(ikey));
    snprintf(min, sizeof(min), "[%s/", c->ns);
    snprintf(max, sizeof(max), "(%s0", c->ns);
    if (rconn_command(s->conn, ignore_reply, NULL, "MULTI") != 0)
        return -1;
    rconn_command(s->conn, ignore_reply, NULL, "GET berth:rv");
    rconn_command(s->conn, ignore_reply, NULL, "HGET berth:m %s", c->kind->store_key);
    rconn_command(s->conn, ignore_reply, NULL, "ZRANGEBYLEX %s %s %s", ikey, min, max);
    return rconn_command(s->conn, list_ns_keys_reply, c, "EXEC");
}

int store_list(store_t *s, const kind_t *k, const char *ns, const char *start_after,
               size_t limit, store_list_cb *cb, void *privdata)
{
    call_t *c = call_new(s, "list", privdata);
    int rc;
    if (!c)
        return -1;
    c->list_cb = cb;
    c->kind = k;
    if (limit || (start_after && *start_after))
        rc = list_script(s, k, ns, start_after, limit, c);
    else if (ns && *ns && k->namespaced) {
        c->ns = strdup(ns);
        rc = c->ns ? list_ns_keys(s, c) : -1;
    } else
        rc = list_all(s, k, c);
    if (rc != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

static void write_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_result_t res = { 0 };
    char *stored = NULL;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const char *st = r->element[0]->str;
        if (!strcmp(st, "ok") && r->elements == 2) {
            res.status = STORE_OK;
            res.rv = reply_u64(r->element[1]);
            /* prefix, the rv's digits, suffix: in one allocation, without printf's walk
             * over the two large strings. */
            char digits[24];
            int nd = snprintf(digits, sizeof(digits), "%" PRIu64, res.rv);
            size_t lp = c->prefix_len, ls = c->suffix_len;
            if ((stored = malloc(lp + (size_t)nd + ls + 1))) {
                memcpy(stored, c->prefix, lp);
                memcpy(stored + lp, digits, (size_t)nd);
                memcpy(stored + lp + nd, c->suffix, ls + 1);
            }
            res.data = stored;
            res.len = stored ? lp + (size_t)nd + ls : 0;
        } else if (!strcmp(st, "exists")) {
            res.status = STORE_EXISTS;
        } else if (!strcmp(st, "notfound")) {
            res.status = STORE_NOT_FOUND;
        } else if (!strcmp(st, "conflict")) {
            res.status = STORE_CONFLICT;
            res.rv = r->elements > 1 ? reply_u64(r->element[1]) : 0;
        } else if (!strcmp(st, "nsmissing")) {
            res.status = STORE_NS_MISSING;
        } else if (!strcmp(st, "nsterminating")) {
            res.status = STORE_NS_TERMINATING;
        } else if (!strcmp(st, "taken")) {
            res.status = STORE_TAKEN;
            res.claim = r->elements > 1 ? (size_t)reply_u64(r->element[1]) : 0;
        } else {
            res.status = STORE_ERROR;
            res.errstr = "unexpected reply from the write script";
        }
    } else {
        res.status = reply_failure(r, &res.errstr);
    }
    c->cb(&res, c->privdata);
    free(stored);
    call_free(c);
}

int store_write(store_t *s, const kind_t *k, store_op_t op, const char *ns, const char *name,
                uint64_t expect_rv, const char *json, const char *prev, const char *require_ns,
                store_cb *cb, void *privdata)
{
    return store_write_claims(s, k, op, ns, name, expect_rv, json, prev, require_ns, NULL, 0,
                              cb, privdata);
}

int store_write_claims(store_t *s, const kind_t *k, store_op_t op, const char *ns,
                       const char *name, uint64_t expect_rv, const char *json, const char *prev,
                       const char *require_ns, const store_claim_t *claims, size_t nclaims,
                       store_cb *cb, void *privdata)
{
    char okey[512], vkey[512], ikey[512], skey[512], field[512], expect[32], window[32], nc[32];
    const char *fixed[20], **argv = fixed;
    size_t fixedlen[20], *argvlen = fixedlen;
    const char *at = strstr(json, rv_placeholder);
    size_t argc = 20 + 3 * nclaims;
    call_t *c;
    int rc;

    if (!at)
        return -1;   /* a caller bug: the object lacks the placeholder */
    if (nclaims) {
        argv = calloc(argc, sizeof(*argv));
        argvlen = calloc(argc, sizeof(*argvlen));
        if (!argv || !argvlen) {
            free(argv);
            free(argvlen);
            return -1;
        }
    }
    c = call_new(s, op == STORE_CREATE ? "create" : op == STORE_UPDATE ? "update" : "delete",
                 privdata);
    if (!c)
        goto failed;
    c->cb = cb;
    c->prefix_len = (size_t)(at - json);
    c->suffix_len = strlen(at + strlen(rv_placeholder));
    c->prefix = strndup(json, c->prefix_len);
    c->suffix = strndup(at + strlen(rv_placeholder), c->suffix_len);
    if (!c->prefix || !c->suffix) {
        call_free(c);
        goto failed;
    }
    store_key("o", k, okey, sizeof(okey));
    store_key("v", k, vkey, sizeof(vkey));
    store_key("i", k, ikey, sizeof(ikey));
    store_key("s", k, skey, sizeof(skey));
    store_field(k, ns, name, field, sizeof(field));
    if (expect_rv)
        snprintf(expect, sizeof(expect), "%" PRIu64, expect_rv);
    else
        expect[0] = '\0';
    snprintf(window, sizeof(window), "%ld", s->window);
    snprintf(nc, sizeof(nc), "%zu", nclaims);
    /* EVALSHA sha numkeys KEYS[1..7] KEYS[8..7+n] ARGV[1..10] (slot, mode)... */
    size_t a = 0;
    argv[a++] = "EVALSHA";
    argv[a++] = script_sha[SCRIPT_WRITE];
    char numkeys[32];
    snprintf(numkeys, sizeof(numkeys), "%zu", 7 + nclaims);
    argv[a++] = numkeys;
    argv[a++] = okey;
    argv[a++] = vkey;
    argv[a++] = ikey;
    argv[a++] = skey;
    argv[a++] = "berth:rv";
    argv[a++] = "berth:m";
    argv[a++] = "berth:o:namespaces";
    for (size_t i = 0; i < nclaims; i++)
        argv[a++] = claims[i].table;
    argv[a++] = op == STORE_CREATE ? "c" : op == STORE_UPDATE ? "u" : "d";
    argv[a++] = field;
    argv[a++] = expect;
    argv[a++] = c->prefix;
    argv[a++] = c->suffix;
    argv[a++] = window;
    argv[a++] = nclaims ? nc : "";
    argv[a++] = prev ? prev : "";
    argv[a++] = require_ns ? require_ns : "";
    argv[a++] = k->store_key;
    for (size_t i = 0; i < nclaims; i++) {
        argv[a++] = claims[i].slot;
        argv[a++] = claims[i].release ? "r" : "t";
    }
    for (size_t i = 0; i < a; i++)
        argvlen[i] = strlen(argv[i]);
    rc = rconn_command_argv(s->conn, write_reply, c, (int)a, argv, argvlen);
    if (rc != 0)
        call_free(c);
    if (argv != fixed) {
        free(argv);
        free(argvlen);
    }
    return rc != 0 ? -1 : 0;
failed:
    if (argv != fixed) {
        free(argv);
        free(argvlen);
    }
    return -1;
}

static void rv_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_result_t res = { 0 };
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)) {
        res.status = STORE_OK;
        res.rv = r->type == REDIS_REPLY_NIL ? 0 : reply_u64(r);
    } else {
        res.status = reply_failure(r, &res.errstr);
    }
    c->cb(&res, c->privdata);
    call_free(c);
}

int store_current_rv(store_t *s, store_cb *cb, void *privdata)
{
    call_t *c = call_new(s, "rv", privdata);
    if (!c)
        return -1;
    c->cb = cb;
    if (rconn_command(s->conn, rv_reply, c, "GET berth:rv") != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

static void raw_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    c->raw_cb(r, c->privdata);
    call_free(c);
}

int store_stream_range(store_t *s, const kind_t *k, uint64_t after, size_t count,
                       store_raw_cb *cb, void *privdata)
{
    char skey[512];
    call_t *c = call_new(s, "range", privdata);
    if (!c)
        return -1;
    c->raw_cb = cb;
    char a[32], n[32];
    const char *argv[6];
    size_t argvlen[6];
    store_key("s", k, skey, sizeof(skey));
    /* argv, not a format: hiredis' formatter does not take every printf length modifier. */
    snprintf(a, sizeof(a), "%" PRIu64, after);
    snprintf(n, sizeof(n), "%zu", count);
    argv[0] = "EVALSHA";
    argv[1] = script_sha[SCRIPT_RANGE];
    argv[2] = "1";
    argv[3] = skey;
    argv[4] = a;
    argv[5] = n;
    for (int i = 0; i < 6; i++)
        argvlen[i] = strlen(argv[i]);
    if (rconn_command_argv(s->conn, raw_reply, c, 6, argv, argvlen) != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

int store_entry_parse(const struct redisReply *entry, store_change_t *ch)
{
    const redisReply *id, *f;
    const char *dash;
    memset(ch, 0, sizeof(*ch));
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2)
        return -1;
    id = entry->element[0];
    f = entry->element[1];
    if (id->type != REDIS_REPLY_STRING || f->type != REDIS_REPLY_ARRAY ||
        !(dash = strchr(id->str, '-')))
        return -1;
    ch->rv = strtoull(dash + 1, NULL, 10);
    ch->type = "MODIFIED";
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
        const redisReply *name = f->element[j], *v = f->element[j + 1];
        if (name->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || name->len != 1)
            continue;
        switch (name->str[0]) {
        case 't':
            if (v->len == 5 && !memcmp(v->str, "ADDED", 5))
                ch->type = "ADDED";
            else if (v->len == 7 && !memcmp(v->str, "DELETED", 7))
                ch->type = "DELETED";
            break;
        case 'k': ch->key = v->str, ch->keylen = (size_t)v->len; break;
        case 'o': ch->data = v->str, ch->len = (size_t)v->len; break;
        case 'p': ch->prev = v->str, ch->prevlen = (size_t)v->len; break;
        }
    }
    return ch->rv && ch->key && ch->data ? 0 : -1;
}

static void delta_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_delta_t d = { 0 };
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
        r->element[3]->type == REDIS_REPLY_ARRAY) {
        redisReply *entries = r->element[3];
        d.rv = reply_u64(r->element[0]);
        d.modrv = reply_u64(r->element[1]);
        d.complete = reply_u64(r->element[2]) != 0;
        d.changes = calloc(entries->elements + 1, sizeof(store_change_t));
        if (!d.changes) {
            d.status = STORE_ERROR;
            d.errstr = "out of memory";
        }
        for (size_t i = 0; d.changes && i < entries->elements; i++) {
            if (store_entry_parse(entries->element[i], &d.changes[d.n]) != 0)
                goto malformed;
            d.n++;
        }
    } else {
        d.status = reply_failure(r, &d.errstr);
    }
    c->delta_cb(&d, c->privdata);
    free(d.changes);
    call_free(c);
    return;
malformed:
    /* Not what the write script writes: someone else's stream. Never guess. */
    free(d.changes);
    memset(&d, 0, sizeof(d));
    d.status = STORE_ERROR;
    d.errstr = "malformed entry in the event stream";
    c->delta_cb(&d, c->privdata);
    call_free(c);
}

int store_list_delta(store_t *s, const kind_t *k, uint64_t after, size_t count,
                     store_delta_cb *cb, void *privdata)
{
    char skey[512], a[32], n[32];
    const char *argv[9];
    size_t argvlen[9];
    call_t *c = call_new(s, "delta", privdata);
    if (!c)
        return -1;
    c->delta_cb = cb;
    store_key("s", k, skey, sizeof(skey));
    snprintf(a, sizeof(a), "%" PRIu64, after);
    snprintf(n, sizeof(n), "%zu", count ? count : 1);
    argv[0] = "EVALSHA";
    argv[1] = script_sha[SCRIPT_DELTA];
    argv[2] = "3";
    argv[3] = skey;
    argv[4] = "berth:rv";
    argv[5] = "berth:m";
    argv[6] = a;
    argv[7] = n;
    argv[8] = k->store_key;
    for (int i = 0; i < 9; i++)
        argvlen[i] = strlen(argv[i]);
    if (rconn_command_argv(s->conn, delta_reply, c, 9, argv, argvlen) != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

static void scan_reply(rconn_t *conn, redisReply *r, void *priv)
{
    call_t *c = priv;
    store_list_t list = { 0 };
    const char *next = NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_ARRAY) {
        redisReply *h = r->element[1];
        next = r->element[0]->str;
        items_from_pairs(&list, h);
    } else {
        list.status = reply_failure(r, &list.errstr);
    }
    c->scan_cb(&list, next, c->privdata);
    free(list.items);
    call_free(c);
}

int store_scan(store_t *s, const kind_t *k, const char *cursor, size_t count, store_scan_cb *cb,
               void *privdata)
{
    char okey[512], n[32];
    const char *argv[5];
    size_t argvlen[5];
    call_t *c = call_new(s, "scan", privdata);
    if (!c)
        return -1;
    c->scan_cb = cb;
    store_key("o", k, okey, sizeof(okey));
    snprintf(n, sizeof(n), "%zu", count ? count : 1);
    argv[0] = "HSCAN";
    argv[1] = okey;
    argv[2] = cursor;
    argv[3] = "COUNT";
    argv[4] = n;
    for (int i = 0; i < 5; i++)
        argvlen[i] = strlen(argv[i]);
    if (rconn_command_argv(s->conn, scan_reply, c, 5, argv, argvlen) != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

int store_eval(store_t *s, const char *script, int nkeys, const char *const *keys, int nargs,
               const char *const *args, store_raw_cb *cb, void *privdata)
{
    char nk[16];
    int argc = 3 + nkeys + nargs, rc;
    const char **argv = calloc((size_t)argc, sizeof(*argv));
    size_t *argvlen = calloc((size_t)argc, sizeof(*argvlen));
    call_t *c = argv && argvlen ? call_new(s, "eval", privdata) : NULL;

    if (!c) {
        free(argv);
        free(argvlen);
        return -1;
    }
    c->raw_cb = cb;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    rc = rconn_command_argv(s->conn, raw_reply, c, argc, argv, argvlen);
    if (rc != 0)
        call_free(c);
    free(argv);
    free(argvlen);
    return rc != 0 ? -1 : 0;
}
