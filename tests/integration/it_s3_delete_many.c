/* s3_delete_many against the stack's S3 server (s3rver checks SigV4; it
 * ignores Quiet and never reports per-key errors, which the unit test's
 * answers cover): keys that need XML escaping, a missing key, keys that must
 * go one DELETE each, a set larger than one request, folders emptied by one
 * request, a resident object of a folder that stays, invalid keys beside valid
 * ones, and a server that refuses or cannot be reached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "it_config.h"
#include "s3.h"

static char prefix[64];

static int setup(void **state)
{
    (void)state;
    if (it_config_load() != 0) {
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "it-s3-delete/%ld-%d", (long)time(NULL), (int)getpid());
    return s3_init() == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    s3_shutdown();
    return 0;
}

/* keys[i] = prefix/dir/names[i] (the caller frees each). */
static void make_keys(const char *dir, const char *const *names, size_t n, char **keys)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(asprintf(&keys[i], "%s/%s/%s", prefix, dir, names[i]) > 0);
    }
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
    }
}

/* Every written key is gone afterwards, the missing one counts as removed,
 * and keys XML or URLs must escape arrive as written (a key the server
 * misread would stay behind). */
static void removes_every_key_in_one_call(void **state)
{
    (void)state;
    static const char *const names[] = {
        "a.jpg",
        "b&c.webp",
        "<lt>&gt;\"quote\"'apos'.bin",
        "with space (1)~x+y=z;@$!*.webp",
        "caf\xc3\xa9/\xe2\x82\xac.webp",
        "never-written",
        "control\x01-char",  /* no XML 1.0 can carry it: a DELETE of its own */
        "tab\tand\nnewline", /* S3 decodes &#9;, s3rver does not: a DELETE of its own */
    };
    enum { N = sizeof(names) / sizeof(names[0]), MISSING = 5 };
    char *keys[N];
    sc_code results[N];
    make_keys("escaped", names, N, keys);
    for (size_t i = 0; i < N; i++) {
        if (i != MISSING) {
            assert_int_equal(s3_put(keys[i], "x", 1, NULL), SC_OK);
        }
        results[i] = SC_EINTERNAL;
    }
    assert_int_equal(s3_delete_many((const char *const *)keys, N, results), SC_OK);
    for (size_t i = 0; i < N; i++) {
        print_message("key %s\n", keys[i]);
        assert_int_equal(results[i], SC_OK);
        assert_int_equal(s3_head(keys[i], NULL), SC_ENOTFOUND);
    }
    /* Again: every key is absent now, still removed. */
    assert_int_equal(s3_delete_many((const char *const *)keys, N, NULL), SC_OK);
    free_keys(keys, N);
}

/* More keys than one request takes: every one of them goes, in the
 * requests of S3_DELETE_BATCH (s3rver reads a body of any size). A resident
 * object of the same folder, not named, stays: s3rver removes a folder that
 * a DELETE empties, and its deletes of one request race each other. */
static void splits_large_sets(void **state)
{
    (void)state;
    enum { N = 2 * S3_DELETE_BATCH + 17 };
    char **keys = calloc(N, sizeof(*keys)), keep[128];
    sc_code *results = calloc(N, sizeof(*results));
    assert_non_null(keys);
    assert_non_null(results);
    snprintf(keep, sizeof(keep), "%s/many/.keep", prefix);
    assert_int_equal(s3_put(keep, "", 0, NULL), SC_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(asprintf(&keys[i], "%s/many/%s/%05zu", prefix, i % 2 ? "odd" : "even", i) > 0);
        assert_int_equal(s3_put(keys[i], "y", 1, NULL), SC_OK);
        results[i] = SC_EINTERNAL;
    }
    assert_int_equal(s3_delete_many((const char *const *)keys, N, results), SC_OK);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(results[i], SC_OK);
    }
    struct s3_list l;
    char listed[128];
    snprintf(listed, sizeof(listed), "%s/many/", prefix);
    assert_int_equal(s3_list(listed, NULL, 1000, &l), SC_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.objects[0].key, keep);
    s3_list_free(&l);
    assert_int_equal(s3_delete(keep), SC_OK);
    free_keys(keys, N);
    free(keys);
    free(results);
}

/* One request that empties folders, as deleting a banner's full size and
 * variants does when they are all images/banners/ holds: the local S3 server
 * deletes a request's keys concurrently and each delete removes the folders
 * it left empty, so the deletes must not trip over each other's folder
 * removal (R2 has no folders; infra/s3rver/start.js). Top-level folders of
 * their own, as the store's are, with one key beside them in a folder a
 * resident object keeps, as a staging key is. */
