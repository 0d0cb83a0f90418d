/* Checkout, orders, notifications and best-sellers (seed 003 §4, §5, §6;
 * issue 6). Checkout creates the order in Postgres, then the PayOS link
 * while the client waits for its QR (PAYOS_TIMEOUT_MS x (1 + PAYOS_RETRIES)
 * at worst, with no database connection held meanwhile); a link that cannot
 * be had leaves the order failed, never payable. The PayOS webhook is only
 * verified and handed to Kafka: smartcart-worker payment applies it.
 * Statuses and best-sellers are read from Redis first, Postgres on a miss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "bestsellers.h"
#include "config.h"
#include "db/catalog.h"
#include "db/orders.h"
#include "handlers.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "payos.h"
#include "redis.h"
#include "schemas/payment_event.h"
#include "uuid.h"

#define DETAIL_ORDER "Order not found"
#define DETAIL_PAYOS_DOWN "The payment provider is unavailable; please try again later"
#define DETAIL_PAYOS_REFUSED "The payment provider refused the payment request"

/* ---- order status cache: order:status:<id> = {"user_id", "status"} ---- */

static void cache_status(const char *order_id, const char *user_id, const char *status)
{
    char key[64];
    json_t *v = json_pack("{s:s,s:s}", "user_id", user_id, "status", status);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    snprintf(key, sizeof(key), "order:status:%s", order_id);
    sc_code rc = text ? redis_set(key, text, strlen(text), (int)cfg.order_status_ttl_s) : SC_ENOMEM;
    if (rc != SC_OK) {
        log_json(LOG_WARN, "order status not cached",
                 json_pack("{s:s,s:s}", "key", key, "error", sc_strerror(rc)));
    }
    free(text);
    json_decref(v);
}

/* The cached status of order_id when the cache has it for user; 0 on a miss. */
static int cached_status(const char *order_id, const char *user_id, char status[16], int *foreign)
{
    char key[64], *text = NULL;
    snprintf(key, sizeof(key), "order:status:%s", order_id);
    if (redis_get(key, &text, NULL) != SC_OK) {
        return 0;
    }
    json_t *v = json_loads(text, 0, NULL);
    const char *owner = json_string_value(json_object_get(v, "user_id"));
    const char *s = json_string_value(json_object_get(v, "status"));
    int hit = owner && s;
    if (hit) {
        *foreign = strcasecmp(owner, user_id) != 0;
        snprintf(status, 16, "%s", s);
    }
    json_decref(v);
    free(text);
    return hit;
}

/* ---- POST /checkout/request ---- */

/* Gets the PayOS link of the order o and stores it; on failure leaves the
 * order failed (and asks PayOS to cancel a link a timed-out create may have
 * made) and replies. Returns 1 when o now has its link. */
static int link_order(struct order_checkout *o, const char *user_id, struct http_response *res)
{
    char description[32];
    snprintf(description, sizeof(description), "SC%lld", o->order_code);
    struct payos_create_request r = {o->order_code, o->payable_amount, description,
                                     cfg.payos_return_url, cfg.payos_cancel_url};
    struct payos_link link;
    sc_code rc = payos_create_link(&r, &link);
    db_conn *c = db_acquire();
    sc_code stored = !c ? SC_EUNAVAIL
                     : rc == SC_OK
                         ? orders_set_link(c, o->id, link.id, link.checkout_url, link.qr_code)
                         : orders_fail(c, o->id, sc_strerror(rc));
    db_release(c);
    if (rc == SC_OK && stored == SC_OK) {
        o->checkout_url = link.checkout_url;
        o->qr_code = link.qr_code;
        link.checkout_url = link.qr_code = NULL;
    }
    payos_link_clear(&link);
    if (rc == SC_OK && stored == SC_OK) {
        return 1;
    }
    if (rc == SC_ETIMEOUT) {
        payos_cancel_link(o->order_code, "checkout failed");
    }
    if (rc != SC_OK) {
        cache_status(o->id, user_id, "failed");
        log_json(LOG_WARN, "payment link not created; order failed",
                 json_pack("{s:s,s:I,s:s}", "order_id", o->id, "order_code",
                           (json_int_t)o->order_code, "error", sc_strerror(rc)));
        http_reply_error(res, sc_is_transient(rc) ? 503 : 502,
                         sc_is_transient(rc) ? DETAIL_PAYOS_DOWN : DETAIL_PAYOS_REFUSED);
    } else {
        handler_reply_failure(res, stored);
    }
    return 0;
}

