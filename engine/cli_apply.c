/* cli_apply.c: `berth apply -f` and `berth create` (-f, namespace, deployment).
 *
 * apply is kubectl's client-side apply, so that `berth apply` and `kubectl apply` take turns
 * on the same objects: the manifest is recorded in the
 * kubectl.kubernetes.io/last-applied-configuration annotation (byte for byte as kubectl
 * writes it: compact JSON, keys sorted, Go's HTML escapes, a trailing newline), and a later
 * apply sends the three-way patch between that last applied configuration (what to delete),
 * the manifest (what to set) and the live object (what is already so): a strategic merge
 * patch for the kinds the server knows merge keys of, a JSON merge patch for the others. A
 * field nobody applied (a label added with `kubectl label`, defaults, status) is left alone;
 * an empty patch is not sent and the object is "unchanged". --server-side sends the manifest
 * as an apply patch with fieldManager=berth instead. docs/cli.md says why client-side is the
 * default.
 *
 * Depends on cli_write.c, kubeclient.c and patch.h (which kinds have merge keys). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_write.h"
#include "patch.h"
#include "util.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* ------------------------------------------------------------------ the patch schema
 *
 * The lists that merge element by element, by kind and path, as the k8s.io/api types tag
 * them (patchStrategy "merge", patchMergeKey). This must name a subset of what the server's
 * table in patch_strategic.c merges: a list the client diffs element by element and the
 * server replaces would lose the elements the patch does not mention. Every other list is
 * atomic: sent whole when it differs. */

typedef struct schema_s {
    int smp;                   /* strategic merge patch; else JSON merge patch, lists atomic */
    char group[128];
    char kind[128];
    const char *podspec;       /* path of the pod spec in this kind, or NULL */
    const char *template_md;   /* path of the pod template's metadata, or NULL */
    const char *job_md;        /* CronJob: the job template's metadata */
} schema_t;

static void schema_init(schema_t *s, const kube_resource_t *r, const char *api_version)
{
    memset(s, 0, sizeof(*s));
    s->smp = patch_strategic_known(api_version, r->kind);
    snprintf(s->group, sizeof(s->group), "%s", r->group);
    snprintf(s->kind, sizeof(s->kind), "%s", r->kind);
    const char *k = r->kind, *g = r->group;
    if (!*g && !strcmp(k, "Pod"))
        s->podspec = "spec";
    else if (!*g && !strcmp(k, "PodTemplate"))
        s->podspec = "template.spec", s->template_md = "template.metadata";
    else if ((!*g && !strcmp(k, "ReplicationController")) ||
             (!strcmp(g, "apps") && (!strcmp(k, "Deployment") || !strcmp(k, "ReplicaSet") ||
                                     !strcmp(k, "DaemonSet") || !strcmp(k, "StatefulSet"))) ||
             (!strcmp(g, "batch") && !strcmp(k, "Job")))
        s->podspec = "spec.template.spec", s->template_md = "spec.template.metadata";
    else if (!strcmp(g, "batch") && !strcmp(k, "CronJob"))
        s->podspec = "spec.jobTemplate.spec.template.spec",
        s->template_md = "spec.jobTemplate.spec.template.metadata",
        s->job_md = "spec.jobTemplate.metadata";
}

/* path == prefix "." rest */
static int path_is(const char *path, const char *prefix, const char *rest)
{
    size_t pl;
    if (!prefix)
        return 0;
    pl = strlen(prefix);
    return !strncmp(path, prefix, pl) && path[pl] == '.' && !strcmp(path + pl + 1, rest);
}

/* The merge key of the list at path: a field name, "" for a set of scalars, NULL when the
 * list is atomic. *retain: its elements carry $retainKeys (volumes). */
