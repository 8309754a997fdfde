/* policy.c: unit tests for engine/policy.c: lazy load, hot reload through inotify on a
 * libevent loop (in-place edit, atomic write-then-rename, debounce of a two-step write),
 * last good version kept on a syntax error / failing or looping self_test / deleted file,
 * on-demand load of a file that appears later (in a subdirectory), the SIGHUP path
 * (policy_set_reload_all), budget_ms / memory_mb overrides, counters and metrics.
 * Edited policies are written into a mkdtemp directory; fixed ones are read from
 * t/data/policies-reload/ (t/0165-policy.t runs from the repository root). Every wait on the
 * loop is bounded, and a watchdog timer ends the loop if the whole test takes too long. */
#include "tap.h"
#include "luavm.h"
#include "metrics.h"
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#define FIXTURES "t/data/policies-reload"

static struct event_base *base;
static char tmpdir[] = "/tmp/berth-policy-XXXXXX";
static int watchdog_fired;

/* The reports seen so far; the last one is kept whole. */
static int nreports;
static int last_ok = -1;
static char last_policy[128];
static char last_msg[1024];
static int quiet_reports;

static void on_report(void *priv, const char *policy, int ok, const char *message)
{
    nreports++;
    last_ok = ok;
    snprintf(last_policy, sizeof last_policy, "%s", policy);
    snprintf(last_msg, sizeof last_msg, "%s", message);
    if (!quiet_reports)
        diag("report %s ok=%d: %s", policy, ok, message);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    watchdog_fired = 1;
    diag("watchdog: test took too long");
}

/* Run the loop until there have been want reports in total, at most ms; returns 1 if
 * reached. A persistent 5 ms tick keeps EVLOOP_ONCE from blocking past the deadline. */
static int wait_reports(int want, double ms)
{
    double deadline = now_ms() + ms;
    while (nreports < want && now_ms() < deadline && !watchdog_fired)
        event_base_loop(base, EVLOOP_ONCE);
    return nreports >= want;
}

/* Run the loop for ms whatever happens. */
static void settle(double ms)
{
    double deadline = now_ms() + ms;
    while (now_ms() < deadline && !watchdog_fired)
        event_base_loop(base, EVLOOP_ONCE);
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        diag("fopen %s: %s", path, strerror(errno));
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* Editors' atomic save: a temporary file in the same directory renamed over the target. */
static void write_atomic(const char *name, const char *text)
{
    char tmp[256], from[512], to[512];
    snprintf(tmp, sizeof tmp, ".%s.swp", name);
    write_file(tmp, text);
    snprintf(from, sizeof from, "%s/%s", tmpdir, tmp);
    snprintf(to, sizeof to, "%s/%s", tmpdir, name);
    if (rename(from, to) != 0)
        diag("rename: %s", strerror(errno));
}

static void remove_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    unlink(path);
}

/* Call hook "answer" (no arguments, one integer result); -1 on failure. */
static long answer(policy_t *p)
{
    lua_State *L = policy_state(p);
    if (policy_call(p, "answer", 0, 1) != LUAVM_OK)
        return -1;
    long v = lua_isnumber(L, -1) ? (long)lua_tointeger(L, -1) : -2;
    lua_pop(L, 1);
    return v;
}

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

static const char good1[] =
    "local hooks = {}\n"
    "function hooks.answer() return 1 end\n"
    "function hooks.self_test() assert(hooks.answer() == 1) end\n"
    "return hooks\n";
static const char broken[] =
    "local hooks = {}\n"
    "function hooks.answer() return 99 end\n"
    "function hooks.self_test( assert(true) end\n"
    "return hooks\n";
static const char selftest_fails[] =
    "local hooks = {}\n"
    "function hooks.answer() return 98 end\n"
    "function hooks.self_test()\n"
    "    assert(hooks.answer() == 2, 'answer must be 2')\n"
    "end\n"
    "return hooks\n";
static const char selftest_loops[] =
    "local hooks = {}\n"
    "function hooks.answer() return 97 end\n"
    "function hooks.self_test()\n"
    "    while true do end\n"
    "end\n"
    "return hooks\n";
static const char main_chunk_errors[] =
    "local hooks = {}\n"
    "local x = nil\n"
    "hooks.answer = x.field\n"
    "return hooks\n";
static const char good2[] =
    "return { answer = function() return 2 end, self_test = function() end }\n";
