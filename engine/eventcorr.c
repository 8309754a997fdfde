/* eventcorr.c: see eventcorr.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventcorr.h"
#include "util.h"

typedef struct slot_s {
    uint64_t key;       /* 0: empty */
    int count;
    time_t first, last;
} slot_t;

struct eventcorr_s {
    slot_t slots[EVENTCORR_SLOTS];
};

eventcorr_t *eventcorr_create(void)
{
    return calloc(1, sizeof(eventcorr_t));
}

void eventcorr_free(eventcorr_t *ec)
{
    free(ec);
}

/* FNV-1a, 64 bits, over the fields with a separator that cannot occur in them. */
static uint64_t mix(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff;
    h *= 0x100000001b3ULL;
    return h;
}

int eventcorr_record(eventcorr_t *ec, time_t now, const char *source, const char *ns,
                     const char *kind, const char *name, const char *uid, const char *type,
                     const char *reason, const char *message, char *name_out, size_t name_len,
                     time_t *first_seen)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *fields[] = { source, ns, kind, name, uid, type, reason, message };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        h = mix(h, fields[i]);
    if (h == 0)
        h = 1;
    slot_t *s = &ec->slots[h % EVENTCORR_SLOTS];
    if (s->key == h && now - s->first < EVENTCORR_MAX_AGE) {
        s->count++;
        s->last = now;
    } else {
        s->key = h;
        s->count = 1;
        s->first = s->last = now;
    }
    /* At most 253 characters: 228 of the object's name, '.', 8 hex of the key, 16 of the
     * time the count started (so a restarted correlator creates a new Event, never a name
     * that exists). */
    snprintf(name_out, name_len, "%.228s.%08x%016llx", name ? name : "", (unsigned)(h >> 32),
             (unsigned long long)s->first);
    if (first_seen)
        *first_seen = s->first;
    return s->count;
}

json_t *eventcorr_request(eventcorr_t *ec, time_t now, const eventcorr_event_t *e,
                          const char **method, const char **content_type, char *path,
                          size_t pathlen)
{
    char stamp[32], name[256];
    const char *ns = e->involved_ns && *e->involved_ns ? e->involved_ns : "default";
    int count = eventcorr_record(ec, now, e->source, e->involved_ns, e->kind, e->name, e->uid,
                                 e->type, e->reason, e->message, name, sizeof(name), NULL);
    json_t *ev, *obj;
    util_rfc3339(now, stamp);
    if (count > 1) {
        *method = "PATCH";
        *content_type = "application/merge-patch+json";
        snprintf(path, pathlen, "/api/v1/namespaces/%s/events/%s", ns, name);
        return json_pack("{s:i,s:s}", "count", count, "lastTimestamp", stamp);
    }
    *method = "POST";
    *content_type = NULL;
    snprintf(path, pathlen, "/api/v1/namespaces/%s/events", ns);
    ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},s:s,s:s,s:i,"
                   "s:s,s:s}",
                   "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
                   ns, "involvedObject", "kind", e->kind, "name", e->name, "apiVersion",
                   e->api_version, "type", e->type, "reason", e->reason, "message", e->message,
                   "source", "component", e->source, "firstTimestamp", stamp, "lastTimestamp",
                   stamp, "count", 1, "reportingComponent", e->source, "reportingInstance",
                   e->source);
    if (!ev)
        return NULL;
    obj = json_object_get(ev, "involvedObject");
    if (e->involved_ns && *e->involved_ns)
        json_object_set_new(obj, "namespace", json_string(e->involved_ns));
    if (e->uid && *e->uid)
        json_object_set_new(obj, "uid", json_string(e->uid));
    return ev;
}
