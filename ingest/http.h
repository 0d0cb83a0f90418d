/* The HTTP interface route handlers program against. http.c adapts
 * libmicrohttpd to it (MHD types never leave http.c); router.c matches paths.
 * A handler fills `res` and returns; the core sends it, logs the access line
 * and records metrics. Before a handler runs the core has already answered
 * 404/405 (unknown path or method), 413 (body over the route's limit) and
 * 408 (body slower than HTTP_REQUEST_TIMEOUT_S). */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

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
    json_t *json; /* body as JSON (owned); or: */
    char *body;   /* raw body (owned, malloc'd) with content_type */
    size_t body_len;
    const char *content_type; /* static string */
    int n_headers;
    struct http_header_line headers[8];
};

typedef void (*http_handler)(struct http_request *req, struct http_response *res);

/* Route flags. */
#define ROUTE_FORM_BODY 0x1 /* body is application/x-www-form-urlencoded */
/* multipart/form-data: the file part is held in memory up to
 * UPLOAD_MEMORY_MAX_BYTES and streams into a spool file beyond, while its size
 * and SHA-256 are tracked; text fields stay in memory.
 * max_file names the cfg field that caps the file part; the body may exceed
 * it by the multipart framing (HTTP_MULTIPART_SLACK). */
#define ROUTE_MULTIPART 0x2
#define HTTP_MULTIPART_SLACK 65536
/* The handler blocks on I/O (an S3 PUT, a payment provider): the core defers
 * the request and runs the handler on the offload pool (offload.h), so the
 * event-loop threads keep serving quick requests. ROUTE_MULTIPART implies it. */
#define ROUTE_OFFLOAD 0x4

struct route {
    const char *method;
    const char *pattern; /* "/products/{product_id}/images"; {name} matches one segment */
    http_handler handler;
    size_t max_body; /* bytes; 0: HTTP_MAX_JSON_BYTES */
    unsigned flags;
    const long long *max_file; /* ROUTE_MULTIPART: &cfg.<cap> of the file part */
};

#define HTTP_UPLOAD_HEAD 256 /* FILETYPE_SNIFF_BYTES */

/* The file part of a multipart request, as the core received it. */
struct http_upload {
    FILE *file;       /* at the start, read-only (a spool file or a stream over memory); owned and
                         closed by the core */
    const void *data; /* the same bytes when the part is held in memory (up to
                         UPLOAD_MEMORY_MAX_BYTES), else NULL; owned by the core */
    size_t size;      /* bytes of the file part */
    const char *filename;                 /* as the client sent it: untrusted, maybe "" */
    unsigned char head[HTTP_UPLOAD_HEAD]; /* the first bytes, for type detection */
    size_t head_len;
    char sha256[65]; /* lower-case hex of the whole part */
};

/* Value of a query parameter (URL-decoded), header (case-insensitive) or
 * path parameter; NULL when absent. Valid until the handler returns. */
const char *http_query(struct http_request *req, const char *name);
const char *http_header(struct http_request *req, const char *name);
const char *http_param(struct http_request *req, const char *name);

/* The client's address for limits: the TCP peer, or behind
 * HTTP_TRUSTED_PROXIES = n > 0 proxies the n-th entry from the right of
 * X-Forwarded-For (the leftmost when there are fewer). Valid until the
 * handler returns. */
const char *http_client_address(struct http_request *req);

/* Response builders. json is stolen. */
void http_reply_json(struct http_response *res, int status, json_t *json);
void http_reply_raw(struct http_response *res, int status, const char *content_type, char *body,
                    size_t len);
/* {"detail": "<detail>"}. Each reply_* replaces what an earlier one set. */
void http_reply_error(struct http_response *res, int status, const char *detail);
/* 422 {"detail": [{"loc": [loc0, field], "msg": msg, "type": type}]} for one
 * field; loc is [loc0] alone when field is NULL. */
void http_reply_field_error(struct http_response *res, const char *loc0, const char *field,
                            const char *msg, const char *type);
/* The same answer as from (status, body, headers), copied: for requests
 * that share one answer. */
void http_reply_copy(struct http_response *res, const struct http_response *from);
/* Frees what a response built and never sent holds (http_resume and the
 * core free what they send). */
void http_response_free(struct http_response *res);
/* Adds a response header: name must be a literal (kept by address), value is
 * copied. Headers beyond the eighth are dropped with an error log. */
void http_add_header(struct http_response *res, const char *name, const char *value);

/* Parses the body as a JSON object; returns a new reference (caller
 * decrefs). On failure replies 422 the way FastAPI does (type "missing",
 * "json_invalid" or "model_attributes_type" at loc ["body"]) and returns NULL. */
json_t *http_json_body(struct http_request *req, struct http_response *res);

/* Value of a field of an application/x-www-form-urlencoded body (first
 * occurrence, URL-decoded) or a text field of a multipart body; NULL when
 * absent, when the route lacks ROUTE_FORM_BODY / ROUTE_MULTIPART or the
 * request's Content-Type does not match. Valid until the handler returns. */
const char *http_form_value(struct http_request *req, const char *name);

/* The file part named field of a ROUTE_MULTIPART request; NULL when the
 * request had none. Valid until the handler returns. Text fields of the same
 * request are read with http_form_value. */
const struct http_upload *http_upload_file(struct http_request *req, const char *field);

/* Answering later, from another thread, without holding a pool thread:
 * after http_defer the handler returns with no response and the connection
 * is suspended; exactly one http_resume must follow, from any thread (also
 * before the handler has returned). The request (parameters, upload, form
 * values) stays valid until http_resume, and must not be touched after it.
 * Waiters (a Redis subscription, offload.h's pool) use it so that hundreds of
 * requests waiting on I/O do not starve quick ones. */
struct http_deferred;
struct http_deferred *http_defer(struct http_request *req);
/* The handle of req when it is deferred (an offloaded handler's request),
 * else NULL. */
struct http_deferred *http_deferred_of(struct http_request *req);
/* Sends *res (moved: res is left empty) as the answer of the deferred request. */
void http_resume(struct http_deferred *d, struct http_response *res);
/* Answers the deferred request with what handler gives, run on the offload
 * pool: for a request found, after a quick look, to need blocking work.
 * Counts as its http_resume. SC_EUNAVAIL when the pool's queue is full: then
 * it has answered 503 HTTP_DETAIL_BUSY, and handler does not run. */
#define HTTP_DETAIL_BUSY "Server busy; try again"
sc_code http_offload(struct http_deferred *d, http_handler handler);

/* Server lifecycle (main.c). */
struct route_table;
/* Listens on HTTP_BIND:HTTP_PORT and serves tables with the pool, limits and
 * timeouts of the configuration. SC_EUNAVAIL when it cannot listen. */
sc_code http_start(const struct route_table *tables, size_t ntables);
/* How many event loops http_start started (HTTP_THREADS resolved). */
unsigned http_threads(void);
/* Stops accepting, lets in-flight requests finish for up to grace_ms, then
 * closes every connection and the pool threads. */
void http_stop(long long grace_ms);

#endif
