/* Offload pool (see offload.h): a bounded FIFO of jobs under one mutex and
 * two condition variables, served by a fixed set of threads. */
#include "offload.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"

struct job {
    void (*fn)(void *);
    void *arg;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct job *ring;
    int cap, head, len, stopping, nthreads;
    pthread_t *threads;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .nonempty = PTHREAD_COND_INITIALIZER};

static void *serve(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.len == 0 && !pool.stopping) {
            pthread_cond_wait(&pool.nonempty, &pool.lock);
        }
        if (pool.len == 0) { /* stopping and drained */
            break;
        }
        struct job j = pool.ring[pool.head];
        pool.head = (pool.head + 1) % pool.cap;
        pool.len--;
        pthread_mutex_unlock(&pool.lock);
        j.fn(j.arg);
        log_set_request_id(NULL);
        pthread_mutex_lock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

sc_code offload_start(int threads, int queue_max)
{
    pool.ring = calloc((size_t)queue_max, sizeof(*pool.ring));
    pool.threads = calloc((size_t)threads, sizeof(*pool.threads));
    if (!pool.ring || !pool.threads) {
        free(pool.ring);
        free(pool.threads);
        return SC_ENOMEM;
    }
    pool.cap = queue_max;
    pool.stopping = 0;
    for (pool.nthreads = 0; pool.nthreads < threads; pool.nthreads++) {
        if (pthread_create(&pool.threads[pool.nthreads], NULL, serve, NULL) != 0) {
            offload_stop();
            return SC_EINTERNAL;
        }
    }
    return SC_OK;
}

void offload_stop(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stopping = 1;
    pthread_cond_broadcast(&pool.nonempty);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.nthreads; i++) {
        pthread_join(pool.threads[i], NULL);
    }
    free(pool.ring);
    free(pool.threads);
    pool.ring = NULL;
    pool.threads = NULL;
    pool.nthreads = pool.cap = pool.head = pool.len = 0;
}

sc_code offload_submit(void (*fn)(void *arg), void *arg)
{
    sc_code rc = SC_OK;
    pthread_mutex_lock(&pool.lock);
    if (pool.stopping || pool.len == pool.cap) {
        rc = SC_EUNAVAIL;
    } else {
        pool.ring[(pool.head + pool.len) % pool.cap] = (struct job){fn, arg};
        pool.len++;
        pthread_cond_signal(&pool.nonempty);
    }
    pthread_mutex_unlock(&pool.lock);
    if (rc != SC_OK) {
        log_warn("offload queue full or stopping; request refused");
    }
    return rc;
}
