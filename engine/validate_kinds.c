/* validate_kinds.c: the kinds without a pod template: Namespace, Service, Endpoints, Node,
 * Event, ConfigMap, Secret and coordination.k8s.io/Lease, with the field paths and messages
 * of k8s.io/kubernetes/pkg/apis/core/validation and coordination/validation; and the apps/v1
 * kinds that reach the pod rules only through val_pod: DaemonSet, StatefulSet and
 * ControllerRevision (pkg/apis/apps/validation).
 *
 * Depends on validate.c's helpers (validate_internal.h). Called from validate.c's table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* asprintf */
#endif
#include "validate_internal.h"
#include "jsonload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

static void check_enum(val_t *v, const json_t *obj, const char *key, const char *const *valid)
{
    const char *s = val_str(v, obj, key);
    if (!s)
        return;
    for (int i = 0; valid[i]; i++)
        if (!strcmp(s, valid[i]))
            return;
    val_not_supported(v, key, s, valid);
}

/* validateKubeFinalizerName: qualified, and unprefixed only for the standard ones. */
static void check_finalizer(val_t *v, const char *child, const char *s)
{
    val_qualified_name(v, child, s);
    if (!strchr(s, '/') && strcmp(s, "kubernetes") && strcmp(s, "orphan") &&
        strcmp(s, "foregroundDeletion"))
        val_invalid_s(v, child, s, "name is neither a standard finalizer name nor is it fully qualified");
}

/* ------------------------------------------------------------------------------------ */
/* Namespace */

void val_namespace(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    size_t mark = val_push(v, "spec");
    const json_t *fins = val_arr(v, spec, "finalizers");
    for (size_t i = 0; fins && i < json_array_size(fins); i++) {
        const json_t *f = json_array_get(fins, i);
        if (!json_is_string(f)) {
            size_t m2 = val_push(v, "finalizers");
            val_push_index(v, i);
            val_type(v, NULL, f, "string");
            val_pop(v, m2);
        } else {
            check_finalizer(v, "finalizers", json_string_value(f));
        }
    }
    val_pop(v, mark);
}

/* ------------------------------------------------------------------------------------ */
/* Service */

/* The first cluster IP, from clusterIPs or the clusterIP the strategy copies into it. */
static const char *first_cluster_ip(const json_t *spec)
{
    const json_t *ips = json_object_get(spec, "clusterIPs");
    if (json_is_array(ips) && json_array_size(ips) > 0 && json_is_string(json_array_get(ips, 0)))
        return json_string_value(json_array_get(ips, 0));
    return val_s(spec, "clusterIP");
}

static void service_port(val_t *v, const json_t *p, int require_name, json_t *names)
{
    const char *name = val_str(v, p, "name");
    long long port = 0;
    if (require_name && (!name || !*name)) {
        val_required(v, "name", "");
    } else if (name && *name) {
        val_dns1123_label(v, "name", name);
        if (json_object_get(names, name))
            val_duplicate_s(v, "name", name);
        else
            json_object_set_new(names, name, json_true());
    }
    if (val_int(v, p, "port", &port) != VAL_BAD)
        val_port_num(v, "port", port);
    check_enum(v, p, "protocol", protocols);
    const json_t *tp = json_object_get(p, "targetPort");
    /* An absent targetPort is defaulted to port. */
    if (json_is_integer(tp))
        val_port_num(v, "targetPort", json_integer_value(tp));
    else if (json_is_string(tp))
        val_port_name(v, "targetPort", json_string_value(tp));
    else if (tp && !json_is_null(tp))
        val_type(v, "targetPort", tp, "integer or string");
    const char *app = val_str(v, p, "appProtocol");
    if (app)
        val_qualified_name(v, "appProtocol", app);
    long long np;
    if (val_int(v, p, "nodePort", &np) == VAL_OK && np != 0)
        val_port_num(v, "nodePort", np);
}

