/* proxy.c: see proxy.h.
 *
 * Objects and who owns what:
 *   proxy_t       the informers, the table of service ports (a list), the connections being
 *                 connected (conn_t) and the relay pool (proxy_pool.h), which owns every
 *                 relay running, on its threads or on this loop;
 *   svc_port_t    one Service port: the listeners it wants and has, its endpoints, the
 *                 round-robin cursor and the ClientIP affinity table. Reference counted: the
 *                 table holds one reference and every conn_t one, so a Service deleted while
 *                 a connection is choosing its endpoint stays valid until that ends;
 *   listener_t    one bound socket of a service port (TCP: an evconnlistener; UDP: a socket
 *                 and its flows). Owned by its service port;
 *   conn_t        an accepted TCP connection whose backend connect is in progress;
 *   relays        owned by the pool, independent of the service port, which is why an
 *                 update or a delete never cuts one;
 *   flow_t        a UDP client (address) and its connected socket to an endpoint; owned by
 *                 its listener.
 * The table is a list searched linearly by key: one sync touches the ports of one Service,
 * and a node serves hundreds of services, not millions. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ifaddrs.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>

#include "apiclient.h"
#include "informer.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "proxy_pool.h"
#include "proxy_relay.h"
#include "util.h"

#define MAX_NODEPORT_ADDRS 4

#define FLOW_BUCKETS 256
#define DEFAULT_AFFINITY_TIMEOUT 10800
/* Datagrams (or accepts) handled per wake-up before yielding to the other sockets. */
#define UDP_BURST 64

typedef struct svc_port_s svc_port_t;
typedef struct listener_s listener_t;
typedef struct flow_s flow_t;

typedef struct ep_s {
    struct sockaddr_in sa;
    char str[INET_ADDRSTRLEN + 8];      /* "ip:port" */
} ep_t;

struct listener_s {
    proxy_t *px;
    svc_port_t *sp;
    struct sockaddr_in sa;
    int fd;
    struct evconnlistener *lev;         /* TCP */
    int paused;                         /* TCP: accept failed (fd limit), resumed by the tick */
    struct event *uev;                  /* UDP: datagrams from clients */
    flow_t *flows[FLOW_BUCKETS];        /* UDP: by client address */
};

struct flow_s {
    listener_t *l;
    flow_t *hnext;
    struct sockaddr_in client;
    int fd;                             /* connected to ep */
    struct event *ev;
    uint64_t last_us;
    ep_t ep;
};

struct svc_port_s {
    proxy_t *px;
    svc_port_t *next;
    int refs;
    int live;                           /* still in the table */
    int seen;                           /* sync mark */
    char *key;                          /* "ns/name:portname/TCP" */
    char *svc_key;                      /* "ns/name" */
    int udp;
    struct sockaddr_in want_cluster, want_node[MAX_NODEPORT_ADDRS];
    int has_cluster, has_node;
    int warned;                         /* bind failures logged: 1 cluster, 2 node */
    listener_t *cl, *nl[MAX_NODEPORT_ADDRS];   /* nl[i] listens on px->nodeport_addr[i] */
    ep_t *eps;
    size_t neps, rr;
    int affinity, affinity_timeout;
    json_t *sticky;                     /* client IP -> [ "ip:port", last use (s) ] */
};

typedef struct conn_s {
    proxy_t *px;
    svc_port_t *sp;
    struct conn_s *prev, *next;
    int cfd, bfd;
    struct event *ev;
    struct sockaddr_in client;
    size_t start, tries;
    ep_t ep;
} conn_t;

struct proxy_s {
    struct event_base *base;
    apiclient_t *client;
    informer_t *svcs, *epts;
    svc_port_t *ports;
    conn_t *conns;
    proxy_pool_t *pool;                 /* the relays: on its threads, or on base */
    struct evhttp *http;
    struct event *tick;
    unsigned ticks;
    char *node_name;
    struct in_addr nodeport_addr[MAX_NODEPORT_ADDRS];
    int n_nodeport_addrs;
    int bind_all;
    int connect_timeout_ms;
    int udp_idle;
    size_t nports, nlisteners, nflows, nconnecting;
    struct {
        uint64_t accepted, relayed, rejected, connect_failures;
        uint64_t udp_in, udp_out, udp_flows, syncs;
    } st;
};

static unsigned char udp_buf[65536];

static long now_s(void)
{
    return (long)(util_now_us() / 1000000);
}

static int sa_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void sa_str(const struct sockaddr_in *sa, char *out, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
    snprintf(out, len, "%s:%u", ip, ntohs(sa->sin_port));
}

static void client_ip(const struct sockaddr_in *sa, char out[INET_ADDRSTRLEN])
{
    inet_ntop(AF_INET, &sa->sin_addr, out, INET_ADDRSTRLEN);
}

/* ---- endpoint choice --------------------------------------------------------------- */

static long ep_index(const svc_port_t *sp, const char *str)
{
    for (size_t i = 0; i < sp->neps; i++)
        if (!strcmp(sp->eps[i].str, str))
            return (long)i;
    return -1;
}