static const char good3[] =
    "return { answer = function() return 3 end }\n";
static const char good4_part1[] =
    "local hooks = {}\n"
    "function hooks.answer()\n";
static const char good4[] =
    "local hooks = {}\n"
    "function hooks.answer()\n"
    "    return 4\n"
    "end\n"
    "return hooks\n";

static void test_reload(void)
{
    char err[256];
    policy_opts_t opts = { .report = on_report };   /* default debounce, 150 ms */
    policy_set_t *set;
    policy_t *p;
    policy_stats_t st;
    int n;

    write_file("p.lua", good1);
    set = policy_set_create(base, tmpdir, NULL, &opts, err, sizeof err);
    ok(set != NULL, "set created over %s", tmpdir);
    if (set == NULL) {
        diag("%s", err);
        return;
    }

    /* Lazy first load. */
    p = policy_get(set, "p.lua");
    ok(p != NULL, "p.lua loads on first policy_get");
    if (p == NULL)
        goto out;
    is_int(last_ok, 1, "first load reported ok");
    is_int(policy_version(p), 1, "version 1");
    is_int(answer(p), 1, "answer 1");
    ok(policy_get(set, "p.lua") == p, "second policy_get returns the same policy");
    is_int(policy_budget_ms(p), LUAVM_DEFAULT_BUDGET_MS, "default budget");

    /* Syntax error: old version keeps answering, report names file:line. */
    n = nreports;
    write_file("p.lua", broken);
    ok(wait_reports(n + 1, 3000), "edit to a syntax error is reported");
    is_int(last_ok, 0, "reported as a failure");
    is_str(last_policy, "p.lua", "report names the policy");
    ok(contains(last_msg, "policies/p.lua:3:"), "message names file:line (%s)", last_msg);
    ok(contains(last_msg, "kept version 1"), "message says the old version is kept");
    is_int(answer(p), 1, "old version still answers");
    is_int(policy_version(p), 1, "version unchanged");

    /* self_test fails: kept. */
    n = nreports;
    write_file("p.lua", selftest_fails);
    ok(wait_reports(n + 1, 3000), "edit with a failing self_test is reported");
    is_int(last_ok, 0, "failure");
    ok(contains(last_msg, "policies/p.lua:4:") && contains(last_msg, "answer must be 2") &&
       contains(last_msg, "self_test"), "message has file:line and the assert (%s)", last_msg);
    is_int(answer(p), 1, "old version still answers");

    /* Error in the main chunk: kept. */
    n = nreports;
    write_file("p.lua", main_chunk_errors);
    ok(wait_reports(n + 1, 3000), "edit with a failing main chunk is reported");
    is_int(last_ok, 0, "failure");
    ok(contains(last_msg, "policies/p.lua:3:"), "message has file:line (%s)", last_msg);
    is_int(answer(p), 1, "old version still answers");

    /* self_test loops forever: stopped by the budget, kept. */
    n = nreports;
    write_file("p.lua", selftest_loops);
    ok(wait_reports(n + 1, 3000), "edit with a looping self_test is reported");
    is_int(last_ok, 0, "failure");
    ok(contains(last_msg, "timeout") && contains(last_msg, "policies/p.lua:"),
       "reported as a timeout in the file (%s)", last_msg);
    is_int(answer(p), 1, "old version still answers");
    is_int(policy_version(p), 1, "still version 1");

    /* Good again: swapped. */
    n = nreports;
    write_file("p.lua", good2);
    ok(wait_reports(n + 1, 3000), "edit to a good version is reported");
    is_int(last_ok, 1, "success");
    is_int(policy_version(p), 2, "version bumped to 2");
    is_int(answer(p), 2, "new version answers");

    /* Atomic save (write temp + rename). */
    n = nreports;
    write_atomic("p.lua", good3);
    ok(wait_reports(n + 1, 3000), "write-then-rename is picked up");
    is_int(last_ok, 1, "success");
    is_int(policy_version(p), 3, "version 3");
    is_int(answer(p), 3, "renamed version answers");
    settle(400);
    is_int(nreports, n + 1, "one report for the atomic save (temp file ignored)");

    /* A two-step write: the half-written file is never loaded, only the whole one. */
    n = nreports;
    write_file("p.lua", good4_part1);
    settle(20);
    write_file("p.lua", good4);
    ok(wait_reports(n + 1, 3000), "two-step write reported");
    settle(400);
    is_int(nreports, n + 1, "exactly one report after the debounce");
    is_int(last_ok, 1, "and it is a success");
    is_int(policy_version(p), 4, "version 4");
    is_int(answer(p), 4, "answers 4");

    /* Deleted: last good version keeps answering. */
    n = nreports;
    remove_file("p.lua");
    ok(wait_reports(n + 1, 3000), "deletion reported");
    is_int(last_ok, 0, "as a failure");
    ok(contains(last_msg, "deleted") && contains(last_msg, "kept version 4"),
       "message says deleted, kept (%s)", last_msg);
    is_int(answer(p), 4, "deleted policy still answers");
    ok(policy_get(set, "p.lua") == p, "policy_get still returns it");

    /* Comes back. */
    n = nreports;
    write_file("p.lua", good1);
    ok(wait_reports(n + 1, 3000), "recreated file reported");
    is_int(last_ok, 1, "success");
    is_int(policy_version(p), 5, "version 5");
    is_int(answer(p), 1, "answers 1 again");

    /* A file that does not exist yet, in a subdirectory that does not exist yet. */
    n = nreports;
    ok(policy_get(set, "schedulers/late.lua") == NULL, "missing policy: NULL");
    is_int(nreports, n + 1, "missing policy reported");
    is_int(last_ok, 0, "as a failure");
    ok(policy_get(set, "schedulers/late.lua") == NULL, "still NULL");
    is_int(nreports, n + 1, "not retried (nor reported) while the file is unchanged");
    {
        char sub[512];
        snprintf(sub, sizeof sub, "%s/schedulers", tmpdir);
        ok(mkdir(sub, 0700) == 0, "mkdir schedulers");
    }
    settle(300);     /* let the set see the directory and watch it (and debounce) */
    is_int(nreports, n + 1, "a new subdirectory without the file: no new report");
    write_file("schedulers/late.lua", good2);
    policy_t *late = NULL;
    double deadline = now_ms() + 3000;
    while (late == NULL && now_ms() < deadline && !watchdog_fired) {
        late = policy_get(set, "schedulers/late.lua");
        if (late == NULL)
            settle(20);
    }
    ok(late != NULL, "a policy that appears later loads on demand");
    if (late) {
        is_int(answer(late), 2, "it answers");
        unsigned v = policy_version(late);
        n = nreports;
        write_file("schedulers/late.lua", good3);
        ok(wait_reports(n + 1, 3000), "an edit in the subdirectory is picked up by inotify");
        is_int(policy_version(late), v + 1, "its version bumped");
        is_int(answer(late), 3, "new version answers");
    }

    /* Invalid names. */
    ok(policy_get(set, "../etc.lua") == NULL, "'..' refused");
    ok(policy_get(set, "/abs.lua") == NULL, "absolute path refused");
    ok(policy_get(set, "a/b/c.lua") == NULL, "two levels refused");
    ok(policy_get(set, "p.txt") == NULL, "not .lua refused");
    ok(policy_get(set, "sub/.hidden.lua") == NULL, "hidden file refused");

    /* Names may come from user input: the set tracks a bounded number of them. */
    {
        char name[64];
        int i, nulls = 0, quiet = nreports;
        quiet_reports = 1;
        for (i = 0; i < POLICY_SET_MAX + 10; i++) {
            snprintf(name, sizeof name, "schedulers/none%d.lua", i);
            nulls += policy_get(set, name) == NULL;
        }
        quiet_reports = 0;
        is_int(nulls, POLICY_SET_MAX + 10, "missing names: all NULL");
        ok(contains(last_msg, "too many policies"), "past the bound: reported (%s)", last_msg);
        ok(nreports > quiet, "reports counted");
        ok(policy_get(set, "p.lua") == p, "known policies still answer past the bound");
    }

    /* Counters and metrics. */
    policy_stats(p, &st);
    is_int(st.loads, 5, "stats: 5 successful loads");
    is_int(st.reload_failures, 4, "stats: 4 reload failures");
    is_int(st.deletions, 1, "stats: 1 deletion");
    is_int(st.version, 5, "stats: version 5");
    ok(st.calls > 0 && st.call_errors == 0, "stats: calls counted, no call errors");
    is_int(policy_call(p, "nope", 0, 0), LUAVM_NOHOOK, "a missing hook");
    policy_note_malformed(p, "answer returned a string");
    policy_stats(p, &st);
    is_int(st.call_errors, 1, "missing hook counted as error");
    is_int(st.call_malformed, 1, "malformed counted");
    is_str(policy_errmsg(p), "policies/p.lua: answer returned a string", "malformed errmsg");
    {
        struct evbuffer *out = evbuffer_new();
        metrics_render(out);
        evbuffer_add(out, "", 1);
        const char *text = (const char *)evbuffer_pullup(out, -1);
        ok(contains(text, "berth_policy_reloads_total{policy=\"p.lua\",result=\"success\"} 5"),
           "metric: reloads success");
        ok(contains(text, "berth_policy_reloads_total{policy=\"p.lua\",result=\"failure\"} 4"),
           "metric: reloads failure");
        ok(contains(text, "berth_policy_reloads_total{policy=\"p.lua\",result=\"deleted\"} 1"),
           "metric: reloads deleted");
        ok(contains(text, "berth_policy_call_failures_total{policy=\"p.lua\",reason=\"error\"} 1"),
           "metric: call failures error");
        ok(contains(text,
                    "berth_policy_call_failures_total{policy=\"p.lua\",reason=\"malformed\"} 1"),
           "metric: call failures malformed");
        evbuffer_free(out);
    }

out:
    policy_set_free(set);
}

