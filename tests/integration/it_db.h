/* Postgres look-ups shared by the integration tests (through lib/db.h). */
#ifndef SC_IT_DB_H
#define SC_IT_DB_H

#include <stdlib.h>

#include "db.h"

/* Runs a query yielding one number, with one or two parameters (p2 NULL:
 * one); -1 when it fails or yields no single row. */
static inline long long it_count(const char *sql, const char *p1, const char *p2)
{
    db_conn *c = db_acquire();
    db_rows *rows = NULL;
    long long n = -1;
    const char *params[] = {p1, p2};
    if (c && db_exec(c, &rows, sql, p2 ? 2 : 1, params) == SC_OK && db_nrows(rows) == 1) {
        n = atoll(db_value(rows, 0, 0));
    }
    db_rows_free(rows);
    db_release(c);
    return n;
}

#endif
