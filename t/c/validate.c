/* t/c/validate.c: unit tests for engine/validate*.c: valid objects of every kind pass,
 * each rule fails with Kubernetes' reason, field and message, updates enforce immutable
 * fields, and wrong JSON types anywhere never crash. */
#include "tap.h"
#include "validate.h"
#include "validate_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        diag("bad test JSON: %s: %s", e.text, s);
    return j;
}

static void dump_causes(const json_t *causes)
{
    char *s = json_dumps(causes, JSON_INDENT(1));
    diag("causes: %s", s ? s : "?");
    free(s);
}

/* Validate obj (a JSON text) and return the causes (caller decrefs). */
static json_t *run(const char *group, const char *kind, const char *text)
{
    json_t *obj = parse(text), *causes = json_array();
    int n = validate_object(group, kind, obj, causes);
    if ((size_t)n != json_array_size(causes))
        diag("count %d != causes %zu", n, json_array_size(causes));
    json_decref(obj);
    return causes;
}

static json_t *run_update(const char *group, const char *kind, const char *old_text,
                          const char *new_text)
{
    json_t *o = parse(old_text), *n = parse(new_text), *causes = json_array();
    validate_update(group, kind, o, n, causes);
    json_decref(o);
    json_decref(n);
    return causes;
}

/* Is there a cause with this reason and field whose message contains msg (NULL: any)? */
static int has(const json_t *causes, const char *reason, const char *field, const char *msg)
{
    for (size_t i = 0; i < json_array_size(causes); i++) {
        const json_t *c = json_array_get(causes, i);
        const char *r = json_string_value(json_object_get(c, "reason"));
        const char *f = json_string_value(json_object_get(c, "field"));
        const char *m = json_string_value(json_object_get(c, "message"));
        if (r && f && m && !strcmp(r, reason) && !strcmp(f, field) && (!msg || strstr(m, msg)))
            return 1;
    }
    return 0;
}

/* Exactly one cause, equal to reason/field/message. */
static int only(const json_t *causes, const char *reason, const char *field, const char *msg)
{
    if (json_array_size(causes) != 1)
        return 0;
    const json_t *c = json_array_get(causes, 0);
    return !strcmp(json_string_value(json_object_get(c, "reason")), reason) &&
           !strcmp(json_string_value(json_object_get(c, "field")), field) &&
           !strcmp(json_string_value(json_object_get(c, "message")), msg);
}

#define VALID(group, kind, text, what) do { \
        json_t *c_ = run(group, kind, text); \
        if (!ok(json_array_size(c_) == 0, "valid: %s", what)) dump_causes(c_); \
        json_decref(c_); \
    } while (0)

#define FAILS(group, kind, text, reason, field, msg, what) do { \
        json_t *c_ = run(group, kind, text); \
        if (!ok(has(c_, reason, field, msg), "%s: %s %s", what, reason, field)) dump_causes(c_); \
        json_decref(c_); \
    } while (0)

#define EXACT(group, kind, text, reason, field, msg, what) do { \
        json_t *c_ = run(group, kind, text); \
        if (!ok(only(c_, reason, field, msg), "%s (exactly)", what)) dump_causes(c_); \
        json_decref(c_); \
    } while (0)

#define UPD_OK(group, kind, o, n, what) do { \
        json_t *c_ = run_update(group, kind, o, n); \
        if (!ok(json_array_size(c_) == 0, "update ok: %s", what)) dump_causes(c_); \
        json_decref(c_); \
    } while (0)

#define UPD_FAILS(group, kind, o, n, reason, field, msg, what) do { \
        json_t *c_ = run_update(group, kind, o, n); \
        if (!ok(has(c_, reason, field, msg), "update: %s", what)) dump_causes(c_); \
        json_decref(c_); \
    } while (0)

/* ------------------------------------------------------------------------------------ */

#define POD(spec) "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"," \
    "\"namespace\":\"default\"},\"spec\":" spec "}"
#define CTR "{\"name\":\"c\",\"image\":\"nginx\"}"

#define DEPLOY(spec) "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":" \
    "{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":" spec "}"
#define TMPL "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},\"spec\":{\"containers\":[" CTR "]}}"
#define SEL "\"selector\":{\"matchLabels\":{\"app\":\"x\"}}"

#define DS(spec) "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":" \
    "{\"name\":\"ds\",\"namespace\":\"default\"},\"spec\":" spec "}"
/* A StatefulSet as stored: with the defaults the API server adds before validating. */
#define STS(spec) "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":" \
    "{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":" spec "}"
#define STS_DEF "\"replicas\":1,\"podManagementPolicy\":\"OrderedReady\",\"updateStrategy\":" \
    "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":0}}"
#define DS_RU "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":" \
    "{\"maxUnavailable\":1,\"maxSurge\":0}}"

#define SVC(spec) "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_names(void)
{
    ok(validate_dns1123_subdomain("example.com") == NULL, "subdomain ok");
    ok(validate_dns1123_subdomain("a-b.c-d") == NULL, "subdomain with dashes ok");
    is_str(validate_dns1123_subdomain("Foo_bar"),
           "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
           "subdomain message as in the header");
    ok(validate_dns1123_subdomain("a..b") != NULL, "empty subdomain label rejected");
    ok(validate_dns1123_subdomain("-a") != NULL, "leading dash rejected");
    ok(validate_dns1123_subdomain("") != NULL, "empty subdomain rejected");
    char long_name[300];
    memset(long_name, 'a', 254);
    long_name[254] = '\0';
    is_str(validate_dns1123_subdomain(long_name), "must be no more than 253 characters", "too long");
    ok(validate_dns1123_label("my-name") == NULL, "label ok");
    ok(validate_dns1123_label("123-abc") == NULL, "label may start with digit");
    ok(validate_dns1123_label("a.b") != NULL, "label has no dots");
    is_str(validate_dns1123_label("Foo_bar"),
           "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
           "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
           "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
           "label message");
}

static void test_meta(void)
{
    EXACT("", "Pod", "{\"metadata\":{\"name\":\"Foo_bar\"},\"spec\":{\"containers\":[" CTR "]}}",
          "FieldValueInvalid", "metadata.name",
          "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower "
          "case alphanumeric characters, '-' or '.', and must start and end with an "
          "alphanumeric character (e.g. 'example.com', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
          "pod name must be a subdomain");
    EXACT("", "ConfigMap", "{\"metadata\":{}}", "FieldValueRequired", "metadata.name",
          "Required value: name or generateName is required", "name required");
    VALID("", "ConfigMap", "{\"metadata\":{\"generateName\":\"cfg-\"}}", "generateName alone");
    FAILS("", "ConfigMap", "{\"metadata\":{\"generateName\":\"Cfg-\"}}", "FieldValueInvalid",
          "metadata.generateName", "Invalid value: \"Cfg-\": a lowercase RFC 1123 subdomain",
          "bad generateName");
    FAILS("", "Namespace", "{\"metadata\":{\"name\":\"a.b\"}}", "FieldValueInvalid",
          "metadata.name", "Invalid value: \"a.b\": a lowercase RFC 1123 label must consist",
          "namespace name is a label");
    FAILS("", "Service", "{\"metadata\":{\"name\":\"1abc\"},\"spec\":{\"ports\":[{\"port\":80}]}}",
          "FieldValueInvalid", "metadata.name",
          "Invalid value: \"1abc\": a DNS-1035 label must consist of lower case alphanumeric "
          "characters or '-', start with an alphabetic character, and end with an "
          "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
          "is '[a-z]([-a-z0-9]*[a-z0-9])?')", "service name is a DNS-1035 label");
    VALID("", "Node", "{\"metadata\":{\"name\":\"node-1.example.com\"}}", "node name subdomain");
    VALID("rbac.authorization.k8s.io", "ClusterRole",
          "{\"metadata\":{\"name\":\"system:controller:x\"}}", "unknown kinds: path segment names");
    FAILS("rbac.authorization.k8s.io", "ClusterRole", "{\"metadata\":{\"name\":\"a/b\"}}",
          "FieldValueInvalid", "metadata.name", "Invalid value: \"a/b\": may not contain '/'",
          "path segment rule");
    VALID("", "Event", "{\"metadata\":{\"name\":\"web.17a3b4c5d6e7f800\",\"namespace\":\"default\"},"
          "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\",\"namespace\":\"default\"},"
          "\"reason\":\"Scheduled\",\"message\":\"ok\",\"type\":\"Normal\"}", "event");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"namespace\":\"Bad_NS\"}}",
          "FieldValueInvalid", "metadata.namespace", "Invalid value: \"Bad_NS\"", "bad namespace");

    /* labels */
    VALID("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"app.kubernetes.io/name\":"
          "\"web\",\"tier\":\"\",\"A_b.c\":\"X-y_z.1\"}}}", "good labels");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"-bad\":\"x\"}}}",
          "FieldValueInvalid", "metadata.labels",
          "Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' "
          "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
          "'my.name',  or '123-abc', regex used for validation is "
          "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')", "bad label key");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"Bad.Prefix/x\":\"x\"}}}",
          "FieldValueInvalid", "metadata.labels", "prefix part a lowercase RFC 1123 subdomain",
          "bad label prefix");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a/b/c\":\"x\"}}}",
          "FieldValueInvalid", "metadata.labels", "a qualified name must consist of",
          "two slashes");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a\":\"bad value\"}}}",
          "FieldValueInvalid", "metadata.labels",
          "Invalid value: \"bad value\": a valid label must be an empty string or consist of "
          "alphanumeric characters, '-', '_' or '.', and must start and end with an "
          "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
          "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')", "bad label value");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a\":\""
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}",
          "FieldValueInvalid", "metadata.labels", "must be no more than 63 characters",
          "label value too long");
    EXACT("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a\":5}}}",
          "FieldValueTypeInvalid", "metadata.labels[a]",
          "Invalid value: 5: must be of type string", "label value must be a string");
    EXACT("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"labels\":[\"a\"]}}",
          "FieldValueTypeInvalid", "metadata.labels",
          "Invalid value: [\"a\"]: must be of type object", "labels must be an object");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"annotations\":{\"-x\":\"y\"}}}",
          "FieldValueInvalid", "metadata.annotations", "Invalid value: \"-x\": name part",
          "bad annotation key");
    VALID("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"annotations\":{\"Example.COM/Key\":"
          "\"any value at all\"}}}", "annotation keys are case-insensitive");
    {
        json_t *obj = parse("{\"metadata\":{\"name\":\"c\",\"annotations\":{}}}");
        size_t n = 300 * 1024;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        json_object_set_new(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                            "big", json_string(big));
        free(big);
        json_t *causes = json_array();
        validate_object("", "ConfigMap", obj, causes);
        ok(only(causes, "FieldValueTooLong", "metadata.annotations",
                "Too long: must have at most 262144 bytes"), "annotations over 256 KiB");
        json_decref(causes);
        json_decref(obj);
    }
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"finalizers\":[\"custom\"]}}",
          "FieldValueInvalid", "metadata.finalizers[0]",
          "name is neither a standard finalizer name nor is it fully qualified", "finalizer");
    VALID("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"finalizers\":[\"example.com/x\","
          "\"kubernetes\"]}}", "good finalizers");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"ownerReferences\":[{\"apiVersion\":"
          "\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\"}]}}", "FieldValueInvalid",
          "metadata.ownerReferences.uid", "must not be empty", "owner uid");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"generation\":-1}}",
          "FieldValueInvalid", "metadata.generation",
          "Invalid value: -1: must be greater than or equal to 0", "generation");
    EXACT("", "ConfigMap", "{\"metadata\":\"c\"}", "FieldValueTypeInvalid", "metadata",
          "Invalid value: \"c\": must be of type object", "metadata must be an object");
}

