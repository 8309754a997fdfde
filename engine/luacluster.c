/* luacluster.c: see luacluster.h. One luacluster_t holds the informers, the committed
 * actions (a FIFO of pending ones and a short list in flight) and a list of per-VM states.
 * A per-VM state (lcvm_t) lives in a full userdata of its VM: its conversion cache and its
 * queue of uncommitted actions; the userdata's __gc unlinks and frees it when the VM closes.
 * Creates committed with LUACLUSTER_SLOW_START wait in a slow-start group (lc_group_t) and go
 * to the pending FIFO a batch at a time. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "kinds.h"
#include "log.h"
#include "eventcorr.h"
#include "luacluster.h"
#include "luavm.h"
#include "luajson.h"
#include "metrics.h"
#include "selector.h"
#include "util.h"
#include "jsonload.h"

#define M_FAILURES   "berth_lua_cluster_action_failures_total"
#define LC_UDATA_MT  "berth.cluster.vm"
#define LC_SEG_MAX   96      /* group, version, plural, subresource */
#define LC_NAME_MAX  253     /* namespace and object names */
#define LC_PATH_MAX  (2 * LC_NAME_MAX + 4 * LC_SEG_MAX + 64)
#define LC_MAX_GROUPS 16     /* slow-start groups (collections created into) per commit */

/* ---------------------------------------------------------------------------------------
 * Types */

typedef struct lc_res_s {
    char group[LC_SEG_MAX];     /* "" for core */
    char version[LC_SEG_MAX];
    char plural[LC_SEG_MAX];
    char sub[LC_SEG_MAX];       /* "" or "status", "binding", ... */
    char canon[4 * LC_SEG_MAX]; /* "v1/pods", "apps/v1/replicasets" (no subresource) */
} lc_res_t;

typedef struct lc_group_s lc_group_t;

typedef struct lc_op_s {
    struct lc_op_s  *next, *prev;
    luacluster_t    *lc;
    lc_group_t      *group;     /* its slow-start group, or NULL */
    apiclient_call_t *call;
    const char      *verb;      /* static */
    const char      *method;    /* static */
    const char      *ctype;     /* static, NULL for JSON */
    char            *path;
    char            *objkey;    /* path of the object, for ordering; NULL: never conflicts */
    json_t          *body;      /* may be NULL */
    char            *tag;       /* luacluster_commit_tagged's tag, or NULL */
    struct lc_op_s  *then;      /* sent once this one succeeded (2xx), else dropped: an
                                 * Event about this write (cluster.event's `after`); owned */
} lc_op_t;

/* The creates of one collection (path) in one slow-start commit (kube's slowStartBatch):
 * held here and released in batches of 1, 2, 4, ...; a batch with a failure ends the group
 * and its held creates are reported skipped, unsent. Freed when nothing is held or out. */
struct lc_group_s {
    lc_group_t *next, *prev;    /* lc->groups */
    lc_op_t    *head, *tail;    /* held, in commit order */
    unsigned    nheld;
    unsigned    out;            /* released, not finished */
    unsigned    batch;          /* the size of the batch last released */
    int         failed;         /* a create of the current batch failed */
};

typedef struct lcvm_s lcvm_t;

struct lcvm_s {
    lcvm_t       *next, *prev;
    luacluster_t *lc;           /* NULL once lc is freed */
    lua_State    *L;
    json_t       *cache;        /* "<res>|<key>" -> [ref, resourceVersion] */
    lc_op_t      *qhead, *qtail;
    unsigned      qlen;
    int           window;       /* between luacluster_begin and commit/discard */
    json_t       *scratch;      /* a temporary array held across Lua calls that may raise */
    label_selector_t *scratch_sel;
};

typedef struct lc_informer_s {
    char        res[4 * LC_SEG_MAX];
    informer_t *inf;
} lc_informer_t;

struct luacluster_s {
    apiclient_t       *client;
    char              *component;
    lc_informer_t      informers[LUACLUSTER_MAX_INFORMERS];
    unsigned           ninformers;
    lcvm_t            *vms;
    lc_op_t           *phead, *ptail;   /* committed, not started */
    lc_op_t           *inflight;
    unsigned           npending, ninflight;
    lc_group_t        *groups;          /* slow-start groups with creates held or out */
    unsigned           nheld;           /* creates held in them */
    luacluster_done_fn *done;
    void              *done_priv;
    const char        *done_tag;        /* the tag of the action being reported */
    luacluster_stats_t stats;
    eventcorr_t       *events;          /* repeated events become count increases */
};

/* ---------------------------------------------------------------------------------------
 * Resource strings and paths */

static int lc_seg_ok(const char *s, size_t n)
{
    if (n == 0 || n >= LC_SEG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* "v1", "v2beta1": the first segment of a core resource. */
static int lc_is_version(const char *s, size_t n)
{
    return n >= 2 && s[0] == 'v' && isdigit((unsigned char)s[1]);
}

/* Parse "pods", "v1/pods", "v1/pods/status", "apps/v1/replicasets[/scale]". 0 or -1. */
static int lc_res_parse(const char *text, lc_res_t *r)
{
    const char *seg[5];
    size_t len[5], n = 0;
    const char *p = text;

    memset(r, 0, sizeof(*r));
    if (text == NULL || *text == '\0')
        return -1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 4 || !lc_seg_ok(p, l))
            return -1;
        seg[n] = p;
        len[n++] = l;
        if (!slash)
            break;
        p = slash + 1;
    }
#define LC_COPY(dst, i) snprintf(dst, sizeof(dst), "%.*s", (int)len[i], seg[i])
    if (n == 1) {
        snprintf(r->version, sizeof(r->version), "v1");
        LC_COPY(r->plural, 0);
    } else if (n == 2) {
        if (!lc_is_version(seg[0], len[0]))
            return -1;
        LC_COPY(r->version, 0);
        LC_COPY(r->plural, 1);
    } else if (n == 3 && lc_is_version(seg[0], len[0])) {
        LC_COPY(r->version, 0);
        LC_COPY(r->plural, 1);
        LC_COPY(r->sub, 2);
    } else {
        if (lc_is_version(seg[0], len[0]) || !lc_is_version(seg[1], len[1]))
            return -1;
        LC_COPY(r->group, 0);
        LC_COPY(r->version, 1);
        LC_COPY(r->plural, 2);
        if (n == 4)
            LC_COPY(r->sub, 3);
    }
#undef LC_COPY
    if (r->group[0])
        snprintf(r->canon, sizeof(r->canon), "%s/%s/%s", r->group, r->version, r->plural);
    else
        snprintf(r->canon, sizeof(r->canon), "%s/%s", r->version, r->plural);
    return 0;
}

/* 1 namespaced, 0 cluster-scoped, -1 unknown (no kinds registry in this process, or a kind
 * it does not know). */
static int lc_res_namespaced(const lc_res_t *r)
{
    const kind_t *k;
    if (kinds_at(0) == NULL)
        return -1;
    k = kinds_find(r->group, r->version, r->plural);
    return k ? k->namespaced : -1;
}

/* Names and namespaces go into paths unescaped: allow what Kubernetes names contain. */
static int lc_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LC_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '@'))
            return 0;
    }
    return 1;
}

