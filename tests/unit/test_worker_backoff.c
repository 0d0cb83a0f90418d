/* Retry delays of the worker runtime: doubling from the initial delay, capped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "workers/runtime.h"

static void backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    static const struct {
        long long initial, max;
        int attempt;
        long long expected;
    } cases[] = {
        {200, 5000, 1, 200},  {200, 5000, 2, 400},       {200, 5000, 3, 800},
        {200, 5000, 5, 3200}, {200, 5000, 6, 5000},      {200, 5000, 100, 5000},
        {300, 100, 1, 100},   {1, 3600000, 60, 3600000}, {50, 50, 3, 50},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cfg.worker_backoff_initial_ms = cases[i].initial;
        cfg.worker_backoff_max_ms = cases[i].max;
        assert_int_equal(worker_backoff_ms(cases[i].attempt), cases[i].expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles_up_to_the_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
