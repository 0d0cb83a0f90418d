/* Catalog pictures data access (see catalog_images.h). Postgres renders the
 * answers (product_image_record_json, banner_json of migration 0007). */
#include "catalog_images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "s3.h"
#include "uuid.h"

/* Side of the demo pictures, in pixels: enough for a product card. */
#define DEMO_SIDE 320

/* Like db_query_text for a JSON array, parsed into *keys (the caller's). */
static sc_code query_keys(db_conn *c, json_t **keys, const char *sql, int n,
                          const char *const *params)
{
    char *text = NULL;
    *keys = NULL;
    sc_code rc = db_query_text(c, &text, sql, n, params);
    if (rc == SC_OK && !(*keys = json_loads(text, 0, NULL))) {
        rc = SC_EINTERNAL;
    }
    free(text);
    return rc;
}

const char *catalog_picture_purpose(enum catalog_picture_kind kind)
{
    return kind == CATALOG_BANNER ? "banner" : "product_image";
}

/* ---- product images ---- */

sc_code catalog_image_product_exists(db_conn *c, const char *tenant, const char *product)
{
    const char *p[] = {product, tenant};
    return db_query_text(
        c, NULL, "SELECT 1 FROM products WHERE id = $1::uuid AND tenant_id = $2::uuid", 2, p);
}

/* Locks product for a change of its images. FOR NO KEY UPDATE conflicts with
 * itself and with the product's deletion, not with the key-share locks of
 * foreign-key checks. */
static sc_code lock_product(db_conn *tx, const char *tenant, const char *product)
{
    const char *p[] = {product, tenant};
    return db_query_text(tx, NULL,
                         "SELECT 1 FROM products WHERE id = $1::uuid AND tenant_id = $2::uuid"
                         " FOR NO KEY UPDATE",
                         2, p);
}

/* Demotes the primary image of product, except keep (NULL: none kept). */
static sc_code demote_primary(db_conn *tx, const char *product, const char *keep)
{
    const char *p[] = {product, keep};
    return db_exec(tx, NULL,
                   "UPDATE product_images SET is_primary = false WHERE product_id = $1::uuid"
                   " AND is_primary AND ($2::uuid IS NULL OR id <> $2::uuid)",
                   2, p);
}

sc_code catalog_image_insert(db_conn *tx, const char *tenant, const char *id, const char *product,
                             const char *object_key, const char *image_url, int is_primary,
                             char **out)
{
    const char *p[] = {id, product, object_key, image_url, is_primary ? "t" : "f"};
    sc_code rc = lock_product(tx, tenant, product);
    if (rc == SC_OK && is_primary) {
        rc = demote_primary(tx, product, NULL);
    }
    return rc != SC_OK
               ? rc
               : db_query_text(tx, out,
                               "INSERT INTO product_images AS i (id, product_id, object_key,"
                               " image_url, is_primary) VALUES ($1, $2, $3, $4, $5)"
                               " RETURNING product_image_record_json(i)::text",
                               5, p);
}

sc_code catalog_image_list(db_conn *c, const char *tenant, const char *product, char **out)
{
    const char *p[] = {product, tenant};
    return db_query_text(
        c, out,
        "SELECT json_build_object('images', coalesce((SELECT json_agg("
        "product_image_record_json(i) ORDER BY i.is_primary DESC, i.created_at, i.id)"
        " FROM product_images i WHERE i.product_id = p.id), '[]'))::text"
        " FROM products p WHERE p.id = $1::uuid AND p.tenant_id = $2::uuid",
        2, p);
}

sc_code catalog_image_set_primary(db_conn *c, const char *tenant, const char *id, char **out)
{
    const char *p[] = {id, tenant};
    char *product = NULL;
    *out = NULL;
    sc_code rc = db_begin(c);
    if (rc != SC_OK) {
        return rc;
    }
    /* Callers for the same product queue on its row here, so each one's
     * demote and promote run alone: the unique index never trips. */
    rc = db_query_text(
        c, &product,
        "SELECT p.id::text FROM product_images i JOIN products p ON p.id = i.product_id"
        " WHERE i.id = $1::uuid AND p.tenant_id = $2::uuid FOR NO KEY UPDATE OF p",
        2, p);
    if (rc == SC_OK) {
        rc = demote_primary(c, product, id);
    }
    if (rc == SC_OK) {
        const char *q[] = {id, product};
        rc =
            db_query_text(c, out,
                          "UPDATE product_images AS i SET is_primary = true WHERE id = $1::uuid"
                          " AND product_id = $2::uuid RETURNING product_image_record_json(i)::text",
                          2, q);
    }
    if (rc == SC_OK) {
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        db_rollback(c);
        free(*out);
        *out = NULL;
    }
    free(product);
    return rc;
}

