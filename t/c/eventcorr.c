/* t/c/eventcorr.c: the event correlator: a repeat is a count increase of the same Event,
 * a different event or object is a new one, and the requests it builds. */
#include "tap.h"
#include "eventcorr.h"

#include <stdlib.h>

int main(void)
{
    eventcorr_t *ec = eventcorr_create();
    char n1[256], n2[256], n3[256], path[512];
    time_t first;
    plan_no_plan();

    is_int(eventcorr_record(ec, 1000, "s", "ns", "Pod", "p", "u1", "Warning", "Failed", "m", n1, sizeof n1, &first), 1, "first recording: count 1");
    is_int(eventcorr_record(ec, 1005, "s", "ns", "Pod", "p", "u1", "Warning", "Failed", "m", n2, sizeof n2, &first), 2, "the same again: count 2");
    is_str(n2, n1, "same Event name");
    is_int(first, 1000, "first seen kept");
    ok(!strncmp(n1, "p.", 2) && strlen(n1) == 2 + 24, "name is <object>.<24 hex>: %s", n1);
    is_int(eventcorr_record(ec, 1006, "s", "ns", "Pod", "p", "u1", "Warning", "Failed", "other", n3, sizeof n3, NULL), 1, "another message: a new Event");
    ok(strcmp(n3, n1), "with another name");
    is_int(eventcorr_record(ec, 1007, "s", "ns", "Pod", "p", "u2", "Warning", "Failed", "m", n3, sizeof n3, NULL), 1, "another object uid: a new Event");
    is_int(eventcorr_record(ec, 1008, "s", "ns", "Pod", "p", "u1", "Warning", "Failed", "m", n3, sizeof n3, NULL), 3, "the first one continues");
    is_int(eventcorr_record(ec, 1000 + EVENTCORR_MAX_AGE + 1, "s", "ns", "Pod", "p", "u1", "Warning", "Failed", "m", n3, sizeof n3, NULL), 1, "after the maximum age: a new count");
    ok(strcmp(n3, n1), "and a new Event name");

    char longname[300];
    memset(longname, 'a', 253);
    longname[253] = '\0';
    eventcorr_record(ec, 1, "s", "ns", "Pod", longname, NULL, "Normal", "R", "m", n3, sizeof n3, NULL);
    ok(strlen(n3) <= 253, "a long object name still gives a valid Event name (%zu)", strlen(n3));

    const char *method, *ctype;
    eventcorr_event_t e = { "ctl", "Deployment", "apps/v1", "team", "web", "uid-1", "Normal", "ScalingReplicaSet", "Scaled up" };
    json_t *b = eventcorr_request(ec, 2000, &e, &method, &ctype, path, sizeof path);
    is_str(method, "POST", "first: POST");
    is_str(path, "/api/v1/namespaces/team/events", "to the object's namespace");
    ok(ctype == NULL, "as JSON");
    is_str(json_string_value(json_object_get(json_object_get(b, "involvedObject"), "uid")), "uid-1", "involvedObject.uid");
    is_str(json_string_value(json_object_get(json_object_get(b, "source"), "component")), "ctl", "source.component");
    is_int(json_integer_value(json_object_get(b, "count")), 1, "count 1");
    const char *name = json_string_value(json_object_get(json_object_get(b, "metadata"), "name"));
    char want[512];
    snprintf(want, sizeof want, "/api/v1/namespaces/team/events/%s", name);
    json_decref(b);
    b = eventcorr_request(ec, 2003, &e, &method, &ctype, path, sizeof path);
    is_str(method, "PATCH", "repeat: PATCH");
    is_str(ctype, "application/merge-patch+json", "a merge patch");
    is_str(path, want, "of the Event created first");
    is_int(json_integer_value(json_object_get(b, "count")), 2, "count 2");
    is_str(json_string_value(json_object_get(b, "lastTimestamp")), "1970-01-01T00:33:23Z", "lastTimestamp now");
    json_decref(b);
    eventcorr_event_t node = { "ctl", "Node", "v1", NULL, "n1", NULL, "Normal", "R", "m" };
    b = eventcorr_request(ec, 2000, &node, &method, &ctype, path, sizeof path);
    is_str(path, "/api/v1/namespaces/default/events", "cluster-scoped: in default");
    ok(json_object_get(json_object_get(b, "involvedObject"), "namespace") == NULL, "no involvedObject.namespace");
    json_decref(b);
    eventcorr_free(ec);
    return done_testing();
}
