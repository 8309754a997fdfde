/* cli_scale.c: `berth scale`, through the scale subresource as kubectl does.
 *
 *   berth scale TYPE NAME... | TYPE/NAME... | -f FILE | TYPE -l SEL | TYPE --all
 *               --replicas=N [--current-replicas=M] [--resource-version=RV] [--timeout=D]
 *               [-n NS] [-o name] [--dry-run=client|server]
 *
 * A merge patch {"spec":{"replicas":N}} of .../NAME/scale; with --current-replicas or
 * --resource-version, a GET of the scale, the check, and a PUT carrying the resourceVersion
 * (so a concurrent change fails with a conflict instead of being overwritten). Prints
 * "deployment.apps/web scaled". --timeout waits until status.replicas is N.
 * Depends on cli_write.c and kubeclient.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_write.h"
#include "util.h"

typedef struct scale_opts_s {
    cli_conn_t conn;
    char **files;
    size_t nfiles;
    const char *selector;
    int all;
    long replicas;
    long current;            /* -1: no precondition */
    const char *rv;
    double timeout;
    int output_name;
    cliw_dry_t dry;
} scale_opts_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: berth scale (TYPE NAME... | TYPE/NAME... | -f FILE | TYPE -l SEL | "
               "TYPE --all) --replicas=N\n"
               "         [--current-replicas=M] [--resource-version=RV] [--timeout=D] "
               "[-n NS] [-o name] [--dry-run=client|server]\n");
}

static int replicas_reached(const json_t *obj, void *priv)
{
    const long *want = priv;
    json_t *st = json_object_get(json_object_get(obj, "status"), "replicas");
    if (!obj)
        return 0;
    return (st ? json_integer_value(st) : 0) == *want;
}

/* Scale one object. 0 or -1 (printed). */
static int scale_one(kubeclient_t *kc, const scale_opts_t *o, const kube_resource_t *r,
                     const char *ns, const char *name, const char *file)
{
    char kind[300];
    int rc = -1;
    json_t *resp = NULL, *body = NULL;
    char *path = kubeclient_path(r, ns, name, "scale"), *full = NULL;
    cli_kind_string(r, kind, sizeof(kind));
    if (!path || asprintf(&full, "%s%s", path, o->dry == CLIW_DRY_SERVER ? "?dryRun=All" : "")
                     < 0) {
        full = NULL;
        goto out;
    }
    if (o->current >= 0 || o->rv) {
        json_t *scale = cliw_request(kc, "GET", path, NULL, NULL, NULL, 0, "scaling", file);
        if (!scale)
            goto out;
        json_t *spec = json_object_get(scale, "spec");
        long have = (long)json_integer_value(json_object_get(spec, "replicas"));
        const char *rv = json_str(json_object_get(scale, "metadata"), "resourceVersion");
        if (o->current >= 0 && have != o->current) {
            fprintf(stderr, "error: Expected replicas to be %ld, was %ld\n", o->current, have);
            json_decref(scale);
            goto out;
        }
        if (o->rv && (!rv || strcmp(rv, o->rv))) {
            fprintf(stderr, "error: Expected resourceVersion to be %s, was %s\n", o->rv,
                    rv ? rv : "");
            json_decref(scale);
            goto out;
        }
        json_object_set_new(json_obj_ensure(scale, "spec"), "replicas",
                            json_integer(o->replicas));
        json_object_del(scale, "status");
        body = scale;
    } else
        body = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)o->replicas);
    if (o->dry == CLIW_DRY_CLIENT) {
        rc = 0;
        goto print;
    }
    resp = cliw_request(kc, o->current >= 0 || o->rv ? "PUT" : "PATCH", full,
                        o->current >= 0 || o->rv ? NULL : "application/merge-patch+json", body,
                        NULL, 0, "scaling", file);
    if (!resp)
        goto out;
    rc = 0;
print:
    if (o->output_name)
        printf("%s/%s\n", kind, name);
    else
        printf("%s/%s scaled%s\n", kind, name, cliw_dry_suffix(o->dry));
    fflush(stdout);
    if (o->timeout > 0 && o->dry == CLIW_DRY_NONE) {
        long want = o->replicas;
        int w = cliw_follow(kc, r, ns, name, cliw_now() + o->timeout, replicas_reached, &want);
        if (w == 1)
            fprintf(stderr, "error: timed out waiting for %s \"%s\" to be synced\n", kind,
                    name);
        if (w)
            rc = -1;
    }
out:
    json_decref(resp);
    json_decref(body);
    free(path);
    free(full);
    return rc;
}