/* ---- banners ---- */

sc_code catalog_banner_insert(db_conn *tx, const char *tenant, const char *id,
                              const struct catalog_banner_input *in, const char *object_key,
                              const char *image_url, char **out)
{
    const char *p[] = {id, tenant, in->title, object_key, image_url, in->target_url, in->is_active};
    return db_query_text(tx, out,
                         "INSERT INTO banners AS b (id, tenant_id, title, object_key, image_url,"
                         " target_url, is_active) VALUES ($1, $2, $3, $4, $5, $6,"
                         " coalesce($7::boolean, true)) RETURNING banner_json(b)::text",
                         7, p);
}

sc_code catalog_banner_get(db_conn *c, const char *tenant, const char *id, char **out)
{
    const char *p[] = {id, tenant};
    return db_query_text(c, out,
                         "SELECT banner_json(b)::text FROM banners b WHERE b.id = $1::uuid AND "
                         "b.tenant_id = $2::uuid",
                         2, p);
}

sc_code catalog_banner_list(db_conn *c, const char *tenant, int active_only, char **out)
{
    const char *p[] = {tenant, active_only ? "t" : "f"};
    return db_query_text(c, out,
                         "SELECT json_build_object('banners', coalesce(json_agg(banner_json(b)"
                         " ORDER BY b.created_at DESC, b.id), '[]'))::text FROM banners b"
                         " WHERE b.tenant_id = $1::uuid"
                         " AND (NOT $2::boolean OR (b.is_active AND b.status = 'ready'))",
                         2, p);
}

sc_code catalog_banner_update(db_conn *c, const char *tenant, const char *id,
                              const struct catalog_banner_input *in, char **out)
{
    const char *p[] = {
        id, tenant, in->title, in->set_target_url ? "t" : "f", in->target_url, in->is_active};
    return db_query_text(c, out,
                         "UPDATE banners AS b SET title = coalesce($3, b.title),"
                         " target_url = CASE WHEN $4::boolean THEN $5 ELSE b.target_url END,"
                         " is_active = coalesce($6::boolean, b.is_active)"
                         " WHERE b.id = $1::uuid AND b.tenant_id = $2::uuid"
                         " RETURNING banner_json(b)::text",
                         6, p);
}

/* ---- deletion and the worker ---- */

sc_code catalog_picture_lock(db_conn *tx, enum catalog_picture_kind kind, const char *tenant,
                             const char *id, json_t **keys)
{
    const char *p[] = {id, catalog_picture_purpose(kind), tenant};
    *keys = NULL;
    /* The asset first, as the worker locks it, then the picture. */
    sc_code rc = db_exec(tx, NULL,
                         "SELECT 1 FROM media_assets WHERE subject_id = $1::uuid AND purpose = $2"
                         " AND tenant_id = $3::uuid FOR UPDATE",
                         3, p);
    if (rc != SC_OK) {
        return rc;
    }
    const char *q[] = {id, tenant};
    return kind == CATALOG_BANNER
               ? query_keys(tx, keys,
                            "SELECT catalog_picture_keys('banner', b.id, b.object_key)::text"
                            " FROM banners b WHERE b.id = $1::uuid AND b.tenant_id = $2::uuid"
                            " FOR UPDATE",
                            2, q)
               : query_keys(tx, keys,
                            "SELECT catalog_picture_keys('product_image', i.id, i.object_key)::text"
                            " FROM product_images i JOIN products p ON p.id = i.product_id"
                            " WHERE i.id = $1::uuid AND p.tenant_id = $2::uuid FOR UPDATE OF i",
                            2, q);
}

sc_code catalog_picture_remove(db_conn *c, enum catalog_picture_kind kind, const char *id)
{
    const char *p[] = {id};
    return kind == CATALOG_BANNER
               ? db_exec(c, NULL,
                         "WITH a AS (DELETE FROM media_assets WHERE subject_id = $1::uuid"
                         " AND purpose = 'banner') DELETE FROM banners WHERE id = $1::uuid",
                         1, p)
               : db_exec(c, NULL,
                         "WITH a AS (DELETE FROM media_assets WHERE subject_id = $1::uuid"
                         " AND purpose = 'product_image')"
                         " DELETE FROM product_images WHERE id = $1::uuid",
                         1, p);
}

