/* t/c/yaml.c: YAML to JSON -- scalar resolution as go-yaml v2 does it, anchors and merge
 * keys, multi-document streams, and every error path with its line and column. */
#include "tap.h"
#include "yaml_json.h"

#include <stdlib.h>

/* One document as compact JSON with sorted keys (static buffer), or "ERR: <message>". */
static const char *one(const char *text)
{
    static char out[4096];
    char err[512];
    json_t *j = yaml_parse_one(text, strlen(text), err, sizeof err);
    if (!j) {
        snprintf(out, sizeof out, "ERR: %s", err);
        return out;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(out, sizeof out, "%s", s ? s : "(dump failed)");
    free(s);
    json_decref(j);
    return out;
}

static const char *all(const char *text)
{
    static char out[4096];
    char err[512];
    json_t *j = yaml_parse_all(text, strlen(text), err, sizeof err);
    if (!j) {
        snprintf(out, sizeof out, "ERR: %s", err);
        return out;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(out, sizeof out, "%s", s ? s : "(dump failed)");
    free(s);
    json_decref(j);
    return out;
}

/* The value of key v in a one-entry mapping "v: <text>". */
static const char *val(const char *text)
{
    static char doc[512];
    static char out[512];
    snprintf(doc, sizeof doc, "v: %s\n", text);
    const char *r = one(doc);
    if (!strncmp(r, "{\"v\":", 5)) {
        snprintf(out, sizeof out, "%.*s", (int)strlen(r) - 6, r + 5);
        return out;
    }
    return r;
}

static void test_scalars(void)
{
    static const char *const trues[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                         "on", "On", "ON", NULL };
    static const char *const falses[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                          "off", "Off", "OFF", NULL };
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
    static const char *const strs[] = { "yEs", "tRUE", "nULL", "oN", "Off1", "t", "f", NULL };
    for (int i = 0; trues[i]; i++)
        is_str(val(trues[i]), "true", "%s is true", trues[i]);
    for (int i = 0; falses[i]; i++)
        is_str(val(falses[i]), "false", "%s is false", falses[i]);
    for (int i = 0; nulls[i]; i++)
        is_str(val(nulls[i]), "null", "'%s' is null", nulls[i]);
    for (int i = 0; strs[i]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", strs[i]);
        is_str(val(strs[i]), want, "%s stays a string", strs[i]);
    }

    is_str(val("0"), "0", "zero");
    is_str(val("42"), "42", "decimal");
    is_str(val("-42"), "-42", "negative");
    is_str(val("+42"), "42", "plus sign");
    is_str(val("1_000_000"), "1000000", "underscores");
    is_str(val("0x1F"), "31", "hex");
    is_str(val("-0x10"), "-16", "negative hex");
    is_str(val("0o17"), "15", "0o octal");
    is_str(val("0755"), "493", "leading-zero octal (YAML 1.1)");
    is_str(val("0b101"), "5", "binary");
    is_str(val("08"), "8", "08 is not octal but reads as the float 8");
    is_str(val("9223372036854775807"), "9223372036854775807", "int64 max");
    is_str(val("-9223372036854775808"), "-9223372036854775808", "int64 min");
    is_str(val("18446744073709551615"), "1.8446744073709552e19", "uint64 max as a real");
    is_str(val("-9223372036854775809"), "-9223372036854775808",
           "below int64 min: a float, integral, so printed as Go prints it");
    is_str(val("1.5"), "1.5", "float");
    is_str(val("-.5"), "-0.5", "float without integer part");
    is_str(val(".5"), "0.5", "float starting with a dot");
    is_str(val("1e3"), "1000", "an integral float is printed as an integer");
    is_str(val("1.0"), "1", "1.0 too");
    is_str(val("2.5e-1"), "0.25", "exponent");
    is_str(val("1e400"), "\"1e400\"", "overflowing float stays a string");
    is_str(val(".inf"), "\".inf\"", ".inf stays a string");
    is_str(val("-.Inf"), "\"-.Inf\"", "-.Inf stays a string");
    is_str(val(".NaN"), "\".NaN\"", ".NaN stays a string");
    is_str(val("."), "\".\"", "a lone dot");
    is_str(val("0x"), "\"0x\"", "0x without digits");
    is_str(val("1.2.3"), "\"1.2.3\"", "version-like string");
    is_str(val("2001-12-14"), "\"2001-12-14\"", "timestamps stay strings");
    is_str(val("12:30"), "\"12:30\"", "sexagesimal is a string (v2)");
    is_str(val("+"), "\"+\"", "lone sign");
    is_str(one("[-]"), "[\"-\"]", "lone dash in flow position is a string");
    is_str(val("_1"), "\"_1\"", "leading underscore is a string");
    is_str(val("hello world"), "\"hello world\"", "plain string");

    is_str(val("\"yes\""), "\"yes\"", "double-quoted is a string");
    is_str(val("'42'"), "\"42\"", "single-quoted is a string");
    is_str(val("''"), "\"\"", "empty quoted is a string");
    is_str(val("\"a\\tb\\u00e9\""), "\"a\\tbé\"", "double-quoted escapes");
    is_str(val("\"a\\0b\""), "\"a\\u0000b\"", "NUL escape kept");
    is_str(val("!!str 42"), "\"42\"", "!!str");
    is_str(val("!!str"), "\"\"", "empty !!str");
    is_str(val("!!int \"42\""), "42", "!!int on a quoted scalar");
    is_str(val("!!float 1"), "1", "!!float of an integer");
    is_str(val("!!bool yes"), "true", "!!bool");
    is_str(val("!!null ~"), "null", "!!null");
    is_str(val("!custom 42"), "\"42\"", "unknown tags keep the text");
    is_str(val("!!timestamp 2001-12-14"), "\"2001-12-14\"", "!!timestamp keeps the text");
    is_str(val("! 42"), "\"42\"", "the non-specific tag keeps the text");
    is_str(val("!!int abc"), "ERR: line 1, column 4: cannot decode !!str `abc` as a !!int",
           "!!int of a word");
    is_str(val("!!bool 1"), "ERR: line 1, column 4: cannot decode !!int `1` as a !!bool",
           "!!bool of a number");
    is_str(val("!!null 0"), "ERR: line 1, column 4: cannot decode !!int `0` as a !!null",
           "!!null of a number");
    is_str(val("!!float x"), "ERR: line 1, column 4: cannot decode !!str `x` as a !!float",
           "!!float of a word");

    is_str(one("a: |\n  line1\n  line2\nb: >\n  folded\n  text\n"),
           "{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\\n\"}", "block literal and folded");
    is_str(one("a: |-\n  42\n"), "{\"a\":\"42\"}", "block scalars are strings");
    is_str(one("a: b\n  c\n"), "{\"a\":\"b c\"}", "multi-line plain scalar");
}

static void test_structure(void)
{
    is_str(one("a: 1\nb: [x, z]\nc: {d: e}\n"), "{\"a\":1,\"b\":[\"x\",\"z\"],\"c\":{\"d\":\"e\"}}",
           "block and flow collections");
    is_str(one("- a\n- - b\n  - c\n- k: v\n"), "[\"a\",[\"b\",\"c\"],{\"k\":\"v\"}]", "nested sequences");
    is_str(one("42"), "42", "scalar document");
    is_str(one("\"x\""), "\"x\"", "quoted scalar document");
    is_str(one("[]"), "[]", "empty sequence");
    is_str(one("{}"), "{}", "empty mapping");
    is_str(one(""), "null", "empty stream is null");
    is_str(one("# only a comment\n"), "null", "comment-only stream is null");
    is_str(one("---\n"), "null", "a lone --- is null");
    is_str(one("---\na: 1\n...\n"), "{\"a\":1}", "explicit start and end");
    is_str(one("a: 1\n---\n"), "{\"a\":1}", "a trailing empty document does not count");
    is_str(one("---\n---\na: 1\n"), "{\"a\":1}", "a leading empty document does not count");
    is_str(one("a: 1\n---\nb: 2\n"),
           "ERR: line 2, column 1: expected a single document in the stream, found another",
           "two documents for parse_one");

    /* keys */
    is_str(one("1: a\ntrue: b\nyes: c\n1.5: d\n\"q\": e\n1e3: f\n0x10: g\n"),
           "ERR: line 3, column 1: key \"true\" already set in map", "yes and true collide");
    is_str(one("y: a\nx: b\n"), "{\"true\":\"a\",\"x\":\"b\"}", "y as a key is true (go-yaml v2)");
    is_str(one("1: a\ntrue: b\n1.5: d\n\"q\": e\n1e3: f\n0x10: g\nno: h\n"),
           "{\"1\":\"a\",\"1.5\":\"d\",\"1000\":\"f\",\"16\":\"g\",\"false\":\"h\",\"q\":\"e\",\"true\":\"b\"}",
           "scalar keys are stringified");
    is_str(one("a: 1\nb: 2\na: 3\n"), "ERR: line 3, column 1: key \"a\" already set in map",
           "duplicate key");
    is_str(one("x:\n  - {k: 1, k: 2}\n"), "ERR: line 2, column 12: key \"k\" already set in map",
           "duplicate key in a flow mapping");
    is_str(one("\"a\\\"b\": 1\n\"a\\\"b\": 2\n"),
           "ERR: line 2, column 1: key \"a\\\"b\" already set in map", "duplicate key quoted Go-style");
    is_str(one("1: a\n\"1\": b\n"), "ERR: line 2, column 1: key \"1\" already set in map",
           "int key and string key collide");
    is_str(one("~: a\n"), "ERR: line 1, column 1: null mapping keys are not supported", "null key");
    is_str(one("? \n: a\n"), "ERR: line 1, column 2: null mapping keys are not supported", "empty key");
    is_str(one(": a\n"), "ERR: line 1, column 1: did not find expected key (while parsing a "
           "block mapping at line 1, column 1)", "key missing altogether");
    is_str(one("[a]: 1\n"), "ERR: line 1, column 1: mapping keys must be scalars", "sequence key");
    is_str(one("? {a: 1}\n: 2\n"), "ERR: line 1, column 3: mapping keys must be scalars", "mapping key");
    is_str(one("a: &x [1]\n*x : 2\n"), "ERR: line 2, column 1: mapping keys must be scalars",
           "alias to a sequence as a key");
    is_str(one("a: &k key\n*k : 2\n"), "{\"a\":\"key\",\"key\":2}", "alias to a scalar as a key");
    is_str(one("&k key: 1\nb: *k\n"), "{\"b\":\"key\",\"key\":1}", "anchored key");
}

static void test_anchors(void)
{
    is_str(one("a: &x {b: 1}\nc: *x\n"), "{\"a\":{\"b\":1},\"c\":{\"b\":1}}", "alias to a mapping");
    is_str(one("a: &x 5\nc: [*x, *x]\n"), "{\"a\":5,\"c\":[5,5]}", "alias to a scalar");
    is_str(one("a: &x 1\nb: &x 2\nc: *x\n"), "{\"a\":1,\"b\":2,\"c\":2}", "redefined anchor: latest wins");
    is_str(one("a: *nope\n"), "ERR: line 1, column 4: unknown anchor 'nope' referenced", "unknown anchor");
    is_str(one("a: &x [1, *x]\n"), "ERR: line 1, column 11: anchor 'x' value contains itself",
           "recursive anchor");
    is_str(all("a: &x 1\n---\nb: *x\n"), "ERR: line 3, column 4: unknown anchor 'x' referenced",
           "anchors do not cross documents");

    /* aliases are copies: changing one leaves the other */
    char err[256];
    json_t *j = yaml_parse_one("a: &x {b: 1}\nc: *x\n", 19, err, sizeof err);
    json_object_set_new(json_object_get(j, "c"), "b", json_integer(2));
    is_int(json_integer_value(json_object_get(json_object_get(j, "a"), "b")), 1,
           "an alias is an independent copy");
    json_decref(j);

    /* merge keys */
    is_str(one("base: &b {x: 1, z: 2}\nm:\n  <<: *b\n  z: 3\n"),
           "{\"base\":{\"x\":1,\"z\":2},\"m\":{\"x\":1,\"z\":3}}", "merge: explicit key wins (after)");
    is_str(one("base: &b {x: 1, z: 2}\nm:\n  z: 3\n  <<: *b\n"),
           "{\"base\":{\"x\":1,\"z\":2},\"m\":{\"x\":1,\"z\":3}}", "merge: explicit key wins (before)");
    is_str(one("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b]\n"),
           "{\"a\":{\"x\":1},\"b\":{\"x\":2,\"z\":2},\"m\":{\"x\":1,\"z\":2}}",
           "merge of a list: the first map wins");
    is_str(one("m:\n  <<: {x: 1}\n  z: 0\n"), "{\"m\":{\"x\":1,\"z\":0}}", "merge of an inline map");
    is_str(one("m:\n  !!merge <<: {x: 1}\n"), "{\"m\":{\"x\":1}}", "explicit !!merge tag");
    is_str(one("m:\n  \"<<\": {x: 1}\n"), "{\"m\":{\"<<\":{\"x\":1}}}", "a quoted << is a plain key");
    is_str(one("m:\n  <<: 1\n"),
           "ERR: line 2, column 3: map merge requires map or sequence of maps as the value",
           "merge of a scalar");
    is_str(one("m:\n  <<: [{a: 1}, 2]\n"),
           "ERR: line 2, column 3: map merge requires map or sequence of maps as the value",
           "merge of a list with a scalar");

    /* billion laughs */
    const char *bomb =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    const char *r = one(bomb);
    ok(strstr(r, "ERR: line 4, column 36") && strstr(r, ": aliases expand to more than 10000 nodes"),
       "alias bomb rejected: %s", r);
    /* under the budget: 110 + 1110 + 7 x 1111 = 8997 nodes from aliases */
    const char *fine =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: [*c, *c, *c, *c, *c, *c, *c]\n";
    r = one(fine);
    ok(strncmp(r, "ERR", 3) != 0, "aliases within the budget are expanded");
    /* the budget covers the stream, not each document */
    const char *half =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: [*c, *c, *c, *c]\n";
    char two[1024];
    snprintf(two, sizeof two, "%s---\n%s", half, half);
    ok(strncmp(all(half), "ERR", 3) != 0, "one document of 5664 alias nodes is fine");
    is_str(all(two), "ERR: line 9, column 13: aliases expand to more than 10000 nodes",
           "two such documents exceed the budget");
}

static void test_depth(void)
{
    char buf[512];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        buf[n++] = '[';
    for (int i = 0; i < 100; i++)
        buf[n++] = ']';
    buf[n] = '\0';
    ok(strncmp(one(buf), "ERR", 3) != 0, "depth 100 is accepted");
    n = 0;
    for (int i = 0; i < 101; i++)
        buf[n++] = '[';
    for (int i = 0; i < 101; i++)
        buf[n++] = ']';
    buf[n] = '\0';
    is_str(one(buf), "ERR: line 1, column 101: exceeded max depth of 100", "depth 101 is refused");

    /* an alias that would push nesting past the limit */
    n = (size_t)snprintf(buf, sizeof buf, "a: &x ");
    for (int i = 0; i < 60; i++)
        buf[n++] = '[';
    for (int i = 0; i < 60; i++)
        buf[n++] = ']';
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\nb: ");
    for (int i = 0; i < 50; i++)
        buf[n++] = '[';
    buf[n++] = '*';
    buf[n++] = 'x';
    for (int i = 0; i < 50; i++)
        buf[n++] = ']';
    buf[n] = '\0';
    is_str(one(buf), "ERR: line 2, column 54: exceeded max depth of 100", "deep alias is refused");
}

static void test_streams(void)
{
    is_str(all("a: 1\n---\nb: 2\n"), "[{\"a\":1},{\"b\":2}]", "two documents");
    is_str(all("---\na: 1\n---\n---\n# c\n---\nb: 2\n...\n"), "[{\"a\":1},{\"b\":2}]",
           "empty documents skipped");
    is_str(all("---\nnull\n---\n~\n"), "[]", "null documents skipped");
    is_str(all(""), "[]", "empty stream");
    is_str(all("--- 1\n--- x\n"), "[1,\"x\"]", "scalar documents");
    is_str(all("a: 1\n---\nb: [\n"),
           "ERR: line 4, column 1: did not find expected node content (while parsing a flow node "
           "at line 4, column 1)", "an error in the second document");

    char err[128];
    json_t *j = yaml_parse_all(NULL, 0, err, sizeof err);
    ok(json_is_array(j) && json_array_size(j) == 0, "NULL buffer is an empty stream");
    json_decref(j);
    j = yaml_parse_one(NULL, 0, err, sizeof err);
    ok(json_is_null(j), "NULL buffer parses as null");
    json_decref(j);
    /* len is honoured: no NUL needed */
    j = yaml_parse_one("a: 1zzz", 4, err, sizeof err);
    is_int(json_integer_value(json_object_get(j, "a")), 1, "length bounds the input");
    json_decref(j);
}

static void test_errors(void)
{
    is_str(one("a: [1\n"), "ERR: line 2, column 1: did not find expected ',' or ']' (while "
           "parsing a flow sequence at line 1, column 4)", "unclosed flow sequence");
    is_str(one("a: b: c\n"), "ERR: line 1, column 5: mapping values are not allowed in this context",
           "mapping value in a plain scalar");
    is_str(one("a:\n  b: 1\n c: 2\n"), "ERR: line 3, column 2: did not find expected key (while "
           "parsing a block mapping at line 1, column 1)", "bad indentation");
    is_str(one("\"abc\n"), "ERR: line 2, column 1: found unexpected end of stream (while "
           "scanning a quoted scalar at line 1, column 1)", "unterminated quote");
    is_str(one("a: \"\\q\"\n"), "ERR: line 1, column 5: found unknown escape character (while "
           "parsing a quoted scalar at line 1, column 4)", "bad escape");
    is_str(one("a:\tb\n\t- x\n"), "ERR: line 2, column 1: found a tab character that violates "
           "indentation (while scanning a plain scalar at line 1, column 4)", "tab indentation");
    is_str(one("a: &\n"), "ERR: line 1, column 5: did not find expected alphabetic or numeric "
           "character (while scanning an anchor at line 1, column 4)", "empty anchor");
    is_str(one("%FOO\n--- a\n"), "ERR: line 1, column 5: found unknown directive name (while "
           "scanning a directive at line 1, column 1)", "unknown directive");
    is_str(one("- a\nb: c\n"), "ERR: line 2, column 1: did not find expected '-' indicator "
           "(while parsing a block collection at line 1, column 1)", "mixed sequence and mapping");
    is_str(one("a: 1\n\xff\n"), "ERR: line 2, column 1: invalid leading UTF-8 octet",
           "invalid UTF-8 reports line and column");
    char nul[] = "a: 1\nb: \0\n";
    char err[128];
    ok(yaml_parse_one(nul, sizeof nul - 1, err, sizeof err) == NULL, "NUL byte refused");
    is_str(err, "line 2, column 4: control characters are not allowed", "NUL byte message");
    /* a short buffer truncates the message */
    char small[10];
    ok(yaml_parse_one("a: [", 4, small, sizeof small) == NULL && strlen(small) == 9,
       "error truncated to the buffer");
    ok(yaml_parse_one("a: [", 4, NULL, 0) == NULL, "NULL err buffer is allowed");
}

int main(void)
{
    plan_no_plan();
    test_scalars();
    test_structure();
    test_anchors();
    test_depth();
    test_streams();
    test_errors();
    return done_testing();
}
