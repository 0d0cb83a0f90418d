/* The Postgres adapter's concurrency against the stack's Postgres: the read
 * pipeline (db_read_async) answering each caller, isolating a failing
 * statement, refusing writes, surviving a dropped connection and stopping
 * with the pool; keyed batches (db_keyed_async) answering each caller from
 * one statement per shared value; and the pool handing connections over in
 * arrival order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "it_config.h"
#include "db.h"
#include "it_async.h"
#include "it_db.h"

#define POOL_SIZE 2
#define PIPELINES 2
#define THREADS 8
#define READS 64 /* per thread: more than a pipeline batch in all */

static int setup(void **state)
{
    (void)state;
    if (it_config_load() != 0) {
        return -1;
    }
    return db_pool_init(cfg.database_url, POOL_SIZE) == SC_OK && db_reads_init(PIPELINES) == SC_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    db_pool_shutdown();
    return 0;
}

/* Even numbers have a row ("v<n>"), odd ones none. */
static const char sql_even[] = "SELECT 'v' || $1 WHERE $1::int % 2 = 0";

static sc_code queue_read(int index, struct it_slot *slot)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", index);
    const char *p[] = {n};
    return db_read_async(sql_even, 1, p, it_round_value, slot);
}

/* Reads queued from many threads at once each get their own row (or
 * SC_ENOTFOUND), however the pipeline batches them. */
static void reads_answer_each_caller(void **state)
{
    (void)state;
    static struct it_round r;
    assert_int_equal(it_queue_from_threads(&r, THREADS, READS, queue_read), 0);
    assert_int_equal(it_round_first_wrong(&r, THREADS * READS), -1);
}

/* One batch: a statement that fails (division by zero), a write (refused:
 * the connection is read-only), a NULL parameter and a NULL value; each
 * gets its own answer and the reads around them are untouched. */
static void failures_stay_with_their_statement(void **state)
{
    (void)state;
    static const char sql_divide[] = "SELECT (10 / $1::int)::text";
    static const char sql_write[] = "CREATE TABLE it_db_reads_must_not_exist (n int)";
    static const char sql_echo[] = "SELECT $1::text";
    static const struct {
        const char *sql;
        const char *param;
        sc_code rc;
        const char *value;
    } cases[] = {
        {sql_divide, "5", SC_OK, "2"},       {sql_divide, "0", SC_EINVAL, ""},
        {sql_echo, "after", SC_OK, "after"}, {sql_write, NULL, SC_EINTERNAL, ""},
        {sql_echo, NULL, SC_ENOTFOUND, ""},  {sql_divide, "2", SC_OK, "5"},
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    static struct it_round r;
    static struct it_slot slots[N];
    it_round_start(&r, N);
    for (int i = 0; i < N; i++) {
        const char *p[] = {cases[i].param};
        slots[i] = (struct it_slot){&r, i};
        assert_int_equal(db_read_async(cases[i].sql, cases[i].sql == sql_write ? 0 : 1, p,
                                       it_round_value, &slots[i]),
                         SC_OK);
    }
    it_round_wait(&r);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.rc[i], cases[i].rc);
        assert_string_equal(r.value[i], cases[i].value);
    }
    assert_int_equal(it_count("SELECT count(*) FROM pg_class WHERE relname = $1",
                              "it_db_reads_must_not_exist", NULL),
                     0);
}

/* Keyed batches: even keys have a row ("v<key>" divided by the shared
 * value), odd ones none; each run records its shared value and how many
 * keys it had. */
static const char sql_keyed[] =
    "WITH run AS (INSERT INTO it_keyed_runs VALUES ($1, cardinality($2::text[]))) "
    "SELECT k, 'v' || (k::int / $1::int) FROM unnest($2::text[]) k WHERE k::int % 2 = 0";

static sc_code queue_keyed(int index, struct it_slot *slot)
{
    char key[16];
    snprintf(key, sizeof(key), "%d", index);
    /* two shared values, so batches mix them; "1" leaves the keys as they are */
    return db_keyed_async(sql_keyed, index % 3 ? "1" : "-1", key, it_round_value, slot);
}

static int keyed_setup(void **state)
{
    (void)state;
    db_conn *c = db_acquire();
    sc_code rc = c ? db_exec_script(c, "DROP TABLE IF EXISTS it_keyed_runs; "
                                       "CREATE TABLE it_keyed_runs (shared text, n int)")
                   : SC_EUNAVAIL;
    db_release(c);
    return rc == SC_OK ? 0 : -1;
}

/* Keys queued from many threads at once each get their own row (or
 * SC_ENOTFOUND), in runs of one shared value, every key in exactly one run,
 * and fewer runs than keys: they were batched. */
static void keyed_batches_answer_each_caller(void **state)
{
    (void)state;
    static struct it_round r;
    enum { N = THREADS * READS };
    assert_int_equal(it_queue_from_threads(&r, THREADS, READS, queue_keyed), 0);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof(want), "v%d", i % 3 ? i : -i);
        assert_int_equal(r.rc[i], i % 2 ? SC_ENOTFOUND : SC_OK);
        assert_string_equal(r.value[i], i % 2 ? "" : want);
    }
    static const char sql_keys[] = "SELECT sum(n) FROM it_keyed_runs WHERE shared LIKE $1";
    assert_int_equal(it_count(sql_keys, "%", NULL), N);
    assert_int_equal(it_count(sql_keys, "-1", NULL), (N + 2) / 3);
    assert_true(it_count("SELECT count(*) FROM it_keyed_runs WHERE shared LIKE $1", "%", NULL) < N);
}

