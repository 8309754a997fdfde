/* t/c/table.c: unit tests for engine/table.c (kubectl Table rendering).
 *
 * Objects are written as JSON with single quotes (turned into double quotes) and
 * timestamps given as "seconds before now", so every age is exact. */
#include "tap.h"
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const time_t NOW = 1714564800;   /* 2024-05-01T12:00:00Z */

/* RFC 3339 text for NOW - ago seconds; a ring of buffers so several fit in one call. */
static const char *ago(long ago_s)
{
    static char ring[16][32];
    static int k;
    char *b = ring[k++ % 16];
    time_t t = NOW - ago_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

/* Parse printf-formatted JSON written with ' for ". */
static json_t *J(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    if (!j)
        diag("bad test JSON: %s: %s", err.text, s);
    free(s);
    return j;
}

/* A cell as text: strings as they are, integers as "#N", null as "(null)", others dumped. */
static const char *cell_text(const json_t *v)
{
    static char ring[16][512];
    static int k;
    char *b = ring[k++ % 16];
    if (!v)
        snprintf(b, 512, "(missing)");
    else if (json_is_string(v))
        snprintf(b, 512, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(b, 512, "#%lld", (long long)json_integer_value(v));
    else if (json_is_null(v))
        snprintf(b, 512, "(null)");
    else {
        char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(b, 512, "%s", d ? d : "?");
        free(d);
    }
    return b;
}

static int col_index(const json_t *spec, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(spec, i, c) {
        if (!strcmp(json_string_value(json_object_get(c, "name")), name))
            return (int)i;
    }
    return -1;
}

/* The text of column `col` of a built-in kind's row for obj. */
static const char *C(const char *group, const char *kind, const json_t *obj, const char *col)
{
    const json_t *spec = table_spec_builtin(group, kind);
    int i = col_index(spec, col);
    if (i < 0)
        return "(no such column)";
    json_t *row = table_row(spec, obj, NOW, TABLE_INCLUDE_METADATA);
    const char *t = cell_text(json_array_get(json_object_get(row, "cells"), (size_t)i));
    json_decref(row);
    return t;
}

#define POD(obj, col) C("", "Pod", obj, col)

static void test_human_duration(void)
{
    static const struct { long ago; const char *want; } cases[] = {
        {0, "0s"}, {-1, "0s"}, {-2, "<invalid>"}, {1, "1s"}, {59, "59s"}, {60, "60s"},
        {119, "119s"}, {120, "2m"}, {121, "2m1s"}, {303, "5m3s"}, {599, "9m59s"}, {600, "10m"},
        {601, "10m"}, {179 * 60 + 59, "179m"}, {3 * 3600, "3h"}, {3 * 3600 + 300, "3h5m"},
        {8 * 3600 - 60, "7h59m"}, {8 * 3600, "8h"}, {47 * 3600 + 3599, "47h"},
        {48 * 3600, "2d"}, {51 * 3600, "2d3h"}, {8 * 86400 - 3600, "7d23h"}, {8 * 86400, "8d"},
        {729L * 86400, "729d"}, {730L * 86400, "2y"}, {(3L * 365 + 45) * 86400, "3y45d"},
        {8L * 365 * 86400, "8y"}, {20L * 365 * 86400 + 86400 * 100, "20y"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = J("{'metadata':{'name':'x','creationTimestamp':'%s'}}", ago(cases[i].ago));
        is_str(C("", "ConfigMap", o, "Age"), cases[i].want, "HumanDuration %lds", cases[i].ago);
        json_decref(o);
    }
    json_t *o = J("{'metadata':{'name':'x'}}");
    is_str(C("", "ConfigMap", o, "Age"), "<unknown>", "no creationTimestamp: <unknown>");
    json_decref(o);
    o = J("{'metadata':{'name':'x','creationTimestamp':null}}");
    is_str(C("", "ConfigMap", o, "Age"), "<unknown>", "null creationTimestamp: <unknown>");
    json_decref(o);
    o = J("{'metadata':{'name':'x','creationTimestamp':'0001-01-01T00:00:00Z'}}");
    is_str(C("", "ConfigMap", o, "Age"), "<unknown>", "zero time: <unknown>");
    json_decref(o);
    o = J("{'metadata':{'name':'x','creationTimestamp':'2024-05-01T13:55:00+02:00'}}");
    is_str(C("", "ConfigMap", o, "Age"), "5m", "zone offset honoured");
    json_decref(o);
    o = J("{'metadata':{'name':'x','creationTimestamp':'2024-05-01T11:57:59.900000Z'}}");
    is_str(C("", "ConfigMap", o, "Age"), "2m", "fractional seconds: 120.1s is 2m");
    json_decref(o);
    o = J("{'metadata':{'name':'x','creationTimestamp':'2024-02-30T00:00:00Z'}}");
    is_str(C("", "ConfigMap", o, "Age"), "<unknown>", "impossible date reads as unset");
    json_decref(o);
}

static void test_columns(void)
{
    const json_t *spec = table_spec_builtin("", "Pod");
    json_t *defs = table_column_definitions(spec);
    static const char *names[] = {"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                  "Nominated Node", "Readiness Gates"};
    static const int prio[] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    is_int(json_array_size(defs), 9, "pod: 9 columns");
    for (size_t i = 0; i < 9; i++) {
        json_t *d = json_array_get(defs, i);
        is_str(json_string_value(json_object_get(d, "name")), names[i], "pod column %zu name", i);
        is_int(json_integer_value(json_object_get(d, "priority")), prio[i], "pod column %s priority",
               names[i]);
        ok(json_is_string(json_object_get(d, "description")), "pod column %s has a description",
           names[i]);
        ok(json_object_get(d, "jsonPath") == NULL && json_object_get(d, "cell") == NULL,
           "column %s definition carries no spec internals", names[i]);
    }
    is_str(json_string_value(json_object_get(json_array_get(defs, 0), "format")), "name",
           "Name column has format name");
    is_str(json_string_value(json_object_get(json_array_get(defs, 1), "format")), "",
           "other columns have format \"\"");
    is_str(json_string_value(json_object_get(json_array_get(defs, 3), "type")), "string",
           "Restarts is a string column (it carries the age)");
    json_decref(defs);

    /* Every built-in spec passes the checker a plugin spec must pass. */
    static const char *kinds[][2] = {
        {"", "Pod"}, {"apps", "Deployment"}, {"apps", "ReplicaSet"}, {"", "ReplicationController"},
        {"", "Service"}, {"", "Endpoints"}, {"", "Node"}, {"", "Event"}, {"", "Namespace"},
        {"coordination.k8s.io", "Lease"}, {"", "ConfigMap"}, {"", "Secret"}, {"x.io", "Widget"},
        {"apps", "DaemonSet"}, {"apps", "StatefulSet"}, {"apps", "ControllerRevision"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char err[256] = "";
        is_int(table_spec_check(table_spec_builtin(kinds[i][0], kinds[i][1]), err, sizeof err), 0,
               "built-in spec %s/%s is valid %s", kinds[i][0], kinds[i][1], err);
    }
    ok(table_spec_builtin("", "Pod") != table_spec_builtin("", "Widget"), "Pod has its own spec");
    ok(table_spec_builtin("apps", "Pod") == table_spec_builtin(NULL, "Widget"),
       "apps/Pod is not /Pod: default spec");
    ok(table_spec_builtin(NULL, "Pod") == table_spec_builtin("", "Pod"), "NULL group is core");

    static const struct { const char *g, *k; size_t n; const char *last; } shapes[] = {
        {"apps", "Deployment", 8, "Selector"}, {"apps", "ReplicaSet", 8, "Selector"},
        {"", "ReplicationController", 8, "Selector"}, {"", "Service", 7, "Selector"},
        {"", "Endpoints", 3, "Age"}, {"", "Node", 10, "Container-Runtime"},
        {"", "Event", 10, "Name"}, {"", "Namespace", 3, "Age"},
        {"coordination.k8s.io", "Lease", 3, "Age"}, {"", "ConfigMap", 3, "Age"},
        {"", "Secret", 4, "Age"}, {"", "Unknown", 2, "Created At"},
        {"apps", "DaemonSet", 11, "Selector"}, {"apps", "StatefulSet", 5, "Images"},
        {"apps", "ControllerRevision", 4, "Age"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const json_t *s = table_spec_builtin(shapes[i].g, shapes[i].k);
        is_int(json_array_size(s), shapes[i].n, "%s/%s has %zu columns", shapes[i].g, shapes[i].k,
               shapes[i].n);
        is_str(json_string_value(json_object_get(json_array_get(s, json_array_size(s) - 1), "name")),
               shapes[i].last, "%s/%s last column", shapes[i].g, shapes[i].k);
    }
    spec = table_spec_builtin("", "Event");
    static const char *ev[] = {"Last Seen", "Type", "Reason", "Object", "Subobject", "Source",
                               "Message", "First Seen", "Count", "Name"};
    static const int evp[] = {0, 0, 0, 0, 1, 1, 0, 1, 1, 1};
    for (size_t i = 0; i < 10; i++) {
        const json_t *c = json_array_get(spec, i);
        is_str(json_string_value(json_object_get(c, "name")), ev[i], "event column %zu", i);
        is_int(json_integer_value(json_object_get(c, "priority")), evp[i], "event %s priority", ev[i]);
    }
    spec = table_spec_builtin("", "Unknown");
    is_str(json_string_value(json_object_get(json_array_get(spec, 1), "type")), "date",
           "default Created At is a date column");
}

static void test_pod_running(void)
{
    json_t *p = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-1','namespace':'default',"
                  "'uid':'u-1','resourceVersion':'42','creationTimestamp':'%s','labels':{'app':'web'},"
                  "'managedFields':[{'manager':'kubectl'}],'ownerReferences':[{'kind':'ReplicaSet',"
                  "'name':'web-abc'}]},"
                  "'spec':{'nodeName':'node-1','containers':[{'name':'a','image':'nginx'},"
                  "{'name':'b','image':'busybox'}]},"
                  "'status':{'phase':'Running','podIP':'10.1.0.5','podIPs':[{'ip':'10.1.0.5'}],"
                  "'conditions':[{'type':'Ready','status':'True'}],"
                  "'containerStatuses':["
                  "{'name':'a','ready':true,'restartCount':0,'state':{'running':{'startedAt':'%s'}}},"
                  "{'name':'b','ready':true,'restartCount':0,'state':{'running':{'startedAt':'%s'}}}]}}",
                  ago(3 * 86400 + 7200), ago(100), ago(100));
    is_str(POD(p, "Name"), "web-1", "running pod: name");
    is_str(POD(p, "Ready"), "2/2", "running pod: 2/2");
    is_str(POD(p, "Status"), "Running", "running pod: Running");
    is_str(POD(p, "Restarts"), "0", "running pod: 0 restarts");
    is_str(POD(p, "Age"), "3d2h", "running pod: age");
    is_str(POD(p, "IP"), "10.1.0.5", "running pod: IP");
    is_str(POD(p, "Node"), "node-1", "running pod: node");
    is_str(POD(p, "Nominated Node"), "<none>", "running pod: nominated <none>");
    is_str(POD(p, "Readiness Gates"), "<none>", "running pod: gates <none>");

    json_t *row = table_row(table_spec_builtin("", "Pod"), p, NOW, TABLE_INCLUDE_METADATA);
    const json_t *o = json_object_get(row, "object");
    is_str(json_string_value(json_object_get(o, "kind")), "PartialObjectMetadata", "row object kind");
    is_str(json_string_value(json_object_get(o, "apiVersion")), "meta.k8s.io/v1", "row object apiVersion");
    const json_t *md = json_object_get(o, "metadata");
    ok(json_object_get(md, "managedFields") == NULL, "managedFields dropped");
    is_str(json_string_value(json_object_get(md, "uid")), "u-1", "uid kept");
    is_str(json_string_value(json_object_get(md, "resourceVersion")), "42", "resourceVersion kept");
    is_str(json_string_value(json_object_get(json_object_get(md, "labels"), "app")), "web", "labels kept");
    ok(json_is_array(json_object_get(md, "ownerReferences")), "ownerReferences kept");
    ok(json_object_get(row, "conditions") == NULL, "running pod row has no conditions");
    is_int(json_array_size(json_object_get(row, "cells")), 9, "9 cells");
    ok(json_object_get(json_object_get(p, "metadata"), "managedFields") != NULL,
       "input object untouched");
    json_decref(row);
    json_decref(p);

    /* only podIP set: IP still shown; not ready container counted as such */
    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
          "'status':{'phase':'Running','podIP':'10.9.9.9','containerStatuses':["
          "{'name':'a','ready':false,'state':{'running':{}}},{'name':'b','ready':true,'state':{'running':{}}}]}}");
    is_str(POD(p, "IP"), "10.9.9.9", "podIP without podIPs");
    is_str(POD(p, "Ready"), "1/2", "one of two ready");
    is_str(POD(p, "Node"), "<none>", "unscheduled: node <none>");
    json_decref(p);

    /* pending, creating */
    p = J("{'metadata':{'name':'p','creationTimestamp':'%s'},'spec':{'nodeName':'n1','containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','containerStatuses':[{'name':'a','ready':false,"
          "'state':{'waiting':{'reason':'ContainerCreating'}}}]}}", ago(5));
    is_str(POD(p, "Status"), "ContainerCreating", "waiting reason shown");
    is_str(POD(p, "Ready"), "0/1", "0/1 while creating");
    is_str(POD(p, "IP"), "<none>", "no IP yet");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Pending',"
          "'conditions':[{'type':'PodScheduled','status':'False','reason':'SchedulingGated'}]}}");
    is_str(POD(p, "Status"), "SchedulingGated", "scheduling gated");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','nominatedNodeName':'n2'}}");
    is_str(POD(p, "Status"), "Pending", "plain pending");
    is_str(POD(p, "Nominated Node"), "n2", "nominated node");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}],'readinessGates':["
          "{'conditionType':'www.example.com/feature-1'},{'conditionType':'www.example.com/feature-2'}]},"
          "'status':{'phase':'Running','conditions':[{'type':'www.example.com/feature-1','status':'True'},"
          "{'type':'www.example.com/feature-2','status':'False'}]}}");
    is_str(POD(p, "Readiness Gates"), "1/2", "readiness gates 1/2");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},"
          "'status':{'phase':'Failed','reason':'Evicted','message':'low on memory'}}");
    is_str(POD(p, "Status"), "Evicted", "status.reason wins over phase");
    json_decref(p);
}

