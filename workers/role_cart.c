/* cart role (smartcart-worker cart): applies cart commands
 * (cart.items_patched) to shopping sessions, and expires idle sessions.
 *
 * A command is applied in the runtime's transaction (so a redelivery is
 * skipped) under the session's row lock; commands of one session share a
 * partition (keyed by session id), so they apply in the order ingest
 * accepted them. The runtime hands the role the commands it has already
 * fetched (up to WORKER_BATCH_MAX, many sessions) in one transaction, in
 * order, each with its processed-message record. After the commit each
 * changed session's new snapshot goes to Redis and the outcomes are
 * recorded and announced, which is what the waiting PATCHes hear.
 * The old snapshot is dropped before the commit: if the process dies
 * between commit and after-commit, readers rebuild from Postgres instead of
 * seeing a stale cart. A command for a session that is no longer active is
 * processed as "rejected", with no effect.
 *
 * Idle sessions: a thread sweeps every CART_SWEEP_INTERVAL_S; each worker
 * process sweeps, and SKIP LOCKED keeps them off each other's rows. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cart_state.h"
#include "config.h"
#include "db/cart.h"
#include "log.h"
#include "redis.h"
#include "schemas/cart_command.h"
#include "workers/runtime.h"

/* Sessions expired per statement; a full batch is followed by another at once. */
#define SWEEP_BATCH 500

static pthread_t sweeper;
static int sweeper_running;
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cond = PTHREAD_COND_INITIALIZER;
static int stopping;

/* Expires one batch of idle sessions; returns how many. */
static size_t sweep_once(void)
{
    json_t *ids = NULL;
    db_conn *c = db_acquire();
    sc_code rc =
        c ? cart_expire_idle(c, cfg.session_idle_timeout_s, SWEEP_BATCH, &ids) : SC_EUNAVAIL;
    if (c) {
        db_release(c);
    }
    if (rc != SC_OK) {
        log_json(LOG_WARN, "idle session sweep failed",
                 json_pack("{s:s}", "error", sc_strerror(rc)));
        return 0;
    }
    size_t i, n = json_array_size(ids);
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        cart_snapshot_drop(json_string_value(id));
        cart_announce_status(json_string_value(id), "expired");
    }
    if (n) {
        log_json(LOG_INFO, "idle sessions expired", json_pack("{s:I}", "count", (json_int_t)n));
    }
    json_decref(ids);
    return n;
}

static void *sweep_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sweep_lock);
    while (!stopping) {
        pthread_mutex_unlock(&sweep_lock);
        size_t n = sweep_once();
        pthread_mutex_lock(&sweep_lock);
        if (n == SWEEP_BATCH) {
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += cfg.cart_sweep_interval_s;
        while (!stopping && pthread_cond_timedwait(&sweep_cond, &sweep_lock, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&sweep_lock);
    return NULL;
}

static sc_code cart_start(void)
{
    /* Redis down at start is not fatal: the pool reconnects on use. */
    sc_code rc =
        redis_pool_init(cfg.redis_url, (int)cfg.redis_pool_size, (int)cfg.redis_timeout_ms);
    if (rc != SC_OK && rc != SC_EUNAVAIL && rc != SC_ETIMEOUT) {
        return rc;
    }
    stopping = 0;
    if (pthread_create(&sweeper, NULL, sweep_loop, NULL) != 0) {
        redis_pool_shutdown();
        return SC_ENOMEM;
    }
    sweeper_running = 1;
    return SC_OK;
}

static void cart_stop(void)
{
    pthread_mutex_lock(&sweep_lock);
    stopping = 1;
    pthread_cond_signal(&sweep_cond);
    pthread_mutex_unlock(&sweep_lock);
    if (sweeper_running) {
        pthread_join(sweeper, NULL);
        sweeper_running = 0;
    }
    redis_pool_shutdown();
}

/* Applies the cart commands msg[0..n) in order inside tx. Every command is
 * checked first, so a bad one costs no work; the snapshots of their
 * sessions are dropped in one round trip before anything changes. Each
 * command leaves {session_id, applied, version} for cart_after_batch. */
static sc_code cart_handle_batch(struct work_ctx *const *ctx, const struct envelope *const *msg,
                                 size_t n, db_conn *tx)
{
    struct cart_command *cmd = malloc(n * sizeof(*cmd));
    const char **sessions = calloc(n, sizeof(*sessions));
    long long *version = calloc(n, sizeof(*version));
    sc_code rc = cmd && sessions && version ? SC_OK : SC_ENOMEM;
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        if (strcmp(msg[i]->type, CART_COMMAND_TYPE) || msg[i]->version != CART_COMMAND_VERSION) {
            snprintf(ctx[i]->error, sizeof(ctx[i]->error), "unexpected message %s v%d",
                     msg[i]->type, msg[i]->version);
            rc = SC_EPERMANENT;
        } else if (cart_command_decode(msg[i]->data, &cmd[i], ctx[i]->error,
                                       sizeof(ctx[i]->error)) != SC_OK) {
            rc = SC_EPERMANENT;
        }
        sessions[i] = cmd[i].session_id;
    }
    /* Redis being away must not hold up carts: then a crash right after the
     * commit may leave the old snapshots until CART_SNAPSHOT_TTL_S ends them. */
    sc_code drc = rc == SC_OK ? cart_snapshots_drop(sessions, n) : SC_OK;
    if (drc != SC_OK) {
        log_json(LOG_WARN, "cart snapshots not dropped",
                 json_pack("{s:s, s:I}", "error", sc_strerror(drc), "sessions", (json_int_t)n));
    }
    if (rc == SC_OK) {
        rc = cart_apply(tx, cmd, n, version);
    }
    /* a session no longer active refuses the command: processed, no effect */
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        ctx[i]->result = json_pack("{s:s, s:b, s:I}", "session_id", cmd[i].session_id, "applied",
                                   version[i] > 0, "version", (json_int_t)version[i]);
        rc = ctx[i]->result ? SC_OK : SC_ENOMEM;
    }
    free(version);
    free(sessions);
    free(cmd);
    return rc;
}

