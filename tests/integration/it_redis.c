/* The Redis adapter against the stack's Redis: every verb, the pool under
 * concurrent threads, pipelined GETs, reconnection after the server drops us, waiting on
 * channels (message, timeout, cancel, many waiters) and an unreachable server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "it_config.h"
#include "it_async.h"
#include "redis.h"

#define POOL_SIZE 4
#define TIMEOUT_MS 1000

static char prefix[64];

static const char *key_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s:%s", prefix, name);
    return out;
}

static int setup(void **state)
{
    (void)state;
    if (it_config_load() != 0) {
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "it-redis:%ld-%d", (long)time(NULL), (int)getpid());
    return redis_pool_init(cfg.redis_url, POOL_SIZE, TIMEOUT_MS) == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    redis_pool_shutdown();
    return 0;
}

static void get_set_del(void **state)
{
    (void)state;
    char key[128], *value = NULL;
    size_t len = 0;
    key_of(key, sizeof(key), "plain");
    const char binary[] = "a\0b\r\nc";
    assert_int_equal(redis_get(key, &value, &len), SC_ENOTFOUND);
    assert_null(value);
    assert_int_equal(redis_set(key, binary, sizeof(binary), 0), SC_OK);
    assert_int_equal(redis_get(key, &value, &len), SC_OK);
    assert_int_equal(len, sizeof(binary));
    assert_memory_equal(value, binary, sizeof(binary));
    free(value);
    assert_int_equal(redis_set(key, "", 0, 0), SC_OK);
    assert_int_equal(redis_get(key, &value, NULL), SC_OK);
    assert_string_equal(value, "");
    free(value);
    assert_int_equal(redis_del(key), SC_OK);
    assert_int_equal(redis_get(key, &value, &len), SC_ENOTFOUND);
    assert_int_equal(redis_del(key), SC_OK); /* idempotent */
}

static void set_nx_refuses_existing(void **state)
{
    (void)state;
    char key[128], *value = NULL;
    key_of(key, sizeof(key), "nx");
    assert_int_equal(redis_set_nx(key, "first", 5, 60), SC_OK);
    assert_int_equal(redis_set_nx(key, "second", 6, 60), SC_ECONFLICT);
    assert_int_equal(redis_get(key, &value, NULL), SC_OK);
    assert_string_equal(value, "first");
    free(value);
    assert_int_equal(redis_del(key), SC_OK);
}

/* Expiry is Redis's job; this checks that we ask for it (one short sleep). */
static void ttl_and_expire_make_keys_vanish(void **state)
{
    (void)state;
    char with_ttl[128], later[128], kept[128], missing[128], *value = NULL;
    key_of(with_ttl, sizeof(with_ttl), "ttl");
    key_of(later, sizeof(later), "expire");
    key_of(kept, sizeof(kept), "kept");
    key_of(missing, sizeof(missing), "missing");
    assert_int_equal(redis_set(with_ttl, "x", 1, 1), SC_OK);
    assert_int_equal(redis_set_nx(later, "x", 1, 0), SC_OK);
    assert_int_equal(redis_set(kept, "x", 1, 0), SC_OK);
    assert_int_equal(redis_expire(later, 1), SC_OK);
    assert_int_equal(redis_expire(missing, 1), SC_ENOTFOUND);
    usleep(1200 * 1000);
    assert_int_equal(redis_get(with_ttl, &value, NULL), SC_ENOTFOUND);
    assert_int_equal(redis_get(later, &value, NULL), SC_ENOTFOUND);
    assert_int_equal(redis_get(kept, &value, NULL), SC_OK);
    free(value);
    assert_int_equal(redis_del(kept), SC_OK);
}

static void incr_counts_and_rejects_non_integers(void **state)
{
    (void)state;
    char key[128], text[128];
    key_of(key, sizeof(key), "counter");
    key_of(text, sizeof(text), "text");
    static const struct {
        long long by, expected;
    } steps[] = {{1, 1}, {5, 6}, {-2, 4}, {0, 4}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        long long v = -1;
        assert_int_equal(redis_incr(key, steps[i].by, &v), SC_OK);
        assert_int_equal(v, steps[i].expected);
    }
    assert_int_equal(redis_incr(key, 1, NULL), SC_OK);
    assert_int_equal(redis_set(text, "abc", 3, 60), SC_OK);
    assert_int_equal(redis_incr(text, 1, NULL), SC_EINTERNAL);
    assert_int_equal(redis_del(key), SC_OK);
    assert_int_equal(redis_del(text), SC_OK);
}

