/* patch_strategic.c: strategic merge patch, as the Kubernetes apiserver applies it to the
 * built-in types (k8s.io/apimachinery/pkg/util/strategicpatch), over jansson documents.
 *
 * Implements the strategic half of patch.h; JSON Patch and merge patch are in patch.c.
 * Depends on jansson only. Called by the API write path (PATCH with
 * application/strategic-merge-patch+json) and fuzz/fuzz_patch.c.
 *
 * The rules, in short:
 *   - maps merge recursively; null deletes a key;
 *   - a list whose field has a merge key merges element by element on that key, a list of
 *     scalars marked "merge" (metadata.finalizers) is merged as a set, every other list is
 *     replaced by the patch's list;
 *   - directives: "$patch" (replace|delete|merge) in a map or in a list element,
 *     "$retainKeys", "$setElementOrder/<list>", "$deleteFromPrimitiveList/<list>";
 *   - the merged list is ordered as Kubernetes orders it: the patch's items in the patch's
 *     (or $setElementOrder's) order, the items only the server has interleaved by their
 *     position in the live list;
 *   - every "$"-key the patch brings is dropped from the result.
 *
 * The merge keys come from a table of types (below) that mirrors the patchStrategy and
 * patchMergeKey tags of k8s.io/api. A field the table does not name has no patch metadata:
 * its maps merge and its lists are replaced, which is also how an unknown kind is patched. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"

#define SMP_MAX_DEPTH 100
/* Merging lists is quadratic in their length; no Kubernetes object has merge lists near
 * this long, and the bound keeps a hostile patch from costing seconds. */
#define SMP_MAX_LIST 4096

/* ---------------------------------------------------------------------------------------
 * The type table
 * ------------------------------------------------------------------------------------- */

typedef struct smp_type_s smp_type_t;

typedef struct smp_field_s {
    const char       *name;
    const char       *merge_key;  /* NULL: replaced wholesale; "": scalars merged as a set */
    const smp_type_t *type;       /* fields of the value, or of each list element; NULL: none */
} smp_field_t;

struct smp_type_s {
    const smp_field_t *fields;    /* ends with a NULL name */
};

#define SMP_MAP(n, t)        { n, NULL, &(t) }
#define SMP_LIST(n, k, t)    { n, k, t }
#define SMP_SET(n)           { n, "", NULL }
#define SMP_END              { NULL, NULL, NULL }

/* ObjectMeta: ownerReferences by uid, finalizers a set (apimachinery meta/v1 types.go). */
static const smp_field_t smp_object_meta_f[] = {
    SMP_LIST("ownerReferences", "uid", NULL),
    SMP_SET("finalizers"),
    SMP_END
};
static const smp_type_t smp_object_meta = { smp_object_meta_f };

static const smp_field_t smp_container_f[] = {
    SMP_LIST("ports", "containerPort", NULL),
    SMP_LIST("env", "name", NULL),
    SMP_LIST("volumeMounts", "mountPath", NULL),
    SMP_LIST("volumeDevices", "devicePath", NULL),
    SMP_END
};
static const smp_type_t smp_container = { smp_container_f };

/* PodSpec. volumes are "merge,retainKeys": the retainKeys half needs no table entry, the
 * directive in the patch carries it. tolerations have no strategy and are replaced. */
static const smp_field_t smp_pod_spec_f[] = {
    SMP_LIST("volumes", "name", NULL),
    SMP_LIST("initContainers", "name", &smp_container),
    SMP_LIST("containers", "name", &smp_container),
    SMP_LIST("ephemeralContainers", "name", &smp_container),
    SMP_LIST("imagePullSecrets", "name", NULL),
    SMP_LIST("hostAliases", "ip", NULL),
    SMP_LIST("topologySpreadConstraints", "topologyKey", NULL),
    SMP_LIST("resourceClaims", "name", NULL),
    SMP_LIST("schedulingGates", "name", NULL),
    SMP_END
};
static const smp_type_t smp_pod_spec = { smp_pod_spec_f };

