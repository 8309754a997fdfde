/* cli_logs.c: `berth logs POD [-c CONTAINER] [--tail N] [-f] [--previous] [--timestamps]`.
 *
 * As kubectl does it: the pod is read first to settle the container (-c, else the
 * kubectl.kubernetes.io/default-container annotation, else the first container, with
 * "Defaulted container ..." on stderr when there was a choice), then
 * GET .../pods/NAME/log?container=...&follow=...&tailLines=... is streamed to stdout as it
 * arrives; the API server proxies it to the node agent (api_log.c). TYPE/NAME of a
 * controller or service (deploy/web, rs/x, rc/x, svc/x, job/x) picks one of its pods the way
 * kubectl does (assigned, running, ready, most restarts, oldest).
 *
 * kubeclient_stream hands the body over without the status, so a body that opens like a
 * metav1.Status is held back until the answer is known: an error is printed as kubectl
 * words it ("Error from server (BadRequest): ..."), a log that merely starts that way is
 * printed as soon as more of it arrives or the stream ends.
 *
 * Depends on cli.h/kubeclient.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"
#include "jsonload.h"

#define HOLD_MAX 65536

typedef struct logs_s {
    kubeclient_t *kc;
    const char *ns;
    const char *container;
    long long tail, limit_bytes, since_seconds;
    const char *since_time;
    int follow, previous, timestamps, all_containers, timeout;
} logs_t;

/* ------------------------------------------------------------------ helpers */

/* GET path as JSON; the body (new reference) on 2xx, else NULL with the error printed (a
 * missing object as kubectl logs words it when named). */
static json_t *get_object(kubeclient_t *kc, const char *ns, const char *path, int named)
{
    char err[1024];
    long status = 0;
    json_t *body = kubeclient_json(kc, "GET", path, NULL, NULL, &status, err, sizeof(err));
    if (!body) {
        if (!status)
            cli_print_conn_error(kc, err);
        else
            fprintf(stderr, "error: %s\n", err);
        return NULL;
    }
    if (status < 200 || status > 299) {
        if (status == 404 && named && json_str(body, "message"))
            fprintf(stderr, "error: error from server (NotFound): %s in namespace \"%s\"\n",
                    json_str(body, "message"), ns);
        else
            cli_print_error(body, status);
        json_decref(body);
        return NULL;
    }
    return body;
}

static long long parse_seconds(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    if (!*end || !strcmp(end, "s"))
        return (long long)v;
    if (!strcmp(end, "m"))
        return (long long)(v * 60);
    if (!strcmp(end, "h"))
        return (long long)(v * 3600);
    return -1;
}

/* ------------------------------------------------------------------ choosing the pod */

static long long max_restarts(const json_t *pod)
{
    size_t i;
    json_t *c;
    long long m = 0;
    json_array_foreach(json_path(pod, "status.containerStatuses"), i, c) {
        long long r = json_integer_value(json_object_get(c, "restartCount"));
        if (r > m)
            m = r;
    }
    return m;
}

static int phase_rank(const json_t *pod)
{
    const char *p = json_str(json_object_get(pod, "status"), "phase");
    if (p && !strcmp(p, "Running"))
        return 0;
    if (p && !strcmp(p, "Unknown"))
        return 1;
    if (p && !strcmp(p, "Pending"))
        return 2;
    return 3;
}

/* podutils.ByLogging: 1 if a should be picked before b. */
static int logging_less(const json_t *a, const json_t *b)
{
    const char *na = json_str(json_object_get(a, "spec"), "nodeName");
    const char *nb = json_str(json_object_get(b, "spec"), "nodeName");
    int ha = na && *na, hb = nb && *nb;
    if (ha != hb)
        return ha;
    if (phase_rank(a) != phase_rank(b))
        return phase_rank(a) < phase_rank(b);
    if (json_condition_true(a, "Ready") != json_condition_true(b, "Ready"))
        return json_condition_true(a, "Ready");
    if (max_restarts(a) != max_restarts(b))
        return max_restarts(a) > max_restarts(b);
    const char *ca = json_str(json_object_get(a, "metadata"), "creationTimestamp");
    const char *cb = json_str(json_object_get(b, "metadata"), "creationTimestamp");
    if (ca && cb && strcmp(ca, cb))
        return strcmp(ca, cb) < 0;
    return 0;
}

