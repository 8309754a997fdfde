/* json_same.h: comparing two jansson trees strictly, for the jsonload tests: the unit test
 * (t/c/jsonload.c) and the differential fuzzer (fuzz/fuzz_jsonload.c). Header-only, since
 * each fuzzer is built on its own. */
#ifndef BERTH_T_JSON_SAME_H
#define BERTH_T_JSON_SAME_H

#include <string.h>
#include <jansson.h>

/* a and b the same down to each node's type, object key order and the bits of each real
 * (json_equal calls 1 and 1.0 different but not 0.0 and -0.0, and ignores order). */
static int same_shape(json_t *a, json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        void *ia = json_object_iter(a), *ib = json_object_iter(b);
        while (ia && ib) {
            size_t la = json_object_iter_key_len(ia), lb = json_object_iter_key_len(ib);
            if (la != lb || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) != 0 ||
                !same_shape(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
            ia = json_object_iter_next(a, ia);
            ib = json_object_iter_next(b, ib);
        }
        return !ia && !ib;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_shape(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double da = json_real_value(a), db = json_real_value(b);
        return memcmp(&da, &db, sizeof(da)) == 0;
    }
    default:
        return 1;   /* true, false, null: the type says it all */
    }
}

#endif