/* /api/v1[/namespaces/<ns>]/<plural>[/<name>[/<sub>]] into out. */
static void lc_path(char *out, size_t outlen, const lc_res_t *r, const char *ns,
                    const char *name, const char *sub)
{
    int n;
    if (r->group[0])
        n = snprintf(out, outlen, "/apis/%s/%s", r->group, r->version);
    else
        n = snprintf(out, outlen, "/api/%s", r->version);
    if (ns && *ns)
        n += snprintf(out + n, outlen - (size_t)n, "/namespaces/%s", ns);
    n += snprintf(out + n, outlen - (size_t)n, "/%s", r->plural);
    if (name && *name)
        n += snprintf(out + n, outlen - (size_t)n, "/%s", name);
    if (name && *name && sub && *sub)
        snprintf(out + n, outlen - (size_t)n, "/%s", sub);
}

/* A Kind's plural when the kinds registry does not know it: gengo's rules, lowercased.
 * out has LC_SEG_MAX bytes. */
static void lc_guess_plural(const char *kind, char out[LC_SEG_MAX])
{
    char low[LC_SEG_MAX];
    size_t n = 0;
    /* At most LC_SEG_MAX - 4 characters, so that any suffix fits in out. */
    for (; kind[n] && n + 4 < sizeof(low); n++)
        low[n] = (char)tolower((unsigned char)kind[n]);
    low[n] = '\0';
    memcpy(out, low, n + 1);
    if (!strcmp(low, "endpoints"))
        return;
    if (n > 1 && low[n - 1] == 'y' && !strchr("aeiou", low[n - 2]))
        memcpy(out + n - 1, "ies", 4);
    else if ((n && strchr("sxz", low[n - 1])) ||
             (n > 1 && (!strcmp(low + n - 2, "ch") || !strcmp(low + n - 2, "sh"))))
        memcpy(out + n, "es", 3);
    else
        memcpy(out + n, "s", 2);
}

/* ---------------------------------------------------------------------------------------
 * Per-VM state */

static lcvm_t *lc_vm_of(luacluster_t *lc, lua_State *L)
{
    for (lcvm_t *v = lc->vms; v; v = v->next)
        if (v->L == L)
            return v;
    return NULL;
}

/* The three queues of actions (a VM's uncommitted ones, the committed pending ones, a
 * slow-start group's held ones) are FIFOs linked through op->next. */
static void lc_fifo_push(lc_op_t **head, lc_op_t **tail, lc_op_t *op)
{
    op->next = NULL;
    if (*tail)
        (*tail)->next = op;
    else
        *head = op;
    *tail = op;
}

static lc_op_t *lc_fifo_pop(lc_op_t **head, lc_op_t **tail)
{
    lc_op_t *op = *head;
    if (op) {
        *head = op->next;
        if (*head == NULL)
            *tail = NULL;
        op->next = NULL;
    }
    return op;
}

static void lc_op_free(lc_op_t *op)
{
    if (op->then)
        lc_op_free(op->then);
    free(op->path);
    free(op->objkey);
    free(op->tag);
    json_decref(op->body);
    free(op);
}

static unsigned lc_queue_clear(lcvm_t *v)
{
    unsigned n = 0;
    while (v->qhead) {
        lc_op_t *op = v->qhead;
        v->qhead = op->next;
        lc_op_free(op);
        n++;
    }
    v->qtail = NULL;
    v->qlen = 0;
    return n;
}

static void lc_scratch_clear(lcvm_t *v)
{
    json_decref(v->scratch);
    v->scratch = NULL;
    label_selector_free(v->scratch_sel);
    v->scratch_sel = NULL;
}

static void lc_vm_unlink(lcvm_t *v)
{
    if (v->lc == NULL)
        return;
    if (v->prev)
        v->prev->next = v->next;
    else
        v->lc->vms = v->next;
    if (v->next)
        v->next->prev = v->prev;
    v->next = v->prev = NULL;
    v->lc = NULL;
}

/* Forget a VM's state: its queued actions are dropped, its refs die with the VM. */
static void lc_vm_forget(void *priv)
{
    lcvm_t *v = priv;
    if (v->lc)
        v->lc->stats.discarded += v->qlen;
    lc_vm_unlink(v);
    lc_queue_clear(v);
    lc_scratch_clear(v);
    json_decref(v->cache);
    free(v);
}

/* __gc of the per-VM userdata: the VM is closing (lua_close). A VM that luavm abandons is
 * never closed; it calls lc_vm_forget through luavm_on_discard instead. */
static int lc_vm_gc(lua_State *L)
{
    lcvm_t **pv = luaL_checkudata(L, 1, LC_UDATA_MT);
    lcvm_t *v = *pv;
    if (v == NULL)
        return 0;
    *pv = NULL;
    luavm_forget_discard(L, v);
    lc_vm_forget(v);
    return 0;
}

/* The calling function's state (upvalue 1). Raises if the host freed the API. */
static lcvm_t *lc_check(lua_State *L)
{
    lcvm_t **pv = lua_touserdata(L, lua_upvalueindex(1));
    lcvm_t *v = pv ? *pv : NULL;
    if (v == NULL || v->lc == NULL)
        luaL_error(L, "berth.cluster: the host closed the cluster API");
    lc_scratch_clear(v);
    return v;
}

/* ---------------------------------------------------------------------------------------
 * Reads */

static informer_t *lc_informer(luacluster_t *lc, const char *canon)
{
    for (unsigned i = 0; i < lc->ninformers; i++)
        if (!strcmp(lc->informers[i].res, canon))
            return lc->informers[i].inf;
    return NULL;
}

/* Parse resource argument idx for a read and find its informer; raises on failure. */
static informer_t *lc_read_res(lua_State *L, lcvm_t *v, int idx, const char *fn, lc_res_t *r)
{
    const char *text = luaL_checkstring(L, idx);
    luacluster_t *lc = v->lc;
    informer_t *inf;
    char have[512];
    int n = 0;

    if (lc_res_parse(text, r) != 0)
        luaL_error(L, "cluster.%s: invalid resource '%s' (want \"v1/pods\", \"pods\" or "
                   "\"apps/v1/replicasets\")", fn, text);
    if (r->sub[0])
        luaL_error(L, "cluster.%s: cannot read a subresource ('%s'): read the object", fn, text);
    if ((inf = lc_informer(lc, r->canon)) != NULL)
        return inf;
    have[0] = '\0';
    for (unsigned i = 0; i < lc->ninformers && n < (int)sizeof(have) - 1; i++)
        n += snprintf(have + n, sizeof(have) - (size_t)n, "%s%s", i ? ", " : "",
                      lc->informers[i].res);
    luaL_error(L, "cluster.%s: no informer for resource '%s' in this host (it caches: %s)", fn,
               r->canon, lc->ninformers ? have : "nothing");
    return NULL;
}

static const char *lc_md(const json_t *obj, const char *field)
{
    return json_str(json_object_get(obj, "metadata"), field);
}

