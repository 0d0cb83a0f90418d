/* The Postgres adapter's concurrency against the stack's Postgres: the read
 * pipeline (db_read_async) answering each caller, isolating a failing
 * statement, refusing writes, surviving a dropped connection and stopping
 * with the pool; and the pool handing connections over in arrival order. */
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
#include "db.h"
#include "it_db.h"

#define POOL_SIZE 2
#define THREADS 8
#define READS 64 /* per thread: more than a pipeline batch in all */

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (config_load(err, sizeof(err)) != SC_OK) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    return db_pool_init(cfg.database_url, POOL_SIZE) == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    db_pool_shutdown();
    return 0;
}

/* What the callbacks of one round of reads saw. */
struct round {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int pending;
    sc_code rc[THREADS * READS];
    char value[THREADS * READS][32];
};

struct slot {
    struct round *round;
    int index;
};

static void on_value(void *arg, sc_code rc, const char *value, size_t len)
{
    struct slot *s = arg;
    struct round *r = s->round;
    pthread_mutex_lock(&r->lock);
    r->rc[s->index] = rc;
    snprintf(r->value[s->index], sizeof(r->value[0]), "%.*s", (int)len, value ? value : "");
    if (--r->pending == 0) {
        pthread_cond_signal(&r->done);
    }
    pthread_mutex_unlock(&r->lock);
}

static void round_start(struct round *r, int pending)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->done, NULL);
    r->pending = pending;
}

static void round_wait(struct round *r)
{
    pthread_mutex_lock(&r->lock);
    while (r->pending > 0) {
        pthread_cond_wait(&r->done, &r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    pthread_cond_destroy(&r->done);
    pthread_mutex_destroy(&r->lock);
}

/* Even numbers have a row ("v<n>"), odd ones none. */
static const char sql_even[] = "SELECT 'v' || $1 WHERE $1::int % 2 = 0";

struct caller {
    struct round *round;
    struct slot slots[READS];
    int first;
    int queue_failures;
};

static void *queue_reads(void *arg)
{
    struct caller *c = arg;
    for (int i = 0; i < READS; i++) {
        char n[16];
        snprintf(n, sizeof(n), "%d", c->first + i);
        const char *p[] = {n};
        c->slots[i] = (struct slot){c->round, c->first + i};
        if (db_read_async(sql_even, 1, p, on_value, &c->slots[i]) != SC_OK) {
            c->queue_failures++;
        }
    }
    return NULL;
}

/* Reads queued from many threads at once each get their own row (or
 * SC_ENOTFOUND), however the pipeline batches them. */
static void reads_answer_each_caller(void **state)
{
    (void)state;
    static struct round r;
    static struct caller callers[THREADS];
    round_start(&r, THREADS * READS);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        callers[t] = (struct caller){.round = &r, .first = t * READS};
        assert_int_equal(pthread_create(&threads[t], NULL, queue_reads, &callers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(callers[t].queue_failures, 0);
    }
    round_wait(&r);
    for (int i = 0; i < THREADS * READS; i++) {
        char want[32];
        snprintf(want, sizeof(want), "v%d", i);
        assert_int_equal(r.rc[i], i % 2 ? SC_ENOTFOUND : SC_OK);
        assert_string_equal(r.value[i], i % 2 ? "" : want);
    }
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
    static struct round r;
    static struct slot slots[N];
    round_start(&r, N);
    for (int i = 0; i < N; i++) {
        const char *p[] = {cases[i].param};
        slots[i] = (struct slot){&r, i};
        assert_int_equal(
            db_read_async(cases[i].sql, cases[i].sql == sql_write ? 0 : 1, p, on_value, &slots[i]),
            SC_OK);
    }
    round_wait(&r);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.rc[i], cases[i].rc);
        assert_string_equal(r.value[i], cases[i].value);
    }
    assert_int_equal(it_count("SELECT count(*) FROM pg_class WHERE relname = $1",
                              "it_db_reads_must_not_exist", NULL),
                     0);
}

static sc_code read_one(const char *n, char value[32])
{
    static struct round r;
    struct slot s = {&r, 0};
    const char *p[] = {n};
    round_start(&r, 1);
    sc_code rc = db_read_async(sql_even, 1, p, on_value, &s);
    if (rc == SC_OK) {
        round_wait(&r);
        rc = r.rc[0];
        memcpy(value, r.value[0], 32);
    }
    return rc;
}

/* The server drops the pipeline's connection (an administrator's
 * pg_terminate_backend, a failover): the next read is answered on a fresh one. */
static void reads_survive_a_dropped_connection(void **state)
{
    (void)state;
    char value[32];
    for (int attempt = 0; attempt < 2; attempt++) {
        assert_int_equal(read_one("4", value), SC_OK);
        assert_string_equal(value, "v4");
        assert_int_equal(it_count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE application_name = $1",
                                  DB_READS_APPLICATION_NAME, NULL),
                         1);
    }
    assert_int_equal(read_one("8", value), SC_OK);
    assert_string_equal(value, "v8");
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

/* Reads queued after the pool is shut down are refused at once; a new pool
 * serves them again. */
static void reads_stop_with_the_pool(void **state)
{
    (void)state;
    char value[32];
    db_pool_shutdown();
    const char *p[] = {"2"};
    assert_int_equal(db_read_async(sql_even, 1, p, on_value, NULL), SC_EUNAVAIL);
    assert_int_equal(db_pool_init(cfg.database_url, POOL_SIZE), SC_OK);
    assert_int_equal(read_one("2", value), SC_OK);
    assert_string_equal(value, "v2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_answer_each_caller),
        cmocka_unit_test(failures_stay_with_their_statement),
        cmocka_unit_test(reads_survive_a_dropped_connection),
        cmocka_unit_test(pool_serves_waiters_in_order),
        cmocka_unit_test(reads_stop_with_the_pool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
