/* t/c/luacluster.c: engine/luacluster.c (require("berth.cluster")) against a real bin/berth
 * server, in policy VMs managed by engine/policy.c.
 *
 * Run by t/0178-luacluster.t, which starts redis-server and berth and passes BERTH_URL.
 * One event loop runs the informers, the module's committed requests and the test's own
 * synchronous requests. The policy (written into a mkdtemp directory) has an eval(code, ...)
 * hook that runs a chunk with `c` = the module and `st` = a table kept between calls, so each
 * check is a line of Lua. Every wait is bounded and a watchdog ends a hung run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <lauxlib.h>

#include "apiclient.h"
#include "informer.h"
#include "kinds.h"
#include "luacluster.h"
#include "luajson.h"
#include "luavm.h"
#include "policy.h"
#include "tap.h"
#include "util.h"

#define NS "lc"

static struct event_base *base;
static apiclient_t *client;
static luacluster_t *lc;
static policy_set_t *set;
static informer_t *cms, *pods, *nss;
static json_t *done_log;          /* "verb status" per finished action */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    printf("Bail out! luacluster test: watchdog fired\n");
    fflush(stdout);
    _exit(1);
}

static int run_until(int (*pred)(void *), void *arg, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!pred(arg) && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return pred(arg);
}

static int never(void *arg)
{
    return 0;
}

/* ---------------------------------------------------------------------------- requests */

typedef struct {
    int done, status;
    json_t *body;
} sync_t;

static void sync_done(int status, json_t *body, const char *errstr, void *priv)
{
    sync_t *s = priv;
    s->done = 1;
    s->status = status;
    s->body = json_incref(body);
}

static int sync_is_done(void *arg)
{
    return ((sync_t *)arg)->done;
}

/* One request, waited for. Takes ownership of body; *out (if non-NULL) gets the response. */
static int call(const char *method, const char *path, json_t *body, json_t **out)
{
    sync_t s = { 0 };
    apiclient_call_t *c = apiclient_request(client, method, path, NULL, body, sync_done, &s);
    json_decref(body);
    if (!c)
        return 0;
    if (!run_until(sync_is_done, &s, 10000)) {
        apiclient_cancel(c);
        return 0;
    }
    if (out)
        *out = s.body;
    else
        json_decref(s.body);
    return s.status;
}

static json_t *cm(const char *name, const char *app, const char *tier, const char *v)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
                          "ConfigMap", "metadata", "name", name, "namespace", NS, "labels", "app",
                          app, "data", "v", v);
    if (tier)
        json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"), "tier",
                            json_string(tier));
    return o;
}

static json_t *pod(const char *name)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1",
                     "kind", "Pod", "metadata", "name", name, "namespace", NS, "labels", "app",
                     "web", "spec", "containers", "name", "c", "image", "nginx:1");
}

/* GET a path: the status, and the object's field at a dotted path as a string into out. */
static int get_field(const char *path, const char *field, char *out, size_t outlen)
{
    json_t *body = NULL;
    int st = call("GET", path, NULL, &body);
    json_t *v = field ? json_path(body, field) : NULL;
    if (out && outlen) {
        if (json_is_string(v))
            snprintf(out, outlen, "%s", json_string_value(v));
        else
            snprintf(out, outlen, "%s", v ? "(not a string)" : "(absent)");
    }
    json_decref(body);
    return st;
}

/* ---------------------------------------------------------------------------- informers */

static void on_update(informer_t *inf, json_t *old, json_t *obj, void *priv)
{
    luacluster_forget(lc, priv, obj);
}

static void on_delete(informer_t *inf, json_t *obj, void *priv)
{
    luacluster_forget(lc, priv, obj);
}

static void index_app(json_t *obj, json_t *keys, void *priv)
{
    const char *app = json_string_value(json_path(obj, "metadata.labels.app"));
    if (app)
        json_array_append_new(keys, json_string(app));
}

static void index_node(json_t *obj, json_t *keys, void *priv)
{
    const char *node = json_string_value(json_path(obj, "spec.nodeName"));
    if (node && *node)
        json_array_append_new(keys, json_string(node));
}

static int all_synced(void *arg)
{
    return informer_has_synced(cms) && informer_has_synced(pods) && informer_has_synced(nss);
}

typedef struct {
    informer_t *inf;
    const char *name;
    const char *field;     /* dotted path */
    const char *want;      /* NULL: wait for the object to vanish */
} cached_t;

