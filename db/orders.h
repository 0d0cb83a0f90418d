/* Orders, their items and notifications (migration 0006): the data access of
 * the checkout, order and notification routes. JSON comes rendered by
 * Postgres and is passed on as text, so amounts keep their exact decimals.
 * Every function scopes by the caller's user id, so a foreign id behaves
 * like an unknown one (SC_ENOTFOUND). */
#ifndef SC_ORDERS_H
#define SC_ORDERS_H

#include "db.h"
#include "error.h"

/* The order a checkout request answers with. */
struct order_checkout {
    char id[37];
    long long order_code;
    long long payable_amount; /* đồng, what the PayOS link asks for */
    char *checkout_url;       /* owned; NULL while the order has no link */
    char *qr_code;            /* owned; NULL when unknown */
    int created;              /* 1 when this call created the order */
};

/* In one transaction: locks the user's shopping session, returns its
 * pending order when there is one, else creates one from the cart (unit
 * prices from product_pricing, the promotional price where one applies;
 * total and item snapshots in SQL). SC_ENOTFOUND the session is not the
 * user's, SC_ECONFLICT it is no longer active, SC_EINVAL the cart is empty.
 * Release out with orders_checkout_clear (also on error). */
sc_code orders_checkout_begin(db_conn *c, const char *tenant, const char *user, const char *session,
                              struct order_checkout *out);
void orders_checkout_clear(struct order_checkout *o);

/* Stores the payment link of a pending order. */
sc_code orders_set_link(db_conn *c, const char *order_id, const char *link_id,
                        const char *checkout_url, const char *qr_code);

/* Marks a pending order failed with reason (not payable any more). */
sc_code orders_fail(db_conn *c, const char *order_id, const char *reason);

/* The status ("pending", "completed", "failed") of the user's order into status. */
sc_code orders_status(db_conn *c, const char *user, const char *order_id, char status[16]);

/* The user's orders, newest first, with items: a JSON array (caller frees). */
sc_code orders_list(db_conn *c, const char *user, const char *skip, const char *limit, char **out);
/* One order of the user as JSON (caller frees). */
sc_code orders_get(db_conn *c, const char *user, const char *order_id, char **out);

/* The user's notifications, unread first, then newest: a JSON array. */
sc_code notifications_list(db_conn *c, const char *user, const char *skip, const char *limit,
                           char **out);
/* Marks one read; the notification as JSON (caller frees). */
sc_code notifications_mark_read(db_conn *c, const char *user, const char *id, char **out);

#endif
