/* Order and notification data access (see orders.h). */
#include "orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Fills o from row 0 of rows: id, order_code, payable_amount, checkout_url, qr_code. */
static void checkout_from(const db_rows *rows, struct order_checkout *o)
{
    snprintf(o->id, sizeof(o->id), "%s", db_value(rows, 0, 0));
    o->order_code = atoll(db_value(rows, 0, 1));
    o->payable_amount = atoll(db_value(rows, 0, 2));
    o->checkout_url = dup_or_null(db_value(rows, 0, 3));
    o->qr_code = dup_or_null(db_value(rows, 0, 4));
}

sc_code orders_checkout_begin(db_conn *c, const char *tenant, const char *user, const char *session,
                              struct order_checkout *out)
{
    memset(out, 0, sizeof(*out));
    const char *p[] = {session, user, tenant};
    db_rows *rows = NULL;
    sc_code rc = db_begin(c);
    if (rc != SC_OK) {
        return rc;
    }
    /* The lock serialises checkouts of one session: the second finds the first's order. */
    rc = db_exec(c, &rows,
                 "SELECT status FROM shopping_sessions WHERE id = $1 AND user_id = $2 "
                 "AND tenant_id = $3 FOR UPDATE",
                 3, p);
    if (rc != SC_OK || db_nrows(rows) == 0) {
        rc = rc != SC_OK ? rc : SC_ENOTFOUND;
        goto out;
    }
    int active = !strcmp(db_value(rows, 0, 0), "active");
    db_rows_free(rows);
    rows = NULL;
    rc = db_exec(c, &rows,
                 "SELECT id, order_code, payable_amount, checkout_url, qr_code FROM orders "
                 "WHERE session_id = $1 AND status = 'pending'",
                 1, p);
    if (rc != SC_OK || db_nrows(rows) > 0) {
        goto out;
    }
    if (!active) {
        rc = SC_ECONFLICT;
        goto out;
    }
    db_rows_free(rows);
    rows = NULL;
    rc = db_exec(c, &rows,
                 "WITH cart AS ("
                 "  SELECT p.id AS product_id, p.name, coalesce(p.discounted_price, p.price) "
                 "         AS unit_price, ci.quantity"
                 "  FROM cart_items ci JOIN product_pricing p ON p.id = ci.product_id"
                 "  WHERE ci.session_id = $1 AND p.tenant_id = $3"
                 "), o AS ("
                 "  INSERT INTO orders (tenant_id, user_id, session_id, total_amount, "
                 "                      payable_amount)"
                 "  SELECT $3, $2, $1, sum(unit_price * quantity), "
                 "         ceil(sum(unit_price * quantity))::bigint"
                 "  FROM cart HAVING count(*) > 0"
                 "  RETURNING id, order_code, payable_amount"
                 "), items AS ("
                 "  INSERT INTO order_items (order_id, product_id, product_name, unit_price, "
                 "                           quantity)"
                 "  SELECT o.id, cart.product_id, cart.name, cart.unit_price, cart.quantity "
                 "  FROM o, cart"
                 ") SELECT id, order_code, payable_amount, NULL, NULL FROM o",
                 3, p);
    if (rc == SC_OK && db_nrows(rows) == 0) {
        rc = SC_EINVAL;
    }
    out->created = 1;
out:
    if (rc == SC_OK) {
        checkout_from(rows, out);
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        db_rollback(c);
        orders_checkout_clear(out);
    }
    db_rows_free(rows);
    return rc;
}

void orders_checkout_clear(struct order_checkout *o)
{
    free(o->checkout_url);
    free(o->qr_code);
    o->checkout_url = NULL;
    o->qr_code = NULL;
}

sc_code orders_set_link(db_conn *c, const char *order_id, const char *link_id,
                        const char *checkout_url, const char *qr_code)
{
    const char *p[] = {order_id, link_id, checkout_url, qr_code};
    return db_exec(c, NULL,
                   "UPDATE orders SET payment_link_id = $2, checkout_url = $3, qr_code = $4, "
                   "updated_at = now() WHERE id = $1 AND status = 'pending'",
                   4, p);
}

