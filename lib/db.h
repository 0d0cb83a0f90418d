/* PostgreSQL access (the only file that sees libpq is db.c): a fixed pool of
 * connections, parameterised statements prepared once per connection, and
 * results behind an opaque db_rows so PGresult never leaks out. */
#ifndef SC_DB_H
#define SC_DB_H

#include <jansson.h>
#include "error.h"

typedef struct db_conn db_conn;
typedef struct db_rows db_rows;

/* Opens `size` connections to url. Fails with SC_EUNAVAIL when none can be made. */
sc_code db_pool_init(const char *url, int size);
/* Also stops the read pipelines and keyed batches: what is still queued
 * gets SC_EUNAVAIL. */
void db_pool_shutdown(void);

/* Borrows a connection, waiting while all are in use; a broken connection is
 * reset first. Returns NULL (and logs) when the database is unreachable.
 * The caller must db_release() it, with no transaction left open. */
db_conn *db_acquire(void);
void db_release(db_conn *c);

/* Runs sql with text parameters ($1..$n; a NULL entry is SQL NULL). sql must
 * be a string literal or otherwise live for the whole process: it is prepared
 * once per connection and cached by address. When out is non-NULL it receives
 * the rows (caller frees with db_rows_free), also on zero rows.
 * Errors: SC_ECONFLICT unique violation, SC_EFOREIGN foreign key, SC_EINVAL
 * check/format violation, SC_EUNAVAIL connection lost or serialisation
 * failure (transient), SC_ETIMEOUT statement timeout, SC_EINTERNAL else. */
sc_code db_exec(db_conn *c, db_rows **out, const char *sql, int nparams, const char *const *params);

/* Like db_exec for SQL built at run time: not prepared, not cached. */
sc_code db_exec_dynamic(db_conn *c, db_rows **out, const char *sql, int nparams,
                        const char *const *params);

/* Runs sql that yields one row with one json/jsonb column and parses it.
 * SC_ENOTFOUND when there is no row or the value is NULL. *out is owned by the caller. */
sc_code db_query_json(db_conn *c, json_t **out, const char *sql, int nparams,
                      const char *const *params);

/* Runs sql that yields one row and copies its first column into *out
 * (strdup'd, the caller frees) when out is non-NULL. SC_ENOTFOUND when there
 * is no row or the value is NULL; else db_exec's codes. */
sc_code db_query_text(db_conn *c, char **out, const char *sql, int nparams,
                      const char *const *params);

/* Several ;-separated statements without parameters (migrations). */
sc_code db_exec_script(db_conn *c, const char *sql);

sc_code db_begin(db_conn *c);
sc_code db_commit(db_conn *c);
void db_rollback(db_conn *c);

int db_nrows(const db_rows *r);
/* Text value of (row, col); NULL for SQL NULL. Lives as long as r. */
const char *db_value(const db_rows *r, int row, int col);
void db_rows_free(db_rows *r);

/* Message and constraint name of the last failed statement on c ("" when none). */
const char *db_error_message(const db_conn *c);
const char *db_error_constraint(const db_conn *c);

/* Readies db_read_async with its reads spread over `pipelines` connections
 * (and threads), each opened on first use; after db_pool_init, once. */
sc_code db_reads_init(int pipelines);
/* What pg_stat_activity shows for the read pipelines' connections. */
#define DB_READS_APPLICATION_NAME "smartcart read pipeline"
#define DB_READ_PARAMS_MAX 8

/* A quick read without holding the caller's thread: queues sql (same rules
 * as db_exec; params are copied) and returns. cb(arg, ...) runs later on a
 * read-pipeline thread, never inside this call, with SC_OK and the first
 * column of the first row (len bytes, valid only during the call),
 * SC_ENOTFOUND when there is no row or it is NULL, or db_exec's codes.
 * Concurrent callers share a few read-only connections (a write fails) and
 * one round trip per batch on each, so sql must be one short statement that
 * takes no lock a writer holds: every read queued behind it waits, and cb
 * must be quick for the same reason. At most DB_READ_PARAMS_MAX parameters.
 * An error returned here means cb will not run. */
typedef void (*db_value_cb)(void *arg, sc_code rc, const char *value, size_t len);
sc_code db_read_async(const char *sql, int nparams, const char *const *params, db_value_cb cb,
                      void *arg);

/* A look-up by key whose statement costs more per run than per key (one
 * that renders and stores, say): queues key and returns. On a thread of
 * sql's own, sql runs once for everything queued meanwhile with the same
 * `shared` value, on a pool connection: $1 is that value, $2 a text array
 * literal of the keys (so keys must be plain tokens, such as UUIDs the
 * caller checked); it yields rows of (key, value), a row answering the key
 * spelled exactly as its text (so callers queue keys in the statement's
 * output form: lower-case UUIDs, say). cb(arg, ...) then runs
 * there, never inside this call, with SC_OK and the value of the key's row
 * (len bytes, valid only during the call), SC_ENOTFOUND when there is none
 * or it is NULL, or db_exec's code for the whole statement. sql follows
 * db_exec's rules; a few distinct statements at most (SC_EINTERNAL beyond).
 * An error returned here means cb will not run. */
sc_code db_keyed_async(const char *sql, const char *shared, const char *key, db_value_cb cb,
                       void *arg);

/* SC_OK when a connection answers `SELECT 1`. */
sc_code db_ping(void);

#endif
