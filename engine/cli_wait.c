/* cli_wait.c: `berth wait`, as kubectl waits.
 *
 *   berth wait (TYPE NAME... | TYPE/NAME... | TYPE -l SEL | TYPE --all | -f FILE)
 *              --for=condition=C[=VALUE] | --for=delete | --for=create |
 *              --for=jsonpath='{.path}'[=VALUE]   [--timeout=30s] [-n NS | -A]
 *
 * Each object is followed (a watch on its name) until the condition holds: then
 * "pod/x condition met" and the next one. A condition holds when status.conditions has an
 * entry of that type (any case) whose status is VALUE (default True, any case), unless the
 * entry's observedGeneration (or status.observedGeneration) is older than
 * metadata.generation. jsonpath takes a simple path (.a.b, [N], ['k'], [?(@.k=="v")]); with
 * no VALUE it only has to exist. When the --timeout passes: "error: timed out waiting for the
 * condition on pods/x", exit 1; --timeout=0 checks once; a negative one waits a week.
 * Depends on cli_write.c and kubeclient.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_write.h"
#include "util.h"

typedef enum { FOR_CONDITION, FOR_DELETE, FOR_CREATE, FOR_JSONPATH } for_kind_t;

typedef struct cond_s {
    for_kind_t kind;
    char name[256];          /* condition type */
    char value[512];         /* condition status, or the jsonpath's value */
    int has_value;           /* jsonpath: a value to compare */
    char path[512];          /* jsonpath without its braces */
    const char *uid;         /* --for=delete: the object that has to go */
} cond_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: berth wait (TYPE NAME... | TYPE/NAME... | TYPE -l SEL | TYPE --all | "
               "-f FILE)\n"
               "         --for=condition=C[=V] | --for=delete | --for=create | "
               "--for=jsonpath='{.path}'[=V]\n"
               "         [--timeout=30s] [-n NS | -A]\n");
}

/* ------------------------------------------------------------------ jsonpath */

/* Evaluate a simple JSONPath (without braces) on obj: fields, indexes, quoted keys and one
 * equality filter per step. The value (borrowed), or NULL when it does not resolve. *err is
 * set for a path it cannot parse. */
static const json_t *jsonpath_get(const json_t *obj, const char *p, int *err)
{
    const json_t *cur = obj;
    char key[256];
    *err = 0;
    if (*p == '$')
        p++;
    while (*p && cur) {
        if (*p == '.') {
            size_t n = 0;
            p++;
            while (*p && *p != '.' && *p != '[' && n + 1 < sizeof(key)) {
                if (*p == '\\' && p[1])
                    p++;
                key[n++] = *p++;
            }
            key[n] = '\0';
            if (!n) {
                *err = 1;
                return NULL;
            }
            cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        } else if (*p == '[') {
            const char *close;
            p++;
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                close = strchr(p, q);
                if (!close || close[1] != ']' || (size_t)(close - p) >= sizeof(key)) {
                    *err = 1;
                    return NULL;
                }
                snprintf(key, sizeof(key), "%.*s", (int)(close - p), p);
                cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
                p = close + 2;
            } else if (*p == '?') {
                /* [?(@.field=="value")] or [?(@.field==value)] */
                char field[256], want[256];
                const char *eq, *end = strstr(p, ")]");
                if (strncmp(p, "?(@.", 4) || !end || !(eq = strstr(p, "==")) || eq > end) {
                    *err = 1;
                    return NULL;
                }
                snprintf(field, sizeof(field), "%.*s", (int)(eq - p - 4), p + 4);
                const char *v = eq + 2;
                size_t vl = (size_t)(end - v);
                if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
                    v++, vl -= 2;
                snprintf(want, sizeof(want), "%.*s", (int)vl, v);
                const json_t *found = NULL, *e;
                size_t i;
                json_array_foreach((json_t *)cur, i, e) {
                    json_t *fv = json_object_get(e, field);
                    if (json_is_string(fv) && !strcmp(json_string_value(fv), want)) {
                        found = e;
                        break;
                    }
                }
                cur = found;
                p = end + 2;
            } else {
                char *endp;
                long idx = strtol(p, &endp, 10);
                if (endp == p || *endp != ']') {
                    *err = 1;
                    return NULL;
                }
                if (idx < 0)
                    idx += (long)json_array_size(cur);
                cur = json_is_array(cur) && idx >= 0 ? json_array_get(cur, (size_t)idx) : NULL;
                p = endp + 1;
            }
        } else {
            *err = 1;
            return NULL;
        }
    }
    return *p ? NULL : cur;
}

