/* Unit tests of the offload pool: every job runs once, the queue bound is
 * enforced, stop drains what was queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "ingest/offload.h"

static atomic_int ran, started;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void count(void *arg)
{
    atomic_fetch_add(&ran, (int)(intptr_t)arg);
}

/* Blocks its thread until the test opens the gate. */
static void wait_at_gate(void *arg)
{
    (void)arg;
    atomic_store(&started, 1);
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
    atomic_fetch_add(&ran, 1);
}

static void every_job_runs_once(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    assert_int_equal(offload_start(4, 1000), SC_OK);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(offload_submit(count, (void *)(intptr_t)1), SC_OK);
    }
    offload_stop();
    assert_int_equal(atomic_load(&ran), 1000);
}

static void full_queue_refuses_and_stop_drains(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    pthread_mutex_lock(&gate);
    assert_int_equal(offload_start(1, 2), SC_OK);
    assert_int_equal(offload_submit(wait_at_gate, NULL), SC_OK);
    while (!atomic_load(&started)) { /* the only thread now holds the first job */
        usleep(1000);
    }
    assert_int_equal(offload_submit(wait_at_gate, NULL), SC_OK);
    assert_int_equal(offload_submit(wait_at_gate, NULL), SC_OK);
    /* One running plus at most two queued were accepted; the next is refused. */
    assert_int_equal(offload_submit(wait_at_gate, NULL), SC_EUNAVAIL);
    pthread_mutex_unlock(&gate);
    offload_stop();
    assert_int_equal(atomic_load(&ran), 3);
    assert_int_equal(offload_submit(count, (void *)(intptr_t)1), SC_EUNAVAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_job_runs_once),
        cmocka_unit_test(full_queue_refuses_and_stop_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
