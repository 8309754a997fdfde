/* fuzz_json.c: jansson's parser as berth uses it (JSON_DECODE_ANY off: a body is an
 * object or an array), then a dump and re-parse that must give an equal value.
 * Built by scripts/fuzz.sh; needs only jansson. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)data, size, 0, &e);
    if (!j)
        return 0;
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        abort();
    json_t *back = json_loads(s, 0, &e);
    if (!back || !json_equal(j, back))
        abort();    /* the round trip lost something */
    json_decref(back);
    free(s);
    json_decref(j);
    return 0;
}