static void checkout_request(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct order_checkout o = {0};
    json_t *body = NULL;
    db_conn *c = NULL;
    if (!auth_user_or_device(req, res, &who) || !(body = http_json_body(req, res))) {
        goto out;
    }
    json_t *field = json_object_get(body, "session_id");
    const char *session = json_string_value(field);
    if (!field) {
        http_reply_field_error(res, "body", "session_id", "Field required", "missing");
        goto out;
    }
    if (!uuid_valid(session)) {
        http_reply_field_error(res, "body", "session_id", "Input should be a valid UUID",
                               "uuid_parsing");
        goto out;
    }
    if (who.is_device && strcasecmp(who.session_id, session) != 0) {
        http_reply_error(res, 404, "Shopping session not found");
        goto out;
    }
    if (!(c = handler_db(res))) {
        goto out;
    }
    sc_code rc = orders_checkout_begin(c, who.tenant_id, who.user_id, session, &o);
    db_release(c);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, "Shopping session not found");
    } else if (rc == SC_EINVAL) {
        http_reply_error(res, 422, "The cart is empty");
    } else if (rc == SC_ECONFLICT) {
        http_reply_error(res, 409, "The shopping session is no longer active");
    } else if (rc != SC_OK) {
        handler_reply_failure(res, rc);
    }
    if (rc != SC_OK) {
        goto out;
    }
    if (o.created) {
        cache_status(o.id, who.user_id, "pending");
    }
    if (!o.checkout_url && !link_order(&o, who.user_id, res)) {
        goto out;
    }
    http_reply_json(res, 200,
                    json_pack("{s:s,s:s,s:s,s:s?}", "order_id", o.id, "payment_qr_url",
                              o.checkout_url, "checkout_url", o.checkout_url, "qr_code",
                              o.qr_code));
out:
    orders_checkout_clear(&o);
    json_decref(body);
}

/* ---- POST /checkout/webhook/payos ---- */

/* Verifies the webhook and produces its payment event; SC_EINVAL for a
 * missing or wrong signature or unusable data. */
static sc_code enqueue_webhook(struct http_request *req)
{
    json_t *doc = req->body ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
    json_t *webhook = json_object_get(doc, "data");
    char *payload = NULL, key[24];
    size_t len = 0;
    sc_code rc = SC_EINVAL;
    if (json_is_object(webhook) &&
        payos_signature_ok(webhook, json_string_value(json_object_get(doc, "signature")),
                           cfg.payos_checksum_key)) {
        rc = payment_event_message(webhook, &payload, &len, key);
    }
    if (rc == SC_OK) {
        rc = kafka_produce_sync(cfg.kafka_topic_payments, key, strlen(key), payload, len, NULL, 0);
    }
    free(payload);
    json_decref(doc);
    return rc;
}

static void payos_webhook(struct http_request *req, struct http_response *res)
{
    if (!*cfg.payos_checksum_key) {
        /* An empty key would make every forged signature "valid". */
        http_reply_error(res, 503, "Payments are not configured");
        return;
    }
    sc_code rc = enqueue_webhook(req);
    if (rc == SC_EINVAL) {
        http_reply_error(res, 400, "Invalid webhook signature or data");
    } else if (rc != SC_OK) {
        handler_reply_failure(res, rc);
    } else {
        http_reply_json(res, 200, json_pack("{s:s}", "status", "success"));
    }
}

/* ---- status, orders, notifications ---- */