void val_service(val_t *v, const json_t *obj)
{
    static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort", NULL};
    static const char *const affinity[] = {"ClientIP", "None", NULL};
    static const char *const traffic[] = {"Cluster", "Local", NULL};
    static const char *const family_policy[] = {"SingleStack", "PreferDualStack",
                                                "RequireDualStack", NULL};
    const json_t *spec = val_obj(v, obj, "spec");
    size_t mark = val_push(v, "spec");
    const char *given = val_str(v, spec, "type"), *type;
    const char *cip = val_str(v, spec, "clusterIP");
    const json_t *cips = val_arr(v, spec, "clusterIPs");
    const json_t *ports = val_arr(v, spec, "ports");
    size_t nports = ports ? json_array_size(ports) : 0;
    const char *first = first_cluster_ip(spec);
    int headless = !strcmp(first, "None");
    long long n;

    type = given && *given ? given : "ClusterIP";
    if (nports == 0 && !headless && strcmp(type, "ExternalName"))
        val_required(v, "ports", "");
    if (!strcmp(type, "LoadBalancer") || !strcmp(type, "NodePort")) {
        char detail[64];
        snprintf(detail, sizeof detail, "may not be set to 'None' for %s services", type);
        if (headless)
            val_invalid_s(v, "clusterIPs[0]", "None", detail);
        for (size_t i = 0; !strcmp(type, "LoadBalancer") && i < nports; i++) {
            /* Clouds that over-open firewalls would expose the kubelet. */
            if (val_int_quiet(json_array_get(ports, i), "port", &n) && n == 10250) {
                size_t m2 = val_push(v, "ports");
                val_push_index(v, i);
                val_invalid_i(v, NULL, n, "may not expose port 10250 externally since it is used by kubelet");
                val_pop(v, m2);
            }
        }
    } else if (!strcmp(type, "ExternalName")) {
        if ((cip && *cip) || (cips && json_array_size(cips) > 0))
            val_forbidden(v, "clusterIPs", "may not be set for ExternalName services");
        const char *en = val_str(v, spec, "externalName");
        char *cname = strdup(en ? en : "");
        if (cname) {
            size_t len = strlen(cname);
            if (len > 0 && cname[len - 1] == '.')   /* a trailing dot means fully qualified */
                cname[len - 1] = '\0';
            if (*cname)
                val_dns1123_subdomain(v, "externalName", cname);
            else
                val_required(v, "externalName", "");
            free(cname);
        }
    }

    json_t *names = json_object(), *seen_ports = json_object(), *seen_node = json_object();
    size_t m2 = val_push(v, "ports");
    for (size_t i = 0; i < nports; i++) {
        const json_t *p = val_elem_obj(v, ports, i);
        long long port = 0, np = 0;
        char key[64], *rendered = NULL;
        if (!p)
            continue;
        size_t m3 = val_push_index(v, i);
        service_port(v, p, nports > 1, names);
        const char *proto = val_s(p, "protocol");
        proto = *proto ? proto : "TCP";
        if (val_int_quiet(p, "nodePort", &np) && np != 0) {
            if (!strcmp(type, "ClusterIP"))
                val_forbidden(v, "nodePort", "may not be used when `type` is 'ClusterIP'");
            snprintf(key, sizeof key, "%s/%lld", proto, np);
            if (json_object_get(seen_node, key)) {
                char num[32];
                snprintf(num, sizeof num, "%lld", np);
                val_duplicate_r(v, "nodePort", num);
            }
            json_object_set_new(seen_node, key, json_true());
        }
        json_t *pm = json_object_get(p, "port");
        port = json_is_integer(pm) ? json_integer_value(pm) : 0;
        snprintf(key, sizeof key, "%s/%lld", proto, port);
        if (json_object_get(seen_ports, key)) {
            char *q = val_quote(proto);
            if (q && asprintf(&rendered, "core.ServicePort{Name:\"\", Protocol:%s, "
                              "AppProtocol:(*string)(nil), Port:%lld, TargetPort:"
                              "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                              q, port) > 0) {
                val_duplicate_r(v, NULL, rendered);
                free(rendered);
            }
            free(q);
        }
        json_object_set_new(seen_ports, key, json_true());
        val_pop(v, m3);
    }
    val_pop(v, m2);
    json_decref(names);
    json_decref(seen_ports);
    json_decref(seen_node);

    val_labels(v, spec, "selector");
    check_enum(v, spec, "sessionAffinity", affinity);
    if (given) {
        int known = 0;
        for (int i = 0; types[i]; i++)
            known |= !strcmp(given, types[i]);
        if (!known)
            val_not_supported(v, "type", given, types);
    }
    check_enum(v, spec, "externalTrafficPolicy", traffic);
    check_enum(v, spec, "internalTrafficPolicy", traffic);
    check_enum(v, spec, "ipFamilyPolicy", family_policy);

    /* Cluster IPs: "None" only first and alone; the rest must be IPs. */
    if (strcmp(type, "ExternalName")) {
        if (cips && json_array_size(cips) > 0) {
            for (size_t i = 0; i < json_array_size(cips); i++) {
                const json_t *ip = json_array_get(cips, i);
                size_t m3 = val_push(v, "clusterIPs");
                if (!json_is_string(ip)) {
                    val_push_index(v, i);
                    val_type(v, NULL, ip, "string");
                } else if (!strcmp(json_string_value(ip), "None") && i == 0) {
                    if (json_array_size(cips) > 1)
                        val_invalid_j(v, NULL, cips, "'None' must be the first and only value");
                } else {
                    val_push_index(v, i);
                    val_ip(v, NULL, json_string_value(ip));
                }
                val_pop(v, m3);
            }
        } else if (cip && *cip && strcmp(cip, "None")) {
            val_ip(v, "clusterIPs[0]", cip);
        }
    }
    val_pop(v, mark);
}

void val_service_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const json_t *os = json_object_get(old_obj, "spec"), *ns = json_object_get(obj, "spec");
    const char *ot = val_s(os, "type"), *nt = val_s(ns, "type");
    if (!strcmp(ot, "ExternalName") || !strcmp(nt, "ExternalName"))
        return;
    const char *oip = first_cluster_ip(os), *nip = first_cluster_ip(ns);
    /* An empty clusterIP in the update is filled from the stored one by the server. */
    if (*oip && *nip && strcmp(oip, nip)) {
        const json_t *cips = json_object_get(ns, "clusterIPs");
        json_t *shown = json_is_array(cips) ? json_incref((json_t *)cips) : json_pack("[s]", nip);
        char *r = NULL;
        /* Go prints the []string slice: []string{"10.0.0.2"} */
        size_t len = 0;
        FILE *f = open_memstream(&r, &len);
        if (f) {
            fputs("[]string{", f);
            for (size_t i = 0; i < json_array_size(shown); i++) {
                char *q = val_render(json_array_get(shown, i));
                fprintf(f, "%s%s", i ? ", " : "", q ? q : "\"\"");
                free(q);
            }
            fputc('}', f);
            fclose(f);
            val_invalid_r(v, "spec.clusterIPs[0]", r, "may not change once set");
            free(r);
        }
        json_decref(shown);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Endpoints */

/* ValidateNonSpecialIP: endpoints must be reachable addresses. */
static void non_special_ip(val_t *v, const char *child, const char *ip)
{
    unsigned char a[16];
    int family = 0;
    char detail[128];
    if (!val_is_ip(ip, a, &family)) {
        val_invalid_s(v, child, ip, "must be a valid IP address");
        return;
    }
    static const unsigned char zero[16];
    static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    int unspecified = family == 4 ? !memcmp(a, zero, 4) : !memcmp(a, zero, 16);
    int loopback = family == 4 ? a[0] == 127 : !memcmp(a, loop6, 16);
    int linklocal = family == 4 ? (a[0] == 169 && a[1] == 254) : (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
    int llmulti = family == 4 ? (a[0] == 224 && a[1] == 0 && a[2] == 0) : (a[0] == 0xff && (a[1] & 0x0f) == 0x02);
    if (unspecified) {
        snprintf(detail, sizeof detail, "may not be unspecified (%s)", ip);
        val_invalid_s(v, child, ip, detail);
    }
    if (loopback)
        val_invalid_s(v, child, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
    if (linklocal)
        val_invalid_s(v, child, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
    if (llmulti)
        val_invalid_s(v, child, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

static void endpoint_addresses(val_t *v, const json_t *subset, const char *key)
{
    const json_t *addrs = val_arr(v, subset, key);
    size_t mark = val_push(v, key);
    for (size_t i = 0; addrs && i < json_array_size(addrs); i++) {
        const json_t *a = val_elem_obj(v, addrs, i);
        if (!a)
            continue;
        size_t m2 = val_push_index(v, i);
        const char *ip = val_str(v, a, "ip");
        ip = ip ? ip : "";
        val_ip(v, "ip", ip);
        const char *host = val_str(v, a, "hostname");
        if (host && *host)
            val_dns1123_label(v, "hostname", host);
        const char *node = val_str(v, a, "nodeName");
        if (node)
            val_dns1123_subdomain(v, "nodeName", node);
        non_special_ip(v, "ip", ip);
        val_obj(v, a, "targetRef");
        val_pop(v, m2);
    }
    val_pop(v, mark);
}

void val_endpoints(val_t *v, const json_t *obj)
{
    const json_t *subsets = val_arr(v, obj, "subsets");
    size_t mark = val_push(v, "subsets");
    for (size_t i = 0; subsets && i < json_array_size(subsets); i++) {
        const json_t *ss = val_elem_obj(v, subsets, i);
        if (!ss)
            continue;
        size_t m2 = val_push_index(v, i);
        const json_t *ready = json_object_get(ss, "addresses");
        const json_t *notready = json_object_get(ss, "notReadyAddresses");
        if (json_array_size(ready) == 0 && json_array_size(notready) == 0)
            val_required(v, NULL, "must specify `addresses` or `notReadyAddresses`");
        endpoint_addresses(v, ss, "addresses");
        endpoint_addresses(v, ss, "notReadyAddresses");
        const json_t *ports = val_arr(v, ss, "ports");
        size_t m3 = val_push(v, "ports");
        size_t nports = ports ? json_array_size(ports) : 0;
        for (size_t j = 0; j < nports; j++) {
            const json_t *p = val_elem_obj(v, ports, j);
            long long port = 0;
            if (!p)
                continue;
            size_t m4 = val_push_index(v, j);
            const char *name = val_str(v, p, "name");
            if (nports > 1 && (!name || !*name))
                val_required(v, "name", "");
            else if (name && *name)
                val_dns1123_label(v, "name", name);
            if (val_int(v, p, "port", &port) != VAL_BAD)
                val_port_num(v, "port", port);
            check_enum(v, p, "protocol", protocols);
            const char *app = val_str(v, p, "appProtocol");
            if (app)
                val_qualified_name(v, "appProtocol", app);
            val_pop(v, m4);
        }
        val_pop(v, m3);
        val_pop(v, m2);
    }
    val_pop(v, mark);
}

/* ------------------------------------------------------------------------------------ */
/* Node */

/* The podCIDRs list, or the single podCIDR the v1 conversion turns into it. */
static json_t *node_cidrs(const json_t *spec)
{
    const json_t *list = json_object_get(spec, "podCIDRs");
    const json_t *one = json_object_get(spec, "podCIDR");
    if (json_is_array(list) && json_array_size(list) > 0)
        return json_incref((json_t *)list);
    if (json_is_string(one) && json_string_length(one) > 0)
        return json_pack("[O]", (json_t *)one);
    return json_array();
}

void val_node(val_t *v, const json_t *obj)
{
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
    const json_t *spec = val_obj(v, obj, "spec");
    int b;
    size_t mark = val_push(v, "spec");
    val_str(v, spec, "podCIDR");
    val_arr(v, spec, "podCIDRs");
    val_str(v, spec, "providerID");
    val_bool(v, spec, "unschedulable", &b);
    json_t *cidrs = node_cidrs(spec);
    for (size_t i = 0; i < json_array_size(cidrs); i++) {
        const json_t *c = json_array_get(cidrs, i);
        size_t m2 = val_push(v, "podCIDRs");
        val_push_index(v, i);
        if (json_is_string(c))
            val_cidr(v, NULL, json_string_value(c));
        else
            val_type(v, NULL, c, "string");
        val_pop(v, m2);
    }
    json_decref(cidrs);

    const json_t *taints = val_arr(v, spec, "taints");
    json_t *seen = json_object();
    size_t m2 = val_push(v, "taints");
    for (size_t i = 0; taints && i < json_array_size(taints); i++) {
        const json_t *t = val_elem_obj(v, taints, i);
        if (!t)
            continue;
        size_t m3 = val_push_index(v, i);
        const char *key = val_str(v, t, "key"), *value = val_str(v, t, "value");
        const json_t *ej;
        int erc = val_get(v, t, "effect", JSON_STRING, &ej);
        const char *effect = erc == VAL_OK ? json_string_value(ej) : NULL;
        key = key ? key : "";
        val_qualified_name(v, "key", key);
        if (value)
            val_label_value(v, "value", value);
        if (erc != VAL_BAD && (!effect || !*effect)) {
            val_required(v, "effect", "");
        } else if (effect) {
            int known = 0;
            for (int e = 0; effects[e]; e++)
                known |= !strcmp(effect, effects[e]);
            if (!known)
                val_not_supported(v, "effect", effect, effects);
        }
        char *k = NULL;
        if (asprintf(&k, "%s\n%s", key, effect ? effect : "") > 0) {
            if (json_object_get(seen, k)) {
                char *r = val_render(t);
                val_duplicate_r(v, NULL, r);
                /* Kubernetes gives this Duplicate a detail: append it to the message. */
                json_t *last = json_array_get(v->causes, json_array_size(v->causes) - 1);
                if (last) {
                    char *msg = NULL;
                    if (asprintf(&msg, "%s: taints must be unique by key and effect pair",
                                 val_s(last, "message")) > 0) {
                        json_object_set_new(last, "message", json_string(msg));
                        free(msg);
                    }
                }
                free(r);
            }
            json_object_set_new(seen, k, json_true());
            free(k);
        }
        val_pop(v, m3);
    }
    val_pop(v, m2);
    json_decref(seen);
    val_pop(v, mark);
}

void val_node_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const json_t *os = json_object_get(old_obj, "spec"), *ns = json_object_get(obj, "spec");
    json_t *oc = node_cidrs(os), *nc = node_cidrs(ns);
    /* Once assigned, a node's pod CIDRs stay (an empty update keeps them). */
    if (json_array_size(oc) > 0 && json_array_size(nc) > 0 && !json_equal(oc, nc))
        val_forbidden(v, "spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid");
    json_decref(oc);
    json_decref(nc);
    const char *op = val_s(os, "providerID"), *np = val_s(ns, "providerID");
    if (*op && strcmp(op, np))
        val_forbidden(v, "spec.providerID", "node updates may not change providerID except from \"\" to valid");
}

/* ------------------------------------------------------------------------------------ */
/* Event (core/v1: the legacy rules, which are all kube applies to v1 Events) */

void val_event(val_t *v, const json_t *obj)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *ns = val_s(meta, "namespace");
    const json_t *io = val_obj(v, obj, "involvedObject");
    const char *ions = NULL;
    const char *et = val_str(v, obj, "eventTime");
    const char *reason = val_str(v, obj, "reason");
    const char *message = val_str(v, obj, "message");
    long long count;

    if (io) {
        size_t mark = val_push(v, "involvedObject");
        ions = val_str(v, io, "namespace");
        static const char *const keys[] = {"kind", "name", "uid", "apiVersion",
                                           "resourceVersion", "fieldPath", NULL};
        for (int i = 0; keys[i]; i++)
            val_str(v, io, keys[i]);
        val_pop(v, mark);
    }
    ions = ions ? ions : "";
    if (!et || !*et) {
        /* Old-style events: the involved object's namespace is the event's. */
        if (!*ions) {
            if (*ns && strcmp(ns, "default"))
                val_invalid_s(v, "involvedObject.namespace", ions, "does not match event.namespace");
        } else if (strcmp(ns, ions)) {
            val_invalid_s(v, "involvedObject.namespace", ions, "does not match event.namespace");
        }
    } else {
        const char *rc = val_str(v, obj, "reportingComponent");
        const char *ri = val_str(v, obj, "reportingInstance");
        const char *action = val_str(v, obj, "action");
        char detail[64];
        if (!*ions && strcmp(ns, "default") && strcmp(ns, "kube-system"))
            val_invalid_s(v, "involvedObject.namespace", ions, "does not match event.namespace");
        if (!rc || !*rc)
            val_required(v, "reportingComponent", "");
        val_qualified_name(v, "reportingComponent", rc ? rc : "");
        if (!ri || !*ri)
            val_required(v, "reportingInstance", "");
        if (ri && strlen(ri) > 128) {
            snprintf(detail, sizeof detail, "can have at most %d characters", 128);
            val_invalid_s(v, "reportingInstance", "", detail);
        }
        if (!action || !*action)
            val_required(v, "action", "");
        if (action && strlen(action) > 128) {
            snprintf(detail, sizeof detail, "can have at most %d characters", 128);
            val_invalid_s(v, "action", "", detail);
        }
        if (!reason || !*reason)
            val_required(v, "reason", "");
        if (reason && strlen(reason) > 128) {
            snprintf(detail, sizeof detail, "can have at most %d characters", 128);
            val_invalid_s(v, "reason", "", detail);
        }
        if (message && strlen(message) > 1024) {
            snprintf(detail, sizeof detail, "can have at most %d characters", 1024);
            val_invalid_s(v, "message", "", detail);
        }
    }
    if (*ns)
        val_dns1123_subdomain(v, "namespace", ns);
    val_str(v, obj, "type");
    val_str(v, obj, "firstTimestamp");
    val_str(v, obj, "lastTimestamp");
    val_obj(v, obj, "source");
    val_obj(v, obj, "series");
    val_int(v, obj, "count", &count);
}

/* ------------------------------------------------------------------------------------ */
/* ConfigMap and Secret */

#define MAX_SECRET_SIZE (1024 * 1024)

/* Standard base64 as Go's decoder for []byte fields reads it (\r and \n skipped).
 * Returns the decoded length, or -1 with *bad the offending input offset. out may be
 * NULL; else it must hold strlen(s) bytes. */
static long b64_decode(const char *s, unsigned char *out, size_t *bad)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned int acc = 0;
    int bits = 0, quantum = 0, pad = 0;
    long n = 0;
    size_t i;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (quantum < 2) {
                *bad = i;
                return -1;
            }
            pad++;
            quantum++;
            if (quantum == 4) {
                quantum = 0;
                /* padding ends the data */
                for (size_t j = i + 1; s[j]; j++)
                    if (s[j] != '\r' && s[j] != '\n') {
                        *bad = j;
                        return -1;
                    }
                break;
            }
            continue;
        }
        const char *p = strchr(alphabet, c);
        if (!p || !c || pad) {
            *bad = i;
            return -1;
        }
        acc = (acc << 6) | (unsigned int)(p - alphabet);
        bits += 6;
        quantum = (quantum + 1) % 4;
        if (bits >= 8) {
            bits -= 8;
            if (out)
                out[n] = (unsigned char)(acc >> bits);
            n++;
        }
    }
    if (quantum != 0) {
        *bad = i;
        return -1;
    }
    return n;
}

/* Keys of a data map: valid config keys, reported as <field>[key]. */
static void data_keys(val_t *v, const json_t *map, const char *field)
{
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)map, k, val) {
        size_t mark = val_push(v, field);
        val_push_key(v, k);
        val_config_key(v, NULL, k);
        val_pop(v, mark);
    }
}

