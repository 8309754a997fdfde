/* policy.c: see policy.h. A set is a list of policies (one per file asked for) and a list of
 * watched directories; one inotify fd per set, read by a persistent libevent event; one
 * debounce timer per set, re-armed by every relevant event, that reloads the policies marked
 * dirty when it finally fires. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "luavm.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"

#define POLICY_WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_DELETE | \
                           IN_MOVED_FROM | IN_ONLYDIR)

#define POLICY_STR_(x) #x
#define POLICY_STR(x)  POLICY_STR_(x)

#define M_RELOADS  "berth_policy_reloads_total"
#define M_FAILURES "berth_policy_call_failures_total"

/* What stat() said about a file at the last load attempt: a never-loaded policy is retried
 * by policy_get() only when this changes, so a broken file is not recompiled per decision. */
typedef struct policy_fileid_s {
    int       exists;
    dev_t     dev;
    ino_t     ino;
    off_t     size;
    long long mtime_ns;
} policy_fileid_t;

struct policy_s {
    policy_t        *next;
    policy_set_t    *set;
    char             name[POLICY_NAME_MAX];   /* "x.lua" or "sub/x.lua" */
    char             subdir[POLICY_NAME_MAX]; /* "" or "sub" */
    luavm_t         *vm;                      /* last good version; NULL before the first */
    int              no_jit;                  /* this version's VM was abandoned once: it
                                               * runs interpreted until the file changes */
    unsigned         budget_ms;               /* of vm */
    size_t           mem_limit;               /* of vm */
    int              dirty;                   /* an inotify event named the file */
    int              missing_reported;        /* deletion already reported for this vm */
    policy_fileid_t  tried;                   /* file at the last failed attempt */
    int              have_tried;
    policy_stats_t   stats;
    char             errmsg[512];
};

typedef struct policy_watch_s {
    struct policy_watch_s *next;
    int  wd;
    char subdir[POLICY_NAME_MAX];             /* "" for the top directory */
} policy_watch_t;

struct policy_set_s {
    struct event_base *base;
    char              *dir;
    char              *lib_dir;
    policy_opts_t      opts;
    int                ifd;                   /* inotify, -1 with no_watch */
    struct event      *iev;
    struct event      *debounce;
    policy_watch_t    *watches;
    policy_t          *policies;
    unsigned           npolicies;             /* bounded by POLICY_SET_MAX */
};

/* ---------------------------------------------------------------------------------------
 * Helpers */

static void policy_copy(char *dst, size_t dstlen, const char *src)
{
    if (dstlen == 0)
        return;
    snprintf(dst, dstlen, "%s", src ? src : "");
}

static void policy_report(policy_t *p, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void policy_report(policy_t *p, int ok, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->set->opts.report)
        p->set->opts.report(p->set->opts.priv, p->name, ok, msg);
}

static void policy_metric(const char *metric, const policy_t *p, const char *key,
                          const char *value)
{
    char labels[POLICY_NAME_MAX + 64];
    /* Names are restricted to [A-Za-z0-9_.-/] by policy_name_ok, so no escaping is needed. */
    if (key)
        snprintf(labels, sizeof labels, "policy=\"%s\",%s=\"%s\"", p->name, key, value);
    else
        snprintf(labels, sizeof labels, "policy=\"%s\"", p->name);
    metrics_add(metric, labels, 1);
}

/* A relative name: "x.lua" or "sub/x.lua", letters, digits, '_', '-', '.', no component
 * starting with '.', ending in ".lua". Keeps paths inside the directory and labels clean. */
