/* Group commit of pending media rows (media_insert_committed) against the
 * stack's Postgres. Each wave holds the tenant's row locked (FOR UPDATE
 * blocks the foreign key check of every INSERT) while its first upload
 * inserts alone and the rest queue behind it; once the lock goes, the rest
 * are one batch. Wave 0 is clean: every caller gets its own row back (names
 * that need escaping in JSON and SQL among them) and the batch is one
 * statement (one created_at). Wave 1 mixes rows Postgres refuses (an owner
 * that does not exist, an empty name, an object key taken in wave 0) among
 * good ones: each refused caller gets the code media_insert alone gives and
 * has no row; every good caller has its row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "it_config.h"
#include "it_db.h"
#include "db/media_assets.h"

#define POOL_SIZE 4
#define UUID_LEN 37

enum owner { OWNER_USER, OWNER_UNKNOWN };

static const struct {
    int wave;
    const char *name;
    enum owner owner;
    int key_of; /* -1: a key of its own; else the case whose object key it reuses */
    int subject;
    sc_code rc;
} cases[] = {
    /* wave 0: the first one inserts alone, the others are one batch */
    {0, "first.jpg", OWNER_USER, -1, 0, SC_OK},
    {0, "plain.jpg", OWNER_USER, -1, 0, SC_OK},
    {0, "quote\"and\\backslash.png", OWNER_USER, -1, 0, SC_OK},
    {0, "comma, {brace} [bracket].gif", OWNER_USER, -1, 1, SC_OK},
    {0, "ảnh tiếng Việt.jpg", OWNER_USER, -1, 0, SC_OK},
    {0, "semi;colon'apostrophe\".webp", OWNER_USER, -1, 0, SC_OK},
    /* wave 1: refused rows among good ones */
    {1, "first again.jpg", OWNER_USER, -1, 0, SC_OK},
    {1, "good.jpg", OWNER_USER, -1, 0, SC_OK},
    {1, "no such owner.jpg", OWNER_UNKNOWN, -1, 0, SC_EFOREIGN},
    {1, "", OWNER_USER, -1, 0, SC_EINVAL},
    {1, "taken key.jpg", OWNER_USER, 1, 0, SC_ECONFLICT},
    {1, "also good {\"x\"}.png", OWNER_USER, -1, 1, SC_OK},
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static char tenant[UUID_LEN], user[UUID_LEN], unknown[UUID_LEN];

static struct call {
    char id[UUID_LEN], subject[UUID_LEN], staging[MEDIA_KEY_LEN], object[MEDIA_KEY_LEN];
    struct media_new m;
    pthread_t thread;
    sc_code rc;
    char *out;
} calls[N_CASES];

static int setup(void **state)
{
    (void)state;
    if (it_config_load() != 0 || db_pool_init(cfg.database_url, POOL_SIZE) != SC_OK) {
        return -1;
    }
    char slug[48], rnd[UUID_LEN];
    crypto_uuid_v4(rnd);
    snprintf(slug, sizeof(slug), "it-media-%.8s", rnd);
    const char *p[] = {slug};
    db_conn *c = db_acquire();
    char *t = NULL, *u = NULL;
    sc_code rc = db_query_text(
        c, &t, "INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id::text", 1, p);
    const char *pu[] = {t, slug};
    if (rc == SC_OK) {
        rc = db_query_text(c, &u,
                           "INSERT INTO users (tenant_id, email, password_hash)"
                           " VALUES ($1, $2 || '@example.com', 'x') RETURNING id::text",
                           2, pu);
    }
    if (rc == SC_OK) {
        snprintf(tenant, sizeof(tenant), "%s", t);
        snprintf(user, sizeof(user), "%s", u);
    }
    free(t);
    free(u);
    db_release(c);
    crypto_uuid_v4(unknown);
    return rc == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    db_pool_shutdown();
    return 0;
}

static void *insert_main(void *arg)
{
    struct call *k = arg;
    k->rc = media_insert_committed(&k->m, &k->out);
    return NULL;
}

static void prepare(size_t i)
{
    struct call *k = &calls[i];
    crypto_uuid_v4(k->id);
    crypto_uuid_v4(k->subject);
    media_staging_key(k->id, k->staging);
    media_object_key(k->staging, "it", "jpg", k->object);
    k->m = (struct media_new){
        .id = k->id,
        .tenant_id = tenant,
        .owner_id = cases[i].owner == OWNER_USER ? user : unknown,
        .kind = "image",
        .purpose = "media",
        .subject_id = cases[i].subject ? k->subject : NULL,
        .original_name = cases[i].name,
        .content_type = "image/jpeg",
        .sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .staging_key = k->staging,
        .object_key = cases[i].key_of < 0 ? k->object : calls[cases[i].key_of].object,
        .size_bytes = 1000 + (long long)i,
    };
}

/* How many INSERTs into media_assets of tenant's wait for a lock. */
static long long inserts_waiting(void)
{
    return it_count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'INSERT INTO media_assets%' AND datname = current_database()"
                    " AND EXISTS (SELECT 1 FROM tenants WHERE id = $1::uuid)",
                    tenant, NULL);
}