/* A label selector string for a controller's or service's pods; NULL if it has none. */
static char *selector_of(const json_t *obj)
{
    json_t *sel = json_path(obj, "spec.selector"), *v;
    json_t *ml = json_object_get(sel, "matchLabels");
    const char *key;
    char *out = NULL;
    size_t len = 0;
    int first = 1;
    FILE *f;
    if (!json_is_object(sel))
        return NULL;
    /* apps/batch: a LabelSelector; core (rc, service): a plain map */
    if (!json_object_get(sel, "matchLabels") && !json_object_get(sel, "matchExpressions"))
        ml = sel;
    if (!(f = open_memstream(&out, &len)))
        return NULL;
    json_object_foreach(ml, key, v) {
        fprintf(f, "%s%s=%s", first ? "" : ",", key, json_is_string(v) ? json_string_value(v) : "");
        first = 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e) {
        const char *op = json_str(e, "operator"), *k = json_str(e, "key");
        size_t j;
        json_t *val;
        if (!op || !k)
            continue;
        fprintf(f, "%s", first ? "" : ",");
        first = 0;
        if (!strcmp(op, "Exists"))
            fprintf(f, "%s", k);
        else if (!strcmp(op, "DoesNotExist"))
            fprintf(f, "!%s", k);
        else {
            fprintf(f, "%s %s (", k, !strcmp(op, "In") ? "in" : "notin");
            json_array_foreach(json_object_get(e, "values"), j, val)
                fprintf(f, "%s%s", j ? "," : "", json_is_string(val) ? json_string_value(val) : "");
            fputc(')', f);
        }
    }
    fclose(f);
    if (first) {
        free(out);
        return NULL;
    }
    return out;
}

json_t *cli_find_pod(kubeclient_t *kc, const char *ns, const char *arg, const char *verb,
                     int say_found)
{
    static const kube_resource_t pods = { .version = "v1", .resource = "pods", .kind = "Pod",
                                          .namespaced = 1 };
    const char *slash = strchr(arg, '/');
    kube_resource_t r = pods;
    char err[1024], type[256];
    const char *name = arg;
    if (slash) {
        snprintf(type, sizeof(type), "%.*s", (int)(slash - arg), arg);
        name = slash + 1;
        if (kubeclient_resolve(kc, type, &r, err, sizeof(err)) < 0) {
            cli_print_resolve_error(kc, err);
            return NULL;
        }
    }
    char *path = kubeclient_path(&r, ns, name, NULL);
    json_t *obj = path ? get_object(kc, ns, path, 1) : NULL;
    free(path);
    if (!obj || (!*r.group && !strcmp(r.kind, "Pod")))
        return obj;

    char *sel = selector_of(obj);
    if (!sel) {
        fprintf(stderr, "error: cannot %s %s: a %s has no pod selector (%s takes a pod, or "
                "an object with spec.selector: deployment, replicaset, statefulset, daemonset, "
                "replicationcontroller, service, job)\n", verb, arg, r.kind,
                !strcmp(verb, "exec into") ? "exec" : "logs");
        json_decref(obj);
        return NULL;
    }
    char *lpath = cli_get_path(&pods, ns, NULL, sel, NULL, 0, NULL, NULL);
    free(sel);
    json_decref(obj);
    json_t *list = lpath ? get_object(kc, ns, lpath, 0) : NULL;
    free(lpath);
    if (!list)
        return NULL;
    json_t *items = json_object_get(list, "items"), *it, *best = NULL;
    size_t i;
    json_array_foreach(items, i, it)
        if (!best || logging_less(it, best))
            best = it;
    if (!best) {
        fprintf(stderr, "error: no pods found for %s\n", arg);
        json_decref(list);
        return NULL;
    }
    if (say_found && json_array_size(items) > 1)
        fprintf(stderr, "Found %zu pods, using pod/%s\n", json_array_size(items),
                json_str(json_object_get(best, "metadata"), "name"));
    json_incref(best);
    json_decref(list);
    return best;
}

/* ------------------------------------------------------------------ streaming */

typedef struct stream_s {
    int state;          /* 0 nothing yet, 1 holding what may be an error Status, 2 passing */
    char *held;
    size_t len, cap;
} stream_t;

static int held_add(stream_t *s, const char *data, size_t len)
{
    if (s->len + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + len + 1)
            cap *= 2;
        char *n = realloc(s->held, cap);
        if (!n)
            return -1;
        s->held = n;
        s->cap = cap;
    }
    memcpy(s->held + s->len, data, len);
    s->len += len;
    s->held[s->len] = '\0';
    return 0;
}

static void held_flush(stream_t *s)
{
    if (s->len)
        fwrite(s->held, 1, s->len, stdout);
    s->len = 0;
    s->state = 2;
}

