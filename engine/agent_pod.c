/* agent_pod.c: the pods of the node agent: sync with Docker, status, probes, deletion.
 *
 * A level-triggered loop, as the kubelet's syncPod: each sync looks at a pod (from the
 * informer) and its containers (from the runtime cache) and starts at most one action for the
 * pod (create and start a container, stop, remove); when the action finishes the runtime cache
 * is refreshed and the pod synced again. Then the pod's status is computed from what Docker
 * says and written to pods/status when it differs from what the API holds.
 *
 * Per pod, in memory only (a restarted agent starts afresh): the CrashLoopBackOff delays, the
 * image pull errors and the probe results. Everything else is read back from Docker's labels,
 * so a restarted agent adopts running containers. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_internal.h"
#include "log.h"
#include "util.h"

#define BACKOFF_INITIAL_S 10
#define BACKOFF_MAX_S     300
#define BACKOFF_RESET_S   600

typedef struct probe_s probe_t;

typedef struct cstate_s {
    char name[256];
    int init;                  /* an init container */
    int delay;                 /* current backoff, seconds (0: none yet) */
    time_t until;              /* no restart/pull before this */
    char reason[64], message[1024];   /* a waiting reason from a failed create/pull */
    /* probes of the running container probed_id */
    char probed_id[80];
    probe_t *probes[3];        /* liveness, readiness, startup */
    int ready, started, kill;  /* readiness result, startup passed, liveness says restart */
} cstate_t;

struct probe_s {
    podstate_t *ps;
    cstate_t *cs;
    int kind;                  /* 0 liveness, 1 readiness, 2 startup */
    json_t *spec;
    struct event *timer;
    docker_call_t *call;
    char *exec_id, *cid;
    int succ, fail, result;    /* result: 1 success, 0 failure */
};

struct podstate_s {
    agent_t *a;
    podstate_t *next;
    char uid[64], ns[256], name[256];
    int busy;                  /* actions in flight */
    int deleting_api;          /* the confirming DELETE was sent */
    cstate_t *cs;
    int ncs;
    json_t *last_status;       /* the status last patched */
    time_t last_status_at;
    struct event *wake;        /* a backoff ends */
    time_t wake_at;
    int seen;                  /* marked during a sync pass */
};

static const char *md(const json_t *o, const char *f)
{
    return json_str(json_object_get(o, "metadata"), f);
}

/* ---------------------------------------------------------------------------- containers */

static int ctr_attempt(json_t *c)
{
    const char *v = agent_label(c, LBL_ATTEMPT);
    return v ? atoi(v) : 0;
}

static const char *ctr_status(json_t *c)
{
    const char *s = json_str(json_object_get(c, "State"), "Status");
    return s ? s : "unknown";
}

static int ctr_running(json_t *c)
{
    return !strcmp(ctr_status(c), "running") || !strcmp(ctr_status(c), "restarting");
}

static int ctr_exited(json_t *c)
{
    return !strcmp(ctr_status(c), "exited") || !strcmp(ctr_status(c), "dead");
}

static int ctr_exit_code(json_t *c)
{
    return (int)json_integer_value(json_path(c, "State.ExitCode"));
}

/* Docker's "2026-11-27T08:20:56.616171780Z" as kube's second-precision RFC 3339. */
static void ctr_time(json_t *c, const char *field, char out[32])
{
    const char *s = json_str(json_object_get(c, "State"), field);
    time_t t = s ? util_parse_rfc3339(s) : -1;
    if (t <= 0 && s && strlen(s) >= 19) {
        char b[32];
        snprintf(b, sizeof(b), "%.19sZ", s);
        t = util_parse_rfc3339(b);
    }
    if (t <= 0)
        t = 0;
    util_rfc3339(t, out);
}

static time_t ctr_time_t(json_t *c, const char *field)
{
    char b[32];
    ctr_time(c, field, b);
    return util_parse_rfc3339(b);
}

/* The newest (and the one before) instance of container name among ctrs. */
static void ctr_find(json_t *ctrs, const char *name, json_t **newest, json_t **prev)
{
    size_t i;
    json_t *c;
    *newest = *prev = NULL;
    json_array_foreach(ctrs, i, c) {
        const char *n = agent_label(c, LBL_NAME);
        if (!n || strcmp(n, name))
            continue;
        if (!*newest || ctr_attempt(c) > ctr_attempt(*newest)) {
            *prev = *newest;
            *newest = c;
        } else if (!*prev || ctr_attempt(c) > ctr_attempt(*prev)) {
            *prev = c;
        }
    }
}

static json_t *pod_ctrs(agent_t *a, const char *uid)
{
    json_t *arr = json_array(), *c;
    const char *id;
    json_object_foreach(a->containers, id, c) {
        const char *u = agent_label(c, LBL_UID);
        if (u && !strcmp(u, uid) && !json_object_get(a->removing, id))
            json_array_append(arr, c);
    }
    return arr;
}

const char *agent_find_container(agent_t *a, const char *ns, const char *pod, const char *name,
                                 int previous)
{
    json_t *p = informer_get(a->pods, ns, pod), *n, *pr;
    if (!p || !md(p, "uid"))
        return NULL;
    json_t *ctrs = pod_ctrs(a, md(p, "uid"));
    ctr_find(ctrs, name, &n, &pr);
    const char *id = json_str(previous ? pr : n, "Id");
    json_decref(ctrs);
    return id;   /* the cache holds the object */
}

/* ---------------------------------------------------------------------------- quantities */

