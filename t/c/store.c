/* store.c: the Redis store against a real redis-server (REDIS_URL): resourceVersion
 * handling (one counter, strictly increasing, compare-and-swap), stream events with id
 * 0-<rv>, list snapshots and key ranges, and the trimmed window. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "kinds.h"
#include "store.h"
#include "tap.h"

static struct event_base *base;
static int done;
static store_result_t last;
static char last_data[8192];
static store_list_t last_list;
static char list_keys[64][128];
static struct redisReply *last_raw_copy_unused;
static int raw_elements, raw_maxdel_seq;
static uint64_t raw_first_rv;

/* Run the loop until the callback ran; a timer bounds each wait to 10 s. */
static void give_up(evutil_socket_t fd, short what, void *arg)
{
    printf("Bail out! no reply from the store within 10 s\n");
    exit(1);
}

static void wait_done(void)
{
    struct event *t = evtimer_new(base, give_up, NULL);
    struct timeval tv = { 10, 0 };
    evtimer_add(t, &tv);
    while (!done)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
}

static void on_result(const store_result_t *res, void *priv)
{
    last = *res;
    last_data[0] = '\0';
    if (res->data) {
        size_t n = res->len < sizeof(last_data) - 1 ? res->len : sizeof(last_data) - 1;
        memcpy(last_data, res->data, n);
        last_data[n] = '\0';
    }
    last.data = last_data;
    done = 1;
}

static void on_list(const store_list_t *l, void *priv)
{
    last_list = *l;
    for (size_t i = 0; i < l->n && i < 64; i++)
        snprintf(list_keys[i], sizeof(list_keys[i]), "%.*s", (int)l->items[i].keylen, l->items[i].key);
    last_list.items = NULL;
    done = 1;
}

static void on_raw(struct redisReply *r, void *priv)
{
    raw_elements = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        const char *dash = strchr(r->element[0]->str, '-');
        raw_maxdel_seq = dash ? atoi(dash + 1) : 0;
        raw_elements = (int)r->element[1]->elements;
        raw_first_rv = 0;
        if (raw_elements > 0) {
            const char *id = r->element[1]->element[0]->element[0]->str;
            raw_first_rv = strtoull(strchr(id, '-') + 1, NULL, 10);
        }
    }
    done = 1;
}

static void on_state(int up, void *priv)
{
    if (up)
        done = 1;
}

static const char *obj(const char *ns, const char *name, const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\",\"resourceVersion\":\"%s\"},\"data\":{%s}}",
             name, ns, store_rv_placeholder(), extra);
    return buf;
}

#define WRITE(op, ns, name, expect, json, req_ns) do { done = 0; \
    ok(store_write(s, cm, op, ns, name, expect, json, NULL, req_ns, on_result, NULL) == 0, "write sent"); \
    wait_done(); } while (0)