static void test_pod(void)
{
    VALID("", "Pod", POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.25\","
          "\"ports\":[{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"TCP\"},"
          "{\"containerPort\":53,\"protocol\":\"UDP\",\"hostPort\":5353}],"
          "\"env\":[{\"name\":\"MY_VAR\",\"value\":\"1\"},{\"name\":\"my.env-name\","
          "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}],"
          "\"envFrom\":[{\"configMapRef\":{\"name\":\"cfg\"}}],"
          "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
          "\"limits\":{\"cpu\":1,\"memory\":\"1G\",\"ephemeral-storage\":\"1e3\"}},"
          "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/data\"},"
          "{\"name\":\"cfg\",\"mountPath\":\"/etc/cfg\",\"subPath\":\"a/b\"}],"
          "\"livenessProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":\"http\"},\"periodSeconds\":5},"
          "\"readinessProbe\":{\"tcpSocket\":{\"port\":80}}}],"
          "\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox\",\"command\":[\"true\"]}],"
          "\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},{\"name\":\"cfg\",\"configMap\":"
          "{\"name\":\"cfg\"}}],"
          "\"restartPolicy\":\"OnFailure\",\"dnsPolicy\":\"ClusterFirst\","
          "\"nodeSelector\":{\"disk\":\"ssd\"},\"tolerations\":[{\"key\":\"k\",\"operator\":"
          "\"Equal\",\"value\":\"v\",\"effect\":\"NoSchedule\"},{\"operator\":\"Exists\"}],"
          "\"terminationGracePeriodSeconds\":30,\"activeDeadlineSeconds\":60}"),
          "a full pod");
    EXACT("", "Pod", POD("{\"containers\":[]}"), "FieldValueRequired", "spec.containers",
          "Required value", "containers required");
    EXACT("", "Pod", POD("{}"), "FieldValueRequired", "spec.containers", "Required value",
          "no containers at all");
    EXACT("", "Pod", "{\"metadata\":{\"name\":\"web\"}}", "FieldValueRequired",
          "spec.containers", "Required value", "no spec");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\"}]}"), "FieldValueRequired",
          "spec.containers[0].image", "Required value", "image required");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\" nginx\"}]}"),
          "FieldValueInvalid", "spec.containers[0].image",
          "must not have leading or trailing whitespace", "image whitespace");
    EXACT("", "Pod", POD("{\"containers\":[{\"image\":\"nginx\"}]}"), "FieldValueRequired",
          "spec.containers[0].name", "Required value", "container name required");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"Web\",\"image\":\"nginx\"}]}"),
          "FieldValueInvalid", "spec.containers[0].name",
          "Invalid value: \"Web\": a lowercase RFC 1123 label", "container name label");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "," CTR "]}"), "FieldValueDuplicate",
          "spec.containers[1].name", "Duplicate value: \"c\"", "duplicate container");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"initContainers\":[" CTR "]}"),
          "FieldValueDuplicate", "spec.initContainers[0].name", "Duplicate value: \"c\"",
          "init container name collides");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"containerPort\":70000}]}]}"), "FieldValueInvalid",
          "spec.containers[0].ports[0].containerPort",
          "Invalid value: 70000: must be between 1 and 65535, inclusive", "containerPort range");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"protocol\":\"TCP\"}]}]}"), "FieldValueRequired",
          "spec.containers[0].ports[0].containerPort", "Required value", "containerPort required");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"containerPort\":80,\"protocol\":\"HTTP\"}]}]}"), "FieldValueNotSupported",
          "spec.containers[0].ports[0].protocol",
          "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
          "protocol enum");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"containerPort\":80,\"name\":\"Http_Port-Too-Long\"}]}]}"), "FieldValueInvalid",
          "spec.containers[0].ports[0].name", "must be no more than 15 characters",
          "port name length");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"containerPort\":80,\"name\":\"8080\"}]}]}"), "FieldValueInvalid",
          "spec.containers[0].ports[0].name", "must contain at least one letter (a-z)",
          "port name needs a letter");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"containerPort\":80,\"name\":\"web\"},{\"containerPort\":81,\"name\":\"web\"}]}]}"),
          "FieldValueDuplicate", "spec.containers[0].ports[1].name", "Duplicate value: \"web\"",
          "duplicate port name");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
          "[{\"containerPort\":80,\"hostPort\":-1}]}]}"), "FieldValueInvalid",
          "spec.containers[0].ports[0].hostPort", "Invalid value: -1", "hostPort range");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":"
          "[{\"name\":\"1abc\"}]}]}"), "FieldValueInvalid", "spec.containers[0].env[0].name",
          "Invalid value: \"1abc\": a valid environment variable name must consist of "
          "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit "
          "(e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
          "validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')", "env name");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":"
          "[{\"value\":\"v\"}]}]}"), "FieldValueRequired", "spec.containers[0].env[0].name",
          "Required value", "env name required");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":"
          "[{\"name\":\"A\",\"valueFrom\":{}}]}]}"), "FieldValueInvalid",
          "spec.containers[0].env[0].valueFrom", "must specify one of", "valueFrom empty");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"restartPolicy\":\"Sometimes\"}"),
          "FieldValueNotSupported", "spec.restartPolicy",
          "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
          "restartPolicy enum");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"dnsPolicy\":\"Google\"}"),
          "FieldValueNotSupported", "spec.dnsPolicy",
          "Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", "
          "\"ClusterFirst\", \"Default\", \"None\"", "dnsPolicy enum");
    FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"dnsPolicy\":\"None\"}"),
          "FieldValueRequired", "spec.dnsConfig", "must provide `dnsConfig`", "dns None");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"limits\":{\"cpu\":\"abc\"}}}]}"), "FieldValueInvalid",
          "spec.containers[0].resources.limits[cpu]",
          "Invalid value: \"abc\": quantities must match the regular expression "
          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", "bad quantity");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"requests\":{\"cpu\":\"2\"},\"limits\":{\"cpu\":\"1\"}}}]}"), "FieldValueInvalid",
          "spec.containers[0].resources.requests",
          "Invalid value: \"2\": must be less than or equal to cpu limit of 1", "request > limit");
    VALID("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"requests\":{\"memory\":\"1Gi\"},\"limits\":{\"memory\":\"1024Mi\"}}}]}"),
          "request == limit in other units");
    VALID("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"requests\":{\"cpu\":\"500m\",\"example.com/dev\":\"1000m\"},\"limits\":"
          "{\"cpu\":\"0.5\",\"example.com/dev\":1}}}]}"), "500m == 0.5, 1000m is an integer");
    VALID("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"requests\":{\"cpu\":\"0.3\",\"memory\":\"1.1G\"},\"limits\":"
          "{\"cpu\":\"300m\",\"memory\":\"1100M\"}}}]}"), "equal decimal quantities");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"requests\":{\"memory\":\"-1\"}}}]}"), "FieldValueInvalid",
          "spec.containers[0].resources.requests[memory]", "must be greater than or equal to 0",
          "negative quantity");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"limits\":{\"gpu\":\"1\"}}}]}"), "FieldValueInvalid",
          "spec.containers[0].resources.limits[gpu]", "must be a standard resource for containers",
          "unknown resource");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":"
          "{\"requests\":{\"example.com/gpu\":\"1\"}}}]}"), "FieldValueRequired",
          "spec.containers[0].resources.limits", "Limit must be set for non overcommitable",
          "extended resource needs a limit");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}},"
          "{\"name\":\"v\",\"emptyDir\":{}}]}"), "FieldValueDuplicate", "spec.volumes[1].name",
          "Duplicate value: \"v\"", "duplicate volume");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{},"
          "\"hostPath\":{\"path\":\"/tmp\"}}]}"), "FieldValueForbidden", "spec.volumes[0].emptyDir",
          "Forbidden: may not specify more than 1 volume type", "two volume sources");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"volumes\":[{\"name\":\"v\"}]}"),
          "FieldValueRequired", "spec.volumes[0]", "Required value: must specify a volume type",
          "volume without a source");
    EXACT("", "Pod", POD("{\"containers\":[" CTR "],\"volumes\":[{\"name\":\"v\",\"hostPath\":{}}]}"),
          "FieldValueRequired", "spec.volumes[0].hostPath.path", "Required value", "hostPath.path");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":"
          "[{\"name\":\"nope\",\"mountPath\":\"/x\"}]}]}"), "FieldValueNotFound",
          "spec.containers[0].volumeMounts[0].name", "Not found: \"nope\"", "mount of no volume");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":"
          "[{\"name\":\"v\"}]}],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}"),
          "FieldValueRequired", "spec.containers[0].volumeMounts[0].mountPath", NULL,
          "mountPath required");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"livenessProbe\":"
          "{\"exec\":{\"command\":[\"true\"]},\"tcpSocket\":{\"port\":80}}}]}"),
          "FieldValueForbidden", "spec.containers[0].livenessProbe.tcpSocket",
          "Forbidden: may not specify more than 1 handler type", "two probe handlers");
    EXACT("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"readinessProbe\":"
          "{\"periodSeconds\":3}}]}"), "FieldValueRequired", "spec.containers[0].readinessProbe",
          "Required value: must specify a handler type", "probe without handler");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"livenessProbe\":"
          "{\"exec\":{\"command\":[\"true\"]},\"successThreshold\":2}}]}"), "FieldValueInvalid",
          "spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1",
          "liveness successThreshold");
    FAILS("", "Pod", POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"readinessProbe\":"
          "{\"httpGet\":{\"port\":0}}}]}"), "FieldValueInvalid",
          "spec.containers[0].readinessProbe.httpGet.port", "must be between 1 and 65535",
          "probe port");
    FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"tolerations\":[{\"operator\":\"Equal\","
          "\"value\":\"v\"}]}"), "FieldValueInvalid", "spec.tolerations[0].operator",
          "operator must be Exists when `key` is empty", "toleration without key");
    FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"tolerations\":[{\"key\":\"k\",\"effect\":"
          "\"Never\"}]}"), "FieldValueNotSupported", "spec.tolerations[0].effect",
          "supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"", "taint effect");
    FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"activeDeadlineSeconds\":0}"),
          "FieldValueInvalid", "spec.activeDeadlineSeconds",
          "Invalid value: 0: must be between 1 and 2147483647, inclusive", "activeDeadlineSeconds");
    FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"nodeName\":\"Node_1\"}"),
          "FieldValueInvalid", "spec.nodeName", "RFC 1123 subdomain", "nodeName");
    FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"ephemeralContainers\":[{\"name\":\"e\"}]}"),
          "FieldValueForbidden", "spec.ephemeralContainers", "cannot be set on create",
          "ephemeral containers on create");
}

