/* smartcart-ingest: the HTTP tier. Loads the settings, opens the pools of
 * its dependencies, serves until SIGTERM/SIGINT, then shuts down gracefully:
 * stop accepting, let in-flight requests finish, flush the Kafka producer,
 * close the pools, exit 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "ingest/http.h"
#include "ingest/metrics.h"
#include "ingest/offload.h"
#include "ingest/router.h"
#include "kafka.h"
#include "log.h"
#include "payos.h"
#include "redis.h"
#include "s3.h"

static const char usage[] =
    "usage: smartcart-ingest [--help | --routes]\n"
    "\n"
    "Serves the smartcart HTTP API on HTTP_BIND:HTTP_PORT until SIGTERM or SIGINT.\n"
    "--routes prints \"METHOD PATTERN\" for every route served and exits.";

/* One line per route: what tests/docs/check_openapi.sh compares with the
 * API reference. */
static void print_routes(void)
{
    size_t ntables;
    const struct route_table *tables = routes_all(&ntables);
    for (size_t t = 0; t < ntables; t++) {
        for (size_t i = 0; i < *tables[t].len; i++) {
            printf("%s %s\n", tables[t].routes[i].method, tables[t].routes[i].pattern);
        }
    }
}

static sc_code db_open(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int pipelines = cfg.db_read_pipelines ? (int)cfg.db_read_pipelines : cpus > 0 ? (int)cpus : 1;
    sc_code rc = db_reads_init(pipelines);
    /* Unreachable at start is not fatal: the reads connect on first use too. */
    return rc == SC_OK ? db_pool_init(cfg.database_url, (int)cfg.db_pool_size) : rc;
}

static sc_code offload_open(void)
{
    return offload_start((int)cfg.http_offload_threads, (int)cfg.http_offload_queue);
}

static sc_code redis_open(void)
{
    return redis_pool_init(cfg.redis_url, (int)cfg.redis_pool_size, (int)cfg.redis_timeout_ms);
}

/* Opened in order, closed in reverse: the producer is flushed first. */
static const struct dependency {
    const char *name;
    sc_code (*open)(void);
    void (*close)(void);
} deps[] = {
    {"postgres", db_open, db_pool_shutdown},
    {"redis", redis_open, redis_pool_shutdown},
    {"s3", s3_init, s3_shutdown},
    {"payos", payos_init, payos_shutdown},
    {"kafka", kafka_producer_init, kafka_producer_close},
    /* Last in, first out: its jobs still use everything above while it drains. */
    {"offload", offload_open, offload_stop},
};
#define N_DEPS (sizeof(deps) / sizeof(deps[0]))

/* Opens every dependency; returns how many were opened. An unreachable one
 * is not fatal (ingest starts and /readyz reports it until it answers); any
 * other failure is, and stops the opening there. */
static size_t open_dependencies(sc_code *rc)
{
    size_t i;
    *rc = SC_OK;
    for (i = 0; i < N_DEPS; i++) {
        sc_code r = deps[i].open();
        if (r == SC_EUNAVAIL || r == SC_ETIMEOUT) {
            log_json(LOG_WARN, "dependency unreachable at start; /readyz reports it",
                     json_pack("{s:s,s:s}", "dependency", deps[i].name, "error", sc_strerror(r)));
        } else if (r != SC_OK) {
            log_json(LOG_ERROR, "dependency failed to start",
                     json_pack("{s:s,s:s}", "dependency", deps[i].name, "error", sc_strerror(r)));
            *rc = r;
            break;
        }
    }
    return i;
}

int main(int argc, char **argv)
{
    char err[256];
    if (argc == 2 && !strcmp(argv[1], "--routes")) {
        print_routes();
        return 0;
    }
    if (argc > 1) {
        int help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
        config_load(err, sizeof(err));
        config_print_help(help ? stdout : stderr, usage);
        return help ? 0 : 2;
    }
    if (config_load(err, sizeof(err)) != SC_OK ||
        config_require("DATABASE_URL", 1, err, sizeof(err)) != SC_OK ||
        config_require("JWT_SECRET", 32, err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "smartcart-ingest: %s\n", err);
        return 2;
    }
    log_set_component("ingest");
    if (log_set_level(cfg.log_level) != 0) {
        fprintf(stderr, "smartcart-ingest: LOG_LEVEL: unknown level '%s'\n", cfg.log_level);
        return 2;
    }

    /* Blocked before any thread starts, so every thread inherits the mask
     * and the signals wait for sigwait below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    sc_code rc;
    size_t opened = open_dependencies(&rc);
    size_t ntables;
    const struct route_table *tables = routes_all(&ntables);
    if (rc == SC_OK && http_start(tables, ntables) == SC_OK) {
        log_json(LOG_INFO, "listening",
                 json_pack("{s:s,s:I,s:I}", "bind", cfg.http_bind, "port",
                           (json_int_t)cfg.http_port, "threads", (json_int_t)http_threads()));
        int sig = 0;
        sigwait(&stop, &sig);
        log_json(LOG_INFO, "stopping", json_pack("{s:s}", "signal", strsignal(sig)));
        http_stop(cfg.http_shutdown_grace_s * 1000);
        status = 0;
    }
    while (opened > 0) {
        deps[--opened].close();
    }
    metrics_reset();
    log_json(LOG_INFO, "stopped", json_pack("{s:i}", "exit_status", status));
    return status;
}
