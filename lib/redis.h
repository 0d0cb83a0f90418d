/* Redis access (the only file that sees hiredis is redis.c): a pool of
 * connections for commands and one subscriber thread for waiting on
 * channels. Callers see our own types only, never redisReply.
 *
 * Errors of every command: SC_EUNAVAIL Redis unreachable or the connection
 * broke (transient; the connection is rebuilt on next use), SC_ETIMEOUT no
 * answer within REDIS_TIMEOUT_MS, or no pooled connection became free in that
 * time (transient), SC_EINTERNAL an error reply (logged; e.g. WRONGTYPE or a
 * failing script), SC_ENOMEM. */
#ifndef SC_REDIS_H
#define SC_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* Parses url (redis://[[user]:password@]host[:port][/db]) and opens one of
 * `size` connections to prove it; the rest connect lazily. SC_EINVAL for a
 * malformed url. SC_EUNAVAIL when Redis cannot be reached now: the pool is
 * still usable and reconnects on use, so a process may start without Redis. */
sc_code redis_pool_init(const char *url, int size, int timeout_ms);
/* Closes the pool and stops the subscriber; pending waiters get SC_EUNAVAIL. */
void redis_pool_shutdown(void);

/* SC_OK when PING answers PONG. */
sc_code redis_ping(void);

/* The value of key in *value (NUL-terminated, *len bytes without it; len may
 * be NULL). SC_ENOTFOUND when the key does not exist. *value is owned by the
 * caller (free); NULL on error. */
sc_code redis_get(const char *key, char **value, size_t *len);

/* The same read without waiting for it: queues a GET of key (copied) and
 * returns; cb(arg, ...) runs later on the process's Redis pipeline thread,
 * never inside this call, with SC_OK and the value (len bytes, valid only
 * during the call), SC_ENOTFOUND, or the failure. Concurrent callers share
 * one connection and one round trip per batch. cb must be quick and must not
 * wait on Redis itself: every queued GET waits behind it. An error returned
 * here means cb will not run. */
typedef void (*redis_value_cb)(void *arg, sc_code rc, const char *value, size_t len);
sc_code redis_get_async(const char *key, redis_value_cb cb, void *arg);

/* Sets key to len bytes of value, expiring after ttl_s seconds (0 = never). */
sc_code redis_set(const char *key, const char *value, size_t len, int ttl_s);

/* Like redis_set, but only when key does not exist yet: SC_ECONFLICT when it did. */
sc_code redis_set_nx(const char *key, const char *value, size_t len, int ttl_s);

/* Removes key; an absent key is not an error (idempotent). */
sc_code redis_del(const char *key);

/* Lets key expire after ttl_s seconds. SC_ENOTFOUND when key does not exist. */
sc_code redis_expire(const char *key, int ttl_s);

/* Adds by to the integer at key (a missing key counts as 0); the new value
 * goes to *value when value is non-NULL. */
sc_code redis_incr(const char *key, long long by, long long *value);

/* Publishes len bytes of msg on channel; *receivers (may be NULL) gets how
 * many subscribers Redis delivered it to. */
sc_code redis_publish(const char *channel, const char *msg, size_t len, long long *receivers);

/* Runs a Lua script atomically (EVAL; Redis caches the compiled script by
 * its hash, so resending the text costs only its bytes): keys_and_args holds nkeys keys then the
 * other arguments, nargs_total entries in all. The script's return value becomes *result: a string
 * or status reply as is, an integer (Lua number or true, which Redis makes 1) in decimal. Lua nil
 * or false gives SC_ENOTFOUND with *result NULL; a table (array reply) gives SC_EINTERNAL. *result
 * is owned by the caller (free). */
sc_code redis_eval(const char *script, int nkeys, const char *const *keys_and_args, int nargs_total,
                   char **result);

/* Adds incr to member's score in the sorted set at key; the new score goes
 * to *score when score is non-NULL. */
sc_code redis_zincrby(const char *key, const char *member, double incr, double *score);

struct redis_scored {
    char *member;
    double score;
};

/* Members of the sorted set at key from rank start to stop (inclusive;
 * negative counts from the end, as ZRANGE), highest score first, into
 * *items (*n entries; an absent key gives 0 entries and SC_OK). Free with
 * redis_scored_free. */
sc_code redis_zrevrange_withscores(const char *key, long start, long stop,
                                   struct redis_scored **items, size_t *n);
void redis_scored_free(struct redis_scored *items, size_t n);

/* Waiting for a message on a channel. One subscriber thread with its own
 * connection serves every waiter of the process: a channel is subscribed
 * while it has waiters, each message is handed to all of them, and
 * deadlines are kept by that thread, so hundreds of waiters cost no thread
 * or connection each.
 *
 * cb(arg, rc, msg, len) is called exactly once, from the subscriber thread:
 * SC_OK with the first message published on channel after
 * redis_subscribe_once returned (msg valid only during the call), or
 * SC_ETIMEOUT when timeout_ms passed first, or SC_EUNAVAIL when the
 * subscription was lost (Redis went away, shutdown). cb must be quick and
 * must not call the redis_subscribe_* or redis_wait_* functions (it may
 * resume a suspended HTTP connection, signal a condition, ...). */
typedef void (*redis_message_cb)(void *arg, sc_code rc, const char *msg, size_t len);

/* Registers a one-shot waiter and returns once Redis has confirmed the
 * subscription, so a message published after the return is never missed:
 * check the state you wait for after this call, not before. cb may already
 * run before this returns. *id identifies the waiter for
 * redis_subscribe_cancel. On error cb is never called. */
sc_code redis_subscribe_once(const char *channel, int timeout_ms, redis_message_cb cb, void *arg,
                             uint64_t *id);

/* Withdraws waiter id. Returns 1 when it was still waiting: cb will never
 * be called. Returns 0 when cb has already run to completion (never while
 * it is running: cancel waits for it). */
int redis_subscribe_cancel(uint64_t id);

/* Blocking form for threads that may wait: subscribes to channel, then asks
 * ready(arg) (when ready is non-NULL) whether the awaited state is already
 * there, which closes the race between looking and subscribing: if it
 * returns non-zero, SC_OK at once with *msg NULL (or with the message, when
 * one arrived while ready ran). Otherwise waits up to
 * timeout_ms for a message: SC_OK with *msg (NUL-terminated, *len bytes;
 * owned by the caller), or SC_ETIMEOUT, or SC_EUNAVAIL. */
sc_code redis_wait_message(const char *channel, int timeout_ms, int (*ready)(void *arg), void *arg,
                           char **msg, size_t *len);

#endif