static double quantity(const char *s)
{
    char *end;
    double v;
    if (!s)
        return 0;
    v = strtod(s, &end);
    static const struct { const char *suf; double mul; } sufs[] = {
        { "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 },
        { "m", 0.001 }, { "k", 1e3 }, { "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
    };
    for (size_t i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++)
        if (!strcmp(end, sufs[i].suf))
            return v * sufs[i].mul;
    return v;
}

/* ---------------------------------------------------------------------------- podstate */

static void probe_free(probe_t *p)
{
    if (!p)
        return;
    if (p->timer)
        event_free(p->timer);
    if (p->call)
        docker_cancel(p->call);
    json_decref(p->spec);
    free(p->exec_id);
    free(p->cid);
    free(p);
}

static void cstate_reset_probes(cstate_t *cs)
{
    for (int k = 0; k < 3; k++) {
        probe_free(cs->probes[k]);
        cs->probes[k] = NULL;
    }
    cs->probed_id[0] = 0;
    cs->ready = cs->started = cs->kill = 0;
}

static void podstate_free(podstate_t *ps)
{
    for (int i = 0; i < ps->ncs; i++)
        cstate_reset_probes(&ps->cs[i]);
    free(ps->cs);
    if (ps->wake)
        event_free(ps->wake);
    json_decref(ps->last_status);
    free(ps);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    podstate_t *ps = arg;
    ps->wake_at = 0;
    agent_kick(ps->a);
}

static void podstate_wake_at(podstate_t *ps, time_t t)
{
    time_t now = time(NULL);
    if (ps->wake_at && ps->wake_at <= t && ps->wake_at > now)
        return;
    struct timeval tv = { t > now ? t - now : 0, 100000 };
    ps->wake_at = t;
    evtimer_add(ps->wake, &tv);
}

static podstate_t *podstate_get(agent_t *a, json_t *pod)
{
    const char *uid = md(pod, "uid");
    podstate_t *ps;
    for (ps = a->podstates; ps; ps = ps->next)
        if (!strcmp(ps->uid, uid))
            return ps;
    ps = calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    ps->a = a;
    snprintf(ps->uid, sizeof(ps->uid), "%s", uid);
    snprintf(ps->ns, sizeof(ps->ns), "%s", md(pod, "namespace") ? md(pod, "namespace") : "default");
    snprintf(ps->name, sizeof(ps->name), "%s", md(pod, "name"));
    json_t *ic = json_path(pod, "spec.initContainers"), *cc = json_path(pod, "spec.containers"), *c;
    size_t i;
    ps->ncs = (int)(json_array_size(ic) + json_array_size(cc));
    ps->cs = calloc(ps->ncs ? ps->ncs : 1, sizeof(cstate_t));
    ps->wake = evtimer_new(a->base, on_wake, ps);
    if (!ps->cs || !ps->wake) {
        podstate_free(ps);
        return NULL;
    }
    int n = 0;
    json_array_foreach(ic, i, c) {
        snprintf(ps->cs[n].name, sizeof(ps->cs[n].name), "%s", json_str(c, "name"));
        ps->cs[n++].init = 1;
    }
    json_array_foreach(cc, i, c)
        snprintf(ps->cs[n++].name, sizeof(ps->cs[0].name), "%s", json_str(c, "name"));
    ps->next = a->podstates;
    a->podstates = ps;
    return ps;
}

static cstate_t *cstate(podstate_t *ps, const char *name)
{
    for (int i = 0; i < ps->ncs; i++)
        if (!strcmp(ps->cs[i].name, name))
            return &ps->cs[i];
    return NULL;
}

void agent_pods_free(agent_t *a)
{
    while (a->podstates) {
        podstate_t *ps = a->podstates;
        a->podstates = ps->next;
        podstate_free(ps);
    }
}

/* ---------------------------------------------------------------------------- actions */

static void action_free(struct action_s *ac);

void agent_actions_free(agent_t *a)
{
    while (a->actions)
        action_free(a->actions);
}

typedef struct action_s {
    struct action_s *next, **prevp;   /* in a->actions: freed at shutdown if still pending */
    podstate_t *ps;
    json_t *pod;               /* a reference to the pod as the action began */
    json_t *spec;              /* the container spec (NULL for the infra container) */
    cstate_t *cs;
    char name[256];
    int attempt;
    char infra_id[80], infra_ip[64];
    json_t *refs;              /* "configmap/<name>" / "secret/<name>" -> object or null */
    int pending;
    int image_present;
    int image_unchecked;     /* created without inspecting the image first (see check_image) */
    int create_only;         /* an app container created while its infra container starts */
    char pull_err[1024];
    char id[80];
} action_t;

static void action_free(action_t *ac)
{
    if (ac->prevp) {
        *ac->prevp = ac->next;
        if (ac->next)
            ac->next->prevp = ac->prevp;
    }
    json_decref(ac->pod);
    json_decref(ac->spec);
    json_decref(ac->refs);
    free(ac);
}

/* The action is over: let the pod sync again, from fresh Docker state. */
static void action_end(action_t *ac)
{
    podstate_t *ps = ac->ps;
    ps->busy--;
    agent_refresh(ps->a);
    action_free(ac);
}

static void set_backoff(cstate_t *cs, time_t from)
{
    cs->delay = cs->delay ? cs->delay * 2 : BACKOFF_INITIAL_S;
    if (cs->delay > BACKOFF_MAX_S)
        cs->delay = BACKOFF_MAX_S;
    cs->until = from + cs->delay;
}

/* A create/pull failure: the container waits with reason, retried after the backoff. */
static void action_fail(action_t *ac, const char *reason, const char *msg)
{
    podstate_t *ps = ac->ps;
    log_warn("agent: pod %s/%s container %s: %s: %s", ps->ns, ps->name, ac->name, reason, msg);
    if (ac->cs) {
        snprintf(ac->cs->reason, sizeof(ac->cs->reason), "%s", reason);
        snprintf(ac->cs->message, sizeof(ac->cs->message), "%s", msg);
        set_backoff(ac->cs, time(NULL));
        podstate_wake_at(ps, ac->cs->until);
    } else {
        podstate_wake_at(ps, time(NULL) + BACKOFF_INITIAL_S);
    }
    action_end(ac);
}

static void simple_done(int status, json_t *body, const char *errstr, void *priv)
{
    action_t *ac = priv;
    if (status == 0 || status >= 400)
        log_warn("agent: pod %s/%s container %s: %d %s", ac->ps->ns, ac->ps->name, ac->name,
                 status, errstr ? errstr : "");
    action_end(ac);
}

static action_t *action_new(podstate_t *ps, json_t *pod, const char *name)
{
    action_t *ac = calloc(1, sizeof(*ac));
    if (!ac)
        return NULL;
    ac->ps = ps;
    ac->pod = json_incref(pod);
    snprintf(ac->name, sizeof(ac->name), "%s", name);
    ps->busy++;
    ac->next = ps->a->actions;
    if (ac->next)
        ac->next->prevp = &ac->next;
    ac->prevp = &ps->a->actions;
    ps->a->actions = ac;
    return ac;
}

static void do_simple(podstate_t *ps, json_t *pod, const char *name, const char *method,
                      const char *path, long timeout_ms)
{
    action_t *ac = action_new(ps, pod, name);
    if (!ac)
        return;
    if (!docker_request(ps->a->docker, method, path, NULL, timeout_ms, simple_done, ac))
        action_end(ac);
}

static void do_stop(podstate_t *ps, json_t *pod, json_t *ctr, int grace)
{
    char path[256];
    log_info("agent: pod %s/%s: stopping container %s (%.12s), grace %d s", ps->ns, ps->name,
             agent_label(ctr, LBL_NAME), json_str(ctr, "Id"), grace);
    snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", json_str(ctr, "Id"), grace);
    do_simple(ps, pod, agent_label(ctr, LBL_NAME), "POST", path, (grace + 30) * 1000L);
}

static void do_start(podstate_t *ps, json_t *pod, json_t *ctr)
{
    char path[256];
    snprintf(path, sizeof(path), "/containers/%s/start", json_str(ctr, "Id"));
    do_simple(ps, pod, agent_label(ctr, LBL_NAME), "POST", path, 60000);
}

/* ---- volumes -------------------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode)
{
    char b[4096];
    snprintf(b, sizeof(b), "%s", path);
    for (char *p = b + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(b, mode) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(b, mode) && errno != EEXIST ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) && errno != ENOENT ? -1 : 0;
}

static void pod_dir(agent_t *a, const char *uid, char *out, size_t len)
{
    snprintf(out, len, "%s/pods/%s", a->root_dir, uid);
}

static int write_file(const char *dir, const char *rel, const void *data, size_t len, int mode)
{
    char path[4096];
    if (strstr(rel, ".."))
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = 0;
        mkdir_p(path, 0755);
        *slash = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode ? mode : 0644);
    if (fd < 0)
        return -1;
    ssize_t w = len ? write(fd, data, len) : 0;
    close(fd);
    chmod(path, mode ? mode : 0644);
    return w == (ssize_t)len ? 0 : -1;
}

/* Write a configMap or secret volume's files; -1 with msg when the source is missing. */
static int write_projected(action_t *ac, json_t *src, int secret, const char *dir, char *msg,
                           size_t msglen)
{
    const char *name = json_str(src, secret ? "secretName" : "name");
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", secret ? "secret" : "configmap", name ? name : "");
    json_t *obj = json_object_get(ac->refs, key);
    int optional = json_is_true(json_object_get(src, "optional"));
    if (!json_is_object(obj)) {
        if (optional)
            return 0;
        snprintf(msg, msglen, "%s \"%s\" not found", secret ? "secret" : "configmap", name ? name : "");
        return -1;
    }
    int mode = (int)json_integer_value(json_object_get(src, "defaultMode"));
    json_t *items = json_object_get(src, "items"), *data = json_object_get(obj, "data"), *it;
    json_t *bdata = json_object_get(obj, "binaryData");
    const char *k;
    json_t *v;
    size_t i;
    json_object_foreach(data, k, v) {
        const char *rel = k;
        int m = mode;
        if (json_array_size(items)) {
            rel = NULL;
            json_array_foreach(items, i, it) {
                if (json_str(it, "key") && !strcmp(json_str(it, "key"), k)) {
                    rel = json_str(it, "path");
                    if (json_integer_value(json_object_get(it, "mode")))
                        m = (int)json_integer_value(json_object_get(it, "mode"));
                }
            }
            if (!rel)
                continue;
        }
        const char *s = json_string_value(v);
        if (!s)
            continue;
        if (secret) {
            size_t n = 0;
            unsigned char *d = util_base64_decode(s, &n);
            if (d)
                write_file(dir, rel, d, n, m);
            free(d);
        } else {
            write_file(dir, rel, s, strlen(s), m);
        }
    }
    json_object_foreach(bdata, k, v) {
        size_t n = 0;
        unsigned char *d = json_string_value(v) ? util_base64_decode(json_string_value(v), &n) : NULL;
        if (d)
            write_file(dir, k, d, n, mode);
        free(d);
    }
    return 0;
}

/* Prepare the pod's volumes on the host and the Binds of one container. NULL with msg set
 * when a volume cannot be prepared. */
static json_t *volume_binds(action_t *ac, char *msg, size_t msglen)
{
    agent_t *a = ac->ps->a;
    json_t *binds = json_array(), *vm;
    char base[4096], dir[4096 + 300];
    size_t i, j;
    pod_dir(a, ac->ps->uid, base, sizeof(base));
    json_array_foreach(json_object_get(ac->spec, "volumeMounts"), i, vm) {
        const char *vname = json_str(vm, "name"), *mpath = json_str(vm, "mountPath");
        json_t *vol = NULL, *v;
        json_array_foreach(json_path(ac->pod, "spec.volumes"), j, v)
            if (vname && json_str(v, "name") && !strcmp(json_str(v, "name"), vname))
                vol = v;
        if (!vol || !mpath) {
            snprintf(msg, msglen, "volume \"%s\" not found", vname ? vname : "");
            json_decref(binds);
            return NULL;
        }
        int ro = json_is_true(json_object_get(vm, "readOnly"));
        const char *hostp = NULL;
        if (json_object_get(vol, "hostPath")) {
            hostp = json_str(json_object_get(vol, "hostPath"), "path");
            const char *type = json_str(json_object_get(vol, "hostPath"), "type");
            if (hostp && type && !strcmp(type, "DirectoryOrCreate"))
                mkdir_p(hostp, 0755);
        } else {
            snprintf(dir, sizeof(dir), "%s/volumes/%s", base, vname);
            if (mkdir_p(dir, 0777)) {
                snprintf(msg, msglen, "cannot create %.900s: %s", dir, strerror(errno));
                json_decref(binds);
                return NULL;
            }
            if (json_object_get(vol, "emptyDir")) {
                chmod(dir, 0777);
            } else if (json_object_get(vol, "configMap") || json_object_get(vol, "secret")) {
                int secret = json_object_get(vol, "secret") != NULL;
                if (write_projected(ac, json_object_get(vol, secret ? "secret" : "configMap"), secret,
                                    dir, msg, msglen)) {
                    json_decref(binds);
                    return NULL;
                }
                ro = 1;
            }
            hostp = dir;
        }
        if (!hostp) {
            snprintf(msg, msglen, "volume \"%s\": unsupported type", vname);
            json_decref(binds);
            return NULL;
        }
        char bind[8800];
        const char *sub = json_str(vm, "subPath");
        if (sub && *sub && !strstr(sub, ".."))
            snprintf(bind, sizeof(bind), "%s/%s:%s%s", hostp, sub, mpath, ro ? ":ro" : "");
        else
            snprintf(bind, sizeof(bind), "%s:%s%s", hostp, mpath, ro ? ":ro" : "");
        json_array_append_new(binds, json_string(bind));
    }
    return binds;
}

/* ---- env ------------------------------------------------------------------------------ */

static const char *field_ref(action_t *ac, const char *path, char *buf, size_t len)
{
    if (!path)
        return "";
    if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
        return ac->infra_ip;
    if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
        return ac->ps->a->host_ip;
    if (!strcmp(path, "spec.nodeName"))
        return ac->ps->a->node;
    if (!strcmp(path, "spec.serviceAccountName")) {
        const char *s = json_str(json_object_get(ac->pod, "spec"), "serviceAccountName");
        return s ? s : "default";
    }
    if (!strncmp(path, "metadata.", 9)) {
        const char *f = path + 9;
        if (!strncmp(f, "labels['", 8) || !strncmp(f, "annotations['", 13)) {
            int lab = f[0] == 'l';
            snprintf(buf, len, "%s", f + (lab ? 8 : 13));
            char *q = strchr(buf, '\'');
            if (q)
                *q = 0;
            const char *v = json_str(json_path(ac->pod, lab ? "metadata.labels" : "metadata.annotations"), buf);
            return v ? v : "";
        }
        const char *v = md(ac->pod, f);
        return v ? v : "";
    }
    return "";
}

static const char *ref_value(action_t *ac, json_t *sel, int secret, char *buf, size_t len,
                             int *missing)
{
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", secret ? "secret" : "configmap", json_str(sel, "name"));
    json_t *obj = json_object_get(ac->refs, key);
    const char *v = json_str(json_object_get(obj, "data"), json_str(sel, "key"));
    if (!v) {
        if (!json_is_true(json_object_get(sel, "optional")))
            *missing = 1;
        return NULL;
    }
    if (!secret)
        return v;
    size_t n = 0;
    unsigned char *d = util_base64_decode(v, &n);
    snprintf(buf, len, "%.*s", d ? (int)n : 0, d ? (char *)d : "");
    free(d);
    return buf;
}

/* ---- service links: <NAME>_SERVICE_HOST and friends ------------------------------------ */

/* makeEnvVariableName: upper case, '-' -> '_'. */
static void env_name(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = in[i] == '-' ? '_' : (char)toupper((unsigned char)in[i]);
    out[i] = '\0';
}

static void env_add(json_t *env, json_t *names, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void env_add(json_t *env, json_t *names, const char *name, const char *fmt, ...)
{
    char val[512], line[1024];
    va_list ap;
    if (json_object_get(names, name))
        return;   /* the container's own env wins */
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "%s=%s", name, val);
    json_array_append_new(env, json_string(line));
    json_object_set_new(names, name, json_true());
}

/* The variables kubelet gives a container for each Service of its namespace that exists when
 * it starts (FromServices + makeLinkVariables), unless spec.enableServiceLinks is false.
 * Cluster IPs in 127.0.0.0/8 are the host's loopback, nobody inside a container: for those the
 * address is the Docker bridge's gateway and each port's node port, where the proxy serves
 * them to pods (services without node ports are then left out). Names keep the service port
 * (WEB_PORT_80_TCP), as applications look them up. See docs/proxy.md. */
static void service_links(action_t *ac, json_t *env)
{
    agent_t *a = ac->ps->a;
    json_t *names = json_object(), *svcs, *svc, *e;
    size_t i, j;
    if (json_is_false(json_path(ac->pod, "spec.enableServiceLinks")) || !a->services || !names) {
        json_decref(names);
        return;
    }
    json_array_foreach(env, i, e) {
        const char *line = json_string_value(e), *eq = line ? strchr(line, '=') : NULL;
        if (eq) {
            char n[512];
            snprintf(n, sizeof(n), "%.*s", (int)(eq - line), line);
            json_object_set_new(names, n, json_true());
        }
    }
    svcs = informer_list(a->services);
    json_array_foreach(svcs, i, svc) {
        const char *ns = md(svc, "namespace"), *sname = md(svc, "name");
        json_t *spec = json_object_get(svc, "spec"), *ports = json_object_get(spec, "ports"), *p;
        const char *cip = json_str(spec, "clusterIP");
        char prefix[128], name[300], host[64];
        int loopback, first = 1;
        if (!ns || strcmp(ns, ac->ps->ns) || !sname || !cip || !*cip || !strcmp(cip, "None") ||
            !json_array_size(ports))
            continue;
        loopback = !strncmp(cip, "127.", 4);
        if (loopback && !a->bridge_gateway[0])
            continue;
        snprintf(host, sizeof(host), "%s", loopback ? a->bridge_gateway : cip);
        env_name(sname, prefix, sizeof(prefix));
        json_array_foreach(ports, j, p) {
            json_int_t port = json_integer_value(json_object_get(p, "port"));
            json_int_t target = loopback ? json_integer_value(json_object_get(p, "nodePort"))
                                         : port;
            const char *proto = json_str(p, "protocol"), *pname = json_str(p, "name");
            char up[16], low[16], pn[64];
            if (target <= 0)
                continue;
            env_name(proto ? proto : "TCP", up, sizeof(up));
            for (size_t k = 0; k <= strlen(up); k++)
                low[k] = (char)tolower((unsigned char)up[k]);
            if (first) {
                snprintf(name, sizeof(name), "%s_SERVICE_HOST", prefix);
                env_add(env, names, name, "%s", host);
                snprintf(name, sizeof(name), "%s_SERVICE_PORT", prefix);
                env_add(env, names, name, "%lld", (long long)target);
                snprintf(name, sizeof(name), "%s_PORT", prefix);
                env_add(env, names, name, "%s://%s:%lld", low, host, (long long)target);
                first = 0;
            }
            if (pname && *pname) {
                env_name(pname, pn, sizeof(pn));
                snprintf(name, sizeof(name), "%s_SERVICE_PORT_%s", prefix, pn);
                env_add(env, names, name, "%lld", (long long)target);
            }
            snprintf(name, sizeof(name), "%s_PORT_%lld_%s", prefix, (long long)port, up);
            env_add(env, names, name, "%s://%s:%lld", low, host, (long long)target);
            snprintf(name, sizeof(name), "%s_PORT_%lld_%s_PROTO", prefix, (long long)port, up);
            env_add(env, names, name, "%s", low);
            snprintf(name, sizeof(name), "%s_PORT_%lld_%s_PORT", prefix, (long long)port, up);
            env_add(env, names, name, "%lld", (long long)target);
            snprintf(name, sizeof(name), "%s_PORT_%lld_%s_ADDR", prefix, (long long)port, up);
            env_add(env, names, name, "%s", host);
        }
    }
    json_decref(svcs);
    json_decref(names);
}

static json_t *build_env(action_t *ac, char *msg, size_t msglen)
{
    json_t *env = json_array(), *e, *ef;
    size_t i;
    char buf[8192], line[16384];
    json_array_foreach(json_object_get(ac->spec, "envFrom"), i, ef) {
        int secret = json_object_get(ef, "secretRef") != NULL;
        json_t *ref = json_object_get(ef, secret ? "secretRef" : "configMapRef");
        char key[600];
        snprintf(key, sizeof(key), "%s/%s", secret ? "secret" : "configmap", json_str(ref, "name"));
        json_t *obj = json_object_get(ac->refs, key);
        if (!json_is_object(obj)) {
            if (json_is_true(json_object_get(ref, "optional")))
                continue;
            snprintf(msg, msglen, "%s \"%s\" not found", secret ? "secret" : "configmap", json_str(ref, "name"));
            json_decref(env);
            return NULL;
        }
        const char *k, *prefix = json_str(ef, "prefix");
        json_t *v;
        json_object_foreach(json_object_get(obj, "data"), k, v) {
            const char *s = json_string_value(v);
            if (!s)
                continue;
            if (secret) {
                size_t n = 0;
                unsigned char *d = util_base64_decode(s, &n);
                snprintf(buf, sizeof(buf), "%.*s", d ? (int)n : 0, d ? (char *)d : "");
                free(d);
                s = buf;
            }
            snprintf(line, sizeof(line), "%s%s=%s", prefix ? prefix : "", k, s);
            json_array_append_new(env, json_string(line));
        }
    }
    json_array_foreach(json_object_get(ac->spec, "env"), i, e) {
        const char *name = json_str(e, "name"), *val = json_str(e, "value");
        json_t *from = json_object_get(e, "valueFrom");
        int missing = 0;
        if (!name)
            continue;
        if (from) {
            if (json_object_get(from, "fieldRef"))
                val = field_ref(ac, json_str(json_object_get(from, "fieldRef"), "fieldPath"), buf, sizeof(buf));
            else if (json_object_get(from, "configMapKeyRef"))
                val = ref_value(ac, json_object_get(from, "configMapKeyRef"), 0, buf, sizeof(buf), &missing);
            else if (json_object_get(from, "secretKeyRef"))
                val = ref_value(ac, json_object_get(from, "secretKeyRef"), 1, buf, sizeof(buf), &missing);
            else if (json_object_get(from, "resourceFieldRef")) {
                snprintf(buf, sizeof(buf), "0");
                val = buf;
            }
            if (missing) {
                json_t *sel = json_object_get(from, "configMapKeyRef");
                int secret = !sel;
                if (!sel)
                    sel = json_object_get(from, "secretKeyRef");
                snprintf(msg, msglen, "couldn't find key %s in %s %s/%s", json_str(sel, "key"),
                         secret ? "Secret" : "ConfigMap", ac->ps->ns, json_str(sel, "name"));
                json_decref(env);
                return NULL;
            }
            if (!val)
                continue;
        }
        snprintf(line, sizeof(line), "%s=%s", name, val ? val : "");
        json_array_append_new(env, json_string(line));
    }
    service_links(ac, env);
    return env;
}

/* ---- create and start ---------------------------------------------------------------- */

static void create_name(action_t *ac, char *out, size_t len)
{
    podstate_t *ps = ac->ps;
    snprintf(out, len, "berth_%s_%s_%s_%s_%.8s_%d", ps->a->node, ps->ns, ps->name, ac->name,
             ps->uid, ac->attempt);
}

static json_t *labels(action_t *ac)
{
    char att[16];
    snprintf(att, sizeof(att), "%d", ac->attempt);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", LBL_NODE, ac->ps->a->node, LBL_UID, ac->ps->uid,
                     LBL_NS, ac->ps->ns, LBL_POD, ac->ps->name, LBL_NAME, ac->name, LBL_ATTEMPT, att);
}

static void start_done(int status, json_t *body, const char *errstr, void *priv)
{
    action_t *ac = priv;
    if (status != 204 && status != 304) {
        action_fail(ac, "RunContainerError", errstr ? errstr : "cannot start the container");
        return;
    }
    if (ac->cs) {
        ac->cs->reason[0] = ac->cs->message[0] = 0;
    }
    log_info("agent: pod %s/%s: started container %s (%.12s)", ac->ps->ns, ac->ps->name, ac->name, ac->id);
    action_end(ac);
}

static void inspect_image(action_t *ac);
static void create_apps_early(podstate_t *ps, json_t *pod, const char *infra_id);

static void create_done(int status, json_t *body, const char *errstr, void *priv)
{
    action_t *ac = priv;
    char path[256];
    const char *id = json_str(body, "Id");
    if (status == 404 && ac->image_unchecked) {
        /* No such image: now the pull policy decides (pull, or the kubelet's errors). */
        ac->image_unchecked = 0;
        inspect_image(ac);
        return;
    }
    if (status != 201 || !id) {
        agent_t *a = ac->ps->a;   /* action_fail frees ac */
        action_fail(ac, "CreateContainerError", errstr ? errstr : "cannot create the container");
        if (status == 409)
            agent_refresh(a);
        return;
    }
    snprintf(ac->id, sizeof(ac->id), "%s", id);
    if (ac->create_only) {
        log_info("agent: pod %s/%s: created container %s (%.12s) while the pod's infra container "
                 "starts", ac->ps->ns, ac->ps->name, ac->name, ac->id);
        action_end(ac);   /* the next sync starts it, once the infra container runs */
        return;
    }
    snprintf(path, sizeof(path), "/containers/%s/start", id);
    if (!docker_request(ac->ps->a->docker, "POST", path, NULL, 60000, start_done, ac)) {
        action_fail(ac, "RunContainerError", "cannot reach Docker");
        return;
    }
    if (!ac->spec)
        create_apps_early(ac->ps, ac->pod, id);
}

static void do_create_container(action_t *ac)
{
    agent_t *a = ac->ps->a;
    char name[2048], esc[6200], path[6300], msg[1024] = "";
    json_t *body;
    if (!ac->spec) {
        /* kubelet's hostname: spec.hostname when set (a StatefulSet's pods), else the name */
        const char *host = json_str(json_object_get(ac->pod, "spec"), "hostname");
        body = json_pack("{s:s,s:s,s:o,s:{s:s,s:{s:s}}}", "Image", AGENT_PAUSE_IMAGE, "Hostname",
                         host && *host ? host : ac->ps->name, "Labels", labels(ac), "HostConfig",
                         "NetworkMode", "bridge", "RestartPolicy", "Name", "no");
    } else {
        json_t *env = build_env(ac, msg, sizeof(msg));
        if (!env) {
            action_fail(ac, "CreateContainerConfigError", msg);
            return;
        }
        json_t *binds = volume_binds(ac, msg, sizeof(msg));
        if (!binds) {
            json_decref(env);
            action_fail(ac, "CreateContainerConfigError", msg);
            return;
        }
        char net[128];
        snprintf(net, sizeof(net), "container:%s", ac->infra_id);
        json_t *hc = json_pack("{s:s,s:o,s:{s:s}}", "NetworkMode", net, "Binds", binds,
                               "RestartPolicy", "Name", "no");
        json_t *lim = json_path(ac->spec, "resources.limits");
        if (json_str(lim, "cpu"))
            json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(quantity(json_str(lim, "cpu")) * 1e9)));
        if (json_str(lim, "memory"))
            json_object_set_new(hc, "Memory", json_integer((json_int_t)quantity(json_str(lim, "memory"))));
        /* stdin/stdinOnce: kubectl attach and run -i write to the process; with stdinOnce
         * Docker closes its stdin when the first attach ends, as kubelet's runtimes do. */
        body = json_pack("{s:s,s:o,s:o,s:o,s:b,s:b,s:b,s:b}", "Image", json_str(ac->spec, "image"),
                         "Env", env, "Labels", labels(ac), "HostConfig", hc, "Tty",
                         json_is_true(json_object_get(ac->spec, "tty")), "OpenStdin",
                         json_is_true(json_object_get(ac->spec, "stdin")), "StdinOnce",
                         json_is_true(json_object_get(ac->spec, "stdinOnce")), "AttachStdout", 0);
        if (json_array_size(json_object_get(ac->spec, "command"))) {
            json_object_set(body, "Entrypoint", json_object_get(ac->spec, "command"));
            json_object_set_new(body, "Cmd", json_array());
        }
        if (json_array_size(json_object_get(ac->spec, "args")))
            json_object_set(body, "Cmd", json_object_get(ac->spec, "args"));
        if (json_str(ac->spec, "workingDir"))
            json_object_set_new(body, "WorkingDir", json_string(json_str(ac->spec, "workingDir")));
    }
    create_name(ac, name, sizeof(name));
    docker_escape(name, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/containers/create?name=%s", esc);
    if (!docker_request(a->docker, "POST", path, body, 60000, create_done, ac))
        action_fail(ac, "CreateContainerError", "cannot reach Docker");
    json_decref(body);
}

