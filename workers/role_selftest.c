/* selftest role: the smallest real role, used by the integration tests to
 * prove the runtime's guarantees. A "selftest.effect" message appends one row
 * to selftest_effects; its data can ask for failures:
 *   {"seq": 7, "fail_transient": 2, "fail_permanent": false, "sleep_ms": 0}
 * fail_transient N fails the first N attempts (counted in selftest_attempts,
 * across redeliveries too), fail_permanent sends it to the DLQ, sleep_ms
 * (at most 1000) slows it down so a test can kill a worker mid-stream. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "workers/runtime.h"

/* Counts this attempt on its own connection (autocommit), so the count
 * survives the rollback of a failed attempt. Needs DB_POOL_SIZE >= 2. */
static sc_code count_attempt(const char *message_id, long long *attempts)
{
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    db_rows *rows = NULL;
    sc_code rc = db_exec(c, &rows,
                         "INSERT INTO selftest_attempts (message_id, attempts) VALUES ($1, 1) "
                         "ON CONFLICT (message_id) DO UPDATE "
                         "SET attempts = selftest_attempts.attempts + 1 RETURNING attempts",
                         1, &message_id);
    if (rc == SC_OK) {
        *attempts = db_nrows(rows) ? atoll(db_value(rows, 0, 0)) : 0;
    }
    db_rows_free(rows);
    db_release(c);
    return rc;
}

static sc_code selftest_handle(struct work_ctx *ctx, const struct envelope *msg, db_conn *tx)
{
    json_t *seq = json_object_get(msg->data, "seq");
    if (strcmp(msg->type, "selftest.effect") != 0 || !json_is_integer(seq)) {
        snprintf(ctx->error, sizeof(ctx->error), "expected selftest.effect with an integer seq");
        return SC_EPERMANENT;
    }
    if (json_is_true(json_object_get(msg->data, "fail_permanent"))) {
        snprintf(ctx->error, sizeof(ctx->error), "asked to fail permanently");
        return SC_EPERMANENT;
    }
    json_int_t fail_transient = json_integer_value(json_object_get(msg->data, "fail_transient"));
    if (fail_transient > 0) {
        long long attempts = 0;
        sc_code rc = count_attempt(msg->id, &attempts);
        if (rc != SC_OK) {
            return rc;
        }
        if (attempts <= fail_transient) {
            snprintf(ctx->error, sizeof(ctx->error), "asked to fail transiently (%lld of %lld)",
                     attempts, (long long)fail_transient);
            return SC_EUNAVAIL;
        }
    }
    json_int_t sleep_ms = json_integer_value(json_object_get(msg->data, "sleep_ms"));
    if (sleep_ms > 0) {
        struct timespec ts = {0, (sleep_ms < 1000 ? sleep_ms : 999) * 1000000};
        nanosleep(&ts, NULL);
    }
    char seq_text[24], pid[16];
    snprintf(seq_text, sizeof(seq_text), "%lld", (long long)json_integer_value(seq));
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    const char *params[] = {msg->id, seq_text, pid};
    return db_exec(tx, NULL,
                   "INSERT INTO selftest_effects (message_id, seq, worker_pid) VALUES ($1, $2, $3)",
                   3, params);
}

/* Marks the effect confirmed: proves the hook runs once the effect is committed. */
static void selftest_after_commit(struct work_ctx *ctx, const struct envelope *msg)
{
    (void)ctx;
    db_conn *c = db_acquire();
    const char *id = msg->id;
    sc_code rc =
        c ? db_exec(c, NULL, "UPDATE selftest_effects SET confirmed = true WHERE message_id = $1",
                    1, &id)
          : SC_EUNAVAIL;
    db_release(c);
    if (rc != SC_OK) {
        log_json(LOG_WARN, "selftest confirmation failed",
                 json_pack("{s:s}", "error", sc_strerror(rc)));
    }
}

const struct worker_role role_selftest = {
    .name = "selftest",
    .topic = &cfg.kafka_topic_test,
    .handle = selftest_handle,
    .after_commit = selftest_after_commit,
    .batch = 1,
};
