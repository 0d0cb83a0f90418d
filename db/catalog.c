/* Catalog data access. Each function picks static SQL and passes the caller's
 * validated text parameters; Postgres renders the JSON (migration 0003's
 * product_api view, category_json, ...), so prices stay numeric end to end. */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Runs sql that yields one row whose first column is JSON text, copied into
 * *out (caller frees). When flag is non-NULL it receives the second column
 * ("t"/"f" → 1/0, or a count: non-zero → 1). SC_ENOTFOUND when there is no
 * row or the JSON is NULL. The text is passed on untouched: a jansson round
 * trip would turn numeric prices into doubles (99.99 → 99.989999999999995). */
static sc_code query_json(db_conn *c, char **out, int *flag, const char *sql, int n,
                          const char *const *params)
{
    db_rows *rows = NULL;
    *out = NULL;
    sc_code rc = db_exec(c, &rows, sql, n, params);
    if (rc != SC_OK) {
        goto out;
    }
    const char *text = db_nrows(rows) > 0 ? db_value(rows, 0, 0) : NULL;
    if (!text) {
        rc = SC_ENOTFOUND;
        goto out;
    }
    if (flag) {
        const char *f = db_value(rows, 0, 1);
        *flag = f && f[0] != 'f' && f[0] != '0';
    }
    *out = strdup(text);
    rc = *out ? SC_OK : SC_ENOMEM;
out:
    db_rows_free(rows);
    return rc;
}

/* Runs sql that yields at most one row of one text column into out (up to
 * CATALOG_UUID_LEN bytes). *found tells whether a non-NULL value came back. */
static sc_code query_text(db_conn *c, char out[CATALOG_UUID_LEN], int *found, const char *sql,
                          int n, const char *const *params)
{
    db_rows *rows = NULL;
    sc_code rc = db_exec(c, &rows, sql, n, params);
    const char *v = rc == SC_OK && db_nrows(rows) > 0 ? db_value(rows, 0, 0) : NULL;
    *found = v != NULL;
    if (v) {
        snprintf(out, CATALOG_UUID_LEN, "%s", v);
    }
    db_rows_free(rows);
    return rc;
}

/* Finds the first id of the uuid[] literal ids that sql (params: tenant, ids)
 * reports as not the tenant's; SC_EFOREIGN with it in bad, else SC_OK. */
static sc_code check_ids(db_conn *c, const char *sql, const char *tenant, const char *ids,
                         char bad[CATALOG_UUID_LEN])
{
    const char *p[] = {tenant, ids};
    int found = 0;
    sc_code rc = query_text(c, bad, &found, sql, 2, p);
    return rc == SC_OK && found ? SC_EFOREIGN : rc;
}

static const char sql_unknown_categories[] =
    "SELECT u::text FROM unnest($2::uuid[]) u WHERE NOT EXISTS "
    "(SELECT 1 FROM categories c WHERE c.id = u AND c.tenant_id = $1) LIMIT 1";
static const char sql_unknown_products[] =
    "SELECT u::text FROM unnest($2::uuid[]) u WHERE NOT EXISTS "
    "(SELECT 1 FROM products p WHERE p.id = u AND p.tenant_id = $1) LIMIT 1";

sc_code catalog_tenant(db_conn *c, const char *tenant_id, char out[CATALOG_UUID_LEN])
{
    const char *p[] = {tenant_id, cfg.default_tenant};
    int found = 0;
    sc_code rc = query_text(c, out, &found,
                            "SELECT id::text FROM tenants WHERE CASE WHEN $1::uuid IS NULL "
                            "THEN slug = $2 ELSE id = $1::uuid END",
                            2, p);
    return rc == SC_OK && !found ? SC_ENOTFOUND : rc;
}

/* ---- products ---- */

static const char sql_product_json[] =
    "SELECT json FROM product_api WHERE id = $1 AND tenant_id = $2";

sc_code catalog_product_get(db_conn *c, const char *tenant, const char *id, char **out)
{
    const char *p[] = {id, tenant};
    return query_json(c, out, NULL, sql_product_json, 2, p);
}