/* A scalar as kubectl's jsonpath prints it. 0, or -1 for maps and lists. */
static int scalar_string(const json_t *v, char *out, size_t len)
{
    if (json_is_string(v))
        snprintf(out, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_null(v))
        snprintf(out, len, "%s", "");
    else
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ conditions */

static int condition_met(const json_t *obj, const cond_t *c)
{
    json_t *conds = json_path(obj, "status.conditions"), *e;
    size_t i;
    json_array_foreach(conds, i, e) {
        const char *type = json_str(e, "type"), *status = json_str(e, "status");
        if (!type || strcasecmp(type, c->name) || !status)
            continue;
        json_t *gen = json_path(obj, "metadata.generation");
        if (json_is_integer(gen)) {
            json_t *og = json_object_get(e, "observedGeneration");
            if (!json_is_integer(og))
                og = json_path(obj, "status.observedGeneration");
            if (json_is_integer(og) && json_integer_value(og) < json_integer_value(gen))
                return 0;
        }
        return !strcasecmp(status, c->value);
    }
    return 0;
}

static int check(const json_t *obj, void *priv)
{
    const cond_t *c = priv;
    switch (c->kind) {
    case FOR_DELETE: {
        const char *uid = json_str(json_object_get(obj, "metadata"), "uid");
        return !obj || (c->uid && uid && strcmp(uid, c->uid));
    }
    case FOR_CREATE:
        return obj != NULL;
    case FOR_CONDITION:
        return obj && condition_met(obj, c);
    case FOR_JSONPATH: {
        int err;
        char have[1024];
        if (!obj)
            return 0;
        const json_t *v = jsonpath_get(obj, c->path, &err);
        if (!v)
            return 0;
        if (!c->has_value)
            return 1;
        if (scalar_string(v, have, sizeof(have)) < 0) {
            fprintf(stderr, "error: jsonpath leads to a nested object or list which is not "
                            "supported\n");
            return -1;
        }
        return !strcmp(have, c->value);
    }
    }
    return 0;
}

/* Parse --for's value. 0, or -1 (printed). */
static int parse_for(const char *v, cond_t *c)
{
    memset(c, 0, sizeof(*c));
    if (!strcasecmp(v, "delete")) {
        c->kind = FOR_DELETE;
        return 0;
    }
    if (!strcasecmp(v, "create")) {
        c->kind = FOR_CREATE;
        return 0;
    }
    if (!strncasecmp(v, "condition=", 10)) {
        const char *name = v + 10, *eq = strchr(name, '=');
        c->kind = FOR_CONDITION;
        snprintf(c->name, sizeof(c->name), "%.*s", eq ? (int)(eq - name) : (int)strlen(name),
                 name);
        snprintf(c->value, sizeof(c->value), "%s", eq ? eq + 1 : "true");
        if (!*c->name) {
            fprintf(stderr, "error: condition name must be specified\n");
            return -1;
        }
        return 0;
    }
    if (!strncasecmp(v, "jsonpath=", 9)) {
        const char *expr = v + 9, *close;
        c->kind = FOR_JSONPATH;
        if (*expr != '{' || !(close = strchr(expr, '}'))) {
            fprintf(stderr, "error: unrecognized JSONPath expression \"%s\": must be of the "
                            "form {.path}\n", expr);
            return -1;
        }
        snprintf(c->path, sizeof(c->path), "%.*s", (int)(close - expr - 1), expr + 1);
        if (close[1] == '=') {
            c->has_value = 1;
            const char *val = close + 2;
            size_t vl = strlen(val);
            if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0])
                snprintf(c->value, sizeof(c->value), "%.*s", (int)vl - 2, val + 1);
            else
                snprintf(c->value, sizeof(c->value), "%s", val);
        } else if (close[1]) {
            fprintf(stderr, "error: jsonpath wait format must be --for=jsonpath='{.status."
                            "readyReplicas}'=3 or --for=jsonpath='{.status.readyReplicas}'\n");
            return -1;
        }
        int err;
        json_t *empty = json_object();
        jsonpath_get(empty, c->path, &err);
        json_decref(empty);
        if (err) {
            fprintf(stderr, "error: unrecognized JSONPath expression \"%s\"\n", expr);
            return -1;
        }
        return 0;
    }
    fprintf(stderr, "error: unrecognized condition: \"%s\"\n", v);
    return -1;
}

/* ------------------------------------------------------------------ the verb */

