/* Bearer-token authentication and the role and tenant checks of a route. */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "jwt_token.h"

/* The token of an "Authorization: Bearer <token>" value (scheme in any
 * case, as RFC 7235 says); NULL for any other form. */
static const char *bearer_token(const char *authorization)
{
    static const char scheme[] = "Bearer ";
    if (!authorization || strncasecmp(authorization, scheme, sizeof(scheme) - 1) != 0) {
        return NULL;
    }
    const char *t = authorization + sizeof(scheme) - 1;
    t += strspn(t, " ");
    return *t ? t : NULL;
}

int auth_check(const char *authorization, const char *tenant_header, enum auth_need need,
               struct auth_identity *out, const char **detail)
{
    struct token_claims c;
    memset(out, 0, sizeof(*out));
    if (jwt_verify(bearer_token(authorization), &c) != SC_OK) {
        *detail = AUTH_DETAIL_INVALID;
        return 401;
    }
    int device = c.sid[0] != '\0';
    int admin = !device && !strcmp(c.role, TOKEN_ROLE_ADMIN);
    if (tenant_header && strcasecmp(tenant_header, c.tenant) != 0) {
        *detail = AUTH_DETAIL_TENANT;
        return 403;
    }
    if ((device && need != AUTH_USER_OR_DEVICE) || (need == AUTH_ADMIN && !admin)) {
        *detail = AUTH_DETAIL_FORBIDDEN;
        return 403;
    }
    memcpy(out->user_id, c.sub, sizeof(out->user_id));
    memcpy(out->role, c.role, sizeof(out->role));
    memcpy(out->tenant_id, c.tenant, sizeof(out->tenant_id));
    memcpy(out->session_id, c.sid, sizeof(out->session_id));
    out->is_admin = admin;
    out->is_device = device;
    *detail = NULL;
    return 0;
}

void auth_reply_unauthorized(struct http_response *res, const char *detail)
{
    http_reply_error(res, 401, detail);
    http_add_header(res, "WWW-Authenticate", "Bearer");
}

int auth_request(struct http_request *req, enum auth_need need, struct auth_identity *out,
                 const char **detail)
{
    return auth_check(http_header(req, "Authorization"), http_header(req, "X-Tenant-ID"), need, out,
                      detail);
}

static int authenticate(struct http_request *req, struct http_response *res, enum auth_need need,
                        struct auth_identity *out)
{
    const char *detail;
    int status = auth_request(req, need, out, &detail);
    if (status == 401) {
        auth_reply_unauthorized(res, detail);
    } else if (status) {
        http_reply_error(res, status, detail);
    }
    return status == 0;
}

int auth_user(struct http_request *req, struct http_response *res, struct auth_identity *out)
{
    return authenticate(req, res, AUTH_USER, out);
}

int auth_admin(struct http_request *req, struct http_response *res, struct auth_identity *out)
{
    return authenticate(req, res, AUTH_ADMIN, out);
}

int auth_user_or_device(struct http_request *req, struct http_response *res,
                        struct auth_identity *out)
{
    return authenticate(req, res, AUTH_USER_OR_DEVICE, out);
}
