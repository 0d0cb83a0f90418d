/* The HTTP interface route handlers program against. http.c adapts
 * libmicrohttpd to it (MHD types never leave http.c); router.c matches paths.
 * A handler fills `res` and returns; the core sends it, logs the access line
 * and records metrics. */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <jansson.h>
#include <stddef.h>

#define HTTP_MAX_PATH_PARAMS 4

struct auth_identity; /* ingest/auth.h */

struct http_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* without the query string */
    const char *request_id; /* X-Request-ID echoed or generated */
    const char *body;       /* NUL-terminated copy of the body (NULL when none) */
    size_t body_len;
    /* Path parameters in pattern order: "/products/{id}" → param_names[0]="id". */
    int n_params;
    const char *param_names[HTTP_MAX_PATH_PARAMS];
    const char *param_values[HTTP_MAX_PATH_PARAMS];
    void *impl; /* owned by http.c */
};

struct http_header_line {
    const char *name;
    char *value; /* owned by the response */
};

struct http_response {
    int status;
    json_t *json;             /* body as JSON (owned); or: */
    char *body;               /* raw body (owned, malloc'd) with content_type */
    size_t body_len;
    const char *content_type; /* static string */
    int n_headers;
    struct http_header_line headers[8];
};

typedef void (*http_handler)(struct http_request *req, struct http_response *res);

/* Route flags. */
#define ROUTE_FORM_BODY 0x1 /* body is application/x-www-form-urlencoded */

struct route {
    const char *method;
    const char *pattern; /* "/products/{product_id}/images"; {name} matches one segment */
    http_handler handler;
    size_t max_body;     /* 0: HTTP_MAX_JSON_BYTES */
    unsigned flags;
};

/* Value of a query parameter (URL-decoded), header (case-insensitive) or
 * path parameter; NULL when absent. Valid until the handler returns. */
const char *http_query(struct http_request *req, const char *name);
const char *http_header(struct http_request *req, const char *name);
const char *http_param(struct http_request *req, const char *name);

/* Response builders. json is stolen. */
void http_reply_json(struct http_response *res, int status, json_t *json);
void http_reply_raw(struct http_response *res, int status, const char *content_type, char *body,
                    size_t len);
/* {"detail": "<detail>"} */
void http_reply_error(struct http_response *res, int status, const char *detail);
/* 422 {"detail": [{"loc": ["body", field], "msg": msg, "type": type}]} for one field. */
void http_reply_field_error(struct http_response *res, const char *loc0, const char *field,
                            const char *msg, const char *type);
/* Adds a response header (value copied). */
void http_add_header(struct http_response *res, const char *name, const char *value);

/* Parses the body as a JSON object. On failure replies 422 and returns NULL. */
json_t *http_json_body(struct http_request *req, struct http_response *res);

#endif