static int policy_name_ok(const char *name)
{
    size_t len = strlen(name), slashes = 0;
    const char *comp = name;

    if (len < 5 || len >= POLICY_NAME_MAX || strcmp(name + len - 4, ".lua") != 0)
        return 0;
    for (const char *c = name; *c; c++) {
        if (c == comp && (*c == '.' || *c == '/'))
            return 0;
        if (*c == '/') {
            if (++slashes > 1)
                return 0;
            comp = c + 1;
            continue;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return 0;
    }
    return 1;
}

static void policy_fileid(const char *path, policy_fileid_t *id)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (stat(path, &st) != 0)
        return;
    id->exists = 1;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static int policy_fileid_same(const policy_fileid_t *a, const policy_fileid_t *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* ---------------------------------------------------------------------------------------
 * Loading one version */

/* Read budget_ms and memory_mb from the table the policy returned, clamped to the limits.
 * Returns 0, or -1 with msg filled when a field is present but not a number. */
static int policy_read_limits(luavm_t *vm, const char *chunk, unsigned *budget_ms,
                              size_t *mem_bytes, char *msg, size_t msglen)
{
    static const char *const fields[2] = { "budget_ms", "memory_mb" };
    for (int i = 0; i < 2; i++) {
        double v = 0;
        int type = luavm_policy_field(vm, fields[i], &v);
        if (type == LUA_TNIL)
            continue;
        if (type != LUA_TNUMBER) {
            snprintf(msg, msglen, "%s: %s must be a number (got a %s)", chunk, fields[i],
                     lua_typename(luavm_state(vm), type));
            return -1;
        }
        unsigned max = i == 0 ? POLICY_MAX_BUDGET_MS : POLICY_MAX_MEMORY_MB;
        unsigned u = v != v || v < 1 ? 1 : v > max ? max : (unsigned)v;
        if (i == 0)
            *budget_ms = u;
        else
            *mem_bytes = (size_t)u * 1024 * 1024;
    }
    return 0;
}

/* A fresh VM with the policy loaded and its limits applied, from the file path or (src not
 * NULL) from src; NULL with msg filled (and the luavm status in *status) on failure.
 * BERTH_POLICY_JIT=off in the environment runs every policy interpreted. */
static luavm_t *policy_vm_make(policy_t *p, const char *path, const char *src, size_t srclen,
                               const char *chunk, unsigned budget_ms, size_t mem, int no_jit,
                               int *status, char *msg, size_t msglen)
{
    const char *env = getenv("BERTH_POLICY_JIT");
    luavm_opts_t o = { .lib_dir = p->set->lib_dir, .budget_ms = budget_ms,
                       .mem_limit_bytes = mem,
                       .no_jit = no_jit || (env && !strcmp(env, "off")) };
    luavm_t *vm = luavm_create(&o, msg, msglen);

    if (vm == NULL) {
        *status = LUAVM_ERROR;
        return NULL;
    }
    if (p->set->opts.setup) {
        char why[512] = "";
        if (p->set->opts.setup(p->set->opts.setup_priv, p->name, vm, why, sizeof why) != 0) {
            snprintf(msg, msglen, "policies/%s: setup failed: %s", p->name,
                     why[0] ? why : "(no reason given)");
            *status = LUAVM_ERROR;
            luavm_free(vm);
            return NULL;
        }
    }
    *status = src ? luavm_load_buffer(vm, src, srclen, chunk, msg, msglen)
                  : luavm_load_file(vm, path, chunk, msg, msglen);
    if (*status != LUAVM_OK) {
        luavm_free(vm);
        return NULL;
    }
    return vm;
}

static luavm_t *policy_vm_load(policy_t *p, const char *path, const char *chunk,
                               unsigned budget_ms, size_t mem, int *status,
                               char *msg, size_t msglen)
{
    return policy_vm_make(p, path, NULL, 0, chunk, budget_ms, mem, 0, status, msg, msglen);
}

/* The last call overran inside JIT-compiled code and luavm abandoned its VM (luavm.h).
 * Build the same version again from the source it had, with the same limits and the JIT
 * off, so that if it overruns again the hook stops it and the VM survives. If even that
 * fails the policy has no version until policy_get loads the file again. */
static void policy_rebuild(policy_t *p)
{
    luavm_t *dead = p->vm, *vm;
    size_t len = 0;
    const char *src = luavm_source(dead, &len);
    char chunk[POLICY_NAME_MAX + 16], msg[768] = "no source kept";
    int st = LUAVM_ERROR;

    snprintf(chunk, sizeof chunk, "@policies/%s", p->name);
    vm = src ? policy_vm_make(p, NULL, src, len, chunk, p->budget_ms, p->mem_limit, 1, &st,
                              msg, sizeof msg)
             : NULL;
    p->stats.vm_discards++;
    policy_metric("berth_policy_vm_discards_total", p, NULL, NULL);
    if (vm == NULL) {
        log_error("policies/%s: a call overran inside compiled code and its VM was discarded; "
                  "rebuilding it failed (%s): the file will be loaded again", p->name, msg);
        p->vm = NULL;
        p->have_tried = 0;
    } else {
        log_warn("policies/%s: a call overran inside compiled code and its VM was discarded; "
                 "version %u runs again, interpreted (the JIT is off for it until the file "
                 "changes)", p->name, p->stats.version);
        p->vm = vm;
        p->no_jit = 1;
    }
    luavm_free(dead);
}

/* Build, load and self-test a new version of p. Returns the VM (its limits in *budget_ms and
 * *mem) or NULL with msg filled: "<luavm message> [stage status]". */
static luavm_t *policy_build(policy_t *p, unsigned *budget_ms, size_t *mem,
                             char *msg, size_t msglen)
{
    policy_set_t *set = p->set;
    char path[PATH_MAX], chunk[POLICY_NAME_MAX + 16], err[768];
    unsigned b0 = set->opts.budget_ms, b = b0;
    size_t m0 = set->opts.mem_limit_bytes, m = m0;
    int st;
    luavm_t *vm;

    snprintf(path, sizeof path, "%s/%s", set->dir, p->name);
    snprintf(chunk, sizeof chunk, "@policies/%s", p->name);
    vm = policy_vm_load(p, path, chunk, b0, m0, &st, err, sizeof err);
    if (vm == NULL) {
        snprintf(msg, msglen, "%s [load %s]", err, luavm_status_name(st));
        return NULL;
    }
    if (policy_read_limits(vm, chunk + 1, &b, &m, err, sizeof err) != 0) {
        snprintf(msg, msglen, "%s [load error]", err);
        goto failed;
    }
    if (b != b0 || m != m0) {
        /* luavm fixes the limits at creation: load again in a VM built with the policy's
         * own. The main chunk runs twice, which policies must tolerate (it only builds the
         * table). */
        luavm_free(vm);
        vm = policy_vm_load(p, path, chunk, b, m, &st, err, sizeof err);
        if (vm == NULL) {
            snprintf(msg, msglen, "%s [load %s]", err, luavm_status_name(st));
            return NULL;
        }
        unsigned b2 = b0;
        size_t m2 = m0;
        if (policy_read_limits(vm, chunk + 1, &b2, &m2, err, sizeof err) != 0) {
            snprintf(msg, msglen, "%s [load error]", err);
            goto failed;
        }
        if (b2 != b || m2 != m) {
            /* The file was rewritten between the two loads; its next event reloads it. */
            snprintf(msg, msglen, "%s: file changed while loading [load error]", chunk + 1);
            goto failed;
        }
    }
    if (luavm_has_hook(vm, "self_test")) {
        st = luavm_call(vm, "self_test", 0, 0);
        if (st != LUAVM_OK) {
            snprintf(msg, msglen, "%s [self_test %s]", luavm_errmsg(vm), luavm_status_name(st));
            goto failed;
        }
    }
    *budget_ms = b ? b : LUAVM_DEFAULT_BUDGET_MS;
    *mem = m ? m : LUAVM_DEFAULT_MEM_LIMIT;
    return vm;

failed:
    luavm_free(vm);
    return NULL;
}

/* Try to load a new version of p and swap it in. Reports the result. Returns 0 on success,
 * -1 on failure or deletion (the current version, if any, keeps running). asked is 1 for
 * policy_get and policy_set_reload_all, 0 for inotify: a file that was missing and is still
 * missing is then not reported again (a new subdirectory marks its policies dirty before
 * their files are written). */
static int policy_reload(policy_t *p, int asked)
{
    char path[PATH_MAX], msg[1024];
    policy_fileid_t id;
    unsigned budget_ms = 0;
    size_t mem = 0;
    luavm_t *vm;

    snprintf(path, sizeof path, "%s/%s", p->set->dir, p->name);
    policy_fileid(path, &id);
    if (!id.exists) {
        int again = p->have_tried && !p->tried.exists;
        p->tried = id;
        p->have_tried = 1;
        if (p->vm == NULL && again && !asked)
            return -1;
        if (p->vm == NULL) {
            p->stats.reload_failures++;
            policy_metric(M_RELOADS, p, "result", "failure");
            policy_report(p, 0, "policies/%s: cannot load: %s", p->name, strerror(ENOENT));
        } else if (!p->missing_reported) {
            p->missing_reported = 1;
            p->stats.deletions++;
            policy_metric(M_RELOADS, p, "result", "deleted");
            policy_report(p, 0, "policies/%s: file deleted (kept version %u)", p->name,
                          p->stats.version);
        }
        return -1;
    }
    vm = policy_build(p, &budget_ms, &mem, msg, sizeof msg);
    if (vm == NULL) {
        p->tried = id;
        p->have_tried = 1;
        p->stats.reload_failures++;
        policy_metric(M_RELOADS, p, "result", "failure");
        if (p->vm)
            policy_report(p, 0, "%s (kept version %u)", msg, p->stats.version);
        else
            policy_report(p, 0, "%s", msg);
        return -1;
    }
    /* Calls are synchronous on this thread and we are not inside one (reloads run from loop
     * callbacks or policy_set_reload_all), so nothing is running on the old VM. */
    luavm_free(p->vm);
    p->vm = vm;
    p->no_jit = 0;
    p->budget_ms = budget_ms;
    p->mem_limit = mem;
    p->missing_reported = 0;
    p->have_tried = 0;
    p->stats.loads++;
    p->stats.version++;
    policy_metric(M_RELOADS, p, "result", "success");
    policy_report(p, 1, "policies/%s: loaded version %u (budget %u ms, memory %zu MiB)",
                  p->name, p->stats.version, budget_ms, mem / (1024 * 1024));
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Watching */

static policy_watch_t *policy_watch_by_wd(policy_set_t *set, int wd)
{
    for (policy_watch_t *w = set->watches; w; w = w->next)
        if (w->wd == wd)
            return w;
    return NULL;
}

/* Watch dir/subdir ("" = dir) unless already watched. Returns 0, or -1 with errno set (a
 * missing subdirectory is picked up later by its IN_CREATE in the top directory). */
static int policy_watch_add(policy_set_t *set, const char *subdir)
{
    char path[PATH_MAX];
    policy_watch_t *w;
    int wd;

    if (set->ifd < 0)
        return 0;
    for (w = set->watches; w; w = w->next)
        if (!strcmp(w->subdir, subdir))
            return 0;
    if (*subdir)
        snprintf(path, sizeof path, "%s/%s", set->dir, subdir);
    else
        snprintf(path, sizeof path, "%s", set->dir);
    wd = inotify_add_watch(set->ifd, path, POLICY_WATCH_MASK);
    if (wd < 0)
        return -1;
    /* The same wd comes back when a directory is watched again: update, do not duplicate. */
    w = policy_watch_by_wd(set, wd);
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL) {
            inotify_rm_watch(set->ifd, wd);
            errno = ENOMEM;
            return -1;
        }
        w->wd = wd;
        w->next = set->watches;
        set->watches = w;
    }
    policy_copy(w->subdir, sizeof w->subdir, subdir);
    return 0;
}

static void policy_watch_drop(policy_set_t *set, int wd)
{
    for (policy_watch_t **pw = &set->watches; *pw; pw = &(*pw)->next) {
        if ((*pw)->wd == wd) {
            policy_watch_t *w = *pw;
            *pw = w->next;
            free(w);
            return;
        }
    }
}

static void policy_mark_dirty(policy_set_t *set, const char *name)
{
    int any = 0;
    for (policy_t *p = set->policies; p; p = p->next) {
        if (name == NULL || !strcmp(p->name, name)) {
            p->dirty = 1;
            any = 1;
        }
    }
    if (any) {
        unsigned ms = set->opts.debounce_ms;
        struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
        evtimer_add(set->debounce, &tv);     /* re-arming pushes the deadline back */
    }
}

/* A subdirectory appeared (or moved in): watch it if a policy lives there, and look at its
 * files, whose own events happened before the watch existed. */
static void policy_subdir_appeared(policy_set_t *set, const char *subdir)
{
    int wanted = 0;
    for (policy_t *p = set->policies; p; p = p->next)
        if (!strcmp(p->subdir, subdir))
            wanted = 1;
    if (!wanted || policy_watch_add(set, subdir) != 0)
        return;
    for (policy_t *p = set->policies; p; p = p->next)
        if (!strcmp(p->subdir, subdir))
            policy_mark_dirty(set, p->name);
}

static void policy_on_debounce(evutil_socket_t fd, short what, void *arg)
{
    policy_set_t *set = arg;
    for (policy_t *p = set->policies; p; p = p->next) {
        if (p->dirty) {
            p->dirty = 0;
            policy_reload(p, 0);
        }
    }
}

static void policy_on_inotify(evutil_socket_t fd, short what, void *arg)
{
    policy_set_t *set = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t n = read(set->ifd, buf, sizeof buf);
        if (n <= 0)
            return;                    /* EAGAIN: drained */
        for (char *c = buf; c < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)c;
            c += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                policy_mark_dirty(set, NULL);        /* events lost: look at everything */
                continue;
            }
            policy_watch_t *w = policy_watch_by_wd(set, ev->wd);
            if (w == NULL)
                continue;
            if (ev->mask & IN_IGNORED) {             /* the directory went away */
                policy_watch_drop(set, ev->wd);
                continue;
            }
            if (ev->len == 0 || ev->name[0] == '\0')
                continue;
            if (ev->mask & IN_ISDIR) {
                if (w->subdir[0] == '\0' && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
                    policy_subdir_appeared(set, ev->name);
                continue;
            }
            char name[POLICY_NAME_MAX];
            int len = w->subdir[0]
                ? snprintf(name, sizeof name, "%s/%s", w->subdir, ev->name)
                : snprintf(name, sizeof name, "%s", ev->name);
            if (len > 0 && (size_t)len < sizeof name)
                policy_mark_dirty(set, name);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * The set */

policy_set_t *policy_set_create(struct event_base *base, const char *dir, const char *lib_dir,
                                const policy_opts_t *opts, char *err, size_t errlen)
{
    policy_set_t *set;
    struct stat st;

    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "policies: %s is not a directory", dir ? dir : "(null)");
        return NULL;
    }
    set = calloc(1, sizeof(*set));
    if (set == NULL)
        goto nomem;
    set->base = base;
    set->ifd = -1;
    if (opts)
        set->opts = *opts;
    if (set->opts.debounce_ms == 0)
        set->opts.debounce_ms = POLICY_DEFAULT_DEBOUNCE_MS;
    if (set->opts.budget_ms == 0)
        set->opts.budget_ms = LUAVM_DEFAULT_BUDGET_MS;
    if (set->opts.mem_limit_bytes == 0)
        set->opts.mem_limit_bytes = LUAVM_DEFAULT_MEM_LIMIT;
    set->dir = strdup(dir);
    set->lib_dir = lib_dir ? strdup(lib_dir) : NULL;
    set->debounce = evtimer_new(base, policy_on_debounce, set);
    if (set->dir == NULL || (lib_dir && set->lib_dir == NULL) || set->debounce == NULL)
        goto nomem;
    if (!set->opts.no_watch) {
        set->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (set->ifd < 0) {
            snprintf(err, errlen, "policies: inotify_init1: %s", strerror(errno));
            goto failed;
        }
        set->iev = event_new(base, set->ifd, EV_READ | EV_PERSIST, policy_on_inotify, set);
        if (set->iev == NULL || event_add(set->iev, NULL) != 0)
            goto nomem;
        if (policy_watch_add(set, "") != 0) {
            snprintf(err, errlen, "policies: watch %s: %s", dir, strerror(errno));
            goto failed;
        }
    }
    metrics_describe(M_RELOADS, "counter",
                     "Policy loads and reloads by result (success, failure, deleted).");
    metrics_describe(M_FAILURES, "counter",
                     "Policy hook calls that failed, by reason (error, timeout, nomem, malformed).");
    return set;

nomem:
    snprintf(err, errlen, "policies: out of memory");
failed:
    policy_set_free(set);
    return NULL;
}

