/* cli_delete.c: `berth delete`, as kubectl deletes.
 *
 *   berth delete TYPE NAME... | TYPE/NAME... | -f FILE|DIR|- | TYPE[,TYPE] -l SEL | TYPE --all
 *                [-n NS | -A] [--wait=true|false] [--timeout D] [--grace-period N] [--force]
 *                [--now] [--cascade=background|foreground|orphan] [--ignore-not-found]
 *                [-o name] [--dry-run=client|server]
 *
 * Each object is deleted (DELETE with a DeleteOptions body: propagationPolicy, and
 * gracePeriodSeconds when given) and its line printed at once ("pod \"x\" deleted"); then,
 * unless --wait=false, berth waits until every one is gone (or came back with another uid),
 * as kubectl does. A missing object is "Error from server (NotFound): ..." and exit 1, unless
 * --ignore-not-found (implied by -l and --all). Depends on cli_write.c and kubeclient.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_write.h"
#include "util.h"

typedef struct delete_opts_s {
    cli_conn_t conn;
    char **files;
    size_t nfiles;
    const char *selector;
    int all;
    int all_namespaces;
    int wait;
    double timeout;          /* seconds; 0: a week, as kubectl */
    long grace;              /* -1: the object's own */
    int force;
    int ignore_not_found;
    int ignore_given;
    const char *cascade;     /* Background, Foreground, Orphan */
    int output_name;
    cliw_dry_t dry;
} delete_opts_t;

typedef struct delete_run_s {
    kubeclient_t *kc;
    const delete_opts_t *o;
    cliw_objs_t done;        /* the objects deleted, to wait for */
    int found;
} delete_run_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: berth delete (TYPE NAME... | TYPE/NAME... | -f FILE | TYPE -l SEL | "
               "TYPE --all) [-n NS | -A]\n"
               "         [--wait=false] [--timeout D] [--grace-period N] [--force] [--now]\n"
               "         [--cascade=background|foreground|orphan] [--ignore-not-found] "
               "[-o name] [--dry-run=client|server]\n");
}

/* DELETE one object and print its line. 0, 1 (not found, ignored), -1 (printed). */
static int delete_one(delete_run_t *run, const kube_resource_t *r, const char *ns,
                      const char *name, const char *file)
{
    const delete_opts_t *o = run->o;
    char kind[300];
    long status = 0;
    cli_kind_string(r, kind, sizeof(kind));
    if (o->dry == CLIW_DRY_CLIENT) {
        run->found++;
        goto print;
    }
    char *base = kubeclient_path(r, ns, name, NULL), *path = NULL;
    if (!base || asprintf(&path, "%s%s", base, o->dry == CLIW_DRY_SERVER ? "?dryRun=All" : "")
                     < 0) {
        free(base);
        return -1;
    }
    free(base);
    json_t *body = json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
                             "propagationPolicy", o->cascade);
    if (o->grace >= 0)
        json_object_set_new(body, "gracePeriodSeconds", json_integer(o->grace));
    json_t *resp = cliw_request(run->kc, "DELETE", path, NULL, body, &status,
                                o->ignore_not_found, "deleting", file);
    json_decref(body);
    free(path);
    if (!resp)
        return status == 404 && o->ignore_not_found ? 1 : -1;
    run->found++;
    /* the uid to wait for: a Status names it in details, an object in its metadata */
    const char *uid = json_str(json_object_get(resp, "details"), "uid");
    if (!uid)
        uid = json_str(json_object_get(resp, "metadata"), "uid");
    if (o->wait && o->dry == CLIW_DRY_NONE)
        cliw_objs_add(&run->done, r, ns, name, uid);
    json_decref(resp);
print:
    if (o->output_name)
        printf("%s/%s\n", kind, name);
    else
        printf("%s \"%s\" %s%s\n", kind, name, o->grace == 0 ? "force deleted" : "deleted",
               cliw_dry_suffix(o->dry));
    fflush(stdout);
    return 0;
}

/* Gone, or replaced by an object of another uid. */
static int is_gone(const json_t *obj, void *priv)
{
    const char *uid = priv;
    const char *cur = json_str(json_object_get(obj, "metadata"), "uid");
    return !obj || (uid && cur && strcmp(uid, cur));
}

