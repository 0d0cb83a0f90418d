/* Request metrics of ingest, rendered in the Prometheus text format. Cheap
 * and thread-safe: an atomic in-flight gauge, and one series per (route,
 * method, status) under a mutex held for a few hundred nanoseconds. */
#ifndef SC_METRICS_H
#define SC_METRICS_H

#include <stddef.h>

/* A request began / ended. route must be a string that lives for the whole
 * process (a route pattern, or "unmatched"); method is copied only when it is
 * a standard HTTP method, anything else counts as "OTHER". */
void metrics_request_started(void);
void metrics_request_finished(const char *route, const char *method, int status, double seconds);

/* Requests begun and not yet finished. */
long metrics_in_flight(void);

/* The text exposition (version 0.0.4) of every series plus the Kafka produce
 * error counter given by the caller. Returns a malloc'd string (caller frees)
 * and its length in *len; NULL when out of memory. */
char *metrics_render(unsigned long kafka_produce_errors, size_t *len);

/* Forgets every series and frees them (at exit, and between unit tests). */
void metrics_reset(void);

#endif
