/* informer.c: list+watch cache of one kind (see informer.h).
 *
 * States: LISTING (a list page request outstanding, items gathered into `fresh`), WATCHING (a
 * watch stream open), WAITING (the retry timer armed, to re-list or re-watch). Exactly one of
 * list_call, watch_call or the armed retry timer exists at any time after informer_start.
 *
 * The cache is a jansson object used as a hash map from cache key to the object; each index is
 * a jansson object from index key to an object of cache key -> object. Handlers run after the
 * cache and indexes have been updated, so a handler sees the new state in its lookups. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "informer.h"

#define INFORMER_PAGE_SIZE   500
#define INFORMER_BACKOFF_MIN 100      /* ms */
#define INFORMER_BACKOFF_MAX 10000    /* ms */
#define INFORMER_MAX_INDEXES 16
#define INFORMER_MAX_PAGES   100000   /* bound on one list's continue chain */

typedef struct informer_index_s {
    char *name;
    informer_index_fn *fn;
    void *priv;
    json_t *map;                    /* index key -> { cache key -> object } */
} informer_index_t;

enum { RETRY_RELIST, RETRY_REWATCH };

struct informer_s {
    struct event_base *base;
    apiclient_t *client;
    char *path;                     /* collection path, namespace inserted */
    char *label_selector, *field_selector;
    int page_size, watch_timeout;
    informer_handlers_t h;

    json_t *cache;
    informer_index_t indexes[INFORMER_MAX_INDEXES];
    int nindexes;
    char *rv;

    int started, synced;
    int list_consistent;            /* the next list without resourceVersion=0 (after a 410) */
    apiclient_call_t *list_call, *watch_call;
    json_t *fresh;                  /* the list being gathered: cache key -> object */
    char *list_kind, *list_api_version;
    unsigned pages;
    struct event *retry;
    int retry_action;
    long backoff_ms;
    uint64_t watch_started_ms;
    int watch_saw_event;
    int watch_after_list;           /* this watch started from a list just made */
    int next_watch_after_list;
    informer_stats_t stats;
};

static void list_begin(informer_t *inf);
static void watch_begin(informer_t *inf);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_str(char **dst, const char *src)
{
    char *copy = src ? strdup(src) : NULL;
    if (src && !copy)
        return;   /* keep the old value rather than lose it */
    free(*dst);
    *dst = copy;
}

