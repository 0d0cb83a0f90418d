/* Worker runtime: poll a message, settle it (effect committed, duplicate
 * skipped, or dead-lettered), and only then store its offset. A crash at any
 * point redelivers the message; processed_messages makes that harmless. */
#include "runtime.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"

/* How long one poll waits, which bounds how late a stop request is seen. */
#define POLL_MS 200

static volatile sig_atomic_t stopping;

void worker_stop(void)
{
    stopping = 1;
}

long long worker_backoff_ms(int attempt)
{
    long long delay = cfg.worker_backoff_initial_ms;
    for (int i = 1; i < attempt && delay < cfg.worker_backoff_max_ms; i++) {
        delay *= 2;
    }
    return delay < cfg.worker_backoff_max_ms ? delay : cfg.worker_backoff_max_ms;
}

/* Sleeps ms, waking early when a stop is requested. */
static void pause_ms(long long ms)
{
    while (ms > 0 && !stopping) {
        long long step = ms < POLL_MS ? ms : POLL_MS;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static json_t *where(const struct kafka_message *m)
{
    return json_pack("{s:s, s:i, s:I}", "topic", m->topic, "partition", (int)m->partition, "offset",
                     (json_int_t)m->offset);
}

/* One attempt: record the id, apply the effect, commit, all in one
 * transaction. *duplicate is set (and nothing applied) when the id was
 * already recorded by this consumer group. */
static sc_code apply_once(struct work_ctx *ctx, const struct envelope *env, int *duplicate)
{
    *duplicate = 0;
    db_conn *tx = db_acquire();
    if (!tx) {
        return SC_EUNAVAIL;
    }
    const char *params[] = {ctx->role->group, env->id, ctx->msg->topic};
    db_rows *rows = NULL;
    sc_code rc = db_begin(tx);
    if (rc != SC_OK) {
        goto out;
    }
    /* A concurrent twin of this message (same id, other partition) blocks
     * here until the first transaction ends, then finds the row. */
    rc = db_exec(tx, &rows,
                 "INSERT INTO processed_messages (consumer_group, message_id, topic) "
                 "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
                 3, params);
    if (rc != SC_OK) {
        goto out;
    }
    if (db_nrows(rows) == 0) {
        *duplicate = 1;
        goto out;
    }
    rc = ctx->role->handle(ctx, env, tx);
    if (rc == SC_OK) {
        rc = db_commit(tx);
    }
out:
    if (rc != SC_OK || *duplicate) {
        db_rollback(tx);
    }
    db_rows_free(rows);
    db_release(tx);
    return rc;
}

/* Postgres bytea input in hex form; caller frees. */
static char *bytea_hex(const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *out = malloc(2 * len + 3);
    if (!out) {
        return NULL;
    }
    out[0] = '\\';
    out[1] = 'x';
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 + 2 * i] = hex[p[i] >> 4];
        out[3 + 2 * i] = hex[p[i] & 15];
    }
    out[2 + 2 * len] = '\0';
    return out;
}

/* Produces m unchanged to <topic>.dlq, with its own headers plus why and
 * where it came from, then records it in dead_letters. message_id may be "". */
static sc_code dead_letter(const struct worker_role *role, const struct kafka_message *m,
                           const char *message_id, const char *why, int attempts)
{
    char dlq[512], partition[16], offset[24], tries[16];
    snprintf(dlq, sizeof(dlq), "%s.dlq", m->topic);
    snprintf(partition, sizeof(partition), "%d", (int)m->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)m->offset);
    snprintf(tries, sizeof(tries), "%d", attempts);
    const struct kafka_header ours[] = {
        {"error", why, strlen(why)},
        {"attempts", tries, strlen(tries)},
        {"original.topic", m->topic, strlen(m->topic)},
        {"original.partition", partition, strlen(partition)},
        {"original.offset", offset, strlen(offset)},
        {"consumer.group", role->group, strlen(role->group)},
    };
    size_t nours = sizeof(ours) / sizeof(ours[0]);
    sc_code rc = SC_ENOMEM;
    db_conn *c = NULL;
    char *payload = NULL;
    struct kafka_header *headers = calloc(m->nheaders + nours, sizeof(*headers));
    if (!headers) {
        goto out;
    }
    if (m->nheaders) {
        memcpy(headers, m->headers, m->nheaders * sizeof(*headers));
    }
    memcpy(headers + m->nheaders, ours, sizeof(ours));
    rc = kafka_produce_sync(dlq, m->key, m->keylen, m->payload, m->len, headers,
                            m->nheaders + nours);
    if (rc != SC_OK) {
        goto out;
    }
    rc = SC_ENOMEM;
    if (!(payload = bytea_hex(m->payload, m->len))) {
        goto out;
    }
    rc = SC_EUNAVAIL;
    if (!(c = db_acquire())) {
        goto out;
    }
    const char *params[] = {
        role->group, m->topic, partition, offset, *message_id ? message_id : NULL,
        why,         tries,    payload};
    rc = db_exec(c, NULL,
                 "INSERT INTO dead_letters (consumer_group, topic, partition, \"offset\", "
                 "message_id, error, attempts, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                 8, params);
out:
    db_release(c);
    free(payload);
    free(headers);
    return rc;
}

