/* t/c/selector.c: label selectors (string and LabelSelector forms), field selectors and
 * the selector projection. Expected messages are those k8s.io/apimachinery prints. */
#include "tap.h"
#include "selector.h"

#include <stdlib.h>

static json_t *labels;   /* {"app":"web","tier":"front","n":"5","in":"x"} */

/* Parse text; report whether it matches `labels` (-1 when it does not parse). */
static int lmatch(const char *text, const json_t *ls)
{
    char err[1024];
    label_selector_t *s = label_selector_parse(text, err, sizeof err);
    if (!s) {
        diag("parse error for '%s': %s", text, err);
        return -1;
    }
    int r = label_selector_match(s, ls);
    label_selector_free(s);
    return r;
}

/* The parse error for text, in a static buffer ("" if it parsed). */
/* lmatch for a labels object made on the spot; takes ownership of ls. */
static int lmatch_own(const char *text, json_t *ls)
{
    int r = lmatch(text, ls);
    json_decref(ls);
    return r;
}

static const char *lerr(const char *text)
{
    static char err[2048];
    label_selector_t *s = label_selector_parse(text, err, sizeof err);
    if (s) {
        label_selector_free(s);
        return "";
    }
    return err;
}

static int jmatch(const char *selector_json, const json_t *ls, char *err, size_t errlen)
{
    json_t *j = selector_json ? json_loads(selector_json, JSON_DECODE_ANY, NULL) : NULL;
    label_selector_t *s = label_selector_from_json(j, err, errlen);
    json_decref(j);
    if (!s)
        return -1;
    int r = label_selector_match(s, ls);
    label_selector_free(s);
    return r;
}

#define QNAME_TAIL "must consist of alphanumeric characters, '-', '_' or '.', and must start " \
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', " \
    "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define LVALUE_TAIL "a valid label must be an empty string or consist of alphanumeric " \
    "characters, '-', '_' or '.', and must start and end with an alphanumeric character " \
    "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is " \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static void test_label_parse_match(void)
{
    json_t *none = json_object();

    is_int(lmatch("", labels), 1, "empty selector matches");
    is_int(lmatch(NULL, labels), 1, "NULL selector text matches");
    is_int(lmatch("   ", labels), 1, "blank selector matches");
    is_int(lmatch("app=web", labels), 1, "a=b");
    is_int(lmatch("app==web", labels), 1, "a==b");
    is_int(lmatch("app=db", labels), 0, "a=b mismatch");
    is_int(lmatch("app!=db", labels), 1, "a!=b");
    is_int(lmatch("app!=web", labels), 0, "a!=b mismatch");
    is_int(lmatch("missing!=x", labels), 1, "a!=b matches a missing key");
    is_int(lmatch("missing=x", labels), 0, "a=b does not match a missing key");
    is_int(lmatch("app in (db,web)", labels), 1, "in");
    is_int(lmatch("app in (db)", labels), 0, "in mismatch");
    is_int(lmatch("app notin (db)", labels), 1, "notin");
    is_int(lmatch("app notin (web,db)", labels), 0, "notin mismatch");
    is_int(lmatch("missing notin (a)", labels), 1, "notin matches a missing key");
    is_int(lmatch("missing in (a)", labels), 0, "in does not match a missing key");
    is_int(lmatch("app", labels), 1, "exists");
    is_int(lmatch("missing", labels), 0, "exists mismatch");
    is_int(lmatch("!missing", labels), 1, "does not exist");
    is_int(lmatch("!app", labels), 0, "does not exist mismatch");
    is_int(lmatch("app=web,tier=front", labels), 1, "AND of two");
    is_int(lmatch("app=web,tier=back", labels), 0, "AND with a failing term");
    is_int(lmatch("  app = web ,  tier in ( front , back )  ", labels), 1, "whitespace");
    is_int(lmatch("app\t==\nweb", labels), 1, "tabs and newlines are whitespace");
    is_int(lmatch("app=", labels), 0, "empty value does not equal web");
    is_int(lmatch_own("empty=", json_pack("{s:s}", "empty", "")), 1, "empty value matches \"\"");
    is_int(lmatch("app in ()", labels), 0, "in () is the empty value");
    is_int(lmatch_own("e in (,x)", json_pack("{s:s}", "e", "")), 1, "(,x) holds the empty value");
    is_int(lmatch_own("e in (x,)", json_pack("{s:s}", "e", "")), 1, "(x,) holds the empty value");
    is_int(lmatch_own("e in (x,,y)", json_pack("{s:s}", "e", "")), 1, "(x,,y) holds the empty value");
    is_int(lmatch("in=x", labels), 1, "a key named in");
    is_int(lmatch("app in (in,web)", labels), 1, "a value named in");
    is_int(lmatch("n>4", labels), 1, "gt");
    is_int(lmatch("n>5", labels), 0, "gt mismatch");
    is_int(lmatch("n<6", labels), 1, "lt");
    is_int(lmatch("app>1", labels), 0, "gt on a non-integer label");
    is_int(lmatch("missing<1", labels), 0, "lt on a missing label");
    is_int(lmatch("app=web", NULL), 0, "NULL labels: a=b fails");
    is_int(lmatch("app!=web", NULL), 1, "NULL labels: a!=b matches");
    is_int(lmatch("!app", none), 1, "no labels: !a matches");
    is_int(lmatch_own("example.com/role=x", json_pack("{s:s}", "example.com/role", "x")), 1,
           "prefixed key");
    is_int(lmatch_own("app=web", json_pack("{s:i}", "app", 1)), 0, "a non-string label equals nothing");
    is_int(lmatch_own("app", json_pack("{s:i}", "app", 1)), 1, "a non-string label exists");

    label_selector_t *s = label_selector_parse("", NULL, 0);
    ok(s && label_selector_empty(s), "empty selector is empty");
    label_selector_free(s);
    s = label_selector_parse("a", NULL, 0);
    ok(s && !label_selector_empty(s), "a selector with a term is not empty");
    label_selector_free(s);
    label_selector_free(NULL);
    is_int(label_selector_match(NULL, labels), 0, "NULL selector matches nothing");
    json_decref(none);
}

