/* execclient.h: run a command in a pod's container through the API server's exec endpoint
 * (GET .../pods/NAME/exec upgraded to a websocket with subprotocol v5.channel.k8s.io, as
 * kubectl 1.31 does), blocking until the command ends. Used by `berth run` scripts' exec and
 * the tests. Depends on kubeclient.c (server URL, TLS, token). */
#ifndef BERTH_EXECCLIENT_H
#define BERTH_EXECCLIENT_H

#include <stddef.h>
#include "kubeclient.h"

typedef struct execclient_opts_s {
    const char *namespace_;      /* NULL: kubeclient_namespace() */
    const char *pod;
    const char *container;       /* NULL: the pod's first container */
    char *const *command;        /* NULL-terminated argv */
    const char *stdin_data;      /* sent on channel 0, then closed (v5 CLOSE); NULL: no stdin */
    size_t stdin_len;
    int timeout_seconds;         /* whole call (0: 60 s) */
    kubeclient_data_fn *on_stdout;   /* may be NULL (output dropped) */
    kubeclient_data_fn *on_stderr;
    void *priv;
} execclient_opts_t;

/* 0 when the command ran to its end: *exit_code is its exit status (0 for a Success Status,
 * the ExitCode cause of a NonZeroExitCode one). -1 with err set when it could not be run
 * (pod not found or not running, upgrade refused: the server's Status message, timeout). */
int execclient_run(kubeclient_t *kc, const execclient_opts_t *o, int *exit_code,
                   char *err, size_t errlen);

#endif
