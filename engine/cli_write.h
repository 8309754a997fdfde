/* cli_write.h: what the write verbs of the `berth` CLI share (apply and create in
 * cli_apply.c, delete, scale, rollout, wait): their common flags (--dry-run, durations, the
 * arguments left over), requests with kubectl's error lines, the -f sources read file by
 * file, the TYPE NAME / TYPE/NAME arguments, lists by label selector, and following objects
 * through a watch until a condition holds.
 *
 * Depends on kubeclient.c (requests, discovery, manifests) and cli.c (error lines, names,
 * escaping). Called by the write verbs only; what the read verbs share too is in cli.h. */
#ifndef BERTH_CLI_WRITE_H
#define BERTH_CLI_WRITE_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "cli.h"
#include "kubeclient.h"

/* --dry-run: none, client (nothing is sent that writes), server (dryRun=All). */
typedef enum { CLIW_DRY_NONE, CLIW_DRY_CLIENT, CLIW_DRY_SERVER } cliw_dry_t;

/* If arg is --dry-run (client, as kubectl's bare flag) or --dry-run=V (V "client", "server",
 * "none", also "true", "false" and "" as kubectl's old bool flag), set *out and return 1.
 * 0 when arg is another argument; -1 (message printed) for another V. */
int cliw_dry_run_flag(const char *arg, cliw_dry_t *out);
/* The suffix kubectl adds to its lines: "", " (dry run)" or " (server dry run)". */
const char *cliw_dry_suffix(cliw_dry_t d);

/* A Go duration ("30s", "1m30s", "500ms", "2h", "0"; a bare number is seconds too) into
 * *secs. 0 or -1 when malformed (nothing printed). */
int cliw_duration(const char *s, double *secs);
/* Monotonic clock in seconds. */
double cliw_now(void);
/* A Go-duration flag at argv[*i] ("--timeout D", "--timeout=D"): *secs set and 1 returned
 * (*i past a separate value), 0 for another argument, -1 (message printed, pflag's words)
 * for a missing or malformed value. */
int cliw_duration_flag(int argc, char **argv, int *i, const char *long_name, double *secs);

/* What is left of an argument no flag of the verb took: -h/--help prints usage(stdout) and
 * returns 1 (exit 0); another "-x" prints "error: unknown flag: -x" and usage(stderr) and
 * returns -1 (exit 2); anything else is appended to pos[*npos] and 0 returned. */
int cliw_other_arg(const char *arg, void (*usage)(FILE *), char **pos, size_t *npos);

/* The file a manifest entry's "source" names, without " (document N)" / " (item N)". */
void cliw_source_file(const char *source, char *out, size_t len);

/* Print a failed request as kubectl does for objects from a file: "Error from server
 * (Reason): error when <doing> \"<file>\": <message>" (doing: "creating", "deleting", ...);
 * file may be NULL, then it is cli_print_error's line. */
void cliw_print_error(const json_t *body, long status, const char *doing, const char *file);

/* A JSON request (kubeclient_json; path NULL is out of memory) whose failure is printed:
 * kubectl's connection line when no answer came, "error: <err>" when the answer was not
 * JSON, else cliw_print_error's line with doing and file (cli_print_error's without file).
 * Returns the answer (new reference) when its status is 2xx, else NULL; *status (may be
 * NULL) is the HTTP status, 0 when none came. With quiet_404 a 404 is returned as NULL
 * without a message, for callers to whom a missing object is news, not an error. */
json_t *cliw_request(kubeclient_t *kc, const char *method, const char *path,
                     const char *content_type, json_t *body, long *status, int quiet_404,
                     const char *doing, const char *file);

/* Read every -f source in order: a file, "-", or a directory whose *.yaml, *.yml and *.json
 * files are read one by one, so that a bad file costs only its own objects. Returns the
 * manifest entries (kubeclient_read_manifests' shape; new reference) and appends to *errors
 * (a JSON array the caller owns) one message per source that could not be read, naming the
 * file and line. Never NULL except out of memory. */
json_t *cliw_read_sources(char **sources, size_t n, json_t *errors);
/* Print cliw_read_sources' errors, "error: <message>" each. 1 if there were any, else 0. */
int cliw_print_source_errors(const json_t *errors);

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

/* kubectl's check of refs against a selection (-l or --all, selecting nonzero): bare types
 * need one, names must have none. 0, or -1 with kubectl's message printed. */
int cliw_check_refs(const cliw_ref_t *refs, long n, int selecting);

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

/* Objects to follow after writing them (delete waits for them to go, wait for a condition):
 * a growable array. ns is kept for namespaced kinds only. */
typedef struct cliw_obj_s {
    kube_resource_t res;
    char *ns, *name, *uid;       /* uid may be NULL */
} cliw_obj_t;
typedef struct cliw_objs_s {
    cliw_obj_t *v;
    size_t n;
} cliw_objs_t;

/* Append copies of ns (may be NULL), name and uid (may be NULL). -1 on no memory. */
int cliw_objs_add(cliw_objs_t *l, const kube_resource_t *r, const char *ns, const char *name,
                  const char *uid);
/* Free what the list holds; it is empty afterwards. */
void cliw_objs_release(cliw_objs_t *l);

/* Equality of JSON values with numbers compared by value (1 equals 1.0), as Go's decoder
 * sees them. */
int cliw_json_equal(const json_t *a, const json_t *b);

#endif