int cli_wait_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos)), **files = calloc((size_t)argc + 1,
                                                                           sizeof(char *));
    size_t npos = 0, nfiles = 0;
    const char *selector = NULL, *for_v = NULL;
    int all = 0, all_ns = 0, rc = 0;
    double timeout = 30;
    cond_t cond;
    kubeclient_t *kc = NULL;
    cliw_ref_t *refs = NULL;
    cliw_objs_t w = { 0 };

    if (!pos || !files) {
        rc = 1;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        int m, used = cli_conn_flag(&conn, argc, argv, &i);
        const char *v, *a = argv[i];
        if (used < 0)
            goto usage_error;
        if (used)
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--for", NULL, &m)) || m) {
            if (m < 0)
                goto usage_error;
            for_v = v;
        } else if ((m = cliw_duration_flag(argc, argv, &i, "--timeout", &timeout))) {
            if (m < 0)
                goto usage_error;
        } else if ((v = cli_flag_value(argc, argv, &i, "--selector", "-l", &m)) || m) {
            if (m < 0)
                goto usage_error;
            selector = v;
        } else if ((v = cli_flag_value(argc, argv, &i, "--filename", "-f", &m)) || m) {
            if (m < 0)
                goto usage_error;
            files[nfiles++] = (char *)v;
        } else if (!strcmp(a, "--all") || !strcmp(a, "--all=true")) {
            all = 1;
        } else if (!strcmp(a, "-A") || !strcmp(a, "--all-namespaces") ||
                   !strcmp(a, "--all-namespaces=true")) {
            all_ns = 1;
        } else if ((m = cliw_other_arg(a, usage, pos, &npos))) {
            if (m < 0)
                goto usage_error;
            goto out;
        }
    }
    if (!for_v) {
        fprintf(stderr, "error: --for must be specified\n");
        goto usage_error;
    }
    if (parse_for(for_v, &cond) < 0)
        goto usage_error;
    if (!npos && !nfiles) {
        fprintf(stderr, "error: You must provide one or more resources by argument or "
                        "filename.\n");
        goto usage_error;
    }
    if (!(kc = cli_connect(&conn))) {
        rc = 1;
        goto out;
    }

    /* what to wait for: named objects (even missing ones, for delete and create), the
     * objects a selector lists now, or a file's */
    const char *ns = kubeclient_namespace(kc);
    int missing = 0;
    if (nfiles) {
        json_t *errors = json_array(), *e;
        json_t *entries = cliw_read_sources(files, nfiles, errors);
        size_t i;
        json_array_foreach(entries, i, e) {
            json_t *obj = json_object_get(e, "object");
            kube_resource_t r;
            char err[512];
            const char *ons, *name = json_str(json_object_get(obj, "metadata"), "name");
            if (kubeclient_resolve_kind(kc, json_str(obj, "apiVersion"), json_str(obj, "kind"),
                                        &r, err, sizeof(err)) < 0) {
                fprintf(stderr, "error: %s\n", err);
                rc = 1;
                continue;
            }
            if (cliw_object_namespace(kc, &conn, &r, obj, &ons) < 0 || !name) {
                rc = 1;
                continue;
            }
            cliw_objs_add(&w, &r, ons, name, NULL);
        }
        if (cliw_print_source_errors(errors))
            rc = 1;
        json_decref(entries);
        json_decref(errors);
    } else {
        long n = cliw_parse_refs(kc, pos, npos, &refs);
        if (n < 0 || cliw_check_refs(refs, n, selector || all) < 0) {
            rc = 1;
            goto out;
        }
        for (long i = 0; i < n; i++) {
            const kube_resource_t *r = &refs[i].res;
            if (*refs[i].name) {
                char *uid = NULL;
                if (cond.kind != FOR_CREATE) {
                    /* kubectl looks the object up first: a missing one is an error, or
                     * for --for=delete already done (nothing printed) */
                    char *path = kubeclient_path(r, ns, refs[i].name, NULL);
                    long status;
                    json_t *obj = cliw_request(kc, "GET", path, NULL, NULL, &status,
                                               cond.kind == FOR_DELETE, NULL, NULL);
                    free(path);
                    if (!obj && status == 404 && cond.kind == FOR_DELETE)
                        continue;
                    if (!obj) {
                        rc = 1;
                        missing = 1;
                        continue;
                    }
                    const char *u = json_str(json_object_get(obj, "metadata"), "uid");
                    uid = u ? strdup(u) : NULL;
                    json_decref(obj);
                }
                cliw_objs_add(&w, r, ns, refs[i].name, uid);
                free(uid);
                continue;
            }
            json_t *list = cliw_list(kc, r, all_ns ? NULL : ns, selector), *item;
            size_t j;
            if (!list) {
                rc = 1;
                continue;
            }
            json_array_foreach(json_object_get(list, "items"), j, item) {
                json_t *md = json_object_get(item, "metadata");
                if (json_str(md, "name"))
                    cliw_objs_add(&w, r, json_str(md, "namespace"), json_str(md, "name"),
                                  json_str(md, "uid"));
            }
            json_decref(list);
        }
    }
    if (!w.n) {
        if (!missing && !rc && cond.kind != FOR_DELETE) {
            fprintf(stderr, "error: no matching resources found\n");
            rc = 1;
        }
        goto out;
    }

    for (size_t i = 0; i < w.n; i++) {
        const cliw_obj_t *o = &w.v[i];
        char kind[300];
        double deadline = timeout < 0 ? cliw_now() + 168 * 3600.0 : cliw_now() + timeout;
        cond.uid = o->uid;
        cli_kind_string(&o->res, kind, sizeof(kind));
        int r = cliw_follow(kc, &o->res, o->ns, o->name, deadline, check, &cond);
        if (r == 0) {
            printf("%s/%s condition met\n", kind, o->name);
            fflush(stdout);
        } else {
            if (r == 1)
                fprintf(stderr, "error: timed out waiting for the condition on %s/%s\n",
                        o->res.resource, o->name);
            rc = 1;
        }
    }
    goto out;

usage_error:
    rc = 2;
out:
    cliw_objs_release(&w);
    free(refs);
    kubeclient_free(kc);
    free(pos);
    free(files);
    return rc;
}
