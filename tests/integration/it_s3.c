/* The S3 adapter against the stack's S3 server (s3rver checks SigV4):
 * object round trip, error mapping, streaming upload, presigned and public
 * URLs, bad credentials, an unreachable endpoint and concurrent callers. */
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
#include "s3.h"

static char prefix[64];

/* A key unique to this run, so reruns never see an earlier run's objects. */
static void key_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", prefix, name);
}

static int setup(void **state)
{
    (void)state;
    if (it_config_load() != 0) {
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "it-s3/%ld-%d", (long)time(NULL), (int)getpid());
    return s3_init() == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    s3_shutdown();
    return 0;
}

static void ping_answers(void **state)
{
    (void)state;
    assert_int_equal(s3_ping(), SC_OK);
}

/* Keys with characters that must be percent-encoded are signed and stored as given. */
static void round_trip_put_get_head_copy_delete(void **state)
{
    (void)state;
    static const char *const names[] = {"plain.txt", "dir/with space (1)~x.bin",
                                        "caf\xc3\xa9/\xe2\x82\xac.webp"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char src[256], dst[300];
        key_of(src, sizeof(src), names[i]);
        snprintf(dst, sizeof(dst), "%s.copy", src);
        const char body[] = "hello \0 binary";
        assert_int_equal(s3_put(src, body, sizeof(body), "application/octet-stream"), SC_OK);

        char *data = NULL;
        size_t len = 0;
        assert_int_equal(s3_get(src, 1024, &data, &len), SC_OK);
        assert_int_equal(len, sizeof(body));
        assert_memory_equal(data, body, sizeof(body));
        free(data);

        size_t size = 0;
        assert_int_equal(s3_head(src, &size), SC_OK);
        assert_int_equal(size, sizeof(body));

        assert_int_equal(s3_copy(src, dst), SC_OK);
        assert_int_equal(s3_delete(src), SC_OK);
        assert_int_equal(s3_head(src, NULL), SC_ENOTFOUND);
        assert_int_equal(s3_get(src, 1024, &data, &len), SC_ENOTFOUND);
        assert_null(data);
        assert_int_equal(s3_get(dst, 1024, &data, &len), SC_OK);
        assert_memory_equal(data, body, sizeof(body));
        free(data);
        assert_int_equal(s3_delete(dst), SC_OK);
        assert_int_equal(s3_delete(dst), SC_OK); /* idempotent */
    }
}

/* s3rver decodes x-amz-copy-source with decodeURI, which leaves %2B, %3D,
 * %26 ... encoded, so copies of such keys are checked only against R2/S3;
 * everything else must work locally too. */
static void reserved_characters_in_keys(void **state)
{
    (void)state;
    char key[256], *data = NULL;
    size_t len = 0;
    key_of(key, sizeof(key), "a+b=c&d;e,f:g@h$i'j!k*.bin");
    assert_int_equal(s3_put(key, "reserved", 8, NULL), SC_OK);
    assert_int_equal(s3_head(key, &len), SC_OK);
    assert_int_equal(len, 8);
    assert_int_equal(s3_get(key, 8, &data, &len), SC_OK);
    assert_string_equal(data, "reserved");
    free(data);
    assert_int_equal(s3_delete(key), SC_OK);
    assert_int_equal(s3_head(key, NULL), SC_ENOTFOUND);
}

