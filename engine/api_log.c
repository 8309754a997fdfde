/* api_log.c: GET pods/<name>/log, proxied to the node agent running the pod.
 *
 * As kube-apiserver does with the kubelet: the pod names its node, the Node says where its
 * agent listens (the berth.dev/agent-endpoint annotation the agent writes, else the
 * InternalIP and status.daemonEndpoints.kubeletEndpoint.Port), and the request goes on to the
 * agent's GET /containerLogs/<ns>/<pod>/<container> with the same query (follow, tailLines,
 * timestamps, sinceSeconds, limitBytes, previous). The agent's body is streamed back as it
 * arrives, so `kubectl logs -f` follows; a client that goes away closes the agent request.
 * With --agent-token-file the request carries the agents' bearer token (docs/agent.md), as
 * exec, attach and port-forward do (api_exec.c). The agent's address and the headers every
 * request to an agent carries are found here for the other callers too (api_agent_endpoint,
 * api_agent_connect, api_agent_headers: the metrics scraper, api_metrics.c).
 *
 * Errors as kube words them: no container named (several containers) 400, a pod without a
 * node 400, the container unknown 400, the agent unreachable 502 (kube: 500 with the dial
 * error). Depends on api.h, store.h, libevent's evhttp client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "apiclient.h"
#include "kinds.h"
#include "util.h"
#include "jsonload.h"

typedef struct log_op_s {
    api_req_t *r;
    struct event_base *base;
    struct evhttp_connection *agent;   /* to the node agent */
    struct evhttp_request *out;        /* the request to the agent, until it completes */
    struct evhttp_connection *client;  /* the kubectl side, for its close callback */
    int started;                       /* reply headers sent to the client */
    int code;                          /* the agent's status */
    struct evbuffer *errbody;          /* the agent's body when it is not 200 */
    char container[256];
} log_op_t;

static void free_connection(evutil_socket_t fd, short what, void *arg)
{
    evhttp_connection_free(arg);
}

/* Freed with the request (r->op_free). The agent connection is freed on the next turn of the
 * loop: this may run inside that connection's own done callback, where libevent still uses
 * it after the callback returns. A request still pending is cancelled first, so none of its
 * callbacks can reach the freed op. */
static void log_op_free(void *p)
{
    log_op_t *op = p;
    static const struct timeval zero = { 0, 0 };
    if (!op)
        return;
    if (op->client)
        evhttp_connection_set_closecb(op->client, NULL, NULL);
    if (op->out)
        evhttp_cancel_request(op->out);
    if (op->agent && event_base_once(op->base, -1, EV_TIMEOUT, free_connection, op->agent, &zero) != 0)
        evhttp_connection_free(op->agent);
    if (op->errbody)
        evbuffer_free(op->errbody);
    free(op);
}

/* End the streamed reply (or reply with the agent's error) and free everything. */
static void finish(log_op_t *op)
{
    api_req_t *r = op->r;
    if (op->started) {
        if (op->client)
            evhttp_connection_set_closecb(op->client, NULL, NULL);
        op->client = NULL;
        evhttp_send_reply_end(r->req);
        api_req_free(r);    /* frees op through op_free */
        return;
    }
    if (op->code == 0) {
        api_reply_status(r, 502, "ServiceUnavailable", NULL,
                         "Get \"containerLogs\": the node agent did not answer");
        return;
    }
    size_t n = op->errbody ? evbuffer_get_length(op->errbody) : 0;
    char msg[1024];
    if (n >= sizeof(msg))
        n = sizeof(msg) - 1;
    if (op->errbody)
        evbuffer_remove(op->errbody, msg, n);
    msg[n] = '\0';
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    api_reply_status(r, op->code == 404 ? 400 : op->code == 401 ? 401 : 502,
                     op->code == 404 ? "BadRequest" : NULL, NULL, "%s",
                     *msg ? msg : "the node agent refused the request");
}

