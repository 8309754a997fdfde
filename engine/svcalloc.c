/* svcalloc.c: see svcalloc.h. Field paths and messages are kube-apiserver's
 * (pkg/registry/core/service/storage/alloc.go, ipallocator, portallocator, strategy.go). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "api.h"
#include "log.h"
#include "svcalloc.h"
#include "util.h"

#define TABLE_IPS   "berth:alloc:clusterips"
#define TABLE_PORTS "berth:alloc:nodeports"
#define NO_INDEX    UINT32_MAX

/* ---- ranges and their hints -------------------------------------------------------- */

/* Slot i of a range is the value base + i: an IPv4 address in host order, or a port. */
typedef struct range_s {
    uint32_t base, size;
    uint32_t offset;    /* [0, offset) is the static band: picks come from above it first */
    uint8_t *bits;      /* the hint: 1 = held (or picked by a request in flight) */
} range_t;

static struct {
    range_t ip, port;
    char cidr[160];     /* as kube prints the range: network/prefix */
    char ports[48];     /* "30000-32767" */
    int ready;
} A;

static int bit_get(const range_t *r, uint32_t i)
{
    return i < r->size && (r->bits[i >> 3] >> (i & 7) & 1);
}

static void bit_put(range_t *r, uint32_t i, int on)
{
    if (i >= r->size)
        return;
    if (on)
        r->bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
        r->bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

/* kube's calculateRangeOffset: min(max(lo, size/step), hi), 0 for ranges of lo or less. */
static uint32_t range_offset(uint64_t size, uint32_t lo, uint32_t hi, uint32_t step)
{
    if (size <= lo)
        return 0;
    uint64_t off = size / step;
    return off < lo ? lo : off > hi ? hi : (uint32_t)off;
}

static int range_init(range_t *r, uint32_t base, uint32_t size, uint32_t offset)
{
    uint8_t *bits = calloc(size / 8 + 1, 1);
    if (!bits)
        return -1;
    free(r->bits);
    r->bits = bits;
    r->base = base;
    r->size = size;
    r->offset = offset < size ? offset : 0;
    return 0;
}

/* A free slot, marked at once: the upper band from a random point, then the lower band
 * (kube's randomScanStrategyWithOffset). -1 when the range is full. */
static int range_pick(range_t *r, uint32_t *out)
{
    uint32_t bands[2][2] = { { r->offset, r->size }, { 0, r->offset } };
    for (int b = 0; b < 2; b++) {
        uint32_t lo = bands[b][0], n = bands[b][1] - bands[b][0];
        if (!n)
            continue;
        uint32_t start = (uint32_t)random() % n;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = lo + (start + k) % n;
            if (!bit_get(r, i)) {
                bit_put(r, i, 1);
                *out = i;
                return 0;
            }
        }
    }
    return -1;
}