static int cached_is(void *arg)
{
    cached_t *c = arg;
    json_t *o = informer_get(c->inf, NS, c->name);
    if (!c->want)
        return o == NULL;
    const char *v = json_string_value(json_path(o, c->field));
    return v && !strcmp(v, c->want);
}

static int wait_cached(informer_t *inf, const char *name, const char *field, const char *want)
{
    cached_t c = { inf, name, field, want };
    return run_until(cached_is, &c, 10000);
}

static int nothing_pending(void *arg)
{
    return luacluster_pending(lc) == 0;
}

static void on_done(void *priv, const char *verb, const char *method, const char *path,
                    int status, json_t *body, const char *errstr)
{
    char line[512];
    snprintf(line, sizeof(line), "%s %d", verb, status);
    json_array_append_new(done_log, json_string(line));
}

static int done_has(const char *line)
{
    size_t i;
    json_t *v;
    json_array_foreach(done_log, i, v)
        if (!strcmp(json_string_value(v), line))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------- the policy */

static const char *POLICY =
    "local c = require('berth.cluster')\n"
    "local st = {}\n"
    "local M = {}\n"
    "function M.eval(code, ...)\n"
    "    local f = assert(load(code, '=eval'))\n"
    "    return f(c, st, ...)\n"
    "end\n"
    "function M.self_test()\n"
    "    assert(c.get('v1/namespaces', nil, '" NS "'), 'namespace " NS " is cached')\n"
    "    c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
    "              metadata = {name = 'from-selftest', namespace = '" NS "'}})\n"
    "end\n"
    "return M\n";

static char result[4096];

/* Run eval(code) in the current version: "local c, st = ..." is prepended. The result is
 * rendered into `result` (strings as is, tables as JSON, nil as "nil"); on failure `result`
 * holds the error message. mode: 0 plain call, 1 begin + commit on success / discard on
 * failure, 2 begin + discard whatever happens. Returns the LUAVM status. */
static int eval(int mode, const char *code)
{
    policy_t *p = policy_get(set, "p.lua");
    char src[4096];
    lua_State *L;
    int st;

    if (!p) {
        snprintf(result, sizeof(result), "(no policy)");
        return LUAVM_ERROR;
    }
    L = policy_state(p);
    snprintf(src, sizeof(src), "local c, st = ...\n%s", code);
    lua_pushstring(L, src);
    if (mode)
        luacluster_begin(lc, L);
    st = policy_call(p, "eval", 1, 1);
    if (mode == 1 && st == LUAVM_OK)
        luacluster_commit(lc, L);
    else if (mode)
        luacluster_discard(lc, L);
    if (st != LUAVM_OK) {
        snprintf(result, sizeof(result), "%s", policy_errmsg(p));
        return st;
    }
    switch (lua_type(L, -1)) {
    case LUA_TNIL:
        snprintf(result, sizeof(result), "nil");
        break;
    case LUA_TBOOLEAN:
        snprintf(result, sizeof(result), "%s", lua_toboolean(L, -1) ? "true" : "false");
        break;
    case LUA_TTABLE: {
        json_t *js = luajson_to_json(L, -1, result, sizeof(result));
        if (js) {
            char *t = json_dumps(js, JSON_COMPACT | JSON_SORT_KEYS);
            snprintf(result, sizeof(result), "%s", t ? t : "?");
            free(t);
            json_decref(js);
        }
        break;
    }
    default:
        snprintf(result, sizeof(result), "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    }
    lua_pop(L, 1);
    return st;
}

static void eval_is(const char *code, const char *want, const char *what)
{
    int st = eval(0, code);
    if (st != LUAVM_OK)
        diag("eval failed: %s", result);
    is_str(result, want, "%s", what);
}

/* The call must raise, with a message containing want. */
static void eval_raises(int mode, const char *code, const char *want, const char *what)
{
    int st = eval(mode, code);
    ok(st == LUAVM_ERROR && strstr(result, want) != NULL, "%s", what);
    if (st != LUAVM_ERROR || !strstr(result, want))
        diag("status %s, message: %s (wanted '%s')", luavm_status_name(st), result, want);
}

/* Commit an action call and wait until everything committed finished. */
static int act(const char *code)
{
    int st = eval(1, code);
    if (st != LUAVM_OK)
        diag("action failed: %s", result);
    run_until(nothing_pending, NULL, 10000);
    return st == LUAVM_OK && luacluster_pending(lc) == 0;
}

static void report(void *priv, const char *policy, int okk, const char *message)
{
    if (!okk)
        diag("policy report: %s", message);
}

/* ---------------------------------------------------------------------------- tests */

static void test_reads(void)
{
    eval_is("return c.get('v1/configmaps', '" NS "', 'cm-a').data.v", "1", "get: an object from "
            "the cache");
    eval_is("return c.get('configmaps', '" NS "', 'cm-a').metadata.name", "cm-a",
            "get: a bare core plural works");
    eval_is("return c.get('v1/configmaps', '" NS "', 'nope')", "nil", "get: a missing object is nil");
    eval_is("return c.get('v1/namespaces', nil, '" NS "').metadata.name", NS,
            "get: a cluster-scoped object (namespace nil)");
    eval_is("return c.get('v1/namespaces', '', '" NS "').metadata.name", NS,
            "get: a cluster-scoped object (namespace \"\")");
    eval_is("return #c.list('v1/configmaps', {namespace = '" NS "'})", "3", "list: a namespace");
    eval_is("return #c.list('v1/configmaps')", "3", "list: everything");
    eval_is("return #c.list('v1/configmaps', {namespace = 'other'})", "0",
            "list: another namespace is empty");
    eval_is("local l = c.list('v1/configmaps', {selector = 'app=web,tier!=db'})\n"
            "return #l .. ' ' .. l[1].metadata.name", "1 cm-a", "list: a selector string");
    eval_is("local l = c.list('v1/configmaps', {selector = {matchLabels = {app = 'web'},\n"
            "  matchExpressions = {{key = 'tier', operator = 'In', values = {'db'}}}}})\n"
            "return #l .. ' ' .. l[1].metadata.name", "1 cm-b", "list: a LabelSelector table");
    eval_is("return #c.list('v1/configmaps', {selector = {}})", "3",
            "list: an empty LabelSelector selects everything");
    eval_is("return #c.list('v1/configmaps', {index = {'app', 'web'}})", "2",
            "list: through an index");
    eval_is("local l = c.list('v1/configmaps', {index = {'app', 'web'}, selector = 'tier=db'})\n"
            "return #l .. ' ' .. l[1].metadata.name", "1 cm-b", "list: an index and a selector");
    eval_is("local l = c.index('v1/configmaps', 'app', 'api')\n"
            "return #l .. ' ' .. l[1].metadata.name", "1 cm-c", "index: objects by key");
    eval_is("return #c.index('v1/configmaps', 'app', 'none')", "0", "index: no match");
    eval_is("return c.list('v1/configmaps', {namespace = 'other'})", "[]",
            "an empty list converts back to [] (array metatable)");

    eval_raises(0, "return c.get('apps/v1/deployments', '" NS "', 'x')",
                "no informer for resource 'apps/v1/deployments'",
                "reading an unregistered resource raises, naming it");
    eval_raises(0, "return c.list('v1/secrets')", "no informer for resource 'v1/secrets'",
                "list of an unregistered resource raises");
    eval_raises(0, "return c.get('Pods!', 'x', 'y')", "invalid resource 'Pods!'",
                "an invalid resource string raises");
    eval_raises(0, "return c.get('v1/pods/status', '" NS "', 'p1')", "subresource",
                "reading a subresource raises");
    eval_raises(0, "return c.get('v1/configmaps', nil, 'cm-a')", "is namespaced",
                "get of a namespaced kind without a namespace raises");
    eval_raises(0, "return c.get('v1/configmaps', '" NS "', 42)", "name must be a string",
                "a non-string name raises");
    eval_raises(0, "return c.list('v1/configmaps', {selector = 'app in ('})", "opts.selector",
                "a malformed selector raises");
    eval_raises(0, "return c.list('v1/configmaps', {selector = {app = 'web'}})",
                "unknown field 'app'", "a label map is not a LabelSelector");
    eval_raises(0, "return c.list('v1/configmaps', {namespaces = 'x'})",
                "unknown option 'namespaces'", "an unknown list option raises");
    eval_raises(0, "return c.index('v1/configmaps', 'nope', 'x')", "no index 'nope'",
                "an unknown index raises");
    eval_raises(0, "c.get = nil", "read-only", "the module table is read-only");
    eval_is("return getmetatable(c)", "false", "the module's metatable is hidden");
    eval_is("return (pcall(function() return io end))", "false",
            "(sandbox) io is still not a global");
}

static void test_cache(void)
{
    luacluster_stats_t s0, s1;

    eval_is("st.a = c.get('v1/configmaps', '" NS "', 'cm-a'); return 'kept'", "kept",
            "keep the table of cm-a");
    luacluster_stats(lc, &s0);
    eval_is("return c.get('v1/configmaps', '" NS "', 'cm-a') == st.a", "true",
            "the same table while the object is unchanged");
    eval_is("for _, o in ipairs(c.list('v1/configmaps', {selector = 'tier=fe'})) do\n"
            "  if o == st.a then return true end end return false", "true",
            "list hands out the same table as get");
    luacluster_stats(lc, &s1);
    is_int(s1.conversions - s0.conversions, 0, "no conversion while unchanged");
    ok(s1.cache_hits - s0.cache_hits >= 2, "served from the cache (%lu hits)",
       s1.cache_hits - s0.cache_hits);

    is_int(call("PATCH", "/api/v1/namespaces/" NS "/configmaps/cm-a",
                json_pack("{s:{s:s}}", "data", "v", "2"), NULL), 200, "change cm-a on the server");
    ok(wait_cached(cms, "cm-a", "data.v", "2"), "the informer saw the change");
    eval_is("local o = c.get('v1/configmaps', '" NS "', 'cm-a')\n"
            "return tostring(o ~= st.a) .. ' ' .. o.data.v .. ' ' .. st.a.data.v",
            "true 2 1", "a new table after an update (the old one is left as it was)");
    luacluster_stats(lc, &s0);
    is_int(s0.conversions - s1.conversions, 1, "converted once for the change");
    eval_is("return c.get('v1/configmaps', '" NS "', 'cm-a') == c.get('v1/configmaps', '" NS
            "', 'cm-a')", "true", "and cached again");
}

static void test_actions(void)
{
    char v[256];
    luacluster_stats_t s0, s1;

    /* create + patch of one object in one call: sent in order */
    ok(act("c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
           "  metadata = {name = 'cm-new', namespace = '" NS "', labels = {app = 'new'}},\n"
           "  data = {v = 'created'}})\n"
           "return c.patch('v1/configmaps', '" NS "', 'cm-new', {data = {v = 'patched'}})"),
       "create then patch cm-new in one call");
    is_str(result, "true", "actions return true");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/cm-new", "data.v", v, sizeof(v)), 200,
           "cm-new exists on the server");
    is_str(v, "patched", "the patch came after the create");
    ok(done_has("create 201") && done_has("patch 200"), "the done callback saw both");

    ok(act("return c.patch('v1/configmaps', '" NS "', 'cm-new', '{\"data\":{\"w\":\"s\"}}')"),
       "patch with a JSON string");
    get_field("/api/v1/namespaces/" NS "/configmaps/cm-new", "data.w", v, sizeof(v));
    is_str(v, "s", "the string patch applied");
    ok(act("return c.patch('v1/configmaps', '" NS "', 'cm-new',\n"
           "  {{op = 'replace', path = '/data/v', value = 'json'}}, 'json')"), "json patch");
    get_field("/api/v1/namespaces/" NS "/configmaps/cm-new", "data.v", v, sizeof(v));
    is_str(v, "json", "the json patch applied");
    ok(act("return c.patch('v1/pods', '" NS "', 'p1',\n"
           "  {metadata = {labels = {patched = 'yes'}}}, 'strategic')"), "strategic patch of a pod");
    get_field("/api/v1/namespaces/" NS "/pods/p1", "metadata.labels.patched", v, sizeof(v));
    is_str(v, "yes", "the strategic patch applied");
    ok(act("return c.patch('v1/pods/status', '" NS "', 'p1', {status = {message = 'hi'}})"),
       "patch of the status subresource");
    get_field("/api/v1/namespaces/" NS "/pods/p1", "status.message", v, sizeof(v));
    is_str(v, "hi", "the status patch applied");
    ok(done_has("patch 200"), "status patch answered 200");

    /* update with the precondition */
    ok(wait_cached(cms, "cm-new", "data.v", "json"), "the informer has cm-new");
    ok(act("local o = c.get('v1/configmaps', '" NS "', 'cm-new')\n"
           "return c.update({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'cm-new',\n"
           "  namespace = '" NS "', resourceVersion = o.metadata.resourceVersion},\n"
           "  data = {v = 'updated'}})"), "update with the cached resourceVersion");
    get_field("/api/v1/namespaces/" NS "/configmaps/cm-new", "data.v", v, sizeof(v));
    is_str(v, "updated", "the update applied");
    luacluster_stats(lc, &s0);
    ok(act("return c.update({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'cm-new',\n"
           "  namespace = '" NS "', resourceVersion = '1'}, data = {v = 'stale'}})"),
       "update with a stale resourceVersion is sent");
    luacluster_stats(lc, &s1);
    is_int(s1.failed - s0.failed, 1, "and fails (counted)");
    ok(done_has("update 409"), "the done callback saw 409 Conflict");
    get_field("/api/v1/namespaces/" NS "/configmaps/cm-new", "data.v", v, sizeof(v));
    is_str(v, "updated", "the stale update changed nothing");

    /* event */
    ok(act("return c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Warning', 'Tested',\n"
           "  'hello from lua')"), "event about cm-b");
    json_t *evs = NULL, *ev, *found = NULL;
    size_t i;
    call("GET", "/api/v1/namespaces/" NS "/events", NULL, &evs);
    json_array_foreach(json_object_get(evs, "items"), i, ev)
        if (json_str(ev, "reason") && !strcmp(json_str(ev, "reason"), "Tested"))
            found = ev;
    ok(found != NULL, "the Event exists");
    is_str(json_string_value(json_path(found, "involvedObject.name")), "cm-b",
           "involvedObject.name");
    is_str(json_string_value(json_path(found, "involvedObject.kind")), "ConfigMap",
           "involvedObject.kind");
    ok(json_path(found, "involvedObject.uid") != NULL, "involvedObject.uid");
    is_str(json_string_value(json_path(found, "source.component")), "test-controller",
           "source.component is the host's component");
    is_str(json_str(found, "type"), "Warning", "type");
    is_str(json_str(found, "message"), "hello from lua", "message");
    json_decref(evs);
    ok(act("return c.event(c.get('v1/namespaces', nil, '" NS "'), 'Normal', 'NsEvent', 'x')"),
       "event about a cluster-scoped object");
    ok(done_has("event 201"), "created (in namespace default)");

    /* an event after a write: sent once the write succeeded, dropped when it failed or
     * when the call wrote nothing to that object */
    luacluster_stats(lc, &s0);
    ok(act("c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
           "  metadata = {name = 'cm-after', namespace = '" NS "'}})\n"
           "return c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Normal', 'AfterOk',\n"
           "  'made cm-after', {after = {resource = 'v1/configmaps', namespace = '" NS "',\n"
           "  name = 'cm-after'}})"), "an event after a create");
    ok(act("c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
           "  metadata = {name = 'cm-after', namespace = '" NS "'}})\n"
           "return c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Normal', 'AfterFailed',\n"
           "  'made cm-after twice', {after = {resource = 'v1/configmaps', namespace = '" NS "',\n"
           "  name = 'cm-after'}})"), "an event after a create that fails (409)");
    ok(done_has("create 409"), "the second create failed");
    ok(act("return c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Normal', 'AfterNone',\n"
           "  'x', {after = {resource = 'v1/configmaps', namespace = '" NS "', name = 'cm-zz'}})"),
       "an event after no write of that object");
    is_str(result, "false", "returns false: nothing queued");
    luacluster_stats(lc, &s1);
    is_int((long long)(s1.skipped - s0.skipped), 1, "the event after the failed write: skipped");
    evs = NULL;
    call("GET", "/api/v1/namespaces/" NS "/events", NULL, &evs);
    int n_ok = 0, n_failed = 0, n_none = 0;
    json_array_foreach(json_object_get(evs, "items"), i, ev) {
        const char *rs = json_str(ev, "reason");
        n_ok += rs && !strcmp(rs, "AfterOk");
        n_failed += rs && !strcmp(rs, "AfterFailed");
        n_none += rs && !strcmp(rs, "AfterNone");
    }
    json_decref(evs);
    ok(n_ok == 1 && n_failed == 0 && n_none == 0,
       "only the event after the successful create exists (%d %d %d)", n_ok, n_failed, n_none);
    eval_raises(1, "c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Normal', 'R', 'm',\n"
                "  {later = true})", "unknown option 'later'", "event with an unknown option");
    eval_raises(1, "c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Normal', 'R', 'm',\n"
                "  {after = 'cm-after'})", "table expected", "event after: not a table");
    eval_raises(1, "c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Normal', 'R', 'm',\n"
                "  {after = {resource = 'v1/configmaps', namespace = '" NS "'}})", "after.name",
                "event after: no name");

    /* bind */
    ok(act("return c.bind(c.get('v1/pods', '" NS "', 'p1'), 'node-1')"), "bind p1 to node-1");
    get_field("/api/v1/namespaces/" NS "/pods/p1", "spec.nodeName", v, sizeof(v));
    is_str(v, "node-1", "p1 is bound");
    ok(done_has("bind 201") || done_has("bind 200"), "binding answered 2xx");
    ok(wait_cached(pods, "p1", "spec.nodeName", "node-1"), "the informer saw the binding");
    eval_is("local l = c.index('v1/pods', 'node', 'node-1')\n"
            "return #l .. ' ' .. l[1].metadata.name", "1 p1", "index: pods by node");

    /* delete, evict */
    ok(act("return c.delete('v1/configmaps', '" NS "', 'cm-c', {propagation = 'Background',\n"
           "  grace = 0})"), "delete cm-c");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/cm-c", NULL, NULL, 0), 404,
           "cm-c is gone");
    ok(act("return c.delete('v1/configmaps', '" NS "', 'cm-new', {uid = 'not-its-uid'})"),
       "delete with a wrong uid precondition is sent");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/cm-new", NULL, NULL, 0), 200,
           "and fails: cm-new is still there");
    ok(done_has("delete 409"), "the done callback saw 409");
    ok(act("return c.evict('" NS "', 'p2')"), "evict p2");
    json_t *p2 = NULL;
    int st = call("GET", "/api/v1/namespaces/" NS "/pods/p2", NULL, &p2);
    ok(st == 404 || (st == 200 && json_path(p2, "metadata.deletionTimestamp")),
       "p2 is deleted or terminating (status %d)", st);
    json_decref(p2);
    ok(done_has("evict 200") || done_has("evict 202"), "evict answered 2xx");
}

