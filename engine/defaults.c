/* defaults.c: see defaults.h. Only the defaults that clients and controllers rely on are
 * set; everything else is left as the client sent it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "util.h"

static void set_default_str(json_t *obj, const char *key, const char *value)
{
    if (json_is_object(obj) && !json_is_string(json_object_get(obj, key)))
        json_object_set_new(obj, key, json_string(value));
}

static void set_default_int(json_t *obj, const char *key, json_int_t value)
{
    if (json_is_object(obj) && !json_is_integer(json_object_get(obj, key)))
        json_object_set_new(obj, key, json_integer(value));
}

/* imagePullPolicy: Always for ":latest" or untagged images, IfNotPresent otherwise. */
static const char *pull_policy_for(const char *image)
{
    const char *slash = strrchr(image, '/'), *colon, *at = strchr(image, '@');
    if (at)
        return "IfNotPresent";
    colon = strrchr(slash ? slash : image, ':');
    if (!colon || !strcmp(colon, ":latest"))
        return "Always";
    return "IfNotPresent";
}

/* A probe's defaults (SetDefaults_Probe, SetDefaults_HTTPGetAction). */
static void default_probe(json_t *probe)
{
    json_t *http;
    if (!json_is_object(probe))
        return;
    set_default_int(probe, "timeoutSeconds", 1);
    set_default_int(probe, "periodSeconds", 10);
    set_default_int(probe, "successThreshold", 1);
    set_default_int(probe, "failureThreshold", 3);
    if (json_is_object(http = json_object_get(probe, "httpGet"))) {
        set_default_str(http, "path", "/");
        set_default_str(http, "scheme", "HTTP");
    }
}

static void default_containers(json_t *list)
{
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(list, i, c) {
        if (!json_is_object(c))
            continue;
        const char *image = json_str(c, "image");
        if (image)
            set_default_str(c, "imagePullPolicy", pull_policy_for(image));
        set_default_str(c, "terminationMessagePath", "/dev/termination-log");
        set_default_str(c, "terminationMessagePolicy", "File");
        json_array_foreach(json_object_get(c, "ports"), j, p)
            set_default_str(p, "protocol", "TCP");
        default_probe(json_object_get(c, "livenessProbe"));
        default_probe(json_object_get(c, "readinessProbe"));
        default_probe(json_object_get(c, "startupProbe"));
    }
}

static void default_pod_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    default_containers(json_object_get(spec, "containers"));
    default_containers(json_object_get(spec, "initContainers"));
    set_default_str(spec, "restartPolicy", "Always");
    set_default_int(spec, "terminationGracePeriodSeconds", 30);
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "schedulerName", "default-scheduler");
    if (!json_is_object(json_object_get(spec, "securityContext")))
        json_object_set_new(spec, "securityContext", json_object());
}

static void default_template(json_t *spec)
{
    default_pod_spec(json_path(spec, "template.spec"));
}

/* selector from template labels for ReplicationControllers, as kube does. */
static void default_rc(json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec))
        return;
    json_t *labels = json_path(spec, "template.metadata.labels");
    if (!json_is_object(json_object_get(spec, "selector")) && json_is_object(labels))
        json_object_set_new(spec, "selector", json_deep_copy(labels));
    json_t *md = json_object_get(obj, "metadata");
    if (json_is_object(md) && !json_is_object(json_object_get(md, "labels")) && json_is_object(labels))
        json_object_set_new(md, "labels", json_deep_copy(labels));
    set_default_int(spec, "replicas", 1);
    default_template(spec);
}

static void default_deployment(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    set_default_int(spec, "replicas", 1);
    set_default_int(spec, "revisionHistoryLimit", 10);
    set_default_int(spec, "progressDeadlineSeconds", 600);
    json_t *strategy = json_object_get(spec, "strategy");
    if (!json_is_object(strategy)) {
        strategy = json_object();
        json_object_set_new(spec, "strategy", strategy);
    }
    set_default_str(strategy, "type", "RollingUpdate");
    if (!strcmp(json_str(strategy, "type"), "RollingUpdate")) {
        json_t *ru = json_obj_ensure(strategy, "rollingUpdate");
        if (!json_object_get(ru, "maxSurge"))
            json_object_set_new(ru, "maxSurge", json_string("25%"));
        if (!json_object_get(ru, "maxUnavailable"))
            json_object_set_new(ru, "maxUnavailable", json_string("25%"));
    }
    default_template(spec);
}