sc_code orders_fail(db_conn *c, const char *order_id, const char *reason)
{
    const char *p[] = {order_id, reason};
    return db_exec(c, NULL,
                   "UPDATE orders SET status = 'failed', failure_reason = $2, updated_at = now() "
                   "WHERE id = $1 AND status = 'pending'",
                   2, p);
}

sc_code orders_status(db_conn *c, const char *user, const char *order_id, char status[16])
{
    const char *p[] = {order_id, user};
    char *text = NULL;
    sc_code rc =
        db_query_text(c, &text, "SELECT status FROM orders WHERE id = $1 AND user_id = $2", 2, p);
    if (rc == SC_OK) {
        snprintf(status, 16, "%s", text);
    }
    free(text);
    return rc;
}

/* An order as the API shows it (o is an orders row). */
#define ORDER_JSON                                                                                 \
    "json_build_object('id', o.id, 'order_code', o.order_code, 'session_id', o.session_id, "       \
    "'status', o.status, 'total_amount', o.total_amount, 'paid_amount', o.paid_amount, "           \
    "'shortfall', o.shortfall, 'checkout_url', o.checkout_url, "                                   \
    "'created_at', rfc3339(o.created_at), 'updated_at', rfc3339(o.updated_at), "                   \
    "'completed_at', rfc3339(o.completed_at), "                                                    \
    "'items', coalesce((SELECT json_agg(json_build_object('id', i.id, 'product_id', "              \
    "i.product_id, "                                                                               \
    "'product_name', i.product_name, 'unit_price', i.unit_price, 'quantity', i.quantity, "         \
    "'subtotal', i.unit_price * i.quantity) ORDER BY i.product_name, i.id) "                       \
    "FROM order_items i WHERE i.order_id = o.id), '[]'))"

sc_code orders_list(db_conn *c, const char *user, const char *skip, const char *limit, char **out)
{
    const char *p[] = {user, skip, limit};
    return db_query_text(
        c, out,
        "SELECT coalesce(json_agg(j ORDER BY created_at DESC, id DESC), '[]') FROM ("
        "SELECT " ORDER_JSON " AS j, o.created_at, o.id FROM orders o "
        "WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.id DESC "
        "OFFSET $2 LIMIT $3) page",
        3, p);
}

sc_code orders_get(db_conn *c, const char *user, const char *order_id, char **out)
{
    const char *p[] = {order_id, user};
    return db_query_text(
        c, out, "SELECT " ORDER_JSON " FROM orders o WHERE o.id = $1 AND o.user_id = $2", 2, p);
}

#define NOTIFICATION_JSON                                                                          \
    "json_build_object('id', n.id, 'title', n.title, 'body', n.body, 'is_read', n.is_read, "       \
    "'created_at', rfc3339(n.created_at))"

sc_code notifications_list(db_conn *c, const char *user, const char *skip, const char *limit,
                           char **out)
{
    const char *p[] = {user, skip, limit};
    return db_query_text(c, out,
                         "SELECT coalesce(json_agg(j ORDER BY is_read, created_at DESC, id), '[]') "
                         "FROM (SELECT " NOTIFICATION_JSON " AS j, n.is_read, n.created_at, n.id "
                         "FROM notifications n WHERE n.user_id = $1 "
                         "ORDER BY n.is_read, n.created_at DESC, n.id OFFSET $2 LIMIT $3) page",
                         3, p);
}

sc_code notifications_mark_read(db_conn *c, const char *user, const char *id, char **out)
{
    const char *p[] = {id, user};
    return db_query_text(
        c, out,
        "UPDATE notifications n SET is_read = true WHERE n.id = $1 AND n.user_id = $2 "
        "RETURNING " NOTIFICATION_JSON,
        2, p);
}
