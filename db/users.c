/* Users data access. Postgres builds the JSON the API returns; uniqueness of
 * email (any case) and the allowed roles are enforced by the schema
 * (0001_foundation.sql), so this file never checks before it inserts. */
#include "users.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "jwt_token.h"
#include "log.h"

/* ASCII letters and digits, and every byte of a UTF-8 sequence (jansson has
 * already rejected malformed UTF-8 by the time an address gets here). */
static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* A dot-atom (RFC 5322): runs of atext separated by single dots. */
static int local_part_valid(const char *s, size_t n)
{
    static const char atext_symbols[] = "!#$%&'*+-/=?^_`{|}~";
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.' : !is_word_byte(c) && !strchr(atext_symbols, c)) {
            return 0;
        }
    }
    return 1;
}

/* Host name labels (RFC 1035 / IDNA U-labels): 1..63 bytes of letters,
 * digits and inner hyphens; two labels at least; the last not all digits. */
static int domain_valid(const char *s, size_t n)
{
    size_t labels = 0, start = 0;
    int all_digits = 1;
    if (n == 0 || n > 253) {
        return 0;
    }
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : '.';
        if (c == '.') {
            size_t len = i - start;
            if (len == 0 || len > 63 || s[start] == '-' || s[i - 1] == '-') {
                return 0;
            }
            labels++;
            start = i + 1;
            if (i < n) {
                all_digits = 1;
            }
        } else if (c == '-' || is_word_byte(c)) {
            all_digits = all_digits && c >= '0' && c <= '9';
        } else {
            return 0;
        }
    }
    return labels >= 2 && !all_digits;
}

int users_email_valid(const char *email)
{
    size_t n = strlen(email);
    const char *at = strchr(email, '@');
    if (n > 254 || !at || strchr(at + 1, '@')) {
        return 0;
    }
    size_t local = (size_t)(at - email);
    return local_part_valid(email, local) && domain_valid(at + 1, n - local - 1);
}

size_t users_text_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += ((unsigned char)*s & 0xc0) != 0x80; /* count all but continuation bytes */
    }
    return n;
}

sc_code users_create(db_conn *c, const char *email, const char *full_name,
                     const char *password_hash, const char *role, json_t **out)
{
    /* A customer gets its customer profile (seed 000's avatar) in the same statement. */
    static const char sql[] =
        "WITH u AS (INSERT INTO users (tenant_id, email, full_name, password_hash, role)"
        " SELECT t.id, $2, $3, $4, $5 FROM tenants t WHERE t.slug = $1"
        " RETURNING id, tenant_id, email, full_name, role),"
        " c AS (INSERT INTO customers (tenant_id, user_id)"
        " SELECT tenant_id, id FROM u WHERE role = 'Customer')"
        " SELECT json_build_object('id', id, 'email', email, 'full_name', full_name) FROM u";
    const char *params[] = {cfg.default_tenant, email, full_name, password_hash, role};
    sc_code rc = db_query_json(c, out, sql, 5, params);
    if (rc == SC_ENOTFOUND) {
        log_error("default tenant '%s' does not exist (DEFAULT_TENANT)", cfg.default_tenant);
        rc = SC_EINTERNAL;
    }
    return rc;
}

/* Copies src into dst (size n); SC_EINTERNAL when the column holds more than
 * the schema allows, which would be a bug, not a user error. */
static sc_code copy_column(char *dst, size_t n, const char *src)
{
    if (!src || strlen(src) >= n) {
        return SC_EINTERNAL;
    }
    memcpy(dst, src, strlen(src) + 1);
    return SC_OK;
}

sc_code users_find_by_email(db_conn *c, const char *email, struct user_credentials *out)
{
    static const char sql[] = "SELECT id, tenant_id, role, password_hash, is_active FROM users"
                              " WHERE lower(email) = lower($1)";
    const char *params[] = {email};
    db_rows *rows = NULL;
    memset(out, 0, sizeof(*out));
    sc_code rc = db_exec(c, &rows, sql, 1, params);
    if (rc != SC_OK) {
        return rc;
    }
    if (db_nrows(rows) == 0) {
        rc = SC_ENOTFOUND;
        goto out;
    }
    if ((rc = copy_column(out->id, sizeof(out->id), db_value(rows, 0, 0))) != SC_OK ||
        (rc = copy_column(out->tenant_id, sizeof(out->tenant_id), db_value(rows, 0, 1))) != SC_OK ||
        (rc = copy_column(out->role, sizeof(out->role), db_value(rows, 0, 2))) != SC_OK ||
        (rc = copy_column(out->password_hash, sizeof(out->password_hash), db_value(rows, 0, 3))) !=
            SC_OK) {
        goto out;
    }
    out->is_active = !strcmp(db_value(rows, 0, 4), "t");
out:
    db_rows_free(rows);
    return rc;
}

sc_code users_get(db_conn *c, const char *tenant_id, const char *id, json_t **out)
{
    static const char sql[] =
        "SELECT json_build_object('id', id, 'email', email, 'full_name', full_name,"
        " 'role', role, 'tenant_id', tenant_id, 'created_at',"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))"
        " FROM users WHERE id = $1::uuid AND tenant_id = $2::uuid";
    const char *params[] = {id, tenant_id};
    return db_query_json(c, out, sql, 2, params);
}

sc_code users_set_role(db_conn *c, const char *id, const char *role)
{
    static const char sql[] =
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1::uuid RETURNING id";
    const char *params[] = {id, role};
    db_rows *rows = NULL;
    if (strcmp(role, TOKEN_ROLE_ADMIN) != 0 && strcmp(role, TOKEN_ROLE_CUSTOMER) != 0) {
        return SC_EINVAL;
    }
    sc_code rc = db_exec(c, &rows, sql, 2, params);
    if (rc == SC_OK && db_nrows(rows) == 0) {
        rc = SC_ENOTFOUND;
    }
    db_rows_free(rows);
    return rc;
}
