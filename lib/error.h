/* One error convention for the whole code base (curl-style): every fallible
 * function returns an sc_code, SC_OK on success. The codes are chosen so a
 * handler can map them straight to an HTTP status (see http_status_of). */
#ifndef SC_ERROR_H
#define SC_ERROR_H

typedef enum {
    SC_OK = 0,
    SC_ENOMEM,     /* allocation failed */
    SC_EINVAL,     /* caller supplied invalid input (422 / 400) */
    SC_ENOTFOUND,  /* the row / object / key does not exist (404) */
    SC_ECONFLICT,  /* unique violation or state conflict (409) */
    SC_EFOREIGN,   /* a referenced row does not exist (foreign key) */
    SC_ETOOBIG,    /* a size limit was exceeded (413) */
    SC_EUNAVAIL,   /* a dependency (Postgres, Redis, Kafka, S3) is unreachable (503) */
    SC_ETIMEOUT,   /* a dependency did not answer in time (503 / 504) */
    SC_EPERMANENT, /* the work can never succeed; do not retry */
    SC_EINTERNAL,  /* a bug or an unexpected answer (500) */
} sc_code;

/* Returns a static, human-readable name for code. */
const char *sc_strerror(sc_code code);

/* True when retrying the same operation later may succeed. */
int sc_is_transient(sc_code code);

#endif
