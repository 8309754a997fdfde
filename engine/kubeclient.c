/* kubeclient.c: the blocking API client of the CLI tools (see kubeclient.h). */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubeclient.h"
#include "util.h"
#include "yaml_json.h"
#include "jsonload.h"
#include "jsondump.h"

#define KC_DEFAULT_SERVER "http://127.0.0.1:6443"
#define KC_MAX_BODY (256u << 20)     /* a response larger than this is refused */
#define KC_MAX_MANIFEST (64u << 20)

struct kubeclient_s {
    CURL *curl;
    char *server;            /* no trailing slash */
    char *namespace_;
    char *source;
    char *token;
    char *ca_file, *cert_file, *key_file;   /* paths, resolved against the kubeconfig */
    char *ca_data, *cert_data, *key_data;   /* decoded PEM */
    size_t ca_len, cert_len, key_len;
    int insecure;
    int timeout;
    kube_resource_t *res;    /* discovery cache; NULL until fetched */
    size_t nres;
};

/* ------------------------------------------------------------------ kubeconfig */

static char *read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 65536;
            char *nb = cap > max + 1 ? NULL : realloc(buf, cap);
            if (!nb) {
                snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
                free(buf);
                if (f != stdin)
                    fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    if (f != stdin)
        fclose(f);
    return buf;
}

/* The entry of a kubeconfig list (clusters, users, contexts) with that name: its inner
 * object (entry[field]). */
static json_t *named_entry(json_t *cfg, const char *list, const char *name, const char *field)
{
    json_t *arr = json_object_get(cfg, list), *e;
    size_t i;
    if (!name || !json_is_array(arr))
        return NULL;
    json_array_foreach(arr, i, e) {
        const char *n = json_str(e, "name");
        if (n && !strcmp(n, name))
            return json_object_get(e, field);
    }
    return NULL;
}

static char *resolve_relative(const char *cfg_path, const char *p)
{
    char *out;
    if (!p)
        return NULL;
    if (p[0] == '/' || !cfg_path || !strchr(cfg_path, '/'))
        return strdup(p);
    const char *slash = strrchr(cfg_path, '/');
    if (asprintf(&out, "%.*s/%s", (int)(slash - cfg_path), cfg_path, p) < 0)
        return NULL;
    return out;
}

static char *decode_data(const char *b64, size_t *len)
{
    if (!b64)
        return NULL;
    return (char *)util_base64_decode(b64, len);
}

static int load_kubeconfig(kubeclient_t *kc, const char *path, const char *context,
                           char *err, size_t errlen)
{
    char perr[512];
    size_t len;
    char *buf = read_file(path, 4u << 20, &len, perr, sizeof(perr));
    json_t *cfg, *ctx, *cluster, *user;
    const char *ctx_name, *s;
    if (!buf) {
        snprintf(err, errlen, "kubeconfig %s", perr);
        return -1;
    }
    cfg = yaml_parse_one(buf, len, perr, sizeof(perr));
    free(buf);
    if (!cfg || !json_is_object(cfg)) {
        snprintf(err, errlen, "kubeconfig %s: %s", path, cfg ? "not a mapping" : perr);
        json_decref(cfg);
        return -1;
    }
    ctx_name = context ? context : json_str(cfg, "current-context");
    ctx = named_entry(cfg, "contexts", ctx_name, "context");
    if (!ctx) {
        if (context || (ctx_name && *ctx_name))
            snprintf(err, errlen, "kubeconfig %s: context \"%s\" does not exist", path,
                     ctx_name);
        else
            snprintf(err, errlen, "kubeconfig %s: no current-context is set", path);
        json_decref(cfg);
        return -1;
    }
    cluster = named_entry(cfg, "clusters", json_str(ctx, "cluster"), "cluster");
    user = named_entry(cfg, "users", json_str(ctx, "user"), "user");
    if (!cluster || !json_str(cluster, "server")) {
        snprintf(err, errlen, "kubeconfig %s: cluster \"%s\" has no server", path,
                 json_str(ctx, "cluster") ? json_str(ctx, "cluster") : "");
        json_decref(cfg);
        return -1;
    }
    if (!kc->server)
        kc->server = strdup(json_str(cluster, "server"));
    if (!kc->namespace_ && (s = json_str(ctx, "namespace")) && *s)
        kc->namespace_ = strdup(s);
    kc->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    kc->ca_file = resolve_relative(path, json_str(cluster, "certificate-authority"));
    kc->ca_data = decode_data(json_str(cluster, "certificate-authority-data"), &kc->ca_len);
    if (user) {
        if ((s = json_str(user, "token")))
            kc->token = strdup(s);
        else if ((s = json_str(user, "tokenFile"))) {
            char *tp = resolve_relative(path, s);
            char *t = tp ? read_file(tp, 65536, NULL, perr, sizeof(perr)) : NULL;
            free(tp);
            if (!t) {
                snprintf(err, errlen, "kubeconfig %s: tokenFile %s", path, perr);
                json_decref(cfg);
                return -1;
            }
            t[strcspn(t, "\r\n")] = '\0';
            kc->token = t;
        }
        kc->cert_file = resolve_relative(path, json_str(user, "client-certificate"));
        kc->key_file = resolve_relative(path, json_str(user, "client-key"));
        kc->cert_data = decode_data(json_str(user, "client-certificate-data"), &kc->cert_len);
        kc->key_data = decode_data(json_str(user, "client-key-data"), &kc->key_len);
    }
    json_decref(cfg);
    return 0;
}

