/* plugins.h: plugins, plugins/<name>/plugin.lua (docs/plugins.md), as far as the API server
 * is concerned: the resource kinds they add.
 *
 * A plugin's file returns a table; its `kinds` list holds kind definitions in the shape of
 * engine/kinds.json entries, registered with kinds_register_json() so that discovery, CRUD,
 * watch and tables serve them like built-in kinds. Its controllers and hooks are run by the
 * controller manager (controllers.c), which loads the same file in a policy VM of its own.
 *
 * Each file is loaded in a fresh sandboxed VM (luavm.h) with the chunk name
 * "@plugins/<name>/plugin.lua", its self_test run if it has one; a plugin that fails to load,
 * fails its self test, or defines a bad or clashing kind is reported on stderr/the log and
 * skipped as a whole (none of its kinds are registered); the others load. Kinds are read once,
 * at start: a changed kind needs a restart (controllers and hooks hot-reload).
 *
 * Depends on luavm, luajson, kinds, log. Called by server.c and controllers_main. */
#ifndef BERTH_PLUGINS_H
#define BERTH_PLUGINS_H

/* Register the kinds of every plugin under dir (missing dir: none). lib_dir is where their
 * require() finds modules. Returns the number of plugins whose kinds were registered. */
int plugins_register_kinds(const char *dir, const char *lib_dir);

#endif
