/* policytest.c: see policytest.h.
 *
 * The run: open the client, load the candidate (a policy set over FILE's directory, so it is
 * loaded exactly as the scheduler loads a policy: budget_ms and memory_mb honoured, self_test
 * run) and the live policy (a policy set over --policies), list nodes and pods, then replay
 * twice and compare. The policy sets' chunk names are "@policies/<file name>"; messages about
 * the candidate are given back with that prefix replaced by FILE as the user typed it. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <lua.h>

#include "apiclient.h"
#include "kubeclient.h"
#include "luacluster.h"
#include "luavm.h"
#include "policy.h"
#include "policytest.h"
#include "schedcache.h"
#include "scheduler.h"
#include "util.h"

/* The replay of a run is retried while a pass places something and pods are left waiting
 * (the scheduler retries them with backoff until they fit), at most this many passes. */
#define PT_MAX_PASSES 5

#define PT_USAGE \
    "usage: berth policy test FILE [--scheduler NAME] [--server URL | --kubeconfig PATH]\n" \
    "                         [--context NAME] [-n NS | -A] [--lua DIR] [--policies DIR]\n" \
    "                         [--budget-ms N] [-o json]\n"

enum { PT_LIVE = 0, PT_CANDIDATE = 1 };

/* What one replay made of one pod. */
typedef struct pt_result_s {
    int   outcome;       /* SCHEDULER_* */
    int   status;        /* LUAVM_* of the schedule call */
    char *node;          /* SCHEDULER_PLACED: the node */
    char *message;       /* UNSCHEDULABLE: kube's text; failures: "file:line: ..." */
} pt_result_t;

typedef struct pt_pod_s {
    char        *key;        /* "<ns>/<name>" */
    json_t      *pod;        /* pending copy, spec.nodeName removed (own reference) */
    const char  *current;    /* the node it is on now, or NULL (borrowed from the snapshot) */
    const char  *created;    /* metadata.creationTimestamp, "" if none (borrowed) */
    pt_result_t  run[2];     /* PT_LIVE, PT_CANDIDATE */
} pt_pod_t;

/* A policy set's last load failure, filled by its report callback. */
typedef struct pt_load_s {
    char message[1024];
} pt_load_t;

typedef struct pt_s {
    /* options */
    const char *file, *scheduler, *lib_dir, *policy_dir, *ns;
    int all_ns, json;
    unsigned budget_ms;
    char dir[PATH_MAX];                  /* FILE's directory, "." when it has none */
    char base[POLICY_NAME_MAX];          /* FILE's name */
    char live_name[300];                 /* "scheduler.lua", "schedulers/NAME.lua" */
    /* machinery */
    kubeclient_t *kc;
    struct event_base *evbase;           /* the policy sets want one; never dispatched */
    apiclient_t *client;                 /* behind berth.cluster; never sends (see pt_run) */
    luacluster_t *lua;
    policy_set_t *set[2];
    pt_load_t load[2];
    schedcache_t *cache[2];
    /* the snapshot */
    json_t *nodes, *pods;                /* list bodies (own) */
    json_t *fixed;                       /* key -> pod counted where it is bound (from pods) */
    pt_pod_t *replay;
    size_t n;
    /* a failed queue order, per run: message (own) and LUAVM status */
    char *order_err[2];
    int order_status[2];
} pt_t;

/* ---- helpers ----------------------------------------------------------------------- */

static void pt_report(void *priv, const char *policy, int ok, const char *message)
{
    pt_load_t *l = priv;
    if (!ok)
        snprintf(l->message, sizeof(l->message), "%s", message);
}

/* msg with the candidate's chunk name ("policies/<name>") replaced by FILE as given. Caller
 * frees; NULL when out of memory. */
