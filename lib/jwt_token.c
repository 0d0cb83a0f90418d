/* libjwt adapter. libjwt (1.10) signs and checks the signature in constant
 * time; it does not pin the algorithm or look at any claim, so both are done
 * here. Claims are read back through jansson for exact types (libjwt's
 * jwt_get_grant_int turns a string or float exp into 0 instead of failing). */
#include "jwt_token.h"

#include <jansson.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

static int role_known(const char *role)
{
    return !strcmp(role, TOKEN_ROLE_ADMIN) || !strcmp(role, TOKEN_ROLE_CUSTOMER);
}

sc_code jwt_issue(const struct token_claims *c, int ttl_s, char **out)
{
    *out = NULL;
    if (!c->sub[0] || !c->tenant[0] || !role_known(c->role)) {
        return SC_EINVAL;
    }
    jwt_t *j = NULL;
    sc_code rc = SC_ENOMEM;
    long now = (long)time(NULL);
    if (jwt_new(&j) != 0 ||
        jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)cfg.jwt_secret,
                    (int)strlen(cfg.jwt_secret)) != 0 ||
        jwt_add_grant(j, "sub", c->sub) != 0 || jwt_add_grant(j, "role", c->role) != 0 ||
        jwt_add_grant(j, "tenant", c->tenant) != 0 || jwt_add_grant_int(j, "iat", now) != 0 ||
        jwt_add_grant_int(j, "exp", now + ttl_s) != 0) {
        goto out;
    }
    if (c->sid[0] &&
        (jwt_add_grant(j, "sid", c->sid) != 0 || jwt_add_grant(j, "typ", "device") != 0)) {
        goto out;
    }
    *out = jwt_encode_str(j);
    rc = *out ? SC_OK : SC_ENOMEM;
out:
    jwt_free(j);
    return rc;
}

/* Copies the string claim name into dst (size n); 0 when it is absent, not
 * a string, empty or too long. */
static int copy_claim(json_t *claims, const char *name, char *dst, size_t n)
{
    const char *v = json_string_value(json_object_get(claims, name));
    if (!v || !v[0] || strlen(v) >= n) {
        return 0;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

/* Fills *out from the decoded claims; SC_EINVAL when they do not have the
 * shape of a live token of ours. */
static sc_code read_claims(json_t *claims, struct token_claims *out)
{
    json_t *exp = json_object_get(claims, "exp");
    json_t *iat = json_object_get(claims, "iat");
    json_t *nbf = json_object_get(claims, "nbf");
    json_t *typ = json_object_get(claims, "typ");
    long long now = (long long)time(NULL);
    if (!json_is_integer(exp) || json_integer_value(exp) <= now) {
        return SC_EINVAL;
    }
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now)) {
        return SC_EINVAL;
    }
    if (iat && !json_is_integer(iat)) {
        return SC_EINVAL;
    }
    if (!copy_claim(claims, "sub", out->sub, sizeof(out->sub)) ||
        !copy_claim(claims, "role", out->role, sizeof(out->role)) || !role_known(out->role) ||
        !copy_claim(claims, "tenant", out->tenant, sizeof(out->tenant))) {
        return SC_EINVAL;
    }
    /* A device token must name its session; a user token must not carry one,
     * so a token can never be read as the other kind. */
    int device = typ != NULL;
    if (device && (!json_is_string(typ) || strcmp(json_string_value(typ), "device") != 0)) {
        return SC_EINVAL;
    }
    if (device != copy_claim(claims, "sid", out->sid, sizeof(out->sid)) ||
        (!device && json_object_get(claims, "sid"))) {
        return SC_EINVAL;
    }
    out->exp = json_integer_value(exp);
    out->iat = iat ? json_integer_value(iat) : 0;
    return SC_OK;
}

/* Parses libjwt's JSON rendering of the claims (grant NULL) or headers. */
static json_t *load_json(char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return v;
}

/* The pin: libjwt verifies whatever algorithm the header names (HS512 with
 * our key passes) and maps "hs256" to HS256; we accept exactly "HS256". An
 * unknown critical header extension must be refused (RFC 7515 §4.1.11). */
static int header_pinned(jwt_t *j)
{
    json_t *headers = load_json(jwt_get_headers_json(j, NULL));
    const char *alg = json_string_value(json_object_get(headers, "alg"));
    int ok = jwt_get_alg(j) == JWT_ALG_HS256 && alg && !strcmp(alg, "HS256") &&
             !json_object_get(headers, "crit");
    json_decref(headers);
    return ok;
}

sc_code jwt_verify(const char *token, struct token_claims *out)
{
    memset(out, 0, sizeof(*out));
    jwt_t *j = NULL;
    json_t *claims = NULL;
    sc_code rc = SC_EINVAL;
    if (!token ||
        jwt_decode(&j, token, (const unsigned char *)cfg.jwt_secret, (int)strlen(cfg.jwt_secret)) !=
            0 ||
        !header_pinned(j)) {
        goto out;
    }
    claims = load_json(jwt_get_grants_json(j, NULL));
    if (json_is_object(claims)) {
        rc = read_claims(claims, out);
    }
out:
    if (rc != SC_OK) {
        memset(out, 0, sizeof(*out));
    }
    json_decref(claims);
    jwt_free(j);
    return rc;
}