static void test_pod_restarts(void)
{
    json_t *p = J("{'metadata':{'name':'crash','creationTimestamp':'%s'},'spec':{'containers':[{'name':'app'}]},"
                  "'status':{'phase':'Running','containerStatuses':[{'name':'app','ready':false,'restartCount':3,"
                  "'state':{'waiting':{'reason':'CrashLoopBackOff','message':'back-off'}},"
                  "'lastState':{'terminated':{'exitCode':1,'reason':'Error','finishedAt':'%s'}}}]}}",
                  ago(3600), ago(300));
    is_str(POD(p, "Status"), "CrashLoopBackOff", "crashloop status");
    is_str(POD(p, "Restarts"), "3 (5m ago)", "restarts with last termination age");
    is_str(POD(p, "Ready"), "0/1", "crashloop 0/1");
    json_decref(p);

    /* restarts summed over containers; latest termination wins */
    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
          "'status':{'phase':'Running','containerStatuses':["
          "{'name':'a','ready':true,'restartCount':2,'state':{'running':{}},"
          "'lastState':{'terminated':{'exitCode':1,'finishedAt':'%s'}}},"
          "{'name':'b','ready':true,'restartCount':5,'state':{'running':{}},"
          "'lastState':{'terminated':{'exitCode':1,'finishedAt':'%s'}}}]}}",
          ago(7200), ago(90));
    is_str(POD(p, "Restarts"), "7 (90s ago)", "restarts summed, newest termination");
    is_str(POD(p, "Status"), "Running", "restarted but running");
    json_decref(p);

    /* restarts but no recorded termination time: plain number */
    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running',"
          "'containerStatuses':[{'name':'a','ready':true,'restartCount':4,'state':{'running':{}}}]}}");
    is_str(POD(p, "Restarts"), "4", "restarts without a finishedAt");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running',"
          "'containerStatuses':[{'name':'a','state':{'terminated':{'exitCode':137}}}]}}");
    is_str(POD(p, "Status"), "ExitCode:137", "terminated without reason: ExitCode");
    json_decref(p);
    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running',"
          "'containerStatuses':[{'name':'a','state':{'terminated':{'exitCode':0,'signal':9}}}]}}");
    is_str(POD(p, "Status"), "Signal:9", "terminated by signal");
    json_decref(p);
    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running',"
          "'containerStatuses':[{'name':'a','state':{'terminated':{'exitCode':137,'reason':'OOMKilled'}}}]}}");
    is_str(POD(p, "Status"), "OOMKilled", "terminated reason");
    json_decref(p);
}

