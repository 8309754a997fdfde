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
 * server (NotFound): pods \"x\" not found"). Depends on kubeclient.c. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

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

/* Print kubectl's line for a failed request: "Error from server (Reason): message" for a
 * Status body, else "error: <what>: HTTP <status>". */
void cli_print_error(const json_t *body, long status);

/* The verbs. argv[0] is the verb's name. */
int cli_get_main(int argc, char **argv);
int cli_describe_main(int argc, char **argv);
int cli_logs_main(int argc, char **argv);
int cli_version_main(int argc, char **argv);
int cli_apply_main(int argc, char **argv);
int cli_create_main(int argc, char **argv);
int cli_delete_main(int argc, char **argv);
int cli_scale_main(int argc, char **argv);
int cli_rollout_main(int argc, char **argv);
int cli_wait_main(int argc, char **argv);

#endif