void val_config_map(val_t *v, const json_t *obj)
{
    const json_t *data = val_str_map(v, obj, "data");
    const json_t *bin = val_str_map(v, obj, "binaryData");
    const char *k;
    json_t *val;
    size_t total = 0;
    int b;
    val_bool(v, obj, "immutable", &b);
    json_object_foreach((json_t *)data, k, val) {
        size_t mark = val_push(v, "data");
        val_push_key(v, k);
        val_config_key(v, NULL, k);
        if (json_object_get(bin, k))
            val_invalid_s(v, NULL, k, "duplicate of key present in binaryData");
        val_pop(v, mark);
        total += json_is_string(val) ? json_string_length(val) : 0;
    }
    data_keys(v, bin, "binaryData");
    json_object_foreach((json_t *)bin, k, val) {
        size_t bad = 0;
        long n;
        if (!json_is_string(val))
            continue;
        n = b64_decode(json_string_value(val), NULL, &bad);
        if (n < 0) {
            char detail[96];
            size_t mark = val_push(v, "binaryData");
            val_push_key(v, k);
            snprintf(detail, sizeof detail, "illegal base64 data at input byte %zu", bad);
            val_invalid_s(v, NULL, "<binary data omitted>", detail);
            val_pop(v, mark);
        } else {
            total += (size_t)n;
        }
    }
    /* Reported against the whole object: the field is "" (we are at the root). */
    if (total > MAX_SECRET_SIZE)
        val_too_long(v, NULL, MAX_SECRET_SIZE);
}