/* obj[key] as an object to default into: made when absent or null, NULL when it holds
 * something else (left for validation to report). */
static json_t *member_obj(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return json_is_object(v) ? v : NULL;
}

/* obj[key] = value when absent or null; a value of another type stays for validation. */
static void default_absent_int(json_t *obj, const char *key, json_int_t value)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        json_object_set_new(obj, key, json_integer(value));
}

static int str_is(const json_t *obj, const char *key, const char *want)
{
    const char *s = json_str(obj, key);
    return s && !strcmp(s, want);
}

/* SetDefaults_DaemonSet: a RollingUpdate strategy moving one node at a time. */
static void default_daemonset(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    json_t *strategy = member_obj(spec, "updateStrategy");
    if (strategy) {
        if (!json_str(strategy, "type") || !*json_str(strategy, "type"))
            json_object_set_new(strategy, "type", json_string("RollingUpdate"));
        json_t *ru = str_is(strategy, "type", "RollingUpdate") ? member_obj(strategy, "rollingUpdate")
                                                               : NULL;
        if (ru && !json_object_get(ru, "maxUnavailable"))
            json_object_set_new(ru, "maxUnavailable", json_integer(1));
        if (ru && !json_object_get(ru, "maxSurge"))
            json_object_set_new(ru, "maxSurge", json_integer(0));
    }
    default_absent_int(spec, "revisionHistoryLimit", 10);
    default_template(spec);
}

/* SetDefaults_StatefulSet (with StatefulSetAutoDeletePVC on, as in 1.31). As kube does, a
 * partition is defaulted only into a rollingUpdate that is there: one the client sent, or
 * the empty one made when the strategy type itself was defaulted. */
static void default_statefulset(json_t *spec)
{
    size_t i;
    json_t *pvc;
    if (!json_is_object(spec))
        return;
    if (!json_str(spec, "podManagementPolicy") || !*json_str(spec, "podManagementPolicy"))
        json_object_set_new(spec, "podManagementPolicy", json_string("OrderedReady"));
    json_t *strategy = member_obj(spec, "updateStrategy");
    if (strategy && (!json_str(strategy, "type") || !*json_str(strategy, "type"))) {
        json_object_set_new(strategy, "type", json_string("RollingUpdate"));
        member_obj(strategy, "rollingUpdate");
    }
    json_t *ru = json_object_get(strategy, "rollingUpdate");
    if (str_is(strategy, "type", "RollingUpdate") && json_is_object(ru))
        default_absent_int(ru, "partition", 0);
    json_t *policy = member_obj(spec, "persistentVolumeClaimRetentionPolicy");
    static const char *const when[] = {"whenDeleted", "whenScaled"};
    for (int w = 0; policy && w < 2; w++) {
        const json_t *cur = json_object_get(policy, when[w]);
        if (!cur || json_is_null(cur) || (json_is_string(cur) && !json_string_length(cur)))
            json_object_set_new(policy, when[w], json_string("Retain"));
    }
    default_absent_int(spec, "replicas", 1);
    default_absent_int(spec, "revisionHistoryLimit", 10);
    json_array_foreach(json_object_get(spec, "volumeClaimTemplates"), i, pvc)
        set_default_str(json_object_get(pvc, "spec"), "volumeMode", "Filesystem");
    default_template(spec);
}

static void default_service(json_t *spec)
{
    size_t i;
    json_t *p;
    if (!json_is_object(spec))
        return;
    set_default_str(spec, "type", "ClusterIP");
    set_default_str(spec, "sessionAffinity", "None");
    json_array_foreach(json_object_get(spec, "ports"), i, p) {
        if (!json_is_object(p))
            continue;
        set_default_str(p, "protocol", "TCP");
        if (!json_object_get(p, "targetPort") && json_is_integer(json_object_get(p, "port")))
            json_object_set(p, "targetPort", json_object_get(p, "port"));
    }
}

