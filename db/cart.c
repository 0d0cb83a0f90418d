/* Shopping sessions and cart items in Postgres (see db/cart.h). Item lists
 * travel as uuid[] / int[] literals, which the statements unnest. */
#include "db/cart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    long long version;
    sc_code rc = cart_sessions_json(c, &id, 1, out, &version);
    return rc == SC_OK && !*out ? SC_ENOTFOUND : rc;
}

sc_code cart_sessions_json(db_conn *c, const char *const *ids, size_t n, char **json,
                           long long *version)
{
    db_rows *r = NULL;
    size_t len = 1;
    char *list = malloc(n * CART_UUID_LEN + 2);
    memset(json, 0, n * sizeof(*json));
    if (!list) {
        return SC_ENOMEM;
    }
    list[0] = '{';
    for (size_t i = 0; i < n; i++) {
        len += (size_t)sprintf(list + len, "%s%s", i ? "," : "", ids[i]);
    }
    strcpy(list + len, "}");
    const char *params[] = {list};
    /* One statement: each version is the one its JSON shows. */
    sc_code rc = db_exec(c, &r,
                         "SELECT s.version, shopping_session_json(u.id) "
                         "FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, i) "
                         "LEFT JOIN shopping_sessions s ON s.id = u.id ORDER BY u.i",
                         1, params);
    if (rc == SC_OK && (size_t)db_nrows(r) != n) {
        rc = SC_EINTERNAL;
    }
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        const char *text = db_value(r, (int)i, 1);
        version[i] = text ? atoll(db_value(r, (int)i, 0)) : 0;
        if (text && !(json[i] = strdup(text))) {
            rc = SC_ENOMEM;
        }
    }
    for (size_t i = 0; rc != SC_OK && i < n; i++) {
        free(json[i]);
        json[i] = NULL;
    }
    db_rows_free(r);
    free(list);
    return rc;
}

/* A Postgres array literal of unquoted elements (uuids, integers, NULL),
 * grown as needed; ok drops to 0 when memory ran out. */
struct list {
    char *text;
    size_t len, cap, n;
    int ok;
};

static void list_add(struct list *l, const char *v)
{
    size_t need = l->len + strlen(v) + 3;
    if (l->ok && need > l->cap) {
        size_t cap = need > 2 * l->cap ? need : 2 * l->cap;
        char *grown = realloc(l->text, cap);
        l->ok = grown != NULL;
        l->text = grown ? grown : l->text;
        l->cap = grown ? cap : l->cap;
    }
    if (l->ok) {
        l->len += (size_t)sprintf(l->text + l->len, "%c%s", l->n++ ? ',' : '{', v);
        strcpy(l->text + l->len, "}");
    }
}

static void list_add_int(struct list *l, long long v)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", v);
    list_add(l, text);
}

/* The literal, "{}" when empty; NULL when memory ran out. */
static const char *list_text(const struct list *l)
{
    return !l->ok ? NULL : l->n ? l->text : "{}";
}

