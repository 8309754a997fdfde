/* proxy.h: berth proxy, the kube-proxy role: Services served on the node, in user space.
 *
 * Informers on Services and Endpoints keep a table of service ports (one per Service port
 * and protocol). Each service port listens on its clusterIP:port and, for NodePort and
 * LoadBalancer Services, on <nodeport-address>:nodePort, and forwards what arrives to the
 * ready endpoints of that port (Endpoints subsets: addresses x ports matched by port name
 * and protocol):
 *   - TCP: each accepted connection goes to the next endpoint in round robin, or to the
 *     client's endpoint under sessionAffinity: ClientIP (sessionAffinityConfig.clientIP.
 *     timeoutSeconds, default 10800); a connect that is refused or times out moves on to
 *     the next endpoint; the bytes are relayed by proxy_relay.h (splice or bufferevents),
 *     on worker threads (proxy_pool.h) unless relay_threads is -1;
 *   - UDP: a flow per client address (its own connected socket to the endpoint) that ends
 *     after --udp-idle-timeout seconds of silence or when its endpoint leaves.
 * Updates are applied incrementally: a service port whose addresses did not change keeps
 * its listening sockets, and established connections are never closed by an update (an
 * endpoint that leaves only stops receiving new connections).
 *
 * Cluster IPs: by default only those in 127.0.0.0/8 are bound (berth's default service
 * range is 127.77.0.0/16, which Linux routes to lo with no configuration); with
 * bind_all_cluster_ips every cluster IP is bound with IP_FREEBIND (docs/proxy.md: routable
 * ranges). IPv4 only.
 *
 * Depends on informer.h, apiclient.h, proxy_relay.h, proxy_pool.h, metrics.h, libevent, jansson.
 * Called by main.c (`berth proxy`). */
#ifndef BERTH_PROXY_H
#define BERTH_PROXY_H

#include <stddef.h>
#include <event2/event.h>

#include "proxy_relay.h"

typedef struct proxy_s proxy_t;

typedef struct proxy_opts_s {
    const char *server_url;        /* API server, "http://127.0.0.1:6443" */
    const char *node_name;         /* this node (logged; for topology later), may be NULL */
    const char *nodeport_address;  /* where node ports listen: "127.0.0.1", "0.0.0.0" */
    const char *metrics_listen;    /* HOST:PORT for /metrics and /healthz; NULL or "" for none */
    int bind_all_cluster_ips;      /* bind cluster IPs outside 127.0.0.0/8 too (IP_FREEBIND) */
    proxy_relay_mode_t relay;      /* how TCP bytes are moved */
    int connect_timeout_ms;        /* per endpoint attempt; 0 for 3000 */
    int udp_idle_timeout;          /* seconds; 0 for 30 */
    int relay_threads;             /* relay worker threads (proxy_pool.h); 0: auto, one per
                                    * CPU up to 8; -1: relays on the proxy's own loop */
} proxy_opts_t;

/* Create the proxy and start its informers; listeners open as the Services arrive. NULL
 * with err on failure (a bad URL or metrics address, a metrics port in use). Strings in
 * opts are copied. Caller frees with proxy_free. */
proxy_t *proxy_create(struct event_base *base, const proxy_opts_t *opts, char *err,
                      size_t errlen);

/* Close every listener, connection and flow, stop the informers and free the proxy. */
void proxy_free(proxy_t *px);

/* `berth proxy [options]`: returns the exit status. */
int proxy_main(int argc, char **argv);

#endif
