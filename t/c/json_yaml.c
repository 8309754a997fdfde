/* t/c/json_yaml.c: the printers of the CLI's read verbs -- YAML as kubectl -o yaml writes it
 * (quoting, literal blocks, key order, numbers, folding), Go's indented JSON and Go's float
 * formats. The tabwriter has its own, t/c/tabwriter.c. Run by t/0116-json-yaml.t. */
#include "tap.h"
#include "json_yaml.h"

#include <stdlib.h>

/* YAML of a JSON text (sorted keys), static buffer. */
static const char *yaml(const char *json_text)
{
    static char out[8192];
    char err[256];
    json_error_t jerr;
    json_t *v = json_loads(json_text, JSON_DECODE_ANY, &jerr);
    if (!v) {
        snprintf(out, sizeof(out), "BAD JSON: %s", jerr.text);
        return out;
    }
    char *s = json_yaml_dump(v, JSON_YAML_SORT_KEYS, NULL, err, sizeof(err));
    snprintf(out, sizeof(out), "%s", s ? s : err);
    free(s);
    json_decref(v);
    return out;
}

/* The YAML of {"v": <string>}, without the "v: " and the newline. */
static const char *scalar(const char *s)
{
    static char out[1024];
    json_t *v = json_pack("{s:s}", "v", s);
    char err[256];
    char *y = json_yaml_dump(v, 0, NULL, err, sizeof(err));
    size_t l = y ? strlen(y) : 0;
    snprintf(out, sizeof(out), "%.*s", l > 4 ? (int)(l - 4) : 0, y ? y + 3 : "");
    free(y);
    json_decref(v);
    return out;
}

static const char *gojson(const char *json_text)
{
    static char out[8192];
    json_error_t jerr;
    json_t *v = json_loads(json_text, JSON_DECODE_ANY, &jerr);
    char *s = v ? json_yaml_go_json(v) : NULL;
    snprintf(out, sizeof(out), "%s", s ? s : "(null)");
    free(s);
    json_decref(v);
    return out;
}

static const char *gofloat(double f, char fmt)
{
    static char out[64];
    json_yaml_go_float(f, fmt, out, sizeof(out));
    return out;
}

static void test_yaml_scalars(void)
{
    /* plain when plain reads back as the same string */
    is_str(scalar("hello world"), "hello world", "plain text stays plain");
    is_str(scalar("img:1"), "img:1", "a colon without a space stays plain");
    is_str(scalar("a, b"), "a, b", "a comma stays plain");
    is_str(scalar("<b>&amp;</b>"), "<b>&amp;</b>", "html stays plain");
    is_str(scalar("1e999"), "1e999", "a float out of range is a string (Go refuses it)");
    is_str(scalar("héllo ✓"), "héllo ✓", "unicode is written as is");
    /* double quotes for what would resolve to something else (go-yaml's choice) */
    static const char *const quoted[] = { "", "true", "True", "yes", "Y", "n", "off", "null",
                                          "~", "123", "-12", "+1", "0777", "0x1f", "0o17",
                                          "0b101", "1_000", "1.5", "1.5e3", ".5", ".inf",
                                          "-.Inf", ".nan", "2026-01-01", "2026-1-1T1:2:3Z",
                                          "2026-01-01 10:00:00", "2026-11-27T10:07:50Z",
                                          "2026-01-01T23:59:59Z", "2026-01-01T10:00:00.5+01:00",
                                          "1:20", "190:20:30.15", "99999999999999999999", NULL };
    for (int i = 0; quoted[i]; i++) {
        char want[128];
        snprintf(want, sizeof(want), "\"%s\"", quoted[i]);
        is_str(scalar(quoted[i]), want, "\"%s\" is double-quoted", quoted[i]);
    }
    /* single quotes where the emitter refuses plain */
    is_str(scalar("a: b"), "'a: b'", "': ' needs quotes");
    is_str(scalar("a #b"), "'a #b'", "' #' needs quotes");
    is_str(scalar("- x"), "'- x'", "a leading '- ' needs quotes");
    is_str(scalar("*x"), "'*x'", "a leading * needs quotes");
    is_str(scalar("'q'"), "'''q'''", "single quotes are doubled");
    is_str(scalar(" lead"), "' lead'", "a leading space needs quotes");
    is_str(scalar("2026-13-01"), "2026-13-01", "not a date: plain");
    is_str(scalar("2026-01-01T24:00:00Z"), "2026-01-01T24:00:00Z", "hour 24: plain");
    is_str(scalar("2026-01-01T10:60:00Z"), "2026-01-01T10:60:00Z", "minute 60: plain");
    is_str(scalar("2026-01-01T10:00:60Z"), "2026-01-01T10:00:60Z", "second 60: plain");
    is_str(scalar("2026-01-01T10:00Z"), "2026-01-01T10:00Z", "no seconds: plain");
    is_str(scalar("8080:80"), "8080:80", "not sexagesimal: plain");
    /* escapes only double quotes can carry */
    is_str(scalar("a\tb"), "\"a\\tb\"", "a tab is escaped");
    is_str(scalar("trail  \nx"), "\"trail  \\nx\"", "trailing spaces before a newline: quoted");
}

