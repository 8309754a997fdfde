/* api.h: the Kubernetes REST API over evhttp, backed by the store and the watch hub.
 *
 * api.c routes requests (discovery, health, metrics, OpenAPI, resources); api_read.c serves
 * get and list, api_watch.c watches, api_write.c create/update/patch/delete and the
 * subresources (status, scale, binding); api_review.c and api_metrics.c the groups that are
 * not stored kinds (the review APIs; metrics.k8s.io, scraped from the node agents). Every
 * request passes auth_check() first.
 *
 * A request's state is an api_req_t that lives until its reply is sent (api_req_finish).
 * Internal operations (the pod reaper) use the same flow with req == NULL and a done
 * callback instead of an HTTP reply.
 *
 * Depends on libevent (evhttp), jansson, store.h, watch.h, kinds.h. Used by server.c. */
#ifndef BERTH_API_H
#define BERTH_API_H

#include <stdint.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "kinds.h"
#include "listcache.h"
#include "selector.h"
#include "store.h"
#include "table.h"
#include "watch.h"

#define API_MAX_BODY (3 * 1024 * 1024)   /* as kube-apiserver: 3 MiB */

typedef struct api_server_s {
    struct event_base *base;
    struct evhttp *http;
    store_t *store;
    listcache_t *lists;        /* lists answered from memory; NULL: from the store */
    watch_hub_t *hub;
    const char *listen_addr;
    struct event *reaper;      /* expires graceful pod deletions */
    struct reap_s *reap_list;
    int ready_seen;            /* default namespaces ensured since the store came up */
    const char *agent_token;   /* sent to node agents as a bearer token, or NULL (borrowed) */
    struct api_metrics_s *metrics;   /* metrics.k8s.io (api_metrics.c), or NULL: not served */
} api_server_t;

typedef enum {
    VERB_GET, VERB_LIST, VERB_WATCH, VERB_CREATE, VERB_UPDATE, VERB_PATCH, VERB_DELETE,
    VERB_DELETECOLLECTION, VERB_OTHER
} api_verb_t;

typedef struct api_req_s api_req_t;
typedef void api_done_fn(api_req_t *r, int code, const char *body, size_t len);

struct api_req_s {
    api_server_t *srv;
    struct evhttp_request *req;    /* NULL for internal operations */
    api_done_fn *done;             /* internal operations: called instead of replying */
    void *done_priv;
    const kind_t *kind;
    char *ns, *name, *sub;         /* decoded path parts, owned; NULL if absent */
    api_verb_t verb;
    struct evkeyvalq query;
    int query_parsed;
    uint64_t started;
    json_t *body;                  /* parsed request body, owned */
    json_t *options;               /* DeleteOptions / internal options, owned */
    int attempts;                  /* conflict retries of read-modify-write */
    int dry_run;
    /* read-modify-write state */
    json_t *current;               /* object as read, owned */
    uint64_t current_rv;
    void *op;                      /* operation-specific state */
    void (*op_free)(void *op);     /* frees op with r, if set */
    /* deletecollection */
    json_t *pending;               /* items still to delete, owned */
    json_t *deleted;               /* items deleted, owned */
};

int  api_server_init(api_server_t *srv, struct event_base *base, store_t *store,
                     watch_hub_t *hub, const char *listen_addr);
void api_server_release(api_server_t *srv);
/* Create the namespaces every cluster has (default, kube-system, kube-public,
 * kube-node-lease) if missing. */
void api_ensure_namespaces(api_server_t *srv);

/* ---- shared by api_*.c ---- */
const char *api_query(api_req_t *r, const char *key);
int  api_wants_table(api_req_t *r);
/* The includeObject query parameter of a Table request (Metadata when absent or unknown). */
table_include_t api_table_include(api_req_t *r);

/* The base URL of a Node's agent, "http://host:port", into out: its berth.dev/agent-endpoint
 * annotation, else its InternalIP and daemonEndpoints port (api_log.c). 0, or -1 if the Node
 * says neither. */
int api_agent_endpoint(const json_t *node, char *out, size_t outlen);
/* A client connection to the agent at base (an api_agent_endpoint URL); the host to name in
 * the Host header goes into host. NULL if base is malformed or memory ran out. The caller
 * frees it with evhttp_connection_free, never inside one of its own callbacks (libevent
 * still uses it after they return). */
struct evhttp_connection *api_agent_connect(api_server_t *srv, const char *base, char *host,
                                            size_t hostlen);
/* The headers of a request to an agent: Host, and with --agent-token-file the bearer token. */
void api_agent_headers(api_server_t *srv, struct evhttp_request *out, const char *host);

/* pods/<name>/exec and pods/<name>/attach: the websocket upgrade relayed to the pod's node
 * agent (api_exec.c). */
void api_handle_exec(api_req_t *r);
/* pods/<name>/portforward: the same relay to the agent's port-forward endpoint, for a
 * websocket upgrade or a SPDY/3.1 one (api_exec.c). */
