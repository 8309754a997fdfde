/* t/c/jsondump.c: jsondump(v, f) gives exactly json_dumps(v, f) (jansson 2.14), or NULL
 * where it does, for every flag set berth uses and the ones it hands over; and the fast
 * writer takes the cases it should (and no others). */
#include "tap.h"
#include "jsondump.h"

#include <stdint.h>
#include <stdlib.h>

static const size_t flag_sets[] = {
    JSON_COMPACT,
    JSON_COMPACT | JSON_ENCODE_ANY,
    0,
    JSON_INDENT(2),
    JSON_SORT_KEYS | JSON_COMPACT,
    JSON_ENSURE_ASCII | JSON_COMPACT,
    JSON_ESCAPE_SLASH | JSON_COMPACT,
};
#define N_FLAG_SETS (sizeof(flag_sets) / sizeof(flag_sets[0]))

static void show(const char *what, const char *s)
{
    if (!s) {
        printf("#   %s: (null)\n", what);
        return;
    }
    size_t len = strlen(s);
    printf("#   %s (%zu bytes): '%.*s%s'\n", what, len, len > 300 ? 300 : (int)len, s,
           len > 300 ? "..." : "");
}

/* One test per value: jsondump against json_dumps for every flag set. Takes ownership of
 * v. Returns whether the fast writer answered for JSON_COMPACT|JSON_ENCODE_ANY. */
static int same(json_t *v, const char *name)
{
    int good = 1, fast;
    for (size_t i = 0; i < N_FLAG_SETS; i++) {
        size_t f = flag_sets[i];
        char *want = json_dumps(v, f), *got = jsondump(v, f);
        if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0)) {
            if (good)
                printf("# %s differs\n", name);
            printf("#   flags 0x%zx\n", f);
            show("json_dumps", want);
            show("jsondump  ", got);
            good = 0;
        }
        free(want);
        free(got);
    }
    ok(good, "%s: as json_dumps for every flag set", name);
    char *s = jsondump_fast(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fast = s != NULL;
    free(s);
    json_decref(v);
    return fast;
}

/* same(), and the fast writer took it (or, if !want_fast, handed it over). */
static void same_fast(json_t *v, const char *name, int want_fast)
{
    char what[200];
    snprintf(what, sizeof what, "%s: %s", name, want_fast ? "by the fast writer" : "handed to json_dumps");
    ok(same(v, name) == want_fast, "%s", what);
}

/* A string of len raw bytes, wrapped as a value, as a key and at the top. */
static void same_bytes(const char *bytes, size_t len, const char *name, int valid)
{
    char what[200];
    json_t *o = json_object();
    json_object_set_new(o, "k", json_stringn_nocheck(bytes, len));
    snprintf(what, sizeof what, "%s as a value", name);
    same_fast(o, what, valid);
    o = json_object();
    json_object_setn_new_nocheck(o, bytes, len, json_integer(1));
    json_object_set_new(o, "z", json_true());
    snprintf(what, sizeof what, "%s as a key", name);
    same_fast(o, what, valid);
    snprintf(what, sizeof what, "%s at the top", name);
    same_fast(json_stringn_nocheck(bytes, len), what, valid);
}

static json_t *nest(int depth, int objects)
{
    json_t *v = json_integer(7);
    for (int i = 0; i < depth; i++) {
        json_t *c = objects && i % 2 ? json_object() : json_array();
        if (json_is_object(c))
            json_object_set_new(c, "a", v);
        else
            json_array_append_new(c, v);
        v = c;
    }
    return v;
}

