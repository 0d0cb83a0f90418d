/* Latency samples of a load run and the RESULT line the bench scripts read
 * (tests/bench/run.sh and the suites it runs pick fields out of it). */
#ifndef SC_BENCH_LATENCY_H
#define SC_BENCH_LATENCY_H

#include <stddef.h>

struct latencies {
    double *s; /* seconds */
    size_t n, cap;
};

/* Adds one sample; -1 when out of memory. */
int latencies_add(struct latencies *l, double seconds);

/* Appends the samples of from to l and empties from; -1 when out of memory. */
int latencies_merge(struct latencies *l, struct latencies *from);

/* Prints "RESULT rps=... p50_ms=... p99_ms=... max_ms=... n=..." for a run of
 * the given length, without the newline, so the caller can add its own fields.
 * Sorts the samples. */
void latencies_print(struct latencies *l, double seconds);

void latencies_free(struct latencies *l);

#endif
