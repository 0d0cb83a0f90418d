/* Catalog data access. Each function picks static SQL and passes the caller's
 * validated text parameters; Postgres renders the JSON (migration 0003's
 * product_api view, category_json, ...), so prices stay numeric end to end. */
#include "catalog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_images.h"
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

/* The default tenant's id, looked up once per process: every public read
 * needs it, and a tenant's id never changes (nothing deletes tenants). */
static pthread_mutex_t default_tenant_lock = PTHREAD_MUTEX_INITIALIZER;
static char default_tenant_id[CATALOG_UUID_LEN];

sc_code catalog_tenant_known(const char *tenant_id, char out[CATALOG_UUID_LEN])
{
    if (tenant_id) {
        snprintf(out, CATALOG_UUID_LEN, "%s", tenant_id);
        return SC_OK;
    }
    pthread_mutex_lock(&default_tenant_lock);
    memcpy(out, default_tenant_id, CATALOG_UUID_LEN);
    pthread_mutex_unlock(&default_tenant_lock);
    return out[0] ? SC_OK : SC_ENOTFOUND;
}

sc_code catalog_tenant(db_conn *c, const char *tenant_id, char out[CATALOG_UUID_LEN])
{
    if (!tenant_id && catalog_tenant_known(NULL, out) == SC_OK) {
        return SC_OK;
    }
    const char *p[] = {tenant_id, cfg.default_tenant};
    int found = 0;
    sc_code rc = query_text(c, out, &found,
                            "SELECT id::text FROM tenants WHERE CASE WHEN $1::uuid IS NULL "
                            "THEN slug = $2 ELSE id = $1::uuid END",
                            2, p);
    if (rc == SC_OK && found && !tenant_id) {
        pthread_mutex_lock(&default_tenant_lock);
        memcpy(default_tenant_id, out, CATALOG_UUID_LEN);
        pthread_mutex_unlock(&default_tenant_lock);
    }
    return rc == SC_OK && !found ? SC_ENOTFOUND : rc;
}

/* ---- products ---- */

/* Renders a product inside a write's transaction (what will commit). */
static const char sql_product_json[] =
    "SELECT json FROM product_api WHERE id = $1 AND tenant_id = $2";

/* A product's stored render (migration 0011's product_json_cache) while it
 * is valid: no write to the product since, same render generation, and no
 * promotion started or ended since. Absent or NULL: render it. $1 tenant. */
#define PRODUCT_CACHED "product_json_cache c JOIN product_render_generation g ON c.generation = g.n"
#define PRODUCT_CACHED_VALID                                                                       \
    "c.tenant_id = $1 AND c.valid_from <= now() AND (c.valid_until IS NULL OR now() < "            \
    "c.valid_until)"

static const char sql_product_cached[] =
    "SELECT c.json FROM " PRODUCT_CACHED " WHERE c.product_id = $2 AND " PRODUCT_CACHED_VALID;

/* Stored renders and cached search results are caches: the transaction of a
 * read that stores them need not wait for its WAL to reach the disk (a
 * crash loses at most the last few, made again by the next read). Set for
 * that transaction only; under load, the flush made every filling read wait
 * about a millisecond, and the reads behind it longer. */
#define CACHE_COMMIT_ASYNC "set_config('synchronous_commit', 'off', true) AS commit_async"

/* Until when what tenant $1 shows now holds: its next promotion start or
 * end (promotions_tenant_active_idx); NULL, none coming. */
#define PROMOTION_NEXT_EDGE                                                                        \
    "(SELECT min(CASE WHEN pr.starts_at > now() THEN pr.starts_at ELSE pr.ends_at END) "           \
    " FROM promotions pr WHERE pr.tenant_id = $1 AND pr.is_active AND pr.ends_at > now())"

/* Renders the products of the CTE u(id, n) before it through product_api as
 * r(n, id, json, rev) and stores each render in product_json_cache under the rev
 * and generation its snapshot saw (one statement, one snapshot): where a
 * write came after, the row's rev or generation moved on and the stale
 * render is not stored. Rows are stored in product id order, so two reads
 * filling overlapping pages lock them in the same order. valid_until: the
 * tenant's next promotion start or end. $1 is the tenant. */
