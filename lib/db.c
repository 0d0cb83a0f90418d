/* libpq adapter: connection pool, per-connection prepared-statement cache,
 * SQLSTATE → sc_code mapping. Nothing outside this file includes libpq. */
#include "db.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchq.h"
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

/* A thread waiting for a connection. Connections are handed over in the
 * order their waiters came: with a condition variable shared by all, a
 * thread releasing one and borrowing again at once could win it every time,
 * and a waiter could starve for seconds under load. */
struct pool_waiter {
    struct pool_waiter *next;
    pthread_cond_t handed;
    db_conn *conn;
};

static struct {
    pthread_mutex_t lock;
    struct pool_waiter *waiting, **waiting_tail;
    db_conn *conns;
    int size;
    char *url;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .waiting_tail = &pool.waiting};

/* Server NOTICEs ("relation already exists, skipping") are expected noise
 * for an application; they go to the debug log instead of raw stderr. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_json(LOG_DEBUG, "postgres notice", json_pack("{s:s}", "notice", message));
}

static void reads_stop(void);
static void keyed_stop(void);

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
    reads_stop();
    keyed_stop();
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
    for (int i = 0; i < pool.size && !pool.waiting && !c; i++) {
        if (!pool.conns[i].in_use) {
            c = &pool.conns[i];
            c->in_use = 1;
        }
    }
    if (!c) {
        struct pool_waiter w = {.handed = PTHREAD_COND_INITIALIZER};
        *pool.waiting_tail = &w;
        pool.waiting_tail = &w.next;
        while (!w.conn) {
            pthread_cond_wait(&w.handed, &pool.lock);
        }
        c = w.conn;
        pthread_cond_destroy(&w.handed);
    }
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
    struct pool_waiter *w = pool.waiting;
    if (w) { /* stays in use: the first waiter's now */
        if (!(pool.waiting = w->next)) {
            pool.waiting_tail = &pool.waiting;
        }
        w->conn = c;
        pthread_cond_signal(&w->handed);
    } else {
        c->in_use = 0;
    }
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

/* The slot of sql in c's statement cache, named in name: 1 when sql is
 * prepared there, 0 when the slot is free for it, -1 when the cache is full. */
static int stmt_slot(const db_conn *c, const char *sql, uintptr_t *slot, char name[32])
{
    uintptr_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS;
    for (int probe = 0; probe < STMT_SLOTS; probe++, h = (h + 1) % STMT_SLOTS) {
        if (c->stmt_sql[h] == sql || c->stmt_sql[h] == NULL) {
            snprintf(name, 32, "s%lu", (unsigned long)h);
            *slot = h;
            return c->stmt_sql[h] == sql;
        }
    }
    return -1;
}

/* Finds the slot of sql, preparing it on this connection on first use. */
static sc_code prepared_name(db_conn *c, const char *sql, int nparams, char name[32])
{
    uintptr_t h;
    int known = stmt_slot(c, sql, &h, name);
    if (known != 0) {
        return known > 0 ? SC_OK : SC_EINTERNAL;
    }
    PGresult *res = PQprepare(c->pg, name, sql, nparams, NULL);
    sc_code rc = code_of_result(c, res);
    PQclear(res);
    if (rc == SC_OK) {
        c->stmt_sql[h] = sql;
    }
    return rc;
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

/* ---- the read pipeline ----
 * A request that is one quick read (a product's stored render) should not
 * hold an event loop asleep for a round trip to Postgres. Callers queue the
 * statement and return; one thread owns one connection in libpq's pipeline
 * mode and sends everything queued at once, each statement with its own
 * Sync (its own implicit transaction: one failing aborts no other), then
 * answers each caller from its result. While one batch is on the wire the
 * next gathers, so the round trips and wake-ups per read fall as load rises.
 * The connection is read-only, so a statement queued by mistake that writes
 * fails instead of waiting on a writer's row lock with every read behind it. */

/* Queries are small; results may be large (a search page is ~14 KB). The
 * whole batch's queries are written before any result is read, which is
 * safe while they fit the sockets' buffers: this bounds them well below. */
#define READ_BATCH_MAX 64

struct read_job {
    struct batchq_job link;
    const char *sql;
    int nparams;
    db_value_cb cb;
    void *arg;
    const char *params[DB_READ_PARAMS_MAX];
    char text[]; /* the non-NULL params, each NUL-terminated */
};

static void run_reads(struct batchq *q, struct batchq_job *batch);

static void fail_reads(struct batchq_job *j, sc_code rc)
{
    while (j) {
        struct read_job *r = (struct read_job *)j;
        j = j->next;
        r->cb(r->arg, rc, NULL, 0);
        free(r);
    }
}

/* One Postgres backend runs a connection's statements one after another, so
 * a single pipeline is bounded by one core of the database: reads are
 * spread over several, round robin. */
struct read_pipe {
    struct batchq q; /* first: run_reads finds its pipe from it */
    db_conn conn;    /* the pipe's thread's alone */
};

static struct {
    struct read_pipe *pipes;
    int n;
    atomic_uint next;
} reads;

/* Connects the pipeline's connection when it is not: read-only, pipeline mode. */
static int reads_connect(db_conn *c)
{
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
        return 1;
    }
    if (!ensure_connected(c)) {
        return 0;
    }
    PGresult *res = PQexec(c->pg, "SET default_transaction_read_only = on; "
                                  "SET application_name = '" DB_READS_APPLICATION_NAME "'");
    int ok = code_of_result(c, res) == SC_OK && PQenterPipelineMode(c->pg);
    PQclear(res);
    if (!ok) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    return ok;
}