static void test_discard(void)
{
    luacluster_stats_t s0, s1;
    luacluster_stats(lc, &s0);
    eval_raises(1, "c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
                "  metadata = {name = 'cm-discard', namespace = '" NS "'}})\n"
                "error('boom')", "boom", "a hook that fails after queueing");
    ok(eval(2, "return c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
            "  metadata = {name = 'cm-discard2', namespace = '" NS "'}})") == LUAVM_OK,
       "a call that succeeds but the host discards");
    ok(eval(0, "return c.create({apiVersion = 'v1', kind = 'ConfigMap',\n"
            "  metadata = {name = 'cm-nowindow', namespace = '" NS "'}})") == LUAVM_OK,
       "an action outside begin..commit");
    run_until(never, NULL, 300);
    luacluster_stats(lc, &s1);
    is_int(s1.discarded - s0.discarded, 2, "two actions discarded");
    is_int(s1.dropped - s0.dropped, 1, "one action dropped (no window)");
    is_int(s1.sent - s0.sent, 0, "nothing sent");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/cm-discard", NULL, NULL, 0), 404,
           "cm-discard was not created");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/cm-discard2", NULL, NULL, 0), 404,
           "cm-discard2 was not created");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/cm-nowindow", NULL, NULL, 0), 404,
           "cm-nowindow was not created");
    is_int(get_field("/api/v1/namespaces/" NS "/configmaps/from-selftest", NULL, NULL, 0), 404,
           "the create in self_test was not sent");
}