/* The image reference with a tag, as /images/create wants fromImage and tag. */
static void split_image(const char *img, char *repo, size_t rlen, char *tag, size_t tlen)
{
    const char *at = strchr(img, '@'), *slash = strrchr(img, '/'), *colon = strrchr(img, ':');
    if (at) {
        snprintf(repo, rlen, "%.*s", (int)(at - img), img);
        snprintf(tag, tlen, "%s", at + 1);
    } else if (colon && (!slash || colon > slash)) {
        snprintf(repo, rlen, "%.*s", (int)(colon - img), img);
        snprintf(tag, tlen, "%s", colon + 1);
    } else {
        snprintf(repo, rlen, "%s", img);
        snprintf(tag, tlen, "latest");
    }
}

static void pull_data(const char *data, size_t len, void *priv)
{
    action_t *ac = priv;
    /* Progress lines; an error arrives as {"errorDetail":...,"error":"..."}. */
    const char *e = memmem(data, len, "\"error\":\"", 9);
    if (e) {
        e += 9;
        const char *q = memchr(e, '"', len - (size_t)(e - data));
        snprintf(ac->pull_err, sizeof(ac->pull_err), "%.*s", q ? (int)(q - e) : 0, e);
    }
}

static void pull_done(int status, const char *errstr, void *priv)
{
    action_t *ac = priv;
    if (status == 200 && !ac->pull_err[0]) {
        do_create_container(ac);
        return;
    }
    if (!ac->pull_err[0])
        snprintf(ac->pull_err, sizeof(ac->pull_err), "%s", errstr ? errstr : "pull failed");
    if (ac->image_present) {
        /* Always, but the registry cannot be reached: run what we have (berth works without
         * a registry; kube would fail here). */
        log_warn("agent: pull of %s failed (%s); using the local image", json_str(ac->spec, "image"),
                 ac->pull_err);
        do_create_container(ac);
        return;
    }
    char msg[1200];
    snprintf(msg, sizeof(msg), "failed to pull image \"%s\": %s", json_str(ac->spec, "image"), ac->pull_err);
    action_fail(ac, "ErrImagePull", msg);
}

