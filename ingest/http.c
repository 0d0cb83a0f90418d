/* libmicrohttpd adapter: the only file that sees MHD types. One req_ctx per
 * request carries it through MHD's calls: the first call (headers read)
 * routes and answers 404/405/413 at once; body calls buffer up to the route's
 * limit; the final call runs the handler; the completion callback writes the
 * access log line and the metrics, whatever way the request ended. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "formparse.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "router.h"
#include "text.h"

/* The connection's memory pool holds the request line and headers plus
 * MHD's own bookkeeping and the response headers; this is the latter's share. */
#define POOL_SLACK 4096
#define REQUEST_ID_MAX 64
/* Text fields of a multipart body (title, is_primary, ...) are small. */
#define MULTIPART_MAX_TEXT_FIELDS 16
#define MULTIPART_MAX_TEXT_BYTES 4096
#define DETAIL_BAD_BOUNDARY                                                                        \
    "Malformed multipart/form-data: the Content-Type needs a boundary of 2 to 70 characters"

struct text_part {
    char *name;
    char *value;
    size_t len;
};

/* A file part stays in mem until it outgrows UPLOAD_MEMORY_MAX_BYTES; then it
 * moves to a spool file, pub.file, which takes the rest. */
struct upload_part {
    struct http_upload pub;
    char *field;
    char *filename;
    char *mem;
    size_t mem_cap;
    struct crypto_sha256 sha;
};

struct req_ctx {
    struct http_request req; /* what the handler sees; req.impl points back here */
    struct MHD_Connection *conn;
    const char *route_label; /* static: a route pattern or "unmatched" */
    struct router_match match;
    char method[16];
    char *path;
    char request_id[REQUEST_ID_MAX + 1];
    char remote[INET6_ADDRSTRLEN];
    char client[INET6_ADDRSTRLEN]; /* http_client_address, found on first use */
    struct timespec start;
    size_t max_body;
    char *body; /* NUL-terminated once complete */
    size_t body_len, body_cap;
    int body_too_big;
    struct form form;
    /* ROUTE_MULTIPART */
    struct MHD_PostProcessor *pp;
    size_t max_file;
    size_t declared_len; /* Content-Length (within max_body), 0 when none */
    struct upload_part *upload;
    struct text_part texts[MULTIPART_MAX_TEXT_FIELDS];
    size_t ntexts;
    const char *multipart_error; /* static text: answered 422 instead of running the handler */
    /* http_defer / http_resume: the lock orders the suspend after the
     * handler against a resume from another thread. */
    pthread_mutex_t defer_lock;
    int deferred, suspended, resumed;
    struct http_response deferred_res;
    http_handler offloaded; /* what run_offloaded runs: the route's handler, or http_offload's */
    int status;             /* 0 until a response is queued or written */
    size_t bytes;
};

static struct {
    struct MHD_Daemon *daemon;
    unsigned threads; /* event loops: HTTP_THREADS, or the online CPUs */
    const struct route_table *tables;
    size_t ntables;
} server;

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- response builders (no MHD types: handlers and the core share them) ---- */

static void response_clear(struct http_response *res)
{
    json_decref(res->json);
    free(res->body);
    res->json = NULL;
    res->body = NULL;
    res->body_len = 0;
    res->content_type = NULL;
}

void http_reply_json(struct http_response *res, int status, json_t *json)
{
    response_clear(res);
    res->status = status;
    res->json = json;
}

void http_reply_raw(struct http_response *res, int status, const char *content_type, char *body,
                    size_t len)
{
    response_clear(res);
    res->status = status;
    res->content_type = content_type;
    res->body = body;
    res->body_len = len;
}

void http_reply_error(struct http_response *res, int status, const char *detail)
{
    http_reply_json(res, status, json_pack("{s:s}", "detail", detail));
}

void http_reply_field_error(struct http_response *res, const char *loc0, const char *field,
                            const char *msg, const char *type)
{
    json_t *loc = field ? json_pack("[s,s]", loc0, field) : json_pack("[s]", loc0);
    http_reply_json(
        res, 422, json_pack("{s:[{s:o,s:s,s:s}]}", "detail", "loc", loc, "msg", msg, "type", type));
}