static void eval_converts_results(void **state)
{
    (void)state;
    char key[128];
    key_of(key, sizeof(key), "cas");
    static const char *const cas = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                   "redis.call('SET', KEYS[1], ARGV[2]) return 1 "
                                   "else return 0 end";
    assert_int_equal(redis_set(key, "v1", 2, 60), SC_OK);
    const struct {
        const char *script;
        int nkeys;
        const char *args[3];
        int nargs;
        sc_code rc;
        const char *result;
    } cases[] = {
        {cas, 1, {key, "v1", "v2"}, 3, SC_OK, "1"}, /* swapped */
        {cas, 1, {key, "v1", "v3"}, 3, SC_OK, "0"}, /* stale expectation */
        {"return redis.call('GET', KEYS[1])", 1, {key}, 1, SC_OK, "v2"},
        {"return ARGV[1] .. ARGV[2]", 0, {"a", "b"}, 2, SC_OK, "ab"},
        {"return true", 0, {NULL}, 0, SC_OK, "1"},
        {"return redis.status_reply('FINE')", 0, {NULL}, 0, SC_OK, "FINE"},
        {"return false", 0, {NULL}, 0, SC_ENOTFOUND, NULL},
        {"return {1, 2}", 0, {NULL}, 0, SC_EINTERNAL, NULL},
        {"return redis.error_reply('boom')", 0, {NULL}, 0, SC_EINTERNAL, NULL},
        {"this is not lua", 0, {NULL}, 0, SC_EINTERNAL, NULL},
        {"return 1", 2, {key}, 1, SC_EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *result = (char *)"unchanged";
        assert_int_equal(
            redis_eval(cases[i].script, cases[i].nkeys, cases[i].args, cases[i].nargs, &result),
            cases[i].rc);
        if (cases[i].result) {
            assert_string_equal(result, cases[i].result);
        } else {
            assert_null(result);
        }
        free(cases[i].result ? result : NULL);
    }
    assert_int_equal(redis_del(key), SC_OK);
}

static void sorted_sets_rank_best_sellers(void **state)
{
    (void)state;
    char key[128], absent[128];
    key_of(key, sizeof(key), "best");
    key_of(absent, sizeof(absent), "no-zset");
    static const struct {
        const char *member;
        double incr;
    } sales[] = {{"milk", 3}, {"bread", 5}, {"eggs", 1}, {"milk", 4}, {"eggs", 0.5}};
    for (size_t i = 0; i < sizeof(sales) / sizeof(sales[0]); i++) {
        assert_int_equal(redis_zincrby(key, sales[i].member, sales[i].incr, NULL), SC_OK);
    }
    double score = 0;
    assert_int_equal(redis_zincrby(key, "eggs", 0, &score), SC_OK);
    assert_true(score == 1.5);

    struct redis_scored *items = NULL;
    size_t n = 0;
    assert_int_equal(redis_zrevrange_withscores(key, 0, -1, &items, &n), SC_OK);
    static const struct redis_scored expected[] = {
        {(char *)"milk", 7}, {(char *)"bread", 5}, {(char *)"eggs", 1.5}};
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(items[i].member, expected[i].member);
        assert_true(items[i].score == expected[i].score);
    }
    redis_scored_free(items, n);

    assert_int_equal(redis_zrevrange_withscores(key, 0, 0, &items, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].member, "milk");
    redis_scored_free(items, n);

    assert_int_equal(redis_zrevrange_withscores(absent, 0, -1, &items, &n), SC_OK);
    assert_int_equal(n, 0);
    assert_null(items);

    char *value = NULL;
    assert_int_equal(redis_get(key, &value, NULL), SC_EINTERNAL); /* WRONGTYPE */
    assert_int_equal(redis_del(key), SC_OK);
}