/* One session's share of a committed batch. */
struct session_share {
    const char *id;
    size_t first, count; /* its commands: outcomes[first .. first + count) */
    int applied;         /* one of them changed it: its snapshot is rendered */
    char *snapshot;
    long long version;
};

/* Renders, in one statement, the snapshot of every session in s[0..n) that
 * changed. A failure costs only the cache: readers rebuild from Postgres. */
static void render(struct session_share *s, size_t n)
{
    const char **ids = calloc(n, sizeof(*ids));
    char **json = calloc(n, sizeof(*json));
    long long *version = calloc(n, sizeof(*version));
    db_conn *c = NULL;
    size_t m = 0;
    sc_code rc = ids && json && version ? SC_OK : SC_ENOMEM;
    for (size_t i = 0; rc == SC_OK && i < n; i++) {
        if (s[i].applied) {
            ids[m++] = s[i].id;
        }
    }
    if (rc == SC_OK && m) {
        rc = (c = db_acquire()) ? cart_sessions_json(c, ids, m, json, version) : SC_EUNAVAIL;
    }
    for (size_t i = 0, k = 0; rc == SC_OK && i < n; i++) {
        if (s[i].applied) {
            s[i].snapshot = json[k];
            s[i].version = version[k++];
        }
    }
    if (rc != SC_OK) {
        log_json(LOG_WARN, "cart snapshots not rendered",
                 json_pack("{s:s, s:I}", "error", sc_strerror(rc), "sessions", (json_int_t)m));
    }
    db_release(c);
    free(ids);
    free(json);
    free(version);
}

/* After a transaction of n commands: each changed session's snapshot is
 * rendered once (all in one statement), then one Redis round trip caches
 * them and records and announces each session's outcomes in order, which
 * is what the waiting PATCHes hear. Redis is a cache: a
 * failure here is logged, and readers rebuild from Postgres. */
static void cart_after_batch(struct work_ctx *const *ctx, const struct envelope *const *msg,
                             size_t n)
{
    struct session_share *s = calloc(n, sizeof(*s));
    size_t *of = calloc(n, sizeof(*of)); /* the share of command i */
    const char **message_ids = calloc(n, sizeof(*message_ids));
    struct cart_outcome *outcomes = calloc(n, sizeof(*outcomes));
    struct cart_publication *pub = calloc(n, sizeof(*pub));
    json_t *index = json_object();
    size_t nsessions = 0;
    if (!s || !of || !message_ids || !outcomes || !pub || !index) {
        log_json(LOG_ERROR, "cart outcomes not published",
                 json_pack("{s:s}", "error", "no memory"));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *sid = json_string_value(json_object_get(ctx[i]->result, "session_id"));
        json_t *known = json_object_get(index, sid);
        of[i] = known ? (size_t)json_integer_value(known) : nsessions;
        if (!known) {
            s[nsessions++].id = sid;
            json_object_set_new(index, sid, json_integer((json_int_t)of[i]));
        }
        s[of[i]].count++;
        s[of[i]].applied |= json_is_true(json_object_get(ctx[i]->result, "applied"));
    }
    for (size_t k = 1; k < nsessions; k++) {
        s[k].first = s[k - 1].first + s[k - 1].count;
    }
    render(s, nsessions);
    /* each session's commands side by side, in the order they were applied */
    for (size_t k = 0; k < nsessions; k++) {
        s[k].count = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct session_share *own = &s[of[i]];
        size_t at = own->first + own->count++;
        message_ids[at] = msg[i]->id;
        outcomes[at].applied = json_is_true(json_object_get(ctx[i]->result, "applied"));
        outcomes[at].version = json_integer_value(json_object_get(ctx[i]->result, "version"));
        log_json(LOG_DEBUG, outcomes[at].applied ? "cart command applied" : "cart command rejected",
                 json_pack("{s:s, s:s, s:I}", "message_id", msg[i]->id, "session_id", own->id,
                           "version", (json_int_t)outcomes[at].version));
    }
    for (size_t k = 0; k < nsessions; k++) {
        pub[k] = (struct cart_publication){
            s[k].id,   s[k].snapshot, s[k].version, message_ids + s[k].first, outcomes + s[k].first,
            s[k].count};
    }
    sc_code rc = cart_publish(pub, nsessions);

    if (rc != SC_OK) {
        log_json(
            LOG_WARN, "cart state not published",
            json_pack("{s:s, s:I}", "error", sc_strerror(rc), "sessions", (json_int_t)nsessions));
    }
out:
    for (size_t k = 0; s && k < nsessions; k++) {
        free(s[k].snapshot);
    }
    json_decref(index);
    free(s);
    free(of);
    free(message_ids);
    free(outcomes);
    free(pub);
}

const struct worker_role role_cart = {
    .name = "cart",
    .topic = &cfg.kafka_topic_cart,
    .handle_batch = cart_handle_batch,
    .after_batch = cart_after_batch,
    .batch = 1,
    .start = cart_start,
    .stop = cart_stop,
};