int svcalloc_configure(const char *cidr, const char *node_ports, char *err, size_t errlen)
{
    char buf[INET_ADDRSTRLEN + 64], *slash;
    struct in_addr a;
    long prefix;
    long lo, hi;
    char *end;

    if (!cidr)
        cidr = "127.77.0.0/16";
    if (!node_ports)
        node_ports = "30000-32767";
    snprintf(buf, sizeof(buf), "%s", cidr);
    slash = strchr(buf, '/');
    if (!slash || (*slash = '\0', inet_pton(AF_INET, buf, &a) != 1) ||
        (prefix = strtol(slash + 1, &end, 10), *end || end == slash + 1) || prefix < 0 ||
        prefix > 32) {
        snprintf(err, errlen, "--service-cluster-ip-range: %s is not an IPv4 CIDR "
                 "(for example 10.96.0.0/16)", cidr);
        return -1;
    }
    if (prefix < 12) {
        snprintf(err, errlen, "specified --service-cluster-ip-range is too large; for 32-bit "
                 "addresses, the mask must be >= 12");
        return -1;
    }
    if (prefix > 30) {
        snprintf(err, errlen, "--service-cluster-ip-range %s holds no usable address", cidr);
        return -1;
    }
    lo = strtol(node_ports, &end, 10);
    hi = lo;
    if (*end == '-')
        hi = strtol(end + 1, &end, 10);
    if (*end || lo < 1 || hi > 65535 || lo > hi) {
        snprintf(err, errlen, "--service-node-port-range: %s is not a port range "
                 "(for example 30000-32767)", node_ports);
        return -1;
    }
    uint32_t mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
    uint32_t net = ntohl(a.s_addr) & mask;
    uint64_t cidr_size = 1ull << (32 - prefix);
    if (range_init(&A.ip, net + 1, (uint32_t)(cidr_size - 2), range_offset(cidr_size, 16, 256, 16)) ||
        range_init(&A.port, (uint32_t)lo, (uint32_t)(hi - lo + 1),
                   range_offset((uint64_t)(hi - lo + 1), 16, 128, 32))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a.s_addr = htonl(net);
    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    snprintf(A.cidr, sizeof(A.cidr), "%s/%ld", buf, prefix);
    snprintf(A.ports, sizeof(A.ports), "%ld-%ld", lo, hi);
    if (!A.ready)
        srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    A.ready = 1;
    return 0;
}

static void ensure_ready(void)
{
    char err[128];
    if (!A.ready && svcalloc_configure(NULL, NULL, err, sizeof(err)) != 0)
        log_error("service allocator: %s", err);
}

/* 1 with *idx if s is an IPv4 address of the range, 0 if it is outside, -1 if not IPv4. */
static int ip_index(const char *s, uint32_t *idx)
{
    struct in_addr a;
    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return -1;
    uint32_t v = ntohl(a.s_addr);
    if (v < A.ip.base || v - A.ip.base >= A.ip.size)
        return 0;
    *idx = v - A.ip.base;
    return 1;
}

static void ip_text(uint32_t idx, char out[48])
{
    struct in_addr a = { htonl(A.ip.base + idx) };
    inet_ntop(AF_INET, &a, out, 48);
}

static int port_index(long long port, uint32_t *idx)
{
    if (port < A.port.base || port - A.port.base >= A.port.size)
        return 0;
    *idx = (uint32_t)(port - A.port.base);
    return 1;
}

/* ---- Service fields ---------------------------------------------------------------- */

static int is_service(const kind_t *k)
{
    return k && !*k->group && !strcmp(k->kind, "Service");
}

static const char *type_of(const json_t *spec)
{
    const char *t = json_str(spec, "type");
    return t && *t ? t : "ClusterIP";
}

static int needs_cluster_ip(const json_t *spec)
{
    return strcmp(type_of(spec), "ExternalName") != 0;
}

static int needs_node_port(const json_t *spec)
{
    const char *t = type_of(spec);
    return !strcmp(t, "NodePort") || !strcmp(t, "LoadBalancer");
}

/* kube's shouldAllocateNodePorts. */
static int should_alloc_node_ports(const json_t *spec)
{
    const char *t = type_of(spec);
    if (!strcmp(t, "NodePort"))
        return 1;
    return !strcmp(t, "LoadBalancer") &&
           !json_is_false(json_object_get(spec, "allocateLoadBalancerNodePorts"));
}

/* clusterIPs[0], else clusterIP, else "". */
static const char *first_ip(const json_t *spec)
{
    const json_t *ips = json_object_get(spec, "clusterIPs");
    const char *s = json_string_value(json_array_get(ips, 0));
    if (s)
        return s;
    s = json_str(spec, "clusterIP");
    return s ? s : "";
}

/* The cluster IP spec holds in the table, or NULL. */
static const char *held_ip(const json_t *spec)
{
    const char *ip;
    if (!json_is_object(spec) || !needs_cluster_ip(spec))
        return NULL;
    ip = first_ip(spec);
    return *ip && strcmp(ip, "None") ? ip : NULL;
}

static long long node_port_of(const json_t *p)
{
    json_t *v = json_object_get(p, "nodePort");
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static int has_node_port(const json_t *spec, long long np)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
        if (node_port_of(p) == np)
            return 1;
    return 0;
}

static int array_or_empty_equal(const json_t *a, const json_t *b)
{
    if (!json_array_size(a) && !json_array_size(b))
        return 1;
    return json_equal((json_t *)a, (json_t *)b);
}

/* ---- Status objects ---------------------------------------------------------------- */

static json_t *invalid(const char *name, const char *field, const char *rendered,
                       const char *detail)
{
    char msg[1024], full[1536];
    snprintf(msg, sizeof(msg), "Invalid value: %s: %s", rendered, detail);
    snprintf(full, sizeof(full), "Service \"%s\" is invalid: %s: %s", name, field, msg);
    json_t *details = json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "name", name, "kind", "Service",
                                "causes", "reason", "FieldValueInvalid", "message", msg,
                                "field", field);
    return api_status_object(422, "Invalid", details, full);
}

/* kube's errors.NewInternalError. */
static json_t *internal(const char *what)
{
    char full[512];
    snprintf(full, sizeof(full), "Internal error occurred: %s", what);
    return api_status_object(500, "InternalError", json_pack("{s:[{s:s}]}", "causes", "message",
                                                              what), full);
}