/* "<canon>|<ns>/<name>" or "<canon>|<name>", the cache key of obj. 0, or -1 if unnamed. */
static int lc_cache_key(const char *canon, const json_t *obj, char *out, size_t outlen)
{
    const char *ns = lc_md(obj, "namespace"), *name = lc_md(obj, "name");
    int n;
    if (!name)
        return -1;
    if (ns && *ns)
        n = snprintf(out, outlen, "%s|%s/%s", canon, ns, name);
    else
        n = snprintf(out, outlen, "%s|%s", canon, name);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Push obj's cached conversion, converting it when the cache has no entry for its
 * resourceVersion (once per change). */
static void lc_push_obj(lcvm_t *v, lua_State *L, const char *canon, const json_t *obj)
{
    char key[4 * LC_SEG_MAX + 2 * LC_NAME_MAX + 8];
    const char *rv = lc_md(obj, "resourceVersion");
    json_t *entry;
    int ref;

    if (lc_cache_key(canon, obj, key, sizeof(key)) != 0) {
        if (luajson_push(L, obj) != 0)
            lua_pushnil(L);
        return;
    }
    entry = json_object_get(v->cache, key);
    if (entry && rv && !strcmp(json_string_value(json_array_get(entry, 1)), rv)) {
        v->lc->stats.cache_hits++;
        luajson_push_ref(L, (int)json_integer_value(json_array_get(entry, 0)));
        return;
    }
    if (entry) {
        luajson_unref(L, (int)json_integer_value(json_array_get(entry, 0)));
        json_object_del(v->cache, key);
    }
    v->lc->stats.conversions++;
    ref = luajson_ref(L, obj);
    if (ref == LUA_NOREF || ref == LUA_REFNIL || !rv) {
        luajson_unref(L, ref);
        if (luajson_push(L, obj) != 0)
            lua_pushnil(L);
        return;
    }
    json_object_set_new(v->cache, key, json_pack("[i,s]", ref, rv));
    luajson_push_ref(L, ref);
}

/* An optional namespace argument: nil or "" mean none. */
static const char *lc_opt_ns(lua_State *L, int idx, const char *fn)
{
    const char *ns;
    if (lua_isnoneornil(L, idx))
        return NULL;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "cluster.%s: namespace must be a string or nil (got a %s)", fn,
                   luaL_typename(L, idx));
    ns = lua_tostring(L, idx);
    if (*ns == '\0')
        return NULL;
    if (!lc_name_ok(ns))
        luaL_error(L, "cluster.%s: invalid namespace '%s'", fn, ns);
    return ns;
}

static const char *lc_check_name(lua_State *L, int idx, const char *fn, const char *what)
{
    const char *s;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "cluster.%s: %s must be a string (got a %s)", fn, what,
                   luaL_typename(L, idx));
    s = lua_tostring(L, idx);
    if (!lc_name_ok(s))
        luaL_error(L, "cluster.%s: invalid %s '%s'", fn, what, s);
    return s;
}

/* cluster.get(resource, namespace, name) -> object or nil */
static int lc_lua_get(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    lc_res_t r;
    informer_t *inf = lc_read_res(L, v, 1, "get", &r);
    const char *ns = lc_opt_ns(L, 2, "get");
    const char *name = lc_check_name(L, 3, "get", "name");
    json_t *obj;

    if (!ns && lc_res_namespaced(&r) == 1)
        return luaL_error(L, "cluster.get: %s is namespaced: give a namespace", r.canon);
    obj = informer_get(inf, ns, name);
    if (obj == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lc_push_obj(v, L, r.canon, obj);
    return 1;
}

/* A new array table (marked as an array, so it converts back to [] when empty). */
static void lc_new_array(lua_State *L, int n)
{
    lua_createtable(L, n, 0);
    luajson_push_array_mt(L);
    lua_setmetatable(L, -2);
}

typedef struct lc_collect_s {
    lcvm_t     *v;
    lua_State  *L;
    const char *canon;
    const char *ns;
    label_selector_t *sel;
    int         n;
} lc_collect_t;

static int lc_collect_one(const char *key, json_t *obj, void *priv)
{
    lc_collect_t *c = priv;
    if (c->ns) {
        const char *ons = lc_md(obj, "namespace");
        if (!ons || strcmp(ons, c->ns))
            return 0;
    }
    if (c->sel &&
        !label_selector_match(c->sel, json_object_get(json_object_get(obj, "metadata"), "labels")))
        return 0;
    lc_push_obj(c->v, c->L, c->canon, obj);
    lua_rawseti(c->L, -2, ++c->n);
    return 0;
}

/* opts.selector: a selector string or a metav1.LabelSelector table. NULL when absent. The
 * result is held in v->scratch_sel (freed by the next call), so a raise cannot leak it. */
static label_selector_t *lc_selector(lua_State *L, lcvm_t *v, int idx, const char *fn)
{
    char err[256];
    label_selector_t *sel = NULL;

    if (lua_isnil(L, idx))
        return NULL;
    if (lua_type(L, idx) == LUA_TSTRING) {
        sel = label_selector_parse(lua_tostring(L, idx), err, sizeof(err));
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        json_t *js;
        const char *k;
        json_t *val;
        js = luajson_to_json(L, idx, err, sizeof(err));
        if (js == NULL)
            luaL_error(L, "cluster.%s: opts.selector: %s", fn, err);
        if (json_is_array(js)) {
            json_decref(js);
            luaL_error(L, "cluster.%s: opts.selector must be a string or a LabelSelector "
                       "table {matchLabels=..., matchExpressions=...}", fn);
        }
        json_object_foreach(js, k, val) {
            if (strcmp(k, "matchLabels") && strcmp(k, "matchExpressions")) {
                char key[64];
                snprintf(key, sizeof(key), "%s", k);
                json_decref(js);
                luaL_error(L, "cluster.%s: opts.selector: unknown field '%s' (a LabelSelector "
                           "has matchLabels and matchExpressions)", fn, key);
            }
        }
        sel = label_selector_from_json(js, err, sizeof(err));
        json_decref(js);
    } else {
        luaL_error(L, "cluster.%s: opts.selector must be a string or a table (got a %s)", fn,
                   luaL_typename(L, idx));
    }
    if (sel == NULL)
        luaL_error(L, "cluster.%s: opts.selector: %s", fn, err);
    v->scratch_sel = sel;
    return sel;
}

/* Push an array of the objects in arr (optionally filtered). arr is held in v->scratch. */
static void lc_push_array(lcvm_t *v, lua_State *L, const char *canon, json_t *arr,
                          const char *ns, label_selector_t *sel)
{
    lc_collect_t c = { v, L, canon, ns, sel, 0 };
    size_t i;
    json_t *obj;
    v->scratch = arr;
    lc_new_array(L, (int)json_array_size(arr));
    json_array_foreach(arr, i, obj)
        lc_collect_one(NULL, obj, &c);
}

/* cluster.list(resource [, opts]) -> array; opts = {namespace=, selector=, index={name, key}} */
static int lc_lua_list(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    lc_res_t r;
    informer_t *inf = lc_read_res(L, v, 1, "list", &r);
    const char *ns = NULL, *iname = NULL, *ikey = NULL;
    label_selector_t *sel = NULL;

    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
        lua_getfield(L, 2, "namespace");       /* 3 */
        ns = lc_opt_ns(L, 3, "list");
        lua_getfield(L, 2, "index");           /* 4 */
        if (!lua_isnil(L, 4)) {
            if (!lua_istable(L, 4))
                return luaL_error(L, "cluster.list: opts.index must be {name, key}");
            lua_rawgeti(L, 4, 1);
            lua_rawgeti(L, 4, 2);
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "cluster.list: opts.index must be {name, key} (two strings)");
            iname = lua_tostring(L, -2);
            ikey = lua_tostring(L, -1);
        }
        lua_getfield(L, 2, "selector");
        sel = lc_selector(L, v, lua_gettop(L), "list");
        for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (!k || (strcmp(k, "namespace") && strcmp(k, "selector") && strcmp(k, "index")))
                return luaL_error(L, "cluster.list: unknown option '%s' (namespace, selector, "
                                  "index)", k ? k : luaL_typename(L, -2));
        }
    }
    if (iname) {
        json_t *arr = informer_by_index(inf, iname, ikey);
        if (arr == NULL)
            return luaL_error(L, "cluster.list: %s has no index '%s'", r.canon, iname);
        lc_push_array(v, L, r.canon, arr, ns, sel);
        return 1;
    }
    lc_collect_t c = { v, L, r.canon, ns, sel, 0 };
    lc_new_array(L, ns || sel ? 0 : (int)informer_count(inf));
    informer_foreach(inf, lc_collect_one, &c);
    return 1;
}

