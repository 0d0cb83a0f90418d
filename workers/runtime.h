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

/* The same for several messages at once, for roles that batch: applies
 * msg[0..n) in this order inside tx, ctx[i] belonging to msg[i]. On a
 * failure (ctx[i]->error may say why) the runtime rolls back and calls it
 * again with each message alone, so the one at fault is retried or
 * dead-lettered by itself and the others are applied. */
typedef sc_code (*work_batch_handler)(struct work_ctx *const *ctx,
                                      const struct envelope *const *msg, size_t n, db_conn *tx);

/* Runs after the transaction committed and before the offset is stored, for
 * side effects outside Postgres that may be lost (a crash right after the
 * commit skips it): Redis caches and notifications, which can be rebuilt. */
typedef void (*work_after_commit)(struct work_ctx *ctx, const struct envelope *msg);

/* The same for a whole transaction: once after it committed, with the n
 * messages it applied (duplicates left out) in the order they were handled,
 * ctx[i] belonging to msg[i]. Lets a role announce a batch in a few round
 * trips. A role sets after_commit or after_batch, not both. */
typedef void (*work_after_batch)(struct work_ctx *const *ctx, const struct envelope *const *msg,
                                 size_t n);

struct worker_role {
    const char *name;         /* smartcart-worker NAME */
    const char *const *topic; /* the cfg field naming its topic, e.g. &cfg.kafka_topic_test */
    work_handler handle;      /* required unless handle_batch is set */
    work_batch_handler handle_batch; /* optional; replaces handle */
    work_after_commit after_commit;  /* optional */
    work_after_batch after_batch;    /* optional */
    /* 1: up to WORKER_BATCH_MAX messages already fetched are applied in one
     * transaction, each with its processed-message record; if any of them
     * fails, the transaction is rolled back and each message is settled on
     * its own as if batching were off. The handler must then not keep state
     * outside the transaction that a rollback would leave wrong. */
    int batch;
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
