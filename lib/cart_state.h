/* The Redis side of shopping sessions (a cache: every key can be rebuilt
 * from Postgres): the cart snapshot `cart:snapshot:<session id>` (the
 * session JSON with its version), the outcome of each cart command
 * `cart:applied:<message id>`, and the channel `cart:updates:<session id>`
 * on which the cart worker announces every change. */
#ifndef SC_CART_STATE_H
#define SC_CART_STATE_H

#include <jansson.h>
#include "error.h"

/* How long the outcome of a command stays readable for the request that
 * waits for it (seconds). */
#define CART_OUTCOME_TTL_S 120

/* The session as the API shows it: from the snapshot, or on a miss rebuilt
 * from Postgres and cached for CART_SNAPSHOT_TTL_S. *text (malloc'd) is the
 * JSON to send as it is; *doc (may be NULL) the same parsed, for checks.
 * Both are the caller's. SC_ENOTFOUND when the session does not exist. A
 * Redis failure only costs the cache: the answer then comes from Postgres. */
sc_code cart_snapshot_load(const char *session_id, char **text, json_t **doc);

/* Caches text as the snapshot of version, unless the cached one is newer
 * (a reader's rebuild that raced with the worker never hides a later
 * state). */
sc_code cart_snapshot_store(const char *session_id, const char *text, long long version);

/* Forgets the snapshot (before a change commits, and when a session ends). */
sc_code cart_snapshot_drop(const char *session_id);

/* Forgets the snapshots of session_ids[0..n) (repeats allowed) in one round trip. */
sc_code cart_snapshots_drop(const char *const *session_ids, size_t n);

/* What became of one command. */
struct cart_outcome {
    int applied;       /* 1: applied; 0: refused, the session was no longer active */
    long long version; /* the session's version after it (applied only) */
};

/* What the cart worker did to one session in one transaction. */
struct cart_publication {
    const char *session_id;
    const char *snapshot;           /* the session's JSON now; NULL: none to cache */
    long long version;              /* the snapshot's */
    const char *const *message_ids; /* the commands it applied or refused, in order */
    const struct cart_outcome *outcomes;
    size_t n;
};

/* Publishes p[0..n) in one Redis round trip: for each session, caches its
 * snapshot as cart_snapshot_store does, then, in order, records the outcome
 * of each command for CART_OUTCOME_TTL_S and announces {session_id,
 * message_id, status: "applied"|"rejected", version} on its channel. */
sc_code cart_publish(const struct cart_publication *p, size_t n);

/* Announces {session_id, status} (say "expired") on the session's channel. */
sc_code cart_announce_status(const char *session_id, const char *status);

/* The recorded outcome of command message_id: SC_OK with *o, SC_ENOTFOUND
 * while it is not applied yet (or its record expired), SC_EUNAVAIL. */
sc_code cart_outcome_get(const char *message_id, struct cart_outcome *o);

/* The channel a session's outcomes and status changes are announced on;
 * wait on it with redis_subscribe_once, then look with cart_outcome_get. */
#define CART_CHANNEL_LEN 96
void cart_channel(char out[CART_CHANNEL_LEN], const char *session_id);

#endif