sc_code catalog_product_save(db_conn *c, const char *tenant, const char *id,
                             const struct catalog_product_input *in, char **out,
                             char bad_category[CATALOG_UUID_LEN])
{
    char pid[CATALOG_UUID_LEN];
    int found = 0;
    *out = NULL;
    sc_code rc = db_begin(c);
    if (rc != SC_OK) {
        return rc;
    }
    if (in->category_ids && (rc = check_ids(c, sql_unknown_categories, tenant, in->category_ids,
                                            bad_category)) != SC_OK) {
        goto out;
    }
    if (!id) {
        const char *p[] = {tenant, in->name, in->description, in->price, in->weight_grams};
        rc = query_text(c, pid, &found,
                        "INSERT INTO products (tenant_id, name, description, price, weight_grams) "
                        "VALUES ($1, $2, $3, $4::numeric, $5::integer) RETURNING id::text",
                        5, p);
    } else {
        const char *p[] = {id,
                           tenant,
                           in->name,
                           in->set_description ? "true" : "false",
                           in->description,
                           in->price,
                           in->set_weight_grams ? "true" : "false",
                           in->weight_grams};
        rc = query_text(c, pid, &found,
                        "UPDATE products SET name = coalesce($3, name), "
                        "description = CASE WHEN $4::boolean THEN $5 ELSE description END, "
                        "price = coalesce($6::numeric, price), "
                        "weight_grams = CASE WHEN $7::boolean THEN $8::integer ELSE weight_grams "
                        "END, updated_at = now() "
                        "WHERE id = $1 AND tenant_id = $2 RETURNING id::text",
                        8, p);
    }
    if (rc == SC_OK && !found) {
        rc = SC_ENOTFOUND;
    }
    if (rc != SC_OK) {
        goto out;
    }
    if (in->category_ids) {
        const char *p[] = {pid, in->category_ids};
        if ((rc = db_exec(c, NULL, "DELETE FROM product_categories WHERE product_id = $1", 1, p)) !=
                SC_OK ||
            (rc = db_exec(c, NULL,
                          "INSERT INTO product_categories (product_id, category_id) "
                          "SELECT DISTINCT $1::uuid, u FROM unnest($2::uuid[]) u",
                          2, p)) != SC_OK) {
            goto out;
        }
    }
    const char *p[] = {pid, tenant};
    if ((rc = query_json(c, out, NULL, sql_product_json, 2, p)) == SC_OK) {
        rc = db_commit(c);
    }
out:
    if (rc != SC_OK) {
        db_rollback(c);
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Without a query: the tenant's products by name. Separate from the search
 * statement so each keeps a plan that fits it (an "$n IS NULL OR" around the
 * trigram condition would keep a generic plan off the index). m is inlined
 * into both uses so the page walks the (tenant_id, name, id) index and stops
 * after limit rows instead of sorting the whole catalog. */
static const char sql_product_browse[] =
    "WITH m AS NOT MATERIALIZED (SELECT p.id, p.name FROM products p WHERE p.tenant_id = $1 "
    "  AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM product_categories pc "
    "       WHERE pc.product_id = p.id AND pc.category_id = $2::uuid)) "
    "  AND ($3::numeric IS NULL OR p.price >= $3::numeric) "
    "  AND ($4::numeric IS NULL OR p.price <= $4::numeric)) "
    "SELECT json_build_object('total', (SELECT count(*) FROM m), 'products', "
    "  coalesce((SELECT json_agg(a.json ORDER BY x.name, x.id) FROM "
    "    (SELECT id, name FROM m ORDER BY name, id OFFSET $5 LIMIT $6) x "
    "    JOIN product_api a ON a.id = x.id), '[]'))";

/* With a query, in two steps. First the normalised query must occur in
 * search_doc (name and description: diacritics and case ignored, partial
 * words match); only when nothing does, the query may instead resemble a run
 * of words of the name (pg_trgm word similarity: typos). Both conditions are
 * answered by trigram GIN indexes; the fallback keeps the fuzzy net, which is
 * wide and costly to rank, out of searches that already have answers.
 * Relevance: the name containing the query, then how close the name is. The
 * normalised query is MATERIALIZED so it is computed once, not per row. */
#define SEARCH_HEAD                                                                                \
    "WITH n AS MATERIALIZED (SELECT q, '%' || replace(replace(replace(q, '\\', '\\\\'), '%', "     \
    "'\\%'), '_', '\\_') || '%' AS pattern "                                                       \
    "  FROM (SELECT f_search_norm(regexp_replace(btrim($2), '\\s+', ' ', 'g')) AS q) s), "         \
    "m AS (SELECT p.id, p.name, (p.name_norm LIKE n.pattern)::integer "                            \
    "    + word_similarity(n.q, p.name_norm) + similarity(n.q, p.name_norm) AS rank "              \
    "  FROM products p, n WHERE p.tenant_id = $1 "
#define SEARCH_TAIL                                                                                \
    "  AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM product_categories pc "                      \
    "       WHERE pc.product_id = p.id AND pc.category_id = $3::uuid)) "                           \
    "  AND ($4::numeric IS NULL OR p.price >= $4::numeric) "                                       \
    "  AND ($5::numeric IS NULL OR p.price <= $5::numeric)) "                                      \
    "SELECT json_build_object('total', t.total, 'products', "                                      \
    "  coalesce((SELECT json_agg(a.json ORDER BY x.rank DESC, x.name, x.id) "                      \
    "    FROM (SELECT id, name, rank FROM m ORDER BY rank DESC, name, id OFFSET $6 LIMIT $7) x "   \
    "    JOIN product_api a ON a.id = x.id), '[]')), t.total "                                     \
    "FROM (SELECT count(*) AS total FROM m) t"
static const char sql_product_search_exact[] =
    SEARCH_HEAD "AND p.search_doc LIKE n.pattern " SEARCH_TAIL;
static const char sql_product_search_fuzzy[] = SEARCH_HEAD "AND n.q <% p.name_norm " SEARCH_TAIL;

sc_code catalog_product_list(db_conn *c, const char *tenant, const struct catalog_product_filter *f,
                             char **out)
{
    *out = NULL;
    if (!f->query) {
        const char *p[] = {tenant, f->category_id, f->min_price, f->max_price, f->skip, f->limit};
        return query_json(c, out, NULL, sql_product_browse, 6, p);
    }
    const char *p[] = {tenant,       f->query, f->category_id, f->min_price,
                       f->max_price, f->skip,  f->limit};
    int found = 0;
    sc_code rc = query_json(c, out, &found, sql_product_search_exact, 7, p);
    if (rc != SC_OK || found) {
        return rc;
    }
    free(*out);
    *out = NULL;
    /* The <% operator reads its threshold from the session. */
    char threshold[16];
    snprintf(threshold, sizeof(threshold), "%.2f", (double)cfg.search_word_similarity / 100);
    const char *t[] = {threshold};
    rc =
        db_exec(c, NULL, "SELECT set_config('pg_trgm.word_similarity_threshold', $1, false)", 1, t);
    return rc == SC_OK ? query_json(c, out, NULL, sql_product_search_fuzzy, 7, p) : rc;
}

sc_code catalog_product_delete(db_conn *c, const char *tenant, const char *id, json_t **object_keys)
{
    *object_keys = NULL;
    const char *p[] = {id, tenant};
    char got[CATALOG_UUID_LEN];
    int found = 0;
    sc_code rc = db_begin(c);
    if (rc != SC_OK) {
        return rc;
    }
    /* The row lock keeps new images (whose FK check takes a key-share lock)
     * out until the delete commits, so the returned keys are complete. */
    rc = query_text(c, got, &found,
                    "SELECT id::text FROM products WHERE id = $1 AND tenant_id = $2 FOR UPDATE", 2,
                    p);
    if (rc == SC_OK && !found) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK) {
        rc = db_query_json(c, object_keys,
                           "WITH k AS (SELECT object_key, created_at FROM product_images "
                           "  WHERE product_id = $1), "
                           "d AS (DELETE FROM products WHERE id = $1 AND tenant_id = $2) "
                           "SELECT coalesce(json_agg(object_key ORDER BY created_at), '[]') FROM k",
                           2, p);
    }
    if (rc == SC_OK) {
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        db_rollback(c);
        json_decref(*object_keys);
        *object_keys = NULL;
    }
    return rc;
}

/* ---- categories ---- */

sc_code catalog_category_list(db_conn *c, const char *tenant, char **out)
{
    const char *p[] = {tenant};
    return query_json(c, out, NULL,
                      "SELECT json_build_object('categories', coalesce(json_agg(category_json(c) "
                      "ORDER BY c.name, c.id), '[]')) FROM categories c WHERE c.tenant_id = $1",
                      1, p);
}

sc_code catalog_category_tree(db_conn *c, const char *tenant, char **out)
{
    const char *p[] = {tenant};
    return query_json(c, out, NULL,
                      "SELECT json_build_object('categories', category_tree_json($1::uuid, NULL))",
                      1, p);
}

sc_code catalog_category_get(db_conn *c, const char *tenant, const char *id, char **out)
{
    const char *p[] = {id, tenant};
    return query_json(c, out, NULL,
                      "SELECT category_json(c) FROM categories c WHERE c.id = $1 AND "
                      "c.tenant_id = $2",
                      2, p);
}

sc_code catalog_category_save(db_conn *c, const char *tenant, const char *id, const char *name,
                              int set_parent, const char *parent, char **out)
{
    if (!id) {
        const char *p[] = {tenant, name, parent};
        return query_json(c, out, NULL,
                          "INSERT INTO categories (tenant_id, name, parent_id) "
                          "VALUES ($1, $2, $3) RETURNING category_json(categories)",
                          3, p);
    }
    const char *p[] = {id, tenant, name, set_parent ? "true" : "false", parent};
    return query_json(c, out, NULL,
                      "UPDATE categories SET name = coalesce($3, name), parent_id = CASE WHEN "
                      "$4::boolean THEN $5::uuid ELSE parent_id END "
                      "WHERE id = $1 AND tenant_id = $2 RETURNING category_json(categories)",
                      5, p);
}

sc_code catalog_category_delete(db_conn *c, const char *tenant, const char *id, const char **reason)
{
    const char *p[] = {id, tenant};
    char got[CATALOG_UUID_LEN];
    int found = 0;
    *reason = NULL;
    /* The foreign keys without cascade decide, so a product linked at the same
     * moment cannot slip through a check made beforehand. */
    sc_code rc = query_text(c, got, &found,
                            "DELETE FROM categories WHERE id = $1 AND tenant_id = $2 "
                            "RETURNING id::text",
                            2, p);
    if (rc == SC_EFOREIGN) {
        *reason = !strcmp(db_error_constraint(c), "categories_parent_fkey")
                      ? "Category has child categories; move or delete them first"
                      : "Category has products; remove them from it first";
        return SC_ECONFLICT;
    }
    return rc == SC_OK && !found ? SC_ENOTFOUND : rc;
}

/* ---- reviews ---- */

sc_code catalog_review_upsert(db_conn *c, const char *tenant, const char *user, const char *product,
                              const char *rating, const char *comment, char **out, int *created)
{
    const char *p[] = {tenant, user, product, rating, comment};
    return query_json(c, out, created,
                      "INSERT INTO reviews (user_id, product_id, rating, comment) "
                      "SELECT $2::uuid, p.id, $4::smallint, coalesce($5, '') FROM products p "
                      "WHERE p.id = $3 AND p.tenant_id = $1 "
                      "ON CONFLICT (user_id, product_id) DO UPDATE SET rating = EXCLUDED.rating, "
                      "comment = EXCLUDED.comment, updated_at = now() "
                      "RETURNING review_json(reviews), xmax = 0",
                      5, p);
}

sc_code catalog_review_list(db_conn *c, const char *tenant, const char *product, const char *skip,
                            const char *limit, char **out)
{
    const char *p[] = {tenant, product, skip, limit};
    return query_json(
        c, out, NULL,
        "SELECT json_build_object('product_id', p.id, "
        "  'average_rating', (SELECT round(avg(rating), 2) FROM reviews WHERE product_id = p.id), "
        "  'review_count', (SELECT count(*) FROM reviews WHERE product_id = p.id), "
        "  'reviews', coalesce((SELECT json_agg(review_json(x.r) ORDER BY (x.r).created_at DESC, "
        "     (x.r).id) FROM (SELECT r FROM reviews r WHERE r.product_id = p.id "
        "     ORDER BY r.created_at DESC, r.id OFFSET $3 LIMIT $4) x), '[]')) "
        "FROM products p WHERE p.id = $2 AND p.tenant_id = $1",
        4, p);
}

sc_code catalog_review_delete(db_conn *c, const char *tenant, const char *id, const char *user,
                              int *forbidden)
{
    const char *p[] = {id, tenant, user};
    db_rows *rows = NULL;
    *forbidden = 0;
    sc_code rc = db_exec(c, &rows,
                         "WITH r AS (SELECT r.id, r.user_id FROM reviews r JOIN products p ON "
                         "  p.id = r.product_id WHERE r.id = $1 AND p.tenant_id = $2), "
                         "d AS (DELETE FROM reviews WHERE id IN (SELECT id FROM r "
                         "  WHERE $3::uuid IS NULL OR user_id = $3::uuid) RETURNING id) "
                         "SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM d)",
                         3, p);
    if (rc == SC_OK) {
        int exists = strcmp(db_value(rows, 0, 0), "0") != 0;
        int deleted = strcmp(db_value(rows, 0, 1), "0") != 0;
        rc = exists ? SC_OK : SC_ENOTFOUND;
        *forbidden = exists && !deleted;
    }
    db_rows_free(rows);
    return rc;
}

/* ---- favorites ---- */

sc_code catalog_favorite_add(db_conn *c, const char *tenant, const char *user, const char *product,
                             char **out, int *created)
{
    const char *p[] = {tenant, user, product};
    return query_json(
        c, out, created,
        "WITH p AS (SELECT id FROM products WHERE id = $3 AND tenant_id = $1), "
        "i AS (INSERT INTO favorites (user_id, product_id) SELECT $2::uuid, id FROM p "
        "  ON CONFLICT DO NOTHING RETURNING created_at) "
        "SELECT json_build_object('product_id', p.id, 'created_at', rfc3339(coalesce("
        "  (SELECT created_at FROM i), (SELECT created_at FROM favorites f "
        "   WHERE f.user_id = $2::uuid AND f.product_id = p.id)))), EXISTS (SELECT 1 FROM i) "
        "FROM p",
        3, p);
}

sc_code catalog_favorite_remove(db_conn *c, const char *user, const char *product)
{
    const char *p[] = {user, product};
    return db_exec(c, NULL, "DELETE FROM favorites WHERE user_id = $1 AND product_id = $2", 2, p);
}

sc_code catalog_favorite_list(db_conn *c, const char *tenant, const char *user, char **out)
{
    const char *p[] = {tenant, user};
    return query_json(c, out, NULL,
                      "SELECT json_build_object('favorites', coalesce(json_agg(json_build_object("
                      "  'product_id', f.product_id, 'created_at', rfc3339(f.created_at), "
                      "  'product', s.json) ORDER BY f.created_at DESC, f.product_id), '[]')) "
                      "FROM favorites f JOIN product_summary_api s ON s.id = f.product_id "
                      "WHERE f.user_id = $2 AND s.tenant_id = $1",
                      2, p);
}

/* ---- promotions ---- */

static const char sql_promotion_json[] =
    "SELECT promotion_json(pr) FROM promotions pr WHERE pr.id = $1 AND pr.tenant_id = $2";

/* Replaces the links of promotion id in one link table. */
static sc_code replace_links(db_conn *c, const char *id, const char *ids, const char *sql_delete,
                             const char *sql_insert)
{
    const char *p[] = {id, ids};
    sc_code rc = db_exec(c, NULL, sql_delete, 1, p);
    return rc == SC_OK ? db_exec(c, NULL, sql_insert, 2, p) : rc;
}

sc_code catalog_promotion_save(db_conn *c, const char *tenant, const char *id,
                               const struct catalog_promotion_input *in, char **out,
                               const char **bad_field, char bad_id[CATALOG_UUID_LEN])
{
    char pid[CATALOG_UUID_LEN];
    int found = 0;
    *out = NULL;
    *bad_field = NULL;
    sc_code rc = db_begin(c);
    if (rc != SC_OK) {
        return rc;
    }
    if (in->product_ids &&
        (rc = check_ids(c, sql_unknown_products, tenant, in->product_ids, bad_id)) != SC_OK) {
        *bad_field = "product_ids";
        goto out;
    }
    if (in->category_ids &&
        (rc = check_ids(c, sql_unknown_categories, tenant, in->category_ids, bad_id)) != SC_OK) {
        *bad_field = "category_ids";
        goto out;
    }
    if (!id) {
        const char *p[] = {tenant,    in->name,      in->description, in->discount_type,
                           in->value, in->starts_at, in->ends_at,     in->is_active};
        rc = query_text(
            c, pid, &found,
            "INSERT INTO promotions (tenant_id, name, description, discount_type, "
            "value, starts_at, ends_at, is_active) VALUES ($1, $2, $3, $4, "
            "$5::numeric, $6::timestamptz, $7::timestamptz, coalesce($8::boolean, true)) "
            "RETURNING id::text",
            8, p);
    } else {
        const char *p[] = {id,
                           tenant,
                           in->name,
                           in->set_description ? "true" : "false",
                           in->description,
                           in->discount_type,
                           in->value,
                           in->starts_at,
                           in->ends_at,
                           in->is_active};
        rc = query_text(c, pid, &found,
                        "UPDATE promotions SET name = coalesce($3, name), "
                        "description = CASE WHEN $4::boolean THEN $5 ELSE description END, "
                        "discount_type = coalesce($6, discount_type), "
                        "value = coalesce($7::numeric, value), "
                        "starts_at = coalesce($8::timestamptz, starts_at), "
                        "ends_at = coalesce($9::timestamptz, ends_at), "
                        "is_active = coalesce($10::boolean, is_active), updated_at = now() "
                        "WHERE id = $1 AND tenant_id = $2 RETURNING id::text",
                        10, p);
    }
    if (rc == SC_OK && !found) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK && in->product_ids) {
        rc = replace_links(c, pid, in->product_ids,
                           "DELETE FROM promotion_products WHERE promotion_id = $1",
                           "INSERT INTO promotion_products (promotion_id, product_id) "
                           "SELECT DISTINCT $1::uuid, u FROM unnest($2::uuid[]) u");
    }
    if (rc == SC_OK && in->category_ids) {
        rc = replace_links(c, pid, in->category_ids,
                           "DELETE FROM promotion_categories WHERE promotion_id = $1",
                           "INSERT INTO promotion_categories (promotion_id, category_id) "
                           "SELECT DISTINCT $1::uuid, u FROM unnest($2::uuid[]) u");
    }
    if (rc == SC_OK) {
        const char *g[] = {pid, tenant};
        if ((rc = query_json(c, out, NULL, sql_promotion_json, 2, g)) == SC_OK) {
            rc = db_commit(c);
        }
    }
out:
    if (rc != SC_OK) {
        db_rollback(c);
        free(*out);
        *out = NULL;
    }
    return rc;
}