#define PRODUCT_RENDER_CTES                                                                        \
    "g AS MATERIALIZED (SELECT n AS gen, " CACHE_COMMIT_ASYNC " FROM product_render_generation), " \
    "r AS (SELECT u.n, a.id, a.json, coalesce(c.rev, 0) AS rev FROM u "                            \
    "  JOIN product_api a ON a.id = u.id AND a.tenant_id = $1 "                                    \
    "  LEFT JOIN product_json_cache c ON c.product_id = u.id), "                                   \
    "ins AS (INSERT INTO product_json_cache AS c "                                                 \
    "  (product_id, tenant_id, rev, generation, valid_from, valid_until, json) "                   \
    "  SELECT DISTINCT ON (r.id) r.id, $1, r.rev, g.gen, now(), " PROMOTION_NEXT_EDGE ", "         \
    "    r.json FROM r, g ORDER BY r.id "                                                          \
    "  ON CONFLICT (product_id) DO UPDATE SET generation = excluded.generation, "                  \
    "    valid_from = excluded.valid_from, valid_until = excluded.valid_until, "                   \
    "    json = excluded.json "                                                                    \
    "  WHERE c.rev = excluded.rev AND coalesce(c.generation, -1) <= excluded.generation) "

static const char sql_product_render[] =
    "WITH u AS (SELECT $2::uuid AS id, 1::bigint AS n), " PRODUCT_RENDER_CTES "SELECT json FROM r";

sc_code catalog_product_render(db_conn *c, const char *tenant, const char *id, char **out)
{
    const char *p[] = {tenant, id};
    return query_json(c, out, NULL, sql_product_render, 2, p);
}

/* The same for many products of a tenant at once ($2: their ids). */
static const char sql_products_render[] =
    "WITH u AS (SELECT DISTINCT id, 1::bigint AS n FROM unnest($2::uuid[]) AS "
    "id), " PRODUCT_RENDER_CTES "SELECT id::text, json FROM r";

/* The next $3 products of tenant $1 after id $2 without a valid stored
 * render, rendered and stored; yields how many and the last id. */
static const char sql_products_render_stale[] =
    "WITH u AS (SELECT p.id, 1::bigint AS n FROM products p "
    "  LEFT JOIN (" PRODUCT_CACHED ") ON c.product_id = p.id AND " PRODUCT_CACHED_VALID
    "  WHERE p.tenant_id = $1 AND p.id > $2::uuid AND c.json IS NULL ORDER BY p.id LIMIT "
    "$3), " PRODUCT_RENDER_CTES "SELECT count(*), (array_agg(u.id ORDER BY u.id DESC))[1] FROM u";

sc_code catalog_products_render_stale(db_conn *c, int batch, long long *rendered)
{
    db_rows *tenants = NULL;
    char size[16];
    snprintf(size, sizeof(size), "%d", batch);
    *rendered = 0;
    sc_code rc = db_exec(c, &tenants, "SELECT id::text FROM tenants ORDER BY id", 0, NULL);
    for (int t = 0; rc == SC_OK && t < db_nrows(tenants); t++) {
        char after[CATALOG_UUID_LEN] = "00000000-0000-0000-0000-000000000000";
        for (long long n = 1; rc == SC_OK && n > 0;) {
            const char *p[] = {db_value(tenants, t, 0), after, size};
            db_rows *done = NULL;
            if ((rc = db_exec(c, &done, sql_products_render_stale, 3, p)) == SC_OK) {
                n = atoll(db_value(done, 0, 0));
                *rendered += n;
                if (n > 0) {
                    snprintf(after, sizeof(after), "%s", db_value(done, 0, 1));
                }
            }
            db_rows_free(done);
        }
    }
    db_rows_free(tenants);
    return rc;
}

sc_code catalog_product_render_async(const char *tenant, const char *id, db_value_cb cb, void *arg)
{
    return db_keyed_async(sql_products_render, tenant, id, cb, arg);
}