void val_config_map_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const json_t *oi = json_object_get(old_obj, "immutable");
    if (!json_is_true(oi))
        return;
    if (!json_is_true(json_object_get(obj, "immutable")))
        val_forbidden(v, "immutable", "field is immutable when `immutable` is set");
    if (!val_semantic_equal(json_object_get(obj, "data"), json_object_get(old_obj, "data")))
        val_forbidden(v, "data", "field is immutable when `immutable` is set");
    if (!val_semantic_equal(json_object_get(obj, "binaryData"), json_object_get(old_obj, "binaryData")))
        val_forbidden(v, "binaryData", "field is immutable when `immutable` is set");
}

/* A Secret's decoded data: data (base64) with stringData (plain) laid over it, as the API
 * server merges them. Values are JSON strings of the raw bytes. Caller decrefs. */
static json_t *secret_data(const json_t *obj)
{
    json_t *out = json_object();
    const json_t *data = json_object_get(obj, "data");
    const json_t *sd = json_object_get(obj, "stringData");
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)data, k, val) {
        if (!json_is_string(val))
            continue;
        size_t bad, len = json_string_length(val);
        unsigned char *buf = malloc(len + 1);
        long n = buf ? b64_decode(json_string_value(val), buf, &bad) : -1;
        if (n >= 0)
            json_object_set_new(out, k, json_stringn_nocheck((const char *)buf, (size_t)n));
        free(buf);
    }
    json_object_foreach((json_t *)sd, k, val)
        if (json_is_string(val))
            json_object_set(out, k, val);
    return out;
}

