/* cli_rollout.c: `berth rollout status|restart|pause|resume` for Deployments, DaemonSets
 * and StatefulSets.
 *
 *   berth rollout status deploy/NAME | ds/NAME | sts/NAME | TYPE NAME [--timeout D]
 *                        [--watch=false] [--revision N] [-n NS]
 *   berth rollout restart (deploy|ds|sts)/NAME... [-n NS]
 *   berth rollout pause|resume deploy/NAME... [-n NS]
 *
 * status prints kubectl's lines (its Deployment-, DaemonSet- and StatefulSetStatusViewer,
 * word for word) each time the object is seen, from a watch on its name, until the rollout
 * is complete (exit 0), a Deployment's progress deadline is exceeded, the strategy has no
 * status (OnDelete), the --timeout passes or it is deleted (exit 1). --watch=false prints
 * the current line once and exits 0. restart stamps the pod template with
 * kubectl.kubernetes.io/restartedAt, pause and resume set a Deployment's spec.paused.
 * Depends on cli_write.c and kubeclient.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_write.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: berth rollout status (TYPE NAME | TYPE/NAME) [--timeout D] "
               "[--watch=false] [--revision N] [-n NS]\n"
               "       berth rollout restart|pause|resume (TYPE NAME... | TYPE/NAME...) "
               "[-n NS]\n");
}

typedef struct status_s {
    long revision;      /* --revision; 0: any */
    int watch;
    int failed;
} status_t;

