/* cli_write.h: what the write verbs of the `berth` CLI share (apply and create in
 * cli_apply.c, delete, scale, rollout, wait): kubectl's names for objects ("deployment.apps"),
 * Go durations, the -f sources read file by file, the TYPE NAME / TYPE/NAME arguments, lists by
 * label selector, and following one object through a watch until a condition holds.
 *
 * Depends on kubeclient.c (requests, discovery, manifests) and cli.c (error lines). Called by
 * the five verbs only; the read verbs have their own helpers. */
#ifndef BERTH_CLI_WRITE_H
#define BERTH_CLI_WRITE_H

#include <stddef.h>
#include <jansson.h>

#include "cli.h"
#include "kubeclient.h"

/* --dry-run: none, client (nothing is sent that writes), server (dryRun=All). */
typedef enum { CLIW_DRY_NONE, CLIW_DRY_CLIENT, CLIW_DRY_SERVER } cliw_dry_t;

/* Parse a --dry-run value ("client", "server", "none"; NULL or "" mean client as kubectl's
 * bare --dry-run). -1 (message printed) for anything else. */
int cliw_dry_run(const char *v, cliw_dry_t *out);
/* The suffix kubectl adds to its lines: "", " (dry run)" or " (server dry run)". */
const char *cliw_dry_suffix(cliw_dry_t d);

/* A Go duration ("30s", "1m30s", "500ms", "2h", "0"; a bare number is seconds too) into
 * *secs. 0 or -1 when malformed (nothing printed). */
int cliw_duration(const char *s, double *secs);
/* Monotonic clock in seconds. */
double cliw_now(void);

/* kubectl's lowercased Kind with its group: "deployment.apps", "pod". Into out. */
void cliw_kind_string(const kube_resource_t *r, char *out, size_t len);

/* Percent-encode s for a query string value; caller frees. */
char *cliw_query_escape(const char *s);

/* The file a manifest entry's "source" names, without " (document N)" / " (item N)". */
void cliw_source_file(const char *source, char *out, size_t len);

/* Print a failed request as kubectl does for objects from a file: "Error from server
 * (Reason): error when <doing> \"<file>\": <message>" (doing: "creating", "deleting", ...);
 * file may be NULL, then it is cli_print_error's line. */
void cliw_print_error(const json_t *body, long status, const char *doing, const char *file);

/* Read every -f source in order: a file, "-", or a directory whose *.yaml, *.yml and *.json
 * files are read one by one, so that a bad file costs only its own objects. Returns the
 * manifest entries (kubeclient_read_manifests' shape; new reference) and appends to *errors
 * (a JSON array the caller owns) one message per source that could not be read, naming the
 * file and line. Never NULL except out of memory. */
json_t *cliw_read_sources(char **sources, size_t n, json_t *errors);

/* The namespace a manifest object goes to: its metadata.namespace, else -n, else the
 * context's. Writes it into the object's metadata for namespaced kinds and deletes it for
 * cluster-scoped ones. -1 (message printed) when -n names another namespace than the object.
 * *ns is borrowed from obj (NULL for cluster-scoped kinds). */
int cliw_object_namespace(kubeclient_t *kc, const cli_conn_t *conn, const kube_resource_t *r,
                          json_t *obj, const char **ns);

/* One object named on the command line, or (name "") every object of a type. */
typedef struct cliw_ref_s {
    kube_resource_t res;
    char name[256];
} cliw_ref_t;

/* Turn "TYPE NAME...", "TYPE/NAME...", or "TYPE[,TYPE...]" (name "") into refs. Returns the
 * count and a malloc'd array in *out (caller frees), or -1 with the message printed. */
long cliw_parse_refs(kubeclient_t *kc, char **args, size_t nargs, cliw_ref_t **out);

/* List a type in ns (NULL: every namespace) with a label selector (NULL: none). The list
 * (new reference), or NULL with the error printed. */
json_t *cliw_list(kubeclient_t *kc, const kube_resource_t *r, const char *ns,
                  const char *selector);

/* Called with the object each time it is seen (NULL: it does not exist, or was deleted).
 * Return 1 when done, 0 to go on, -1 to fail (message printed). */
typedef int cliw_follow_fn(const json_t *obj, void *priv);

/* Show fn the object now, then after each change (a watch on metadata.name) until fn says
 * done or the deadline passes (cliw_now() seconds; 0: none; a deadline already passed still
 * shows the object once). Returns 0 when done, 1 when the deadline passed, -1 on failure
 * (printed). */
int cliw_follow(kubeclient_t *kc, const kube_resource_t *r, const char *ns, const char *name,
                double deadline, cliw_follow_fn *fn, void *priv);

/* Equality of JSON values with numbers compared by value (1 equals 1.0), as Go's decoder
 * sees them. */
int cliw_json_equal(const json_t *a, const json_t *b);

#endif