kubeclient_t *kubeclient_open(const kubeclient_opts_t *opts, char *err, size_t errlen)
{
    static int curl_ready;
    kubeclient_opts_t none = { 0 };
    kubeclient_t *kc;
    const char *cfg = NULL;
    char home_cfg[4096];
    if (!opts)
        opts = &none;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    kc = calloc(1, sizeof(*kc));
    if (!kc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    kc->timeout = opts->timeout_seconds > 0 ? opts->timeout_seconds : 30;
    if (opts->namespace_ && *opts->namespace_)
        kc->namespace_ = strdup(opts->namespace_);
    if (opts->server && *opts->server) {
        kc->server = strdup(opts->server);
        kc->source = strdup("--server");
    } else {
        const char *env;
        if (opts->kubeconfig && *opts->kubeconfig)
            cfg = opts->kubeconfig;
        else if ((env = getenv("BERTH_KUBECONFIG")) && *env)
            cfg = env;
        else if ((env = getenv("KUBECONFIG")) && *env) {
            /* KUBECONFIG is a list; the first file that exists is used. */
            static char first[4096];
            const char *p = env;
            while (*p && !cfg) {
                size_t n = strcspn(p, ":");
                if (n && n < sizeof(first)) {
                    memcpy(first, p, n);
                    first[n] = '\0';
                    if (access(first, R_OK) == 0)
                        cfg = first;
                }
                p += n + (p[n] == ':');
            }
        }
        if (!cfg && (env = getenv("HOME")) && *env) {
            snprintf(home_cfg, sizeof(home_cfg), "%s/.kube/config", env);
            if (access(home_cfg, R_OK) == 0)
                cfg = home_cfg;
        }
        if (cfg) {
            if (load_kubeconfig(kc, cfg, opts->context, err, errlen) < 0) {
                kubeclient_free(kc);
                return NULL;
            }
            kc->source = strdup(cfg);
        } else {
            kc->server = strdup(KC_DEFAULT_SERVER);
            kc->source = strdup("default");
        }
    }
    if (!kc->namespace_)
        kc->namespace_ = strdup("default");
    if (kc->server) {
        size_t n = strlen(kc->server);
        while (n > 0 && kc->server[n - 1] == '/')
            kc->server[--n] = '\0';
        if (!strstr(kc->server, "://")) {
            char *withscheme;
            if (asprintf(&withscheme, "http://%s", kc->server) >= 0) {
                free(kc->server);
                kc->server = withscheme;
            }
        }
    }
    kc->curl = curl_easy_init();
    if (!kc->server || !kc->namespace_ || !kc->source || !kc->curl) {
        snprintf(err, errlen, "out of memory");
        kubeclient_free(kc);
        return NULL;
    }
    return kc;
}

void kubeclient_free(kubeclient_t *kc)
{
    if (!kc)
        return;
    if (kc->curl)
        curl_easy_cleanup(kc->curl);
    free(kc->server);
    free(kc->namespace_);
    free(kc->source);
    free(kc->token);
    free(kc->ca_file);
    free(kc->cert_file);
    free(kc->key_file);
    free(kc->ca_data);
    free(kc->cert_data);
    free(kc->key_data);
    free(kc->res);
    free(kc);
}

const char *kubeclient_server(const kubeclient_t *kc) { return kc->server; }
const char *kubeclient_namespace(const kubeclient_t *kc) { return kc->namespace_; }
const char *kubeclient_source(const kubeclient_t *kc) { return kc->source; }

/* ------------------------------------------------------------------ requests */

typedef struct body_buf_s {
    char *data;
    size_t len, cap;
    int too_large;
} body_buf_t;

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_buf_t *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n + 1 > KC_MAX_BODY) {
        b->too_large = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Reset the handle and set what every request shares: URL, TLS, auth, headers. */
static struct curl_slist *prepare(kubeclient_t *kc, const char *method, const char *path,
                                  const char *content_type, const char *accept)
{
    CURL *c = kc->curl;
    struct curl_slist *h = NULL;
    char line[1024];
    char *url;
    curl_easy_reset(c);
    if (asprintf(&url, "%s%s", kc->server, path) < 0)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "berth/0.1.0");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (kc->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (kc->ca_data) {
        struct curl_blob blob = { kc->ca_data, kc->ca_len, CURL_BLOB_NOCOPY };
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    } else if (kc->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, kc->ca_file);
    if (kc->cert_data) {
        struct curl_blob blob = { kc->cert_data, kc->cert_len, CURL_BLOB_NOCOPY };
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob);
    } else if (kc->cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, kc->cert_file);
    if (kc->key_data) {
        struct curl_blob blob = { kc->key_data, kc->key_len, CURL_BLOB_NOCOPY };
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &blob);
    } else if (kc->key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, kc->key_file);
    snprintf(line, sizeof(line), "Accept: %s", accept ? accept : "application/json");
    h = curl_slist_append(h, line);
    if (content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        h = curl_slist_append(h, line);
    }
    if (kc->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", kc->token);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    return h;
}

