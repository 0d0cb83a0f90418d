/* AI models and product vectors data access (see models.h). */
#include "models.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uuid.h"

const char *model_type_name(enum model_type t)
{
    return t == MODEL_EMBEDDING ? "EMBEDDING" : "CROP";
}

const char *model_type_folder(enum model_type t)
{
    return t == MODEL_EMBEDDING ? "embedding" : "crop";
}

/* ---- models ---- */

#define KEY_PART_MAX 64
#define EXT_MAX 16

/* Appends the key-safe form of s (see models_object_key) to out at *len. */
static void key_part(const char *s, char *out, size_t *len)
{
    size_t start = *len;
    for (const unsigned char *p = (const unsigned char *)s; *p && *len - start < KEY_PART_MAX;
         p++) {
        if ((*p < 0x80 && isalnum(*p)) || *p == '.' || *p == '_' || *p == '-') {
            out[(*len)++] = (char)*p;
        } else if ((*p & 0xC0) != 0x80) { /* one '_' per character, none per continuation byte */
            out[(*len)++] = '_';
        }
    }
}

void models_object_key(enum model_type t, const char *name, const char *version, const char *id,
                       const char *filename, char out[MODEL_KEY_LEN])
{
    char ext[EXT_MAX + 1] = "bin";
    const char *dot = filename ? strrchr(filename, '.') : NULL;
    size_t n = dot ? strlen(dot + 1) : 0;
    if (n >= 1 && n <= EXT_MAX) {
        for (size_t i = 0; i <= n; i++) {
            ext[i] = (char)tolower((unsigned char)dot[1 + i]);
        }
        for (size_t i = 0; i < n; i++) {
            if (!isalnum((unsigned char)ext[i]) || (unsigned char)ext[i] >= 0x80) {
                snprintf(ext, sizeof(ext), "bin");
                break;
            }
        }
    }
    size_t len = (size_t)snprintf(out, MODEL_KEY_LEN, "models/%s/", model_type_folder(t));
    key_part(name, out, &len);
    out[len++] = '-';
    key_part(version, out, &len);
    snprintf(out + len, MODEL_KEY_LEN - len, "-%s.%s", id, ext);
}

sc_code models_insert(db_conn *c, const struct model_new *m, json_t **out)
{
    char size[24];
    snprintf(size, sizeof(size), "%lld", m->size_bytes);
    const char *p[] = {m->id,         m->tenant_id, m->name,  m->version, model_type_name(m->type),
                       m->object_key, size,         m->sha256};
    return db_query_json(c, out,
                         "INSERT INTO ai_models (id, tenant_id, name, version, model_type, "
                         "object_key, size_bytes, sha256) "
                         "VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7::bigint, $8) "
                         "RETURNING ai_model_json(ai_models)",
                         8, p);
}

sc_code models_get(db_conn *c, const char *tenant, const char *id, json_t **out)
{
    const char *p[] = {id, tenant};
    return db_query_json(c, out,
                         "SELECT ai_model_json(m) FROM ai_models m "
                         "WHERE m.id = $1::uuid AND m.tenant_id = $2::uuid",
                         2, p);
}

sc_code models_latest(db_conn *c, const char *tenant, enum model_type t, json_t **out)
{
    const char *p[] = {tenant, model_type_name(t)};
    return db_query_json(c, out,
                         "SELECT ai_model_json(m) FROM ai_models m "
                         "WHERE m.tenant_id = $1::uuid AND m.model_type = $2 "
                         "ORDER BY m.uploaded_at DESC, m.id DESC LIMIT 1",
                         2, p);
}

sc_code models_list(db_conn *c, const char *tenant, enum model_type t, json_t **out)
{
    const char *p[] = {tenant, model_type_name(t)};
    return db_query_json(c, out,
                         "SELECT json_build_object('models', coalesce(json_agg(ai_model_json(m) "
                         "ORDER BY m.uploaded_at DESC, m.id DESC), '[]')) FROM ai_models m "
                         "WHERE m.tenant_id = $1::uuid AND m.model_type = $2",
                         2, p);
}

sc_code models_lock(db_conn *tx, const char *tenant, const char *id, char **key)
{
    const char *p[] = {id, tenant};
    return db_query_text(tx, key,
                         "SELECT object_key FROM ai_models "
                         "WHERE id = $1::uuid AND tenant_id = $2::uuid FOR UPDATE",
                         2, p);
}