static long int_at(const json_t *obj, const char *path)
{
    json_t *v = json_path(obj, path);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

/* kubectl's DeploymentStatusViewer.Status: print the line; 1 when rolled out. */
static int deployment_status(const json_t *d, void *priv)
{
    status_t *st = priv;
    const char *name = json_str(json_object_get(d, "metadata"), "name");
    if (!d) {
        fprintf(stderr, "error: object has been deleted\n");
        st->failed = 1;
        return -1;
    }
    if (st->revision > 0) {
        const char *rev = json_str(json_object_get(json_object_get(d, "metadata"),
                                                   "annotations"),
                                   "deployment.kubernetes.io/revision");
        if (!rev) {
            fprintf(stderr, "error: cannot get the revision of deployment \"%s\"\n", name);
            st->failed = 1;
            return -1;
        }
        if (atol(rev) != st->revision) {
            fprintf(stderr, "error: desired revision (%ld) is different from the running "
                            "revision (%s)\n", st->revision, rev);
            st->failed = 1;
            return -1;
        }
    }
    long generation = int_at(d, "metadata.generation");
    long observed = int_at(d, "status.observedGeneration");
    int done = 0;
    if (generation <= observed) {
        json_t *conds = json_path(d, "status.conditions"), *c;
        size_t i;
        json_array_foreach(conds, i, c) {
            const char *type = json_str(c, "type"), *reason = json_str(c, "reason");
            if (type && !strcmp(type, "Progressing") && reason &&
                !strcmp(reason, "ProgressDeadlineExceeded")) {
                fprintf(stderr, "error: deployment \"%s\" exceeded its progress deadline\n",
                        name);
                st->failed = 1;
                return -1;
            }
        }
        json_t *spec_replicas = json_path(d, "spec.replicas");
        long updated = int_at(d, "status.updatedReplicas");
        long replicas = int_at(d, "status.replicas");
        long available = int_at(d, "status.availableReplicas");
        if (json_is_integer(spec_replicas) && updated < json_integer_value(spec_replicas))
            printf("Waiting for deployment \"%s\" rollout to finish: %ld out of %ld new "
                   "replicas have been updated...\n", name, updated,
                   (long)json_integer_value(spec_replicas));
        else if (replicas > updated)
            printf("Waiting for deployment \"%s\" rollout to finish: %ld old replicas are "
                   "pending termination...\n", name, replicas - updated);
        else if (available < updated)
            printf("Waiting for deployment \"%s\" rollout to finish: %ld of %ld updated "
                   "replicas are available...\n", name, available, updated);
        else {
            printf("deployment \"%s\" successfully rolled out\n", name);
            done = 1;
        }
    } else
        printf("Waiting for deployment spec update to be observed...\n");
    fflush(stdout);
    return done || !st->watch ? 1 : 0;
}

/* The one object named by args. 0, or -1 (printed). */
static int one_object(kubeclient_t *kc, char **args, size_t nargs, cliw_ref_t *out)
{
    cliw_ref_t *refs = NULL;
    long n = cliw_parse_refs(kc, args, nargs, &refs);
    if (n < 0)
        return -1;
    if (n != 1 || !*refs[0].name) {
        fprintf(stderr, n > 1 ? "error: only one resource is supported\n"
                              : "error: required resource name not specified\n");
        free(refs);
        return -1;
    }
    *out = refs[0];
    free(refs);
    return 0;
}

/* kubectl's DaemonSetStatusViewer.Status. */
static int daemonset_status(const json_t *ds, void *priv)
{
    status_t *st = priv;
    const char *name = json_str(json_object_get(ds, "metadata"), "name");
    if (!ds) {
        fprintf(stderr, "error: object has been deleted\n");
        st->failed = 1;
        return -1;
    }
    const char *type = json_str(json_path(ds, "spec.updateStrategy"), "type");
    if (!type || strcmp(type, "RollingUpdate")) {
        fprintf(stderr, "error: rollout status is only available for RollingUpdate strategy "
                        "type\n");
        st->failed = 1;
        return -1;
    }
    int done = 0;
    if (int_at(ds, "metadata.generation") <= int_at(ds, "status.observedGeneration")) {
        long desired = int_at(ds, "status.desiredNumberScheduled");
        long updated = int_at(ds, "status.updatedNumberScheduled");
        long available = int_at(ds, "status.numberAvailable");
        if (updated < desired)
            printf("Waiting for daemon set \"%s\" rollout to finish: %ld out of %ld new pods "
                   "have been updated...\n", name, updated, desired);
        else if (available < desired)
            printf("Waiting for daemon set \"%s\" rollout to finish: %ld of %ld updated pods "
                   "are available...\n", name, available, desired);
        else {
            printf("daemon set \"%s\" successfully rolled out\n", name);
            done = 1;
        }
    } else
        printf("Waiting for daemon set spec update to be observed...\n");
    fflush(stdout);
    return done || !st->watch ? 1 : 0;
}

/* kubectl's StatefulSetStatusViewer.Status. A partitioned RollingUpdate (any rollingUpdate,
 * partition defaulted to 0) is complete once the pods above the partition are updated; one
 * without rollingUpdate compares the current and update revisions. */
static int statefulset_status(const json_t *sts, void *priv)
{
    status_t *st = priv;
    if (!sts) {
        fprintf(stderr, "error: object has been deleted\n");
        st->failed = 1;
        return -1;
    }
    const json_t *strategy = json_path(sts, "spec.updateStrategy");
    const char *type = json_str(strategy, "type");
    if (!type || strcmp(type, "RollingUpdate")) {
        fprintf(stderr, "error: rollout status is only available for RollingUpdate strategy "
                        "type\n");
        st->failed = 1;
        return -1;
    }
    const json_t *replicas = json_path(sts, "spec.replicas");
    const json_t *ru = json_object_get(strategy, "rollingUpdate");
    const json_t *partition = json_object_get(ru, "partition");
    long observed = int_at(sts, "status.observedGeneration");
    long ready = int_at(sts, "status.readyReplicas");
    long updated = int_at(sts, "status.updatedReplicas");
    int done = 0;
    if (observed == 0 || int_at(sts, "metadata.generation") > observed)
        printf("Waiting for statefulset spec update to be observed...\n");
    else if (json_is_integer(replicas) && ready < json_integer_value(replicas))
        printf("Waiting for %ld pods to be ready...\n",
               (long)json_integer_value(replicas) - ready);
    else if (json_is_object(ru)) {
        long want = json_is_integer(replicas) && json_is_integer(partition)
                    ? (long)(json_integer_value(replicas) - json_integer_value(partition)) : 0;
        if (json_is_integer(replicas) && json_is_integer(partition) && updated < want)
            printf("Waiting for partitioned roll out to finish: %ld out of %ld new pods have "
                   "been updated...\n", updated, want);
        else {
            printf("partitioned roll out complete: %ld new pods have been updated...\n",
                   updated);
            done = 1;
        }
    } else {
        const json_t *status = json_object_get(sts, "status");
        const char *cur = json_str(status, "currentRevision");
        const char *upd = json_str(status, "updateRevision");
        if (strcmp(cur ? cur : "", upd ? upd : ""))
            printf("waiting for statefulset rolling update to complete %ld pods at revision "
                   "%s...\n", updated, upd ? upd : "");
        else {
            printf("statefulset rolling update complete %ld pods at revision %s...\n",
                   int_at(sts, "status.currentReplicas"), cur ? cur : "");
            done = 1;
        }
    }
    fflush(stdout);
    return done || !st->watch ? 1 : 0;
}

static int is_apps(const kube_resource_t *r, const char *kind)
{
    return !strcmp(r->group, "apps") && !strcmp(r->kind, kind);
}

static int is_deployment(const kube_resource_t *r)
{
    return is_apps(r, "Deployment");
}

/* The status viewer of a kind, as kubectl's StatusViewerFor; NULL when it has none. */
static int (*status_viewer(const kube_resource_t *r))(const json_t *, void *)
{
    if (is_deployment(r))
        return deployment_status;
    if (is_apps(r, "DaemonSet"))
        return daemonset_status;
    if (is_apps(r, "StatefulSet"))
        return statefulset_status;
    return NULL;
}

static int rollout_status(kubeclient_t *kc, char **args, size_t nargs, double timeout,
                          status_t *st)
{
    cliw_ref_t ref;
    if (one_object(kc, args, nargs, &ref) < 0)
        return 1;
    const char *ns = kubeclient_namespace(kc);
    char *path = kubeclient_path(&ref.res, ns, ref.name, NULL);
    json_t *d = cliw_request(kc, "GET", path, NULL, NULL, NULL, 0, NULL, NULL);
    free(path);
    if (!d)
        return 1;
    json_decref(d);
    int (*viewer)(const json_t *, void *) = status_viewer(&ref.res);
    if (!viewer) {
        fprintf(stderr, "error: no status viewer has been implemented for %s%s%s\n",
                ref.res.kind, *ref.res.group ? "." : "", ref.res.group);
        return 1;
    }
    int rc = cliw_follow(kc, &ref.res, ns, ref.name, timeout > 0 ? cliw_now() + timeout : 0,
                         viewer, st);
    if (rc == 1) {
        fprintf(stderr, "error: timed out waiting for the condition\n");
        return 1;
    }
    return rc < 0 || st->failed ? 1 : 0;
}

/* restart (Deployments, DaemonSets, StatefulSets), pause, resume (Deployments): one patch
 * per object. */
static int rollout_patch(kubeclient_t *kc, const char *verb, char **args, size_t nargs)
{
    cliw_ref_t *refs = NULL;
    long n = cliw_parse_refs(kc, args, nargs, &refs);
    int rc = 0;
    if (n < 0)
        return 1;
    for (long i = 0; i < n; i++) {
        char kind[300], stamp[32];
        const kube_resource_t *r = &refs[i].res;
        const char *ns = kubeclient_namespace(kc);
        cli_kind_string(r, kind, sizeof(kind));
        if (!*refs[i].name) {
            fprintf(stderr, "error: required resource name not specified\n");
            rc = 1;
            continue;
        }
        int restartable = is_deployment(r) || is_apps(r, "DaemonSet") || is_apps(r, "StatefulSet");
        if (strcmp(verb, "restart") ? !is_deployment(r) : !restartable) {
            fprintf(stderr, "error: %s %s is not supported\n", verb, kind);
            rc = 1;
            continue;
        }
        char *path = kubeclient_path(r, ns, refs[i].name, NULL);
        json_t *cur = cliw_request(kc, "GET", path, NULL, NULL, NULL, 0, NULL, NULL);
        if (!cur) {
            free(path);
            rc = 1;
            continue;
        }
        int paused = json_is_true(json_path(cur, "spec.paused"));
        json_decref(cur);
        json_t *patch;
        if (!strcmp(verb, "restart")) {
            if (paused) {
                fprintf(stderr, "error: can't restart paused deployment (run rollout resume "
                                "first)\n");
                free(path);
                rc = 1;
                continue;
            }
            util_rfc3339(time(NULL), stamp);
            patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata",
                              "annotations", "kubectl.kubernetes.io/restartedAt", stamp);
        } else {
            int want = !strcmp(verb, "pause");
            if (paused == want) {
                fprintf(stderr, "error: %s.%s \"%s\" is %s\n", r->resource, r->group,
                        refs[i].name, want ? "already paused" : "not paused");
                free(path);
                rc = 1;
                continue;
            }
            patch = json_pack("{s:{s:b}}", "spec", "paused", want);
        }
        json_t *resp = cliw_request(kc, "PATCH", path, "application/strategic-merge-patch+json",
                                    patch, NULL, 0, NULL, NULL);
        json_decref(patch);
        free(path);
        if (!resp) {
            rc = 1;
            continue;
        }
        json_decref(resp);
        printf("%s/%s %s\n", kind, refs[i].name,
               !strcmp(verb, "restart") ? "restarted" : !strcmp(verb, "pause") ? "paused"
                                                                               : "resumed");
        fflush(stdout);
    }
    free(refs);
    return rc;
}

