/* AI models (seed 003 §7) and product vectors (§8): where a model lives in
 * R2, and data access for their routes and for `smartcart import-vectors`.
 * Models are one tenant's; a model's answer is JSON rendered by Postgres
 * (ai_model_json of migration 0009) whose "file_path" is the object key until
 * the route makes it the public URL. Vectors belong to the tenant of their
 * product. Text parameters are validated by the caller unless said otherwise. */
#ifndef SC_DB_MODELS_H
#define SC_DB_MODELS_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"

enum model_type { MODEL_CROP, MODEL_EMBEDDING };

/* "CROP" / "EMBEDDING" (the model_type field). */
const char *model_type_name(enum model_type t);
/* "crop" / "embedding" (the R2 folder and the route segment). */
const char *model_type_folder(enum model_type t);

#define MODEL_KEY_LEN 256

/* models/<folder>/<name>-<version>-<id>.<ext> (seed 003). Every byte of name
 * and version outside [A-Za-z0-9._-] becomes '_' (one per UTF-8 character),
 * each cut to 64 bytes, so the key needs no URL encoding; ext is the
 * extension of filename (the client's, untrusted) when it is 1 to 16 letters
 * and digits, lower-cased, else "bin". id is a UUID. */
void models_object_key(enum model_type t, const char *name, const char *version, const char *id,
                       const char *filename, char out[MODEL_KEY_LEN]);

struct model_new {
    const char *id;
    const char *tenant_id;
    const char *name;
    const char *version;
    enum model_type type;
    const char *object_key;
    long long size_bytes;
    const char *sha256;
};

/* Inserts m; *out (the caller's) is its ai_model_json. */
sc_code models_insert(db_conn *c, const struct model_new *m, json_t **out);
/* Model id of tenant (any type). SC_ENOTFOUND when there is none. */
sc_code models_get(db_conn *c, const char *tenant, const char *id, json_t **out);
/* The newest model of type t. SC_ENOTFOUND when there is none. */
sc_code models_latest(db_conn *c, const char *tenant, enum model_type t, json_t **out);
/* {"models": [...]}: every model of type t, newest first. */
sc_code models_list(db_conn *c, const char *tenant, enum model_type t, json_t **out);
/* Inside the open transaction tx: locks model id of tenant against a
 * concurrent delete and gives its object key in *key (the caller frees).
 * SC_ENOTFOUND when there is none. */
sc_code models_lock(db_conn *tx, const char *tenant, const char *id, char **key);
/* Deletes the row of model id (product vectors keep their embedding). */
sc_code models_remove(db_conn *tx, const char *id);

/* Most dimensions a product vector may have (the column's check). */
#define VECTORS_MAX_DIM 4096

/* Checks an import document {"vectors": [{"product_id", "embedding"}]}:
 * at least one vector, product ids UUIDs and unique, every embedding a
 * non-empty array of finite single-precision numbers of one length (at most
 * VECTORS_MAX_DIM). Gives the count and the dimension. On SC_EINVAL err
 * says what is wrong and where. Pure (no database). */
sc_code vectors_validate(const json_t *doc, size_t *count, size_t *dim, char *err, size_t errlen);

/* Validates doc, then in one transaction upserts its vectors (created_at =
 * now; model_id when non-NULL, a model's id). With replace, the other
 * vectors of the tenants of the document's products are deleted first.
 * Fails without a change when a product or the model does not exist
 * (SC_EFOREIGN) or when the tenant would be left with vectors of two
 * dimensions (SC_ECONFLICT); err says why. *count vectors were written. */
sc_code vectors_import(db_conn *c, const json_t *doc, const char *model_id, int replace,
                       size_t *count, char *err, size_t errlen);

/* {"vectors": [{"product_id", "embedding"}]} of tenant's products, by
 * product id, as JSON text in *out (the caller frees). */
sc_code vectors_download(db_conn *c, const char *tenant, char **out);
/* {"last_updated": RFC 3339 with milliseconds, or null} of tenant, as
 * JSON text in *out (the caller frees). */
sc_code vectors_last_updated(db_conn *c, const char *tenant, char **out);

#endif