/* cluster.index(resource, index_name, key) -> array */
static int lc_lua_index(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    lc_res_t r;
    informer_t *inf = lc_read_res(L, v, 1, "index", &r);
    const char *iname = luaL_checkstring(L, 2), *ikey = luaL_checkstring(L, 3);
    json_t *arr = informer_by_index(inf, iname, ikey);
    if (arr == NULL)
        return luaL_error(L, "cluster.index: %s has no index '%s'", r.canon, iname);
    lc_push_array(v, L, r.canon, arr, NULL, NULL);
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Actions: checked and queued now, sent at commit */

static void lc_finish(luacluster_t *lc, lc_op_t *op, int status, json_t *body,
                      const char *errstr)
{
    if (status >= 200 && status < 300) {
        lc->stats.succeeded++;
    } else if (status == LUACLUSTER_SKIPPED) {
        lc->stats.skipped++;
    } else {
        char labels[256];
        const char *msg = json_str(body, "message");
        lc->stats.failed++;
        snprintf(labels, sizeof(labels), "component=\"%s\",verb=\"%s\"", lc->component,
                 op->verb);
        metrics_add(M_FAILURES, labels, 1);
        log_warn("%s: cluster.%s %s %s failed: %d %s", lc->component, op->verb, op->method,
                 op->path, status, msg ? msg : errstr ? errstr : "");
    }
    if (lc->done) {
        lc->done_tag = op->tag;
        lc->done(lc->done_priv, op->verb, op->method, op->path, status, body, errstr);
        lc->done_tag = NULL;
    }
}

static void lc_pump(luacluster_t *lc);

/* Append op to the pending FIFO. */
static void lc_pending_add(luacluster_t *lc, lc_op_t *op)
{
    op->prev = NULL;
    lc_fifo_push(&lc->phead, &lc->ptail, op);
    lc->npending++;
}

/* Release the group's next batch (twice the last, at most what is held) to the pending
 * FIFO. */
static void lc_group_release(luacluster_t *lc, lc_group_t *g)
{
    unsigned n = g->batch ? g->batch * 2 : 1;
    if (n > g->nheld)
        n = g->nheld;
    g->batch = n;
    for (unsigned i = 0; i < n; i++) {
        lc_op_t *op = lc_fifo_pop(&g->head, &g->tail);
        g->nheld--;
        lc->nheld--;
        g->out++;
        lc_pending_add(lc, op);
    }
}

static void lc_group_free(luacluster_t *lc, lc_group_t *g)
{
    while (g->head) {
        lc_op_t *op = g->head;
        g->head = op->next;
        lc_op_free(op);
    }
    lc->nheld -= g->nheld;
    if (g->prev)
        g->prev->next = g->next;
    else
        lc->groups = g->next;
    if (g->next)
        g->next->prev = g->prev;
    free(g);
}

static void lc_op_end(luacluster_t *lc, lc_op_t *op, int ok);

/* A released create of group g finished (ok: 2xx). When its batch is done: the next batch,
 * or after a failure every held create reported skipped (kube's slowStartBatch stops at the
 * first batch with an error; the caller lowers its expectations by the skipped ones). */
static void lc_group_done(luacluster_t *lc, lc_group_t *g, int ok)
{
    if (!ok)
        g->failed = 1;
    if (--g->out > 0)
        return;
    if (g->nheld > 0 && !g->failed) {
        lc_group_release(lc, g);
        return;
    }
    if (g->nheld > 0) {
        log_warn("%s: slow start: %u creates skipped after a failed one", lc->component,
                 g->nheld);
        lc_op_t *op;
        while ((op = lc_fifo_pop(&g->head, &g->tail)) != NULL) {
            g->nheld--;
            lc->nheld--;
            op->group = NULL;
            lc_finish(lc, op, LUACLUSTER_SKIPPED, NULL,
                      "not sent: an earlier create of the same sync failed (slow start)");
            lc_op_end(lc, op, 0);
        }
    }
    lc_group_free(lc, g);
}

static void lc_pending_add(luacluster_t *lc, lc_op_t *op);

/* op is finished and reported: what waited on its success goes out (or is dropped), its
 * group's accounting, then free it. */
static void lc_op_end(luacluster_t *lc, lc_op_t *op, int ok)
{
    lc_group_t *g = op->group;
    lc_op_t *then = op->then;
    op->then = NULL;
    if (then && ok) {
        lc_pending_add(lc, then);
    } else if (then) {
        for (lc_op_t *t = then; t; t = t->then)
            lc->stats.skipped++;
        log_debug("%s: cluster.%s %s not sent: the %s it is about failed", lc->component,
                  then->verb, then->path, op->verb);
        lc_op_free(then);
    }
    lc_op_free(op);
    if (g)
        lc_group_done(lc, g, ok);
}

static void lc_op_done(int status, json_t *body, const char *errstr, void *priv)
{
    lc_op_t *op = priv;
    luacluster_t *lc = op->lc;

    if (op->prev)
        op->prev->next = op->next;
    else
        lc->inflight = op->next;
    if (op->next)
        op->next->prev = op->prev;
    lc->ninflight--;
    op->call = NULL;
    lc_finish(lc, op, status, body, errstr);
    lc_op_end(lc, op, status >= 200 && status < 300);
    lc_pump(lc);
}

/* Start pending actions in order while there is room; stop at one whose object has an
 * earlier action in flight (so actions on one object keep their order). */
static void lc_pump(luacluster_t *lc)
{
    while (lc->phead && lc->ninflight < LUACLUSTER_MAX_INFLIGHT) {
        lc_op_t *op = lc->phead;
        if (op->objkey) {
            for (lc_op_t *f = lc->inflight; f; f = f->next)
                if (f->objkey && !strcmp(f->objkey, op->objkey))
                    return;
        }
        lc_fifo_pop(&lc->phead, &lc->ptail);
        lc->npending--;
        op->prev = NULL;
        lc->stats.sent++;
        op->call = apiclient_request(lc->client, op->method, op->path, op->ctype, op->body,
                                     lc_op_done, op);
        if (op->call == NULL) {
            lc_finish(lc, op, 0, NULL, "the request could not be started");
            lc_op_end(lc, op, 0);
            continue;
        }
        op->next = lc->inflight;
        if (lc->inflight)
            lc->inflight->prev = op;
        lc->inflight = op;
        lc->ninflight++;
    }
}

/* A new action (takes ownership of body); NULL on no memory (body released). */
static lc_op_t *lc_op_new(lcvm_t *v, const char *verb, const char *method, const char *ctype,
                          const char *path, const char *objkey, json_t *body)
{
    lc_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL || (op->path = strdup(path)) == NULL ||
        (objkey && (op->objkey = strdup(objkey)) == NULL)) {
        if (op)
            lc_op_free(op);
        json_decref(body);
        return NULL;
    }
    op->lc = v->lc;
    op->verb = verb;
    op->method = method;
    op->ctype = ctype;
    op->body = body;
    return op;
}