sc_code cart_products_check(db_conn *c, const char *tenant, const struct cart_command *cmd,
                            long *missing)
{
    struct list ids = {.ok = 1};
    for (size_t i = 0; i < cmd->n_items; i++) {
        list_add(&ids, cmd->items[i].product_id);
    }
    const char *params[] = {tenant, list_text(&ids)};
    db_rows *r = NULL;
    *missing = -1;
    sc_code rc = params[1] ? db_exec(c, &r,
                                     "SELECT u.pid FROM unnest($2::uuid[]) AS u(pid) "
                                     "WHERE NOT EXISTS (SELECT 1 FROM products p "
                                     "                  WHERE p.id = u.pid AND p.tenant_id = $1) "
                                     "LIMIT 1",
                                     2, params)
                           : SC_ENOMEM;
    if (rc == SC_OK && db_nrows(r) > 0) {
        for (size_t i = 0; i < cmd->n_items; i++) {
            if (!strcmp(cmd->items[i].product_id, db_value(r, 0, 0))) {
                *missing = (long)i;
            }
        }
    }
    db_rows_free(r);
    free(ids.text);
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

/* A session the commands of one cart_apply touch. */
struct touched {
    const char *id;
    long long commands; /* how many of them are its */
    long long version;  /* after all of them; 0: not active, they change nothing */
    char tenant[CART_UUID_LEN];
};

/* Bumps the version of every active session of t[0..n) by its number of
 * commands, under their row locks, in one statement. */
static sc_code bump_versions(db_conn *tx, struct touched *t, size_t n, json_t *index)
{
    struct list ids = {.ok = 1}, counts = {.ok = 1};
    db_rows *r = NULL;
    for (size_t k = 0; k < n; k++) {
        list_add(&ids, t[k].id);
        list_add_int(&counts, t[k].commands);
    }
    const char *params[] = {list_text(&ids), list_text(&counts)};
    sc_code rc = params[0] && params[1]
                     ? db_exec(tx, &r,
                               "UPDATE shopping_sessions s SET version = s.version + u.k, "
                               "last_activity_at = now(), updated_at = now() "
                               "FROM unnest($1::uuid[], $2::int[]) AS u(id, k) "
                               "WHERE s.id = u.id AND s.status = 'active' "
                               "RETURNING s.id, s.version, s.tenant_id",
                               2, params)
                     : SC_ENOMEM;
    for (int row = 0; rc == SC_OK && row < db_nrows(r); row++) {
        struct touched *own = &t[json_integer_value(json_object_get(index, db_value(r, row, 0)))];
        own->version = atoll(db_value(r, row, 1));
        snprintf(own->tenant, sizeof(own->tenant), "%s", db_value(r, row, 2));
    }
    db_rows_free(r);
    free(ids.text);
    free(counts.text);
    return rc;
}

/* Changes the items of the commands of one round (at most one per session),
 * each command's removals (after emptying its cart when it says clear)
 * before its additions, as one statement each. */
static sc_code change_items(db_conn *tx, const struct cart_command *const *cmds,
                            const struct touched *const *own, size_t n)
{
    struct list del_sid = {.ok = 1}, del_pid = {.ok = 1};
    struct list set_sid = {.ok = 1}, set_pid = {.ok = 1}, set_qty = {.ok = 1},
                set_tenant = {.ok = 1};
    for (size_t i = 0; i < n; i++) {
        if (cmds[i]->clear) {
            list_add(&del_sid, cmds[i]->session_id);
            list_add(&del_pid, "NULL");
        }
        for (size_t j = 0; j < cmds[i]->n_items; j++) {
            const struct cart_item_change *it = &cmds[i]->items[j];
            if (it->quantity == 0) {
                list_add(&del_sid, cmds[i]->session_id);
                list_add(&del_pid, it->product_id);
            } else {
                list_add(&set_sid, cmds[i]->session_id);
                list_add(&set_pid, it->product_id);
                list_add_int(&set_qty, it->quantity);
                list_add(&set_tenant, own[i]->tenant);
            }
        }
    }
    const char *del[] = {list_text(&del_sid), list_text(&del_pid)};
    const char *set[] = {list_text(&set_sid), list_text(&set_pid), list_text(&set_qty),
                         list_text(&set_tenant)};
    sc_code rc = del[0] && del[1] && set[0] && set[1] && set[2] && set[3] ? SC_OK : SC_ENOMEM;
    if (rc == SC_OK && del_sid.n) {
        /* a NULL product empties the session */
        rc = db_exec(tx, NULL,
                     "DELETE FROM cart_items c USING unnest($1::uuid[], $2::uuid[]) AS d(sid, pid) "
                     "WHERE c.session_id = d.sid AND (d.pid IS NULL OR c.product_id = d.pid)",
                     2, del);
    }
    /* Products deleted from the catalog meanwhile are skipped; items are
     * stamped with their statement's time, not the transaction's, so
     * products added by successive commands keep their order. */
    if (rc == SC_OK && set_sid.n) {
        rc = db_exec(
            tx, NULL,
            "INSERT INTO cart_items (session_id, product_id, quantity, added_at) "
            "SELECT u.sid, p.id, u.q, statement_timestamp() "
            "FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::uuid[]) "
            "     AS u(sid, pid, q, tenant) "
            "JOIN products p ON p.id = u.pid AND p.tenant_id = u.tenant "
            "ON CONFLICT (session_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity",
            4, set);
    }
    free(del_sid.text);
    free(del_pid.text);
    free(set_sid.text);
    free(set_pid.text);
    free(set_qty.text);
    free(set_tenant.text);
    return rc;
}

sc_code cart_apply(db_conn *tx, const struct cart_command *cmds, size_t n, long long *version)
{
    struct touched *t = calloc(n, sizeof(*t));
    size_t *of = calloc(n, sizeof(*of));      /* the session of command i */
    long long *nth = calloc(n, sizeof(*nth)); /* command i is its session's nth (0, 1, ...) */
    const struct cart_command **round = calloc(n, sizeof(*round));
    const struct touched **round_own = calloc(n, sizeof(*round_own));
    json_t *index = json_object();
    size_t nsessions = 0;
    long long rounds = 0;
    sc_code rc = t && of && nth && round && round_own && index ? SC_OK : SC_ENOMEM;
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        json_t *known = json_object_get(index, cmds[i].session_id);
        of[i] = known ? (size_t)json_integer_value(known) : nsessions;
        if (!known) {
            t[nsessions++].id = cmds[i].session_id;
            json_object_set_new(index, cmds[i].session_id, json_integer((json_int_t)of[i]));
        }
        nth[i] = t[of[i]].commands++;
        rounds = nth[i] + 1 > rounds ? nth[i] + 1 : rounds;
    }
    if (rc == SC_OK) {
        rc = bump_versions(tx, t, nsessions, index);
    }
    /* Round r applies the r-th command of every session: statement by
     * statement, a session's commands change its items in their order. */
    for (long long r = 0; rc == SC_OK && r < rounds; r++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (nth[i] == r && t[of[i]].version) {
                round[m] = &cmds[i];
                round_own[m++] = &t[of[i]];
            }
        }
        rc = m ? change_items(tx, round, round_own, m) : SC_OK;
    }
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        const struct touched *own = &t[of[i]];
        version[i] = own->version ? own->version - own->commands + nth[i] + 1 : 0;
    }
    json_decref(index);
    free(t);
    free(of);
    free(nth);
    free(round);
    free(round_own);
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
