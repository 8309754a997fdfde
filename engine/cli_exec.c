/* cli_exec.c: `berth exec [-i] [-c CONTAINER] POD|TYPE/NAME -- COMMAND [ARG...]`.
 *
 * As kubectl exec does it, without a terminal: the pod is read first (TYPE/NAME picks one
 * of an object's pods as `berth logs` does), a completed pod is refused with kubectl's
 * words, the container is -c, else the kubectl.kubernetes.io/default-container annotation,
 * else the first one ("Defaulted container ..." on stderr when there was a choice). Then
 * execclient runs the command over the API server's exec websocket (v5.channel.k8s.io):
 * its stdout and stderr go to ours as they arrive, and a command that exits N makes berth
 * print "command terminated with exit code N" and exit N, as kubectl does.
 *
 * -i sends our stdin: it is read to its end first (at most STDIN_MAX bytes), then sent and
 * closed, so it suits pipes and files, not an interactive terminal (-t is refused: use
 * kubectl exec -it). Depends on cli.h, execclient.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_write.h"
#include "execclient.h"
#include "util.h"

#define STDIN_MAX (64u << 20)
#define DEFAULT_TIMEOUT (24 * 3600)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth exec [-n NAMESPACE] [-c CONTAINER] [-i] [--timeout D] POD|TYPE/NAME "
            "-- COMMAND [ARG...]\n"
            "  Run COMMAND in a container of the pod, as kubectl exec: its output on ours,\n"
            "  its exit code ours. TYPE/NAME (deploy/web, sts/db, svc/x) picks one of the\n"
            "  object's pods. -i sends stdin (read to its end first: pipes and files, no\n"
            "  terminal); --timeout bounds the whole command (default 24h).\n");
}

static int to_stdout(const char *data, size_t len, void *priv)
{
    (void)priv;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int to_stderr(const char *data, size_t len, void *priv)
{
    (void)priv;
    fwrite(data, 1, len, stderr);
    return 0;
}

/* All of stdin into *buf (malloc'ed). 0, or -1 (printed). */
static int read_stdin(char **buf, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    if (!b)
        return -1;
    for (;;) {
        if (n == cap) {
            if (cap >= STDIN_MAX) {
                fprintf(stderr, "error: stdin is larger than %u MB; berth exec -i reads it "
                                "whole before sending\n", STDIN_MAX >> 20);
                free(b);
                return -1;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(0, b + n, cap - n);
        if (r == 0)
            break;
        if (r < 0) {
            perror("berth exec: stdin");
            free(b);
            return -1;
        }
        n += (size_t)r;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* The container to run in, printing kubectl's "Defaulted container" line when there was a
 * choice. NULL (printed) if -c names none of the pod's containers. */
static const char *pick_container(const json_t *pod, const char *want)
{
    json_t *ctrs = json_path(pod, "spec.containers"), *c;
    size_t i;
    if (want) {
        json_array_foreach(ctrs, i, c)
            if (json_str(c, "name") && !strcmp(json_str(c, "name"), want))
                return want;
        json_array_foreach(json_path(pod, "spec.initContainers"), i, c)
            if (json_str(c, "name") && !strcmp(json_str(c, "name"), want))
                return want;
        fprintf(stderr, "error: container %s not found in pod %s\n", want,
                json_str(json_object_get(pod, "metadata"), "name"));
        return NULL;
    }
    const char *ann = json_str(json_path(pod, "metadata.annotations"),
                               "kubectl.kubernetes.io/default-container");
    const char *first = json_str(json_array_get(ctrs, 0), "name");
    if (ann) {
        json_array_foreach(ctrs, i, c)
            if (json_str(c, "name") && !strcmp(json_str(c, "name"), ann))
                return ann;
    }
    if (!first) {
        fprintf(stderr, "error: pod %s has no containers\n",
                json_str(json_object_get(pod, "metadata"), "name"));
        return NULL;
    }
    if (json_array_size(ctrs) > 1) {
        fprintf(stderr, "Defaulted container \"%s\" out of: ", first);
        json_array_foreach(ctrs, i, c)
            fprintf(stderr, "%s%s", i ? ", " : "", json_str(c, "name") ? json_str(c, "name") : "");
        fprintf(stderr, "\n");
    }
    return first;
}

int cli_exec_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    const char *container = NULL, *target = NULL;
    char **cmd = NULL, *in = NULL;
    size_t in_len = 0;
    int stdin_on = 0, rc = 1, dashdash = 0, m;
    double timeout = DEFAULT_TIMEOUT;
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    kubeclient_t *kc = NULL;
    json_t *pod = NULL;

    if (!pos)
        return 1;
    for (int i = 1; i < argc; i++) {
        int used = cli_conn_flag(&conn, argc, argv, &i);
        const char *v, *a = argv[i];
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if (!strcmp(a, "--")) {
            cmd = argv + i + 1;
            dashdash = 1;
            break;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--container", "-c", &m)) || m) {
            if (m < 0)
                goto usage_error;
            container = v;
        } else if (cli_flag_bool(a, "--stdin", "-i", &stdin_on)) {
            continue;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--tty") || !strcmp(a, "-it") ||
                   !strcmp(a, "-ti") || !strncmp(a, "--tty=", 6)) {
            fprintf(stderr, "error: berth exec has no terminal (-t); use kubectl exec -it for "
                            "an interactive shell\n");
            goto usage_error;
        } else if ((m = cliw_duration_flag(argc, argv, &i, "--timeout", &timeout))) {
            if (m < 0)
                goto usage_error;
        } else if ((m = cliw_other_arg(a, usage, pos, &npos))) {
            free(pos);
            return m < 0 ? 2 : 0;
        }
    }
    if (npos == 0) {
        fprintf(stderr, "error: pod, type/name or --filename must be specified\n");
        goto usage_error;
    }
    if (npos > 1) {
        fprintf(stderr, "error: exec [POD] [COMMAND] is not supported anymore. Use exec [POD] "
                        "-- [COMMAND] instead\n");
        goto usage_error;
    }
    if (!dashdash || !cmd || !cmd[0]) {
        fprintf(stderr, "error: you must specify at least one command for the container\n");
        goto usage_error;
    }
    target = pos[0];
    if (timeout < 1 || timeout > 7 * 24 * 3600) {
        fprintf(stderr, "error: --timeout must be between 1s and 168h\n");
        goto usage_error;
    }
    if (stdin_on && read_stdin(&in, &in_len) < 0)
        goto out;
    if (!(kc = cli_connect(&conn)))
        goto out;
    const char *ns = kubeclient_namespace(kc);
    if (!(pod = cli_find_pod(kc, ns, target, "exec into", 0)))
        goto out;
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
        fprintf(stderr, "error: cannot exec into a container in a completed pod; current "
                        "phase is %s\n", phase);
        goto out;
    }
    const char *ctr = pick_container(pod, container);
    if (!ctr)
        goto out;
    execclient_opts_t o = {
        .namespace_ = ns,
        .pod = json_str(json_object_get(pod, "metadata"), "name"),
        .container = ctr,
        .command = cmd,
        .stdin_data = stdin_on ? (in ? in : "") : NULL,
        .stdin_len = in_len,
        .timeout_seconds = (int)timeout,
        .on_stdout = to_stdout,
        .on_stderr = to_stderr,
    };
    char err[1024];
    int code = -1;
    if (execclient_run(kc, &o, &code, err, sizeof(err)) < 0) {
        fprintf(stderr, "error: %s\n", err);
        goto out;
    }
    fflush(stdout);
    if (code != 0)
        fprintf(stderr, "command terminated with exit code %d\n", code);
    rc = code < 0 ? 1 : code > 255 ? 1 : code;
out:
    json_decref(pod);
    kubeclient_free(kc);
    free(in);
    free(pos);
    return rc;
usage_error:
    free(pos);
    return 2;
}