static const char *pull_policy(json_t *spec)
{
    const char *p = json_str(spec, "imagePullPolicy"), *img = json_str(spec, "image");
    if (p)
        return p;
    const char *slash = img ? strrchr(img, '/') : NULL, *colon = img ? strrchr(img, ':') : NULL;
    if (!img || strchr(img, '@'))
        return "IfNotPresent";
    if (!colon || (slash && colon < slash) || !strcmp(colon, ":latest"))
        return "Always";
    return "IfNotPresent";
}

static void image_inspected(int status, json_t *body, const char *errstr, void *priv)
{
    action_t *ac = priv;
    const char *img = ac->spec ? json_str(ac->spec, "image") : AGENT_PAUSE_IMAGE;
    char repo[1024], tag[256], e1[2048], e2[600], path[2800], msg[1200];
    if (status == 0) {
        action_fail(ac, "CreateContainerError", errstr ? errstr : "Docker does not answer");
        return;
    }
    ac->image_present = status == 200;
    if (!ac->spec) {
        if (!ac->image_present) {
            action_fail(ac, "CreatePodSandboxError",
                        "image " AGENT_PAUSE_IMAGE " is missing: run scripts/test-images.sh");
            return;
        }
        do_create_container(ac);
        return;
    }
    const char *policy = pull_policy(ac->spec);
    if (!strcmp(policy, "Never") && !ac->image_present) {
        snprintf(msg, sizeof(msg), "Container image \"%s\" is not present with pull policy of Never", img);
        action_fail(ac, "ErrImageNeverPull", msg);
        return;
    }
    if (ac->image_present && strcmp(policy, "Always")) {
        do_create_container(ac);
        return;
    }
    split_image(img, repo, sizeof(repo), tag, sizeof(tag));
    docker_escape(repo, e1, sizeof(e1));
    docker_escape(tag, e2, sizeof(e2));
    snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s", e1, e2);
    if (!docker_stream(ac->ps->a->docker, "POST", path, NULL, 300000, pull_data, pull_done, ac))
        action_fail(ac, "ErrImagePull", "cannot reach Docker");
}

