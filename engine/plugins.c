/* plugins.c: see plugins.h. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>

#include "kinds.h"
#include "log.h"
#include "luajson.h"
#include "luavm.h"
#include "plugins.h"

#define PLUGINS_MAX 64

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load one plugin's file in a fresh VM and return its `kinds` list (a new reference, an
 * empty array when it has none), or NULL with err set. */
static json_t *load_kinds(const char *dir, const char *name, const char *lib_dir, char *err,
                          size_t errlen)
{
    char path[PATH_MAX + 300], chunk[400];
    /* A generous budget: this runs once per change of the files, and a plugin skipped for
     * a slow start (a loaded machine, valgrind) would lose its kinds. */
    luavm_opts_t vo = { lib_dir, 1000, 0, 0 };
    luavm_t *vm = luavm_create(&vo, err, errlen);
    json_t *kinds = NULL;
    if (!vm)
        return NULL;
    *err = '\0';
    snprintf(path, sizeof(path), "%s/%s/plugin.lua", dir, name);
    snprintf(chunk, sizeof(chunk), "@plugins/%s/plugin.lua", name);
    if (luavm_load_file(vm, path, chunk, err, errlen) != LUAVM_OK) {
        if (!*err)
            snprintf(err, errlen, "%s", luavm_errmsg(vm) ? luavm_errmsg(vm) : "cannot load");
        goto out;
    }
    if (luavm_has_hook(vm, "self_test") && luavm_call(vm, "self_test", 0, 0) != LUAVM_OK) {
        snprintf(err, errlen, "self_test: %s", luavm_errmsg(vm));
        goto out;
    }
    lua_State *L = luavm_state(vm);
    if (!luavm_push_policy(vm)) {
        snprintf(err, errlen, "plugins/%s/plugin.lua: no table", name);
        goto out;
    }
    lua_getfield(L, -1, "kinds");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 2);
        kinds = json_array();
        goto out;
    }
    char jerr[256];
    kinds = lua_istable(L, -1) ? luajson_to_json(L, -1, jerr, sizeof(jerr)) : NULL;
    lua_pop(L, 2);
    if (json_is_object(kinds) && json_object_size(kinds) == 0) {
        json_decref(kinds);       /* an empty Lua table converts to {} */
        kinds = json_array();
    }
    if (!json_is_array(kinds)) {
        snprintf(err, errlen, "plugins/%s/plugin.lua: kinds must be a list of kind definitions%s%s",
                 name, kinds ? "" : ": ", kinds ? "" : jerr);
        json_decref(kinds);
        kinds = NULL;
    }
out:
    luavm_free(vm);
    return kinds;
}

/* Whether the definition d names group g (absent: core, ""), version v and plural pl. */
static int def_names(const json_t *d, const char *g, const char *v, const char *pl)
{
    const char *dg = json_string_value(json_object_get(d, "group"));
    const char *dv = json_string_value(json_object_get(d, "version"));
    const char *dp = json_string_value(json_object_get(d, "plural"));
    return dv && dp && !strcmp(dg ? dg : "", g) && !strcmp(dv, v) && !strcmp(dp, pl);
}

/* The entry of defs naming k's group/version/plural, or NULL. */
static json_t *def_for(json_t *defs, const kind_t *k)
{
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d)
        if (def_names(d, k->group, k->version, k->plural))
            return d;
    return NULL;
}

/* Bring the registry to the plugin's new kind list defs: new kinds registered, dropped ones
 * retired, changed ones replaced. All or nothing: every definition is checked and built
 * before anything changes. Returns the number of changes, or -1 with err set (nothing
 * changed). */
static int apply_kinds(const char *name, json_t *defs, plugins_retired_fn *retired_cb,
                       void *priv, char *err, size_t errlen)
{
    size_t n = json_array_size(defs), i, j;
    kind_t **built = calloc(n ? n : 1, sizeof(*built));
    int changes = 0;
    json_t *d;
    if (!built) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_array_foreach(defs, i, d) {
        const char *g = json_string_value(json_object_get(d, "group"));
        const char *v = json_string_value(json_object_get(d, "version"));
        const char *pl = json_string_value(json_object_get(d, "plural"));
        char kerr[256];
        if (!json_is_object(d) || !g || !v || !pl) {
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu] needs group, version and plural",
                     name, i + 1);
            goto failed;
        }
        for (j = 0; j < i; j++) {
            if (def_names(json_array_get(defs, j), g, v, pl)) {
                snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu]: %s/%s %s is listed twice",
                         name, i + 1, *g ? g : "core", v, pl);
                goto failed;
            }
        }
        const kind_t *cur = kinds_find(g, v, pl);
        if (cur && (!cur->owner || strcmp(cur->owner, name))) {
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu]: %s/%s %s is already served%s%s",
                     name, i + 1, *g ? g : "core", v, pl, cur->owner ? " by plugin " : "",
                     cur->owner ? cur->owner : "");
            goto failed;
        }
        if (cur && json_equal(cur->def, d))
            continue;                               /* unchanged */
        built[i] = kinds_build(d, name, kerr, sizeof(kerr));
        if (!built[i]) {
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu]: %s", name, i + 1, kerr);
            goto failed;
        }
        if (cur && cur->namespaced != built[i]->namespaced) {
            /* Stored objects are keyed by scope: serving them under the other one would
             * show them wrongly. */
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu]: %s/%s %s cannot change its "
                     "scope while served (remove the kind, then add it back)", name, i + 1,
                     *g ? g : "core", v, pl);
            goto failed;
        }
    }
    /* Retire what is dropped or replaced, then serve the new definitions. */
    const kind_t *k;
    for (i = 0; (k = kinds_at(i)) != NULL;) {
        if (!k->owner || strcmp(k->owner, name)) {
            i++;
            continue;
        }
        json_t *nd = def_for(defs, k);
        if (nd && json_equal(k->def, nd)) {
            i++;
            continue;
        }
        if (kinds_retire(k) != 0) {
            i++;
            continue;
        }
        log_info("plugins: %s: %s/%s %s no longer served%s", name, *k->group ? k->group : "core",
                 k->version, k->plural, nd ? " as it was (changed)" : "");
        if (retired_cb)
            retired_cb(k, priv);
        changes++;
    }
    for (i = 0; i < n; i++) {
        if (!built[i])
            continue;
        char kerr[256];
        kind_t *b = built[i];
        built[i] = NULL;
        const kind_t *r = kinds_insert(b, kerr, sizeof(kerr));
        if (!r) {
            log_error("plugins: %s: %s", name, kerr);       /* checked above: not expected */
            continue;
        }
        changes++;
    }
    free(built);
    return changes;
