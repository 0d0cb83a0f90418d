/* libpq adapter: connection pool, per-connection prepared-statement cache,
 * SQLSTATE → sc_code mapping. Nothing outside this file includes libpq. */
#include "db.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Statements are cached by the address of their SQL text; a process has a
 * few hundred at most, so a small open-addressing table per connection does. */
#define STMT_SLOTS 1024

struct db_conn {
    PGconn *pg;
    int in_use;
    const char *stmt_sql[STMT_SLOTS];
    char error[512];
    char constraint[128];
};

struct db_rows {
    PGresult *res;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    db_conn *conns;
    int size;
    char *url;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, NULL};

/* Server NOTICEs ("relation already exists, skipping") are expected noise
 * for an application; they go to the debug log instead of raw stderr. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_json(LOG_DEBUG, "postgres notice", json_pack("{s:s}", "notice", message));
}

static PGconn *connect_one(const char *url)
{
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, on_notice, NULL);
    } else {
        log_json(LOG_ERROR, "postgres connect failed",
                 json_pack("{s:s}", "error", PQerrorMessage(pg)));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

sc_code db_pool_init(const char *url, int size)
{
    pool.conns = calloc((size_t)size, sizeof(db_conn));
    pool.url = strdup(url);
    if (!pool.conns || !pool.url) {
        return SC_ENOMEM;
    }
    pool.size = size;
    /* One live connection proves the URL; the rest connect lazily on first use. */
    pool.conns[0].pg = connect_one(url);
    return pool.conns[0].pg ? SC_OK : SC_EUNAVAIL;
}

void db_pool_shutdown(void)
{
    for (int i = 0; i < pool.size; i++) {
        if (pool.conns[i].pg) {
            PQfinish(pool.conns[i].pg);
        }
    }
    free(pool.conns);
    free(pool.url);
    pool.conns = NULL;
    pool.url = NULL;
    pool.size = 0;
}

/* Makes c usable: connects, or resets a connection the server dropped.
 * A reset forgets the server-side prepared statements, so the cache goes too. */
static int ensure_connected(db_conn *c)
{
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
        return 1;
    }
    if (c->pg) {
        PQfinish(c->pg);
    }
    memset(c->stmt_sql, 0, sizeof(c->stmt_sql));
    c->pg = connect_one(pool.url);
    return c->pg != NULL;
}

db_conn *db_acquire(void)
{
    pthread_mutex_lock(&pool.lock);
    db_conn *c = NULL;
    while (!c) {
        for (int i = 0; i < pool.size; i++) {
            if (!pool.conns[i].in_use) {
                c = &pool.conns[i];
                break;
            }
        }
        if (!c) {
            pthread_cond_wait(&pool.freed, &pool.lock);
        }
    }
    c->in_use = 1;
    pthread_mutex_unlock(&pool.lock);

    if (!ensure_connected(c)) {
        db_release(c);
        return NULL;
    }
    c->error[0] = c->constraint[0] = '\0';
    return c;
}

void db_release(db_conn *c)
{
    if (!c) {
        return;
    }
    /* A connection handed back inside a transaction would leak its locks to
     * the next borrower: roll it back here rather than trust every caller. */
    if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_lock(&pool.lock);
    c->in_use = 0;
    pthread_cond_signal(&pool.freed);
    pthread_mutex_unlock(&pool.lock);
}

static sc_code code_of_result(db_conn *c, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return SC_OK;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(c->error, sizeof(c->error), "%s",
             res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
    snprintf(c->constraint, sizeof(c->constraint), "%s", cons ? cons : "");

    if (PQstatus(c->pg) != CONNECTION_OK || !state) {
        return SC_EUNAVAIL;
    }
    if (!strcmp(state, "23505")) {
        return SC_ECONFLICT;
    }
    if (!strcmp(state, "23503")) {
        return SC_EFOREIGN;
    }
    if (!strncmp(state, "22", 2) || !strcmp(state, "23514") || !strcmp(state, "23502")) {
        return SC_EINVAL;
    }
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strncmp(state, "08", 2) ||
        !strcmp(state, "57P01") || !strcmp(state, "57P03") || !strcmp(state, "55P03")) {
        return SC_EUNAVAIL;
    }
    if (!strcmp(state, "57014")) {
        return SC_ETIMEOUT;
    }
    log_json(LOG_ERROR, "postgres statement failed",
             json_pack("{s:s, s:s}", "sqlstate", state, "error", c->error));
    return SC_EINTERNAL;
}