static void test_quantity(void)
{
    static const struct { const char *s; long double want; } good[] = {
        {"250m", 0.25L}, {"1.5", 1.5L}, {"64Mi", 67108864.0L}, {"1G", 1e9L}, {"1e3", 1000.0L},
        {"1Ki", 1024.0L}, {"+2", 2.0L}, {"-1", -1.0L}, {".5", 0.5L}, {"100n", 1e-7L},
        {"5E-2", 0.05L}, {"1E", 1e18L},
    };
    static const char *const bad[] = {"abc", "1Zi", "", "1..2", "1.2.3", "Mi", "1 Mi",
                                      "1e", "1KiB", "--1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        long double q = 0;
        const char *err = NULL;
        int rc = val_quantity_parse(good[i].s, &q, &err);
        long double diff = q - good[i].want;
        ok(rc == 0 && (diff < 0 ? -diff : diff) <= (good[i].want < 0 ? -good[i].want : good[i].want) * 1e-12L + 1e-15L,
           "quantity %s parses", good[i].s);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long double q;
        const char *err = NULL;
        ok(val_quantity_parse(bad[i], &q, &err) < 0 && err, "quantity '%s' rejected", bad[i]);
    }
}

static void test_workloads(void)
{
    VALID("apps", "Deployment", DEPLOY("{\"replicas\":3," SEL "," TMPL ","
          "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\","
          "\"maxUnavailable\":0}},\"minReadySeconds\":5,\"revisionHistoryLimit\":10,"
          "\"progressDeadlineSeconds\":600}"), "deployment");
    VALID("apps", "Deployment", DEPLOY("{\"selector\":{\"matchExpressions\":[{\"key\":\"app\","
          "\"operator\":\"In\",\"values\":[\"x\",\"y\"]},{\"key\":\"gone\",\"operator\":"
          "\"DoesNotExist\"}]}," TMPL ",\"strategy\":{\"type\":\"Recreate\"}}"),
          "deployment with matchExpressions");
    FAILS("apps", "Deployment", DEPLOY("{" TMPL "}"), "FieldValueRequired", "spec.selector",
          "Required value", "selector required");
    EXACT("apps", "Deployment", DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"y\"}}," TMPL "}"),
          "FieldValueInvalid", "spec.template.metadata.labels",
          "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
          "selector must match template");
    FAILS("apps", "Deployment", DEPLOY("{\"selector\":{}," TMPL "}"), "FieldValueInvalid",
          "spec.selector", "empty selector is invalid for deployment", "empty selector");
    FAILS("apps", "Deployment", DEPLOY("{\"selector\":{\"matchExpressions\":[{\"key\":\"app\","
          "\"operator\":\"Near\"}]}," TMPL "}"), "FieldValueInvalid",
          "spec.selector.matchExpressions[0].operator", "not a valid selector operator",
          "bad operator");
    EXACT("apps", "Deployment", DEPLOY("{\"replicas\":-1," SEL "," TMPL "}"), "FieldValueInvalid",
          "spec.replicas", "Invalid value: -1: must be greater than or equal to 0", "replicas");
    FAILS("apps", "Deployment", DEPLOY("{\"minReadySeconds\":-1," SEL "," TMPL "}"),
          "FieldValueInvalid", "spec.minReadySeconds", "must be greater than or equal to 0",
          "minReadySeconds");
    EXACT("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"strategy\":{\"type\":\"Canary\"}}"),
          "FieldValueNotSupported", "spec.strategy",
          "Unsupported value: apps.DeploymentStrategy{Type:\"Canary\", RollingUpdate:"
          "(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\"",
          "strategy type");
    EXACT("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"strategy\":{\"type\":\"Recreate\","
          "\"rollingUpdate\":{\"maxSurge\":1}}}"), "FieldValueForbidden",
          "spec.strategy.rollingUpdate",
          "Forbidden: may not be specified when strategy `type` is 'Recreate'", "recreate+rolling");
    EXACT("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"strategy\":{\"rollingUpdate\":"
          "{\"maxSurge\":0,\"maxUnavailable\":0}}}"), "FieldValueInvalid",
          "spec.strategy.rollingUpdate.maxUnavailable",
          "Invalid value: 0: may not be 0 when `maxSurge` is 0", "both zero");
    FAILS("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"strategy\":{\"rollingUpdate\":"
          "{\"maxSurge\":\"0%\",\"maxUnavailable\":\"0%\"}}}"), "FieldValueInvalid",
          "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0",
          "both zero percent");
    FAILS("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"strategy\":{\"rollingUpdate\":"
          "{\"maxSurge\":\"ten\"}}}"), "FieldValueInvalid", "spec.strategy.rollingUpdate.maxSurge",
          "a valid percent string must be a numeric string followed by an ending '%'",
          "bad percent");
    FAILS("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"strategy\":{\"rollingUpdate\":"
          "{\"maxUnavailable\":\"150%\"}}}"), "FieldValueInvalid",
          "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%", "150%");
    FAILS("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"revisionHistoryLimit\":-2}"),
          "FieldValueInvalid", "spec.revisionHistoryLimit", "must be greater than or equal to 0",
          "revisionHistoryLimit");
    EXACT("apps", "Deployment", DEPLOY("{" SEL "," TMPL ",\"minReadySeconds\":30,"
          "\"progressDeadlineSeconds\":30}"), "FieldValueInvalid", "spec.progressDeadlineSeconds",
          "Invalid value: 30: must be greater than minReadySeconds", "progress deadline");
    EXACT("apps", "Deployment", DEPLOY("{" SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[" CTR "]}}}"),
          "FieldValueNotSupported", "spec.template.spec.restartPolicy",
          "Unsupported value: \"Never\": supported values: \"Always\"", "template restartPolicy");
    FAILS("apps", "Deployment", DEPLOY("{" SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\",\"-b\":\"y\"}},\"spec\":{\"containers\":[" CTR "]}}}"),
          "FieldValueInvalid", "spec.template.labels", "name part", "template label key");
    EXACT("apps", "Deployment", DEPLOY("{" SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\"}},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}"),
          "FieldValueRequired", "spec.template.spec.containers[0].image", "Required value",
          "template image required");
    FAILS("apps", "Deployment", DEPLOY("{" SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\"}},\"spec\":{\"containers\":[" CTR "],\"activeDeadlineSeconds\":5}}}"),
          "FieldValueInvalid", "spec.template.spec.activeDeadlineSeconds",
          "activeDeadlineSeconds in Deployment is not Supported", "template deadline");

    VALID("apps", "ReplicaSet", "{\"metadata\":{\"name\":\"rs\"},\"spec\":{\"replicas\":2,"
          SEL "," TMPL "}}", "replicaset");
    FAILS("apps", "ReplicaSet", "{\"metadata\":{\"name\":\"rs\"},\"spec\":{" TMPL "}}",
          "FieldValueRequired", "spec.selector", "Required value", "rs selector required");
    FAILS("apps", "ReplicaSet", "{\"metadata\":{\"name\":\"rs\"},\"spec\":{\"selector\":"
          "{\"matchLabels\":{\"app\":\"z\"}}," TMPL "}}", "FieldValueInvalid",
          "spec.template.metadata.labels", "`selector` does not match template `labels`",
          "rs mismatch");
    VALID("", "ReplicationController", "{\"metadata\":{\"name\":\"rc\"},\"spec\":{\"replicas\":1,"
          TMPL "}}", "rc without selector takes template labels");
    VALID("", "ReplicationController", "{\"metadata\":{\"name\":\"rc\"},\"spec\":{\"selector\":"
          "{\"app\":\"x\"}," TMPL "}}", "rc with selector");
    FAILS("", "ReplicationController", "{\"metadata\":{\"name\":\"rc\"},\"spec\":{\"selector\":"
          "{\"app\":\"y\"}," TMPL "}}", "FieldValueInvalid", "spec.template.metadata.labels",
          "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match", "rc mismatch");
    FAILS("", "ReplicationController", "{\"metadata\":{\"name\":\"rc\"},\"spec\":{}}",
          "FieldValueRequired", "spec.template", "Required value", "rc template required");
    FAILS("", "ReplicationController", "{\"metadata\":{\"name\":\"rc\"},\"spec\":{\"template\":"
          "{\"spec\":{\"containers\":[" CTR "]}}}}", "FieldValueRequired", "spec.selector",
          "Required value", "rc with no labels anywhere");
}

