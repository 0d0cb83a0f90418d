/* The cart worker's batches end to end, against the stack's Postgres, Redis
 * and Kafka. Cart commands for a few sessions are produced to a fresh topic
 * while no cart worker runs, so the worker finds them waiting and applies
 * them several per transaction. Round 0 is clean: several commands of one
 * session, a checked-out session and one that never existed. Round 1 mixes
 * commands that fail validation in the worker (a wrong message version, a
 * quantity out of range) among good ones of the same sessions. The same
 * rounds run twice on fresh sessions: with batches (WORKER_BATCH_MAX=100) and
 * one command per transaction (WORKER_BATCH_MAX=1, the behaviour before
 * batches). Both runs must give what applying the commands one by one gives
 * (a small model of the cart): each outcome and version in Redis, the dead
 * letters and their errors, the final items with their quantities and order,
 * the versions and the cached snapshots. */
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

#include "cart_state.h"
#include "config.h"
#include "db.h"
#include "it_db.h"
#include "kafka.h"
#include "redis.h"
#include "schemas/cart_command.h"
#include "schemas/envelope.h"

#define N_PRODUCTS 4
#define N_SESSIONS 4 /* 0 and 1 active, 2 checked out, 3 never existed */
#define MAX_ITEMS 3
#define UUID_LEN 37

enum kind { GOOD, WRONG_VERSION, BAD_QUANTITY };

struct step {
    int round;
    int session;
    int clear;
    enum kind kind;
    int n;
    struct {
        int product, quantity;
    } items[MAX_ITEMS];
};

static const struct step steps[] = {
    /* round 0: several commands of session 0, in order, in one batch */
    {0, 0, 0, GOOD, 1, {{0, 1}}},
    {0, 0, 0, GOOD, 1, {{1, 2}}},
    {0, 1, 0, GOOD, 2, {{3, 1}, {0, 2}}},
    {0, 0, 0, GOOD, 2, {{2, 3}, {0, 0}}},
    {0, 2, 0, GOOD, 1, {{1, 1}}},
    {0, 0, 0, GOOD, 1, {{1, 5}}},
    {0, 3, 0, GOOD, 1, {{1, 1}}},
    {0, 1, 1, GOOD, 1, {{2, 2}}},
    {0, 0, 0, GOOD, 1, {{0, 4}}},
    /* round 1: bad commands among good ones of the same sessions */
    {1, 0, 0, GOOD, 1, {{1, 7}}},
    {1, 0, 0, WRONG_VERSION, 1, {{2, 1}}},
    {1, 1, 0, GOOD, 1, {{0, 4}}},
    {1, 1, 0, BAD_QUANTITY, 1, {{1, 100}}},
    {1, 0, 0, GOOD, 2, {{2, 0}, {3, 9}}},
    {1, 1, 0, GOOD, 1, {{1, 1}}},
};
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))
#define SESSION0_ROUND0 5 /* commands of session 0 in round 0 */

/* One run of every step against its own sessions and topic. */
struct run {
    const char *batch_max;
    char topic[96];
    char log[512];
    char sessions[N_SESSIONS][UUID_LEN];
    char ids[N_STEPS][ENVELOPE_UUID_LEN];
    char errors[N_STEPS][256]; /* dead letter errors ("" for none) */
};

static struct run runs[] = {{.batch_max = "100"}, {.batch_max = "1"}};
#define N_RUNS (sizeof(runs) / sizeof(runs[0]))
static char products[N_PRODUCTS][UUID_LEN];
static char tenant[UUID_LEN];

/* The cart after the good steps, applied one by one. */
struct model {
    int n, product[N_PRODUCTS], quantity[N_PRODUCTS]; /* in the order first added */
    long long version;
};