/* Go's %#v of the clusterIPs slice: []string{"10.96.0.10"}. */
static void render_ips(const json_t *spec, char *out, size_t outlen)
{
    const json_t *ips = json_object_get(spec, "clusterIPs");
    size_t i, len;
    json_t *ip;
    snprintf(out, outlen, "[]string{");
    if (!json_array_size(ips) && json_str(spec, "clusterIP"))
        snprintf(out + strlen(out), outlen - strlen(out), "\"%s\"", json_str(spec, "clusterIP"));
    json_array_foreach(ips, i, ip) {
        char *q = json_dumps(ip, JSON_ENCODE_ANY);
        len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", i ? ", " : "", q ? q : "\"\"");
        free(q);
    }
    len = strlen(out);
    snprintf(out + len, outlen - len, "}");
}

/* ---- plans ------------------------------------------------------------------------- */

typedef struct pclaim_s {
    int is_port;
    uint32_t idx;       /* slot in its range, NO_INDEX if outside (old values) */
    char slot[48];
    int release;
    int picked;         /* picked here: marked in the hint until commit or free */
    int taken;          /* the store found it held by another: stays marked */
    long long value;    /* node port */
    size_t port_index;  /* the port it was claimed for, for messages */
} pclaim_t;

struct svcalloc_plan_s {
    pclaim_t *c;
    store_claim_t *sc;
    size_t n, cap;
    int picked_ip;
    int committed;
    char ips[512];      /* the clusterIPs rendered, for messages */
};

static pclaim_t *plan_add(svcalloc_plan_t *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        pclaim_t *c = realloc(p->c, cap * sizeof(*c));
        if (!c)
            return NULL;
        p->c = c;
        p->cap = cap;
    }
    pclaim_t *c = &p->c[p->n++];
    memset(c, 0, sizeof(*c));
    c->idx = NO_INDEX;
    return c;
}

static int plan_has_port(const svcalloc_plan_t *p, long long np)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->c[i].is_port && !p->c[i].release && p->c[i].value == np)
            return 1;
    return 0;
}

void svcalloc_plan_free(svcalloc_plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; !p->committed && i < p->n; i++)
        if (p->c[i].picked && !p->c[i].taken)
            bit_put(p->c[i].is_port ? &A.port : &A.ip, p->c[i].idx, 0);
    free(p->c);
    free(p->sc);
    free(p);
}

/* Drop an empty plan; NULL for it. */
static svcalloc_plan_t *plan_finish(svcalloc_plan_t *p)
{
    if (p && !p->n) {
        svcalloc_plan_free(p);
        return NULL;
    }
    return p;
}

const store_claim_t *svcalloc_claims(const svcalloc_plan_t *cp, size_t *n)
{
    svcalloc_plan_t *p = (svcalloc_plan_t *)cp;
    *n = 0;
    if (!p || !p->n)
        return NULL;
    if (!p->sc) {
        p->sc = calloc(p->n, sizeof(*p->sc));
        if (!p->sc)
            return NULL;
    }
    for (size_t i = 0; i < p->n; i++) {
        p->sc[i].table = p->c[i].is_port ? TABLE_PORTS : TABLE_IPS;
        p->sc[i].slot = p->c[i].slot;
        p->sc[i].release = p->c[i].release;
    }
    *n = p->n;
    return p->sc;
}

void svcalloc_commit(svcalloc_plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        bit_put(p->c[i].is_port ? &A.port : &A.ip, p->c[i].idx, !p->c[i].release);
    p->committed = 1;
}

int svcalloc_taken(svcalloc_plan_t *p, size_t claim, const char *name, json_t **err)
{
    char detail[256], num[32];
    if (!p || claim >= p->n) {
        *err = internal("failed to allocate: the allocation tables changed");
        return 0;
    }
    pclaim_t *c = &p->c[claim];
    /* Someone else holds it: the hint learns it, and a free must not clear it. */
    bit_put(c->is_port ? &A.port : &A.ip, c->idx, 1);
    c->taken = 1;
    if (c->picked) {
        *err = internal(c->is_port ? "failed to allocate a nodePort: range is full"
                                   : "failed to allocate a serviceIP: range is full");
        return 1;
    }
    if (c->is_port) {
        char field[64];
        snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", c->port_index);
        snprintf(num, sizeof(num), "%lld", c->value);
        *err = invalid(name ? name : "", field, num, "provided port is already allocated");
    } else {
        snprintf(detail, sizeof(detail), "failed to allocate IP %s: provided IP is already allocated",
                 c->slot);
        *err = invalid(name ? name : "", "spec.clusterIPs", p->ips, detail);
    }
    return 0;
}

