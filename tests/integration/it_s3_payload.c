/* Signed payload hashes (s3_put_file_start with sha256_hex): the S3 server
 * checks the signature over the x-amz-content-sha256 we send, so a body
 * signed with its SHA-256 is stored byte for byte, and a value that is not a
 * SHA-256 is refused rather than sent unsigned. */
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
#include "crypto.h"
#include "s3.h"

static char key[128];

static int setup(void **state)
{
    (void)state;
    if (it_config_load() != 0) {
        return -1;
    }
    snprintf(key, sizeof(key), "it-s3-payload/%ld-%d", (long)time(NULL), (int)getpid());
    return s3_init() == SC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    s3_delete(key);
    s3_shutdown();
    return 0;
}

/* PUTs body through a memory stream with the given payload hash. */
static sc_code put(const char *body, size_t len, const char *sha256_hex)
{
    FILE *f = fmemopen((void *)body, len, "rb");
    assert_non_null(f);
    struct s3_upload *u = NULL;
    sc_code rc = s3_put_file_start(key, f, len, "image/jpeg", sha256_hex, &u);
    if (rc == SC_OK) {
        rc = s3_upload_finish(u);
    }
    fclose(f);
    return rc;
}

static void signed_hash_stores_the_body(void **state)
{
    (void)state;
    const size_t len = 300 * 1024 + 5; /* more than one upload buffer */
    char *body = malloc(len), hex[65];
    assert_non_null(body);
    for (size_t i = 0; i < len; i++) {
        body[i] = (char)(i * 7 + 3);
    }
    crypto_sha256_hex(body, len, hex);
    assert_int_equal(put(body, len, hex), SC_OK);
    char *got = NULL;
    size_t got_len = 0;
    assert_int_equal(s3_get(key, len, &got, &got_len), SC_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, body, len);
    free(got);
    free(body);
}

static void not_a_hash_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"not-a-sha256", "UNSIGNED-PAYLOADX", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(put("abc", 3, bad[i]), SC_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_hash_stores_the_body),
        cmocka_unit_test(not_a_hash_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