/* Queue one action (takes ownership of body) and return true to Lua; outside a window the
 * action was checked and is dropped. */
static int lc_queue(lua_State *L, lcvm_t *v, const char *verb, const char *method,
                    const char *ctype, const char *path, const char *objkey, json_t *body)
{
    lc_op_t *op;

    if (!v->window) {
        v->lc->stats.dropped++;
        log_debug("%s: cluster.%s %s %s outside a hook call: checked, not sent",
                  v->lc->component, verb, method, path);
        json_decref(body);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (v->qlen >= LUACLUSTER_MAX_QUEUE) {
        json_decref(body);
        return luaL_error(L, "cluster.%s: more than %d actions queued in one call", verb,
                          LUACLUSTER_MAX_QUEUE);
    }
    op = lc_op_new(v, verb, method, ctype, path, objkey, body);
    if (op == NULL)
        return luaL_error(L, "cluster.%s: out of memory", verb);
    lc_fifo_push(&v->qhead, &v->qtail, op);
    v->qlen++;
    v->lc->stats.queued++;
    lua_pushboolean(L, 1);
    return 1;
}

/* Check namespace against the kind's scope; raises. */
static void lc_check_scope(lua_State *L, const char *fn, const lc_res_t *r, const char *ns)
{
    int nsd = lc_res_namespaced(r);
    if (nsd == 1 && !ns)
        luaL_error(L, "cluster.%s: %s is namespaced: give a namespace", fn, r->canon);
    if (nsd == 0 && ns)
        luaL_error(L, "cluster.%s: %s is cluster-scoped: the namespace must be nil", fn,
                   r->canon);
}

/* Parse a resource argument for an action; raises. */
static void lc_action_res(lua_State *L, int idx, const char *fn, lc_res_t *r)
{
    const char *text = luaL_checkstring(L, idx);
    if (lc_res_parse(text, r) != 0)
        luaL_error(L, "cluster.%s: invalid resource '%s' (want \"v1/pods\", \"pods\", "
                   "\"v1/pods/status\" or \"apps/v1/replicasets\")", fn, text);
}

/* Convert the object table at idx; raises with the converter's message. New reference. */
static json_t *lc_to_json(lua_State *L, int idx, const char *fn, const char *what)
{
    char err[256];
    json_t *js;
    if (!lua_istable(L, idx))
        luaL_error(L, "cluster.%s: %s must be a table (got a %s)", fn, what,
                   luaL_typename(L, idx));
    js = luajson_to_json(L, idx, err, sizeof(err));
    if (js == NULL)
        luaL_error(L, "cluster.%s: %s: %s", fn, what, err);
    return js;
}

/* The resource of an object table: from the optional resource argument at ridx, else from
 * apiVersion + kind (the kinds registry, or the plural guessed from the Kind). Raises and
 * frees obj on failure. */
static void lc_obj_res(lua_State *L, json_t *obj, int ridx, const char *fn, lc_res_t *r)
{
    const char *av = json_str(obj, "apiVersion"), *kind = json_str(obj, "kind");
    char text[3 * LC_SEG_MAX + 4], plural[LC_SEG_MAX];
    const kind_t *k;

    if (!json_is_object(json_object_get(obj, "metadata"))) {
        json_decref(obj);
        luaL_error(L, "cluster.%s: the object has no metadata table", fn);
    }
    if (!lua_isnoneornil(L, ridx)) {
        if (lua_type(L, ridx) != LUA_TSTRING || lc_res_parse(lua_tostring(L, ridx), r) != 0) {
            json_decref(obj);
            luaL_error(L, "cluster.%s: invalid resource argument", fn);
        }
        return;
    }
    if (!av || !kind || !*av || !*kind) {
        json_decref(obj);
        luaL_error(L, "cluster.%s: the object needs apiVersion and kind (or pass the resource)",
                   fn);
    }
    k = kinds_at(0) ? kinds_find_kind(av, kind) : NULL;
    if (k)
        snprintf(plural, sizeof(plural), "%s", k->plural);
    else
        lc_guess_plural(kind, plural);
    snprintf(text, sizeof(text), "%s/%s", av, plural);
    if (lc_res_parse(text, r) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "cluster.%s: cannot build a resource from apiVersion '%s' "
                 "kind '%s'", fn, av, kind);
        json_decref(obj);
        luaL_error(L, "%s", msg);
    }
}

/* Namespace and name of an object for an action, validated; raises and frees obj. */
static void lc_obj_names(lua_State *L, json_t *obj, const lc_res_t *r, const char *fn,
                         int need_name, const char **ns, const char **name)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *why = NULL;
    int nsd = lc_res_namespaced(r);

    *ns = json_str(md, "namespace");
    *name = json_str(md, "name");
    if (*ns && !**ns)
        *ns = NULL;
    if (*ns && !lc_name_ok(*ns))
        why = "invalid metadata.namespace";
    else if (need_name && !*name)
        why = "metadata.name is required";
    else if (*name && !lc_name_ok(*name))
        why = "invalid metadata.name";
    else if (nsd == 1 && !*ns)
        why = "metadata.namespace is required for a namespaced kind";
    else if (nsd == 0 && *ns)
        why = "a cluster-scoped object has no metadata.namespace";
    else if (!*name && !json_str(md, "generateName"))
        why = "metadata.name or metadata.generateName is required";
    if (why) {
        char msg[512];
        snprintf(msg, sizeof(msg), "cluster.%s: %s (%s)", fn, why, r->canon);
        json_decref(obj);
        luaL_error(L, "%s", msg);
    }
}

static void lc_objkey(char *out, size_t outlen, const lc_res_t *r, const char *ns,
                      const char *name)
{
    lc_path(out, outlen, r, ns, name, NULL);
}

/* cluster.create(obj [, resource]) -> true */
static int lc_lua_create(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    json_t *obj = lc_to_json(L, 1, "create", "obj");
    lc_res_t r;
    const char *ns, *name;
    char path[LC_PATH_MAX], key[LC_PATH_MAX];

    lc_obj_res(L, obj, 2, "create", &r);
    lc_obj_names(L, obj, &r, "create", 0, &ns, &name);
    lc_path(path, sizeof(path), &r, ns, NULL, NULL);
    if (r.sub[0]) {
        json_decref(obj);
        return luaL_error(L, "cluster.create: no subresource here (%s)", r.sub);
    }
    if (name)
        lc_objkey(key, sizeof(key), &r, ns, name);
    return lc_queue(L, v, "create", "POST", NULL, path, name ? key : NULL, obj);
}