int cli_rollout_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    double timeout = 0;
    status_t st = { .watch = 1 };
    int rc = 0;
    kubeclient_t *kc = NULL;
    if (!pos)
        return 1;
    for (int i = 1; i < argc; i++) {
        int m, used = cli_conn_flag(&conn, argc, argv, &i);
        const char *v, *a = argv[i];
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if ((m = cliw_duration_flag(argc, argv, &i, "--timeout", &timeout))) {
            if (m < 0)
                goto usage_error;
        } else if ((v = cli_flag_value(argc, argv, &i, "--revision", NULL, &m)) || m) {
            char *end;
            if (m < 0)
                goto usage_error;
            st.revision = strtol(v, &end, 10);
            if (!*v || *end || st.revision < 0) {
                fprintf(stderr, "error: revision must be a positive integer: %s\n", v);
                goto usage_error;
            }
        } else if (!strcmp(a, "--watch") || !strcmp(a, "--watch=true") || !strcmp(a, "-w") ||
                   !strcmp(a, "-w=true")) {
            st.watch = 1;
        } else if (!strcmp(a, "--watch=false") || !strcmp(a, "-w=false")) {
            st.watch = 0;
        } else if ((m = cliw_other_arg(a, usage, pos, &npos))) {
            if (m < 0)
                goto usage_error;
            goto out;
        }
    }
    if (!npos) {
        usage(stderr);
        goto usage_error;
    }
    const char *sub = pos[0];
    if (strcmp(sub, "status") && strcmp(sub, "restart") && strcmp(sub, "pause") &&
        strcmp(sub, "resume")) {
        fprintf(stderr, "error: berth rollout %s is not supported (status, restart, pause, "
                        "resume are)\n", sub);
        goto usage_error;
    }
    if (npos < 2) {
        fprintf(stderr, "error: You must provide one or more resources by argument or "
                        "filename.\n");
        goto usage_error;
    }
    if (!(kc = cli_connect(&conn))) {
        rc = 1;
        goto out;
    }
    if (!strcmp(sub, "status"))
        rc = rollout_status(kc, pos + 1, npos - 1, timeout, &st);
    else
        rc = rollout_patch(kc, sub, pos + 1, npos - 1);
    goto out;

usage_error:
    rc = 2;
out:
    kubeclient_free(kc);
    free(pos);
    return rc;
}