/* A statement that fails (division by zero for the shared value "0") fails
 * every key of its shared value and no other. */
static void keyed_failure_stays_with_its_shared_value(void **state)
{
    (void)state;
    enum { N = 16 };
    static struct it_round r;
    static struct it_slot slots[N];
    it_round_start(&r, N);
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", i / 2 * 2); /* even keys: each one divides */
        slots[i] = (struct it_slot){&r, i};
        assert_int_equal(
            db_keyed_async(sql_keyed, i % 2 ? "0" : "1", key, it_round_value, &slots[i]), SC_OK);
    }
    it_round_wait(&r);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof(want), "v%d", i / 2 * 2);
        assert_int_equal(r.rc[i], i % 2 ? SC_EINVAL : SC_OK);
        assert_string_equal(r.value[i], i % 2 ? "" : want);
    }
}

/* Read number index alone: its answer's code, its value in value. */ /* Read number index alone:
                                                                         its answer's code, its
                                                                         value in value. */
static sc_code read_one(int index, char value[32])
{
    static struct it_round r;
    struct it_slot s = {&r, 0};
    it_round_start(&r, 1);
    sc_code rc = queue_read(index, &s);
    if (rc == SC_OK) {
        it_round_wait(&r);
        rc = r.rc[0];
        memcpy(value, r.value[0], 32);
    }
    return rc;
}

/* The server drops the pipelines' connections (an administrator's
 * pg_terminate_backend, a failover): the next reads are answered on fresh
 * ones. Reads in a row go round robin, so PIPELINES of them use every one. */
static void reads_survive_dropped_connections(void **state)
{
    (void)state;
    static struct it_round r;
    for (int attempt = 0; attempt < 3; attempt++) { /* fresh, dropped, dropped again */
        assert_int_equal(it_queue_from_threads(&r, 1, 2 * PIPELINES, queue_read), 0);
        assert_int_equal(it_round_first_wrong(&r, 2 * PIPELINES), -1);
        assert_int_equal(it_count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE application_name = $1",
                                  DB_READS_APPLICATION_NAME, NULL),
                         PIPELINES);
    }
}

/* Borrowers of a busy pool get connections in the order they asked, and
 * one that hands its connection back and asks again at once queues behind
 * those already waiting (with one shared condition variable it could win
 * every time). One connection stays held throughout, so the borrowers take
 * turns on the other and their records are in hand-over order. */
struct borrower {
    int id;
    int rounds;
    int *order;
    int *served;
    pthread_mutex_t *lock;
};

static void *borrow(void *arg)
{
    struct borrower *b = arg;
    for (int i = 0; i < b->rounds; i++) {
        db_conn *c = db_acquire();
        pthread_mutex_lock(b->lock);
        b->order[(*b->served)++] = b->id;
        pthread_mutex_unlock(b->lock);
        db_release(c);
    }
    return NULL;
}

static void pool_serves_waiters_in_order(void **state)
{
    (void)state;
    enum { WAITERS = 4 };
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int order[WAITERS + 1], served = 0;
    db_conn *held[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++) {
        assert_non_null(held[i] = db_acquire());
    }
    struct borrower b[WAITERS];
    pthread_t threads[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        b[i] = (struct borrower){i + 1, i == 0 ? 2 : 1, order, &served, &lock};
        assert_int_equal(pthread_create(&threads[i], NULL, borrow, &b[i]), 0);
        usleep(100 * 1000); /* lets it queue before the next one comes */
    }
    db_release(held[1]);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(threads[i], NULL);
    }
    db_release(held[0]);
    assert_int_equal(served, WAITERS + 1);
    const int want[WAITERS + 1] = {1, 2, 3, 4, 1};
    for (int i = 0; i <= WAITERS; i++) {
        assert_int_equal(order[i], want[i]);
    }
}

/* Reads and keys queued after the pool is shut down are refused at once; a
 * new pool serves reads again. */
static void reads_stop_with_the_pool(void **state)
{
    (void)state;
    char value[32];
    db_pool_shutdown();
    assert_int_equal(read_one(2, value), SC_EUNAVAIL);
    assert_int_equal(db_keyed_async(sql_keyed, "1", "2", it_round_value, NULL), SC_EUNAVAIL);
    assert_int_equal(db_pool_init(cfg.database_url, POOL_SIZE), SC_OK);
    assert_int_equal(db_reads_init(PIPELINES), SC_OK);
    assert_int_equal(read_one(2, value), SC_OK);
    assert_string_equal(value, "v2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_answer_each_caller),
        cmocka_unit_test(failures_stay_with_their_statement),
        cmocka_unit_test(reads_survive_dropped_connections),
        cmocka_unit_test_setup(keyed_batches_answer_each_caller, keyed_setup),
        cmocka_unit_test(keyed_failure_stays_with_its_shared_value),
        cmocka_unit_test(pool_serves_waiters_in_order),
        cmocka_unit_test(reads_stop_with_the_pool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