void http_add_header(struct http_response *res, const char *name, const char *value)
{
    int max = (int)(sizeof(res->headers) / sizeof(res->headers[0]));
    char *copy = res->n_headers < max ? strdup(value) : NULL;
    if (!copy) {
        log_json(LOG_ERROR, "response header dropped", json_pack("{s:s}", "header", name));
        return;
    }
    res->headers[res->n_headers].name = name;
    res->headers[res->n_headers++].value = copy;
}

void http_reply_copy(struct http_response *res, const struct http_response *from)
{
    response_clear(res);
    res->status = from->status;
    res->content_type = from->content_type;
    if (from->json) {
        res->json = json_deep_copy(from->json);
    }
    if (from->body && (res->body = malloc(from->body_len + 1))) {
        memcpy(res->body, from->body, from->body_len);
        res->body[from->body_len] = '\0';
        res->body_len = from->body_len;
    }
    if ((from->json && !res->json) || (from->body && !res->body)) {
        http_reply_error(res, 500, "Internal Server Error");
        return;
    }
    for (int i = 0; i < from->n_headers; i++) {
        http_add_header(res, from->headers[i].name, from->headers[i].value);
    }
}

void http_response_free(struct http_response *res)
{
    response_clear(res);
    for (int i = 0; i < res->n_headers; i++) {
        free(res->headers[i].value);
    }
    res->n_headers = 0;
}

/* ---- request accessors ---- */

const char *http_query(struct http_request *req, const char *name)
{
    struct req_ctx *ctx = req->impl;
    return MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_request *req, const char *name)
{
    struct req_ctx *ctx = req->impl;
    return MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, name);
}

const char *http_param(struct http_request *req, const char *name)
{
    for (int i = 0; i < req->n_params; i++) {
        if (!strcmp(req->param_names[i], name)) {
            return req->param_values[i];
        }
    }
    return NULL;
}

/* The entry hops places from the right of an X-Forwarded-For list (each
 * proxy appends the address it was sent the request from), or the leftmost
 * when the list is shorter; empty when it holds nothing usable. */
static void forwarded_for(const char *list, long long hops, char *out, size_t len)
{
    const char *end = list + strlen(list), *start = end;
    out[0] = '\0';
    for (long long i = 0; i < hops; i++) {
        if (i > 0) {
            if (start == list) {
                break;
            }
            end = start - 1; /* the comma before the entry just passed */
        }
        start = end;
        while (start > list && start[-1] != ',') {
            start--;
        }
    }
    start += strspn(start, " \t");
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    if (end > start && (size_t)(end - start) < len) {
        snprintf(out, len, "%.*s", (int)(end - start), start);
    }
}

const char *http_client_address(struct http_request *req)
{
    struct req_ctx *ctx = req->impl;
    if (!ctx->client[0]) {
        const char *list =
            cfg.http_trusted_proxies > 0
                ? MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "X-Forwarded-For")
                : NULL;
        if (list) {
            forwarded_for(list, cfg.http_trusted_proxies, ctx->client, sizeof(ctx->client));
        }
        if (!ctx->client[0]) {
            memcpy(ctx->client, ctx->remote, sizeof(ctx->client));
        }
    }
    return ctx->client;
}

const char *http_form_value(struct http_request *req, const char *name)
{
    struct req_ctx *ctx = req->impl;
    for (size_t i = 0; i < ctx->ntexts; i++) {
        if (!strcmp(ctx->texts[i].name, name)) {
            return ctx->texts[i].value;
        }
    }
    return form_get(&ctx->form, name);
}

const struct http_upload *http_upload_file(struct http_request *req, const char *field)
{
    struct req_ctx *ctx = req->impl;
    if (!ctx->upload || !ctx->upload->pub.file || strcmp(ctx->upload->field, field) != 0) {
        return NULL;
    }
    return &ctx->upload->pub;
}

