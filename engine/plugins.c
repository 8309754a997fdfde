/* plugins.c: see plugins.h. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Load one plugin's file and register its kinds. 0, or -1 with err set. */
static int load_kinds(const char *dir, const char *name, const char *lib_dir, char *err,
                      size_t errlen)
{
    char path[PATH_MAX + 300], chunk[400];
    luavm_opts_t vo = { lib_dir, 0, 0 };
    luavm_t *vm = luavm_create(&vo, err, errlen);
    json_t *kinds = NULL;
    int rc = -1;
    if (!vm)
        return -1;
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
        rc = 0;
        goto out;
    }
    char jerr[256];
    kinds = lua_istable(L, -1) ? luajson_to_json(L, -1, jerr, sizeof(jerr)) : NULL;
    lua_pop(L, 2);
    if (!json_is_array(kinds)) {
        snprintf(err, errlen, "plugins/%s/plugin.lua: kinds must be a list of kind definitions%s%s",
                 name, kinds ? "" : ": ", kinds ? "" : jerr);
        goto out;
    }
    /* Check every kind before registering any, so a bad one leaves none behind. */
    size_t i;
    json_t *k;
    json_array_foreach(kinds, i, k) {
        const char *g = json_string_value(json_object_get(k, "group"));
        const char *v = json_string_value(json_object_get(k, "version"));
        const char *pl = json_string_value(json_object_get(k, "plural"));
        if (!g || !v || !pl) {
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu] needs group, version and plural", name, i + 1);
            goto out;
        }
        if (kinds_find(g, v, pl)) {
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu]: %s/%s %s is already served", name, i + 1,
                     *g ? g : "core", v, pl);
            goto out;
        }
    }
    json_array_foreach(kinds, i, k) {
        char kerr[256];
        if (!kinds_register_json(k, kerr, sizeof(kerr))) {
            snprintf(err, errlen, "plugins/%s/plugin.lua: kinds[%zu]: %s", name, i + 1, kerr);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(kinds);
    luavm_free(vm);
    return rc;
}

int plugins_register_kinds(const char *dir, const char *lib_dir)
{
    char *names[PLUGINS_MAX], path[PATH_MAX + 300], err[1024];
    int n = 0, ok = 0;
    struct dirent *d;
    DIR *dh = dir ? opendir(dir) : NULL;
    if (!dh)
        return 0;
    while ((d = readdir(dh)) != NULL && n < PLUGINS_MAX) {
        if (d->d_name[0] == '.' || strlen(d->d_name) > 200)
            continue;
        snprintf(path, sizeof(path), "%s/%s/plugin.lua", dir, d->d_name);
        if (access(path, R_OK) == 0)
            names[n++] = strdup(d->d_name);
    }
    closedir(dh);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    for (int i = 0; i < n; i++) {
        if (!names[i])
            continue;
        if (load_kinds(dir, names[i], lib_dir, err, sizeof(err)) == 0) {
            log_info("plugins: %s loaded", names[i]);
            ok++;
        } else {
            log_error("plugins: %s skipped: %s", names[i], err);
        }
        free(names[i]);
    }
    return ok;
}