static void test_pod_init(void)
{
    json_t *p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i1'},{'name':'i2'}],"
                  "'containers':[{'name':'a'}]},'status':{'phase':'Pending',"
                  "'initContainerStatuses':["
                  "{'name':'i1','ready':true,'restartCount':0,'state':{'terminated':{'exitCode':0,'reason':'Completed'}}},"
                  "{'name':'i2','ready':false,'restartCount':0,'state':{'running':{}}}],"
                  "'containerStatuses':[{'name':'a','ready':false,'state':{'waiting':{'reason':'PodInitializing'}}}]}}");
    is_str(POD(p, "Status"), "Init:1/2", "second init container running: Init:1/2");
    is_str(POD(p, "Ready"), "0/1", "init: 0/1");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','initContainerStatuses':[{'name':'i1','restartCount':0,"
          "'state':{'waiting':{'reason':'PodInitializing'}}}]}}");
    is_str(POD(p, "Status"), "Init:0/1", "waiting PodInitializing: Init:0/1");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','initContainerStatuses':[{'name':'i1','restartCount':4,"
          "'state':{'waiting':{'reason':'CrashLoopBackOff'}},"
          "'lastState':{'terminated':{'exitCode':1,'finishedAt':'%s'}}}],"
          "'containerStatuses':[{'name':'a','restartCount':0,'state':{'waiting':{'reason':'PodInitializing'}}}]}}",
          ago(40));
    is_str(POD(p, "Status"), "Init:CrashLoopBackOff", "Init:CrashLoopBackOff");
    is_str(POD(p, "Restarts"), "4 (40s ago)", "init container restarts count while initializing");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','initContainerStatuses':[{'name':'i1',"
          "'state':{'terminated':{'exitCode':1,'reason':'Error'}}}]}}");
    is_str(POD(p, "Status"), "Init:Error", "Init:Error");
    json_decref(p);
    p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','initContainerStatuses':[{'name':'i1',"
          "'state':{'terminated':{'exitCode':2}}}]}}");
    is_str(POD(p, "Status"), "Init:ExitCode:2", "Init:ExitCode");
    json_decref(p);
    p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},"
          "'status':{'phase':'Pending','initContainerStatuses':[{'name':'i1',"
          "'state':{'terminated':{'exitCode':1,'signal':15}}}]}}");
    is_str(POD(p, "Status"), "Init:Signal:15", "Init:Signal");
    json_decref(p);

    /* A native sidecar (restartPolicy Always), started and ready, counts in READY. */
    p = J("{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'side','restartPolicy':'Always'}],"
          "'containers':[{'name':'a'}]},'status':{'phase':'Running',"
          "'conditions':[{'type':'Initialized','status':'True'},{'type':'Ready','status':'True'}],"
          "'initContainerStatuses':[{'name':'side','ready':true,'started':true,'restartCount':1,"
          "'state':{'running':{}},'lastState':{'terminated':{'exitCode':1,'finishedAt':'%s'}}}],"
          "'containerStatuses':[{'name':'a','ready':true,'restartCount':0,'state':{'running':{}}}]}}",
          ago(600));
    is_str(POD(p, "Ready"), "2/2", "sidecar counts in ready/total");
    is_str(POD(p, "Status"), "Running", "sidecar pod running");
    is_str(POD(p, "Restarts"), "1 (10m ago)", "sidecar restarts counted");
    json_decref(p);
}

static void test_pod_lifecycle(void)
{
    json_t *p = J("{'metadata':{'name':'p','deletionTimestamp':'%s','deletionGracePeriodSeconds':30},"
                  "'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running',"
                  "'containerStatuses':[{'name':'a','ready':true,'state':{'running':{}}}]}}", ago(-30));
    is_str(POD(p, "Status"), "Terminating", "deletionTimestamp: Terminating");
    json_t *row = table_row(table_spec_builtin("", "Pod"), p, NOW, TABLE_INCLUDE_METADATA);
    ok(json_object_get(json_object_get(json_object_get(row, "object"), "metadata"),
                       "deletionTimestamp") != NULL, "deletionTimestamp in row object");
    json_decref(row);
    json_decref(p);

    p = J("{'metadata':{'name':'p','deletionTimestamp':'%s'},'spec':{'containers':[{'name':'a'}]},"
          "'status':{'phase':'Running','reason':'NodeLost'}}", ago(10));
    is_str(POD(p, "Status"), "Unknown", "NodeLost being deleted: Unknown");
    json_decref(p);
    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},"
          "'status':{'phase':'Running','reason':'NodeLost'}}");
    is_str(POD(p, "Status"), "NodeLost", "reason NodeLost shown as is");
    json_decref(p);

    p = J("{'metadata':{'name':'job-x'},'spec':{'containers':[{'name':'a'}]},"
          "'status':{'phase':'Succeeded','containerStatuses':[{'name':'a','ready':false,'restartCount':0,"
          "'state':{'terminated':{'exitCode':0,'reason':'Completed','finishedAt':'%s'}}}]}}", ago(60));
    is_str(POD(p, "Status"), "Completed", "completed pod");
    is_str(POD(p, "Ready"), "0/1", "completed 0/1");
    row = table_row(table_spec_builtin("", "Pod"), p, NOW, TABLE_INCLUDE_METADATA);
    const json_t *cond = json_array_get(json_object_get(row, "conditions"), 0);
    is_str(json_string_value(json_object_get(cond, "type")), "Completed", "succeeded: row condition");
    is_str(json_string_value(json_object_get(cond, "reason")), "Succeeded", "succeeded: reason");
    is_str(json_string_value(json_object_get(cond, "message")), "The pod has completed successfully.",
           "succeeded: message");
    json_decref(row);
    json_decref(p);

    p = J("{'metadata':{'name':'p','deletionTimestamp':'%s'},'spec':{'containers':[{'name':'a'}]},"
          "'status':{'phase':'Succeeded','containerStatuses':[{'name':'a',"
          "'state':{'terminated':{'exitCode':0,'reason':'Completed'}}}]}}", ago(1));
    is_str(POD(p, "Status"), "Completed", "terminal pod being deleted keeps its status");
    json_decref(p);

    p = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Failed'}}");
    row = table_row(table_spec_builtin("", "Pod"), p, NOW, TABLE_INCLUDE_METADATA);
    cond = json_array_get(json_object_get(row, "conditions"), 0);
    is_str(json_string_value(json_object_get(cond, "message")), "The pod failed.", "failed: condition");
    json_decref(row);
    json_decref(p);

    /* One container completed, another still running: Running or NotReady. */
    const char *two = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
                      "'status':{'phase':'Running','conditions':[{'type':'Ready','status':'%s'}],"
                      "'containerStatuses':[{'name':'a','ready':true,'state':{'running':{}}},"
                      "{'name':'b','ready':false,'state':{'terminated':{'exitCode':0,'reason':'Completed'}}}]}}";
    p = J(two, "True");
    is_str(POD(p, "Status"), "Running", "completed + running, pod Ready: Running");
    is_str(POD(p, "Ready"), "1/2", "completed + running: 1/2");
    json_decref(p);
    p = J(two, "False");
    is_str(POD(p, "Status"), "NotReady", "completed + running, pod not Ready: NotReady");
    json_decref(p);
}