static void inspect_image(action_t *ac)
{
    const char *img = ac->spec ? json_str(ac->spec, "image") : AGENT_PAUSE_IMAGE;
    char esc[2048], path[2200];
    docker_escape(img ? img : "", esc, sizeof(esc));
    snprintf(path, sizeof(path), "/images/%s/json", esc);
    if (!docker_request(ac->ps->a->docker, "GET", path, NULL, 10000, image_inspected, ac))
        action_fail(ac, "CreateContainerError", "cannot reach Docker");
}

/* Unless the policy is Always, the image is almost always there: create the container at
 * once and inspect the image only if Docker answers 404 (no such image). That saves a round
 * trip to Docker per container on the path every pod start takes. */
static void check_image(action_t *ac)
{
    if (!ac->spec || strcmp(pull_policy(ac->spec), "Always")) {
        ac->image_unchecked = 1;
        do_create_container(ac);
        return;
    }
    inspect_image(ac);
}

static void ref_done(int status, json_t *body, const char *errstr, void *priv);

/* Fetch the first reference still marked true: 1 started, 0 none left, -1 failed. */
static int fetch_next_ref(action_t *ac)
{
    const char *k;
    json_t *v;
    json_object_foreach(ac->refs, k, v) {
        if (!json_is_true(v))
            continue;
        char path[1200];
        const char *slash = strchr(k, '/');
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", ac->ps->ns,
                 !strncmp(k, "secret/", 7) ? "secrets" : "configmaps", slash + 1);
        return apiclient_request(ac->ps->a->api, "GET", path, NULL, NULL, ref_done, ac) ? 1 : -1;
    }
    return 0;
}

/* One reference fetched: the first key still marked true gets the object (null if absent). */
static void ref_done(int status, json_t *body, const char *errstr, void *priv)
{
    action_t *ac = priv;
    const char *k;
    json_t *v;
    if (status == 0 || status >= 500) {
        action_fail(ac, "CreateContainerConfigError", errstr ? errstr : "cannot reach the API server");
        return;
    }
    json_object_foreach(ac->refs, k, v) {
        if (json_is_true(v)) {
            json_object_set(ac->refs, k, status == 200 && json_is_object(body) ? body : json_null());
            break;
        }
    }
    int r = fetch_next_ref(ac);
    if (r == 0)
        check_image(ac);
    else if (r < 0)
        action_fail(ac, "CreateContainerConfigError", "cannot reach the API server");
}

static void want_ref(json_t *refs, const char *kind, const char *name)
{
    char key[600];
    if (!name)
        return;
    snprintf(key, sizeof(key), "%s/%s", kind, name);
    json_object_set_new(refs, key, json_true());
}

/* Create and start container spec (NULL: the infra container) of pod: fetch the ConfigMaps
 * and Secrets it refers to, check (and pull) the image, create, start. */
static void do_create_ex(podstate_t *ps, json_t *pod, json_t *spec, const char *name, int attempt,
                         const char *infra_id, const char *infra_ip, int create_only)
{
    action_t *ac = action_new(ps, pod, name);
    size_t i;
    json_t *e;
    if (!ac)
        return;
    ac->create_only = create_only;
    ac->spec = json_incref(spec);
    ac->cs = spec ? cstate(ps, name) : NULL;
    ac->attempt = attempt;
    snprintf(ac->infra_id, sizeof(ac->infra_id), "%s", infra_id ? infra_id : "");
    snprintf(ac->infra_ip, sizeof(ac->infra_ip), "%s", infra_ip ? infra_ip : "");
    ac->refs = json_object();
    if (spec) {
        json_array_foreach(json_object_get(spec, "env"), i, e) {
            json_t *f = json_object_get(e, "valueFrom");
            want_ref(ac->refs, "configmap", json_str(json_object_get(f, "configMapKeyRef"), "name"));
            want_ref(ac->refs, "secret", json_str(json_object_get(f, "secretKeyRef"), "name"));
        }
        json_array_foreach(json_object_get(spec, "envFrom"), i, e) {
            want_ref(ac->refs, "configmap", json_str(json_object_get(e, "configMapRef"), "name"));
            want_ref(ac->refs, "secret", json_str(json_object_get(e, "secretRef"), "name"));
        }
        json_array_foreach(json_path(pod, "spec.volumes"), i, e) {
            want_ref(ac->refs, "configmap", json_str(json_object_get(e, "configMap"), "name"));
            want_ref(ac->refs, "secret", json_str(json_object_get(e, "secret"), "secretName"));
        }
    }
    /* The references are fetched one after another, then the image is checked. */
    int r = fetch_next_ref(ac);
    if (r == 0)
        check_image(ac);
    else if (r < 0)
        action_fail(ac, "CreateContainerConfigError", "cannot reach the API server");
}

static void do_create(podstate_t *ps, json_t *pod, json_t *spec, const char *name, int attempt,
                      const char *infra_id, const char *infra_ip)
{
    do_create_ex(ps, pod, spec, name, attempt, infra_id, infra_ip, 0);
}

/* Whether a container's environment needs the pod's IP, which is known only once the
 * infra container runs. */
static int env_needs_pod_ip(const json_t *spec)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(spec, "env"), i, e) {
        const char *f = json_str(json_path(e, "valueFrom.fieldRef"), "fieldPath");
        if (f && (!strcmp(f, "status.podIP") || !strcmp(f, "status.podIPs")))
            return 1;
    }
    return 0;
}

/* The infra container was just created and its start is on its way: create (not start)
 * the app containers meanwhile, in its network namespace (Docker takes `container:<id>`
 * for a container that is not running yet), so that a pod's start costs the infra
 * container's start and the apps' starts, not their creation as well (bench/podstart.sh).
 * The next sync starts them once the infra container runs, as any container found
 * created. Not for pods with init containers (the apps wait for them), nor for a container
 * whose environment needs the pod's IP; those are created as before. */
static void create_apps_early(podstate_t *ps, json_t *pod, const char *infra_id)
{
    size_t i;
    json_t *c;
    if (json_array_size(json_path(pod, "spec.initContainers")) || md(pod, "deletionTimestamp"))
        return;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        const char *name = json_str(c, "name");
        cstate_t *cs = name ? cstate(ps, name) : NULL;
        if (cs && !cs->reason[0] && !env_needs_pod_ip(c))
            do_create_ex(ps, pod, c, name, 0, infra_id, NULL, 1);
    }
}

/* ---------------------------------------------------------------------------- probes */

static const char *probe_kinds[3] = { "livenessProbe", "readinessProbe", "startupProbe" };

