/* Shared route-handler helpers (see handlers.h). */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "uuid.h"

void handler_reply_failure(struct http_response *res, sc_code rc)
{
    if (sc_is_transient(rc)) {
        http_reply_error(res, 503, "Service temporarily unavailable");
    } else {
        http_reply_error(res, 500, "Internal server error");
    }
}

int handler_rate_ok(struct http_response *res, const char *scope, const char *subject,
                    long long limit, int window_s, int count)
{
    int retry_after_s = 0;
    sc_code rc =
        (count ? ratelimit_hit : ratelimit_peek)(scope, subject, limit, window_s, &retry_after_s);
    if (rc != SC_OK) {
        log_json(LOG_WARN, "rate limit not checked: redis unavailable",
                 json_pack("{s:s}", "scope", scope));
        return 1;
    }
    if (retry_after_s == 0) {
        return 1;
    }
    char detail[96], seconds[16];
    snprintf(detail, sizeof(detail), "Too many requests; try again in %d seconds", retry_after_s);
    snprintf(seconds, sizeof(seconds), "%d", retry_after_s);
    http_reply_error(res, 429, detail);
    http_add_header(res, "Retry-After", seconds);
    return 0;
}

void handler_reply_text(struct http_response *res, sc_code rc, int status, char *text,
                        const char *not_found)
{
    if (rc == SC_OK) {
        http_reply_raw(res, status, "application/json", text, strlen(text));
        return;
    }
    free(text);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, not_found);
    } else {
        handler_reply_failure(res, rc);
    }
}

db_conn *handler_db(struct http_response *res)
{
    db_conn *c = db_acquire();
    if (!c) {
        handler_reply_failure(res, SC_EUNAVAIL);
    }
    return c;
}

const char *handler_path_uuid(struct http_request *req, struct http_response *res, const char *name)
{
    const char *v = http_param(req, name);
    if (!uuid_valid(v)) {
        http_reply_field_error(res, "path", name, "Input should be a valid UUID", "uuid_parsing");
        return NULL;
    }
    return v;
}

int handler_query_int(struct http_request *req, struct http_response *res, const char *name,
                      long long def, long long min, long long max, char buf[24])
{
    const char *v = http_query(req, name);
    long long n = def;
    if (v) {
        char *end = NULL;
        n = strtoll(v, &end, 10);
        if (!*v || *end || strspn(v, "+-0123456789") != strlen(v)) {
            http_reply_field_error(res, "query", name,
                                   "Input should be a valid integer, unable to parse string as an "
                                   "integer",
                                   "int_parsing");
            return 0;
        }
    }
    if (n < min || n > max) {
        char msg[80];
        snprintf(msg, sizeof(msg), "Input should be %s than or equal to %lld",
                 n < min ? "greater" : "less", n < min ? min : max);
        http_reply_field_error(res, "query", name, msg,
                               n < min ? "greater_than_equal" : "less_than_equal");
        return 0;
    }
    snprintf(buf, 24, "%lld", n);
    return 1;
}

int handler_query_page(struct http_request *req, struct http_response *res, char skip[24],
                       char limit[24])
{
    return handler_query_int(req, res, "skip", 0, 0, 1000000000, skip) &&
           handler_query_int(req, res, "limit", HANDLER_PAGE_LIMIT_MAX, 1, HANDLER_PAGE_LIMIT_MAX,
                             limit);
}
