/* validate_pod.c: Pod specs, pod templates, and the workloads that carry a template
 * (ReplicationController, apps/ReplicaSet, apps/Deployment), with the same field paths
 * and messages as k8s.io/kubernetes/pkg/apis/core/validation and apps/validation.
 *
 * Values the API server would default before validating (restartPolicy, dnsPolicy, a
 * port's protocol, a Deployment's strategy) are accepted when absent, so an object
 * validates the same whether or not defaults were applied first. A volume with no source
 * is the exception: kube defaults it to emptyDir, and without that it is an error.
 *
 * Depends on validate.c's helpers (validate_internal.h). Called from validate.c's table. */
#include "validate_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_POD, MODE_TEMPLATE };

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

/* ------------------------------------------------------------------------------------ */
/* Small shared pieces */

/* A string member checked against a list of values; absent is fine (it is defaulted). */
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

/* An IntOrString port (probe handlers, targetPort): a number or an IANA service name. */
static void check_port_num_or_name(val_t *v, const json_t *obj, const char *key)
{
    const json_t *m = json_object_get(obj, key);
    if (!m || json_is_null(m) || json_is_integer(m))
        val_port_num(v, key, json_is_integer(m) ? (long long)json_integer_value(m) : 0);
    else if (json_is_string(m))
        val_port_name(v, key, json_string_value(m));
    else
        val_type(v, key, m, "integer or string");
}

static void check_env_name(val_t *v, const char *child, const char *s)
{
    int good = s[0] != '\0' && !(s[0] >= '0' && s[0] <= '9');
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            good = 0;
    }
    if (!good)
        val_invalid_s(v, child, s, "a valid environment variable name must consist of "
                      "alphabetic characters, digits, '_', '-', or '.', and must not start "
                      "with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', "
                      "regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')");
    if (!strcmp(s, "."))
        val_invalid_s(v, child, s, "must not be '.'");
    else if (!strcmp(s, ".."))
        val_invalid_s(v, child, s, "must not be '..'");
    else if (!strncmp(s, "..", 2))
        val_invalid_s(v, child, s, "must not start with '..'");
}

/* A required name member: Required when empty, else the given rule. */
static const char *check_required_name(val_t *v, const json_t *obj, const char *key,
                                       int (*rule)(val_t *, const char *, const char *))
{
    const json_t *m;
    int rc = val_get(v, obj, key, JSON_STRING, &m);
    if (rc == VAL_BAD)
        return NULL;
    if (rc == VAL_ABSENT || json_string_length(m) == 0) {
        val_required(v, key, "");
        return NULL;
    }
    if (rule)
        rule(v, key, json_string_value(m));
    return json_string_value(m);
}

/* ------------------------------------------------------------------------------------ */
/* Container pieces */

static void check_ports(val_t *v, const json_t *ctr)
{
    const json_t *ports = val_arr(v, ctr, "ports");
    json_t *names = json_object();
    size_t mark = val_push(v, "ports");
    for (size_t i = 0; ports && i < json_array_size(ports); i++) {
        const json_t *p = val_elem_obj(v, ports, i);
        long long n;
        if (!p)
            continue;
        size_t m2 = val_push_index(v, i);
        const char *name = val_str(v, p, "name");
        if (name && *name) {
            if (val_port_name(v, "name", name) == 0) {
                if (json_object_get(names, name))
                    val_duplicate_s(v, "name", name);
                else
                    json_object_set_new(names, name, json_true());
            }
        }
        int rc = val_int(v, p, "containerPort", &n);
        if (rc == VAL_ABSENT || (rc == VAL_OK && n == 0))
            val_required(v, "containerPort", "");
        else if (rc == VAL_OK)
            val_port_num(v, "containerPort", n);
        if (val_int(v, p, "hostPort", &n) == VAL_OK && n != 0)
            val_port_num(v, "hostPort", n);
        check_enum(v, p, "protocol", protocols);
        val_pop(v, m2);
    }
    val_pop(v, mark);
    json_decref(names);
}

static void check_key_ref(val_t *v, const json_t *from, const char *key, int *sources)
{
    const json_t *ref = val_obj(v, from, key);
    if (!ref)
        return;
    (*sources)++;
    size_t mark = val_push(v, key);
    if (!strcmp(key, "fieldRef")) {
        check_required_name(v, ref, "fieldPath", NULL);
    } else if (!strcmp(key, "resourceFieldRef")) {
        check_required_name(v, ref, "resource", NULL);
    } else {
        check_required_name(v, ref, "name", NULL);
        check_required_name(v, ref, "key", val_config_key);
    }
    val_pop(v, mark);
}

