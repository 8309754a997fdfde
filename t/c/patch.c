/* t/c/patch.c: unit tests for engine/patch.c and engine/patch_strategic.c (patch.h).
 *
 * JSON Patch (every op, every error, atomicity), the RFC 7386 appendix, and strategic merge
 * patch as the apiserver applies it (merge keys, directives, kubectl's real bodies). Every
 * check also verifies that the document and the patch were left untouched. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "patch.h"
#include "tap.h"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);

    if (!v)
        diag("bad test JSON: %s: %s", e.text, s);
    return v;
}

static char *dump(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("(null)");
}

enum { JP, MP, SMP };

/* Run one patch of the given type; check the result equals want (arrays in order, object
 * members in any order) or, when want is NULL, that it fails with status code and a message
 * containing msg. Also check both inputs are unchanged. */
static void check(int type, const char *api_version, const char *kind, const char *doc_s,
                  const char *patch_s, const char *want_s, int want_code, const char *msg,
                  const char *what)
{
    json_t *doc = parse(doc_s), *patch = parse(patch_s), *want = want_s ? parse(want_s) : NULL;
    char *doc_before = dump(doc), *patch_before = dump(patch), *doc_after, *patch_after;
    char err[512] = "";
    int code = -1;
    json_t *got;

    if (type == JP)
        got = patch_json_apply(doc, patch, &code, err, sizeof(err));
    else if (type == MP)
        got = patch_merge_apply(doc, patch, &code, err, sizeof(err));
    else
        got = patch_strategic_apply(doc, patch, api_version, kind, &code, err, sizeof(err));

    if (want_s) {
        char *g = dump(got), *w = dump(want);
        if (!ok(got && json_equal(got, want), "%s", what)) {
            diag("got:  %s", g);
            diag("want: %s", w);
            if (!got)
                diag("error %d: %s", code, err);
        }
        free(g);
        free(w);
    } else {
        int good = !got && code == want_code && (!msg || strstr(err, msg));
        if (!ok(good, "%s", what)) {
            char *g = dump(got);
            diag("got %s, code %d, message '%s'; want code %d with '%s'", g, code, err,
                 want_code, msg ? msg : "");
            free(g);
        }
    }
    doc_after = dump(doc);
    patch_after = dump(patch);
    if (!(strcmp(doc_before, doc_after) == 0 && strcmp(patch_before, patch_after) == 0))
        ok(0, "%s: inputs untouched", what);
    free(doc_before);
    free(doc_after);
    free(patch_before);
    free(patch_after);
    json_decref(got);
    json_decref(doc);
    json_decref(patch);
    json_decref(want);
}

#define jp_ok(d, p, w, what)              check(JP, NULL, NULL, d, p, w, 0, NULL, what)
#define jp_err(d, p, c, m, what)          check(JP, NULL, NULL, d, p, NULL, c, m, what)
#define mp_ok(d, p, w, what)              check(MP, NULL, NULL, d, p, w, 0, NULL, what)
#define smp_ok(av, k, d, p, w, what)      check(SMP, av, k, d, p, w, 0, NULL, what)
#define smp_err(av, k, d, p, c, m, what)  check(SMP, av, k, d, p, NULL, c, m, what)

/* ------------------------------------------------------------------------------------- */