/* The index of the first endpoint to try for this client: its affinity endpoint if it has
 * a live one, else the next in round robin. -1 when there is no endpoint. */
static long ep_first(svc_port_t *sp, const struct sockaddr_in *client)
{
    if (sp->neps == 0)
        return -1;
    if (sp->affinity) {
        char ip[INET_ADDRSTRLEN];
        client_ip(client, ip);
        json_t *e = json_object_get(sp->sticky, ip);
        if (e) {
            long last = (long)json_integer_value(json_array_get(e, 1));
            long i = ep_index(sp, json_string_value(json_array_get(e, 0)));
            if (i >= 0 && now_s() - last <= sp->affinity_timeout)
                return i;
            json_object_del(sp->sticky, ip);
        }
    }
    return (long)(sp->rr++ % sp->neps);
}

/* The client now uses ep: remember it under ClientIP affinity. */
static void ep_used(svc_port_t *sp, const struct sockaddr_in *client, const ep_t *ep)
{
    if (!sp->affinity)
        return;
    char ip[INET_ADDRSTRLEN];
    client_ip(client, ip);
    json_object_set_new(sp->sticky, ip, json_pack("[sI]", ep->str, (json_int_t)now_s()));
}

static void sticky_sweep(svc_port_t *sp)
{
    const char *k;
    json_t *v;
    void *tmp;
    long now = now_s();
    json_object_foreach_safe(sp->sticky, tmp, k, v) {
        if (now - (long)json_integer_value(json_array_get(v, 1)) > sp->affinity_timeout)
            json_object_del(sp->sticky, k);
    }
}

/* ---- TCP: choosing and connecting the backend -------------------------------------- */

static void port_unref(svc_port_t *sp);
static void conn_try(conn_t *c);

/* Unlink and free c (its sockets must be closed or handed over already). */
static void conn_free(conn_t *c)
{
    proxy_t *px = c->px;
    if (c->ev)
        event_free(c->ev);
    if (c->prev)
        c->prev->next = c->next;
    else
        px->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    px->nconnecting--;
    port_unref(c->sp);
    free(c);
}

static void conn_reject(conn_t *c)
{
    c->px->st.rejected++;
    close(c->cfd);
    if (c->bfd >= 0)
        close(c->bfd);
    conn_free(c);
}

static void conn_connected(conn_t *c)
{
    proxy_t *px = c->px;
    ep_used(c->sp, &c->client, &c->ep);
    if (proxy_pool_submit(px->pool, c->cfd, c->bfd) == 0)
        px->st.relayed++;
    else
        px->st.rejected++;
    c->cfd = c->bfd = -1;
    conn_free(c);
}

static void conn_failed_attempt(conn_t *c, int err)
{
    c->px->st.connect_failures++;
    log_debug("proxy: %s: endpoint %s: %s", c->sp->key, c->ep.str, strerror(err));
    if (c->bfd >= 0)
        close(c->bfd);
    c->bfd = -1;
    c->tries++;
}

/* How a non-blocking connect on fd ended: 0, or the error. */
static int connect_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    return err;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    int err = what & EV_WRITE ? connect_error(fd) : ETIMEDOUT;
    event_free(c->ev);
    c->ev = NULL;
    if (err == 0) {
        conn_connected(c);
        return;
    }
    conn_failed_attempt(c, err);
    conn_try(c);
}

/* Connect to the next endpoint to try; reject the client when every endpoint (as the
 * service port has them now) was tried. */
static void conn_try(conn_t *c)
{
    proxy_t *px = c->px;
    svc_port_t *sp = c->sp;
    while (sp->neps > 0 && c->tries < sp->neps) {
        c->ep = sp->eps[(c->start + c->tries) % sp->neps];
        c->bfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->bfd < 0) {
            log_warn("proxy: %s: socket: %s", sp->key, strerror(errno));
            break;
        }
        if (connect(c->bfd, (struct sockaddr *)&c->ep.sa, sizeof(c->ep.sa)) == 0) {
            conn_connected(c);
            return;
        }
        if (errno == EINPROGRESS) {
            /* A local endpoint has usually answered the handshake before connect returned:
             * one poll(2) then saves registering, waiting and unregistering an event. */
            struct pollfd pfd = { .fd = c->bfd, .events = POLLOUT };
            if (poll(&pfd, 1, 0) == 1) {
                int err = pfd.revents == POLLOUT ? 0 : connect_error(c->bfd);
                if (err == 0) {
                    conn_connected(c);
                    return;
                }
                conn_failed_attempt(c, err);
                continue;
            }
            struct timeval tv = { px->connect_timeout_ms / 1000,
                                  (px->connect_timeout_ms % 1000) * 1000 };
            c->ev = event_new(px->base, c->bfd, EV_WRITE, conn_cb, c);
            if (c->ev && event_add(c->ev, &tv) == 0)
                return;
            break;
        }
        conn_failed_attempt(c, errno);
    }
    conn_reject(c);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                      int socklen, void *arg)
{
    listener_t *l = arg;
    proxy_t *px = l->px;
    svc_port_t *sp = l->sp;
    px->st.accepted++;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->px = px;
    c->sp = sp;
    sp->refs++;
    c->cfd = fd;
    c->bfd = -1;
    if (addr && socklen >= (int)sizeof(c->client))
        memcpy(&c->client, addr, sizeof(c->client));
    c->next = px->conns;
    if (px->conns)
        px->conns->prev = c;
    px->conns = c;
    px->nconnecting++;
    long first = ep_first(sp, &c->client);
    c->start = first < 0 ? 0 : (size_t)first;
    conn_try(c);
}