static void errors_map_to_codes(void **state)
{
    (void)state;
    char key[256], missing[256];
    key_of(key, sizeof(key), "ten-bytes");
    key_of(missing, sizeof(missing), "never-written");
    assert_int_equal(s3_put(key, "0123456789", 10, "text/plain"), SC_OK);
    char *data = NULL;
    size_t len = 0;
    const struct {
        const char *key;
        size_t max_len;
        sc_code rc;
    } cases[] = {
        {key, 10, SC_OK},    {key, 9, SC_ETOOBIG},  {key, 0, SC_EINVAL},
        {"", 10, SC_EINVAL}, {NULL, 10, SC_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(s3_get(cases[i].key, cases[i].max_len, &data, &len), cases[i].rc);
        assert_true((data != NULL) == (cases[i].rc == SC_OK));
        free(data);
        data = NULL;
    }
    assert_int_equal(s3_get(missing, 10, &data, &len), SC_ENOTFOUND);
    assert_int_equal(s3_copy(missing, key), SC_ENOTFOUND);
    assert_int_equal(s3_delete(missing), SC_OK);
    assert_int_equal(s3_delete(key), SC_OK);
}

static void empty_object_is_a_valid_string(void **state)
{
    (void)state;
    char key[256];
    key_of(key, sizeof(key), "empty");
    assert_int_equal(s3_put(key, "", 0, NULL), SC_OK);
    char *data = NULL;
    size_t len = 1;
    assert_int_equal(s3_get(key, 1, &data, &len), SC_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    assert_int_equal(s3_delete(key), SC_OK);
}

static void put_file_streams_large_bodies(void **state)
{
    (void)state;
    const size_t size = 3 * 1024 * 1024 + 17; /* larger than curl's upload buffer many times */
    char *buf = malloc(size);
    assert_non_null(buf);
    for (size_t i = 0; i < size; i++) {
        buf[i] = (char)(i * 31 + 7);
    }
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, size, f), size);
    rewind(f);

    char key[256];
    key_of(key, sizeof(key), "video.mp4");
    assert_int_equal(s3_put_file(key, f, size, "video/mp4"), SC_OK);
    size_t got = 0;
    assert_int_equal(s3_head(key, &got), SC_OK);
    assert_int_equal(got, size);
    char *data = NULL;
    assert_int_equal(s3_get(key, size, &data, &got), SC_OK);
    assert_int_equal(got, size);
    assert_memory_equal(data, buf, size);
    free(data);

    /* A file shorter than announced is the caller's mistake, not a hang. */
    rewind(f);
    assert_int_equal(s3_put_file(key, f, size + 100, "video/mp4"), SC_EINVAL);
    fclose(f);
    free(buf);
    assert_int_equal(s3_delete(key), SC_OK);
}

/* Fetches url with the curl command line tool (no credentials); returns the
 * HTTP status and writes the body to path. */
static int fetch(const char *url, const char *path)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "curl -s -g -o '%s' -w '%%{http_code}' '%s'", path, url);
    FILE *p = popen(cmd, "r");
    int status = 0;
    if (p) {
        if (fscanf(p, "%d", &status) != 1) {
            status = 0;
        }
        pclose(p);
    }
    return status;
}

static void presigned_get_works_without_credentials(void **state)
{
    (void)state;
    char key[256], path[] = "/tmp/it_s3_presignXXXXXX";
    key_of(key, sizeof(key), "private/photo 1.jpg");
    assert_int_equal(s3_put(key, "secret bytes", 12, "image/jpeg"), SC_OK);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    char *url = s3_presign_get(key, 300);
    assert_non_null(url);
    assert_int_equal(fetch(url, path), 200);
    char got[64] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, sizeof(got) - 1, f), 12);
    fclose(f);
    assert_string_equal(got, "secret bytes");

    /* The signature covers the key: pointing the same query at another object fails. */
    char *tampered = strdup(url);
    char *space = strstr(tampered, "photo%201");
    assert_non_null(space);
    space[5] = '2';
    assert_int_equal(fetch(tampered, path), 403);
    free(tampered);
    free(url);

    assert_null(s3_presign_get(key, 0));
    assert_null(s3_presign_get(key, 604801));
    assert_null(s3_presign_get("", 60));
    unlink(path);
    assert_int_equal(s3_delete(key), SC_OK);
}

static void public_url_is_base_plus_encoded_key(void **state)
{
    (void)state;
    char *url = s3_public_url("images/products/a b.webp");
    char expected[512];
    snprintf(expected, sizeof(expected), "%simages/products/a%%20b.webp", cfg.public_url);
    assert_string_equal(url, expected);
    free(url);
}