static const smp_field_t smp_pod_status_f[] = {
    SMP_LIST("conditions", "type", NULL),
    SMP_LIST("podIPs", "ip", NULL),
    SMP_LIST("hostIPs", "ip", NULL),
    SMP_LIST("resourceClaimStatuses", "name", NULL),
    SMP_END
};
static const smp_type_t smp_pod_status = { smp_pod_status_f };

/* Status types whose only merge list is conditions by type. */
static const smp_field_t smp_cond_status_f[] = {
    SMP_LIST("conditions", "type", NULL),
    SMP_END
};
static const smp_type_t smp_cond_status = { smp_cond_status_f };

static const smp_field_t smp_pod_template_f[] = {
    SMP_MAP("metadata", smp_object_meta),
    SMP_MAP("spec", smp_pod_spec),
    SMP_END
};
static const smp_type_t smp_pod_template = { smp_pod_template_f };

/* Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, ReplicationController specs:
 * their pod template is spec.template. */
static const smp_field_t smp_workload_spec_f[] = {
    SMP_MAP("template", smp_pod_template),
    SMP_END
};
static const smp_type_t smp_workload_spec = { smp_workload_spec_f };

static const smp_field_t smp_job_template_f[] = {
    SMP_MAP("metadata", smp_object_meta),
    SMP_MAP("spec", smp_workload_spec),
    SMP_END
};
static const smp_type_t smp_job_template = { smp_job_template_f };

static const smp_field_t smp_cronjob_spec_f[] = {
    SMP_MAP("jobTemplate", smp_job_template),
    SMP_END
};
static const smp_type_t smp_cronjob_spec = { smp_cronjob_spec_f };

static const smp_field_t smp_service_spec_f[] = {
    SMP_LIST("ports", "port", NULL),
    SMP_END
};
static const smp_type_t smp_service_spec = { smp_service_spec_f };

static const smp_field_t smp_node_spec_f[] = {
    SMP_SET("podCIDRs"),
    SMP_END
};
static const smp_type_t smp_node_spec = { smp_node_spec_f };

static const smp_field_t smp_node_status_f[] = {
    SMP_LIST("conditions", "type", NULL),
    SMP_LIST("addresses", "type", NULL),
    SMP_END
};
static const smp_type_t smp_node_status = { smp_node_status_f };