static const char *merge_key(const schema_t *s, const char *path, int *retain)
{
    static const struct {
        const char *path, *key;
    } pod_lists[] = {
        { "volumes", "name" },           { "imagePullSecrets", "name" },
        { "hostAliases", "ip" },         { "topologySpreadConstraints", "topologyKey" },
        { "resourceClaims", "name" },    { "schedulingGates", "name" },
        { "containers", "name" },        { "initContainers", "name" },
        { "ephemeralContainers", "name" },
    };
    static const struct {
        const char *path, *key;
    } container_lists[] = {
        { "ports", "containerPort" }, { "env", "name" },
        { "volumeMounts", "mountPath" }, { "volumeDevices", "devicePath" },
    };
    static const char *const containers[] = { "containers", "initContainers",
                                              "ephemeralContainers" };
    const char *const mds[] = { "metadata", s->template_md, s->job_md };
    *retain = 0;
    if (!s->smp)
        return NULL;
    if (!strcmp(path, "metadata.ownerReferences"))
        return "uid";
    if (!strcmp(path, "metadata.finalizers"))
        return "";
    for (size_t i = 1; i < 3; i++) {
        if (path_is(path, mds[i], "ownerReferences"))
            return "uid";
        if (path_is(path, mds[i], "finalizers"))
            return "";
    }
    if (s->podspec) {
        size_t pl = strlen(s->podspec);
        if (!strncmp(path, s->podspec, pl) && path[pl] == '.') {
            const char *rel = path + pl + 1;
            for (size_t i = 0; i < sizeof(pod_lists) / sizeof(pod_lists[0]); i++)
                if (!strcmp(rel, pod_lists[i].path)) {
                    *retain = !strcmp(rel, "volumes");
                    return pod_lists[i].key;
                }
            for (size_t c = 0; c < 3; c++)
                for (size_t i = 0; i < sizeof(container_lists) / sizeof(container_lists[0]); i++)
                    if (path_is(rel, containers[c], container_lists[i].path))
                        return container_lists[i].key;
        }
    }
    if (!*s->group && !strcmp(s->kind, "Service") && !strcmp(path, "spec.ports"))
        return "port";
    if (!*s->group && !strcmp(s->kind, "ServiceAccount") && !strcmp(path, "secrets"))
        return "name";
    if (!*s->group && !strcmp(s->kind, "Node") && !strcmp(path, "spec.podCIDRs"))
        return "";
    return NULL;
}

/* Maps whose patch lists the keys to keep ($retainKeys): a Deployment's strategy, so that
 * turning RollingUpdate into Recreate drops the defaulted rollingUpdate. */
static int retain_map(const schema_t *s, const char *path)
{
    return s->smp && !strcmp(s->group, "apps") && !strcmp(s->kind, "Deployment") &&
           !strcmp(path, "spec.strategy");
}

/* ------------------------------------------------------------------ the three-way diff
 *
 * orig: the last applied configuration (NULL when there is none: nothing is deleted), mod:
 * the manifest with its new annotation, cur: the live object. The patch sets what mod has
 * and cur has not (or has otherwise), and deletes what orig had and mod has not, if cur
 * still has it. Fields only cur has are not touched. This is what kubectl's
 * CreateThreeWayMergePatch computes, except that a reordered or extended live list alone
 * does not make a patch (kubectl would send a $setElementOrder whenever the live list has
 * elements the manifest lacks, and report "configured" each time). */

static void diff_map(const schema_t *s, const char *path, const json_t *orig,
                     const json_t *mod, const json_t *cur, int retain, json_t *patch);

static char *join_path(const char *path, const char *key)
{
    char *out = NULL;
    if (asprintf(&out, "%s%s%s", path, *path ? "." : "", key) < 0)
        return NULL;
    return out;
}

/* The element of list whose key field equals id (a scalar list: the element equal to id). */
static const json_t *find_elem(const json_t *list, const char *key, const json_t *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const json_t *v = *key ? json_object_get(e, key) : e;
        if (v && cliw_json_equal(v, id))
            return e;
    }
    return NULL;
}

/* Whether the elements of mod that cur also has appear in cur in another order. */
static int order_differs(const json_t *mod, const json_t *cur, const char *key)
{
    long last = -1;
    size_t i, j;
    json_t *m, *c;
    json_array_foreach(mod, i, m) {
        const json_t *id = *key ? json_object_get(m, key) : m;
        json_array_foreach(cur, j, c) {
            const json_t *v = *key ? json_object_get(c, key) : c;
            if (v && cliw_json_equal(v, id)) {
                if ((long)j < last)
                    return 1;
                last = (long)j;
                break;
            }
        }
    }
    return 0;
}

static void set_directive(json_t *patch, const char *prefix, const char *key, json_t *v)
{
    char *name = NULL;
    if (asprintf(&name, "%s%s", prefix, key) < 0) {
        json_decref(v);
        return;
    }
    json_object_set_new(patch, name, v);
    free(name);
}

/* A set of scalars (metadata.finalizers): additions, $deleteFromPrimitiveList, order. */
static void diff_set(const char *key, const json_t *orig, const json_t *mod, const json_t *cur,
                     json_t *patch)
{
    json_t *add = json_array(), *del = json_array(), *v;
    size_t i;
    json_array_foreach(mod, i, v)
        if (!find_elem(cur, "", v))
            json_array_append(add, v);
    json_array_foreach(orig, i, v)
        if (!find_elem(mod, "", v) && find_elem(cur, "", v))
            json_array_append(del, v);
    if (json_array_size(add) || json_array_size(del) || order_differs(mod, cur, "")) {
        if (json_array_size(add))
            json_object_set(patch, key, add);
        if (json_array_size(del))
            set_directive(patch, "$deleteFromPrimitiveList/", key, json_incref(del));
        set_directive(patch, "$setElementOrder/", key, json_deep_copy(mod));
    }
    json_decref(add);
    json_decref(del);
}