/* "<ns>/<name>" or "<name>" into buf; -1 for an object without a usable name. */
static int object_key(json_t *obj, char *buf, size_t size)
{
    json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    int n;
    if (!name || !*name)
        return -1;
    n = (ns && *ns) ? snprintf(buf, size, "%s/%s", ns, name) : snprintf(buf, size, "%s", name);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

static const char *object_rv(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* ---------------------------------------------------------------------------- indexes */

static void index_apply(informer_t *inf, const char *key, json_t *obj, int add)
{
    for (int i = 0; i < inf->nindexes; i++) {
        informer_index_t *ix = &inf->indexes[i];
        json_t *keys = json_array();
        size_t j;
        json_t *k;
        if (!keys)
            continue;
        ix->fn(obj, keys, ix->priv);
        json_array_foreach(keys, j, k) {
            const char *ik = json_string_value(k);
            json_t *set;
            if (!ik)
                continue;
            set = json_object_get(ix->map, ik);
            if (add) {
                if (!set) {
                    set = json_object();
                    if (!set || json_object_set_new(ix->map, ik, set) != 0)
                        continue;
                }
                json_object_set(set, key, obj);
            } else if (set) {
                json_object_del(set, key);
                if (!json_object_size(set))
                    json_object_del(ix->map, ik);
            }
        }
        json_decref(keys);
    }
}

/* ---------------------------------------------------------------------------- cache changes */

/* Store obj (a new reference is taken) under key and tell the handlers. */
static void cache_put(informer_t *inf, const char *key, json_t *obj)
{
    json_t *old = json_object_get(inf->cache, key);
    json_incref(old);
    if (old)
        index_apply(inf, key, old, 0);
    if (json_object_set(inf->cache, key, obj) != 0) {
        /* Out of memory: keep the old state consistent with its indexes. */
        if (old)
            index_apply(inf, key, old, 1);
        json_decref(old);
        return;
    }
    index_apply(inf, key, obj, 1);
    if (old) {
        if (inf->h.on_update)
            inf->h.on_update(inf, old, obj, inf->h.priv);
    } else if (inf->h.on_add) {
        inf->h.on_add(inf, obj, inf->h.priv);
    }
    json_decref(old);
}

/* Drop key; the handler gets last (the final state, e.g. from a DELETED event) or the cached
 * object when last is NULL. */
static void cache_remove(informer_t *inf, const char *key, json_t *last)
{
    json_t *old = json_object_get(inf->cache, key);
    if (!old)
        return;
    json_incref(old);
    index_apply(inf, key, old, 0);
    json_object_del(inf->cache, key);
    if (inf->h.on_delete)
        inf->h.on_delete(inf, last ? last : old, inf->h.priv);
    json_decref(old);
}

/* A full list arrived: deliver the difference to the handlers, then adopt it. */
static void cache_replace(informer_t *inf, json_t *fresh)
{
    const char *key;
    json_t *obj, *gone = json_array();
    size_t i;

    json_object_foreach(fresh, key, obj) {
        json_t *old = json_object_get(inf->cache, key);
        const char *orv = old ? object_rv(old) : NULL, *nrv = object_rv(obj);
        /* Same resourceVersion: the same object, already delivered. */
        if (old && orv && nrv && !strcmp(orv, nrv))
            continue;
        cache_put(inf, key, obj);
    }
    json_object_foreach(inf->cache, key, obj) {
        if (!json_object_get(fresh, key))
            json_array_append_new(gone, json_string(key));
    }
    json_array_foreach(gone, i, obj)
        cache_remove(inf, json_string_value(obj), NULL);
    json_decref(gone);
}

/* ---------------------------------------------------------------------------- retries */

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    informer_t *inf = arg;
    if (inf->retry_action == RETRY_REWATCH)
        watch_begin(inf);
    else
        list_begin(inf);
}

/* Re-list (or re-watch) after the current backoff, which then doubles. */
static void retry_later(informer_t *inf, int action)
{
    long ms = inf->backoff_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    inf->retry_action = action;
    inf->backoff_ms = ms * 2 > INFORMER_BACKOFF_MAX ? INFORMER_BACKOFF_MAX : ms * 2;
    evtimer_add(inf->retry, &tv);
}

static void retry_now(informer_t *inf, int action)
{
    struct timeval zero = { 0, 0 };
    inf->retry_action = action;
    evtimer_add(inf->retry, &zero);
}

/* ---------------------------------------------------------------------------- listing */

static void url_add_selectors(informer_t *inf, struct evbuffer *u)
{
    if (inf->label_selector) {
        evbuffer_add_printf(u, "&labelSelector=");
        apiclient_query_escape(u, inf->label_selector);
    }
    if (inf->field_selector) {
        evbuffer_add_printf(u, "&fieldSelector=");
        apiclient_query_escape(u, inf->field_selector);
    }
}

/* The URL in a new string, or NULL. */
static char *url_take(struct evbuffer *u)
{
    size_t len = evbuffer_get_length(u);
    char *s = malloc(len + 1);
    if (s) {
        evbuffer_remove(u, s, len);
        s[len] = '\0';
    }
    evbuffer_free(u);
    return s;
}

static void list_page(informer_t *inf, const char *cont);

static void list_failed(informer_t *inf)
{
    json_decref(inf->fresh);
    inf->fresh = NULL;
    inf->stats.failures++;
    retry_later(inf, RETRY_RELIST);
}

/* Fill in kind and apiVersion, which list items may leave out, from the list's own. */
static void item_complete(informer_t *inf, json_t *item)
{
    if (inf->list_kind && !json_is_string(json_object_get(item, "kind")))
        json_object_set_new(item, "kind", json_string(inf->list_kind));
    if (inf->list_api_version && !json_is_string(json_object_get(item, "apiVersion")))
        json_object_set_new(item, "apiVersion", json_string(inf->list_api_version));
}

static void on_list_page(int status, json_t *body, const char *errstr, void *priv)
{
    informer_t *inf = priv;
    json_t *items, *item, *meta;
    const char *cont, *kind;
    size_t i;
    char key[1024];

    inf->list_call = NULL;
    if (status == 410) {
        /* The continue token expired: start the list over. */
        inf->stats.expired++;
        inf->list_consistent = 1;
        json_decref(inf->fresh);
        inf->fresh = NULL;
        retry_now(inf, RETRY_RELIST);
        return;
    }
    items = json_object_get(body, "items");
    meta = json_object_get(body, "metadata");
    if (status != 200 || !json_is_array(items) || !json_is_object(meta)) {
        list_failed(inf);
        return;
    }
    kind = json_string_value(json_object_get(body, "kind"));
    if (kind && strlen(kind) > 4 && !strcmp(kind + strlen(kind) - 4, "List")) {
        free(inf->list_kind);
        inf->list_kind = strndup(kind, strlen(kind) - 4);
    }
    set_str(&inf->list_api_version, json_string_value(json_object_get(body, "apiVersion")));
    json_array_foreach(items, i, item) {
        if (!json_is_object(item) || object_key(item, key, sizeof(key)) != 0)
            continue;
        item_complete(inf, item);
        json_object_set(inf->fresh, key, item);
    }
    cont = json_string_value(json_object_get(meta, "continue"));
    if (cont && *cont) {
        if (++inf->pages > INFORMER_MAX_PAGES) {
            list_failed(inf);
            return;
        }
        list_page(inf, cont);
        return;
    }
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    json_t *fresh = inf->fresh;
    inf->fresh = NULL;
    set_str(&inf->rv, rv ? rv : "");
    inf->list_consistent = 0;
    inf->stats.lists++;
    inf->synced = 1;
    cache_replace(inf, fresh);
    json_decref(fresh);
    inf->next_watch_after_list = 1;
    watch_begin(inf);
}

static void list_page(informer_t *inf, const char *cont)
{
    struct evbuffer *u = evbuffer_new();
    char *url;
    if (!u) {
        list_failed(inf);
        return;
    }
    evbuffer_add_printf(u, "%s?limit=%d", inf->path, inf->page_size);
    /* As client-go's reflector: the first page asks for any resourceVersion, which an API
     * server with a cache (kube's watch cache, berth's list cache) answers whole from memory
     * instead of a chain of pages; after a 410 the list asks for the latest, paged. */
    if (!cont && !inf->list_consistent)
        evbuffer_add_printf(u, "&resourceVersion=0");
    if (cont) {
        evbuffer_add_printf(u, "&continue=");
        apiclient_query_escape(u, cont);
    }
    url_add_selectors(inf, u);
    url = url_take(u);
    inf->list_call = url ? apiclient_request(inf->client, "GET", url, NULL, NULL, on_list_page, inf)
                         : NULL;
    free(url);
    if (!inf->list_call)
        list_failed(inf);
}

static void list_begin(informer_t *inf)
{
    json_decref(inf->fresh);
    inf->fresh = json_object();
    inf->pages = 0;
    if (!inf->fresh) {
        list_failed(inf);
        return;
    }
    list_page(inf, NULL);
}

/* ---------------------------------------------------------------------------- watching */

static void watch_stop(informer_t *inf)
{
    apiclient_cancel(inf->watch_call);
    inf->watch_call = NULL;
}

static void on_watch_event(json_t *ev, void *priv)
{
    informer_t *inf = priv;
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    char key[1024];

    if (!type || !json_is_object(obj))
        return;
    if (!strcmp(type, "ERROR")) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        watch_stop(inf);
        if (code == 410) {
            /* Our resourceVersion fell out of the server's window: list again now, unless
             * it came from a list just made (then the server is not keeping up: back off). */
            inf->stats.expired++;
        inf->list_consistent = 1;
            if (inf->watch_after_list && !inf->watch_saw_event)
                retry_later(inf, RETRY_RELIST);
            else
                retry_now(inf, RETRY_RELIST);
        } else {
            inf->stats.failures++;
            retry_later(inf, RETRY_RELIST);
        }
        return;
    }
    const char *rv = object_rv(obj);
    inf->watch_saw_event = 1;
    inf->backoff_ms = INFORMER_BACKOFF_MIN;
    if (!strcmp(type, "BOOKMARK")) {
        if (rv && *rv)
            set_str(&inf->rv, rv);
        return;
    }
    if (object_key(obj, key, sizeof(key)) != 0)
        return;
    if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
        cache_put(inf, key, obj);
    else if (!strcmp(type, "DELETED"))
        cache_remove(inf, key, obj);
    else
        return;
    if (rv && *rv)
        set_str(&inf->rv, rv);
}