sc_code catalog_product_images_release(db_conn *tx, const char *product, json_t **keys)
{
    const char *p[] = {product};
    return query_keys(
        tx, keys,
        "WITH gone AS (DELETE FROM media_assets m WHERE m.purpose = 'product_image'"
        " AND m.subject_id IN (SELECT id FROM product_images WHERE product_id = $1::uuid)"
        " RETURNING media_object_keys(m) AS keys)"
        " SELECT coalesce(json_agg(DISTINCT k ORDER BY k), '[]')::text FROM ("
        " SELECT json_array_elements_text(keys) FROM gone"
        " UNION ALL SELECT object_key FROM product_images WHERE product_id = $1::uuid) AS s(k)",
        1, p);
}

sc_code catalog_picture_set_status(db_conn *tx, const char *purpose, const char *subject,
                                   const char *status)
{
    const char *p[] = {subject, status};
    if (!strcmp(purpose, "product_image")) {
        return db_exec(tx, NULL, "UPDATE product_images SET status = $2 WHERE id = $1::uuid", 2, p);
    }
    if (!strcmp(purpose, "banner")) {
        return db_exec(tx, NULL, "UPDATE banners SET status = $2 WHERE id = $1::uuid", 2, p);
    }
    return SC_OK;
}

/* ---- demo seed ---- */

/* Muted colours a category keeps across runs (FNV-1a of its name). */
static void demo_colour(const char *category, int rgb[3])
{
    static const int palette[][3] = {
        {0xC8, 0x6B, 0x3C}, {0x4E, 0x8A, 0x5B}, {0x3C, 0x6E, 0xA8}, {0xD9, 0xA4, 0x41},
        {0x8E, 0x5B, 0x9E}, {0x2F, 0x9C, 0x95}, {0xB8, 0x4A, 0x62}, {0x7A, 0x86, 0x45},
    };
    unsigned int h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)category; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    memcpy(rgb, palette[h % (sizeof(palette) / sizeof(palette[0]))], sizeof(palette[0]));
}

/* Stores the demo picture of product and records it ready and primary. */
static sc_code seed_one(db_conn *tx, const char *product, const char *category)
{
    char name[64], id[37], key[96];
    int rgb[3];
    void *jpg = NULL;
    size_t len = 0;
    char *url = NULL;
    snprintf(name, sizeof(name), "demo image %s", product);
    uuid_from_name(name, id);
    snprintf(key, sizeof(key), "images/products/%s.jpg", id);
    demo_colour(category, rgb);
    sc_code rc = image_solid_jpeg(rgb[0], rgb[1], rgb[2], DEMO_SIDE, DEMO_SIDE, &jpg, &len);
    if (rc == SC_OK) {
        rc = s3_put(key, jpg, len, "image/jpeg");
    }
    if (rc == SC_OK) {
        rc = (url = s3_public_url(key)) ? SC_OK : SC_ENOMEM;
    }
    if (rc == SC_OK) {
        const char *p[] = {product, key, url};
        rc = db_exec(tx, NULL,
                     "INSERT INTO product_images (product_id, object_key, image_url, is_primary,"
                     " status) VALUES ($1::uuid, $2, $3, true, 'ready')",
                     3, p);
    }
    free(url);
    free(jpg);
    return rc;
}

sc_code catalog_images_seed_demo(db_conn *tx)
{
    db_rows *rows = NULL;
    sc_code rc = db_exec(tx, &rows,
                         "SELECT p.id::text, s.category FROM seed_products s JOIN products p"
                         " ON p.tenant_id = current_setting('smartcart.seed_tenant')::uuid"
                         " AND p.name = s.name WHERE NOT EXISTS (SELECT 1 FROM product_images i"
                         " WHERE i.product_id = p.id) ORDER BY p.name",
                         0, NULL);
    for (int i = 0; rc == SC_OK && i < db_nrows(rows); i++) {
        rc = seed_one(tx, db_value(rows, i, 0), db_value(rows, i, 1));
    }
    if (rc == SC_OK) {
        log_json(LOG_INFO, "demo product images stored",
                 json_pack("{s:i}", "count", db_nrows(rows)));
    }
    db_rows_free(rows);
    return rc;
}