/* A list merged by key: changed and new elements, "$patch": "delete" for the elements the
 * last apply had and this one has not, and the manifest's order. */
static void diff_list(const schema_t *s, const char *path, const char *key, const char *mk,
                      int retain, const json_t *orig, const json_t *mod, const json_t *cur,
                      json_t *patch)
{
    size_t i;
    json_t *m, *o;
    if (!*mk) {
        json_array_foreach(mod, i, m)
            if (json_is_object(m) || json_is_array(m))
                goto atomic;
        diff_set(key, orig, mod, cur, patch);
        return;
    }
    json_array_foreach(mod, i, m)
        if (!json_is_object(m) || !json_object_get(m, mk))
            goto atomic;

    json_t *plist = json_array();
    json_array_foreach(mod, i, m) {
        const json_t *id = json_object_get(m, mk);
        const json_t *c = find_elem(cur, mk, id), *oe = find_elem(orig, mk, id);
        if (!c) {
            json_array_append_new(plist, json_deep_copy(m));
            continue;
        }
        json_t *sub = json_object();
        diff_map(s, path, oe, m, c, retain, sub);
        if (json_object_size(sub)) {
            json_object_set_new(sub, mk, json_deep_copy(id));
            json_array_append_new(plist, sub);
        } else
            json_decref(sub);
    }
    json_array_foreach(orig, i, o) {
        const json_t *id = json_object_get(o, mk);
        if (!id || find_elem(mod, mk, id) || !find_elem(cur, mk, id))
            continue;
        json_array_append_new(plist, json_pack("{s:s,s:O}", "$patch", "delete", mk, id));
    }
    if (json_array_size(plist) || order_differs(mod, cur, mk)) {
        json_t *order = json_array();
        json_array_foreach(mod, i, m)
            json_array_append_new(order, json_pack("{s:O}", mk, json_object_get(m, mk)));
        if (json_array_size(plist))
            json_object_set(patch, key, plist);
        set_directive(patch, "$setElementOrder/", key, order);
    }
    json_decref(plist);
    return;

atomic:
    if (!cliw_json_equal(mod, cur))
        json_object_set_new(patch, key, json_deep_copy(mod));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fields the server sets that a manifest copied from `get -o yaml` or `create --dry-run
 * -o yaml` carries as null: asking to delete them would make a patch every time. */
static int server_owned(const char *path, const char *key)
{
    static const char *const keys[] = { "creationTimestamp", "resourceVersion", "uid",
                                        "generation", "managedFields", "selfLink", NULL };
    if (!strcmp(path, "") && !strcmp(key, "status"))
        return 1;
    if (strcmp(path, "metadata"))
        return 0;
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i]))
            return 1;
    return 0;
}

static void diff_map(const schema_t *s, const char *path, const json_t *orig,
                     const json_t *mod, const json_t *cur, int retain, json_t *patch)
{
    const char *key;
    json_t *mv, *ov;
    if (!json_is_object(orig))
        orig = NULL;
    json_object_foreach((json_t *)mod, key, mv) {
        const json_t *cv = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        const json_t *okv = orig ? json_object_get(orig, key) : NULL;
        char *child;
        const char *mk;
        int retain_elems;
        if (key[0] == '$')
            continue;
        if (json_is_null(mv)) {
            if (cv && !json_is_null(cv) && !server_owned(path, key))
                json_object_set_new(patch, key, json_null());
            continue;
        }
        if (!cv || json_is_null(cv)) {
            if (!(json_is_object(mv) && !json_object_size(mv)))   /* {} adds nothing */
                json_object_set_new(patch, key, json_deep_copy(mv));
            continue;
        }
        if (!(child = join_path(path, key)))
            continue;
        if (json_is_object(mv) && json_is_object(cv)) {
            json_t *sub = json_object();
            diff_map(s, child, okv, mv, cv, retain_map(s, child), sub);
            if (json_object_size(sub))
                json_object_set_new(patch, key, sub);
            else
                json_decref(sub);
        } else if (json_is_array(mv) && json_is_array(cv) &&
                   (mk = merge_key(s, child, &retain_elems))) {
            diff_list(s, child, key, mk, retain_elems, json_is_array(okv) ? okv : NULL, mv,
                      cv, patch);
        } else if (!cliw_json_equal(mv, cv)) {
            json_object_set_new(patch, key, json_deep_copy(mv));
        }
        free(child);
    }
    /* what the last apply set and this one does not: delete it if it is still there */
    json_object_foreach((json_t *)orig, key, ov) {
        const json_t *cv = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        if (key[0] == '$' || json_object_get(mod, key) || !cv || json_is_null(cv))
            continue;
        json_object_set_new(patch, key, json_null());
    }
    if (retain && json_object_size(patch)) {
        const char **keys = calloc(json_object_size(mod) + 1, sizeof(*keys));
        size_t n = 0;
        json_t *list = json_array();
        if (keys) {
            json_object_foreach((json_t *)mod, key, mv)
                if (key[0] != '$' && !json_is_null(mv))
                    keys[n++] = key;
            qsort(keys, n, sizeof(*keys), cmp_str);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(list, json_string(keys[i]));
            free(keys);
        }
        json_object_set_new(patch, "$retainKeys", list);
    }
}