int cli_scale_main(int argc, char **argv)
{
    scale_opts_t o = { .replicas = -1, .current = -1 };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    size_t npos = 0;
    int rc = 0, found = 0;
    kubeclient_t *kc = NULL;
    cliw_ref_t *refs = NULL;

    o.files = calloc((size_t)argc + 1, sizeof(*o.files));
    if (!pos || !o.files) {
        rc = 1;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        int m, used = cli_conn_flag(&o.conn, argc, argv, &i);
        const char *v, *a = argv[i];
        char *end;
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
        } else if ((v = cli_flag_value(argc, argv, &i, "--replicas", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            o.replicas = strtol(v, &end, 10);
            if (!*v || *end) {
                fprintf(stderr, "error: invalid argument \"%s\" for \"--replicas\" flag: "
                                "strconv.ParseInt: parsing \"%s\": invalid syntax\n", v, v);
                goto usage_error;
            }
        } else if ((v = cli_flag_value(argc, argv, &i, "--current-replicas", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            o.current = strtol(v, &end, 10);
            if (!*v || *end) {
                fprintf(stderr, "error: invalid argument \"%s\" for \"--current-replicas\" "
                                "flag\n", v);
                goto usage_error;
            }
        } else if ((v = cli_flag_value(argc, argv, &i, "--resource-version", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            o.rv = *v ? v : NULL;
        } else if ((m = cliw_duration_flag(argc, argv, &i, "--timeout", &o.timeout))) {
            if (m < 0)
                goto usage_error;
        } else if ((v = cli_flag_value(argc, argv, &i, "--output", "-o", &m)) || m) {
            if (m < 0)
                goto usage_error;
            if (strcmp(v, "name")) {
                fprintf(stderr, "error: unable to match a printer suitable for the output "
                                "format \"%s\", allowed formats are: name\n", v);
                goto usage_error;
            }
            o.output_name = 1;
        } else if (!strcmp(a, "--all") || !strcmp(a, "--all=true")) {
            o.all = 1;
        } else if ((m = cliw_dry_run_flag(a, &o.dry))) {
            if (m < 0)
                goto usage_error;
        } else if ((m = cliw_other_arg(a, usage, pos, &npos))) {
            if (m < 0)
                goto usage_error;
            goto out;
        }
    }
    if (o.replicas < 0) {
        fprintf(stderr, o.replicas == -1 ? "error: required flag(s) \"replicas\" not set\n"
                                         : "error: The --replicas=COUNT flag is required, and "
                                           "COUNT must be greater than or equal to 0\n");
        goto usage_error;
    }
    if (!o.nfiles && !npos) {
        fprintf(stderr, "error: You must provide one or more resources by argument or "
                        "filename.\n");
        goto usage_error;
    }
    if (!(kc = cli_connect(&o.conn))) {
        rc = 1;
        goto out;
    }
    if (o.nfiles) {
        json_t *errors = json_array();
        json_t *entries = cliw_read_sources(o.files, o.nfiles, errors), *e;
        size_t i;
        json_array_foreach(entries, i, e) {
            json_t *obj = json_object_get(e, "object");
            char file[1100], err[512];
            kube_resource_t r;
            const char *ns, *name = json_str(json_object_get(obj, "metadata"), "name");
            cliw_source_file(json_str(e, "source"), file, sizeof(file));
            if (kubeclient_resolve_kind(kc, json_str(obj, "apiVersion"), json_str(obj, "kind"),
                                        &r, err, sizeof(err)) < 0) {
                fprintf(stderr, "error: %s: %s\n", file, err);
                rc = 1;
                continue;
            }
            if (cliw_object_namespace(kc, &o.conn, &r, obj, &ns) < 0 || !name ||
                scale_one(kc, &o, &r, ns, name, file) < 0)
                rc = 1;
            found++;
        }
        if (cliw_print_source_errors(errors))
            rc = 1;
        json_decref(entries);
        json_decref(errors);
        goto out;
    }
    long n = cliw_parse_refs(kc, pos, npos, &refs);
    if (n < 0 || cliw_check_refs(refs, n, o.selector || o.all) < 0) {
        rc = 1;
        goto out;
    }
    for (long i = 0; i < n; i++) {
        const char *ns = kubeclient_namespace(kc);
        if (*refs[i].name) {
            found++;
            if (scale_one(kc, &o, &refs[i].res, ns, refs[i].name, NULL) < 0)
                rc = 1;
            continue;
        }
        json_t *list = cliw_list(kc, &refs[i].res, ns, o.selector), *item;
        size_t j;
        if (!list) {
            rc = 1;
            continue;
        }
        json_array_foreach(json_object_get(list, "items"), j, item) {
            const char *name = json_str(json_object_get(item, "metadata"), "name");
            found++;
            if (name && scale_one(kc, &o, &refs[i].res, ns, name, NULL) < 0)
                rc = 1;
        }
        json_decref(list);
    }
    if (!found && !rc) {
        fprintf(stderr, "error: no objects passed to scale\n");
        rc = 1;
    }
    goto out;

usage_error:
    rc = 2;
out:
    free(refs);
    kubeclient_free(kc);
    free(pos);
    free(o.files);
    return rc;
}
