/* cli.c: what the CLI verbs share (see cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"

const char *cli_flag_value(int argc, char **argv, int *i, const char *long_name,
                           const char *short_name, int *matched)
{
    const char *a = argv[*i];
    size_t ll = long_name ? strlen(long_name) : 0;
    *matched = 0;
    if (long_name && !strncmp(a, long_name, ll) && (a[ll] == '=' || a[ll] == '\0')) {
        *matched = 1;
        if (a[ll] == '=')
            return a + ll + 1;
    } else if (short_name && !strncmp(a, short_name, strlen(short_name))) {
        size_t sl = strlen(short_name);
        *matched = 1;
        if (a[sl] == '=')
            return a + sl + 1;
        if (a[sl])
            return a + sl;
    } else
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "error: flag needs an argument: %s\n", a);
        *matched = -1;
        return NULL;
    }
    return argv[++*i];
}

int cli_conn_flag(cli_conn_t *conn, int argc, char **argv, int *i)
{
    static const struct {
        const char *long_name, *short_name;
    } flags[] = {
        { "--server", "-s" },
        { "--kubeconfig", NULL },
        { "--context", NULL },
        { "--namespace", "-n" },
    };
    for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
        int matched;
        const char *v = cli_flag_value(argc, argv, i, flags[f].long_name, flags[f].short_name,
                                       &matched);
        if (matched < 0)
            return -1;
        if (!matched)
            continue;
        switch (f) {
        case 0: conn->opts.server = v; break;
        case 1: conn->opts.kubeconfig = v; break;
        case 2: conn->opts.context = v; break;
        case 3:
            conn->opts.namespace_ = v;
            conn->namespace_given = 1;
            break;
        }
        return 1;
    }
    return 0;
}

kubeclient_t *cli_connect(const cli_conn_t *conn)
{
    char err[1024];
    kubeclient_t *kc = kubeclient_open(&conn->opts, err, sizeof(err));
    if (!kc)
        fprintf(stderr, "error: %s\n", err);
    return kc;
}

void cli_print_error(const json_t *body, long status)
{
    const char *msg = json_str(body, "message");
    const char *reason = json_str(body, "reason");
    if (msg && json_str(body, "kind") && !strcmp(json_str(body, "kind"), "Status")) {
        if (reason && *reason)
            fprintf(stderr, "Error from server (%s): %s\n", reason, msg);
        else
            fprintf(stderr, "Error from server: %s\n", msg);
    } else {
        fprintf(stderr, "error: %s\n", kubeclient_status_message(body, status));
    }
}