static void test_json_patch(void)
{
    /* RFC 6902 appendix A */
    jp_ok("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
          "{\"baz\":\"qux\",\"foo\":\"bar\"}", "A.1 add an object member");
    jp_ok("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
          "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "A.2 add an array element");
    jp_ok("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
          "{\"foo\":\"bar\"}", "A.3 remove an object member");
    jp_ok("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
          "{\"foo\":[\"bar\",\"baz\"]}", "A.4 remove an array element");
    jp_ok("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
          "{\"baz\":\"boo\",\"foo\":\"bar\"}", "A.5 replace a value");
    jp_ok("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
          "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
          "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}",
          "A.6 move a value");
    jp_ok("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
          "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
          "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}", "A.7 move an array element");
    jp_ok("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
          "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
          "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", "A.8 test a value: success");
    jp_err("{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]",
           422, "test operation does not apply", "A.9 test a value: error");
    jp_ok("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
          "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}", "A.10 add a nested member object");
    jp_ok("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
          "{\"foo\":\"bar\",\"baz\":\"qux\"}", "A.11 ignore unrecognized elements");
    jp_err("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]",
           422, "jsonpatch add operation does not apply: doc is missing path: \"/baz/bat\"",
           "A.12 add to a nonexistent target");
    jp_ok("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
          "{\"/\":9,\"~1\":10}", "A.14 ~ escape ordering");
    jp_err("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]",
           422, "test failed", "A.15 comparing strings and numbers");
    jp_ok("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
          "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}", "A.16 add an array value with -");

    /* pointers */
    jp_ok("{\"a/b\":1,\"m~n\":2}",
          "[{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":3},{\"op\":\"remove\",\"path\":\"/m~0n\"}]",
          "{\"a/b\":3}", "~1 and ~0 unescape");
    jp_err("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/a~2\"}]", 400, "invalid path", "bad ~ escape is 400");
    jp_err("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"a\"}]", 400, "invalid path", "path without / is 400");
    jp_ok("{\"\":{\"x\":1}}", "[{\"op\":\"add\",\"path\":\"//y\",\"value\":2}]",
          "{\"\":{\"x\":1,\"y\":2}}", "empty key token");
    jp_ok("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]", "[1]", "replace the root");
    jp_ok("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"b\":2}}]", "{\"b\":2}", "add at the root");
    jp_err("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]", 422, NULL, "remove the root is 422");

    /* arrays */
    jp_ok("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/2\",\"value\":3}]", "{\"l\":[1,2,3]}",
          "add at index == size appends");
    jp_err("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/3\",\"value\":3}]", 422, "out of range",
           "add past the end is 422");
    jp_err("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/01\",\"value\":3}]", 422, NULL,
           "leading zero index is 422");
    jp_err("{\"l\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/l/2\"}]", 422, "out of range",
           "remove past the end is 422");
    jp_err("{\"l\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/l/-\"}]", 422, NULL, "remove /- is 422");
    jp_err("{\"l\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/l/5\",\"value\":0}]", 422,
           "doc is missing path", "replace past the end is 422");
    jp_err("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/x\",\"value\":0}]", 422, NULL,
           "non-numeric index is 422");
    jp_ok("{\"l\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/l/0\",\"value\":{\"z\":null}}]",
          "{\"l\":[{\"z\":null},2]}", "replace an array element");

    /* remove/replace/move/copy/test edges */
    jp_err("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/spec/foo\"}]", 422,
           "jsonpatch remove operation does not apply: doc is missing path: \"/spec/foo\"",
           "remove a missing member");
    jp_err("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":1}]", 422,
           "jsonpatch replace operation does not apply", "replace a missing member");
    jp_ok("{\"a\":{\"b\":[1]},\"c\":{}}", "[{\"op\":\"copy\",\"from\":\"/a/b\",\"path\":\"/c/d\"}]",
          "{\"a\":{\"b\":[1]},\"c\":{\"d\":[1]}}", "copy");
    jp_err("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/b\"}]", 422, "doc is missing path: \"/x\"",
           "copy from a missing path");
    jp_err("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]", 422, NULL,
           "move into its own child is 422");
    jp_ok("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}", "move onto itself");
    jp_err("{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/b\"}]", 400, "no \"from\"", "move without from is 400");
    jp_ok("{\"n\":1,\"o\":{\"x\":[1,{\"y\":2}],\"z\":true}}",
          "[{\"op\":\"test\",\"path\":\"/n\",\"value\":1.0},{\"op\":\"test\",\"path\":\"/o\",\"value\":{\"z\":true,\"x\":[1.0,{\"y\":2}]}}]",
          "{\"n\":1,\"o\":{\"x\":[1,{\"y\":2}],\"z\":true}}", "test: numbers by value, members in any order");
    jp_err("{\"a\":[1,2]}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[2,1]}]", 422, "test failed",
           "test: array order matters");
    jp_err("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/b\",\"value\":null}]", 422, "doc is missing path",
           "test a missing path");
    jp_ok("{\"a\":null}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]", "{\"a\":null}", "test null");

    /* malformed patches: 400 */
    jp_err("{}", "{\"op\":\"add\"}", 400, "array", "patch not an array");
    jp_err("{}", "[{\"path\":\"/a\",\"value\":1}]", 400, "\"op\"", "op missing");
    jp_err("{}", "[{\"op\":\"add\",\"value\":1}]", 400, "\"path\"", "path missing");
    jp_err("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", 400, "\"value\"", "value missing");
    jp_err("{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", 400, "frob", "unknown op");
    jp_err("{}", "[1]", 400, NULL, "operation not an object");
    jp_ok("{\"a\":1}", "[]", "{\"a\":1}", "empty patch");

    /* atomicity: a later failure undoes earlier operations */
    jp_err("{\"a\":1,\"l\":[1]}",
           "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},{\"op\":\"remove\",\"path\":\"/l/0\"},{\"op\":\"test\",\"path\":\"/a\",\"value\":5}]",
           422, "test", "failed test aborts the whole patch (inputs checked untouched)");
    jp_ok("{\"a\":{\"b\":1}}",
          "[{\"op\":\"add\",\"path\":\"/c\",\"value\":{}},{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/c/b\"},{\"op\":\"remove\",\"path\":\"/a\"}]",
          "{\"c\":{\"b\":1}}", "operations apply in order");

    /* copy doubling the document is bounded, as the apiserver bounds it */
    {
        char *ops = malloc(64 * 64 + 16), *p = ops;
        p += sprintf(p, "[");
        for (int i = 0; i < 60; i++)
            p += sprintf(p, "%s{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/%c\"}", i ? "," : "", 'a' + i % 2);
        sprintf(p, "]");
        jp_err("{\"a\":{\"x\":\"0123456789\"}}", ops, 422, "exceed", "exponential copy is refused");
        free(ops);
    }

    /* a pointer nested beyond the bound is refused, not recursed into */
    {
        size_t n = 600;
        char *path = malloc(n * 2 + 1), *p = path, *ops;
        for (size_t i = 0; i < n; i++) { *p++ = '/'; *p++ = 'a'; }
        *p = '\0';
        ops = malloc(strlen(path) + 64);
        sprintf(ops, "[{\"op\":\"add\",\"path\":\"%s\",\"value\":1}]", path);
        jp_err("{}", ops, 400, NULL, "600-token pointer is rejected");
        free(ops);
        free(path);
    }
}