static char *pt_candidate_msg(const pt_t *t, const char *msg)
{
    char chunk[POLICY_NAME_MAX + 16];
    size_t cl, fl = strlen(t->file), n = 0;
    const char *p;
    char *out, *o;

    snprintf(chunk, sizeof(chunk), "policies/%s", t->base);
    cl = strlen(chunk);
    for (p = msg; (p = strstr(p, chunk)); p += cl)
        n++;
    if (!(out = malloc(strlen(msg) + n * fl + 1)))
        return NULL;
    for (o = out, p = msg; *p;) {
        if (!strncmp(p, chunk, cl)) {
            memcpy(o, t->file, fl);
            o += fl;
            p += cl;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* A message of run `which`, ready to print (caller frees). */
static char *pt_msg(const pt_t *t, int which, const char *msg)
{
    return which == PT_CANDIDATE ? pt_candidate_msg(t, msg ? msg : "") : strdup(msg ? msg : "");
}

/* A file name policy.c accepts: letters, digits, '_', '-', '.', ending in ".lua", not
 * starting with '.'. */
static int pt_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len < 5 || len >= POLICY_NAME_MAX || strcmp(name + len - 4, ".lua") || name[0] == '.')
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return 0;
    return 1;
}

static const char *pt_status_name(const pt_result_t *r)
{
    return r->outcome == SCHEDULER_MALFORMED ? "malformed" : luavm_status_name(r->status);
}

static int pt_failed(const pt_result_t *r)
{
    return r->outcome != SCHEDULER_PLACED && r->outcome != SCHEDULER_UNSCHEDULABLE;
}

static void pt_result_clear(pt_result_t *r)
{
    free(r->node);
    free(r->message);
    r->node = r->message = NULL;
}

/* kube's FailedScheduling message without its preemption part: "0/3 nodes are available:
 * 3 Insufficient cpu". Caller frees. */
static char *pt_short_reason(const char *msg)
{
    const char *cut = strstr(msg, " preemption:");
    size_t len = cut ? (size_t)(cut - msg) : strlen(msg);
    while (len > 0 && (msg[len - 1] == '.' || msg[len - 1] == ' '))
        len--;
    return strndup(msg, len);
}

/* ---- the snapshot ------------------------------------------------------------------ */

static json_t *pt_list(pt_t *t, const char *path, const char *what, char *err, size_t errlen)
{
    long status = 0;
    char e[512] = "";
    json_t *body = kubeclient_json(t->kc, "GET", path, NULL, NULL, &status, e, sizeof(e));
    if (!body) {
        snprintf(err, errlen, "cannot list %s: %s", what, e);
        return NULL;
    }
    if (status != 200 || !json_is_array(json_object_get(body, "items"))) {
        snprintf(err, errlen, "cannot list %s: %s", what, kubeclient_status_message(body, status));
        json_decref(body);
        return NULL;
    }
    return body;
}

static int pt_pod_cmp(const void *a, const void *b)
{
    const pt_pod_t *x = a, *y = b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->key, y->key);
}

/* Sort the listed pods into the replayed ones (this scheduler's, in the namespaces asked
 * for, not terminating, not finished) and the fixed ones (every other pod bound to a node
 * and not finished). Returns 0, or -1 when out of memory. */
static int pt_snapshot(pt_t *t)
{
    json_t *items = json_object_get(t->pods, "items"), *pod;
    size_t i, cap = json_array_size(items);

    t->fixed = json_object();
    t->replay = calloc(cap ? cap : 1, sizeof(*t->replay));
    if (!t->fixed || !t->replay)
        return -1;
    json_array_foreach(items, i, pod) {
        const char *ns = json_str(json_object_get(pod, "metadata"), "namespace");
        const char *name = json_str(json_object_get(pod, "metadata"), "name");
        const char *node = json_str(json_object_get(pod, "spec"), "nodeName");
        const char *sched = json_str(json_object_get(pod, "spec"), "schedulerName");
        const char *phase = json_str(json_object_get(pod, "status"), "phase");
        char key[600];
        if (!ns || !name)
            continue;
        if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
            continue;                              /* finished: holds nothing */
        if (node && !*node)
            node = NULL;
        if (!sched || !*sched)
            sched = SCHEDULER_DEFAULT_NAME;
        snprintf(key, sizeof(key), "%s/%s", ns, name);
        if (!strcmp(sched, t->scheduler) && (t->all_ns || !strcmp(ns, t->ns)) &&
            !json_path(pod, "metadata.deletionTimestamp")) {
            pt_pod_t *r = &t->replay[t->n++];   /* counted now: pt_free frees a half-made one */
            const char *created = json_str(json_object_get(pod, "metadata"), "creationTimestamp");
            if (!(r->key = strdup(key)) || !(r->pod = json_deep_copy(pod)))
                return -1;
            json_object_del(json_object_get(r->pod, "spec"), "nodeName");
            r->current = node;
            r->created = created ? created : "";
        } else if (node) {
            json_object_set(t->fixed, key, pod);
        }
    }
    qsort(t->replay, t->n, sizeof(*t->replay), pt_pod_cmp);
    return 0;
}