static void secret_json_key(val_t *v, const json_t *data, const char *key)
{
    const json_t *val = json_object_get(data, key);
    size_t mark = val_push(v, "data");
    val_push_key(v, key);
    if (!val) {
        val_required(v, NULL, "");
    } else {
        json_error_t err;
        json_t *parsed = jsonload(json_string_value(val), json_string_length(val), 0, &err);
        if (!json_is_object(parsed))
            val_invalid_s(v, NULL, "<secret contents redacted>",
                          parsed ? "json: cannot unmarshal into a map" : err.text);
        json_decref(parsed);
    }
    val_pop(v, mark);
}

static void secret_required_key(val_t *v, const char *key)
{
    size_t mark = val_push(v, "data");
    val_push_key(v, key);
    val_required(v, NULL, "");
    val_pop(v, mark);
}

void val_secret(val_t *v, const json_t *obj)
{
    const json_t *data = val_str_map(v, obj, "data");
    const json_t *sd = val_str_map(v, obj, "stringData");
    const char *type = val_str(v, obj, "type");
    const char *k;
    json_t *val;
    size_t total = 0;
    int b;

    val_bool(v, obj, "immutable", &b);
    json_object_foreach((json_t *)data, k, val) {
        size_t bad = 0;
        long n;
        size_t mark = val_push(v, "data");
        val_push_key(v, k);
        val_config_key(v, NULL, k);
        if (json_is_string(val)) {
            n = b64_decode(json_string_value(val), NULL, &bad);
            if (n < 0) {
                char detail[96];
                snprintf(detail, sizeof detail, "illegal base64 data at input byte %zu", bad);
                val_invalid_s(v, NULL, "<secret contents redacted>", detail);
            } else if (!json_object_get(sd, k)) {
                total += (size_t)n;
            }
        }
        val_pop(v, mark);
    }
    json_object_foreach((json_t *)sd, k, val) {
        size_t mark = val_push(v, "data");
        val_push_key(v, k);
        if (!json_object_get(data, k))
            val_config_key(v, NULL, k);
        val_pop(v, mark);
        total += json_is_string(val) ? json_string_length(val) : 0;
    }
    if (total > MAX_SECRET_SIZE)
        val_too_long(v, "data", MAX_SECRET_SIZE);

    json_t *merged = secret_data(obj);
    type = type ? type : "";
    if (!strcmp(type, "kubernetes.io/service-account-token")) {
        const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
        if (!*val_s(ann, "kubernetes.io/service-account.name"))
            val_required(v, "metadata.annotations[kubernetes.io/service-account.name]", "");
    } else if (!strcmp(type, "kubernetes.io/dockercfg")) {
        secret_json_key(v, merged, ".dockercfg");
    } else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
        secret_json_key(v, merged, ".dockerconfigjson");
    } else if (!strcmp(type, "kubernetes.io/basic-auth")) {
        if (!json_object_get(merged, "username") && !json_object_get(merged, "password")) {
            secret_required_key(v, "username");
            secret_required_key(v, "password");
        }
    } else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
        const json_t *key = json_object_get(merged, "ssh-privatekey");
        if (!key || json_string_length(key) == 0)
            secret_required_key(v, "ssh-privatekey");
    } else if (!strcmp(type, "kubernetes.io/tls")) {
        if (!json_object_get(merged, "tls.crt"))
            secret_required_key(v, "tls.crt");
        if (!json_object_get(merged, "tls.key"))
            secret_required_key(v, "tls.key");
    }
    json_decref(merged);
}