#define THREADS 16
#define PER_THREAD 200

static char shared_counter[128];

static void *incr_worker(void *unused)
{
    (void)unused;
    long failures = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        failures += redis_incr(shared_counter, 1, NULL) != SC_OK;
    }
    return (void *)(intptr_t)failures;
}

/* More threads than connections: each command borrows one, none is shared. */
static void pool_serves_concurrent_threads(void **state)
{
    (void)state;
    key_of(shared_counter, sizeof(shared_counter), "concurrent");
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, incr_worker, NULL), 0);
    }
    long failures = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(threads[i], &ret);
        failures += (long)(intptr_t)ret;
    }
    assert_int_equal(failures, 0);
    long long total = 0;
    assert_int_equal(redis_incr(shared_counter, 0, &total), SC_OK);
    assert_int_equal(total, THREADS * PER_THREAD);
    assert_int_equal(redis_del(shared_counter), SC_OK);
}

/* Makes Redis close this process's connections of one type, as a restart or
 * an idle timeout would. */
static void kill_clients(const char *type)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "redis-cli -u '%s' CLIENT KILL TYPE %s >/dev/null", cfg.redis_url,
             type);
    assert_int_equal(system(cmd), 0);
}

static void reconnects_after_server_drops_connections(void **state)
{
    (void)state;
    assert_int_equal(redis_ping(), SC_OK);
    kill_clients("normal");
    for (int i = 0; i < POOL_SIZE * 2; i++) {
        assert_int_equal(redis_ping(), SC_OK);
    }
}

/* ---- pipelined GETs ---- */

#define ASYNC_KEYS 64

/* GET of async:<index>: even indexes exist (value "v<index>"), odd ones do not. */
static sc_code queue_get(int index, struct it_slot *slot)
{
    char key[128], name[32];
    snprintf(name, sizeof(name), "async:%d", index);
    return redis_get_async(key_of(key, sizeof(key), name), it_round_value, slot);
}

/* GETs queued from many threads at once each get their own key's answer
 * (found or not), however the pipeline batches them. */
static void async_gets_answer_each_caller(void **state)
{
    (void)state;
    char key[128], name[32], want[32];
    for (int i = 0; i < ASYNC_KEYS * THREADS; i += 2) {
        snprintf(name, sizeof(name), "async:%d", i);
        snprintf(want, sizeof(want), "v%d", i);
        assert_int_equal(redis_set(key_of(key, sizeof(key), name), want, strlen(want), 60), SC_OK);
    }
    static struct it_round round;
    assert_int_equal(it_queue_from_threads(&round, THREADS, ASYNC_KEYS, queue_get), 0);
    assert_int_equal(it_round_first_wrong(&round, ASYNC_KEYS * THREADS), -1);
}

/* The pipeline's connection dropped by the server (restart, idle timeout):
 * the GETs are sent again on a fresh one, and answered. */
static void async_get_survives_dropped_connection(void **state)
{
    (void)state;
    char key[128];
    static struct it_round round;
    assert_int_equal(redis_set(key_of(key, sizeof(key), "async:0"), "v0", 2, 60), SC_OK);
    for (int attempt = 0; attempt < 2; attempt++) { /* connected, then dropped */
        assert_int_equal(it_queue_from_threads(&round, 1, 1, queue_get), 0);
        assert_int_equal(round.rc[0], SC_OK);
        assert_string_equal(round.value[0], "v0");
        kill_clients("normal");
    }
}

struct publish_ctx {
    const char *channel;
    const char *msg;
    int ready;
};

/* ready() of redis_wait_message runs once the subscription is confirmed, so
 * publishing from it proves a message sent after subscribing is delivered. */
static int publish_then_report(void *arg)
{
    struct publish_ctx *p = arg;
    long long receivers = 0;
    if (p->msg && redis_publish(p->channel, p->msg, strlen(p->msg), &receivers) != SC_OK) {
        return 0;
    }
    return p->ready;
}

