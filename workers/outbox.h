/* Transactional outbox: a worker that must produce a message as part of its
 * effect writes it with outbox_add in the effect's transaction, and
 * outbox_drain produces what is there after the commit (from after_commit
 * and at start-up). A crash between commit and produce delays the message
 * until the next drain; it is never lost. A crash between produce and
 * delete produces it again: the message's id is fixed when it is added, so
 * consumers skip the second copy (processed_messages). */
#ifndef SC_OUTBOX_H
#define SC_OUTBOX_H

#include <stddef.h>

#include "db.h"
#include "error.h"

/* Queues payload (an encoded envelope) for topic with key, inside tx. */
sc_code outbox_add(db_conn *tx, const char *topic, const char *key, const char *payload);

/* Produces queued messages, oldest first, each acknowledged by the broker
 * before its row is deleted, until none is left or one fails. Rows another
 * process is producing are skipped. *sent (may be NULL) counts them. */
sc_code outbox_drain(size_t *sent);

#endif