/* ---- one replay -------------------------------------------------------------------- */

/* Replay every pod through p, in the queue order of order_p (NULL: creation order), on a
 * fresh cache holding every node and the fixed pods. Pods it places count on their node
 * for the pods after them (as the scheduler assumes them); pods left unschedulable are
 * tried again in further passes while a pass places something. Nothing is sent: the
 * berth.cluster actions of each call are dropped. Returns 0, or -1 when out of memory. */
static int pt_run(pt_t *t, int which, policy_t *p, policy_t *order_p)
{
    schedcache_t *sc = t->cache[which];
    json_t *pod;
    const char *key;
    size_t i, *perm = calloc(t->n ? t->n : 1, sizeof(*perm));
    unsigned char *waiting = calloc(t->n ? t->n : 1, 1);
    scheduler_decision_t *d = malloc(sizeof(*d));
    int rc = -1;

    if (!perm || !waiting || !d)
        goto out;
    json_array_foreach(json_object_get(t->nodes, "items"), i, pod)
        schedcache_node_set(sc, pod);
    json_object_foreach(t->fixed, key, pod)
        schedcache_pod_set(sc, key, pod);
    for (i = 0; i < t->n; i++) {
        perm[i] = i;
        waiting[i] = 1;
    }
    if (order_p && t->n >= 2 && policy_has_hook(order_p, "order")) {
        const char **keys = calloc(t->n, sizeof(*keys));
        json_t **pods = calloc(t->n, sizeof(*pods));
        char err[1024];
        int st = LUAVM_OK;
        if (!keys || !pods) {
            free(keys);
            free(pods);
            goto out;
        }
        for (i = 0; i < t->n; i++) {
            keys[i] = t->replay[i].key;
            pods[i] = t->replay[i].pod;
        }
        if (scheduler_order_pods(order_p, sc, keys, pods, t->n, perm, &st, err, sizeof(err)) != 0) {
            /* As the scheduler does: arrival (here creation) order. The failure is the
             * candidate's only when the order is its own. */
            int owner = order_p == p ? which : PT_LIVE;
            for (i = 0; i < t->n; i++)
                perm[i] = i;
            if (!t->order_err[owner]) {
                t->order_status[owner] = st;
                t->order_err[owner] = pt_msg(t, owner, err);
            }
        }
        free(keys);
        free(pods);
    }
    for (int pass = 0; pass < PT_MAX_PASSES; pass++) {
        int placed = 0, left = 0;
        for (i = 0; i < t->n; i++) {
            pt_pod_t *r = &t->replay[perm[i]];
            pt_result_t *res = &r->run[which];
            if (!waiting[perm[i]])
                continue;
            scheduler_decide_pod(p, sc, t->lua, 0, r->key, r->pod, 0, d);
            pt_result_clear(res);
            res->outcome = d->outcome;
            res->status = d->status;
            if (d->outcome == SCHEDULER_PLACED) {
                if (!(res->node = strdup(d->node)))
                    goto out;
                schedcache_assume(sc, r->key, r->pod, d->node);
                waiting[perm[i]] = 0;
                placed++;
                continue;
            }
            if (!(res->message = pt_msg(t, which, d->message)))
                goto out;
            if (d->outcome == SCHEDULER_UNSCHEDULABLE)
                left++;
            else
                waiting[perm[i]] = 0;      /* a policy failure is not retried here */
        }
        if (!placed || !left)
            break;
    }
    rc = 0;
out:
    free(perm);
    free(waiting);
    free(d);
    return rc;
}

/* ---- the report -------------------------------------------------------------------- */

typedef struct pt_summary_s {
    size_t moved, unschedulable, schedulable, unchanged, errors, overruns, live_errors,
           live_vs_current;
} pt_summary_t;