/* ------------------------------------------------------------------ the annotation */

/* The manifest as kubectl records it: runtime.Encode of the object with its other
 * annotations (an empty map when none), i.e. Go's json.Encoder output: compact, map keys
 * sorted, <, >, & and U+2028/U+2029 escaped, a newline at the end. Caller frees. */
static char *last_applied_of(const json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    json_t *ann = json_obj_ensure(json_obj_ensure(copy, "metadata"), "annotations");
    json_object_del(ann, LAST_APPLIED);
    char *enc = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    if (!enc)
        return NULL;
    size_t len = strlen(enc), extra = 0;
    for (size_t i = 0; i < len; i++)
        if (enc[i] == '<' || enc[i] == '>' || enc[i] == '&')
            extra += 5;
        else if ((unsigned char)enc[i] == 0xe2 && (unsigned char)enc[i + 1] == 0x80 &&
                 ((unsigned char)enc[i + 2] == 0xa8 || (unsigned char)enc[i + 2] == 0xa9))
            extra += 3;
    char *out = malloc(len + extra + 2), *p = out;
    if (!out) {
        free(enc);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)enc[i];
        if (c == '<' || c == '>' || c == '&')
            p += sprintf(p, "\\u00%02x", c);
        else if (c == 0xe2 && (unsigned char)enc[i + 1] == 0x80 &&
                 ((unsigned char)enc[i + 2] == 0xa8 || (unsigned char)enc[i + 2] == 0xa9)) {
            p += sprintf(p, "\\u202%c", (unsigned char)enc[i + 2] == 0xa8 ? '8' : '9');
            i += 2;
        } else
            *p++ = (char)c;
    }
    *p++ = '\n';
    *p = '\0';
    free(enc);
    return out;
}

/* ------------------------------------------------------------------ shared by both verbs */

typedef struct write_opts_s {
    cli_conn_t conn;
    char **files;
    size_t nfiles;
    int output_name;
    cliw_dry_t dry;
    int server_side;
    int force_conflicts;
    int save_config;
    const char *field_manager;
} write_opts_t;

/* Where a manifest object goes. */
typedef struct target_s {
    kube_resource_t res;
    char kind_str[300];
    char file[1100];
    const char *ns;         /* borrowed from obj */
    const char *name;       /* borrowed from obj; NULL with generateName */
    json_t *obj;            /* a copy of the manifest object, namespace set */
} target_t;

/* Resolve one manifest entry. 0, or -1 with the message printed. Caller releases t->obj. */
static int target_of(kubeclient_t *kc, const write_opts_t *o, const json_t *entry,
                     target_t *t, int need_name, const char *doing)
{
    char err[512];
    const json_t *src = json_object_get(entry, "object");
    memset(t, 0, sizeof(*t));
    cliw_source_file(json_str(entry, "source"), t->file, sizeof(t->file));
    t->obj = json_deep_copy(src);
    const char *name = json_str(json_object_get(t->obj, "metadata"), "name");
    if (kubeclient_resolve_kind(kc, json_str(t->obj, "apiVersion"), json_str(t->obj, "kind"),
                                &t->res, err, sizeof(err)) < 0) {
        const char *ns = json_str(json_object_get(t->obj, "metadata"), "namespace");
        fprintf(stderr, "error: resource mapping not found for name: \"%s\" namespace: \"%s\" "
                        "from \"%s\": %s\nensure CRDs are installed first\n",
                name ? name : "", ns ? ns : "", t->file, err);
        return -1;
    }
    cli_kind_string(&t->res, t->kind_str, sizeof(t->kind_str));
    if (cliw_object_namespace(kc, &o->conn, &t->res, t->obj, &t->ns) < 0)
        return -1;
    t->name = json_str(json_object_get(t->obj, "metadata"), "name");
    if (t->name && !*t->name)
        t->name = NULL;
    if (need_name && !t->name) {
        fprintf(stderr, "error: error when %s \"%s\": resource name may not be empty\n", doing,
                t->file);
        return -1;
    }
    return 0;
}