static void client_closed(struct evhttp_connection *evcon, void *arg)
{
    log_op_t *op = arg;
    op->client = NULL;
    /* The reply is over for the client; free the agent side too. */
    api_req_t *r = op->r;
    evhttp_send_reply_end(r->req);
    api_req_free(r);
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    log_op_t *op = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    if (!op->started) {
        op->code = evhttp_request_get_response_code(req);
        if (op->code == 200) {
            struct evkeyvalq *h = evhttp_request_get_output_headers(op->r->req);
            evhttp_add_header(h, "Content-Type", "text/plain");
            api_record(op->r, 200);
            evhttp_send_reply_start(op->r->req, 200, "OK");
            op->started = 1;
            op->client = evhttp_request_get_connection(op->r->req);
            if (op->client)
                evhttp_connection_set_closecb(op->client, client_closed, op);
        }
    }
    if (op->started) {
        evhttp_send_reply_chunk(op->r->req, in);
    } else {
        if (!op->errbody)
            op->errbody = evbuffer_new();
        if (op->errbody)
            evbuffer_add_buffer(op->errbody, in);
    }
}

static void on_done(struct evhttp_request *req, void *arg)
{
    log_op_t *op = arg;
    op->out = NULL;
    if (req && !op->started) {
        op->code = evhttp_request_get_response_code(req);
        if (op->code == 200) {
            on_chunk(req, op);   /* a short body that came in one piece */
        } else {
            struct evbuffer *in = evhttp_request_get_input_buffer(req);
            if (!op->errbody)
                op->errbody = evbuffer_new();
            if (op->errbody && in)
                evbuffer_add_buffer(op->errbody, in);
        }
    }
    finish(op);
}

/* See api.h. */
int api_agent_endpoint(const json_t *node, char *out, size_t outlen)
{
    const char *ann = json_str(json_path(node, "metadata.annotations"), "berth.dev/agent-endpoint");
    if (ann && !strncmp(ann, "http://", 7)) {
        snprintf(out, outlen, "%s", ann);
        return 0;
    }
    json_int_t port = json_integer_value(json_path(node, "status.daemonEndpoints.kubeletEndpoint.Port"));
    size_t i;
    json_t *a;
    json_array_foreach(json_path(node, "status.addresses"), i, a) {
        const char *type = json_str(a, "type"), *addr = json_str(a, "address");
        if (type && !strcmp(type, "InternalIP") && addr && port > 0) {
            snprintf(out, outlen, strchr(addr, ':') ? "http://[%s]:%lld" : "http://%s:%lld", addr,
                     (long long)port);
            return 0;
        }
    }
    return -1;
}

/* See api.h. */
struct evhttp_connection *api_agent_connect(api_server_t *srv, const char *base, char *host,
                                            size_t hostlen)
{
    if (strncmp(base, "http://", 7))
        return NULL;
    const char *hp = base + 7, *colon = strrchr(hp, ':'), *bracket = strrchr(hp, ']');
    if (colon && bracket && colon < bracket)   /* [::1] without a port */
        colon = NULL;
    int port = colon ? atoi(colon + 1) : 10250;
    size_t len = colon ? (size_t)(colon - hp) : strcspn(hp, "/");
    if (len >= 2 && hp[0] == '[' && hp[len - 1] == ']') {   /* evhttp wants the bare address */
        hp++;
        len -= 2;
    }
    if (!len || len >= hostlen || port <= 0 || port > 65535)
        return NULL;
    snprintf(host, hostlen, "%.*s", (int)len, hp);
    return evhttp_connection_base_new(srv->base, NULL, host, (ev_uint16_t)port);
}

/* See api.h. */
void api_agent_headers(api_server_t *srv, struct evhttp_request *out, const char *host)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(out);
    evhttp_add_header(h, "Host", host);
    if (srv->agent_token) {
        char auth[600];
        snprintf(auth, sizeof(auth), "Bearer %s", srv->agent_token);
        evhttp_add_header(h, "Authorization", auth);
    }
}

