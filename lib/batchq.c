/* One thread serving a queue in batches (see batchq.h). */
#include "batchq.h"

static void *serve(void *arg)
{
    struct batchq *q = arg;
    pthread_mutex_lock(&q->lock);
    while (!q->stop) {
        if (!q->head) {
            q->idle = 1;
            pthread_cond_wait(&q->queued, &q->lock);
            q->idle = 0;
            continue;
        }
        struct batchq_job *batch = q->head, **end = q->tail;
        if (q->max) { /* else all of it: the tail is the end */
            end = &batch->next;
            for (size_t n = 1; n < q->max && *end; n++) {
                end = &(*end)->next;
            }
        }
        if (!(q->head = *end)) {
            q->tail = &q->head;
        }
        *end = NULL;
        pthread_mutex_unlock(&q->lock);
        q->run(q, batch);
        pthread_mutex_lock(&q->lock);
    }
    struct batchq_job *left = q->head;
    q->head = NULL;
    q->tail = &q->head;
    pthread_mutex_unlock(&q->lock);
    if (left) {
        q->fail(left, SC_EUNAVAIL);
    }
    return NULL;
}

sc_code batchq_push(struct batchq *q, struct batchq_job *job, int startable)
{
    sc_code rc = SC_OK;
    job->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (!q->running) {
        q->stop = 0;
        q->tail = &q->head;
        rc = !startable                                        ? SC_EUNAVAIL
             : pthread_create(&q->thread, NULL, serve, q) != 0 ? SC_EINTERNAL
                                                               : SC_OK;
        q->running = rc == SC_OK;
    }
    if (rc == SC_OK && q->stop) {
        rc = SC_EUNAVAIL;
    }
    if (rc == SC_OK) {
        *q->tail = job;
        q->tail = &job->next;
        /* Only a sleeping thread needs the futex call; a busy one looks again. */
        if (q->idle) {
            pthread_cond_signal(&q->queued);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void batchq_stop(struct batchq *q)
{
    pthread_mutex_lock(&q->lock);
    int running = q->running;
    q->stop = 1;
    pthread_cond_signal(&q->queued);
    pthread_mutex_unlock(&q->lock);
    if (running) {
        pthread_join(q->thread, NULL);
        pthread_mutex_lock(&q->lock);
        q->running = 0;
        pthread_mutex_unlock(&q->lock);
    }
}