static void check_env(val_t *v, const json_t *ctr)
{
    const json_t *env = val_arr(v, ctr, "env");
    size_t mark = val_push(v, "env");
    for (size_t i = 0; env && i < json_array_size(env); i++) {
        const json_t *e = val_elem_obj(v, env, i);
        if (!e)
            continue;
        size_t m2 = val_push_index(v, i);
        const char *name = val_str(v, e, "name");
        if (!name || !*name)
            val_required(v, "name", "");
        else
            check_env_name(v, "name", name);
        const char *value = val_str(v, e, "value");
        const json_t *from = val_obj(v, e, "valueFrom");
        if (from) {
            int sources = 0;
            size_t m3 = val_push(v, "valueFrom");
            check_key_ref(v, from, "fieldRef", &sources);
            check_key_ref(v, from, "resourceFieldRef", &sources);
            check_key_ref(v, from, "configMapKeyRef", &sources);
            check_key_ref(v, from, "secretKeyRef", &sources);
            if (sources == 0)
                val_invalid_s(v, NULL, "", "must specify one of: `fieldRef`, "
                              "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
            else if (value && *value)
                val_invalid_s(v, NULL, "", "may not be specified when `value` is not empty");
            else if (sources > 1)
                val_invalid_s(v, NULL, "", "may not have more than one field specified at a time");
            val_pop(v, m3);
        }
        val_pop(v, m2);
    }
    val_pop(v, mark);

    const json_t *envfrom = val_arr(v, ctr, "envFrom");
    mark = val_push(v, "envFrom");
    for (size_t i = 0; envfrom && i < json_array_size(envfrom); i++) {
        const json_t *e = val_elem_obj(v, envfrom, i);
        int sources = 0;
        if (!e)
            continue;
        size_t m2 = val_push_index(v, i);
        const char *prefix = val_str(v, e, "prefix");
        if (prefix && *prefix)
            check_env_name(v, "prefix", prefix);
        static const char *const refs[] = {"configMapRef", "secretRef", NULL};
        for (int r = 0; refs[r]; r++) {
            const json_t *ref = val_obj(v, e, refs[r]);
            if (!ref)
                continue;
            sources++;
            size_t m3 = val_push(v, refs[r]);
            check_required_name(v, ref, "name", val_dns1123_subdomain);
            val_pop(v, m3);
        }
        val_pop(v, m2);
        if (sources == 0)
            val_invalid_s(v, NULL, "", "must specify one of: `configMapRef` or `secretRef`");
        else if (sources > 1)
            val_invalid_s(v, NULL, "", "may not have more than one field specified at a time");
    }
    val_pop(v, mark);
}

static int is_native_resource(const char *name)
{
    return !strchr(name, '/') || strstr(name, "kubernetes.io/");
}

static int is_hugepages(const char *name)
{
    return !strncmp(name, "hugepages-", 10);
}

/* Compare two parsed quantities. They are long doubles built from decimal digits and
 * powers of ten, so "500m" and "0.5" may differ in the last bits: treat values within a
 * relative 1e-15 as equal (no real request/limit pair is that close). */
static int qty_cmp(long double a, long double b)
{
    long double scale = fabsl(a) > fabsl(b) ? fabsl(a) : fabsl(b);
    if (fabsl(a - b) <= scale * 1e-15L)
        return 0;
    return a < b ? -1 : 1;
}

static int qty_is_integer(long double a)
{
    return qty_cmp(a, roundl(a)) == 0;
}

/* Requests must not exceed limits; resources that cannot be overcommitted (hugepages,
 * extended resources) need requests equal to limits. */
static void check_resources(val_t *v, const json_t *ctr)
{
    const json_t *res = val_obj(v, ctr, "resources");
    static const char *const sections[] = {"limits", "requests", NULL};
    if (!res)
        return;
    size_t mark = val_push(v, "resources");
    const json_t *limits = NULL;
    for (int s = 0; sections[s]; s++) {
        const json_t *list = val_obj(v, res, sections[s]);
        const char *name;
        json_t *q;
        if (!list)
            continue;
        if (s == 0)
            limits = list;
        size_t m2 = val_push(v, sections[s]);
        json_object_foreach((json_t *)list, name, q) {
            long double value;
            char text[128];
            size_t m3 = val_push_key(v, name);
            val_qualified_name(v, NULL, name);
            if (!strchr(name, '/') && strcmp(name, "cpu") && strcmp(name, "memory") &&
                strcmp(name, "ephemeral-storage") && !is_hugepages(name))
                val_invalid_s(v, NULL, name, "must be a standard resource for containers");
            val_pop(v, m3);
            if (val_quantity(v, list, name, &value, text, sizeof text) != VAL_OK)
                continue;
            m3 = val_push_key(v, name);
            if (value < 0)
                val_invalid_s(v, NULL, text, "must be greater than or equal to 0");
            if (!is_native_resource(name) && !qty_is_integer(value))
                val_invalid_s(v, NULL, text, "must be an integer");
            val_pop(v, m3);
            if (s == 1) {
                int overcommit = is_native_resource(name) && !is_hugepages(name);
                long double limit;
                char ltext[128], detail[512];
                const char *err;
                const json_t *lq = limits ? json_object_get(limits, name) : NULL;
                int have_limit = 0;
                if (json_is_string(lq) &&
                    val_quantity_parse(json_string_value(lq), &limit, &err) == 0) {
                    snprintf(ltext, sizeof ltext, "%s", json_string_value(lq));
                    have_limit = 1;
                } else if (json_is_number(lq)) {
                    limit = json_number_value(lq);
                    if (json_is_integer(lq))
                        snprintf(ltext, sizeof ltext, "%lld", (long long)json_integer_value(lq));
                    else
                        for (int prec = 1; prec <= 17; prec++) {
                            snprintf(ltext, sizeof ltext, "%.*g", prec, json_real_value(lq));
                            if (strtod(ltext, NULL) == json_real_value(lq))
                                break;
                        }
                    have_limit = 1;
                }
                if (have_limit) {
                    if (!overcommit && qty_cmp(value, limit) != 0) {
                        snprintf(detail, sizeof detail, "must be equal to %s limit of %s", name, ltext);
                        val_invalid_s(v, NULL, text, detail);
                    } else if (qty_cmp(value, limit) > 0) {
                        snprintf(detail, sizeof detail,
                                 "must be less than or equal to %s limit of %s", name, ltext);
                        val_invalid_s(v, NULL, text, detail);
                    }
                } else if (!lq && !overcommit) {
                    val_pop(v, m2);   /* reported on resources.limits */
                    val_required(v, "limits", "Limit must be set for non overcommitable resources");
                    val_push(v, sections[s]);
                }
            }
        }
        val_pop(v, m2);
    }
    val_pop(v, mark);
}

static void check_volume_mounts(val_t *v, const json_t *ctr, const json_t *volnames)
{
    const json_t *mounts = val_arr(v, ctr, "volumeMounts");
    json_t *points = json_object();
    size_t mark = val_push(v, "volumeMounts");
    for (size_t i = 0; mounts && i < json_array_size(mounts); i++) {
        const json_t *m = val_elem_obj(v, mounts, i);
        if (!m)
            continue;
        size_t m2 = val_push_index(v, i);
        const char *name = val_str(v, m, "name");
        const char *path = val_str(v, m, "mountPath");
        const char *sub = val_str(v, m, "subPath");
        name = name ? name : "";
        if (!*name)
            val_required(v, "name", "");
        if (!json_object_get(volnames, name))
            val_not_found(v, "name", name);
        if (!path || !*path)
            val_required(v, "mountPath", "");
        if (path && json_object_get(points, path))
            val_invalid_s(v, "mountPath", path, "must be unique");
        if (path)
            json_object_set_new(points, path, json_true());
        val_pop(v, m2);
        if (sub && *sub) {
            /* validateLocalDescendingPath reports on volumeMounts.subPath, unindexed. */
            if (sub[0] == '/')
                val_invalid_s(v, "subPath", sub, "must be a relative path");
            const char *p = sub;
            while (p) {
                if (!strncmp(p, "..", 2) && (p[2] == '/' || p[2] == '\0')) {
                    val_invalid_s(v, "subPath", sub, "must not contain '..'");
                    break;
                }
                p = strchr(p, '/');
                if (p)
                    p++;
            }
        }
    }
    val_pop(v, mark);
    json_decref(points);
}

/* validateHandler + validateProbe: exactly one handler, sane numbers. */
static void check_probe(val_t *v, const json_t *ctr, const char *key, int must_succeed_once)
{
    const json_t *probe = val_obj(v, ctr, key);
    static const char *const handlers[] = {"exec", "httpGet", "tcpSocket", "grpc", "sleep", NULL};
    static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
    static const char *const nums[] = {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                                       "successThreshold", "failureThreshold", NULL};
    int count = 0;
    long long n;
    if (!probe)
        return;
    size_t mark = val_push(v, key);
    for (int i = 0; handlers[i]; i++) {
        const json_t *h = val_obj(v, probe, handlers[i]);
        if (!h)
            continue;
        if (count++ > 0) {
            val_forbidden(v, handlers[i], "may not specify more than 1 handler type");
            continue;
        }
        size_t m2 = val_push(v, handlers[i]);
        if (!strcmp(handlers[i], "exec")) {
            const json_t *cmd = val_arr(v, h, "command");
            if (!cmd || json_array_size(cmd) == 0)
                val_required(v, "command", "");
        } else if (!strcmp(handlers[i], "httpGet")) {
            check_port_num_or_name(v, h, "port");
            check_enum(v, h, "scheme", schemes);
        } else if (!strcmp(handlers[i], "tcpSocket")) {
            check_port_num_or_name(v, h, "port");
        } else if (!strcmp(handlers[i], "grpc")) {
            if (val_int(v, h, "port", &n) != VAL_BAD)
                val_port_num(v, "port", json_object_get(h, "port") ? n : 0);
        } else if (val_int(v, h, "seconds", &n) == VAL_OK && n < 0) {
            val_invalid_i(v, "seconds", n, "must be non-negative");
        }
        val_pop(v, m2);
    }
    if (count == 0)
        val_required(v, NULL, "must specify a handler type");
    for (int i = 0; nums[i]; i++)
        val_nonnegative(v, probe, nums[i]);
    if (val_int(v, probe, "terminationGracePeriodSeconds", &n) == VAL_OK && n <= 0)
        val_invalid_i(v, "terminationGracePeriodSeconds", n, "must be greater than 0");
    if (must_succeed_once && val_int_quiet(probe, "successThreshold", &n) && n != 1)
        val_invalid_i(v, "successThreshold", n, "must be 1");
    val_pop(v, mark);
}

/* validateContainerCommon plus the per-list rules. names: every container name seen so
 * far (regular, then init), for Duplicate. */
static void check_container(val_t *v, const json_t *ctr, const json_t *volnames,
                            json_t *names, int mode, int init)
{
    static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
    static const char *const term[] = {"File", "FallbackToLogsOnError", NULL};
    const char *name = check_required_name(v, ctr, "name", val_dns1123_label);
    const json_t *image;
    int rc;

    if (name) {
        if (json_object_get(names, name))
            val_duplicate_s(v, "name", name);
        else
            json_object_set_new(names, name, json_true());
    }
    rc = val_get(v, ctr, "image", JSON_STRING, &image);
    if (rc == VAL_ABSENT || (rc == VAL_OK && json_string_length(image) == 0)) {
        val_required(v, "image", "");
    } else if (rc == VAL_OK && mode == MODE_POD) {
        const char *s = json_string_value(image);
        size_t n = strlen(s);
        if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' ||
            s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')
            val_invalid_s(v, "image", s, "must not have leading or trailing whitespace");
    }
    check_enum(v, ctr, "imagePullPolicy", pull);
    check_enum(v, ctr, "terminationMessagePolicy", term);
    check_resources(v, ctr);
    check_ports(v, ctr);
    check_env(v, ctr);
    check_volume_mounts(v, ctr, volnames);
    val_arr(v, ctr, "command");
    val_arr(v, ctr, "args");

    const char *restart = val_str(v, ctr, "restartPolicy");
    if (!init) {
        if (restart)
            val_forbidden(v, "restartPolicy", "may not be set for non-init containers");
        check_probe(v, ctr, "livenessProbe", 1);
        check_probe(v, ctr, "readinessProbe", 0);
        check_probe(v, ctr, "startupProbe", 1);
    } else if (restart && strcmp(restart, "Always")) {
        static const char *const always[] = {"Always", NULL};
        val_not_supported(v, "restartPolicy", restart, always);
    } else if (!restart) {
        static const char *const probes[] = {"lifecycle", "livenessProbe", "readinessProbe",
                                             "startupProbe", NULL};
        for (int i = 0; probes[i]; i++)
            if (json_object_get(ctr, probes[i]) && !json_is_null(json_object_get(ctr, probes[i])))
                val_forbidden(v, probes[i], "may not be set for init containers without "
                              "restartPolicy=Always");
    } else {
        check_probe(v, ctr, "livenessProbe", 1);
        check_probe(v, ctr, "readinessProbe", 0);
        check_probe(v, ctr, "startupProbe", 1);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Volumes */

/* VolumeSource members in the order Kubernetes checks them. */
static const char *const volume_sources[] = {
    "hostPath", "emptyDir", "gitRepo", "awsElasticBlockStore", "gcePersistentDisk", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image", NULL};

static void check_volume_source(val_t *v, const char *src, const json_t *s)
{
    size_t mark = val_push(v, src);
    if (!strcmp(src, "hostPath")) {
        check_required_name(v, s, "path", NULL);
    } else if (!strcmp(src, "secret")) {
        check_required_name(v, s, "secretName", NULL);
    } else if (!strcmp(src, "configMap")) {
        check_required_name(v, s, "name", NULL);
    } else if (!strcmp(src, "persistentVolumeClaim")) {
        check_required_name(v, s, "claimName", NULL);
    } else if (!strcmp(src, "nfs")) {
        check_required_name(v, s, "server", NULL);
        check_required_name(v, s, "path", NULL);
    } else if (!strcmp(src, "emptyDir")) {
        static const char *const media[] = {"", "Memory", "HugePages", NULL};
        long double q;
        char text[128];
        check_enum(v, s, "medium", media);
        if (val_quantity(v, s, "sizeLimit", &q, text, sizeof text) == VAL_OK && q < 0)
            val_invalid_s(v, "sizeLimit", text, "must be greater than or equal to 0");
    }
    val_pop(v, mark);
}

/* ValidateVolumes: returns the set of good volume names (caller decrefs). */
static json_t *check_volumes(val_t *v, const json_t *spec)
{
    json_t *names = json_object();
    const json_t *vols = val_arr(v, spec, "volumes");
    size_t mark = val_push(v, "volumes");
    for (size_t i = 0; vols && i < json_array_size(vols); i++) {
        const json_t *vol = val_elem_obj(v, vols, i);
        int before = v->count, sources = 0;
        if (!vol)
            continue;
        size_t m2 = val_push_index(v, i);
        for (int s = 0; volume_sources[s]; s++) {
            const json_t *src;
            if (val_get(v, vol, volume_sources[s], JSON_OBJECT, &src) != VAL_OK)
                continue;
            if (sources++ > 0)
                val_forbidden(v, volume_sources[s], "may not specify more than 1 volume type");
            else
                check_volume_source(v, volume_sources[s], src);
        }
        /* kube's defaulting turns a volume with no source into emptyDir before this
         * check; without that default it is "must specify a volume type". */
        if (sources == 0 && before == v->count)
            val_required(v, NULL, "must specify a volume type");
        const char *name = check_required_name(v, vol, "name", val_dns1123_label);
        if (name && json_object_get(names, name))
            val_duplicate_s(v, "name", name);
        if (name && v->count == before)
            json_object_set_new(names, name, json_true());
        val_pop(v, m2);
    }
    val_pop(v, mark);
    return names;
}

/* ------------------------------------------------------------------------------------ */
/* Tolerations */

/* An empty effect in a toleration matches every taint effect. */
static void check_taint_effect(val_t *v, const char *effect)
{
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
    if (!effect || !*effect)
        return;
    for (int i = 0; effects[i]; i++)
        if (!strcmp(effect, effects[i]))
            return;
    val_not_supported(v, "effect", effect, effects);
}

void val_tolerations(val_t *v, const json_t *obj, const char *key)
{
    const json_t *tols = val_arr(v, obj, key);
    static const char *const ops[] = {"Equal", "Exists", NULL};
    size_t mark = val_push(v, key);
    for (size_t i = 0; tols && i < json_array_size(tols); i++) {
        const json_t *t = val_elem_obj(v, tols, i);
        long long secs;
        if (!t)
            continue;
        size_t m2 = val_push_index(v, i);
        const char *k = val_str(v, t, "key"), *op = val_str(v, t, "operator");
        const char *value = val_str(v, t, "value"), *effect = val_str(v, t, "effect");
        k = k ? k : "";
        op = op ? op : "";
        value = value ? value : "";
        if (*k)
            val_qualified_name(v, "key", k);
        if (!*k && strcmp(op, "Exists"))
            val_invalid_s(v, "operator", op, "operator must be Exists when `key` is empty, "
                          "which means \"match all values and all keys\"");
        if (val_int(v, t, "tolerationSeconds", &secs) == VAL_OK &&
            (!effect || strcmp(effect, "NoExecute")))
            val_invalid_s(v, "effect", effect ? effect : "",
                          "effect must be 'NoExecute' when `tolerationSeconds` is set");
        if (!*op || !strcmp(op, "Equal")) {
            val_t probe = *v;
            probe.causes = json_array();
            probe.count = 0;
            if (probe.causes) {
                /* Kubernetes joins the label-value messages with ';' on "operator". */
                val_label_value(&probe, NULL, value);
                if (probe.count) {
                    char joined[1024] = "";
                    for (size_t j = 0; j < json_array_size(probe.causes); j++) {
                        const char *msg = val_s(json_array_get(probe.causes, j), "message");
                        const char *colon = strstr(msg, "\": ");
                        if (j)
                            strncat(joined, ";", sizeof joined - strlen(joined) - 1);
                        strncat(joined, colon ? colon + 3 : msg, sizeof joined - strlen(joined) - 1);
                    }
                    val_invalid_s(v, "operator", value, joined);
                }
                json_decref(probe.causes);
            }
        } else if (!strcmp(op, "Exists")) {
            if (*value)
                val_invalid_j(v, "operator", t, "value must be empty when `operator` is 'Exists'");
        } else {
            val_not_supported(v, "operator", op, ops);
        }
        check_taint_effect(v, effect);
        val_pop(v, m2);
    }
    val_pop(v, mark);
}

/* ------------------------------------------------------------------------------------ */
/* PodSpec */

/* ValidatePodSpec; the current path is the spec ("spec" or "spec.template.spec"). */
static void check_pod_spec(val_t *v, const json_t *spec, int mode)
{
    static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
    static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default",
                                      "None", NULL};
    json_t *volnames = check_volumes(v, spec);
    json_t *names = json_object();
    const json_t *ctrs;
    long long n;
    int rc = val_get(v, spec, "containers", JSON_ARRAY, &ctrs);

    if (rc == VAL_ABSENT || (rc == VAL_OK && json_array_size(ctrs) == 0))
        val_required(v, "containers", "");
    for (int init = 0; init < 2; init++) {
        const char *key = init ? "initContainers" : "containers";
        const json_t *list = init ? val_arr(v, spec, key) : ctrs;
        size_t mark = val_push(v, key);
        for (size_t i = 0; list && i < json_array_size(list); i++) {
            const json_t *c = val_elem_obj(v, list, i);
            if (!c)
                continue;
            size_t m2 = val_push_index(v, i);
            check_container(v, c, volnames, names, mode, init);
            val_pop(v, m2);
        }
        val_pop(v, mark);
    }
    check_enum(v, spec, "restartPolicy", restart);
    check_enum(v, spec, "dnsPolicy", dns);
    const char *dnspolicy = val_s(spec, "dnsPolicy");
    if (!strcmp(dnspolicy, "None")) {
        const json_t *cfg = val_obj(v, spec, "dnsConfig");
        const json_t *ns = cfg ? val_arr(v, cfg, "nameservers") : NULL;
        if (!cfg)
            val_required(v, "dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None");
        else if (!ns || json_array_size(ns) == 0)
            val_required(v, "dnsConfig.nameservers",
                          "must provide at least one DNS nameserver when `dnsPolicy` is None");
    }
    val_labels(v, spec, "nodeSelector");
    const char *s = val_str(v, spec, "serviceAccountName");
    if (s && *s)
        val_dns1123_subdomain(v, "serviceAccountName", s);
    s = val_str(v, spec, "nodeName");
    if (s && *s)
        val_dns1123_subdomain(v, "nodeName", s);
    if (val_int(v, spec, "activeDeadlineSeconds", &n) == VAL_OK && (n < 1 || n > 2147483647LL))
        val_invalid_i(v, "activeDeadlineSeconds", n, "must be between 1 and 2147483647, inclusive");
    s = val_str(v, spec, "hostname");
    if (s && *s)
        val_dns1123_label(v, "hostname", s);
    s = val_str(v, spec, "subdomain");
    if (s && *s)
        val_dns1123_label(v, "subdomain", s);
    s = val_str(v, spec, "priorityClassName");
    if (s && *s)
        val_dns1123_subdomain(v, "priorityClassName", s);
    val_tolerations(v, spec, "tolerations");
    val_int(v, spec, "terminationGracePeriodSeconds", &n);
    int b;
    val_bool(v, spec, "hostNetwork", &b);
    val_bool(v, spec, "hostPID", &b);
    val_bool(v, spec, "hostIPC", &b);
    json_decref(volnames);
    json_decref(names);
}

void val_pod(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    if (!spec && json_object_get(obj, "spec") && !json_is_null(json_object_get(obj, "spec")))
        return;   /* wrong type, reported */
    size_t mark = val_push(v, "spec");
    check_pod_spec(v, spec, MODE_POD);
    const json_t *eph = val_arr(v, spec, "ephemeralContainers");
    if (eph && json_array_size(eph) > 0)
        val_forbidden(v, "ephemeralContainers", "cannot be set on create");
    val_pop(v, mark);
}

/* ValidatePodTemplateSpec at <path>.template. Returns the template (or NULL). */
static const json_t *check_template(val_t *v, const json_t *spec, int required)
{
    const json_t *tmpl;
    int rc = val_get(v, spec, "template", JSON_OBJECT, &tmpl);
    if (rc == VAL_BAD)
        return NULL;
    if (rc == VAL_ABSENT && required) {
        val_required(v, "template", "");
        return NULL;
    }
    size_t mark = val_push(v, "template");
    const json_t *meta = val_obj(v, tmpl, "metadata");
    /* ValidatePodTemplateSpec names template metadata without ".metadata". */
    val_labels(v, meta, "labels");
    val_annotations(v, meta, "annotations");
    const json_t *pspec = val_obj(v, tmpl, "spec");
    size_t m2 = val_push(v, "spec");
    check_pod_spec(v, pspec, MODE_TEMPLATE);
    const json_t *eph = val_arr(v, pspec, "ephemeralContainers");
    if (eph && json_array_size(eph) > 0)
        val_forbidden(v, "ephemeralContainers", "ephemeral containers not allowed in pod template");
    /* Controllers restart what exits: their pods must always restart. */
    const char *restart = val_s(pspec, "restartPolicy");
    if (*restart && strcmp(restart, "Always")) {
        static const char *const always[] = {"Always", NULL};
        val_not_supported(v, "restartPolicy", restart, always);
    }
    val_pop(v, m2);
    val_pop(v, mark);
    return tmpl;
}

const json_t *val_pod_template(val_t *v, const json_t *spec, int required)
{
    return check_template(v, spec, required);
}

static const json_t *template_labels(const json_t *tmpl)
{
    const json_t *l = json_object_get(json_object_get(tmpl, "metadata"), "labels");
    return json_is_object(l) ? l : NULL;
}

static void selector_mismatch(val_t *v, const json_t *tmpl)
{
    char *r = val_render_labels(template_labels(tmpl));
    val_invalid_r(v, "template.metadata.labels", r, "`selector` does not match template `labels`");
    free(r);
}

static void template_deadline(val_t *v, const json_t *tmpl, const char *kind)
{
    const json_t *ads = json_object_get(json_object_get(tmpl, "spec"), "activeDeadlineSeconds");
    char detail[128];
    if (!ads || json_is_null(ads))
        return;
    snprintf(detail, sizeof detail, "activeDeadlineSeconds in %s is not Supported", kind);
    if (!strcmp(kind, "ReplicationController"))
        val_forbidden(v, "template.spec.activeDeadlineSeconds", detail);
    else
        val_invalid_j(v, "template.spec.activeDeadlineSeconds", ads, detail);
}

/* ------------------------------------------------------------------------------------ */
/* Workloads */

void val_replication_controller(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    size_t mark = val_push(v, "spec");
    val_nonnegative(v, spec, "minReadySeconds");
    val_labels(v, spec, "selector");
    const json_t *sel = json_object_get(spec, "selector");
    const json_t *tmpl_raw = json_object_get(spec, "template");
    sel = json_is_object(sel) ? sel : NULL;
    /* An RC with no selector takes its template's labels (API defaulting). */
    const json_t *effective = (sel && json_object_size(sel)) ? sel
                              : template_labels(json_is_object(tmpl_raw) ? tmpl_raw : NULL);
    if (!effective || json_object_size(effective) == 0)
        val_required(v, "selector", "");
    val_nonnegative(v, spec, "replicas");
    const json_t *tmpl = check_template(v, spec, 1);
    if (tmpl) {
        if (effective && json_object_size(effective)) {
            json_t *as_sel = json_pack("{s:O}", "matchLabels", (json_t *)effective);
            if (as_sel && !val_selector_matches(as_sel, template_labels(tmpl)))
                selector_mismatch(v, tmpl);
            json_decref(as_sel);
        }
        template_deadline(v, tmpl, "ReplicationController");
    }
    val_pop(v, mark);
}

/* The part ReplicaSets and Deployments share: selector, template, restart policy. */
static void check_apps_selector_template(val_t *v, const json_t *spec, const char *kind)
{
    const json_t *sel;
    int rc = val_get(v, spec, "selector", JSON_OBJECT, &sel);
    int sel_ok = 1;
    if (rc == VAL_ABSENT) {
        val_required(v, "selector", "");
    } else if (rc == VAL_OK) {
        sel_ok = val_label_selector(v, spec, "selector");
        if (json_object_size(json_object_get(sel, "matchLabels")) +
            json_array_size(json_object_get(sel, "matchExpressions")) == 0)
            val_invalid_j(v, "selector", sel, "empty selector is invalid for deployment");
    } else {
        sel_ok = 0;
    }
    if (!sel_ok && rc == VAL_OK) {
        char *r = val_render_selector(sel);
        val_invalid_r(v, "selector", r, "invalid label selector");
        free(r);
        check_template(v, spec, 0);
        return;
    }
    const json_t *tmpl = check_template(v, spec, 0);
    /* No selector selects nothing, an empty one everything (labels.Nothing/Everything). */
    int empty = sel && json_object_size(json_object_get(sel, "matchLabels")) +
                       json_array_size(json_object_get(sel, "matchExpressions")) == 0;
    if (rc != VAL_BAD && !empty && (!sel || !val_selector_matches(sel, template_labels(tmpl))))
        selector_mismatch(v, tmpl);
    if (tmpl)
        template_deadline(v, tmpl, kind);
}

void val_replica_set(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    size_t mark = val_push(v, "spec");
    val_nonnegative(v, spec, "replicas");
    val_nonnegative(v, spec, "minReadySeconds");
    check_apps_selector_template(v, spec, "ReplicaSet");
    val_pop(v, mark);
}

/* An IntOrString like "25%" or 1: returns 1 and the number when it reads as one. */
static int int_or_percent(val_t *v, const json_t *obj, const char *key, long long *value,
                          int *present)
{
    const json_t *m = json_object_get(obj, key);
    *present = m && !json_is_null(m);
    *value = 0;
    if (!*present)
        return 0;
    if (json_is_integer(m)) {
        *value = json_integer_value(m);
        if (*value < 0)
            val_invalid_i(v, key, *value, "must be greater than or equal to 0");
        return 1;
    }
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        size_t n = strlen(s), digits = 0;
        while (digits < n && s[digits] >= '0' && s[digits] <= '9')
            digits++;
        if (digits == 0 || digits + 1 != n || s[n - 1] != '%') {
            val_invalid_r(v, key, s, "a valid percent string must be a numeric string followed "
                          "by an ending '%' (e.g. '1%',  or '93%', regex used for validation "
                          "is '[0-9]+%')");
            return 0;
        }
        *value = strtoll(s, NULL, 10);
        if (!strcmp(key, "maxUnavailable") && *value > 100)
            val_invalid_r(v, key, s, "must not be greater than 100%");
        return 1;
    }
    val_type(v, key, m, "integer or string");
    return 0;
}

/* policy/v1 PodDisruptionBudget (kube's ValidatePodDisruptionBudgetSpec): at most one of
 * minAvailable and maxUnavailable, each a non-negative integer or a percentage up to 100%,
 * a valid label selector, a known unhealthyPodEvictionPolicy. */
void val_pod_disruption_budget(val_t *v, const json_t *obj)
{
    static const char *const policies[] = { "IfHealthyBudget", "AlwaysAllow", NULL };
    const json_t *spec = val_obj(v, obj, "spec");
    long long n;
    int min_set, max_set;
    size_t mark = val_push(v, "spec");
    int_or_percent(v, spec, "minAvailable", &n, &min_set);
    if (min_set && json_is_string(json_object_get(spec, "minAvailable")) && n > 100)
        val_invalid_r(v, "minAvailable", json_string_value(json_object_get(spec, "minAvailable")),
                      "must not be greater than 100%");
    int_or_percent(v, spec, "maxUnavailable", &n, &max_set);
    if (min_set && max_set)
        val_invalid_j(v, NULL, spec, "minAvailable and maxUnavailable cannot be both set");
    val_label_selector(v, spec, "selector");
    const char *p = val_str(v, spec, "unhealthyPodEvictionPolicy");
    if (p) {
        int known = 0;
        for (size_t i = 0; policies[i]; i++)
            known |= !strcmp(p, policies[i]);
        if (!known)
            val_not_supported(v, "unhealthyPodEvictionPolicy", p, policies);
    }
    val_pop(v, mark);
}

void val_deployment(val_t *v, const json_t *obj)
{
    const json_t *spec = val_obj(v, obj, "spec");
    long long min_ready = 0, deadline, rhl;
    size_t mark = val_push(v, "spec");
    val_nonnegative(v, spec, "replicas");
    check_apps_selector_template(v, spec, "Deployment");

    const json_t *strat = val_obj(v, spec, "strategy");
    if (strat) {
        size_t m2 = val_push(v, "strategy");
        const char *type = val_str(v, strat, "type");
        const json_t *ru = val_obj(v, strat, "rollingUpdate");
        if (type && !strcmp(type, "Recreate")) {
            if (ru)
                val_forbidden(v, "rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
        } else if (!type || !*type || !strcmp(type, "RollingUpdate")) {
            if (ru) {
                long long mu, ms;
                int mu_set, ms_set;
                size_t m3 = val_push(v, "rollingUpdate");
                int mu_ok = int_or_percent(v, ru, "maxUnavailable", &mu, &mu_set);
                int ms_ok = int_or_percent(v, ru, "maxSurge", &ms, &ms_set);
                /* Absent values default to 25%, never zero. */
                if (mu_set && ms_set && mu_ok && ms_ok && mu == 0 && ms == 0) {
                    const json_t *m = json_object_get(ru, "maxUnavailable");
                    if (json_is_string(m))
                        val_invalid_r(v, "maxUnavailable", json_string_value(m),
                                      "may not be 0 when `maxSurge` is 0");
                    else
                        val_invalid_i(v, "maxUnavailable", 0, "may not be 0 when `maxSurge` is 0");
                }
                val_pop(v, m3);
            }
        } else {
            /* NotSupported on the whole strategy, as apps validation reports it. */
            static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
            char *q = val_quote(type), *r = NULL;
            if (q && asprintf(&r, "apps.DeploymentStrategy{Type:%s, RollingUpdate:%s}", q,
                              ru ? "&apps.RollingUpdateDeployment{...}"
                                 : "(*apps.RollingUpdateDeployment)(nil)") > 0) {
                val_not_supported_r(v, NULL, r, types);
                free(r);
            }
            free(q);
        }
        val_pop(v, m2);
    }
    val_nonnegative(v, spec, "minReadySeconds");
    val_int_quiet(spec, "minReadySeconds", &min_ready);
    if (val_int(v, spec, "revisionHistoryLimit", &rhl) == VAL_OK && rhl < 0)
        val_invalid_i(v, "revisionHistoryLimit", rhl, "must be greater than or equal to 0");
    if (val_int(v, spec, "progressDeadlineSeconds", &deadline) == VAL_OK) {
        if (deadline < 0)
            val_invalid_i(v, "progressDeadlineSeconds", deadline, "must be greater than or equal to 0");
        if (deadline <= min_ready)
            val_invalid_i(v, "progressDeadlineSeconds", deadline, "must be greater than minReadySeconds");
    }
    int paused;
    val_bool(v, spec, "paused", &paused);
    val_pop(v, mark);
}

void val_selector_immutable(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const json_t *ns = json_object_get(json_object_get(obj, "spec"), "selector");
    const json_t *os = json_object_get(json_object_get(old_obj, "spec"), "selector");
    if (val_semantic_equal(ns, os))
        return;
    char *r = val_render_selector(ns);
    val_invalid_r(v, "spec.selector", r, "field is immutable");
    free(r);
}

/* ------------------------------------------------------------------------------------ */
/* Pod update */

#define POD_UPDATE_MSG "pod updates may not change fields other than " \
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," \
    "`spec.tolerations` (only additions to existing tolerations)," \
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

static void copy_member(json_t *dst, const json_t *src, const char *key)
{
    const json_t *m = json_object_get(src, key);
    if (m)
        json_object_set_new(dst, key, json_deep_copy(m));
    else
        json_object_del(dst, key);
}

/* Two tolerations are the same one if they differ at most in tolerationSeconds. */
static int same_toleration(const json_t *a, const json_t *b)
{
    const char *k;
    json_t *x;
    if (!json_is_object(a) || !json_is_object(b))
        return val_semantic_equal(a, b);
    json_object_foreach((json_t *)a, k, x)
        if (strcmp(k, "tolerationSeconds") && !val_semantic_equal(x, json_object_get(b, k)))
            return 0;
    json_object_foreach((json_t *)b, k, x)
        if (strcmp(k, "tolerationSeconds") && !json_object_get(a, k) &&
            !val_semantic_equal(x, NULL))
            return 0;
    return 1;
}

/* Each old toleration must still be there (tolerationSeconds may change). The usual
 * update keeps the old ones in place and appends: check that in one pass first, and
 * bound the any-order search so a huge list cannot make validation quadratic. */
static int tolerations_only_added(const json_t *old_t, const json_t *new_t)
{
    size_t no = json_array_size(old_t), nn = json_array_size(new_t), i;
    for (i = 0; i < no && i < nn; i++)
        if (!same_toleration(json_array_get(old_t, i), json_array_get(new_t, i)))
            break;
    if (i == no)
        return 1;
    if (no * nn > 1000000)
        return 0;
    for (i = 0; i < no; i++) {
        int found = 0;
        for (size_t j = 0; !found && j < nn; j++)
            found = same_toleration(json_array_get(old_t, i), json_array_get(new_t, j));
        if (!found)
            return 0;
    }
    return 1;
}

void val_pod_update(val_t *v, const json_t *old_obj, const json_t *obj)
{
    const json_t *os = json_object_get(old_obj, "spec");
    const json_t *ns = json_object_get(obj, "spec");
    long long nads, oads, ogp, ngp;
    if (!json_is_object(os) || !json_is_object(ns))
        return;
    json_t *munged = json_deep_copy(ns);
    if (!munged)
        return;
    for (int init = 0; init < 2; init++) {
        const char *key = init ? "initContainers" : "containers";
        json_t *nc = json_object_get(munged, key);
        const json_t *oc = json_object_get(os, key);
        if (json_is_array(nc) && json_is_array(oc) && json_array_size(nc) == json_array_size(oc))
            for (size_t i = 0; i < json_array_size(nc); i++) {
                json_t *c = json_array_get(nc, i);
                if (json_is_object(c) && json_is_object(json_array_get(oc, i)))
                    copy_member(c, json_array_get(oc, i), "image");
            }
    }
    /* activeDeadlineSeconds may be set or shortened, never lengthened or removed. */
    size_t mark = val_push(v, "spec");
    /* Types were checked by the create rules; read quietly here. */
    int nrc = val_int_quiet(ns, "activeDeadlineSeconds", &nads);
    int orc = val_int_quiet(os, "activeDeadlineSeconds", &oads);
    int nabsent = !json_object_get(ns, "activeDeadlineSeconds") ||
                  json_is_null(json_object_get(ns, "activeDeadlineSeconds"));
    if (nrc) {
        if (nads < 0 || nads > 2147483647LL)
            val_invalid_i(v, "activeDeadlineSeconds", nads, "must be between 0 and 2147483647, inclusive");
        else if (orc && oads < nads)
            val_invalid_i(v, "activeDeadlineSeconds", nads, "must be less than or equal to previous value");
    } else if (nabsent && orc) {
        val_invalid_r(v, "activeDeadlineSeconds", "null", "must not update from a positive integer to nil value");
    }
    copy_member(munged, os, "activeDeadlineSeconds");
    if (!tolerations_only_added(json_object_get(os, "tolerations"), json_object_get(ns, "tolerations")))
        val_forbidden(v, "tolerations", "existing toleration can not be modified except its tolerationSeconds");
    copy_member(munged, os, "tolerations");
    if (val_int_quiet(os, "terminationGracePeriodSeconds", &ogp) && ogp < 0 &&
        val_int_quiet(ns, "terminationGracePeriodSeconds", &ngp) && ngp == 1)
        copy_member(munged, os, "terminationGracePeriodSeconds");
    if (!val_semantic_equal(munged, os))
        val_forbidden(v, NULL, POD_UPDATE_MSG);
    val_pop(v, mark);
    json_decref(munged);
}
