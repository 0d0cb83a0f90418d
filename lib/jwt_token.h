/* Access tokens: HS256 JWTs under cfg.jwt_secret. jwt_token.c is the only file
 * that sees libjwt. A user token carries sub, role, tenant, iat and exp; a
 * cart-device token also carries sid (the one shopping session it may act
 * on) and typ "device". */
#ifndef SC_JWT_TOKEN_H
#define SC_JWT_TOKEN_H

#include "error.h"

#define TOKEN_ROLE_ADMIN "Administrator"
#define TOKEN_ROLE_CUSTOMER "Customer"

struct token_claims {
    char sub[37];    /* user id */
    char role[16];   /* TOKEN_ROLE_ADMIN or TOKEN_ROLE_CUSTOMER */
    char tenant[37]; /* tenant id */
    char sid[37];    /* shopping session id of a device token; "" for a user token */
    long long iat;   /* set by jwt_issue / read by jwt_verify */
    long long exp;
};

/* Signs a token for c (iat = now, exp = now + ttl_s; c->iat and c->exp are
 * ignored); a non-empty c->sid makes it a device token. *out is a malloc'd
 * string the caller frees. SC_EINVAL for an unknown role or empty sub/tenant,
 * SC_ENOMEM otherwise. */
sc_code jwt_issue(const struct token_claims *c, int ttl_s, char **out);

/* Checks token and fills *out. SC_EINVAL unless it is well formed, its
 * header names exactly HS256 (so "none" and every other algorithm are
 * refused), its signature verifies under cfg.jwt_secret, it has an integer
 * exp in the future (and no nbf in the future), and its claims have the
 * shape jwt_issue gives them. */
sc_code jwt_verify(const char *token, struct token_claims *out);

#endif
