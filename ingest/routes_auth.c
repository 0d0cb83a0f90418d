/* /auth routes (seed 003 §2): register, login (OAuth2 password form), me.
 * Validation errors use the messages and types of FastAPI with pydantic 2. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "db/users.h"
#include "handlers.h"
#include "http.h"
#include "jwt_token.h"
#include "log.h"

#define DETAIL_BAD_LOGIN "Incorrect email or password"

/* The string member name of body into *out; otherwise replies 422 and returns
 * 0. */
static int string_field(json_t *body, const char *name, const char **out, struct http_response *res)
{
    json_t *v = json_object_get(body, name);
    if (!v) {
        http_reply_field_error(res, "body", name, "Field required", "missing");
        return 0;
    }
    if (!json_is_string(v)) {
        http_reply_field_error(res, "body", name, "Input should be a valid string", "string_type");
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* Replies 422 and returns 0 when s is outside min..max characters. */
static int length_within(const char *name, const char *s, long long min, long long max,
                         struct http_response *res)
{
    char msg[80];
    size_t n = users_text_chars(s);
    if ((long long)n < min) {
        snprintf(msg, sizeof(msg), "String should have at least %lld characters", min);
        http_reply_field_error(res, "body", name, msg, "string_too_short");
        return 0;
    }
    if ((long long)n > max) {
        snprintf(msg, sizeof(msg), "String should have at most %lld characters", max);
        http_reply_field_error(res, "body", name, msg, "string_too_long");
        return 0;
    }
    return 1;
}

/* A copy of s without leading and trailing ASCII white space (caller frees). */
static char *trimmed(const char *s)
{
    static const char ws[] = " \t\r\n\f\v";
    s += strspn(s, ws);
    size_t n = strlen(s);
    while (n && strchr(ws, s[n - 1])) {
        n--;
    }
    return strndup(s, n);
}

static void register_user(struct http_request *req, struct http_response *res)
{
    const char *full_name, *email_in, *password;
    char *email = NULL;
    char hash[CRYPTO_PWHASH_LEN];
    db_conn *c = NULL;
    json_t *user = NULL;
    if (!handler_rate_ok(res, "register", http_client_address(req), cfg.auth_rate_per_min, 60, 1)) {
        return;
    }
    json_t *body = http_json_body(req, res);
    if (!body || !string_field(body, "full_name", &full_name, res) ||
        !string_field(body, "email", &email_in, res) ||
        !string_field(body, "password", &password, res) ||
        !length_within("full_name", full_name, 0, 255, res)) {
        goto out;
    }
    if (!(email = trimmed(email_in))) {
        handler_reply_failure(res, SC_ENOMEM);
        goto out;
    }
    if (!users_email_valid(email)) {
        http_reply_field_error(res, "body", "email", "value is not a valid email address",
                               "value_error");
        goto out;
    }
    if (!length_within("password", password, cfg.password_min_length, cfg.password_max_length,
                       res)) {
        goto out;
    }
    sc_code rc = crypto_password_hash(password, hash);
    if (rc == SC_OK && !(c = db_acquire())) {
        rc = SC_EUNAVAIL;
    }
    if (rc == SC_OK) {
        rc = users_create(c, email, full_name, hash, TOKEN_ROLE_CUSTOMER, &user);
    }
    if (rc == SC_OK) {
        http_reply_json(res, 201, user);
        user = NULL;
    } else if (rc == SC_ECONFLICT) {
        http_reply_error(res, 409, "Email already registered");
    } else {
        handler_reply_failure(res, rc);
    }
out:
    if (c) {
        db_release(c);
    }
    json_decref(user);
    json_decref(body);
    free(email);
}

/* A form value that is present and not empty (FastAPI treats an empty
 * required form field as missing); otherwise replies 422 and returns NULL. */
static const char *required_form_value(struct http_request *req, struct http_response *res,
                                       const char *name)
{
    const char *v = http_form_value(req, name);
    if (!v || !*v) {
        http_reply_field_error(res, "body", name, "Field required", "missing");
        return NULL;
    }
    return v;
}

static void login(struct http_request *req, struct http_response *res)
{
    const char *username = required_form_value(req, res, "username");
    const char *password = username ? required_form_value(req, res, "password") : NULL;
    char *email = NULL, *token = NULL;
    db_conn *c = NULL;
    struct user_credentials u;
    if (!password) {
        return;
    }
    if (!handler_rate_ok(res, "login", http_client_address(req), cfg.auth_rate_per_min, 60, 1)) {
        return;
    }
    sc_code rc = (email = trimmed(username)) ? SC_OK : SC_ENOMEM;
    /* Emails match case-insensitively, so the failures of one account count under one name. */
    for (char *p = email; p && *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    if (rc == SC_OK && !handler_rate_ok(res, "login-failures", email, cfg.login_failures_max,
                                        (int)cfg.login_failure_window_s, 0)) {
        goto out;
    }
    if (rc == SC_OK && !(c = db_acquire())) {
        rc = SC_EUNAVAIL;
    }
    if (rc == SC_OK) {
        rc = users_find_by_email(c, email, &u);
        db_release(c);
    }
    if (rc != SC_OK && rc != SC_ENOTFOUND) {
        handler_reply_failure(res, rc);
        goto out;
    }
    /* An unknown email costs one hash verification too, and gets the same
     * answer as a wrong password: neither time nor text tells which it was. */
    int ok = crypto_password_verify(rc == SC_OK ? u.password_hash : NULL, password) == SC_OK &&
             u.is_active;
    if (!ok) {
        /* Counted after the answer is known, so only failures use the budget. */
        handler_rate_ok(res, "login-failures", email, cfg.login_failures_max,
                        (int)cfg.login_failure_window_s, 1);
        auth_reply_unauthorized(res, DETAIL_BAD_LOGIN);
        goto out;
    }
    struct token_claims claims = {0};
    memcpy(claims.sub, u.id, sizeof(claims.sub));
    memcpy(claims.role, u.role, sizeof(claims.role));
    memcpy(claims.tenant, u.tenant_id, sizeof(claims.tenant));
    rc = jwt_issue(&claims, (int)cfg.jwt_ttl_s, &token);
    if (rc != SC_OK) {
        handler_reply_failure(res, rc);
        goto out;
    }
    http_reply_json(res, 200,
                    json_pack("{s:s, s:s}", "access_token", token, "token_type", "bearer"));
out:
    free(token);
    free(email);
}

static void me(struct http_request *req, struct http_response *res)
{
    struct auth_identity id;
    json_t *user = NULL;
    if (!auth_user(req, res, &id)) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? users_get(c, id.tenant_id, id.user_id, &user) : SC_EUNAVAIL;
    if (c) {
        db_release(c);
    }
    if (rc == SC_OK) {
        http_reply_json(res, 200, user);
    } else if (rc == SC_ENOTFOUND || rc == SC_EINVAL) {
        /* A valid token of a user that is gone. */
        auth_reply_unauthorized(res, AUTH_DETAIL_INVALID);
    } else {
        handler_reply_failure(res, rc);
    }
}

const struct route auth_routes[] = {
    {"POST", "/auth/register", register_user, 0, 0},
    {"POST", "/auth/login", login, 0, ROUTE_FORM_BODY},
    {"GET", "/auth/me", me, 0, 0},
};
const size_t auth_routes_len = sizeof(auth_routes) / sizeof(auth_routes[0]);
