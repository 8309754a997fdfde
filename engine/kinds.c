/* kinds.c: the kind registry (see kinds.h). A flat array: there are tens of kinds and
 * lookups compare short strings, so a hash table would buy nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "table.h"
#include "util.h"

extern const char embed_kinds_json[];

#define KINDS_MAX 256

static kind_t *kinds[KINDS_MAX];
static size_t kinds_n;
/* Kinds no longer served (a plugin dropped or changed them). Kept, not freed, until
 * kinds_release: requests and watches in flight may still hold the pointer. */
static kind_t **retired;
static size_t retired_n;
static unsigned generation;

static void kind_free(kind_t *k)
{
    if (!k)
        return;
    free(k->group);
    free(k->version);
    free(k->group_version);
    free(k->kind);
    free(k->list_kind);
    free(k->plural);
    free(k->singular);
    free(k->store_key);
    free(k->owner);
    free(k->field_selectors);
    json_decref(k->short_names);
    json_decref(k->categories);
    json_decref(k->columns);
    json_decref(k->def);
    free(k);
}

static int valid_plural(const char *s)
{
    if (!*s || strlen(s) > 63)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return 0;
    return 1;
}

kind_t *kinds_build(const json_t *def, const char *owner, char *err, size_t errlen)
{
    const char *group = json_str(def, "group"), *version = json_str(def, "version");
    const char *kname = json_str(def, "kind"), *plural = json_str(def, "plural");
    const char *singular = json_str(def, "singular");
    json_t *v;
    size_t i;
    kind_t *k;

    if (!group)
        group = "";
    if (!version || !kname || !plural) {
        snprintf(err, errlen, "a kind needs \"version\", \"kind\" and \"plural\" strings");
        return NULL;
    }
    if (!valid_plural(plural)) {
        snprintf(err, errlen, "plural \"%s\" must be lowercase letters, digits or '-'", plural);
        return NULL;
    }
    k = calloc(1, sizeof(*k));
    if (!k)
        goto failed;
    k->group = strdup(group);
    k->version = strdup(version);
    if (asprintf(&k->group_version, "%s%s%s", group, *group ? "/" : "", version) < 0)
        k->group_version = NULL;
    k->kind = strdup(kname);
    if (asprintf(&k->list_kind, "%sList", kname) < 0)
        k->list_kind = NULL;
    k->plural = strdup(plural);
    k->singular = strdup(singular ? singular : "");
    if (asprintf(&k->store_key, "%s%s%s", plural, *group ? "." : "", group) < 0)
        k->store_key = NULL;
    k->owner = owner ? strdup(owner) : NULL;
    if (!k->group || !k->version || !k->group_version || !k->kind || !k->list_kind ||
        !k->plural || !k->singular || !k->store_key || (owner && !k->owner))
        goto failed;
    k->namespaced = json_is_true(json_object_get(def, "namespaced"));
    k->generation = json_is_true(json_object_get(def, "generation"));
    k->graceful = json_is_true(json_object_get(def, "graceful"));
    k->create_on_update = json_is_true(json_object_get(def, "allowCreateOnUpdate"));
    v = json_object_get(def, "shortNames");
    k->short_names = json_is_array(v) ? json_deep_copy(v) : json_array();
    v = json_object_get(def, "categories");
    k->categories = json_is_array(v) ? json_deep_copy(v) : json_array();
    v = json_object_get(def, "subresources");
    if (json_is_array(v)) {
        json_t *s;
        json_array_foreach(v, i, s) {
            const char *name = json_string_value(s);
            if (!name)
                continue;
            if (!strcmp(name, "status"))
                k->subresources |= KIND_SUB_STATUS;
            else if (!strcmp(name, "scale"))
                k->subresources |= KIND_SUB_SCALE;
            else if (!strcmp(name, "binding"))
                k->subresources |= KIND_SUB_BINDING;
            else if (!strcmp(name, "log"))
                k->subresources |= KIND_SUB_LOG;
            else if (!strcmp(name, "exec"))
                k->subresources |= KIND_SUB_EXEC;
            else if (!strcmp(name, "portforward"))
                k->subresources |= KIND_SUB_PORTFORWARD;
            else if (!strcmp(name, "attach"))
                k->subresources |= KIND_SUB_ATTACH;
            else if (!strcmp(name, "eviction"))
                k->subresources |= KIND_SUB_EVICTION;
            else {
                snprintf(err, errlen, "unknown subresource \"%s\" (status, scale, binding, log, exec, attach, portforward, eviction)",
                         name);
                goto failed_quiet;
            }
        }
    }
    /* The field selector list is kept as a NULL-terminated array of pointers into def, the
     * shape selector.h takes. */
    k->def = json_deep_copy(def);
    v = json_object_get(k->def, "fieldSelectors");
    k->field_selectors = calloc(json_array_size(v) + 1, sizeof(char *));
    if (!k->def || !k->field_selectors)
        goto failed;
    {
        json_t *s;
        size_t n = 0;
        json_array_foreach(v, i, s)
            if (json_is_string(s))
                k->field_selectors[n++] = json_string_value(s);
    }
    v = json_object_get(def, "columns");
    if (v) {
        if (table_spec_check(v, err, errlen) != 0)
            goto failed_quiet;
        k->columns = json_deep_copy(v);
    } else {
        k->columns = json_incref((json_t *)table_spec_builtin(group, kname));
    }
    return k;

failed:
    snprintf(err, errlen, "out of memory");
failed_quiet:
    kind_free(k);
    return NULL;
}

