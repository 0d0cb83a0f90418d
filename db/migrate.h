/* Schema migrations: db/migrations/NNNN_name.sql applied in order. */
#ifndef SC_MIGRATE_H
#define SC_MIGRATE_H

#include "db.h"

/* Applies every file of dir not yet recorded in schema_migrations, each in its
 * own transaction, under an advisory lock so concurrent migrators serialise.
 * Refuses (SC_ECONFLICT) when an applied file's checksum changed. Logs each step. */
sc_code migrate_apply(db_conn *c, const char *dir);

#endif