json_t *http_json_body(struct http_request *req, struct http_response *res)
{
    if (!req->body || req->body_len == 0) {
        http_reply_field_error(res, "body", NULL, "Field required", "missing");
        return NULL;
    }
    json_error_t err;
    json_t *doc = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &err);
    if (!doc) {
        http_reply_json(res, 422,
                        json_pack("{s:[{s:[s],s:s,s:s,s:{s:s}}]}", "detail", "loc", "body", "msg",
                                  "JSON decode error", "type", "json_invalid", "ctx", "error",
                                  err.text));
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        http_reply_field_error(
            res, "body", NULL,
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type");
        return NULL;
    }
    return doc;
}

/* ---- request lifecycle ---- */

/* A client's X-Request-ID is kept when it is short and harmless in logs. */
static int request_id_is_sane(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= REQUEST_ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static void remote_of(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)len);
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)len);
    }
}

static struct req_ctx *ctx_new(struct MHD_Connection *conn, const char *url, const char *method)
{
    struct req_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx || !(ctx->path = strdup(url))) {
        free(ctx);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &ctx->start);
    ctx->conn = conn;
    ctx->req.impl = ctx;
    pthread_mutex_init(&ctx->defer_lock, NULL);
    ctx->route_label = "unmatched";
    snprintf(ctx->method, sizeof(ctx->method), "%s", method);
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
    if (request_id_is_sane(id)) {
        memcpy(ctx->request_id, id, strlen(id) + 1);
    } else {
        crypto_uuid_v4(ctx->request_id);
    }
    remote_of(conn, ctx->remote, sizeof(ctx->remote));
    metrics_request_started();
    return ctx;
}

static void upload_free(struct upload_part *up)
{
    if (up) {
        if (up->pub.file) {
            fclose(up->pub.file); /* before mem, which an in-memory stream reads */
        }
        free(up->mem);
        crypto_sha256_discard(&up->sha);
        free(up->field);
        free(up->filename);
        free(up);
    }
}

static void ctx_free(struct req_ctx *ctx)
{
    if (ctx->pp) {
        MHD_destroy_post_processor(ctx->pp);
    }
    upload_free(ctx->upload);
    for (size_t i = 0; i < ctx->ntexts; i++) {
        free(ctx->texts[i].name);
        free(ctx->texts[i].value);
    }
    form_free(&ctx->form);
    http_response_free(&ctx->deferred_res);
    pthread_mutex_destroy(&ctx->defer_lock);
    free(ctx->body);
    free(ctx->path);
    free(ctx);
}

/* Queues res (always consumed). */
static enum MHD_Result send_response(struct req_ctx *ctx, struct http_response *res)
{
    char *body = NULL;
    size_t len = 0;
    const char *type = NULL;

    if (res->status == 0) {
        log_json(LOG_ERROR, "handler set no response",
                 json_pack("{s:s}", "route", ctx->route_label));
        http_reply_error(res, 500, "Internal Server Error");
    }
    if (res->json) {
        body = json_dumps(res->json, JSON_COMPACT | JSON_REAL_PRECISION(15));
        len = body ? strlen(body) : 0;
        type = "application/json";
    } else if (res->body) {
        body = res->body;
        len = res->body_len;
        res->body = NULL;
        type = res->content_type ? res->content_type : "application/octet-stream";
    }
    enum MHD_Result ok = MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        goto out;
    }
    if (type) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    MHD_add_response_header(r, "X-Request-ID", ctx->request_id);
    for (int i = 0; i < res->n_headers; i++) {
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    }
    ok = MHD_queue_response(ctx->conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) {
        ctx->status = res->status;
        ctx->bytes = len;
    }
out:
    http_response_free(res);
    return ok;
}

