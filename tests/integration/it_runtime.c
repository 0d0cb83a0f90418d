/* The worker runtime end to end, against the stack's Postgres and Kafka:
 * messages for the selftest role (ordinary ones, duplicates of an id,
 * malformed ones, ones that fail transiently or permanently) are produced to
 * a fresh topic; two `smartcart-worker selftest` processes share the group;
 * the busiest is SIGKILLed mid-stream and restarted. Afterwards every message
 * must have had its effect exactly once, and every hopeless one must be in
 * dead_letters and on <topic>.dlq with the reason in its headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "it_db.h"
#include "kafka.h"
#include "schemas/envelope.h"

#define N_ORDINARY 300
#define SLEEP_MS                                                                                   \
    40 /* per ordinary message: the stream lasts long enough to kill a worker in it                \
        */
#define MAX_ATTEMPTS 4
#define TENANT "00000000-0000-4000-8000-000000000001"
static const int duplicated_seqs[] = {10, 60, 120, 180, 240};

/* Messages whose outcome is not an ordinary effect, checked one by one. */
static struct special {
    const char *key;
    const char *data;           /* JSON of data; NULL: payload is sent raw */
    const char *raw;            /* the raw payload when data is NULL */
    int effect;                 /* expected number of effects */
    int min_attempts;           /* expected selftest_attempts count, at least */
    int dead_attempts;          /* attempts recorded in the dead letter; 0: none expected */
    const char *error;          /* expected beginning of the dead letter's error */
    char id[ENVELOPE_UUID_LEN]; /* the message id ("" when it has none) */
    char *payload;
} specials[] = {
    {.key = "transient-twice",
     .data = "{\"seq\": 1000, \"fail_transient\": 2}",
     .effect = 1,
     .min_attempts = 3},
    {.key = "always-transient",
     .data = "{\"seq\": 1001, \"fail_transient\": 1000}",
     .min_attempts = MAX_ATTEMPTS,
     .dead_attempts = MAX_ATTEMPTS,
     .error = "dependency unavailable: asked to fail transiently"},
    {.key = "permanent",
     .data = "{\"seq\": 1002, \"fail_permanent\": true}",
     .dead_attempts = 1,
     .error = "permanent failure: asked to fail permanently"},
    {.key = "not-json",
     .raw = "this is not json",
     .dead_attempts = 1,
     .error = "message: not a JSON object"},
    {.key = "bad-time",
     .raw = "{\"id\":\"7d3c1a9e-5b2f-4c8d-9e0a-1b2c3d4e5f60\",\"type\":\"selftest.effect\","
            "\"version\":1,\"occurred_at\":\"yesterday\",\"tenant\":\"" TENANT "\",\"data\":{}}",
     .dead_attempts = 1,
     .error = "occurred_at:",
     .id = "7d3c1a9e-5b2f-4c8d-9e0a-1b2c3d4e5f60"},
};
#define N_SPECIALS (sizeof(specials) / sizeof(specials[0]))
#define N_EFFECTS (N_ORDINARY + 1) /* ordinary ones plus transient-twice */
#define N_DEAD 4

static char topic[96];
static char ids[N_ORDINARY][ENVELOPE_UUID_LEN];
static char *id_array; /* every id expected to have an effect, as a Postgres array literal */
static pid_t workers[2];
static pid_t killed;

static void fatal(const char *what)
{
    fprintf(stderr, "it_runtime setup: %s\n", what);
}

static int produce(const char *key, const char *payload)
{
    return kafka_produce_sync(topic, key, strlen(key), payload, strlen(payload), NULL, 0) == SC_OK
               ? 0
               : -1;
}

/* Encodes a selftest.effect envelope around data_json; *id receives its id. */
static char *selftest_message(const char *data_json, char id[ENVELOPE_UUID_LEN])
{
    struct envelope e;
    char *text = NULL;
    size_t len;
    if (envelope_init(&e, "selftest.effect", 1, TENANT, json_loads(data_json, 0, NULL)) != SC_OK) {
        return NULL;
    }
    strcpy(id, e.id);
    envelope_encode(&e, &text, &len);
    envelope_clear(&e);
    return text;
}