static void test_service(void)
{
    VALID("", "Service", SVC("{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\","
          "\"port\":80,\"targetPort\":8080,\"protocol\":\"TCP\"},{\"name\":\"https\",\"port\":443,"
          "\"targetPort\":\"https\"}],\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.10\","
          "\"sessionAffinity\":\"None\"}"), "service");
    VALID("", "Service", SVC("{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}"),
          "nodeport service");
    VALID("", "Service", SVC("{\"clusterIP\":\"None\",\"selector\":{\"app\":\"db\"}}"),
          "headless service needs no ports");
    VALID("", "Service", SVC("{\"type\":\"ExternalName\",\"externalName\":\"db.example.com.\"}"),
          "externalname service");
    EXACT("", "Service", SVC("{\"selector\":{\"app\":\"web\"}}"), "FieldValueRequired",
          "spec.ports", "Required value", "ports required");
    EXACT("", "Service", SVC("{\"ports\":[{\"port\":0}]}"), "FieldValueInvalid",
          "spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive",
          "port range");
    EXACT("", "Service", SVC("{\"ports\":[{\"name\":\"a\",\"port\":80},{\"port\":81}]}"),
          "FieldValueRequired", "spec.ports[1].name", "Required value", "names with many ports");
    FAILS("", "Service", SVC("{\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"a\",\"port\":81}]}"),
          "FieldValueDuplicate", "spec.ports[1].name", "Duplicate value: \"a\"", "dup port names");
    EXACT("", "Service", SVC("{\"ports\":[{\"port\":80,\"protocol\":\"ICMP\"}]}"),
          "FieldValueNotSupported", "spec.ports[0].protocol",
          "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"", "protocol");
    FAILS("", "Service", SVC("{\"ports\":[{\"port\":80,\"targetPort\":70000}]}"),
          "FieldValueInvalid", "spec.ports[0].targetPort", "must be between 1 and 65535",
          "targetPort int");
    FAILS("", "Service", SVC("{\"ports\":[{\"port\":80,\"targetPort\":\"8080\"}]}"),
          "FieldValueInvalid", "spec.ports[0].targetPort", "must contain at least one letter",
          "targetPort string must be a name");
    EXACT("", "Service", SVC("{\"type\":\"Magic\",\"ports\":[{\"port\":80}]}"),
          "FieldValueNotSupported", "spec.type",
          "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", "
          "\"LoadBalancer\", \"NodePort\"", "type enum");
    EXACT("", "Service", SVC("{\"type\":\"ExternalName\"}"), "FieldValueRequired",
          "spec.externalName", "Required value", "externalName required");
    EXACT("", "Service", SVC("{\"ports\":[{\"port\":80,\"nodePort\":30000}]}"),
          "FieldValueForbidden", "spec.ports[0].nodePort",
          "Forbidden: may not be used when `type` is 'ClusterIP'", "nodePort on ClusterIP");
    FAILS("", "Service", SVC("{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":70000}]}"),
          "FieldValueInvalid", "spec.ports[0].nodePort", "must be between 1 and 65535", "nodePort range");
    FAILS("", "Service", SVC("{\"ports\":[{\"port\":80}],\"selector\":{\"app\":\"a b\"}}"),
          "FieldValueInvalid", "spec.selector", "a valid label must be", "selector labels");
    EXACT("", "Service", SVC("{\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":80}]}"),
          "FieldValueDuplicate", "spec.ports[1]",
          "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:"
          "(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, "
          "NodePort:0}", "duplicate port");
    FAILS("", "Service", SVC("{\"ports\":[{\"port\":80}],\"clusterIP\":\"10.0.0.300\"}"),
          "FieldValueInvalid", "spec.clusterIPs[0]", "must be a valid IP address", "clusterIP");
    FAILS("", "Service", SVC("{\"ports\":[{\"port\":80}],\"sessionAffinity\":\"Sticky\"}"),
          "FieldValueNotSupported", "spec.sessionAffinity", "\"ClientIP\", \"None\"", "affinity");
}

