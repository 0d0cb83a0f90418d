/* smartcart: the admin command line — migrate, seed, create-admin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

static const char usage[] =
    "usage: smartcart COMMAND\n"
    "\n"
    "Commands:\n"
    "  migrate [DIR]        apply pending SQL migrations (default DIR: db/migrations)\n"
    "  config-doc           print the settings table in the Markdown of docs/configuration.md\n"
    "  --help               this text";

static int cmd_migrate(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : "db/migrations";
    db_conn *c = db_acquire();
    if (!c) {
        return 1;
    }
    sc_code rc = migrate_apply(c, dir);
    db_release(c);
    return rc == SC_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        char err[256];
        config_load(err, sizeof(err));
        config_print_help(argc < 2 ? stderr : stdout, usage);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "config-doc")) {
        config_print_markdown(stdout);
        return 0;
    }

    char err[256];
    if (config_load(err, sizeof(err)) != SC_OK ||
        config_require("DATABASE_URL", 1, err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "smartcart: %s\n", err);
        return 2;
    }
    log_set_component("cli");
    log_set_level(cfg.log_level);
    if (db_pool_init(cfg.database_url, 1) != SC_OK) {
        return 1;
    }
    int status;
    if (!strcmp(argv[1], "migrate")) {
        status = cmd_migrate(argc, argv);
    } else {
        fprintf(stderr, "smartcart: unknown command '%s'\n%s\n", argv[1], usage);
        status = 2;
    }
    db_pool_shutdown();
    return status;
}