/* path?fieldManager=FM[&dryRun=All][extra] of a target; caller frees. */
static char *target_path(const target_t *t, const char *name, const write_opts_t *o,
                         const char *fm, const char *extra)
{
    char *base = kubeclient_path(&t->res, t->ns, name, NULL), *esc = cli_query_escape(fm);
    char *out = NULL;
    if (base && esc &&
        asprintf(&out, "%s?fieldManager=%s%s%s", base, esc,
                 o->dry == CLIW_DRY_SERVER ? "&dryRun=All" : "", extra ? extra : "") < 0)
        out = NULL;
    free(base);
    free(esc);
    return out;
}

static void print_done(const write_opts_t *o, const target_t *t, const char *name,
                       const char *what)
{
    if (o->output_name)
        printf("%s/%s\n", t->kind_str, name);
    else
        printf("%s/%s %s%s\n", t->kind_str, name, what, cliw_dry_suffix(o->dry));
    fflush(stdout);
}

/* POST a target. 0 or -1 (printed). */
static int create_target(kubeclient_t *kc, const write_opts_t *o, target_t *t, const char *fm,
                         const char *doing)
{
    if (o->dry == CLIW_DRY_CLIENT) {
        print_done(o, t, t->name ? t->name : json_str(json_object_get(t->obj, "metadata"),
                                                      "generateName"), "created");
        return 0;
    }
    char *path = target_path(t, NULL, o, fm, NULL);
    json_t *resp = cliw_request(kc, "POST", path, NULL, t->obj, NULL, 0, doing, t->file);
    free(path);
    if (!resp)
        return -1;
    const char *name = json_str(json_object_get(resp, "metadata"), "name");
    print_done(o, t, name ? name : t->name ? t->name : "", "created");
    json_decref(resp);
    return 0;
}

/* ------------------------------------------------------------------ apply */

static int apply_server_side(kubeclient_t *kc, const write_opts_t *o, target_t *t)
{
    char *path = target_path(t, t->name, o, o->field_manager ? o->field_manager : "berth",
                             o->force_conflicts ? "&force=true" : "&force=false");
    if (o->dry == CLIW_DRY_CLIENT) {
        free(path);
        print_done(o, t, t->name, "serverside-applied");
        return 0;
    }
    json_t *resp = cliw_request(kc, "PATCH", path, "application/apply-patch+yaml", t->obj,
                                NULL, 0, "patching", t->file);
    free(path);
    if (!resp)
        return -1;
    json_decref(resp);
    print_done(o, t, t->name, "serverside-applied");
    return 0;
}