static void test_other_kinds(void)
{
    /* ConfigMap */
    VALID("", "ConfigMap", "{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"a.conf\":\"x\","
          "\"KEY_NAME\":\"y\"},\"binaryData\":{\"bin\":\"AAEC\"}}", "configmap");
    EXACT("", "ConfigMap", "{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"a/b\":\"x\"}}",
          "FieldValueInvalid", "data[a/b]",
          "Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, "
          "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
          "validation is '[-._a-zA-Z0-9]+')", "config key");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"..x\":\"x\"}}",
          "FieldValueInvalid", "data[..x]", "must not start with '..'", "config key dots");
    FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"k\":\"x\"},"
          "\"binaryData\":{\"k\":\"AA==\"}}", "FieldValueInvalid", "data[k]",
          "duplicate of key present in binaryData", "duplicate data key");
    EXACT("", "ConfigMap", "{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"k\":1}}",
          "FieldValueTypeInvalid", "data[k]", "Invalid value: 1: must be of type string",
          "data values are strings");
    {
        json_t *obj = parse("{\"metadata\":{\"name\":\"cfg\"},\"data\":{}}");
        size_t n = 1024 * 1024 + 1;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        json_object_set_new(json_object_get(obj, "data"), "big", json_string(big));
        free(big);
        json_t *causes = json_array();
        validate_object("", "ConfigMap", obj, causes);
        ok(only(causes, "FieldValueTooLong", "", "Too long: must have at most 1048576 bytes"),
           "configmap over 1 MiB");
        json_decref(causes);
        json_decref(obj);
    }
    /* Secret */
    VALID("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\",\"data\":"
          "{\"password\":\"c2VjcmV0\",\"nl\":\"c2Vj\\ncmV0\"},\"stringData\":{\"user\":\"admin\"}}",
          "secret");
    VALID("", "Secret", "{\"metadata\":{\"name\":\"tls\"},\"type\":\"kubernetes.io/tls\","
          "\"data\":{\"tls.crt\":\"Y2VydA==\",\"tls.key\":\"a2V5\"}}", "tls secret");
    VALID("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"type\":\"example.com/custom\"}",
          "custom secret type");
    EXACT("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"not base64!\"}}",
          "FieldValueInvalid", "data[k]",
          "Invalid value: \"<secret contents redacted>\": illegal base64 data at input byte 3",
          "secret base64");
    FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"abc\"}}",
          "FieldValueInvalid", "data[k]", "illegal base64 data", "base64 without padding");
    FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"data\":{\"bad key\":\"YQ==\"}}",
          "FieldValueInvalid", "data[bad key]", "a valid config key", "secret key");
    FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/tls\","
          "\"data\":{\"tls.crt\":\"Y2VydA==\"}}", "FieldValueRequired", "data[tls.key]",
          "Required value", "tls key required");
    FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/dockerconfigjson\","
          "\"data\":{\".dockerconfigjson\":\"bm90IGpzb24=\"}}", "FieldValueInvalid",
          "data[.dockerconfigjson]", "<secret contents redacted>", "dockerconfigjson is JSON");
    FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/service-account-token\"}",
          "FieldValueRequired", "metadata.annotations[kubernetes.io/service-account.name]", NULL,
          "sa token annotation");
    /* Lease */
    VALID("coordination.k8s.io", "Lease", "{\"metadata\":{\"name\":\"node-1\",\"namespace\":"
          "\"kube-node-lease\"},\"spec\":{\"holderIdentity\":\"node-1\",\"leaseDurationSeconds\":40,"
          "\"renewTime\":\"2024-05-01T10:00:00.123456Z\",\"acquireTime\":\"2024-05-01T10:00:00Z\","
          "\"leaseTransitions\":0}}", "lease");
    EXACT("coordination.k8s.io", "Lease", "{\"metadata\":{\"name\":\"l\"},\"spec\":"
          "{\"leaseDurationSeconds\":0}}", "FieldValueInvalid", "spec.leaseDurationSeconds",
          "Invalid value: 0: must be greater than 0", "lease duration");
    FAILS("coordination.k8s.io", "Lease", "{\"metadata\":{\"name\":\"l\"},\"spec\":"
          "{\"leaseTransitions\":-1}}", "FieldValueInvalid", "spec.leaseTransitions",
          "must be greater than or equal to 0", "lease transitions");
    EXACT("coordination.k8s.io", "Lease", "{\"metadata\":{\"name\":\"l\"},\"spec\":"
          "{\"holderIdentity\":7}}", "FieldValueTypeInvalid", "spec.holderIdentity",
          "Invalid value: 7: must be of type string", "holderIdentity type");
    FAILS("coordination.k8s.io", "Lease", "{\"metadata\":{\"name\":\"l\"},\"spec\":"
          "{\"renewTime\":\"yesterday\"}}", "FieldValueInvalid", "spec.renewTime",
          "Invalid value: \"yesterday\"", "renewTime format");
    FAILS("coordination.k8s.io", "Lease", "{\"metadata\":{\"name\":\"l\"},\"spec\":"
          "{\"leaseDurationSeconds\":\"40\"}}", "FieldValueTypeInvalid",
          "spec.leaseDurationSeconds", "must be of type integer", "duration type");
    /* Node */
    VALID("", "Node", "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"kubernetes.io/hostname\":\"n1\"}},"
          "\"spec\":{\"podCIDR\":\"10.244.1.0/24\",\"podCIDRs\":[\"10.244.1.0/24\"],"
          "\"taints\":[{\"key\":\"node-role.kubernetes.io/control-plane\",\"effect\":\"NoSchedule\"}]}}",
          "node");
    EXACT("", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.244.1.0/33\"}}",
          "FieldValueInvalid", "spec.podCIDRs[0]",
          "Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
          "2001:db8::/64)", "podCIDR");
    FAILS("", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"taints\":[{\"key\":\"k\"}]}}",
          "FieldValueRequired", "spec.taints[0].effect", "Required value", "taint effect required");
    FAILS("", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"taints\":[{\"key\":\"k\","
          "\"effect\":\"NoSchedule\"},{\"key\":\"k\",\"effect\":\"NoSchedule\"}]}}",
          "FieldValueDuplicate", "spec.taints[1]", "taints must be unique by key and effect pair",
          "duplicate taint");
    /* Endpoints */
    VALID("", "Endpoints", "{\"metadata\":{\"name\":\"web\"},\"subsets\":[{\"addresses\":"
          "[{\"ip\":\"10.244.1.5\",\"nodeName\":\"n1\"}],\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}]}",
          "endpoints");
    VALID("", "Endpoints", "{\"metadata\":{\"name\":\"web\"}}", "endpoints without subsets");
    FAILS("", "Endpoints", "{\"metadata\":{\"name\":\"web\"},\"subsets\":[{\"addresses\":"
          "[{\"ip\":\"10.244.1\"}]}]}", "FieldValueInvalid", "subsets[0].addresses[0].ip",
          "Invalid value: \"10.244.1\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
          "endpoint ip");
    FAILS("", "Endpoints", "{\"metadata\":{\"name\":\"web\"},\"subsets\":[{\"addresses\":"
          "[{\"ip\":\"127.0.0.1\"}]}]}", "FieldValueInvalid", "subsets[0].addresses[0].ip",
          "may not be in the loopback range", "loopback endpoint");
    FAILS("", "Endpoints", "{\"metadata\":{\"name\":\"web\"},\"subsets\":[{\"addresses\":"
          "[{\"ip\":\"10.0.0.1\"}],\"ports\":[{\"port\":0}]}]}", "FieldValueInvalid",
          "subsets[0].ports[0].port", "must be between 1 and 65535", "endpoint port");
    FAILS("", "Endpoints", "{\"metadata\":{\"name\":\"web\"},\"subsets\":[{}]}",
          "FieldValueRequired", "subsets[0]", "must specify `addresses` or `notReadyAddresses`",
          "empty subset");
    /* Event */
    EXACT("", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"team\"},\"involvedObject\":"
          "{\"kind\":\"Pod\",\"name\":\"p\",\"namespace\":\"other\"},\"reason\":\"X\"}",
          "FieldValueInvalid", "involvedObject.namespace",
          "Invalid value: \"other\": does not match event.namespace", "event namespace");
    FAILS("", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},"
          "\"involvedObject\":\"pod\"}", "FieldValueTypeInvalid", "involvedObject",
          "must be of type object", "involvedObject type");
    FAILS("", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},"
          "\"reason\":[1]}", "FieldValueTypeInvalid", "reason", "must be of type string",
          "reason type");
    FAILS("", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},"
          "\"eventTime\":\"2024-05-01T10:00:00.000000Z\",\"involvedObject\":{\"namespace\":\"default\"}}",
          "FieldValueRequired", "reportingComponent", NULL, "new-style event fields");
    /* Namespace */
    VALID("", "Namespace", "{\"metadata\":{\"name\":\"team-a\"},\"spec\":{\"finalizers\":[\"kubernetes\"]}}",
          "namespace");
    FAILS("", "Namespace", "{\"metadata\":{\"name\":\"team-a\"},\"spec\":{\"finalizers\":[\"mine\"]}}",
          "FieldValueInvalid", "spec.finalizers", "neither a standard finalizer", "ns finalizer");
}