static void wait_message_cases(void **state)
{
    (void)state;
    char channel[128];
    key_of(channel, sizeof(channel), "events");
    const struct {
        const char *msg;
        int ready, timeout_ms;
        sc_code rc;
        const char *got;
    } cases[] = {
        {"snapshot 7", 0, 5000, SC_OK, "snapshot 7"}, /* message arrives */
        {NULL, 0, 200, SC_ETIMEOUT, NULL},            /* nothing arrives */
        {NULL, 1, 5000, SC_OK, NULL},                 /* state already there */
        {"again", 0, 5000, SC_OK, "again"},           /* the channel is reusable */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct publish_ctx p = {channel, cases[i].msg, cases[i].ready};
        char *msg = NULL;
        size_t len = 0;
        assert_int_equal(
            redis_wait_message(channel, cases[i].timeout_ms, publish_then_report, &p, &msg, &len),
            cases[i].rc);
        if (cases[i].got) {
            assert_string_equal(msg, cases[i].got);
            assert_int_equal(len, strlen(cases[i].got));
        } else {
            assert_null(msg);
        }
        free(msg);
    }
}

#define WAITERS 300
#define CHANNELS 10

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls[WAITERS];
    sc_code rc[WAITERS];
    char msg[WAITERS][32];
    int total;
} seen = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, {{0}}, 0};

static void on_message(void *arg, sc_code rc, const char *msg, size_t len)
{
    int i = (int)(intptr_t)arg;
    pthread_mutex_lock(&seen.lock);
    seen.calls[i]++;
    seen.rc[i] = rc;
    snprintf(seen.msg[i], sizeof(seen.msg[i]), "%.*s", (int)len, msg ? msg : "");
    seen.total++;
    pthread_cond_broadcast(&seen.cond);
    pthread_mutex_unlock(&seen.lock);
}

/* Waits until `total` callbacks have run (bounded, so a bug fails, not hangs). */
static int wait_for_calls(int total)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&seen.lock);
    int rc = 0;
    while (seen.total < total && rc == 0) {
        rc = pthread_cond_timedwait(&seen.cond, &seen.lock, &deadline);
    }
    int reached = seen.total >= total;
    pthread_mutex_unlock(&seen.lock);
    return reached;
}

/* Hundreds of waiters on a few channels share one subscriber connection;
 * a cancelled waiter is never called; every other one gets its channel's
 * message exactly once. */
static void many_waiters_one_connection(void **state)
{
    (void)state;
    char channels[CHANNELS][128];
    uint64_t ids[WAITERS];
    for (int c = 0; c < CHANNELS; c++) {
        char name[32];
        snprintf(name, sizeof(name), "fanout-%d", c);
        key_of(channels[c], sizeof(channels[c]), name);
    }
    for (int i = 0; i < WAITERS; i++) {
        assert_int_equal(redis_subscribe_once(channels[i % CHANNELS], 10000, on_message,
                                              (void *)(intptr_t)i, &ids[i]),
                         SC_OK);
    }
    int cancelled = 0;
    for (int i = 0; i < WAITERS; i += 7) {
        assert_int_equal(redis_subscribe_cancel(ids[i]), 1);
        cancelled++;
    }
    for (int c = 0; c < CHANNELS; c++) {
        char msg[32];
        long long receivers = 0;
        snprintf(msg, sizeof(msg), "msg-%d", c);
        assert_int_equal(redis_publish(channels[c], msg, strlen(msg), &receivers), SC_OK);
        assert_int_equal(receivers, 1); /* one subscriber connection, not one per waiter */
    }
    assert_true(wait_for_calls(WAITERS - cancelled));
    usleep(100 * 1000); /* room for a wrong extra call to show up */
    pthread_mutex_lock(&seen.lock);
    assert_int_equal(seen.total, WAITERS - cancelled);
    for (int i = 0; i < WAITERS; i++) {
        char expected[32];
        snprintf(expected, sizeof(expected), "msg-%d", i % CHANNELS);
        assert_int_equal(seen.calls[i], i % 7 ? 1 : 0);
        if (i % 7) {
            assert_int_equal(seen.rc[i], SC_OK);
            assert_string_equal(seen.msg[i], expected);
        }
    }
    pthread_mutex_unlock(&seen.lock);
    for (int i = 0; i < WAITERS; i += 7) {
        assert_int_equal(redis_subscribe_cancel(ids[i]), 0); /* gone already */
    }
}