static void checkout_status(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    char status[16];
    int foreign = 0;
    if (!auth_user_or_device(req, res, &who) || !(id = handler_path_uuid(req, res, "order_id"))) {
        return;
    }
    if (!cached_status(id, who.user_id, status, &foreign)) {
        db_conn *c = handler_db(res);
        if (!c) {
            return;
        }
        sc_code rc = orders_status(c, who.user_id, id, status);
        db_release(c);
        if (rc != SC_OK) {
            handler_reply_text(res, rc, 200, NULL, DETAIL_ORDER);
            return;
        }
    } else if (foreign) {
        http_reply_error(res, 404, DETAIL_ORDER);
        return;
    }
    http_reply_json(res, 200, json_pack("{s:s,s:s}", "order_id", id, "status", status));
}

/* GET of a user's list (orders or notifications) with skip and limit. */
static void user_list(struct http_request *req, struct http_response *res,
                      sc_code (*list)(db_conn *, const char *, const char *, const char *, char **))
{
    struct auth_identity who;
    char skip[24], limit[24], *text = NULL;
    db_conn *c;
    if (!auth_user(req, res, &who) || !handler_query_page(req, res, skip, limit) ||
        !(c = handler_db(res))) {
        return;
    }
    sc_code rc = list(c, who.user_id, skip, limit, &text);
    db_release(c);
    handler_reply_text(res, rc, 200, text, "Not found");
}

/* One item of a user (an order, a notification marked read) by path id. */
static void user_item(struct http_request *req, struct http_response *res, const char *param,
                      sc_code (*get)(db_conn *, const char *, const char *, char **),
                      const char *not_found)
{
    struct auth_identity who;
    const char *id;
    char *text = NULL;
    db_conn *c;
    if (!auth_user(req, res, &who) || !(id = handler_path_uuid(req, res, param)) ||
        !(c = handler_db(res))) {
        return;
    }
    sc_code rc = get(c, who.user_id, id, &text);
    db_release(c);
    handler_reply_text(res, rc, 200, text, not_found);
}

static void order_list(struct http_request *req, struct http_response *res)
{
    user_list(req, res, orders_list);
}

static void order_get(struct http_request *req, struct http_response *res)
{
    user_item(req, res, "order_id", orders_get, DETAIL_ORDER);
}

static void notification_list(struct http_request *req, struct http_response *res)
{
    user_list(req, res, notifications_list);
}

static void notification_read(struct http_request *req, struct http_response *res)
{
    user_item(req, res, "notification_id", notifications_mark_read, "Notification not found");
}

/* ---- best-sellers ---- */

/* Renders ranked rows (uuid[] categories or NULL, uuid[] products, bigint[]
 * quantities, in rank order) of tenant in the seed's shapes. */
static const char sql_render_products[] =
    "SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', p.name, 'price', p.price, "
    "'total_quantity_sold', r.qty) ORDER BY r.ord), '[]') "
    "FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY r(pid, qty, ord) "
    "JOIN products p ON p.id = r.pid AND p.tenant_id = $1";
static const char sql_render_categories[] =
    "SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'products', "
    "x.products) ORDER BY x.first), '[]') FROM ("
    "  SELECT r.cat, min(r.ord) AS first, json_agg(json_build_object('id', p.id, 'name', p.name,"
    "    'price', p.price, 'total_quantity_sold', r.qty, 'primary_image', "
    "    (SELECT product_image_json(i) FROM product_images i "
    "     WHERE i.product_id = p.id AND i.is_primary)) ORDER BY r.ord) AS products"
    "  FROM unnest($4::uuid[], $2::uuid[], $3::bigint[]) WITH ORDINALITY r(cat, pid, qty, ord)"
    "  JOIN products p ON p.id = r.pid AND p.tenant_id = $1 GROUP BY r.cat"
    ") x JOIN categories c ON c.id = x.cat AND c.tenant_id = $1";

/* The same arrays from Postgres: the top `limit` products of the week, or
 * with per_category the top 2 of each category (categories ordered by their
 * best product). Ties break as Redis's ZREVRANGE breaks them: by id, descending. */
static const char sql_rank_products[] =
    "SELECT coalesce(array_agg(product_id ORDER BY quantity DESC, product_id DESC), '{}')::text, "
    "       coalesce(array_agg(quantity ORDER BY quantity DESC, product_id DESC), '{}')::text, "
    "NULL "
    "FROM (SELECT product_id, quantity FROM product_sales_weekly "
    "      WHERE tenant_id = $1 AND to_char(iso_year, 'FM0000') || '-W' || "
    "            to_char(iso_week, 'FM00') = $2 "
    "      ORDER BY quantity DESC, product_id DESC LIMIT $3) s";
