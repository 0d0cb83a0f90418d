/* Media routes (seed 002, seed 000's avatars; issue 3): uploads are checked
 * (size by the core while streaming, type from magic bytes here), stored in
 * R2 under staging/, recorded as pending and handed to smartcart-worker media
 * through Kafka; the client then polls the status. An upload that cannot be
 * enqueued leaves nothing behind: the row, the staging object and the cached
 * status are removed before the 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "db/media_assets.h"
#include "filetype.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "media.h"
#include "s3.h"
#include "schemas/envelope.h"
#include "schemas/media_job.h"
#include "uuid.h"

#define PAGE_LIMIT_MAX 100
#define JSON_TYPE "application/json"
#define DETAIL_NOT_FOUND "Media not found"
#define DETAIL_NO_CUSTOMER "Hồ sơ khách hàng không tồn tại"
#define DETAIL_NOT_QUEUED "Media processing is unavailable right now; please try again later"

static void reply_failure(struct http_response *res, sc_code rc)
{
    if (sc_is_transient(rc)) {
        http_reply_error(res, 503, "Service temporarily unavailable");
    } else {
        http_reply_error(res, 500, "Internal server error");
    }
}

/* Sends text (taken) as the JSON body, or the failure rc. */
static void reply_text(struct http_response *res, sc_code rc, int status, char *text)
{
    if (rc == SC_OK) {
        http_reply_raw(res, status, JSON_TYPE, text, strlen(text));
        return;
    }
    free(text);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, DETAIL_NOT_FOUND);
    } else {
        reply_failure(res, rc);
    }
}

static struct media_viewer viewer_of(const struct auth_identity *id)
{
    return (struct media_viewer){id->tenant_id, id->user_id, id->is_admin};
}

/* ---- uploads ---- */

/* Who and what an upload is for. */
struct upload_target {
    enum filetype_kind kind;
    const char *purpose; /* "media" or "avatar" */
    const char *owner;   /* user id owning the asset */
    const char *subject; /* the customer of an avatar, else NULL */
    int status;          /* of the success answer */
};

/* The file part when it is present, non-empty and of the target's kind;
 * otherwise replies 422 or 415 and returns NULL. */
static const struct http_upload *checked_file(struct http_request *req, struct http_response *res,
                                              enum filetype_kind kind, enum filetype *type)
{
    const struct http_upload *up = http_upload_file(req, "file");
    if (!up) {
        http_reply_field_error(res, "body", "file", "Field required", "missing");
        return NULL;
    }
    if (up->size == 0) {
        http_reply_field_error(res, "body", "file", "The file is empty", "value_error");
        return NULL;
    }
    *type = filetype_detect(up->head, up->head_len);
    if (filetype_kind(*type) != kind) {
        char detail[160];
        snprintf(detail, sizeof(detail), "Unsupported file type; accepted: %s",
                 filetype_accepted(kind));
        http_reply_error(res, 415, detail);
        return NULL;
    }
    return up;
}

/* Produces the media.uploaded job of media_id, keyed by it, and waits for the
 * broker's acknowledgement. */
static sc_code enqueue(const char *media_id, const char *tenant)
{
    struct media_job job;
    struct envelope env = {0};
    json_t *data = NULL;
    char *payload = NULL;
    size_t len = 0;
    snprintf(job.media_id, sizeof(job.media_id), "%s", media_id);
    sc_code rc = media_job_encode(&job, &data);
    if (rc == SC_OK) {
        rc = envelope_init(&env, MEDIA_JOB_TYPE, MEDIA_JOB_VERSION, tenant, data);
    }
    if (rc == SC_OK) {
        rc = envelope_encode(&env, &payload, &len);
    }
    if (rc == SC_OK) {
        rc = kafka_produce_sync(cfg.kafka_topic_media, media_id, strlen(media_id), payload, len,
                                NULL, 0);
    }
    envelope_clear(&env);
    free(payload);
    return rc;
}

/* Undoes an accepted upload whose job could not be produced. */
static void forget_upload(const char *media_id, const char *staging_key)
{
    db_conn *c = db_acquire();
    sc_code rc = c ? media_remove(c, media_id) : SC_EUNAVAIL;
    db_release(c);
    sc_code rs = s3_delete(staging_key);
    media_status_forget(media_id);
    if (rc != SC_OK || rs != SC_OK) {
        log_json(LOG_ERROR, "could not undo an upload that was not enqueued",
                 json_pack("{s:s, s:s, s:s}", "media_id", media_id, "row", sc_strerror(rc),
                           "staging", sc_strerror(rs)));
    }
}

/* Inserts the pending row (its answer in *out) and caches its status. */
static sc_code record_upload(const struct media_new *m, char **out)
{
    char *status = NULL;
    db_conn *c = db_acquire();
    sc_code rc = c ? media_insert(c, m, out, &status) : SC_EUNAVAIL;
    db_release(c);
    /* Cached before the job exists, so the worker's later status always
     * overwrites it, never the other way round. A miss is harmless. */
    if (rc == SC_OK && media_status_publish(m->id, status) != SC_OK) {
        log_json(LOG_WARN, "media status not cached", json_pack("{s:s}", "media_id", m->id));
    }
    free(status);
    return rc;
}

