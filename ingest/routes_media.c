/* Media routes (seed 002, seed 000's avatars; issue 3): uploads are checked
 * (size by the core while streaming, type from magic bytes here), stored in
 * R2 under staging/, recorded as pending and handed to smartcart-worker media
 * through Kafka (ingest/media_upload.c); the client then polls the status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "handlers.h"
#include "media.h"
#include "media_upload.h"
#include "uuid.h"

#define DETAIL_NOT_FOUND "Media not found"
#define DETAIL_NO_CUSTOMER "Hồ sơ khách hàng không tồn tại"

static struct media_viewer viewer_of(const struct auth_identity *id)
{
    return (struct media_viewer){id->tenant_id, id->user_id, id->is_admin};
}

/* ---- uploads (ingest/media_upload.c does the work) ---- */

static void upload(struct http_request *req, struct http_response *res, enum filetype_kind kind)
{
    struct auth_identity who;
    if (!auth_user(req, res, &who)) {
        return;
    }
    const struct upload_target t = {
        .kind = kind, .purpose = "media", .owner = who.user_id, .status = 202};
    media_accept_upload(req, res, &who, &t);
}

static void upload_image(struct http_request *req, struct http_response *res)
{
    upload(req, res, FILETYPE_KIND_IMAGE);
}

static void upload_video(struct http_request *req, struct http_response *res)
{
    upload(req, res, FILETYPE_KIND_VIDEO);
}

/* An avatar is owned by the customer's user, wherever it came from. Seed 000
 * answers these with FastAPI's default status, 200. */
static void upload_avatar(struct http_request *req, struct http_response *res,
                          const struct auth_identity *who, const char *customer)
{
    char user[37];
    db_conn *c = uuid_valid(customer) ? db_acquire() : NULL;
    sc_code rc = !uuid_valid(customer) ? SC_ENOTFOUND
                 : c                   ? media_customer_user(c, who->tenant_id, customer, user)
                                       : SC_EUNAVAIL;
    db_release(c);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_NO_CUSTOMER);
        return;
    }
    if (rc != SC_OK) {
        handler_reply_failure(res, rc);
        return;
    }
    const struct upload_target t = {.kind = FILETYPE_KIND_IMAGE,
                                    .purpose = "avatar",
                                    .owner = user,
                                    .subject = customer,
                                    .status = 200};
    media_accept_upload(req, res, who, &t);
}

static void upload_my_avatar(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char customer[37];
    if (!auth_user(req, res, &who)) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? media_customer_of_user(c, who.tenant_id, who.user_id, customer) : SC_EUNAVAIL;
    db_release(c);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_NO_CUSTOMER);
    } else if (rc != SC_OK) {
        handler_reply_failure(res, rc);
    } else {
        upload_avatar(req, res, &who, customer);
    }
}

static void upload_customer_avatar(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    if (auth_admin(req, res, &who)) {
        upload_avatar(req, res, &who, http_param(req, "customer_id"));
    }
}

/* ---- reads ---- */

static void list_media(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char skip[24], limit[24], *out = NULL;
    if (!auth_user(req, res, &who) ||
        !handler_query_int(req, res, "skip", 0, 0, 1000000000, skip) ||
        !handler_query_int(req, res, "limit", HANDLER_PAGE_LIMIT_MAX, 1, HANDLER_PAGE_LIMIT_MAX,
                           limit)) {
        return;
    }
    const char *kind = http_query(req, "kind");
    if (kind && strcmp(kind, "image") && strcmp(kind, "video")) {
        http_reply_field_error(res, "query", "kind", "Input should be 'image' or 'video'", "enum");
        return;
    }
    struct media_viewer v = viewer_of(&who);
    db_conn *c = db_acquire();
    sc_code rc = c ? media_list(c, &v, kind, skip, limit, &out) : SC_EUNAVAIL;
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
}

/* The media_id path parameter of a request the caller may make; a malformed
 * id is as unknown as a missing one (404). NULL after replying. */