/* The change from the live replay to the candidate's for one pod. */
static const char *pt_change(const pt_pod_t *r)
{
    const pt_result_t *l = &r->run[PT_LIVE], *c = &r->run[PT_CANDIDATE];
    if (pt_failed(c))
        return "error";
    if (pt_failed(l))
        return "live-error";
    if (l->outcome == SCHEDULER_PLACED && c->outcome == SCHEDULER_PLACED)
        return strcmp(l->node, c->node) ? "moved" : "unchanged";
    if (l->outcome == SCHEDULER_PLACED)
        return "newly-unschedulable";
    if (c->outcome == SCHEDULER_PLACED)
        return "newly-schedulable";
    return "unchanged";
}

static void pt_count(const pt_t *t, pt_summary_t *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < t->n; i++) {
        const pt_pod_t *r = &t->replay[i];
        const pt_result_t *l = &r->run[PT_LIVE], *c = &r->run[PT_CANDIDATE];
        const char *ch = pt_change(r);
        if (!strcmp(ch, "error")) {
            s->errors++;
            if (c->status == LUAVM_TIMEOUT || c->status == LUAVM_NOMEM)
                s->overruns++;
        } else if (!strcmp(ch, "moved")) {
            s->moved++;
        } else if (!strcmp(ch, "newly-unschedulable")) {
            s->unschedulable++;
        } else if (!strcmp(ch, "newly-schedulable")) {
            s->schedulable++;
        } else if (!strcmp(ch, "unchanged")) {
            s->unchanged++;
        }
        if (pt_failed(l)) {
            s->live_errors++;
        } else {
            const char *now = l->outcome == SCHEDULER_PLACED ? l->node : NULL;
            if ((now == NULL) != (r->current == NULL) || (now && strcmp(now, r->current)))
                s->live_vs_current++;
        }
    }
    if (t->order_err[PT_CANDIDATE]) {
        s->errors++;
        if (t->order_status[PT_CANDIDATE] == LUAVM_TIMEOUT ||
            t->order_status[PT_CANDIDATE] == LUAVM_NOMEM)
            s->overruns++;
    }
    if (t->order_err[PT_LIVE])
        s->live_errors++;
}

/* "node-2", "unschedulable", "error" for the left side of a line. */
static const char *pt_from(const pt_result_t *r)
{
    return r->outcome == SCHEDULER_PLACED ? r->node
         : r->outcome == SCHEDULER_UNSCHEDULABLE ? "unschedulable" : "error";
}

static void pt_print_text(const pt_t *t)
{
    pt_summary_t s;
    for (size_t i = 0; i < t->n; i++) {
        const pt_pod_t *r = &t->replay[i];
        const pt_result_t *l = &r->run[PT_LIVE], *c = &r->run[PT_CANDIDATE];
        const char *ch = pt_change(r);
        if (!strcmp(ch, "unchanged"))
            continue;
        if (!strcmp(ch, "error")) {
            printf("%s: %s -> error (%s): %s\n", r->key, pt_from(l), pt_status_name(c),
                   c->message ? c->message : "");
            continue;
        }
        if (!strcmp(ch, "live-error")) {
            printf("%s: error in the live policy (%s): %s -> %s\n", r->key, pt_status_name(l),
                   l->message ? l->message : "", pt_from(c));
            continue;
        }
        if (c->outcome == SCHEDULER_UNSCHEDULABLE) {
            char *why = pt_short_reason(c->message ? c->message : "");
            printf("%s: %s -> unschedulable (%s)\n", r->key, pt_from(l), why ? why : "");
            free(why);
        } else {
            printf("%s: %s -> %s\n", r->key, pt_from(l), pt_from(c));
        }
    }
    for (int w = PT_CANDIDATE; w >= PT_LIVE; w--)
        if (t->order_err[w])
            printf("queue order: the %s order hook failed (%s): %s; replayed in creation "
                   "order\n", w == PT_LIVE ? "live policy's" : "candidate's",
                   t->order_status[w] == LUAVM_OK ? "malformed" : luavm_status_name(t->order_status[w]),
                   t->order_err[w]);
    pt_count(t, &s);
    printf("replayed %zu pods of %s on %zu nodes: live policies/%s (in %s), candidate %s\n",
           t->n, t->scheduler, json_array_size(json_object_get(t->nodes, "items")), t->live_name,
           t->policy_dir, t->file);
    printf("summary: %zu moved, %zu newly unschedulable, %zu newly schedulable, %zu unchanged, "
           "%zu errors (%zu budget overruns)", s.moved, s.unschedulable, s.schedulable,
           s.unchanged, s.errors, s.overruns);
    if (s.live_errors)
        printf(", %zu live policy errors", s.live_errors);
    printf("\n");
    if (s.live_vs_current)
        printf("note: the live policy's replay places %zu pods elsewhere than they are now\n",
               s.live_vs_current);
}

