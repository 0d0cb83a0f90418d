/* Catalog data access: products and their search, categories, reviews,
 * favorites and promotions. Postgres builds every JSON answer (see the
 * *_json functions of migration 0003), so these functions only choose the
 * statement and pass parameters. All text parameters are already validated
 * by the caller (UUIDs, decimals, integers); tenant is the caller's tenant id.
 * Answers come back as the JSON text Postgres rendered (*out, malloc'd, the
 * caller frees): passed through untouched, numeric prices keep their exact
 * decimal form, which a jansson double would not (99.99 → 99.989999999999995). */
#ifndef SC_CATALOG_H
#define SC_CATALOG_H

#include <jansson.h>
#include "db.h"

#define CATALOG_UUID_LEN 37

/* Fields of a product write. A NULL pointer leaves the field unchanged on
 * update (create requires name and price); set_* distinguishes "set to null"
 * from "absent" for the nullable fields. category_ids is a Postgres uuid[]
 * literal ("{a,b}") that replaces the links; NULL keeps them. */
struct catalog_product_input {
    const char *name;
    const char *description;
    int set_description;
    const char *price; /* decimal text, at most 2 decimals */
    const char *weight_grams;
    int set_weight_grams;
    const char *category_ids;
};

/* Listing filters; NULL means no filter. query is the raw search text. */
struct catalog_product_filter {
    const char *query;
    const char *category_id;
    const char *min_price;
    const char *max_price;
    const char *skip;
    const char *limit;
};

/* The tenant a request without a token reads: tenant_id when given (it must
 * exist), else the tenant whose slug is cfg.default_tenant. SC_ENOTFOUND when
 * no such tenant. */
sc_code catalog_tenant(db_conn *c, const char *tenant_id, char out[CATALOG_UUID_LEN]);
/* The same without a query when none is needed: tenant_id itself, unchecked
 * (a read of an unknown tenant finds nothing), or the default tenant once
 * catalog_tenant has looked it up. SC_ENOTFOUND: ask catalog_tenant. */
sc_code catalog_tenant_known(const char *tenant_id, char out[CATALOG_UUID_LEN]);

/* Products. id NULL creates (→ 201 body), else updates. SC_ENOTFOUND when the
 * product is not in the tenant; SC_EFOREIGN when a category id is not one of
 * the tenant's categories, copied into bad_category. */
sc_code catalog_product_save(db_conn *c, const char *tenant, const char *id,
                             const struct catalog_product_input *in, char **out,
                             char bad_category[CATALOG_UUID_LEN]);
/* A product read: catalog_product_get_stored queues the read of its stored
 * render on the read pipeline (db_read_async): cb gets its JSON, or
 * SC_ENOTFOUND when none is valid (a product never rendered or written
 * since, or none such); catalog_product_render_async then queues its render
 * with the others missing meanwhile (db_keyed_async: one statement renders
 * and stores them all), and cb gets the JSON, SC_ENOTFOUND (no such product
 * in the tenant) or the batch's error; catalog_product_render renders and
 * stores one on c. id must be a checked UUID. */
sc_code catalog_product_render(db_conn *c, const char *tenant, const char *id, char **out);
sc_code catalog_product_render_async(const char *tenant, const char *id, db_value_cb cb, void *arg);
/* Renders and stores every product of every tenant whose stored render is
 * missing or out of date, `batch` products a statement (after a bulk
 * import or a change that outdates them all, so that reads need not);
 * *rendered gets how many. */
sc_code catalog_products_render_stale(db_conn *c, int batch, long long *rendered);
sc_code catalog_product_get_stored(const char *tenant, const char *id, db_value_cb cb, void *arg);
/* {total, products}: ranked by relevance then name when f->query is set, else by name;
 * stores the page for catalog_product_list_stored. */
sc_code catalog_product_list(db_conn *c, const char *tenant, const struct catalog_product_filter *f,
                             char **out);
/* What names a page: tenant and every filter value as given (length-prefixed,
 * "-" for none). The caller frees it; NULL when out of memory. */
char *catalog_product_list_key(const char *tenant, const struct catalog_product_filter *f);
/* Queues the read of the page named key (catalog_product_list_key) on the
 * read pipeline (db_read_async): cb gets the page catalog_product_list
 * stored, or SC_ENOTFOUND when there is none or it is out of date
 * (catalog_product_list then makes it). */