sc_code catalog_promotion_get(db_conn *c, const char *tenant, const char *id, char **out)
{
    const char *p[] = {id, tenant};
    return query_json(c, out, NULL, sql_promotion_json, 2, p);
}

sc_code catalog_promotion_list(db_conn *c, const char *tenant, int active_only, char **out)
{
    const char *p[] = {tenant, active_only ? "true" : "false"};
    return query_json(
        c, out, NULL,
        "SELECT json_build_object('promotions', coalesce(json_agg(promotion_json(pr) "
        "ORDER BY pr.starts_at DESC, pr.id), '[]')) FROM promotions pr WHERE pr.tenant_id = $1 "
        "AND (NOT $2::boolean OR (pr.is_active AND pr.starts_at <= now() AND now() < pr.ends_at))",
        2, p);
}

sc_code catalog_promotion_delete(db_conn *c, const char *tenant, const char *id)
{
    const char *p[] = {id, tenant};
    char got[CATALOG_UUID_LEN];
    int found = 0;
    sc_code rc = query_text(c, got, &found,
                            "DELETE FROM promotions WHERE id = $1 AND tenant_id = $2 "
                            "RETURNING id::text",
                            2, p);
    return rc == SC_OK && !found ? SC_ENOTFOUND : rc;
}

/* ---- seeding ---- */

