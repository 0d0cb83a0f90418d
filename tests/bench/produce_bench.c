/* The ceiling of every ingest route that answers after Kafka acknowledged
 * its message (webhooks, cart PATCH, upload jobs): THREADS threads each
 * producing BYTES-byte messages one after another with kafka_produce_sync,
 * the call those handlers make, for SECONDS, to topic smartcart.bench.produce
 * of the stack in the environment (KAFKA_BROKERS). Prints the RESULT line of
 * tests/bench/latency.h.
 * usage: produce_bench THREADS SECONDS BYTES */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "kafka.h"
#include "latency.h"

#define TOPIC "smartcart.bench.produce"

struct worker {
    pthread_t thread;
    int index;
    double until;
    const char *payload;
    size_t len;
    struct latencies lat;
    long errors;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    char key[32];
    for (long i = 0;; i++) {
        double t0 = now_s();
        if (t0 >= w->until) {
            break;
        }
        /* Distinct keys spread the messages over the partitions as order
         * codes and session ids do. */
        snprintf(key, sizeof(key), "%d-%ld", w->index, i);
        if (kafka_produce_sync(TOPIC, key, strlen(key), w->payload, w->len, NULL, 0) != SC_OK) {
            w->errors++;
        } else if (latencies_add(&w->lat, now_s() - t0)) {
            w->errors++;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char err[256];
    int threads = argc == 4 ? atoi(argv[1]) : 0;
    double seconds = argc == 4 ? atof(argv[2]) : 0;
    size_t len = argc == 4 ? (size_t)atol(argv[3]) : 0;
    if (threads < 1 || seconds <= 0 || len < 1) {
        fprintf(stderr, "usage: produce_bench THREADS SECONDS BYTES\n");
        return 2;
    }
    if (config_load(err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "produce_bench: %s\n", err);
        return 1;
    }
    if (kafka_producer_init() != SC_OK) {
        fprintf(stderr, "produce_bench: no Kafka producer\n");
        return 1;
    }
    char *payload = malloc(len);
    struct worker *w = calloc((size_t)threads, sizeof(*w));
    struct latencies all = {0};
    long errors = 0;
    int rc = !payload || !w;
    /* A first message creates the topic and connects, outside the timing. */
    if (!rc) {
        memset(payload, 'x', len);
        rc = kafka_produce_sync(TOPIC, NULL, 0, payload, len, NULL, 0) != SC_OK;
    }
    double until = now_s() + seconds;
    int started = 0;
    for (; !rc && started < threads; started++) {
        w[started] =
            (struct worker){.index = started, .until = until, .payload = payload, .len = len};
        if (pthread_create(&w[started].thread, NULL, run, &w[started])) {
            rc = 1;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        errors += w[i].errors;
        rc |= latencies_merge(&all, &w[i].lat);
    }
    if (!rc) {
        latencies_print(&all, seconds);
        printf(" errors=%ld\n", errors);
    }
    latencies_free(&all);
    free(w);
    free(payload);
    kafka_producer_close();
    return rc;
}