static const char sql_rank_categories[] =
    "WITH s AS (SELECT pc.category_id AS cat, w.product_id AS pid, w.quantity AS qty, "
    "    row_number() OVER (PARTITION BY pc.category_id ORDER BY w.quantity DESC, w.product_id "
    "DESC)"
    "      AS rn, max(w.quantity) OVER (PARTITION BY pc.category_id) AS best "
    "  FROM product_sales_weekly w JOIN product_categories pc ON pc.product_id = w.product_id "
    "  WHERE w.tenant_id = $1 AND to_char(w.iso_year, 'FM0000') || '-W' || "
    "        to_char(w.iso_week, 'FM00') = $2) "
    "SELECT coalesce(array_agg(pid ORDER BY best DESC, cat DESC, rn), '{}')::text, "
    "       coalesce(array_agg(qty ORDER BY best DESC, cat DESC, rn), '{}')::text, "
    "       coalesce(array_agg(cat ORDER BY best DESC, cat DESC, rn), '{}')::text "
    "FROM s WHERE rn <= $3";

/* Postgres array literals of a ranking. */
struct ranking {
    FILE *f[3]; /* products, quantities, categories */
    char *text[3];
    size_t len[3];
    size_t n;
};

static int ranking_open(struct ranking *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < 3; i++) {
        if (!(r->f[i] = open_memstream(&r->text[i], &r->len[i]))) {
            return 0;
        }
        fputc('{', r->f[i]);
    }
    return 1;
}

static void ranking_add(struct ranking *r, const char *product, double qty, const char *category)
{
    const char *sep = r->n++ ? "," : "";
    fprintf(r->f[0], "%s%s", sep, product);
    fprintf(r->f[1], "%s%.0f", sep, qty);
    fprintf(r->f[2], "%s%s", sep, category ? category : "NULL");
}

static void ranking_close(struct ranking *r)
{
    for (int i = 0; i < 3; i++) {
        if (r->f[i]) {
            fputc('}', r->f[i]);
            fclose(r->f[i]);
            r->f[i] = NULL;
        }
    }
}

static void ranking_free(struct ranking *r)
{
    ranking_close(r);
    for (int i = 0; i < 3; i++) {
        free(r->text[i]);
    }
}

/* The ranking from Redis: the week's products, or the top per_category of
 * each category in the index. 0 when Redis has nothing (or is down). */
static int rank_from_redis(const char *tenant, const char *week, long limit, long per_category,
                           struct ranking *r)
{
    struct redis_scored *cats = NULL, *items = NULL;
    size_t ncats = 0, n = 0;
    if (!per_category) {
        if (bestsellers_top(tenant, week, NULL, limit, &items, &n) == SC_OK) {
            for (size_t i = 0; i < n; i++) {
                ranking_add(r, items[i].member, items[i].score, NULL);
            }
        }
        redis_scored_free(items, n);
        return r->n > 0;
    }
    if (bestsellers_top(tenant, week, BESTSELLERS_CATS, 1000, &cats, &ncats) != SC_OK) {
        return 0;
    }
    for (size_t c = 0; c < ncats; c++) {
        if (bestsellers_top(tenant, week, cats[c].member, per_category, &items, &n) == SC_OK) {
            for (size_t i = 0; i < n; i++) {
                ranking_add(r, items[i].member, items[i].score, cats[c].member);
            }
        }
        redis_scored_free(items, n);
        items = NULL;
        n = 0;
    }
    redis_scored_free(cats, ncats);
    return r->n > 0;
}

