/* A queue of jobs served in batches by one thread of its own: the Redis and
 * Postgres read pipelines. Callers push a job and return; the thread takes
 * what is queued (up to max jobs, in order) and hands it to run as one
 * batch, so the jobs that gather while a batch is on the wire go out
 * together next. The thread starts on the first push and stops with
 * batchq_stop; jobs still queued then go to fail. */
#ifndef SC_BATCHQ_H
#define SC_BATCHQ_H

#include <pthread.h>
#include <stddef.h>

#include "error.h"

/* Embedded first in a job of the user's own type. */
struct batchq_job {
    struct batchq_job *next;
};

struct batchq {
    /* Set once (BATCHQ_INIT). run and fail take a NULL-terminated list
     * and own its jobs from then on; run also gets the queue, so a user
     * embedding it first in a struct of its own finds that struct. */
    void (*run)(struct batchq *q, struct batchq_job *batch);
    void (*fail)(struct batchq_job *jobs, sc_code rc);
    size_t max; /* jobs per batch; 0: everything queued */
    /* The queue's own. */
    pthread_mutex_t lock;
    pthread_cond_t queued;
    struct batchq_job *head, **tail;
    int running, stop, idle;
    pthread_t thread;
};

#define BATCHQ_INIT(run_fn, fail_fn, max_jobs)                                                     \
    {                                                                                              \
        .run = (run_fn), .fail = (fail_fn), .max = (max_jobs), .lock = PTHREAD_MUTEX_INITIALIZER,  \
        .queued = PTHREAD_COND_INITIALIZER                                                         \
    }

/* Queues job for the thread, starting it when it is not running and
 * startable is true (the caller's connection settings are in place).
 * SC_EUNAVAIL when it is stopping or not startable, SC_EINTERNAL when the
 * thread cannot start: then job was not queued and is still the caller's. */
sc_code batchq_push(struct batchq *q, struct batchq_job *job, int startable);

/* Stops the thread once its batch is done and joins it; what is still
 * queued goes to fail with SC_EUNAVAIL. A later push may start it again. */
void batchq_stop(struct batchq *q);

#endif
