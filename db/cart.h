/* Shopping sessions and their items (migration 0005): data access for the
 * QR login, the cart routes and the cart worker. The worker is the only
 * writer of items and of `version` (one per applied command); Postgres
 * renders the session JSON (shopping_session_json), handed on as text so
 * prices keep their exact decimals. Ids are validated UUIDs. */
#ifndef SC_DB_CART_H
#define SC_DB_CART_H

#include <jansson.h>
#include "db.h"
#include "schemas/cart_command.h"

#define CART_UUID_LEN 37

struct cart_session_info {
    char user_id[CART_UUID_LEN];
    char tenant_id[CART_UUID_LEN];
    char status[16]; /* active, checked_out or expired */
};

/* The user's active session (its last activity set to now, which also keeps
 * the idle sweep off it) or a new one in tenant, into out. The one-active-
 * per-user index settles concurrent calls: both get the same session. */
sc_code cart_session_open(db_conn *c, const char *tenant, const char *user,
                          char out[CART_UUID_LEN]);

/* Owner, tenant and status of session id. SC_ENOTFOUND when there is none. */
sc_code cart_session_info(db_conn *c, const char *id, struct cart_session_info *out);

/* The session as the API shows it, {id, user_id, status, created_at,
 * version, items}; *out is malloc'd text the caller frees. SC_ENOTFOUND
 * when there is none. */
sc_code cart_session_json(db_conn *c, const char *id, char **out);

/* *missing = index in cmd->items of the first product that is not one of
 * tenant's, or -1 when all are. */
sc_code cart_products_check(db_conn *c, const char *tenant, const struct cart_command *cmd,
                            long *missing);

/* The product debug prepare-cart puts in the cart: the tenant's oldest.
 * SC_ENOTFOUND when the tenant has none. */
sc_code cart_sample_product(db_conn *c, const char *tenant, char out[CART_UUID_LEN]);

/* Applies cmd inside the open transaction tx: locks the session, empties it
 * when cmd->clear, sets each item's quantity (0 deletes; a product deleted
 * from the catalog meanwhile is skipped), version + 1, last activity now.
 * *version is the new version. SC_ECONFLICT when the session is no longer
 * active, SC_ENOTFOUND when it does not exist; nothing changed then. */
sc_code cart_apply(db_conn *tx, const struct cart_command *cmd, long long *version);

/* Marks at most limit active sessions idle for more than idle_s seconds as
 * expired (sessions locked by another transaction are left for the next
 * round), and returns their ids as a JSON array in *ids (the caller's). */
sc_code cart_expire_idle(db_conn *c, long long idle_s, int limit, json_t **ids);

#endif