void svcalloc_undo(svcalloc_plan_t *p, json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec"), *port;
    size_t i;
    if (!p || !json_is_object(spec))
        return;
    if (p->picked_ip) {
        json_object_del(spec, "clusterIP");
        json_object_del(spec, "clusterIPs");
    }
    for (size_t k = 0; k < p->n; k++) {
        if (!p->c[k].is_port || !p->c[k].picked)
            continue;
        json_array_foreach(json_object_get(spec, "ports"), i, port)
            if (node_port_of(port) == p->c[k].value)
                json_object_del(port, "nodePort");
    }
}

/* ---- allocation -------------------------------------------------------------------- */

/* kube's initIPFamilyFields on a single-stack IPv4 cluster: ipFamilyPolicy (from old, or
 * RequireDualStack for headless selectorless services, else SingleStack) and ipFamilies. */
static json_t *init_families(const char *name, json_t *spec, const json_t *old_spec)
{
    json_t *fams = json_object_get(spec, "ipFamilies"), *ips = json_object_get(spec, "clusterIPs");
    const char *first = first_ip(spec), *pol;
    int headless = !strcmp(first, "None");
    int selectorless = json_object_size(json_object_get(spec, "selector")) == 0;
    char rendered[512], field[64];
    size_t i;
    json_t *v;

    if (!needs_cluster_ip(spec))
        return NULL;
    if (!json_str(spec, "ipFamilyPolicy")) {
        pol = json_str(old_spec, "ipFamilyPolicy");
        if (!pol)
            pol = headless && selectorless ? "RequireDualStack" : "SingleStack";
        json_object_set_new(spec, "ipFamilyPolicy", json_string(pol));
    }
    pol = json_str(spec, "ipFamilyPolicy");
    if (!json_is_array(fams)) {
        fams = json_array();
        json_object_set_new(spec, "ipFamilies", fams);
    }
    /* Families inferred from the cluster IPs. */
    json_array_foreach(ips, i, v) {
        const char *ip = json_string_value(v);
        unsigned char buf[16];
        if (!ip || !strcmp(ip, "None"))
            break;
        if (i < json_array_size(fams))
            continue;
        if (inet_pton(AF_INET, ip, buf) == 1) {
            json_array_append_new(fams, json_string("IPv4"));
        } else {
            render_ips(spec, rendered, sizeof(rendered));
            snprintf(field, sizeof(field), "spec.clusterIPs[%zu]", i);
            return invalid(name, field, rendered, "IPv6 is not configured on this cluster");
        }
    }
    if (headless && selectorless) {
        if (!json_array_size(fams))
            json_array_append_new(fams, json_string("IPv4"));
        /* A single-stack cluster still lets these name both families. */
        if (json_array_size(fams) < 2 && strcmp(pol, "SingleStack")) {
            const char *f0 = json_string_value(json_array_get(fams, 0));
            json_array_append_new(fams, json_string(f0 && !strcmp(f0, "IPv6") ? "IPv4" : "IPv6"));
        }
        return NULL;
    }
    if (!strcmp(pol, "RequireDualStack"))
        return invalid(name, "spec.ipFamilyPolicy", "\"RequireDualStack\"",
                       "this cluster is not configured for dual-stack services");
    json_array_foreach(fams, i, v) {
        const char *f = json_string_value(v);
        if (f && !strcmp(f, "IPv4"))
            continue;
        snprintf(field, sizeof(field), "spec.ipFamilies[%zu]", i);
        snprintf(rendered, sizeof(rendered), "\"%s\"", f ? f : "");
        return invalid(name, field, rendered, "not configured on this cluster");
    }
    if (!json_array_size(fams))
        json_array_append_new(fams, json_string("IPv4"));
    return NULL;
}

/* The cluster IP of spec: picked when empty, claimed when chosen and not old's (old_ip). */
static json_t *alloc_ip(svcalloc_plan_t *p, const char *name, json_t *spec, const char *old_ip,
                        int allocate, int dry_run)
{
    const char *first = first_ip(spec);
    char detail[256];
    uint32_t idx;
    pclaim_t *c;

    render_ips(spec, p->ips, sizeof(p->ips));
    if (!strcmp(first, "None") || (old_ip && !strcmp(first, old_ip)))
        return NULL;
    if (!*first) {
        if (!allocate)
            return NULL;
        if (!(c = plan_add(p)))
            return internal("out of memory");
        if (range_pick(&A.ip, &idx) != 0) {
            p->n--;
            return internal("failed to allocate a serviceIP: range is full");
        }
        c->idx = idx;
        c->picked = 1;
        ip_text(idx, c->slot);
        p->picked_ip = 1;
        json_object_set_new(spec, "clusterIP", json_string(c->slot));
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", c->slot));
        return NULL;
    }
    if (ip_index(first, &idx) != 1) {
        snprintf(detail, sizeof(detail), "failed to allocate IP %s: provided IP is not in the "
                 "valid range. The range of valid IPs is %s", first, A.cidr);
        return invalid(name, "spec.clusterIPs", p->ips, detail);
    }
    if (dry_run && bit_get(&A.ip, idx)) {
        snprintf(detail, sizeof(detail), "failed to allocate IP %s: provided IP is already "
                 "allocated", first);
        return invalid(name, "spec.clusterIPs", p->ips, detail);
    }
    if (!(c = plan_add(p)))
        return internal("out of memory");
    c->idx = idx;
    ip_text(idx, c->slot);
    return NULL;
}