void kinds_build_free(kind_t *k)
{
    kind_free(k);
}

const kind_t *kinds_insert(kind_t *k, char *err, size_t errlen)
{
    if (kinds_find(k->group, k->version, k->plural)) {
        snprintf(err, errlen, "kind %s%s%s/%s is already registered", k->group,
                 *k->group ? "/" : "", k->version, k->plural);
        kind_free(k);
        return NULL;
    }
    if (kinds_n == KINDS_MAX) {
        snprintf(err, errlen, "too many kinds (%d)", KINDS_MAX);
        kind_free(k);
        return NULL;
    }
    kinds[kinds_n++] = k;
    generation++;
    return k;
}

const kind_t *kinds_register_json(const json_t *def, char *err, size_t errlen)
{
    kind_t *k = kinds_build(def, NULL, err, errlen);
    return k ? kinds_insert(k, err, errlen) : NULL;
}

int kinds_retire(const kind_t *k)
{
    for (size_t i = 0; i < kinds_n; i++) {
        if (kinds[i] != k)
            continue;
        kind_t **grown = realloc(retired, (retired_n + 1) * sizeof(*retired));
        if (!grown)
            return -1;
        retired = grown;
        retired[retired_n++] = kinds[i];
        /* Keep the order of the rest: discovery lists kinds in registration order. */
        memmove(&kinds[i], &kinds[i + 1], (kinds_n - i - 1) * sizeof(*kinds));
        kinds_n--;
        generation++;
        return 0;
    }
    return -1;
}

unsigned kinds_generation(void)
{
    return generation;
}

int kinds_init(void)
{
    json_error_t jerr;
    json_t *defs = json_loads(embed_kinds_json, 0, &jerr), *def;
    char err[256];
    size_t i;

    if (!json_is_array(defs)) {
        fprintf(stderr, "berth: built-in kinds: line %d: %s\n", jerr.line, jerr.text);
        json_decref(defs);
        return -1;
    }
    json_array_foreach(defs, i, def) {
        if (!kinds_register_json(def, err, sizeof(err))) {
            fprintf(stderr, "berth: built-in kind %zu: %s\n", i, err);
            json_decref(defs);
            return -1;
        }
    }
    json_decref(defs);
    return 0;
}

void kinds_release(void)
{
    for (size_t i = 0; i < kinds_n; i++)
        kind_free(kinds[i]);
    kinds_n = 0;
    for (size_t i = 0; i < retired_n; i++)
        kind_free(retired[i]);
    free(retired);
    retired = NULL;
    retired_n = 0;
}

const kind_t *kinds_find(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0; i < kinds_n; i++) {
        const kind_t *k = kinds[i];
        if (!strcmp(k->group, group) && !strcmp(k->plural, plural) &&
            (!version || !strcmp(k->version, version)))
            return k;
    }
    return NULL;
}

const kind_t *kinds_find_kind(const char *api_version, const char *kind)
{
    for (size_t i = 0; i < kinds_n; i++)
        if (!strcmp(kinds[i]->group_version, api_version) && !strcmp(kinds[i]->kind, kind))
            return kinds[i];
    return NULL;
}

const kind_t *kinds_find_store_key(const char *store_key)
{
    for (size_t i = 0; i < kinds_n; i++)
        if (!strcmp(kinds[i]->store_key, store_key))
            return kinds[i];
    return NULL;
}

const kind_t *kinds_at(size_t i)
{
    return i < kinds_n ? kinds[i] : NULL;
}
