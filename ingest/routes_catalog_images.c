/* Catalog picture routes (seed 003 §6 product images, §9 banners). Uploads go
 * through the media pipeline (media_upload.c): the picture's row is inserted
 * with its asset, answered with status "processing" and the public URL of its
 * final key (images/products/<uuid>.<ext>, images/banners/<uuid>.<ext>), and
 * the media worker writes the sanitised image there, its variants beside it
 * (<uuid>_<variant>.webp), and marks the picture ready or failed. Deleting a
 * picture removes every object it may have (full size, variants, staging)
 * under its row's lock, then the rows. Reads are public (the tenant of the
 * token, of X-Tenant-ID, or the default one); writes need an administrator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "db/catalog_images.h"
#include "db/users.h"
#include "handlers.h"
#include "http.h"
#include "media.h"
#include "media_upload.h"
#include "routes_catalog.h"
#include "s3.h"

#define TITLE_MAX_CHARS 255
#define TARGET_URL_MAX 2048
#define DETAIL_NO_PRODUCT "Product not found"
#define DETAIL_NO_IMAGE "Image not found"
#define DETAIL_NO_BANNER "Banner not found"

/* ---- field checks (FastAPI / pydantic 2 messages) ---- */

/* A form boolean as pydantic reads one: *out "true"/"false", or def (which
 * may be NULL) when absent or empty. Replies 422 and returns 0 otherwise. */
static int form_bool(struct http_request *req, struct http_response *res, const char *name,
                     const char *def, const char **out)
{
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    const char *v = http_form_value(req, name);
    *out = def;
    if (!v || !*v) {
        return 1;
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
            *out = !strcasecmp(v, yes[i]) ? "true" : "false";
            return 1;
        }
    }
    http_reply_field_error(res, "body", name,
                           "Input should be a valid boolean, unable to interpret input",
                           "bool_parsing");
    return 0;
}

/* A banner title: 1..TITLE_MAX_CHARS characters. */
static int check_title(struct http_response *res, const char *title)
{
    if (users_text_chars(title) > TITLE_MAX_CHARS) {
        http_reply_field_error(res, "body", "title", "String should have at most 255 characters",
                               "string_too_long");
        return 0;
    }
    if (!*title) {
        http_reply_field_error(res, "body", "title", "String should have at least 1 character",
                               "string_too_short");
        return 0;
    }
    return 1;
}

/* An absolute http(s) URL with a host, at most TARGET_URL_MAX bytes, no
 * spaces or control characters. */
static int check_target_url(struct http_response *res, const char *url)
{
    size_t scheme = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    int clean = 1;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        clean &= *p > 0x20 && *p != 0x7F;
    }
    if (strlen(url) > TARGET_URL_MAX) {
        http_reply_field_error(res, "body", "target_url", "URL should have at most 2048 characters",
                               "url_too_long");
    } else if (!scheme && strstr(url, "://")) {
        http_reply_field_error(res, "body", "target_url", "URL scheme should be 'http' or 'https'",
                               "url_scheme");
    } else if (!scheme || !clean || !url[scheme] || strchr("/?#", url[scheme])) {
        http_reply_field_error(res, "body", "target_url",
                               "Input should be a valid URL, relative URL without a base",
                               "url_parsing");
    } else {
        return 1;
    }
    return 0;
}

/* ---- uploads ---- */

struct image_upload {
    const char *product;
    int is_primary;
};

/* upload_target.record of a product image: its row beside the asset. */
static sc_code record_image(db_conn *tx, const struct media_new *m, const void *arg, char **answer)
{
    const struct image_upload *u = arg;
    char *url = s3_public_url(m->object_key);
    sc_code rc = url ? catalog_image_insert(tx, m->tenant_id, m->subject_id, u->product,
                                            m->object_key, url, u->is_primary, answer)
                     : SC_ENOMEM;
    free(url);
    return rc;
}

static sc_code forget_image(db_conn *c, const char *subject)
{
    return catalog_picture_remove(c, CATALOG_PRODUCT_IMAGE, subject);
}