/* accept(2) failed (EMFILE, ENFILE, ENOBUFS): stop accepting on this listener until the
 * next tick instead of spinning on a socket that stays readable. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    listener_t *l = arg;
    log_warn("proxy: %s: accept: %s; pausing the listener for a second", l->sp->key,
             strerror(EVUTIL_SOCKET_ERROR()));
    evconnlistener_disable(lev);
    l->paused = 1;
}

/* ---- UDP --------------------------------------------------------------------------- */

static unsigned flow_hash(const struct sockaddr_in *sa)
{
    uint32_t h = sa->sin_addr.s_addr * 2654435761u ^ (uint32_t)sa->sin_port * 40503u;
    return (h ^ (h >> 16)) % FLOW_BUCKETS;
}

static void flow_free(flow_t *f)
{
    listener_t *l = f->l;
    flow_t **pp = &l->flows[flow_hash(&f->client)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    event_free(f->ev);
    close(f->fd);
    l->px->nflows--;
    free(f);
}

/* Answers from the endpoint go back to the client from the listener's socket, so they
 * carry the service address as their source. */
static void flow_cb(evutil_socket_t fd, short what, void *arg)
{
    flow_t *f = arg;
    listener_t *l = f->l;
    if (what & EV_TIMEOUT) {
        if (util_now_us() - f->last_us >= (uint64_t)l->px->udp_idle * 1000000)
            flow_free(f);
        return;
    }
    for (int i = 0; i < UDP_BURST; i++) {
        ssize_t n = recv(fd, udp_buf, sizeof(udp_buf), 0);
        if (n < 0) {
            /* ECONNREFUSED: the endpoint's port is closed (ICMP). End the flow so the
             * client's next datagram picks an endpoint again. */
            if (errno == ECONNREFUSED) {
                flow_free(f);
                return;
            }
            break;
        }
        f->last_us = util_now_us();
        l->px->st.udp_out++;
        sendto(l->fd, udp_buf, (size_t)n, 0, (struct sockaddr *)&f->client, sizeof(f->client));
    }
}

static flow_t *flow_new(listener_t *l, const struct sockaddr_in *client)
{
    proxy_t *px = l->px;
    svc_port_t *sp = l->sp;
    long i = ep_first(sp, client);
    if (i < 0)
        return NULL;
    flow_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->l = l;
    f->client = *client;
    f->ep = sp->eps[i];
    f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&f->ep.sa, sizeof(f->ep.sa)) != 0)
        goto failed;
    f->ev = event_new(px->base, f->fd, EV_READ | EV_PERSIST, flow_cb, f);
    struct timeval tv = { px->udp_idle, 0 };
    if (!f->ev || event_add(f->ev, &tv) != 0)
        goto failed;
    ep_used(sp, client, &f->ep);
    unsigned h = flow_hash(client);
    f->hnext = l->flows[h];
    l->flows[h] = f;
    px->nflows++;
    px->st.udp_flows++;
    return f;
failed:
    log_warn("proxy: %s: UDP flow to %s: %s", sp->key, f->ep.str, strerror(errno));
    if (f->ev)
        event_free(f->ev);
    if (f->fd >= 0)
        close(f->fd);
    free(f);
    return NULL;
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
    listener_t *l = arg;
    for (int i = 0; i < UDP_BURST; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, udp_buf, sizeof(udp_buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            break;
        if (fl != sizeof(from) || from.sin_family != AF_INET)
            continue;
        flow_t *f = l->flows[flow_hash(&from)];
        while (f && !sa_eq(&f->client, &from))
            f = f->hnext;
        if (!f && !(f = flow_new(l, &from)))
            continue;
        f->last_us = util_now_us();
        l->px->st.udp_in++;
        send(f->fd, udp_buf, (size_t)n, 0);
    }
}

/* End the flows of l whose endpoint is no longer one of sp's. */
static void flows_prune(listener_t *l)
{
    if (!l)
        return;
    for (int b = 0; b < FLOW_BUCKETS; b++) {
        flow_t *f = l->flows[b], *next;
        for (; f; f = next) {
            next = f->hnext;
            if (ep_index(l->sp, f->ep.str) < 0)
                flow_free(f);
        }
    }
}

/* ---- listeners --------------------------------------------------------------------- */

static void listener_free(listener_t *l)
{
    if (!l)
        return;
    for (int b = 0; b < FLOW_BUCKETS; b++)
        while (l->flows[b])
            flow_free(l->flows[b]);
    if (l->lev)
        evconnlistener_free(l->lev);   /* closes fd */
    if (l->uev)
        event_free(l->uev);
    if (l->uev || (!l->lev && l->fd >= 0))
        close(l->fd);
    l->px->nlisteners--;
    free(l);
}