/* ------------------------------------------------------------------------------------- */

static void test_merge_patch(void)
{
    /* RFC 7386 appendix A */
    mp_ok("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}", "7386 #1");
    mp_ok("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}", "7386 #2");
    mp_ok("{\"a\":\"b\"}", "{\"a\":null}", "{}", "7386 #3");
    mp_ok("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}", "7386 #4");
    mp_ok("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}", "7386 #5");
    mp_ok("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}", "7386 #6");
    mp_ok("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}", "7386 #7");
    mp_ok("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}", "7386 #8");
    mp_ok("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]", "7386 #9");
    mp_ok("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]", "7386 #10");
    mp_ok("{\"a\":\"foo\"}", "null", "null", "7386 #11");
    mp_ok("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"", "7386 #12");
    mp_ok("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}", "7386 #13");
    mp_ok("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}", "7386 #14");
    mp_ok("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}", "7386 #15");
    /* the RFC's section 3 example */
    mp_ok("{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
          "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
          "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":{\"familyName\":null},\"tags\":[\"example\"]}",
          "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
          "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}",
          "7386 section 3 example");
    mp_ok("{\"spec\":{\"replicas\":1,\"x\":2}}", "{\"spec\":{\"replicas\":3}}",
          "{\"spec\":{\"replicas\":3,\"x\":2}}", "kubectl scale body");
}

/* ------------------------------------------------------------------------------------- */

#define POD(spec) "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":" spec "}"
#define POD_SPEC(spec) "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":" spec "}"

static void test_strategic(void)
{
    const char *two = POD("{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"y\"}]}");

    ok(patch_strategic_known("v1", "Pod"), "Pod is known");
    ok(patch_strategic_known("apps/v1", "Deployment"), "apps/v1 Deployment is known");
    ok(patch_strategic_known("batch/v1", "CronJob"), "batch/v1 CronJob is known");
    ok(!patch_strategic_known("apps/v1", "Pod"), "Pod is not in group apps");
    ok(!patch_strategic_known("example.com/v1", "Widget"), "a custom resource is unknown");
    ok(!patch_strategic_known(NULL, NULL), "NULL is unknown");

    smp_ok("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"z\"}]}}",
           POD("{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"z\"}]}"),
           "containers merge by name");
    smp_ok("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"w\"}]}}",
           POD("{\"containers\":[{\"name\":\"c\",\"image\":\"w\"},{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"y\"}]}"),
           "a new container without an order goes first (patch items before server-only ones)");
    smp_ok("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"name\":\"a\"}]}}",
           POD("{\"containers\":[{\"name\":\"b\",\"image\":\"y\"}]}"), "delete by merge key");
    smp_ok("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"name\":\"z\",\"image\":\"q\"},{\"$patch\":\"replace\"}]}}",
           POD("{\"containers\":[{\"name\":\"z\",\"image\":\"q\"}]}"), "{$patch: replace} element replaces the list");
    smp_ok("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x2\",\"$patch\":\"replace\"}]}}",
           POD("{\"containers\":[]}"),
           "an element carrying $patch: replace is a directive: the list becomes the other elements");
    smp_ok("v1", "Pod", two,
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}",
           POD("{\"containers\":[{\"name\":\"b\",\"image\":\"y\"},{\"name\":\"a\",\"image\":\"x\"}]}"),
           "$setElementOrder alone reorders");
    smp_ok("v1", "Pod", two,
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"c\"},{\"name\":\"b\"}],"
           "\"containers\":[{\"name\":\"c\",\"image\":\"w\"}]}}",
           POD("{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"c\",\"image\":\"w\"},{\"name\":\"b\",\"image\":\"y\"}]}"),
           "$setElementOrder places a new element");
    smp_ok("v1", "Pod",
           POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"s\"},{\"name\":\"b\"}]}"),
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}",
           POD("{\"containers\":[{\"name\":\"s\"},{\"name\":\"b\"},{\"name\":\"a\"}]}"),
           "an element the order does not name slots in before the first named one after it live");
    smp_ok("v1", "Pod",
           POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"s\"}]}"),
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}",
           POD("{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"},{\"name\":\"s\"}]}"),
           "an element the order does not name, last live, stays after the named ones");
    smp_ok("v1", "Pod", two,
           "{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80}],\"env\":[{\"name\":\"E\",\"value\":\"1\"}]}]}}",
           POD("{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"ports\":[{\"containerPort\":80}],\"env\":[{\"name\":\"E\",\"value\":\"1\"}]},{\"name\":\"b\",\"image\":\"y\"}]}"),
           "new nested lists are added");
    smp_ok("v1", "Pod",
           POD("{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
               "\"volumeMounts\":[{\"mountPath\":\"/d\",\"name\":\"v\"}],\"command\":[\"x\",\"y\"]}],"
               "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],\"tolerations\":[{\"key\":\"k\"}]}"),
           "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"B\",\"value\":\"3\"}],"
           "\"volumeMounts\":[{\"mountPath\":\"/d\",\"readOnly\":true}],\"command\":[\"z\"]}],"
           "\"volumes\":[{\"name\":\"v\",\"$retainKeys\":[\"name\",\"hostPath\"],\"hostPath\":{\"path\":\"/h\"}}],"
           "\"tolerations\":[{\"key\":\"j\"}]}}",
           POD("{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"3\"}],"
               "\"volumeMounts\":[{\"mountPath\":\"/d\",\"name\":\"v\",\"readOnly\":true}],\"command\":[\"z\"]}],"
               "\"volumes\":[{\"name\":\"v\",\"hostPath\":{\"path\":\"/h\"}}],\"tolerations\":[{\"key\":\"j\"}]}"),
           "env by name, volumeMounts by mountPath, volumes with $retainKeys, plain lists replace");

    /* maps */
    smp_ok("v1", "Pod", "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
           "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"x\":\"1\"}}}",
           "{\"metadata\":{\"labels\":{\"x\":\"1\"}}}", "$patch: replace on a map");
    smp_ok("v1", "Pod", POD("{\"securityContext\":{\"runAsUser\":1},\"hostname\":\"h\"}"),
           "{\"spec\":{\"securityContext\":{\"$patch\":\"delete\"}}}",
           POD("{\"securityContext\":{},\"hostname\":\"h\"}"), "$patch: delete on a map empties it");
    smp_ok("v1", "Pod", "{\"metadata\":{\"labels\":{\"a\":\"1\"}}}",
           "{\"metadata\":{\"labels\":{\"$patch\":\"merge\",\"b\":\"2\"}}}",
           "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}", "$patch: merge on a map merges");
    smp_ok("v1", "Pod", "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{}}",
           "{\"metadata\":{\"labels\":{\"a\":null,\"zz\":null}},\"spec\":{\"gone\":null}}",
           "{\"metadata\":{\"labels\":{\"b\":\"2\"}},\"spec\":{}}", "null deletes; null on a missing key is dropped");
    smp_ok("v1", "Pod", "{\"metadata\":{\"name\":\"p\"}}",
           "{\"metadata\":{\"labels\":{\"x\":\"1\",\"$weird\":\"y\",\"n\":null}},\"spec\":{\"containers\":[{\"name\":\"c\",\"$foo\":1,\"env\":[{\"$patch\":\"delete\",\"name\":\"Q\"}]}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{\"x\":\"1\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[]}]}}",
           "$-keys and nulls are stripped from new values");
    smp_err("v1", "Pod", "{}", "{\"metadata\":{\"$patch\":\"explode\"}}", 400, "unknown patch type", "unknown $patch is 400");
    smp_err("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"image\":\"q\"}]}}", 422, "merge key",
            "element without its merge key is 422");
    smp_err("v1", "Pod", two, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\"}]}}", 400, "merge key",
            "delete without its merge key is 400");
    smp_err("v1", "Pod", two, "{\"spec\":{\"containers\":[\"a\"]}}", 400, "not a map", "scalar in a keyed list is 400");
    smp_err("v1", "Pod", "{}", "[1]", 400, "object", "patch not an object is 400");

    /* $retainKeys on a struct, as kubectl sends it for Deployment.spec.strategy */
    smp_ok("apps/v1", "Deployment",
           "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}},\"replicas\":2}}",
           "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":null,\"type\":\"Recreate\"}}}",
           "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"},\"replicas\":2}}", "$retainKeys drops keys not listed");
    smp_err("apps/v1", "Deployment", "{\"spec\":{\"strategy\":{}}}",
            "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":{\"maxSurge\":1}}}}",
            400, "retainKeys", "$retainKeys not naming a patched key is 400");
    smp_err("apps/v1", "Deployment", "{\"spec\":{\"strategy\":{}}}",
            "{\"spec\":{\"strategy\":{\"$retainKeys\":\"type\"}}}", 400, "retainKeys", "$retainKeys not a list is 400");

    /* metadata of every known kind: finalizers a set, ownerReferences by uid */
    smp_ok("v1", "ConfigMap", "{\"metadata\":{\"finalizers\":[\"x\",\"y\"]}}",
           "{\"metadata\":{\"finalizers\":[\"y\",\"w\"]}}",
           "{\"metadata\":{\"finalizers\":[\"x\",\"y\",\"w\"]}}", "finalizers merge as a set");
    smp_ok("v1", "ConfigMap", "{\"metadata\":{\"finalizers\":[\"x\",\"y\",\"z\"]}}",
           "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"y\",\"nope\"]}}",
           "{\"metadata\":{\"finalizers\":[\"x\",\"z\"]}}", "$deleteFromPrimitiveList");
    smp_ok("v1", "ConfigMap", "{\"metadata\":{\"finalizers\":[\"x\",\"y\"]}}",
           "{\"metadata\":{\"$setElementOrder/finalizers\":[\"y\",\"n\"],\"$deleteFromPrimitiveList/finalizers\":[\"x\"],\"finalizers\":[\"n\"]}}",
           "{\"metadata\":{\"finalizers\":[\"y\",\"n\"]}}", "kubectl's finalizer body: order, delete, add");
    smp_err("v1", "ConfigMap", "{\"metadata\":{}}",
            "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":\"x\"}}", 400, "primitive list",
            "$deleteFromPrimitiveList not a list is 400");
    smp_ok("v1", "Secret",
           "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"},{\"uid\":\"2\",\"name\":\"b\"}]}}",
           "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"2\",\"controller\":true}]}}",
           "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"},{\"uid\":\"2\",\"name\":\"b\",\"controller\":true}]}}",
           "ownerReferences merge by uid");

    /* the body kubectl 1.31 sent on re-apply (reference §5) */
    smp_ok("apps/v1", "Deployment",
           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"},"
           "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"old\"}},"
           "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"}},"
           "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
           "{\"name\":\"a\",\"image\":\"img:1\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":80}]},"
           "{\"name\":\"b\",\"image\":\"side:1\"}]}}},\"status\":{\"replicas\":1}}",
           "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"new\\n\"},\"labels\":{\"tier\":\"x\"}},"
           "\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":null,\"type\":\"Recreate\"},"
           "\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":["
           "{\"$setElementOrder/env\":[{\"name\":\"A\"}],\"$setElementOrder/ports\":[{\"containerPort\":80},{\"containerPort\":81}],"
           "\"env\":[{\"$patch\":\"delete\",\"name\":\"B\"}],\"image\":\"img:2\",\"name\":\"a\",\"ports\":[{\"containerPort\":81}]},"
           "{\"$patch\":\"delete\",\"name\":\"b\"}]}}}}",
           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"x\"},"
           "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"new\\n\"}},"
           "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"Recreate\"},"
           "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
           "{\"name\":\"a\",\"image\":\"img:2\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"ports\":[{\"containerPort\":80},{\"containerPort\":81}]}]}}},"
           "\"status\":{\"replicas\":1}}",
           "kubectl apply body on a Deployment (template containers, env, ports, strategy)");
    smp_ok("apps/v1", "Deployment",
           "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.25\",\"env\":[{\"name\":\"A\"}]}]}}}}",
           "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"env\":null,\"image\":\"nginx:1.26\",\"name\":\"nginx\"}]}}}}",
           "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.26\"}]}}}}",
           "a dropped field arrives as null");
    smp_ok("apps/v1", "StatefulSet",
           "{\"spec\":{\"template\":{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"image\":\"1\"}]}}}}",
           "{\"spec\":{\"template\":{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"image\":\"2\"},{\"name\":\"j\",\"image\":\"3\"}]}}}}",
           "{\"spec\":{\"template\":{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"image\":\"2\"},{\"name\":\"j\",\"image\":\"3\"}]}}}}",
           "StatefulSet template initContainers by name");
    smp_ok("batch/v1", "CronJob",
           "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\",\"image\":\"1\"}]}}}}}}",
           "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"2\"}]}}}}}}",
           "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\",\"image\":\"2\"}]}}}}}}",
           "CronJob jobTemplate containers by name");
    smp_ok("apps/v1", "Deployment",
           "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"False\"},{\"type\":\"Progressing\",\"status\":\"True\"}]}}",
           "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}",
           "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"},{\"type\":\"Progressing\",\"status\":\"True\"}]}}",
           "Deployment status.conditions by type");

    /* other built-in kinds */
    smp_ok("v1", "Service",
           "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\",\"targetPort\":8080},{\"port\":443,\"name\":\"https\"}],\"selector\":{\"a\":\"b\"}}}",
           "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090}]}}",
           "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\",\"targetPort\":9090},{\"port\":443,\"name\":\"https\"}],\"selector\":{\"a\":\"b\"}}}",
           "Service spec.ports by port");
    smp_ok("v1", "Node",
           "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.1\"},{\"type\":\"Hostname\",\"address\":\"n\"}],"
           "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}",
           "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.2\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
           "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.2\"},{\"type\":\"Hostname\",\"address\":\"n\"}],"
           "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
           "Node status.addresses and conditions by type");
    smp_ok("v1", "Pod",
           "{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"a\",\"ready\":false}]}}",
           "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"a\",\"ready\":true}]}}",
           "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"PodScheduled\",\"status\":\"True\"}],"
           "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true}]}}",
           "Pod status: conditions merge by type, containerStatuses replace");
    smp_ok("v1", "Endpoints",
           "{\"subsets\":[{\"addresses\":[{\"ip\":\"1.1.1.1\"}]}]}",
           "{\"subsets\":[{\"addresses\":[{\"ip\":\"2.2.2.2\"}]}]}",
           "{\"subsets\":[{\"addresses\":[{\"ip\":\"2.2.2.2\"}]}]}", "Endpoints subsets are atomic");

    /* unknown kind: merge-patch semantics for lists, directives still honoured and stripped */
    smp_ok("example.com/v1", "Widget",
           "{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"m\":{\"x\":1}},\"metadata\":{\"finalizers\":[\"f\"]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"b\"}],\"m\":{\"y\":2}},\"metadata\":{\"finalizers\":[\"g\"]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"b\"}],\"m\":{\"x\":1,\"y\":2}},\"metadata\":{\"finalizers\":[\"g\"]}}",
           "unknown kind replaces lists, merges maps");

    /* depth: deep patches fail cleanly */
    {
        size_t n = 150, len = n * 6 + 16;
        char *deep = malloc(len), *p = deep;
        for (size_t i = 0; i < n; i++) p += sprintf(p, "{\"a\":");
        p += sprintf(p, "1");
        for (size_t i = 0; i < n; i++) *p++ = '}';
        *p = '\0';
        smp_err("v1", "Pod", "{}", deep, 400, "deeper", "150-level strategic patch is 400");
        check(MP, NULL, NULL, "{}", deep, NULL, 400, "deeper", "150-level merge patch is 400");
        free(deep);
    }
}

int main(void)
{
    plan_no_plan();
    test_json_patch();
    test_merge_patch();
    test_strategic();

    /* NULL code/err are allowed */
    {
        json_t *d = json_object(), *p = json_array(), *r = patch_json_apply(d, p, NULL, NULL, 0);
        ok(r && json_is_object(r), "NULL code and err are accepted");
        json_decref(r);
        json_decref(d);
        json_decref(p);
    }
    return done_testing();
}