static pid_t start_worker(int slot)
{
    char log[4096];
    const char *state = getenv("STATE");
    snprintf(log, sizeof(log), "%s/logs", state ? state : "/tmp");
    mkdir(log, 0755);
    snprintf(log, sizeof(log), "%s/logs/it_runtime.worker%d.log", state ? state : "/tmp", slot);
    char bin[4096];
    const char *build = getenv("BUILD");
    snprintf(bin, sizeof(bin), "%s/smartcart-worker", build ? build : "build/asan");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(bin, bin, "selftest", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Fails when a worker ended on its own. */
static int workers_alive(void)
{
    for (int i = 0; i < 2; i++) {
        int status;
        if (workers[i] > 0 && waitpid(workers[i], &status, WNOHANG) == workers[i]) {
            fprintf(stderr, "worker %d exited on its own (status %d); see its log\n", i, status);
            workers[i] = 0;
            return 0;
        }
    }
    return 1;
}

static long long effects_done(void)
{
    return it_count("SELECT count(DISTINCT message_id) FROM selftest_effects "
                    "WHERE message_id = ANY($1::uuid[])",
                    id_array, NULL);
}

static long long dead_done(void)
{
    return it_count("SELECT count(DISTINCT (partition, \"offset\")) FROM dead_letters "
                    "WHERE topic = $1",
                    topic, NULL);
}

/* Waits until effects_done() reaches effects and dead_done() reaches dead. */
static int wait_for(long long effects, long long dead, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (!workers_alive()) {
            return -1;
        }
        if (effects_done() >= effects && dead_done() >= dead) {
            return 0;
        }
        usleep(100000);
    }
    fprintf(stderr, "timed out: %lld of %lld effects, %lld of %lld dead letters\n", effects_done(),
            effects, dead_done(), dead);
    return -1;
}

static int produce_all(void)
{
    size_t cap = N_EFFECTS * ENVELOPE_UUID_LEN + 3;
    id_array = calloc(1, cap);
    strcpy(id_array, "{");
    size_t next_special = 0;
    for (int seq = 0; seq < N_ORDINARY; seq++) {
        char data[96];
        snprintf(data, sizeof(data), "{\"seq\": %d, \"sleep_ms\": %d}", seq, SLEEP_MS);
        char *text = selftest_message(data, ids[seq]);
        if (!text || produce(ids[seq], text) != 0) {
            free(text);
            return -1;
        }
        /* A twin under another key may land on another partition and race the original. */
        for (size_t d = 0; d < sizeof(duplicated_seqs) / sizeof(duplicated_seqs[0]); d++) {
            if (duplicated_seqs[d] == seq && produce("twin", text) != 0) {
                free(text);
                return -1;
            }
        }
        free(text);
        strcat(id_array, ids[seq]);
        strcat(id_array, ",");
        if (seq % (N_ORDINARY / (int)N_SPECIALS) == 0 && next_special < N_SPECIALS) {
            struct special *s = &specials[next_special++];
            s->payload = s->data ? selftest_message(s->data, s->id) : strdup(s->raw);
            if (!s->payload || produce(s->key, s->payload) != 0) {
                return -1;
            }
            if (s->effect) {
                strcat(id_array, s->id);
                strcat(id_array, ",");
            }
        }
    }
    id_array[strlen(id_array) - 1] = '}';
    return next_special == N_SPECIALS ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    setenv("WORKER_MAX_ATTEMPTS", "4", 1);
    setenv("WORKER_BACKOFF_INITIAL_MS", "20", 1);
    setenv("WORKER_BACKOFF_MAX_MS", "200", 1);
    char err[256];
    if (config_load(err, sizeof(err)) != SC_OK || db_pool_init(cfg.database_url, 2) != SC_OK ||
        kafka_producer_init() != SC_OK) {
        fatal("config, Postgres or Kafka not available");
        return -1;
    }
    snprintf(topic, sizeof(topic), "it.selftest.%ld.%d", (long)time(NULL), (int)getpid());
    setenv("KAFKA_TOPIC_TEST", topic, 1); /* the workers inherit it */
    if (produce_all() != 0) {
        fatal("producing the messages failed");
        return -1;
    }
    workers[0] = start_worker(0);
    workers[1] = start_worker(1);

    /* Mid-stream: a third done, and the worker that wrote the newest effect is busy. */
    if (wait_for(N_ORDINARY / 3, 0, 120) != 0) {
        return -1;
    }
    killed = (pid_t)it_count("SELECT worker_pid FROM selftest_effects "
                             "WHERE message_id = ANY($1::uuid[]) ORDER BY id DESC LIMIT 1",
                             id_array, NULL);
    int slot = workers[0] == killed ? 0 : workers[1] == killed ? 1 : -1;
    if (slot < 0 || effects_done() >= N_EFFECTS) {
        fatal("no worker was busy mid-stream");
        return -1;
    }
    kill(killed, SIGKILL);
    waitpid(killed, NULL, 0);
    workers[slot] = start_worker(slot);
    return wait_for(N_EFFECTS, N_DEAD, 240);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        if (workers[i] > 0) {
            kill(workers[i], SIGKILL);
            waitpid(workers[i], NULL, 0);
        }
    }
    for (size_t i = 0; i < N_SPECIALS; i++) {
        free(specials[i].payload);
    }
    free(id_array);
    kafka_producer_close();
    db_pool_shutdown();
    return 0;
}