static void test_updates(void)
{
    const char *dep = DEPLOY("{" SEL "," TMPL "}");
    UPD_OK("apps", "Deployment", dep, DEPLOY("{\"replicas\":5," SEL "," TMPL "}"), "scale a deployment");
    UPD_FAILS("apps", "Deployment", dep, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"x\","
              "\"v\":\"2\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\",\"v\":\"2\"}},"
              "\"spec\":{\"containers\":[" CTR "]}}}"), "FieldValueInvalid", "spec.selector",
              "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\", "
              "\"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
              "deployment selector is immutable");
    UPD_FAILS("apps", "ReplicaSet", "{\"metadata\":{\"name\":\"rs\"},\"spec\":{" SEL "," TMPL "}}",
              "{\"metadata\":{\"name\":\"rs\"},\"spec\":{\"selector\":{\"matchLabels\":{}},"
              "\"template\":{\"spec\":{\"containers\":[" CTR "]}}}}", "FieldValueInvalid",
              "spec.selector", "field is immutable", "replicaset selector is immutable");
    UPD_FAILS("apps", "Deployment", dep,
              "{\"metadata\":{\"name\":\"other\",\"namespace\":\"default\"},\"spec\":{" SEL "," TMPL "}}",
              "FieldValueInvalid", "metadata.name", "Invalid value: \"other\": field is immutable",
              "name is immutable");
    UPD_FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"uid\":\"1\"}}",
              "{\"metadata\":{\"name\":\"c\",\"uid\":\"2\"}}", "FieldValueInvalid", "metadata.uid",
              "field is immutable", "uid is immutable");
    UPD_OK("", "ConfigMap", "{\"metadata\":{\"name\":\"c\",\"uid\":\"1\",\"creationTimestamp\":"
           "\"2024-01-01T00:00:00Z\"}}", "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"b\"}}",
           "empty uid and timestamp are filled by the server");

    const char *pod = POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}],"
                          "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}");
    UPD_OK("", "Pod", pod, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:2\"}],"
           "\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"},{\"key\":\"b\",\"operator\":"
           "\"Exists\"}],\"activeDeadlineSeconds\":100}"), "pod image, tolerations, deadline");
    UPD_FAILS("", "Pod", pod, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\","
              "\"ports\":[{\"containerPort\":80}]}],\"tolerations\":[{\"key\":\"a\",\"operator\":"
              "\"Exists\"}]}"), "FieldValueForbidden", "spec",
              "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
              "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
              "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
              "(allow it to be set to 1 if it was previously negative)", "pod spec is immutable");
    UPD_FAILS("", "Pod", pod, POD("{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}"),
              "FieldValueForbidden", "spec.tolerations",
              "existing toleration can not be modified except its tolerationSeconds",
              "tolerations can only be added");
    UPD_FAILS("", "Pod", POD("{\"containers\":[" CTR "],\"activeDeadlineSeconds\":10}"),
              POD("{\"containers\":[" CTR "],\"activeDeadlineSeconds\":20}"), "FieldValueInvalid",
              "spec.activeDeadlineSeconds", "must be less than or equal to previous value",
              "deadline only shrinks");

    const char *svc = SVC("{\"ports\":[{\"port\":80}],\"clusterIP\":\"10.96.0.5\"}");
    UPD_OK("", "Service", svc, SVC("{\"ports\":[{\"port\":81}],\"clusterIP\":\"10.96.0.5\"}"),
           "service port change");
    UPD_OK("", "Service", svc, SVC("{\"ports\":[{\"port\":81}]}"), "service update without clusterIP");
    UPD_FAILS("", "Service", svc, SVC("{\"ports\":[{\"port\":80}],\"clusterIP\":\"10.96.0.6\"}"),
              "FieldValueInvalid", "spec.clusterIPs[0]",
              "Invalid value: []string{\"10.96.0.6\"}: may not change once set", "clusterIP immutable");

    UPD_OK("", "ConfigMap", "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"1\"}}",
           "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"2\"}}", "mutable configmap");
    UPD_FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\"},\"immutable\":true,\"data\":{\"a\":\"1\"}}",
              "{\"metadata\":{\"name\":\"c\"},\"immutable\":true,\"data\":{\"a\":\"2\"}}",
              "FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set",
              "immutable configmap data");
    UPD_FAILS("", "ConfigMap", "{\"metadata\":{\"name\":\"c\"},\"immutable\":true}",
              "{\"metadata\":{\"name\":\"c\"},\"immutable\":false}", "FieldValueForbidden",
              "immutable", NULL, "immutable stays set");
    UPD_FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"immutable\":true,\"data\":{\"a\":\"YQ==\"}}",
              "{\"metadata\":{\"name\":\"s\"},\"immutable\":true,\"stringData\":{\"a\":\"b\"},"
              "\"data\":{\"a\":\"YQ==\"}}", "FieldValueForbidden", "data", NULL,
              "immutable secret via stringData");
    UPD_OK("", "Secret", "{\"metadata\":{\"name\":\"s\"},\"immutable\":true,\"data\":{\"a\":\"YQ==\"}}",
           "{\"metadata\":{\"name\":\"s\",\"labels\":{\"x\":\"y\"}},\"immutable\":true,"
           "\"stringData\":{\"a\":\"a\"}}", "same secret data, other encoding");
    UPD_FAILS("", "Secret", "{\"metadata\":{\"name\":\"s\"}}",
              "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/basic-auth\","
              "\"stringData\":{\"username\":\"u\"}}", "FieldValueInvalid", "type",
              "field is immutable", "secret type immutable");
    UPD_FAILS("", "Node", "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"podCIDR\":\"10.0.1.0/24\"}}",
              "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"podCIDR\":\"10.0.2.0/24\"}}",
              "FieldValueForbidden", "spec.podCIDRs", "may not change podCIDR", "podCIDR stays");
    {
        /* validate_update runs the create checks too */
        json_t *c = run_update("", "ConfigMap", "{\"metadata\":{\"name\":\"c\"}}",
                               "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a\":\"b c\"}}}");
        ok(has(c, "FieldValueInvalid", "metadata.labels", NULL), "update also validates the object");
        json_decref(c);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Wrong types anywhere: replace each node of valid objects with values of other types. */

static const char *const kinds[][2] = {
    {"", "Pod"}, {"", "Service"}, {"", "Endpoints"}, {"", "Node"}, {"", "Event"},
    {"", "ConfigMap"}, {"", "Secret"}, {"", "ReplicationController"}, {"apps", "Deployment"},
    {"apps", "ReplicaSet"}, {"coordination.k8s.io", "Lease"}, {"", "Namespace"},
    {"apps", "DaemonSet"}, {"apps", "StatefulSet"}, {"apps", "ControllerRevision"},
    {"example.com", "Widget"},
};

static long mutations, repeats;

/* A field read twice would report the same cause twice: count identical causes. */
static void count_repeats(const json_t *causes, const char *kind)
{
    for (size_t i = 0; i < json_array_size(causes); i++)
        for (size_t j = i + 1; j < json_array_size(causes); j++)
            if (json_equal(json_array_get(causes, i), json_array_get(causes, j))) {
                if (repeats++ < 5) {
                    diag("repeated cause for %s:", kind);
                    dump_causes(json_array_get(causes, i));
                }
            }
}

static void validate_all(const json_t *obj, const json_t *old)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        json_t *causes = json_array();
        validate_object(kinds[k][0], kinds[k][1], obj, causes);
        count_repeats(causes, kinds[k][1]);
        json_decref(causes);
        if (old) {
            causes = json_array();
            validate_update(kinds[k][0], kinds[k][1], old, obj, causes);
            count_repeats(causes, kinds[k][1]);
            json_decref(causes);
        }
    }
    mutations++;
}

static json_t *replacement(int i)
{
    switch (i) {
    case 0: return json_null();
    case 1: return json_integer(-7);
    case 2: return json_string("x y");
    case 3: return json_pack("[i,s,{}]", 1, "a");
    case 4: return json_pack("{s:i}", "k", 1);
    case 5: return json_true();
    case 6: return json_real(1.5);
    default: return json_string("");
    }
}

/* Walk root; at each member of each container, try every replacement, validate, restore. */
static void mutate_walk(json_t *root, json_t *node, const json_t *pristine, int depth)
{
    if (depth > 12)
        return;
    if (json_is_object(node)) {
        const char *k;
        json_t *val;
        void *tmp;
        json_object_foreach_safe(node, tmp, k, val) {
            json_t *saved = json_incref(val);
            for (int r = 0; r < 8; r++) {
                json_object_set_new(node, k, replacement(r));
                validate_all(root, pristine);
            }
            json_object_set_new(node, k, saved);
            mutate_walk(root, saved, pristine, depth + 1);
        }
    } else if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            json_t *saved = json_incref(json_array_get(node, i));
            for (int r = 0; r < 8; r++) {
                json_array_set_new(node, i, replacement(r));
                validate_all(root, pristine);
            }
            json_array_set_new(node, i, saved);
            mutate_walk(root, saved, pristine, depth + 1);
        }
    }
}

static void test_wrong_types(void)
{
    static const char *const seeds[] = {
        POD("{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,"
            "\"name\":\"p\"}],\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
            "\"s\",\"key\":\"k\"}}}],\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":"
            "{\"cpu\":\"1\"}},\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/v\"}],"
            "\"livenessProbe\":{\"httpGet\":{\"port\":80}}}],\"volumes\":[{\"name\":\"v\","
            "\"emptyDir\":{}}],\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],"
            "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\"}]}"),
        DEPLOY("{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"x\"},\"matchExpressions\":"
               "[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"b\"]}]}," TMPL ",\"strategy\":"
               "{\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":\"10%\"}},"
               "\"progressDeadlineSeconds\":60}"),
        DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
           "{\"maxUnavailable\":\"10%\",\"maxSurge\":0}},\"minReadySeconds\":1,"
           "\"revisionHistoryLimit\":2}"),
        STS("{\"replicas\":1,\"podManagementPolicy\":\"Parallel\"," SEL "," TMPL ","
            "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":0}},"
            "\"ordinals\":{\"start\":1},\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":"
            "\"Retain\",\"whenScaled\":\"Delete\"},\"volumeClaimTemplates\":[{\"metadata\":"
            "{\"name\":\"d\"}}]}"),
        "{\"metadata\":{\"name\":\"cr\"},\"data\":{\"spec\":{}},\"revision\":2}",
        SVC("{\"ports\":[{\"name\":\"a\",\"port\":80,\"targetPort\":\"http\",\"nodePort\":30001}],"
            "\"selector\":{\"a\":\"b\"},\"clusterIP\":\"10.0.0.1\",\"clusterIPs\":[\"10.0.0.1\"],"
            "\"type\":\"NodePort\"}"),
        "{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"b\"},\"annotations\":{\"c\":\"d\"},"
        "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"X\",\"name\":\"x\",\"uid\":\"u\","
        "\"controller\":true}],\"finalizers\":[\"a/b\"]},\"spec\":{\"podCIDR\":\"10.0.0.0/24\","
        "\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}],\"finalizers\":[\"kubernetes\"],"
        "\"holderIdentity\":\"h\",\"leaseDurationSeconds\":1,\"renewTime\":\"2024-01-01T00:00:00Z\","
        "\"selector\":{\"a\":\"b\"},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}}}},"
        "\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"}],\"ports\":[{\"port\":1}]}],"
        "\"data\":{\"k\":\"YQ==\"},\"binaryData\":{\"b\":\"YQ==\"},\"stringData\":{\"s\":\"t\"},"
        "\"type\":\"kubernetes.io/tls\",\"immutable\":true,\"involvedObject\":{\"namespace\":\"n\"},"
        "\"eventTime\":\"2024-01-01T00:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        json_t *obj = parse(seeds[i]);
        json_t *pristine = json_deep_copy(obj);
        mutate_walk(obj, obj, pristine, 0);
        ok(json_equal(obj, pristine), "seed %zu restored after mutation", i);
        json_decref(obj);
        json_decref(pristine);
    }
    /* Whole-object oddities. */
    static const char *const odd[] = {"null", "[]", "\"pod\"", "5", "{}",
                                      "{\"metadata\":null,\"spec\":null}", "{\"spec\":[]}"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        json_t *obj = json_loads(odd[i], JSON_DECODE_ANY, NULL);
        validate_all(obj, obj);
        validate_all(obj, NULL);
        json_decref(obj);
    }
    {
        json_t *causes = json_array();
        ok(validate_object("", "Pod", NULL, causes) == 1, "NULL object is one cause");
        ok(validate_object("", "Pod", NULL, NULL) == 0, "NULL causes is a no-op");
        json_decref(causes);
    }
    ok(mutations > 1000, "ran %ld mutated validations without crashing", mutations);
    is_int(repeats, 0, "no cause is reported twice");
}

