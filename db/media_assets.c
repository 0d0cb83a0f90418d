/* Media assets data access (see media_assets.h). Every statement takes the
 * public URL base as a parameter so Postgres can render URLs from keys. */
#include "media_assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Like db_query_text for a short value copied into out (size n). */
static sc_code query_short(db_conn *c, const char *sql, int nparams, const char *const *params,
                           char *out, size_t n)
{
    char *text = NULL;
    sc_code rc = db_query_text(c, &text, sql, nparams, params);
    if (rc == SC_OK) {
        snprintf(out, n, "%s", text);
    }
    free(text);
    return rc;
}

sc_code media_insert(db_conn *c, const struct media_new *m, char **out, char **status)
{
    static const char sql[] =
        "INSERT INTO media_assets AS m (id, tenant_id, owner_id, kind, purpose, subject_id,"
        " original_name, content_type, size_bytes, sha256, staging_key, object_key)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " RETURNING media_json(m, $13)::text, media_status_json(m, $13)::text";
    char size[24];
    snprintf(size, sizeof(size), "%lld", m->size_bytes);
    const char *params[] = {m->id,          m->tenant_id,     m->owner_id,     m->kind, m->purpose,
                            m->subject_id,  m->original_name, m->content_type, size,    m->sha256,
                            m->staging_key, m->object_key,    cfg.public_url};
    db_rows *rows = NULL;
    *out = *status = NULL;
    sc_code rc = db_exec(c, &rows, sql, 13, params);
    if (rc == SC_OK) {
        *out = strdup(db_value(rows, 0, 0));
        *status = strdup(db_value(rows, 0, 1));
        if (!*out || !*status) {
            free(*out);
            free(*status);
            *out = *status = NULL;
            rc = SC_ENOMEM;
        }
    }
    db_rows_free(rows);
    return rc;
}

sc_code media_remove(db_conn *c, const char *id)
{
    const char *params[] = {id};
    return db_exec(c, NULL, "DELETE FROM media_assets WHERE id = $1", 1, params);
}

/* The visibility rule every viewer query shares: $2 tenant, $3 user, $4 admin. */
#define VISIBLE "m.tenant_id = $2::uuid AND ($4::boolean OR m.owner_id = $3::uuid)"

sc_code media_get(db_conn *c, const struct media_viewer *v, const char *id, char **out)
{
    static const char sql[] =
        "SELECT media_json(m, $5)::text FROM media_assets m WHERE m.id = $1::uuid AND " VISIBLE;
    const char *params[] = {id, v->tenant_id, v->user_id, v->is_admin ? "t" : "f", cfg.public_url};
    return db_query_text(c, out, sql, 5, params);
}

sc_code media_status(db_conn *c, const struct media_viewer *v, const char *id, char **out)
{
    static const char sql[] = "SELECT media_status_json(m, $5)::text FROM media_assets m"
                              " WHERE m.id = $1::uuid AND " VISIBLE;
    const char *params[] = {id, v->tenant_id, v->user_id, v->is_admin ? "t" : "f", cfg.public_url};
    return db_query_text(c, out, sql, 5, params);
}

sc_code media_list(db_conn *c, const struct media_viewer *v, const char *kind, const char *skip,
                   const char *limit, char **out)
{
    static const char sql[] =
        "SELECT coalesce(json_agg(media_json(p, $5) ORDER BY p.created_at DESC, p.id DESC),"
        " '[]')::text FROM (SELECT m.* FROM media_assets m"
        " WHERE ($1::text IS NULL OR m.kind = $1) AND " VISIBLE
        " ORDER BY m.created_at DESC, m.id DESC OFFSET $6 LIMIT $7) p";
    const char *params[] = {kind,           v->tenant_id, v->user_id, v->is_admin ? "t" : "f",
                            cfg.public_url, skip,         limit};
    return db_query_text(c, out, sql, 7, params);
}

sc_code media_lock_visible(db_conn *tx, const struct media_viewer *v, const char *id, json_t **keys)
{
    static const char sql[] =
        "SELECT media_object_keys(m)::text FROM media_assets m"
        " WHERE m.id = $1::uuid AND m.purpose IN ('media', 'avatar', 'address_proof') AND " VISIBLE
        " FOR UPDATE";
    const char *params[] = {id, v->tenant_id, v->user_id, v->is_admin ? "t" : "f"};
    char *text = NULL;
    *keys = NULL;
    sc_code rc = db_query_text(tx, &text, sql, 4, params);
    if (rc == SC_OK && !(*keys = json_loads(text, 0, NULL))) {
        rc = SC_EINTERNAL;
    }
    free(text);
    return rc;
}