/* Whether content_type is the media type want (parameters ignored). */
static int is_media_type(const char *content_type, const char *want)
{
    size_t n = strlen(want);
    return content_type && !strncasecmp(content_type, want, n) &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static int is_urlencoded(const char *content_type)
{
    return is_media_type(content_type, "application/x-www-form-urlencoded");
}

static int is_multipart(const char *content_type)
{
    return is_media_type(content_type, "multipart/form-data");
}

static enum MHD_Result send_error(struct req_ctx *ctx, int status, const char *detail)
{
    struct http_response res = {0};
    http_reply_error(&res, status, detail);
    return send_response(ctx, &res);
}

/* libmicrohttpd 0.9.75 refuses MHD_queue_response while it is reading a
 * body, so a request cut off mid-body gets its short answer written straight
 * to the socket; returning MHD_NO then closes the connection. */
static enum MHD_Result abort_mid_body(struct req_ctx *ctx, int status, const char *detail)
{
    json_t *doc = json_pack("{s:s}", "detail", detail);
    char *json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(ctx->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (json && ci) {
        char msg[512];
        const char *reason = MHD_get_reason_phrase_for((unsigned)status);
        int n = snprintf(msg, sizeof(msg),
                         "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                         "X-Request-ID: %s\r\nContent-Length: %zu\r\n\r\n%s",
                         status, reason, ctx->request_id, strlen(json), json);
        if (n > 0 && (size_t)n < sizeof(msg) &&
            send(ci->connect_fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n) {
            ctx->status = status;
            ctx->bytes = strlen(json);
        }
    }
    free(json);
    return MHD_NO;
}

/* ---- multipart bodies ---- */

/* An unlinked file in UPLOAD_SPOOL_DIR: it vanishes with the request, even
 * if the process dies. */
static FILE *spool_open(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/smartcart-upload-XXXXXX", cfg.upload_spool_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        log_json(LOG_ERROR, "cannot create upload spool file",
                 json_pack("{s:s}", "dir", cfg.upload_spool_dir));
        return NULL;
    }
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f) {
        close(fd);
    }
    return f;
}

/* Appends size bytes of the file part: to memory while the whole part fits
 * UPLOAD_MEMORY_MAX_BYTES (a photo then never touches the file system), else
 * to the spool file, which the first overflowing piece creates with what
 * memory held so far. */
static sc_code store_file_part(struct upload_part *up, const char *data, size_t size,
                               size_t declared_len)
{
    size_t need = up->pub.size + size, max = (size_t)cfg.upload_memory_max_bytes;
    if (!up->pub.file && need <= max) {
        if (need > up->mem_cap) {
            /* The declared body (the part plus its framing) is one allocation
             * instead of a doubling that copies what arrived so far. */
            size_t cap = up->mem_cap ? up->mem_cap : declared_len > need ? declared_len : 65536;
            while (cap < need) {
                cap *= 2;
            }
            cap = cap < max ? cap : max;
            char *grown = realloc(up->mem, cap);
            if (!grown) {
                return SC_ENOMEM;
            }
            up->mem = grown;
            up->mem_cap = cap;
        }
        memcpy(up->mem + up->pub.size, data, size);
        return SC_OK;
    }
    if (!up->pub.file) {
        if (!(up->pub.file = spool_open()) ||
            (up->pub.size && fwrite(up->mem, 1, up->pub.size, up->pub.file) != up->pub.size)) {
            return SC_EINTERNAL;
        }
        free(up->mem);
        up->mem = NULL;
        up->mem_cap = 0;
    }
    return fwrite(data, 1, size, up->pub.file) == size ? SC_OK : SC_EINTERNAL;
}

/* The part as the handler reads it: the spool file rewound, or a read-only
 * stream over the memory. */
static sc_code finish_file_part(struct upload_part *up)
{
    if (crypto_sha256_final_hex(&up->sha, up->pub.sha256) != SC_OK) {
        return SC_EINTERNAL;
    }
    if (up->pub.file) {
        return fflush(up->pub.file) == 0 && fseek(up->pub.file, 0, SEEK_SET) == 0 ? SC_OK
                                                                                  : SC_EINTERNAL;
    }
    static char empty[1];
    up->pub.data = up->mem;
    up->pub.file = fmemopen(up->mem ? up->mem : empty, up->pub.size, "rb");
    return up->pub.file ? SC_OK : SC_ENOMEM;
}