/* A node port the client chose for port i. */
static json_t *claim_port(svcalloc_plan_t *p, const char *name, long long np, size_t i,
                          int dry_run)
{
    char field[64], num[32], detail[160];
    uint32_t idx;
    pclaim_t *c;

    snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
    snprintf(num, sizeof(num), "%lld", np);
    if (!port_index(np, &idx)) {
        snprintf(detail, sizeof(detail), "provided port is not in the valid range. The range "
                 "of valid ports is %s", A.ports);
        return invalid(name, field, num, detail);
    }
    if (plan_has_port(p, np) || (dry_run && bit_get(&A.port, idx)))
        return invalid(name, field, num, "provided port is already allocated");
    if (!(c = plan_add(p)))
        return internal("out of memory");
    c->is_port = 1;
    c->idx = idx;
    c->value = np;
    c->port_index = i;
    snprintf(c->slot, sizeof(c->slot), "%lld", np);
    return NULL;
}

static json_t *pick_port(svcalloc_plan_t *p, json_t *port, size_t i)
{
    uint32_t idx;
    pclaim_t *c = plan_add(p);
    if (!c)
        return internal("out of memory");
    if (range_pick(&A.port, &idx) != 0) {
        p->n--;
        return internal("failed to allocate a nodePort: range is full");
    }
    c->is_port = 1;
    c->idx = idx;
    c->picked = 1;
    c->value = (long long)A.port.base + idx;
    c->port_index = i;
    snprintf(c->slot, sizeof(c->slot), "%lld", c->value);
    json_object_set_new(port, "nodePort", json_integer(c->value));
    return NULL;
}

/* Node ports the client chose are marked in the hint while picking, so a pick never takes
 * one this very request asks for. Returns how many were marked (in marks). */
static size_t mark_chosen(const json_t *spec, uint32_t *marks, size_t max)
{
    size_t i, n = 0;
    json_t *port;
    uint32_t idx;
    json_array_foreach(json_object_get(spec, "ports"), i, port) {
        long long np = node_port_of(port);
        if (n < max && np && port_index(np, &idx) && !bit_get(&A.port, idx)) {
            bit_put(&A.port, idx, 1);
            marks[n++] = idx;
        }
    }
    return n;
}

static void unmark(const uint32_t *marks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bit_put(&A.port, marks[i], 0);
}

/* kube's initNodePorts: ports with the same port number (TCP and UDP 53) share one. */
static json_t *create_node_ports(svcalloc_plan_t *p, const char *name, json_t *spec, int dry_run)
{
    json_t *ports = json_object_get(spec, "ports"), *port, *q, *st = NULL;
    json_t *by_port = json_object();
    int should = should_alloc_node_ports(spec);
    size_t i, j;

    json_array_foreach(ports, i, port) {
        long long np = node_port_of(port), allocated;
        char key[32];
        json_t *pn = json_object_get(port, "port");
        if (!np && !should)
            continue;
        snprintf(key, sizeof(key), "%lld", json_is_integer(pn) ? json_integer_value(pn) : 0);
        allocated = json_integer_value(json_object_get(by_port, key));
        if (!allocated) {
            long long requested = 0;
            json_array_foreach(ports, j, q)
                if (json_equal(json_object_get(q, "port"), pn) && node_port_of(q)) {
                    requested = node_port_of(q);
                    break;
                }
            if (requested) {
                if ((st = claim_port(p, name, requested, i, dry_run)))
                    break;
                json_object_set_new(port, "nodePort", json_integer(requested));
            } else if ((st = pick_port(p, port, i))) {
                break;
            }
            json_object_set_new(by_port, key, json_integer(node_port_of(port)));
        } else if (np != allocated) {
            if (!np)
                json_object_set_new(port, "nodePort", json_integer(allocated));
            else if ((st = claim_port(p, name, np, i, dry_run)))
                break;
        }
    }
    json_decref(by_port);
    return st;
}