sc_code models_remove(db_conn *tx, const char *id)
{
    const char *p[] = {id};
    return db_exec(tx, NULL, "DELETE FROM ai_models WHERE id = $1::uuid", 1, p);
}

/* ---- vectors ---- */

/* Writes the message to err and returns rc. */
static sc_code fail(sc_code rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sc_code fail(sc_code rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Checks one embedding (vector i) against the dimension *dim (0: not known
 * yet, then set from it). */
static sc_code check_embedding(const json_t *emb, size_t i, size_t *dim, char *err, size_t errlen)
{
    size_t n = json_array_size(emb);
    if (!json_is_array(emb) || n == 0 || n > VECTORS_MAX_DIM) {
        return fail(SC_EINVAL, err, errlen,
                    "vectors[%zu].embedding must be an array of 1 to %d numbers", i,
                    VECTORS_MAX_DIM);
    }
    if (*dim && n != *dim) {
        return fail(SC_EINVAL, err, errlen,
                    "vectors[%zu].embedding has %zu dimensions, vectors[0] has %zu", i, n, *dim);
    }
    *dim = n;
    for (size_t k = 0; k < n; k++) {
        const json_t *x = json_array_get(emb, k);
        if (!json_is_number(x) || !(fabs(json_number_value(x)) <= FLT_MAX)) {
            return fail(SC_EINVAL, err, errlen,
                        "vectors[%zu].embedding[%zu] is not a single-precision number", i, k);
        }
    }
    return SC_OK;
}

sc_code vectors_validate(const json_t *doc, size_t *count, size_t *dim, char *err, size_t errlen)
{
    const json_t *vectors = json_object_get(doc, "vectors");
    json_t *seen = json_object();
    sc_code rc = SC_OK;
    *count = 0;
    *dim = 0;
    if (!seen) {
        return fail(SC_ENOMEM, err, errlen, "out of memory");
    }
    if (!json_is_array(vectors) || json_array_size(vectors) == 0) {
        rc = fail(SC_EINVAL, err, errlen,
                  "the file must be a JSON object with a non-empty \"vectors\" array");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(vectors); i++) {
        const json_t *v = json_array_get(vectors, i);
        const char *pid = json_string_value(json_object_get(v, "product_id"));
        char id[37];
        if (!uuid_valid(pid)) {
            rc = fail(SC_EINVAL, err, errlen, "vectors[%zu].product_id must be a UUID", i);
            goto out;
        }
        for (size_t k = 0; k < sizeof(id); k++) {
            id[k] = (char)tolower((unsigned char)pid[k]);
        }
        if (json_object_get(seen, id)) {
            rc = fail(SC_EINVAL, err, errlen, "vectors[%zu]: product %s appears twice", i, id);
            goto out;
        }
        if (json_object_set_new(seen, id, json_true()) != 0) {
            rc = fail(SC_ENOMEM, err, errlen, "out of memory");
            goto out;
        }
        if ((rc = check_embedding(json_object_get(v, "embedding"), i, dim, err, errlen)) != SC_OK) {
            goto out;
        }
    }
    *count = json_array_size(vectors);
out:
    json_decref(seen);
    return rc;
}

/* The import's statements after validation, inside the open transaction tx;
 * doc is the document's JSON text. */
static sc_code import_in(db_conn *tx, const char *doc, const char *model_id, int replace, char *err,
                         size_t errlen)
{
    const char *p[] = {doc, model_id};
    char *text = NULL;
    /* Imports are rare: one at a time keeps the dimension check below true
     * under concurrency. */
    sc_code rc =
        db_exec(tx, NULL, "SELECT pg_advisory_xact_lock(hashtext('product_vectors'))", 0, NULL);
    if (rc != SC_OK) {
        return rc;
    }
    rc = db_query_text(tx, &text,
                       "SELECT e->>'product_id' FROM json_array_elements($1::json->'vectors') e "
                       "WHERE NOT EXISTS (SELECT 1 FROM products p "
                       "WHERE p.id = (e->>'product_id')::uuid) LIMIT 1",
                       1, p);
    if (rc == SC_OK) {
        rc = fail(SC_EFOREIGN, err, errlen, "product %s does not exist", text);
        free(text);
        return rc;
    }
    if (rc != SC_ENOTFOUND) {
        return rc;
    }
    if (model_id) {
        rc = db_query_text(
            tx, NULL, "SELECT 1 FROM ai_models WHERE id = $1::uuid AND model_type = 'EMBEDDING'", 1,
            &model_id);
        if (rc == SC_ENOTFOUND) {
            return fail(SC_EFOREIGN, err, errlen, "%s is not an EMBEDDING model", model_id);
        }
        if (rc != SC_OK) {
            return rc;
        }
    }
    if (replace && (rc = db_exec(tx, NULL,
                                 "DELETE FROM product_vectors v USING products p "
                                 "WHERE p.id = v.product_id AND p.tenant_id IN ("
                                 "SELECT q.tenant_id FROM products q "
                                 "JOIN json_array_elements($1::json->'vectors') e "
                                 "ON q.id = (e->>'product_id')::uuid)",
                                 1, p)) != SC_OK) {
        return rc;
    }
    rc = db_exec(tx, NULL,
                 "INSERT INTO product_vectors AS v (product_id, model_id, embedding) "
                 "SELECT (e->>'product_id')::uuid, $2::uuid, ARRAY("
                 "SELECT x::real FROM json_array_elements_text(e->'embedding') "
                 "WITH ORDINALITY AS t(x, i) ORDER BY i) "
                 "FROM json_array_elements($1::json->'vectors') e "
                 "ON CONFLICT (product_id) DO UPDATE SET model_id = excluded.model_id, "
                 "embedding = excluded.embedding, created_at = now()",
                 2, p);
    if (rc != SC_OK) {
        return rc;
    }
    rc = db_query_text(tx, &text,
                       "SELECT p.tenant_id || ': ' || string_agg(DISTINCT "
                       "cardinality(v.embedding)::text, ' and ') "
                       "FROM product_vectors v JOIN products p ON p.id = v.product_id "
                       "WHERE p.tenant_id IN (SELECT q.tenant_id FROM products q "
                       "JOIN json_array_elements($1::json->'vectors') e "
                       "ON q.id = (e->>'product_id')::uuid) "
                       "GROUP BY p.tenant_id HAVING count(DISTINCT cardinality(v.embedding)) > 1 "
                       "LIMIT 1",
                       1, p);
    if (rc == SC_OK) {
        rc = fail(SC_ECONFLICT, err, errlen,
                  "the vectors of tenant %s would have mixed dimensions; import with --replace "
                  "to swap them all",
                  text);
        free(text);
        return rc;
    }
    return rc == SC_ENOTFOUND ? SC_OK : rc;
}

sc_code vectors_import(db_conn *c, const json_t *doc, const char *model_id, int replace,
                       size_t *count, char *err, size_t errlen)
{
    size_t n = 0, dim = 0;
    *count = 0;
    sc_code rc = vectors_validate(doc, &n, &dim, err, errlen);
    if (rc != SC_OK) {
        return rc;
    }
    if (model_id && !uuid_valid(model_id)) {
        return fail(SC_EINVAL, err, errlen, "the model id must be a UUID");
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text) {
        return fail(SC_ENOMEM, err, errlen, "out of memory");
    }
    snprintf(err, errlen, "%s", "");
    if ((rc = db_begin(c)) == SC_OK &&
        (rc = import_in(c, text, model_id, replace, err, errlen)) == SC_OK) {
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        if (!*err) {
            snprintf(err, errlen, "%s: %s", sc_strerror(rc), db_error_message(c));
        }
        db_rollback(c);
    }
    free(text);
    *count = rc == SC_OK ? n : 0;
    return rc;
}

sc_code vectors_download(db_conn *c, const char *tenant, char **out)
{
    return db_query_text(c, out,
                         "SELECT json_build_object('vectors', coalesce(json_agg(json_build_object("
                         "'product_id', v.product_id, 'embedding', v.embedding) "
                         "ORDER BY v.product_id), '[]')) "
                         "FROM product_vectors v JOIN products p ON p.id = v.product_id "
                         "WHERE p.tenant_id = $1::uuid",
                         1, &tenant);
}

sc_code vectors_last_updated(db_conn *c, const char *tenant, char **out)
{
    return db_query_text(c, out,
                         "SELECT json_build_object('last_updated', to_char(max(v.created_at) "
                         "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) "
                         "FROM product_vectors v JOIN products p ON p.id = v.product_id "
                         "WHERE p.tenant_id = $1::uuid",
                         1, &tenant);
}