/* Top-level object types. */
#define SMP_OBJECT(var, spec, status) \
    static const smp_field_t var##_f[] = { \
        SMP_MAP("metadata", smp_object_meta), spec, status, SMP_END }; \
    static const smp_type_t var = { var##_f }
#define SMP_NONE { "", NULL, NULL }   /* a field name no JSON key can match */

SMP_OBJECT(smp_plain_obj, SMP_NONE, SMP_NONE);
SMP_OBJECT(smp_pod_obj, SMP_MAP("spec", smp_pod_spec), SMP_MAP("status", smp_pod_status));
SMP_OBJECT(smp_workload_obj, SMP_MAP("spec", smp_workload_spec), SMP_MAP("status", smp_cond_status));
SMP_OBJECT(smp_cronjob_obj, SMP_MAP("spec", smp_cronjob_spec), SMP_NONE);
SMP_OBJECT(smp_podtemplate_obj, SMP_MAP("template", smp_pod_template), SMP_NONE);
SMP_OBJECT(smp_service_obj, SMP_MAP("spec", smp_service_spec), SMP_MAP("status", smp_cond_status));
SMP_OBJECT(smp_node_obj, SMP_MAP("spec", smp_node_spec), SMP_MAP("status", smp_node_status));
SMP_OBJECT(smp_cond_obj, SMP_NONE, SMP_MAP("status", smp_cond_status));
SMP_OBJECT(smp_serviceaccount_obj, SMP_LIST("secrets", "name", NULL), SMP_NONE);

/* The kinds with patch metadata, by API group (any version). */
static const struct {
    const char       *group;
    const char       *kind;
    const smp_type_t *type;
} smp_kinds[] = {
    { "", "Pod", &smp_pod_obj },
    { "", "PodTemplate", &smp_podtemplate_obj },
    { "", "ReplicationController", &smp_workload_obj },
    { "", "Service", &smp_service_obj },
    { "", "Node", &smp_node_obj },
    { "", "Namespace", &smp_cond_obj },
    { "", "PersistentVolumeClaim", &smp_cond_obj },
    { "", "PersistentVolume", &smp_plain_obj },
    { "", "ServiceAccount", &smp_serviceaccount_obj },
    { "", "ConfigMap", &smp_plain_obj },
    { "", "Secret", &smp_plain_obj },
    { "", "Endpoints", &smp_plain_obj },        /* subsets are atomic */
    { "", "Event", &smp_plain_obj },
    { "", "LimitRange", &smp_plain_obj },
    { "", "ResourceQuota", &smp_plain_obj },
    { "", "Binding", &smp_plain_obj },
    { "apps", "Deployment", &smp_workload_obj },
    { "apps", "ReplicaSet", &smp_workload_obj },
    { "apps", "DaemonSet", &smp_workload_obj },
    { "apps", "StatefulSet", &smp_workload_obj },
    { "apps", "ControllerRevision", &smp_plain_obj },
    { "batch", "Job", &smp_workload_obj },
    { "batch", "CronJob", &smp_cronjob_obj },
    { "autoscaling", "HorizontalPodAutoscaler", &smp_cond_obj },
    { "autoscaling", "Scale", &smp_plain_obj },
    { "policy", "PodDisruptionBudget", &smp_cond_obj },
    { "networking.k8s.io", "Ingress", &smp_plain_obj },
    { "networking.k8s.io", "IngressClass", &smp_plain_obj },
    { "networking.k8s.io", "NetworkPolicy", &smp_plain_obj },
    { "discovery.k8s.io", "EndpointSlice", &smp_plain_obj },
    { "coordination.k8s.io", "Lease", &smp_plain_obj },
    { "events.k8s.io", "Event", &smp_plain_obj },
    { "scheduling.k8s.io", "PriorityClass", &smp_plain_obj },
    { "storage.k8s.io", "StorageClass", &smp_plain_obj },
    { "rbac.authorization.k8s.io", "Role", &smp_plain_obj },
    { "rbac.authorization.k8s.io", "ClusterRole", &smp_plain_obj },
    { "rbac.authorization.k8s.io", "RoleBinding", &smp_plain_obj },
    { "rbac.authorization.k8s.io", "ClusterRoleBinding", &smp_plain_obj },
};

static const smp_type_t *smp_lookup(const char *api_version, const char *kind)
{
    const char *slash;
    size_t glen;

    if (!api_version || !kind)
        return NULL;
    slash = strchr(api_version, '/');
    glen = slash ? (size_t)(slash - api_version) : 0;   /* "v1" is the core group "" */
    for (size_t i = 0; i < sizeof(smp_kinds) / sizeof(smp_kinds[0]); i++)
        if (strcmp(smp_kinds[i].kind, kind) == 0 && strlen(smp_kinds[i].group) == glen &&
            strncmp(smp_kinds[i].group, api_version, glen) == 0)
            return smp_kinds[i].type;
    return NULL;
}

int patch_strategic_known(const char *api_version, const char *kind)
{
    return smp_lookup(api_version, kind) != NULL;
}

static const smp_field_t *smp_field(const smp_type_t *t, const char *name)
{
    if (!t)
        return NULL;
    for (const smp_field_t *f = t->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------- */

typedef struct smp_ctx_s {
    int    *code;
    char   *err;
    size_t  errlen;
} smp_ctx_t;

static void smp_fail(smp_ctx_t *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void smp_fail(smp_ctx_t *c, int status, const char *fmt, ...)
{
    va_list ap;

    if (*c->code)      /* keep the first (innermost) reason */
        return;
    *c->code = status;
    if (c->err && c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
}

static int smp_prefixed(const char *k, const char *prefix)
{
    return strncmp(k, prefix, strlen(prefix)) == 0;
}

/* Merge-key and set-member equality: numbers by value (Go decodes both to float64). */
static int smp_value_equal(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/* What identifies a list element: its merge key's value, or the element itself for a list
 * of scalars (key NULL or ""). Borrowed; NULL if a map element lacks the key. */
static const json_t *smp_ident(const json_t *elem, const char *key)
{
    if (!key || !*key)
        return elem;
    return json_object_get(elem, key);
}

/* Position of ident in idents (an array of identities), or -1. */
static long smp_index(const json_t *idents, const json_t *ident)
{
    size_t i;
    json_t *v;

    if (!ident)
        return -1;
    json_array_foreach(idents, i, v)
        if (smp_value_equal(v, ident))
            return (long)i;
    return -1;
}

/* The identities of a list's elements, as a new array (missing keys become null). */
static json_t *smp_idents(const json_t *list, const char *key)
{
    json_t *out = json_array(), *v;
    size_t i;

    if (!out)
        return NULL;
    json_array_foreach(list, i, v) {
        const json_t *id = smp_ident(v, key);
        json_array_append_new(out, id ? json_incref((json_t *)id) : json_null());
    }
    return out;
}

/* A copy of a patch value with every "$"-key and every null map member dropped (the typed
 * decode the apiserver does after patching drops them too). New reference or NULL. */
static json_t *smp_clean(const json_t *v, int depth, smp_ctx_t *c)
{
    json_t *out, *m;
    const char *k;
    size_t i;

    if (depth > SMP_MAX_DEPTH) {
        smp_fail(c, 400, "strategic merge patch nests deeper than %d levels", SMP_MAX_DEPTH);
        return NULL;
    }
    if (json_is_object(v)) {
        out = json_object();
        json_object_foreach((json_t *)v, k, m) {
            json_t *cm;
            if (k[0] == '$' || json_is_null(m))
                continue;
            cm = smp_clean(m, depth + 1, c);
            if (!cm || json_object_set_new(out, k, cm) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    if (json_is_array(v)) {
        out = json_array();
        json_array_foreach(v, i, m) {
            json_t *cm = smp_clean(m, depth + 1, c);
            if (!cm || json_array_append_new(out, cm) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    return json_deep_copy(v);
}

/* ---------------------------------------------------------------------------------------
 * Ordering (the "preserve order" rules of strategic merge patch)
 * ------------------------------------------------------------------------------------- */

typedef struct smp_item_s {
    json_t *v;       /* borrowed from the merged list */
    long    rank;    /* index in the order it is sorted by; unknown ones sort last */
    long    live;    /* index in the live (original) list, -1 if new */
    size_t  pos;     /* position in the merged list: keeps the sort stable */
} smp_item_t;

static int smp_item_cmp(const void *a, const void *b)
{
    const smp_item_t *x = a, *y = b;

    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Order merged (takes ownership) the way Kubernetes' normalizeElementOrder does: items
 * named in order_ids are sorted by it; the others ("server-only") keep their live order;
 * then the server-only items are slotted in front of the first patch item that comes
 * after them in the live list. Returns a new array or NULL. */
static json_t *smp_normalize(json_t *merged, const json_t *order_ids, const json_t *live_ids,
                             const char *key)
{
    size_t n = json_array_size(merged), np = 0, ns = 0, i, j;
    smp_item_t *pi = calloc(n + 1, sizeof(*pi)), *si = calloc(n + 1, sizeof(*si));
    json_t *out = json_array(), *v;

    if (!pi || !si || !out) {
        free(pi);
        free(si);
        json_decref(out);
        json_decref(merged);
        return NULL;
    }
    json_array_foreach(merged, i, v) {
        const json_t *id = smp_ident(v, key);
        long in_order = smp_index(order_ids, id), live = smp_index(live_ids, id);

        if (in_order >= 0)
            pi[np++] = (smp_item_t){ v, in_order, live, i };
        else
            si[ns++] = (smp_item_t){ v, live >= 0 ? live : (long)(n + i), live, i };
    }
    qsort(pi, np, sizeof(*pi), smp_item_cmp);
    qsort(si, ns, sizeof(*si), smp_item_cmp);

    for (i = 0, j = 0; i < ns || j < np;) {
        smp_item_t *take;
        if (i >= ns)
            take = &pi[j++];
        else if (j >= np)
            take = &si[i++];
        else if (si[i].live >= 0 && pi[j].live >= 0 && si[i].live < pi[j].live)
            take = &si[i++];
        else
            take = &pi[j++];
        json_array_append(out, take->v);
    }
    free(pi);
    free(si);
    json_decref(merged);
    return out;
}

/* ---------------------------------------------------------------------------------------
 * Merging
 * ------------------------------------------------------------------------------------- */

static json_t *smp_merge_map(json_t *orig, const json_t *patch, const smp_type_t *t, int depth,
                             smp_ctx_t *c);

/* Merge the list patch into orig for field f. Takes ownership of orig (an array or NULL),
 * borrows patch (an array). Returns a new reference or NULL with the error set. */
static json_t *smp_merge_list(json_t *orig, const json_t *patch, const smp_field_t *f, int depth,
                              smp_ctx_t *c)
{
    const char *key = f ? f->merge_key : NULL;
    json_t *plain = NULL, *live = NULL, *order = NULL, *v;
    size_t i;
    int replace = 0;

    if (depth > SMP_MAX_DEPTH) {
        smp_fail(c, 400, "strategic merge patch nests deeper than %d levels", SMP_MAX_DEPTH);
        json_decref(orig);
        return NULL;
    }
    if (!key) {             /* no patch strategy: the patch's list replaces */
        json_decref(orig);
        return smp_clean(patch, depth, c);
    }
    if (!json_is_array(orig)) {
        json_decref(orig);
        orig = json_array();
    }
    if (json_array_size(orig) + json_array_size(patch) > SMP_MAX_LIST) {
        smp_fail(c, 422, "strategic merge patch: list \"%s\" has more than %d elements to merge",
                 f->name, SMP_MAX_LIST);
        json_decref(orig);
        return NULL;
    }

    if (!*key) {
        /* A set of scalars: union, patch order first (see smp_normalize). */
        json_array_foreach(patch, i, v) {
            if (json_is_object(v) || json_is_array(v)) {
                smp_fail(c, 400, "strategic merge patch: list \"%s\" holds scalars, not %s",
                         f->name, json_is_object(v) ? "maps" : "lists");
                json_decref(orig);
                return NULL;
            }
        }
        live = smp_idents(orig, NULL);
        json_array_foreach(patch, i, v)
            if (smp_index(orig, v) < 0)
                json_array_append_new(orig, json_deep_copy(v));
        v = smp_normalize(orig, patch, live, NULL);
        json_decref(live);
        return v;
    }

    /* A list of maps merged by key. First the special elements: "$patch": delete removes
     * every element with that key, "$patch": replace makes the other elements the list. */
    plain = json_array();
    json_array_foreach(patch, i, v) {
        json_t *d;

        if (!json_is_object(v)) {
            smp_fail(c, 400, "strategic merge patch: element %zu of list \"%s\" is not a map",
                     i, f->name);
            goto failed;
        }
        d = json_object_get(v, "$patch");
        if (!d || (json_is_string(d) && strcmp(json_string_value(d), "merge") == 0)) {
            json_array_append(plain, v);
        } else if (json_is_string(d) && strcmp(json_string_value(d), "delete") == 0) {
            const json_t *kv = json_object_get(v, key);
            if (!kv) {
                smp_fail(c, 400, "strategic merge patch: delete directive in list \"%s\" "
                         "does not name its merge key \"%s\"", f->name, key);
                goto failed;
            }
            for (size_t k = json_array_size(orig); k-- > 0;)
                if (smp_value_equal(json_object_get(json_array_get(orig, k), key), kv))
                    json_array_remove(orig, k);
        } else if (json_is_string(d) && strcmp(json_string_value(d), "replace") == 0) {
            replace = 1;
        } else {
            smp_fail(c, 400, "strategic merge patch: unknown patch type: %s in list \"%s\"",
                     json_is_string(d) ? json_string_value(d) : "(not a string)", f->name);
            goto failed;
        }
    }
    if (replace) {
        json_decref(orig);
        orig = json_array();
    }

    live = smp_idents(orig, key);
    json_array_foreach(plain, i, v) {
        const json_t *kv = json_object_get(v, key);
        json_t *merged = NULL;
        size_t k;

        if (!kv) {
            smp_fail(c, 422, "strategic merge patch: an element of list \"%s\" does not contain "
                     "declared merge key: %s", f->name, key);
            goto failed;
        }
        for (k = 0; k < json_array_size(orig); k++)
            if (smp_value_equal(json_object_get(json_array_get(orig, k), key), kv))
                break;
        if (k < json_array_size(orig)) {
            merged = smp_merge_map(json_incref(json_array_get(orig, k)), v,
                                   f->type, depth + 1, c);
            if (!merged)
                goto failed;
            json_array_set_new(orig, k, merged);
        } else {
            merged = smp_merge_map(NULL, v, f->type, depth + 1, c);
            if (!merged)
                goto failed;
            json_array_append_new(orig, merged);
        }
    }
    order = smp_idents(plain, key);
    v = smp_normalize(orig, order, live, key);
    json_decref(order);
    json_decref(live);
    json_decref(plain);
    return v;

failed:
    json_decref(live);
    json_decref(plain);
    json_decref(orig);
    return NULL;
}

/* Merge one patch value into the current value of a field. Takes ownership of cur (may be
 * NULL: the field is new), borrows pv. Returns a new reference or NULL. */
static json_t *smp_merge_value(json_t *cur, const json_t *pv, const smp_field_t *f, int depth,
                               smp_ctx_t *c)
{
    if (json_is_object(pv)) {
        if (!json_is_object(cur)) {     /* new, or of another type: the patch's map wins */
            json_decref(cur);
            cur = NULL;
        }
        return smp_merge_map(cur, pv, f ? f->type : NULL, depth, c);
    }
    if (json_is_array(pv)) {
        if (!json_is_array(cur)) {
            json_decref(cur);
            cur = NULL;
        }
        return smp_merge_list(cur, pv, f, depth, c);
    }
    json_decref(cur);
    return json_deep_copy(pv);
}

/* Apply every "$setElementOrder/<list>" of patch to orig: merge that list now and order it.
 * The names of the lists handled go into done so the main loop skips them. 0 or -1. */
static int smp_set_order(json_t *orig, const json_t *patch, const smp_type_t *t, json_t *done,
                         int depth, smp_ctx_t *c)
{
    const char *k;
    json_t *ov;

    json_object_foreach((json_t *)patch, k, ov) {
        const char *name;
        const smp_field_t *f;
        json_t *cur, *plist, *merged, *live, *order;

        if (!smp_prefixed(k, "$setElementOrder/"))
            continue;
        name = k + strlen("$setElementOrder/");
        if (!json_is_array(ov) || !*name) {
            smp_fail(c, 400, "invalid patch format of setElementOrder list: %s", k);
            return -1;
        }
        plist = json_object_get(patch, name);
        if (plist && !json_is_array(plist))
            continue;               /* e.g. null: the main loop deletes the list */
        cur = json_object_get(orig, name);
        if (cur && !json_is_array(cur))
            cur = NULL;
        if (!cur && !plist)
            continue;
        f = smp_field(t, name);
        if (json_array_size(ov) > SMP_MAX_LIST) {
            smp_fail(c, 422, "strategic merge patch: $setElementOrder/%s is too long", name);
            return -1;
        }

        live = cur ? smp_idents(cur, f ? f->merge_key : NULL) : json_array();
        order = smp_idents(ov, f ? f->merge_key : NULL);
        if (plist)
            merged = smp_merge_list(json_incref(cur), plist, f, depth + 1, c);
        else
            merged = json_incref(cur);
        if (merged)
            merged = smp_normalize(merged, order, live, f ? f->merge_key : NULL);
        json_decref(live);
        json_decref(order);
        if (!merged)
            return -1;
        json_object_set_new(orig, name, merged);
        json_object_set_new(done, name, json_true());
    }
    return 0;
}

/* Merge the map patch into orig (type t, NULL when unknown). Takes ownership of orig (a map
 * or NULL), borrows patch. Returns a new reference or NULL with the error set. */
static json_t *smp_merge_map(json_t *orig, const json_t *patch, const smp_type_t *t, int depth,
                             smp_ctx_t *c)
{
    json_t *d, *rk, *done = NULL, *pv;
    const char *k;
    void *tmp;

    if (depth > SMP_MAX_DEPTH) {
        smp_fail(c, 400, "strategic merge patch nests deeper than %d levels", SMP_MAX_DEPTH);
        goto failed;
    }

    d = json_object_get(patch, "$patch");
    if (d) {
        const char *dv = json_string_value(d);
        if (dv && strcmp(dv, "replace") == 0) {
            json_decref(orig);
            return smp_clean(patch, depth, c);
        }
        if (dv && strcmp(dv, "delete") == 0) {
            json_decref(orig);
            return json_object();
        }
        if (!dv || strcmp(dv, "merge") != 0) {
            smp_fail(c, 400, "strategic merge patch: unknown patch type: %s in map",
                     dv ? dv : "(not a string)");
            goto failed;
        }
    }
    if (!json_is_object(orig)) {
        json_decref(orig);
        orig = json_object();
    }

    /* $retainKeys: the patch may only set keys it lists; the rest of orig goes. */
    rk = json_object_get(patch, "$retainKeys");
    if (rk) {
        if (!json_is_array(rk))
            goto bad_retain;
        json_object_foreach((json_t *)patch, k, pv) {
            if (json_is_null(pv) || k[0] == '$')
                continue;
            json_t *s = json_string(k);
            long found = smp_index(rk, s);
            json_decref(s);
            if (found < 0)
                goto bad_retain;
        }
        json_object_foreach_safe(orig, tmp, k, pv) {
            json_t *s = json_string(k);
            long found = smp_index(rk, s);
            json_decref(s);
            if (found < 0)
                json_object_del(orig, k);
        }
    }

    done = json_object();
    if (smp_set_order(orig, patch, t, done, depth, c) != 0)
        goto failed;

    json_object_foreach((json_t *)patch, k, pv) {
        json_t *merged;

        if (k[0] == '$') {
            if (smp_prefixed(k, "$deleteFromPrimitiveList/")) {
                const char *name = k + strlen("$deleteFromPrimitiveList/");
                json_t *cur = json_object_get(orig, name);
                if (!json_is_array(pv) || !*name) {
                    smp_fail(c, 400, "invalid patch format of primitive list: %s", k);
                    goto failed;
                }
                if (json_is_array(cur)) {
                    if (json_array_size(cur) + json_array_size(pv) > SMP_MAX_LIST) {
                        smp_fail(c, 422, "strategic merge patch: list \"%s\" is too long", name);
                        goto failed;
                    }
                    for (size_t i = json_array_size(cur); i-- > 0;)
                        if (smp_index(pv, json_array_get(cur, i)) >= 0)
                            json_array_remove(cur, i);
                }
            }
            continue;       /* every directive is consumed here or above */
        }
        if (json_object_get(done, k))
            continue;
        if (json_is_null(pv)) {
            json_object_del(orig, k);
            continue;
        }
        merged = smp_merge_value(json_incref(json_object_get(orig, k)), pv, smp_field(t, k),
                                 depth + 1, c);
        if (!merged)
            goto failed;
        json_object_set_new(orig, k, merged);
    }
    json_decref(done);
    return orig;

bad_retain:
    smp_fail(c, 400, "invalid patch format of retainKeys");
failed:
    json_decref(done);
    json_decref(orig);
    return NULL;
}

json_t *patch_strategic_apply(const json_t *doc, const json_t *patch, const char *api_version,
                              const char *kind, int *code, char *err, size_t errlen)
{
    int dummy = 0;
    smp_ctx_t c = { code ? code : &dummy, err, errlen };
    json_t *res;

    *c.code = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(patch)) {
        smp_fail(&c, 400, "strategic merge patch: the patch must be a JSON object");
        return NULL;
    }
    res = smp_merge_map(json_is_object(doc) ? json_deep_copy(doc) : NULL, patch,
                        smp_lookup(api_version, kind), 0, &c);
    if (!res && *c.code == 0)
        smp_fail(&c, 500, "out of memory applying the patch");
    return res;
}
