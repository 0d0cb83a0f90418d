/* Asynchronous reads in the integration tests (redis_get_async,
 * db_read_async): a round gathers what each read's callback saw, and many
 * threads queue reads at once the way event loops do. */
#ifndef SC_IT_ASYNC_H
#define SC_IT_ASYNC_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#define IT_ROUND_MAX 1024

struct it_round {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int pending;
    sc_code rc[IT_ROUND_MAX];
    char value[IT_ROUND_MAX][32];
};

/* What a read's callback gets as its argument: where to answer. */
struct it_slot {
    struct it_round *round;
    int index;
};

static inline void it_round_start(struct it_round *r, int pending)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->done, NULL);
    r->pending = pending;
}

/* The callback of every read (both pipelines' callbacks have this shape). */
static inline void it_round_value(void *arg, sc_code rc, const char *value, size_t len)
{
    struct it_slot *s = arg;
    struct it_round *r = s->round;
    pthread_mutex_lock(&r->lock);
    r->rc[s->index] = rc;
    snprintf(r->value[s->index], sizeof(r->value[0]), "%.*s", (int)len, value ? value : "");
    if (--r->pending == 0) {
        pthread_cond_signal(&r->done);
    }
    pthread_mutex_unlock(&r->lock);
}

/* Waits until every read of the round has answered, then ends the round. */
static inline void it_round_wait(struct it_round *r)
{
    pthread_mutex_lock(&r->lock);
    while (r->pending > 0) {
        pthread_cond_wait(&r->done, &r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    pthread_cond_destroy(&r->done);
    pthread_mutex_destroy(&r->lock);
}

/* Queues read number index, answering to slot with it_round_value. */
typedef sc_code (*it_queue_fn)(int index, struct it_slot *slot);

struct it_caller {
    struct it_slot *slots;
    int first, count, failures;
    it_queue_fn queue;
};

static inline void *it_caller_main(void *arg)
{
    struct it_caller *c = arg;
    for (int i = c->first; i < c->first + c->count; i++) {
        sc_code rc = c->queue(i, &c->slots[i]);
        if (rc != SC_OK) { /* no callback will come: it answers for it */
            c->failures++;
            it_round_value(&c->slots[i], rc, NULL, 0);
        }
    }
    return NULL;
}

/* Reads 0 .. threads * each - 1 (at most IT_ROUND_MAX), queued by threads
 * threads at once (each its own share), answered into r; waits for them
 * all. Returns how many could not be queued. */
static inline int it_queue_from_threads(struct it_round *r, int threads, int each,
                                        it_queue_fn queue)
{
    int n = threads * each, failures = 0;
    struct it_slot slots[IT_ROUND_MAX];
    struct it_caller callers[64];
    pthread_t ids[64];
    if (n > IT_ROUND_MAX || threads > 64) {
        return n;
    }
    it_round_start(r, n);
    for (int i = 0; i < n; i++) {
        slots[i] = (struct it_slot){r, i};
    }
    for (int t = 0; t < threads; t++) {
        callers[t] = (struct it_caller){slots, t * each, each, 0, queue};
        if (pthread_create(&ids[t], NULL, it_caller_main, &callers[t]) != 0) {
            it_caller_main(&callers[t]);
            ids[t] = pthread_self();
        }
    }
    for (int t = 0; t < threads; t++) {
        if (!pthread_equal(ids[t], pthread_self())) {
            pthread_join(ids[t], NULL);
        }
        failures += callers[t].failures;
    }
    it_round_wait(r);
    return failures;
}

/* The first read of 0 .. n - 1 whose answer is not "v<index>" for an even
 * index and SC_ENOTFOUND for an odd one (what the tests store); -1 when none. */
static inline int it_round_first_wrong(const struct it_round *r, int n)
{
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "v%d", i);
        if (r->rc[i] != (i % 2 ? SC_ENOTFOUND : SC_OK) || strcmp(r->value[i], i % 2 ? "" : want)) {
            return i;
        }
    }
    return -1;
}

#endif
