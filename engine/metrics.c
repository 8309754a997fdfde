/* metrics.c: see metrics.h. A small open-addressing table of series; the set of series is
 * bounded by verbs x resources x codes, so it never grows without limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define SERIES_MAX 4096
#define DESC_MAX 128

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                  0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct series_s {
    char *name, *labels;
    int histogram;
    double value;                 /* counter/gauge, or histogram sum */
    unsigned long long count;     /* histogram count */
    unsigned long long bucket[NBUCKETS];
} series_t;

typedef struct desc_s {
    char *name, *type, *help;
} desc_t;

static series_t *series[SERIES_MAX];
static size_t nseries;
static desc_t descs[DESC_MAX];
static size_t ndescs;

void metrics_describe(const char *name, const char *type, const char *help)
{
    for (size_t i = 0; i < ndescs; i++)
        if (!strcmp(descs[i].name, name))
            return;
    if (ndescs == DESC_MAX)
        return;
    descs[ndescs].name = strdup(name);
    descs[ndescs].type = strdup(type);
    descs[ndescs].help = strdup(help);
    ndescs++;
}

static series_t *find(const char *name, const char *labels, int histogram)
{
    for (size_t i = 0; i < nseries; i++)
        if (!strcmp(series[i]->name, name) && !strcmp(series[i]->labels, labels))
            return series[i];
    if (nseries == SERIES_MAX)
        return NULL;
    series_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->name = strdup(name);
    s->labels = strdup(labels ? labels : "");
    s->histogram = histogram;
    series[nseries++] = s;
    return s;
}

void metrics_add(const char *name, const char *labels, double delta)
{
    series_t *s = find(name, labels ? labels : "", 0);
    if (s)
        s->value += delta;
}

void metrics_set(const char *name, const char *labels, double value)
{
    series_t *s = find(name, labels ? labels : "", 0);
    if (s)
        s->value = value;
}

void metrics_observe(const char *name, const char *labels, double seconds)
{
    series_t *s = find(name, labels ? labels : "", 1);
    if (!s)
        return;
    s->value += seconds;
    s->count++;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i])
            s->bucket[i]++;
}

static void render_series(struct evbuffer *out, const series_t *s)
{
    const char *sep = s->labels[0] ? "," : "";
    if (!s->histogram) {
        evbuffer_add_printf(out, "%s%s%s%s %.17g\n", s->name, s->labels[0] ? "{" : "", s->labels,
                            s->labels[0] ? "}" : "", s->value);
        return;
    }
    for (size_t i = 0; i < NBUCKETS; i++)
        evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, s->labels, sep,
                            buckets[i], s->bucket[i]);
    evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep, s->count);
    evbuffer_add_printf(out, "%s_sum%s%s%s %.17g\n", s->name, s->labels[0] ? "{" : "", s->labels,
                        s->labels[0] ? "}" : "", s->value);
    evbuffer_add_printf(out, "%s_count%s%s%s %llu\n", s->name, s->labels[0] ? "{" : "", s->labels,
                        s->labels[0] ? "}" : "", s->count);
}

void metrics_render(struct evbuffer *out)
{
    /* Group by metric name so HELP/TYPE precede their series, as the format requires. */
    for (size_t d = 0; d < ndescs; d++) {
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", descs[d].name, descs[d].help,
                            descs[d].name, descs[d].type);
        for (size_t i = 0; i < nseries; i++)
            if (!strcmp(series[i]->name, descs[d].name))
                render_series(out, series[i]);
    }
    for (size_t i = 0; i < nseries; i++) {
        size_t d;
        for (d = 0; d < ndescs; d++)
            if (!strcmp(series[i]->name, descs[d].name))
                break;
        if (d == ndescs)
            render_series(out, series[i]);
    }
}

void metrics_release(void)
{
    for (size_t i = 0; i < nseries; i++) {
        free(series[i]->name);
        free(series[i]->labels);
        free(series[i]);
    }
    nseries = 0;
    for (size_t d = 0; d < ndescs; d++) {
        free(descs[d].name);
        free(descs[d].type);
        free(descs[d].help);
    }
    ndescs = 0;
}
