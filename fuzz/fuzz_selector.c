/* fuzz_selector.c: label and field selectors on arbitrary text.
 *
 * The input is split at the first newline: the part before is a label selector, the
 * part after a field selector. Both are parsed, matched against fixed objects and
 * freed. An input starting with '{' is also read as a LabelSelector object. Built by
 * scripts/fuzz.sh with engine/selector.c. */
#include "selector.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const allowed[] = { "spec.nodeName", "status.phase", "source",
                                       "involvedObject.name", "spec.unschedulable", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *obj;
    char err[256];

    if (!obj)
        obj = json_loads("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
                         "\"labels\":{\"app\":\"web\",\"tier\":\"front\",\"n\":\"5\","
                         "\"example.com/x\":\"\"}},\"spec\":{\"nodeName\":\"n1\","
                         "\"unschedulable\":true},\"status\":{\"phase\":\"Running\"},"
                         "\"source\":{\"component\":\"kubelet\"},\"count\":3}", 0, NULL);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = memchr(text, '\n', size);
    const char *field_text = "";
    if (nl) {
        *nl = '\0';
        field_text = nl + 1;
    }

    label_selector_t *ls = label_selector_parse(text, err, sizeof err);
    if (ls) {
        (void)label_selector_match(ls, json_object_get(json_object_get(obj, "metadata"), "labels"));
        (void)label_selector_match(ls, NULL);
        (void)label_selector_empty(ls);
        label_selector_free(ls);
    }

    field_selector_t *fs = field_selector_parse(field_text, allowed, err, sizeof err);
    if (fs) {
        (void)field_selector_match(fs, obj);
        (void)field_selector_match(fs, NULL);
        const char *n = field_selector_name(fs);
        const char *ns = field_selector_namespace(fs);
        if (n)
            (void)strlen(n);
        if (ns)
            (void)strlen(ns);
        field_selector_free(fs);
    }

    if (size && data[0] == '{') {
        json_t *j = json_loadb((const char *)data, size, 0, NULL);
        if (j) {
            label_selector_t *js = label_selector_from_json(j, err, sizeof err);
            if (js) {
                (void)label_selector_match(js, json_object_get(json_object_get(obj, "metadata"),
                                                               "labels"));
                label_selector_free(js);
            }
            json_t *p = selector_projection(j, allowed);
            json_decref(p);
            json_decref(j);
        }
    }
    free(text);
    return 0;
}