/* A lost subscriber connection ends the waiters with SC_EUNAVAIL (callers
 * fall back to Postgres), and the next waiter gets a new connection. */
static void lost_subscription_reports_unavailable(void **state)
{
    (void)state;
    char channel[128];
    key_of(channel, sizeof(channel), "lost");
    int base;
    pthread_mutex_lock(&seen.lock);
    base = seen.total;
    memset(seen.calls, 0, sizeof(seen.calls));
    pthread_mutex_unlock(&seen.lock);
    uint64_t id;
    assert_int_equal(redis_subscribe_once(channel, 10000, on_message, (void *)(intptr_t)0, &id),
                     SC_OK);
    kill_clients("pubsub");
    assert_true(wait_for_calls(base + 1));
    pthread_mutex_lock(&seen.lock);
    assert_int_equal(seen.calls[0], 1);
    assert_int_equal(seen.rc[0], SC_EUNAVAIL);
    pthread_mutex_unlock(&seen.lock);

    struct publish_ctx p = {channel, "back", 0};
    char *msg = NULL;
    assert_int_equal(redis_wait_message(channel, 5000, publish_then_report, &p, &msg, NULL), SC_OK);
    assert_string_equal(msg, "back");
    free(msg);
}

static void unreachable_server_fails_fast(void **state)
{
    (void)state;
    redis_pool_shutdown();
    /* Port 1 on loopback: nothing listens, the connection is refused at once. */
    assert_int_equal(redis_pool_init("redis://127.0.0.1:1/0", 2, 500), SC_EUNAVAIL);
    char *value = NULL;
    assert_int_equal(redis_ping(), SC_EUNAVAIL);
    assert_int_equal(redis_get("k", &value, NULL), SC_EUNAVAIL);
    assert_int_equal(redis_set("k", "v", 1, 0), SC_EUNAVAIL);
    assert_int_equal(redis_wait_message("ch", 5000, NULL, NULL, &value, NULL), SC_EUNAVAIL);
    assert_null(value);
    static struct it_round round;
    assert_int_equal(it_queue_from_threads(&round, 1, 1, queue_get), 0);
    assert_int_equal(round.rc[0], SC_EUNAVAIL);
    redis_pool_shutdown();
    /* Shut down: refused at once (the pipeline never answers it). */
    assert_int_equal(it_queue_from_threads(&round, 1, 1, queue_get), 1);
    assert_int_equal(redis_pool_init(cfg.redis_url, POOL_SIZE, TIMEOUT_MS), SC_OK);
    assert_int_equal(redis_ping(), SC_OK);
}

static void malformed_urls_are_rejected(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "http://127.0.0.1:6379", "redis://",       "redis://host:0",     "redis://host:99999",
        "redis://host:port",     "redis://host/x", "rediss://host:6379",
    };
    redis_pool_shutdown();
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        assert_int_equal(redis_pool_init(urls[i], 2, 500), SC_EINVAL);
    }
    assert_int_equal(redis_pool_init(cfg.redis_url, POOL_SIZE, TIMEOUT_MS), SC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_set_del),
        cmocka_unit_test(set_nx_refuses_existing),
        cmocka_unit_test(ttl_and_expire_make_keys_vanish),
        cmocka_unit_test(incr_counts_and_rejects_non_integers),
        cmocka_unit_test(eval_converts_results),
        cmocka_unit_test(sorted_sets_rank_best_sellers),
        cmocka_unit_test(pool_serves_concurrent_threads),
        cmocka_unit_test(reconnects_after_server_drops_connections),
        cmocka_unit_test(async_gets_answer_each_caller),
        cmocka_unit_test(async_get_survives_dropped_connection),
        cmocka_unit_test(wait_message_cases),
        cmocka_unit_test(many_waiters_one_connection),
        cmocka_unit_test(lost_subscription_reports_unavailable),
        cmocka_unit_test(unreachable_server_fails_fast),
        cmocka_unit_test(malformed_urls_are_rejected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