static enum MHD_Result take_file_part(struct req_ctx *ctx, const char *key, const char *filename,
                                      const char *data, uint64_t off, size_t size)
{
    struct upload_part *up = ctx->upload;
    if (!up) {
        if (!(up = calloc(1, sizeof(*up))) || !(up->field = strdup(key)) ||
            !(up->filename = strdup(filename)) || crypto_sha256_init(&up->sha) != SC_OK) {
            upload_free(up);
            return MHD_NO;
        }
        up->pub.filename = up->filename;
        ctx->upload = up;
    } else if (off == 0 && (strcmp(up->field, key) != 0 || up->pub.size > 0)) {
        ctx->multipart_error = "Send exactly one file per request";
        return MHD_YES;
    }
    if (size == 0 || ctx->body_too_big) {
        return MHD_YES;
    }
    if (size > ctx->max_file - up->pub.size) {
        ctx->body_too_big = 1;
        return MHD_YES;
    }
    if (store_file_part(up, data, size, ctx->declared_len) != SC_OK) {
        log_json(LOG_ERROR, "upload part not stored (memory or spool file)", NULL);
        return MHD_NO;
    }
    crypto_sha256_update(&up->sha, data, size);
    if (up->pub.head_len < HTTP_UPLOAD_HEAD) {
        size_t n = HTTP_UPLOAD_HEAD - up->pub.head_len;
        n = n < size ? n : size;
        memcpy(up->pub.head + up->pub.head_len, data, n);
        up->pub.head_len += n;
    }
    up->pub.size += size;
    return MHD_YES;
}

static enum MHD_Result take_text_part(struct req_ctx *ctx, const char *key, const char *data,
                                      uint64_t off, size_t size)
{
    struct text_part *t = ctx->ntexts ? &ctx->texts[ctx->ntexts - 1] : NULL;
    if (off == 0 || !t || strcmp(t->name, key) != 0) {
        if (ctx->ntexts == MULTIPART_MAX_TEXT_FIELDS) {
            ctx->multipart_error = "Too many form fields";
            return MHD_YES;
        }
        t = &ctx->texts[ctx->ntexts];
        if (!(t->name = strdup(key)) || !(t->value = calloc(1, 1))) {
            free(t->name);
            t->name = NULL;
            return MHD_NO;
        }
        t->len = 0;
        ctx->ntexts++;
    }
    if (size > MULTIPART_MAX_TEXT_BYTES - t->len) {
        ctx->multipart_error = "A form field is longer than 4096 bytes";
        return MHD_YES;
    }
    char *grown = realloc(t->value, t->len + size + 1);
    if (!grown) {
        return MHD_NO;
    }
    memcpy(grown + t->len, data, size);
    t->value = grown;
    t->len += size;
    t->value[t->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    struct req_ctx *ctx = cls;
    if (!key || ctx->multipart_error) {
        return MHD_YES;
    }
    return filename ? take_file_part(ctx, key, filename, data, off, size)
                    : take_text_part(ctx, key, data, off, size);
}

static enum MHD_Result send_too_large(struct req_ctx *ctx)
{
    char detail[128];
    if (ctx->max_file) {
        snprintf(detail, sizeof(detail), "File too large: the limit is %zu bytes", ctx->max_file);
    } else {
        snprintf(detail, sizeof(detail), "Request body too large");
    }
    return send_error(ctx, 413, detail);
}

/* The first query argument whose name or value is not UTF-8, for begin. */
struct bad_arg {
    const char *name; /* NULL: all are UTF-8 */
};

static enum MHD_Result find_bad_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct bad_arg *bad = cls;
    if (text_utf8_valid(key) && (!value || text_utf8_valid(value))) {
        return MHD_YES;
    }
    bad->name = text_utf8_valid(key) ? key : "";
    return MHD_NO;
}