static void on_watch_end(int status, json_t *body, const char *errstr, void *priv)
{
    informer_t *inf = priv;
    inf->watch_call = NULL;
    if (status == 200) {
        /* A watch that ended at once with nothing in it is not hammered again at once. */
        if (!inf->watch_saw_event && now_ms() - inf->watch_started_ms < 1000)
            retry_later(inf, RETRY_REWATCH);
        else
            retry_now(inf, RETRY_REWATCH);
        return;
    }
    if (status == 410) {
        inf->stats.expired++;
        inf->list_consistent = 1;
        if (inf->watch_after_list && !inf->watch_saw_event)
            retry_later(inf, RETRY_RELIST);
        else
            retry_now(inf, RETRY_RELIST);
        return;
    }
    inf->stats.failures++;
    retry_later(inf, RETRY_RELIST);
}

static void watch_begin(informer_t *inf)
{
    struct evbuffer *u = evbuffer_new();
    int timeout = inf->watch_timeout > 0 ? inf->watch_timeout : 300 + (int)(random() % 301);
    char *url;
    if (!u) {
        inf->stats.failures++;
        retry_later(inf, RETRY_REWATCH);
        return;
    }
    evbuffer_add_printf(u, "%s?watch=true&allowWatchBookmarks=true&timeoutSeconds=%d"
                        "&resourceVersion=", inf->path, timeout);
    apiclient_query_escape(u, inf->rv ? inf->rv : "");
    url_add_selectors(inf, u);
    url = url_take(u);
    inf->watch_started_ms = now_ms();
    inf->watch_saw_event = 0;
    inf->watch_after_list = inf->next_watch_after_list;
    inf->next_watch_after_list = 0;
    inf->watch_call = url ? apiclient_watch(inf->client, url, timeout + 90, on_watch_event,
                                            on_watch_end, inf)
                          : NULL;
    free(url);
    if (!inf->watch_call) {
        inf->stats.failures++;
        retry_later(inf, RETRY_REWATCH);
        return;
    }
    inf->stats.watches++;
}

