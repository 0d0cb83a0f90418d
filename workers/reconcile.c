/* Payment reconciler (see reconcile.h). */
#include "reconcile.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "db/orders.h"
#include "kafka.h"
#include "log.h"
#include "payos.h"
#include "redis.h"
#include "schemas/payment_event.h"

#define BATCH "100"

/* Produces the payment event of each transfer of link (order code). */
static sc_code replay_transfers(long long order_code, const struct payos_link *link)
{
    size_t i;
    json_t *t;
    sc_code rc = SC_OK;
    json_array_foreach(link->transactions, i, t)
    {
        json_t *webhook = json_deep_copy(t);
        char *payload = NULL, key[24];
        size_t len = 0;
        rc = webhook ? SC_OK : SC_ENOMEM;
        if (rc == SC_OK) {
            json_object_set_new(webhook, "orderCode", json_integer(order_code));
            json_object_set_new(webhook, "code", json_string("00"));
            rc = payment_event_message(webhook, &payload, &len, key);
        }
        if (rc == SC_OK) {
            rc = kafka_produce_sync(cfg.kafka_topic_payments, key, strlen(key), payload, len, NULL,
                                    0);
        }
        free(payload);
        json_decref(webhook);
        if (rc != SC_OK) {
            break;
        }
    }
    return rc;
}

/* Settles one order with what PayOS knows about it. */
static sc_code reconcile_order(db_conn *c, const char *order_id, long long order_code)
{
    struct payos_link link;
    sc_code rc = payos_get_link(order_code, &link);
    const char *reason = rc == SC_ENOTFOUND ? "no payment link at PayOS" : NULL;
    if (rc == SC_OK) {
        rc = replay_transfers(order_code, &link);
        if (!strcmp(link.status, "CANCELLED") || !strcmp(link.status, "EXPIRED") ||
            !strcmp(link.status, "FAILED")) {
            reason = "payment link cancelled or expired";
        }
    }
    if (reason && (rc == SC_ENOTFOUND || link.amount_paid < link.amount)) {
        char key[64];
        rc = orders_fail(c, order_id, reason);
        snprintf(key, sizeof(key), "order:status:%s", order_id);
        redis_del(key); /* the next poll reads Postgres */
        log_json(LOG_INFO, "stale order failed",
                 json_pack("{s:s,s:s}", "order_id", order_id, "reason", reason));
    }
    payos_link_clear(&link);
    return rc;
}

sc_code reconcile_once(size_t *checked)
{
    char after[24];
    size_t n = 0;
    db_rows *rows = NULL;
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    snprintf(after, sizeof(after), "%lld", cfg.payos_reconcile_after_s);
    const char *p[] = {after, BATCH};
    sc_code rc = db_exec(c, &rows,
                         "SELECT id, order_code FROM orders WHERE status = 'pending' "
                         "AND created_at < now() - make_interval(secs => $1::int) "
                         "ORDER BY created_at LIMIT $2",
                         2, p);
    for (int i = 0; rc == SC_OK && i < db_nrows(rows); i++) {
        sc_code r = reconcile_order(c, db_value(rows, i, 0), atoll(db_value(rows, i, 1)));
        if (r == SC_OK) {
            n++;
        } else {
            log_json(
                LOG_WARN, "order not reconciled; next pass retries",
                json_pack("{s:s,s:s}", "order_id", db_value(rows, i, 0), "error", sc_strerror(r)));
        }
    }
    db_rows_free(rows);
    db_release(c);
    if (checked) {
        *checked = n;
    }
    return rc;
}

static pthread_t thread;
static int running, stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static void *loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += cfg.payos_reconcile_interval_s;
        while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0) {
        }
        if (stopping) {
            break;
        }
        pthread_mutex_unlock(&lock);
        reconcile_once(NULL);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

sc_code reconcile_thread_start(void)
{
    if (!cfg.payos_reconcile_interval_s || !*cfg.payos_client_id) {
        return SC_OK;
    }
    stopping = 0;
    if (pthread_create(&thread, NULL, loop, NULL) != 0) {
        return SC_ENOMEM;
    }
    running = 1;
    return SC_OK;
}

void reconcile_thread_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (running) {
        pthread_join(thread, NULL);
        running = 0;
    }
}
