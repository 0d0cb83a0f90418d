/* Shopping sessions and cart items in Postgres (see db/cart.h). Item lists
 * travel as uuid[] / int[] literals, which the statements unnest. */
#include "db/cart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Big enough for CART_COMMAND_MAX_ITEMS uuids with their commas and braces. */
#define ID_LIST_LEN (CART_COMMAND_MAX_ITEMS * CART_UUID_LEN + 3)
#define QTY_LIST_LEN (CART_COMMAND_MAX_ITEMS * 3 + 3)

/* The first column of the first row of sql into out (a uuid); *found says
 * whether there was a row. */
static sc_code query_id(db_conn *c, char out[CART_UUID_LEN], int *found, const char *sql, int n,
                        const char *const *params)
{
    db_rows *r = NULL;
    sc_code rc = db_exec(c, &r, sql, n, params);
    *found = rc == SC_OK && db_nrows(r) > 0 && db_value(r, 0, 0);
    if (*found) {
        snprintf(out, CART_UUID_LEN, "%s", db_value(r, 0, 0));
    }
    db_rows_free(r);
    return rc;
}

sc_code cart_session_open(db_conn *c, const char *tenant, const char *user, char out[CART_UUID_LEN])
{
    const char *touch_params[] = {user};
    const char *insert_params[] = {tenant, user};
    int found = 0;
    sc_code rc = SC_OK;
    /* A session created or expired between the two statements by someone
     * else makes a second round find or create it; two rounds always do. */
    for (int round = 0; round < 3 && rc == SC_OK && !found; round++) {
        rc = query_id(c, out, &found,
                      "UPDATE shopping_sessions SET last_activity_at = now(), updated_at = now() "
                      "WHERE user_id = $1 AND status = 'active' RETURNING id",
                      1, touch_params);
        if (rc == SC_OK && !found) {
            rc = query_id(c, out, &found,
                          "INSERT INTO shopping_sessions (tenant_id, user_id) VALUES ($1, $2) "
                          "ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING RETURNING id",
                          2, insert_params);
        }
    }
    return rc == SC_OK && !found ? SC_ECONFLICT : rc;
}

sc_code cart_session_info(db_conn *c, const char *id, struct cart_session_info *out)
{
    const char *params[] = {id};
    db_rows *r = NULL;
    sc_code rc = db_exec(
        c, &r, "SELECT user_id, tenant_id, status FROM shopping_sessions WHERE id = $1", 1, params);
    if (rc == SC_OK && db_nrows(r) == 0) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK) {
        snprintf(out->user_id, sizeof(out->user_id), "%s", db_value(r, 0, 0));
        snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", db_value(r, 0, 1));
        snprintf(out->status, sizeof(out->status), "%s", db_value(r, 0, 2));
    }
    db_rows_free(r);
    return rc;
}

sc_code cart_session_json(db_conn *c, const char *id, char **out)
{
    const char *params[] = {id};
    db_rows *r = NULL;
    *out = NULL;
    sc_code rc = db_exec(c, &r, "SELECT shopping_session_json($1)", 1, params);
    if (rc == SC_OK && (db_nrows(r) == 0 || !db_value(r, 0, 0))) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK && !(*out = strdup(db_value(r, 0, 0)))) {
        rc = SC_ENOMEM;
    }
    db_rows_free(r);
    return rc;
}

/* Which items item_lists picks. */
enum item_pick { PICK_ALL, PICK_SET, PICK_REMOVE };

static int picked(const struct cart_item_change *it, enum item_pick pick)
{
    return pick == PICK_ALL || (it->quantity == 0) == (pick == PICK_REMOVE);
}

/* The product ids of cmd's picked items as a uuid[] literal and their
 * quantities as an int[] literal; returns how many. */
static size_t item_lists(const struct cart_command *cmd, enum item_pick pick, char ids[ID_LIST_LEN],
                         char qtys[QTY_LIST_LEN])
{
    size_t n = 0, il = 0, ql = 0;
    ids[il++] = '{';
    qtys[ql++] = '{';
    for (size_t i = 0; i < cmd->n_items; i++) {
        if (!picked(&cmd->items[i], pick)) {
            continue;
        }
        il += (size_t)snprintf(ids + il, ID_LIST_LEN - il, "%s%s", n ? "," : "",
                               cmd->items[i].product_id);
        ql += (size_t)snprintf(qtys + ql, QTY_LIST_LEN - ql, "%s%d", n ? "," : "",
                               cmd->items[i].quantity);
        n++;
    }
    snprintf(ids + il, ID_LIST_LEN - il, "}");
    snprintf(qtys + ql, QTY_LIST_LEN - ql, "}");
    return n;
}