sc_code catalog_product_get_stored(const char *tenant, const char *id, db_value_cb cb, void *arg)
{
    const char *p[] = {tenant, id};
    return db_read_async(sql_product_cached, 2, p, cb, arg);
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

/* product_search (migration 0008) picks and counts the ids, from its cache
 * when it can; only the page's products are shown, in that order: first from
 * their stored renders (no row when one is missing), else rendered. */
#define PRODUCT_SEARCH                                                                             \
    "WITH s AS MATERIALIZED (SELECT * FROM product_search($1, $2, $3, $4, $5, "                    \
    "  $6::integer + $7::integer, $8), " CACHE_COMMIT_ASYNC "), "                                  \
    "u AS (SELECT u.id, u.n FROM s, "                                                              \
    "  unnest(s.ids[$6::integer + 1 : $6::integer + $7::integer]) WITH ORDINALITY u(id, n)), "
/* The page of the products cte(n, id, json, rev) where cond holds, stored
 * in product_page_cache (migration 0018) under key $9 with the generations
 * and revs of this statement's snapshot (within the searches' cached depth),
 * and yielded. */
#define PRODUCT_PAGE(cte, cond)                                                                    \
    "pg AS (SELECT json_build_object('total', s.total, 'products', "                               \
    "  coalesce((SELECT json_agg(" cte ".json ORDER BY " cte ".n) FROM " cte "), '[]')) AS json "  \
    "  FROM s " cond "), "                                                                         \
    "pins AS (INSERT INTO product_page_cache AS c "                                                \
    "  (key, catalog_gen, render_gen, valid_from, valid_until, ids, revs, json) "                  \
    "  SELECT $9, cg.n, rg.n, now(), " PROMOTION_NEXT_EDGE ", "                                    \
    "    ARRAY(SELECT " cte ".id FROM " cte " ORDER BY " cte ".id), "                              \
    "    ARRAY(SELECT " cte ".rev FROM " cte " ORDER BY " cte ".id), pg.json "                     \
    "  FROM pg, catalog_generation cg, product_render_generation rg "                              \
    "  WHERE $6::integer + $7::integer <= 100 "                                                    \
    "  ON CONFLICT (key) DO UPDATE SET catalog_gen = excluded.catalog_gen, "                       \
    "    render_gen = excluded.render_gen, valid_from = excluded.valid_from, "                     \
    "    valid_until = excluded.valid_until, ids = excluded.ids, revs = excluded.revs, "           \
    "    json = excluded.json) "                                                                   \
    "SELECT json FROM pg"

static const char sql_product_list_cached[] = PRODUCT_SEARCH
    "h AS (SELECT u.n, u.id, c.json, c.rev FROM u LEFT JOIN (" PRODUCT_CACHED ") "
    "  ON c.product_id = u.id AND " PRODUCT_CACHED_VALID
    "), " PRODUCT_PAGE("h", "WHERE NOT EXISTS (SELECT 1 FROM h WHERE h.json IS NULL)");

static const char sql_product_list_render[] =
    PRODUCT_SEARCH PRODUCT_RENDER_CTES ", " PRODUCT_PAGE("r", "");

/* Reads only: the stored page while every guard of migration 0018 holds.
 * Its products' revs are read in one index scan, in id order as stored (a
 * product without a row makes the array shorter): a third of the CPU of
 * one look-up per product. */
static const char sql_product_page_cached[] =
    "SELECT c.json FROM product_page_cache c, catalog_generation cg, product_render_generation rg "
    "WHERE c.key = $1 AND c.catalog_gen = cg.n AND c.render_gen = rg.n AND c.valid_from <= now() "
    "AND (c.valid_until IS NULL OR now() < c.valid_until) AND c.revs = ARRAY(SELECT j.rev FROM "
    "product_json_cache j WHERE j.product_id = ANY (c.ids) ORDER BY j.product_id)";

char *catalog_product_list_key(const char *tenant, const struct catalog_product_filter *f)
{
    const char *parts[] = {tenant,       f->query, f->category_id, f->min_price,
                           f->max_price, f->skip,  f->limit};
    size_t len = 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        len += (parts[i] ? strlen(parts[i]) : 0) + 24;
    }
    char *key = malloc(len), *p = key;
    for (size_t i = 0; key && i < sizeof(parts) / sizeof(parts[0]); i++) {
        p += parts[i] ? sprintf(p, "%zu:%s", strlen(parts[i]), parts[i]) : sprintf(p, "-");
    }
    return key;
}

sc_code catalog_product_list_stored(const char *key, db_value_cb cb, void *arg)
{
    return db_read_async(sql_product_page_cached, 1, &key, cb, arg);
}