static void test_malformed(void)
{
    luacluster_stats_t s0, s1;
    luacluster_stats(lc, &s0);
    eval_raises(1, "c.create('x')", "cluster.create: obj must be a table", "create of a string");
    eval_raises(1, "c.create({metadata = {name = 'x', namespace = '" NS "'}})",
                "needs apiVersion and kind", "create without apiVersion/kind");
    eval_raises(1, "c.create({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'x'}})",
                "metadata.namespace is required", "create of a namespaced kind without namespace");
    eval_raises(1, "c.create({apiVersion = 'v1', kind = 'ConfigMap', metadata = {namespace = '"
                NS "'}})", "metadata.name or metadata.generateName", "create without a name");
    eval_raises(1, "c.create({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'x',\n"
                "  namespace = '" NS "'}, data = {f = function() end}})", "cannot convert a function",
                "create of an unconvertible table names the problem");
    eval_raises(1, "c.update({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'x',\n"
                "  namespace = '" NS "'}})", "resourceVersion is required",
                "update without resourceVersion");
    eval_raises(1, "c.patch('v1/configmaps', '" NS "', 'x', {}, 'bogus')", "unknown patch type 'bogus'",
                "patch with an unknown type");
    eval_raises(1, "c.patch('v1/configmaps', '" NS "', 'x', {a = 1}, 'json')",
                "must be an array of operations", "a json patch that is not an array");
    eval_raises(1, "c.patch('v1/configmaps', '" NS "', 'x', '{nope')", "patch is not JSON",
                "a patch string that is not JSON");
    eval_raises(1, "c.patch('v1/configmaps', '" NS "', 'a/b', {})", "invalid name 'a/b'",
                "a name with a slash");
    eval_raises(1, "c.patch('v1/configmaps', nil, 'x', {})", "is namespaced",
                "patch of a namespaced kind without namespace");
    eval_raises(1, "c.patch('v1/namespaces', 'x', 'y', {})", "is cluster-scoped",
                "patch of a cluster-scoped kind with a namespace");
    eval_raises(1, "c.delete('v1/configmaps', '" NS "', 'x', {grace = -1})", "grace must be",
                "delete with a negative grace");
    eval_raises(1, "c.delete('v1/configmaps', '" NS "', 'x', {propagation = 'Now'})",
                "propagation must be", "delete with a bad propagation");
    eval_raises(1, "c.delete('v1/configmaps', '" NS "', 'x', {force = true})",
                "unknown option 'force'", "delete with an unknown option");
    eval_raises(1, "c.evict(nil, 'p')", "namespace must be a string", "evict without a namespace");
    eval_raises(1, "c.event(c.get('v1/configmaps', '" NS "', 'cm-b'), 'Info', 'R', 'm')",
                "type must be \"Normal\" or \"Warning\"", "event with a bad type");
    eval_raises(1, "c.event({}, 'Normal', 'R', 'm')", "needs apiVersion, kind and metadata",
                "event about a table that is not an object");
    eval_raises(1, "c.bind(c.get('v1/pods', '" NS "', 'p1'))", "node must be",
                "bind without a node");
    eval_raises(1, "c.bind({}, 'n')", "pod has no metadata", "bind of a table that is not a pod");
    eval_raises(1, "c.log('loud', 'x')", "level must be", "log with a bad level");
    eval_is("c.log('debug', 'from a policy') return 'logged'", "logged", "log at a valid level");
    run_until(never, NULL, 100);
    luacluster_stats(lc, &s1);
    is_int(s1.sent - s0.sent, 0, "no malformed action was sent");
    is_int(s1.queued - s0.queued, 0, "none was queued");
}