/* cluster.update(obj [, resource]) -> true; PUT with the object's resourceVersion as the
 * precondition (the server answers 409 Conflict when it changed). */
static int lc_lua_update(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    json_t *obj = lc_to_json(L, 1, "update", "obj");
    lc_res_t r;
    const char *ns, *name;
    char path[LC_PATH_MAX], key[LC_PATH_MAX];

    lc_obj_res(L, obj, 2, "update", &r);
    lc_obj_names(L, obj, &r, "update", 1, &ns, &name);
    if (!json_str(json_object_get(obj, "metadata"), "resourceVersion")) {
        json_decref(obj);
        return luaL_error(L, "cluster.update: metadata.resourceVersion is required (the "
                          "precondition); update the object you read");
    }
    lc_path(path, sizeof(path), &r, ns, name, r.sub);
    lc_objkey(key, sizeof(key), &r, ns, name);
    return lc_queue(L, v, "update", "PUT", NULL, path, key, obj);
}

/* cluster.patch(resource, namespace, name, patch [, type]) -> true */
static int lc_lua_patch(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    lc_res_t r;
    const char *ns, *name, *type, *ctype;
    char path[LC_PATH_MAX], key[LC_PATH_MAX];
    json_t *patch;

    lc_action_res(L, 1, "patch", &r);
    ns = lc_opt_ns(L, 2, "patch");
    name = lc_check_name(L, 3, "patch", "name");
    type = luaL_optstring(L, 5, "merge");
    lc_check_scope(L, "patch", &r, ns);
    if (!strcmp(type, "merge"))
        ctype = "application/merge-patch+json";
    else if (!strcmp(type, "strategic"))
        ctype = "application/strategic-merge-patch+json";
    else if (!strcmp(type, "json"))
        ctype = "application/json-patch+json";
    else
        return luaL_error(L, "cluster.patch: unknown patch type '%s' (merge, strategic, json)",
                          type);
    if (lua_type(L, 4) == LUA_TSTRING) {
        json_error_t jerr;
        size_t len;
        const char *text = lua_tolstring(L, 4, &len);
        patch = jsonload(text, len, JSON_DECODE_ANY, &jerr);
        if (patch == NULL)
            return luaL_error(L, "cluster.patch: patch is not JSON: %s", jerr.text);
    } else {
        patch = lc_to_json(L, 4, "patch", "patch");
    }
    if (!strcmp(type, "json") ? !json_is_array(patch) : !json_is_object(patch)) {
        json_decref(patch);
        return luaL_error(L, "cluster.patch: a %s patch must be %s", type,
                          !strcmp(type, "json") ? "an array of operations" : "an object");
    }
    lc_path(path, sizeof(path), &r, ns, name, r.sub);
    lc_objkey(key, sizeof(key), &r, ns, name);
    return lc_queue(L, v, "patch", "PATCH", ctype, path, key, patch);
}

/* cluster.delete(resource, namespace, name [, {propagation=, uid=, grace=}]) -> true */
static int lc_lua_delete(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    lc_res_t r;
    const char *ns, *name;
    char path[LC_PATH_MAX];
    json_t *opts;

    lc_action_res(L, 1, "delete", &r);
    ns = lc_opt_ns(L, 2, "delete");
    name = lc_check_name(L, 3, "delete", "name");
    lc_check_scope(L, "delete", &r, ns);
    if (r.sub[0])
        return luaL_error(L, "cluster.delete: cannot delete a subresource (%s)", r.sub);
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        for (lua_pushnil(L); lua_next(L, 4); lua_pop(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (!k || (strcmp(k, "propagation") && strcmp(k, "uid") && strcmp(k, "grace")))
                return luaL_error(L, "cluster.delete: unknown option '%s' (propagation, uid, "
                                  "grace)", k ? k : luaL_typename(L, -2));
        }
    }
    const char *prop = NULL, *uid = NULL;
    double grace = -1;
    if (!lua_isnoneornil(L, 4)) {
        lua_getfield(L, 4, "propagation");
        if (!lua_isnil(L, -1)) {
            prop = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(prop, "Background") && strcmp(prop, "Foreground") && strcmp(prop, "Orphan"))
                return luaL_error(L, "cluster.delete: propagation must be \"Background\", "
                                  "\"Foreground\" or \"Orphan\"");
        }
        lua_getfield(L, 4, "uid");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "cluster.delete: uid must be a string");
            uid = lua_tostring(L, -1);
        }
        lua_getfield(L, 4, "grace");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "cluster.delete: grace must be a number of seconds");
            grace = lua_tonumber(L, -1);
            if (grace < 0 || grace > 1e9 || grace != (double)(long long)grace)
                return luaL_error(L, "cluster.delete: grace must be a whole number of seconds "
                                  ">= 0");
        }
    }
    opts = json_pack("{s:s,s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
    if (prop)
        json_object_set_new(opts, "propagationPolicy", json_string(prop));
    if (uid)
        json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid));
    if (grace >= 0)
        json_object_set_new(opts, "gracePeriodSeconds", json_integer((json_int_t)grace));
    lc_path(path, sizeof(path), &r, ns, name, NULL);
    return lc_queue(L, v, "delete", "DELETE", NULL, path, path, opts);
}

/* cluster.evict(namespace, pod) -> true. berth's API has no pods/eviction subresource (and no
 * PodDisruptionBudgets), so this is a graceful delete: the pod's own grace period. */
static int lc_lua_evict(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    lc_res_t r;
    const char *ns, *name;
    char path[LC_PATH_MAX];

    if (lua_isnoneornil(L, 1))
        return luaL_error(L, "cluster.evict: namespace must be a string (got a %s)",
                          luaL_typename(L, 1));
    ns = lc_check_name(L, 1, "evict", "namespace");
    name = lc_check_name(L, 2, "evict", "pod name");
    lc_res_parse("v1/pods", &r);
    lc_path(path, sizeof(path), &r, ns, name, NULL);
    return lc_queue(L, v, "evict", "DELETE", NULL, path, path,
                    json_pack("{s:s,s:s}", "apiVersion", "v1", "kind", "DeleteOptions"));
}

/* The last action of this call queued for the object (resource, ns, name) that is neither
 * an event nor read-only: what an `after` event waits on. NULL if none. */
static lc_op_t *lc_last_write(lua_State *L, lcvm_t *v, int idx)
{
    lc_res_t r;
    char key[LC_PATH_MAX];
    lua_getfield(L, idx, "resource");
    lua_getfield(L, idx, "namespace");
    lua_getfield(L, idx, "name");
    int top = lua_gettop(L);
    lc_action_res(L, top - 2, "event", &r);
    const char *ns = lc_opt_ns(L, top - 1, "event");
    const char *name = lc_check_name(L, top, "event", "after.name");
    lc_objkey(key, sizeof(key), &r, ns, name);
    lua_pop(L, 3);
    lc_op_t *found = NULL;
    for (lc_op_t *op = v->qhead; op; op = op->next)
        if (op->objkey && !strcmp(op->objkey, key) && strcmp(op->verb, "event"))
            found = op;
    return found;
}

