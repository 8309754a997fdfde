/* metrics.h: Prometheus text-format metrics for /metrics.
 *
 * Series are identified by a metric name and a rendered label string ('verb="get",code="200"').
 * Counters and gauges hold one value; histograms use fixed latency buckets (seconds).
 * Single-threaded: called from the event loop only.
 *
 * Depends on libevent (evbuffer). Used by the API server, store and, later, the policies. */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include <event2/buffer.h>

/* Describe a metric once (HELP/TYPE lines); type is "counter", "gauge" or "histogram". */
void metrics_describe(const char *name, const char *type, const char *help);
void metrics_add(const char *name, const char *labels, double delta);     /* counter/gauge */
void metrics_set(const char *name, const char *labels, double value);     /* gauge */
void metrics_observe(const char *name, const char *labels, double seconds);/* histogram */
void metrics_render(struct evbuffer *out);
void metrics_release(void);

#endif
