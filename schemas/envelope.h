/* The message envelope every Kafka message carries (schemas/envelope.schema.json
 * is the source of truth): id (UUID, the idempotency key), type, version,
 * occurred_at (RFC 3339), tenant (UUID) and data (an object owned by the
 * message type's own schema). Encoder and decoder share one validator. */
#ifndef SC_ENVELOPE_H
#define SC_ENVELOPE_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"

#define ENVELOPE_UUID_LEN 37
#define ENVELOPE_TYPE_LEN 65
#define ENVELOPE_TIME_LEN 40

struct envelope {
    char id[ENVELOPE_UUID_LEN]; /* lower case */
    char type[ENVELOPE_TYPE_LEN];
    int version;
    char occurred_at[ENVELOPE_TIME_LEN];
    char tenant[ENVELOPE_UUID_LEN]; /* lower case */
    json_t *data;                   /* owned; freed by envelope_clear */
};

/* Fills e for a new message: a fresh random id, occurred_at = now (UTC, ms).
 * data is stolen (also on failure). SC_EINVAL when a field breaks the schema. */
sc_code envelope_init(struct envelope *e, const char *type, int version, const char *tenant,
                      json_t *data);

/* Validates e and serialises it as compact JSON. *out (NUL-terminated, *len
 * bytes without the NUL) is the caller's to free(). */
sc_code envelope_encode(const struct envelope *e, char **out, size_t *len);

/* Parses and validates len bytes of JSON. On SC_OK the caller owns e and
 * releases it with envelope_clear. On SC_EINVAL err names the offending
 * field, e holds nothing to release, and e->id is still set when the id
 * itself was valid (so a dead letter can name the message). Members the
 * schema does not know are ignored, so producers can add one before every
 * consumer knows it. */
sc_code envelope_decode(const void *buf, size_t len, struct envelope *e, char *err, size_t errlen);

/* Releases data; e may be reused. */
void envelope_clear(struct envelope *e);

#endif