/* kube's updateNodePorts: claim new chosen ports, pick missing ones (allocate). */
static json_t *update_node_ports(svcalloc_plan_t *p, const char *name, const json_t *old_spec,
                                 json_t *spec, int allocate, int dry_run)
{
    json_t *port, *st = NULL;
    int should = should_alloc_node_ports(spec);
    size_t i;

    json_array_foreach(json_object_get(spec, "ports"), i, port) {
        long long np = node_port_of(port);
        if (!np && !should)
            continue;
        if (np) {
            if (!has_node_port(old_spec, np) && !plan_has_port(p, np) &&
                (st = claim_port(p, name, np, i, dry_run)))
                return st;
        } else if (allocate && (st = pick_port(p, port, i))) {
            return st;
        }
    }
    return NULL;
}

static json_t *release_ip(svcalloc_plan_t *p, const char *ip)
{
    pclaim_t *c = plan_add(p);
    uint32_t idx;
    if (!c)
        return internal("out of memory");
    c->release = 1;
    snprintf(c->slot, sizeof(c->slot), "%s", ip);
    if (ip_index(ip, &idx) == 1)
        c->idx = idx;
    return NULL;
}

/* Old node ports spec no longer holds (all of them for a removal). */
static json_t *release_ports(svcalloc_plan_t *p, const json_t *old_spec, const json_t *spec)
{
    size_t i, j;
    json_t *port, *q;
    json_array_foreach(json_object_get(old_spec, "ports"), i, port) {
        long long np = node_port_of(port);
        uint32_t idx;
        int dup = 0;
        if (np <= 0 || (spec && has_node_port(spec, np)))
            continue;
        json_array_foreach(json_object_get(old_spec, "ports"), j, q)
            if (j < i && node_port_of(q) == np)
                dup = 1;
        if (dup)
            continue;
        pclaim_t *c = plan_add(p);
        if (!c)
            return internal("out of memory");
        c->is_port = 1;
        c->release = 1;
        c->value = np;
        snprintf(c->slot, sizeof(c->slot), "%lld", np);
        if (port_index(np, &idx))
            c->idx = idx;
    }
    return NULL;
}

static svcalloc_plan_t *plan_new(void)
{
    return calloc(1, sizeof(svcalloc_plan_t));
}

int svcalloc_create(const kind_t *k, json_t *obj, int dry_run, svcalloc_plan_t **plan,
                    json_t **err)
{
    json_t *spec = json_object_get(obj, "spec"), *st = NULL;
    const char *name = json_str(json_object_get(obj, "metadata"), "name");
    uint32_t marks[64];
    size_t nmarks = 0;
    svcalloc_plan_t *p;

    *plan = NULL;
    *err = NULL;
    if (!is_service(k) || !json_is_object(spec))
        return 0;
    ensure_ready();
    name = name ? name : "";
    if (!(p = plan_new())) {
        *err = internal("out of memory");
        return -1;
    }
    /* normalizeClusterIPs for a create: an old client's clusterIP alone fills clusterIPs. */
    const char *cip = json_str(spec, "clusterIP");
    if (cip && *cip && !json_array_size(json_object_get(spec, "clusterIPs")))
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", cip));
    else if ((!cip || !*cip) && json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0)))
        json_object_set(spec, "clusterIP", json_array_get(json_object_get(spec, "clusterIPs"), 0));
    if (needs_cluster_ip(spec)) {
        if (!(st = init_families(name, spec, NULL)))
            st = alloc_ip(p, name, spec, NULL, 1, dry_run);
    }
    if (!st && needs_node_port(spec)) {
        nmarks = mark_chosen(spec, marks, 64);
        st = create_node_ports(p, name, spec, dry_run);
        unmark(marks, nmarks);
    }
    if (st) {
        svcalloc_plan_free(p);
        *err = st;
        return -1;
    }
    *plan = plan_finish(p);
    return 0;
}

