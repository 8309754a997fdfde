/* t/c/jsonload.c: jsonload() against jansson's json_loadb, which it must equal on every
 * input: the same tree (types, key order, reals bit for bit) or the same failure with the
 * same error text, line, column and position. jsonload_fast() may decline any input (NULL)
 * but must never accept one jansson rejects or build a different tree. Run by
 * t/0108-jsonload.t; fuzz/fuzz_jsonload.c does the same on generated inputs. */
#include "tap.h"
#include "json_same.h"
#include "jsonload.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- comparing trees ---------------------------------------------------------------- */

/* The error fields json_loadb documents (text only up to its NUL: on success jansson sets
 * just text[0]). */
static int same_error(const json_error_t *a, const json_error_t *b)
{
    return strcmp(a->text, b->text) == 0 && strcmp(a->source, b->source) == 0 &&
           a->line == b->line && a->column == b->column && a->position == b->position;
}

/* ---- the inputs --------------------------------------------------------------------- */

/* What the input is with JSON_DECODE_ANY: FAST the scanner itself must parse it (so the
 * test is not passing by always declining), REF valid but left to jansson, BAD rejected by
 * jansson. */
enum { FAST, REF, BAD };

typedef struct {
    const char *name;
    const char *buf;
    size_t len;
    int want;
} case_t;

#define C(name, lit, want) { name, lit, sizeof(lit) - 1, want }

#define POD \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c8f5d-x2kqp\"," \
    "\"generateName\":\"web-7d4b9c8f5d-\",\"namespace\":\"team-a\",\"uid\":" \
    "\"3f6a2c1e-8b4d-4e2a-9c7f-1a2b3c4d5e6f\",\"resourceVersion\":\"184467\",\"creationTimestamp\":" \
    "\"2024-05-14T09:21:07Z\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c8f5d\"," \
    "\"app.kubernetes.io/part-of\":\"shop\"},\"annotations\":{\"kubectl.kubernetes.io/" \
    "last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"Pod\\\"," \
    "\\\"metadata\\\":{\\\"annotations\\\":{},\\\"name\\\":\\\"web\\\"}}\\n\",\"prometheus.io/" \
    "scrape\":\"true\",\"description\":\"caf\\u00e9 \\u2014 \xe2\x9c\x93 \\ud83d\\ude80\"}," \
    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":" \
    "\"web-7d4b9c8f5d\",\"uid\":\"0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5\",\"controller\":true," \
    "\"blockOwnerDeletion\":true}]},\"spec\":{\"volumes\":[{\"name\":\"kube-api-access-8j2xv\"," \
    "\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":" \
    "\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\"," \
    "\"path\":\"ca.crt\"}]}}],\"defaultMode\":420}}],\"containers\":[{\"name\":\"web\",\"image\":" \
    "\"nginx:1.25.4\",\"command\":[\"/bin/sh\",\"-c\",\"exec nginx -g 'daemon off;'\"],\"ports\":" \
    "[{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"LANG\"," \
    "\"value\":\"C.UTF-8\"},{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\"," \
    "\"fieldPath\":\"status.podIP\"}}}],\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":" \
    "\"256Mi\"},\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},\"readinessProbe\":{\"httpGet\":" \
    "{\"path\":\"/healthz\",\"port\":8080,\"scheme\":\"HTTP\"},\"initialDelaySeconds\":5," \
    "\"timeoutSeconds\":1,\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3}," \
    "\"volumeMounts\":[{\"name\":\"kube-api-access-8j2xv\",\"readOnly\":true,\"mountPath\":" \
    "\"/var/run/secrets/kubernetes.io/serviceaccount\"}],\"terminationMessagePath\":" \
    "\"/dev/termination-log\",\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\"," \
    "\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\",\"nodeName\":\"node-1\"," \
    "\"securityContext\":{},\"schedulerName\":\"default-scheduler\",\"tolerations\":[{\"key\":" \
    "\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"," \
    "\"tolerationSeconds\":300}],\"priority\":0,\"enableServiceLinks\":true,\"overhead\":null}," \
    "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"," \
    "\"lastProbeTime\":null,\"lastTransitionTime\":\"2024-05-14T09:21:12Z\"}],\"hostIP\":" \
    "\"10.0.0.11\",\"podIP\":\"10.244.1.17\",\"podIPs\":[{\"ip\":\"10.244.1.17\"}],\"startTime\":" \
    "\"2024-05-14T09:21:07Z\",\"containerStatuses\":[{\"name\":\"web\",\"state\":{\"running\":" \
    "{\"startedAt\":\"2024-05-14T09:21:09Z\"}},\"ready\":true,\"restartCount\":0,\"image\":" \
    "\"nginx:1.25.4\",\"imageID\":\"docker-pullable://nginx@sha256:9c58e8a4b7e2d1f0\"," \
    "\"containerID\":\"docker://5e1f0a9b8c7d\",\"started\":true}],\"qosClass\":\"Burstable\"," \
    "\"cpuFraction\":0.25,\"score\":-1.5e-3}}"