static void model_apply(struct model *m, const struct step *s)
{
    if (s->clear) {
        m->n = 0;
    }
    for (int i = 0; i < s->n; i++) {
        int at = 0;
        while (at < m->n && m->product[at] != s->items[i].product) {
            at++;
        }
        if (s->items[i].quantity == 0 && at < m->n) {
            memmove(m->product + at, m->product + at + 1, (size_t)(m->n - at - 1) * sizeof(int));
            memmove(m->quantity + at, m->quantity + at + 1, (size_t)(m->n - at - 1) * sizeof(int));
            m->n--;
        } else if (s->items[i].quantity > 0) {
            m->product[at] = s->items[i].product;
            m->quantity[at] = s->items[i].quantity;
            m->n += at == m->n;
        }
    }
    m->version++;
}

static int applies(const struct step *s)
{
    return s->kind == GOOD && s->session < 2;
}

/* "P1=7,P0=4": a cart's items in order, products by their index. */
static void describe(char *out, size_t len, const struct model *m)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < m->n; i++) {
        at += (size_t)snprintf(out + at, len - at, "%sP%d=%d", i ? "," : "", m->product[i],
                               m->quantity[i]);
    }
}

static int product_index(const char *id)
{
    for (int p = 0; p < N_PRODUCTS; p++) {
        if (!strcmp(products[p], id)) {
            return p;
        }
    }
    return -1;
}

static int insert_id(char out[UUID_LEN], const char *sql, int n, const char *const *params)
{
    db_conn *c = db_acquire();
    char *id = NULL;
    sc_code rc = c ? db_query_text(c, &id, sql, n, params) : SC_EUNAVAIL;
    db_release(c);
    if (rc == SC_OK) {
        snprintf(out, UUID_LEN, "%s", id);
    }
    free(id);
    return rc == SC_OK ? 0 : -1;
}

static int make_sessions(struct run *r)
{
    for (int s = 0; s < N_SESSIONS - 1; s++) {
        char email[128], user[UUID_LEN];
        snprintf(email, sizeof(email), "it-cart-batch-%s-%d-%d-%ld@example.com", r->batch_max, s,
                 (int)getpid(), (long)time(NULL));
        const char *up[] = {tenant, email};
        const char *sp[] = {tenant, user, s == 2 ? "checked_out" : "active"};
        if (insert_id(user,
                      "INSERT INTO users (tenant_id, email, password_hash) "
                      "VALUES ($1, $2, 'not a hash') RETURNING id",
                      2, up) != 0 ||
            insert_id(r->sessions[s],
                      "INSERT INTO shopping_sessions (tenant_id, user_id, status) "
                      "VALUES ($1, $2, $3) RETURNING id",
                      3, sp) != 0) {
            return -1;
        }
    }
    struct envelope e; /* a fresh random id names a session that never existed */
    if (envelope_init(&e, "unused", 1, tenant, json_object()) != SC_OK) {
        return -1;
    }
    snprintf(r->sessions[N_SESSIONS - 1], UUID_LEN, "%s", e.id);
    envelope_clear(&e);
    return 0;
}

/* Produces step i of run r as ingest would (bad kinds as no ingest would). */
static int produce_step(struct run *r, size_t i)
{
    const struct step *s = &steps[i];
    const char *sid = r->sessions[s->session];
    json_t *items = json_array();
    for (int k = 0; k < s->n; k++) {
        json_array_append_new(items,
                              json_pack("{s:s, s:i}", "product_id", products[s->items[k].product],
                                        "quantity", s->items[k].quantity));
    }
    json_t *data = json_pack("{s:s, s:o, s:b, s:s}", "session_id", sid, "items", items, "clear",
                             s->clear, "accepted_at", "2026-11-22T05:00:00.000Z");
    struct envelope e;
    char *text = NULL;
    size_t len = 0;
    int version = s->kind == WRONG_VERSION ? CART_COMMAND_VERSION + 1 : CART_COMMAND_VERSION;
    if (!data || envelope_init(&e, CART_COMMAND_TYPE, version, tenant, data) != SC_OK) {
        return -1;
    }
    snprintf(r->ids[i], ENVELOPE_UUID_LEN, "%s", e.id);
    sc_code rc = envelope_encode(&e, &text, &len);
    envelope_clear(&e);
    if (rc == SC_OK) {
        rc = kafka_produce_sync(r->topic, sid, strlen(sid), text, len, NULL, 0);
    }
    free(text);
    return rc == SC_OK ? 0 : -1;
}