void val_secret_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const char *ot = val_s(old_obj, "type"), *nt = val_s(obj, "type");
    /* An absent type is defaulted to Opaque. */
    ot = *ot ? ot : "Opaque";
    nt = *nt ? nt : "Opaque";
    if (strcmp(ot, nt))
        val_invalid_s(v, "type", nt, "field is immutable");
    if (!json_is_true(json_object_get(old_obj, "immutable")))
        return;
    if (!json_is_true(json_object_get(obj, "immutable")))
        val_forbidden(v, "immutable", "field is immutable when `immutable` is set");
    json_t *od = secret_data(old_obj), *nd = secret_data(obj);
    if (!json_equal(od, nd))
        val_forbidden(v, "data", "field is immutable when `immutable` is set");
    json_decref(od);
    json_decref(nd);
}

/* ------------------------------------------------------------------------------------ */
/* Lease */

/* metav1.MicroTime: RFC 3339, optional fraction, Z or an offset. */
static int is_rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return 0;
    }
    if (s[i] == '.') {
        i++;
        if (!(s[i] >= '0' && s[i] <= '9'))
            return 0;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (s[i] == 'Z')
        return s[i + 1] == '\0';
    if (s[i] == '+' || s[i] == '-') {
        const char *o = s + i + 1;
        return o[0] >= '0' && o[0] <= '9' && o[1] >= '0' && o[1] <= '9' && o[2] == ':' &&
               o[3] >= '0' && o[3] <= '9' && o[4] >= '0' && o[4] <= '9' && o[5] == '\0';
    }
    return 0;
}

void val_lease(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    static const char *const times[] = {"acquireTime", "renewTime", NULL};
    long long n;
    size_t mark = val_push(v, "spec");
    val_str(v, spec, "holderIdentity");
    if (val_int(v, spec, "leaseDurationSeconds", &n) == VAL_OK && n <= 0)
        val_invalid_i(v, "leaseDurationSeconds", n, "must be greater than 0");
    if (val_int(v, spec, "leaseTransitions", &n) == VAL_OK && n < 0)
        val_invalid_i(v, "leaseTransitions", n, "must be greater than or equal to 0");
    for (int i = 0; times[i]; i++) {
        const char *t = val_str(v, spec, times[i]);
        if (t && !is_rfc3339(t))
            val_invalid_s(v, times[i], t, "must be an RFC 3339 time, e.g. \"2006-01-02T15:04:05.000000Z\"");
    }
    static const char *const strategies[] = {"OldestEmulationVersion", NULL};
    check_enum(v, spec, "strategy", strategies);
    val_str(v, spec, "preferredHolder");
    val_pop(v, mark);
}

/* ------------------------------------------------------------------------------------ */
/* apps/v1 DaemonSet, StatefulSet, ControllerRevision (pkg/apis/apps/validation) */

/* Go's %#v of an intstr.IntOrString, as field.Invalid renders one (the type's String()
 * has a pointer receiver, so the value prints as a struct). Caller frees. */
static char *render_intstr(const json_t *m)
{
    char *r = NULL;
    if (json_is_string(m)) {
        char *q = val_quote(json_string_value(m));
        if (q && asprintf(&r, "intstr.IntOrString{Type:1, IntVal:0, StrVal:%s}", q) < 0)
            r = NULL;
        free(q);
    } else if (asprintf(&r, "intstr.IntOrString{Type:0, IntVal:%lld, StrVal:\"\"}",
                        json_is_integer(m) ? (long long)json_integer_value(m) : 0LL) < 0) {
        r = NULL;
    }
    return r;
}

/* validation.IsValidPercent: digits then '%'. */
static int is_percent(const char *s)
{
    size_t n = strlen(s), d = 0;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    return d > 0 && d + 1 == n && s[n - 1] == '%';
}

/* ValidatePositiveIntOrPercent and IsNotMoreThan100Percent for obj[key]; returns
 * getIntOrPercentValue (0 when absent or not a number). */
static long long int_or_percent(val_t *v, const json_t *obj, const char *key)
{
    const json_t *m = json_object_get(obj, key);
    if (!m || json_is_null(m))
        return 0;
    if (json_is_integer(m)) {
        long long n = json_integer_value(m);
        if (n < 0)
            val_invalid_i(v, key, n, "must be greater than or equal to 0");
        return n;
    }
    if (!json_is_string(m)) {
        val_type(v, key, m, "integer or string");
        return 0;
    }
    const char *s = json_string_value(m);
    char *r = render_intstr(m);
    long long n = 0;
    if (!is_percent(s)) {
        val_invalid_r(v, key, r ? r : s, "a valid percent string must be a numeric string "
                      "followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
                      "validation is '[0-9]+%')");
        n = strtoll(s, NULL, 10);   /* IntValue(): Atoi of the whole string, 0 on error */
        if (*s == '\0' || strspn(s + (*s == '-' || *s == '+'), "0123456789") !=
                              strlen(s + (*s == '-' || *s == '+')))
            n = 0;
    } else {
        n = strtoll(s, NULL, 10);
        if (n > 100)
            val_invalid_r(v, key, r ? r : s, "must not be greater than 100%");
    }
    free(r);
    return n;
}

static const json_t *tmpl_labels(const json_t *spec)
{
    const json_t *l = json_object_get(json_object_get(json_object_get(spec, "template"),
                                                      "metadata"), "labels");
    return json_is_object(l) ? l : NULL;
}

static int selector_empty(const json_t *sel)
{
    return json_object_size(json_object_get(sel, "matchLabels")) +
           json_array_size(json_object_get(sel, "matchExpressions")) == 0;
}

