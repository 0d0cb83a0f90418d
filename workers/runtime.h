/* The consumer runtime every worker role plugs into: at-least-once delivery
 * made effectively-once by recording each message id in processed_messages
 * in the same Postgres transaction as the role's effect; retries with
 * backoff for transient errors; <topic>.dlq for messages that cannot be done.
 *
 * A role is one file defining a `const struct worker_role role_<name>` and
 * one line in workers/main.c's role list. */
#ifndef SC_WORKER_RUNTIME_H
#define SC_WORKER_RUNTIME_H

#include <jansson.h>
#include "db.h"
#include "error.h"
#include "kafka.h"
#include "schemas/envelope.h"

struct worker_role;

/* What a handler knows about the message besides its envelope. */
struct work_ctx {
    const struct worker_role *role;
    const struct kafka_message *msg; /* topic, partition, offset, key, headers */
    int attempt;                     /* 1 on the first try */
    /* The handler may leave a value here for its after_commit hook (say the
     * snapshot to publish); the runtime frees it after each attempt. */
    json_t *result;
    /* The handler may explain a failure here; it goes to the DLQ headers. */
    char error[256];
};

/* Applies the effect of msg inside the open transaction tx (never commits or
 * rolls back itself). SC_OK: done. A transient code (sc_is_transient):
 * retried with backoff. Anything else: the message goes to the DLQ at once. */
typedef sc_code (*work_handler)(struct work_ctx *ctx, const struct envelope *msg, db_conn *tx);

/* Runs after the transaction committed and before the offset is stored, for
 * side effects outside Postgres that may be lost (a crash right after the
 * commit skips it): Redis caches and notifications, which can be rebuilt. */
typedef void (*work_after_commit)(struct work_ctx *ctx, const struct envelope *msg);

struct worker_role {
    const char *name;               /* smartcart-worker NAME */
    const char *const *topic;       /* the cfg field naming its topic, e.g. &cfg.kafka_topic_test */
    const char *group;              /* consumer group; also the processed_messages scope */
    work_handler handle;            /* required */
    work_after_commit after_commit; /* optional */
    /* Optional: open what the role needs besides Postgres and Kafka (S3,
     * Redis, libvips) before the first message, and close it after the last. */
    sc_code (*start)(void);
    void (*stop)(void);
};

/* Consumes role's topic until worker_stop(); the message in hand is finished
 * (or left for redelivery when it is still retrying), the consumer commits
 * and leaves the group. Needs the db pool and the Kafka producer (for the
 * DLQ) initialised. SC_OK after a requested stop. */
sc_code worker_run(const struct worker_role *role);

/* Asks worker_run to return; async-signal-safe (call it from SIGTERM). */
void worker_stop(void);

/* Delay before attempt number `attempt` + 1: WORKER_BACKOFF_INITIAL_MS doubled
 * per attempt, capped at WORKER_BACKOFF_MAX_MS. */
long long worker_backoff_ms(int attempt);

#endif
