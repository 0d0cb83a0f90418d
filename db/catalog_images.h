/* Catalog pictures: product images (seed 003 §6) and banners (§9), data
 * access for their routes, the media worker and the demo seed. A picture's
 * bytes go through the upload pipeline: its media_assets row (purpose
 * "product_image" or "banner", subject_id = the picture's id) is what the
 * worker processes, and the picture's row carries the catalog fields and a
 * status that follows the asset's (processing → ready | failed).
 *
 * Locks are always taken asset first, then picture, then product — the
 * worker's order — so no two of these transactions deadlock.
 * Answers are JSON text rendered by Postgres (*out, malloc'd, the caller
 * frees); text parameters are validated by the caller. */
#ifndef SC_DB_CATALOG_IMAGES_H
#define SC_DB_CATALOG_IMAGES_H

#include <jansson.h>
#include "db.h"

enum catalog_picture_kind { CATALOG_PRODUCT_IMAGE, CATALOG_BANNER };

/* The media_assets purpose of a kind ("product_image", "banner"). */
const char *catalog_picture_purpose(enum catalog_picture_kind kind);

/* SC_OK when product is one of tenant's products, else SC_ENOTFOUND. */
sc_code catalog_image_product_exists(db_conn *c, const char *tenant, const char *product);

/* Inside the open transaction tx: the new product image id of product
 * (locked, so concurrent primary changes queue), status processing. With
 * is_primary the current primary is demoted first. *out is the record
 * (product_image_record_json). SC_ENOTFOUND when the product is not the tenant's. */
sc_code catalog_image_insert(db_conn *tx, const char *tenant, const char *id, const char *product,
                             const char *object_key, const char *image_url, int is_primary,
                             char **out);
/* {"images": [...]}, the primary first, then oldest first. SC_ENOTFOUND for
 * an unknown product. */
sc_code catalog_image_list(db_conn *c, const char *tenant, const char *product, char **out);
/* Makes image id its product's only primary image in one transaction of its
 * own (c must have none open); the product row lock serialises concurrent
 * calls, and the partial unique index product_images_one_primary backs it.
 * *out is the record. SC_ENOTFOUND when not the tenant's. */
sc_code catalog_image_set_primary(db_conn *c, const char *tenant, const char *id, char **out);

/* Banner fields; NULL leaves a field unchanged on update. is_active is
 * "true"/"false"; set_target_url with target_url NULL clears it. */
struct catalog_banner_input {
    const char *title;
    const char *target_url;
    int set_target_url;
    const char *is_active;
};

/* Inside tx: the new banner id, status processing. *out is banner_json. */
sc_code catalog_banner_insert(db_conn *tx, const char *tenant, const char *id,
                              const struct catalog_banner_input *in, const char *object_key,
                              const char *image_url, char **out);
sc_code catalog_banner_get(db_conn *c, const char *tenant, const char *id, char **out);
/* {"banners": [...]} newest first: every banner of the tenant, or with
 * active_only those that are active and ready to show. */
sc_code catalog_banner_list(db_conn *c, const char *tenant, int active_only, char **out);
sc_code catalog_banner_update(db_conn *c, const char *tenant, const char *id,
                              const struct catalog_banner_input *in, char **out);

/* Inside the open transaction tx: locks picture id of the tenant with its
 * asset (waiting for a worker that holds it) and gives every R2 key it may
 * occupy in *keys (a JSON array, the caller's). SC_ENOTFOUND when absent.
 * Delete the objects, then catalog_picture_remove, then commit: no object
 * then outlives its row. */
sc_code catalog_picture_lock(db_conn *tx, enum catalog_picture_kind kind, const char *tenant,
                             const char *id, json_t **keys);
/* Deletes picture id and its asset (no access check). */
sc_code catalog_picture_remove(db_conn *c, enum catalog_picture_kind kind, const char *id);

/* For product deletion, inside tx after the product row is locked: deletes
 * the assets of the product's images and gives every R2 key of them (full
 * size, variants, staging) in *keys (the caller's). The image rows go with
 * the product. */
sc_code catalog_product_images_release(db_conn *tx, const char *product, json_t **keys);

/* The media worker, inside its transaction: the picture whose asset of
 * purpose is subject takes status ("ready" or "failed"). SC_OK without effect
 * for another purpose or a picture deleted meanwhile. */
sc_code catalog_picture_set_status(db_conn *tx, const char *purpose, const char *subject,
                                   const char *status);

/* The demo seed, inside its transaction (catalog_seed_demo, whose temporary
 * table seed_products names the demo products): every demo product without an
 * image gets a small single-colour JPEG, stored in R2 at its final key (S3
 * must be initialised) and recorded ready and primary. Keys derive from the
 * product id, so a failed run retried overwrites the same objects. */
sc_code catalog_images_seed_demo(db_conn *tx);

#endif