static const char *media_param(struct http_request *req, struct http_response *res,
                               struct auth_identity *who)
{
    if (!auth_user(req, res, who)) {
        return NULL;
    }
    const char *id = http_param(req, "media_id");
    if (!uuid_valid(id)) {
        http_reply_error(res, 404, DETAIL_NOT_FOUND);
        return NULL;
    }
    return id;
}

static void get_media(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char *out = NULL;
    const char *id = media_param(req, res, &who);
    if (!id) {
        return;
    }
    struct media_viewer v = viewer_of(&who);
    db_conn *c = db_acquire();
    sc_code rc = c ? media_get(c, &v, id, &out) : SC_EUNAVAIL;
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
}

/* 1 when the cached status document doc may be shown to v. */
static int status_visible(const char *doc, const struct media_viewer *v)
{
    json_t *j = json_loads(doc, 0, NULL);
    const char *tenant = json_string_value(json_object_get(j, "tenant_id"));
    const char *owner = json_string_value(json_object_get(j, "owner_id"));
    int ok = tenant && owner && !strcasecmp(tenant, v->tenant_id) &&
             (v->is_admin || !strcasecmp(owner, v->user_id));
    json_decref(j);
    return ok;
}

/* Redis first; Postgres on a miss (or when Redis is down). */
static void get_status(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char *out = NULL;
    const char *id = media_param(req, res, &who);
    if (!id) {
        return;
    }
    struct media_viewer v = viewer_of(&who);
    if (media_status_cached(id, &out) == SC_OK) {
        sc_code rc = status_visible(out, &v) ? SC_OK : SC_ENOTFOUND;
        handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? media_status(c, &v, id, &out) : SC_EUNAVAIL;
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
}

/* ---- delete ---- */

/* The objects go first and the row last, all under the row's lock: a worker
 * processing the asset finishes before (its objects are then listed) or
 * finds the row gone after, so no object outlives the row. */
static sc_code delete_asset(const struct media_viewer *v, const char *id)
{
    json_t *keys = NULL;
    db_conn *tx = db_acquire();
    if (!tx) {
        return SC_EUNAVAIL;
    }
    sc_code rc = db_begin(tx);
    if (rc == SC_OK && (rc = media_lock_visible(tx, v, id, &keys)) == SC_OK &&
        (rc = media_delete_objects(keys)) == SC_OK && (rc = media_remove(tx, id)) == SC_OK) {
        rc = db_commit(tx);
    }
    if (rc != SC_OK) {
        db_rollback(tx);
    }
    db_release(tx);
    json_decref(keys);
    return rc;
}

static void delete_media(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id = media_param(req, res, &who);
    if (!id) {
        return;
    }
    struct media_viewer v = viewer_of(&who);
    sc_code rc = delete_asset(&v, id);
    if (rc == SC_OK) {
        media_status_forget(id);
        http_reply_raw(res, 204, NULL, NULL, 0);
    } else {
        handler_reply_text(res, rc, 0, NULL, DETAIL_NOT_FOUND);
    }
}

/* clang-format off */
const struct route media_routes[] = {
    {"POST", "/api/v1/media/upload/image", upload_image, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"POST", "/api/v1/media/upload/video", upload_video, 0, ROUTE_MULTIPART, &cfg.video_max_bytes},
    {"GET", "/api/v1/media/", list_media, 0, 0, NULL},
    {"GET", "/api/v1/media/{media_id}", get_media, 0, 0, NULL},
    {"DELETE", "/api/v1/media/{media_id}", delete_media, 0, ROUTE_OFFLOAD, NULL},
    {"GET", "/api/v1/media/{media_id}/status", get_status, 0, 0, NULL},
    {"POST", "/media/customers/me/avatar", upload_my_avatar, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"POST", "/media/customers/{customer_id}/avatar", upload_customer_avatar, 0, ROUTE_MULTIPART,
     &cfg.image_max_bytes},
};
/* clang-format on */
const size_t media_routes_len = sizeof(media_routes) / sizeof(media_routes[0]);