static void template_mismatch(val_t *v, const json_t *spec)
{
    char *r = val_render_labels(tmpl_labels(spec));
    val_invalid_r(v, "template.metadata.labels", r, "`selector` does not match template `labels`");
    free(r);
}

/* The template rules both workloads add: restartPolicy Always (the DaemonSet's comes with
 * val_pod_template), no activeDeadlineSeconds. */
static void template_restart_deadline(val_t *v, const json_t *spec, const char *kind,
                                      int check_restart)
{
    static const char *const always[] = {"Always", NULL};
    const json_t *pspec = json_object_get(json_object_get(spec, "template"), "spec");
    const json_t *rp = json_object_get(pspec, "restartPolicy");
    /* Absent reads as Always: kube defaults it even into a template the client left out. */
    if (check_restart && json_is_string(rp) && strcmp(json_string_value(rp), "Always"))
        val_not_supported(v, "template.spec.restartPolicy", json_string_value(rp), always);
    const json_t *ads = json_object_get(pspec, "activeDeadlineSeconds");
    if (ads && !json_is_null(ads)) {
        char detail[96];
        snprintf(detail, sizeof detail, "activeDeadlineSeconds in %s is not Supported", kind);
        val_forbidden(v, "template.spec.activeDeadlineSeconds", detail);
    }
}

/* ValidateDaemonSetUpdateStrategy at spec.updateStrategy. */
static void daemonset_strategy(val_t *v, const json_t *spec)
{
    static const char *const types[] = {"RollingUpdate", "OnDelete", NULL};
    const json_t *strat = val_obj(v, spec, "updateStrategy");
    size_t mark = val_push(v, "updateStrategy");
    const char *type = strat ? val_str(v, strat, "type") : NULL;
    const json_t *ru = strat ? val_obj(v, strat, "rollingUpdate") : NULL;
    if (type && !strcmp(type, "OnDelete")) {
        /* nothing more */
    } else if (type && !strcmp(type, "RollingUpdate")) {
        if (!ru) {
            val_required(v, "rollingUpdate", "");
        } else {
            size_t m2 = val_push(v, "rollingUpdate");
            long long mu = int_or_percent(v, ru, "maxUnavailable");
            long long ms = int_or_percent(v, ru, "maxSurge");
            if (mu != 0 && ms != 0) {
                char *r = render_intstr(json_object_get(ru, "maxSurge"));
                val_invalid_r(v, "maxSurge", r ? r : "", "may not be set when maxUnavailable is non-zero");
                free(r);
            } else if (mu == 0 && ms == 0) {
                val_required(v, "maxUnavailable", "cannot be 0 when maxSurge is 0");
            }
            val_pop(v, m2);
        }
    } else if (strat || json_object_get(spec, "updateStrategy") == NULL) {
        char *q = val_quote(type ? type : ""), *r = NULL;
        if (q && asprintf(&r, "apps.DaemonSetUpdateStrategy{Type:%s, RollingUpdate:%s}", q,
                          ru ? "&apps.RollingUpdateDaemonSet{...}"
                             : "(*apps.RollingUpdateDaemonSet)(nil)") > 0) {
            val_not_supported_r(v, NULL, r, types);
            free(r);
        }
        free(q);
    }
    val_pop(v, mark);
}

/* ValidateDaemonSetSpec (kube 1.31). A missing selector is not "Required" here: it selects
 * nothing, so the template labels fail to match, which is what kube reports. */
void val_daemon_set(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    long long n;
    size_t mark = val_push(v, "spec");
    const json_t *sel = json_object_get(spec, "selector");
    int sel_ok = val_label_selector(v, spec, "selector");   /* reports a wrong type */
    int sel_bad_type = sel && !json_is_null(sel) && !json_is_object(sel);
    sel = json_is_object(sel) ? sel : NULL;
    if (sel_ok && !sel_bad_type && (!sel || !val_selector_matches(sel, tmpl_labels(spec))))
        template_mismatch(v, spec);
    if (sel && selector_empty(sel))
        val_invalid_j(v, "selector", sel, "empty selector is invalid for daemonset");
    val_pod_template(v, spec, 0);
    template_restart_deadline(v, spec, "DaemonSet", 0);
    val_nonnegative(v, spec, "minReadySeconds");
    val_nonnegative(v, spec, "templateGeneration");
    daemonset_strategy(v, spec);
    if (val_int(v, spec, "revisionHistoryLimit", &n) == VAL_OK && n < 0)
        val_invalid_i(v, "revisionHistoryLimit", n, "must be greater than or equal to 0");
    val_pop(v, mark);
}

/* The REST strategy's check: spec.selector never changes. */
void val_daemon_set_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    val_selector_immutable(v, old_obj, obj);
}

/* berth has no PersistentVolumes nor a provisioner, so a claim template could never be
 * bound and the pods would wait forever: refuse it plainly instead. */
#define STS_NO_PVC "berth has no persistent volume support yet; use emptyDir or hostPath volumes"

/* ValidateStatefulSetSpec (kube 1.31). As kube, the template's pod spec is not validated
 * here (only its labels, annotations, restartPolicy and activeDeadlineSeconds): the
 * controller's pod creation reports anything else. */