/* The SIGHUP path: no inotify, reload only on policy_set_reload_all(). */
static void test_reload_all(void)
{
    char err[256];
    policy_opts_t opts = { .no_watch = 1, .report = on_report };
    policy_set_t *set;
    policy_t *p;
    int n;

    write_file("h.lua", good1);
    set = policy_set_create(base, tmpdir, NULL, &opts, err, sizeof err);
    ok(set != NULL, "no_watch set created");
    if (set == NULL)
        return;
    p = policy_get(set, "h.lua");
    ok(p != NULL && answer(p) == 1, "h.lua loaded");
    if (p == NULL)
        goto out;
    n = nreports;
    write_file("h.lua", good2);
    settle(250);
    is_int(nreports, n, "without a watch an edit is not noticed");
    is_int(answer(p), 1, "still the old version");
    is_int(policy_set_reload_all(set), 0, "reload_all: no failures");
    is_int(nreports, n + 1, "reload_all reported");
    is_int(policy_version(p), 2, "version 2");
    is_int(answer(p), 2, "new version answers");
    write_file("h.lua", broken);
    is_int(policy_set_reload_all(set), 1, "reload_all of a broken file: one failure");
    ok(contains(last_msg, "policies/h.lua:3:"), "file:line in the report");
    is_int(answer(p), 2, "old version kept");
out:
    policy_set_free(set);
}