/* First call: route, and answer at once what needs no body. */
static enum MHD_Result begin(struct req_ctx *ctx)
{
    switch (router_match(server.tables, server.ntables, ctx->method, ctx->path, &ctx->match)) {
    case ROUTER_NOT_FOUND:
        return send_error(ctx, 404, "Not Found");
    case ROUTER_METHOD_NOT_ALLOWED: {
        struct http_response res = {0};
        ctx->route_label = ctx->match.pattern;
        http_reply_error(&res, 405, "Method Not Allowed");
        http_add_header(&res, MHD_HTTP_HEADER_ALLOW, ctx->match.allow);
        return send_response(ctx, &res);
    }
    case ROUTER_FOUND:
        break;
    }
    const struct route *route = ctx->match.route;
    ctx->route_label = route->pattern;
    /* Every handler may pass a query value to Postgres as text, which must
     * be UTF-8 (it would fail there as a 500). */
    struct bad_arg bad = {0};
    MHD_get_connection_values(ctx->conn, MHD_GET_ARGUMENT_KIND, find_bad_arg, &bad);
    if (bad.name) {
        struct http_response res = {0};
        http_reply_field_error(&res, "query", bad.name, "Input should be a valid UTF-8 string",
                               "string_unicode");
        return send_response(ctx, &res);
    }
    ctx->max_body = route->max_body ? route->max_body : (size_t)cfg.http_max_json_bytes;
    if (route->flags & ROUTE_MULTIPART) {
        /* NULL when the body is not a form: it is then kept like any route's
         * body (a JSON PATCH of a route that also takes files), and a handler
         * that needs a file finds none and says so. */
        ctx->pp = MHD_create_post_processor(ctx->conn, 16 * 1024, on_part, ctx);
        if (ctx->pp) {
            ctx->max_file = (size_t)*route->max_file;
            ctx->max_body = ctx->max_file + HTTP_MULTIPART_SLACK;
        } else if (is_multipart(MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_CONTENT_TYPE))) {
            /* A form libmicrohttpd cannot split: no boundary, or one of a
             * single character (RFC 2046 allows 1 to 70; its parser needs
             * 2). Kept as a plain body it would be answered "Field
             * required" although the file was sent. */
            return send_error(ctx, 400, DETAIL_BAD_BOUNDARY);
        }
    }
    const char *cl =
        MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > ctx->max_body) {
        return send_too_large(ctx);
    }
    ctx->declared_len = (size_t)declared;
    return MHD_YES;
}

/* Body calls: keep up to max_body bytes; past it, discard the rest and
 * answer 413 at the end (a chunked body declares no length up front). */
static enum MHD_Result take_body(struct req_ctx *ctx, const char *data, size_t *size)
{
    if (seconds_since(&ctx->start) > (double)cfg.http_request_timeout_s) {
        return abort_mid_body(ctx, 408, "Request Timeout");
    }
    size_t n = *size;
    *size = 0;
    if (ctx->body_too_big) {
        return MHD_YES;
    }
    if (n > ctx->max_body - ctx->body_len) {
        ctx->body_too_big = 1;
        free(ctx->body);
        ctx->body = NULL;
        ctx->body_len = ctx->body_cap = 0;
        return MHD_YES;
    }
    if (ctx->pp) {
        ctx->body_len += n; /* counted, not kept: the parts go to on_part */
        return MHD_post_process(ctx->pp, data, n) == MHD_YES ? MHD_YES : MHD_NO;
    }
    if (ctx->body_len + n + 1 > ctx->body_cap) {
        size_t cap = ctx->body_cap ? ctx->body_cap : 4096;
        while (cap < ctx->body_len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(ctx->body, cap);
        if (!grown) {
            return MHD_NO;
        }
        ctx->body = grown;
        ctx->body_cap = cap;
    }
    memcpy(ctx->body + ctx->body_len, data, n);
    ctx->body_len += n;
    ctx->body[ctx->body_len] = '\0';
    return MHD_YES;
}

/* An offload-pool thread: runs the handler of a deferred request and
 * resumes it with the answer. */
static void run_offloaded(void *arg)
{
    struct req_ctx *ctx = arg;
    struct http_response res = {0};
    log_set_request_id(ctx->request_id);
    ctx->offloaded(&ctx->req, &res);
    http_resume((struct http_deferred *)ctx, &res);
}

sc_code http_offload(struct http_deferred *d, http_handler handler)
{
    struct req_ctx *ctx = (struct req_ctx *)d;
    ctx->offloaded = handler;
    if (offload_submit(run_offloaded, ctx) != SC_OK) {
        struct http_response busy = {0};
        http_reply_error(&busy, 503, HTTP_DETAIL_BUSY);
        http_resume(d, &busy);
        return SC_EUNAVAIL;
    }
    return SC_OK;
}

/* Final call: the whole body is here; run the handler. */
static enum MHD_Result dispatch(struct req_ctx *ctx)
{
    const struct route *route = ctx->match.route;
    struct http_response res = {0};

