/* bench/json_speed.c: jsonload and jsondump against jansson's json_loadb and json_dumps,
 * in one process on the same input (docs/dependencies.md, "JSON").
 *
 *   build/bench/json_speed [-n PODS] [-r ROUNDS] [-f POD.json]
 *
 * The input is a v1 PodList of PODS copies of POD.json (default bench/pod.json) with distinct
 * names, the shape of an informer's list page or a watch event's object. Each round parses
 * and writes the list once with each implementation, alternating, and checks they agree;
 * the line printed holds the medians, in ms, and the ratios (jansson / berth: how many times
 * faster berth's is). Small lists are parsed and written REPEAT times per round (so that a
 * round handles about 10,000 pods) and the times are given per list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jsondump.h"
#include "jsonload.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

#define MAX_ROUNDS 101

int main(int argc, char **argv)
{
    const char *pod_file = "bench/pod.json";
    int pods = 10000, rounds = 9, c;
    json_error_t jerr;

    while ((c = getopt(argc, argv, "n:r:f:h")) != -1) {
        switch (c) {
        case 'n': pods = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'f': pod_file = optarg; break;
        default:
            fprintf(stderr, "usage: json_speed [-n PODS] [-r ROUNDS] [-f POD.json]\n");
            return 2;
        }
    }
    if (pods < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "json_speed: PODS >= 1 and 1 <= ROUNDS <= %d\n", MAX_ROUNDS);
        return 2;
    }
    json_t *pod = json_load_file(pod_file, 0, &jerr);
    if (!json_is_object(pod)) {
        fprintf(stderr, "json_speed: %s: %s\n", pod_file, jerr.text);
        return 1;
    }
    json_t *list = json_pack("{s:s,s:s,s:{s:s},s:[]}", "apiVersion", "v1", "kind", "PodList",
                             "metadata", "resourceVersion", "12345", "items");
    json_t *items = json_object_get(list, "items");
    for (int i = 0; i < pods; i++) {
        char name[64];
        json_t *p = json_deep_copy(pod), *md = json_object_get(p, "metadata");
        if (!json_is_object(md)) {
            md = json_object();
            json_object_set_new(p, "metadata", md);
        }
        snprintf(name, sizeof(name), "pod-%d", i);
        json_object_set_new(md, "name", json_string(name));
        json_object_set_new(md, "uid", json_sprintf("6f1c0d2e-0000-4000-8000-%012d", i));
        json_object_set_new(md, "resourceVersion", json_sprintf("%d", 1000 + i));
        json_array_append_new(items, p);
    }
    char *text = json_dumps(list, JSON_COMPACT);
    size_t len = strlen(text);
    double lj[MAX_ROUNDS], lb[MAX_ROUNDS], dj[MAX_ROUNDS], db[MAX_ROUNDS];
    int repeat = pods >= 10000 ? 1 : 10000 / pods;

    for (int r = 0; r < rounds; r++) {
        lj[r] = lb[r] = dj[r] = db[r] = 0;
        for (int k = 0; k < repeat; k++) {
            double t0 = now_ms();
            json_t *a = json_loadb(text, len, 0, &jerr);
            double t1 = now_ms();
            json_t *b = jsonload(text, len, 0, &jerr);
            double t2 = now_ms();
            char *sa = json_dumps(a, JSON_COMPACT);
            double t3 = now_ms();
            char *sb = jsondump(b, JSON_COMPACT);
            double t4 = now_ms();
            if (!a || !b || !json_equal(a, b) || !sa || !sb || strcmp(sa, sb) || strcmp(sa, text)) {
                fprintf(stderr, "json_speed: the implementations disagree\n");
                return 1;
            }
            lj[r] += (t1 - t0) / repeat;
            lb[r] += (t2 - t1) / repeat;
            dj[r] += (t3 - t2) / repeat;
            db[r] += (t4 - t3) / repeat;
            free(sa);
            free(sb);
            json_decref(a);
            json_decref(b);
        }
    }
    double mlj = median(lj, rounds), mlb = median(lb, rounds);
    double mdj = median(dj, rounds), mdb = median(db, rounds);
    printf("bytes=%zu pods=%d rounds=%d load_jansson_ms=%.3f load_berth_ms=%.3f load_ratio=%.2f "
           "dump_jansson_ms=%.3f dump_berth_ms=%.3f dump_ratio=%.2f\n",
           len, pods, rounds, mlj, mlb, mlj / mlb, mdj, mdb, mdj / mdb);
    free(text);
    json_decref(list);
    json_decref(pod);
    return 0;
}
