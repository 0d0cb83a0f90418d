/* A fixed pool of threads for handler work that blocks on I/O (an upload's
 * S3 PUT and Kafka acknowledgement): the handler defers its request
 * (http_defer), submits the work here and returns, so libmicrohttpd's few
 * event-loop threads keep serving quick requests. The pool is sized by
 * HTTP_OFFLOAD_THREADS; its queue is bounded by HTTP_OFFLOAD_QUEUE. */
#ifndef SC_OFFLOAD_H
#define SC_OFFLOAD_H

#include "error.h"

sc_code offload_start(int threads, int queue_max);
/* Runs what was submitted, then joins the threads. */
void offload_stop(void);

/* Queues fn(arg) for a pool thread. SC_EUNAVAIL when the queue is full or
 * the pool is stopping: the caller answers 503 itself and fn never runs. */
sc_code offload_submit(void (*fn)(void *arg), void *arg);

#endif
