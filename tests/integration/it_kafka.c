/* lib/kafka.c against the stack's Kafka (KAFKA_BROKERS): metadata ping, a
 * produce_sync + consume round trip with key and headers, and a producer
 * pointed at a closed port that must report failure instead of hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "kafka.h"

static void load_config(void)
{
    char err[256] = "";
    if (config_load(err, sizeof(err)) != SC_OK) {
        fail_msg("config: %s", err);
    }
}

static int setup(void **state)
{
    (void)state;
    load_config();
    return kafka_producer_init() == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kafka_producer_close();
    return 0;
}

static void ping_answers(void **state)
{
    (void)state;
    assert_int_equal(kafka_ping(5000), SC_OK);
}

static int header_is(const struct kafka_message *m, const char *name, const char *value)
{
    const struct kafka_header *h = kafka_message_header(m, name);
    return h && h->len == strlen(value) && !memcmp(h->value, value, h->len);
}

static void produced_message_comes_back_with_key_and_headers(void **state)
{
    (void)state;
    char topic[64], group[80];
    snprintf(topic, sizeof(topic), "it.kafka.%ld.%d", (long)time(NULL), (int)getpid());
    snprintf(group, sizeof(group), "%s.reader", topic);
    static const char payload[] = "hello\0binary"; /* embedded NUL survives */
    const struct kafka_header headers[] = {
        {"trace", "abc", 3},
        {"empty", "", 0},
        {"trace", "last", 4},
    };
    unsigned long errors = kafka_produce_errors();
    assert_int_equal(kafka_produce_sync(topic, "key-1", 5, payload, sizeof(payload), headers, 3),
                     SC_OK);
    assert_int_equal(kafka_produce_errors(), errors);

    kafka_consumer *c = NULL;
    assert_int_equal(kafka_consumer_open(group, topic, &c), SC_OK);
    struct kafka_message *m = NULL;
    for (int i = 0; i < 300 && !m; i++) { /* a group join takes a few seconds */
        assert_int_equal(kafka_consumer_poll(c, 200, &m), SC_OK);
    }
    assert_non_null(m);
    assert_string_equal(m->topic, topic);
    assert_int_equal(m->keylen, 5);
    assert_memory_equal(m->key, "key-1", 5);
    assert_int_equal(m->len, sizeof(payload));
    assert_memory_equal(m->payload, payload, sizeof(payload));
    assert_int_equal(m->nheaders, 3);
    assert_true(header_is(m, "trace", "last"));
    assert_true(header_is(m, "empty", ""));
    assert_null(kafka_message_header(m, "missing"));
    assert_int_equal(kafka_consumer_store(c, m), SC_OK);
    kafka_message_free(m);
    kafka_consumer_close(c);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void unreachable_brokers_fail_instead_of_hanging(void **state)
{
    (void)state;
    kafka_producer_close();
    char brokers[32];
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", closed_port());
    setenv("KAFKA_BROKERS", brokers, 1);
    setenv("KAFKA_DELIVERY_TIMEOUT_MS", "1000", 1);
    load_config();
    assert_int_equal(kafka_producer_init(), SC_OK);

    unsigned long errors = kafka_produce_errors();
    sc_code rc = kafka_produce_sync("it.kafka.nowhere", NULL, 0, "x", 1, NULL, 0);
    assert_true(rc == SC_ETIMEOUT || rc == SC_EUNAVAIL);
    assert_int_equal(kafka_produce_errors(), errors + 1);
    assert_int_not_equal(kafka_ping(300), SC_OK);
    /* teardown closes this producer; its flush must not hang either */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ping_answers),
        cmocka_unit_test(produced_message_comes_back_with_key_and_headers),
        cmocka_unit_test(unreachable_brokers_fail_instead_of_hanging),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