static int probe_int(probe_t *p, const char *f, int def)
{
    json_t *v = json_object_get(p->spec, f);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static void probe_schedule(probe_t *p, int seconds)
{
    struct timeval tv = { seconds, 0 };
    evtimer_add(p->timer, &tv);
}

static void probe_result(probe_t *p, int ok)
{
    cstate_t *cs = p->cs;
    int before = p->result;
    p->call = NULL;
    if (ok) {
        p->fail = 0;
        if (++p->succ >= (p->kind == 1 ? probe_int(p, "successThreshold", 1) : 1))
            p->result = 1;
    } else {
        p->succ = 0;
        if (++p->fail >= probe_int(p, "failureThreshold", 3))
            p->result = 0;
    }
    if (p->kind == 1 && p->result != before) {
        cs->ready = p->result == 1;
        agent_kick(p->ps->a);
    } else if (p->kind == 2 && p->result == 1) {
        cs->started = 1;
        agent_kick(p->ps->a);
        /* Liveness and readiness begin now. */
        for (int k = 0; k < 2; k++)
            if (cs->probes[k])
                probe_schedule(cs->probes[k], probe_int(cs->probes[k], "initialDelaySeconds", 0));
        return;   /* a startup probe stops once it succeeded */
    } else if (p->result == 0 && (p->kind == 0 || p->kind == 2)) {
        log_info("agent: pod %s/%s container %s failed its %s; restarting it", p->ps->ns,
                 p->ps->name, cs->name, probe_kinds[p->kind]);
        cs->kill = 1;
        agent_kick(p->ps->a);
        return;   /* no more probing of this container */
    }
    probe_schedule(p, probe_int(p, "periodSeconds", 10));
}

static void probe_http_done(int status, json_t *body, const char *errstr, void *priv)
{
    probe_t *p = priv;
    probe_result(p, status >= 200 && status < 400);
}

static void exec_inspected(int status, json_t *body, const char *errstr, void *priv)
{
    probe_t *p = priv;
    probe_result(p, status == 200 && json_is_integer(json_object_get(body, "ExitCode")) &&
                        json_integer_value(json_object_get(body, "ExitCode")) == 0 &&
                        !json_is_true(json_object_get(body, "Running")));
}

static void exec_output(const char *data, size_t len, void *priv)
{
}

static void exec_ended(int status, const char *errstr, void *priv)
{
    probe_t *p = priv;
    char path[256];
    if (status != 200 && status != 101) {
        probe_result(p, 0);
        return;
    }
    snprintf(path, sizeof(path), "/exec/%s/json", p->exec_id);
    p->call = docker_request(p->ps->a->docker, "GET", path, NULL, 5000, exec_inspected, p);
    if (!p->call)
        probe_result(p, 0);
}

static void exec_created(int status, json_t *body, const char *errstr, void *priv)
{
    probe_t *p = priv;
    char path[256];
    const char *id = json_str(body, "Id");
    if (status != 201 || !id) {
        probe_result(p, 0);
        return;
    }
    free(p->exec_id);
    p->exec_id = strdup(id);
    snprintf(path, sizeof(path), "/exec/%s/start", id);
    json_t *b = json_pack("{s:b,s:b}", "Detach", 0, "Tty", 0);
    p->call = docker_stream(p->ps->a->docker, "POST", path, b,
                            probe_int(p, "timeoutSeconds", 1) * 1000L, exec_output, exec_ended, p);
    json_decref(b);
    if (!p->call)
        probe_result(p, 0);
}

/* The pod's IP, from its infra container in the cache. */
static const char *infra_ip_of(agent_t *a, const char *uid)
{
    json_t *c;
    const char *id;
    json_object_foreach(a->containers, id, c) {
        const char *u = agent_label(c, LBL_UID), *n = agent_label(c, LBL_NAME);
        if (u && n && !strcmp(u, uid) && !strcmp(n, AGENT_INFRA_NAME) && ctr_running(c)) {
            const char *ip = json_str(json_object_get(c, "NetworkSettings"), "IPAddress");
            if (ip && *ip)
                return ip;
        }
    }
    return NULL;
}

static int probe_port(json_t *pod, const char *cname, json_t *port)
{
    if (json_is_integer(port))
        return (int)json_integer_value(port);
    const char *name = json_string_value(port);
    size_t i, j;
    json_t *c, *p;
    if (name && atoi(name) > 0)
        return atoi(name);
    json_array_foreach(json_path(pod, "spec.containers"), i, c)
        json_array_foreach(json_object_get(c, "ports"), j, p)
            if (name && json_str(p, "name") && !strcmp(json_str(p, "name"), name))
                return (int)json_integer_value(json_object_get(p, "containerPort"));
    (void)cname;
    return 0;
}

static void on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
    probe_t *p = arg;
    agent_t *a = p->ps->a;
    long tmo = probe_int(p, "timeoutSeconds", 1) * 1000L;
    json_t *pod = informer_get(a->pods, p->ps->ns, p->ps->name);
    json_t *h = json_object_get(p->spec, "httpGet"), *t = json_object_get(p->spec, "tcpSocket");
    json_t *ex = json_object_get(p->spec, "exec");
    char url[2048], path[256];
    if (p->call)
        return;
    if (ex) {
        json_t *b = json_pack("{s:O,s:b,s:b}", "Cmd", json_object_get(ex, "command"),
                              "AttachStdout", 1, "AttachStderr", 1);
        snprintf(path, sizeof(path), "/containers/%s/exec", p->cid);
        p->call = docker_request(a->docker, "POST", path, b, 5000, exec_created, p);
        json_decref(b);
    } else if (h || t) {
        const char *ip = infra_ip_of(a, p->ps->uid);
        json_t *src = h ? h : t;
        const char *host = json_str(src, "host");
        int port = probe_port(pod, p->cs->name, json_object_get(src, "port"));
        const char *pth = h ? json_str(h, "path") : NULL;
        if (!ip && !host) {
            probe_result(p, 0);
            return;
        }
        snprintf(url, sizeof(url), "http://%s:%d%s%s", host ? host : ip, port,
                 pth && *pth != '/' ? "/" : "", pth ? pth : "/");
        p->call = docker_probe(a->docker, url, t != NULL, tmo, probe_http_done, p);
    } else {
        probe_result(p, 1);   /* grpc and others: not supported, counted as passing */
        return;
    }
    if (!p->call)
        probe_result(p, 0);
}

/* Make sure the probes of the running container id (newest instance of spec) run. */
static void probes_ensure(podstate_t *ps, cstate_t *cs, json_t *spec, const char *id)
{
    if (!strcmp(cs->probed_id, id))
        return;
    cstate_reset_probes(cs);
    snprintf(cs->probed_id, sizeof(cs->probed_id), "%s", id);
    cs->started = json_object_get(spec, "startupProbe") == NULL;
    cs->ready = json_object_get(spec, "readinessProbe") == NULL;
    for (int k = 0; k < 3; k++) {
        json_t *sp = json_object_get(spec, probe_kinds[k]);
        if (!json_is_object(sp))
            continue;
        probe_t *p = calloc(1, sizeof(*p));
        if (!p)
            continue;
        p->ps = ps;
        p->cs = cs;
        p->kind = k;
        p->spec = json_incref(sp);
        p->cid = strdup(id);
        p->result = k == 1 ? 0 : 1;   /* readiness starts failing, liveness passing */
        p->timer = evtimer_new(ps->a->base, on_probe_timer, p);
        cs->probes[k] = p;
    }
    for (int k = 0; k < 3; k++) {
        probe_t *p = cs->probes[k];
        if (!p)
            continue;
        /* With a startup probe, liveness and readiness wait for it to pass. */
        if (k < 2 && cs->probes[2])
            continue;
        probe_schedule(p, probe_int(p, "initialDelaySeconds", 0));
    }
}

/* ---------------------------------------------------------------------------- status */

static json_t *terminated(json_t *c)
{
    char s[32], f[32];
    int code = ctr_exit_code(c);
    char cid[100];
    ctr_time(c, "StartedAt", s);
    ctr_time(c, "FinishedAt", f);
    snprintf(cid, sizeof(cid), "docker://%s", json_str(c, "Id"));
    const char *reason = json_is_true(json_path(c, "State.OOMKilled")) ? "OOMKilled"
                         : code == 0 ? "Completed" : "Error";
    return json_pack("{s:{s:i,s:s,s:s,s:s,s:s}}", "terminated", "exitCode", code, "reason", reason,
                     "startedAt", s, "finishedAt", f, "containerID", cid);
}

/* Whether an exited container is to be restarted under the pod's restartPolicy. */
static int should_restart(json_t *pod, json_t *c, int init)
{
    const char *rp = json_str(json_object_get(pod, "spec"), "restartPolicy");
    if (!rp)
        rp = "Always";
    if (init)
        return ctr_exit_code(c) != 0 && strcmp(rp, "Never");
    if (!strcmp(rp, "Always"))
        return 1;
    if (!strcmp(rp, "OnFailure"))
        return ctr_exit_code(c) != 0;
    return 0;
}