static const case_t cases[] = {
    /* plain documents */
    C("empty object", "{}", FAST),
    C("empty array", "[]", FAST),
    C("empty object with space", "{ \t\r\n}", FAST),
    C("empty array with space", "[ \n ]", FAST),
    C("plain object", "{\"a\":1,\"b\":\"two\",\"c\":[true,false,null],\"d\":{\"e\":2.5}}", FAST),
    C("object with whitespace", " {\n  \"a\" : 1 ,\r\n\t\"b\" :[ 1 , 2 ] \n}", FAST),
    C("leading whitespace", " \t\r\n[1]", FAST),
    C("trailing whitespace", "[1] \t\r\n", FAST),
    C("nested empty", "[[],{},[[]],{\"a\":{}}]", FAST),
    C("kubernetes pod", POD, FAST),
    C("pod with trailing newline", POD "\n", FAST),
    C("many keys keep their order", "{\"z\":1,\"y\":2,\"x\":3,\"a\":4,\"m\":5,\"b\":6,\"k\":7}", FAST),

    /* keys */
    C("duplicate key: last value, first place", "{\"a\":1,\"b\":2,\"a\":3}", FAST),
    C("duplicate key with another type", "{\"a\":[1],\"b\":2,\"a\":\"s\",\"a\":{\"x\":1}}", FAST),
    C("empty key", "{\"\":1}", FAST),
    C("empty key twice", "{\"\":1,\"\":2}", FAST),
    C("escaped key", "{\"a\\nb\":1,\"\\u00e9\":2,\"\\\"\":3}", FAST),
    C("escaped key, then an escaped value", "{\"k\\t\":\"v\\t\",\"k2\\u0041\":[\"\\n\"]}", FAST),
    C("escaped key equal to a plain one", "{\"ab\":1,\"a\\u0062\":2}", FAST),
    C("NUL byte in key", "{\"a\\u0000\":1}", BAD),
    C("non-string key", "{1:2}", BAD),
    C("unquoted key", "{a:1}", BAD),

    /* escapes */
    C("every short escape", "[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]", FAST),
    C("\\u ASCII", "[\"\\u0041\\u007a\\u007F\"]", FAST),
    C("\\u two bytes", "[\"\\u00e9\\u07FF\\u0080\"]", FAST),
    C("\\u three bytes", "[\"\\u0800\\u20AC\\uFFFF\\uFFFE\\uE000\"]", FAST),
    C("\\u surrogate pair", "[\"\\ud83d\\ude80\"]", FAST),
    C("\\u surrogate pair, upper case", "[\"\\uD83D\\uDE80x\"]", FAST),
    C("\\u highest pair", "[\"\\udbff\\udfff\"]", FAST),
    C("\\u lowest pair", "[\"\\ud800\\udc00\"]", FAST),
    C("\\u lone high at end", "[\"\\ud83d\"]", BAD),
    C("\\u lone high then text", "[\"\\ud83dabc\"]", BAD),
    C("\\u high then short escape", "[\"\\ud83d\\n\"]", BAD),
    C("\\u high then non-low", "[\"\\ud83d\\u0041\"]", BAD),
    C("\\u high then high", "[\"\\ud83d\\ud83d\"]", BAD),
    C("\\u high then bad hex", "[\"\\ud83d\\uzzzz\"]", BAD),
    C("\\u high then truncated", "[\"\\ud83d\\ude8\"]", BAD),
    C("\\u lone low", "[\"\\ude80\"]", BAD),
    C("\\u lone low then high", "[\"\\udc00\\ud800\"]", BAD),
    C("\\u0000", "[\"\\u0000\"]", BAD),
    C("\\u0000 inside", "[\"a\\u0000b\"]", BAD),
    C("\\u short", "[\"\\u12\"]", BAD),
    C("\\u bad hex", "[\"\\u12g4\"]", BAD),
    C("\\U", "[\"\\U0041\"]", BAD),
    C("invalid escape \\a", "[\"\\a\"]", BAD),
    C("invalid escape \\x", "[\"\\x41\"]", BAD),
    C("invalid escape \\0", "[\"\\0\"]", BAD),
    C("invalid escape \\'", "[\"\\'\"]", BAD),
    C("escape at end of input", "[\"\\", BAD),
    C("\\u at end of input", "[\"\\u00", BAD),
    C("escaped quote, unterminated", "[\"\\\"]", BAD),

    /* raw control characters and DEL */
    C("raw newline in string", "[\"a\nb\"]", BAD),
    C("raw tab in string", "[\"a\tb\"]", BAD),
    C("raw 0x01 in string", "[\"a\x01" "b\"]", BAD),
    C("raw 0x1f in string", "[\"\x1f\"]", BAD),
    C("raw 0x1f after an escape", "[\"\\n\x1f\"]", BAD),
    C("raw DEL in string", "[\"a\x7f" "b\"]", FAST),
    C("unterminated string", "[\"abc", BAD),

    /* UTF-8 */
    C("utf-8 two bytes", "[\"caf\xc3\xa9 \xdf\xbf \xc2\x80\"]", FAST),
    C("utf-8 three bytes", "[\"\xe2\x82\xac \xe0\xa0\x80 \xef\xbf\xbf \xed\x9f\xbf \xee\x80\x80\"]", FAST),
    C("utf-8 four bytes", "[\"\xf0\x9f\x9a\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"]", FAST),
    C("utf-8 after an escape", "[\"\\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80\"]", FAST),
    C("utf-8 key", "{\"\xc3\xa9t\xc3\xa9\":\"\xe2\x9c\x93\"}", FAST),
    C("overlong C0 80", "[\"\xc0\x80\"]", BAD),
    C("overlong C1 BF", "[\"\xc1\xbf\"]", BAD),
    C("overlong E0 80 80", "[\"\xe0\x80\x80\"]", BAD),
    C("overlong E0 9F BF", "[\"\xe0\x9f\xbf\"]", BAD),
    C("overlong F0 80 80 80", "[\"\xf0\x80\x80\x80\"]", BAD),
    C("overlong F0 8F BF BF", "[\"\xf0\x8f\xbf\xbf\"]", BAD),
    C("surrogate ED A0 80", "[\"\xed\xa0\x80\"]", BAD),
    C("surrogate ED BF BF", "[\"\xed\xbf\xbf\"]", BAD),
    C("above U+10FFFF: F4 90 80 80", "[\"\xf4\x90\x80\x80\"]", BAD),
    C("F5 lead", "[\"\xf5\x80\x80\x80\"]", BAD),
    C("F8 lead", "[\"\xf8\x88\x80\x80\x80\"]", BAD),
    C("FF byte", "[\"\xff\"]", BAD),
    C("FE byte", "[\"\xfe\"]", BAD),
    C("truncated two bytes at end", "[\"\xc3", BAD),
    C("truncated two bytes before quote", "[\"\xc3\"]", BAD),
    C("truncated three bytes", "[\"\xe2\x82\"]", BAD),
    C("truncated four bytes", "[\"\xf0\x9f\x9a\"]", BAD),
    C("truncated four bytes at end", "[\"\xf0\x9f\x9a", BAD),
    C("stray continuation 80", "[\"\x80\"]", BAD),
    C("stray continuation BF after ASCII", "[\"a\xbf" "b\"]", BAD),
    C("stray continuation after a full sequence", "[\"\xc3\xa9\xa9\"]", BAD),
    C("lead byte then ASCII", "[\"\xe2" "ab\"]", BAD),
    C("utf-8 outside a string", "[1,\xc3\xa9]", BAD),
    C("invalid utf-8 outside a string", "[1]\xff", BAD),
    C("invalid utf-8 after an escape", "[\"\\t\xc0\x80\"]", BAD),

    /* numbers */
    C("0", "[0]", FAST),
    C("-0", "[-0]", FAST),
    C("-0.0", "[-0.0]", FAST),
    C("0.0", "[0.0]", FAST),
    C("01", "[01]", BAD),
    C("-01", "[-01]", BAD),
    C("00", "[00]", BAD),
    C("-", "[-]", BAD),
    C("- 1", "[- 1]", BAD),
    C("--1", "[--1]", BAD),
    C("+1", "[+1]", BAD),
    C("1.", "[1.]", BAD),
    C("1.e5", "[1.e5]", BAD),
    C(".5", "[.5]", BAD),
    C("1e", "[1e]", BAD),
    C("1e+", "[1e+]", BAD),
    C("1e-", "[1e-]", BAD),
    C("1e5", "[1e5]", FAST),
    C("1E5", "[1E5]", FAST),
    C("1E+5", "[1E+5]", FAST),
    C("1e-5", "[1e-5]", FAST),
    C("1.5e3", "[1.5e3]", FAST),
    C("-1.5E-3", "[-1.5E-3]", FAST),
    C("0e0", "[0e0]", FAST),
    C("1e-400 underflows to 0", "[1e-400]", FAST),
    C("-1e-400", "[-1e-400]", FAST),
    C("subnormal 4.9e-324", "[4.9e-324]", FAST),
    C("smallest normal", "[2.2250738585072014e-308]", FAST),
    C("DBL_MAX", "[1.7976931348623157e308]", FAST),
    C("just above DBL_MAX", "[1.7976931348623159e308]", BAD),
    C("1e400 overflows", "[1e400]", BAD),
    C("-1e400 overflows", "[-1e400]", BAD),
    C("0.1 and friends", "[0.1,0.2,0.30000000000000004,3.141592653589793,1e22,1e23]", FAST),
    C("long mantissa", "[3.14159265358979323846264338327950288419716939937510582097494459230781640628620899]", REF),
    C("long zero fraction", "[1.000000000000000000000000000000000000000000000000000000000000000000001]", REF),
    C("long exponent", "[1e0000000000000000000000000000000000000000000000000000000000000000000005]", REF),
    C("17-digit integer", "[12345678901234567]", FAST),
    C("-17-digit integer", "[-12345678901234567]", FAST),
    C("18-digit integer", "[123456789012345678]", FAST),
    C("largest 18-digit integer", "[999999999999999999]", FAST),
    C("-18-digit integer", "[-999999999999999999]", FAST),
    C("19-digit integer", "[1234567890123456789]", REF),
    C("20-digit integer", "[12345678901234567890]", BAD),
    C("INT64_MAX", "[9223372036854775807]", REF),
    C("INT64_MIN", "[-9223372036854775808]", REF),
    C("INT64_MAX+1", "[9223372036854775808]", BAD),
    C("INT64_MIN-1", "[-9223372036854775809]", BAD),
    C("a 40-digit integer", "[1234567890123456789012345678901234567890]", BAD),
    C("integer then letter", "[1x]", BAD),
    C("real then letter", "[1.5x]", BAD),
    C("real then dot", "[1.5.3]", BAD),
    C("hex", "[0x10]", BAD),
    C("numbers in an object", "{\"i\":42,\"r\":42.0,\"n\":-7,\"e\":7e0}", FAST),

    /* literals */
    C("true false null", "[true,false,null]", FAST),
    C("truex", "[truex]", BAD),
    C("trueX", "[trueX]", BAD),
    C("true1", "[true1]", BAD),
    C("nul", "[nul]", BAD),
    C("nulll", "[nulll]", BAD),
    C("True", "[True]", BAD),
    C("NULL", "[NULL]", BAD),
    C("fals at end", "[fals", BAD),
    C("NaN", "[NaN]", BAD),
    C("Infinity", "[Infinity]", BAD),
    C("-Infinity", "[-Infinity]", BAD),
    C("literal then bracket", "[true]", FAST),
    C("literal then underscore", "[true_]", BAD),

    /* structure errors */
    C("trailing comma in array", "[1,]", BAD),
    C("trailing comma in object", "{\"a\":1,}", BAD),
    C("leading comma", "[,1]", BAD),
    C("double comma", "[1,,2]", BAD),
    C("missing comma", "[1 2]", BAD),
    C("missing colon", "{\"a\" 1}", BAD),
    C("missing value", "{\"a\":}", BAD),
    C("double colon", "{\"a\"::1}", BAD),
    C("colon in array", "[1:2]", BAD),
    C("unclosed array", "[1,2", BAD),
    C("unclosed object", "{\"a\":1", BAD),
    C("unclosed after key", "{\"a\"", BAD),
    C("unclosed after colon", "{\"a\":", BAD),
    C("mismatched brackets", "[1}", BAD),
    C("mismatched braces", "{\"a\":1]", BAD),
    C("extra close", "[1]]", BAD),
    C("trailing garbage", "[1] x", BAD),
    C("trailing second document", "{}{}", BAD),
    C("trailing garbage after whitespace", "[1]\n\n  ,", BAD),
    C("garbage on line 3", "{\n\"a\": 1,\n\"b\": ?}", BAD),
    C("empty input", "", BAD),
    C("only whitespace", " \n\t ", BAD),
    C("lone open", "[", BAD),
    C("lone close", "]", BAD),
    C("single quotes", "['a']", BAD),
    C("comment", "[1 /* c */]", BAD),
    C("form feed is not whitespace", "\f[1]", BAD),
    C("vertical tab is not whitespace", "[1\v]", BAD),
    C("BOM", "\xef\xbb\xbf[1]", BAD),

    /* NUL bytes in the buffer */
    C("NUL after the document", "[1]\0", BAD),
    C("NUL before the document", "\0[1]", BAD),
    C("NUL in a string", "[\"a\0b\"]", BAD),
    C("NUL in a key", "{\"a\0\":1}", BAD),
    C("NUL between values", "[1,\0 2]", BAD),
    C("NUL in a number", "[1\0" "2]", BAD),

    /* scalars at the top level (valid only with JSON_DECODE_ANY) */
    C("top-level integer", "1", FAST),
    C("top-level negative real", " -2.5e1 ", FAST),
    C("top-level string", "\"s\\u00e9\"", FAST),
    C("top-level empty string", "\"\"", FAST),
    C("top-level true", "true", FAST),
    C("top-level false", "false\n", FAST),
    C("top-level null", "null", FAST),
    C("top-level truex", "truex", BAD),
    C("top-level 01", "01", BAD),
    C("top-level two scalars", "1 2", BAD),
    C("top-level big integer", "9223372036854775807", REF),
    C("top-level too big integer", "9223372036854775808", BAD),
    C("top-level 1e400", "1e400", BAD),
    C("top-level unterminated string", "\"abc", BAD),
};

