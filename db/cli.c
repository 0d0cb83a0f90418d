/* smartcart: the admin command line — migrate, seed, create-admin, import-vectors, ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bestsellers.h"
#include "catalog.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "kafka.h"
#include "migrate.h"
#include "models.h"
#include "object_sweep.h"
#include "payos.h"
#include "redis.h"
#include "s3.h"
#include "users.h"
#include "workers/reconcile.h"
#include "jwt_token.h"

static const char usage[] =
    "usage: smartcart COMMAND\n"
    "\n"
    "Commands:\n"
    "  migrate [DIR]        apply pending SQL migrations (default DIR: db/migrations)\n"
    "  create-admin EMAIL   make EMAIL an administrator: promote the existing account, or\n"
    "                       create it with the password from SMARTCART_ADMIN_PASSWORD or\n"
    "                       the first line of standard input\n"
    "  seed --demo          add the demo store (categories, ~50 products); repeatable\n"
    "  seed --products N    add a synthetic catalog of N products in N/100 categories\n"
    "  import-vectors [--replace] [--model ID] FILE\n"
    "                       upsert the product vectors of FILE ({\"vectors\": [{\"product_id\",\n"
    "                       \"embedding\"}]}) in one transaction; --replace drops the store's\n"
    "                       other vectors; --model names the EMBEDDING model that made them\n"
    "  rebuild-bestsellers  rebuild this week's Redis best-seller sets from Postgres\n"
    "  render-products      store the render of every product whose stored render is\n"
    "                       missing or out of date (after a bulk import or a promotion)\n"
    "  reconcile-payments   ask PayOS about orders pending longer than PAYOS_RECONCILE_AFTER_S\n"
    "  sweep-objects [--dry-run]\n"
    "                       delete the R2 objects no row owns that are older than\n"
    "                       OBJECT_SWEEP_GRACE_S (one JSON line each, then a summary);\n"
    "                       --dry-run only lists them\n"
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

/* The new administrator's password: SMARTCART_ADMIN_PASSWORD, else the
 * first line of standard input (so it never shows in ps or shell history).
 * Caller frees; NULL when there is none. */
static char *admin_password(void)
{
    const char *env = getenv("SMARTCART_ADMIN_PASSWORD");
    if (env && *env) {
        return strdup(env);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    if (n <= 0) {
        free(line);
        return NULL;
    }
    return line;
}

/* Creates EMAIL as an administrator, or promotes the account that has it. */
static int create_admin(db_conn *c, const char *email)
{
    struct user_credentials u;
    json_t *created = NULL;
    char hash[CRYPTO_PWHASH_LEN];
    char *password = NULL;
    sc_code rc = users_find_by_email(c, email, &u);
    if (rc == SC_ENOTFOUND) {
        password = admin_password();
        size_t len = password ? users_text_chars(password) : 0;
        if (len < (size_t)cfg.password_min_length || len > (size_t)cfg.password_max_length) {
            fprintf(stderr,
                    "smartcart: the password must have %lld to %lld characters (set "
                    "SMARTCART_ADMIN_PASSWORD or pass it on standard input)\n",
                    cfg.password_min_length, cfg.password_max_length);
            free(password);
            return 2;
        }
        rc = crypto_password_hash(password, hash);
        free(password);
        if (rc == SC_OK) {
            rc = users_create(c, email, "", hash, TOKEN_ROLE_ADMIN, &created);
        }
        if (rc == SC_OK) {
            printf("created administrator %s (%s)\n", email,
                   json_string_value(json_object_get(created, "id")));
            json_decref(created);
            return 0;
        }
        /* Registered between our look-up and insert: promote it below. */
        if (rc == SC_ECONFLICT) {
            rc = users_find_by_email(c, email, &u);
        }
    }
    if (rc == SC_OK) {
        rc = users_set_role(c, u.id, TOKEN_ROLE_ADMIN);
    }
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: create-admin failed: %s\n", sc_strerror(rc));
        return 1;
    }
    printf("promoted %s (%s) to administrator; password unchanged\n", email, u.id);
    return 0;
}

static int cmd_create_admin(int argc, char **argv)
{
    if (argc != 3 || !users_email_valid(argv[2])) {
        fprintf(stderr, "usage: smartcart create-admin EMAIL (a valid email address)\n");
        return 2;
    }
    db_conn *c = db_acquire();
    if (!c) {
        return 1;
    }
    int status = create_admin(c, argv[2]);
    db_release(c);
    return status;
}

static int cmd_seed(int argc, char **argv)
{
    char *end = NULL;
    long n = argc == 4 ? strtol(argv[3], &end, 10) : 0;
    int demo = argc == 3 && !strcmp(argv[2], "--demo");
    int synthetic =
        argc == 4 && !strcmp(argv[2], "--products") && *end == '\0' && n > 0 && n <= 10000000;
    if (!demo && !synthetic) {
        fprintf(stderr, "usage: smartcart seed --demo | seed --products N (1..10000000)\n");
        return 2;
    }
    /* The demo's product pictures are stored in R2. */
    if (demo && s3_init() != SC_OK) {
        fprintf(stderr, "smartcart: seed failed: S3_ENDPOINT is not usable\n");
        return 1;
    }
    db_conn *c = db_acquire();
    sc_code rc = !c ? SC_EUNAVAIL : demo ? catalog_seed_demo(c) : catalog_seed_synthetic(c, n);
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: seed failed: %s %s\n", sc_strerror(rc),
                c ? db_error_message(c) : "");
    }
    db_release(c);
    if (demo) {
        s3_shutdown();
    }
    return rc == SC_OK ? 0 : 1;
}