static void node_read(const store_result_t *res, void *priv)
{
    log_op_t *op = priv;
    api_req_t *r = op->r;
    char base[400], host[300], path[2048];
    json_t *node = res->status == STORE_OK ? jsonload(res->data, res->len, 0, NULL) : NULL;
    int got = node && api_agent_endpoint(node, base, sizeof(base)) == 0;
    json_decref(node);
    if (!got) {
        api_reply_status(r, 502, "ServiceUnavailable", NULL,
                         "no node agent endpoint is known for the pod's node");
        return;
    }
    struct evbuffer *q = evbuffer_new();
    static const char *const params[] = { "follow", "tailLines", "timestamps", "sinceSeconds",
                                          "limitBytes", "previous", NULL };
    evbuffer_add_printf(q, "/containerLogs/%s/%s/%s?", r->ns, r->name, op->container);
    for (const char *const *p = params; *p; p++) {
        const char *v = api_query(r, *p);
        if (v) {
            evbuffer_add_printf(q, "%s=", *p);
            apiclient_query_escape(q, v);
            evbuffer_add(q, "&", 1);
        }
    }
    size_t n = evbuffer_get_length(q);
    if (n >= sizeof(path))
        n = sizeof(path) - 1;
    evbuffer_remove(q, path, n);
    path[n] = '\0';
    evbuffer_free(q);
    op->agent = api_agent_connect(r->srv, base, host, sizeof(host));
    op->out = op->agent ? evhttp_request_new(on_done, op) : NULL;
    if (!op->out) {
        api_reply_status(r, 500, NULL, NULL, "cannot reach the node agent");
        return;
    }
    evhttp_connection_set_timeout(op->agent, 3600);
    evhttp_request_set_chunked_cb(op->out, on_chunk);
    api_agent_headers(r->srv, op->out, host);
    if (evhttp_make_request(op->agent, op->out, EVHTTP_REQ_GET, path) != 0) {
        op->out = NULL;
        api_reply_status(r, 502, "ServiceUnavailable", NULL, "cannot reach the node agent");
    }
}

static void pod_read(const store_result_t *res, void *priv)
{
    log_op_t *op = priv;
    api_req_t *r = op->r;
    if (res->status == STORE_NOT_FOUND) {
        api_reply_status(r, 404, "NotFound", NULL, "pods \"%s\" not found", r->name);
        return;
    }
    json_t *pod = res->status == STORE_OK ? jsonload(res->data, res->len, 0, NULL) : NULL;
    if (!pod) {
        api_reply_status(r, 503, "ServiceUnavailable", NULL, "the store is unavailable");
        return;
    }
    const char *want = api_query(r, "container");
    json_t *cs = json_path(pod, "spec.containers"), *c;
    size_t i, n = json_array_size(cs);
    int found = 0;
    if (want && *want) {
        json_array_foreach(cs, i, c)
            if (json_str(c, "name") && !strcmp(json_str(c, "name"), want))
                found = 1;
        json_array_foreach(json_path(pod, "spec.initContainers"), i, c)
            if (json_str(c, "name") && !strcmp(json_str(c, "name"), want))
                found = 1;
        if (!found) {
            api_reply_status(r, 400, "BadRequest", NULL,
                             "container %s is not valid for pod %s", want, r->name);
            json_decref(pod);
            return;
        }
        snprintf(op->container, sizeof(op->container), "%s", want);
    } else {
        const char *dflt = json_str(json_path(pod, "metadata.annotations"),
                                    "kubectl.kubernetes.io/default-container");
        if (n == 1 || dflt) {
            snprintf(op->container, sizeof(op->container), "%s",
                     dflt ? dflt : json_str(json_array_get(cs, 0), "name"));
        } else {
            char names[1024] = "";
            json_array_foreach(cs, i, c)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         i ? " " : "", json_str(c, "name") ? json_str(c, "name") : "");
            api_reply_status(r, 400, "BadRequest", NULL,
                             "a container name must be specified for pod %s, choose one of: [%s]",
                             r->name, names);
            json_decref(pod);
            return;
        }
    }
    const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
    if (!node || !*node) {
        api_reply_status(r, 400, "BadRequest", NULL, "pod %s does not have a host assigned", r->name);
        json_decref(pod);
        return;
    }
    const kind_t *nk = kinds_find("", "v1", "nodes");
    if (!nk || store_get(r->srv->store, nk, NULL, node, node_read, op) != 0)
        api_reply_status(r, 503, "ServiceUnavailable", NULL, "the store is unavailable");
    json_decref(pod);
}

void api_handle_log(api_req_t *r)
{
    log_op_t *op = calloc(1, sizeof(*op));
    if (!op) {
        api_reply_status(r, 500, NULL, NULL, "out of memory");
        return;
    }
    op->r = r;
    op->base = r->srv->base;
    r->op = op;
    r->op_free = log_op_free;
    if (store_get(r->srv->store, r->kind, r->ns, r->name, pod_read, op) != 0)
        api_reply_status(r, 503, "ServiceUnavailable", NULL, "the store is unavailable");
}