/* budget_ms / memory_mb overrides, from the fixtures. */
static void test_limits(void)
{
    char err[256];
    policy_opts_t opts = { .no_watch = 1, .report = on_report };
    policy_set_t *set = policy_set_create(base, FIXTURES, NULL, &opts, err, sizeof err);
    policy_t *p;
    policy_stats_t st;

    ok(set != NULL, "fixture set created");
    if (set == NULL) {
        diag("%s", err);
        return;
    }
    p = policy_get(set, "spin_b100.lua");
    ok(p != NULL, "spin_b100 loaded");
    if (p) {
        is_int(policy_budget_ms(p), 100, "budget_ms = 100 honoured");
        is_int(policy_call(p, "spin", 0, 0), LUAVM_OK, "30 ms spin passes with budget 100");
    }
    p = policy_get(set, "spin_b10.lua");
    ok(p != NULL, "spin_b10 loaded");
    if (p) {
        is_int(policy_budget_ms(p), 10, "budget_ms = 10 honoured");
        is_int(policy_call(p, "spin", 0, 0), LUAVM_TIMEOUT, "30 ms spin times out with budget 10");
        ok(contains(policy_errmsg(p), "policies/spin_b10.lua:"), "errmsg names the file (%s)",
           policy_errmsg(p));
        policy_stats(p, &st);
        is_int(st.call_timeouts, 1, "timeout counted");
        is_int(policy_call(p, "spin", 0, 0), LUAVM_TIMEOUT, "and again: VM still usable");
    }
    p = policy_get(set, "limits_clamped.lua");
    ok(p != NULL, "limits_clamped loaded");
    if (p) {
        is_int(policy_budget_ms(p), POLICY_MAX_BUDGET_MS, "budget clamped to the max");
        is_int(policy_mem_limit(p), (size_t)POLICY_MAX_MEMORY_MB * 1024 * 1024,
               "memory clamped to the max");
        is_int(answer(p), 42, "answers");
    }
    int n = nreports;
    ok(policy_get(set, "limits_bad.lua") == NULL, "a non-number budget_ms fails the load");
    ok(nreports == n + 1 && last_ok == 0 && contains(last_msg, "budget_ms must be a number"),
       "and says so (%s)", last_msg);
    p = policy_get(set, "memory_small.lua");
    ok(p != NULL, "memory_small loaded");
    if (p) {
        is_int(policy_mem_limit(p), 8u * 1024 * 1024, "memory_mb = 8 honoured");
        is_int(policy_call(p, "grow", 0, 0), LUAVM_NOMEM, "32 MiB in an 8 MiB VM: nomem");
        is_int(policy_call(p, "small", 0, 0), LUAVM_OK, "small allocation fine");
        policy_stats(p, &st);
        is_int(st.call_nomem, 1, "nomem counted");
    }
    policy_set_free(set);
}