/* Re-initialises the adapter with one setting changed, records what ping,
 * put and get answer, then restores the setting (before any assertion, so a
 * failure here cannot leak the bad setting into later tests). */
static void with_setting(const char **field, const char *value, sc_code got[3])
{
    const char *saved = *field;
    long long saved_timeout = cfg.s3_timeout_ms;
    char key[256], *data = NULL;
    size_t len;
    key_of(key, sizeof(key), "with-setting");
    s3_shutdown();
    *field = value;
    cfg.s3_timeout_ms = 2000;
    got[0] = s3_init();
    if (got[0] == SC_OK) {
        got[0] = s3_ping();
        got[1] = s3_put(key, "x", 1, NULL);
        got[2] = s3_get(key, 10, &data, &len);
        free(data);
    }
    s3_shutdown();
    *field = saved;
    cfg.s3_timeout_ms = saved_timeout;
    assert_int_equal(s3_init(), SC_OK);
}

static void bad_settings_fail_cleanly(void **state)
{
    (void)state;
    const struct {
        const char **field;
        const char *value;
        sc_code expected;
    } cases[] = {
        /* s3rver answers 403 SignatureDoesNotMatch: a permanent, logged error. */
        {&cfg.s3_secret_access_key, "not-the-secret", SC_EINTERNAL},
        {&cfg.s3_access_key_id, "UNKNOWN", SC_EINTERNAL},
        /* Port 1 on loopback: nothing listens, the connection is refused at once. */
        {&cfg.s3_endpoint, "http://127.0.0.1:1", SC_EUNAVAIL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_code got[3] = {SC_OK, SC_OK, SC_OK};
        with_setting(cases[i].field, cases[i].value, got);
        for (int op = 0; op < 3; op++) {
            assert_int_equal(got[op], cases[i].expected);
        }
    }
    sc_code got[3];
    with_setting(&cfg.s3_endpoint, "ftp://127.0.0.1", got);
    assert_int_equal(got[0], SC_EINVAL);
    assert_int_equal(s3_ping(), SC_OK); /* the real settings are back */
}

#define THREADS 8
#define PER_THREAD 25

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    long failures = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        char key[256], body[64], *data = NULL;
        size_t len = 0;
        snprintf(key, sizeof(key), "%s/concurrent/%ld-%d", prefix, id, i);
        int n = snprintf(body, sizeof(body), "thread %ld item %d", id, i);
        if (s3_put(key, body, (size_t)n, "text/plain") != SC_OK ||
            s3_get(key, 64, &data, &len) != SC_OK || len != (size_t)n ||
            memcmp(data, body, len) != 0 || s3_delete(key) != SC_OK) {
            failures++;
        }
        free(data);
    }
    return (void *)(intptr_t)failures;
}

/* s3rver removes a folder as soon as a DELETE leaves it empty, racing with
 * a PUT into it (500 InternalError); a resident object keeps the folder. */
static void concurrent_callers_share_the_pool(void **state)
{
    (void)state;
    char keep[256];
    key_of(keep, sizeof(keep), "concurrent/.keep");
    assert_int_equal(s3_put(keep, "", 0, NULL), SC_OK);
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i), 0);
    }
    long failures = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(threads[i], &ret);
        failures += (long)(intptr_t)ret;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(s3_delete(keep), SC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ping_answers),
        cmocka_unit_test(round_trip_put_get_head_copy_delete),
        cmocka_unit_test(reserved_characters_in_keys),
        cmocka_unit_test(errors_map_to_codes),
        cmocka_unit_test(empty_object_is_a_valid_string),
        cmocka_unit_test(put_file_streams_large_bodies),
        cmocka_unit_test(presigned_get_works_without_credentials),
        cmocka_unit_test(public_url_is_base_plus_encoded_key),
        cmocka_unit_test(bad_settings_fail_cleanly),
        cmocka_unit_test(concurrent_callers_share_the_pool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