/* Answers j from its results: the Prepare's (when one was sent) and the query's. */
static void answer_read(db_conn *c, struct read_job *j, PGresult *prepared, PGresult *res,
                        uintptr_t slot)
{
    sc_code rc = prepared ? code_of_result(c, prepared) : SC_OK;
    if (rc != SC_OK) {
        c->stmt_sql[slot] = NULL; /* its execution was aborted with it */
    } else if ((rc = code_of_result(c, res)) == SC_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
               !PQgetisnull(res, 0, 0)) {
        j->cb(j->arg, SC_OK, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        return;
    }
    j->cb(j->arg, rc == SC_OK ? SC_ENOTFOUND : rc, NULL, 0);
}

/* Sends the jobs (at most READ_BATCH_MAX) and answers each from its results,
 * in order; returns the ones left unanswered when the connection failed. */
static struct batchq_job *send_reads(db_conn *c, struct batchq_job *j)
{
    PGconn *pg = c->pg;
    uintptr_t slot[READ_BATCH_MAX];
    int prepare[READ_BATCH_MAX];
    int n = 0;
    for (struct batchq_job *k = j; k; k = k->next, n++) {
        const struct read_job *r = (const struct read_job *)k;
        char name[32];
        int known = stmt_slot(c, r->sql, &slot[n], name);
        prepare[n] = known == 0;
        if (known < 0 || (prepare[n] && !PQsendPrepare(pg, name, r->sql, r->nparams, NULL)) ||
            !PQsendQueryPrepared(pg, name, r->nparams, r->params, NULL, NULL, 0) ||
            !PQpipelineSync(pg)) {
            return j;
        }
        if (prepare[n]) {
            c->stmt_sql[slot[n]] = r->sql; /* the batch's later reads use it */
        }
    }
    if (PQflush(pg) != 0) {
        return j;
    }
    for (n = 0; j; n++) {
        PGresult *prepared = NULL, *res = NULL, *r;
        /* Each command's results end with NULL; the Sync's result ends the job. */
        while (!(r = PQgetResult(pg)) || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            if (!r && PQstatus(pg) != CONNECTION_OK) {
                PQclear(prepared);
                PQclear(res);
                return j;
            }
            if (r && prepare[n] && !prepared) {
                prepared = r;
            } else if (r && !res) {
                res = r;
            } else {
                PQclear(r);
            }
        }
        PQclear(r);
        struct read_job *done = (struct read_job *)j;
        j = j->next;
        answer_read(c, done, prepared, res, slot[n]);
        PQclear(prepared);
        PQclear(res);
        free(done);
    }
    return NULL;
}

/* One batch: on a connection that failed, the unanswered reads get one more
 * try on a fresh connection, unless it was fresh already. */
static void run_reads(struct batchq *q, struct batchq_job *j)
{
    db_conn *c = &((struct read_pipe *)q)->conn;
    for (int fresh = 0; j; fresh = 1) {
        int was_connected = c->pg && PQstatus(c->pg) == CONNECTION_OK;
        if (!reads_connect(c)) {
            fail_reads(j, SC_EUNAVAIL);
            return;
        }
        if (!(j = send_reads(c, j))) {
            return;
        }
        log_json(LOG_WARN, "postgres read pipeline failed",
                 json_pack("{s:s}", "error", PQerrorMessage(c->pg)));
        PQfinish(c->pg);
        c->pg = NULL;
        if (fresh || !was_connected) {
            fail_reads(j, SC_EUNAVAIL);
            return;
        }
    }
}

sc_code db_reads_init(int pipelines)
{
    if (pipelines < 1 || reads.n) {
        return SC_EINVAL;
    }
    if (!(reads.pipes = calloc((size_t)pipelines, sizeof(*reads.pipes)))) {
        return SC_ENOMEM;
    }
    for (int i = 0; i < pipelines; i++) {
        reads.pipes[i].q = (struct batchq)BATCHQ_INIT(run_reads, fail_reads, READ_BATCH_MAX);
    }
    reads.n = pipelines;
    return SC_OK;
}

static void reads_stop(void)
{
    for (int i = 0; i < reads.n; i++) {
        batchq_stop(&reads.pipes[i].q);
        if (reads.pipes[i].conn.pg) {
            PQfinish(reads.pipes[i].conn.pg);
        }
    }
    free(reads.pipes);
    reads.pipes = NULL;
    reads.n = 0;
}

sc_code db_read_async(const char *sql, int nparams, const char *const *params, db_value_cb cb,
                      void *arg)
{
    if (nparams < 0 || nparams > DB_READ_PARAMS_MAX) {
        return SC_EINVAL;
    }
    size_t bytes = 0;
    for (int i = 0; i < nparams; i++) {
        bytes += params[i] ? strlen(params[i]) + 1 : 0;
    }
    struct read_job *j = malloc(sizeof(*j) + bytes);
    if (!j) {
        return SC_ENOMEM;
    }
    *j = (struct read_job){.sql = sql, .nparams = nparams, .cb = cb, .arg = arg};
    char *p = j->text;
    for (int i = 0; i < nparams; i++) {
        if (params[i]) {
            size_t len = strlen(params[i]) + 1;
            j->params[i] = memcpy(p, params[i], len);
            p += len;
        }
    }
    /* The pool holds the URL while it is open. */
    sc_code rc =
        reads.n ? batchq_push(&reads.pipes[atomic_fetch_add(&reads.next, 1) % (unsigned)reads.n].q,
                              &j->link, pool.url != NULL)
                : SC_EUNAVAIL;
    if (rc != SC_OK) {
        free(j);
    }
    return rc;
}

/* ---- keyed batches ----
 * Some statements cost far more per run than per row: rendering and storing
 * one product is ~0.4-0.8 ms of Postgres (a plan, an implicit transaction,
 * its commit), ~0.1 ms among a hundred. Callers queue a key instead; one
 * thread per statement takes everything queued, runs the statement once for
 * the keys that share its first parameter, on a pool connection, and
 * answers each caller from the row of its key. */

#define KEYED_STATEMENTS_MAX 4
#define KEYED_BATCH_MAX 64

struct keyed_job {
    struct batchq_job link;
    db_value_cb cb;
    void *arg;
    const char *key;
    char shared[]; /* then the key, both NUL-terminated */
};

struct keyed_queue {
    struct batchq q; /* first: run_keyed finds its statement from it */
    const char *sql;
};

static void fail_keyed(struct batchq_job *j, sc_code rc)
{
    while (j) {
        struct keyed_job *k = (struct keyed_job *)j;
        j = j->next;
        k->cb(k->arg, rc, NULL, 0);
        free(k);
    }
}

static struct {
    pthread_mutex_t lock;
    struct keyed_queue queues[KEYED_STATEMENTS_MAX];
    int n;
} keyed = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Moves the jobs of batch whose shared value is the first one's to *mine
 * (in order) and returns the rest. */
static struct batchq_job *take_shared(struct batchq_job *batch, struct batchq_job **mine)
{
    const char *shared = ((struct keyed_job *)batch)->shared;
    struct batchq_job *rest = NULL, **rest_tail = &rest, **mine_tail = mine;
    for (struct batchq_job *j = batch, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (!strcmp(((struct keyed_job *)j)->shared, shared)) {
            *mine_tail = j;
            mine_tail = &j->next;
        } else {
            *rest_tail = j;
            rest_tail = &j->next;
        }
    }
    return rest;
}

/* The keys of jobs as a Postgres array literal (keys are plain tokens: the
 * callers checked them); NULL when out of memory. The caller frees it. */
static char *keys_literal(const struct batchq_job *jobs)
{
    size_t len = 3;
    for (const struct batchq_job *j = jobs; j; j = j->next) {
        len += strlen(((const struct keyed_job *)j)->key) + 1;
    }
    char *lit = malloc(len), *p = lit;
    if (!lit) {
        return NULL;
    }
    *p++ = '{';
    for (const struct batchq_job *j = jobs; j; j = j->next) {
        p += sprintf(p, "%s%s", j == jobs ? "" : ",", ((const struct keyed_job *)j)->key);
    }
    strcpy(p, "}");
    return lit;
}

/* Answers the jobs of one shared value from rows (NULL when the statement
 * failed with rc) and frees them. */
static void answer_keyed(struct batchq_job *jobs, const db_rows *rows, sc_code rc)
{
    int n = db_nrows(rows);
    while (jobs) {
        struct keyed_job *k = (struct keyed_job *)jobs;
        int row = 0;
        jobs = jobs->next;
        while (row < n && strcmp(PQgetvalue(rows->res, row, 0), k->key) != 0) {
            row++;
        }
        if (row < n && !PQgetisnull(rows->res, row, 1)) {
            k->cb(k->arg, SC_OK, PQgetvalue(rows->res, row, 1),
                  (size_t)PQgetlength(rows->res, row, 1));
        } else {
            k->cb(k->arg, rc == SC_OK ? SC_ENOTFOUND : rc, NULL, 0);
        }
        free(k);
    }
}

static void run_keyed(struct batchq *q, struct batchq_job *batch)
{
    const char *sql = ((struct keyed_queue *)q)->sql;
    db_conn *c = db_acquire();
    while (batch) {
        struct batchq_job *mine = NULL;
        batch = take_shared(batch, &mine);
        char *keys = keys_literal(mine);
        const char *params[] = {((struct keyed_job *)mine)->shared, keys};
        db_rows *rows = NULL;
        sc_code rc = !c ? SC_EUNAVAIL : !keys ? SC_ENOMEM : db_exec(c, &rows, sql, 2, params);
        answer_keyed(mine, rows, rc);
        db_rows_free(rows);
        free(keys);
    }
    db_release(c);
}

/* The queue of sql, made on its first use; NULL when there are too many. */
static struct keyed_queue *keyed_queue_of(const char *sql)
{
    struct keyed_queue *kq = NULL;
    pthread_mutex_lock(&keyed.lock);
    for (int i = 0; i < keyed.n && !kq; i++) {
        kq = keyed.queues[i].sql == sql ? &keyed.queues[i] : NULL;
    }
    if (!kq && keyed.n < KEYED_STATEMENTS_MAX) {
        kq = &keyed.queues[keyed.n++];
        *kq = (struct keyed_queue){
            .q = (struct batchq)BATCHQ_INIT(run_keyed, fail_keyed, KEYED_BATCH_MAX), .sql = sql};
    }
    pthread_mutex_unlock(&keyed.lock);
    return kq;
}

static void keyed_stop(void)
{
    pthread_mutex_lock(&keyed.lock);
    int n = keyed.n;
    pthread_mutex_unlock(&keyed.lock);
    for (int i = 0; i < n; i++) {
        batchq_stop(&keyed.queues[i].q);
    }
}

sc_code db_keyed_async(const char *sql, const char *shared, const char *key, db_value_cb cb,
                       void *arg)
{
    struct keyed_queue *kq = keyed_queue_of(sql);
    size_t shared_len = strlen(shared) + 1, key_len = strlen(key) + 1;
    struct keyed_job *j = kq ? malloc(sizeof(*j) + shared_len + key_len) : NULL;
    if (!j) {
        return kq ? SC_ENOMEM : SC_EINTERNAL;
    }
    *j = (struct keyed_job){.cb = cb, .arg = arg};
    memcpy(j->shared, shared, shared_len);
    j->key = memcpy(j->shared + shared_len, key, key_len);
    /* The pool holds the URL while it is open. */
    sc_code rc = batchq_push(&kq->q, &j->link, pool.url != NULL);
    if (rc != SC_OK) {
        free(j);
    }
    return rc;
}
