/* media role (smartcart-worker media): turns a pending upload into its final
 * objects. Images: variants and the sanitised full-size image (lib/image.c)
 * written to their final keys; videos: the container checked again and the
 * object copied to its final key. The row is locked for the whole job and
 * marked ready or failed in the runtime's transaction; Redis, the staging
 * object and a replaced avatar's objects are dealt with after the commit.
 * Product images and banners (purposes with a catalog row, the asset's
 * subject) get their fixed public keys from media_base_key, and their row's
 * status follows the asset's in the same transaction.
 *
 * Idempotence: every output has a fixed key, so a retry or a redelivery
 * after a crash overwrites the same objects; a row that is no longer pending
 * is left alone. A file that can never be processed (corrupt, disguised, too
 * many pixels) ends as status failed with a reason, not in the DLQ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db/catalog_images.h"
#include "db/media_assets.h"
#include "filetype.h"
#include "image.h"
#include "log.h"
#include "media.h"
#include "redis.h"
#include "s3.h"
#include "schemas/media_job.h"
#include "workers/runtime.h"

#define MAX_OUTPUTS (IMAGE_MAX_VARIANTS + 1)

static struct variant_spec specs[MAX_OUTPUTS];
static size_t nspecs;

static sc_code media_start(void)
{
    char err[256];
    sc_code rc = image_specs_from_config(specs, &nspecs, err, sizeof(err));
    if (rc != SC_OK) {
        log_json(LOG_ERROR, "bad image settings", json_pack("{s:s}", "error", err));
        return rc;
    }
    if ((rc = image_init()) != SC_OK || (rc = s3_init()) != SC_OK) {
        return rc;
    }
    /* Redis down at start is not fatal: the pool reconnects on use. */
    rc = redis_pool_init(cfg.redis_url, (int)cfg.redis_pool_size, (int)cfg.redis_timeout_ms);
    return rc == SC_EUNAVAIL || rc == SC_ETIMEOUT ? SC_OK : rc;
}

static void media_stop(void)
{
    redis_pool_shutdown();
    s3_shutdown();
    image_shutdown();
}

/* What after_commit does: {"id", "status": document text or absent,
 * "delete": [keys]}. */
static json_t *new_result(const char *media_id, const char *staging_key)
{
    return json_pack("{s:s, s:[s]}", "id", media_id, "delete", staging_key);
}

static void result_status(json_t *result, char *status)
{
    if (status) {
        json_object_set_new(result, "status", json_string(status));
    }
    free(status);
}

static sc_code fail_asset(db_conn *tx, const struct media_row *row, const char *reason,
                          json_t *result)
{
    char *status = NULL;
    log_json(LOG_INFO, "media failed",
             json_pack("{s:s, s:s}", "media_id", row->id, "reason", reason));
    sc_code rc = media_mark_failed(tx, row->id, reason, &status);
    result_status(result, status);
    return rc == SC_OK ? catalog_picture_set_status(tx, row->purpose, row->subject_id, "failed")
                       : rc;
}

/* Puts each output under its final key, the PUTs side by side (the largest,
 * the full size, is started first and finished first, by which time the
 * small variants are usually stored), and describes the variants as
 * {name: {key, width, height}}; the full-size key goes to full_key. */
static sc_code store_outputs(const char *base, const struct image_output *outs, size_t n,
                             json_t *variants, char full_key[MEDIA_KEY_LEN])
{
    struct s3_upload *puts[MAX_OUTPUTS] = {0};
    char keys[MAX_OUTPUTS][MEDIA_KEY_LEN];
    size_t order[MAX_OUTPUTS] = {0}, started = 0;
    sc_code rc = SC_OK;
    for (size_t i = 0; i < n; i++) {
        int full = !strcmp(outs[i].name, IMAGE_FULL_NAME);
        media_object_key(base, full ? NULL : outs[i].name, outs[i].ext, keys[i]);
        order[i] = i;
        if (full) { /* to the front */
            memcpy(full_key, keys[i], MEDIA_KEY_LEN);
            order[i] = order[0];
            order[0] = i;
        }
    }
    for (; started < n && rc == SC_OK; started++) {
        const struct image_output *o = &outs[order[started]];
        rc = s3_put_start(keys[order[started]], o->data, o->len, o->mime, NULL, &puts[started]);
    }
    for (size_t i = 0; i < started; i++) {
        sc_code done = puts[i] ? s3_upload_finish(puts[i]) : SC_OK;
        rc = rc == SC_OK ? done : rc;
    }
    for (size_t i = 0; i < n && rc == SC_OK; i++) {
        if (strcmp(outs[i].name, IMAGE_FULL_NAME) &&
            json_object_set_new(variants, outs[i].name,
                                json_pack("{s:s, s:i, s:i}", "key", keys[i], "width", outs[i].width,
                                          "height", outs[i].height))) {
            rc = SC_ENOMEM;
        }
    }
    return rc;
}