int svcalloc_update(const kind_t *k, const json_t *old, json_t *obj, int allocate, int dry_run,
                    svcalloc_plan_t **plan, json_t **err)
{
    const json_t *old_spec = json_object_get(old, "spec");
    json_t *spec = json_object_get(obj, "spec"), *st = NULL;
    const char *name = json_str(json_object_get(obj ? obj : old, "metadata"), "name");
    const char *old_ip, *new_ip;
    uint32_t marks[64];
    size_t nmarks;
    svcalloc_plan_t *p;

    *plan = NULL;
    *err = NULL;
    if (!is_service(k) || (obj && !json_is_object(spec)))
        return 0;
    ensure_ready();
    name = name ? name : "";
    if (!(p = plan_new())) {
        *err = internal("out of memory");
        return -1;
    }
    old_ip = held_ip(old_spec);
    if (obj && needs_cluster_ip(spec)) {
        if (allocate)
            st = init_families(name, spec, old_spec);
        if (!st)
            st = alloc_ip(p, name, spec, old_ip, allocate, dry_run);
    }
    if (!st && obj && needs_node_port(spec)) {
        nmarks = mark_chosen(spec, marks, 64);
        st = update_node_ports(p, name, old_spec, spec, allocate, dry_run);
        unmark(marks, nmarks);
    }
    new_ip = obj ? held_ip(spec) : NULL;
    if (!st && old_ip && (!new_ip || strcmp(old_ip, new_ip)))
        st = release_ip(p, old_ip);
    if (!st)
        st = release_ports(p, old_spec, obj ? spec : NULL);
    if (st) {
        svcalloc_plan_free(p);
        *err = st;
        return -1;
    }
    *plan = plan_finish(p);
    return 0;
}

/* ---- update strategy --------------------------------------------------------------- */

void svcalloc_prepare_update(const kind_t *k, const json_t *old, json_t *obj)
{
    const json_t *os = json_object_get(old, "spec");
    json_t *ns = json_object_get(obj, "spec"), *port, *q;
    size_t i, j;

    if (!is_service(k) || !json_is_object(os) || !json_is_object(ns))
        return;
    /* patchAllocatedValues: what the client left out of an update keeps its value. */
    if (needs_cluster_ip(os) && needs_cluster_ip(ns)) {
        const char *cip = json_str(ns, "clusterIP");
        if ((!cip || !*cip) && json_str(os, "clusterIP"))
            json_object_set(ns, "clusterIP", json_object_get(os, "clusterIP"));
        if (!json_array_size(json_object_get(ns, "clusterIPs")) &&
            json_array_size(json_object_get(os, "clusterIPs")))
            json_object_set_new(ns, "clusterIPs", json_deep_copy(json_object_get(os, "clusterIPs")));
    }
    if (needs_node_port(os) && needs_node_port(ns)) {
        /* By port name; a value the update itself gives another port is left out. */
        json_t *given = json_deep_copy(ns);
        json_array_foreach(json_object_get(ns, "ports"), i, port) {
            if (node_port_of(port))
                continue;
            const char *pname = json_str(port, "name");
            json_array_foreach(json_object_get(os, "ports"), j, q) {
                const char *qname = json_str(q, "name");
                long long onp = node_port_of(q);
                if (strcmp(pname ? pname : "", qname ? qname : ""))
                    continue;
                if (onp && !has_node_port(given, onp))
                    json_object_set_new(port, "nodePort", json_integer(onp));
                break;
            }
        }
        json_decref(given);
    }
    /* normalizeClusterIPs for an update. */
    const char *oip = json_str(os, "clusterIP"), *nip = json_str(ns, "clusterIP");
    oip = oip ? oip : "";
    nip = nip ? nip : "";
    if (json_array_size(json_object_get(os, "clusterIPs")) &&
        !json_array_size(json_object_get(ns, "clusterIPs")) && !strcmp(oip, nip))
        json_object_set_new(ns, "clusterIPs", json_deep_copy(json_object_get(os, "clusterIPs")));
    if (strcmp(oip, nip)) {
        int same = array_or_empty_equal(json_object_get(os, "clusterIPs"),
                                        json_object_get(ns, "clusterIPs"));
        if (*oip && !*nip) {
            if (same)
                json_object_del(ns, "clusterIPs");
        } else if (same) {
            json_object_set_new(ns, "clusterIPs", json_pack("[s]", nip));
        }
    }
    /* dropTypeDependentFields: what the new type does not use and the client did not
     * change goes (it is allocated again when the type comes back). */
    if (needs_cluster_ip(os) && !needs_cluster_ip(ns)) {
        if (array_or_empty_equal(json_object_get(os, "clusterIPs"), json_object_get(ns, "clusterIPs"))) {
            json_object_del(ns, "clusterIP");
            json_object_del(ns, "clusterIPs");
        }
        if (array_or_empty_equal(json_object_get(os, "ipFamilies"), json_object_get(ns, "ipFamilies")))
            json_object_del(ns, "ipFamilies");
        const char *op = json_str(os, "ipFamilyPolicy"), *np = json_str(ns, "ipFamilyPolicy");
        if (!strcmp(op ? op : "", np ? np : ""))
            json_object_del(ns, "ipFamilyPolicy");
    }
    if (needs_node_port(os) && !needs_node_port(ns)) {
        int superset = 1;   /* no net-new node port: the client did not set any */
        json_array_foreach(json_object_get(ns, "ports"), i, port)
            if (node_port_of(port) && !has_node_port(os, node_port_of(port)))
                superset = 0;
        if (superset)
            json_array_foreach(json_object_get(ns, "ports"), i, port)
                json_object_del(port, "nodePort");
    }
}

