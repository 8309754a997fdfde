/* agent_internal.h: what agent.c, agent_pod.c, agent_exec.c, agent_portforward.c and
 * agent_stats.c share. Not for other units. */
#ifndef BERTH_AGENT_INTERNAL_H
#define BERTH_AGENT_INTERNAL_H

#include <time.h>
#include <jansson.h>
#include <event2/event.h>
#include <event2/http.h>

#include "agent.h"
#include "apiclient.h"
#include "docker.h"
#include "informer.h"

#define AGENT_PAUSE_IMAGE "berth/pause:latest"
#define AGENT_INFRA_NAME  "POD"       /* berth.container.name of the infra container */

#define LBL_NODE    "berth.node"
#define LBL_UID     "berth.pod.uid"
#define LBL_NS      "berth.pod.namespace"
#define LBL_POD     "berth.pod.name"
#define LBL_NAME    "berth.container.name"
#define LBL_ATTEMPT "berth.container.attempt"

typedef struct podstate_s podstate_t;
typedef struct exec_session_s exec_session_t;
typedef struct pf_session_s pf_session_t;
typedef struct agent_stats_s agent_stats_t;

struct agent_s {
    struct event_base *base;
    apiclient_t *api;
    docker_t *docker;
    informer_t *pods;
    informer_t *services;   /* every Service: the service links of new containers */
    char bridge_gateway[64];   /* the Docker bridge's gateway, "" until known */
    char *server_url, *node, *root_dir, *token;
    char host_ip[64], hostname[256];
    int log_port;
    char log_host[256];     /* the address --listen binds ("" or 0.0.0.0: every address) */
    struct evhttp *http;

    /* The runtime cache: docker id -> inspect object of every container labelled
     * berth.node=<node>; id -> State seen in the last list (re-inspected when it changes). */
    json_t *containers, *seen_state;
    int listing, pending_inspects, refresh_again, docker_ok, docker_synced;
    char docker_version[64], docker_root[512];
    docker_call_t *events_call;
    struct event *events_retry, *refresh_debounce, *tick, *sync_ev;

    /* Node and lease. */
    json_t *last_node_status;
    time_t node_status_at;
    int node_registered, node_busy;
    apiclient_call_t *node_call, *lease_call;

    podstate_t *podstates;
    struct action_s *actions;  /* Docker or API work in flight (agent_pod.c) */
    json_t *removing;          /* container ids with a removal in flight */
    exec_session_t *execs;     /* open exec sessions (agent_exec.c) */
    pf_session_t *portforwards;   /* open port-forward sessions (agent_portforward.c) */
    agent_stats_t *stats;      /* resource usage collection (agent_stats.c), owned */
};

/* agent.c */
void agent_refresh(agent_t *a);            /* re-list Docker's containers (soon) */
void agent_kick(agent_t *a);               /* sync every pod on the next loop turn */
void agent_remove_container(agent_t *a, const char *id);
const char *agent_label(json_t *ctr, const char *name);   /* a container's label, borrowed */
/* A text/plain reply (the agent's endpoints answer errors so; the API server turns them
 * into Status objects). */
void agent_reply_text(struct evhttp_request *req, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* agent_pod.c */
/* Sync every pod of this node with the runtime cache; remove orphans. */
void agent_pods_sync(agent_t *a);
void agent_pods_free(agent_t *a);
/* Free the actions still waiting for Docker or the API: after docker_free and
 * apiclient_free, which drop their calls without calling back. */
void agent_actions_free(agent_t *a);
/* The docker id of container `name` of pod ns/pod (previous: the one before the newest);
 * NULL if none. Borrowed from the cache. */
const char *agent_find_container(agent_t *a, const char *ns, const char *pod, const char *name,
                                 int previous);

/* agent_exec.c */
/* Serve GET /exec/<ns>/<pod>/<container>?command=...: a websocket exec session (see
 * agent_exec.c and docs/agent.md). query is the raw query string (may be NULL). */
void agent_exec_handle(agent_t *a, struct evhttp_request *req, const char *path,
                       const char *query);
/* End every exec session (agent_free). */
void agent_exec_release(agent_t *a);

/* agent_portforward.c */
/* Serve GET|POST /portforward/<ns>/<pod>: a port-forward session over SPDY (websocket
 * tunnel or raw) or websocket channels (see agent_portforward.c and docs/agent.md). */
void agent_portforward_handle(agent_t *a, struct evhttp_request *req, const char *path,
                              const char *query);
/* End every port-forward session (agent_free). */
void agent_portforward_release(agent_t *a);

/* agent_stats.c */
/* Start collecting resource usage every interval_s seconds (0: never; the endpoint then
 * answers 503). Sets a->stats, also on failure (-1: out of memory), so that
 * agent_stats_release frees what was made. */
int agent_stats_init(agent_t *a, int interval_s);
/* Serve GET /stats/summary from the last complete round (never waits for Docker). */
void agent_stats_handle(agent_t *a, struct evhttp_request *req);
/* Cancel the requests in flight and free the collection (agent_free, before docker_free). */
void agent_stats_release(agent_t *a);

#endif
