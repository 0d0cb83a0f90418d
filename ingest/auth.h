/* Request authentication for route handlers: the Bearer token, the route's
 * required role, and tenancy (an X-Tenant-ID header, where sent, must name
 * the token's tenant). Tokens are checked without a database round trip; a
 * handler that needs the user's row loads it. */
#ifndef SC_AUTH_H
#define SC_AUTH_H

#include "http.h"

struct auth_identity {
    char user_id[37];
    char role[16]; /* "Administrator" or "Customer" */
    char tenant_id[37];
    int is_admin;
    char session_id[37]; /* the one shopping session a device token may act on */
    int is_device;
};

/* What a route accepts. */
enum auth_need {
    AUTH_USER,           /* a user token (device tokens: 403) */
    AUTH_ADMIN,          /* a user token with role Administrator */
    AUTH_USER_OR_DEVICE, /* a user token or a cart-device token */
};

/* The decision without HTTP types (unit-tested): authorization and
 * tenant_header are the header values (NULL when absent). Returns 0 and
 * fills *out when allowed, else 401 or 403 with *detail the message. */
int auth_check(const char *authorization, const char *tenant_header, enum auth_need need,
               struct auth_identity *out, const char **detail);

/* auth_check on req's headers, without replying: for routes whose error
 * bodies are not FastAPI's (seeds 001 and 004). */
int auth_request(struct http_request *req, enum auth_need need, struct auth_identity *out,
                 const char **detail);

/* Authenticate req for a handler. Return 1 with *out filled when allowed;
 * otherwise reply 401 {"detail":"Could not validate credentials"} with
 * WWW-Authenticate: Bearer, or 403, and return 0 (the handler just returns). */
int auth_user(struct http_request *req, struct http_response *res, struct auth_identity *out);
int auth_admin(struct http_request *req, struct http_response *res, struct auth_identity *out);
int auth_user_or_device(struct http_request *req, struct http_response *res,
                        struct auth_identity *out);

/* The 401 every failed authentication answers (also for a token whose user
 * no longer exists). */
void auth_reply_unauthorized(struct http_response *res, const char *detail);

#define AUTH_DETAIL_INVALID "Could not validate credentials"
#define AUTH_DETAIL_FORBIDDEN "Not enough permissions"
#define AUTH_DETAIL_TENANT "X-Tenant-ID does not match the token's tenant"

#endif
