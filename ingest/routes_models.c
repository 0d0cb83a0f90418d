/* AI model routes (seed 003 §7) and product vector routes (§8). A model file
 * is stored as uploaded — nothing transforms it, so there is no worker and no
 * Kafka message: the spooled upload goes straight to its final key
 * (models/<crop|embedding>/<name>-<version>-<uuid>.<ext>) and the row is
 * inserted after it; a row that cannot be inserted takes its object with it.
 * Deleting a model removes the object under the row's lock, then the row.
 * Reads are public and see one tenant (the token's, X-Tenant-ID's, or the
 * default one); uploads and deletes need an administrator. Vectors are
 * written by `smartcart import-vectors` (seed 003 has no route for it). */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "db/models.h"
#include "db/users.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "media.h"
#include "routes_catalog.h"
#include "s3.h"

#define JSON_TYPE "application/json"
#define DETAIL_NO_MODEL "Model not found"
#define NAME_MAX_CHARS 255
#define VERSION_MAX_CHARS 64
#define VERSION_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* Turns the object key in m's file_path into the public URL. */
static sc_code with_file_path(json_t *m)
{
    char *url = s3_public_url(json_string_value(json_object_get(m, "file_path")));
    int bad = !url || json_object_set_new(m, "file_path", json_string(url)) != 0;
    free(url);
    return bad ? SC_ENOMEM : SC_OK;
}

/* Answers m (taken) with 200, or the failure rc (404 when there is no model). */
static void reply_model(struct http_response *res, sc_code rc, json_t *m)
{
    if (rc == SC_OK) {
        rc = with_file_path(m);
    }
    if (rc == SC_OK) {
        http_reply_json(res, 200, m);
        return;
    }
    json_decref(m);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_NO_MODEL);
    } else {
        handler_reply_failure(res, rc);
    }
}

/* ---- upload ---- */

/* A required text field of the form: present and not empty (FastAPI reads
 * an empty form field as absent), at most max characters. */
static const char *form_text(struct http_request *req, struct http_response *res, const char *name,
                             size_t max)
{
    const char *v = http_form_value(req, name);
    if (!v || !*v) {
        http_reply_field_error(res, "body", name, "Field required", "missing");
        return NULL;
    }
    if (users_text_chars(v) > max) {
        char msg[64];
        snprintf(msg, sizeof(msg), "String should have at most %zu characters", max);
        http_reply_field_error(res, "body", name, msg, "string_too_long");
        return NULL;
    }
    return v;
}

/* The name and version fields: 1, or 0 after a 422. The name is shown as
 * given, so it must be what media_clean_name leaves (valid UTF-8, no control
 * characters or slashes); the version is a plain token. */
static int model_fields(struct http_request *req, struct http_response *res, const char **name,
                        const char **version)
{
    char clean[MEDIA_NAME_LEN];
    if (!(*name = form_text(req, res, "name", NAME_MAX_CHARS))) {
        return 0;
    }
    media_clean_name(*name, clean);
    if (strcmp(clean, *name)) {
        http_reply_field_error(res, "body", "name",
                               "Value error, the name must be valid UTF-8 without control "
                               "characters or slashes",
                               "value_error");
        return 0;
    }
    if (!(*version = form_text(req, res, "version", VERSION_MAX_CHARS))) {
        return 0;
    }
    if (strspn(*version, VERSION_CHARS) != strlen(*version)) {
        http_reply_field_error(res, "body", "version",
                               "String should match pattern '^[A-Za-z0-9._-]+$'",
                               "string_pattern_mismatch");
        return 0;
    }
    return 1;
}

static void model_upload(struct http_request *req, struct http_response *res, enum model_type t)
{
    struct auth_identity who;
    const char *name, *version;
    char id[CRYPTO_UUID_LEN], key[MODEL_KEY_LEN];
    json_t *m = NULL;
    if (!auth_admin(req, res, &who) || !model_fields(req, res, &name, &version)) {
        return;
    }
    const struct http_upload *up = http_upload_file(req, "file");
    if (!up) {
        http_reply_field_error(res, "body", "file", "Field required", "missing");
        return;
    }
    if (up->size == 0) {
        http_reply_field_error(res, "body", "file", "The file is empty", "value_error");
        return;
    }
    crypto_uuid_v4(id);
    models_object_key(t, name, version, id, up->filename, key);
    sc_code rc = s3_put_file(key, up->file, up->size, "application/octet-stream");
    if (rc != SC_OK) {
        handler_reply_failure(res, rc);
        return;
    }
    const struct model_new nm = {.id = id,
                                 .tenant_id = who.tenant_id,
                                 .name = name,
                                 .version = version,
                                 .type = t,
                                 .object_key = key,
                                 .size_bytes = (long long)up->size,
                                 .sha256 = up->sha256};
    db_conn *c = db_acquire();
    rc = c ? models_insert(c, &nm, &m) : SC_EUNAVAIL;
    db_release(c);
    if (rc != SC_OK) {
        sc_code rd = s3_delete(key);
        if (rd != SC_OK) {
            log_json(LOG_ERROR, "model object left without its row",
                     json_pack("{s:s, s:s}", "key", key, "error", sc_strerror(rd)));
        }
        /* Not a 404: the model does not exist yet. */
        rc = rc == SC_ENOTFOUND ? SC_EINTERNAL : rc;
    }
    reply_model(res, rc, m);
}

static void crop_upload(struct http_request *req, struct http_response *res)
{
    model_upload(req, res, MODEL_CROP);
}

static void embedding_upload(struct http_request *req, struct http_response *res)
{
    model_upload(req, res, MODEL_EMBEDDING);
}

/* ---- reads ---- */

/* A public read's connection and tenant, or NULL after replying. The caller
 * releases the connection. */