static json_t *container_status(podstate_t *ps, json_t *pod, json_t *spec, json_t *ctrs, int init,
                                int blocked, int *ready_out, int *running, int *done_ok, int *failed)
{
    const char *name = json_str(spec, "name");
    json_t *n, *p;
    cstate_t *cs = cstate(ps, name);
    char stamp[32], buf[1200];
    ctr_find(ctrs, name, &n, &p);
    json_t *st = json_pack("{s:s,s:s,s:s,s:b,s:b,s:i}", "name", name, "image", json_str(spec, "image"),
                           "imageID", "", "ready", 0, "started", 0, "restartCount",
                           n ? ctr_attempt(n) : 0);
    int ready = 0;
    if (n) {
        char cid[100], iid[200];
        snprintf(cid, sizeof(cid), "docker://%s", json_str(n, "Id"));
        snprintf(iid, sizeof(iid), "docker://%s", json_str(n, "Image") ? json_str(n, "Image") : "");
        json_object_set_new(st, "containerID", json_string(cid));
        json_object_set_new(st, "imageID", json_string(iid));
    }
    if (n && ctr_running(n)) {
        ctr_time(n, "StartedAt", stamp);
        json_object_set_new(st, "state", json_pack("{s:{s:s}}", "running", "startedAt", stamp));
        int started = cs ? cs->started : 1;
        ready = !init && started && (cs ? cs->ready : 1);
        json_object_set_new(st, "started", json_boolean(started));
        *running = 1;
        if (p && ctr_exited(p))
            json_object_set_new(st, "lastState", terminated(p));
    } else if (n && ctr_exited(n)) {
        if (should_restart(pod, n, init)) {
            if (cs && cs->reason[0]) {
                json_object_set_new(st, "state", json_pack("{s:{s:s,s:s}}", "waiting", "reason",
                                                           cs->reason, "message", cs->message));
            } else {
                snprintf(buf, sizeof(buf), "back-off %ds restarting failed container=%s pod=%s_%s(%s)",
                         cs && cs->delay ? cs->delay : BACKOFF_INITIAL_S, name, ps->name, ps->ns, ps->uid);
                json_object_set_new(st, "state", json_pack("{s:{s:s,s:s}}", "waiting", "reason",
                                                           "CrashLoopBackOff", "message", buf));
            }
            json_object_set_new(st, "lastState", terminated(n));
            if (!init)
                *running = 1;   /* restarting counts as running for the phase */
        } else {
            json_object_set_new(st, "state", terminated(n));
            if (p && ctr_exited(p))
                json_object_set_new(st, "lastState", terminated(p));
            if (ctr_exit_code(n) == 0)
                *done_ok = 1;
            else
                *failed = 1;
        }
    } else {
        const char *reason = blocked ? "PodInitializing" : "ContainerCreating";
        if (cs && cs->reason[0]) {
            /* During the retry delay a failed pull shows as ImagePullBackOff. */
            const char *r = cs->reason;
            if (!strcmp(r, "ErrImagePull") && time(NULL) >= cs->until - cs->delay + 2)
                r = "ImagePullBackOff";
            json_object_set_new(st, "state", json_pack("{s:{s:s,s:s}}", "waiting", "reason", r,
                                                       "message", cs->message));
        } else {
            json_object_set_new(st, "state", json_pack("{s:{s:s}}", "waiting", "reason", reason));
        }
        if (p && ctr_exited(p))
            json_object_set_new(st, "lastState", terminated(p));
    }
    json_object_set_new(st, "ready", json_boolean(ready));
    *ready_out = ready;
    return st;
}

static json_t *cond(json_t *pod, const char *type, int status, const char *reason, const char *msg)
{
    char stamp[32];
    size_t i;
    json_t *c;
    const char *st = status ? "True" : "False";
    const char *ltt = NULL;
    json_array_foreach(json_path(pod, "status.conditions"), i, c)
        if (json_str(c, "type") && !strcmp(json_str(c, "type"), type) && json_str(c, "status") &&
            !strcmp(json_str(c, "status"), st))
            ltt = json_str(c, "lastTransitionTime");
    util_rfc3339(time(NULL), stamp);
    json_t *o = json_pack("{s:s,s:s,s:n,s:s}", "type", type, "status", st, "lastProbeTime",
                          "lastTransitionTime", ltt ? ltt : stamp);
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    if (msg)
        json_object_set_new(o, "message", json_string(msg));
    return o;
}

static void status_done(int status, json_t *body, const char *errstr, void *priv)
{
    podstate_t *ps = priv;   /* may be gone: only the agent's podstates are checked */
    (void)ps;
    if (status != 200 && status != 404)
        log_warn("agent: pod status update: %d %s", status, errstr ? errstr : "");
}

static void pod_status(podstate_t *ps, json_t *pod, json_t *ctrs, const char *ip, int init_done,
                       int init_failed)
{
    agent_t *a = ps->a;
    json_t *st = json_object(), *c, *list;
    size_t i;
    int ready = 0, all_ready = 1, any_running = 0, created_all = 1, n_ok = 0, n_failed = 0, n = 0;
    char stamp[32], unready[2048] = "";
    const char *start = json_str(json_object_get(pod, "status"), "startTime");
    util_rfc3339(time(NULL), stamp);

    list = json_array();
    json_array_foreach(json_path(pod, "spec.initContainers"), i, c) {
        int r, run = 0, ok = 0, fail = 0;
        json_array_append_new(list, container_status(ps, pod, c, ctrs, 1, 0, &r, &run, &ok, &fail));
    }
    if (json_array_size(list))
        json_object_set_new(st, "initContainerStatuses", list);
    else
        json_decref(list);
    list = json_array();
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        int run = 0, ok = 0, fail = 0;
        json_t *cst = container_status(ps, pod, c, ctrs, 0, !init_done, &ready, &run, &ok, &fail);
        json_t *state = json_object_get(cst, "state");
        if (json_object_get(state, "waiting") && !json_object_get(cst, "lastState"))
            created_all = 0;
        any_running |= run;
        n_ok += ok;
        n_failed += fail;
        n++;
        if (!ready) {
            all_ready = 0;
            size_t l = strlen(unready);
            snprintf(unready + l, sizeof(unready) - l, "%s%s", l ? " " : "", json_str(c, "name"));
        }
        json_array_append_new(list, cst);
    }
    json_object_set_new(st, "containerStatuses", list);

    const char *phase = "Pending";
    if (init_failed)
        phase = "Failed";
    else if (init_done && created_all) {
        if (any_running)
            phase = "Running";
        else if (n_failed)
            phase = "Failed";
        else if (n_ok == n)
            phase = "Succeeded";
        else
            phase = "Running";
    }
    int finished = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
    json_object_set_new(st, "phase", json_string(phase));
    char msg[2100];
    snprintf(msg, sizeof(msg), "containers with unready status: [%s]", unready);
    json_t *conds = json_array();
    json_array_append_new(conds, cond(pod, "PodReadyToStartContainers", ip != NULL, NULL, NULL));
    json_array_append_new(conds, cond(pod, "Initialized", init_done, init_done ? NULL : "ContainersNotInitialized",
                                      init_done ? NULL : "containers with incomplete status"));
    json_array_append_new(conds, cond(pod, "Ready", all_ready && !finished,
                                      finished ? "PodCompleted" : all_ready ? NULL : "ContainersNotReady",
                                      finished || all_ready ? NULL : msg));
    json_array_append_new(conds, cond(pod, "ContainersReady", all_ready && !finished,
                                      finished ? "PodCompleted" : all_ready ? NULL : "ContainersNotReady",
                                      finished || all_ready ? NULL : msg));
    json_array_append_new(conds, cond(pod, "PodScheduled", 1, NULL, NULL));
    json_object_set_new(st, "conditions", conds);
    json_object_set_new(st, "hostIP", json_string(a->host_ip));
    json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", a->host_ip));
    if (ip) {
        json_object_set_new(st, "podIP", json_string(ip));
        json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", ip));
    } else {
        const char *old = json_str(json_object_get(pod, "status"), "podIP");
        if (old) {
            json_object_set_new(st, "podIP", json_string(old));
            json_object_set(st, "podIPs", json_path(pod, "status.podIPs"));
        }
    }
    json_object_set_new(st, "startTime", json_string(start ? start : stamp));

    /* Compare with what the API holds (only the fields we write). */
    json_t *cur = json_object_get(pod, "status"), *sub = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v)
        if (json_object_get(cur, k))
            json_object_set(sub, k, json_object_get(cur, k));
    int same = json_equal(sub, st);
    json_decref(sub);
    time_t now = time(NULL);
    if (same || (ps->last_status && json_equal(ps->last_status, st) && now - ps->last_status_at < 5)) {
        json_decref(st);
        return;
    }
    json_decref(ps->last_status);
    ps->last_status = json_incref(st);
    ps->last_status_at = now;
    char path[700];
    json_t *patch = json_pack("{s:o}", "status", st);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ps->ns, ps->name);
    apiclient_request(a->api, "PATCH", path, "application/merge-patch+json", patch, status_done, ps);
    json_decref(patch);
}

/* ---------------------------------------------------------------------------- deletion */

static void confirm_done(int status, json_t *body, const char *errstr, void *priv)
{
    action_t *ac = priv;
    if (status == 200 || status == 404 || status == 409) {
        log_info("agent: pod %s/%s is gone", ac->ps->ns, ac->ps->name);
    } else {
        log_warn("agent: confirming deletion of %s/%s: %d %s", ac->ps->ns, ac->ps->name, status,
                 errstr ? errstr : "");
        ac->ps->deleting_api = 0;
    }
    action_end(ac);
}

static int grace_seconds(json_t *pod)
{
    const char *dt = md(pod, "deletionTimestamp");
    json_t *g = json_path(pod, "metadata.deletionGracePeriodSeconds");
    long grace = json_is_integer(g) ? (long)json_integer_value(g)
                 : json_is_integer(json_path(pod, "spec.terminationGracePeriodSeconds"))
                     ? (long)json_integer_value(json_path(pod, "spec.terminationGracePeriodSeconds"))
                     : 30;
    if (grace <= 0)
        return 0;
    time_t end = dt ? util_parse_rfc3339(dt) : -1;
    if (end > 0) {
        long left = (long)(end - time(NULL));
        if (left < grace)
            grace = left < 1 ? 1 : left;
    }
    return (int)grace;
}