/* A socket bound to sa for sp (TCP listening, or UDP). NULL when bind fails (port in use,
 * address not local): the tick retries. */
static listener_t *listener_open(svc_port_t *sp, const struct sockaddr_in *sa, int which)
{
    proxy_t *px = sp->px;
    char where[64];
    int one = 1;
    listener_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->px = px;
    l->sp = sp;
    l->sa = *sa;
    px->nlisteners++;
    sa_str(sa, where, sizeof(where));
    l->fd = socket(AF_INET, (sp->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        goto failed;
    /* TCP: rebind over TIME_WAIT leftovers of a previous listener. Not for UDP, where it
     * would let two sockets share the port and split the datagrams. */
    if (!sp->udp)
        setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* A cluster IP outside 127/8 need not be assigned here yet (routable ranges). */
    if (px->bind_all)
        setsockopt(l->fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    if (bind(l->fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0)
        goto failed;
    if (sp->udp) {
        l->uev = event_new(px->base, l->fd, EV_READ | EV_PERSIST, udp_cb, l);
        if (!l->uev || event_add(l->uev, NULL) != 0)
            goto failed;
    } else {
        if (listen(l->fd, 1024) != 0)
            goto failed;
        l->lev = evconnlistener_new(px->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE, 0, l->fd);
        if (!l->lev)
            goto failed;
        evconnlistener_set_error_cb(l->lev, accept_error_cb);
    }
    sp->warned &= ~which;
    log_info("proxy: %s listening on %s/%s", sp->key, where, sp->udp ? "udp" : "tcp");
    return l;
failed:
    if (!(sp->warned & which))
        log_warn("proxy: %s: cannot serve %s/%s: %s (retrying)", sp->key, where,
                 sp->udp ? "udp" : "tcp", strerror(errno));
    sp->warned |= which;
    listener_free(l);
    return NULL;
}

/* Make the listeners what the service port wants; those that stay untouched. */
static void port_reconcile(svc_port_t *sp)
{
    if (sp->cl && (!sp->has_cluster || !sa_eq(&sp->cl->sa, &sp->want_cluster))) {
        listener_free(sp->cl);
        sp->cl = NULL;
    }
    if (!sp->cl && sp->has_cluster)
        sp->cl = listener_open(sp, &sp->want_cluster, 1);
    for (int i = 0; i < sp->px->n_nodeport_addrs; i++) {
        if (sp->nl[i] && (!sp->has_node || !sa_eq(&sp->nl[i]->sa, &sp->want_node[i]))) {
            listener_free(sp->nl[i]);
            sp->nl[i] = NULL;
        }
        if (!sp->nl[i] && sp->has_node)
            sp->nl[i] = listener_open(sp, &sp->want_node[i], 2);
    }
}

/* ---- the service port table -------------------------------------------------------- */

static void port_unref(svc_port_t *sp)
{
    if (--sp->refs > 0)
        return;
    free(sp->eps);
    json_decref(sp->sticky);
    free(sp->key);
    free(sp->svc_key);
    free(sp);
}

static svc_port_t *port_find(proxy_t *px, const char *key)
{
    for (svc_port_t *sp = px->ports; sp; sp = sp->next)
        if (!strcmp(sp->key, key))
            return sp;
    return NULL;
}

static svc_port_t *port_new(proxy_t *px, const char *key, const char *svc_key, int udp)
{
    svc_port_t *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return NULL;
    sp->px = px;
    sp->refs = 1;
    sp->live = 1;
    sp->udp = udp;
    sp->key = strdup(key);
    sp->svc_key = strdup(svc_key);
    sp->sticky = json_object();
    if (!sp->key || !sp->svc_key || !sp->sticky) {
        port_unref(sp);
        return NULL;
    }
    sp->next = px->ports;
    px->ports = sp;
    px->nports++;
    return sp;
}

/* Out of the table: close its listeners (and UDP flows). Connections already relayed are
 * not touched; one still connecting finishes with the endpoints it has. */
static void port_remove(proxy_t *px, svc_port_t *sp)
{
    svc_port_t **pp = &px->ports;
    while (*pp && *pp != sp)
        pp = &(*pp)->next;
    if (*pp)
        *pp = sp->next;
    px->nports--;
    log_info("proxy: %s removed", sp->key);
    listener_free(sp->cl);
    sp->cl = NULL;
    for (int i = 0; i < MAX_NODEPORT_ADDRS; i++) {
        listener_free(sp->nl[i]);
        sp->nl[i] = NULL;
    }
    sp->live = 0;
    port_unref(sp);
}

static int ipv4(const char *s, struct in_addr *out)
{
    return s && inet_pton(AF_INET, s, out) == 1;
}

/* The first IPv4 address of interface name; 0 if it has none (or does not exist). */
static int interface_ipv4(const char *name, struct in_addr *out)
{
    struct ifaddrs *all, *i;
    int found = 0;
    if (getifaddrs(&all) != 0)
        return 0;
    for (i = all; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp(i->ifa_name, name)) {
            *out = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            found = 1;
        }
    freeifaddrs(all);
    return found;
}

/* --nodeport-address: a comma-separated list of IPv4 addresses or interface names (an
 * interface stands for its first IPv4 address, so "127.0.0.1,docker0" also serves node ports
 * to containers on the Docker bridge: see docs/proxy.md, "Pods reaching services"). */
static int nodeport_addresses(proxy_t *px, const char *list, char *err, size_t errlen)
{
    char item[64];
    const char *p = list;
    px->n_nodeport_addrs = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof(item) || px->n_nodeport_addrs == MAX_NODEPORT_ADDRS) {
            snprintf(err, errlen, "--nodeport-address %s: at most %d addresses or interfaces",
                     list, MAX_NODEPORT_ADDRS);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        struct in_addr *a = &px->nodeport_addr[px->n_nodeport_addrs];
        if (!ipv4(item, a) && !interface_ipv4(item, a)) {
            snprintf(err, errlen,
                     "--nodeport-address %s: \"%s\" is neither an IPv4 address nor an "
                     "interface with one", list, item);
            return -1;
        }
        px->n_nodeport_addrs++;
        p += n + (p[n] == ',');
    }
    if (px->n_nodeport_addrs == 0) {
        snprintf(err, errlen, "--nodeport-address is empty");
        return -1;
    }
    return 0;
}

/* The ready endpoints of the port named pname/proto in an Endpoints object. */
static void port_set_endpoints(svc_port_t *sp, json_t *ep, const char *pname, const char *proto)
{
    size_t n = 0, cap = 0, i, j;
    ep_t *eps = NULL;
    json_t *ss, *a, *p;
    json_array_foreach(json_object_get(ep, "subsets"), i, ss) {
        json_int_t port = 0;
        json_array_foreach(json_object_get(ss, "ports"), j, p) {
            const char *n2 = json_str(p, "name"), *pr = json_str(p, "protocol");
            if (!strcmp(n2 ? n2 : "", pname) && !strcmp(pr ? pr : "TCP", proto)) {
                port = json_integer_value(json_object_get(p, "port"));
                break;
            }
        }
        if (port <= 0 || port > 65535)
            continue;
        json_array_foreach(json_object_get(ss, "addresses"), j, a) {
            struct in_addr ip;
            if (!ipv4(json_str(a, "ip"), &ip))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                ep_t *grown = realloc(eps, cap * sizeof(*eps));
                if (!grown)
                    break;
                eps = grown;
            }
            memset(&eps[n], 0, sizeof(eps[n]));
            eps[n].sa.sin_family = AF_INET;
            eps[n].sa.sin_addr = ip;
            eps[n].sa.sin_port = htons((uint16_t)port);
            sa_str(&eps[n].sa, eps[n].str, sizeof(eps[n].str));
            n++;
        }
    }
    int changed = n != sp->neps || (n && memcmp(eps, sp->eps, n * sizeof(*eps)));
    free(sp->eps);
    sp->eps = eps;
    sp->neps = n;
    if (changed) {
        log_info("proxy: %s: %zu endpoint%s", sp->key, n, n == 1 ? "" : "s");
        if (sp->udp) {
            flows_prune(sp->cl);
            for (int k = 0; k < sp->px->n_nodeport_addrs; k++)
                flows_prune(sp->nl[k]);
        }
    }
}

/* Bring the table in line with Service and Endpoints key ("ns/name"), as cached now. */
static void sync_service(proxy_t *px, const char *key)
{
    json_t *svc = informer_get_key(px->svcs, key);
    json_t *ep = informer_get_key(px->epts, key);
    json_t *spec = json_object_get(svc, "spec");
    const char *type = json_str(spec, "type");
    px->st.syncs++;
    for (svc_port_t *sp = px->ports; sp; sp = sp->next)
        if (!strcmp(sp->svc_key, key))
            sp->seen = 0;
    if (svc && !(type && !strcmp(type, "ExternalName"))) {
        struct in_addr cip;
        int has_cip = ipv4(json_str(spec, "clusterIP"), &cip) &&
                      (px->bind_all || (ntohl(cip.s_addr) >> 24) == 127);
        const char *aff = json_str(spec, "sessionAffinity");
        json_t *tmo = json_path(spec, "sessionAffinityConfig.clientIP.timeoutSeconds");
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(spec, "ports"), i, p) {
            const char *pname = json_str(p, "name"), *proto = json_str(p, "protocol");
            char pkey[1024];
            pname = pname ? pname : "";
            proto = proto ? proto : "TCP";
            if (strcmp(proto, "TCP") && strcmp(proto, "UDP"))
                continue;   /* SCTP: not served */
            snprintf(pkey, sizeof(pkey), "%s:%s/%s", key, pname, proto);
            svc_port_t *sp = port_find(px, pkey);
            if (!sp && !(sp = port_new(px, pkey, key, !strcmp(proto, "UDP"))))
                continue;
            sp->seen = 1;
            json_int_t port = json_integer_value(json_object_get(p, "port"));
            json_int_t nport = json_integer_value(json_object_get(p, "nodePort"));
            sp->has_cluster = has_cip && port > 0 && port <= 65535;
            memset(&sp->want_cluster, 0, sizeof(sp->want_cluster));
            sp->want_cluster.sin_family = AF_INET;
            sp->want_cluster.sin_addr = cip;
            sp->want_cluster.sin_port = htons((uint16_t)port);
            sp->has_node = nport > 0 && nport <= 65535;
            memset(sp->want_node, 0, sizeof(sp->want_node));
            for (int a = 0; a < px->n_nodeport_addrs; a++) {
                sp->want_node[a].sin_family = AF_INET;
                sp->want_node[a].sin_addr = px->nodeport_addr[a];
                sp->want_node[a].sin_port = htons((uint16_t)nport);
            }
            int affinity = aff && !strcmp(aff, "ClientIP");
            if (!affinity)
                json_object_clear(sp->sticky);
            sp->affinity = affinity;
            sp->affinity_timeout = json_is_integer(tmo) && json_integer_value(tmo) > 0
                                       ? (int)json_integer_value(tmo) : DEFAULT_AFFINITY_TIMEOUT;
            port_set_endpoints(sp, ep, pname, proto);
            port_reconcile(sp);
        }
    }
    for (svc_port_t *sp = px->ports, *next; sp; sp = next) {
        next = sp->next;
        if (!strcmp(sp->svc_key, key) && !sp->seen)
            port_remove(px, sp);
    }
}

static void obj_changed(proxy_t *px, json_t *obj)
{
    const char *ns = json_str(json_object_get(obj, "metadata"), "namespace");
    const char *name = json_str(json_object_get(obj, "metadata"), "name");
    char key[512];
    if (!name)
        return;
    snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
    sync_service(px, key);
}

static void on_add(informer_t *inf, json_t *obj, void *priv)
{
    obj_changed(priv, obj);
}

static void on_update(informer_t *inf, json_t *old, json_t *obj, void *priv)
{
    obj_changed(priv, obj);
}

static void on_delete(informer_t *inf, json_t *obj, void *priv)
{
    obj_changed(priv, obj);
}

/* Every second: retry binds that failed, resume paused listeners; every minute: forget
 * expired affinities. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    proxy_t *px = arg;
    px->ticks++;
    for (svc_port_t *sp = px->ports; sp; sp = sp->next) {
        int missing = sp->has_cluster && !sp->cl;
        for (int i = 0; i < px->n_nodeport_addrs; i++)
            missing |= sp->has_node && !sp->nl[i];
        if (missing)
            port_reconcile(sp);
        listener_t *ls[1 + MAX_NODEPORT_ADDRS] = { sp->cl };
        memcpy(ls + 1, sp->nl, sizeof(sp->nl));
        for (int i = 0; i < 1 + MAX_NODEPORT_ADDRS; i++)
            if (ls[i] && ls[i]->paused) {
                ls[i]->paused = 0;
                evconnlistener_enable(ls[i]->lev);
            }
        if (sp->affinity && px->ticks % 60 == 0)
            sticky_sweep(sp);
    }
}

/* ---- /metrics and /healthz --------------------------------------------------------- */

static void describe_metrics(void)
{
    metrics_describe("berth_proxy_service_ports", "gauge", "Service ports served.");
    metrics_describe("berth_proxy_listeners", "gauge", "Sockets listening for services.");
    metrics_describe("berth_proxy_endpoints", "gauge", "Ready endpoints over all service ports.");
    metrics_describe("berth_proxy_connections_total", "counter",
                     "TCP connections accepted, by outcome (relayed, rejected: no endpoint answered).");
    metrics_describe("berth_proxy_active_connections", "gauge", "TCP connections being relayed.");
    metrics_describe("berth_proxy_connecting", "gauge", "TCP connections waiting for an endpoint.");
    metrics_describe("berth_proxy_endpoint_connect_failures_total", "counter",
                     "Endpoint connects refused or timed out (another endpoint is tried).");
    metrics_describe("berth_proxy_relay_errors_total", "counter",
                     "Relayed connections cut by a reset or an error.");
    metrics_describe("berth_proxy_bytes_total", "counter",
                     "Bytes relayed over finished TCP connections, by direction.");
    metrics_describe("berth_proxy_udp_datagrams_total", "counter", "UDP datagrams, by direction.");
    metrics_describe("berth_proxy_udp_flows", "gauge", "UDP flows open.");
    metrics_describe("berth_proxy_udp_flows_total", "counter", "UDP flows opened.");
    metrics_describe("berth_proxy_syncs_total", "counter", "Service syncs (informer events).");
}

static void render_metrics(proxy_t *px, struct evbuffer *out)
{
    size_t neps = 0;
    proxy_pool_stats_t ps;
    for (svc_port_t *sp = px->ports; sp; sp = sp->next)
        neps += sp->neps;
    proxy_pool_stats(px->pool, &ps);
    metrics_set("berth_proxy_service_ports", "", (double)px->nports);
    metrics_set("berth_proxy_listeners", "", (double)px->nlisteners);
    metrics_set("berth_proxy_endpoints", "", (double)neps);
    metrics_set("berth_proxy_connections_total", "result=\"relayed\"", (double)px->st.relayed);
    metrics_set("berth_proxy_connections_total", "result=\"rejected\"", (double)px->st.rejected);
    metrics_set("berth_proxy_active_connections", "", (double)ps.active);
    metrics_set("berth_proxy_connecting", "", (double)px->nconnecting);
    metrics_set("berth_proxy_endpoint_connect_failures_total", "", (double)px->st.connect_failures);
    metrics_set("berth_proxy_relay_errors_total", "", (double)ps.relay_errors);
    metrics_set("berth_proxy_bytes_total", "direction=\"up\"", (double)ps.bytes_up);
    metrics_set("berth_proxy_bytes_total", "direction=\"down\"", (double)ps.bytes_down);
    metrics_set("berth_proxy_udp_datagrams_total", "direction=\"up\"", (double)px->st.udp_in);
    metrics_set("berth_proxy_udp_datagrams_total", "direction=\"down\"", (double)px->st.udp_out);
    metrics_set("berth_proxy_udp_flows", "", (double)px->nflows);
    metrics_set("berth_proxy_udp_flows_total", "", (double)px->st.udp_flows);
    metrics_set("berth_proxy_syncs_total", "", (double)px->st.syncs);
    metrics_render(out);
}

static void http_cb(struct evhttp_request *req, void *arg)
{
    proxy_t *px = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (!strcmp(uri, "/metrics")) {
        evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4");
        render_metrics(px, out);
        evhttp_send_reply(req, 200, "OK", out);
    } else if (!strcmp(uri, "/healthz") || !strcmp(uri, "/readyz")) {
        int ok = informer_has_synced(px->svcs) && informer_has_synced(px->epts);
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(out, ok ? "ok" : "services and endpoints not synced yet");
        evhttp_send_reply(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", out);
    } else {
        evhttp_send_error(req, 404, NULL);
    }
    evbuffer_free(out);
}

/* ---- create / free ----------------------------------------------------------------- */

void proxy_free(proxy_t *px)
{
    if (!px)
        return;
    if (px->svcs)
        informer_free(px->svcs);
    if (px->epts)
        informer_free(px->epts);
    while (px->ports)
        port_remove(px, px->ports);
    while (px->conns)
        conn_reject(px->conns);
    proxy_pool_free(px->pool);
    if (px->tick)
        event_free(px->tick);
    if (px->http)
        evhttp_free(px->http);
    if (px->client)
        apiclient_free(px->client);
    free(px->node_name);
    free(px);
}

proxy_t *proxy_create(struct event_base *base, const proxy_opts_t *opts, char *err,
                      size_t errlen)
{
    proxy_t *px = calloc(1, sizeof(*px));
    if (!px) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    px->base = base;
    px->bind_all = opts->bind_all_cluster_ips;
    px->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 3000;
    px->udp_idle = opts->udp_idle_timeout > 0 ? opts->udp_idle_timeout : 30;
    px->node_name = opts->node_name ? strdup(opts->node_name) : NULL;
    int threads = opts->relay_threads < 0    ? 0
                  : opts->relay_threads == 0 ? proxy_pool_auto_threads()
                                             : opts->relay_threads;
    px->pool = proxy_pool_create(base, threads, opts->relay, err, errlen);
    if (!px->pool)
        goto failed;
    const char *npa = opts->nodeport_address ? opts->nodeport_address : "127.0.0.1";
    if (nodeport_addresses(px, npa, err, errlen) < 0)
        goto failed;
    px->client = apiclient_create(base, opts->server_url);
    if (!px->client) {
        snprintf(err, errlen, "--server %s is not an http URL", opts->server_url);
        goto failed;
    }
    if (opts->metrics_listen && *opts->metrics_listen) {
        char host[256];
        const char *colon = strrchr(opts->metrics_listen, ':');
        int port = colon ? atoi(colon + 1) : 0;
        size_t hl = colon ? (size_t)(colon - opts->metrics_listen) : 0;
        if (!colon || port <= 0 || port > 65535 || hl >= sizeof(host)) {
            snprintf(err, errlen, "--metrics-listen %s is not HOST:PORT", opts->metrics_listen);
            goto failed;
        }
        memcpy(host, opts->metrics_listen, hl);
        host[hl] = '\0';
        px->http = evhttp_new(base);
        if (!px->http || evhttp_bind_socket(px->http, hl ? host : "0.0.0.0", (uint16_t)port) != 0) {
            snprintf(err, errlen, "cannot serve metrics on %s", opts->metrics_listen);
            goto failed;
        }
        evhttp_set_gencb(px->http, http_cb, px);
    }
    describe_metrics();
    informer_handlers_t h = { on_add, on_update, on_delete, px };
    informer_config_t sc = { .path = "/api/v1/services" };
    informer_config_t ec = { .path = "/api/v1/endpoints" };
    px->svcs = informer_create(base, px->client, &sc, &h);
    px->epts = informer_create(base, px->client, &ec, &h);
    px->tick = event_new(base, -1, EV_PERSIST, tick_cb, px);
    struct timeval one = { 1, 0 };
    if (!px->svcs || !px->epts || !px->tick || event_add(px->tick, &one) != 0) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    informer_start(px->svcs);
    informer_start(px->epts);
    return px;
failed:
    proxy_free(px);
    return NULL;
}

/* ---- berth proxy ------------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

/* A proxy holds two sockets per connection (six fds with splice): take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int proxy_main(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "server", required_argument, NULL, 's' },
        { "node-name", required_argument, NULL, 'n' },
        { "nodeport-address", required_argument, NULL, 'a' },
        { "metrics-listen", required_argument, NULL, 'm' },
        { "bind-cluster-ips", no_argument, NULL, 'B' },
        { "relay", required_argument, NULL, 'r' },
        { "connect-timeout", required_argument, NULL, 'c' },
        { "udp-idle-timeout", required_argument, NULL, 'u' },
        { "relay-threads", required_argument, NULL, 'T' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    proxy_opts_t o = { "http://127.0.0.1:6443", NULL, "127.0.0.1", "127.0.0.1:10249", 0,
                       PROXY_RELAY_SPLICE, 3000, 30, 0 };
    char err[512], host[256];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case 's': o.server_url = optarg; break;
        case 'n': o.node_name = optarg; break;
        case 'a': o.nodeport_address = optarg; break;
        case 'm': o.metrics_listen = optarg; break;
        case 'B': o.bind_all_cluster_ips = 1; break;
        case 'r':
            if (!strcmp(optarg, "splice"))
                o.relay = PROXY_RELAY_SPLICE;
            else if (!strcmp(optarg, "buffer"))
                o.relay = PROXY_RELAY_BUFFER;
            else {
                fprintf(stderr, "berth proxy: --relay is splice or buffer\n");
                return 2;
            }
            break;
        case 'c': o.connect_timeout_ms = atoi(optarg); break;
        case 'u': o.udp_idle_timeout = atoi(optarg); break;
        case 'T': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (!strcmp(optarg, "auto")) {
                o.relay_threads = 0;
            } else if (end == optarg || *end || n < 0 || n > PROXY_POOL_MAX) {
                fprintf(stderr, "berth proxy: --relay-threads is auto or 0..%d\n", PROXY_POOL_MAX);
                return 2;
            } else {
                o.relay_threads = n == 0 ? -1 : (int)n;
            }
            break;
        }
        case 'L': log_set_level_name(optarg); break;
        case 'h':
            printf("usage: berth proxy [--server URL] [--node-name NAME] [--nodeport-address IP]\n"
                   "                   [--metrics-listen HOST:PORT] [--bind-cluster-ips]\n"
                   "                   [--relay splice|buffer] [--connect-timeout MS]\n"
                   "                   [--udp-idle-timeout S] [--relay-threads N]\n"
                   "                   [--log-level LEVEL]\n"
                   "\n"
                   "  --server URL            API server (default http://127.0.0.1:6443)\n"
                   "  --node-name NAME        this node's name (default: the host name)\n"
                   "  --nodeport-address L    where node ports listen: IPv4 addresses or\n"
                   "                          interface names, comma-separated (default\n"
                   "                          127.0.0.1; 0.0.0.0 for every address;\n"
                   "                          127.0.0.1,docker0 also for pods on the bridge)\n"
                   "  --metrics-listen H:P    /metrics and /healthz (default 127.0.0.1:10249;\n"
                   "                          \"\" for none)\n"
                   "  --bind-cluster-ips      also bind cluster IPs outside 127.0.0.0/8, with\n"
                   "                          IP_FREEBIND (see docs/proxy.md)\n"
                   "  --relay MODE            splice (default) or buffer (bufferevents)\n"
                   "  --connect-timeout MS    per endpoint connect attempt (default 3000)\n"
                   "  --udp-idle-timeout S    end a UDP flow after S idle seconds (default 30)\n"
                   "  --relay-threads N       threads that relay the bytes (default auto: one\n"
                   "                          per CPU, at most 8; 0: relay on the proxy's own\n"
                   "                          event loop)\n");
            return 0;
        default: return 2;
        }
    }
    if (!o.node_name) {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        o.node_name = host;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "berth proxy: no event base\n");
        return 1;
    }
    proxy_t *px = proxy_create(base, &o, err, sizeof(err));
    if (!px) {
        fprintf(stderr, "berth proxy: %s\n", err);
        event_base_free(base);
        return 1;
    }
    struct event *e1 = evsignal_new(base, SIGINT, on_signal, base);
    struct event *e2 = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(e1, NULL);
    event_add(e2, NULL);
    log_info("proxy: node %s, services from %s, node ports on %s, relay %s on %d thread(s)%s",
             o.node_name, o.server_url, o.nodeport_address,
             o.relay == PROXY_RELAY_SPLICE ? "splice" : "buffer",
             proxy_pool_threads(px->pool),
             o.bind_all_cluster_ips ? ", every cluster IP bound" : "");
    event_base_dispatch(base);
    event_free(e1);
    event_free(e2);
    proxy_free(px);
    event_base_free(base);
    metrics_release();
    return 0;
}