void val_stateful_set(val_t *v, const json_t *obj)
{
    static const char *const retention[] = {"Retain", "Delete", NULL};
    const json_t *spec = val_obj(v, obj, "spec");
    long long n;
    size_t mark = val_push(v, "spec");

    const char *pmp = val_str(v, spec, "podManagementPolicy");
    if (!pmp || !*pmp)
        val_required(v, "podManagementPolicy", "");
    else if (strcmp(pmp, "OrderedReady") && strcmp(pmp, "Parallel"))
        val_invalid_s(v, "podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'");

    const json_t *strat = val_obj(v, spec, "updateStrategy");
    const char *type = strat ? val_str(v, strat, "type") : NULL;
    const json_t *ru = strat ? val_obj(v, strat, "rollingUpdate") : NULL;
    if (!type || !*type) {
        val_required(v, "updateStrategy", "");
    } else if (!strcmp(type, "OnDelete")) {
        if (ru) {
            char *r = NULL;
            long long part = 0;
            val_int_quiet(ru, "partition", &part);
            if (asprintf(&r, "apps.RollingUpdateStatefulSetStrategy{Partition:%lld, "
                             "MaxUnavailable:(*intstr.IntOrString)(nil)}", part) > 0) {
                val_invalid_r(v, "updateStrategy.rollingUpdate", r,
                              "only allowed for updateStrategy 'RollingUpdate'");
                free(r);
            }
        }
    } else if (!strcmp(type, "RollingUpdate")) {
        if (ru) {
            size_t m2 = val_push(v, "updateStrategy");
            size_t m3 = val_push(v, "rollingUpdate");
            val_nonnegative(v, ru, "partition");
            val_pop(v, m3);
            val_pop(v, m2);
        }
    } else {
        char *q = val_quote(type), *r = NULL;
        if (q && asprintf(&r, "apps.StatefulSetUpdateStrategy{Type:%s, RollingUpdate:%s}", q,
                          ru ? "&apps.RollingUpdateStatefulSetStrategy{...}"
                             : "(*apps.RollingUpdateStatefulSetStrategy)(nil)") > 0) {
            val_invalid_r(v, "updateStrategy", r, "must be 'RollingUpdate' or 'OnDelete'");
            free(r);
        }
        free(q);
    }

    const json_t *pol = val_obj(v, spec, "persistentVolumeClaimRetentionPolicy");
    if (pol) {
        size_t m2 = val_push(v, "persistentVolumeClaimRetentionPolicy");
        static const char *const keys[] = {"whenDeleted", "whenScaled", NULL};
        for (int i = 0; keys[i]; i++) {
            const char *p = val_str(v, pol, keys[i]);
            if (!p)
                p = "";
            if (strcmp(p, "Retain") && strcmp(p, "Delete"))
                val_not_supported(v, keys[i], p, retention);
        }
        val_pop(v, m2);
    }

    val_nonnegative(v, spec, "replicas");
    val_nonnegative(v, spec, "minReadySeconds");
    const json_t *ord = val_obj(v, spec, "ordinals");
    if (ord) {
        size_t m2 = val_push(v, "ordinals");
        val_nonnegative(v, ord, "start");
        val_pop(v, m2);
    }

    const json_t *sel;
    int rc = val_get(v, spec, "selector", JSON_OBJECT, &sel);
    int sel_ok = 1;
    if (rc == VAL_ABSENT) {
        val_required(v, "selector", "");
    } else if (rc == VAL_OK) {
        sel_ok = val_label_selector(v, spec, "selector");
        if (selector_empty(sel))
            val_invalid_j(v, "selector", sel, "empty selector is invalid for statefulset");
    }
    if (rc == VAL_OK && !sel_ok) {
        char *r = val_render_selector(sel);
        val_invalid_r(v, "selector", r, "");
        free(r);
    } else if (rc != VAL_BAD) {
        /* ValidatePodTemplateSpecForStatefulSet: an empty selector (Everything) skips the
         * match; a missing one (Nothing) fails it. */
        const json_t *tmpl;
        if (val_get(v, spec, "template", JSON_OBJECT, &tmpl) != VAL_BAD) {
            if ((!sel || !selector_empty(sel)) &&
                (!sel || !val_selector_matches(sel, tmpl_labels(spec))))
                template_mismatch(v, spec);
            size_t m2 = val_push(v, "template");
            const json_t *meta = val_obj(v, tmpl, "metadata");
            val_labels(v, meta, "labels");
            val_annotations(v, meta, "annotations");
            val_pop(v, m2);
        }
    }
    template_restart_deadline(v, spec, "StatefulSet", 1);
    if (val_int(v, spec, "revisionHistoryLimit", &n) == VAL_OK && n < 0)
        val_invalid_i(v, "revisionHistoryLimit", n, "must be greater than or equal to 0");

    const json_t *vct = val_arr(v, spec, "volumeClaimTemplates");
    if (vct && json_array_size(vct) > 0)
        val_forbidden(v, "volumeClaimTemplates", STS_NO_PVC);
    val_pop(v, mark);
}

/* ValidateStatefulSetUpdate (kube 1.31): only replicas, ordinals, template, updateStrategy,
 * persistentVolumeClaimRetentionPolicy and minReadySeconds may change. */
void val_stateful_set_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    static const char *const mutable_keys[] = {"replicas", "ordinals", "template",
                                               "updateStrategy", "minReadySeconds",
                                               "persistentVolumeClaimRetentionPolicy", NULL};
    const json_t *ns = json_object_get(obj, "spec"), *os = json_object_get(old_obj, "spec");
    json_t *a = json_is_object(ns) ? json_copy((json_t *)ns) : json_object();
    json_t *b = json_is_object(os) ? json_copy((json_t *)os) : json_object();
    if (!a || !b) {
        json_decref(a);
        json_decref(b);
        return;
    }
    for (int i = 0; mutable_keys[i]; i++) {
        json_object_del(a, mutable_keys[i]);
        json_object_del(b, mutable_keys[i]);
    }
    if (!val_semantic_equal(a, b))
        val_forbidden(v, "spec", "updates to statefulset spec for fields other than 'replicas', "
                      "'ordinals', 'template', 'updateStrategy', "
                      "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden");
    json_decref(a);
    json_decref(b);
}

/* ValidateControllerRevision: data is required, revision non-negative. */
void val_controller_revision(val_t *v, const json_t *obj)
{
    const json_t *data = json_object_get(obj, "data");
    if (!data || json_is_null(data))
        val_required(v, "data", "data is mandatory");
    val_nonnegative(v, obj, "revision");
}

/* ValidateControllerRevisionUpdate: data never changes (revision may: a rollback to an
 * old revision renumbers it). */
void val_controller_revision_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    val_immutable(v, "data", json_object_get(obj, "data"), json_object_get(old_obj, "data"));
}