/* The demo store. Natural keys (category name under its parent, product name)
 * make a second run add nothing. The tenant comes in through a transaction-
 * local setting because a script takes no parameters. */
static const char sql_seed_demo[] =
    "CREATE TEMP TABLE seed_categories (name text, parent text) ON COMMIT DROP;"
    "INSERT INTO seed_categories VALUES"
    " ('Đồ uống', NULL), ('Cà phê', 'Đồ uống'), ('Trà', 'Đồ uống'), ('Sữa', 'Đồ uống'),"
    " ('Nước giải khát', 'Đồ uống'), ('Thực phẩm khô', NULL), ('Gạo', 'Thực phẩm khô'),"
    " ('Mì gói', 'Thực phẩm khô'), ('Gia vị', NULL), ('Bánh kẹo', NULL), ('Hóa phẩm', NULL),"
    " ('Rau củ quả', NULL);"
    "CREATE TEMP TABLE seed_products (name text, description text, price numeric, weight integer,"
    " category text) ON COMMIT DROP;"
    "INSERT INTO seed_products VALUES"
    " ('Cà phê sữa đá Highlands', 'Cà phê phin pha sữa đặc, lon 235ml', 25000, 235, 'Cà phê'),"
    " ('Cà phê đen Trung Nguyên', 'Cà phê rang xay nguyên chất', 89000, 500, 'Cà phê'),"
    " ('Cà phê hòa tan G7 3in1', 'Hộp 18 gói cà phê sữa hòa tan', 56000, 288, 'Cà phê'),"
    " ('Cà phê Nescafé Gold', 'Cà phê hòa tan nguyên chất', 179000, 200, 'Cà phê'),"
    " ('Trà xanh Thái Nguyên', 'Trà búp khô đặc sản Thái Nguyên', 120000, 200, 'Trà'),"
    " ('Trà đào Cozy', 'Trà túi lọc hương đào', 35000, 50, 'Trà'),"
    " ('Trà ô long Tea Plus', 'Chai 455ml', 10000, 455, 'Trà'),"
    " ('Trà sữa trân châu đường đen', 'Ly 500ml', 45000, 500, 'Trà'),"
    " ('Sữa tươi Vinamilk 1 lít', 'Sữa tươi tiệt trùng có đường', 32000, 1000, 'Sữa'),"
    " ('Sữa tươi TH True Milk', 'Sữa tươi sạch ít đường 1 lít', 36000, 1000, 'Sữa'),"
    " ('Sữa đặc Ông Thọ', 'Lon sữa đặc có đường 380g', 24500, 380, 'Sữa'),"
    " ('Sữa chua Vinamilk', 'Lốc 4 hộp sữa chua ăn', 26000, 400, 'Sữa'),"
    " ('Sữa đậu nành Fami', 'Thùng 40 hộp 200ml', 165000, 8000, 'Sữa'),"
    " ('Nước khoáng La Vie', 'Chai 500ml', 5000, 500, 'Nước giải khát'),"
    " ('Coca-Cola lon', 'Lon 320ml', 10000, 320, 'Nước giải khát'),"
    " ('Pepsi lon', 'Lon 320ml', 9500, 320, 'Nước giải khát'),"
    " ('Nước tăng lực Red Bull', 'Lon 250ml', 12000, 250, 'Nước giải khát'),"
    " ('Nước cam ép Twister', 'Chai 455ml', 12500, 455, 'Nước giải khát'),"
    " ('Bia Sài Gòn Special', 'Lon 330ml', 17000, 330, 'Nước giải khát'),"
    " ('Gạo ST25', 'Gạo thơm Sóc Trăng túi 5kg', 185000, 5000, 'Gạo'),"
    " ('Gạo Nàng Hoa', 'Gạo dẻo thơm túi 5kg', 125000, 5000, 'Gạo'),"
    " ('Gạo nếp cái hoa vàng', 'Túi 2kg', 78000, 2000, 'Gạo'),"
    " ('Mì Hảo Hảo tôm chua cay', 'Gói 75g', 4500, 75, 'Mì gói'),"
    " ('Mì Omachi sườn hầm', 'Gói 80g', 8000, 80, 'Mì gói'),"
    " ('Phở bò Vifon', 'Gói phở ăn liền 65g', 9000, 65, 'Mì gói'),"
    " ('Bún bò Huế Acecook', 'Gói 80g', 8500, 80, 'Mì gói'),"
    " ('Miến Phú Hương', 'Miến dong ăn liền', 11000, 55, 'Mì gói'),"
    " ('Nước mắm Phú Quốc', 'Nước mắm cá cơm 40 độ đạm', 65000, 500, 'Gia vị'),"
    " ('Nước mắm Nam Ngư', 'Chai 900ml', 42000, 900, 'Gia vị'),"
    " ('Nước tương Chinsu', 'Chai 500ml', 21000, 500, 'Gia vị'),"
    " ('Đường trắng Biên Hòa', 'Đường tinh luyện túi 1kg', 28000, 1000, 'Gia vị'),"
    " ('Muối i-ốt Bạc Liêu', 'Túi 500g', 6000, 500, 'Gia vị'),"
    " ('Hạt nêm Knorr', 'Hạt nêm từ thịt thăn 400g', 39000, 400, 'Gia vị'),"
    " ('Dầu ăn Neptune', 'Dầu đậu nành 1 lít', 52000, 1000, 'Gia vị'),"
    " ('Tương ớt Chinsu', 'Chai 250g', 15000, 250, 'Gia vị'),"
    " ('Bánh quy Cosy', 'Hộp bánh quy bơ 378g', 62000, 378, 'Bánh kẹo'),"
    " ('Bánh Chocopie Orion', 'Hộp 12 cái', 55000, 396, 'Bánh kẹo'),"
    " ('Kẹo dừa Bến Tre', 'Gói 400g', 45000, 400, 'Bánh kẹo'),"
    " ('Bánh đậu xanh Rồng Vàng', 'Hộp 310g đặc sản Hải Dương', 48000, 310, 'Bánh kẹo'),"
    " ('Snack khoai tây Lay''s', 'Gói 95g vị tự nhiên', 21000, 95, 'Bánh kẹo'),"
    " ('Đậu phộng rang muối Tân Tân', 'Lon 265g', 38000, 265, 'Bánh kẹo'),"
    " ('Bột giặt Omo', 'Túi 3kg', 159000, 3000, 'Hóa phẩm'),"
    " ('Nước rửa chén Sunlight', 'Chai 750g hương chanh', 32000, 750, 'Hóa phẩm'),"
    " ('Dầu gội Clear', 'Chai 630g mát lạnh bạc hà', 149000, 630, 'Hóa phẩm'),"
    " ('Kem đánh răng P/S', 'Tuýp 230g', 36000, 230, 'Hóa phẩm'),"
    " ('Xà phòng Lifebuoy', 'Bánh 90g', 17000, 90, 'Hóa phẩm'),"
    " ('Cà chua Đà Lạt', 'Cà chua tươi, giá theo kg', 30000, 1000, 'Rau củ quả'),"
    " ('Rau muống', 'Bó 500g', 12000, 500, 'Rau củ quả'),"
    " ('Chuối già Nam Mỹ', 'Nải khoảng 1.2kg', 35000, 1200, 'Rau củ quả'),"
    " ('Xoài cát Hòa Lộc', 'Giá theo kg', 85000, 1000, 'Rau củ quả'),"
    " ('Dưa hấu Long An', 'Quả khoảng 2kg', 40000, 2000, 'Rau củ quả');"
    "INSERT INTO categories (tenant_id, name)"
    " SELECT current_setting('smartcart.seed_tenant')::uuid, name FROM seed_categories"
    " WHERE parent IS NULL ON CONFLICT DO NOTHING;"
    "INSERT INTO categories (tenant_id, name, parent_id)"
    " SELECT c.tenant_id, s.name, c.id FROM seed_categories s JOIN categories c"
    " ON c.tenant_id = current_setting('smartcart.seed_tenant')::uuid AND c.name = s.parent"
    " AND c.parent_id IS NULL ON CONFLICT DO NOTHING;"
    "INSERT INTO products (tenant_id, name, description, price, weight_grams)"
    " SELECT current_setting('smartcart.seed_tenant')::uuid, s.name, s.description, s.price,"
    " s.weight FROM seed_products s WHERE NOT EXISTS (SELECT 1 FROM products p WHERE"
    " p.tenant_id = current_setting('smartcart.seed_tenant')::uuid AND p.name = s.name);"
    "INSERT INTO product_categories (product_id, category_id)"
    " SELECT p.id, c.id FROM seed_products s"
    " JOIN products p ON p.tenant_id = current_setting('smartcart.seed_tenant')::uuid"
    " AND p.name = s.name"
    " JOIN categories c ON c.tenant_id = p.tenant_id AND c.name = s.category"
    " ON CONFLICT DO NOTHING;";

