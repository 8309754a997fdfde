/* leader.c: see leader.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "leader.h"
#include "log.h"
#include "util.h"

struct leader_s {
    apiclient_t *client;
    struct event *timer;
    char *ns, *name, *identity, *path, *collection;
    int lease_seconds, renew_deadline_ms, retry_ms;
    int leading;
    uint64_t last_renew_us;    /* monotonic time of the last successful renewal */
    apiclient_call_t *call;    /* the request in flight, if any */
    leader_change_fn *change;
    void *priv;
};

static void set_leading(leader_t *l, int leading)
{
    if (l->leading == leading)
        return;
    l->leading = leading;
    log_info("leader election: %s %s lease %s/%s", l->identity,
             leading ? "acquired" : "lost", l->ns, l->name);
    if (l->change)
        l->change(leading, l->priv);
}

/* MicroTime, as Lease's acquireTime/renewTime are: RFC 3339 with microseconds. */
static void micro_time(char out[64])
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
}

static void written(int status, json_t *body, const char *errstr, void *priv)
{
    leader_t *l = priv;
    l->call = NULL;
    if (status == 200 || status == 201) {
        l->last_renew_us = util_now_us();
        set_leading(l, 1);
    } else if (l->leading && util_now_us() - l->last_renew_us > (uint64_t)l->renew_deadline_ms * 1000) {
        set_leading(l, 0);
    }
}

static void try_write(leader_t *l, const json_t *current)
{
    char now[64];
    const json_t *spec = json_object_get(current, "spec");
    const char *holder = json_str(spec, "holderIdentity");
    const char *renew = json_str(spec, "renewTime");
    json_t *lease;

    micro_time(now);
    if (current && holder && *holder && strcmp(holder, l->identity)) {
        json_t *dur = json_object_get(spec, "leaseDurationSeconds");
        time_t renewed = renew ? util_parse_rfc3339(renew) : 0;
        long seconds = json_is_integer(dur) ? (long)json_integer_value(dur) : l->lease_seconds;
        if (renewed > 0 && renewed + seconds > time(NULL)) {
            /* Someone else holds a live lease: follow. */
            if (l->leading)
                set_leading(l, 0);
            return;
        }
    }
    if (!current) {
        lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s,s:s,s:i}}", "apiVersion",
                          "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name,
                          "namespace", l->ns, "spec", "holderIdentity", l->identity,
                          "leaseDurationSeconds", l->lease_seconds, "acquireTime", now,
                          "renewTime", now, "leaseTransitions", 0);
        l->call = apiclient_request(l->client, "POST", l->collection, NULL, lease, written, l);
    } else {
        /* PUT with the resourceVersion just read: if another candidate wrote in between,
         * the API answers 409 and this round is lost. */
        lease = json_deep_copy(current);
        json_t *s = json_obj_ensure(lease, "spec");
        int taking = !holder || strcmp(holder, l->identity);
        json_object_set_new(s, "holderIdentity", json_string(l->identity));
        json_object_set_new(s, "leaseDurationSeconds", json_integer(l->lease_seconds));
        json_object_set_new(s, "renewTime", json_string(now));
        if (taking) {
            json_t *tr = json_object_get(s, "leaseTransitions");
            json_object_set_new(s, "acquireTime", json_string(now));
            json_object_set_new(s, "leaseTransitions",
                                json_integer(json_is_integer(tr) ? json_integer_value(tr) + 1 : 1));
        }
        l->call = apiclient_request(l->client, "PUT", l->path, NULL, lease, written, l);
    }
    json_decref(lease);
}

static void got(int status, json_t *body, const char *errstr, void *priv)
{
    leader_t *l = priv;
    l->call = NULL;
    if (status == 200 && body)
        try_write(l, body);
    else if (status == 404)
        try_write(l, NULL);
    else if (l->leading && util_now_us() - l->last_renew_us > (uint64_t)l->renew_deadline_ms * 1000)
        set_leading(l, 0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    leader_t *l = arg;
    if (l->leading && util_now_us() - l->last_renew_us > (uint64_t)l->renew_deadline_ms * 1000)
        set_leading(l, 0);
    if (!l->call)
        l->call = apiclient_request(l->client, "GET", l->path, NULL, NULL, got, l);
}

leader_t *leader_create(struct event_base *base, apiclient_t *client, const leader_opts_t *opts,
                        leader_change_fn *change, void *priv)
{
    leader_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->client = client;
    l->ns = strdup(opts->ns);
    l->name = strdup(opts->name);
    l->identity = strdup(opts->identity);
    l->lease_seconds = opts->lease_seconds > 0 ? opts->lease_seconds : 15;
    l->renew_deadline_ms = opts->renew_deadline_ms > 0 ? opts->renew_deadline_ms : 10000;
    l->retry_ms = opts->retry_ms > 0 ? opts->retry_ms : 2000;
    l->change = change;
    l->priv = priv;
    if (asprintf(&l->collection, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns) < 0)
        l->collection = NULL;
    if (asprintf(&l->path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns, l->name) < 0)
        l->path = NULL;
    l->timer = event_new(base, -1, EV_PERSIST, tick, l);
    if (!l->ns || !l->name || !l->identity || !l->collection || !l->path || !l->timer) {
        leader_free(l);
        return NULL;
    }
    struct timeval tv = { l->retry_ms / 1000, (l->retry_ms % 1000) * 1000 };
    evtimer_add(l->timer, &tv);
    tick(-1, 0, l);
    return l;
}

int leader_is_leading(const leader_t *l)
{
    return l && l->leading;
}

void leader_free(leader_t *l)
{
    if (!l)
        return;
    if (l->call)
        apiclient_cancel(l->call);
    if (l->timer)
        event_free(l->timer);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l->path);
    free(l->collection);
    free(l);
}
