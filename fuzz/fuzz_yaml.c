/* fuzz_yaml.c: yaml_parse_all and yaml_parse_one on arbitrary bytes; every result must
 * serialize. Built by scripts/fuzz.sh with engine/yaml.c. */
#include "yaml_json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *all = yaml_parse_all((const char *)data, size, err, sizeof err);
    if (all) {
        char *s = json_dumps(all, JSON_COMPACT);
        if (!s)
            abort();    /* a parsed stream must always dump */
        free(s);
        json_decref(all);
    }
    json_t *one = yaml_parse_one((const char *)data, size, err, sizeof err);
    if (one) {
        char *s = json_dumps(one, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            abort();
        free(s);
        json_decref(one);
    }
    return 0;
}