/* Opens a transaction with smartcart.seed_tenant set to the default tenant. */
static sc_code seed_begin(db_conn *c)
{
    char tenant[CATALOG_UUID_LEN];
    sc_code rc = catalog_tenant(c, NULL, tenant);
    if (rc == SC_OK && (rc = db_begin(c)) == SC_OK) {
        const char *p[] = {tenant};
        rc = db_exec(c, NULL, "SELECT set_config('smartcart.seed_tenant', $1, true)", 1, p);
    }
    return rc;
}

static sc_code seed_finish(db_conn *c, sc_code rc)
{
    if (rc == SC_OK) {
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        db_rollback(c);
        return rc;
    }
    return db_exec_script(c, "ANALYZE categories, products, product_categories");
}

sc_code catalog_seed_demo(db_conn *c)
{
    sc_code rc = seed_begin(c);
    return seed_finish(c, rc == SC_OK ? db_exec_script(c, sql_seed_demo) : rc);
}

/* Synthetic names combine Vietnamese grocery words so searches behave as on
 * a real catalog; product g goes to category g mod (n/100). */
sc_code catalog_seed_synthetic(db_conn *c, long n)
{
    char count[32];
    snprintf(count, sizeof(count), "%ld", n);
    const char *p[] = {count};
    sc_code rc = seed_begin(c);
    if (rc == SC_OK) {
        rc = db_exec(c, NULL,
                     "INSERT INTO categories (tenant_id, name) "
                     "SELECT current_setting('smartcart.seed_tenant')::uuid, "
                     "'Nhóm hàng ' || lpad(g::text, 5, '0') "
                     "FROM generate_series(1, greatest($1::bigint / 100, 1)) g "
                     "ON CONFLICT DO NOTHING",
                     1, p);
    }
    if (rc == SC_OK) {
        rc = db_exec(
            c, NULL,
            "WITH w AS (SELECT "
            "  '{Cà phê,Sữa tươi,Bánh quy,Kẹo,Nước ép,Trà,Mì,Gạo,Dầu ăn,Nước mắm,Đường,Muối,"
            "Bột giặt,Dầu gội,Xà phòng,Bia,Thịt heo,Cá hồi,Rau muống,Đậu phộng}'::text[] AS a, "
            "  '{sữa đá,tiệt trùng,bơ,dừa,cam,xanh,tôm chua cay,thơm,đậu nành,Phú Quốc,trắng,"
            "hồng,hương chanh,bạc hà,sả,lon,ba chỉ,phi lê,sạch,rang muối}'::text[] AS b, "
            "  '{Vinamilk,TH,Kinh Đô,Orion,Hảo Hảo,Neptune,Biên Hòa,Trung Nguyên,Highlands,"
            "Masan}'::text[] AS brand), "
            "cats AS (SELECT array_agg(id ORDER BY name) AS ids FROM categories "
            "  WHERE tenant_id = current_setting('smartcart.seed_tenant')::uuid "
            "  AND name LIKE 'Nhóm hàng %' AND parent_id IS NULL), "
            "ins AS (INSERT INTO products (tenant_id, name, description, price, weight_grams) "
            "  SELECT current_setting('smartcart.seed_tenant')::uuid, "
            "  w.a[1 + g % 20] || ' ' || w.b[1 + (g / 20) % 20] || ' ' || w.brand[1 + (g / 400) "
            "% 10] || ' ' || (50 * (1 + g % 40)) || 'g', "
            "  'Sản phẩm ' || w.a[1 + g % 20] || ' loại ' || (1 + g % 7) || ' của ' || "
            "w.brand[1 + (g / 400) % 10], "
            "  (500 * (1 + (g * 7919) % 600))::numeric(12, 2), 50 * (1 + g % 40) "
            "  FROM generate_series(1, $1::bigint) g, w RETURNING id) "
            "INSERT INTO product_categories (product_id, category_id) "
            "SELECT i.id, cats.ids[1 + (i.n % array_length(cats.ids, 1))] "
            "FROM (SELECT id, row_number() OVER () AS n FROM ins) i, cats",
            1, p);
    }
    return seed_finish(c, rc);
}