static void test_workloads(void)
{
    json_t *d = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','creationTimestamp':'%s'},"
                  "'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web'},'matchExpressions':["
                  "{'key':'tier','operator':'In','values':['b','a']},{'key':'canary','operator':'DoesNotExist'}]},"
                  "'template':{'spec':{'containers':[{'name':'nginx','image':'nginx:1.25'},"
                  "{'name':'side','image':'busybox'}]}}},"
                  "'status':{'replicas':3,'readyReplicas':2,'updatedReplicas':3,'availableReplicas':2}}",
                  ago(45 * 60));
    is_str(C("apps", "Deployment", d, "Ready"), "2/3", "deployment ready/desired");
    is_str(C("apps", "Deployment", d, "Up-to-date"), "#3", "deployment up-to-date is a number");
    is_str(C("apps", "Deployment", d, "Available"), "#2", "deployment available is a number");
    is_str(C("apps", "Deployment", d, "Age"), "45m", "deployment age");
    is_str(C("apps", "Deployment", d, "Containers"), "nginx,side", "deployment containers");
    is_str(C("apps", "Deployment", d, "Images"), "nginx:1.25,busybox", "deployment images");
    is_str(C("apps", "Deployment", d, "Selector"), "app=web,!canary,tier in (a,b)",
           "deployment selector sorted by key");
    json_decref(d);

    d = J("{'metadata':{'name':'web'},'spec':{'selector':{'matchExpressions':[{'key':'a','operator':'Bogus'}]},"
          "'template':{'spec':{'containers':[{'name':'c','image':'i'}]}}},'status':{}}");
    is_str(C("apps", "Deployment", d, "Selector"), "<invalid>", "bad operator: <invalid>");
    is_str(C("apps", "Deployment", d, "Ready"), "0/1", "no replicas: defaulted 1, no status 0");
    is_str(C("apps", "Deployment", d, "Up-to-date"), "#0", "no status: 0");
    json_decref(d);

    json_t *rs = J("{'metadata':{'name':'web-5d4'},'spec':{'replicas':3,'selector':{'matchLabels':"
                   "{'pod-template-hash':'5d4','app':'web'}},'template':{'spec':{'containers':[{'name':'c','image':'i:1'}]}}},"
                   "'status':{'replicas':3,'readyReplicas':1}}");
    is_str(C("apps", "ReplicaSet", rs, "Desired"), "#3", "rs desired");
    is_str(C("apps", "ReplicaSet", rs, "Current"), "#3", "rs current");
    is_str(C("apps", "ReplicaSet", rs, "Ready"), "#1", "rs ready");
    is_str(C("apps", "ReplicaSet", rs, "Selector"), "app=web,pod-template-hash=5d4", "rs selector");
    is_str(C("apps", "ReplicaSet", rs, "Images"), "i:1", "rs images");
    json_decref(rs);
    rs = J("{'metadata':{'name':'x'},'spec':{'replicas':0,'selector':{}},'status':{'replicas':0}}");
    is_str(C("apps", "ReplicaSet", rs, "Selector"), "<none>", "rs empty selector: <none>");
    is_str(C("apps", "ReplicaSet", rs, "Desired"), "#0", "rs scaled to zero");
    is_str(C("apps", "ReplicaSet", rs, "Containers"), "", "no template: empty");
    json_decref(rs);
    rs = J("{'metadata':{'name':'x'},'spec':{'selector':{'matchExpressions':[{'key':'a','operator':'In','values':[]}]}}}");
    is_str(C("apps", "ReplicaSet", rs, "Selector"), "<error>", "rs In without values: <error>");
    json_decref(rs);

    json_t *rc = J("{'metadata':{'name':'rc'},'spec':{'replicas':2,'selector':{'a':'2','a-b':'1'},"
                   "'template':{'spec':{'containers':[{'name':'c','image':'i'}]}}},'status':{'replicas':2,'readyReplicas':2}}");
    is_str(C("", "ReplicationController", rc, "Desired"), "#2", "rc desired");
    is_str(C("", "ReplicationController", rc, "Ready"), "#2", "rc ready");
    is_str(C("", "ReplicationController", rc, "Selector"), "a-b=1,a=2",
           "rc selector: k=v pairs sorted as strings");
    json_decref(rc);
    rc = J("{'metadata':{'name':'rc'},'spec':{'replicas':1}}");
    is_str(C("", "ReplicationController", rc, "Selector"), "<none>", "rc no selector: <none>");
    json_decref(rc);
}

