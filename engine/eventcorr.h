/* eventcorr.h: the event correlator of the components that record Events (scheduler,
 * controllers), as client-go's EventCorrelator does it: the same event about the same object
 * (same source, type, reason and message) recorded again becomes a count increase on the Event
 * already written (a PATCH of count and lastTimestamp) instead of one more Event object.
 *
 * Each count gets its own Event name, "<object name>.<8 hex of the event's key><16 hex of
 * the second the count started>": the first recording creates it with that name, later ones
 * patch it. The correlator remembers the last EVENTCORR_SLOTS distinct events (a
 * direct-mapped table: a collision forgets the older one, which then starts a new count and a
 * new Event); a count older than EVENTCORR_MAX_AGE seconds starts over too. A restarted
 * component starts new Events, as client-go's recorder does.
 *
 * Depends on jansson and util.c; not thread-safe (one per event loop). */
#ifndef BERTH_EVENTCORR_H
#define BERTH_EVENTCORR_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#define EVENTCORR_SLOTS 4096
#define EVENTCORR_MAX_AGE 3600

typedef struct eventcorr_s eventcorr_t;

eventcorr_t *eventcorr_create(void);
void eventcorr_free(eventcorr_t *ec);

/* Record one event. name_out (at least 254 bytes) gets the Event's name. Returns the count
 * the Event has with this recording: 1 means create it (POST with that name), more means
 * patch count and lastTimestamp; *first_seen is when the count started. NULL fields count as
 * empty strings. */
int eventcorr_record(eventcorr_t *ec, time_t now, const char *source, const char *ns,
                     const char *kind, const char *name, const char *uid, const char *type,
                     const char *reason, const char *message, char *name_out, size_t name_len,
                     time_t *first_seen);

/* An event to record. Every field but uid and involved_ns may be empty, none NULL except
 * those two. */
typedef struct eventcorr_event_s {
    const char *source;        /* the reporting component: "default-scheduler", ... */
    const char *kind, *api_version, *involved_ns, *name, *uid;   /* the involved object */
    const char *type, *reason, *message;
} eventcorr_event_t;

/* The API request that records e: "POST .../events" with a new Event, or "PATCH
 * .../events/NAME" (merge patch of count and lastTimestamp) for a repeat. The Event lives in
 * the involved object's namespace, or "default" for cluster-scoped objects. Fills method,
 * content_type (NULL for JSON) and path; returns the body (new reference), NULL only when a
 * string is not UTF-8. */
json_t *eventcorr_request(eventcorr_t *ec, time_t now, const eventcorr_event_t *e,
                          const char **method, const char **content_type, char *path,
                          size_t pathlen);

#endif
