/* analytics role: consumes order.completed and keeps weekly best-sellers.
 * In the runtime's transaction it adds the order's quantities to
 * product_sales_weekly (the ISO week of completed_at, UTC); the runtime's
 * processed_messages makes a redelivered order count once. After the commit
 * it writes each product's new weekly total to the Redis sets
 * (lib/bestsellers.h): an absolute total with ZADD GT, so a replay or a
 * late writer never corrupts them, and a lost update is repaired by the next
 * order of that product or by `smartcart rebuild-bestsellers`. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bestsellers.h"
#include "config.h"
#include "log.h"
#include "redis.h"
#include "schemas/order_event.h"
#include "workers/runtime.h"

static sc_code analytics_handle(struct work_ctx *ctx, const struct envelope *msg, db_conn *tx)
{
    struct order_event ev;
    if (strcmp(msg->type, ORDER_EVENT_TYPE) != 0 || msg->version != ORDER_EVENT_VERSION) {
        snprintf(ctx->error, sizeof(ctx->error), "expected %s version %d", ORDER_EVENT_TYPE,
                 ORDER_EVENT_VERSION);
        return SC_EPERMANENT;
    }
    if (order_event_decode(msg->data, &ev, ctx->error, sizeof(ctx->error)) != SC_OK) {
        return SC_EPERMANENT;
    }
    char *items = json_dumps(ev.items, JSON_COMPACT);
    if (!items) {
        return SC_ENOMEM;
    }
    const char *p[] = {items, ev.completed_at, msg->tenant};
    /* Products deleted meanwhile (null or gone) are not counted. The rows
     * counted are locked first: a deletion still running when the statement
     * began is waited for and its product skipped, where the foreign key's
     * own check would have failed the whole order after that wait. */
    sc_code rc = db_query_json(
        tx, &ctx->result,
        "WITH it AS ("
        "  SELECT (x->>'product_id')::uuid AS product_id, sum((x->>'quantity')::bigint) AS qty"
        "  FROM json_array_elements($1::json) x WHERE x->>'product_id' IS NOT NULL GROUP BY 1"
        "), p AS ("
        "  SELECT p.id, p.tenant_id FROM products p"
        "  WHERE p.id IN (SELECT product_id FROM it) AND p.tenant_id = $3"
        "  ORDER BY p.id FOR KEY SHARE"
        "), wk AS ("
        "  SELECT extract(isoyear FROM $2::timestamptz AT TIME ZONE 'UTC')::int AS y,"
        "         extract(week FROM $2::timestamptz AT TIME ZONE 'UTC')::int AS w"
        "), up AS ("
        "  INSERT INTO product_sales_weekly (tenant_id, product_id, iso_year, iso_week, quantity)"
        "  SELECT p.tenant_id, it.product_id, wk.y, wk.w, it.qty"
        "  FROM it JOIN p ON p.id = it.product_id, wk"
        "  ON CONFLICT (product_id, iso_year, iso_week)"
        "  DO UPDATE SET quantity = product_sales_weekly.quantity + excluded.quantity"
        "  RETURNING product_id, quantity, iso_year, iso_week"
        ") SELECT coalesce(json_agg(json_build_object('product', up.product_id,"
        "  'quantity', up.quantity,"
        "  'week', to_char(up.iso_year, 'FM0000') || '-W' || to_char(up.iso_week, 'FM00'),"
        "  'categories', coalesce((SELECT json_agg(pc.category_id) FROM product_categories pc"
        "                          WHERE pc.product_id = up.product_id), '[]'))), '[]') FROM up",
        3, p);
    free(items);
    return rc;
}

static void analytics_after_commit(struct work_ctx *ctx, const struct envelope *msg)
{
    size_t i;
    json_t *row;
    json_array_foreach(ctx->result, i, row)
    {
        sc_code rc =
            bestsellers_record(msg->tenant, json_string_value(json_object_get(row, "week")),
                               json_string_value(json_object_get(row, "product")),
                               json_integer_value(json_object_get(row, "quantity")),
                               json_object_get(row, "categories"));
        if (rc != SC_OK) {
            log_json(LOG_WARN, "best-sellers not cached; reads fall back to Postgres",
                     json_pack("{s:s}", "error", sc_strerror(rc)));
            return;
        }
    }
}

static sc_code analytics_start(void)
{
    sc_code rc =
        redis_pool_init(cfg.redis_url, (int)cfg.redis_pool_size, (int)cfg.redis_timeout_ms);
    return rc == SC_EUNAVAIL || rc == SC_ETIMEOUT ? SC_OK : rc;
}

static void analytics_stop(void)
{
    redis_pool_shutdown();
}

const struct worker_role role_analytics = {
    .name = "analytics",
    .topic = &cfg.kafka_topic_orders,
    .handle = analytics_handle,
    .after_commit = analytics_after_commit,
    .start = analytics_start,
    .stop = analytics_stop,
};
