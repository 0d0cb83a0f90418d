/* Media assets data access (see media_assets.h). Every statement takes the
 * public URL base as a parameter so Postgres can render URLs from keys. */
#include "media_assets.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

sc_code media_insert(db_conn *c, const struct media_new *m, char **out)
{
    static const char sql[] =
        "INSERT INTO media_assets AS m (id, tenant_id, owner_id, kind, purpose, subject_id,"
        " original_name, content_type, size_bytes, sha256, staging_key, object_key)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " RETURNING media_json(m, $13)::text";
    char size[24];
    snprintf(size, sizeof(size), "%lld", m->size_bytes);
    const char *params[] = {m->id,          m->tenant_id,     m->owner_id,     m->kind, m->purpose,
                            m->subject_id,  m->original_name, m->content_type, size,    m->sha256,
                            m->staging_key, m->object_key,    cfg.public_url};
    return db_query_text(c, out, sql, 13, params);
}

/* ---- group commit of pending rows ----
 * Each upload's INSERT used to be a statement and a commit of its own:
 * ~0.3 ms of Postgres CPU, of which a row among a few others costs ~0.2.
 * Callers queue their row; one of them (the leader: whoever finds no batch
 * running) takes everything queued, inserts it in one statement, answers
 * every caller of the batch and wakes the first one queued meanwhile, which
 * leads the next batch. No thread of its own, and a caller alone runs its
 * INSERT itself, as before. */

#define INSERT_BATCH_MAX 64

struct insert_job {
    const struct media_new *m;
    struct insert_job *next;
    pthread_cond_t answered; /* signalled when done is set, and to make it the leader */
    int done;
    sc_code rc;
    char *out;
};

static struct {
    pthread_mutex_t lock;
    struct insert_job *head, **tail;
    int running; /* a leader is inserting a batch */
} inserts = {.lock = PTHREAD_MUTEX_INITIALIZER, .tail = &inserts.head};

/* The rows of batch as one JSON array of objects; NULL when out of memory. */
static char *rows_json(const struct insert_job *batch)
{
    json_t *rows = json_array();
    char *text = NULL;
    for (const struct insert_job *j = batch; j && rows; j = j->next) {
        const struct media_new *m = j->m;
        if (json_array_append_new(
                rows, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:s, s:I, s:s, s:s, s:s}",
                                "id", m->id, "tenant_id", m->tenant_id, "owner_id", m->owner_id,
                                "kind", m->kind, "purpose", m->purpose, "subject_id", m->subject_id,
                                "original_name", m->original_name, "content_type", m->content_type,
                                "size_bytes", (json_int_t)m->size_bytes, "sha256", m->sha256,
                                "staging_key", m->staging_key, "object_key", m->object_key)) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    if (rows) {
        text = json_dumps(rows, JSON_COMPACT);
        json_decref(rows);
    }
    return text;
}

/* Inserts the rows of batch (two or more) in one statement and answers each
 * job from its row. SC_OK when the statement committed; otherwise nothing
 * was inserted and no job is answered. */
static sc_code insert_together(db_conn *c, struct insert_job *batch)
{
    static const char sql[] =
        "INSERT INTO media_assets AS m (id, tenant_id, owner_id, kind, purpose, subject_id,"
        " original_name, content_type, size_bytes, sha256, staging_key, object_key)"
        " SELECT r.id, r.tenant_id, r.owner_id, r.kind, r.purpose, r.subject_id, r.original_name,"
        " r.content_type, r.size_bytes, r.sha256, r.staging_key, r.object_key"
        " FROM json_to_recordset($1::json) AS r(id uuid, tenant_id uuid, owner_id uuid, kind text,"
        " purpose text, subject_id uuid, original_name text, content_type text,"
        " size_bytes bigint, sha256 text, staging_key text, object_key text)"
        " RETURNING m.id::text, media_json(m, $2)::text";
    char *rows_text = rows_json(batch);
    const char *params[] = {rows_text, cfg.public_url};
    db_rows *rows = NULL;
    sc_code rc = rows_text ? db_exec(c, &rows, sql, 2, params) : SC_ENOMEM;
    for (struct insert_job *j = batch; j && rc == SC_OK; j = j->next) {
        int row = 0;
        while (row < db_nrows(rows) && strcasecmp(db_value(rows, row, 0), j->m->id) != 0) {
            row++;
        }
        j->out = row < db_nrows(rows) ? strdup(db_value(rows, row, 1)) : NULL;
        j->rc = row == db_nrows(rows) ? SC_EINTERNAL : !j->out ? SC_ENOMEM : SC_OK;
    }
    db_rows_free(rows);
    free(rows_text);
    return rc;
}

/* Inserts batch and answers each of its jobs. */
static void insert_batch(struct insert_job *batch)
{
    db_conn *c = db_acquire();
    int together = c && batch->next && insert_together(c, batch) == SC_OK;
    for (struct insert_job *j = batch; j && !together; j = j->next) {
        /* alone, or after the batch failed: each row on its own */
        j->rc = c ? media_insert(c, j->m, &j->out) : SC_EUNAVAIL;
    }
    db_release(c);
    pthread_mutex_lock(&inserts.lock);
    for (struct insert_job *j = batch, *next; j; j = next) {
        next = j->next; /* j belongs to its caller again once done is set */
        j->done = 1;
        pthread_cond_signal(&j->answered);
    }
    pthread_mutex_unlock(&inserts.lock);
}

sc_code media_insert_committed(const struct media_new *m, char **out)
{
    struct insert_job self = {.m = m};
    pthread_cond_init(&self.answered, NULL);
    pthread_mutex_lock(&inserts.lock);
    *inserts.tail = &self;
    inserts.tail = &self.next;
    while (!self.done) {
        if (inserts.running) {
            pthread_cond_wait(&self.answered, &inserts.lock);
            continue;
        }
        /* Lead: take up to INSERT_BATCH_MAX queued rows (this one first). */
        struct insert_job *batch = inserts.head, **end = &inserts.head;
        for (int n = 0; *end && n < INSERT_BATCH_MAX; n++) {
            end = &(*end)->next;
        }
        inserts.head = *end;
        inserts.tail = inserts.head ? inserts.tail : &inserts.head;
        *end = NULL;
        inserts.running = 1;
        pthread_mutex_unlock(&inserts.lock);
        insert_batch(batch);
        pthread_mutex_lock(&inserts.lock);
        inserts.running = 0;
        if (inserts.head) {
            pthread_cond_signal(&inserts.head->answered);
        }
    }
    pthread_mutex_unlock(&inserts.lock);
    pthread_cond_destroy(&self.answered);
    *out = self.out;
    return self.rc;
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
