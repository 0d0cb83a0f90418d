/* Worker runtime: poll a message (for a batching role, also the ones
 * already fetched behind it), settle it (effect committed, duplicate
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

/* The consumer group, KAFKA_GROUP_PREFIX.<role>: also the scope of
 * processed_messages and the consumer.group header of dead letters. */
static char group[160];

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

/* A message between its poll and its offset store. */
struct pending {
    struct kafka_message *m;
    struct envelope env; /* valid when decoded */
    struct work_ctx ctx;
    int decoded;
    int duplicate; /* its id was already recorded: nothing applied */
    char why[512]; /* why it could not be decoded */
};

/* The messages polled together, and room for after_batch's arguments. */
struct batch {
    struct pending *p;
    struct work_ctx **ctx;
    const struct envelope **msg;
    size_t n, max;
};

/* Records the ids of the decoded messages of p[0..n) in tx, in one
 * statement, and marks as duplicate each one this consumer group already
 * had (or that came twice in p: the first is applied). */
static sc_code record(const struct worker_role *role, db_conn *tx, struct pending *p, size_t n)
{
    db_rows *rows = NULL;
    json_t *fresh = json_object();
    char *ids = malloc(n * ENVELOPE_UUID_LEN + 2);
    sc_code rc = fresh && ids ? SC_OK : SC_ENOMEM;
    size_t len = 0;
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        if (p[i].decoded) {
            len += (size_t)sprintf(ids + len, "%c%s", len ? ',' : '{', p[i].env.id);
        }
    }
    if (rc == SC_OK) {
        strcpy(ids + len, len ? "}" : "{}");
        const char *params[] = {group, ids, *role->topic};
        /* A concurrent twin of a message (same id, other partition, another
         * worker) blocks here until the first transaction ends, then finds
         * the row. */
        rc = db_exec(tx, &rows,
                     "INSERT INTO processed_messages (consumer_group, message_id, topic) "
                     "SELECT $1, u.id, $3 FROM unnest($2::uuid[]) AS u(id) "
                     "ON CONFLICT DO NOTHING RETURNING message_id",
                     3, params);
    }
    for (int r = 0; rc == SC_OK && r < db_nrows(rows); r++) {
        json_object_set_new(fresh, db_value(rows, r, 0), json_true());
    }
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        p[i].duplicate = p[i].decoded && json_object_del(fresh, p[i].env.id) != 0;
    }
    json_decref(fresh);
    free(ids);
    db_rows_free(rows);
    return rc;
}

/* One transaction over the decoded messages of p[0..n), in order: their
 * ids recorded, then the effects of those that are not duplicates (through
 * the role's batch handler when it has one; b lends it its arrays). Any
 * failure rolls the whole transaction back; so does one that applied
 * nothing. */
static sc_code apply_all(const struct worker_role *role, struct batch *b, struct pending *p,
                         size_t n)
{
    db_conn *tx = db_acquire();
    if (!tx) {
        return SC_EUNAVAIL;
    }
    size_t k = 0;
    sc_code rc = db_begin(tx);
    if (rc == SC_OK) {
        rc = record(role, tx, p, n);
    }
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        if (!p[i].decoded || p[i].duplicate) {
            continue;
        }
        b->ctx[k] = &p[i].ctx;
        b->msg[k++] = &p[i].env;
        if (!role->handle_batch) {
            log_set_request_id(p[i].env.id);
            rc = role->handle(&p[i].ctx, &p[i].env, tx);
        }
    }
    if (rc == SC_OK && k && role->handle_batch) {
        log_set_request_id(k == 1 ? b->msg[0]->id : NULL);
        rc = role->handle_batch(b->ctx, b->msg, k, tx);
    }
    if (rc == SC_OK && k) {
        rc = db_commit(tx);
    }
    if (rc != SC_OK || !k) {
        db_rollback(tx);
    }
    db_release(tx);
    return rc;
}