void defaults_apply(const kind_t *k, json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec");
    if (*k->group == '\0') {
        if (!strcmp(k->kind, "Pod"))
            default_pod_spec(spec);
        else if (!strcmp(k->kind, "Service"))
            default_service(spec);
        else if (!strcmp(k->kind, "ReplicationController"))
            default_rc(obj);
        else if (!strcmp(k->kind, "Secret"))
            set_default_str(obj, "type", "Opaque");
    } else if (!strcmp(k->group, "apps")) {
        if (!strcmp(k->kind, "Deployment"))
            default_deployment(spec);
        else if (!strcmp(k->kind, "ReplicaSet")) {
            set_default_int(spec, "replicas", 1);
            default_template(spec);
        }
        else if (!strcmp(k->kind, "DaemonSet"))
            default_daemonset(spec);
        else if (!strcmp(k->kind, "StatefulSet"))
            default_statefulset(spec);
    }
}

/* The QoS class kube derives from requests and limits. */
static const char *pod_qos(const json_t *spec)
{
    size_t i;
    json_t *c;
    int any = 0, guaranteed = 1;
    json_array_foreach(json_object_get(spec, "containers"), i, c) {
        json_t *req = json_path(c, "resources.requests"), *lim = json_path(c, "resources.limits");
        if (json_object_size(req) || json_object_size(lim))
            any = 1;
        for (int r = 0; r < 2; r++) {
            const char *res = r ? "memory" : "cpu";
            const char *l = json_str(lim, res), *q = json_str(req, res);
            if (!l || (q && strcmp(l, q)))
                guaranteed = 0;
        }
    }
    if (!any)
        return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
}

#define DS_TEMPLATE_GENERATION "deprecated.daemonset.template.generation"

static int is_daemonset(const kind_t *k)
{
    return !strcmp(k->group, "apps") && !strcmp(k->kind, "DaemonSet");
}

/* kube keeps a DaemonSet's spec.templateGeneration (1 at creation, +1 whenever the pod
 * template changes) in this annotation of apps/v1; the controller labels pods with it
 * (pod-template-generation). */
static void set_template_generation(json_t *obj, json_int_t gen)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)gen);
    json_object_set_new(json_obj_ensure(json_obj_ensure(obj, "metadata"), "annotations"),
                        DS_TEMPLATE_GENERATION, json_string(buf));
}

void defaults_prepare_update(const kind_t *k, const json_t *cur, json_t *obj)
{
    if (!is_daemonset(k))
        return;
    const char *old = json_str(json_path(cur, "metadata.annotations"), DS_TEMPLATE_GENERATION);
    json_int_t gen = old ? (json_int_t)strtoll(old, NULL, 10) : 0;
    if (gen <= 0)
        gen = 1;
    if (!json_equal(json_path(cur, "spec.template"), json_path(obj, "spec.template")))
        gen++;
    set_template_generation(obj, gen);
}

void defaults_prepare_create(const kind_t *k, json_t *obj)
{
    if (is_daemonset(k))
        set_template_generation(obj, 1);
    if (!(k->subresources & KIND_SUB_STATUS))
        return;
    if (*k->group == '\0' && !strcmp(k->kind, "Node"))
        return;   /* the node agent registers its node with a status */
    if (*k->group == '\0' && !strcmp(k->kind, "Pod")) {
        json_object_set_new(obj, "status", json_pack("{s:s,s:s}", "phase", "Pending", "qosClass",
                                                     pod_qos(json_object_get(obj, "spec"))));
        return;
    }
    if (*k->group == '\0' && !strcmp(k->kind, "Namespace")) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *spec = json_obj_ensure(obj, "spec");
        json_t *fin = json_object_get(spec, "finalizers");
        if (!json_is_array(fin)) {
            fin = json_array();
            json_object_set_new(spec, "finalizers", fin);
        }
        size_t i;
        json_t *f;
        int has = 0;
        json_array_foreach(fin, i, f)
            if (json_is_string(f) && !strcmp(json_string_value(f), "kubernetes"))
                has = 1;
        if (!has)
            json_array_append_new(fin, json_string("kubernetes"));
        return;
    }
    json_object_set_new(obj, "status", json_object());
}
