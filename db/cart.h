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

/* The same for the sessions ids[0..n) in one statement: json[i] (malloc'd,
 * the caller frees each) and version[i] of ids[i], or NULL and 0 when it
 * does not exist. All NULL on error. */
sc_code cart_sessions_json(db_conn *c, const char *const *ids, size_t n, char **json,
                           long long *version);

/* *missing = index in cmd->items of the first product that is not one of
 * tenant's, or -1 when all are. */
sc_code cart_products_check(db_conn *c, const char *tenant, const struct cart_command *cmd,
                            long *missing);

/* The product debug prepare-cart puts in the cart: the tenant's oldest.
 * SC_ENOTFOUND when the tenant has none. */
sc_code cart_sample_product(db_conn *c, const char *tenant, char out[CART_UUID_LEN]);

/* Applies the commands cmds[0..n) (of one or many sessions; each session's
 * in the order given) inside the open transaction tx, with the same result
 * as applying them one by one: each active session is locked and its
 * version raised by one per command (its last activity now); a command
 * empties the cart when it says clear, then sets each item's quantity (0
 * deletes; a product deleted from the catalog meanwhile is skipped).
 * version[i] is the session's version after cmds[i], or 0 when the session
 * is not active (checked out, expired or unknown): then it changed nothing.
 * A few statements in all: one per round of "the next command of every
 * session", not one per command. */
sc_code cart_apply(db_conn *tx, const struct cart_command *cmds, size_t n, long long *version);

/* Marks at most limit active sessions idle for more than idle_s seconds as
 * expired (sessions locked by another transaction are left for the next
 * round), and returns their ids as a JSON array in *ids (the caller's). */
sc_code cart_expire_idle(db_conn *c, long long idle_s, int limit, json_t **ids);

#endif
