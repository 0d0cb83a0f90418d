/* cart role (smartcart-worker cart): applies cart commands
 * (cart.items_patched) to shopping sessions, and expires idle sessions.
 *
 * A command is applied in the runtime's transaction (so a redelivery is
 * skipped) under the session's row lock; commands of one session share a
 * partition (keyed by session id), so they apply in the order ingest
 * accepted them. After the commit the new snapshot goes to Redis and the
 * outcome is recorded and announced, which is what the waiting PATCH hears.
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

static sc_code cart_handle(struct work_ctx *ctx, const struct envelope *msg, db_conn *tx)
{
    struct cart_command cmd;
    long long version = 0;
    char *snapshot = NULL;
    if (strcmp(msg->type, CART_COMMAND_TYPE) || msg->version != CART_COMMAND_VERSION) {
        snprintf(ctx->error, sizeof(ctx->error), "unexpected message %s v%d", msg->type,
                 msg->version);
        return SC_EPERMANENT;
    }
    if (cart_command_decode(msg->data, &cmd, ctx->error, sizeof(ctx->error)) != SC_OK) {
        return SC_EPERMANENT;
    }
    /* Redis being away must not hold up carts: then a crash right after the
     * commit may leave the old snapshot until CART_SNAPSHOT_TTL_S ends it. */
    sc_code rc = cart_snapshot_drop(cmd.session_id);
    if (rc != SC_OK) {
        log_json(LOG_WARN, "cart snapshot not dropped",
                 json_pack("{s:s, s:s}", "session_id", cmd.session_id, "error", sc_strerror(rc)));
    }
    rc = cart_apply(tx, &cmd, &version);
    if (rc == SC_ECONFLICT || rc == SC_ENOTFOUND) {
        ctx->result = json_pack("{s:s, s:b}", "session_id", cmd.session_id, "applied", 0);
        return ctx->result ? SC_OK : SC_ENOMEM;
    }
    if (rc == SC_OK) {
        rc = cart_session_json(tx, cmd.session_id, &snapshot);
    }
    if (rc == SC_OK) {
        ctx->result = json_pack("{s:s, s:b, s:I, s:s}", "session_id", cmd.session_id, "applied", 1,
                                "version", (json_int_t)version, "snapshot", snapshot);
        rc = ctx->result ? SC_OK : SC_ENOMEM;
    }
    free(snapshot);
    return rc;
}

/* Redis is a cache: a failure here is logged, and readers rebuild from Postgres. */
static void cart_after_commit(struct work_ctx *ctx, const struct envelope *msg)
{
    const char *sid = json_string_value(json_object_get(ctx->result, "session_id"));
    if (!sid) {
        return;
    }
    struct cart_outcome o = {json_is_true(json_object_get(ctx->result, "applied")),
                             json_integer_value(json_object_get(ctx->result, "version"))};
    const char *snapshot = json_string_value(json_object_get(ctx->result, "snapshot"));
    sc_code rc = snapshot ? cart_snapshot_store(sid, snapshot, o.version) : SC_OK;
    sc_code orc = cart_outcome_record(sid, msg->id, &o);
    if (rc != SC_OK || orc != SC_OK) {
        log_json(LOG_WARN, "cart state not published",
                 json_pack("{s:s, s:s}", "session_id", sid, "error",
                           sc_strerror(rc != SC_OK ? rc : orc)));
    }
    log_json(LOG_DEBUG, o.applied ? "cart command applied" : "cart command rejected",
             json_pack("{s:s, s:I}", "session_id", sid, "version", (json_int_t)o.version));
}

const struct worker_role role_cart = {
    .name = "cart",
    .topic = &cfg.kafka_topic_cart,
    .group = "smartcart.cart",
    .handle = cart_handle,
    .after_commit = cart_after_commit,
    .start = cart_start,
    .stop = cart_stop,
};