/* cluster.event(obj, type, reason, message [, {after = {resource=, namespace=, name=}}])
 * -> true; a core/v1 Event about obj. With `after`, the Event is sent only once the last
 * write this call queued for that object succeeded, and not at all (false is returned) when
 * the call queued none. */
static int lc_lua_event(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    const char *type, *reason, *message, *kind, *av, *ns, *name, *uid;
    char path[LC_PATH_MAX];
    json_t *ev;

    lc_op_t *after = NULL;
    luaL_checktype(L, 1, LUA_TTABLE);
    type = luaL_checkstring(L, 2);
    reason = luaL_checkstring(L, 3);
    message = luaL_checkstring(L, 4);
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (!k || strcmp(k, "after"))
                return luaL_error(L, "cluster.event: unknown option '%s' (after)",
                                  k ? k : luaL_typename(L, -2));
        }
        lua_getfield(L, 5, "after");
        luaL_checktype(L, -1, LUA_TTABLE);
        after = lc_last_write(L, v, lua_gettop(L));
        lua_pop(L, 1);
        if (!after && v->window) {
            lua_pushboolean(L, 0);
            return 1;
        }
    }
    if (strcmp(type, "Normal") && strcmp(type, "Warning"))
        return luaL_error(L, "cluster.event: type must be \"Normal\" or \"Warning\" (got '%s')",
                          type);
    if (*reason == '\0')
        return luaL_error(L, "cluster.event: reason must not be empty");
    /* Only the fields an involvedObject needs: no conversion of the whole object. */
    lua_getfield(L, 1, "apiVersion");
    lua_getfield(L, 1, "kind");
    lua_getfield(L, 1, "metadata");
    if (lua_type(L, -3) != LUA_TSTRING || lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
        return luaL_error(L, "cluster.event: obj needs apiVersion, kind and metadata");
    av = lua_tostring(L, -3);
    kind = lua_tostring(L, -2);
    lua_getfield(L, -1, "namespace");
    lua_getfield(L, -2, "name");
    lua_getfield(L, -3, "uid");
    ns = lua_type(L, -3) == LUA_TSTRING ? lua_tostring(L, -3) : NULL;
    name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    uid = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (!name || !lc_name_ok(name))
        return luaL_error(L, "cluster.event: obj.metadata.name is missing or invalid");
    if (ns && *ns && !lc_name_ok(ns))
        return luaL_error(L, "cluster.event: obj.metadata.namespace is invalid");
    /* Events about cluster-scoped objects go to "default", as kube's recorders do. */
    eventcorr_event_t e = { v->lc->component, kind, av, ns, name, uid, type, reason, message };
    const char *method, *ctype;
    ev = eventcorr_request(v->lc->events, time(NULL), &e, &method, &ctype, path, sizeof(path));
    if (ev == NULL)
        return luaL_error(L, "cluster.event: strings must be UTF-8");
    if (!after || !v->window)
        return lc_queue(L, v, "event", method, ctype, path, NULL, ev);
    lc_op_t *op = lc_op_new(v, "event", method, ctype, path, NULL, ev);
    if (op == NULL)
        return luaL_error(L, "cluster.event: out of memory");
    while (after->then)
        after = after->then;
    after->then = op;
    v->lc->stats.queued++;
    lua_pushboolean(L, 1);
    return 1;
}

/* cluster.bind(pod, node) -> true; pod is a Pod table, node a name or a Node table. */
static int lc_lua_bind(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    const char *ns, *name, *node;
    char path[LC_PATH_MAX], key[LC_PATH_MAX];
    lc_res_t r;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "metadata");
    if (!lua_istable(L, -1))
        return luaL_error(L, "cluster.bind: pod has no metadata");
    lua_getfield(L, -1, "namespace");
    lua_getfield(L, -2, "name");
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING ||
        !lc_name_ok(lua_tostring(L, -2)) || !lc_name_ok(lua_tostring(L, -1)))
        return luaL_error(L, "cluster.bind: pod needs metadata.namespace and metadata.name");
    ns = lua_tostring(L, -2);
    name = lua_tostring(L, -1);
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "metadata");
        if (lua_istable(L, -1))
            lua_getfield(L, -1, "name");
        else
            lua_pushnil(L);
        lua_replace(L, 2);
    }
    if (lua_type(L, 2) != LUA_TSTRING || !lc_name_ok(lua_tostring(L, 2)))
        return luaL_error(L, "cluster.bind: node must be a node name or a Node table");
    node = lua_tostring(L, 2);
    json_t *binding = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1",
                                "kind", "Binding", "metadata", "name", name, "namespace", ns,
                                "target", "apiVersion", "v1", "kind", "Node", "name", node);
    lc_res_parse("v1/pods", &r);
    lc_path(path, sizeof(path), &r, ns, name, "binding");
    lc_objkey(key, sizeof(key), &r, ns, name);
    return lc_queue(L, v, "bind", "POST", NULL, path, key, binding);
}