static json_t *pt_result_json(const pt_result_t *r)
{
    if (r->outcome == SCHEDULER_PLACED)
        return json_pack("{s:s}", "node", r->node);
    if (r->outcome == SCHEDULER_UNSCHEDULABLE)
        return json_pack("{s:s}", "unschedulable", r->message ? r->message : "");
    return json_pack("{s:s,s:s}", "error", r->message ? r->message : "", "status", pt_status_name(r));
}

static void pt_print_json(const pt_t *t)
{
    pt_summary_t s;
    json_t *out = json_object(), *pods = json_array(), *errors = json_array();
    pt_count(t, &s);
    for (size_t i = 0; i < t->n; i++) {
        const pt_pod_t *r = &t->replay[i];
        const char *ch = pt_change(r);
        json_array_append_new(pods, json_pack("{s:s,s:s?,s:o,s:o,s:s}", "pod", r->key,
                                              "current", r->current,
                                              "live", pt_result_json(&r->run[PT_LIVE]),
                                              "candidate", pt_result_json(&r->run[PT_CANDIDATE]),
                                              "change", ch));
        if (!strcmp(ch, "error"))
            json_array_append_new(errors, json_pack("{s:s,s:s,s:s}", "pod", r->key, "status",
                                                    pt_status_name(&r->run[PT_CANDIDATE]),
                                                    "message", r->run[PT_CANDIDATE].message ?
                                                    r->run[PT_CANDIDATE].message : ""));
    }
    if (t->order_err[PT_CANDIDATE])
        json_array_append_new(errors, json_pack("{s:s,s:s,s:s}", "hook", "order", "status",
                                                t->order_status[PT_CANDIDATE] == LUAVM_OK ? "malformed" :
                                                luavm_status_name(t->order_status[PT_CANDIDATE]),
                                                "message", t->order_err[PT_CANDIDATE]));
    json_object_set_new(out, "scheduler", json_string(t->scheduler));
    json_object_set_new(out, "live", json_sprintf("%s/%s", t->policy_dir, t->live_name));
    json_object_set_new(out, "candidate", json_string(t->file));
    json_object_set_new(out, "nodes", json_integer((json_int_t)json_array_size(json_object_get(t->nodes, "items"))));
    json_object_set_new(out, "pods", pods);
    json_object_set_new(out, "errors", errors);
    json_object_set_new(out, "summary",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
                                  "pods", (json_int_t)t->n, "moved", (json_int_t)s.moved,
                                  "newly_unschedulable", (json_int_t)s.unschedulable,
                                  "newly_schedulable", (json_int_t)s.schedulable,
                                  "unchanged", (json_int_t)s.unchanged,
                                  "errors", (json_int_t)s.errors,
                                  "budget_overruns", (json_int_t)s.overruns,
                                  "live_errors", (json_int_t)s.live_errors,
                                  "live_differs_from_current", (json_int_t)s.live_vs_current));
    json_dumpf(out, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(out);
}

/* ---- setup and teardown ------------------------------------------------------------ */

static void pt_free(pt_t *t)
{
    /* The VMs hold per-VM state of the cluster module and of the caches: sets first. */
    for (int w = 0; w < 2; w++)
        policy_set_free(t->set[w]);
    luacluster_free(t->lua);
    if (t->client)
        apiclient_free(t->client);
    for (int w = 0; w < 2; w++) {
        schedcache_free(t->cache[w]);
        free(t->order_err[w]);
    }
    for (size_t i = 0; i < t->n; i++) {
        free(t->replay[i].key);
        json_decref(t->replay[i].pod);
        pt_result_clear(&t->replay[i].run[0]);
        pt_result_clear(&t->replay[i].run[1]);
    }
    free(t->replay);
    json_decref(t->fixed);
    json_decref(t->nodes);
    json_decref(t->pods);
    if (t->evbase)
        event_base_free(t->evbase);
    kubeclient_free(t->kc);
}