/* Client-side apply of one manifest object. 0 or -1 (printed). */
static int apply_one(kubeclient_t *kc, const write_opts_t *o, const json_t *entry)
{
    target_t t;
    long status = 0;
    int rc = -1;
    json_t *cur = NULL, *orig = NULL, *patch = NULL, *resp = NULL;
    char *path = NULL, *annotation = NULL;

    if (target_of(kc, o, entry, &t, 1, "retrieving current configuration of") < 0)
        goto out;
    if (o->server_side) {
        rc = apply_server_side(kc, o, &t);
        goto out;
    }
    /* the object to create, or "modified" of the three-way patch: the manifest and, in
     * its annotation, the manifest */
    if (!(annotation = last_applied_of(t.obj)))
        goto out;
    json_t *ann = json_obj_ensure(json_obj_ensure(t.obj, "metadata"), "annotations");
    json_object_set_new(ann, LAST_APPLIED, json_string(annotation));
    t.name = json_str(json_object_get(t.obj, "metadata"), "name");
    t.ns = t.res.namespaced ? json_str(json_object_get(t.obj, "metadata"), "namespace") : NULL;

    path = kubeclient_path(&t.res, t.ns, t.name, NULL);
    cur = cliw_request(kc, "GET", path, NULL, NULL, &status, 1,
                       "retrieving current configuration of", t.file);
    free(path);
    path = NULL;
    if (!cur && status == 404) {
        rc = create_target(kc, o, &t, "kubectl-client-side-apply", "creating");
        goto out;
    }
    if (!cur)
        goto out;

    const char *last = json_str(json_object_get(json_object_get(cur, "metadata"),
                                                "annotations"), LAST_APPLIED);
    if (last) {
        json_error_t jerr;
        orig = json_loads(last, 0, &jerr);
    } else {
        fprintf(stderr, "Warning: resource %s/%s is missing the %s annotation which is "
                        "required by berth apply. berth apply should only be used on "
                        "resources created declaratively by either berth create "
                        "--save-config or berth apply. The missing annotation will be "
                        "patched automatically.\n", t.res.resource, t.name, LAST_APPLIED);
    }
    schema_t schema;
    schema_init(&schema, &t.res, json_str(t.obj, "apiVersion"));
    patch = json_object();
    diff_map(&schema, "", orig, t.obj, cur, 0, patch);
    /* apiVersion and kind name the type, they are not fields to patch */
    json_object_del(patch, "apiVersion");
    json_object_del(patch, "kind");
    if (!json_object_size(patch)) {
        print_done(o, &t, t.name, "unchanged");
        rc = 0;
        goto out;
    }
    if (getenv("BERTH_APPLY_DEBUG")) {
        char *p = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "patch: %s\n", p ? p : "?");
        free(p);
    }
    if (o->dry == CLIW_DRY_CLIENT) {
        print_done(o, &t, t.name, "configured");
        rc = 0;
        goto out;
    }
    path = target_path(&t, t.name, o, "kubectl-client-side-apply", NULL);
    resp = cliw_request(kc, "PATCH", path,
                        schema.smp ? "application/strategic-merge-patch+json"
                                   : "application/merge-patch+json",
                        patch, NULL, 0, "patching", t.file);
    if (!resp)
        goto out;
    /* a patch the server found nothing to do with (it keeps the resourceVersion) */
    const char *rv0 = json_str(json_object_get(cur, "metadata"), "resourceVersion");
    const char *rv1 = json_str(json_object_get(resp, "metadata"), "resourceVersion");
    int same = o->dry == CLIW_DRY_NONE && rv0 && rv1 && !strcmp(rv0, rv1);
    print_done(o, &t, t.name, same ? "unchanged" : "configured");
    rc = 0;
out:
    json_decref(t.obj);
    json_decref(cur);
    json_decref(orig);
    json_decref(patch);
    json_decref(resp);
    free(path);
    free(annotation);
    return rc;
}

/* ------------------------------------------------------------------ flags */

static void usage_apply(FILE *f)
{
    fprintf(f, "usage: berth apply -f FILE|DIR|- [-f ...] [-n NS] [-o name] "
               "[--dry-run=client|server] [--server-side [--force-conflicts] "
               "[--field-manager NAME]]\n"
               "  client-side apply as kubectl's: the last-applied-configuration annotation "
               "and a three-way patch\n");
}

static void usage_create(FILE *f)
{
    fprintf(f, "usage: berth create -f FILE|DIR|- [-n NS] [-o name] [--dry-run=client|server] "
               "[--save-config]\n"
               "       berth create namespace NAME\n"
               "       berth create deployment NAME --image=IMAGE [--replicas=N] [--port=P]\n");
}

/* Parse the flags both verbs share; positional arguments go to pos. 0, 2 (usage error,
 * printed), or 1 for --help (printed). */
static int parse_write_flags(int argc, char **argv, write_opts_t *o, char **pos, size_t *npos,
                             int create, const char **image, const char **replicas,
                             const char **port)
{
    for (int i = 1; i < argc; i++) {
        int m, used = cli_conn_flag(&o->conn, argc, argv, &i);
        const char *v;
        if (used < 0)
            return 2;
        if (used)
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--filename", "-f", &m)) || m) {
            if (m < 0)
                return 2;
            o->files[o->nfiles++] = (char *)v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--output", "-o", &m)) || m) {
            if (m < 0)
                return 2;
            if (strcmp(v, "name")) {
                fprintf(stderr, "error: unable to match a printer suitable for the output "
                                "format \"%s\", allowed formats are: name\n", v);
                return 2;
            }
            o->output_name = 1;
        } else if ((m = cliw_dry_run_flag(argv[i], &o->dry))) {
            if (m < 0)
                return 2;
        } else if (!create && (!strcmp(argv[i], "--server-side") ||
                               !strcmp(argv[i], "--server-side=true"))) {
            o->server_side = 1;
        } else if (!create && !strcmp(argv[i], "--server-side=false")) {
            o->server_side = 0;
        } else if (!create && (!strcmp(argv[i], "--force-conflicts") ||
                               !strcmp(argv[i], "--force-conflicts=true"))) {
            o->force_conflicts = 1;
        } else if (!create && ((v = cli_flag_value(argc, argv, &i, "--field-manager", NULL,
                                                   &m)) || m)) {
            if (m < 0)
                return 2;
            o->field_manager = v;
        } else if (create && (!strcmp(argv[i], "--save-config") ||
                              !strcmp(argv[i], "--save-config=true"))) {
            o->save_config = 1;
        } else if (create && ((v = cli_flag_value(argc, argv, &i, "--image", NULL, &m)) || m)) {
            if (m < 0)
                return 2;
            *image = v;
        } else if (create && ((v = cli_flag_value(argc, argv, &i, "--replicas", "-r", &m)) ||
                              m)) {
            if (m < 0)
                return 2;
            *replicas = v;
        } else if (create && ((v = cli_flag_value(argc, argv, &i, "--port", NULL, &m)) || m)) {
            if (m < 0)
                return 2;
            *port = v;
        } else if (!strncmp(argv[i], "--validate", 10) || !strcmp(argv[i], "--overwrite") ||
                   !strcmp(argv[i], "--overwrite=true")) {
            /* kubectl's flags that change nothing here */
        } else if ((m = cliw_other_arg(argv[i], create ? usage_create : usage_apply, pos,
                                       npos))) {
            return m < 0 ? 2 : 1;
        }
    }
    return 0;
}