static const char pod_json[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c8f6d-x2x9k\","
    "\"generateName\":\"web-7d4b9c8f6d-\",\"namespace\":\"team-a\",\"uid\":"
    "\"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f\",\"resourceVersion\":\"184467\",\"generation\":1,"
    "\"creationTimestamp\":\"2024-05-01T12:34:56Z\",\"labels\":{\"app\":\"web\","
    "\"pod-template-hash\":\"7d4b9c8f6d\",\"tier\":\"frontend\"},\"annotations\":{"
    "\"kubectl.kubernetes.io/restartedAt\":\"2024-05-01T12:30:00Z\",\"note\":"
    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80 \\\"quoted\\\" back\\\\slash tab\\t nl\\n\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":"
    "\"web-7d4b9c8f6d\",\"uid\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\",\"controller\":true,"
    "\"blockOwnerDeletion\":true}],\"finalizers\":[]},\"spec\":{\"volumes\":[{\"name\":"
    "\"kube-api-access-abcde\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{"
    "\"expirationSeconds\":3607,\"path\":\"token\"}},{\"configMap\":{\"name\":"
    "\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}}],"
    "\"defaultMode\":420}}],\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.25.4\","
    "\"command\":[\"/docker-entrypoint.sh\"],\"args\":[\"nginx\",\"-g\",\"daemon off;\"],"
    "\"ports\":[{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"TCP\"}],\"env\":[{"
    "\"name\":\"GREETING\",\"value\":\"hello\\u0001world\"},{\"name\":\"POD_IP\",\"valueFrom\":{"
    "\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"status.podIP\"}}}],\"resources\":{"
    "\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"},\"requests\":{\"cpu\":\"100m\","
    "\"memory\":\"128Mi\"}},\"volumeMounts\":[{\"name\":\"kube-api-access-abcde\",\"readOnly\":"
    "true,\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}],\"livenessProbe\":{"
    "\"httpGet\":{\"path\":\"/healthz\",\"port\":80,\"scheme\":\"HTTP\"},\"initialDelaySeconds\":5,"
    "\"timeoutSeconds\":1,\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},"
    "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
    "\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\","
    "\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":"
    "\"default\",\"nodeName\":\"node-1\",\"securityContext\":{},\"schedulerName\":"
    "\"default-scheduler\",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\","
    "\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,"
    "\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"},\"status\":{"
    "\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\","
    "\"lastProbeTime\":null,\"lastTransitionTime\":\"2024-05-01T12:34:56Z\"},{\"type\":\"Ready\","
    "\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2024-05-01T12:35:01Z\"}],"
    "\"hostIP\":\"10.0.0.11\",\"podIP\":\"10.244.1.23\",\"podIPs\":[{\"ip\":\"10.244.1.23\"}],"
    "\"startTime\":\"2024-05-01T12:34:56Z\",\"containerStatuses\":[{\"name\":\"web\",\"state\":{"
    "\"running\":{\"startedAt\":\"2024-05-01T12:35:00Z\"}},\"lastState\":{},\"ready\":true,"
    "\"restartCount\":0,\"image\":\"nginx:1.25.4\",\"imageID\":\"docker-pullable://nginx@sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"containerID\":"
    "\"docker://fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\","
    "\"started\":true}],\"qosClass\":\"Burstable\"}}";