static void image_upload(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *product, *primary;
    char id[CRYPTO_UUID_LEN];
    if (!auth_admin(req, res, &who) || !(product = handler_path_uuid(req, res, "product_id")) ||
        !form_bool(req, res, "is_primary", "false", &primary)) {
        return;
    }
    db_conn *c = handler_db(res);
    if (!c) {
        return;
    }
    sc_code rc = catalog_image_product_exists(c, who.tenant_id, product);
    db_release(c);
    if (rc != SC_OK) {
        handler_reply_text(res, rc, 0, NULL, DETAIL_NO_PRODUCT);
        return;
    }
    crypto_uuid_v4(id);
    const struct image_upload u = {product, !strcmp(primary, "true")};
    const struct upload_target t = {.kind = FILETYPE_KIND_IMAGE,
                                    .purpose = catalog_picture_purpose(CATALOG_PRODUCT_IMAGE),
                                    .owner = who.user_id,
                                    .subject = id,
                                    .status = 201,
                                    .record = record_image,
                                    .forget = forget_image,
                                    .arg = &u,
                                    .not_found = DETAIL_NO_PRODUCT};
    media_accept_upload(req, res, &who, &t);
}

/* upload_target.record of a banner. */
static sc_code record_banner(db_conn *tx, const struct media_new *m, const void *arg, char **answer)
{
    char *url = s3_public_url(m->object_key);
    sc_code rc = url ? catalog_banner_insert(tx, m->tenant_id, m->subject_id, arg, m->object_key,
                                             url, answer)
                     : SC_ENOMEM;
    free(url);
    return rc;
}

static sc_code forget_banner(db_conn *c, const char *subject)
{
    return catalog_picture_remove(c, CATALOG_BANNER, subject);
}

static void banner_upload(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct catalog_banner_input in = {0};
    char id[CRYPTO_UUID_LEN];
    if (!auth_admin(req, res, &who)) {
        return;
    }
    /* Empty form fields count as absent, as FastAPI reads forms. */
    in.title = http_form_value(req, "title");
    in.target_url = http_form_value(req, "target_url");
    if (in.target_url && !*in.target_url) {
        in.target_url = NULL;
    }
    if (!in.title || !*in.title) {
        http_reply_field_error(res, "body", "title", "Field required", "missing");
        return;
    }
    if (!check_title(res, in.title) || (in.target_url && !check_target_url(res, in.target_url)) ||
        !form_bool(req, res, "is_active", "true", &in.is_active)) {
        return;
    }
    crypto_uuid_v4(id);
    const struct upload_target t = {.kind = FILETYPE_KIND_IMAGE,
                                    .purpose = catalog_picture_purpose(CATALOG_BANNER),
                                    .owner = who.user_id,
                                    .subject = id,
                                    .status = 201,
                                    .record = record_banner,
                                    .forget = forget_banner,
                                    .arg = &in};
    media_accept_upload(req, res, &who, &t);
}

/* ---- product image reads and changes ---- */

static void image_list(struct http_request *req, struct http_response *res)
{
    char tenant[CATALOG_UUID_LEN], *out = NULL;
    const char *product = handler_path_uuid(req, res, "product_id");
    db_conn *c = product ? handler_db(res) : NULL;
    if (c && catalog_read_tenant(req, res, c, tenant)) {
        sc_code rc = catalog_image_list(c, tenant, product, &out);
        handler_reply_text(res, rc, 200, out, DETAIL_NO_PRODUCT);
    }
    db_release(c);
}

static void image_set_primary(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    db_conn *c;
    char *out = NULL;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "image_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    sc_code rc = catalog_image_set_primary(c, who.tenant_id, id, &out);
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NO_IMAGE);
}

/* Removes picture id: every object under the row's lock, then the rows. */
static sc_code delete_picture(enum catalog_picture_kind kind, const char *tenant, const char *id)
{
    json_t *keys = NULL;
    db_conn *tx = db_acquire();
    if (!tx) {
        return SC_EUNAVAIL;
    }
    sc_code rc = db_begin(tx);
    if (rc == SC_OK && (rc = catalog_picture_lock(tx, kind, tenant, id, &keys)) == SC_OK &&
        (rc = media_delete_objects(keys)) == SC_OK &&
        (rc = catalog_picture_remove(tx, kind, id)) == SC_OK) {
        rc = db_commit(tx);
    }
    if (rc != SC_OK) {
        db_rollback(tx);
    }
    db_release(tx);
    json_decref(keys);
    return rc;
}

/* DELETE of a picture whose id is path parameter param. */
static void picture_delete(struct http_request *req, struct http_response *res,
                           enum catalog_picture_kind kind, const char *param, const char *not_found)
{
    struct auth_identity who;
    const char *id;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, param))) {
        return;
    }
    sc_code rc = delete_picture(kind, who.tenant_id, id);
    if (rc == SC_OK) {
        http_reply_raw(res, 204, NULL, NULL, 0);
    } else {
        handler_reply_text(res, rc, 0, NULL, not_found);
    }
}