static void test_reload(void)
{
    luacluster_stats_t s0, s1;
    policy_t *p = policy_get(set, "p.lua");
    unsigned v0 = p ? policy_version(p) : 0;
    is_int(policy_set_reload_all(set), 0, "reload the policy (a new VM)");
    ok(p && policy_version(p) == v0 + 1, "version bumped");
    luacluster_stats(lc, &s0);
    eval_is("return st.a == nil and c.get('v1/configmaps', '" NS "', 'cm-a').data.v", "2",
            "the new VM reads through its own module");
    luacluster_stats(lc, &s1);
    is_int(s1.conversions - s0.conversions, 1, "the new VM converted the object afresh");
    ok(act("return c.patch('v1/configmaps', '" NS "', 'cm-a', {data = {v = 'reloaded'}})"),
       "actions work in the new VM");
    char v[64];
    get_field("/api/v1/namespaces/" NS "/configmaps/cm-a", "data.v", v, sizeof(v));
    is_str(v, "reloaded", "the patch from the new VM applied");
}

static void test_fallback_scope(void)
{
    /* Before kinds_init: no registry, the scope comes from the namespace given. */
    ok(eval(2, "return c.create({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'x'}})")
       == LUAVM_OK, "without the kinds registry a namespace-less create is accepted");
    ok(eval(0, "return c.get('v1/configmaps', nil, 'cm-a')") == LUAVM_OK &&
       !strcmp(result, "nil"), "and a namespace-less get of a namespaced kind is just nil");
}