void policy_set_free(policy_set_t *set)
{
    if (set == NULL)
        return;
    while (set->policies) {
        policy_t *p = set->policies;
        set->policies = p->next;
        luavm_free(p->vm);
        free(p);
    }
    while (set->watches) {
        policy_watch_t *w = set->watches;
        set->watches = w->next;
        free(w);
    }
    if (set->iev)
        event_free(set->iev);
    if (set->debounce)
        event_free(set->debounce);
    if (set->ifd >= 0)
        close(set->ifd);
    free(set->dir);
    free(set->lib_dir);
    free(set);
}

policy_t *policy_get(policy_set_t *set, const char *name)
{
    policy_t *p;

    if (set == NULL || name == NULL || !policy_name_ok(name))
        return NULL;
    for (p = set->policies; p; p = p->next)
        if (!strcmp(p->name, name))
            break;
    if (p == NULL) {
        /* Names may come from user input (a pod's schedulerName): entries are never freed,
         * so their number is bounded. */
        if (set->npolicies >= POLICY_SET_MAX) {
            if (set->opts.report)
                set->opts.report(set->opts.priv, name, 0,
                                 "policies: too many policies in one set (max "
                                 POLICY_STR(POLICY_SET_MAX) "), not loaded");
            return NULL;
        }
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            return NULL;
        set->npolicies++;
        p->set = set;
        policy_copy(p->name, sizeof p->name, name);
        const char *slash = strchr(name, '/');
        if (slash)
            snprintf(p->subdir, sizeof p->subdir, "%.*s", (int)(slash - name), name);
        p->next = set->policies;
        set->policies = p;
        /* Watch before loading, so a write during the load is not missed. A subdirectory
         * that does not exist yet is watched when it appears. */
        if (p->subdir[0])
            policy_watch_add(set, p->subdir);
        policy_reload(p, 1);
    } else if (p->vm == NULL) {
        /* Never loaded: retry on demand once the file differs from the failed attempt. */
        char path[PATH_MAX];
        policy_fileid_t id;
        snprintf(path, sizeof path, "%s/%s", set->dir, p->name);
        policy_fileid(path, &id);
        if (!p->have_tried || !policy_fileid_same(&id, &p->tried)) {
            if (p->subdir[0])
                policy_watch_add(set, p->subdir);
            policy_reload(p, 1);
        }
    }
    return p->vm ? p : NULL;
}

