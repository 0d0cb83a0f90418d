/* Unit tests of the metrics store: counters per (route, method, status),
 * cumulative histogram buckets, label escaping, exact counts under threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/metrics.h"

static int reset(void **state)
{
    (void)state;
    metrics_reset();
    return 0;
}

static void finish(const char *route, const char *method, int status, double seconds)
{
    metrics_request_started();
    metrics_request_finished(route, method, status, seconds);
}

static void assert_has_line(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);
    sprintf(want, "\n%s\n", line);
    if (!strstr(text, want)) {
        fail_msg("missing line: %s\nin:\n%s", line, text);
    }
    free(want);
}

static void renders_counters_and_histogram(void **state)
{
    (void)state;
    finish("/products/{id}", "GET", 200, 0.003);
    finish("/products/{id}", "GET", 200, 0.2);
    finish("/products/{id}", "GET", 404, 0.001);
    finish("unmatched", "BREW", 404, 20.0);
    metrics_request_started(); /* still in flight */

    size_t len;
    char *text = metrics_render(7, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    static const char *const lines[] = {
        "# TYPE smartcart_http_requests_total counter",
        "smartcart_http_requests_total{route=\"/products/{id}\",method=\"GET\",status=\"200\"} 2",
        "smartcart_http_requests_total{route=\"/products/{id}\",method=\"GET\",status=\"404\"} 1",
        "smartcart_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1",
        "# TYPE smartcart_http_request_duration_seconds histogram",
        "smartcart_http_request_duration_seconds_bucket{route=\"/products/{id}\",method=\"GET\","
        "status=\"200\",le=\"0.005\"} 1",
        "smartcart_http_request_duration_seconds_bucket{route=\"/products/{id}\",method=\"GET\","
        "status=\"200\",le=\"0.1\"} 1",
        "smartcart_http_request_duration_seconds_bucket{route=\"/products/{id}\",method=\"GET\","
        "status=\"200\",le=\"0.25\"} 2",
        "smartcart_http_request_duration_seconds_bucket{route=\"/products/{id}\",method=\"GET\","
        "status=\"200\",le=\"+Inf\"} 2",
        "smartcart_http_request_duration_seconds_count{route=\"/products/{id}\",method=\"GET\","
        "status=\"200\"} 2",
        "smartcart_http_request_duration_seconds_sum{route=\"/products/{id}\",method=\"GET\","
        "status=\"200\"} 0.203000",
        "smartcart_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"OTHER\","
        "status=\"404\",le=\"10\"} 0",
        "smartcart_http_request_duration_seconds_bucket{route=\"unmatched\",method=\"OTHER\","
        "status=\"404\",le=\"+Inf\"} 1",
        "smartcart_http_in_flight 1",
        "smartcart_kafka_produce_errors_total 7",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_has_line(text, lines[i]);
    }
    assert_int_equal(metrics_in_flight(), 1);
    free(text);
}

static void escapes_label_values(void **state)
{
    (void)state;
    finish("/a\"b\\c\nd", "GET", 200, 0.0);
    size_t len;
    char *text = metrics_render(0, &len);
    assert_has_line(text, "smartcart_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",method=\"GET\","
                          "status=\"200\"} 1");
    free(text);
}

#define THREADS 8
#define PER_THREAD 5000

static void *hammer(void *arg)
{
    const char *const *routes = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        /* many series, so the table grows while others record */
        finish(routes[i % 300], "POST", 200 + i % 3, 0.01);
    }
    return NULL;
}

static void counts_are_exact_under_threads(void **state)
{
    (void)state;
    static char names[300][16];
    static const char *routes[300];
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof(names[i]), "/r%d", i);
        routes[i] = names[i];
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, hammer, routes), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    size_t len;
    char *text = metrics_render(0, &len);
    unsigned long total = 0;
    for (const char *p = text; (p = strstr(p, "\nsmartcart_http_requests_total{")); p++) {
        total += strtoul(strchr(p, '}') + 2, NULL, 10);
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    assert_has_line(text, "smartcart_http_in_flight 0");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(renders_counters_and_histogram, reset),
        cmocka_unit_test_setup(escapes_label_values, reset),
        cmocka_unit_test_setup_teardown(counts_are_exact_under_threads, reset, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
