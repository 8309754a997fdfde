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
 * skipped as a whole (none of its kinds are registered); the others load.
 *
 * Kinds follow the files while the server runs: plugins_sync_kinds() (on a change of
 * plugins_signature(), and on SIGHUP) serves the kinds of a new plugin, stops serving those a
 * plugin dropped or the kinds of a removed plugin (their stored objects stay in Redis and come
 * back with the kind), and replaces changed definitions (columns, short names, ...). A plugin
 * whose new file fails keeps the kinds it had. A kind cannot change scope while served.
 *
 * Depends on luavm, luajson, kinds, log. Called by server.c and controllers_main. */
#ifndef BERTH_PLUGINS_H
#define BERTH_PLUGINS_H

#include "kinds.h"

/* Called for each kind that stops being served (k stays valid; see kinds_retire). */
typedef void plugins_retired_fn(const kind_t *k, void *priv);

/* Register the kinds of every plugin under dir (missing dir: none). lib_dir is where their
 * require() finds modules. Returns the number of plugins whose kinds were registered. */
int plugins_register_kinds(const char *dir, const char *lib_dir);

/* Bring the registry's plugin kinds to what the files under dir define now (see above);
 * retired_cb (may be NULL) hears of every kind that stops being served. Returns the number
 * of kinds added, replaced or retired. */
int plugins_sync_kinds(const char *dir, const char *lib_dir, plugins_retired_fn *retired_cb,
                       void *priv);

/* A cheap fingerprint of the plugin files (names, sizes, mtimes of plugins/<name>/<*.lua>):
 * when it changes, call plugins_sync_kinds. */
unsigned long plugins_signature(const char *dir);

#endif