int policy_set_reload_all(policy_set_t *set)
{
    int failures = 0;

    if (set == NULL)
        return 0;
    /* Re-watch the top directory too, in case it was removed and created again. */
    policy_watch_add(set, "");
    for (policy_t *p = set->policies; p; p = p->next) {
        p->dirty = 0;
        if (p->subdir[0])
            policy_watch_add(set, p->subdir);
        /* A deletion is reported again on an explicit reload: the operator asked. */
        p->missing_reported = 0;
        if (policy_reload(p, 1) != 0)
            failures++;
    }
    return failures;
}

/* ---------------------------------------------------------------------------------------
 * Calls */

lua_State *policy_state(policy_t *p)
{
    return luavm_state(p->vm);
}

static int policy_account(policy_t *p, int st);

int policy_call(policy_t *p, const char *hook, int nargs, int nresults)
{
    return policy_account(p, luavm_call(p->vm, hook, nargs, nresults));
}

int policy_call_function(policy_t *p, const char *name, int nargs, int nresults)
{
    return policy_account(p, luavm_call_function(p->vm, name, nargs, nresults));
}

int policy_require(policy_t *p, const char *module)
{
    if (!p->vm)
        return LUAVM_ERROR;
    return policy_account(p, luavm_require(p->vm, module));
}

