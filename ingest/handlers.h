/* What every route handler needs besides http.h: the failure answer for an
 * sc_code, a pooled Postgres connection or 503, and FastAPI-style validation
 * of path UUIDs, integer query parameters and skip/limit pages. Each helper
 * replies itself and returns NULL/0 when the request cannot go on. */
#ifndef SC_INGEST_HANDLERS_H
#define SC_INGEST_HANDLERS_H

#include "db.h"
#include "http.h"

/* Largest `limit` of a paginated list; larger asks are answered 422. */
#define HANDLER_PAGE_LIMIT_MAX 100

/* Counts (count = 1) or only looks at (count = 0) the rate limit of subject
 * in scope: limit per window_s seconds (ratelimit.h). Returns 1 to go on;
 * over the limit it replies 429 with Retry-After and returns 0. Redis being
 * away is logged and lets the request through: an outage must not lock every
 * user out. */
int handler_rate_ok(struct http_response *res, const char *scope, const char *subject,
                    long long limit, int window_s, int count);

/* 503 {"detail": ...} for a transient rc (a dependency is away), else 500. */
void handler_reply_failure(struct http_response *res, sc_code rc);

/* Sends text (a JSON document; taken, also on failure) with status when rc is
 * SC_OK; otherwise 404 {"detail": not_found} for SC_ENOTFOUND, else the
 * failure answer of rc. */
void handler_reply_text(struct http_response *res, sc_code rc, int status, char *text,
                        const char *not_found);

/* A pooled Postgres connection (the caller releases it), or NULL after 503. */
db_conn *handler_db(struct http_response *res);

/* The path parameter name when it is a UUID; otherwise NULL after a 422 at
 * ["path", name] (FastAPI's answer for a UUID-typed path parameter). */
const char *handler_path_uuid(struct http_request *req, struct http_response *res,
                              const char *name);

/* Query parameter name as an integer in min..max (def when absent), in
 * decimal into buf; 0 after a 422 naming the parameter. */
int handler_query_int(struct http_request *req, struct http_response *res, const char *name,
                      long long def, long long min, long long max, char buf[24]);

/* skip (default 0) and limit (default and most HANDLER_PAGE_LIMIT_MAX). */
int handler_query_page(struct http_request *req, struct http_response *res, char skip[24],
                       char limit[24]);

#endif
