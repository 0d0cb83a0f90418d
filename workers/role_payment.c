/* payment role: applies verified PayOS webhooks (payment.received, keyed by
 * order code) to orders. In the runtime's transaction: the transfer is
 * added to the order's paid amount; when it covers the total the order
 * completes, its shopping session is checked out and order.completed goes
 * to the outbox; the user gets a notification either way; the webhook is
 * recorded in payment_events. After the commit: the status goes to Redis
 * (order:status:<id>) and the outbox is drained to Kafka.
 *
 * Ten deliveries of one webhook are one message id (derived by ingest from
 * orderCode and reference), so the runtime applies them once. A webhook for
 * an unknown order is recorded (on its own connection, as the failed
 * attempt's transaction is rolled back) and dead-lettered at once; PayOS's
 * "confirm webhook" test payload (description VQRIO123) is only recorded.
 * A thread runs the reconciler (workers/reconcile.h) for missed webhooks. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart_state.h"
#include "config.h"
#include "log.h"
#include "payos.h"
#include "redis.h"
#include "schemas/order_event.h"
#include "schemas/payment_event.h"
#include "uuid.h"
#include "workers/outbox.h"
#include "workers/reconcile.h"
#include "workers/runtime.h"

#define CONFIRM_TEST_DESCRIPTION "VQRIO123"
#define PAYOS_SUCCESS "00"

/* Records the webhook with what came of it; a redelivery adds nothing. */
static sc_code record_event(db_conn *c, const char *message_id, const struct payment_event *ev,
                            const char *order_id, const char *outcome)
{
    char code[24], amount[24];
    char *payload = json_dumps(ev->webhook, JSON_COMPACT);
    snprintf(code, sizeof(code), "%lld", ev->order_code);
    snprintf(amount, sizeof(amount), "%lld", ev->amount);
    const char *p[] = {message_id, code, order_id, amount, ev->reference, payload, outcome};
    sc_code rc = payload ? db_exec(c, NULL,
                                   "INSERT INTO payment_events (message_id, order_code, order_id, "
                                   "amount, reference, payload, signature_ok, outcome) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, true, $7) "
                                   "ON CONFLICT (message_id) DO NOTHING",
                                   7, p)
                         : SC_ENOMEM;
    free(payload);
    return rc;
}

/* The unknown order's record, kept although the attempt fails. */
static sc_code record_unknown(const char *message_id, const struct payment_event *ev)
{
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    sc_code rc = record_event(c, message_id, ev, NULL, "unknown_order");
    db_release(c);
    return rc;
}

/* Adds the transfer to the pending order and applies what follows from it;
 * *result gets {order_id, tenant, user_id, status, completed_at, items}. */
static sc_code settle_order(db_conn *tx, const char *order_id, long long amount, json_t **result)
{
    char paid[24];
    snprintf(paid, sizeof(paid), "%lld", amount);
    const char *p[] = {order_id, paid};
    return db_query_json(
        tx, result,
        "WITH o AS ("
        "  UPDATE orders SET paid_amount = paid_amount + $2::numeric,"
        "    status = CASE WHEN paid_amount + $2::numeric >= total_amount"
        "                  THEN 'completed' ELSE 'pending' END,"
        "    shortfall = CASE WHEN paid_amount + $2::numeric >= total_amount THEN NULL"
        "                     ELSE total_amount - (paid_amount + $2::numeric) END,"
        "    completed_at = CASE WHEN paid_amount + $2::numeric >= total_amount"
        "                        THEN now() END,"
        "    updated_at = now()"
        "  WHERE id = $1 AND status = 'pending'"
        "  RETURNING *"
        "), s AS ("
        "  UPDATE shopping_sessions SET status = 'checked_out', version = version + 1,"
        "    updated_at = now()"
        "  WHERE id = (SELECT session_id FROM o WHERE status = 'completed') AND status = 'active'"
        "), n AS ("
        "  INSERT INTO notifications (tenant_id, user_id, title, body)"
        "  SELECT tenant_id, user_id,"
        "    CASE WHEN status = 'completed' THEN 'Payment received' ELSE 'Payment incomplete' END,"
        "    CASE WHEN status = 'completed'"
        "      THEN format('Order %s is paid: %s.', order_code, total_amount)"
        "      ELSE format('Order %s is still %s short of %s.', order_code, shortfall,"
        "                  total_amount) END"
        "  FROM o"
        ") SELECT json_build_object('order_id', o.id, 'tenant', o.tenant_id, 'user_id', o.user_id,"
        "  'session_id', o.session_id,"
        "  'status', o.status, 'completed_at', rfc3339(o.completed_at),"
        "  'items', coalesce((SELECT json_agg(json_build_object('product_id', i.product_id,"
        "                      'quantity', i.quantity) ORDER BY i.id)"
        "            FROM order_items i WHERE i.order_id = o.id), '[]')) FROM o",
        2, p);
}

/* Queues order.completed for the completed order r (the result of settle_order). */
static sc_code queue_completed(db_conn *tx, const json_t *r)
{
    struct envelope env = {0};
    char *payload = NULL, name[64];
    size_t len = 0;
    const char *order_id = json_string_value(json_object_get(r, "order_id"));
    json_t *data = json_pack(
        "{s:s,s:O,s:O,s:O}", "order_id", order_id, "user_id", json_object_get(r, "user_id"),
        "completed_at", json_object_get(r, "completed_at"), "items", json_object_get(r, "items"));
    sc_code rc = data ? envelope_init(&env, ORDER_EVENT_TYPE, ORDER_EVENT_VERSION,
                                      json_string_value(json_object_get(r, "tenant")), data)
                      : SC_ENOMEM;
    if (rc == SC_OK) {
        /* One id per order: a second production is a duplicate downstream. */
        snprintf(name, sizeof(name), "order.completed:%s", order_id);
        uuid_from_name(name, env.id);
        rc = envelope_encode(&env, &payload, &len);
    }
    if (rc == SC_OK) {
        rc = outbox_add(tx, cfg.kafka_topic_orders, order_id, payload);
    }
    envelope_clear(&env);
    free(payload);
    return rc;
}

