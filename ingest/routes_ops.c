/* Operations endpoints: /healthz (the process answers), /readyz (every
 * dependency answers; 503 names those that do not), /metrics (Prometheus). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "kafka.h"
#include "metrics.h"
#include "redis.h"
#include "s3.h"

static void healthz(struct http_request *req, struct http_response *res)
{
    (void)req;
    http_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

/* Kafka has no pool to borrow from: ask the cluster for metadata, briefly. */
static sc_code kafka_ready(void)
{
    return kafka_ping((int)cfg.readyz_timeout_ms);
}

static void readyz(struct http_request *req, struct http_response *res)
{
    (void)req;
    static const struct {
        const char *name;
        sc_code (*check)(void);
    } checks[] = {
        {"postgres", db_ping},
        {"redis", redis_ping},
        {"kafka", kafka_ready},
        {"s3", s3_ping},
    };
    json_t *results = json_object();
    char failing[64] = "";
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        sc_code rc = checks[i].check();
        json_object_set_new(results, checks[i].name,
                            json_string(rc == SC_OK ? "ok" : sc_strerror(rc)));
        if (rc != SC_OK) {
            size_t n = strlen(failing);
            snprintf(failing + n, sizeof(failing) - n, "%s%s", n ? ", " : "", checks[i].name);
        }
    }
    if (!failing[0]) {
        http_reply_json(res, 200, json_pack("{s:s,s:o}", "status", "ready", "checks", results));
        return;
    }
    char detail[96];
    snprintf(detail, sizeof(detail), "%s unavailable", failing);
    http_reply_json(res, 503, json_pack("{s:s,s:o}", "detail", detail, "checks", results));
}

static void metrics(struct http_request *req, struct http_response *res)
{
    (void)req;
    size_t len;
    char *text = metrics_render(kafka_produce_errors(), &len);
    if (!text) {
        http_reply_error(res, 500, "Internal Server Error");
        return;
    }
    http_reply_raw(res, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

const struct route ops_routes[] = {
    {"GET", "/healthz", healthz, 0, 0},
    {"GET", "/readyz", readyz, 0, 0},
    {"GET", "/metrics", metrics, 0, 0},
};
const size_t ops_routes_len = sizeof(ops_routes) / sizeof(ops_routes[0]);