static pid_t start_worker(struct run *r, int truncate)
{
    char bin[4096];
    const char *build = getenv("BUILD");
    snprintf(bin, sizeof(bin), "%s/smartcart-worker", build ? build : "build/asan");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(r->log, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND), 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        setenv("KAFKA_TOPIC_CART", r->topic, 1);
        setenv("WORKER_BATCH_MAX", r->batch_max, 1);
        setenv("LOG_LEVEL", "info", 1);
        execl(bin, bin, "cart", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits until every step of round has settled: processed, or dead-lettered. */
static int wait_round(struct run *r, int round, pid_t worker)
{
    for (int tries = 0; tries < 900; tries++) {
        int status;
        if (waitpid(worker, &status, WNOHANG) == worker) {
            fprintf(stderr, "cart worker exited on its own (status %d); see %s\n", status, r->log);
            return -1;
        }
        int done = 1;
        for (size_t i = 0; done && i < N_STEPS; i++) {
            if (steps[i].round == round) {
                done = it_count(steps[i].kind == GOOD
                                    ? "SELECT count(*) FROM processed_messages "
                                      "WHERE consumer_group = 'smartcart.cart' AND message_id = $1"
                                    : "SELECT count(*) FROM dead_letters WHERE message_id = $1",
                                r->ids[i], NULL) > 0;
            }
        }
        if (done) {
            return 0;
        }
        usleep(100000);
    }
    fprintf(stderr, "round %d of the run with WORKER_BATCH_MAX=%s did not settle\n", round,
            r->batch_max);
    return -1;
}

static int run_all(struct run *r)
{
    const char *state = getenv("STATE");
    snprintf(r->topic, sizeof(r->topic), "it.cart.%s.%ld.%d", r->batch_max, (long)time(NULL),
             (int)getpid());
    snprintf(r->log, sizeof(r->log), "%s/logs/it_cart_batch.%s.log", state ? state : "/tmp",
             r->batch_max);
    if (make_sessions(r) != 0) {
        return -1;
    }
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N_STEPS; i++) {
            if (steps[i].round == round && produce_step(r, i) != 0) {
                return -1;
            }
        }
        /* Started once its round waits in Kafka: it finds the commands together. */
        pid_t worker = start_worker(r, round == 0);
        int rc = wait_round(r, round, worker);
        kill(worker, SIGTERM); /* the batch in hand is finished, its hooks too */
        waitpid(worker, NULL, 0);
        if (rc != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < N_STEPS; i++) {
        db_conn *c = db_acquire();
        char *error = NULL;
        const char *params[] = {r->ids[i]};
        if (c && db_query_text(c, &error,
                               "SELECT string_agg(error || ' (attempts ' || attempts || ')', '; ') "
                               "FROM dead_letters WHERE message_id = $1",
                               1, params) == SC_OK) {
            snprintf(r->errors[i], sizeof(r->errors[i]), "%s", error);
        }
        free(error);
        db_release(c);
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    char err[256], logs[4096];
    const char *dir = getenv("STATE");
    snprintf(logs, sizeof(logs), "%s/logs", dir ? dir : "/tmp");
    mkdir(logs, 0755);
    if (config_load(err, sizeof(err)) != SC_OK || db_pool_init(cfg.database_url, 2) != SC_OK ||
        kafka_producer_init() != SC_OK ||
        redis_pool_init(cfg.redis_url, 2, (int)cfg.redis_timeout_ms) != SC_OK) {
        fprintf(stderr, "it_cart_batch setup: config, Postgres, Kafka or Redis not available\n");
        return -1;
    }
    char slug[64];
    snprintf(slug, sizeof(slug), "it-cart-batch-%d-%ld", (int)getpid(), (long)time(NULL));
    const char *tp[] = {slug};
    if (insert_id(tenant,
                  "INSERT INTO tenants (slug, name) VALUES ($1, 'it cart batch') RETURNING id", 1,
                  tp) != 0) {
        return -1;
    }
    for (int p = 0; p < N_PRODUCTS; p++) {
        char name[32];
        snprintf(name, sizeof(name), "Batch product %d", p);
        const char *pp[] = {tenant, name};
        if (insert_id(products[p],
                      "INSERT INTO products (tenant_id, name, price) "
                      "VALUES ($1, $2, 1000) RETURNING id",
                      2, pp) != 0) {
            return -1;
        }
    }
    for (size_t r = 0; r < N_RUNS; r++) {
        if (run_all(&runs[r]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    redis_pool_shutdown();
    kafka_producer_close();
    db_pool_shutdown();
    return 0;
}

/* Each command's outcome as the waiting PATCH would hear it, by the model. */
static void outcomes_are_those_of_one_by_one(void **state)
{
    (void)state;
    for (size_t r = 0; r < N_RUNS; r++) {
        struct model m[N_SESSIONS] = {0};
        for (size_t i = 0; i < N_STEPS; i++) {
            const struct step *s = &steps[i];
            struct cart_outcome o;
            sc_code rc = cart_outcome_get(runs[r].ids[i], &o);
            if (s->kind != GOOD) {
                assert_int_equal(rc, SC_ENOTFOUND);
                continue;
            }
            assert_int_equal(rc, SC_OK);
            assert_int_equal(o.applied, applies(s));
            if (applies(s)) {
                model_apply(&m[s->session], s);
                if (o.version != m[s->session].version) {
                    fail_msg("batch max %s, step %zu: version %lld, expected %lld",
                             runs[r].batch_max, i, o.version, m[s->session].version);
                }
            }
        }
    }
}

static void bad_commands_are_dead_lettered_alone_with_todays_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_STEPS; i++) {
        const struct step *s = &steps[i];
        const char *expected = s->kind == WRONG_VERSION  ? "permanent failure: unexpected message "
                                                           "cart.items_patched v2 (attempts 1)"
                               : s->kind == BAD_QUANTITY ? "permanent failure: items"
                                                         : "";
        for (size_t r = 0; r < N_RUNS; r++) {
            if (strncmp(runs[r].errors[i], expected, strlen(expected)) ||
                (!*expected && *runs[r].errors[i])) {
                fail_msg("batch max %s, step %zu: dead letter \"%s\", expected \"%s...\"",
                         runs[r].batch_max, i, runs[r].errors[i], expected);
            }
        }
        /* exactly what one command per transaction says */
        assert_string_equal(runs[0].errors[i], runs[1].errors[i]);
    }
}

static void final_carts_snapshots_and_versions_match_one_by_one(void **state)
{
    (void)state;
    for (size_t r = 0; r < N_RUNS; r++) {
        struct model m[N_SESSIONS] = {0};
        for (size_t i = 0; i < N_STEPS; i++) {
            if (applies(&steps[i])) {
                model_apply(&m[steps[i].session], &steps[i]);
            }
        }
        for (int s = 0; s < 2; s++) {
            const char *sid = runs[r].sessions[s];
            char expected[256], got[256] = "", version[24];
            describe(expected, sizeof(expected), &m[s]);
            snprintf(version, sizeof(version), "%lld", m[s].version);
            assert_int_equal(it_count("SELECT count(*) FROM shopping_sessions "
                                      "WHERE id = $1 AND version = $2::bigint",
                                      sid, version),
                             1);
            /* in Postgres, in the order the API shows */
            db_conn *c = db_acquire();
            db_rows *rows = NULL;
            const char *params[] = {sid};
            assert_int_equal(db_exec(c, &rows,
                                     "SELECT product_id, quantity FROM cart_items "
                                     "WHERE session_id = $1 ORDER BY added_at, id",
                                     1, params),
                             SC_OK);
            struct model db = {0};
            for (int row = 0; row < db_nrows(rows); row++) {
                db.product[db.n] = product_index(db_value(rows, row, 0));
                db.quantity[db.n++] = atoi(db_value(rows, row, 1));
            }
            db_rows_free(rows);
            db_release(c);
            describe(got, sizeof(got), &db);
            if (strcmp(got, expected)) {
                fail_msg("batch max %s, session %d: items %s, expected %s", runs[r].batch_max, s,
                         got, expected);
            }
            /* the snapshot the worker cached last */
            char key[96], *text = NULL;
            snprintf(key, sizeof(key), "cart:snapshot:%s", sid);
            assert_int_equal(redis_get(key, &text, NULL), SC_OK);
            json_t *doc = json_loads(text, 0, NULL), *item;
            size_t k;
            struct model snap = {0};
            json_array_foreach(json_object_get(doc, "items"), k, item)
            {
                snap.product[snap.n] =
                    product_index(json_string_value(json_object_get(item, "product_id")));
                snap.quantity[snap.n++] =
                    (int)json_integer_value(json_object_get(item, "quantity"));
            }
            describe(got, sizeof(got), &snap);
            assert_string_equal(got, expected);
            assert_int_equal(json_integer_value(json_object_get(doc, "version")), m[s].version);
            json_decref(doc);
            free(text);
        }
        /* refused: the checked-out session is untouched, the unknown one not created */
        assert_int_equal(it_count("SELECT count(*) FROM shopping_sessions s WHERE id = $1 "
                                  "AND version = 0 AND NOT EXISTS "
                                  "(SELECT 1 FROM cart_items c WHERE c.session_id = s.id)",
                                  runs[r].sessions[2], NULL),
                         1);
        assert_int_equal(it_count("SELECT count(*) FROM shopping_sessions WHERE id = $1",
                                  runs[r].sessions[3], NULL),
                         0);
    }
}

/* With batches the clean round's commands of session 0 share transactions
 * (processed_at is the transaction's time), and the round with bad commands
 * fell back to one by one; without, every command had its own. */
static void batches_were_used_only_when_allowed(void **state)
{
    (void)state;
    for (size_t r = 0; r < N_RUNS; r++) {
        char ids[SESSION0_ROUND0 * (ENVELOPE_UUID_LEN + 1) + 3] = "{";
        for (size_t i = 0; i < N_STEPS; i++) {
            if (steps[i].round == 0 && steps[i].session == 0) {
                strcat(strcat(ids, runs[r].ids[i]), ",");
            }
        }
        ids[strlen(ids) - 1] = '}';
        long long transactions =
            it_count("SELECT count(DISTINCT processed_at) FROM processed_messages "
                     "WHERE message_id = ANY($1::uuid[])",
                     ids, NULL);
        int batching = strcmp(runs[r].batch_max, "1") != 0;
        if (batching ? transactions >= SESSION0_ROUND0 : transactions != SESSION0_ROUND0) {
            fail_msg("batch max %s: %lld transactions for %d commands", runs[r].batch_max,
                     transactions, SESSION0_ROUND0);
        }
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "grep -q 'batch failed; settling its messages one by one' '%s'",
                 runs[r].log);
        assert_int_equal(system(cmd) == 0, batching);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcomes_are_those_of_one_by_one),
        cmocka_unit_test(bad_commands_are_dead_lettered_alone_with_todays_errors),
        cmocka_unit_test(final_carts_snapshots_and_versions_match_one_by_one),
        cmocka_unit_test(batches_were_used_only_when_allowed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