static void test_label_errors(void)
{
    is_str(lerr("a=b,"), "found '', expected: identifier after ','", "trailing comma");
    is_str(lerr(",a"), "found ',', expected: !, identifier, or 'end of string'", "leading comma");
    is_str(lerr("a=b c"), "found 'c', expected: ',' or 'end of string'", "two values");
    is_str(lerr("a b"), "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
           "missing operator");
    is_str(lerr("!"), "unable to parse requirement: found '', expected: identifier", "bare !");
    is_str(lerr("!a=b"), "found '=', expected: ',' or 'end of string'", "!a=b");
    is_str(lerr("a=(b)"), "unable to parse requirement: found '(', expected: identifier",
           "parenthesis as a value");
    is_str(lerr("a in b"), "unable to parse requirement: found 'b' expected: '('", "in without (");
    is_str(lerr("a in (b"), "unable to parse requirement: found '', expected: ',' or ')'",
           "unclosed list");
    is_str(lerr("a in (b c)"), "unable to parse requirement: found 'c', expected: ',' or ')'",
           "list without comma");
    is_str(lerr("a in (=)"), "unable to parse requirement: found '=', expected: ',', ')' or identifier",
           "operator in a list");
    is_str(lerr("a in (b,=)"), "unable to parse requirement: found '=', expected: ',', or identifier",
           "operator after a comma in a list");
    is_str(lerr("a in"), "unable to parse requirement: found '' expected: '('", "in at the end");
    is_str(lerr("a@b=c"), "unable to parse requirement: <nil>: Invalid value: \"a@b\": name part "
           QNAME_TAIL, "bad key character");
    is_str(lerr("-a"), "unable to parse requirement: <nil>: Invalid value: \"-a\": name part "
           QNAME_TAIL, "key starting with -");
    is_str(lerr("/a"), "unable to parse requirement: <nil>: Invalid value: \"/a\": "
           "prefix part must be non-empty", "empty prefix");
    is_str(lerr("a/"), "unable to parse requirement: <nil>: Invalid value: \"a/\": "
           "name part must be non-empty; name part " QNAME_TAIL, "empty name part");
    is_str(lerr("Ex.com/a"), "unable to parse requirement: <nil>: Invalid value: \"Ex.com/a\": "
           "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
           "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')", "bad prefix");
    is_str(lerr("a/b/c"), "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": "
           "a qualified name " QNAME_TAIL " with an optional DNS subdomain prefix and '/' "
           "(e.g. 'example.com/MyName')", "two slashes");
    is_str(lerr("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
           "unable to parse requirement: <nil>: Invalid value: "
           "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
           "name part must be no more than 63 characters", "64-character name");
    is_str(lerr("a=b@c"), "unable to parse requirement: values[0][a]: Invalid value: \"b@c\": "
           LVALUE_TAIL, "bad value");
    is_str(lerr("a in (ok,-bad)"), "unable to parse requirement: values[0][a]: Invalid value: "
           "\"-bad\": " LVALUE_TAIL, "bad value in a list names its sorted index");
    is_str(lerr("a in (-x,ok,-y)"), "unable to parse requirement: [values[0][a]: Invalid value: "
           "\"-x\": " LVALUE_TAIL ", values[1][a]: Invalid value: \"-y\": " LVALUE_TAIL "]",
           "every bad value is listed");
    is_str(lerr("n>-x"), "unable to parse requirement: [values[0]: Invalid value: \"-x\": for "
           "'Gt', 'Lt' operators, the value must be an integer, values[0][n]: Invalid value: "
           "\"-x\": " LVALUE_TAIL "]", "gt with a bad value gives both problems");
    is_str(lerr("a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
           "unable to parse requirement: values[0][a]: Invalid value: "
           "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": "
           "must be no more than 63 characters", "64-character value");
    is_str(lerr("a>x"), "unable to parse requirement: values[0]: Invalid value: \"x\": "
           "for 'Gt', 'Lt' operators, the value must be an integer", "gt needs an integer");
    is_str(lerr("a=\"q\""), "unable to parse requirement: values[0][a]: Invalid value: "
           "\"\\\"q\\\"\": " LVALUE_TAIL, "quotes in a value are escaped Go-style");
    ok(strlen(lerr("a=b")) == 0, "a valid selector has no error");

    /* a tiny buffer truncates but stays a string */
    char small[8];
    ok(label_selector_parse("a b", small, sizeof small) == NULL && strlen(small) == 7,
       "error truncated to the buffer");
    ok(label_selector_parse("a b", NULL, 0) == NULL, "NULL err buffer is allowed");
}

static void test_label_json(void)
{
    char err[1024];
    is_int(jmatch(NULL, labels, err, sizeof err), 0, "NULL LabelSelector matches nothing");
    is_int(jmatch("null", labels, err, sizeof err), 0, "null LabelSelector matches nothing");
    is_int(jmatch("{}", labels, err, sizeof err), 1, "{} matches everything");
    is_int(jmatch("{}", NULL, err, sizeof err), 1, "{} matches an unlabelled object");
    is_int(jmatch("{\"matchLabels\":{\"app\":\"web\"}}", labels, err, sizeof err), 1, "matchLabels");
    is_int(jmatch("{\"matchLabels\":{\"app\":\"web\",\"tier\":\"x\"}}", labels, err, sizeof err), 0,
           "matchLabels mismatch");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"a\",\"web\"]}]}",
                  labels, err, sizeof err), 1, "In");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\",\"values\":[\"web\"]}]}",
                  labels, err, sizeof err), 0, "NotIn");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"zz\",\"operator\":\"NotIn\",\"values\":[\"web\"]}]}",
                  labels, err, sizeof err), 1, "NotIn on a missing key");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]}",
                  labels, err, sizeof err), 1, "Exists");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"DoesNotExist\"}]}",
                  labels, err, sizeof err), 0, "DoesNotExist");
    is_int(jmatch("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
                  "\"operator\":\"In\",\"values\":[\"front\"]}]}", labels, err, sizeof err), 1,
           "matchLabels and matchExpressions together");
    is_int(jmatch("{\"matchLabels\":null,\"matchExpressions\":null}", labels, err, sizeof err), 1,
           "null members are absent");

    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Foo\"}]}",
                  labels, err, sizeof err), -1, "bad operator");
    is_str(err, "\"Foo\" is not a valid label selector operator", "bad operator message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\"}]}", labels, err, sizeof err), -1,
           "missing operator");
    is_str(err, "\"\" is not a valid label selector operator", "missing operator message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\"}]}",
                  labels, err, sizeof err), -1, "In without values");
    is_str(err, "values: Invalid value: []string{}: for 'in', 'notin' operators, values set "
           "can't be empty", "In without values message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\",\"values\":[]}]}",
                  labels, err, sizeof err), -1, "NotIn with empty values");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\",\"values\":[\"a\",\"b\"]}]}",
                  labels, err, sizeof err), -1, "Exists with values");
    is_str(err, "values: Invalid value: []string{\"a\", \"b\"}: values set must be empty for "
           "exists and does not exist", "Exists with values message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"DoesNotExist\",\"values\":[\"a\"]}]}",
                  labels, err, sizeof err), -1, "DoesNotExist with values");
    is_int(jmatch("{\"matchLabels\":{\"a@b\":\"x\"}}", labels, err, sizeof err), -1, "bad key");
    is_str(err, "key: Invalid value: \"a@b\": name part " QNAME_TAIL, "bad key message");
    is_int(jmatch("{\"matchLabels\":{\"a\":\"x y\"}}", labels, err, sizeof err), -1, "bad value");
    is_str(err, "values[0][a]: Invalid value: \"x y\": " LVALUE_TAIL, "bad value message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"a@b\",\"operator\":\"In\",\"values\":[]}]}",
                  labels, err, sizeof err), -1, "bad key and no values");
    is_str(err, "[key: Invalid value: \"a@b\": name part " QNAME_TAIL ", values: Invalid value: "
           "[]string{}: for 'in', 'notin' operators, values set can't be empty]",
           "several problems print as an aggregate");
    is_int(jmatch("{\"matchLabels\":{\"a\":1}}", labels, err, sizeof err), -1, "non-string matchLabels");
    is_str(err, "matchLabels.a: value must be a string", "non-string matchLabels message");
    is_int(jmatch("{\"matchLabels\":[]}", labels, err, sizeof err), -1, "matchLabels not an object");
    is_str(err, "matchLabels must be an object", "matchLabels type message");
    is_int(jmatch("{\"matchExpressions\":{}}", labels, err, sizeof err), -1,
           "matchExpressions not an array");
    is_str(err, "matchExpressions must be an array", "matchExpressions type message");
    is_int(jmatch("{\"matchExpressions\":[1]}", labels, err, sizeof err), -1, "expression not an object");
    is_str(err, "matchExpressions[0] must be an object", "expression type message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
                  labels, err, sizeof err), -1, "values not an array");
    is_str(err, "matchExpressions[0].values must be an array", "values type message");
    is_int(jmatch("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",2]}]}",
                  labels, err, sizeof err), -1, "a non-string value");
    is_str(err, "matchExpressions[0].values[1] must be a string", "value type message");
    is_int(jmatch("[]", labels, err, sizeof err), -1, "selector not an object");
    is_str(err, "label selector must be an object", "selector type message");

    label_selector_t *s = label_selector_from_json(NULL, err, sizeof err);
    ok(s && !label_selector_empty(s), "the nothing selector is not empty");
    label_selector_free(s);
    json_t *j = json_object();
    s = label_selector_from_json(j, err, sizeof err);
    ok(s && label_selector_empty(s), "{} is empty");
    label_selector_free(s);
    json_decref(j);
}