static void curl_failure(kubeclient_t *kc, CURLcode rc, const char *errbuf, char *err,
                         size_t errlen)
{
    snprintf(err, errlen, "cannot reach %s: %s", kc->server,
             errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
}

int kubeclient_request(kubeclient_t *kc, const char *method, const char *path,
                       const char *content_type, const char *body, size_t body_len,
                       const char *accept, long *status, char **resp, size_t *resp_len,
                       char *err, size_t errlen)
{
    body_buf_t b = { 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h;
    CURLcode rc;
    *status = 0;
    *resp = NULL;
    h = prepare(kc, method, path, body ? (content_type ? content_type : "application/json")
                                       : NULL, accept);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (body) {
        curl_easy_setopt(kc->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(kc->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
        curl_easy_setopt(kc->curl, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(kc->curl, CURLOPT_TIMEOUT, (long)kc->timeout);
    curl_easy_setopt(kc->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(kc->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(kc->curl, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform(kc->curl);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        if (b.too_large)
            snprintf(err, errlen, "%s %s: response larger than %u bytes", method, path,
                     KC_MAX_BODY);
        else
            curl_failure(kc, rc, errbuf, err, errlen);
        free(b.data);
        return -1;
    }
    curl_easy_getinfo(kc->curl, CURLINFO_RESPONSE_CODE, status);
    if (!b.data)
        b.data = strdup("");
    if (!b.data) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *resp = b.data;
    if (resp_len)
        *resp_len = b.len;
    return 0;
}

json_t *kubeclient_json(kubeclient_t *kc, const char *method, const char *path,
                        const char *content_type, json_t *body, long *status,
                        char *err, size_t errlen)
{
    char *enc = body ? jsondump(body, JSON_COMPACT) : NULL;
    char *resp = NULL;
    size_t len = 0;
    json_t *out;
    json_error_t jerr;
    if (body && !enc) {
        snprintf(err, errlen, "out of memory");
        *status = 0;
        return NULL;
    }
    int rc = kubeclient_request(kc, method, path, content_type, enc, enc ? strlen(enc) : 0,
                                NULL, status, &resp, &len, err, errlen);
    free(enc);
    if (rc < 0)
        return NULL;
    out = jsonload(resp, len, 0, &jerr);
    if (!out)
        snprintf(err, errlen, "%s %s: HTTP %ld with a body that is not JSON%s%.200s", method,
                 path, *status, len ? ": " : "", resp);
    free(resp);
    return out;
}

typedef struct stream_ctx_s {
    kubeclient_data_fn *fn;
    void *priv;
    int stopped;
} stream_ctx_t;

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    stream_ctx_t *s = userdata;
    size_t n = size * nmemb;
    if (s->fn(ptr, n, s->priv)) {
        s->stopped = 1;
        return 0;
    }
    return n;
}

int kubeclient_stream(kubeclient_t *kc, const char *path, const char *accept,
                      int timeout_seconds, kubeclient_data_fn *on_data, void *priv,
                      long *status, char *err, size_t errlen)
{
    stream_ctx_t s = { on_data, priv, 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = prepare(kc, "GET", path, NULL, accept);
    CURLcode rc;
    *status = 0;
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (timeout_seconds > 0)
        curl_easy_setopt(kc->curl, CURLOPT_TIMEOUT, (long)timeout_seconds);
    curl_easy_setopt(kc->curl, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(kc->curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(kc->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(kc->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    rc = curl_easy_perform(kc->curl);
    curl_slist_free_all(h);
    curl_easy_getinfo(kc->curl, CURLINFO_RESPONSE_CODE, status);
    if (rc == CURLE_OK || s.stopped)
        return 0;
    if (rc == CURLE_OPERATION_TIMEDOUT && *status) {
        return 0;
    }
    curl_failure(kc, rc, errbuf, err, errlen);
    return -1;
}

/* ------------------------------------------------------------------ discovery */

static int add_resources(kubeclient_t *kc, const char *group, const char *version,
                         json_t *list)
{
    json_t *arr = json_object_get(list, "resources"), *r;
    size_t i;
    json_array_foreach(arr, i, r) {
        const char *name = json_str(r, "name"), *kind = json_str(r, "kind");
        if (!name || !kind || strchr(name, '/'))
            continue;
        kube_resource_t *nr = realloc(kc->res, (kc->nres + 1) * sizeof(*nr));
        if (!nr)
            return -1;
        kc->res = nr;
        nr = &kc->res[kc->nres++];
        memset(nr, 0, sizeof(*nr));
        snprintf(nr->group, sizeof(nr->group), "%s", group);
        snprintf(nr->version, sizeof(nr->version), "%s", version);
        snprintf(nr->resource, sizeof(nr->resource), "%s", name);
        snprintf(nr->kind, sizeof(nr->kind), "%s", kind);
        const char *sing = json_str(r, "singularName");
        if (sing && *sing)
            snprintf(nr->singular, sizeof(nr->singular), "%s", sing);
        else {
            size_t k = 0;
            for (; kind[k] && k + 1 < sizeof(nr->singular); k++)
                nr->singular[k] = (char)(kind[k] >= 'A' && kind[k] <= 'Z' ? kind[k] + 32
                                                                           : kind[k]);
            nr->singular[k] = '\0';
        }
        nr->namespaced = json_is_true(json_object_get(r, "namespaced"));
        json_t *sn = json_object_get(r, "shortNames"), *s;
        size_t j, used = 0;
        json_array_foreach(sn, j, s) {
            const char *v = json_string_value(s);
            if (!v || used + strlen(v) + 2 > sizeof(nr->short_names))
                continue;
            used += (size_t)snprintf(nr->short_names + used, sizeof(nr->short_names) - used,
                                     "%s%s", used ? "," : "", v);
        }
    }
    return 0;
}

static int discover_version(kubeclient_t *kc, const char *group, const char *version,
                            char *err, size_t errlen)
{
    char path[512];
    long status;
    json_t *doc;
    if (*group)
        snprintf(path, sizeof(path), "/apis/%s/%s", group, version);
    else
        snprintf(path, sizeof(path), "/api/%s", version);
    doc = kubeclient_json(kc, "GET", path, NULL, NULL, &status, err, errlen);
    if (!doc)
        return -1;
    if (status != 200) {
        snprintf(err, errlen, "discovery %s: %s", path, kubeclient_status_message(doc, status));
        json_decref(doc);
        return -1;
    }
    if (add_resources(kc, group, version, doc) < 0) {
        json_decref(doc);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_decref(doc);
    return 0;
}

static int discover(kubeclient_t *kc, char *err, size_t errlen)
{
    long status;
    json_t *groups, *g;
    size_t i;
    if (kc->res)
        return 0;
    if (discover_version(kc, "", "v1", err, errlen) < 0)
        return -1;
    groups = kubeclient_json(kc, "GET", "/apis", NULL, NULL, &status, err, errlen);
    if (!groups)
        return -1;
    if (status != 200) {
        snprintf(err, errlen, "discovery /apis: %s", kubeclient_status_message(groups, status));
        json_decref(groups);
        return -1;
    }
    json_array_foreach(json_object_get(groups, "groups"), i, g) {
        const char *name = json_str(g, "name");
        const char *ver = json_str(json_object_get(g, "preferredVersion"), "version");
        if (!name || !ver)
            continue;
        if (discover_version(kc, name, ver, err, errlen) < 0) {
            json_decref(groups);
            return -1;
        }
    }
    json_decref(groups);
    return 0;
}

int kubeclient_resources(kubeclient_t *kc, const kube_resource_t **out, size_t *n,
                         char *err, size_t errlen)
{
    if (discover(kc, err, errlen) < 0)
        return -1;
    *out = kc->res;
    *n = kc->nres;
    return 0;
}

static int name_matches(kubeclient_t *kc, size_t idx, const char *name)
{
    const kube_resource_t *r = &kc->res[idx];
    if (!strcasecmp(r->resource, name) || !strcasecmp(r->singular, name) ||
        !strcasecmp(r->kind, name))
        return 1;
    const char *p = r->short_names;
    size_t n = strlen(name);
    while (*p) {
        size_t l = strcspn(p, ",");
        if (l == n && !strncasecmp(p, name, n))
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

/* qualifier is "" (any group) or "group". */
static int group_matches(const kube_resource_t *r, const char *qual)
{
    return !*qual || !strcasecmp(r->group, qual);
}

int kubeclient_resolve(kubeclient_t *kc, const char *name, kube_resource_t *out,
                       char *err, size_t errlen)
{
    char base[256];
    const char *qual = "";
    if (!name || !*name || strlen(name) >= sizeof(base)) {
        snprintf(err, errlen, "the server doesn't have a resource type \"%s\"",
                 name ? name : "");
        return -1;
    }
    if (discover(kc, err, errlen) < 0)
        return -1;
    snprintf(base, sizeof(base), "%s", name);
    char *dot = strchr(base, '.');
    if (dot) {
        *dot = '\0';
        qual = dot + 1;
    }
    for (size_t i = 0; i < kc->nres; i++)
        if (name_matches(kc, i, base) && group_matches(&kc->res[i], qual)) {
            *out = kc->res[i];
            return 0;
        }
    /* "deployment.v1.apps" names a version: discovery keeps only the preferred one */
    for (size_t i = 0; i < kc->nres && *qual; i++) {
        const kube_resource_t *r = &kc->res[i];
        size_t ql = strlen(qual), gl = strlen(r->group);
        if (!name_matches(kc, i, base) || ql <= gl + 1 || qual[ql - gl - 1] != '.' ||
            strcasecmp(qual + ql - gl, r->group) || ql - gl - 1 >= sizeof(out->version))
            continue;
        *out = *r;
        snprintf(out->version, sizeof(out->version), "%.*s", (int)(ql - gl - 1), qual);
        return 0;
    }
    snprintf(err, errlen, "the server doesn't have a resource type \"%s\"", name);
    return -1;
}

int kubeclient_resolve_kind(kubeclient_t *kc, const char *api_version, const char *kind,
                            kube_resource_t *out, char *err, size_t errlen)
{
    char group[128] = "";
    const char *version = api_version ? api_version : "";
    const char *slash = strchr(version, '/');
    if (slash) {
        snprintf(group, sizeof(group), "%.*s", (int)(slash - version), version);
        version = slash + 1;
    }
    if (!kind || !*kind || !*version) {
        snprintf(err, errlen, "object has no %s", !*version ? "apiVersion" : "kind");
        return -1;
    }
    if (discover(kc, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < kc->nres; i++) {
        const kube_resource_t *r = &kc->res[i];
        if (!strcmp(r->kind, kind) && !strcmp(r->group, group)) {
            *out = *r;
            snprintf(out->version, sizeof(out->version), "%s", version);
            return 0;
        }
    }
    snprintf(err, errlen, "no matches for kind \"%s\" in version \"%s\"", kind,
             api_version ? api_version : "");
    return -1;
}

static void path_escape(char **p, size_t *left, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && *left > 4; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == ':') {
            *(*p)++ = (char)ch;
            (*left)--;
        } else {
            *(*p)++ = '%';
            *(*p)++ = hex[ch >> 4];
            *(*p)++ = hex[ch & 15];
            *left -= 3;
        }
    }
    **p = '\0';
}

char *kubeclient_path(const kube_resource_t *r, const char *ns, const char *name,
                      const char *sub)
{
    size_t cap = 1024 + 3 * ((ns ? strlen(ns) : 0) + (name ? strlen(name) : 0)) +
                 (sub ? strlen(sub) : 0);
    char *out = malloc(cap), *p = out;
    size_t left = cap;
    int n;
    if (!out)
        return NULL;
    if (*r->group)
        n = snprintf(p, left, "/apis/%s/%s", r->group, r->version);
    else
        n = snprintf(p, left, "/api/%s", r->version);
    p += n, left -= (size_t)n;
    if (r->namespaced && ns) {
        n = snprintf(p, left, "/namespaces/");
        p += n, left -= (size_t)n;
        path_escape(&p, &left, ns);
    }
    n = snprintf(p, left, "/%s", r->resource);
    p += n, left -= (size_t)n;
    if (name) {
        *p++ = '/', left--;
        path_escape(&p, &left, name);
        if (sub)
            snprintf(p, left, "/%s", sub);
    }
    return out;
}

const char *kubeclient_status_message(const json_t *body, long status)
{
    static char fallback[128];
    const char *m = json_str(body, "message");
    if (m && *m)
        return m;
    snprintf(fallback, sizeof(fallback), "the server answered HTTP %ld", status);
    return fallback;
}

/* ------------------------------------------------------------------ manifests */

static int add_manifest(json_t *out, json_t *obj, const char *source, char *err,
                        size_t errlen)
{
    const char *kind = json_str(obj, "kind");
    if (!json_is_object(obj) || !kind || !json_str(obj, "apiVersion")) {
        snprintf(err, errlen, "%s: %s", source,
                 !json_is_object(obj) ? "not an object"
                 : !json_str(obj, "apiVersion") ? "apiVersion not set" : "kind not set");
        return -1;
    }
    size_t klen = strlen(kind);
    json_t *items = json_object_get(obj, "items");
    if (klen >= 4 && !strcmp(kind + klen - 4, "List") && json_is_array(items)) {
        json_t *it;
        size_t i;
        json_array_foreach(items, i, it) {
            char src[1200];
            snprintf(src, sizeof(src), "%s (item %zu)", source, i + 1);
            if (add_manifest(out, it, src, err, errlen) < 0)
                return -1;
        }
        return 0;
    }
    json_array_append_new(out, json_pack("{s:s, s:O}", "source", source, "object", obj));
    return 0;
}

static int read_one_source(json_t *out, const char *path, char *err, size_t errlen)
{
    char perr[512];
    size_t len;
    char *buf = read_file(path, KC_MAX_MANIFEST, &len, perr, sizeof(perr));
    const char *name = strcmp(path, "-") ? path : "STDIN";
    json_t *docs;
    if (!buf) {
        snprintf(err, errlen, "%s", perr);
        return -1;
    }
    docs = yaml_parse_all(buf, len, perr, sizeof(perr));
    free(buf);
    if (!docs) {
        snprintf(err, errlen, "%s: %s", name, perr);
        return -1;
    }
    size_t n = json_array_size(docs);
    for (size_t i = 0; i < n; i++) {
        char src[1100];
        if (n > 1)
            snprintf(src, sizeof(src), "%s (document %zu)", name, i + 1);
        else
            snprintf(src, sizeof(src), "%s", name);
        if (add_manifest(out, json_array_get(docs, i), src, err, errlen) < 0) {
            json_decref(docs);
            return -1;
        }
    }
    json_decref(docs);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_manifest_suffix(const char *n)
{
    size_t l = strlen(n);
    return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")) ||
           (l > 5 && !strcmp(n + l - 5, ".json"));
}

json_t *kubeclient_read_manifests(const char *source, char *err, size_t errlen)
{
    json_t *out = json_array();
    struct stat st;
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strcmp(source, "-") && stat(source, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(source);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int failed = 0;
        if (!d) {
            snprintf(err, errlen, "%s: %s", source, strerror(errno));
            json_decref(out);
            return NULL;
        }
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || !has_manifest_suffix(de->d_name))
                continue;
            char **nn = realloc(names, (n + 1) * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
            if (asprintf(&names[n], "%s%s%s", source,
                         source[strlen(source) - 1] == '/' ? "" : "/", de->d_name) < 0)
                break;
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_names);
        for (size_t i = 0; i < n; i++) {
            if (!failed && read_one_source(out, names[i], err, errlen) < 0)
                failed = 1;
            free(names[i]);
        }
        free(names);
        if (failed) {
            json_decref(out);
            return NULL;
        }
        if (n == 0) {
            snprintf(err, errlen, "%s: no manifests (*.yaml, *.yml, *.json) in the directory",
                     source);
            json_decref(out);
            return NULL;
        }
        return out;
    }
    if (read_one_source(out, source, err, errlen) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}
