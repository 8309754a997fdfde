/* agent.h: berth's node agent (the kubelet role): `berth agent --server URL --node-name NAME`.
 *
 * The agent registers its Node (capacity from the machine, labels, addresses, nodeInfo, the
 * Ready condition), renews its Lease in kube-node-lease every 10 s, and runs the pods bound to
 * its node (an informer on pods with fieldSelector spec.nodeName=<node>) as Docker containers:
 * one infra container (berth/pause:latest) holding the pod's network namespace, the init
 * containers in order, then the app containers joined to it (NetworkMode container:<infra>),
 * restarted per restartPolicy with CrashLoopBackOff, probed (exec, httpGet, tcpSocket), and
 * reported in pods/status. Deleted pods are stopped (SIGTERM, grace, SIGKILL), removed and
 * confirmed gone. The container state is read back from Docker (a list of the containers
 * labelled berth.node=<node>, inspected when they change), refreshed on Docker events and every
 * 10 s, so a restarted agent adopts what runs and removes what belongs to no pod. It serves
 * container logs on --listen (GET /containerLogs/<ns>/<pod>/<container>) and runs commands in
 * containers (GET /exec/<ns>/<pod>/<container>, a websocket), forwards ports
 * (/portforward/<ns>/<pod>) and reports resource usage for `kubectl top` (GET /stats/summary,
 * collected in the background). See docs/agent.md.
 *
 * Container labels (all of the agent's containers carry them):
 *   berth.node, berth.pod.uid, berth.pod.namespace, berth.pod.name, berth.container.name
 *   ("POD" for the infra container), berth.container.attempt (0, 1, ...: the restart count).
 * Container names: berth_<node>_<ns>_<pod>_<container>_<uid8>_<attempt>.
 *
 * Depends on apiclient, informer, docker (libcurl), libevent (evhttp), jansson.
 * Called by main.c (berth agent). The parts: agent.c (node, lease, runtime cache, log
 * endpoint, main), agent_pod.c (pod sync, status, probes, deletion), agent_exec.c (exec
 * sessions), agent_portforward.c (port-forward sessions), agent_stats.c (resource usage);
 * agent_internal.h is shared between them only. */
#ifndef BERTH_AGENT_H
#define BERTH_AGENT_H

#include <event2/event.h>

typedef struct agent_s agent_t;

typedef struct agent_opts_s {
    const char *server_url;     /* the API server ("http://127.0.0.1:6443") */
    const char *node_name;      /* required */
    const char *docker_url;     /* "unix:///var/run/docker.sock" when NULL */
    const char *listen;         /* log and exec endpoint "127.0.0.1:10250" when NULL */
    const char *root_dir;       /* "/var/lib/berth/<node>" when NULL */
    const char *token_file;     /* bearer token the log endpoint requires; NULL: none */
    const char *node_ip;        /* InternalIP; NULL: the first non-loopback IPv4 */
    int stats_interval;         /* seconds between resource usage rounds (GET /stats/summary);
                                 * 0: none (`berth agent` defaults to 10) */
} agent_opts_t;

/* An agent on base. NULL with a reason in err on a bad option, a listen failure or allocation
 * failure. It starts working at once (registration, informer, Docker). Free with agent_free. */
agent_t *agent_create(struct event_base *base, const agent_opts_t *opts, char *err, size_t errlen);

/* Stop watching and free the agent; containers are left running (a new agent adopts them). */
void agent_free(agent_t *a);

int agent_main(int argc, char **argv);

#endif