/* Dead-letters m, retrying until it worked. Returns 1 when done, 0 when a
 * stop came first (the message stays unsettled and will be redelivered). */
static int give_up(const struct worker_role *role, const struct kafka_message *m,
                   const char *message_id, const char *why, int attempts)
{
    log_json(LOG_WARN, "message dead-lettered",
             json_pack("{s:s, s:i, s:o}", "error", why, "attempts", attempts, "from", where(m)));
    for (int n = 1;; n++) {
        sc_code rc = dead_letter(role, m, message_id, why, attempts);
        if (rc == SC_OK) {
            return 1;
        }
        log_json(LOG_ERROR, "dead-lettering failed; retrying",
                 json_pack("{s:s}", "error", sc_strerror(rc)));
        if (stopping) {
            return 0;
        }
        pause_ms(worker_backoff_ms(n));
    }
}

/* Brings m to a conclusion. Returns 1 when its offset may be stored (effect
 * committed, duplicate, or dead-lettered), 0 when a stop request interrupted
 * the retries. */
static int settle(const struct worker_role *role, const struct kafka_message *m)
{
    struct envelope env;
    char why[512];
    if (envelope_decode(m->payload, m->len, &env, why, sizeof(why)) != SC_OK) {
        log_set_request_id(env.id);
        return give_up(role, m, env.id, why, 1);
    }
    log_set_request_id(env.id);
    struct work_ctx ctx = {.role = role, .msg = m};
    sc_code rc;
    int duplicate = 0;
    for (ctx.attempt = 1;; ctx.attempt++) {
        ctx.error[0] = '\0';
        rc = apply_once(&ctx, &env, &duplicate);
        if (rc == SC_OK && !duplicate && role->after_commit) {
            role->after_commit(&ctx, &env);
        }
        json_decref(ctx.result);
        ctx.result = NULL;
        if (rc == SC_OK || !sc_is_transient(rc) || ctx.attempt >= cfg.worker_max_attempts) {
            break;
        }
        long long delay = worker_backoff_ms(ctx.attempt);
        log_json(LOG_WARN, "transient failure; retrying",
                 json_pack("{s:s, s:s, s:i, s:I}", "error", sc_strerror(rc), "detail", ctx.error,
                           "attempt", ctx.attempt, "retry_in_ms", (json_int_t)delay));
        pause_ms(delay);
        if (stopping) {
            envelope_clear(&env);
            return 0;
        }
    }
    int settled = 1;
    if (rc == SC_OK) {
        log_json(duplicate ? LOG_INFO : LOG_DEBUG,
                 duplicate ? "duplicate message skipped" : "message processed",
                 json_pack("{s:s, s:o}", "type", env.type, "from", where(m)));
    } else {
        snprintf(why, sizeof(why), "%s%s%s", sc_strerror(rc), ctx.error[0] ? ": " : "", ctx.error);
        settled = give_up(role, m, env.id, why, ctx.attempt);
    }
    envelope_clear(&env);
    return settled;
}

sc_code worker_run(const struct worker_role *role)
{
    kafka_consumer *kc = NULL;
    sc_code rc = kafka_consumer_open(role->group, *role->topic, &kc);
    if (rc != SC_OK) {
        return rc;
    }
    log_json(LOG_INFO, "worker consuming",
             json_pack("{s:s, s:s, s:s}", "role", role->name, "topic", *role->topic, "group",
                       role->group));
    while (!stopping) {
        struct kafka_message *m = NULL;
        rc = kafka_consumer_poll(kc, POLL_MS, &m);
        if (rc != SC_OK) {
            break;
        }
        if (!m) {
            continue;
        }
        if (settle(role, m)) {
            sc_code stored = kafka_consumer_store(kc, m);
            if (stored != SC_OK) {
                /* normal around rebalances: the partition's new owner skips it */
                log_json(LOG_INFO, "offset not stored; the message will be seen again",
                         json_pack("{s:s, s:o}", "error", sc_strerror(stored), "from", where(m)));
            }
        }
        log_set_request_id(NULL);
        kafka_message_free(m);
    }
    kafka_consumer_close(kc);
    log_json(LOG_INFO, "worker stopped", json_pack("{s:s}", "role", role->name));
    return rc;
}