static const char *const pod_fields[] = { "spec.nodeName", "status.phase", "spec.hostNetwork", NULL };
static const char *const ev_fields[] = { "involvedObject.name", "involvedObject.namespace",
                                         "involvedObject.uid", "source", "count", NULL };
static const char *const node_fields[] = { "spec.unschedulable", NULL };

static int fmatch(const char *text, const char *const *allowed, const json_t *obj)
{
    char err[512];
    field_selector_t *s = field_selector_parse(text, allowed, err, sizeof err);
    if (!s) {
        diag("parse error for '%s': %s", text, err);
        return -1;
    }
    int r = field_selector_match(s, obj);
    field_selector_free(s);
    return r;
}

static const char *ferr(const char *text, const char *const *allowed)
{
    static char err[512];
    field_selector_t *s = field_selector_parse(text, allowed, err, sizeof err);
    if (s) {
        field_selector_free(s);
        return "";
    }
    return err;
}

static void test_fields(void)
{
    json_t *pod = json_loads("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
                             "\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"n1\"},"
                             "\"status\":{\"phase\":\"Running\"}}", 0, NULL);
    json_t *ev = json_loads("{\"metadata\":{\"name\":\"e1\",\"namespace\":\"default\"},"
                            "\"involvedObject\":{\"name\":\"a,b=c\\\\d\",\"uid\":\"u1\"},"
                            "\"source\":{\"component\":\"kubelet\"},\"count\":3}", 0, NULL);
    json_t *ev2 = json_loads("{\"reportingController\":\"sched\"}", 0, NULL);
    json_t *node = json_loads("{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"unschedulable\":true}}",
                              0, NULL);
    json_t *node2 = json_loads("{\"metadata\":{\"name\":\"n2\"},\"spec\":{}}", 0, NULL);

    is_int(fmatch("", NULL, pod), 1, "empty matches");
    is_int(fmatch(NULL, NULL, pod), 1, "NULL text matches");
    is_int(fmatch(",", NULL, pod), 1, "only commas match");
    is_int(fmatch("metadata.name=web-1", NULL, pod), 1, "f=v");
    is_int(fmatch("metadata.name==web-1", NULL, pod), 1, "f==v");
    is_int(fmatch("metadata.name!=web-1", NULL, pod), 0, "f!=v");
    is_int(fmatch("metadata.name=web-2", NULL, pod), 0, "f=v mismatch");
    is_int(fmatch("metadata.name=web-1,metadata.namespace=default", NULL, pod), 1, "two terms");
    is_int(fmatch("metadata.name=web-1,metadata.namespace=kube-system", NULL, pod), 0,
           "two terms, one failing");
    is_int(fmatch("spec.nodeName=n1", pod_fields, pod), 1, "spec.nodeName");
    is_int(fmatch("spec.nodeName=", pod_fields, pod), 0, "empty value vs set field");
    is_int(fmatch("status.phase!=Pending", pod_fields, pod), 1, "status.phase !=");
    is_int(fmatch("spec.nodeName=", pod_fields, node2), 1, "a missing field reads \"\"");
    is_int(fmatch("spec.hostNetwork=false", pod_fields, pod), 1, "missing hostNetwork is false");
    is_int(fmatch("involvedObject.name=a\\,b\\=c\\\\d", ev_fields, ev), 1, "escaped value");
    is_int(fmatch("involvedObject.uid=u1,involvedObject.namespace=", ev_fields, ev), 1,
           "missing involvedObject.namespace is \"\"");
    is_int(fmatch("source=kubelet", ev_fields, ev), 1, "source -> source.component");
    is_int(fmatch("source=sched", ev_fields, ev2), 1, "source falls back to reportingController");
    is_int(fmatch("count=3", ev_fields, ev), 1, "numbers in decimal");
    is_int(fmatch("spec.unschedulable=true", node_fields, node), 1, "booleans as true");
    is_int(fmatch("spec.unschedulable=false", node_fields, node2), 1, "missing unschedulable is false");
    is_int(fmatch("spec.unschedulable!=true", node_fields, node2), 1, "!= on a defaulted bool");
    is_int(fmatch("metadata.name=x", NULL, NULL), 0, "NULL object: name reads \"\"");
    is_int(fmatch("metadata.name=", NULL, NULL), 1, "NULL object matches an empty value");

    is_str(ferr("spec.nodeName=n1", NULL), "field label not supported: spec.nodeName",
           "unsupported field");
    is_str(ferr("metadata.name = x", NULL), "field label not supported: metadata.name ",
           "no whitespace trimming");
    is_str(ferr("metadata.name", NULL),
           "invalid selector: 'metadata.name'; can't understand 'metadata.name'", "no operator");
    is_str(ferr("metadata.name=a,foo", NULL),
           "invalid selector: 'metadata.name=a,foo'; can't understand 'foo'", "second term bad");
    is_str(ferr("metadata.name=a=b", NULL),
           "invalid field selector: unescaped character in value: =", "unescaped =");
    is_str(ferr("metadata.name=a\\x", NULL),
           "invalid field selector: invalid escape sequence: \\x", "bad escape");
    is_str(ferr("metadata.name=a\\", NULL),
           "invalid field selector: invalid escape sequence: \\", "trailing backslash");
    is_str(ferr("=a", NULL), "field label not supported: ", "empty field");
    is_str(ferr("metadata.name!=a,x=1", NULL), "field label not supported: x",
           "the label check names the field");

    char err[64];
    field_selector_t *s = field_selector_parse("metadata.name=web-1,metadata.namespace==ns",
                                               NULL, err, sizeof err);
    is_str(field_selector_name(s), "web-1", "pinned name");
    is_str(field_selector_namespace(s), "ns", "pinned namespace (==)");
    ok(!field_selector_empty(s), "not empty");
    field_selector_free(s);
    s = field_selector_parse("metadata.name!=web-1", NULL, err, sizeof err);
    ok(field_selector_name(s) == NULL, "!= does not pin the name");
    ok(field_selector_namespace(s) == NULL, "namespace not pinned");
    field_selector_free(s);
    s = field_selector_parse("metadata.name=a\\,b", NULL, err, sizeof err);
    is_str(field_selector_name(s), "a,b", "pinned name is unescaped");
    field_selector_free(s);
    s = field_selector_parse("", NULL, err, sizeof err);
    ok(s && field_selector_empty(s), "empty selector is empty");
    ok(field_selector_name(s) == NULL, "empty selector pins nothing");
    field_selector_free(s);
    field_selector_free(NULL);
    ok(field_selector_empty(NULL), "NULL is empty");
    ok(field_selector_name(NULL) == NULL, "NULL pins nothing");
    is_int(field_selector_match(NULL, pod), 0, "NULL selector matches nothing");

    /* projection */
    json_t *p = selector_projection(pod, pod_fields);
    char *dump = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
    is_str(dump, "{\"metadata\":{\"labels\":{\"app\":\"web\"},\"name\":\"web-1\",\"namespace\":"
           "\"default\"},\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}",
           "projection keeps name, namespace, labels and allowed fields");
    free(dump);
    is_int(fmatch("spec.nodeName=n1,status.phase=Running", pod_fields, p), 1,
           "a selector matches the projection as it matches the object");
    json_decref(p);
    p = selector_projection(ev, ev_fields);
    dump = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
    is_str(dump, "{\"count\":3,\"involvedObject\":{\"name\":\"a,b=c\\\\d\",\"uid\":\"u1\"},"
           "\"metadata\":{\"name\":\"e1\",\"namespace\":\"default\"},\"source\":{\"component\":"
           "\"kubelet\"}}", "projection follows the source alias");
    free(dump);
    json_decref(p);
    p = selector_projection(NULL, NULL);
    dump = json_dumps(p, JSON_COMPACT);
    is_str(dump, "{}", "projection of nothing is {}");
    free(dump);
    json_decref(p);
    static const char *const clash[] = { "spec", "spec.nodeName", NULL };
    p = selector_projection(pod, clash);
    ok(json_is_object(json_object_get(p, "spec")), "overlapping allowed paths do not clash");
    json_decref(p);

    json_decref(pod);
    json_decref(ev);
    json_decref(ev2);
    json_decref(node);
    json_decref(node2);
}

int main(void)
{
    plan_no_plan();
    labels = json_pack("{s:s,s:s,s:s,s:s}", "app", "web", "tier", "front", "n", "5", "in", "x");
    test_label_parse_match();
    test_label_errors();
    test_label_json();
    test_fields();
    json_decref(labels);
    return done_testing();
}