static void sync_terminating(podstate_t *ps, json_t *pod, json_t *ctrs)
{
    size_t i;
    json_t *c;
    int apps_running = 0, any = 0;
    int grace = grace_seconds(pod);
    json_array_foreach(ctrs, i, c) {
        const char *n = agent_label(c, LBL_NAME);
        any = 1;
        if (ctr_running(c) && n && strcmp(n, AGENT_INFRA_NAME)) {
            apps_running = 1;
            do_stop(ps, pod, c, grace);
        }
    }
    if (apps_running)
        return;
    json_array_foreach(ctrs, i, c) {
        if (ctr_running(c)) {
            do_stop(ps, pod, c, 0);
            apps_running = 1;
        }
    }
    if (apps_running)
        return;
    if (any) {
        json_array_foreach(ctrs, i, c)
            agent_remove_container(ps->a, json_str(c, "Id"));
        return;
    }
    if (ps->deleting_api)
        return;
    char dir[4096], path[700];
    pod_dir(ps->a, ps->uid, dir, sizeof(dir));
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    action_t *ac = action_new(ps, pod, "");
    if (!ac)
        return;
    ps->deleting_api = 1;
    json_t *opts = json_pack("{s:s,s:s,s:i,s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
                             "gracePeriodSeconds", 0, "preconditions", "uid", ps->uid);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ps->ns, ps->name);
    if (!apiclient_request(ps->a->api, "DELETE", path, NULL, opts, confirm_done, ac)) {
        ps->deleting_api = 0;
        action_end(ac);
    }
    json_decref(opts);
}

/* ---------------------------------------------------------------------------- sync */

/* Can container (newest instance n, exited) be restarted now? Sets the wake-up if not. */
static int backoff_allows(podstate_t *ps, cstate_t *cs, json_t *n)
{
    time_t now = time(NULL);
    time_t started = ctr_time_t(n, "StartedAt"), finished = ctr_time_t(n, "FinishedAt");
    if (finished > 0 && started > 0 && finished - started >= BACKOFF_RESET_S)
        cs->delay = 0;
    if (cs->until > now) {
        podstate_wake_at(ps, cs->until);
        return 0;
    }
    if (cs->delay && finished > 0 && finished + cs->delay > now) {
        cs->until = finished + cs->delay;
        podstate_wake_at(ps, cs->until);
        return 0;
    }
    return 1;
}

/* Remove all but the two newest instances of each container. */
static void prune_old(podstate_t *ps, json_t *ctrs)
{
    size_t i;
    json_t *c, *n, *p;
    json_array_foreach(ctrs, i, c) {
        ctr_find(ctrs, agent_label(c, LBL_NAME), &n, &p);
        if (c != n && c != p && !ctr_running(c))
            agent_remove_container(ps->a, json_str(c, "Id"));
    }
}

static void pod_sync(podstate_t *ps, json_t *pod, json_t *ctrs)
{
    json_t *infra, *infra_prev, *c, *n, *p;
    size_t i;
    const char *ip = NULL, *infra_id = NULL;
    int init_done = 1, init_failed = 0;

    if (md(pod, "deletionTimestamp")) {
        if (!ps->busy)
            sync_terminating(ps, pod, ctrs);
        return;
    }
    ctr_find(ctrs, AGENT_INFRA_NAME, &infra, &infra_prev);
    if (infra && ctr_running(infra)) {
        infra_id = json_str(infra, "Id");
        ip = json_str(json_object_get(infra, "NetworkSettings"), "IPAddress");
        if (ip && !*ip)
            ip = NULL;
    }
    const char *phase = json_str(json_object_get(pod, "status"), "phase");
    int finished = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));

    if (!ps->busy && !finished) {
        if (!infra) {
            podstate_t *q = ps;
            if (time(NULL) >= ps->wake_at || !ps->wake_at)
                do_create(q, pod, NULL, AGENT_INFRA_NAME, 0, NULL, NULL);
            goto status;
        }
        if (!ctr_running(infra)) {
            if (!strcmp(ctr_status(infra), "created")) {
                do_start(ps, pod, infra);
            } else {
                /* The sandbox died (Docker restarted, say): start the pod over. */
                log_info("agent: pod %s/%s: infra container is %s; recreating the pod's containers",
                         ps->ns, ps->name, ctr_status(infra));
                json_array_foreach(ctrs, i, c)
                    agent_remove_container(ps->a, json_str(c, "Id"));
            }
            goto status;
        }
    }
    /* Init containers, in order. */
    json_array_foreach(json_path(pod, "spec.initContainers"), i, c) {
        const char *name = json_str(c, "name");
        cstate_t *cs = cstate(ps, name);
        ctr_find(ctrs, name, &n, &p);
        if (n && ctr_exited(n) && ctr_exit_code(n) == 0)
            continue;
        init_done = 0;
        if (ps->busy || !infra_id || finished || !cs)
            break;
        if (!n) {
            if (!cs->reason[0] || time(NULL) >= cs->until)
                do_create(ps, pod, c, name, 0, infra_id, ip);
            else
                podstate_wake_at(ps, cs->until);
        } else if (!strcmp(ctr_status(n), "created")) {
            do_start(ps, pod, n);
        } else if (ctr_exited(n)) {
            if (!should_restart(pod, n, 1))
                init_failed = 1;
            else if (backoff_allows(ps, cs, n)) {
                set_backoff(cs, time(NULL));
                cs->until = 0;
                do_create(ps, pod, c, name, ctr_attempt(n) + 1, infra_id, ip);
            }
        }
        break;
    }
    /* App containers. */
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        const char *name = json_str(c, "name");
        cstate_t *cs = cstate(ps, name);
        if (!cs)
            continue;
        ctr_find(ctrs, name, &n, &p);
        if (n && ctr_running(n)) {
            probes_ensure(ps, cs, c, json_str(n, "Id"));
            if (cs->kill && !ps->busy) {
                cs->kill = 0;
                cstate_reset_probes(cs);
                snprintf(cs->probed_id, sizeof(cs->probed_id), "%s", json_str(n, "Id"));
                json_t *g = json_path(pod, "spec.terminationGracePeriodSeconds");
                do_stop(ps, pod, n, json_is_integer(g) ? (int)json_integer_value(g) : 30);
            }
            continue;
        }
        if (ps->busy || !init_done || !infra_id || finished)
            continue;
        if (!n) {
            if (!cs->reason[0] || time(NULL) >= cs->until)
                do_create(ps, pod, c, name, 0, infra_id, ip);
            else
                podstate_wake_at(ps, cs->until);
        } else if (!strcmp(ctr_status(n), "created")) {
            do_start(ps, pod, n);
        } else if (ctr_exited(n) && should_restart(pod, n, 0)) {
            if (cs->reason[0] && time(NULL) < cs->until) {
                podstate_wake_at(ps, cs->until);
            } else if (backoff_allows(ps, cs, n)) {
                int keep = cs->delay;
                set_backoff(cs, time(NULL));
                cs->until = 0;
                (void)keep;
                do_create(ps, pod, c, name, ctr_attempt(n) + 1, infra_id, ip);
            }
        }
    }
    if (!ps->busy)
        prune_old(ps, ctrs);
status:
    pod_status(ps, pod, ctrs, ip, init_done, init_failed);
}

void agent_pods_sync(agent_t *a)
{
    json_t *pods, *pod, *c;
    size_t i;
    const char *id;
    podstate_t *ps, **pp;
    if (!informer_has_synced(a->pods) || !a->docker_synced)
        return;
    pods = informer_list(a->pods);
    json_t *uids = json_object();
    for (ps = a->podstates; ps; ps = ps->next)
        ps->seen = 0;
    json_array_foreach(pods, i, pod) {
        const char *uid = md(pod, "uid"), *node = json_str(json_object_get(pod, "spec"), "nodeName");
        if (!uid || !node || strcmp(node, a->node))
            continue;
        json_object_set_new(uids, uid, json_true());
        ps = podstate_get(a, pod);
        if (!ps)
            continue;
        ps->seen = 1;
        json_t *ctrs = pod_ctrs(a, uid);
        pod_sync(ps, pod, ctrs);
        json_decref(ctrs);
    }
    /* Orphans: our containers whose pod does not exist (any more). */
    json_object_foreach(a->containers, id, c) {
        const char *uid = agent_label(c, LBL_UID);
        if (!uid || !json_object_get(uids, uid)) {
            if (!json_object_get(a->removing, id))
                log_info("agent: removing container %.12s of gone pod %s/%s", id,
                         agent_label(c, LBL_NS) ? agent_label(c, LBL_NS) : "",
                         agent_label(c, LBL_POD) ? agent_label(c, LBL_POD) : "");
            agent_remove_container(a, id);
        }
    }
    /* Forget the pods that are gone (once nothing is in flight for them). */
    for (pp = &a->podstates; (ps = *pp);) {
        if (!ps->seen && !ps->busy) {
            char dir[4096];
            pod_dir(a, ps->uid, dir, sizeof(dir));
            nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
            *pp = ps->next;
            podstate_free(ps);
        } else {
            pp = &ps->next;
        }
    }
    json_decref(uids);
    json_decref(pods);
}