static void test_yaml_documents(void)
{
    is_str(yaml("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\",\"labels\":{}},"
                "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"args\":[]}]}}"),
           "apiVersion: v1\n"
           "kind: Pod\n"
           "metadata:\n"
           "  labels: {}\n"
           "  name: p\n"
           "spec:\n"
           "  containers:\n"
           "  - args: []\n"
           "    image: i\n"
           "    name: c\n",
           "a pod: sorted keys, sequences not indented, empty {} and []");
    is_str(yaml("{\"a\":\"one\\ntwo\\n\",\"b\":\"x\\ny\"}"),
           "a: |\n  one\n  two\nb: |-\n  x\n  y\n", "literal blocks, with and without the newline");
    is_str(yaml("{\"k\":\"\\n\"}"), "k: |2+\n\n", "an open-ended block gets no '...' after it");
    is_str(yaml("{\"a10\":1,\"a9\":2,\"A\":3,\"Z\":4,\"a-b\":5,\"a.b\":6,\"a_b\":7,\"ab\":8,"
                "\"0x1F\":9,\"a0\":10,\"a00\":11,\"a01\":12,\"a1\":13,\"b\":14}"),
           "\"0x1F\": 9\nA: 3\nZ: 4\na-b: 5\na.b: 6\na_b: 7\na0: 10\na00: 11\na1: 13\na01: 12\n"
           "a9: 2\na10: 1\nab: 8\nb: 14\n",
           "keys in go-yaml's order: digit runs as numbers, letters last");
    is_str(yaml("{\"i\":3,\"whole\":3.0,\"half\":0.5,\"big\":1e21,\"tiny\":1e-7,\"mid\":1234567.5,"
                "\"t\":true,\"f\":false,\"n\":null}"),
           "big: 1e+21\nf: false\nhalf: 0.5\ni: 3\nmid: 1.2345675e+06\n\"n\": null\nt: true\n"
           "tiny: 1e-07\nwhole: 3\n",
           "numbers as JSON-then-YAML makes them, booleans, null (n is a YAML 1.1 bool)");
    is_str(yaml("{\"long\":\"this is a very long value that goes well past eighty columns so "
                "that we can see whether it folds or not\"}"),
           "long: this is a very long value that goes well past eighty columns so that we can\n"
           "  see whether it folds or not\n",
           "long plain lines fold at 80 columns as go-yaml's do");
    is_str(yaml("[]"), "[]\n", "an empty list alone");
    is_str(yaml("\"x\""), "x\n", "a string alone");
    json_t *ordered = json_pack("{s:i,s:i}", "zeta", 1, "alpha", 2);
    char err[64];
    char *y = json_yaml_dump(ordered, 0, NULL, err, sizeof(err));
    is_str(y, "zeta: 1\nalpha: 2\n", "without JSON_YAML_SORT_KEYS the object's order is kept");
    free(y);
    json_decref(ordered);
}

static void test_go_json(void)
{
    is_str(gojson("{\"b\":[1,{\"y\":[],\"x\":{}}],\"a\":\"<&>\"}"),
           "{\n"
           "    \"a\": \"\\u003c\\u0026\\u003e\",\n"
           "    \"b\": [\n"
           "        1,\n"
           "        {\n"
           "            \"x\": {},\n"
           "            \"y\": []\n"
           "        }\n"
           "    ]\n"
           "}\n",
           "MarshalIndent: four spaces, sorted keys, HTML escaped, empty {} and []");
    is_str(gojson("\"a\\u0001\\b\\f\\n\\r\\t\\u2028\\\"\\\\/\""),
           "\"a\\u0001\\b\\f\\n\\r\\t\\u2028\\\"\\\\/\"\n", "control characters and U+2028");
    is_str(gojson("[0.1,3.0,1e21,1e-7,-2.5,0.000001]"),
           "[\n    0.1,\n    3,\n    1e+21,\n    1e-7,\n    -2.5,\n    0.000001\n]\n",
           "floats: shortest digits, exponents beyond 1e21 and below 1e-6");
}

static void test_go_float(void)
{
    is_str(gofloat(0.1, 'f'), "0.1", "f 0.1");
    is_str(gofloat(123456789.0, 'f'), "123456789", "f whole");
    is_str(gofloat(1.5e-7, 'e'), "1.5e-07", "e two exponent digits");
    is_str(gofloat(1234567.5, 'g'), "1.2345675e+06", "g switches at 1e6");
    is_str(gofloat(123456.5, 'g'), "123456.5", "g below 1e6");
    is_str(gofloat(1234567.5, 'v'), "1.2345675e+06", "v is g");
    is_str(gofloat(0.00001, 'g'), "1e-05", "g below 1e-4");
    is_str(gofloat(0, 'g'), "0", "zero");
    is_str(gofloat(-0.5, 'f'), "-0.5", "negative");
}

int main(void)
{
    plan_no_plan();
    test_yaml_scalars();
    test_yaml_documents();
    test_go_json();
    test_go_float();
    return done_testing();
}
