/* smartcart-worker ROLE: runs one worker role as a member of its Kafka
 * consumer group (start N processes of a role to scale it out).
 *
 * Adding a role: a file workers/role_<name>.c that defines
 * `const struct worker_role role_<name>` (see workers/runtime.h), and
 * X(<name>) in ROLES below. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "kafka.h"
#include "log.h"
#include "workers/runtime.h"

#define ROLES(X) X(selftest) X(media) X(cart) X(payment) X(analytics)

#define DECLARE_ROLE(name) extern const struct worker_role role_##name;
ROLES(DECLARE_ROLE)
#define ROLE_ENTRY(name) &role_##name,
static const struct worker_role *const roles[] = {ROLES(ROLE_ENTRY)};
#define N_ROLES (sizeof(roles) / sizeof(roles[0]))

static void on_stop_signal(int sig)
{
    (void)sig;
    worker_stop();
}

/* The role's own start-up, its consuming loop, its own shutdown. */
static sc_code run_role(const struct worker_role *role)
{
    sc_code rc = role->start ? role->start() : SC_OK;
    if (rc != SC_OK) {
        return rc;
    }
    rc = worker_run(role);
    if (role->stop) {
        role->stop();
    }
    return rc;
}

static const struct worker_role *find_role(const char *name)
{
    for (size_t i = 0; i < N_ROLES; i++) {
        if (!strcmp(roles[i]->name, name)) {
            return roles[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char usage[1024];
    int n = snprintf(usage, sizeof(usage),
                     "usage: smartcart-worker ROLE\n"
                     "\n"
                     "Consumes the role's Kafka topic as a member of its consumer group until\n"
                     "SIGTERM or SIGINT. `smartcart-worker --list-roles` prints the roles. Roles:");
    for (size_t i = 0; i < N_ROLES && n > 0 && (size_t)n < sizeof(usage); i++) {
        n += snprintf(usage + n, sizeof(usage) - (size_t)n, " %s", roles[i]->name);
    }
    char err[256];
    if (argc == 2 && !strcmp(argv[1], "--list-roles")) {
        /* One name per line, for launchers (infra/run.sh starts one process each). */
        for (size_t i = 0; i < N_ROLES; i++) {
            printf("%s\n", roles[i]->name);
        }
        return 0;
    }
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        config_load(err, sizeof(err));
        config_print_help(stdout, usage);
        return 0;
    }
    const struct worker_role *role = argc == 2 ? find_role(argv[1]) : NULL;
    if (!role) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (config_load(err, sizeof(err)) != SC_OK ||
        config_require("DATABASE_URL", 1, err, sizeof(err)) != SC_OK ||
        config_require("KAFKA_BROKERS", 1, err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "smartcart-worker: %s\n", err);
        return 2;
    }
    char component[64];
    snprintf(component, sizeof(component), "worker.%s", role->name);
    log_set_component(component);
    log_set_level(cfg.log_level);

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    sc_code rc = db_pool_init(cfg.database_url, (int)cfg.db_pool_size);
    if (rc == SC_OK) {
        rc = kafka_producer_init(); /* for <topic>.dlq */
        if (rc == SC_OK) {
            rc = run_role(role);
            kafka_producer_close();
        }
    }
    db_pool_shutdown();
    if (rc != SC_OK) {
        log_json(LOG_ERROR, "worker failed", json_pack("{s:s}", "error", sc_strerror(rc)));
    }
    return rc == SC_OK ? 0 : 1;
}