/* ---- the checks --------------------------------------------------------------------- */

static const size_t all_flags[] = {
    0, JSON_DECODE_ANY, JSON_REJECT_DUPLICATES, JSON_DISABLE_EOF_CHECK, JSON_ALLOW_NUL,
    JSON_DECODE_INT_AS_REAL, JSON_DECODE_ANY | JSON_ALLOW_NUL,
    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK,
};

static void show(const char *buf, size_t len)
{
    printf("#   input (%zu bytes): ", len);
    for (size_t i = 0; i < len && i < 120; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("%s\n", len > 120 ? "..." : "");
}

static void show_error(const char *who, const json_t *v, const json_error_t *e)
{
    printf("#   %s: %s; text '%s' line %d column %d position %d source '%s'\n", who,
           v ? "ok" : "NULL", e->text, e->line, e->column, e->position, e->source);
}

/* One input under one set of flags: the scanner, then jsonload, against json_loadb. Returns
 * whether the scanner parsed it (non-NULL). */
static int check(const char *name, const char *buf, size_t len, size_t flags)
{
    json_error_t rerr, gerr;
    memset(&rerr, 0x5a, sizeof(rerr));
    memset(&gerr, 0xa5, sizeof(gerr));

    json_t *ref = json_loadb(buf, len, flags, &rerr);
    json_t *fast = jsonload_fast(buf, len, flags);
    json_t *got = jsonload(buf, len, flags, &gerr);
    int accepted = fast != NULL;

    int fast_ok = !fast || (ref && same_shape(fast, ref));
    if (flags & ~(size_t)JSON_DECODE_ANY)
        fast_ok = fast_ok && !fast;   /* other flags are jansson's */
    if (!ok(fast_ok, "%s, flags 0x%zx: the scanner declines or agrees", name, flags)) {
        show(buf, len);
        show_error("json_loadb", ref, &rerr);
        printf("#   jsonload_fast: %s\n", fast ? "ok" : "NULL");
    }
    if (!ok(same_shape(got, ref) && same_error(&gerr, &rerr),
            "%s, flags 0x%zx: jsonload equals json_loadb (%s)", name, flags,
            ref ? "parsed" : rerr.text)) {
        show(buf, len);
        show_error("json_loadb", ref, &rerr);
        show_error("jsonload  ", got, &gerr);
    }

    /* err is optional */
    json_t *noerr = jsonload(buf, len, flags, NULL);
    if (!ok(same_shape(noerr, ref), "%s, flags 0x%zx: the same without err", name, flags))
        show(buf, len);

    json_decref(ref);
    json_decref(fast);
    json_decref(got);
    json_decref(noerr);
    return accepted;
}

/* Every flag set, and what the case says about JSON_DECODE_ANY. */
static void check_case(const char *name, const char *buf, size_t len, int want)
{
    int fast_any = 0;
    for (size_t i = 0; i < sizeof(all_flags) / sizeof(all_flags[0]); i++) {
        int accepted = check(name, buf, len, all_flags[i]);
        if (all_flags[i] == JSON_DECODE_ANY)
            fast_any = accepted;
    }
    json_error_t e;
    json_t *ref = json_loadb(buf, len, JSON_DECODE_ANY, &e);
    if (want == FAST)
        ok(fast_any, "%s: the scanner parses it itself", name);
    else if (want == REF)
        ok(ref && !fast_any, "%s: valid, left to jansson", name);
    else
        ok(!ref, "%s: jansson rejects it (%s)", name, ref ? "it did not" : e.text);
    json_decref(ref);
}

/* n arrays nested: [[[...]]] */
static char *nested(size_t n, char open, char close, size_t *len)
{
    char *s = malloc(2 * n + 1);
    memset(s, open, n);
    memset(s + n, close, n);
    s[2 * n] = '\0';
    *len = 2 * n;
    return s;
}

/* n objects nested: {"a":{"a":...{}}} */
static char *nested_objects(size_t n, size_t *len)
{
    char *s = malloc(6 * n + 3), *p = s;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "{}");
    for (size_t i = 0; i < n; i++)
        *p++ = '}';
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

/* {"<key>":1,"<key>x":2} with a key of n bytes, each of them an escape (\u00e9 gives two
 * bytes, so n/2 escapes) or a plain byte. */
static char *long_key(size_t n, int escaped, size_t *len)
{
    char *s = malloc(8 * n + 64), *p = s;
    for (int k = 0; k < 2; k++) {
        p += sprintf(p, "%s\"", k ? "," : "{");
        if (escaped) {
            for (size_t i = 0; i + 1 < n; i += 2)
                p += sprintf(p, "\\u00e9");
            if (n % 2)
                p += sprintf(p, "\\n");
        } else {
            memset(p, 'k', n);
            p += n;
        }
        p += sprintf(p, "%s\":[%d,\"v\\t%zu\"]", k ? "x" : "", k, n);
    }
    p += sprintf(p, "}");
    *len = (size_t)(p - s);
    return s;
}

int main(void)
{
    plan_no_plan();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(cases[i].name, cases[i].buf, cases[i].len, cases[i].want);

    /* Nesting: the scanner stops at 512 levels, jansson at 2048. */
    static const struct { size_t n; int want; } depths[] = {
        { 1, FAST }, { 511, FAST }, { 512, FAST }, { 513, REF }, { 2047, REF }, { 2048, REF },
        { 2049, BAD }, { 5000, BAD },
    };
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        char name[64];
        size_t len;
        char *s = nested(depths[i].n, '[', ']', &len);
        snprintf(name, sizeof(name), "%zu nested arrays", depths[i].n);
        check_case(name, s, len, depths[i].want);
        /* the same, unclosed: an error at every depth */
        snprintf(name, sizeof(name), "%zu nested arrays, one unclosed", depths[i].n);
        check_case(name, s, len - 1, BAD);
        free(s);
        s = nested_objects(depths[i].n - 1, &len);   /* the innermost {} is one more */
        snprintf(name, sizeof(name), "%zu nested objects", depths[i].n);
        check_case(name, s, len, depths[i].want);
        free(s);
    }

    /* Escaped keys are copied aside, on the stack below 128 bytes. */
    static const size_t key_lens[] = { 1, 126, 127, 128, 129, 200, 1000 };
    for (size_t i = 0; i < sizeof(key_lens) / sizeof(key_lens[0]); i++) {
        for (int escaped = 0; escaped < 2; escaped++) {
            char name[64];
            size_t len;
            char *s = long_key(key_lens[i], escaped, &len);
            snprintf(name, sizeof(name), "%s key of %zu bytes", escaped ? "escaped" : "plain",
                     key_lens[i]);
            check_case(name, s, len, FAST);
            free(s);
        }
    }

    /* A big object and a long escaped string (the scratch grows). */
    {
        size_t cap = 64 * 1024, n = 0;
        char *s = malloc(cap);
        n += (size_t)sprintf(s + n, "{");
        for (int i = 0; i < 2000; i++)
            n += (size_t)sprintf(s + n, "%s\"k%d\":%d", i ? "," : "", (i * 7919) % 2000, i);
        n += (size_t)sprintf(s + n, "}");
        check_case("2000 keys in a scrambled order", s, n, FAST);
        n = 0;
        n += (size_t)sprintf(s + n, "[\"");
        for (int i = 0; i < 3000; i++)
            n += (size_t)sprintf(s + n, "%s", i % 3 ? "ab\\n" : "\\ud83d\\ude80\xc3\xa9");
        n += (size_t)sprintf(s + n, "\",\"\\t\"]");
        check_case("a long escaped string, then a short one", s, n, FAST);
        free(s);
    }

    /* The duplicate key, spelled out: the last value in the first place. */
    {
        static const char dup[] = "{\"a\":1,\"b\":2,\"a\":3}";
        json_t *v = jsonload_fast(dup, sizeof(dup) - 1, 0);
        void *it = v ? json_object_iter(v) : NULL;
        ok(v && json_object_size(v) == 2 && it && strcmp(json_object_iter_key(it), "a") == 0 &&
           json_integer_value(json_object_iter_value(it)) == 3,
           "duplicate key: {\"a\":3,\"b\":2}");
        json_decref(v);
    }

    /* Integer and real stay apart: 1 and 1.0. */
    {
        static const char nums[] = "[1,1.0,-0,-0.0]";
        json_t *v = jsonload(nums, sizeof(nums) - 1, 0, NULL);
        ok(v && json_is_integer(json_array_get(v, 0)) && json_is_real(json_array_get(v, 1)) &&
           json_is_integer(json_array_get(v, 2)) && json_is_real(json_array_get(v, 3)) &&
           signbit(json_real_value(json_array_get(v, 3))),
           "1 is an integer, 1.0 a real, -0.0 keeps its sign");
        json_decref(v);
    }

    /* On success json_loadb still fills err: position is where its lexer stopped, the end
     * (jsonload once left it 0). */
    {
        static const char doc[] = "  {\"a\":[1,2]}\n";
        json_error_t e;
        memset(&e, 0x5a, sizeof(e));
        json_t *v = jsonload(doc, sizeof(doc) - 1, 0, &e);
        ok(v && e.position == (int)(sizeof(doc) - 1) && e.line == -1 && e.column == -1 &&
           e.text[0] == '\0' && strcmp(e.source, "<buffer>") == 0,
           "success: err has position %d (the length), line -1, column -1, no text", e.position);
        json_decref(v);
    }

    /* buf NULL: no crash, the same "wrong arguments" as json_loadb. */
    check("NULL buffer", NULL, 0, 0);
    check("NULL buffer", NULL, 0, JSON_DECODE_ANY);
    ok(jsonload_fast(NULL, 0, JSON_DECODE_ANY) == NULL, "NULL buffer: the scanner declines");

    return done_testing();
}