/* Stores, records and enqueues the upload of req for t, then answers. */
static void accept_upload(struct http_request *req, struct http_response *res,
                          const struct auth_identity *who, const struct upload_target *t)
{
    enum filetype type;
    const struct http_upload *up = checked_file(req, res, t->kind, &type);
    char id[CRYPTO_UUID_LEN], staging[MEDIA_KEY_LEN], base[MEDIA_KEY_LEN], object[MEDIA_KEY_LEN];
    char name[MEDIA_NAME_LEN];
    char *out = NULL;
    if (!up) {
        return;
    }
    crypto_uuid_v4(id);
    media_staging_key(id, staging);
    sc_code rc = media_base_key(t->purpose, who->tenant_id, t->owner, id, base);
    if (rc != SC_OK) {
        reply_failure(res, SC_EINTERNAL);
        return;
    }
    /* The worker may pick another extension for the full-size image
     * (HEIC becomes JPEG or PNG) and records it. */
    media_object_key(base, NULL, filetype_ext(type), object);
    media_clean_name(up->filename, name);
    const struct media_new m = {
        .id = id,
        .tenant_id = who->tenant_id,
        .owner_id = t->owner,
        .kind = t->kind == FILETYPE_KIND_IMAGE ? "image" : "video",
        .purpose = t->purpose,
        .subject_id = t->subject,
        .original_name = name,
        .content_type = filetype_mime(type),
        .sha256 = up->sha256,
        .staging_key = staging,
        .object_key = object,
        .size_bytes = (long long)up->size,
    };
    if ((rc = s3_put_file(staging, up->file, up->size, m.content_type)) != SC_OK) {
        reply_failure(res, rc);
        return;
    }
    if ((rc = record_upload(&m, &out)) != SC_OK) {
        s3_delete(staging);
        reply_failure(res, rc);
        return;
    }
    if ((rc = enqueue(id, who->tenant_id)) != SC_OK) {
        log_json(LOG_ERROR, "media job not enqueued; upload undone",
                 json_pack("{s:s, s:s}", "media_id", id, "error", sc_strerror(rc)));
        forget_upload(id, staging);
        free(out);
        http_reply_error(res, 503, DETAIL_NOT_QUEUED);
        return;
    }
    reply_text(res, SC_OK, t->status, out);
}

static void upload(struct http_request *req, struct http_response *res, enum filetype_kind kind)
{
    struct auth_identity who;
    if (!auth_user(req, res, &who)) {
        return;
    }
    const struct upload_target t = {kind, "media", who.user_id, NULL, 202};
    accept_upload(req, res, &who, &t);
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
        reply_failure(res, rc);
        return;
    }
    const struct upload_target t = {FILETYPE_KIND_IMAGE, "avatar", user, customer, 200};
    accept_upload(req, res, who, &t);
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
        reply_failure(res, rc);
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

/* Query parameter name as an integer in min..max (def when absent) into buf;
 * otherwise replies 422 the way FastAPI does and returns 0. */
static int query_int(struct http_request *req, struct http_response *res, const char *name,
                     long long def, long long min, long long max, char buf[24])
{
    const char *v = http_query(req, name);
    char msg[80];
    long long n = def;
    if (v) {
        char *end = NULL;
        n = strtoll(v, &end, 10);
        if (!*v || *end || strspn(v, "+-0123456789") != strlen(v)) {
            http_reply_field_error(res, "query", name,
                                   "Input should be a valid integer, unable to parse string as an "
                                   "integer",
                                   "int_parsing");
            return 0;
        }
    }
    if (n < min || n > max) {
        snprintf(msg, sizeof(msg), "Input should be %s %lld",
                 n < min ? "greater than or equal to" : "less than or equal to",
                 n < min ? min : max);
        http_reply_field_error(res, "query", name, msg,
                               n < min ? "greater_than_equal" : "less_than_equal");
        return 0;
    }
    snprintf(buf, 24, "%lld", n);
    return 1;
}

static void list_media(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char skip[24], limit[24], *out = NULL;
    if (!auth_user(req, res, &who) || !query_int(req, res, "skip", 0, 0, 1000000000, skip) ||
        !query_int(req, res, "limit", PAGE_LIMIT_MAX, 1, PAGE_LIMIT_MAX, limit)) {
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
    reply_text(res, rc, 200, out);
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
    reply_text(res, rc, 200, out);
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
        reply_text(res, rc, 200, out);
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? media_status(c, &v, id, &out) : SC_EUNAVAIL;
    db_release(c);
    reply_text(res, rc, 200, out);
}

/* ---- delete ---- */

/* Deletes every object named in keys (a JSON array of strings). */
static sc_code delete_objects(json_t *keys)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        sc_code rc = s3_delete(json_string_value(k));
        if (rc != SC_OK) {
            return rc;
        }
    }
    return SC_OK;
}

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
        (rc = delete_objects(keys)) == SC_OK && (rc = media_remove(tx, id)) == SC_OK) {
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
        reply_text(res, rc, 0, NULL);
    }
}

/* clang-format off */
const struct route media_routes[] = {
    {"POST", "/api/v1/media/upload/image", upload_image, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"POST", "/api/v1/media/upload/video", upload_video, 0, ROUTE_MULTIPART, &cfg.video_max_bytes},
    {"GET", "/api/v1/media/", list_media, 0, 0, NULL},
    {"GET", "/api/v1/media/{media_id}", get_media, 0, 0, NULL},
    {"DELETE", "/api/v1/media/{media_id}", delete_media, 0, 0, NULL},
    {"GET", "/api/v1/media/{media_id}/status", get_status, 0, 0, NULL},
    {"POST", "/media/customers/me/avatar", upload_my_avatar, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"POST", "/media/customers/{customer_id}/avatar", upload_customer_avatar, 0, ROUTE_MULTIPART,
     &cfg.image_max_bytes},
};
/* clang-format on */
const size_t media_routes_len = sizeof(media_routes) / sizeof(media_routes[0]);
