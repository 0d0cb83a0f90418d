/* Accepting an upload for the media pipeline (see media_upload.h). */
#include "media_upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "handlers.h"
#include "image.h"
#include "kafka.h"
#include "log.h"
#include "media.h"
#include "s3.h"
#include "schemas/envelope.h"
#include "schemas/media_job.h"

#define JSON_TYPE "application/json"
#define DETAIL_NOT_QUEUED "Media processing is unavailable right now; please try again later"

enum upload_problem media_upload_check(struct http_request *req, const char *field,
                                       enum filetype_kind kind, const struct http_upload **up,
                                       enum filetype *type)
{
    *up = http_upload_file(req, field);
    if (!*up) {
        return UPLOAD_MISSING;
    }
    if ((*up)->size == 0) {
        return UPLOAD_EMPTY;
    }
    *type = filetype_detect((*up)->head, (*up)->head_len);
    return filetype_kind(*type) == kind ? UPLOAD_OK : UPLOAD_WRONG_TYPE;
}

/* The file part when it is present, non-empty and of the target's kind;
 * otherwise replies 422 or 415 and returns NULL. */
static const struct http_upload *checked_file(struct http_request *req, struct http_response *res,
                                              const char *field, enum filetype_kind kind,
                                              enum filetype *type)
{
    const struct http_upload *up = NULL;
    char detail[160];
    switch (media_upload_check(req, field, kind, &up, type)) {
    case UPLOAD_OK:
        return up;
    case UPLOAD_MISSING:
        http_reply_field_error(res, "body", field, "Field required", "missing");
        break;
    case UPLOAD_EMPTY:
        http_reply_field_error(res, "body", field, "The file is empty", "value_error");
        break;
    case UPLOAD_WRONG_TYPE:
        snprintf(detail, sizeof(detail), "Unsupported file type; accepted: %s",
                 filetype_accepted(kind));
        http_reply_error(res, 415, detail);
        break;
    }
    return NULL;
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
static void forget_upload(const struct upload_target *t, const char *media_id,
                          const char *staging_key)
{
    db_conn *c = db_acquire();
    sc_code rc = c ? media_remove(c, media_id) : SC_EUNAVAIL;
    if (rc == SC_OK && t->forget) {
        rc = t->forget(c, t->subject);
    }
    db_release(c);
    sc_code rs = s3_delete(staging_key);
    if (rc != SC_OK || rs != SC_OK) {
        log_json(LOG_ERROR, "could not undo an upload that was not enqueued",
                 json_pack("{s:s, s:s, s:s}", "media_id", media_id, "row", sc_strerror(rc),
                           "staging", sc_strerror(rs)));
    }
}

/* Inserts the pending asset and the target's own row, if it has one, in one
 * transaction (the answer in *out). A plain upload's row is a transaction of
 * its own, committed together with concurrent uploads' rows (group commit).
 * The pending status is not cached in Redis: a status poll that misses reads
 * the row, and the worker drops the key when it takes the job anyway, so
 * caching it cost every upload a Redis write (and its undo a delete) for the
 * few polls before the worker's status. */
static sc_code record_upload(const struct upload_target *t, const struct media_new *m, char **out)
{
    char *answer = NULL;
    *out = NULL;
    if (!t->record) {
        return media_insert_committed(m, out);
    }
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    sc_code rc = db_begin(c);
    if (rc == SC_OK) {
        rc = media_insert(c, m, out);
    }
    if (rc == SC_OK && (rc = t->record(c, m, t->arg, &answer)) == SC_OK) {
        free(*out);
        *out = answer;
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        db_rollback(c);
        free(*out);
        *out = NULL;
    }
    db_release(c);
    return rc;
}

void media_accept_upload(struct http_request *req, struct http_response *res,
                         const struct auth_identity *who, const struct upload_target *t)
{
    enum filetype type;
    const struct http_upload *up =
        checked_file(req, res, t->field ? t->field : "file", t->kind, &type);
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
        handler_reply_failure(res, SC_EINTERNAL);
        return;
    }
    /* The worker writes the full-size image at exactly this key: its type
     * follows from the input type alone. */
    media_object_key(base, NULL,
                     filetype_ext(t->kind == FILETYPE_KIND_IMAGE ? image_full_type(type) : type),
                     object);
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
    /* The PUT and the row are independent: the bytes travel to S3 while
     * Postgres commits the pending asset. Only the job, produced once both
     * are in place, lets a worker see the upload. The PUT signs the SHA-256
     * taken while the body streamed in, the row's sha256: S3 stores exactly
     * those bytes or refuses them. A part held in memory goes from there
     * (one copy into curl's buffer, not two through a stream). */
    struct s3_upload *put = NULL;
    rc = up->data
             ? s3_put_start(staging, up->data, up->size, m.content_type, up->sha256, &put)
             : s3_put_file_start(staging, up->file, up->size, m.content_type, up->sha256, &put);
    if (rc != SC_OK) {
        handler_reply_failure(res, rc);
        return;
    }
    sc_code recorded = record_upload(t, &m, &out);
    if ((rc = s3_upload_finish(put)) != SC_OK) {
        if (recorded == SC_OK) {
            forget_upload(t, id, staging);
        }
        free(out);
        handler_reply_failure(res, rc);
        return;
    }
    if ((rc = recorded) != SC_OK) {
        s3_delete(staging);
        if ((rc == SC_ENOTFOUND || rc == SC_EFOREIGN) && t->not_found) {
            http_reply_error(res, 404, t->not_found);
        } else {
            handler_reply_failure(res, rc);
        }
        return;
    }
    if ((rc = enqueue(id, who->tenant_id)) != SC_OK) {
        log_json(LOG_ERROR, "media job not enqueued; upload undone",
                 json_pack("{s:s, s:s}", "media_id", id, "error", sc_strerror(rc)));
        forget_upload(t, id, staging);
        free(out);
        http_reply_error(res, 503, DETAIL_NOT_QUEUED);
        return;
    }
    http_reply_raw(res, t->status, JSON_TYPE, out, strlen(out));
}