static int wait_deleted(delete_run_t *run)
{
    double deadline = cliw_now() + (run->o->timeout > 0 ? run->o->timeout : 168 * 3600.0);
    int rc = 0;
    for (size_t i = 0; i < run->done.n; i++) {
        const cliw_obj_t *d = &run->done.v[i];
        int r = cliw_follow(run->kc, &d->res, d->ns, d->name, deadline, is_gone, d->uid);
        if (r == 1) {
            fprintf(stderr, "error: timed out waiting for the condition on %s/%s\n",
                    d->res.resource, d->name);
            rc = 1;
        } else if (r < 0)
            rc = 1;
    }
    return rc;
}

/* Every object of the refs that name none, by selector or --all. */
static int delete_selected(delete_run_t *run, const kube_resource_t *r)
{
    const delete_opts_t *o = run->o;
    const char *ns = o->all_namespaces ? NULL : kubeclient_namespace(run->kc);
    json_t *list = cliw_list(run->kc, r, ns, o->selector), *item;
    size_t i;
    int rc = 0;
    if (!list)
        return -1;
    json_array_foreach(json_object_get(list, "items"), i, item) {
        json_t *md = json_object_get(item, "metadata");
        const char *name = json_str(md, "name");
        if (!name)
            continue;
        if (delete_one(run, r, r->namespaced ? json_str(md, "namespace") : NULL, name, NULL) < 0)
            rc = -1;
    }
    json_decref(list);
    return rc;
}

static int delete_files(delete_run_t *run)
{
    const delete_opts_t *o = run->o;
    json_t *errors = json_array();
    json_t *entries = cliw_read_sources(o->files, o->nfiles, errors), *e;
    size_t i;
    int rc = 0;
    json_array_foreach(entries, i, e) {
        json_t *obj = json_object_get(e, "object");
        char file[1100], err[512];
        kube_resource_t r;
        const char *ns;
        cliw_source_file(json_str(e, "source"), file, sizeof(file));
        if (kubeclient_resolve_kind(run->kc, json_str(obj, "apiVersion"), json_str(obj, "kind"),
                                    &r, err, sizeof(err)) < 0) {
            fprintf(stderr, "error: resource mapping not found for \"%s\": %s\n", file, err);
            rc = -1;
            continue;
        }
        if (cliw_object_namespace(run->kc, &o->conn, &r, obj, &ns) < 0) {
            rc = -1;
            continue;
        }
        const char *name = json_str(json_object_get(obj, "metadata"), "name");
        if (!name || !*name) {
            fprintf(stderr, "error: error when deleting \"%s\": resource name may not be "
                            "empty\n", file);
            rc = -1;
            continue;
        }
        if (delete_one(run, &r, ns, name, file) < 0)
            rc = -1;
    }
    if (cliw_print_source_errors(errors))
        rc = -1;
    json_decref(entries);
    json_decref(errors);
    return rc;
}