/* printDaemonSet, printStatefulSet, printControllerRevision. */
static void test_apps_kinds(void)
{
    const json_t *spec = table_spec_builtin("apps", "DaemonSet");
    static const char *dsn[] = {"Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                                "Node Selector", "Age", "Containers", "Images", "Selector"};
    static const char *dst[] = {"string", "integer", "integer", "integer", "integer", "integer",
                                "string", "string", "string", "string", "string"};
    static const int dsp[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    for (size_t i = 0; i < 11; i++) {
        const json_t *c = json_array_get(spec, i);
        is_str(json_string_value(json_object_get(c, "name")), dsn[i], "ds column %zu", i);
        is_str(json_string_value(json_object_get(c, "type")), dst[i], "ds %s type", dsn[i]);
        is_int(json_integer_value(json_object_get(c, "priority")), dsp[i], "ds %s priority", dsn[i]);
    }
    json_t *ds = J("{'metadata':{'name':'fluent','creationTimestamp':'%s'},'spec':{'selector':"
                   "{'matchLabels':{'app':'fluent'},'matchExpressions':[{'key':'tier','operator':'NotIn',"
                   "'values':['x']}]},'template':{'spec':{'nodeSelector':{'zone':'a','disk':'ssd',"
                   "'a-b':'1'},'containers':[{'name':'agent','image':'fluent:1'},{'name':'side',"
                   "'image':'busybox'}]}}},'status':{'desiredNumberScheduled':3,'currentNumberScheduled':"
                   "2,'numberReady':1,'updatedNumberScheduled':4,'numberAvailable':5}}", ago(3 * 3600));
    is_str(C("apps", "DaemonSet", ds, "Desired"), "#3", "ds desired is a number");
    is_str(C("apps", "DaemonSet", ds, "Current"), "#2", "ds current");
    is_str(C("apps", "DaemonSet", ds, "Ready"), "#1", "ds ready");
    is_str(C("apps", "DaemonSet", ds, "Up-to-date"), "#4", "ds up-to-date");
    is_str(C("apps", "DaemonSet", ds, "Available"), "#5", "ds available");
    is_str(C("apps", "DaemonSet", ds, "Node Selector"), "a-b=1,disk=ssd,zone=a",
           "ds node selector: labels.FormatLabels, pairs sorted");
    is_str(C("apps", "DaemonSet", ds, "Age"), "3h", "ds age");
    is_str(C("apps", "DaemonSet", ds, "Containers"), "agent,side", "ds containers");
    is_str(C("apps", "DaemonSet", ds, "Images"), "fluent:1,busybox", "ds images");
    is_str(C("apps", "DaemonSet", ds, "Selector"), "app=fluent,tier notin (x)", "ds selector");
    json_decref(ds);
    ds = J("{'metadata':{'name':'d'},'spec':{'selector':{},'template':{'spec':{'nodeSelector':{}}}}}");
    is_str(C("apps", "DaemonSet", ds, "Node Selector"), "<none>", "ds empty node selector");
    is_str(C("apps", "DaemonSet", ds, "Selector"), "<none>", "ds empty selector: <none>");
    is_str(C("apps", "DaemonSet", ds, "Desired"), "#0", "ds without status: 0");
    json_decref(ds);

    json_t *sts = J("{'metadata':{'name':'web'},'spec':{'replicas':3,'template':{'spec':{'containers':"
                    "[{'name':'nginx','image':'nginx:1.25'}]}}},'status':{'readyReplicas':2}}");
    is_str(C("apps", "StatefulSet", sts, "Ready"), "2/3", "sts ready/replicas");
    is_str(C("apps", "StatefulSet", sts, "Containers"), "nginx", "sts containers");
    is_str(C("apps", "StatefulSet", sts, "Images"), "nginx:1.25", "sts images");
    is_int(json_integer_value(json_object_get(json_array_get(table_spec_builtin("apps",
           "StatefulSet"), 3), "priority")), 1, "sts Containers is wide");
    json_decref(sts);
    sts = J("{'metadata':{'name':'web'},'spec':{}}");
    is_str(C("apps", "StatefulSet", sts, "Ready"), "0/0", "sts without replicas nor status: 0/0");
    json_decref(sts);

    json_t *cr = J("{'metadata':{'name':'fluent-5d4','creationTimestamp':'%s','ownerReferences':["
                   "{'apiVersion':'v1','kind':'Pod','name':'p'},{'apiVersion':'apps/v1',"
                   "'kind':'DaemonSet','name':'fluent','controller':true}]},'revision':7}", ago(90));
    is_str(C("apps", "ControllerRevision", cr, "Controller"), "daemonset.apps/fluent",
           "cr controller: the controller ref, lower(Kind.group)/name");
    is_str(C("apps", "ControllerRevision", cr, "Revision"), "#7", "cr revision is a number");
    is_str(C("apps", "ControllerRevision", cr, "Age"), "90s", "cr age");
    json_decref(cr);
    cr = J("{'metadata':{'name':'x','ownerReferences':[{'apiVersion':'v1','kind':'ReplicationController',"
           "'name':'rc','controller':true}]}}");
    is_str(C("apps", "ControllerRevision", cr, "Controller"), "replicationcontroller/rc",
           "cr core-group controller: lower(Kind)/name");
    is_str(C("apps", "ControllerRevision", cr, "Revision"), "#0", "cr without revision: 0");
    json_decref(cr);
    cr = J("{'metadata':{'name':'x','ownerReferences':[{'apiVersion':'apps/v1','kind':'DaemonSet',"
           "'name':'d','controller':false}]}}");
    is_str(C("apps", "ControllerRevision", cr, "Controller"), "<none>",
           "cr with an owner that is not its controller: <none>");
    json_decref(cr);
    cr = J("{'metadata':{'name':'x','ownerReferences':[{'apiVersion':'example.com/v1beta1',"
           "'kind':'MySet','name':'m','controller':true}]}}");
    is_str(C("apps", "ControllerRevision", cr, "Controller"), "myset.example.com/m",
           "cr controller of a custom group");
    json_decref(cr);
}

static void test_services(void)
{
    json_t *s = J("{'metadata':{'name':'kubernetes','creationTimestamp':'%s'},'spec':{'type':'ClusterIP',"
                  "'clusterIP':'10.96.0.1','clusterIPs':['10.96.0.1'],'ports':[{'name':'https','port':443,"
                  "'protocol':'TCP','targetPort':6443}]}}", ago(86400 * 10));
    is_str(C("", "Service", s, "Type"), "ClusterIP", "svc type");
    is_str(C("", "Service", s, "Cluster-IP"), "10.96.0.1", "svc cluster ip");
    is_str(C("", "Service", s, "External-IP"), "<none>", "svc no external ip");
    is_str(C("", "Service", s, "Port(s)"), "443/TCP", "svc port");
    is_str(C("", "Service", s, "Age"), "10d", "svc age");
    is_str(C("", "Service", s, "Selector"), "<none>", "svc no selector");
    json_decref(s);

    s = J("{'metadata':{'name':'web'},'spec':{'type':'NodePort','clusterIPs':['10.96.3.4'],"
          "'selector':{'app':'web','tier':'fe'},'externalIPs':['1.2.3.4','5.6.7.8'],"
          "'ports':[{'port':80,'nodePort':30080,'protocol':'TCP'},{'port':53,'nodePort':30053,'protocol':'UDP'}]}}");
    is_str(C("", "Service", s, "Port(s)"), "80:30080/TCP,53:30053/UDP", "nodeport ports");
    is_str(C("", "Service", s, "External-IP"), "1.2.3.4,5.6.7.8", "externalIPs joined");
    is_str(C("", "Service", s, "Selector"), "app=web,tier=fe", "svc selector");
    json_decref(s);

    s = J("{'metadata':{'name':'lb'},'spec':{'type':'LoadBalancer','clusterIPs':['10.96.0.9'],"
          "'ports':[{'port':80,'nodePort':31000}]},'status':{'loadBalancer':{}}}");
    is_str(C("", "Service", s, "External-IP"), "<pending>", "lb without ingress: <pending>");
    is_str(C("", "Service", s, "Port(s)"), "80:31000/TCP", "protocol defaults to TCP");
    json_decref(s);
    s = J("{'metadata':{'name':'lb'},'spec':{'type':'LoadBalancer','clusterIPs':['10.96.0.9'],"
          "'ports':[{'port':80}]},'status':{'loadBalancer':{'ingress':[{'ip':'203.0.113.9'},"
          "{'hostname':'lb.example.com'},{'ip':'198.51.100.7'},{'ip':'203.0.113.9'}]}}}");
    is_str(C("", "Service", s, "External-IP"), "198.51.100.7,203.0.113.9,lb.example.com",
           "lb ingress sorted and unique, not clipped");
    json_decref(s);
    s = J("{'metadata':{'name':'lb'},'spec':{'type':'LoadBalancer','externalIPs':['9.9.9.9'],"
          "'ports':[{'port':80}]},'status':{'loadBalancer':{'ingress':[{'ip':'1.1.1.1'}]}}}");
    is_str(C("", "Service", s, "External-IP"), "1.1.1.1,9.9.9.9", "lb ingress then externalIPs");
    is_str(C("", "Service", s, "Cluster-IP"), "<none>", "no cluster ip: <none>");
    json_decref(s);
    s = J("{'metadata':{'name':'ext'},'spec':{'type':'ExternalName','externalName':'db.example.com'}}");
    is_str(C("", "Service", s, "External-IP"), "db.example.com", "ExternalName");
    is_str(C("", "Service", s, "Port(s)"), "<none>", "no ports: <none>");
    json_decref(s);
    s = J("{'metadata':{'name':'h'},'spec':{'clusterIP':'None','clusterIPs':['None'],'ports':[{'port':5432}]}}");
    is_str(C("", "Service", s, "Cluster-IP"), "None", "headless");
    is_str(C("", "Service", s, "Type"), "ClusterIP", "type defaults to ClusterIP");
    json_decref(s);

    json_t *e = J("{'metadata':{'name':'web','creationTimestamp':'%s'},'subsets':[{'addresses':["
                  "{'ip':'10.0.0.1'},{'ip':'10.0.0.2'},{'ip':'10.0.0.3'},{'ip':'10.0.0.4'},{'ip':'10.0.0.5'}],"
                  "'ports':[{'port':80,'protocol':'TCP'}]}]}", ago(30));
    is_str(C("", "Endpoints", e, "Endpoints"), "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...",
           "endpoints: three then + N more...");
    is_str(C("", "Endpoints", e, "Age"), "30s", "endpoints age");
    json_decref(e);
    e = J("{'metadata':{'name':'web'},'subsets':[{'addresses':[{'ip':'10.0.0.1'},{'ip':'10.0.0.2'}],"
          "'ports':[{'port':80},{'port':443}]}]}");
    is_str(C("", "Endpoints", e, "Endpoints"), "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
           "endpoints: addresses x ports");
    json_decref(e);
    e = J("{'metadata':{'name':'web'},'subsets':[{'addresses':[{'ip':'fd00::1'}],'ports':[{'port':8080}]},"
          "{'addresses':[{'ip':'10.0.0.9'}]}]}");
    is_str(C("", "Endpoints", e, "Endpoints"), "[fd00::1]:8080,10.0.0.9",
           "endpoints: IPv6 bracketed, portless subset lists IPs");
    json_decref(e);
    e = J("{'metadata':{'name':'web'}}");
    is_str(C("", "Endpoints", e, "Endpoints"), "<none>", "endpoints: none");
    json_decref(e);
    e = J("{'metadata':{'name':'web'},'subsets':[{'notReadyAddresses':[{'ip':'10.0.0.1'}],'ports':[{'port':80}]}]}");
    is_str(C("", "Endpoints", e, "Endpoints"), "", "endpoints: only not-ready addresses print empty");
    json_decref(e);
}

static void test_nodes(void)
{
    json_t *n = J("{'metadata':{'name':'cp-1','creationTimestamp':'%s','labels':{"
                  "'node-role.kubernetes.io/control-plane':'','node-role.kubernetes.io/master':'',"
                  "'kubernetes.io/role':'etcd','node-role.kubernetes.io/':'x','kubernetes.io/hostname':'cp-1'}},"
                  "'status':{'conditions':[{'type':'MemoryPressure','status':'False'},{'type':'Ready','status':'True'}],"
                  "'addresses':[{'type':'Hostname','address':'cp-1'},{'type':'InternalIP','address':'192.168.1.10'}],"
                  "'nodeInfo':{'kubeletVersion':'v1.31.0','osImage':'Debian GNU/Linux 12 (bookworm)',"
                  "'kernelVersion':'6.1.0-18-amd64','containerRuntimeVersion':'docker://24.0.7'}}}",
                  ago(200 * 86400));
    is_str(C("", "Node", n, "Status"), "Ready", "node ready");
    is_str(C("", "Node", n, "Roles"), "control-plane,etcd,master", "node roles sorted");
    is_str(C("", "Node", n, "Age"), "200d", "node age");
    is_str(C("", "Node", n, "Version"), "v1.31.0", "kubelet version");
    is_str(C("", "Node", n, "Internal-IP"), "192.168.1.10", "internal ip");
    is_str(C("", "Node", n, "External-IP"), "<none>", "external ip none");
    is_str(C("", "Node", n, "OS-Image"), "Debian GNU/Linux 12 (bookworm)", "os image");
    is_str(C("", "Node", n, "Kernel-Version"), "6.1.0-18-amd64", "kernel");
    is_str(C("", "Node", n, "Container-Runtime"), "docker://24.0.7", "runtime");
    json_decref(n);

    n = J("{'metadata':{'name':'w-1'},'spec':{'unschedulable':true},'status':{'conditions':"
          "[{'type':'Ready','status':'False'}],'addresses':[{'type':'ExternalIP','address':'203.0.113.5'}]}}");
    is_str(C("", "Node", n, "Status"), "NotReady,SchedulingDisabled", "not ready and cordoned");
    is_str(C("", "Node", n, "Roles"), "<none>", "no roles");
    is_str(C("", "Node", n, "External-IP"), "203.0.113.5", "external ip");
    is_str(C("", "Node", n, "OS-Image"), "<unknown>", "missing os image: <unknown>");
    is_str(C("", "Node", n, "Version"), "", "missing version: empty");
    json_decref(n);
    n = J("{'metadata':{'name':'w-2'},'spec':{'unschedulable':true},'status':{'conditions':"
          "[{'type':'Ready','status':'True'}]}}");
    is_str(C("", "Node", n, "Status"), "Ready,SchedulingDisabled", "cordoned ready node");
    json_decref(n);
    n = J("{'metadata':{'name':'w-3'},'status':{'conditions':[{'type':'Ready','status':'Unknown'}]}}");
    is_str(C("", "Node", n, "Status"), "NotReady", "Ready=Unknown prints NotReady");
    json_decref(n);
    n = J("{'metadata':{'name':'w-4','labels':{'kubernetes.io/role':''}}}");
    is_str(C("", "Node", n, "Status"), "Unknown", "no Ready condition: Unknown");
    is_str(C("", "Node", n, "Roles"), "<none>", "empty kubernetes.io/role ignored");
    json_decref(n);
}

static void test_events(void)
{
    json_t *e = J("{'apiVersion':'v1','kind':'Event','metadata':{'name':'web-1.17c8a','namespace':'default',"
                  "'creationTimestamp':'%s'},'involvedObject':{'kind':'Pod','name':'web-1','namespace':'default',"
                  "'fieldPath':'spec.containers{app}'},'reason':'BackOff','type':'Warning',"
                  "'message':'  Back-off restarting failed container\\n','source':{'component':'kubelet','host':'node-1'},"
                  "'firstTimestamp':'%s','lastTimestamp':'%s','count':12}",
                  ago(3600), ago(3600), ago(42));
    is_str(C("", "Event", e, "Last Seen"), "42s", "event last seen");
    is_str(C("", "Event", e, "Type"), "Warning", "event type");
    is_str(C("", "Event", e, "Reason"), "BackOff", "event reason");
    is_str(C("", "Event", e, "Object"), "pod/web-1", "event object");
    is_str(C("", "Event", e, "Subobject"), "spec.containers{app}", "event subobject");
    is_str(C("", "Event", e, "Source"), "kubelet, node-1", "event source");
    is_str(C("", "Event", e, "Message"), "Back-off restarting failed container", "message trimmed");
    is_str(C("", "Event", e, "First Seen"), "60m", "event first seen");
    is_str(C("", "Event", e, "Count"), "#12", "event count is a number");
    is_str(C("", "Event", e, "Name"), "web-1.17c8a", "event name");
    json_decref(e);

    e = J("{'metadata':{'name':'x'},'involvedObject':{'kind':'Node'},'reason':'R','type':'Normal'}");
    is_str(C("", "Event", e, "Last Seen"), "<unknown>", "no timestamps: <unknown>");
    is_str(C("", "Event", e, "First Seen"), "<unknown>", "no timestamps: first <unknown>");
    is_str(C("", "Event", e, "Object"), "node", "no involved name: kind only");
    is_str(C("", "Event", e, "Count"), "#1", "count 0 shows 1");
    is_str(C("", "Event", e, "Source"), "", "no source: empty");
    json_decref(e);

    e = J("{'metadata':{'name':'x'},'involvedObject':{'kind':'Deployment','name':'web'},"
          "'eventTime':'2024-05-01T11:59:00.123456Z','reportingComponent':'deployment-controller',"
          "'reportingInstance':'cm-1','series':{'count':7,'lastObservedTime':'2024-05-01T11:59:50.000000Z'}}");
    is_str(C("", "Event", e, "First Seen"), "59s", "eventTime when no firstTimestamp (59.87s truncates)");
    is_str(C("", "Event", e, "Last Seen"), "10s", "series lastObservedTime");
    is_str(C("", "Event", e, "Count"), "#7", "series count");
    is_str(C("", "Event", e, "Source"), "deployment-controller, cm-1", "reporting controller/instance");
    is_str(C("", "Event", e, "Object"), "deployment/web", "object kind lower-cased");
    json_decref(e);

    e = J("{'metadata':{'name':'x'},'involvedObject':{'kind':'Pod','name':'p'},"
          "'firstTimestamp':'%s','source':{'component':'scheduler'}}", ago(150));
    is_str(C("", "Event", e, "Last Seen"), "2m30s", "no lastTimestamp: first seen");
    is_str(C("", "Event", e, "Source"), "scheduler", "component without host");
    json_decref(e);
}

static void test_small_kinds(void)
{
    json_t *o = J("{'metadata':{'name':'default','creationTimestamp':'%s'},'status':{'phase':'Active'}}", ago(7200));
    is_str(C("", "Namespace", o, "Status"), "Active", "namespace status");
    is_str(C("", "Namespace", o, "Age"), "120m", "namespace age");
    json_decref(o);
    o = J("{'metadata':{'name':'ns','deletionTimestamp':'%s'},'status':{'phase':'Terminating'}}", ago(3));
    is_str(C("", "Namespace", o, "Status"), "Terminating", "namespace terminating");
    json_decref(o);

    o = J("{'metadata':{'name':'kube-scheduler'},'spec':{'holderIdentity':'cp-1_abc','leaseDurationSeconds':15}}");
    is_str(C("coordination.k8s.io", "Lease", o, "Holder"), "cp-1_abc", "lease holder");
    json_decref(o);
    o = J("{'metadata':{'name':'l'},'spec':{}}");
    is_str(C("coordination.k8s.io", "Lease", o, "Holder"), "", "lease without holder");
    json_decref(o);

    o = J("{'metadata':{'name':'cfg'},'data':{'a':'1','b':'2'},'binaryData':{'c':'AAE='}}");
    is_str(C("", "ConfigMap", o, "Data"), "#3", "configmap data counts data + binaryData");
    json_decref(o);
    o = J("{'metadata':{'name':'cfg'}}");
    is_str(C("", "ConfigMap", o, "Data"), "#0", "configmap without data");
    json_decref(o);

    o = J("{'metadata':{'name':'tls'},'type':'kubernetes.io/tls','data':{'tls.crt':'eA==','tls.key':'eQ=='}}");
    is_str(C("", "Secret", o, "Type"), "kubernetes.io/tls", "secret type");
    is_str(C("", "Secret", o, "Data"), "#2", "secret data count");
    json_decref(o);
    o = J("{'metadata':{'name':'s'}}");
    is_str(C("", "Secret", o, "Type"), "Opaque", "secret type defaults to Opaque");
    json_decref(o);

    o = J("{'apiVersion':'x.io/v1','kind':'Widget','metadata':{'name':'w1','creationTimestamp':'2024-05-01T13:00:00+02:00'}}");
    is_str(C("x.io", "Widget", o, "Name"), "w1", "default: name");
    is_str(C("x.io", "Widget", o, "Created At"), "2024-05-01T11:00:00Z", "default: RFC3339 in UTC");
    json_decref(o);
    o = J("{'metadata':{'name':'w1','creationTimestamp':'1969-12-31T23:59:59Z'}}");
    is_str(C("x.io", "Widget", o, "Created At"), "1969-12-31T23:59:59Z", "default: before the epoch");
    json_decref(o);
    o = J("{'metadata':{'name':'w1'}}");
    is_str(C("x.io", "Widget", o, "Created At"), "0001-01-01T00:00:00Z", "default: zero time when missing");
    json_decref(o);
}

/* Render one jsonPath column of type `type` for obj. */
static const char *JP(const char *path, const char *type, const json_t *obj)
{
    json_t *spec = json_pack("[{s:s,s:s,s:s}]", "name", "X", "type", type, "jsonPath", path);
    char err[256] = "";
    if (table_spec_check(spec, err, sizeof err) != 0) {
        json_decref(spec);
        diag("spec rejected: %s", err);
        return "(rejected)";
    }
    json_t *row = table_row(spec, obj, NOW, TABLE_INCLUDE_METADATA);
    const char *t = cell_text(json_array_get(json_object_get(row, "cells"), 0));
    json_decref(row);
    json_decref(spec);
    return t;
}

static void test_jsonpath(void)
{
    json_t *o = J("{'metadata':{'name':'w','creationTimestamp':'%s','labels':{'app.kubernetes.io/name':'shop'}},"
                  "'spec':{'replicas':4,'ratio':0.25,'big':1000000.0,'flag':true,'size':'3Gi','n':null,"
                  "'items':[{'name':'a','port':1},{'name':'b','port':2},{'port':3}],'nested':{'k':'v'}},"
                  "'status':{'conditions':[{'type':'Ready','status':'True'},{'type':'Synced','status':'False'}],"
                  "'when':'%s','bad':'yesterday'}}", ago(600), ago(125));
    is_str(JP(".spec.replicas", "integer", o), "#4", "integer path");
    is_str(JP(".spec.replicas", "string", o), "4", "integer printed as string");
    is_str(JP(".spec.ratio", "number", o), "0.25", "number path");
    is_str(JP(".spec.ratio", "string", o), "0.25", "float printed as string");
    is_str(JP(".spec.big", "string", o), "1e+06", "float printed as Go prints it");
    is_str(JP(".spec.ratio", "integer", o), "#0", "float truncated for integer column");
    is_str(JP(".spec.flag", "boolean", o), "true", "boolean path");
    is_str(JP(".spec.flag", "string", o), "true", "boolean as string");
    is_str(JP(".spec.size", "integer", o), "(null)", "string in integer column: null");
    is_str(JP(".spec.missing", "string", o), "(null)", "missing: null");
    is_str(JP(".spec.n", "string", o), "(null)", "JSON null: null");
    is_str(JP(".status.conditions[0].type", "string", o), "Ready", "index path");
    is_str(JP(".status.conditions[-1].type", "string", o), "Synced", "negative index");
    is_str(JP(".status.conditions[5].type", "string", o), "(null)", "index out of range");
    is_str(JP(".spec.items[*].name", "string", o), "a,b", "wildcard joined with ,");
    is_str(JP(".spec.items[*].port", "integer", o), "#1", "wildcard non-string: first match");
    is_str(JP(".metadata.creationTimestamp", "date", o), "10m", "date column shows an age");
    is_str(JP(".status.when", "date", o), "2m5s", "date column age");
    is_str(JP(".status.bad", "date", o), "<invalid>", "bad date: <invalid>");
    is_str(JP("{.metadata.name}", "string", o), "w", "braces accepted");
    is_str(JP("['metadata']['name']", "string", o), "w", "bracket-quoted fields");
    is_str(JP(".metadata.labels.app\\.kubernetes\\.io/name", "string", o), "shop", "escaped dots");
    is_str(JP(".metadata.labels['app.kubernetes.io/name']", "string", o), "shop", "quoted key with dots");
    is_str(JP(".spec.nested", "string", o), "{\"k\":\"v\"}", "object as string: JSON");
    is_str(JP(".spec.replicas.deeper", "string", o), "(null)", "field of a scalar: null");
    json_decref(o);
}

static void check_err(json_t *spec, const char *want_sub, const char *what)
{
    char err[256] = "";
    int rc = table_spec_check(spec, err, sizeof err);
    is_int(rc, -1, "rejected: %s", what);
    ok(strstr(err, want_sub) != NULL, "error for %s mentions '%s' (got: %s)", what, want_sub, err);
    json_decref(spec);
}

static void test_spec_check(void)
{
    char err[256];
    json_t *good = J("[{'name':'Name','type':'string','format':'name','priority':0,'description':'d',"
                     "'cell':'meta.name'},{'name':'Size','type':'integer','priority':1,'jsonPath':'.spec.size'},"
                     "{'name':'Age','type':'date','jsonPath':'.metadata.creationTimestamp'}]");
    is_int(table_spec_check(good, err, sizeof err), 0, "good plugin spec accepted");
    json_t *defs = table_column_definitions(good);
    is_int(json_integer_value(json_object_get(json_array_get(defs, 1), "priority")), 1,
           "definition priority from spec");
    is_str(json_string_value(json_object_get(json_array_get(defs, 2), "format")), "",
           "missing format defaults to empty");
    json_decref(defs);
    json_decref(good);

    check_err(J("{'name':'x'}"), "array", "spec not an array");
    check_err(J("[]"), "non-empty", "empty spec");
    check_err(J("[1]"), "object", "column not an object");
    check_err(J("[{'type':'string','cell':'meta.name'}]"), "name", "missing name");
    check_err(J("[{'name':'','type':'string','cell':'meta.name'}]"), "name", "empty name");
    check_err(J("[{'name':'A','type':'text','cell':'meta.name'}]"), "type must be", "bad type");
    check_err(J("[{'name':'A','cell':'meta.name'}]"), "type must be", "missing type");
    check_err(J("[{'name':'A','type':'string'}]"), "exactly one", "neither jsonPath nor cell");
    check_err(J("[{'name':'A','type':'string','cell':'meta.name','jsonPath':'.a'}]"), "exactly one",
              "both jsonPath and cell");
    check_err(J("[{'name':'A','type':'string','cell':'pod.bogus'}]"), "unknown cell", "unknown cell");
    check_err(J("[{'name':'A','type':'string','cell':7}]"), "unknown cell", "cell not a string");
    check_err(J("[{'name':'A','type':'string','jsonPath':'a.b'}]"), "must start", "path without a dot");
    check_err(J("[{'name':'A','type':'string','jsonPath':'.a['}]"), "unclosed", "unclosed bracket");
    check_err(J("[{'name':'A','type':'string','jsonPath':'.a..b'}]"), "empty field", "empty segment");
    check_err(J("[{'name':'A','type':'string','jsonPath':'.a[x]'}]"), "bad index", "bad index");
    check_err(J("[{'name':'A','type':'string','jsonPath':'{.a'}]"), "unclosed {", "unclosed brace");
    check_err(J("[{'name':'A','type':'string','jsonPath':''}]"), "jsonPath", "empty path");
    check_err(J("[{'name':'A','type':'string','jsonPath':5}]"), "must be a string", "path not a string");
    check_err(J("[{'name':'A','type':'string','priority':-1,'cell':'meta.name'}]"), "priority",
              "negative priority");
    check_err(J("[{'name':'A','type':'string','priority':'1','cell':'meta.name'}]"), "priority",
              "priority not an integer");
    check_err(J("[{'name':'A','type':'string','format':1,'cell':'meta.name'}]"), "format",
              "format not a string");
    check_err(J("[{'name':'A','type':'string','JSONPath':'.a'}]"), "unknown field", "misspelt key");
    check_err(J("[{'name':'A','type':'string','cell':'meta.name'},{'name':'B','type':'string','jsonPath':'.a b'}]"),
              "column 1 (B)", "error names the column");

    /* long paths and many segments are refused, not walked */
    char path[700];
    size_t k = 0;
    for (int i = 0; i < 40 && k + 3 < sizeof path; i++) {
        path[k++] = '.';
        path[k++] = 'a';
    }
    path[k] = '\0';
    check_err(json_pack("[{s:s,s:s,s:s}]", "name", "A", "type", "string", "jsonPath", path),
              "segments", "too many segments");
    memset(path, 'a', sizeof path - 1);
    path[0] = '.';
    path[sizeof path - 1] = '\0';
    check_err(json_pack("[{s:s,s:s,s:s}]", "name", "A", "type", "string", "jsonPath", path),
              "characters", "path too long");
}

/* Objects of the wrong shape must render without crashing (values read as absent). */
static void test_robustness(void)
{
    static const char *weird[] = {
        "{}", "{'metadata':[]}", "{'metadata':{'name':5,'creationTimestamp':7}}",
        "{'spec':'x','status':[]}",
        ("{'spec':{'containers':'x','initContainers':{}},'status':{'containerStatuses':[1,null,{'state':[]}],"
         "'initContainerStatuses':[{'state':{'terminated':{'exitCode':'1'}}}]}}"),
        "{'spec':{'selector':{'matchLabels':{'a':1},'matchExpressions':[{'key':'a','operator':'In','values':[1]}]}}}",
        "{'subsets':[{'addresses':'x','ports':[{'port':'80'}]}]}",
        "{'status':{'conditions':{},'addresses':[null],'loadBalancer':{'ingress':[1,{'ip':2}]}}}",
        "{'metadata':{'labels':{'node-role.kubernetes.io/':'','kubernetes.io/role':7}}}",
        "{'series':{},'count':'many','involvedObject':[],'message':'   '}",
        "{'status':{'containerStatuses':[{'restartCount':1e300,'lastState':{'terminated':{'finishedAt':'9999-12-31T23:59:59Z'}}}]}}",
    };
    static const char *kinds[][2] = {
        {"", "Pod"}, {"apps", "Deployment"}, {"apps", "ReplicaSet"}, {"", "ReplicationController"},
        {"", "Service"}, {"", "Endpoints"}, {"", "Node"}, {"", "Event"}, {"", "Namespace"},
        {"coordination.k8s.io", "Lease"}, {"", "ConfigMap"}, {"", "Secret"}, {"x", "Y"},
        {"apps", "DaemonSet"}, {"apps", "StatefulSet"}, {"apps", "ControllerRevision"},
    };
    int fine = 1;
    for (size_t i = 0; i < sizeof weird / sizeof weird[0]; i++) {
        json_t *o = J(weird[i]);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            const json_t *spec = table_spec_builtin(kinds[k][0], kinds[k][1]);
            json_t *row = table_row(spec, o, NOW, TABLE_INCLUDE_METADATA);
            if (!row || json_array_size(json_object_get(row, "cells")) != json_array_size(spec))
                fine = 0;
            json_decref(row);
        }
        json_decref(o);
    }
    ok(fine, "odd shapes render a full row for every kind");

    json_t *o = J("{'status':{'containerStatuses':[{'restartCount':1,'lastState':{'terminated':"
                  "{'finishedAt':'9999-12-31T23:59:59Z'}}}]},'metadata':{'creationTimestamp':'0002-01-01T00:00:00Z'}}");
    is_str(POD(o, "Restarts"), "1 (<invalid> ago)", "termination in the far future");
    json_decref(o);
    o = J("{'metadata':{'creationTimestamp':'0002-01-01T00:00:00Z'}}");
    is_str(POD(o, "Age"), "292y", "ages saturate like Go durations");
    json_decref(o);
    json_t *row = table_row(NULL, NULL, NOW, TABLE_INCLUDE_METADATA);
    ok(row && json_array_size(json_object_get(row, "cells")) == 0, "NULL spec and object: empty row");
    json_decref(row);
}

int main(void)
{
    plan_no_plan();
    test_human_duration();
    test_columns();
    test_pod_running();
    test_pod_restarts();
    test_pod_init();
    test_pod_lifecycle();
    test_workloads();
    test_apps_kinds();
    test_services();
    test_nodes();
    test_events();
    test_small_kinds();
    test_jsonpath();
    test_spec_check();
    test_robustness();
    return done_testing();
}