/* Path and message edge cases: long keys, non-UTF-8-ish content, Go quoting. */
static void test_quoting(void)
{
    char *q = val_quote("a\"b\\c\n\x01\xc3\xa9");
    is_str(q, "\"a\\\"b\\\\c\\n\\x01\xc3\xa9\"", "Go quoting of strings");
    free(q);
    json_t *obj = parse("{\"metadata\":{\"name\":\"c\"},\"data\":{}}");
    char key[3000];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    key[10] = ' ';
    json_object_set_new(json_object_get(obj, "data"), key, json_string("v"));
    json_t *causes = json_array();
    validate_object("", "ConfigMap", obj, causes);
    ok(json_array_size(causes) >= 1, "a 3000-byte bad key is reported");
    const char *field = json_string_value(json_object_get(json_array_get(causes, 0), "field"));
    ok(field && strlen(field) < VAL_PATH_MAX, "field path stays bounded");
    json_decref(causes);
    json_decref(obj);
}

/* apps/v1 DaemonSet, StatefulSet, ControllerRevision: kube 1.31's paths and messages. */
static void test_apps_kinds(void)
{
    VALID("apps", "DaemonSet", DS("{" SEL "," TMPL "," DS_RU "}"), "daemonset");
    VALID("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"OnDelete\"}}"),
          "daemonset OnDelete");
    VALID("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\","
          "\"rollingUpdate\":{\"maxUnavailable\":0,\"maxSurge\":\"25%\"}}}"),
          "daemonset surge only");
    EXACT("apps", "DaemonSet", DS("{\"selector\":{\"matchLabels\":{\"app\":\"y\"}}," TMPL "," DS_RU "}"),
          "FieldValueInvalid", "spec.template.metadata.labels",
          "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
          "daemonset selector mismatch");
    EXACT("apps", "DaemonSet", DS("{" TMPL "," DS_RU "}"), "FieldValueInvalid",
          "spec.template.metadata.labels",
          "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
          "daemonset without a selector selects nothing");
    EXACT("apps", "DaemonSet", DS("{\"selector\":{}," TMPL "," DS_RU "}"), "FieldValueInvalid",
          "spec.selector", "Invalid value: {}: empty selector is invalid for daemonset",
          "daemonset empty selector");
    FAILS("apps", "DaemonSet", DS("{" SEL ",\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
          "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[" CTR "]}}," DS_RU "}"),
          "FieldValueNotSupported", "spec.template.spec.restartPolicy",
          "Unsupported value: \"Never\": supported values: \"Always\"", "daemonset restartPolicy");
    FAILS("apps", "DaemonSet", DS("{" SEL ",\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
          "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}," DS_RU "}"), "FieldValueRequired",
          "spec.template.spec.containers[0].image", "Required value", "daemonset template pod spec");
    FAILS("apps", "DaemonSet", DS("{" SEL ",\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}}},"
          DS_RU "}"), "FieldValueRequired", "spec.template.spec.containers", "Required value",
          "daemonset template without containers");
    VALID("apps", "DaemonSet", DS("{" SEL ",\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
          "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\" nginx\"}]}}," DS_RU "}"),
          "a template image may have surrounding spaces (only pods are checked)");
    FAILS("apps", "DaemonSet", DS("{" SEL ",\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
          "\"spec\":{\"activeDeadlineSeconds\":5,\"containers\":[" CTR "]}}," DS_RU "}"),
          "FieldValueForbidden", "spec.template.spec.activeDeadlineSeconds",
          "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported", "daemonset deadline");
    FAILS("apps", "DaemonSet", DS("{" SEL ",\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
          "\"spec\":{\"ephemeralContainers\":[" CTR "],\"containers\":[" CTR "]}}," DS_RU "}"),
          "FieldValueForbidden", "spec.template.spec.ephemeralContainers",
          "ephemeral containers not allowed in pod template", "daemonset ephemeral containers");
    EXACT("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"Canary\"}}"),
          "FieldValueNotSupported", "spec.updateStrategy",
          "Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Canary\", RollingUpdate:"
          "(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\"",
          "daemonset strategy type");
    EXACT("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\"}}"),
          "FieldValueRequired", "spec.updateStrategy.rollingUpdate", "Required value",
          "daemonset RollingUpdate without rollingUpdate");
    EXACT("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\","
          "\"rollingUpdate\":{\"maxUnavailable\":\"0%\",\"maxSurge\":0}}}"), "FieldValueRequired",
          "spec.updateStrategy.rollingUpdate.maxUnavailable",
          "Required value: cannot be 0 when maxSurge is 0", "daemonset both zero");
    EXACT("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\","
          "\"rollingUpdate\":{\"maxUnavailable\":1,\"maxSurge\":\"10%\"}}}"), "FieldValueInvalid",
          "spec.updateStrategy.rollingUpdate.maxSurge",
          "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"10%\"}: may not be set when "
          "maxUnavailable is non-zero", "daemonset both non-zero");
    FAILS("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\","
          "\"rollingUpdate\":{\"maxUnavailable\":\"101%\",\"maxSurge\":0}}}"), "FieldValueInvalid",
          "spec.updateStrategy.rollingUpdate.maxUnavailable",
          "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"101%\"}: must not be greater "
          "than 100%", "daemonset over 100%");
    FAILS("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\","
          "\"rollingUpdate\":{\"maxUnavailable\":\"x%\",\"maxSurge\":0}}}"), "FieldValueInvalid",
          "spec.updateStrategy.rollingUpdate.maxUnavailable", "a valid percent string must be",
          "daemonset bad percent");
    FAILS("apps", "DaemonSet", DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"RollingUpdate\","
          "\"rollingUpdate\":{\"maxUnavailable\":-1,\"maxSurge\":0}}}"), "FieldValueInvalid",
          "spec.updateStrategy.rollingUpdate.maxUnavailable",
          "Invalid value: -1: must be greater than or equal to 0", "daemonset negative");
    FAILS("apps", "DaemonSet", DS("{" SEL "," TMPL "," DS_RU ",\"minReadySeconds\":-1}"),
          "FieldValueInvalid", "spec.minReadySeconds", "must be greater than or equal to 0",
          "daemonset minReadySeconds");
    FAILS("apps", "DaemonSet", DS("{" SEL "," TMPL "," DS_RU ",\"revisionHistoryLimit\":-1}"),
          "FieldValueInvalid", "spec.revisionHistoryLimit", "must be greater than or equal to 0",
          "daemonset revisionHistoryLimit");

    VALID("apps", "StatefulSet", STS("{" STS_DEF "," SEL "," TMPL "}"), "statefulset");
    VALID("apps", "StatefulSet", STS("{\"replicas\":0,\"podManagementPolicy\":\"Parallel\","
          "\"updateStrategy\":{\"type\":\"OnDelete\"}," SEL "," TMPL "}"),
          "statefulset OnDelete, Parallel, zero replicas");
    FAILS("apps", "StatefulSet", STS("{" STS_DEF ",\"volumeClaimTemplates\":[{\"metadata\":"
          "{\"name\":\"data\"}}]," SEL "," TMPL "}"), "FieldValueForbidden",
          "spec.volumeClaimTemplates",
          "Forbidden: berth has no persistent volume support yet; use emptyDir or hostPath volumes",
          "statefulset volumeClaimTemplates");
    VALID("apps", "StatefulSet", STS("{" STS_DEF ",\"volumeClaimTemplates\":[]," SEL "," TMPL "}"),
          "statefulset empty volumeClaimTemplates");
    FAILS("apps", "StatefulSet", STS("{" STS_DEF "," TMPL "}"), "FieldValueRequired", "spec.selector",
          "Required value", "statefulset selector required");
    FAILS("apps", "StatefulSet", STS("{" STS_DEF "," TMPL "}"), "FieldValueInvalid",
          "spec.template.metadata.labels", "does not match", "statefulset: no selector matches nothing");
    EXACT("apps", "StatefulSet", STS("{" STS_DEF ",\"selector\":{},\"template\":{\"metadata\":"
          "{\"labels\":{\"app\":\"other\"}}}}"), "FieldValueInvalid", "spec.selector",
          "Invalid value: {}: empty selector is invalid for statefulset",
          "statefulset empty selector (Everything: no label match)");
    FAILS("apps", "StatefulSet", STS("{\"replicas\":1,\"updateStrategy\":{\"type\":\"RollingUpdate\"},"
          SEL "," TMPL "}"), "FieldValueRequired", "spec.podManagementPolicy", "Required value",
          "statefulset podManagementPolicy required");
    FAILS("apps", "StatefulSet", STS("{\"podManagementPolicy\":\"Random\",\"updateStrategy\":"
          "{\"type\":\"RollingUpdate\"}," SEL "," TMPL "}"), "FieldValueInvalid",
          "spec.podManagementPolicy",
          "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'", "statefulset policy");
    FAILS("apps", "StatefulSet", STS("{\"podManagementPolicy\":\"Parallel\"," SEL "," TMPL "}"),
          "FieldValueRequired", "spec.updateStrategy", "Required value", "statefulset strategy required");
    EXACT("apps", "StatefulSet", STS("{\"podManagementPolicy\":\"Parallel\",\"updateStrategy\":"
          "{\"type\":\"Canary\"}," SEL "," TMPL "}"), "FieldValueInvalid", "spec.updateStrategy",
          "Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Canary\", RollingUpdate:"
          "(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'",
          "statefulset strategy type");
    EXACT("apps", "StatefulSet", STS("{\"podManagementPolicy\":\"Parallel\",\"updateStrategy\":"
          "{\"type\":\"OnDelete\",\"rollingUpdate\":{\"partition\":2}}," SEL "," TMPL "}"),
          "FieldValueInvalid", "spec.updateStrategy.rollingUpdate",
          "Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:2, MaxUnavailable:"
          "(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'",
          "statefulset rollingUpdate with OnDelete");
    EXACT("apps", "StatefulSet", STS("{\"podManagementPolicy\":\"Parallel\",\"updateStrategy\":"
          "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":-1}}," SEL "," TMPL "}"),
          "FieldValueInvalid", "spec.updateStrategy.rollingUpdate.partition",
          "Invalid value: -1: must be greater than or equal to 0", "statefulset partition");
    EXACT("apps", "StatefulSet", STS("{" STS_DEF ",\"ordinals\":{\"start\":-2}," SEL "," TMPL "}"),
          "FieldValueInvalid", "spec.ordinals.start",
          "Invalid value: -2: must be greater than or equal to 0", "statefulset ordinals");
    EXACT("apps", "StatefulSet", STS("{" STS_DEF ",\"persistentVolumeClaimRetentionPolicy\":"
          "{\"whenDeleted\":\"Retain\",\"whenScaled\":\"Keep\"}," SEL "," TMPL "}"),
          "FieldValueNotSupported", "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
          "Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
          "statefulset retention policy");
    FAILS("apps", "StatefulSet", STS("{\"replicas\":-1,\"podManagementPolicy\":\"Parallel\","
          "\"updateStrategy\":{\"type\":\"OnDelete\"},\"minReadySeconds\":-1,"
          "\"revisionHistoryLimit\":-1," SEL "," TMPL "}"), "FieldValueInvalid", "spec.replicas",
          "Invalid value: -1: must be greater than or equal to 0", "statefulset replicas");
    FAILS("apps", "StatefulSet", STS("{\"replicas\":1,\"podManagementPolicy\":\"Parallel\","
          "\"updateStrategy\":{\"type\":\"OnDelete\"},\"minReadySeconds\":-1," SEL "," TMPL "}"),
          "FieldValueInvalid", "spec.minReadySeconds", "must be greater than or equal to 0",
          "statefulset minReadySeconds");
    FAILS("apps", "StatefulSet", STS("{" STS_DEF ",\"revisionHistoryLimit\":-1," SEL "," TMPL "}"),
          "FieldValueInvalid", "spec.revisionHistoryLimit", "must be greater than or equal to 0",
          "statefulset revisionHistoryLimit");
    EXACT("apps", "StatefulSet", STS("{" STS_DEF ",\"selector\":{\"matchLabels\":{\"app\":\"y\"}},"
          TMPL "}"), "FieldValueInvalid", "spec.template.metadata.labels",
          "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
          "statefulset selector mismatch");
    FAILS("apps", "StatefulSet", STS("{" STS_DEF "," SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\"}},\"spec\":{\"restartPolicy\":\"OnFailure\",\"activeDeadlineSeconds\":3}}}"),
          "FieldValueNotSupported", "spec.template.spec.restartPolicy",
          "Unsupported value: \"OnFailure\": supported values: \"Always\"", "statefulset restartPolicy");
    FAILS("apps", "StatefulSet", STS("{" STS_DEF "," SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\"}},\"spec\":{\"activeDeadlineSeconds\":3}}}"), "FieldValueForbidden",
          "spec.template.spec.activeDeadlineSeconds",
          "Forbidden: activeDeadlineSeconds in StatefulSet is not Supported", "statefulset deadline");
    /* As kube 1.31: the template's pod spec is not validated for a StatefulSet. */
    VALID("apps", "StatefulSet", STS("{" STS_DEF "," SEL ",\"template\":{\"metadata\":{\"labels\":"
          "{\"app\":\"x\"}},\"spec\":{}}}"), "statefulset template pod spec left to the pods");
    FAILS("apps", "StatefulSet", "{\"metadata\":{\"name\":\"a.b\",\"namespace\":\"d\"},\"spec\":{"
          STS_DEF "," SEL "," TMPL "}}", "FieldValueInvalid", "metadata.name",
          "a lowercase RFC 1123 label must consist of", "statefulset name is a DNS label");

    VALID("apps", "ControllerRevision", "{\"metadata\":{\"name\":\"cr\",\"namespace\":\"d\"},"
          "\"data\":{\"spec\":{}},\"revision\":1}", "controllerrevision");
    VALID("apps", "ControllerRevision", "{\"metadata\":{\"name\":\"cr\",\"namespace\":\"d\"},"
          "\"data\":1}", "controllerrevision data is any JSON, revision defaults to 0");
    EXACT("apps", "ControllerRevision", "{\"metadata\":{\"name\":\"cr\",\"namespace\":\"d\"},"
          "\"revision\":3}", "FieldValueRequired", "data", "Required value: data is mandatory",
          "controllerrevision data required");
    EXACT("apps", "ControllerRevision", "{\"metadata\":{\"name\":\"cr\",\"namespace\":\"d\"},"
          "\"data\":{},\"revision\":-1}", "FieldValueInvalid", "revision",
          "Invalid value: -1: must be greater than or equal to 0", "controllerrevision revision");

    /* Updates. */
    const char *ds = DS("{" SEL "," TMPL "," DS_RU "}");
    UPD_OK("apps", "DaemonSet", ds, DS("{" SEL "," TMPL ",\"updateStrategy\":{\"type\":\"OnDelete\"}}"),
           "daemonset strategy change");
    UPD_FAILS("apps", "DaemonSet", ds, DS("{\"selector\":{\"matchLabels\":{\"app\":\"x\",\"v\":\"2\"}},"
              "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\",\"v\":\"2\"}},\"spec\":"
              "{\"containers\":[" CTR "]}}," DS_RU "}"), "FieldValueInvalid", "spec.selector",
              "field is immutable", "daemonset selector is immutable");
    const char *sts = STS("{" STS_DEF ",\"serviceName\":\"web\"," SEL "," TMPL "}");
    UPD_OK("apps", "StatefulSet", sts, STS("{\"replicas\":4,\"podManagementPolicy\":\"OrderedReady\","
           "\"updateStrategy\":{\"type\":\"OnDelete\"},\"minReadySeconds\":3,\"ordinals\":"
           "{\"start\":2},\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Delete\","
           "\"whenScaled\":\"Retain\"},\"serviceName\":\"web\"," SEL ",\"template\":{\"metadata\":"
           "{\"labels\":{\"app\":\"x\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"v2\"}]}}}"),
           "statefulset: the mutable fields");
    static const char *const frozen[] = {
        "\"serviceName\":\"other\"", "\"revisionHistoryLimit\":3",
        "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"d\"}}]",
    };
    for (size_t i = 0; i < sizeof frozen / sizeof frozen[0]; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, STS("{" STS_DEF ",\"serviceName\":\"web\",%s," SEL "," TMPL "}"),
                 frozen[i]);
        json_t *c = run_update("apps", "StatefulSet", sts, buf);
        if (!ok(has(c, "FieldValueForbidden", "spec", "Forbidden: updates to statefulset spec for "
                    "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"),
                "statefulset update of %s is forbidden", frozen[i]))
            dump_causes(c);
        json_decref(c);
    }
    const char *cr = "{\"metadata\":{\"name\":\"cr\"},\"data\":{\"a\":1},\"revision\":1}";
    UPD_OK("apps", "ControllerRevision", cr, "{\"metadata\":{\"name\":\"cr\"},\"data\":{\"a\":1},"
           "\"revision\":7}", "controllerrevision revision may change");
    UPD_FAILS("apps", "ControllerRevision", cr, "{\"metadata\":{\"name\":\"cr\"},\"data\":{\"a\":2},"
              "\"revision\":1}", "FieldValueInvalid", "data", "Invalid value: {\"a\":2}: field is immutable",
              "controllerrevision data is immutable");
}

int main(void)
{
    plan_no_plan();
    test_names();
    test_meta();
    test_pod();
    test_quantity();
    test_workloads();
    test_service();
    test_other_kinds();
    test_updates();
    test_apps_kinds();
    test_quoting();
    test_wrong_types();
    return done_testing();
}
