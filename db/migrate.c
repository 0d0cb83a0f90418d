/* Migration runner. Each file's SHA-256 is recorded when applied; an edited
 * applied file stops the run, because production already holds the old text. */
#include "migrate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

/* Any constant works; it only has to be the same in every migrator. */
#define MIGRATION_LOCK_KEY "7460391122"

static int is_migration_name(const char *name)
{
    size_t n = strlen(name);
    return n > 9 && name[0] >= '0' && name[0] <= '9' && name[4] == '_' &&
           !strcmp(name + n - 4, ".sql");
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
            if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
                free(buf);
                buf = NULL;
            } else {
                buf[len] = '\0';
            }
        }
    }
    fclose(f);
    return buf;
}

/* Applies one file unless recorded; SC_ECONFLICT when recorded with another checksum. */
static sc_code apply_one(db_conn *c, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *sql = read_file(path);
    if (!sql) {
        log_error("cannot read migration %s", path);
        return SC_EINTERNAL;
    }
    char hex[65];
    crypto_sha256_hex(sql, strlen(sql), hex);

    db_rows *rows = NULL;
    const char *p[] = {name};
    sc_code rc = db_exec(c, &rows, "SELECT checksum FROM schema_migrations WHERE name = $1", 1, p);
    if (rc == SC_OK && db_nrows(rows) > 0) {
        if (strcmp(db_value(rows, 0, 0), hex) != 0) {
            log_json(LOG_ERROR, "applied migration was edited; refusing to run",
                     json_pack("{s:s, s:s, s:s}", "migration", name, "applied_checksum",
                               db_value(rows, 0, 0), "file_checksum", hex));
            rc = SC_ECONFLICT;
        }
        goto out;
    }
    if (rc != SC_OK) {
        goto out;
    }
    if ((rc = db_begin(c)) != SC_OK) {
        goto out;
    }
    rc = db_exec_script(c, sql);
    if (rc == SC_OK) {
        const char *ins[] = {name, hex};
        rc = db_exec(c, NULL, "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", 2,
                     ins);
    }
    if (rc == SC_OK) {
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        log_json(LOG_ERROR, "migration failed",
                 json_pack("{s:s, s:s}", "migration", name, "error", db_error_message(c)));
        db_rollback(c);
        goto out;
    }
    log_json(LOG_INFO, "migration applied", json_pack("{s:s}", "migration", name));
out:
    db_rows_free(rows);
    free(sql);
    return rc;
}

sc_code migrate_apply(db_conn *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        log_error("cannot open migrations folder %s", dir);
        return SC_EINTERNAL;
    }
    char **names = NULL;
    size_t n = 0;
    sc_code rc = SC_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_migration_name(e->d_name)) {
            continue;
        }
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (!grown || !(grown[n] = strdup(e->d_name))) {
            names = grown ? grown : names;
            rc = SC_ENOMEM;
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (rc != SC_OK) {
        goto out;
    }
    qsort(names, n, sizeof(*names), cmp_names);

    rc = db_exec(c, NULL, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", 0, NULL);
    if (rc != SC_OK) {
        goto out;
    }
    rc = db_exec_script(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                           " name text PRIMARY KEY,"
                           " checksum text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())");
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        rc = apply_one(c, dir, names[i]);
    }
    db_exec(c, NULL, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", 0, NULL);
out:
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return rc;
}