static sc_code payment_handle(struct work_ctx *ctx, const struct envelope *msg, db_conn *tx)
{
    struct payment_event ev;
    db_rows *rows = NULL;
    json_t *result = NULL;
    char code[24];
    if (strcmp(msg->type, PAYMENT_EVENT_TYPE) != 0 || msg->version != PAYMENT_EVENT_VERSION) {
        snprintf(ctx->error, sizeof(ctx->error), "expected %s version %d", PAYMENT_EVENT_TYPE,
                 PAYMENT_EVENT_VERSION);
        return SC_EPERMANENT;
    }
    if (payment_event_decode(msg->data, &ev, ctx->error, sizeof(ctx->error)) != SC_OK) {
        return SC_EPERMANENT;
    }
    snprintf(code, sizeof(code), "%lld", ev.order_code);
    const char *p[] = {code};
    sc_code rc =
        db_exec(tx, &rows, "SELECT id, status FROM orders WHERE order_code = $1 FOR UPDATE", 1, p);
    if (rc != SC_OK) {
        goto out;
    }
    if (db_nrows(rows) == 0) {
        const char *description = json_string_value(json_object_get(ev.webhook, "description"));
        if (description && !strcmp(description, CONFIRM_TEST_DESCRIPTION)) {
            rc = record_event(tx, msg->id, &ev, NULL, "confirm_test");
            goto out;
        }
        rc = record_unknown(msg->id, &ev);
        if (rc == SC_OK) {
            snprintf(ctx->error, sizeof(ctx->error), "no order with order code %s", code);
            rc = SC_EPERMANENT;
        }
        goto out;
    }
    const char *order_id = db_value(rows, 0, 0);
    const char *outcome = strcmp(ev.code, PAYOS_SUCCESS) != 0            ? "not_successful"
                          : strcmp(db_value(rows, 0, 1), "pending") != 0 ? "not_pending"
                                                                         : NULL;
    if (!outcome) {
        rc = settle_order(tx, order_id, ev.amount, &result);
        const char *status = json_string_value(json_object_get(result, "status"));
        outcome = status && !strcmp(status, "completed") ? "completed" : "underpaid";
        if (rc == SC_OK && !strcmp(outcome, "completed")) {
            rc = queue_completed(tx, result);
        }
    } else {
        log_json(LOG_WARN, "payment for an order that is not payable; recorded only",
                 json_pack("{s:s,s:s,s:I}", "order_id", order_id, "outcome", outcome, "amount",
                           (json_int_t)ev.amount));
    }
    if (rc == SC_OK) {
        rc = record_event(tx, msg->id, &ev, order_id, outcome);
    }
    if (rc == SC_OK && result) {
        ctx->result = result;
        result = NULL;
    }
out:
    json_decref(result);
    db_rows_free(rows);
    return rc;
}

/* Publishes the new status for polling, then produces the queued events. */
static void payment_after_commit(struct work_ctx *ctx, const struct envelope *msg)
{
    (void)msg;
    if (ctx->result) {
        char key[64];
        json_t *cached = json_pack("{s:O,s:O}", "user_id", json_object_get(ctx->result, "user_id"),
                                   "status", json_object_get(ctx->result, "status"));
        char *text = cached ? json_dumps(cached, JSON_COMPACT) : NULL;
        snprintf(key, sizeof(key), "order:status:%s",
                 json_string_value(json_object_get(ctx->result, "order_id")));
        sc_code rc =
            text ? redis_set(key, text, strlen(text), (int)cfg.order_status_ttl_s) : SC_ENOMEM;
        if (rc != SC_OK) {
            log_json(LOG_WARN, "order status not cached; polling falls back to Postgres",
                     json_pack("{s:s,s:s}", "key", key, "error", sc_strerror(rc)));
        }
        free(text);
        json_decref(cached);
        /* The cart snapshot still says "active": drop it (the next read
         * rebuilds it from Postgres) and tell the device. */
        const char *sid = json_string_value(json_object_get(ctx->result, "session_id"));
        const char *status = json_string_value(json_object_get(ctx->result, "status"));
        if (sid && status && !strcmp(status, "completed")) {
            cart_snapshot_drop(sid);
            cart_announce_status(sid, "checked_out");
        }
    }
    outbox_drain(NULL);
}

static sc_code payment_start(void)
{
    /* Redis down at start is not fatal: the pool reconnects on use. */
    sc_code rc =
        redis_pool_init(cfg.redis_url, (int)cfg.redis_pool_size, (int)cfg.redis_timeout_ms);
    if (rc != SC_OK && rc != SC_EUNAVAIL && rc != SC_ETIMEOUT) {
        return rc;
    }
    /* What an earlier process committed but did not produce. */
    outbox_drain(NULL);
    if ((rc = payos_init()) == SC_OK && (rc = reconcile_thread_start()) != SC_OK) {
        payos_shutdown();
    }
    if (rc != SC_OK) {
        redis_pool_shutdown();
    }
    return rc;
}

static void payment_stop(void)
{
    reconcile_thread_stop();
    payos_shutdown();
    redis_pool_shutdown();
}

const struct worker_role role_payment = {
    .name = "payment",
    .topic = &cfg.kafka_topic_payments,
    .handle = payment_handle,
    .after_commit = payment_after_commit,
    .start = payment_start,
    .stop = payment_stop,
};