static void image_delete(struct http_request *req, struct http_response *res)
{
    picture_delete(req, res, CATALOG_PRODUCT_IMAGE, "image_id", DETAIL_NO_IMAGE);
}

/* ---- banners ---- */

static void banner_delete(struct http_request *req, struct http_response *res)
{
    picture_delete(req, res, CATALOG_BANNER, "banner_id", DETAIL_NO_BANNER);
}

static void banner_active(struct http_request *req, struct http_response *res)
{
    char tenant[CATALOG_UUID_LEN], *out = NULL;
    db_conn *c = handler_db(res);
    if (c && catalog_read_tenant(req, res, c, tenant)) {
        sc_code rc = catalog_banner_list(c, tenant, 1, &out);
        handler_reply_text(res, rc, 200, out, DETAIL_NO_BANNER);
    }
    db_release(c);
}

static void banner_list(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    db_conn *c;
    char *out = NULL;
    if (!auth_admin(req, res, &who) || !(c = handler_db(res))) {
        return;
    }
    sc_code rc = catalog_banner_list(c, who.tenant_id, 0, &out);
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NO_BANNER);
}

static void banner_get(struct http_request *req, struct http_response *res)
{
    char tenant[CATALOG_UUID_LEN], *out = NULL;
    const char *id = handler_path_uuid(req, res, "banner_id");
    db_conn *c = id ? handler_db(res) : NULL;
    if (c && catalog_read_tenant(req, res, c, tenant)) {
        sc_code rc = catalog_banner_get(c, tenant, id, &out);
        handler_reply_text(res, rc, 200, out, DETAIL_NO_BANNER);
    }
    db_release(c);
}

/* The PATCH body's fields into in; replies 422 and returns 0 when one is
 * invalid (title and is_active may not be null; target_url null clears it). */
static int banner_patch_fields(json_t *body, struct catalog_banner_input *in,
                               struct http_response *res)
{
    json_t *title = json_object_get(body, "title");
    json_t *url = json_object_get(body, "target_url");
    json_t *active = json_object_get(body, "is_active");
    if (title && !json_is_string(title)) {
        http_reply_field_error(res, "body", "title", "Input should be a valid string",
                               "string_type");
        return 0;
    }
    if (url && !json_is_string(url) && !json_is_null(url)) {
        http_reply_field_error(res, "body", "target_url", "URL input should be a string or URL",
                               "url_type");
        return 0;
    }
    if (active && !json_is_boolean(active)) {
        http_reply_field_error(res, "body", "is_active", "Input should be a valid boolean",
                               "bool_type");
        return 0;
    }
    in->title = json_string_value(title);
    in->set_target_url = url != NULL;
    in->target_url = json_string_value(url);
    in->is_active = active ? (json_is_true(active) ? "true" : "false") : NULL;
    return (!in->title || check_title(res, in->title)) &&
           (!in->target_url || check_target_url(res, in->target_url));
}

static void banner_update(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct catalog_banner_input in = {0};
    const char *id;
    json_t *body = NULL;
    db_conn *c;
    char *out = NULL;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "banner_id")) ||
        !(body = http_json_body(req, res)) || !banner_patch_fields(body, &in, res) ||
        !(c = handler_db(res))) {
        json_decref(body);
        return;
    }
    sc_code rc = catalog_banner_update(c, who.tenant_id, id, &in, &out);
    db_release(c);
    json_decref(body);
    handler_reply_text(res, rc, 200, out, DETAIL_NO_BANNER);
}

/* clang-format off */
const struct route catalog_image_routes[] = {
    {"GET", "/products/{product_id}/images", image_list, 0, 0, NULL},
    {"POST", "/products/{product_id}/images", image_upload, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"DELETE", "/products/images/{image_id}", image_delete, 0, ROUTE_OFFLOAD, NULL},
    {"PUT", "/products/images/{image_id}/set-primary", image_set_primary, 0, 0, NULL},
    {"POST", "/banners/upload", banner_upload, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"GET", "/banners/active", banner_active, 0, 0, NULL},
    {"GET", "/banners", banner_list, 0, 0, NULL},
    {"GET", "/banners/{banner_id}", banner_get, 0, 0, NULL},
    {"PATCH", "/banners/{banner_id}", banner_update, 0, 0, NULL},
    {"DELETE", "/banners/{banner_id}", banner_delete, 0, ROUTE_OFFLOAD, NULL},
};
/* clang-format on */
const size_t catalog_image_routes_len =
    sizeof(catalog_image_routes) / sizeof(catalog_image_routes[0]);