static int on_data(const char *data, size_t len, void *priv)
{
    stream_t *s = priv;
    json_error_t jerr;
    if (s->state == 0) {
        s->state = len && data[0] == '{' ? 1 : 2;
    } else if (s->state == 1) {
        /* more after a complete Status: it was a log line after all */
        json_t *j = jsonload(s->held, s->len, 0, &jerr);
        int complete = j != NULL;
        json_decref(j);
        if (complete)
            held_flush(s);
    }
    if (s->state == 1) {
        if (held_add(s, data, len) < 0 || s->len > HOLD_MAX)
            held_flush(s);
        else {
            json_t *j = jsonload(s->held, s->len, JSON_DISABLE_EOF_CHECK, &jerr);
            const char *kind = json_str(j, "kind");
            if (j && !(kind && !strcmp(kind, "Status")))
                held_flush(s);
            else if (!j && !strstr(s->held, "\"kind\"") && s->len > 256)
                held_flush(s);
            json_decref(j);
        }
        return 0;
    }
    fwrite(data, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* Stream one container's log. 0, or 1 after printing the error. */
static int stream_log(logs_t *l, const char *pod, const char *container)
{
    static const kube_resource_t pods = { .version = "v1", .resource = "pods", .kind = "Pod",
                                          .namespaced = 1 };
    char *base = kubeclient_path(&pods, l->ns, pod, "log"), *path = NULL;
    size_t plen = 0;
    FILE *f = base ? open_memstream(&path, &plen) : NULL;
    char err[1024];
    long status = 0;
    stream_t s = { 0 };
    int rc = 0;
    if (!f) {
        free(base);
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    /* the non-default PodLogOptions, in url.Values order */
    fputs(base, f);
    free(base);
    fputs("?container=", f);
    cli_query_put(f, container);
    if (l->follow)
        fputs("&follow=true", f);
    if (l->limit_bytes > 0)
        fprintf(f, "&limitBytes=%lld", l->limit_bytes);
    if (l->previous)
        fputs("&previous=true", f);
    if (l->since_seconds > 0)
        fprintf(f, "&sinceSeconds=%lld", l->since_seconds);
    if (l->since_time) {
        fputs("&sinceTime=", f);
        cli_query_put(f, l->since_time);
    }
    if (l->tail >= 0)
        fprintf(f, "&tailLines=%lld", l->tail);
    if (l->timestamps)
        fputs("&timestamps=true", f);
    fclose(f);
    if (kubeclient_stream(l->kc, path, "application/json, */*", l->timeout, on_data, &s, &status,
                          err, sizeof(err)) < 0) {
        fflush(stdout);
        cli_print_conn_error(l->kc, err);
        rc = 1;
    } else if (status < 200 || status > 299) {
        json_error_t jerr;
        json_t *body = s.state == 1 ? jsonload(s.held, s.len, 0, &jerr) : NULL;
        fflush(stdout);
        cli_print_error(body, status);
        json_decref(body);
        rc = 1;
    } else
        held_flush(&s);
    fflush(stdout);
    free(s.held);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------ the verb */

static int container_exists(const json_t *pod, const char *name)
{
    static const char *const lists[] = { "spec.initContainers", "spec.containers",
                                         "spec.ephemeralContainers" };
    for (int k = 0; k < 3; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_path(pod, lists[k]), i, c)
            if (json_str(c, "name") && !strcmp(json_str(c, "name"), name))
                return 1;
    }
    return 0;
}

/* podcmd.AllContainerNames: "c, side, dbg (ephem), init (init)" */
static void all_container_names(const json_t *pod, char *out, size_t outlen)
{
    static const char *const lists[] = { "spec.containers", "spec.ephemeralContainers",
                                         "spec.initContainers" };
    static const char *const tags[] = { "", " (ephem)", " (init)" };
    size_t o = 0;
    *out = '\0';
    for (int k = 0; k < 3; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_path(pod, lists[k]), i, c)
            o += (size_t)snprintf(out + o, outlen > o ? outlen - o : 0, "%s%s%s", o ? ", " : "",
                                  json_str(c, "name") ? json_str(c, "name") : "", tags[k]);
    }
}

int cli_logs_main(int argc, char **argv)
{
    cli_conn_t conn = { 0 };
    logs_t l = { 0 };
    const char *target = NULL, *extra_container = NULL;
    int rc = 1;
    l.tail = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int used = cli_conn_flag(&conn, argc, argv, &i), m;
        if (used < 0)
            return 2;
        if (used)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("Usage: berth logs POD|TYPE/NAME [CONTAINER] [flags]\n"
                 "  -c, --container NAME   the container (default: the pod's default or first)\n"
                 "      --all-containers   every container, one after the other\n"
                 "  -f, --follow           keep streaming\n"
                 "      --tail N           the last N lines\n"
                 "  -p, --previous         the previous instance of the container\n"
                 "      --timestamps       an RFC 3339 timestamp on each line\n"
                 "      --since D          newer than D (5s, 2m, 1h); --since-time RFC3339\n"
                 "      --limit-bytes N    at most N bytes\n"
                 "      --request-timeout D  bound the whole stream\n"
                 "  -n, --namespace NS  -s, --server URL  --kubeconfig PATH  --context NAME");
            return 0;
        }
        if (cli_flag_bool(a, "--follow", "-f", &l.follow) ||
            cli_flag_bool(a, "--previous", "-p", &l.previous) ||
            cli_flag_bool(a, "--timestamps", NULL, &l.timestamps) ||
            cli_flag_bool(a, "--all-containers", NULL, &l.all_containers))
            continue;
        if ((v = cli_flag_value(argc, argv, &i, "--container", "-c", &m)) || m) {
            if (m < 0)
                return 2;
            l.container = v;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--tail", NULL, &m)) || m) {
            if (m < 0)
                return 2;
            l.tail = strtoll(v, NULL, 10);
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--limit-bytes", NULL, &m)) || m) {
            if (m < 0)
                return 2;
            l.limit_bytes = strtoll(v, NULL, 10);
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--since-time", NULL, &m)) || m) {
            if (m < 0)
                return 2;
            l.since_time = v;
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--since", NULL, &m)) || m) {
            if (m < 0)
                return 2;
            if ((l.since_seconds = parse_seconds(v)) < 0) {
                fprintf(stderr, "error: invalid argument \"%s\" for \"--since\"\n", v);
                return 2;
            }
            continue;
        }
        if ((v = cli_flag_value(argc, argv, &i, "--request-timeout", NULL, &m)) || m) {
            if (m < 0)
                return 2;
            long long t = parse_seconds(v);
            if (t < 0) {
                fprintf(stderr, "error: invalid duration \"%s\" for --request-timeout\n", v);
                return 2;
            }
            l.timeout = (int)t;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown flag: %s\nSee 'berth logs --help' for usage.\n", a);
            return 2;
        }
        if (!target)
            target = a;
        else if (!extra_container)
            extra_container = a;
        else {
            fprintf(stderr, "error: expected POD_NAME [CONTAINER_NAME], got more arguments\n");
            return 2;
        }
    }
    if (!target) {
        fprintf(stderr, "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
                        "POD or TYPE/NAME is a required argument for the logs command\n"
                        "See 'berth logs --help' for usage.\n");
        return 1;
    }
    if (extra_container) {
        if (l.container) {
            fprintf(stderr, "error: only one of -c or an inline [CONTAINER] arg is allowed\n");
            return 1;
        }
        l.container = extra_container;
    }
    if (l.since_seconds && l.since_time) {
        fprintf(stderr, "error: at most one of `sinceTime` or `sinceSeconds` may be specified\n");
        return 1;
    }
    if (l.all_containers && l.container) {
        fprintf(stderr, "error: --all-containers=true should not be specified with container name "
                        "%s\n", l.container);
        return 1;
    }

    l.kc = cli_connect(&conn);
    if (!l.kc)
        return 1;
    l.ns = kubeclient_namespace(l.kc);
    json_t *pod = cli_find_pod(l.kc, l.ns, target, "get the logs from", 1);
    if (!pod)
        goto out;
    const char *pname = json_str(json_object_get(pod, "metadata"), "name");
    if (l.all_containers) {
        static const char *const lists[] = { "spec.initContainers", "spec.containers",
                                             "spec.ephemeralContainers" };
        rc = 0;
        for (int k = 0; k < 3 && !rc; k++) {
            size_t i;
            json_t *c;
            json_array_foreach(json_path(pod, lists[k]), i, c)
                if (!rc && json_str(c, "name"))
                    rc = stream_log(&l, pname, json_str(c, "name"));
        }
        json_decref(pod);
        goto out;
    }
    const char *container = l.container;
    if (!container) {
        const char *dflt = json_str(json_path(pod, "metadata.annotations"),
                                    "kubectl.kubernetes.io/default-container");
        if (dflt && *dflt) {
            if (container_exists(pod, dflt))
                container = dflt;
            else
                fprintf(stderr, "Default container name \"%s\" not found in pod %s\n", dflt, pname);
        }
    }
    if (!container) {
        json_t *cs = json_path(pod, "spec.containers");
        container = json_str(json_array_get(cs, 0), "name");
        if (!container) {
            fprintf(stderr, "error: pod %s has no containers\n", pname);
            json_decref(pod);
            goto out;
        }
        if (json_array_size(cs) > 1 || json_array_size(json_path(pod, "spec.initContainers")) ||
            json_array_size(json_path(pod, "spec.ephemeralContainers"))) {
            char names[2048];
            all_container_names(pod, names, sizeof(names));
            fprintf(stderr, "Defaulted container \"%s\" out of: %s\n", container, names);
        }
    }
    if (!container_exists(pod, container)) {
        fprintf(stderr, "error: container %s is not valid for pod %s\n", container, pname);
        json_decref(pod);
        goto out;
    }
    rc = stream_log(&l, pname, container);
    json_decref(pod);
out:
    kubeclient_free(l.kc);
    return rc;
}