failed:
    for (i = 0; i < n; i++)
        kinds_build_free(built[i]);
    free(built);
    return -1;
}

/* Names of the plugin directories under dir (those with a readable plugin.lua), sorted.
 * Returns the count; names[] entries are malloc'd. */
static int plugin_names(const char *dir, char **names, int max)
{
    char path[PATH_MAX + 300];
    int n = 0;
    struct dirent *d;
    DIR *dh = dir ? opendir(dir) : NULL;
    if (!dh)
        return 0;
    while ((d = readdir(dh)) != NULL && n < max) {
        if (d->d_name[0] == '.' || strlen(d->d_name) > 200)
            continue;
        snprintf(path, sizeof(path), "%s/%s/plugin.lua", dir, d->d_name);
        if (access(path, R_OK) == 0 && (names[n] = strdup(d->d_name)) != NULL)
            n++;
    }
    closedir(dh);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    return n;
}

int plugins_sync_kinds(const char *dir, const char *lib_dir, plugins_retired_fn *retired_cb,
                       void *priv)
{
    char *names[PLUGINS_MAX], err[1024];
    int n = plugin_names(dir, names, PLUGINS_MAX), changes = 0;
    const kind_t *k;

    /* Kinds of plugins whose directory is gone. */
    for (size_t i = 0; (k = kinds_at(i)) != NULL;) {
        int present = 0;
        for (int j = 0; k->owner && j < n; j++)
            present |= !strcmp(names[j], k->owner);
        if (!k->owner || present || kinds_retire(k) != 0) {
            i++;
            continue;
        }
        log_info("plugins: %s is gone: %s/%s %s no longer served", k->owner,
                 *k->group ? k->group : "core", k->version, k->plural);
        if (retired_cb)
            retired_cb(k, priv);
        changes++;
    }
    for (int i = 0; i < n; i++) {
        int had = 0;
        for (size_t j = 0; (k = kinds_at(j)) != NULL; j++)
            had |= k->owner && !strcmp(k->owner, names[i]);
        json_t *defs = load_kinds(dir, names[i], lib_dir, err, sizeof(err));
        int rc = defs ? apply_kinds(names[i], defs, retired_cb, priv, err, sizeof(err)) : -1;
        json_decref(defs);
        if (rc < 0)
            log_error("plugins: %s %s: %s", names[i],
                      had ? "kept its kinds as they were" : "skipped", err);
        else if (!had)
            log_info("plugins: %s loaded", names[i]);
        else if (rc > 0)
            log_info("plugins: %s: kinds updated (%d change%s)", names[i], rc, rc == 1 ? "" : "s");
        if (rc > 0)
            changes += rc;
        free(names[i]);
    }
    return changes;
}

int plugins_register_kinds(const char *dir, const char *lib_dir)
{
    return plugins_sync_kinds(dir, lib_dir, NULL, NULL);
}

unsigned long plugins_signature(const char *dir)
{
    char *names[PLUGINS_MAX], path[PATH_MAX + 600];
    int n = plugin_names(dir, names, PLUGINS_MAX);
    unsigned long sig = 5381u * 33u + (unsigned long)n;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        DIR *dh = opendir(path);
        struct dirent *d;
        for (const char *c = names[i]; *c; c++)
            sig = sig * 33u + (unsigned char)*c;
        while (dh && (d = readdir(dh)) != NULL) {
            size_t len = strlen(d->d_name);
            struct stat st;
            if (len < 5 || strcmp(d->d_name + len - 4, ".lua") != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s/%s", dir, names[i], d->d_name);
            if (stat(path, &st) != 0)
                continue;
            /* Order-independent within a directory: readdir order is not stable. */
            unsigned long h = 5381u;
            for (const char *c = d->d_name; *c; c++)
                h = h * 33u + (unsigned char)*c;
            h ^= (unsigned long)st.st_mtim.tv_sec * 1000003u ^ (unsigned long)st.st_mtim.tv_nsec ^
                 ((unsigned long)st.st_size << 20);
            sig += h;
        }
        if (dh)
            closedir(dh);
        free(names[i]);
    }
    return sig;
}
