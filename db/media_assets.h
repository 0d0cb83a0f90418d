/* Media assets and customer avatars: data access for the media routes and
 * the media worker. Postgres renders every answer (media_json,
 * media_status_json of migration 0004) and it comes back as JSON text
 * (*out, malloc'd, the caller frees). Public URLs are cfg.public_url + key.
 *
 * Who sees an asset (struct media_viewer): its owner, and an administrator
 * of its tenant; anyone else gets SC_ENOTFOUND, exactly as for an id that
 * does not exist, so existence is not revealed. */
#ifndef SC_DB_MEDIA_ASSETS_H
#define SC_DB_MEDIA_ASSETS_H

#include <jansson.h>
#include "db.h"
#include "media.h"

struct media_viewer {
    const char *tenant_id;
    const char *user_id;
    int is_admin;
};

/* A new pending asset. subject_id is the customer of an avatar, else NULL. */
struct media_new {
    const char *id, *tenant_id, *owner_id, *kind, *purpose, *subject_id;
    const char *original_name, *content_type, *sha256, *staging_key, *object_key;
    long long size_bytes;
};

/* Inserts the row; *out (the caller frees it; NULL on error) is its MediaResponse. */
sc_code media_insert(db_conn *c, const struct media_new *m, char **out);

/* media_insert as a transaction of its own, committed when this returns
 * SC_OK, on a pool connection. Rows of concurrent callers share one INSERT
 * (group commit: one statement, one commit); when that fails, each row is
 * inserted alone, so a caller's result is exactly what media_insert alone
 * would give it. Blocks until its row is committed or refused. */
sc_code media_insert_committed(const struct media_new *m, char **out);

/* Removes the row of an upload that could not be enqueued (no access check). */
sc_code media_remove(db_conn *c, const char *id);

sc_code media_get(db_conn *c, const struct media_viewer *v, const char *id, char **out);
/* The status document of id. */
sc_code media_status(db_conn *c, const struct media_viewer *v, const char *id, char **out);
/* A JSON array of MediaResponse, newest first: the viewer's own assets, or
 * for an administrator every asset of the tenant; kind NULL for any. skip and
 * limit are decimal texts already checked. */
sc_code media_list(db_conn *c, const struct media_viewer *v, const char *kind, const char *skip,
                   const char *limit, char **out);

/* Inside the open transaction tx: locks the asset (waiting for a worker that
 * holds it) and gives the JSON array of its object keys in *keys (the
 * caller's). Delete the objects, then media_remove, then commit. A product
 * image's or banner's asset is SC_ENOTFOUND here: it goes with its picture
 * (db/catalog_images.h), never alone. */
sc_code media_lock_visible(db_conn *tx, const struct media_viewer *v, const char *id,
                           json_t **keys);

/* The customer id of user_id's profile in tenant. SC_ENOTFOUND when none. */
sc_code media_customer_of_user(db_conn *c, const char *tenant, const char *user_id,
                               char customer_id[37]);
/* The user id of customer_id in tenant. SC_ENOTFOUND when none (or malformed). */
sc_code media_customer_user(db_conn *c, const char *tenant, const char *customer_id,
                            char user_id[37]);

/* What the worker reads of the asset it processes. */
struct media_row {
    char id[37], tenant_id[37], owner_id[37], subject_id[37];
    char kind[8], purpose[16], status[8];
    char staging_key[MEDIA_KEY_LEN], object_key[MEDIA_KEY_LEN];
};

/* Locks the asset id in tx (FOR UPDATE) and reads it. SC_ENOTFOUND when gone. */
sc_code media_lock(db_conn *tx, const char *id, struct media_row *out);

/* Marks the asset ready with its full-size object key, upright size (NULL
 * for a video) and variants ({name: {key, width, height}} JSON text).
 * *status is the new status document. */
sc_code media_mark_ready(db_conn *tx, const char *id, const char *object_key, const char *width,
                         const char *height, const char *variants, char **status);
/* Marks the asset failed with reason (shown to the client). */
sc_code media_mark_failed(db_conn *tx, const char *id, const char *reason, char **status);
/* The status document of id, without an access check (the worker). */
sc_code media_status_of(db_conn *c, const char *id, char **status);

/* What a ready asset media of purpose does to its subject (media_attach of
 * migration 0010): an avatar becomes its customer's, an address proof its
 * address's, and the asset each replaces is deleted; *old_keys (the
 * caller's) lists that asset's objects, to delete once tx commits ([] when
 * none, or for a purpose without such an effect). */
sc_code media_attach(db_conn *tx, const char *purpose, const char *subject, const char *media,
                     json_t **old_keys);

#endif