/* A hook that loops forever in compiled code: the VM is abandoned and the same version is
 * rebuilt, interpreted, before the call returns; the next overrun is stopped by the hook. */
static void test_runaway(void)
{
    char err[256];
    policy_opts_t opts = { .no_watch = 1, .report = on_report };
    policy_set_t *set = policy_set_create(base, FIXTURES, NULL, &opts, err, sizeof err);
    policy_t *p = set ? policy_get(set, "runaway.lua") : NULL;
    policy_stats_t st;

    if (!ok(p != NULL, "runaway loaded"))
        return;
    is_int(answer(p), 42, "answers before");
    is_int(policy_call(p, "forever", 0, 0), LUAVM_TIMEOUT, "a loop compiled by the JIT times out");
    ok(contains(policy_errmsg(p), "policies/runaway.lua: time budget of 40 ms exceeded in hook 'forever'") &&
       contains(policy_errmsg(p), "JIT-compiled"), "the message names the file and the hook (%s)",
       policy_errmsg(p));
    policy_stats(p, &st);
    is_int(st.vm_discards, 1, "one VM discarded");
    is_int(st.call_timeouts, 1, "the timeout counted");
    ok(policy_get(set, "runaway.lua") == p, "the policy is still there");
    is_int(answer(p), 42, "the rebuilt VM answers");
    is_int(st.version, 1, "same version");
    is_int(policy_call(p, "forever", 0, 0), LUAVM_TIMEOUT, "the next overrun times out too");
    ok((contains(policy_errmsg(p), "policies/runaway.lua:7: ") ||
        contains(policy_errmsg(p), "policies/runaway.lua:8: ")) &&
       contains(policy_errmsg(p), "time budget of 40 ms exceeded"),
       "interpreted now: the message has the line in the loop (%s)", policy_errmsg(p));
    policy_stats(p, &st);
    is_int(st.vm_discards, 1, "and the VM was kept");
    is_int(answer(p), 42, "which still answers");
    policy_set_free(set);
}

static void cleanup_tmpdir(void)
{
    const char *names[] = { "p.lua", "h.lua", "schedulers/late.lua", ".p.lua.swp" };
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/schedulers", tmpdir);
    rmdir(path);
    rmdir(tmpdir);
}

int main(void)
{
    char err[256];
    struct event *tick, *watchdog;
    struct timeval tick_tv = { 0, 5000 }, watchdog_tv = { 60, 0 };

    plan_no_plan();
    base = event_base_new();
    if (base == NULL || mkdtemp(tmpdir) == NULL) {
        ok(0, "event base and temp dir");
        return done_testing();
    }
    tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    watchdog = evtimer_new(base, on_watchdog, NULL);
    event_add(tick, &tick_tv);
    evtimer_add(watchdog, &watchdog_tv);

    ok(policy_set_create(base, "/nonexistent/berth", NULL, NULL, err, sizeof err) == NULL &&
       contains(err, "not a directory"), "a missing directory is refused (%s)", err);

    test_reload();
    test_reload_all();
    test_limits();
    test_runaway();
    ok(!watchdog_fired, "finished before the watchdog");

    event_free(tick);
    event_free(watchdog);
    event_base_free(base);
    metrics_release();
    cleanup_tmpdir();
    return done_testing();
}