/* ---------------------------------------------------------------------------- API */

/* path with "namespaces/<ns>/" put before its last segment. */
static char *collection_path(const char *path, const char *ns)
{
    const char *slash = strrchr(path, '/');
    size_t n = strlen(path) + (ns ? strlen(ns) : 0) + 16;
    char *out = malloc(n);
    if (!out)
        return NULL;
    if (!ns || !*ns)
        snprintf(out, n, "%s", path);
    else
        snprintf(out, n, "%.*s/namespaces/%s%s", (int)(slash - path), path, ns, slash);
    return out;
}

informer_t *informer_create(struct event_base *base, apiclient_t *client,
                            const informer_config_t *cfg, const informer_handlers_t *handlers)
{
    informer_t *inf;
    if (!cfg || !cfg->path || cfg->path[0] != '/' || !cfg->path[1] || !client)
        return NULL;
    if (cfg->ns && (strchr(cfg->ns, '/') || strchr(cfg->ns, '?') || strchr(cfg->ns, '&')))
        return NULL;
    inf = calloc(1, sizeof(*inf));
    if (!inf)
        return NULL;
    inf->base = base;
    inf->client = client;
    inf->page_size = cfg->page_size > 0 ? cfg->page_size : INFORMER_PAGE_SIZE;
    inf->watch_timeout = cfg->watch_timeout;
    if (handlers)
        inf->h = *handlers;
    inf->path = collection_path(cfg->path, cfg->ns);
    inf->cache = json_object();
    inf->retry = evtimer_new(base, on_retry, inf);
    inf->backoff_ms = INFORMER_BACKOFF_MIN;
    if (cfg->label_selector && *cfg->label_selector)
        inf->label_selector = strdup(cfg->label_selector);
    if (cfg->field_selector && *cfg->field_selector)
        inf->field_selector = strdup(cfg->field_selector);
    if (!inf->path || !inf->cache || !inf->retry ||
        (cfg->label_selector && *cfg->label_selector && !inf->label_selector) ||
        (cfg->field_selector && *cfg->field_selector && !inf->field_selector)) {
        informer_free(inf);
        return NULL;
    }
    return inf;
}

