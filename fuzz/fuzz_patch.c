/* fuzz_patch.c: libFuzzer target for engine/patch.c and engine/patch_strategic.c.
 *
 * Input: a document, a newline, a patch (both JSON). The patch is applied to the document
 * as a JSON Patch, a merge patch and a strategic merge patch (typed by the document's own
 * apiVersion/kind, falling back to a Deployment so the keyed-list code runs). A failure
 * must come with an HTTP status; a success must serialize; nothing may leak or crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "patch.h"

static void fuzz_check(json_t *res, int code)
{
    if (res) {
        char *s = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            abort();
        free(s);
        json_decref(res);
    } else if (code != 400 && code != 422 && code != 500) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t doclen = nl ? (size_t)(nl - data) : size;
    json_t *doc, *patch;
    json_error_t e;
    char err[256];
    int code;

    if (!nl)
        return 0;
    doc = json_loadb((const char *)data, doclen, 0, &e);
    patch = json_loadb((const char *)nl + 1, size - doclen - 1, JSON_DECODE_ANY, &e);
    if (doc && patch) {
        const char *av = json_string_value(json_object_get(doc, "apiVersion"));
        const char *kind = json_string_value(json_object_get(doc, "kind"));

        code = 0;
        fuzz_check(patch_json_apply(doc, patch, &code, err, sizeof(err)), code);
        code = 0;
        fuzz_check(patch_merge_apply(doc, patch, &code, err, sizeof(err)), code);
        code = 0;
        fuzz_check(patch_strategic_apply(doc, patch, av ? av : "apps/v1", kind ? kind : "Deployment",
                                         &code, err, sizeof(err)), code);
        (void)patch_strategic_known(av, kind);
    }
    json_decref(doc);
    json_decref(patch);
    return 0;
}