sc_code media_customer_of_user(db_conn *c, const char *tenant, const char *user_id,
                               char customer_id[37])
{
    static const char sql[] =
        "SELECT id FROM customers WHERE user_id = $1::uuid AND tenant_id = $2::uuid";
    const char *params[] = {user_id, tenant};
    return query_short(c, sql, 2, params, customer_id, 37);
}

sc_code media_customer_user(db_conn *c, const char *tenant, const char *customer_id,
                            char user_id[37])
{
    static const char sql[] =
        "SELECT user_id FROM customers WHERE id = $1::uuid AND tenant_id = $2::uuid";
    const char *params[] = {customer_id, tenant};
    return query_short(c, sql, 2, params, user_id, 37);
}

/* Copies column col of row 0 into dst (size n); "" for NULL. */
static void copy_column(const db_rows *rows, int col, char *dst, size_t n)
{
    const char *v = db_value(rows, 0, col);
    snprintf(dst, n, "%s", v ? v : "");
}

sc_code media_lock(db_conn *tx, const char *id, struct media_row *out)
{
    static const char sql[] =
        "SELECT id, tenant_id, owner_id, subject_id, kind, purpose, status, staging_key,"
        " object_key FROM media_assets WHERE id = $1::uuid FOR UPDATE";
    const char *params[] = {id};
    db_rows *rows = NULL;
    memset(out, 0, sizeof(*out));
    sc_code rc = db_exec(tx, &rows, sql, 1, params);
    if (rc == SC_OK && db_nrows(rows) == 0) {
        rc = SC_ENOTFOUND;
    }
    if (rc == SC_OK) {
        copy_column(rows, 0, out->id, sizeof(out->id));
        copy_column(rows, 1, out->tenant_id, sizeof(out->tenant_id));
        copy_column(rows, 2, out->owner_id, sizeof(out->owner_id));
        copy_column(rows, 3, out->subject_id, sizeof(out->subject_id));
        copy_column(rows, 4, out->kind, sizeof(out->kind));
        copy_column(rows, 5, out->purpose, sizeof(out->purpose));
        copy_column(rows, 6, out->status, sizeof(out->status));
        copy_column(rows, 7, out->staging_key, sizeof(out->staging_key));
        copy_column(rows, 8, out->object_key, sizeof(out->object_key));
    }
    db_rows_free(rows);
    return rc;
}

sc_code media_mark_ready(db_conn *tx, const char *id, const char *object_key, const char *width,
                         const char *height, const char *variants, char **status)
{
    static const char sql[] =
        "UPDATE media_assets AS m SET status = 'ready', object_key = $2, width = $3,"
        " height = $4, variants = $5::jsonb, failure_reason = NULL, updated_at = now()"
        " WHERE id = $1::uuid RETURNING media_status_json(m, $6)::text";
    const char *params[] = {id, object_key, width, height, variants, cfg.public_url};
    return db_query_text(tx, status, sql, 6, params);
}

sc_code media_mark_failed(db_conn *tx, const char *id, const char *reason, char **status)
{
    static const char sql[] =
        "UPDATE media_assets AS m SET status = 'failed', failure_reason = left($2, 1000),"
        " updated_at = now() WHERE id = $1::uuid RETURNING media_status_json(m, $3)::text";
    const char *params[] = {id, reason, cfg.public_url};
    return db_query_text(tx, status, sql, 3, params);
}

sc_code media_status_of(db_conn *c, const char *id, char **status)
{
    static const char sql[] =
        "SELECT media_status_json(m, $2)::text FROM media_assets m WHERE m.id = $1::uuid";
    const char *params[] = {id, cfg.public_url};
    return db_query_text(c, status, sql, 2, params);
}

sc_code media_attach(db_conn *tx, const char *purpose, const char *subject, const char *media,
                     json_t **old_keys)
{
    const char *params[] = {purpose, subject, media};
    char *text = NULL;
    *old_keys = NULL;
    sc_code rc =
        db_query_text(tx, &text, "SELECT media_attach($1, $2::uuid, $3::uuid)::text", 3, params);
    if (rc == SC_OK && !(*old_keys = json_loads(text, 0, NULL))) {
        rc = SC_EINTERNAL;
    }
    free(text);
    return rc;
}
