/* kubeclient.h: a blocking Kubernetes API client for the command-line tools (`berth get`,
 * `berth apply`, `berth run`, `berth policy test`, `berth up`).
 *
 * Daemons use the asynchronous apiclient.c on their event loop; a CLI verb or an operations
 * script wants the answer before its next line, so this one blocks (libcurl easy, one handle
 * kept per client so requests reuse the connection).
 *
 * Where the cluster is, in kubectl's order: an explicit server URL (--server), an explicit
 * kubeconfig path (--kubeconfig), $BERTH_KUBECONFIG, the first file of $KUBECONFIG,
 * ~/.kube/config, and finally http://127.0.0.1:6443 (what `berth server` listens on). From the
 * kubeconfig's current context (or the one named) it takes the server, the default namespace,
 * a bearer token, and TLS material (certificate-authority(-data), client-certificate(-data),
 * client-key(-data), insecure-skip-tls-verify).
 *
 * Resource names resolve through the server's discovery documents (/api/v1, /apis and each
 * group's preferred version), so kinds that plugins register at run time resolve like the
 * built-in ones. Discovery is fetched once per client, on first use.
 *
 * Depends on libcurl, jansson and yaml_json.c. Not thread-safe: one client per thread. */
#ifndef BERTH_KUBECLIENT_H
#define BERTH_KUBECLIENT_H

#include <stddef.h>
#include <jansson.h>

typedef struct kubeclient_s kubeclient_t;

/* Where to connect. Every field may be NULL (then the order above applies). */
typedef struct kubeclient_opts_s {
    const char *server;      /* --server URL: wins over any kubeconfig */
    const char *kubeconfig;  /* --kubeconfig PATH */
    const char *context;     /* --context NAME (default: current-context) */
    const char *namespace_;  /* -n NS: overrides the context's namespace */
    int timeout_seconds;     /* per request (0: 30 s); streams are bounded by their own timeout */
} kubeclient_opts_t;

/* A resource as discovery describes it. */
typedef struct kube_resource_s {
    char group[128];         /* "" for the core group */
    char version[32];        /* "v1" */
    char resource[128];      /* plural: "deployments" */
    char singular[128];      /* "deployment" */
    char kind[128];          /* "Deployment" */
    char short_names[128];   /* discovery's shortNames, comma-separated: "deploy" */
    int namespaced;
} kube_resource_t;

/* Open a client. NULL with err set ("kubeconfig /x: line 3, column 1: ...") when the
 * kubeconfig named cannot be read or parsed, or the context named does not exist. No request
 * is made here. Caller frees with kubeclient_free. */
kubeclient_t *kubeclient_open(const kubeclient_opts_t *opts, char *err, size_t errlen);
void kubeclient_free(kubeclient_t *kc);

/* The server base URL without a trailing slash ("http://127.0.0.1:6443"). Borrowed. */
const char *kubeclient_server(const kubeclient_t *kc);
/* The namespace to use when none is given: -n, else the context's, else "default". */
const char *kubeclient_namespace(const kubeclient_t *kc);
/* Where the settings came from, for messages: "--server", a kubeconfig path, or "default". */
const char *kubeclient_source(const kubeclient_t *kc);

/* A raw request. method "GET", "POST", "PUT", "PATCH", "DELETE". path starts with '/' and
 * carries any query string. body may be NULL (then no body is sent); content_type NULL means
 * application/json; accept NULL means application/json. On success returns 0 with *status the
 * HTTP status and *resp a malloc'd NUL-terminated copy of the response body (caller frees;
 * *resp_len its length, resp_len may be NULL). Returns -1 with err set when no HTTP response
 * arrived (connection refused, timeout): "cannot reach http://...: Connection refused". */
int kubeclient_request(kubeclient_t *kc, const char *method, const char *path,
                       const char *content_type, const char *body, size_t body_len,
                       const char *accept, long *status, char **resp, size_t *resp_len,
                       char *err, size_t errlen);

/* A JSON request: body (borrowed, may be NULL) is encoded compactly. Returns the parsed
 * response (new reference; for errors normally a Status object) with *status set, or NULL with
 * err set when no response arrived or the response was not JSON (then *status is still set
 * when one arrived). */
json_t *kubeclient_json(kubeclient_t *kc, const char *method, const char *path,
                        const char *content_type, json_t *body, long *status,
                        char *err, size_t errlen);

/* A streaming GET (watch=true lists, logs with follow=true). on_data receives the body as it
 * arrives, in pieces of any size; return nonzero from it to stop the stream early (then this
 * returns 0). timeout_seconds bounds the whole stream (0: no bound). Returns 0 when the stream
 * ended or was stopped (*status set), -1 with err set when it could not be started or broke
 * off (a timeout reached is not an error: returns 0 with *status 200). A non-2xx answer is
 * delivered through on_data like any body. */
typedef int kubeclient_data_fn(const char *data, size_t len, void *priv);
int kubeclient_stream(kubeclient_t *kc, const char *path, const char *accept,
                      int timeout_seconds, kubeclient_data_fn *on_data, void *priv,
                      long *status, char *err, size_t errlen);

/* Resolve what a user typed ("po", "pods", "pod", "Pod", "deploy", "deployments.apps",
 * "cronjobs.batch", "deployment.v1.apps") to a resource. 0 on success; -1 with err set
 * ("the server doesn't have a resource type \"x\"", or why discovery failed). */
int kubeclient_resolve(kubeclient_t *kc, const char *name, kube_resource_t *out,
                       char *err, size_t errlen);
/* Resolve a manifest's apiVersion and kind ("apps/v1", "Deployment"). 0 or -1 with err
 * ("no matches for kind \"X\" in version \"v\""). */
int kubeclient_resolve_kind(kubeclient_t *kc, const char *api_version, const char *kind,
                            kube_resource_t *out, char *err, size_t errlen);
/* Every resource discovery lists (no subresources): a borrowed array of n entries. -1 with
 * err set when discovery failed. */
int kubeclient_resources(kubeclient_t *kc, const kube_resource_t **out, size_t *n,
                         char *err, size_t errlen);

/* The path of a resource: /api/v1/namespaces/NS/pods/NAME/SUB or /apis/G/V/...; ns is
 * ignored for cluster-scoped resources and omitted when NULL (all namespaces); name and sub
 * may be NULL. Name and namespace are percent-encoded. Caller frees. */
char *kubeclient_path(const kube_resource_t *r, const char *ns, const char *name,
                      const char *sub);

/* The "message" of a Status body, or a fallback naming the status code. Borrowed from body
 * or from a static buffer (valid until the next call). */
const char *kubeclient_status_message(const json_t *body, long status);

/* Read a manifest source for -f: a file (YAML, multi-document, or JSON), "-" for stdin, or a
 * directory (its *.yaml, *.yml and *.json files in name order, not recursive). Returns an
 * array of {"source": "dir/web.yaml (document 2)", "object": {...}} entries, List kinds
 * expanded to their items (new reference). NULL with err naming the file and line on error,
 * or naming the document that is not an object with apiVersion and kind. */
json_t *kubeclient_read_manifests(const char *source, char *err, size_t errlen);

#endif
