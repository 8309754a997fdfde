/* fuzz_validate.c: object validation over arbitrary JSON for every built-in kind.
 * The first byte picks the kind; the rest is the object. Objects with "a" and "b" members
 * also run as an update from a to b. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "validate.h"

static const char *const kinds[][2] = {
    { "", "Pod" }, { "", "Service" }, { "", "Endpoints" }, { "", "Node" }, { "", "Event" },
    { "", "ConfigMap" }, { "", "Secret" }, { "", "ReplicationController" },
    { "apps", "Deployment" }, { "apps", "ReplicaSet" }, { "coordination.k8s.io", "Lease" },
    { "", "Namespace" }, { "x", "Y" }, { "apps", "DaemonSet" }, { "apps", "StatefulSet" },
    { "apps", "ControllerRevision" }, { "policy", "PodDisruptionBudget" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t k = data[0] % (sizeof(kinds) / sizeof(kinds[0]));
    json_t *o = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (!o)
        return 0;
    json_t *causes = json_array();
    validate_object(kinds[k][0], kinds[k][1], o, causes);
    json_t *a = json_object_get(o, "a"), *b = json_object_get(o, "b");
    if (a && b)
        validate_update(kinds[k][0], kinds[k][1], a, b, causes);
    validate_update(kinds[k][0], kinds[k][1], o, o, causes);
    free(json_dumps(causes, 0));
    json_decref(causes);
    json_decref(o);
    return 0;
}