/* A policy set over dir (no file watching) whose VMs get berth.cluster, as the scheduler's. */
static policy_set_t *pt_set(pt_t *t, int which, const char *dir, char *err, size_t errlen)
{
    policy_opts_t o;
    memset(&o, 0, sizeof(o));
    o.budget_ms = t->budget_ms;
    o.no_watch = 1;
    o.report = pt_report;
    o.priv = &t->load[which];
    o.setup = luacluster_policy_setup;
    o.setup_priv = t->lua;
    return policy_set_create(t->evbase, dir, t->lib_dir, &o, err, errlen);
}

int policytest_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "scheduler", required_argument, NULL, 'S' },
        { "server", required_argument, NULL, 's' },
        { "kubeconfig", required_argument, NULL, 'k' },
        { "context", required_argument, NULL, 'c' },
        { "namespace", required_argument, NULL, 'n' },
        { "all-namespaces", no_argument, NULL, 'A' },
        { "lua", required_argument, NULL, 'l' },
        { "policies", required_argument, NULL, 'p' },
        { "budget-ms", required_argument, NULL, 'b' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char ldir[PATH_MAX], pdir[PATH_MAX], err[1024] = "";
    kubeclient_opts_t ko;
    pt_t t;
    policy_t *live, *cand, *order_p[2];
    int c, rc = 1;
    char *msg;

    memset(&t, 0, sizeof(t));
    memset(&ko, 0, sizeof(ko));
    scheduler_default_dir("lua", ldir, sizeof(ldir));
    scheduler_default_dir("policies", pdir, sizeof(pdir));
    t.lib_dir = ldir;
    t.policy_dir = pdir;
    t.scheduler = SCHEDULER_DEFAULT_NAME;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:Ao:h", opts, NULL)) != -1) {
        switch (c) {
        case 'S': t.scheduler = optarg; break;
        case 's': ko.server = optarg; break;
        case 'k': ko.kubeconfig = optarg; break;
        case 'c': ko.context = optarg; break;
        case 'n': t.ns = optarg; break;
        case 'A': t.all_ns = 1; break;
        case 'l': t.lib_dir = optarg; break;
        case 'p': t.policy_dir = optarg; break;
        case 'b': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > POLICY_MAX_BUDGET_MS) {
                fprintf(stderr, "berth policy test: --budget-ms must be 1..%u\n",
                        POLICY_MAX_BUDGET_MS);
                return 2;
            }
            t.budget_ms = (unsigned)v;
            break;
        }
        case 'o':
            if (strcmp(optarg, "json")) {
                fprintf(stderr, "berth policy test: -o: only json is supported\n");
                return 2;
            }
            t.json = 1;
            break;
        case 'h':
            printf(PT_USAGE
                   "Replay the cluster's pods of one scheduler through the candidate policy FILE\n"
                   "and through the live one, without binding anything, and print the pods\n"
                   "they place differently (docs/policies.md, \"Dry run: berth policy test\").\n");
            return 0;
        default:
            fprintf(stderr, PT_USAGE);
            return 2;
        }
    }
    if (optind != argc - 1 || (t.ns && t.all_ns) || (ko.server && ko.kubeconfig)) {
        fprintf(stderr, PT_USAGE);
        return 2;
    }
    t.file = argv[optind];
    if (!*t.scheduler)
        t.scheduler = SCHEDULER_DEFAULT_NAME;
    if (scheduler_policy_name(t.scheduler, t.live_name, sizeof(t.live_name)) != 0) {
        fprintf(stderr, "berth policy test: --scheduler %s: not a name a policy file can have\n",
                t.scheduler);
        return 2;
    }
    {
        const char *slash = strrchr(t.file, '/');
        const char *name = slash ? slash + 1 : t.file;
        if (!pt_name_ok(name)) {
            fprintf(stderr, "berth policy test: %s: a policy file is named NAME.lua (letters, "
                    "digits, '_', '-', '.')\n", t.file);
            return 1;
        }
        snprintf(t.base, sizeof(t.base), "%s", name);
        if (!slash)
            snprintf(t.dir, sizeof(t.dir), ".");
        else if (slash == t.file)
            snprintf(t.dir, sizeof(t.dir), "/");
        else
            snprintf(t.dir, sizeof(t.dir), "%.*s", (int)(slash - t.file), t.file);
    }

    ko.namespace_ = t.ns;
    if (!(t.kc = kubeclient_open(&ko, err, sizeof(err)))) {
        fprintf(stderr, "berth policy test: %s\n", err);
        goto out;
    }
    if (!t.all_ns && !t.ns)
        t.ns = kubeclient_namespace(t.kc);
    /* berth.cluster needs a client to exist; actions are always dropped, so it never sends
     * (and it would only speak plain http). */
    if (!(t.evbase = event_base_new()) ||
        (!(t.client = apiclient_create(t.evbase, kubeclient_server(t.kc))) &&
         !(t.client = apiclient_create(t.evbase, "http://127.0.0.1:6443"))) ||
        !(t.lua = luacluster_create(t.client, SCHEDULER_DEFAULT_NAME)) ||
        !(t.cache[0] = schedcache_create()) || !(t.cache[1] = schedcache_create())) {
        fprintf(stderr, "berth policy test: out of memory\n");
        goto out;
    }

    /* The candidate first: a broken one is reported without touching the cluster. */
    if (!(t.set[PT_CANDIDATE] = pt_set(&t, PT_CANDIDATE, t.dir, err, sizeof(err)))) {
        fprintf(stderr, "berth policy test: %s: %s\n", t.file, err);
        goto out;
    }
    if (!(cand = policy_get(t.set[PT_CANDIDATE], t.base))) {
        snprintf(err, sizeof(err), "policies/%s: cannot load", t.base);
        msg = pt_candidate_msg(&t, t.load[PT_CANDIDATE].message[0] ?
                               t.load[PT_CANDIDATE].message : err);
        fprintf(stderr, "berth policy test: the candidate failed to load: %s\n", msg ? msg : "");
        free(msg);
        goto out;
    }
    if (!(t.set[PT_LIVE] = pt_set(&t, PT_LIVE, t.policy_dir, err, sizeof(err)))) {
        fprintf(stderr, "berth policy test: %s\n", err);
        goto out;
    }
    if (!(live = policy_get(t.set[PT_LIVE], t.live_name))) {
        fprintf(stderr, "berth policy test: the live policy of %s (%s/%s) failed to load: %s\n",
                t.scheduler, t.policy_dir, t.live_name, t.load[PT_LIVE].message);
        goto out;
    }
    /* The queue order is the default policy's, for every scheduler (kube's QueueSort is one
     * for all profiles): the run's own policy for default-scheduler, else the live
     * scheduler.lua in both runs (creation order if it does not load). */
    if (!strcmp(t.live_name, "scheduler.lua")) {
        order_p[PT_LIVE] = live;
        order_p[PT_CANDIDATE] = cand;
    } else {
        order_p[PT_LIVE] = order_p[PT_CANDIDATE] = policy_get(t.set[PT_LIVE], "scheduler.lua");
    }

    if (!(t.nodes = pt_list(&t, "/api/v1/nodes", "nodes", err, sizeof(err))) ||
        !(t.pods = pt_list(&t, "/api/v1/pods", "pods", err, sizeof(err)))) {
        fprintf(stderr, "berth policy test: %s\n", err);
        goto out;
    }
    if (pt_snapshot(&t) != 0 || pt_run(&t, PT_LIVE, live, order_p[PT_LIVE]) != 0 ||
        pt_run(&t, PT_CANDIDATE, cand, order_p[PT_CANDIDATE]) != 0) {
        fprintf(stderr, "berth policy test: out of memory\n");
        goto out;
    }
    if (t.json)
        pt_print_json(&t);
    else
        pt_print_text(&t);
    rc = 0;
out:
    pt_free(&t);
    return rc;
}