sc_code catalog_product_list_stored(const char *key, db_value_cb cb, void *arg);
/* Deletes the product with its links, images (rows and media assets),
 * reviews and favorites. *object_keys is the JSON array of every R2 key of
 * its images (full size, variants, staging), which the caller removes from
 * storage. SC_ENOTFOUND when not in the tenant. */
sc_code catalog_product_delete(db_conn *c, const char *tenant, const char *id,
                               json_t **object_keys);

/* Categories. parent NULL with set_parent moves a category to the roots.
 * SC_EFOREIGN unknown parent; SC_EINVAL with constraint categories_no_cycle
 * when the parent is the category or one of its descendants; SC_ECONFLICT
 * when a sibling already has the name. */
sc_code catalog_category_list(db_conn *c, const char *tenant, char **out);
sc_code catalog_category_tree(db_conn *c, const char *tenant, char **out);
sc_code catalog_category_get(db_conn *c, const char *tenant, const char *id, char **out);
sc_code catalog_category_save(db_conn *c, const char *tenant, const char *id, const char *name,
                              int set_parent, const char *parent, char **out);
/* SC_ECONFLICT when it still has children or products; reason names which. */
sc_code catalog_category_delete(db_conn *c, const char *tenant, const char *id,
                                const char **reason);

/* Reviews. Upsert keeps one review per user and product; *created tells a
 * new review from an update. SC_ENOTFOUND when the product is not the tenant's. */
sc_code catalog_review_upsert(db_conn *c, const char *tenant, const char *user, const char *product,
                              const char *rating, const char *comment, char **out, int *created);
/* {product_id, average_rating, review_count, reviews} newest first. */
sc_code catalog_review_list(db_conn *c, const char *tenant, const char *product, const char *skip,
                            const char *limit, char **out);
/* Deletes review id when user owns it or user is NULL (an admin).
 * SC_ENOTFOUND when absent; *forbidden = 1 when it exists but is another's. */
sc_code catalog_review_delete(db_conn *c, const char *tenant, const char *id, const char *user,
                              int *forbidden);

/* Favorites (idempotent both ways); *created is 0 when it was already there.
 * SC_ENOTFOUND when the product is not in the tenant. */
sc_code catalog_favorite_add(db_conn *c, const char *tenant, const char *user, const char *product,
                             char **out, int *created);
sc_code catalog_favorite_remove(db_conn *c, const char *user, const char *product);
/* {favorites: [{product_id, created_at, product}]} newest first. */
sc_code catalog_favorite_list(db_conn *c, const char *tenant, const char *user, char **out);

/* Promotions. Fields as in catalog_product_input: NULL keeps on update. */
struct catalog_promotion_input {
    const char *name;
    const char *description;
    int set_description;
    const char *discount_type;
    const char *value;
    const char *starts_at;
    const char *ends_at;
    const char *is_active;    /* "true" / "false" */
    const char *product_ids;  /* uuid[] literal; NULL keeps */
    const char *category_ids; /* uuid[] literal; NULL keeps */
};

/* SC_EFOREIGN with bad_field ("product_ids" / "category_ids") and bad_id when
 * an id is not the tenant's; SC_EINVAL with the violated constraint otherwise. */
sc_code catalog_promotion_save(db_conn *c, const char *tenant, const char *id,
                               const struct catalog_promotion_input *in, char **out,
                               const char **bad_field, char bad_id[CATALOG_UUID_LEN]);
sc_code catalog_promotion_get(db_conn *c, const char *tenant, const char *id, char **out);
/* {promotions}: all of the tenant, or only those active now. */
sc_code catalog_promotion_list(db_conn *c, const char *tenant, int active_only, char **out);
sc_code catalog_promotion_delete(db_conn *c, const char *tenant, const char *id);

/* `smartcart seed`: the demo store (idempotent; its products get a picture
 * in R2, so S3 must be initialised) and a synthetic catalog of n products in
 * the 1,000 categories of its vocabulary for benchmarks, in the default tenant. */
sc_code catalog_seed_demo(db_conn *c);
sc_code catalog_seed_synthetic(db_conn *c, long n);

#endif