static void requests_that_empty_folders(void **state)
{
    (void)state;
    static const char *const names[] = {"banners/x.png", "banners/x_medium.webp",
                                        "banners/x_thumb.webp"};
    enum { N = sizeof(names) / sizeof(names[0]) + 1, ROUNDS = 50 };
    char keep[128], top[64];
    snprintf(keep, sizeof(keep), "%s/kept/.keep", prefix);
    assert_int_equal(s3_put(keep, "", 0, NULL), SC_OK);
    snprintf(top, sizeof(top), "%s", prefix);
    for (char *slash = strchr(top, '/'); slash; slash = strchr(slash, '/')) {
        *slash = '-';
    }
    for (int round = 0; round < ROUNDS; round++) {
        char *keys[N];
        sc_code results[N];
        for (size_t i = 0; i + 1 < N; i++) {
            assert_true(asprintf(&keys[i], "%s-emptied-%d/%s", top, round, names[i]) > 0);
        }
        assert_true(asprintf(&keys[N - 1], "%s/kept/%d", prefix, round) > 0);
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(s3_put(keys[i], "v", 1, NULL), SC_OK);
        }
        assert_int_equal(s3_delete_many((const char *const *)keys, N, results), SC_OK);
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(results[i], SC_OK);
            assert_int_equal(s3_head(keys[i], NULL), SC_ENOTFOUND);
        }
        free_keys(keys, N);
    }
    assert_int_equal(s3_delete(keep), SC_OK);
}

/* Keys that cannot be sent fail alone; the others still go, and the call
 * reports the first failure in the keys' order. */
static void invalid_keys_fail_alone(void **state)
{
    (void)state;
    char *good = NULL, *also = NULL, *too_long = malloc(1100);
    assert_non_null(too_long);
    assert_true(asprintf(&good, "%s/invalid/good", prefix) > 0);
    assert_true(asprintf(&also, "%s/invalid/also", prefix) > 0);
    memset(too_long, 'k', 1099);
    too_long[1099] = '\0';
    assert_int_equal(s3_put(good, "z", 1, NULL), SC_OK);
    assert_int_equal(s3_put(also, "z", 1, NULL), SC_OK);
    const char *keys[] = {good, "", NULL, too_long, also};
    const sc_code expected[] = {SC_OK, SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_OK};
    sc_code results[5];
    assert_int_equal(s3_delete_many(keys, 5, results), SC_EINVAL);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(results[i], expected[i]);
    }
    assert_int_equal(s3_head(good, NULL), SC_ENOTFOUND);
    assert_int_equal(s3_head(also, NULL), SC_ENOTFOUND);
    assert_int_equal(s3_delete_many(keys, 0, results), SC_OK);
    free(good);
    free(also);
    free(too_long);
}

/* A refused or unreachable server fails every key, and nothing is gone. */
static void server_errors_fail_every_key(void **state)
{
    (void)state;
    static const char *const names[] = {"one", "two", "three"};
    enum { N = 3 };
    const struct {
        const char **field;
        const char *value;
        sc_code rc;
    } cases[] = {
        /* s3rver answers 403 SignatureDoesNotMatch. */
        {&cfg.s3_secret_access_key, "not-the-secret", SC_EINTERNAL},
        {&cfg.s3_endpoint, "http://127.0.0.1:1", SC_EUNAVAIL},
    };
    char *keys[N];
    make_keys("refused", names, N, keys);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(s3_put(keys[i], "w", 1, NULL), SC_OK);
    }
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        sc_code results[N], rc;
        const char *saved = *cases[c].field;
        s3_shutdown();
        *cases[c].field = cases[c].value;
        rc = s3_init();
        if (rc == SC_OK) {
            rc = s3_delete_many((const char *const *)keys, N, results);
        }
        s3_shutdown();
        *cases[c].field = saved;
        assert_int_equal(s3_init(), SC_OK);
        assert_int_equal(rc, cases[c].rc);
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(results[i], cases[c].rc);
            assert_int_equal(s3_head(keys[i], NULL), SC_OK);
        }
    }
    assert_int_equal(s3_delete_many((const char *const *)keys, N, NULL), SC_OK);
    free_keys(keys, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(removes_every_key_in_one_call), cmocka_unit_test(splits_large_sets),
        cmocka_unit_test(requests_that_empty_folders),   cmocka_unit_test(invalid_keys_fail_alone),
        cmocka_unit_test(server_errors_fail_every_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