    if (ctx->pp) {
        MHD_destroy_post_processor(ctx->pp); /* flushes the last part */
        ctx->pp = NULL;
    }
    if (ctx->body_too_big) {
        return send_too_large(ctx);
    }
    if (ctx->multipart_error) {
        http_reply_field_error(&res, "body", NULL, ctx->multipart_error, "value_error");
        return send_response(ctx, &res);
    }
    if (ctx->upload && finish_file_part(ctx->upload) != SC_OK) {
        return send_error(ctx, 500, "Internal Server Error");
    }
    ctx->req.method = ctx->method;
    ctx->req.path = ctx->path;
    ctx->req.request_id = ctx->request_id;
    ctx->req.body = ctx->body;
    ctx->req.body_len = ctx->body_len;
    ctx->req.n_params = ctx->match.n_params;
    for (int i = 0; i < ctx->match.n_params; i++) {
        ctx->req.param_names[i] = ctx->match.param_names[i];
        ctx->req.param_values[i] = ctx->match.param_values[i];
    }
    if ((route->flags & ROUTE_FORM_BODY) &&
        is_urlencoded(MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_TYPE))) {
        sc_code rc = form_parse(ctx->body ? ctx->body : "", ctx->body_len, &ctx->form);
        if (rc == SC_EINVAL) {
            http_reply_field_error(&res, "body", NULL, "Form data must not contain NUL bytes",
                                   "value_error");
            return send_response(ctx, &res);
        }
        if (rc != SC_OK) {
            return send_error(ctx, 500, "Internal Server Error");
        }
    }
    if (route->flags & (ROUTE_OFFLOAD | ROUTE_MULTIPART)) {
        http_defer(&ctx->req);
        ctx->offloaded = route->handler;
        if (offload_submit(run_offloaded, ctx) != SC_OK) {
            ctx->deferred = 0;
            return send_error(ctx, 503, HTTP_DETAIL_BUSY);
        }
    } else {
        route->handler(&ctx->req, &res);
    }
    if (!ctx->deferred) {
        return send_response(ctx, &res);
    }
    http_response_free(&res);
    pthread_mutex_lock(&ctx->defer_lock);
    if (ctx->resumed) { /* answered before the handler even returned */
        pthread_mutex_unlock(&ctx->defer_lock);
        return send_response(ctx, &ctx->deferred_res);
    }
    MHD_suspend_connection(ctx->conn);
    ctx->suspended = 1;
    pthread_mutex_unlock(&ctx->defer_lock);
    return MHD_YES;
}

struct http_deferred *http_defer(struct http_request *req)
{
    struct req_ctx *ctx = req->impl;
    ctx->deferred = 1;
    return (struct http_deferred *)ctx;
}

struct http_deferred *http_deferred_of(struct http_request *req)
{
    struct req_ctx *ctx = req->impl;
    return ctx->deferred ? (struct http_deferred *)ctx : NULL;
}