/* Answers the week's best-sellers of tenant: Redis ranking first, else Postgres's. */
static void best_sellers(struct http_response *res, db_conn *c, const char *tenant, long limit,
                         long per_category)
{
    char week[BESTSELLERS_WEEK_LEN], count[24], *text = NULL;
    struct ranking r;
    db_rows *rows = NULL;
    sc_code rc = SC_ENOMEM;
    bestsellers_week_now(week);
    snprintf(count, sizeof(count), "%ld", per_category ? per_category : limit);
    if (!ranking_open(&r)) {
        goto out;
    }
    int cached = rank_from_redis(tenant, week, limit, per_category, &r);
    ranking_close(&r);
    const char *arrays[] = {r.text[0], r.text[1], r.text[2]};
    if (!cached) {
        const char *p[] = {tenant, week, count};
        rc = db_exec(c, &rows, per_category ? sql_rank_categories : sql_rank_products, 3, p);
        if (rc != SC_OK) {
            goto out;
        }
        for (int i = 0; i < 3; i++) {
            arrays[i] = db_value(rows, 0, i);
        }
    }
    const char *p[] = {tenant, arrays[0], arrays[1], arrays[2]};
    db_rows *json = NULL;
    /* The JSON text goes out as Postgres wrote it: prices keep their decimals. */
    rc = db_exec(c, &json, per_category ? sql_render_categories : sql_render_products,
                 per_category ? 4 : 3, p);
    if (rc == SC_OK && !(text = strdup(db_value(json, 0, 0)))) {
        rc = SC_ENOMEM;
    }
    db_rows_free(json);
out:
    db_rows_free(rows);
    ranking_free(&r);
    handler_reply_text(res, rc, 200, text, "Not found");
}

static void best_sellers_week(struct http_request *req, struct http_response *res)
{
    char limit[24], tenant[CATALOG_UUID_LEN];
    struct auth_identity who;
    int token = http_header(req, "Authorization") != NULL;
    if (!handler_query_int(req, res, "limit", 10, 1, HANDLER_PAGE_LIMIT_MAX, limit) ||
        (token && !auth_user_or_device(req, res, &who))) {
        return;
    }
    /* The token's tenant, else X-Tenant-ID's, else the default store (as the catalog reads). */
    const char *wanted = token ? who.tenant_id : http_header(req, "X-Tenant-ID");
    if (wanted && !uuid_valid(wanted)) {
        http_reply_field_error(res, "header", "x-tenant-id", "Input should be a valid UUID",
                               "uuid_parsing");
        return;
    }
    db_conn *c = handler_db(res);
    if (!c) {
        return;
    }
    sc_code rc = catalog_tenant(c, wanted, tenant);
    if (rc == SC_OK) {
        best_sellers(res, c, tenant, atol(limit), 0);
    } else {
        handler_reply_text(res, rc, 200, NULL, "Tenant not found");
    }
    db_release(c);
}

static void best_sellers_by_category(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    if (!auth_user_or_device(req, res, &who)) {
        return;
    }
    db_conn *c = handler_db(res);
    if (c) {
        best_sellers(res, c, who.tenant_id, 0, 2);
        db_release(c);
    }
}

const struct route checkout_routes[] = {
    /* Calls PayOS inline (the client waits for the QR): off the event loops. */
    {.method = "POST",
     .pattern = "/checkout/request",
     .handler = checkout_request,
     .flags = ROUTE_OFFLOAD},
    {.method = "GET", .pattern = "/checkout/status/{order_id}", .handler = checkout_status},
    /* Waits for Kafka's acknowledgement: off the event loops (one per core). */
    {.method = "POST",
     .pattern = "/checkout/webhook/payos",
     .handler = payos_webhook,
     .flags = ROUTE_OFFLOAD},
    {.method = "GET", .pattern = "/orders", .handler = order_list},
    {.method = "GET", .pattern = "/orders/{order_id}", .handler = order_get},
    {.method = "GET", .pattern = "/notifications", .handler = notification_list},
    {.method = "POST",
     .pattern = "/notifications/{notification_id}/read",
     .handler = notification_read},
    {.method = "GET", .pattern = "/products/best-sellers", .handler = best_sellers_week},
    {.method = "GET",
     .pattern = "/products/best-sellers-by-category",
     .handler = best_sellers_by_category},
};
const size_t checkout_routes_len = sizeof(checkout_routes) / sizeof(checkout_routes[0]);