/* Marks the asset ready; an avatar (an address proof) also becomes its
 * customer's (address's), and the asset it replaces is queued for deletion;
 * a product image or banner becomes ready to show. */
static sc_code mark_ready(db_conn *tx, const struct media_row *row, const char *key, int width,
                          int height, json_t *variants, json_t *result)
{
    char w[16], h[16], *status = NULL, *vtext = json_dumps(variants, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *old_keys = NULL;
    snprintf(w, sizeof(w), "%d", width);
    snprintf(h, sizeof(h), "%d", height);
    sc_code rc = vtext ? media_mark_ready(tx, row->id, key, width ? w : NULL, height ? h : NULL,
                                          vtext, &status)
                       : SC_ENOMEM;
    result_status(result, status);
    if (rc == SC_OK && row->subject_id[0]) {
        rc = media_attach(tx, row->purpose, row->subject_id, row->id, &old_keys);
        json_array_extend(json_object_get(result, "delete"), old_keys);
    }
    if (rc == SC_OK) {
        rc = catalog_picture_set_status(tx, row->purpose, row->subject_id, "ready");
    }
    json_decref(old_keys);
    free(vtext);
    return rc;
}

static sc_code process_image(db_conn *tx, const struct media_row *row, const char *base,
                             json_t *result)
{
    struct image_output outs[MAX_OUTPUTS];
    char reason[256] = "", full_key[MEDIA_KEY_LEN] = "";
    char *data = NULL;
    size_t len = 0;
    json_t *variants = json_object();
    size_t full = 0;
    memset(outs, 0, sizeof(outs));
    sc_code rc =
        variants ? s3_get(row->staging_key, (size_t)cfg.image_max_bytes, &data, &len) : SC_ENOMEM;
    if (rc == SC_ENOTFOUND || rc == SC_ETOOBIG) {
        rc = fail_asset(tx, row,
                        rc == SC_ETOOBIG ? "the file is larger than IMAGE_MAX_BYTES"
                                         : "the uploaded file is no longer in storage",
                        result);
        goto out;
    }
    if (rc != SC_OK) {
        goto out;
    }
    rc = image_process(data, len, specs, nspecs, outs, reason, sizeof(reason));
    if (rc == SC_EPERMANENT) {
        rc = fail_asset(tx, row, reason, result);
        goto out;
    }
    if (rc != SC_OK || (rc = store_outputs(base, outs, nspecs, variants, full_key)) != SC_OK) {
        goto out;
    }
    while (full < nspecs && strcmp(outs[full].name, IMAGE_FULL_NAME)) {
        full++;
    }
    rc = full < nspecs
             ? mark_ready(tx, row, full_key, outs[full].width, outs[full].height, variants, result)
             : SC_EINTERNAL;
out:
    image_output_free(outs, nspecs);
    json_decref(variants);
    free(data);
    return rc;
}

/* The container is checked again from the stored bytes (the row's type came
 * from the client's upload); then the object moves to its final key. */
static sc_code process_video(db_conn *tx, const struct media_row *row, const char *base,
                             json_t *result)
{
    char *head = NULL, key[MEDIA_KEY_LEN], reason[160];
    size_t len = 0;
    json_t *none = NULL;
    sc_code rc = s3_get_prefix(row->staging_key, FILETYPE_SNIFF_BYTES, &head, &len);
    if (rc == SC_ENOTFOUND) {
        rc = fail_asset(tx, row, "the uploaded file is no longer in storage", result);
        goto out;
    }
    if (rc != SC_OK) {
        goto out;
    }
    enum filetype type = filetype_detect(head, len);
    if (filetype_kind(type) != FILETYPE_KIND_VIDEO) {
        snprintf(reason, sizeof(reason), "the file is not a video of an accepted type (%s)",
                 filetype_accepted(FILETYPE_KIND_VIDEO));
        rc = fail_asset(tx, row, reason, result);
        goto out;
    }
    media_object_key(base, NULL, filetype_ext(type), key);
    if ((rc = s3_copy(row->staging_key, key)) != SC_OK) {
        goto out;
    }
    rc = (none = json_object()) ? mark_ready(tx, row, key, 0, 0, none, result) : SC_ENOMEM;
out:
    json_decref(none);
    free(head);
    return rc;
}

static sc_code media_handle(struct work_ctx *ctx, const struct envelope *msg, db_conn *tx)
{
    struct media_job job;
    struct media_row row;
    char base[MEDIA_KEY_LEN], staging[MEDIA_KEY_LEN];
    if (strcmp(msg->type, MEDIA_JOB_TYPE) || msg->version != MEDIA_JOB_VERSION) {
        snprintf(ctx->error, sizeof(ctx->error), "expected %s version %d", MEDIA_JOB_TYPE,
                 MEDIA_JOB_VERSION);
        return SC_EPERMANENT;
    }
    if (media_job_decode(msg->data, &job, ctx->error, sizeof(ctx->error)) != SC_OK) {
        return SC_EPERMANENT;
    }
    media_staging_key(job.media_id, staging);
    if (!(ctx->result = new_result(job.media_id, staging))) {
        return SC_ENOMEM;
    }
    sc_code rc = media_lock(tx, job.media_id, &row);
    if (rc == SC_ENOTFOUND) {
        return SC_OK; /* deleted meanwhile: only the staging object may remain */
    }
    if (rc != SC_OK) {
        return rc;
    }
    if (strcmp(row.status, "pending")) {
        char *status = NULL;
        rc = media_status_of(tx, row.id, &status); /* republished: heals a stale cache */
        result_status(ctx->result, status);
        return rc;
    }
    if ((rc = media_base_key(row.purpose, row.tenant_id, row.owner_id, row.id, base)) != SC_OK) {
        snprintf(ctx->error, sizeof(ctx->error), "no key layout for purpose %s", row.purpose);
        return SC_EPERMANENT;
    }
    /* Dropped before the change commits: if this process dies between the
     * commit and the publish, readers miss and ask Postgres. */
    media_status_forget(row.id);
    rc = !strcmp(row.kind, "video") ? process_video(tx, &row, base, ctx->result)
                                    : process_image(tx, &row, base, ctx->result);
    if (rc != SC_OK) {
        snprintf(ctx->error, sizeof(ctx->error), "media %s: %s", row.id, sc_strerror(rc));
    }
    return rc;
}

static void media_after_commit(struct work_ctx *ctx, const struct envelope *msg)
{
    (void)msg;
    json_t *r = ctx->result;
    const char *id = json_string_value(json_object_get(r, "id"));
    const char *status = json_string_value(json_object_get(r, "status"));
    sc_code rc = status ? media_status_publish(id, status) : SC_OK;
    if (rc != SC_OK) {
        log_json(LOG_WARN, "media status not published",
                 json_pack("{s:s, s:s}", "media_id", id, "error", sc_strerror(rc)));
    }
    /* One request for the staging object and a replaced avatar's objects;
     * s3_delete_many logs each key it could not delete. */
    if ((rc = media_delete_objects(json_object_get(r, "delete"))) != SC_OK) {
        log_json(LOG_WARN, "media objects not all deleted",
                 json_pack("{s:s, s:s}", "media_id", id, "error", sc_strerror(rc)));
    }
}

const struct worker_role role_media = {
    .name = "media",
    .topic = &cfg.kafka_topic_media,
    .start = media_start,
    .stop = media_stop,
    .handle = media_handle,
    .after_commit = media_after_commit,
};