static void every_message_has_exactly_one_effect(void **state)
{
    (void)state;
    assert_int_equal(effects_done(), N_EFFECTS);
    /* rows, not distinct ids: a redelivered or duplicated message would add one */
    assert_int_equal(it_count("SELECT count(*) FROM selftest_effects "
                              "WHERE message_id = ANY($1::uuid[])",
                              id_array, NULL),
                     N_EFFECTS);
    assert_int_equal(it_count("SELECT count(*) FROM processed_messages "
                              "WHERE consumer_group = 'smartcart.selftest' "
                              "AND message_id = ANY($1::uuid[])",
                              id_array, NULL),
                     N_EFFECTS);
}

static void after_commit_hook_ran_for_every_effect_of_live_workers(void **state)
{
    (void)state;
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)killed);
    /* The killed worker may have died between a commit and its hook. A live
     * worker's hook runs just after its commit, so the newest effects setup saw
     * may still be confirming: they get a few seconds. */
    const char *unconfirmed = "SELECT count(*) FROM selftest_effects "
                              "WHERE message_id = ANY($1::uuid[]) AND worker_pid <> $2::int "
                              "AND NOT confirmed";
    for (int i = 0; i < 50 && it_count(unconfirmed, id_array, pid) > 0; i++) {
        usleep(100000);
    }
    assert_int_equal(it_count(unconfirmed, id_array, pid), 0);
    assert_true(it_count("SELECT count(*) FROM selftest_effects "
                         "WHERE message_id = ANY($1::uuid[]) AND worker_pid <> $2::int",
                         id_array, pid) > 0);
}

