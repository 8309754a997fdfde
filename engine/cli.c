/* cli.c: what the CLI verbs share (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
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

int cli_flag_bool(const char *arg, const char *long_name, const char *short_name, int *val)
{
    size_t l = strlen(long_name);
    if ((short_name && !strcmp(arg, short_name)) || !strcmp(arg, long_name)) {
        *val = 1;
        return 1;
    }
    if (!strncmp(arg, long_name, l) && arg[l] == '=') {
        *val = !strcmp(arg + l + 1, "true") || !strcmp(arg + l + 1, "1");
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ paths and names */

void cli_query_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

char *cli_query_escape(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    cli_query_put(f, s);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *cli_get_path(const kube_resource_t *r, const char *ns, const char *name,
                   const char *label_sel, const char *field_sel, int limit, const char *cont,
                   const char *watch_rv)
{
    char *base = kubeclient_path(r, ns, name, NULL), *out = NULL;
    size_t len = 0;
    FILE *f;
    char sep = '?';
    if (!base || !(f = open_memstream(&out, &len))) {
        free(base);
        return NULL;
    }
    fputs(base, f);
    free(base);
    if (label_sel) {
        fprintf(f, "%clabelSelector=", sep), sep = '&';
        cli_query_put(f, label_sel);
    }
    if (field_sel) {
        fprintf(f, "%cfieldSelector=", sep), sep = '&';
        cli_query_put(f, field_sel);
    }
    if (limit > 0)
        fprintf(f, "%climit=%d", sep, limit), sep = '&';
    if (cont && *cont) {
        fprintf(f, "%ccontinue=", sep), sep = '&';
        cli_query_put(f, cont);
    }
    if (watch_rv) {
        fprintf(f, "%cwatch=true&resourceVersion=", sep);
        cli_query_put(f, watch_rv);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

json_t *cli_typed_copy(const json_t *obj, const kube_resource_t *r)
{
    json_t *o = json_deep_copy(obj);
    char av[300];
    if (!o)
        return NULL;
    if (*r->group)
        snprintf(av, sizeof(av), "%s/%s", r->group, r->version);
    else
        snprintf(av, sizeof(av), "%s", r->version);
    if (!json_str(o, "kind"))
        json_object_set_new(o, "kind", json_string(r->kind));
    if (!json_str(o, "apiVersion"))
        json_object_set_new(o, "apiVersion", json_string(av));
    return o;
}

void cli_kind_string(const kube_resource_t *r, char *out, size_t outlen)
{
    size_t i = 0;
    for (; r->kind[i] && i + 1 < outlen; i++)
        out[i] = (char)(r->kind[i] >= 'A' && r->kind[i] <= 'Z' ? r->kind[i] + 32 : r->kind[i]);
    out[i] = '\0';
    if (*r->group)
        snprintf(out + i, outlen - i, ".%s", r->group);
}

void cli_human_duration(long long s, char *out, size_t outlen)
{
    long long m = s / 60, h = s / 3600, d = h / 24;
    if (s < -1)
        snprintf(out, outlen, "<invalid>");
    else if (s < 0)
        snprintf(out, outlen, "0s");
    else if (s < 120)
        snprintf(out, outlen, "%llds", s);
    else if (m < 10)
        s % 60 ? snprintf(out, outlen, "%lldm%llds", m, s % 60) : snprintf(out, outlen, "%lldm", m);
    else if (m < 180)
        snprintf(out, outlen, "%lldm", m);
    else if (h < 8)
        m % 60 ? snprintf(out, outlen, "%lldh%lldm", h, m % 60) : snprintf(out, outlen, "%lldh", h);
    else if (h < 48)
        snprintf(out, outlen, "%lldh", h);
    else if (h < 24 * 8)
        h % 24 ? snprintf(out, outlen, "%lldd%lldh", d, h % 24) : snprintf(out, outlen, "%lldd", d);
    else if (h < 24 * 365 * 2)
        snprintf(out, outlen, "%lldd", d);
    else if (h < 24 * 365 * 8)
        d % 365 ? snprintf(out, outlen, "%lldy%lldd", d / 365, d % 365)
                : snprintf(out, outlen, "%lldy", d / 365);
    else
        snprintf(out, outlen, "%lldy", d / 365);
}

/* ------------------------------------------------------------------ error lines */

int cli_conn_error_line(kubeclient_t *kc, const char *err, char *out, size_t outlen)
{
    const char *server = kubeclient_server(kc), *hp = strstr(server, "://");
    hp = hp ? hp + 3 : server;
    if (strstr(err, "Couldn't connect") || strstr(err, "onnection refused"))
        return snprintf(out, outlen,
                        "The connection to the server %s was refused - did you specify the "
                        "right host or port?", hp);
    return snprintf(out, outlen, "Unable to connect to the server: %s", err);
}

int cli_status_error_line(const json_t *body, long status, char *out, size_t outlen)
{
    const char *kind = json_str(body, "kind"), *msg = json_str(body, "message");
    const char *reason = json_str(body, "reason");
    if (kind && !strcmp(kind, "Status") && msg) {
        if (reason && *reason)
            return snprintf(out, outlen, "Error from server (%s): %s", reason, msg);
        return snprintf(out, outlen, "Error from server: %s", msg);
    }
    return snprintf(out, outlen, "error: %s", kubeclient_status_message(body, status));
}

/* The two printers below: the line into a stack buffer, or, when it is longer (a server's
 * message can be), into one of its length. */
#define PRINT_LINE(line_fn, ...)                                                              \
    do {                                                                                     \
        char small_[1024], *big_ = NULL;                                                     \
        int n_ = line_fn(__VA_ARGS__, small_, sizeof(small_));                               \
        if (n_ >= (int)sizeof(small_) && (big_ = malloc((size_t)n_ + 1)))                    \
            line_fn(__VA_ARGS__, big_, (size_t)n_ + 1);                                      \
        fprintf(stderr, "%s\n", big_ ? big_ : small_);                                       \
        free(big_);                                                                          \
    } while (0)

void cli_print_conn_error(kubeclient_t *kc, const char *err)
{
    PRINT_LINE(cli_conn_error_line, kc, err);
}

void cli_print_resolve_error(kubeclient_t *kc, const char *err)
{
    if (strstr(err, "cannot reach"))
        cli_print_conn_error(kc, err);
    else
        fprintf(stderr, "error: %s\n", err);
}

void cli_print_error(const json_t *body, long status)
{
    PRINT_LINE(cli_status_error_line, body, status);
}
