/* cli.h: what the `berth` CLI verbs share: the connection flags every verb takes, kubectl's
 * error lines, and the verbs' entry points (main.c dispatches to them).
 *
 * A verb parses its own arguments in one loop and offers each one to cli_conn_flag first:
 *
 *     cli_conn_t conn = {0};
 *     for (int i = 1; i < argc; i++) {
 *         int used = cli_conn_flag(&conn, argc, argv, &i);
 *         if (used < 0) return 2;          // message printed
 *         if (used) continue;
 *         ... the verb's own flags ...
 *     }
 *     kubeclient_t *kc = cli_connect(&conn);   // NULL: message printed, exit 1
 *
 * Exit codes follow kubectl: 0 success, 1 any failure (server error, not found, timeout),
 * 2 usage errors of berth's own. Errors go to stderr as kubectl words them ("Error from
 * server (NotFound): pods \"x\" not found"). Besides the connection flags: boolean flags,
 * query escaping, kubectl's names for kinds and ages, and the error lines, which every verb
 * prints the same way. Depends on kubeclient.c. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <stdio.h>
#include <jansson.h>
#include "kubeclient.h"

typedef struct cli_conn_s {
    kubeclient_opts_t opts;  /* --server, --kubeconfig, --context, -n/--namespace */
    int namespace_given;     /* -n was on the command line */
} cli_conn_t;

/* If argv[*i] is one of --server/-s, --kubeconfig, --context, -n/--namespace (as "--flag V",
 * "--flag=V" or "-nV"), record it, advance *i past a separate value and return 1. Return 0 if it
 * is not one of them; -1 (message printed) if its value is missing. Values are borrowed from
 * argv. */
int cli_conn_flag(cli_conn_t *conn, int argc, char **argv, int *i);

/* Open the client; NULL after printing "berth: ..." to stderr. */
kubeclient_t *cli_connect(const cli_conn_t *conn);

/* The value of a "--flag V" / "--flag=V" / "-fV" argument at argv[*i] if it is flag long
 * (e.g. "--output") or short (e.g. "-o", may be NULL): returns the value (advancing *i past a
 * separate one) and sets *matched = 1; returns NULL with *matched = 0 when argv[*i] is another
 * argument, or NULL with *matched = -1 (message printed) when the value is missing. */
const char *cli_flag_value(int argc, char **argv, int *i, const char *long_name,
                           const char *short_name, int *matched);

/* A boolean flag: arg "--flag" (or short_name, e.g. "-w", may be NULL), "--flag=true" and
 * "--flag=1" set *val = 1, "--flag=<anything else>" *val = 0; then 1 is returned. 0 when arg
 * is another argument. */
int cli_flag_bool(const char *arg, const char *long_name, const char *short_name, int *val);

/* ------------------------------------------------------------------ paths and names */

/* Write s to f percent-encoded for a query string value (Go's url.QueryEscape but for ' ',
 * which becomes %20): letters, digits and -._~ stay, every other byte is %XX. */
void cli_query_put(FILE *f, const char *s);
/* The same into a new string; caller frees. NULL on no memory. */
char *cli_query_escape(const char *s);

/* The path of a GET as kubectl sends it: the object called name of r's kind (name NULL:
 * the list) in ns (NULL: every namespace), then the query in kubectl's order, each part left
 * out when NULL (0 for limit, NULL or "" for cont): labelSelector, fieldSelector, limit,
 * continue, and with watch_rv "watch=true&resourceVersion=<watch_rv>". Values are escaped.
 * Caller frees; NULL on no memory. */
char *cli_get_path(const kube_resource_t *r, const char *ns, const char *name,
                   const char *label_sel, const char *field_sel, int limit, const char *cont,
                   const char *watch_rv);

/* A deep copy of obj with "kind" and "apiVersion" set from r where they are missing (the
 * items of a list come without them). New reference; NULL on no memory. */
json_t *cli_typed_copy(const json_t *obj, const kube_resource_t *r);

/* kubectl's lowercased Kind with its group, as it names objects in front of names:
 * "deployment.apps", "pod". Into out. */
void cli_kind_string(const kube_resource_t *r, char *out, size_t outlen);

/* kubectl's duration.HumanDuration of secs seconds ("45s", "3m20s", "5h", "12d", "2y3d"),
 * "<invalid>" below -1 and "0s" for -1. Into out. */
void cli_human_duration(long long secs, char *out, size_t outlen);

/* ------------------------------------------------------------------ error lines */

/* kubectl's line, without newline, for a request that got no answer (err from kubeclient):
 * "The connection to the server HOST:PORT was refused - did you specify the right host or
 * port?" when the connection was refused, else "Unable to connect to the server: <err>".
 * Into out as snprintf does; returns the length the whole line needs. */
int cli_conn_error_line(kubeclient_t *kc, const char *err, char *out, size_t outlen);
/* That line on stderr, with its newline. */
void cli_print_conn_error(kubeclient_t *kc, const char *err);
/* A failed kubeclient_resolve's err on stderr: the connection line when the server could not
 * be reached (discovery), else "error: <err>". */
void cli_print_resolve_error(kubeclient_t *kc, const char *err);

/* kubectl's line, without newline, for a failed request that got an answer: "Error from
 * server (Reason): message" (or "Error from server: message" without a reason) for a Status
 * body, else "error: <kubeclient_status_message>". body may be NULL. Into out as snprintf
 * does; returns the length the whole line needs. */
int cli_status_error_line(const json_t *body, long status, char *out, size_t outlen);
/* That line on stderr, with its newline. */
void cli_print_error(const json_t *body, long status);

/* The pod a verb acts on (logs, exec): the pod named by arg, or for TYPE/NAME of an object
 * with a pod selector (deploy/web, sts/db, svc/x) the one kubectl logs would pick: assigned,
 * running, ready, most restarts, oldest; say_found prints kubectl logs' "Found N pods, using
 * pod/X" on stderr (kubectl exec says nothing). verb words the error ("get the logs from").
 * New reference, or NULL with the error printed. */
json_t *cli_find_pod(kubeclient_t *kc, const char *ns, const char *arg, const char *verb,
                     int say_found);

/* ------------------------------------------------------------------ the verbs */

/* argv[0] is the verb's name. */
int cli_get_main(int argc, char **argv);
int cli_describe_main(int argc, char **argv);
int cli_logs_main(int argc, char **argv);
int cli_version_main(int argc, char **argv);
int cli_apply_main(int argc, char **argv);
int cli_create_main(int argc, char **argv);
int cli_delete_main(int argc, char **argv);
int cli_scale_main(int argc, char **argv);
int cli_exec_main(int argc, char **argv);
int cli_top_main(int argc, char **argv);
int cli_rollout_main(int argc, char **argv);
int cli_wait_main(int argc, char **argv);

#endif
