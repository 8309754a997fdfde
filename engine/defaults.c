/* defaults.c: see defaults.h. Only the defaults that clients and controllers rely on are
 * set; everything else is left as the client sent it. */
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

void defaults_prepare_create(const kind_t *k, json_t *obj)
{
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