void informer_free(informer_t *inf)
{
    if (!inf)
        return;
    apiclient_cancel(inf->list_call);
    apiclient_cancel(inf->watch_call);
    if (inf->retry)
        event_free(inf->retry);
    for (int i = 0; i < inf->nindexes; i++) {
        free(inf->indexes[i].name);
        json_decref(inf->indexes[i].map);
    }
    json_decref(inf->cache);
    json_decref(inf->fresh);
    free(inf->path);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf->rv);
    free(inf->list_kind);
    free(inf->list_api_version);
    free(inf);
}

int informer_add_index(informer_t *inf, const char *name, informer_index_fn *fn, void *priv)
{
    informer_index_t *ix;
    if (inf->started || !name || !fn || inf->nindexes >= INFORMER_MAX_INDEXES)
        return -1;
    for (int i = 0; i < inf->nindexes; i++)
        if (!strcmp(inf->indexes[i].name, name))
            return -1;
    ix = &inf->indexes[inf->nindexes];
    ix->name = strdup(name);
    ix->map = json_object();
    if (!ix->name || !ix->map) {
        free(ix->name);
        json_decref(ix->map);
        memset(ix, 0, sizeof(*ix));
        return -1;
    }
    ix->fn = fn;
    ix->priv = priv;
    inf->nindexes++;
    return 0;
}

int informer_start(informer_t *inf)
{
    if (inf->started)
        return -1;
    inf->started = 1;
    list_begin(inf);
    return inf->list_call ? 0 : -1;
}

int informer_has_synced(const informer_t *inf)
{
    return inf->synced;
}

json_t *informer_get_key(informer_t *inf, const char *key)
{
    return key ? json_object_get(inf->cache, key) : NULL;
}

json_t *informer_get(informer_t *inf, const char *ns, const char *name)
{
    char key[1024];
    int n;
    if (!name)
        return NULL;
    n = (ns && *ns) ? snprintf(key, sizeof(key), "%s/%s", ns, name)
                    : snprintf(key, sizeof(key), "%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return json_object_get(inf->cache, key);
}

size_t informer_count(const informer_t *inf)
{
    return json_object_size(inf->cache);
}

int informer_foreach(informer_t *inf, int (*fn)(const char *key, json_t *obj, void *priv),
                     void *priv)
{
    const char *key;
    json_t *obj;
    json_object_foreach(inf->cache, key, obj) {
        int rc = fn(key, obj, priv);
        if (rc)
            return rc;
    }
    return 0;
}

json_t *informer_list(informer_t *inf)
{
    json_t *out = json_array(), *obj;
    const char *key;
    if (!out)
        return NULL;
    json_object_foreach(inf->cache, key, obj)
        json_array_append(out, obj);
    return out;
}

json_t *informer_by_index(informer_t *inf, const char *name, const char *key)
{
    for (int i = 0; i < inf->nindexes; i++) {
        if (strcmp(inf->indexes[i].name, name))
            continue;
        json_t *out = json_array(), *set = key ? json_object_get(inf->indexes[i].map, key) : NULL;
        json_t *obj;
        const char *k;
        if (!out)
            return NULL;
        json_object_foreach(set, k, obj)
            json_array_append(out, obj);
        return out;
    }
    return NULL;
}

const char *informer_resource_version(const informer_t *inf)
{
    return inf->rv ? inf->rv : "";
}

void informer_get_stats(const informer_t *inf, informer_stats_t *out)
{
    *out = inf->stats;
}