void http_resume(struct http_deferred *d, struct http_response *res)
{
    struct req_ctx *ctx = (struct req_ctx *)d;
    pthread_mutex_lock(&ctx->defer_lock);
    ctx->deferred_res = *res;
    memset(res, 0, sizeof(*res));
    ctx->resumed = 1;
    int suspended = ctx->suspended;
    struct MHD_Connection *conn = ctx->conn;
    pthread_mutex_unlock(&ctx->defer_lock);
    /* Not under the lock: once resumed, the pool thread may answer and free
     * ctx (its lock included) before MHD_resume_connection even returns. A
     * suspended connection stays valid until it is resumed. */
    if (suspended) {
        MHD_resume_connection(conn);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct req_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = ctx_new(conn, url, method);
        if (!ctx) {
            return MHD_NO;
        }
        *con_cls = ctx;
        log_set_request_id(ctx->request_id);
        return begin(ctx);
    }
    log_set_request_id(ctx->request_id);
    if (ctx->status) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        return take_body(ctx, upload_data, upload_data_size);
    }
    if (ctx->deferred) { /* called again after MHD_resume_connection */
        return ctx->resumed ? send_response(ctx, &ctx->deferred_res) : MHD_YES;
    }
    return dispatch(ctx);
}

/* Every request ends here, answered or not: one access line, the metrics. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct req_ctx *ctx = *con_cls;
    if (!ctx) {
        return;
    }
    *con_cls = NULL;
    log_set_request_id(ctx->request_id);
    int status = ctx->status;
    if (!status) {
        /* nginx's 499: the client went away before an answer */
        status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408
                 : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT  ? 499
                                                               : 500;
    }
    double secs = seconds_since(&ctx->start);
    metrics_request_finished(ctx->route_label, ctx->method, status, secs);
    log_json(LOG_INFO, "request",
             json_pack("{s:s,s:s,s:s,s:i,s:f,s:I,s:s}", "method", ctx->method, "path", ctx->path,
                       "route", ctx->route_label, "status", status, "duration_ms", secs * 1000.0,
                       "bytes", (json_int_t)ctx->bytes, "remote", ctx->remote));
    ctx_free(ctx);
    log_set_request_id(NULL);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    log_json(LOG_WARN, "libmicrohttpd", json_pack("{s:s}", "detail", text));
}

sc_code http_start(const struct route_table *tables, size_t ntables)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    if (crypto_init() != SC_OK) {
        return SC_EINTERNAL;
    }
    memset(&addr, 0, sizeof(addr));
    if (inet_pton(AF_INET, cfg.http_bind, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)cfg.http_port);
    } else if (inet_pton(AF_INET6, cfg.http_bind, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)cfg.http_port);
        flags |= MHD_USE_IPv6;
    } else {
        log_error("HTTP_BIND '%s' is not an IPv4 or IPv6 address", cfg.http_bind);
        return SC_EINVAL;
    }
    server.tables = tables;
    server.ntables = ntables;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    server.threads = cfg.http_threads > 0 ? (unsigned)cfg.http_threads
                     : cpus > 0           ? (unsigned)cpus
                                          : 1;
    /* The logger goes first, else MHD prints what comes before it itself. */
    server.daemon = MHD_start_daemon(
        flags, (uint16_t)cfg.http_port, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &addr.sa, MHD_OPTION_THREAD_POOL_SIZE,
        server.threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg.http_max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.http_idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg.http_max_header_bytes + POOL_SLACK,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    if (!server.daemon) {
        log_error("cannot listen on %s:%lld", cfg.http_bind, cfg.http_port);
        return SC_EUNAVAIL;
    }
    return SC_OK;
}

unsigned http_threads(void)
{
    return server.threads;
}

void http_stop(long long grace_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MHD_socket listener = MHD_quiesce_daemon(server.daemon);
    if (listener != MHD_INVALID_SOCKET) {
        close(listener);
    }
    while (metrics_in_flight() > 0 && seconds_since(&t0) * 1000.0 < (double)grace_ms) {
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    if (metrics_in_flight() > 0) {
        log_warn("closing %ld requests still in flight after the grace period",
                 metrics_in_flight());
    }
    MHD_stop_daemon(server.daemon);
    server.daemon = NULL;
}