int cli_apply_main(int argc, char **argv)
{
    write_opts_t o = { 0 };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    const char *unused = NULL;
    int rc = 0;
    kubeclient_t *kc = NULL;
    json_t *errors = NULL, *entries = NULL;

    o.files = calloc((size_t)argc + 1, sizeof(*o.files));
    if (!pos || !o.files) {
        rc = 1;
        goto out;
    }
    rc = parse_write_flags(argc, argv, &o, pos, &npos, 0, &unused, &unused, &unused);
    if (rc) {
        rc = rc == 1 ? 0 : rc;
        goto out;
    }
    if (npos && !strcmp(pos[0], "view-last-applied")) {
        fprintf(stderr, "error: berth apply %s is not supported\n", pos[0]);
        rc = 2;
        goto out;
    }
    if (npos) {
        fprintf(stderr, "error: Unexpected args: [%s]\nSee 'berth apply -h' for help and "
                        "examples\n", pos[0]);
        rc = 2;
        goto out;
    }
    if (!o.nfiles) {
        fprintf(stderr, "error: must specify -f\n");
        usage_apply(stderr);
        rc = 2;
        goto out;
    }
    if (!(kc = cli_connect(&o.conn))) {
        rc = 1;
        goto out;
    }
    errors = json_array();
    entries = cliw_read_sources(o.files, o.nfiles, errors);
    if (!json_array_size(entries) && !json_array_size(errors)) {
        fprintf(stderr, "error: no objects passed to apply\n");
        rc = 1;
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
        if (apply_one(kc, &o, e) < 0)
            rc = 1;
    if (cliw_print_source_errors(errors))
        rc = 1;
out:
    json_decref(entries);
    json_decref(errors);
    kubeclient_free(kc);
    free(pos);
    free(o.files);
    return rc;
}

/* ------------------------------------------------------------------ create */

static int create_from_files(kubeclient_t *kc, write_opts_t *o)
{
    json_t *errors = json_array();
    json_t *entries = cliw_read_sources(o->files, o->nfiles, errors);
    int rc = 0;
    size_t i;
    json_t *e;
    if (!json_array_size(entries) && !json_array_size(errors)) {
        fprintf(stderr, "error: no objects passed to create\n");
        rc = 1;
    }
    json_array_foreach(entries, i, e) {
        target_t t;
        if (target_of(kc, o, e, &t, 0, "creating") < 0) {
            json_decref(t.obj);
            rc = 1;
            continue;
        }
        if (o->save_config) {
            char *annotation = last_applied_of(t.obj);
            if (annotation)
                json_object_set_new(json_obj_ensure(json_obj_ensure(t.obj, "metadata"),
                                                    "annotations"),
                                    LAST_APPLIED, json_string(annotation));
            free(annotation);
            t.ns = t.res.namespaced ? json_str(json_object_get(t.obj, "metadata"),
                                               "namespace") : NULL;
            t.name = json_str(json_object_get(t.obj, "metadata"), "name");
        }
        if (create_target(kc, o, &t, "kubectl-create", "creating") < 0)
            rc = 1;
        json_decref(t.obj);
    }
    if (cliw_print_source_errors(errors))
        rc = 1;
    json_decref(entries);
    json_decref(errors);
    return rc;
}

/* The container name kubectl derives from an image: the last path element without tag or
 * digest; when it had a '_', that becomes '-' and a random suffix keeps it unique (kubectl's
 * sanitizeAndUniquify). */
static void container_name(const char *image, char *out, size_t len)
{
    const char *slash = strrchr(image, '/');
    int changed = 0;
    snprintf(out, len, "%s", slash ? slash + 1 : image);
    out[strcspn(out, ":@")] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = '-', changed = 1;
    size_t l = strlen(out);
    if (changed && l + 7 <= len) {
        out[l] = '-';
        util_random_suffix(out + l + 1, 5);
        out[l + 6] = '\0';
    }
}

/* `create namespace NAME` / `create deployment NAME --image=I`: build the object as kubectl
 * does and create it like a one-object manifest. */
static int create_generated(kubeclient_t *kc, write_opts_t *o, const char *what,
                            const char *name, const char *image, const char *replicas,
                            const char *port)
{
    json_t *obj;
    if (!strcmp(what, "namespace") || !strcmp(what, "ns")) {
        obj = json_pack("{s:s,s:s,s:{s:s},s:{},s:{}}", "apiVersion", "v1", "kind", "Namespace",
                        "metadata", "name", name, "spec", "status");
    } else {
        char cname[256], *rend = NULL, *pend = NULL;
        long n = replicas ? strtol(replicas, &rend, 10) : 1;
        long p = port ? strtol(port, &pend, 10) : 0;
        if (!image) {
            fprintf(stderr, "error: required flag(s) \"image\" not set\n");
            return 2;
        }
        if (replicas && (!*replicas || *rend || n < 0)) {
            fprintf(stderr, "error: invalid argument \"%s\" for \"-r, --replicas\" flag\n",
                    replicas);
            return 2;
        }
        if (port && (!*port || *pend || p <= 0 || p > 65535)) {
            fprintf(stderr, "error: invalid argument \"%s\" for \"--port\" flag\n", port);
            return 2;
        }
        container_name(image, cname, sizeof(cname));
        json_t *container = json_pack("{s:s,s:s,s:{}}", "name", cname, "image", image,
                                      "resources");
        if (port)
            json_object_set_new(container, "ports",
                                json_pack("[{s:I}]", "containerPort", (json_int_t)p));
        obj = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:I,s:{s:{s:s}},s:{s:{s:{s:s}},"
                        "s:{s:[o]}},s:{}},s:{}}",
                        "apiVersion", "apps/v1", "kind", "Deployment",
                        "metadata", "name", name, "labels", "app", name,
                        "spec", "replicas", (json_int_t)n,
                        "selector", "matchLabels", "app", name,
                        "template", "metadata", "labels", "app", name,
                        "spec", "containers", container,
                        "strategy", "status");
    }
    json_t *entry = json_pack("{s:s,s:o}", "source", "", "object", obj);
    target_t t;
    int rc = 0;
    if (target_of(kc, o, entry, &t, 1, "creating") < 0 ||
        create_target(kc, o, &t, "kubectl-create", "creating") < 0)
        rc = 1;
    json_decref(t.obj);
    json_decref(entry);
    return rc;
}

int cli_create_main(int argc, char **argv)
{
    write_opts_t o = { 0 };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    const char *image = NULL, *replicas = NULL, *port = NULL;
    int rc = 0;
    kubeclient_t *kc = NULL;

    o.files = calloc((size_t)argc + 1, sizeof(*o.files));
    if (!pos || !o.files) {
        rc = 1;
        goto out;
    }
    rc = parse_write_flags(argc, argv, &o, pos, &npos, 1, &image, &replicas, &port);
    if (rc) {
        rc = rc == 1 ? 0 : rc;
        goto out;
    }
    if (npos) {
        const char *what = pos[0];
        if (strcmp(what, "namespace") && strcmp(what, "ns") && strcmp(what, "deployment") &&
            strcmp(what, "deploy")) {
            fprintf(stderr, "error: unknown command \"%s\" for \"berth create\" (berth creates "
                            "namespace, deployment, or -f)\n", what);
            rc = 2;
            goto out;
        }
        if (npos != 2 || o.nfiles) {
            fprintf(stderr, "error: exactly one NAME is required, got %zu\n", npos - 1);
            rc = 2;
            goto out;
        }
        if (!(kc = cli_connect(&o.conn))) {
            rc = 1;
            goto out;
        }
        rc = create_generated(kc, &o, what, pos[1], image, replicas, port);
        goto out;
    }
    if (!o.nfiles) {
        fprintf(stderr, "error: must specify one of -f and -k\n");
        usage_create(stderr);
        rc = 2;
        goto out;
    }
    if (!(kc = cli_connect(&o.conn))) {
        rc = 1;
        goto out;
    }
    rc = create_from_files(kc, &o);
out:
    kubeclient_free(kc);
    free(pos);
    free(o.files);
    return rc;
}