/* ---- repair ------------------------------------------------------------------------ */

/* Rebuild both tables from the stored Services in one step, as kube's repair controllers
 * do for their bitmaps. A slot two Services claim stays with the first and is reported.
 * KEYS: 1 the Services hash, 2 cluster IP table, 3 node port table.
 * Returns {ip table (flat pairs), port table (flat pairs), {slot, service, holder}...}. */
static const char repair_lua[] =
    "local objs = redis.call('HGETALL', KEYS[1])\n"
    "redis.call('DEL', KEYS[2], KEYS[3])\n"
    "local dup = {}\n"
    "local function take(t, slot, field)\n"
    "  local h = redis.call('HGET', t, slot)\n"
    "  if not h then redis.call('HSET', t, slot, field)\n"
    "  elseif h ~= field then dup[#dup + 1] = slot; dup[#dup + 1] = field; dup[#dup + 1] = h end\n"
    "end\n"
    "for i = 1, #objs, 2 do\n"
    "  local ok, svc = pcall(cjson.decode, objs[i + 1])\n"
    "  local spec = ok and type(svc) == 'table' and svc.spec\n"
    "  if type(spec) == 'table' then\n"
    "    if spec.type ~= 'ExternalName' then\n"
    "      local ip = spec.clusterIP\n"
    "      if type(spec.clusterIPs) == 'table' and type(spec.clusterIPs[1]) == 'string' then\n"
    "        ip = spec.clusterIPs[1] end\n"
    "      if type(ip) == 'string' and ip ~= '' and ip ~= 'None' then take(KEYS[2], ip, objs[i]) end\n"
    "    end\n"
    "    if type(spec.ports) == 'table' then\n"
    "      for _, p in ipairs(spec.ports) do\n"
    "        if type(p) == 'table' and type(p.nodePort) == 'number' and p.nodePort > 0 then\n"
    "          take(KEYS[3], tostring(p.nodePort), objs[i]) end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]), dup}\n";

static void repair_reply(struct redisReply *r, void *priv)
{
    size_t nip = 0, nport = 0;
    uint32_t idx;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        log_error("service allocation repair failed: %s",
                  r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply from Redis");
        return;
    }
    memset(A.ip.bits, 0, A.ip.size / 8 + 1);
    memset(A.port.bits, 0, A.port.size / 8 + 1);
    redisReply *ips = r->element[0], *ports = r->element[1], *dup = r->element[2];
    for (size_t i = 0; ips->type == REDIS_REPLY_ARRAY && i + 1 < ips->elements; i += 2) {
        const char *ip = ips->element[i]->str, *svc = ips->element[i + 1]->str;
        if (ip_index(ip, &idx) == 1) {
            bit_put(&A.ip, idx, 1);
            nip++;
        } else {
            log_warn("the cluster IP %s of service %s is not within the service CIDR %s; "
                     "please recreate the service", ip, svc, A.cidr);
        }
    }
    for (size_t i = 0; ports->type == REDIS_REPLY_ARRAY && i + 1 < ports->elements; i += 2) {
        const char *np = ports->element[i]->str, *svc = ports->element[i + 1]->str;
        if (port_index(strtoll(np, NULL, 10), &idx)) {
            bit_put(&A.port, idx, 1);
            nport++;
        } else {
            log_warn("the node port %s of service %s is not within the port range %s; "
                     "please recreate the service", np, svc, A.ports);
        }
    }
    for (size_t i = 0; dup->type == REDIS_REPLY_ARRAY && i + 2 < dup->elements; i += 3)
        log_warn("%s of service %s was assigned to multiple services (also %s); please "
                 "recreate one", dup->element[i]->str, dup->element[i + 1]->str,
                 dup->element[i + 2]->str);
    log_info("service allocations repaired: %zu cluster IPs in %s, %zu node ports in %s", nip,
             A.cidr, nport, A.ports);
}

void svcalloc_repair(store_t *s)
{
    const kind_t *k = kinds_find("", "v1", "services");
    char okey[512];
    const char *keys[3];
    if (!k)
        return;
    ensure_ready();
    store_key("o", k, okey, sizeof(okey));
    keys[0] = okey;
    keys[1] = TABLE_IPS;
    keys[2] = TABLE_PORTS;
    if (store_eval(s, repair_lua, 3, keys, 0, NULL, repair_reply, NULL) != 0)
        log_warn("service allocation repair: the store is not connected");
}