/* Runs the role's after-commit hook for the messages of p[0..n) that the
 * committed transaction applied, then frees what their handlers left. */
static void after_all(const struct worker_role *role, struct batch *b, struct pending *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].decoded && !p[i].duplicate) {
            if (role->after_commit) {
                log_set_request_id(p[i].env.id);
                role->after_commit(&p[i].ctx, &p[i].env);
            }
            b->ctx[k] = &p[i].ctx;
            b->msg[k++] = &p[i].env;
        }
    }
    if (role->after_batch && k) {
        log_set_request_id(NULL);
        role->after_batch(b->ctx, b->msg, k);
    }
}

/* Frees what the handlers of p[0..n) left for their hooks. */
static void drop_results(struct pending *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(p[i].ctx.result);
        p[i].ctx.result = NULL;
    }
}

static void log_settled(const struct pending *p)
{
    log_json(p->duplicate ? LOG_INFO : LOG_DEBUG,
             p->duplicate ? "duplicate message skipped" : "message processed",
             json_pack("{s:s, s:o}", "type", p->env.type, "from", where(p->m)));
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
static sc_code dead_letter(const struct kafka_message *m, const char *message_id, const char *why,
                           int attempts)
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
        {"consumer.group", group, strlen(group)},
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
    const char *params[] = {group, m->topic, partition, offset, *message_id ? message_id : NULL,
                            why,   tries,    payload};
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
static int give_up(const struct kafka_message *m, const char *message_id, const char *why,
                   int attempts)
{
    log_json(LOG_WARN, "message dead-lettered",
             json_pack("{s:s, s:i, s:o}", "error", why, "attempts", attempts, "from", where(m)));
    for (int n = 1;; n++) {
        sc_code rc = dead_letter(m, message_id, why, attempts);
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

/* Brings p to a conclusion on its own, retrying transient failures.
 * Returns 1 when its offset may be stored (effect committed, duplicate, or
 * dead-lettered), 0 when a stop request interrupted the retries. */
static int settle_one(const struct worker_role *role, struct batch *b, struct pending *p)
{
    char why[512];
    log_set_request_id(p->env.id);
    if (!p->decoded) {
        return give_up(p->m, p->env.id, p->why, 1);
    }
    sc_code rc;
    for (p->ctx.attempt = 1;; p->ctx.attempt++) {
        p->ctx.error[0] = '\0';
        rc = apply_all(role, b, p, 1);
        if (rc == SC_OK && !p->duplicate) {
            after_all(role, b, p, 1);
        }
        drop_results(p, 1);
        log_set_request_id(p->env.id);
        if (rc == SC_OK || !sc_is_transient(rc) || p->ctx.attempt >= cfg.worker_max_attempts) {
            break;
        }
        long long delay = worker_backoff_ms(p->ctx.attempt);
        log_json(LOG_WARN, "transient failure; retrying",
                 json_pack("{s:s, s:s, s:i, s:I}", "error", sc_strerror(rc), "detail", p->ctx.error,
                           "attempt", p->ctx.attempt, "retry_in_ms", (json_int_t)delay));
        pause_ms(delay);
        if (stopping) {
            return 0;
        }
    }
    if (rc == SC_OK) {
        log_settled(p);
        return 1;
    }
    snprintf(why, sizeof(why), "%s%s%s", sc_strerror(rc), p->ctx.error[0] ? ": " : "",
             p->ctx.error);
    return give_up(p->m, p->env.id, why, p->ctx.attempt);
}

/* Brings the polled messages to a conclusion: the decodable ones in one
 * transaction when there are several; if that fails, every message on its
 * own as if it had come alone, so a bad one costs the others only time.
 * Returns how many of them, from the first, may have their offsets stored
 * (fewer than b->n only when a stop request came first). */
static size_t settle_batch(const struct worker_role *role, struct batch *b)
{
    size_t decoded = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct pending *p = &b->p[i];
        p->ctx = (struct work_ctx){.role = role, .msg = p->m, .attempt = 1};
        p->decoded =
            envelope_decode(p->m->payload, p->m->len, &p->env, p->why, sizeof(p->why)) == SC_OK;
        decoded += (size_t)p->decoded;
    }
    if (decoded > 1) {
        sc_code rc = apply_all(role, b, b->p, b->n);
        if (rc == SC_OK) {
            after_all(role, b, b->p, b->n);
        }
        drop_results(b->p, b->n);
        if (rc == SC_OK) {
            for (size_t i = 0; i < b->n; i++) {
                log_set_request_id(b->p[i].env.id);
                if (!b->p[i].decoded) {
                    if (!settle_one(role, b, &b->p[i])) {
                        return i;
                    }
                } else {
                    log_settled(&b->p[i]);
                }
            }
            return b->n;
        }
        log_set_request_id(NULL);
        log_json(LOG_INFO, "batch failed; settling its messages one by one",
                 json_pack("{s:s, s:I}", "error", sc_strerror(rc), "messages", (json_int_t)b->n));
    }
    for (size_t i = 0; i < b->n; i++) {
        if (!settle_one(role, b, &b->p[i])) {
            return i;
        }
    }
    return b->n;
}

/* Polls up to b->max messages into b: waits up to POLL_MS for the first,
 * then takes only what the consumer has already fetched. */
static sc_code collect(kafka_consumer *kc, struct batch *b)
{
    b->n = 0;
    sc_code rc = SC_OK;
    while (b->n < b->max) {
        struct kafka_message *m = NULL;
        rc = kafka_consumer_poll(kc, b->n ? 0 : POLL_MS, &m);
        if (rc != SC_OK || !m) {
            break;
        }
        b->p[b->n++].m = m;
    }
    return rc;
}

/* Stores the offsets of the first `settled` messages of b and frees them all. */
static void finish(kafka_consumer *kc, struct batch *b, size_t settled)
{
    for (size_t i = 0; i < b->n; i++) {
        struct pending *p = &b->p[i];
        sc_code stored = i < settled ? kafka_consumer_store(kc, p->m) : SC_OK;
        if (stored != SC_OK) {
            /* normal around rebalances: the partition's new owner skips it */
            log_json(LOG_INFO, "offset not stored; the message will be seen again",
                     json_pack("{s:s, s:o}", "error", sc_strerror(stored), "from", where(p->m)));
        }
        if (p->decoded) {
            envelope_clear(&p->env);
        }
        kafka_message_free(p->m);
        memset(p, 0, sizeof(*p));
    }
    b->n = 0;
    log_set_request_id(NULL);
}

sc_code worker_run(const struct worker_role *role)
{
    kafka_consumer *kc = NULL;
    snprintf(group, sizeof(group), "%s.%s", cfg.kafka_group_prefix, role->name);
    struct batch b = {.max = role->batch ? (size_t)cfg.worker_batch_max : 1};
    b.p = calloc(b.max, sizeof(*b.p));
    b.ctx = calloc(b.max, sizeof(*b.ctx));
    b.msg = calloc(b.max, sizeof(*b.msg));
    sc_code rc = b.p && b.ctx && b.msg ? kafka_consumer_open(group, *role->topic, &kc) : SC_ENOMEM;
    if (rc != SC_OK) {
        goto out;
    }
    log_json(LOG_INFO, "worker consuming",
             json_pack("{s:s, s:s, s:s, s:I}", "role", role->name, "topic", *role->topic, "group",
                       group, "batch_max", (json_int_t)b.max));
    while (!stopping && rc == SC_OK) {
        rc = collect(kc, &b);
        if (b.n) {
            finish(kc, &b, settle_batch(role, &b));
        }
    }
    kafka_consumer_close(kc);
    log_json(LOG_INFO, "worker stopped", json_pack("{s:s}", "role", role->name));
out:
    free(b.p);
    free(b.ctx);
    free(b.msg);
    return rc;
}