static sc_code finish(db_conn *c, PGresult *res, db_rows **out)
{
    sc_code rc = code_of_result(c, res);
    if (rc != SC_OK || !out) {
        PQclear(res);
        return rc;
    }
    *out = malloc(sizeof(**out));
    if (!*out) {
        PQclear(res);
        return SC_ENOMEM;
    }
    (*out)->res = res;
    return SC_OK;
}

/* Finds the slot of sql, preparing it on this connection on first use. */
static sc_code prepared_name(db_conn *c, const char *sql, int nparams, char name[32])
{
    uintptr_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS;
    for (int probe = 0; probe < STMT_SLOTS; probe++, h = (h + 1) % STMT_SLOTS) {
        snprintf(name, 32, "s%lu", (unsigned long)h);
        if (c->stmt_sql[h] == sql) {
            return SC_OK;
        }
        if (c->stmt_sql[h] == NULL) {
            PGresult *res = PQprepare(c->pg, name, sql, nparams, NULL);
            sc_code rc = code_of_result(c, res);
            PQclear(res);
            if (rc == SC_OK) {
                c->stmt_sql[h] = sql;
            }
            return rc;
        }
    }
    return SC_EINTERNAL;
}

sc_code db_exec(db_conn *c, db_rows **out, const char *sql, int nparams, const char *const *params)
{
    if (out) {
        *out = NULL;
    }
    char name[32];
    sc_code rc = prepared_name(c, sql, nparams, name);
    if (rc != SC_OK) {
        return rc;
    }
    PGresult *res = PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0);
    return finish(c, res, out);
}

sc_code db_exec_dynamic(db_conn *c, db_rows **out, const char *sql, int nparams,
                        const char *const *params)
{
    if (out) {
        *out = NULL;
    }
    PGresult *res = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    return finish(c, res, out);
}

sc_code db_query_json(db_conn *c, json_t **out, const char *sql, int nparams,
                      const char *const *params)
{
    *out = NULL;
    db_rows *rows = NULL;
    sc_code rc = db_exec(c, &rows, sql, nparams, params);
    if (rc != SC_OK) {
        return rc;
    }
    const char *text = db_nrows(rows) > 0 ? db_value(rows, 0, 0) : NULL;
    if (!text) {
        db_rows_free(rows);
        return SC_ENOTFOUND;
    }
    json_error_t jerr;
    *out = json_loads(text, JSON_DECODE_ANY, &jerr);
    db_rows_free(rows);
    return *out ? SC_OK : SC_EINTERNAL;
}

sc_code db_query_text(db_conn *c, char **out, const char *sql, int nparams,
                      const char *const *params)
{
    db_rows *rows = NULL;
    if (out) {
        *out = NULL;
    }
    sc_code rc = db_exec(c, &rows, sql, nparams, params);
    const char *text = rc == SC_OK && db_nrows(rows) > 0 ? db_value(rows, 0, 0) : NULL;
    if (rc == SC_OK && !text) {
        rc = SC_ENOTFOUND;
    } else if (rc == SC_OK && out && !(*out = strdup(text))) {
        rc = SC_ENOMEM;
    }
    db_rows_free(rows);
    return rc;
}

sc_code db_exec_script(db_conn *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
    return finish(c, res, NULL);
}

sc_code db_begin(db_conn *c)
{
    return db_exec_script(c, "BEGIN");
}

sc_code db_commit(db_conn *c)
{
    return db_exec_script(c, "COMMIT");
}

void db_rollback(db_conn *c)
{
    PGresult *res = PQexec(c->pg, "ROLLBACK");
    PQclear(res);
}

int db_nrows(const db_rows *r)
{
    return r ? PQntuples(r->res) : 0;
}

const char *db_value(const db_rows *r, int row, int col)
{
    if (!r || row >= PQntuples(r->res) || col >= PQnfields(r->res) ||
        PQgetisnull(r->res, row, col)) {
        return NULL;
    }
    return PQgetvalue(r->res, row, col);
}

void db_rows_free(db_rows *r)
{
    if (r) {
        PQclear(r->res);
        free(r);
    }
}

const char *db_error_message(const db_conn *c)
{
    return c->error;
}

const char *db_error_constraint(const db_conn *c)
{
    return c->constraint;
}

sc_code db_ping(void)
{
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    sc_code rc = db_exec(c, NULL, "SELECT 1", 0, NULL);
    db_release(c);
    return rc;
}