/* cluster.log(level, msg): a log line from the policy, "component: file:line: msg". */
static int lc_lua_log(lua_State *L)
{
    lcvm_t *v = lc_check(L);
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    int lv;
    if (!strcmp(level, "error"))
        lv = LOG_ERROR;
    else if (!strcmp(level, "warn"))
        lv = LOG_WARN;
    else if (!strcmp(level, "info"))
        lv = LOG_INFO;
    else if (!strcmp(level, "debug"))
        lv = LOG_DEBUG;
    else
        return luaL_error(L, "cluster.log: level must be \"error\", \"warn\", \"info\" or "
                          "\"debug\" (got '%s')", level);
    if (lv > log_level)
        return 0;
    luaL_where(L, 1);
    log_line(lv, "%s: %s%s", v->lc->component, lua_tostring(L, -1), msg);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * The module */

static const luaL_Reg lc_funcs[] = {
    { "get", lc_lua_get },       { "list", lc_lua_list },     { "index", lc_lua_index },
    { "create", lc_lua_create }, { "update", lc_lua_update }, { "patch", lc_lua_patch },
    { "delete", lc_lua_delete }, { "evict", lc_lua_evict },   { "event", lc_lua_event },
    { "bind", lc_lua_bind },     { "log", lc_lua_log },       { NULL, NULL }
};

/* The module opener (luavm_preload): upvalue 1 is the luacluster_t. Creates this VM's
 * state in a userdata that every module function holds as its upvalue. */
static int lc_lua_open(lua_State *L)
{
    luacluster_t *lc = lua_touserdata(L, lua_upvalueindex(1));
    lcvm_t **pv, *v;

    pv = lua_newuserdata(L, sizeof(*pv));
    *pv = NULL;
    if (luaL_newmetatable(L, LC_UDATA_MT)) {
        lua_pushcfunction(L, lc_vm_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    v = calloc(1, sizeof(*v));
    if (v == NULL || (v->cache = json_object()) == NULL) {
        free(v);
        return luaL_error(L, "berth.cluster: out of memory");
    }
    v->L = L;
    v->lc = lc;
    v->next = lc->vms;
    if (lc->vms)
        lc->vms->prev = v;
    lc->vms = v;
    *pv = v;
    if (luavm_on_discard(L, lc_vm_forget, v) != 0)
        return luaL_error(L, "berth.cluster: out of memory");

    lua_newtable(L);
    for (const luaL_Reg *f = lc_funcs; f->name; f++) {
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    /* JSON null as objects carry it (luajson.h), for policies to compare with and to put
     * in patches and results ("remove this key"). */
    luajson_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Host API */

luacluster_t *luacluster_create(apiclient_t *client, const char *component)
{
    luacluster_t *lc = calloc(1, sizeof(*lc));
    if (lc == NULL)
        return NULL;
    lc->client = client;
    lc->component = strdup(component && *component ? component : "berth");
    lc->events = eventcorr_create();
    if (lc->component == NULL || lc->events == NULL) {
        free(lc->component);
        eventcorr_free(lc->events);
        free(lc);
        return NULL;
    }
    /* The component goes into a metrics label: keep it to label-safe characters. */
    for (char *c = lc->component; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            *c = '_';
    metrics_describe(M_FAILURES, "counter",
                     "Actions of Lua policies (berth.cluster) that failed, by component and verb.");
    return lc;
}

void luacluster_free(luacluster_t *lc)
{
    if (lc == NULL)
        return;
    while (lc->inflight) {
        lc_op_t *op = lc->inflight;
        lc->inflight = op->next;
        apiclient_cancel(op->call);
        lc_op_free(op);
    }
    while (lc->phead) {
        lc_op_t *op = lc->phead;
        lc->phead = op->next;
        lc_op_free(op);
    }
    while (lc->groups)
        lc_group_free(lc, lc->groups);
    while (lc->vms) {
        lcvm_t *v = lc->vms;
        lc_queue_clear(v);
        v->window = 0;
        lc_vm_unlink(v);     /* v itself belongs to its VM's userdata */
    }
    free(lc->component);
    eventcorr_free(lc->events);
    free(lc);
}

int luacluster_add_informer(luacluster_t *lc, const char *resource, informer_t *inf)
{
    lc_res_t r;
    if (!lc || !inf || lc_res_parse(resource, &r) != 0 || r.sub[0] ||
        lc->ninformers >= LUACLUSTER_MAX_INFORMERS || lc_informer(lc, r.canon))
        return -1;
    snprintf(lc->informers[lc->ninformers].res, sizeof(lc->informers[0].res), "%s", r.canon);
    lc->informers[lc->ninformers++].inf = inf;
    return 0;
}

void luacluster_forget(luacluster_t *lc, const char *resource, const json_t *obj)
{
    char key[4 * LC_SEG_MAX + 2 * LC_NAME_MAX + 8];
    lc_res_t r;
    if (!lc || !obj || lc_res_parse(resource, &r) != 0 ||
        lc_cache_key(r.canon, obj, key, sizeof(key)) != 0)
        return;
    for (lcvm_t *v = lc->vms; v; v = v->next) {
        json_t *entry = json_object_get(v->cache, key);
        if (entry) {
            luajson_unref(v->L, (int)json_integer_value(json_array_get(entry, 0)));
            json_object_del(v->cache, key);
        }
    }
}

int luacluster_open(luacluster_t *lc, luavm_t *vm)
{
    return luavm_preload(vm, LUACLUSTER_MODULE, lc_lua_open, lc);
}

int luacluster_policy_setup(void *priv, const char *policy, luavm_t *vm, char *err,
                            size_t errlen)
{
    if (luacluster_open(priv, vm) != LUAVM_OK) {
        snprintf(err, errlen, "%s", luavm_errmsg(vm));
        return -1;
    }
    return 0;
}

void luacluster_begin(luacluster_t *lc, lua_State *L)
{
    lcvm_t *v = lc_vm_of(lc, L);
    if (v)
        v->window = 1;
}

int luacluster_commit(luacluster_t *lc, lua_State *L)
{
    return luacluster_commit_opts(lc, L, NULL, 0);
}

int luacluster_commit_tagged(luacluster_t *lc, lua_State *L, const char *tag)
{
    return luacluster_commit_opts(lc, L, tag, 0);
}

/* The slow-start group of this commit for a create to path (a collection), made on first
 * use; groups[0..*n) are this commit's. NULL when out of memory (the create then goes out
 * unbatched). */
static lc_group_t *lc_group_for(luacluster_t *lc, lc_group_t **groups, char **paths,
                                unsigned *n, unsigned max, const char *path)
{
    for (unsigned i = 0; i < *n; i++)
        if (!strcmp(paths[i], path))
            return groups[i];
    if (*n >= max)
        return NULL;
    lc_group_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->next = lc->groups;
    if (lc->groups)
        lc->groups->prev = g;
    lc->groups = g;
    groups[*n] = g;
    paths[*n] = (char *)path;
    (*n)++;
    return g;
}

int luacluster_commit_opts(luacluster_t *lc, lua_State *L, const char *tag, int flags)
{
    lcvm_t *v = lc_vm_of(lc, L);
    lc_group_t *groups[LC_MAX_GROUPS];
    char *paths[LC_MAX_GROUPS];
    unsigned ngroups = 0;
    int n;
    if (v == NULL)
        return 0;
    v->window = 0;
    lc_scratch_clear(v);
    if (v->qhead == NULL)
        return 0;
    n = (int)v->qlen;
    lc_op_t *op = v->qhead, *next;
    v->qhead = v->qtail = NULL;
    v->qlen = 0;
    /* In commit order: each group's first create goes where it was queued (a batch of 1),
     * its others wait in the group. */
    for (; op; op = next) {
        next = op->next;
        if (tag)
            op->tag = strdup(tag);
        lc_group_t *g = NULL;
        if ((flags & LUACLUSTER_SLOW_START) && !strcmp(op->verb, "create"))
            g = lc_group_for(lc, groups, paths, &ngroups, LC_MAX_GROUPS, op->path);
        if (g && g->batch > 0) {
            op->group = g;
            lc_fifo_push(&g->head, &g->tail, op);
            g->nheld++;
            lc->nheld++;
            continue;
        }
        if (g) {
            op->group = g;
            g->batch = 1;
            g->out = 1;
        }
        lc_pending_add(lc, op);
    }
    lc_pump(lc);
    return n;
}

int luacluster_discard(luacluster_t *lc, lua_State *L)
{
    lcvm_t *v = lc_vm_of(lc, L);
    unsigned n;
    if (v == NULL)
        return 0;
    v->window = 0;
    lc_scratch_clear(v);
    n = lc_queue_clear(v);
    lc->stats.discarded += n;
    return (int)n;
}

const char *luacluster_done_tag(const luacluster_t *lc)
{
    return lc->done_tag;
}

void luacluster_set_done(luacluster_t *lc, luacluster_done_fn *fn, void *priv)
{
    lc->done = fn;
    lc->done_priv = priv;
}

unsigned luacluster_pending(const luacluster_t *lc)
{
    return lc->npending + lc->ninflight + lc->nheld;
}

void luacluster_stats(const luacluster_t *lc, luacluster_stats_t *out)
{
    *out = lc->stats;
}
