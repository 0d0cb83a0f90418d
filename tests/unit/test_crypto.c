/* Unit tests of lib/crypto: argon2id hashes, UUIDs, tokens, HMAC vectors,
 * SHA-256 vectors (one-shot and streamed in pieces), constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

static void password_hash_round_trip(void **state)
{
    (void)state;
    char h1[CRYPTO_PWHASH_LEN], h2[CRYPTO_PWHASH_LEN];
    assert_int_equal(crypto_password_hash("correct horse", h1), SC_OK);
    assert_int_equal(crypto_password_hash("correct horse", h2), SC_OK);
    assert_non_null(strstr(h1, "$argon2id$"));
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_int_equal(crypto_password_verify(h1, "correct horse"), SC_OK);
    assert_int_equal(crypto_password_verify(h2, "correct horse"), SC_OK);
    assert_int_equal(crypto_password_verify(h1, "correct horsE"), SC_EINVAL);
    assert_int_equal(crypto_password_verify(h1, ""), SC_EINVAL);
    assert_int_equal(crypto_password_verify("not a hash", "correct horse"), SC_EINVAL);
    /* No hash (unknown account): always refused, whatever the password. */
    assert_int_equal(crypto_password_verify(NULL, "correct horse"), SC_EINVAL);
    assert_int_equal(crypto_password_verify(NULL, ""), SC_EINVAL);
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void uuid_v4_has_canonical_form_and_differs(void **state)
{
    (void)state;
    enum { N = 300 };
    static char ids[N][CRYPTO_UUID_LEN];
    for (int n = 0; n < N; n++) {
        crypto_uuid_v4(ids[n]);
        const char *u = ids[n];
        assert_int_equal(strlen(u), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                assert_int_equal(u[i], '-');
            } else {
                assert_true(is_hex(u[i]));
            }
        }
        assert_int_equal(u[14], '4');
        assert_non_null(strchr("89ab", u[19]));
        for (int m = 0; m < n; m++) {
            assert_string_not_equal(ids[m], u);
        }
    }
}

static void token_is_url_safe_with_expected_length(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 16, 32, 33, 256};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        char *a = malloc(CRYPTO_TOKEN_LEN(n));
        char *b = malloc(CRYPTO_TOKEN_LEN(n));
        assert_non_null(a);
        assert_non_null(b);
        crypto_token(n, a);
        crypto_token(n, b);
        assert_int_equal(strlen(a), CRYPTO_TOKEN_LEN(n) - 1);
        assert_int_equal(
            strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            strlen(a));
        if (n >= 16) {
            assert_string_not_equal(a, b);
        }
        free(a);
        free(b);
    }
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block size). */
static void hmac_sha256_matches_rfc4231(void **state)
{
    (void)state;
    unsigned char key1[20], key6[131];
    memset(key1, 0x0b, sizeof(key1));
    memset(key6, 0xaa, sizeof(key6));
    const struct {
        const void *key;
        size_t key_len;
        const char *msg;
        const char *mac;
    } cases[] = {
        {key1, sizeof(key1), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", 4, "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {key6, sizeof(key6), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[65];
        crypto_hmac_sha256_hex(cases[i].key, cases[i].key_len, cases[i].msg, strlen(cases[i].msg),
                               out);
        assert_string_equal(out, cases[i].mac);
    }
}

/* FIPS 180-2 examples. */
static void sha256_matches_fips_examples(void **state)
{
    (void)state;
    char out[65];
    crypto_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* FIPS 180-2's two-block message and its million 'a's, fed in pieces of sizes
 * that straddle the 64-byte block in every way, as an upload arrives. */
static void sha256_streamed_matches_fips_examples(void **state)
{
    (void)state;
    static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static char million_a[1000000];
    memset(million_a, 'a', sizeof(million_a));
    const struct {
        const char *msg;
        size_t len;
        const char *digest;
    } cases[] = {
        {two_blocks, sizeof(two_blocks) - 1,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {million_a, sizeof(million_a),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    const size_t pieces[] = {1, 3, 55, 63, 64, 65, 4096, 65537, 1000000};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char one_shot[65];
        crypto_sha256_hex(cases[i].msg, cases[i].len, one_shot);
        assert_string_equal(one_shot, cases[i].digest);
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            struct crypto_sha256 h;
            char out[65];
            assert_int_equal(crypto_sha256_init(&h), SC_OK);
            for (size_t off = 0; off < cases[i].len; off += pieces[p]) {
                size_t left = cases[i].len - off;
                crypto_sha256_update(&h, cases[i].msg + off, left < pieces[p] ? left : pieces[p]);
            }
            assert_int_equal(crypto_sha256_final_hex(&h, out), SC_OK);
            assert_string_equal(out, cases[i].digest);
            crypto_sha256_discard(&h); /* harmless after final */
        }
    }
    /* An abandoned digest (a request cut short) is freed, not finished. */
    struct crypto_sha256 h;
    assert_int_equal(crypto_sha256_init(&h), SC_OK);
    crypto_sha256_update(&h, "abc", 3);
    crypto_sha256_discard(&h);
}

static void constant_time_compare(void **state)
{
    (void)state;
    const struct {
        const char *a, *b;
        int equal;
    } cases[] = {
        {"", "", 1},        {"abc", "abc", 1},  {"abc", "abd", 0},
        {"abc", "abcd", 0}, {"abcd", "abc", 0}, {"", "a", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(crypto_str_equal(cases[i].a, cases[i].b), cases[i].equal);
    }
    assert_true(crypto_equal("abcX", "abcY", 3));
    assert_false(crypto_equal("abcX", "abdX", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_hash_round_trip),
        cmocka_unit_test(uuid_v4_has_canonical_form_and_differs),
        cmocka_unit_test(token_is_url_safe_with_expected_length),
        cmocka_unit_test(hmac_sha256_matches_rfc4231),
        cmocka_unit_test(sha256_matches_fips_examples),
        cmocka_unit_test(sha256_streamed_matches_fips_examples),
        cmocka_unit_test(constant_time_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