static db_conn *read_start(struct http_request *req, struct http_response *res,
                           char tenant[CATALOG_UUID_LEN])
{
    db_conn *c = handler_db(res);
    if (c && !catalog_read_tenant(req, res, c, tenant)) {
        db_release(c);
        c = NULL;
    }
    return c;
}

static void model_latest(struct http_request *req, struct http_response *res, enum model_type t)
{
    char tenant[CATALOG_UUID_LEN];
    json_t *m = NULL;
    db_conn *c = read_start(req, res, tenant);
    if (c) {
        sc_code rc = models_latest(c, tenant, t, &m);
        db_release(c);
        reply_model(res, rc, m);
    }
}

static void crop_latest(struct http_request *req, struct http_response *res)
{
    model_latest(req, res, MODEL_CROP);
}

static void embedding_latest(struct http_request *req, struct http_response *res)
{
    model_latest(req, res, MODEL_EMBEDDING);
}

static void model_list(struct http_request *req, struct http_response *res, enum model_type t)
{
    char tenant[CATALOG_UUID_LEN];
    json_t *list = NULL, *m;
    size_t i;
    db_conn *c = read_start(req, res, tenant);
    if (!c) {
        return;
    }
    sc_code rc = models_list(c, tenant, t, &list);
    db_release(c);
    json_array_foreach(json_object_get(list, "models"), i, m)
    {
        if (rc == SC_OK) {
            rc = with_file_path(m);
        }
    }
    if (rc == SC_OK) {
        http_reply_json(res, 200, list);
    } else {
        json_decref(list);
        handler_reply_failure(res, rc);
    }
}

static void crop_list(struct http_request *req, struct http_response *res)
{
    model_list(req, res, MODEL_CROP);
}

static void embedding_list(struct http_request *req, struct http_response *res)
{
    model_list(req, res, MODEL_EMBEDDING);
}

static void model_download(struct http_request *req, struct http_response *res)
{
    char tenant[CATALOG_UUID_LEN];
    json_t *m = NULL;
    const char *id = handler_path_uuid(req, res, "model_id");
    db_conn *c = id ? read_start(req, res, tenant) : NULL;
    if (!c) {
        return;
    }
    sc_code rc = models_get(c, tenant, id, &m);
    db_release(c);
    if (rc == SC_OK && (rc = with_file_path(m)) == SC_OK) {
        http_add_header(res, "Location", json_string_value(json_object_get(m, "file_path")));
        http_reply_raw(res, 302, NULL, NULL, 0);
        json_decref(m);
        return;
    }
    reply_model(res, rc, m);
}

/* ---- delete ---- */

/* Removes model id of tenant: the object under the row's lock, then the row. */
static sc_code delete_model(const char *tenant, const char *id)
{
    char *key = NULL;
    db_conn *tx = db_acquire();
    if (!tx) {
        return SC_EUNAVAIL;
    }
    sc_code rc = db_begin(tx);
    if (rc == SC_OK && (rc = models_lock(tx, tenant, id, &key)) == SC_OK &&
        (rc = s3_delete(key)) == SC_OK && (rc = models_remove(tx, id)) == SC_OK) {
        rc = db_commit(tx);
    }
    if (rc != SC_OK) {
        db_rollback(tx);
    }
    db_release(tx);
    free(key);
    return rc;
}

static void model_delete(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "model_id"))) {
        return;
    }
    sc_code rc = delete_model(who.tenant_id, id);
    if (rc == SC_OK) {
        http_reply_raw(res, 204, NULL, NULL, 0);
    } else {
        reply_model(res, rc, NULL);
    }
}

/* ---- vectors ---- */

/* Answers the JSON text Postgres rendered for the tenant with read. */
static void vectors_reply(struct http_request *req, struct http_response *res,
                          sc_code (*read)(db_conn *, const char *, char **), int attachment)
{
    char tenant[CATALOG_UUID_LEN], *out = NULL;
    db_conn *c = read_start(req, res, tenant);
    if (!c) {
        return;
    }
    sc_code rc = read(c, tenant, &out);
    db_release(c);
    if (rc != SC_OK) {
        handler_reply_failure(res, rc);
        return;
    }
    if (attachment) {
        http_add_header(res, "Content-Disposition",
                        "attachment; filename=\"product_vectors.json\"");
    }
    http_reply_raw(res, 200, JSON_TYPE, out, strlen(out));
}

static void vectors_get(struct http_request *req, struct http_response *res)
{
    vectors_reply(req, res, vectors_download, 1);
}

static void vectors_updated(struct http_request *req, struct http_response *res)
{
    vectors_reply(req, res, vectors_last_updated, 0);
}

/* clang-format off */
const struct route model_routes[] = {
    {"POST", "/models/crop", crop_upload, 0, ROUTE_MULTIPART, &cfg.model_max_bytes},
    {"POST", "/models/embedding", embedding_upload, 0, ROUTE_MULTIPART, &cfg.model_max_bytes},
    {"GET", "/models/latest/crop", crop_latest, 0, 0, NULL},
    {"GET", "/models/latest/embedding", embedding_latest, 0, 0, NULL},
    {"GET", "/models/crop", crop_list, 0, 0, NULL},
    {"GET", "/models/embedding", embedding_list, 0, 0, NULL},
    {"GET", "/models/{model_id}/download", model_download, 0, 0, NULL},
    {"DELETE", "/models/{model_id}", model_delete, 0, ROUTE_OFFLOAD, NULL}, /* deletes its R2 object */
    {"GET", "/vectors/download", vectors_get, 0, 0, NULL},
    {"GET", "/vectors/last-updated", vectors_updated, 0, 0, NULL},
};
/* clang-format on */
const size_t model_routes_len = sizeof(model_routes) / sizeof(model_routes[0]);