int policy_push_table(policy_t *p)
{
    return p->vm ? luavm_push_policy(p->vm) : 0;
}

/* Count a call's result, keep its message and bump the failure metric. */
static int policy_account(policy_t *p, int st)
{
    const char *reason = NULL;

    p->stats.calls++;
    switch (st) {
    case LUAVM_OK:
        p->errmsg[0] = '\0';
        return st;
    case LUAVM_TIMEOUT:
        p->stats.call_timeouts++;
        reason = "timeout";
        break;
    case LUAVM_NOMEM:
        p->stats.call_nomem++;
        reason = "nomem";
        break;
    default:                           /* LUAVM_ERROR, LUAVM_NOHOOK */
        p->stats.call_errors++;
        reason = "error";
        break;
    }
    policy_copy(p->errmsg, sizeof p->errmsg, luavm_errmsg(p->vm));
    policy_metric(M_FAILURES, p, "reason", reason);
    if (luavm_dead(p->vm))
        policy_rebuild(p);
    return st;
}

int policy_has_hook(policy_t *p, const char *hook)
{
    return p->vm ? luavm_has_hook(p->vm, hook) : 0;
}

void policy_note_malformed(policy_t *p, const char *why)
{
    p->stats.call_malformed++;
    policy_metric(M_FAILURES, p, "reason", "malformed");
    if (why)
        snprintf(p->errmsg, sizeof p->errmsg, "policies/%s: %s", p->name, why);
}

const char *policy_errmsg(const policy_t *p)
{
    return p->errmsg;
}

const char *policy_name(const policy_t *p)
{
    return p->name;
}

unsigned policy_version(const policy_t *p)
{
    return p->stats.version;
}

unsigned policy_budget_ms(const policy_t *p)
{
    return p->budget_ms;
}

size_t policy_mem_limit(const policy_t *p)
{
    return p->mem_limit;
}

void policy_stats(const policy_t *p, policy_stats_t *out)
{
    *out = p->stats;
}