/* Runs the cases of wave: the first alone while the tenant is locked, the
 * others queued behind it. */
static void run_wave(int wave)
{
    size_t first = N_CASES, n = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        if (cases[i].wave == wave) {
            first = first == N_CASES ? i : first;
            n++;
            prepare(i);
        }
    }
    db_conn *holder = db_acquire();
    const char *p[] = {tenant};
    assert_non_null(holder);
    assert_int_equal(db_begin(holder), SC_OK);
    assert_int_equal(db_exec(holder, NULL, "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", 1, p),
                     SC_OK);
    assert_int_equal(pthread_create(&calls[first].thread, NULL, insert_main, &calls[first]), 0);
    for (int tries = 0; inserts_waiting() < 1; tries++) {
        assert_true(tries < 500);
        usleep(10000);
    }
    for (size_t i = first + 1; i < first + n; i++) {
        assert_int_equal(pthread_create(&calls[i].thread, NULL, insert_main, &calls[i]), 0);
    }
    sleep(1); /* the others reach the queue behind the first */
    assert_int_equal(db_commit(holder), SC_OK);
    db_release(holder);
    for (size_t i = first; i < first + n; i++) {
        pthread_join(calls[i].thread, NULL);
    }
}

/* Each caller's answer and row: its own when accepted, none when refused. */
static void check_wave(int wave)
{
    for (size_t i = 0; i < N_CASES; i++) {
        if (cases[i].wave != wave) {
            continue;
        }
        const struct call *k = &calls[i];
        assert_int_equal(k->rc, cases[i].rc);
        if (cases[i].rc != SC_OK) {
            assert_null(k->out);
            assert_int_equal(
                it_count("SELECT count(*) FROM media_assets WHERE id = $1::uuid", k->id, NULL), 0);
            continue;
        }
        json_t *j = json_loads(k->out, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "id")), k->id);
        assert_string_equal(json_string_value(json_object_get(j, "original_name")), cases[i].name);
        assert_string_equal(json_string_value(json_object_get(j, "owner_id")), user);
        assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
        assert_int_equal(json_integer_value(json_object_get(j, "size_bytes")), 1000 + (long long)i);
        json_decref(j);
        assert_int_equal(it_count("SELECT count(*) FROM media_assets WHERE id = $1::uuid"
                                  " AND original_name = $2 AND status = 'pending'",
                                  k->id, cases[i].name),
                         1);
        assert_int_equal(it_count("SELECT count(*) FROM media_assets WHERE id = $1::uuid"
                                  " AND coalesce(subject_id::text, '') = $2",
                                  k->id, cases[i].subject ? k->subject : ""),
                         1);
    }
}

static void a_batch_answers_each_caller(void **state)
{
    (void)state;
    run_wave(0);
    check_wave(0);
    /* everything after the first went in one statement: one transaction */
    char ids[N_CASES * UUID_LEN + 2] = "{";
    for (size_t i = 1; i < N_CASES && cases[i].wave == 0; i++) {
        strcat(strcat(ids, i > 1 ? "," : ""), calls[i].id);
    }
    strcat(ids, "}");
    assert_int_equal(it_count("SELECT count(DISTINCT created_at) FROM media_assets"
                              " WHERE id = ANY ($1::uuid[])",
                              ids, NULL),
                     1);
}

static void a_refused_row_fails_alone(void **state)
{
    (void)state;
    run_wave(1);
    check_wave(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_batch_answers_each_caller),
        cmocka_unit_test(a_refused_row_fails_alone),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    for (size_t i = 0; i < N_CASES; i++) {
        free(calls[i].out);
    }
    return failed;
}
