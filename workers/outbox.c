/* Transactional outbox (see outbox.h). */
#include "outbox.h"

#include <string.h>

#include "kafka.h"
#include "log.h"

sc_code outbox_add(db_conn *tx, const char *topic, const char *key, const char *payload)
{
    const char *p[] = {topic, key, payload};
    return db_exec(tx, NULL, "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)", 3, p);
}

/* Produces and deletes the oldest row nobody else holds; *done when none is left. */
static sc_code drain_one(db_conn *c, int *done)
{
    db_rows *rows = NULL;
    sc_code rc = db_begin(c);
    if (rc != SC_OK) {
        return rc;
    }
    rc = db_exec(c, &rows,
                 "SELECT id, topic, key, payload FROM outbox ORDER BY id LIMIT 1 "
                 "FOR UPDATE SKIP LOCKED",
                 0, NULL);
    *done = rc == SC_OK && db_nrows(rows) == 0;
    if (rc != SC_OK || *done) {
        goto out;
    }
    const char *key = db_value(rows, 0, 2), *payload = db_value(rows, 0, 3);
    rc = kafka_produce_sync(db_value(rows, 0, 1), key, strlen(key), payload, strlen(payload), NULL,
                            0);
    if (rc == SC_OK) {
        const char *id = db_value(rows, 0, 0);
        rc = db_exec(c, NULL, "DELETE FROM outbox WHERE id = $1", 1, &id);
    }
out:
    if (rc == SC_OK) {
        rc = db_commit(c);
    } else {
        db_rollback(c);
    }
    db_rows_free(rows);
    return rc;
}

sc_code outbox_drain(size_t *sent)
{
    size_t n = 0;
    int done = 0;
    sc_code rc = SC_OK;
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    while (rc == SC_OK && !done) {
        rc = drain_one(c, &done);
        n += rc == SC_OK && !done;
    }
    db_release(c);
    if (rc != SC_OK) {
        log_json(LOG_WARN, "outbox drain stopped; the rest waits for the next drain",
                 json_pack("{s:s,s:I}", "error", sc_strerror(rc), "sent", (json_int_t)n));
    }
    if (sent) {
        *sent = n;
    }
    return rc;
}