static void special_messages_end_as_expected(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SPECIALS; i++) {
        const struct special *s = &specials[i];
        if (s->data) {
            long long effects = it_count(
                "SELECT count(*) FROM selftest_effects WHERE message_id = $1::uuid", s->id, NULL);
            if (effects != s->effect) {
                fail_msg("%s: %lld effects, expected %d", s->key, effects, s->effect);
            }
            long long attempts = it_count(
                "SELECT coalesce(max(attempts), 0) FROM selftest_attempts WHERE message_id = $1",
                s->id, NULL);
            if (attempts < s->min_attempts) {
                fail_msg("%s: %lld attempts, expected at least %d", s->key, attempts,
                         s->min_attempts);
            }
        }
        db_conn *c = db_acquire();
        db_rows *rows = NULL;
        const char *params[] = {topic, s->payload};
        assert_int_equal(db_exec(c, &rows,
                                 "SELECT attempts, error, coalesce(message_id, ''), consumer_group "
                                 "FROM dead_letters WHERE topic = $1 "
                                 "AND payload = convert_to($2, 'UTF8') ORDER BY id",
                                 2, params),
                         SC_OK);
        if (!s->dead_attempts) {
            assert_int_equal(db_nrows(rows), 0);
        } else {
            if (db_nrows(rows) < 1) {
                fail_msg("%s: no dead letter", s->key);
            }
            assert_int_equal(atoi(db_value(rows, 0, 0)), s->dead_attempts);
            if (strncmp(db_value(rows, 0, 1), s->error, strlen(s->error)) != 0) {
                fail_msg("%s: error \"%s\", expected \"%s...\"", s->key, db_value(rows, 0, 1),
                         s->error);
            }
            /* the id is recorded whenever the message had a valid one */
            assert_string_equal(db_value(rows, 0, 2), s->id);
            assert_string_equal(db_value(rows, 0, 3), "smartcart.selftest");
        }
        db_rows_free(rows);
        db_release(c);
    }
    assert_int_equal(dead_done(), N_DEAD);
}

static int header_equals(const struct kafka_message *m, const char *name, const char *value)
{
    const struct kafka_header *h = kafka_message_header(m, name);
    return h && h->len == strlen(value) && !memcmp(h->value, value, h->len);
}

static void dead_letters_reach_the_dlq_topic_with_reasons(void **state)
{
    (void)state;
    char dlq[128], group[160];
    snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
    snprintf(group, sizeof(group), "%s.reader", dlq);
    kafka_consumer *c = NULL;
    assert_int_equal(kafka_consumer_open(group, dlq, &c), SC_OK);
    int found[N_SPECIALS] = {0};
    int seen = 0;
    for (int polls = 0; polls < 600 && seen < N_DEAD; polls++) {
        struct kafka_message *m = NULL;
        assert_int_equal(kafka_consumer_poll(c, 100, &m), SC_OK);
        if (!m) {
            continue;
        }
        assert_true(header_equals(m, "original.topic", topic));
        assert_true(header_equals(m, "consumer.group", "smartcart.selftest"));
        assert_non_null(kafka_message_header(m, "original.partition"));
        assert_non_null(kafka_message_header(m, "original.offset"));
        for (size_t i = 0; i < N_SPECIALS; i++) {
            const struct special *s = &specials[i];
            if (m->keylen == strlen(s->key) && !memcmp(m->key, s->key, m->keylen)) {
                assert_true(s->dead_attempts > 0);
                assert_int_equal(m->len, strlen(s->payload));
                assert_memory_equal(m->payload, s->payload, m->len);
                char attempts[16];
                snprintf(attempts, sizeof(attempts), "%d", s->dead_attempts);
                assert_true(header_equals(m, "attempts", attempts));
                const struct kafka_header *e = kafka_message_header(m, "error");
                assert_non_null(e);
                assert_true(e->len >= strlen(s->error) &&
                            !memcmp(e->value, s->error, strlen(s->error)));
                seen += !found[i]++;
            }
        }
        kafka_message_free(m);
    }
    kafka_consumer_close(c);
    assert_int_equal(seen, N_DEAD);
}

static void sigterm_stops_workers_cleanly(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kill(workers[i], SIGTERM), 0);
    }
    for (int i = 0; i < 2; i++) {
        int status = -1;
        for (int t = 0; t < 300 && waitpid(workers[i], &status, WNOHANG) == 0; t++) {
            usleep(100000);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fail_msg("worker %d did not exit 0 within 30 s of SIGTERM (status %d)", i, status);
        }
        workers[i] = 0;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_message_has_exactly_one_effect),
        cmocka_unit_test(after_commit_hook_ran_for_every_effect_of_live_workers),
        cmocka_unit_test(special_messages_end_as_expected),
        cmocka_unit_test(dead_letters_reach_the_dlq_topic_with_reasons),
        cmocka_unit_test(sigterm_stops_workers_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