int main(void)
{
    const char *url = getenv("BERTH_URL");
    char tmpdir[] = "/tmp/berth-luacluster-XXXXXX", path[512], err[512];

    if (!url || !*url) {
        /* Run by t/0178-luacluster.t, which starts the server; alone it cannot test. */
        printf("Bail out! BERTH_URL is not set (run by t/0178-luacluster.t)\n");
        return 1;
    }
    base = event_base_new();
    struct timeval tick_tv = { 0, 20000 }, dog_tv = { 150, 0 };
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct event *dog = evtimer_new(base, on_watchdog, NULL);
    event_add(tick, &tick_tv);
    evtimer_add(dog, &dog_tv);
    client = apiclient_create(base, url);
    done_log = json_array();
    ok(client != NULL, "apiclient_create(%s)", url);

    luacluster_t *tmp = luacluster_create(client, "x");
    ok(tmp != NULL, "luacluster_create and free (nothing registered)");
    luacluster_free(tmp);
    luacluster_free(NULL);

    is_int(call("POST", "/api/v1/namespaces", json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1",
                "kind", "Namespace", "metadata", "name", NS), NULL), 201, "namespace " NS);
    is_int(call("POST", "/api/v1/namespaces/" NS "/configmaps", cm("cm-a", "web", "fe", "1"), NULL),
           201, "cm-a");
    is_int(call("POST", "/api/v1/namespaces/" NS "/configmaps", cm("cm-b", "web", "db", "1"), NULL),
           201, "cm-b");
    is_int(call("POST", "/api/v1/namespaces/" NS "/configmaps", cm("cm-c", "api", NULL, "1"), NULL),
           201, "cm-c");
    is_int(call("POST", "/api/v1/namespaces/" NS "/pods", pod("p1"), NULL), 201, "pod p1");
    is_int(call("POST", "/api/v1/namespaces/" NS "/pods", pod("p2"), NULL), 201, "pod p2");

    lc = luacluster_create(client, "test-controller");
    ok(lc != NULL, "luacluster_create");
    luacluster_set_done(lc, on_done, NULL);
    informer_handlers_t hc = { NULL, on_update, on_delete, "v1/configmaps" };
    informer_handlers_t hp = { NULL, on_update, on_delete, "pods" };
    informer_handlers_t hn = { NULL, on_update, on_delete, "v1/namespaces" };
    cms = informer_create(base, client, &(informer_config_t){ .path = "/api/v1/configmaps",
                          .ns = NS }, &hc);
    pods = informer_create(base, client, &(informer_config_t){ .path = "/api/v1/pods" }, &hp);
    nss = informer_create(base, client, &(informer_config_t){ .path = "/api/v1/namespaces" }, &hn);
    informer_add_index(cms, "app", index_app, NULL);
    informer_add_index(pods, "node", index_node, NULL);
    informer_start(cms);
    informer_start(pods);
    informer_start(nss);
    ok(run_until(all_synced, NULL, 10000), "informers synced");

    is_int(luacluster_add_informer(lc, "v1/configmaps", cms), 0, "register v1/configmaps");
    is_int(luacluster_add_informer(lc, "pods", pods), 0, "register pods (bare plural)");
    is_int(luacluster_add_informer(lc, "v1/namespaces", nss), 0, "register v1/namespaces");
    is_int(luacluster_add_informer(lc, "configmaps", cms), -1, "a resource registers once");
    is_int(luacluster_add_informer(lc, "v1/pods/status", pods), -1, "no subresource informers");
    is_int(luacluster_add_informer(lc, "Bad Name", pods), -1, "an invalid resource is refused");

    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/p.lua", tmpdir);
    FILE *f = fopen(path, "w");
    fputs(POLICY, f);
    fclose(f);
    policy_opts_t po = { .no_watch = 1, .report = report, .setup = luacluster_policy_setup,
                         .setup_priv = lc, .budget_ms = 1000 };
    set = policy_set_create(base, tmpdir, NULL, &po, err, sizeof(err));
    ok(set != NULL, "policy set (%s)", set ? "ok" : err);
    ok(policy_get(set, "p.lua") != NULL, "the policy loads with berth.cluster (self_test ran)");

    test_fallback_scope();
    ok(kinds_init() == 0, "kinds_init: from now on scopes come from the registry");
    test_reads();
    test_cache();
    test_actions();
    test_discard();
    test_malformed();
    test_reload();

    /* The host frees the API before the VM: the module then raises. */
    luacluster_t *old = lc;
    luacluster_free(old);
    lc = NULL;
    eval_raises(0, "return c.get('v1/configmaps', '" NS "', 'cm-a')",
                "the host closed the cluster API", "after luacluster_free the module raises");

    policy_set_free(set);
    informer_free(cms);
    informer_free(pods);
    informer_free(nss);
    apiclient_free(client);
    kinds_release();
    event_free(tick);
    event_free(dog);
    event_base_free(base);
    json_decref(done_log);
    unlink(path);
    rmdir(tmpdir);
    return done_testing();
}