void api_handle_portforward(api_req_t *r);
/* pods/<name>/eviction: delete the pod if its PodDisruptionBudget allows (api_eviction.c). */
void api_handle_eviction(api_req_t *r);

/* The review APIs (api_review.c): authorization.k8s.io/v1 selfsubjectaccessreviews and
 * selfsubjectrulesreviews, authentication.k8s.io/v1 selfsubjectreviews. Not stored kinds:
 * discovery asks here. */
int api_review_group(const char *group);                       /* one of those two groups */
void api_review_groups(json_t *groups);                        /* append their APIGroup entries */
json_t *api_review_resource_list(const char *group, const char *version);   /* NULL if not ours */
struct auth_user_s;
void api_handle_review(api_req_t *r, const char *group, const char *plural,
                       const struct auth_user_s *user);

/* metrics.k8s.io/v1beta1, the Resource Metrics API (api_metrics.c): node agents' usage
 * scraped every resolution seconds and served from memory, for kubectl top. Not stored
 * kinds: discovery asks here, and only while the scraper runs (srv->metrics). */
typedef struct api_metrics_s api_metrics_t;
/* Start scraping every resolution seconds (> 0). NULL on failure. */
api_metrics_t *api_metrics_create(api_server_t *srv, int resolution);
/* Stop, cancel the scrapes in flight and free the cache. After store_free: a node list
 * still waiting is called back (and fails) while the scraper is alive. */
void api_metrics_free(api_metrics_t *m);
int api_metrics_group(const api_server_t *srv, const char *group);   /* served and ours */
void api_metrics_groups(const api_server_t *srv, json_t *groups);   /* append its APIGroup */
json_t *api_metrics_resource_list(const char *version);             /* NULL if not ours */
/* GET /apis/metrics.k8s.io/<seg...>: seg starts at the version. */
void api_handle_metrics(api_req_t *r, char **seg, int n, enum evhttp_cmd_type method);

void api_req_free(api_req_t *r);
/* Count the request in /metrics (api_reply does it; streams call it themselves). */
void api_record(api_req_t *r, int code);
/* List parameters (selectors, limit, continue, resourceVersion), see api_read.c. */
typedef struct list_op_s {
    label_selector_t *labels;
    field_selector_t *fields;
    size_t limit;
    uint64_t token_rv;         /* from the continue token, 0 if none */
    uint64_t min_rv;           /* resourceVersion the client asked for */
    int rv_given;              /* resourceVersion was set and not "0" */
    int rv_any;                /* resourceVersion was "0": any version will do */
    char *start;               /* continue after this key */
} list_op_t;
list_op_t *api_list_params(api_req_t *r);
void api_list_params_free(list_op_t *op);
/* Reply and free r. body is borrowed. */
void api_reply(api_req_t *r, int code, const char *content_type, const char *body, size_t len);
void api_reply_json(api_req_t *r, int code, json_t *obj);   /* steals obj */
/* GET pods/<name>/log, proxied to the pod's node agent (api_log.c). */
void api_handle_log(api_req_t *r);
/* Reply with the contents of body (taken over and freed). */
void api_reply_buffer(api_req_t *r, int code, const char *content_type, struct evbuffer *body);
/* A metav1.Status object (new reference); details is stolen. */
json_t *api_status_object(int code, const char *reason, json_t *details, const char *message);
/* A metav1.Status failure. details may be NULL (stolen otherwise). */
void api_reply_status(api_req_t *r, int code, const char *reason, json_t *details,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The errors every handler needs, worded as kube-apiserver words them. */
void api_reply_not_found(api_req_t *r, const kind_t *k, const char *name);
void api_reply_store_error(api_req_t *r, const store_result_t *res, const char *errstr);
/* "pods" or "deployments.apps": how messages name a resource. */
void api_resource_name(const kind_t *k, char *out, size_t outlen);
json_t *api_table_wrap(const kind_t *k, json_t *rows, const char *rv, int with_columns);

void api_handle_get(api_req_t *r);
void api_handle_list(api_req_t *r);
void api_handle_watch(api_req_t *r);
void api_handle_create(api_req_t *r);
void api_handle_update(api_req_t *r);
void api_handle_patch(api_req_t *r);
void api_handle_delete(api_req_t *r);
void api_handle_deletecollection(api_req_t *r);
void api_handle_scale_get(api_req_t *r);
/* The autoscaling/v1 Scale of an object with spec.replicas (new reference). */
json_t *api_scale_from(const kind_t *k, const json_t *obj);
void api_handle_binding(api_req_t *r);

/* Internal: delete a pod whose grace period has run out (no HTTP request). */
void api_reap_pod(api_server_t *srv, const char *ns, const char *name, const char *uid);
void api_reaper_track(api_server_t *srv, const char *ns, const char *name, const char *uid,
                      time_t deadline);
void api_reaper_scan(api_server_t *srv);
void api_reaper_release(api_server_t *srv);

#endif