int main(void)
{
    char buf[16], name[64];
    plan_no_plan();

    /* --- strings: every byte that is escaped, and the ones that are not ------------- */
    for (int c = 0; c < 0x20; c++) {
        buf[0] = 'a';
        buf[1] = (char)c;
        buf[2] = 'b';
        snprintf(name, sizeof name, "control 0x%02x", c);
        same_bytes(buf, 3, name, 1);
    }
    same_bytes("a\x7f" "b", 3, "DEL 0x7f", 1);
    same_bytes("\"", 1, "quote", 1);
    same_bytes("\\", 1, "backslash", 1);
    same_bytes("a/b</script>", 12, "slash", 1);
    same_bytes("", 0, "empty string", 1);
    same_bytes("\0\0", 2, "only NUL bytes", 1);
    same_bytes("ab\0cd", 5, "an embedded NUL", 1);
    same_bytes("\xc2\x80 \xc3\xa9 \xdf\xbf", 8, "2-byte UTF-8 (U+0080, U+00E9, U+07FF)", 1);
    same_bytes("\xe0\xa0\x80 \xe2\x82\xac \xef\xbf\xbf \xed\x9f\xbf \xee\x80\x80", 19,
               "3-byte UTF-8 (U+0800, U+20AC, U+FFFF, U+D7FF, U+E000)", 1);
    same_bytes("\xf0\x90\x80\x80 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 14,
               "4-byte UTF-8 (U+10000, U+1F600, U+10FFFF)", 1);
    same_bytes("x\xc0\x80", 3, "overlong NUL C0 80", 0);
    same_bytes("x\xc1\xbf", 3, "overlong C1 BF", 0);
    same_bytes("x\xe0\x80\xaf", 4, "overlong 3-byte slash", 0);
    same_bytes("x\xe0\x9f\xbf", 4, "overlong 3-byte U+07FF", 0);
    same_bytes("x\xf0\x8f\xbf\xbf", 5, "overlong 4-byte U+FFFF", 0);
    same_bytes("x\xed\xa0\x80", 4, "surrogate U+D800 encoded", 0);
    same_bytes("x\xed\xbf\xbf", 4, "surrogate U+DFFF encoded", 0);
    same_bytes("\xed\xa0\xbd\xed\xb8\x80", 6, "surrogate pair encoded (CESU-8)", 0);
    same_bytes("x\xf4\x90\x80\x80", 5, "U+110000", 0);
    same_bytes("x\xf5\x80\x80\x80", 5, "lead byte F5", 0);
    same_bytes("x\xf8\x88\x80\x80\x80", 6, "5-byte form", 0);
    same_bytes("x\xff", 2, "byte FF", 0);
    same_bytes("x\x80y", 3, "lone continuation byte", 0);
    same_bytes("x\xc3", 2, "truncated 2-byte at the end", 0);
    same_bytes("x\xc3y", 3, "truncated 2-byte before ASCII", 0);
    same_bytes("x\xe2\x82", 3, "truncated 3-byte at the end", 0);
    same_bytes("x\xe2\x82y", 4, "truncated 3-byte before ASCII", 0);
    same_bytes("x\xf0\x9f\x98", 4, "truncated 4-byte at the end", 0);
    same_bytes("\xf0\x9f\x98\"", 4, "truncated 4-byte before a quote", 0);
    same_bytes("a\nb\xff", 4, "an escape, then invalid UTF-8", 0);
    same_bytes("a\0\xc3", 3, "NUL, then a truncated sequence", 0);

    /* --- exact bytes, not only agreement -------------------------------------------- */
    json_t *v = json_pack("{s:s#,s:s,s:[iiI]}", "s", "\"\\/\b\f\n\r\t\x01\x1f\x7f\0", (int)12,
                          "u", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "n", 0, -1,
                          (json_int_t)INT64_MIN);
    char *s = jsondump(v, JSON_COMPACT);
    is_str(s, "{\"s\":\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\\u0000\","
              "\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"n\":[0,-1,-9223372036854775808]}",
           "escapes: short forms, \\u00XX upper-case, '/', DEL and UTF-8 as they are");
    free(s);
    json_decref(v);

    /* --- integers --------------------------------------------------------------------- */
    json_int_t ints[] = { 0, -1, 1, INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1 };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        snprintf(name, sizeof name, "integer %lld", (long long)ints[i]);
        same_fast(json_integer(ints[i]), name, 1);
    }
    json_t *a = json_array();
    json_int_t p = 1;
    for (int k = 0; k <= 18; k++, p = k <= 18 ? p * 10 : p) {
        json_array_append_new(a, json_integer(p - 1));
        json_array_append_new(a, json_integer(p));
        json_array_append_new(a, json_integer(p + 1));
        json_array_append_new(a, json_integer(-p - 1));
        json_array_append_new(a, json_integer(-p));
        json_array_append_new(a, json_integer(-p + 1));
    }
    same_fast(a, "integers 10^k-1, 10^k, 10^k+1 and negated, k = 0..18", 1);

    /* --- reals: always json_dumps ------------------------------------------------------- */
    double reals[] = { 0.0, -0.0, 1.0, -1.5, 0.1, 1e300, -1e-300, 123456789012345678.0, 5e-324,
                       1.7976931348623157e308, 100.0, 1e16, 1e17 };
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        snprintf(name, sizeof name, "real %.17g", reals[i]);
        same_fast(json_real(reals[i]), name, 0);
    }
    same_fast(json_pack("{s:[i,{s:f}]}", "a", 1, "b", 2.5), "a real deep inside", 0);
    v = json_pack("[f]", 0.5);
    ok(!jsondump_fast(v, JSON_COMPACT), "jsondump_fast: NULL for an array with a real");
    json_decref(v);
    v = json_real(3.0);
    ok(!jsondump_fast(v, JSON_COMPACT | JSON_ENCODE_ANY), "jsondump_fast: NULL for a real");
    json_decref(v);

    /* --- the other scalars, empty containers, top-level scalars --------------------- */
    same_fast(json_true(), "true", 1);
    same_fast(json_false(), "false", 1);
    same_fast(json_null(), "null", 1);
    same_fast(json_object(), "empty object", 1);
    same_fast(json_array(), "empty array", 1);
    same_fast(json_pack("[{},[],{s:{}},[[]]]", "a"), "empty containers inside", 1);
    v = json_string("x");
    s = jsondump(v, JSON_COMPACT);
    ok(s == NULL, "a top-level string without JSON_ENCODE_ANY: NULL, as json_dumps");
    free(s);
    s = jsondump(v, JSON_COMPACT | JSON_ENCODE_ANY);
    is_str(s, "\"x\"", "and with it: \"x\"");
    free(s);
    json_decref(v);
    v = json_integer(5);
    ok(!jsondump(v, JSON_COMPACT) && !jsondump_fast(v, JSON_COMPACT), "a top-level integer without JSON_ENCODE_ANY: NULL");
    json_decref(v);
    ok(!jsondump(NULL, JSON_COMPACT) && !jsondump(NULL, JSON_COMPACT | JSON_ENCODE_ANY) &&
       !jsondump(NULL, 0), "NULL value: NULL");

    /* --- flags the fast writer does not take ------------------------------------------ */
    v = json_pack("{s:[i,s]}", "a", 1, "b");
    size_t other[] = { 0, JSON_INDENT(2), JSON_INDENT(2) | JSON_COMPACT, JSON_SORT_KEYS | JSON_COMPACT,
                       JSON_ENSURE_ASCII | JSON_COMPACT, JSON_ESCAPE_SLASH | JSON_COMPACT,
                       JSON_PRESERVE_ORDER | JSON_COMPACT, JSON_EMBED | JSON_COMPACT,
                       JSON_REAL_PRECISION(5) | JSON_COMPACT, JSON_ENCODE_ANY };
    int none = 1;
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        s = jsondump_fast(v, other[i]);
        if (s) {
            diag("flags 0x%zx: fast writer answered %s", other[i], s);
            none = 0;
        }
        free(s);
        char *want = json_dumps(v, other[i]), *got = jsondump(v, other[i]);
        if ((want == NULL) != (got == NULL) || (want && strcmp(want, got))) {
            diag("flags 0x%zx: jsondump differs", other[i]);
            none = 0;
        }
        free(want);
        free(got);
    }
    ok(none, "jsondump_fast: NULL for flags other than JSON_COMPACT[|JSON_ENCODE_ANY]; jsondump as json_dumps for them");
    s = jsondump_fast(v, JSON_COMPACT);
    is_str(s, "{\"a\":[1,\"b\"]}", "jsondump_fast: JSON_COMPACT");
    free(s);
    json_decref(v);

    /* --- nesting ------------------------------------------------------------------------ */
    /* nest(n) has n containers around a leaf, which is at depth n (the top is at 0): the
     * fast writer goes to depth 512. */
    same_fast(nest(511, 0), "511 nested arrays", 1);
    same_fast(nest(512, 0), "512 nested arrays", 1);
    same_fast(nest(513, 0), "513 nested arrays", 0);
    same_fast(nest(1000, 0), "1000 nested arrays", 0);
    same_fast(nest(512, 1), "512 nested arrays and objects", 1);
    same_fast(nest(1000, 1), "1000 nested arrays and objects", 0);

    /* A value shared twice (not a loop) is written twice; a loop gives NULL. */
    json_t *shared = json_pack("{s:i}", "x", 1);
    same_fast(json_pack("[O,O,{s:O}]", shared, shared, "y", shared), "a value shared three times", 1);
    json_t *l1 = json_array(), *l2 = json_array();
    json_array_append(l1, l2);
    json_array_append(l2, l1);
    json_object_set(shared, "loop", l1);
    ok(!jsondump(l1, JSON_COMPACT) && !jsondump_fast(l1, JSON_COMPACT) &&
       !jsondump(shared, JSON_COMPACT), "a reference loop: NULL, as json_dumps");
    json_array_clear(l2);
    json_decref(l1);
    json_decref(l2);
    json_decref(shared);

    /* --- key order: insertion order, kept by an update, a re-insert goes to the end ----- */
    v = json_object();
    json_object_set_new(v, "b", json_integer(1));
    json_object_set_new(v, "a", json_integer(2));
    json_object_set_new(v, "c", json_integer(3));
    json_object_set_new(v, "d", json_integer(4));
    json_object_del(v, "a");
    json_object_set_new(v, "c", json_integer(30));
    json_object_set_new(v, "a", json_integer(20));
    s = jsondump(v, JSON_COMPACT);
    is_str(s, "{\"b\":1,\"c\":30,\"d\":4,\"a\":20}", "key order after delete, update and re-insert");
    free(s);
    same_fast(v, "key order after delete, update and re-insert", 1);
    v = json_object();
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "k%d", (i * 37) % 200);
        json_object_set_new(v, name, json_integer(i));
    }
    for (int i = 0; i < 200; i += 3) {
        snprintf(name, sizeof name, "k%d", i);
        json_object_del(v, name);
    }
    for (int i = 0; i < 200; i += 6) {
        snprintf(name, sizeof name, "k%d", i);
        json_object_set_new(v, name, json_integer(-i));
    }
    same_fast(v, "200 keys, a third deleted, half of those re-inserted (rehashing)", 1);
    v = json_object();
    json_object_setn_new_nocheck(v, "a\0b", 3, json_integer(1));
    json_object_setn_new_nocheck(v, "a", 1, json_integer(2));
    json_object_setn_new_nocheck(v, "a\0a", 3, json_integer(3));
    json_object_setn_new_nocheck(v, "", 0, json_integer(4));
    json_object_setn_new_nocheck(v, "\0", 1, json_integer(5));
    same_fast(v, "keys differing after a NUL byte, an empty key", 1);
    v = json_object();
    json_object_setn_new_nocheck(v, "a\xff", 2, json_integer(1));
    json_object_setn_new_nocheck(v, "b\0\xc3", 3, json_integer(2));
    json_object_set_new(v, "c", json_string("ok"));
    same_fast(v, "keys with invalid UTF-8 and NUL bytes", 0);

    /* --- a realistic Pod -------------------------------------------------------------- */
    json_error_t err;
    v = json_loads(pod_json, 0, &err);
    ok(v != NULL, "the Pod parses (%s)", v ? "ok" : err.text);
    s = jsondump(v, JSON_COMPACT);
    ok(strlen(pod_json) > 2000 && s && strlen(s) == strlen(pod_json), "the Pod (%zu bytes) written back to its length", strlen(pod_json));
    free(s);
    same_fast(v, "a Pod", 1);

    /* --- big strings: the buffer grows ---------------------------------------------- */
    size_t big = 1 << 20;
    char *raw = malloc(big);
    for (size_t i = 0; i < big; i++)
        raw[i] = (char)('a' + i % 26);
    same_fast(json_pack("[s#]", raw, (int)big), "a 1 MB string", 1);
    for (size_t i = 0; i < big; i++)
        raw[i] = (char)(i % 0x20);
    same_fast(json_pack("{s:s#}", "k", raw, (int)big), "1 MB of control characters (6 bytes each)", 1);
    for (size_t i = 0; i + 4 <= big; i += 4)
        memcpy(raw + i, "\xf0\x9f\x98\x80", 4);
    same_fast(json_pack("[s#]", raw, (int)big), "1 MB of 4-byte UTF-8", 1);
    v = json_array();
    json_array_append_new(v, json_stringn_nocheck(raw, big));
    json_array_append_new(v, json_stringn_nocheck(raw, big - 1));
    same_fast(v, "1 MB of 4-byte UTF-8, then with the last one cut", 0);
    free(raw);
    v = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(v, json_integer(i * 7919));
    same_fast(v, "100000 integers", 1);
    int all = 1;
    for (size_t n = 1000; n < 1100 && all; n++) {
        /* lengths around the first buffer size (1024) */
        raw = malloc(n);
        memset(raw, 'x', n);
        v = json_pack("[s#]", raw, (int)n);
        char *want = json_dumps(v, JSON_COMPACT), *got = jsondump_fast(v, JSON_COMPACT);
        if (!got || strcmp(want, got)) {
            diag("a %zu-byte string differs", n);
            all = 0;
        }
        free(want);
        free(got);
        json_decref(v);
        free(raw);
    }
    ok(all, "strings of 1000-1099 bytes around the first buffer size");

    return done_testing();
}