sc_code catalog_product_list(db_conn *c, const char *tenant, const struct catalog_product_filter *f,
                             char **out)
{
    char fuzzy[16];
    snprintf(fuzzy, sizeof(fuzzy), "%.2f", (double)cfg.search_word_similarity / 100);
    char *key = catalog_product_list_key(tenant, f);
    const char *p[] = {tenant,  f->query, f->category_id, f->min_price, f->max_price,
                       f->skip, f->limit, fuzzy,          key};
    sc_code rc = key ? query_json(c, out, NULL, sql_product_list_cached, 9, p) : SC_ENOMEM;
    if (rc == SC_ENOTFOUND) {
        rc = query_json(c, out, NULL, sql_product_list_render, 9, p);
    }
    free(key);
    return rc;
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
    /* The images' assets go first, as the media worker locks them first. */
    if (rc == SC_OK) {
        rc = catalog_product_images_release(c, id, object_keys);
    }
    if (rc == SC_OK) {
        rc = db_exec(c, NULL, "DELETE FROM products WHERE id = $1 AND tenant_id = $2", 2, p);
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
    if (rc == SC_OK && (rc = db_exec_script(c, sql_seed_demo)) == SC_OK) {
        rc = catalog_images_seed_demo(c);
    }
    return seed_finish(c, rc);
}

/* The vocabulary of the synthetic catalog: 20 departments of 7 product types
 * each (type i belongs to department (i - 1) / 7 + 1) and 7 lines, which make
 * the 20 root and 980 leaf categories; variants, brands, origins, packs and
 * notes fill names and descriptions. Every type is about equally common, so
 * a word of a type occurs in under 1 % of the catalog as in a real store.
 * Three departments have an active promotion, so prices are computed as in a
 * store that runs some. */
static const char sql_seed_vocabulary[] =
    "CREATE TEMP TABLE seed_vocab (kind text PRIMARY KEY, words text[]) ON COMMIT DROP;"
    "INSERT INTO seed_vocab VALUES"
    " ('dept', '{Đồ uống,Cà phê và trà,Sữa và chế phẩm,Bánh kẹo,Đồ ăn vặt,\"Mì, bún, phở\","
    "Gạo và ngũ cốc,Gia vị,Dầu ăn và nước sốt,Thịt,Hải sản,Rau củ,Trái cây,Thực phẩm đông lạnh,"
    "Đồ hộp,Bia và rượu,Hóa phẩm,Chăm sóc cá nhân,Mẹ và bé,Đồ dùng nhà bếp}'),"
    " ('type', '{Nước khoáng,Nước ngọt,Nước ép,Trà xanh,Trà sữa,Nước tăng lực,Nước dừa,"
    "Cà phê hạt,Cà phê phin,Cà phê hòa tan,Cà phê sữa,Trà túi lọc,Trà ô long,Trà thảo mộc,"
    "Sữa tươi,Sữa chua,Sữa đặc,Sữa đậu nành,Sữa hạt,Phô mai,Bơ lạt,"
    "Bánh quy,Bánh xốp,Bánh bông lan,Kẹo dẻo,Kẹo cứng,Sô cô la,Bánh mì,"
    "Snack khoai tây,Snack rong biển,Hạt điều,Đậu phộng,Khô bò,Mứt trái cây,Bắp rang,"
    "Mì gói,Mì ly,Phở ăn liền,Bún khô,Miến dong,Hủ tiếu,Nui,"
    "Gạo thơm,Gạo nếp,Gạo lứt,Yến mạch,Ngũ cốc,Bột mì,Đậu xanh,"
    "Nước mắm,Nước tương,Tương ớt,Hạt nêm,Muối,Đường,Bột ngọt,"
    "Dầu ăn,Dầu ô liu,Dầu mè,Sốt mayonnaise,Tương cà,Dầu hào,Giấm,"
    "Thịt heo,Thịt bò,Thịt gà,Sườn non,Ba chỉ,Xúc xích,Chả lụa,"
    "Cá hồi,Cá basa,Tôm sú,Mực ống,Nghêu,Cua biển,Cá thu,"
    "Rau muống,Cải ngọt,Xà lách,Cà chua,Khoai tây,Cà rốt,Bí đỏ,"
    "Chuối,Xoài,Cam sành,Dưa hấu,Thanh long,Bưởi da xanh,Táo,"
    "Há cảo,Chả giò,Bánh bao,Kem,Viên thả lẩu,Gà rán,Pizza,"
    "Cá hộp,Thịt hộp,Pate,Ngô ngọt,Trái cây ngâm,Dưa chuột muối,Đậu hộp,"
    "Bia lon,Bia chai,Rượu vang,Rượu nếp,Rượu mơ,Soju,Nước táo lên men,"
    "Bột giặt,Nước giặt,Nước xả vải,Nước rửa chén,Nước lau sàn,Nước tẩy,Túi rác,"
    "Dầu gội,Sữa tắm,Kem đánh răng,Bàn chải,Xà phòng,Sữa rửa mặt,Khăn giấy,"
    "Sữa bột,Bột ăn dặm,Tã dán,Khăn ướt,Bình sữa,Bánh ăn dặm,Nước muối sinh lý,"
    "Giấy bạc,Màng bọc thực phẩm,Hộp nhựa,Đũa tre,Chảo chống dính,Nồi inox,Dao}'),"
    " ('line', '{cao cấp,phổ thông,nhập khẩu,hữu cơ,gia đình,tiết kiệm,đặc sản}'),"
    " ('variant', '{truyền thống,ít đường,không đường,hương dâu,hương cam,vị cay,hữu cơ,"
    "cao cấp,nhập khẩu,đặc biệt,gia đình,mini,loại 1,tươi,nguyên chất,ăn kiêng,vị sô cô la,"
    "vị vani,hương chanh,vị tôm,vị gà,thơm ngon,xuất khẩu,tiết kiệm,sạch,vị dừa,"
    "hương bạc hà,vị phô mai,hương đào,giảm béo}'),"
    " ('brand', '{Vinamilk,TH True Milk,Dutch Lady,Kinh Đô,Orion,Acecook,Masan,Trung Nguyên,"
    "Highlands,Nestlé,Vissan,CP,Ba Huân,Cholimex,Chinsu,Neptune,Tường An,Simply,Meizan,"
    "Biên Hòa,Vinacafé,Phúc Long,Cozy,La Vie,Aquafina,Sabeco,Heineken,Tiger,Bibica,"
    "Hữu Nghị,Lay''s,Oishi,Vifon,Sài Gòn Food,Cầu Tre,Ajinomoto,Knorr,Omo,P/S,Co.op Select}'),"
    " ('origin', '{Đà Lạt,Long An,Bến Tre,Phú Quốc,Sóc Trăng,Hà Nội,Đồng Tháp,Nhật Bản,Hàn Quốc,"
    "Thái Lan,Úc,New Zealand}'),"
    " ('size', '{100g,200g,250g,400g,500g,1kg,2kg,5kg,180ml,330ml,500ml,1 lít}'),"
    " ('grams', '{100,200,250,400,500,1000,2000,5000,180,330,500,1000}'),"
    " ('pack', '{túi,hộp,chai,lon,gói,thùng,lốc,khay}'),"
    " ('note', '{Bảo quản nơi khô ráo thoáng mát.,Ngon hơn khi dùng lạnh.,"
    "Đạt tiêu chuẩn vệ sinh an toàn thực phẩm.,Hạn sử dụng 12 tháng kể từ ngày sản xuất.,"
    "Sản phẩm được nhiều gia đình tin dùng.,Đóng gói tại nhà máy đạt chuẩn ISO.}');"
    "INSERT INTO categories (tenant_id, name)"
    " SELECT current_setting('smartcart.seed_tenant')::uuid, d"
    " FROM seed_vocab, unnest(words) d WHERE kind = 'dept' ON CONFLICT DO NOTHING;"
    "INSERT INTO categories (tenant_id, name, parent_id)"
    " SELECT r.tenant_id, t.word || ' ' || l.word, r.id"
    " FROM (SELECT w AS word, i FROM seed_vocab, unnest(words) WITH ORDINALITY u(w, i)"
    "       WHERE kind = 'type') t"
    " CROSS JOIN (SELECT unnest(words) AS word FROM seed_vocab WHERE kind = 'line') l"
    " JOIN seed_vocab d ON d.kind = 'dept'"
    " JOIN categories r ON r.tenant_id = current_setting('smartcart.seed_tenant')::uuid"
    " AND r.parent_id IS NULL AND r.name = d.words[(t.i - 1) / 7 + 1]"
    " ON CONFLICT DO NOTHING;"
    "CREATE TEMP TABLE seed_promotions (name text, kind text, value numeric, dept text)"
    " ON COMMIT DROP;"
    "INSERT INTO seed_promotions VALUES ('Tuần lễ đồ uống', 'percent', 10, 'Đồ uống'),"
    " ('Ưu đãi sữa', 'percent', 5, 'Sữa và chế phẩm'),"
    " ('Giảm giá hóa phẩm', 'fixed', 5000, 'Hóa phẩm');"
    "INSERT INTO promotions (tenant_id, name, discount_type, value, starts_at, ends_at)"
    " SELECT current_setting('smartcart.seed_tenant')::uuid, s.name, s.kind, s.value,"
    " now() - interval '1 day', now() + interval '1 year' FROM seed_promotions s"
    " WHERE NOT EXISTS (SELECT 1 FROM promotions p WHERE p.name = s.name"
    " AND p.tenant_id = current_setting('smartcart.seed_tenant')::uuid);"
    "INSERT INTO promotion_categories (promotion_id, category_id)"
    " SELECT p.id, c.id FROM seed_promotions s"
    " JOIN promotions p ON p.name = s.name"
    " AND p.tenant_id = current_setting('smartcart.seed_tenant')::uuid"
    " JOIN categories c ON c.tenant_id = p.tenant_id AND c.parent_id IS NULL AND c.name = s.dept"
    " ON CONFLICT DO NOTHING;";

/* n products: a type, variant, brand, size and line per product, drawn by
 * hashing its number so a run is repeatable; the product goes to the leaf
 * category of its type and line. Ids are drawn here so the links can name
 * them in the same statement. */
static const char sql_seed_products[] =
    "WITH v AS (SELECT jsonb_object_agg(kind, words) AS w FROM seed_vocab), "
    "leaf AS (SELECT c.id, c.name FROM v, categories c JOIN categories r ON r.id = c.parent_id "
    "  WHERE c.tenant_id = current_setting('smartcart.seed_tenant')::uuid "
    "  AND r.parent_id IS NULL AND w->'dept' ? r.name), "
    "src AS MATERIALIZED (SELECT gen_random_uuid() AS id, "
    "    w->'type'->>(h1 % 140) AS type, w->'variant'->>(h2 % 30) AS variant, "
    "    w->'brand'->>(h3 % 40) AS brand, w->'line'->>(h4 % 7) AS line, "
    "    w->'size'->>(h5 % 12) AS size, (w->'grams'->>(h5 % 12))::integer AS grams, "
    "    w->'origin'->>(h1 / 140 % 12) AS origin, w->'pack'->>(h2 / 30 % 8) AS pack, "
    "    w->'note'->>(h3 / 40 % 6) AS note, 1000 + 500 * (h4 / 7 % 400) AS price "
    "  FROM v, generate_series(1, $1::bigint) g, "
    "  LATERAL (SELECT hashint8(g) & 2147483647 AS h1, hashint8(g + 1000000007) & 2147483647 AS "
    "h2, hashint8(g + 2000000014) & 2147483647 AS h3, hashint8(g + 3000000021) & 2147483647 AS "
    "h4, hashint8(g + 4000000028) & 2147483647 AS h5) h), "
    "ins AS (INSERT INTO products (id, tenant_id, name, description, price, weight_grams) "
    "  SELECT id, current_setting('smartcart.seed_tenant')::uuid, "
    "  type || ' ' || variant || ' ' || brand || ' ' || size, "
    "  type || ' ' || brand || ' ' || variant || ', ' || pack || ' ' || size || ', xuất xứ ' || "
    "origin || '. ' || note, price, grams FROM src) "
    "INSERT INTO product_categories (product_id, category_id) "
    "SELECT src.id, leaf.id FROM src JOIN leaf ON leaf.name = src.type || ' ' || src.line";

sc_code catalog_seed_synthetic(db_conn *c, long n)
{
    char count[32];
    snprintf(count, sizeof(count), "%ld", n);
    const char *p[] = {count};
    sc_code rc = seed_begin(c);
    if (rc == SC_OK && (rc = db_exec_script(c, sql_seed_vocabulary)) == SC_OK) {
        rc = db_exec(c, NULL, sql_seed_products, 1, p);
    }
    return seed_finish(c, rc);
}