int main(void)
{
    const char *url = getenv("REDIS_URL");
    char err[256];
    const kind_t *cm, *ns_kind;
    store_t *s;

    if (!url) {
        printf("Bail out! REDIS_URL is not set\n");
        return 1;
    }
    kinds_init();
    cm = kinds_find("", "v1", "configmaps");
    ns_kind = kinds_find("", "v1", "namespaces");
    base = event_base_new();
    s = store_create(base, url, 5, err, sizeof(err));
    ok(s != NULL, "store created for %s", url);
    store_set_state_cb(s, on_state, NULL);
    wait_done();
    ok(store_is_up(s), "connected");

    /* namespace to create into */
    done = 0;
    char nsobj[256];
    snprintf(nsobj, sizeof(nsobj), "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"t\",\"resourceVersion\":\"%s\"},\"status\":{\"phase\":\"Active\"}}",
             store_rv_placeholder());
    ok(store_write(s, ns_kind, STORE_CREATE, NULL, "t", 0, nsobj, NULL, NULL, on_result, NULL) == 0, "ns sent");
    wait_done();
    is_int(last.status, STORE_OK, "namespace created");
    uint64_t rv_ns = last.rv;

    WRITE(STORE_CREATE, "nope", "a", 0, obj("nope", "a", ""), "nope");
    is_int(last.status, STORE_NS_MISSING, "create into a missing namespace is refused");

    WRITE(STORE_CREATE, "t", "a", 0, obj("t", "a", "\"k\":\"1\""), "t");
    is_int(last.status, STORE_OK, "create a");
    ok(last.rv > rv_ns, "resourceVersion increases (%" PRIu64 " > %" PRIu64 ")", last.rv, rv_ns);
    uint64_t rv_a = last.rv;
    char want[64];
    snprintf(want, sizeof(want), "\"resourceVersion\":\"%" PRIu64 "\"", rv_a);
    ok(strstr(last_data, want) != NULL, "stored bytes carry the new resourceVersion");
    ok(strstr(last_data, store_rv_placeholder()) == NULL, "placeholder replaced");

    WRITE(STORE_CREATE, "t", "a", 0, obj("t", "a", ""), "t");
    is_int(last.status, STORE_EXISTS, "second create of a: exists");

    WRITE(STORE_UPDATE, "t", "a", rv_a + 100, obj("t", "a", "\"k\":\"2\""), NULL);
    is_int(last.status, STORE_CONFLICT, "update with a wrong resourceVersion: conflict");
    WRITE(STORE_UPDATE, "t", "a", rv_a, obj("t", "a", "\"k\":\"2\""), NULL);
    is_int(last.status, STORE_OK, "update with the right resourceVersion");
    ok(last.rv == rv_a + 1, "one counter: next resourceVersion is %" PRIu64, rv_a + 1);
    uint64_t rv_a2 = last.rv;
    WRITE(STORE_UPDATE, "t", "a", rv_a, obj("t", "a", "\"k\":\"3\""), NULL);
    is_int(last.status, STORE_CONFLICT, "the old resourceVersion no longer matches");
    WRITE(STORE_UPDATE, "t", "zz", 0, obj("t", "zz", ""), NULL);
    is_int(last.status, STORE_NOT_FOUND, "update of a missing object: not found");

    done = 0;
    store_get(s, cm, "t", "a", on_result, NULL);
    wait_done();
    ok(last.status == STORE_OK && strstr(last_data, "\"k\":\"2\""), "get returns the update");

    /* a few more for ranges */
    WRITE(STORE_CREATE, "t", "b", 0, obj("t", "b", ""), "t");
    WRITE(STORE_CREATE, "t", "c", 0, obj("t", "c", ""), "t");
    done = 0;
    store_list(s, cm, "t", NULL, 2, on_list, NULL);
    wait_done();
    is_int(last_list.n, 2, "limit 2 gives 2 items");
    ok(last_list.more, "and says there are more");
    is_str(list_keys[0], "t/a", "in key order (first)");
    is_str(list_keys[1], "t/b", "in key order (second)");
    ok(last_list.rv >= last_list.modrv && last_list.modrv > 0, "snapshot rv and last-write rv");
    done = 0;
    store_list(s, cm, "t", "t/b", 0, on_list, NULL);
    wait_done();
    ok(last_list.n == 1 && !strcmp(list_keys[0], "t/c") && !last_list.more, "continue after t/b gives t/c");
    done = 0;
    store_list(s, cm, "other", NULL, 0, on_list, NULL);
    wait_done();
    is_int(last_list.n, 0, "another namespace's range is empty");

    WRITE(STORE_DELETE, "t", "b", 0, obj("t", "b", ""), NULL);
    is_int(last.status, STORE_OK, "delete b");
    done = 0;
    store_get(s, cm, "t", "b", on_result, NULL);
    wait_done();
    is_int(last.status, STORE_NOT_FOUND, "b is gone");

    /* the stream: events after rv_a, and its window (5 entries, trimmed approximately) */
    done = 0;
    ok(store_stream_range(s, cm, rv_a, 100, on_raw, NULL) == 0, "range sent");
    wait_done();
    ok(raw_elements >= 3, "events after a's creation are in the stream (%d)", raw_elements);
    is_int(raw_first_rv, rv_a2, "the first one is a's update, id 0-<rv>");
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof(name), "n%d", i);
        WRITE(STORE_CREATE, "t", name, 0, obj("t", name, ""), "t");
    }
    done = 0;
    ok(store_stream_range(s, cm, rv_a, 100, on_raw, NULL) == 0, "range sent");
    wait_done();
    ok((uint64_t)raw_maxdel_seq > rv_a, "after 300 writes the window dropped the old events (max deleted %d)",
       raw_maxdel_seq);
    (void)last_raw_copy_unused;

    store_free(s);
    event_base_free(base);
    kinds_release();
    return done_testing();
}
