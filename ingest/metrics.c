/* Metrics store (see metrics.h). Series are kept in an open-addressing
 * table keyed by (route, method, status); the cardinality is bounded by the
 * route table times a handful of methods and statuses, so it stays small. */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prometheus' default buckets: from a cache hit to a slow upload. */
static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

struct series {
    const char *route; /* NULL: free slot */
    const char *method;
    int status;
    unsigned long count;
    double sum;
    unsigned long buckets[N_BUCKETS]; /* non-cumulative; summed when rendered */
};

static struct {
    pthread_mutex_t lock;
    struct series *slots;
    size_t cap, used;
} table = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static atomic_long in_flight;

void metrics_request_started(void)
{
    atomic_fetch_add(&in_flight, 1);
}

long metrics_in_flight(void)
{
    return atomic_load(&in_flight);
}

static const char *method_label(const char *method)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (!strcmp(methods[i], method)) {
            return methods[i];
        }
    }
    return "OTHER";
}

static size_t hash_of(const char *route, const char *method, int status)
{
    size_t h = 14695981039346656037u;
    for (const char *p = route; *p; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    }
    /* method is one of the interned labels: its address is its identity */
    h = (h ^ (size_t)(uintptr_t)method) * 1099511628211u;
    return (h ^ (size_t)status) * 1099511628211u;
}

/* The slot of (route, method, status) in slots[cap], free or matching. */
static struct series *find_slot(struct series *slots, size_t cap, const char *route,
                                const char *method, int status)
{
    for (size_t i = hash_of(route, method, status) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct series *s = &slots[i];
        if (!s->route || (s->status == status && s->method == method && !strcmp(s->route, route))) {
            return s;
        }
    }
}

/* Doubles the table when it is half full; 0 when out of memory. */
static int grow_if_needed(void)
{
    if (table.used * 2 < table.cap) {
        return 1;
    }
    size_t cap = table.cap ? table.cap * 2 : 256;
    struct series *slots = calloc(cap, sizeof(*slots));
    if (!slots) {
        return 0;
    }
    for (size_t i = 0; i < table.cap; i++) {
        struct series *s = &table.slots[i];
        if (s->route) {
            *find_slot(slots, cap, s->route, s->method, s->status) = *s;
        }
    }
    free(table.slots);
    table.slots = slots;
    table.cap = cap;
    return 1;
}

void metrics_request_finished(const char *route, const char *method, int status, double seconds)
{
    const char *m = method_label(method);
    size_t b = 0;
    while (b < N_BUCKETS && seconds > bucket_le[b]) {
        b++;
    }
    pthread_mutex_lock(&table.lock);
    if (grow_if_needed()) {
        struct series *s = find_slot(table.slots, table.cap, route, m, status);
        if (!s->route) {
            s->route = route;
            s->method = m;
            s->status = status;
            table.used++;
        }
        s->count++;
        s->sum += seconds;
        if (b < N_BUCKETS) {
            s->buckets[b]++;
        }
    }
    pthread_mutex_unlock(&table.lock);
    atomic_fetch_sub(&in_flight, 1);
}

/* Writes a label value with the escapes the text format requires. */
static void put_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            fputc('\\', f);
            fputc(*v, f);
        } else if (*v == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*v, f);
        }
    }
}

static void put_labels(FILE *f, const struct series *s)
{
    fputs("route=\"", f);
    put_label(f, s->route);
    fprintf(f, "\",method=\"%s\",status=\"%d\"", s->method, s->status);
}

char *metrics_render(unsigned long kafka_produce_errors, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f) {
        return NULL;
    }
    pthread_mutex_lock(&table.lock);
    fputs("# HELP smartcart_http_requests_total HTTP requests answered, by route pattern, method "
          "and status.\n# TYPE smartcart_http_requests_total counter\n",
          f);
    for (size_t i = 0; i < table.cap; i++) {
        const struct series *s = &table.slots[i];
        if (s->route) {
            fputs("smartcart_http_requests_total{", f);
            put_labels(f, s);
            fprintf(f, "} %lu\n", s->count);
        }
    }
    fputs("# HELP smartcart_http_request_duration_seconds Time from the request line to the "
          "last response byte.\n# TYPE smartcart_http_request_duration_seconds histogram\n",
          f);
    for (size_t i = 0; i < table.cap; i++) {
        const struct series *s = &table.slots[i];
        if (!s->route) {
            continue;
        }
        unsigned long cumulative = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cumulative += s->buckets[b];
            fputs("smartcart_http_request_duration_seconds_bucket{", f);
            put_labels(f, s);
            fprintf(f, ",le=\"%g\"} %lu\n", bucket_le[b], cumulative);
        }
        fputs("smartcart_http_request_duration_seconds_bucket{", f);
        put_labels(f, s);
        fprintf(f, ",le=\"+Inf\"} %lu\n", s->count);
        fputs("smartcart_http_request_duration_seconds_sum{", f);
        put_labels(f, s);
        fprintf(f, "} %.6f\n", s->sum);
        fputs("smartcart_http_request_duration_seconds_count{", f);
        put_labels(f, s);
        fprintf(f, "} %lu\n", s->count);
    }
    pthread_mutex_unlock(&table.lock);
    fprintf(f,
            "# HELP smartcart_http_in_flight Requests being served now.\n"
            "# TYPE smartcart_http_in_flight gauge\n"
            "smartcart_http_in_flight %ld\n"
            "# HELP smartcart_kafka_produce_errors_total Messages the producer failed to "
            "deliver.\n"
            "# TYPE smartcart_kafka_produce_errors_total counter\n"
            "smartcart_kafka_produce_errors_total %lu\n",
            metrics_in_flight(), kafka_produce_errors);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&table.lock);
    free(table.slots);
    table.slots = NULL;
    table.cap = table.used = 0;
    pthread_mutex_unlock(&table.lock);
    atomic_store(&in_flight, 0);
}