int cli_delete_main(int argc, char **argv)
{
    delete_opts_t o = { .wait = 1, .grace = -1, .cascade = "Background" };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    int rc = 0, now = 0;
    kubeclient_t *kc = NULL;
    cliw_ref_t *refs = NULL;
    delete_run_t run = { 0 };

    o.files = calloc((size_t)argc + 1, sizeof(*o.files));
    if (!pos || !o.files) {
        rc = 1;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        int m, used = cli_conn_flag(&o.conn, argc, argv, &i);
        const char *v, *a = argv[i];
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--filename", "-f", &m)) || m) {
            if (m < 0)
                goto usage_error;
            o.files[o.nfiles++] = (char *)v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--selector", "-l", &m)) || m) {
            if (m < 0)
                goto usage_error;
            o.selector = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--output", "-o", &m)) || m) {
            if (m < 0)
                goto usage_error;
            if (strcmp(v, "name")) {
                fprintf(stderr, "error: Unexpected -o output mode: %s. We only support '-o "
                                "name'.\n", v);
                goto usage_error;
            }
            o.output_name = 1;
        } else if ((v = cli_flag_value(argc, argv, &i, "--grace-period", NULL, &m)) || m) {
            char *end;
            if (m < 0)
                goto usage_error;
            o.grace = strtol(v, &end, 10);
            if (!*v || *end) {
                fprintf(stderr, "error: invalid argument \"%s\" for \"--grace-period\" flag\n",
                        v);
                goto usage_error;
            }
        } else if ((m = cliw_duration_flag(argc, argv, &i, "--timeout", &o.timeout))) {
            if (m < 0)
                goto usage_error;
        } else if ((v = cli_flag_value(argc, argv, &i, "--cascade", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            if (!strcmp(v, "background") || !strcmp(v, "true"))
                o.cascade = "Background";
            else if (!strcmp(v, "foreground"))
                o.cascade = "Foreground";
            else if (!strcmp(v, "orphan") || !strcmp(v, "false"))
                o.cascade = "Orphan";
            else {
                fprintf(stderr, "error: invalid cascade value (%s). Must be \"background\", "
                                "\"foreground\", or \"orphan\"\n", v);
                goto usage_error;
            }
        } else if (!strcmp(a, "--all") || !strcmp(a, "--all=true")) {
            o.all = 1;
        } else if (!strcmp(a, "-A") || !strcmp(a, "--all-namespaces") ||
                   !strcmp(a, "--all-namespaces=true")) {
            o.all_namespaces = 1;
        } else if (!strcmp(a, "--wait") || !strcmp(a, "--wait=true")) {
            o.wait = 1;
        } else if (!strcmp(a, "--wait=false")) {
            o.wait = 0;
        } else if (!strcmp(a, "--force") || !strcmp(a, "--force=true")) {
            o.force = 1;
        } else if (!strcmp(a, "--now") || !strcmp(a, "--now=true")) {
            now = 1;
        } else if (!strcmp(a, "--ignore-not-found") || !strcmp(a, "--ignore-not-found=true")) {
            o.ignore_not_found = 1;
            o.ignore_given = 1;
        } else if (!strcmp(a, "--ignore-not-found=false")) {
            o.ignore_not_found = 0;
            o.ignore_given = 1;
        } else if ((m = cliw_dry_run_flag(a, &o.dry))) {
            if (m < 0)
                goto usage_error;
        } else if ((m = cliw_other_arg(a, usage, pos, &npos))) {
            if (m < 0)
                goto usage_error;
            goto out;
        }
    }

    /* kubectl's checks, in its order and words */
    if (o.all && o.selector) {
        fprintf(stderr, "error: cannot set --all and --selector at the same time\n");
        goto usage_error;
    }
    if (now) {
        if (o.grace >= 0) {
            fprintf(stderr, "error: --now and --grace-period cannot be specified together\n");
            goto usage_error;
        }
        o.grace = 1;
    }
    if (o.grace == 0 && !o.force)
        o.grace = 1;   /* kubectl: --grace-period=0 without --force means 1 */
    if (o.force && o.grace < 0)
        o.grace = 0;
    if (o.grace == 0 && o.force)
        fprintf(stderr, "warning: Immediate deletion does not wait for confirmation that the "
                        "running resource has been terminated. The resource may continue to "
                        "run on the cluster indefinitely.\n");
    else if (o.force)
        fprintf(stderr, "warning: --force is ignored because --grace-period is not 0.\n");
    if ((o.all || o.selector) && !o.ignore_given)
        o.ignore_not_found = 1;
    if (o.nfiles && npos) {
        fprintf(stderr, "error: there is no need to specify a resource type as a separate "
                        "argument when passing arguments in resource/name form (e.g. 'berth "
                        "get resource/<resource_name>' instead of 'berth get resource "
                        "resource/<resource_name>'\n");
        goto usage_error;
    }
    if (!o.nfiles && !npos) {
        fprintf(stderr, "error: You must provide one or more resources by argument or "
                        "filename.\nExample resource specifications include:\n   '-f "
                        "rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   "
                        "'<resource>'\n");
        goto usage_error;
    }

    if (!(kc = cli_connect(&o.conn))) {
        rc = 1;
        goto out;
    }
    run.kc = kc;
    run.o = &o;
    if (o.nfiles) {
        if (delete_files(&run) < 0)
            rc = 1;
    } else {
        long n = cliw_parse_refs(kc, pos, npos, &refs);
        if (n < 0 || cliw_check_refs(refs, n, o.all || o.selector) < 0) {
            rc = 1;
            goto out;
        }
        for (long i = 0; i < n; i++) {
            int r;
            if (!*refs[i].name)
                r = delete_selected(&run, &refs[i].res);
            else
                r = delete_one(&run, &refs[i].res, kubeclient_namespace(kc), refs[i].name,
                               NULL);
            if (r < 0)
                rc = 1;
        }
        if (!run.found && (o.all || o.selector) && !rc) {
            printf("No resources found\n");
            goto out;
        }
    }
    if (o.wait && run.done.n && wait_deleted(&run))
        rc = 1;
    goto out;

usage_error:
    rc = 2;
out:
    cliw_objs_release(&run.done);
    free(refs);
    kubeclient_free(kc);
    free(pos);
    free(o.files);
    return rc;
}
