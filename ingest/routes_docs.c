/* The API reference: GET /openapi.json (docs/api/openapi.json) and GET /docs
 * (docs/api/index.html, which renders /openapi.json in the browser). Both
 * files are compiled in by the Makefile ($(BUILD)/gen/docs_assets.c), so
 * ingest serves the reference it was built with, from any working directory,
 * and tests/docs/check_openapi.sh keeps that reference and the route tables
 * in step. */
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Defined by the generated $(BUILD)/gen/docs_assets.c. */
extern const unsigned char docs_openapi_json[];
extern const size_t docs_openapi_json_len;
extern const unsigned char docs_index_html[];
extern const size_t docs_index_html_len;

/* Replies 200 with a copy of an embedded file (the core frees the body). */
static void reply_asset(struct http_response *res, const char *content_type,
                        const unsigned char *data, size_t len)
{
    char *copy = malloc(len);
    if (!copy) {
        http_reply_error(res, 500, "Internal server error");
        return;
    }
    memcpy(copy, data, len);
    http_reply_raw(res, 200, content_type, copy, len);
    /* Fresh after every deploy: the reference changes with the binary. */
    http_add_header(res, "Cache-Control", "no-cache");
}

static void openapi_json(struct http_request *req, struct http_response *res)
{
    (void)req;
    reply_asset(res, "application/json", docs_openapi_json, docs_openapi_json_len);
}

static void docs_page(struct http_request *req, struct http_response *res)
{
    (void)req;
    reply_asset(res, "text/html; charset=utf-8", docs_index_html, docs_index_html_len);
}

const struct route docs_routes[] = {
    {.method = "GET", .pattern = "/openapi.json", .handler = openapi_json},
    {.method = "GET", .pattern = "/docs", .handler = docs_page},
};
const size_t docs_routes_len = sizeof(docs_routes) / sizeof(docs_routes[0]);
