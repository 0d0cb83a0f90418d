/* SigV4 against the example vectors of the AWS S3 documentation ("Signature
 * calculations for the Authorization header" and "Authenticating requests:
 * using query parameters"), plus the key encoding rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"
#define EXAMPLE_DATE "20130524T000000Z"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct sigv4_key example_key = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};

static void header_examples_match_aws(void **state)
{
    (void)state;
    char put_hash[65];
    sigv4_sha256_hex("Welcome to Amazon S3.", 21, put_hash);
    assert_string_equal(put_hash,
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");

    /* Headers deliberately out of order: the signer sorts them. */
    const struct sigv4_header get_object[] = {{"x-amz-date", EXAMPLE_DATE},
                                              {"range", "bytes=0-9"},
                                              {"host", EXAMPLE_HOST},
                                              {"x-amz-content-sha256", EMPTY_SHA256}};
    const struct sigv4_header put_object[] = {{"date", "Fri, 24 May 2013 00:00:00 GMT"},
                                              {"host", EXAMPLE_HOST},
                                              {"x-amz-date", EXAMPLE_DATE},
                                              {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                                              {"x-amz-content-sha256", put_hash}};
    const struct sigv4_header bucket[] = {{"host", EXAMPLE_HOST},
                                          {"x-amz-content-sha256", EMPTY_SHA256},
                                          {"x-amz-date", EXAMPLE_DATE}};
    static const char *const bucket_headers = "host;x-amz-content-sha256;x-amz-date";
    const struct {
        struct sigv4_request req;
        const char *signed_headers, *signature;
    } cases[] = {
        {{"GET", "/test.txt", "", get_object, 4, EMPTY_SHA256, EXAMPLE_DATE},
         "host;range;x-amz-content-sha256;x-amz-date",
         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
        {{"PUT", "/test%24file.text", "", put_object, 5, put_hash, EXAMPLE_DATE},
         "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
        {{"GET", "/", "lifecycle=", bucket, 3, EMPTY_SHA256, EXAMPLE_DATE},
         bucket_headers,
         "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
        {{"GET", "/", "max-keys=2&prefix=J", bucket, 3, EMPTY_SHA256, EXAMPLE_DATE},
         bucket_headers,
         "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *auth = NULL, expected[512];
        assert_int_equal(sigv4_authorization(&example_key, &cases[i].req, &auth), SC_OK);
        snprintf(expected, sizeof(expected),
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                 "aws4_request, SignedHeaders=%s, Signature=%s",
                 cases[i].signed_headers, cases[i].signature);
        assert_string_equal(auth, expected);
        free(auth);
    }
}

static void presigned_get_matches_aws(void **state)
{
    (void)state;
    char *query = NULL;
    assert_int_equal(sigv4_presign_query(&example_key, "GET", EXAMPLE_HOST, "/test.txt",
                                         EXAMPLE_DATE, 86400, &query),
                     SC_OK);
    assert_string_equal(
        query, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
               "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
               "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
               "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(query);
}

/* Any change to what is signed must change the signature: the key, the secret
 * and the expiry each take part. */
static void presign_depends_on_every_input(void **state)
{
    (void)state;
    const struct sigv4_key other_secret = {"AKIAIOSFODNN7EXAMPLE", "other", "us-east-1", "s3"};
    const struct {
        const struct sigv4_key *key;
        const char *uri;
        int expires;
    } cases[] = {
        {&example_key, "/test.txt", 86400},
        {&example_key, "/test2.txt", 86400},
        {&other_secret, "/test.txt", 86400},
        {&example_key, "/test.txt", 60},
    };
    char sigs[4][65];
    for (size_t i = 0; i < 4; i++) {
        char *query = NULL;
        assert_int_equal(sigv4_presign_query(cases[i].key, "GET", EXAMPLE_HOST, cases[i].uri,
                                             EXAMPLE_DATE, cases[i].expires, &query),
                         SC_OK);
        const char *sig = strstr(query, "X-Amz-Signature=");
        assert_non_null(sig);
        snprintf(sigs[i], sizeof(sigs[i]), "%s", sig + strlen("X-Amz-Signature="));
        free(query);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(sigs[i], sigs[j]);
        }
    }
}

static void uri_encoding_keeps_only_unreserved(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int keep_slash;
        const char *out;
    } cases[] = {
        {"images/products/a-b_c.d~e.webp", 1, "images/products/a-b_c.d~e.webp"},
        {"a/b", 0, "a%2Fb"},
        {"test$file.text", 1, "test%24file.text"},
        {"a b+c=d&e?f#g%h", 1, "a%20b%2Bc%3Dd%26e%3Ff%23g%25h"},
        {"\xc3\xa9t\xc3\xa9", 1, "%C3%A9t%C3%A9"},
        {"", 1, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        assert_int_equal(
            sigv4_uri_encode(cases[i].in, strlen(cases[i].in), cases[i].keep_slash, &out), SC_OK);
        assert_string_equal(out, cases[i].out);
        free(out);
    }
}

static void amz_date_is_utc_basic_format(void **state)
{
    (void)state;
    char date[SIGV4_DATE_LEN];
    sigv4_amz_date(1369353600, date); /* 2013-05-24 00:00:00 UTC */
    assert_string_equal(date, EXAMPLE_DATE);
}

static void rejects_malformed_requests(void **state)
{
    (void)state;
    const struct sigv4_header host[] = {{"host", EXAMPLE_HOST}};
    const struct sigv4_request cases[] = {
        {"GET", "/", "", host, 0, EMPTY_SHA256, EXAMPLE_DATE},  /* nothing signed */
        {"GET", "/", "", host, 17, EMPTY_SHA256, EXAMPLE_DATE}, /* too many headers */
        {"GET", "/", "", host, 1, EMPTY_SHA256, "20130524"},    /* short date */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *auth = (char *)"unchanged";
        assert_int_equal(sigv4_authorization(&example_key, &cases[i], &auth), SC_EINVAL);
        assert_null(auth);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_examples_match_aws),
        cmocka_unit_test(presigned_get_matches_aws),
        cmocka_unit_test(presign_depends_on_every_input),
        cmocka_unit_test(uri_encoding_keeps_only_unreserved),
        cmocka_unit_test(amz_date_is_utc_basic_format),
        cmocka_unit_test(rejects_malformed_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