static int cmd_import_vectors(int argc, char **argv)
{
    const char *model = NULL, *file = NULL;
    int replace = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--replace")) {
            replace = 1;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            file = NULL;
            break;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: smartcart import-vectors [--replace] [--model MODEL_ID] FILE\n");
        return 2;
    }
    json_error_t jerr;
    json_t *doc = json_load_file(file, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "smartcart: import-vectors: %s: line %d: %s\n", file, jerr.line, jerr.text);
        return 1;
    }
    char err[256] = "";
    size_t n = 0;
    db_conn *c = db_acquire();
    sc_code rc = c ? vectors_import(c, doc, model, replace, &n, err, sizeof(err)) : SC_EUNAVAIL;
    db_release(c);
    json_decref(doc);
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: import-vectors failed: %s\n", *err ? err : sc_strerror(rc));
        return 1;
    }
    printf("imported %zu product vectors\n", n);
    return 0;
}

static int cmd_rebuild_bestsellers(void)
{
    sc_code rc = redis_pool_init(cfg.redis_url, 1, (int)cfg.redis_timeout_ms);
    db_conn *c = rc == SC_OK ? db_acquire() : NULL;
    size_t n = 0;
    rc = c ? bestsellers_rebuild(c, &n) : rc == SC_OK ? SC_EUNAVAIL : rc;
    db_release(c);
    redis_pool_shutdown();
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: rebuild-bestsellers failed: %s\n", sc_strerror(rc));
        return 1;
    }
    printf("rebuilt this week's best-sellers: %zu products\n", n);
    return 0;
}

/* Products per statement: ~50 us of Postgres each, a statement well under
 * a second that holds its rows' locks no longer. */
#define RENDER_BATCH 2000

static int cmd_render_products(void)
{
    long long n = 0;
    db_conn *c = db_acquire();
    sc_code rc = c ? catalog_products_render_stale(c, RENDER_BATCH, &n) : SC_EUNAVAIL;
    db_release(c);
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: render-products failed after %lld products: %s\n", n,
                sc_strerror(rc));
        return 1;
    }
    printf("rendered %lld products\n", n);
    return 0;
}

static int cmd_reconcile_payments(void)
{
    size_t n = 0;
    sc_code rc = redis_pool_init(cfg.redis_url, 1, (int)cfg.redis_timeout_ms);
    if (rc == SC_OK || rc == SC_EUNAVAIL || rc == SC_ETIMEOUT) {
        rc = payos_init();
        if (rc == SC_OK && (rc = kafka_producer_init()) == SC_OK) {
            rc = reconcile_once(&n);
            kafka_producer_close();
        }
        payos_shutdown();
        redis_pool_shutdown();
    }
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: reconcile-payments failed: %s\n", sc_strerror(rc));
        return 1;
    }
    printf("reconciled %zu orders with PayOS\n", n);
    return 0;
}

static int cmd_sweep_objects(int argc, char **argv)
{
    int dry_run = argc == 3 && !strcmp(argv[2], "--dry-run");
    if (argc > 3 || (argc == 3 && !dry_run)) {
        fprintf(stderr, "usage: smartcart sweep-objects [--dry-run]\n");
        return 2;
    }
    if (s3_init() != SC_OK) {
        fprintf(stderr, "smartcart: sweep-objects failed: S3_ENDPOINT is not usable\n");
        return 1;
    }
    struct object_sweep_counts n;
    sc_code rc = object_sweep_run(dry_run, stdout, &n);
    s3_shutdown();
    printf("{\"summary\":true,\"dry_run\":%s,\"listed\":%lld,\"young\":%lld,\"foreign\":%lld,"
           "\"owned\":%lld,\"orphans\":%lld,\"removed\":%lld,\"failed\":%lld}\n",
           dry_run ? "true" : "false", n.listed, n.young, n.foreign, n.owned, n.orphans, n.removed,
           n.failed);
    if (rc != SC_OK) {
        fprintf(stderr, "smartcart: sweep-objects failed: %s\n", sc_strerror(rc));
        return 1;
    }
    return 0;
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
    } else if (!strcmp(argv[1], "seed")) {
        status = cmd_seed(argc, argv);
    } else if (!strcmp(argv[1], "create-admin")) {
        status = cmd_create_admin(argc, argv);
    } else if (!strcmp(argv[1], "import-vectors")) {
        status = cmd_import_vectors(argc, argv);
    } else if (!strcmp(argv[1], "rebuild-bestsellers")) {
        status = cmd_rebuild_bestsellers();
    } else if (!strcmp(argv[1], "render-products")) {
        status = cmd_render_products();
    } else if (!strcmp(argv[1], "reconcile-payments")) {
        status = cmd_reconcile_payments();
    } else if (!strcmp(argv[1], "sweep-objects")) {
        status = cmd_sweep_objects(argc, argv);
    } else {
        fprintf(stderr, "smartcart: unknown command '%s'\n%s\n", argv[1], usage);
        status = 2;
    }
    db_pool_shutdown();
    return status;
}