sc_code cart_products_check(db_conn *c, const char *tenant, const struct cart_command *cmd,
                            long *missing)
{
    char ids[ID_LIST_LEN], qtys[QTY_LIST_LEN];
    item_lists(cmd, PICK_ALL, ids, qtys);
    const char *params[] = {tenant, ids};
    db_rows *r = NULL;
    *missing = -1;
    sc_code rc = db_exec(c, &r,
                         "SELECT u.pid FROM unnest($2::uuid[]) AS u(pid) "
                         "WHERE NOT EXISTS (SELECT 1 FROM products p "
                         "                  WHERE p.id = u.pid AND p.tenant_id = $1) LIMIT 1",
                         2, params);
    if (rc == SC_OK && db_nrows(r) > 0) {
        for (size_t i = 0; i < cmd->n_items; i++) {
            if (!strcmp(cmd->items[i].product_id, db_value(r, 0, 0))) {
                *missing = (long)i;
            }
        }
    }
    db_rows_free(r);
    return rc;
}

sc_code cart_sample_product(db_conn *c, const char *tenant, char out[CART_UUID_LEN])
{
    const char *params[] = {tenant};
    int found;
    sc_code rc = query_id(c, out, &found,
                          "SELECT id FROM products WHERE tenant_id = $1 ORDER BY created_at, id "
                          "LIMIT 1",
                          1, params);
    return rc == SC_OK && !found ? SC_ENOTFOUND : rc;
}

/* Bumps the version of an active session under its row lock; SC_ECONFLICT
 * or SC_ENOTFOUND when it is not active. */
static sc_code bump_version(db_conn *tx, const char *id, long long *version,
                            char tenant[CART_UUID_LEN])
{
    const char *params[] = {id};
    db_rows *r = NULL;
    sc_code rc = db_exec(tx, &r,
                         "UPDATE shopping_sessions SET version = version + 1, "
                         "last_activity_at = now(), updated_at = now() "
                         "WHERE id = $1 AND status = 'active' RETURNING version, tenant_id",
                         1, params);
    if (rc == SC_OK && db_nrows(r) == 1) {
        *version = atoll(db_value(r, 0, 0));
        snprintf(tenant, CART_UUID_LEN, "%s", db_value(r, 0, 1));
    } else if (rc == SC_OK) {
        struct cart_session_info info;
        rc = cart_session_info(tx, id, &info);
        rc = rc == SC_OK ? SC_ECONFLICT : rc;
    }
    db_rows_free(r);
    return rc;
}

sc_code cart_apply(db_conn *tx, const struct cart_command *cmd, long long *version)
{
    char tenant[CART_UUID_LEN], ids[ID_LIST_LEN], qtys[QTY_LIST_LEN];
    sc_code rc = bump_version(tx, cmd->session_id, version, tenant);
    if (rc == SC_OK && cmd->clear) {
        const char *params[] = {cmd->session_id};
        rc = db_exec(tx, NULL, "DELETE FROM cart_items WHERE session_id = $1", 1, params);
    }
    if (rc == SC_OK && item_lists(cmd, PICK_REMOVE, ids, qtys) > 0) {
        const char *params[] = {cmd->session_id, ids};
        rc =
            db_exec(tx, NULL,
                    "DELETE FROM cart_items WHERE session_id = $1 AND product_id = ANY($2::uuid[])",
                    2, params);
    }
    if (rc == SC_OK && item_lists(cmd, PICK_SET, ids, qtys) > 0) {
        const char *params[] = {cmd->session_id, ids, qtys, tenant};
        rc = db_exec(
            tx, NULL,
            "INSERT INTO cart_items (session_id, product_id, quantity) "
            "SELECT $1, p.id, u.q FROM unnest($2::uuid[], $3::int[]) AS u(pid, q) "
            "JOIN products p ON p.id = u.pid AND p.tenant_id = $4 "
            "ON CONFLICT (session_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity",
            4, params);
    }
    return rc;
}

sc_code cart_expire_idle(db_conn *c, long long idle_s, int limit, json_t **ids)
{
    char idle[24], lim[16];
    snprintf(idle, sizeof(idle), "%lld", idle_s);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *params[] = {idle, lim};
    db_rows *r = NULL;
    *ids = NULL;
    sc_code rc = db_exec(c, &r,
                         "UPDATE shopping_sessions SET status = 'expired', updated_at = now() "
                         "WHERE id IN (SELECT id FROM shopping_sessions WHERE status = 'active' "
                         "  AND last_activity_at < now() - make_interval(secs => $1::bigint) "
                         "  ORDER BY last_activity_at LIMIT $2::int FOR UPDATE SKIP LOCKED) "
                         "RETURNING id",
                         2, params);
    if (rc == SC_OK && !(*ids = json_array())) {
        rc = SC_ENOMEM;
    }
    for (int i = 0; rc == SC_OK && i < db_nrows(r); i++) {
        json_array_append_new(*ids, json_string(db_value(r, i, 0)));
    }
    db_rows_free(r);
    return rc;
}
