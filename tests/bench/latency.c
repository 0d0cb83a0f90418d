/* Latency samples and percentiles for the bench load programs (latency.h). */
#include "latency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int latencies_add(struct latencies *l, double seconds)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        double *grown = realloc(l->s, cap * sizeof(double));
        if (!grown) {
            return -1;
        }
        l->s = grown;
        l->cap = cap;
    }
    l->s[l->n++] = seconds;
    return 0;
}

int latencies_merge(struct latencies *l, struct latencies *from)
{
    for (size_t i = 0; i < from->n; i++) {
        if (latencies_add(l, from->s[i])) {
            return -1;
        }
    }
    latencies_free(from);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sample below which a share q of the sorted samples lie. */
static double quantile(const struct latencies *l, double q)
{
    return l->n ? l->s[(size_t)(q * (double)(l->n - 1))] : 0;
}

void latencies_print(struct latencies *l, double seconds)
{
    if (l->n) {
        qsort(l->s, l->n, sizeof(double), cmp_double);
    }
    printf("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f n=%zu", (double)l->n / seconds,
           quantile(l, 0.50) * 1e3, quantile(l, 0.99) * 1e3, quantile(l, 1.0) * 1e3, l->n);
}

void latencies_free(struct latencies *l)
{
    free(l->s);
    memset(l, 0, sizeof(*l));
}
