/* Unit tests of lib/jwt_token: round trips, and a table of forged or broken
 * tokens that must all be refused. The forger below builds tokens with
 * libsodium directly, independent of the code under test; its first case is
 * a valid token, which proves the forger itself is right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jwt_token.h"

#define KEY "test-secret-of-at-least-32-bytes-0123456789"
#define OTHER_KEY "another-secret-of-at-least-32-bytes-abcdef"
#define USER "0b5e7a52-1c41-4a8e-9d1e-6d3f0c2b9a10"
#define TENANT "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define SESSION "f47ac10b-58cc-4372-a567-0e02b2c3d479"

enum sig { SIG_HS256, SIG_HS512, SIG_NONE, SIG_HS256_OTHER_KEY, SIG_GARBAGE };

static void b64url(char *out, size_t cap, const void *bin, size_t len)
{
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header and payload are JSON texts; "%EXP+n" in payload is replaced by now+n. */
static char *forge(const char *header, const char *payload, enum sig sig)
{
    char body[1024], h[512], p[1024], sigb64[128] = "";
    const char *at = strstr(payload, "%EXP");
    if (at) {
        long off = strtol(at + 4, NULL, 10);
        const char *rest = strchr(at, '}');
        snprintf(body, sizeof(body), "%.*s%lld%s", (int)(at - payload), payload,
                 (long long)time(NULL) + off, rest);
        payload = body;
    }
    b64url(h, sizeof(h), header, strlen(header));
    b64url(p, sizeof(p), payload, strlen(payload));
    char signing[1600];
    snprintf(signing, sizeof(signing), "%s.%s", h, p);
    unsigned char mac[64];
    const char *key = sig == SIG_HS256_OTHER_KEY ? OTHER_KEY : KEY;
    if (sig == SIG_HS256 || sig == SIG_HS256_OTHER_KEY) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
        crypto_auth_hmacsha256_final(&st, mac);
        b64url(sigb64, sizeof(sigb64), mac, 32);
    } else if (sig == SIG_HS512) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha512_update(&st, (const unsigned char *)signing, strlen(signing));
        crypto_auth_hmacsha512_final(&st, mac);
        b64url(sigb64, sizeof(sigb64), mac, 64);
    } else if (sig == SIG_GARBAGE) {
        strcpy(sigb64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    }
    char *tok = malloc(strlen(signing) + strlen(sigb64) + 2);
    sprintf(tok, "%s.%s", signing, sigb64);
    return tok;
}

static int setup(void **state)
{
    (void)state;
    cfg.jwt_secret = KEY;
    return sodium_init() < 0;
}

static void user_token_round_trip(void **state)
{
    (void)state;
    struct token_claims in = {.sub = USER, .role = TOKEN_ROLE_ADMIN, .tenant = TENANT};
    struct token_claims got;
    char *tok = NULL;
    assert_int_equal(jwt_issue(&in, 3600, &tok), SC_OK);
    assert_int_equal(jwt_verify(tok, &got), SC_OK);
    assert_string_equal(got.sub, USER);
    assert_string_equal(got.role, TOKEN_ROLE_ADMIN);
    assert_string_equal(got.tenant, TENANT);
    assert_string_equal(got.sid, "");
    assert_int_equal(got.exp - got.iat, 3600);
    long long now = (long long)time(NULL);
    assert_true(got.iat <= now && got.iat >= now - 5);
    free(tok);
}

static void device_token_round_trip(void **state)
{
    (void)state;
    struct token_claims in = {
        .sub = USER, .role = TOKEN_ROLE_CUSTOMER, .tenant = TENANT, .sid = SESSION};
    struct token_claims got;
    char *tok = NULL;
    assert_int_equal(jwt_issue(&in, 600, &tok), SC_OK);
    assert_int_equal(jwt_verify(tok, &got), SC_OK);
    assert_string_equal(got.sid, SESSION);
    assert_string_equal(got.role, TOKEN_ROLE_CUSTOMER);
    free(tok);
}

static void issue_refuses_incomplete_claims(void **state)
{
    (void)state;
    const struct token_claims cases[] = {
        {.sub = USER, .role = "root", .tenant = TENANT},
        {.sub = USER, .role = "", .tenant = TENANT},
        {.sub = "", .role = TOKEN_ROLE_CUSTOMER, .tenant = TENANT},
        {.sub = USER, .role = TOKEN_ROLE_CUSTOMER, .tenant = ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = (char *)"unchanged";
        assert_int_equal(jwt_issue(&cases[i], 60, &tok), SC_EINVAL);
        assert_null(tok);
    }
}

static void expired_issued_token_is_refused(void **state)
{
    (void)state;
    struct token_claims in = {.sub = USER, .role = TOKEN_ROLE_CUSTOMER, .tenant = TENANT};
    struct token_claims got;
    char *tok = NULL;
    assert_int_equal(jwt_issue(&in, -1, &tok), SC_OK);
    assert_int_equal(jwt_verify(tok, &got), SC_EINVAL);
    assert_string_equal(got.sub, "");
    free(tok);
}

static void token_signed_with_another_key_is_refused(void **state)
{
    (void)state;
    struct token_claims in = {.sub = USER, .role = TOKEN_ROLE_CUSTOMER, .tenant = TENANT};
    struct token_claims got;
    char *tok = NULL;
    cfg.jwt_secret = OTHER_KEY;
    assert_int_equal(jwt_issue(&in, 60, &tok), SC_OK);
    cfg.jwt_secret = KEY;
    assert_int_equal(jwt_verify(tok, &got), SC_EINVAL);
    free(tok);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS(extra)                                                                              \
    "{\"sub\":\"" USER "\",\"role\":\"Customer\",\"tenant\":\"" TENANT "\"" extra                  \
    ",\"exp\":%EXP+300}"

static void forged_tokens(void **state)
{
    (void)state;
    const struct {
        const char *name;
        const char *header;
        const char *payload;
        enum sig sig;
        sc_code want;
    } cases[] = {
        {"valid (control)", HS256, CLAIMS(""), SIG_HS256, SC_OK},
        {"valid device (control)", HS256, CLAIMS(",\"typ\":\"device\",\"sid\":\"" SESSION "\""),
         SIG_HS256, SC_OK},
        {"alg none, no signature", "{\"alg\":\"none\"}", CLAIMS(""), SIG_NONE, SC_EINVAL},
        {"alg none, HS256 signature", "{\"alg\":\"none\"}", CLAIMS(""), SIG_HS256, SC_EINVAL},
        {"alg None", "{\"alg\":\"None\"}", CLAIMS(""), SIG_NONE, SC_EINVAL},
        {"alg hs256 (not exact)", "{\"alg\":\"hs256\"}", CLAIMS(""), SIG_HS256, SC_EINVAL},
        {"alg HS512 with our key", "{\"alg\":\"HS512\"}", CLAIMS(""), SIG_HS512, SC_EINVAL},
        {"alg RS256", "{\"alg\":\"RS256\"}", CLAIMS(""), SIG_HS256, SC_EINVAL},
        {"no alg", "{\"typ\":\"JWT\"}", CLAIMS(""), SIG_HS256, SC_EINVAL},
        {"crit header", "{\"alg\":\"HS256\",\"crit\":[\"x\"],\"x\":1}", CLAIMS(""), SIG_HS256,
         SC_EINVAL},
        {"other key", HS256, CLAIMS(""), SIG_HS256_OTHER_KEY, SC_EINVAL},
        {"garbage signature", HS256, CLAIMS(""), SIG_GARBAGE, SC_EINVAL},
        {"no exp", HS256, "{\"sub\":\"" USER "\",\"role\":\"Customer\",\"tenant\":\"" TENANT "\"}",
         SIG_HS256, SC_EINVAL},
        {"exp as string", HS256,
         "{\"sub\":\"" USER "\",\"role\":\"Customer\",\"tenant\":\"" TENANT
         "\",\"exp\":\"9999999999\"}",
         SIG_HS256, SC_EINVAL},
        {"exp as float", HS256,
         "{\"sub\":\"" USER "\",\"role\":\"Customer\",\"tenant\":\"" TENANT
         "\",\"exp\":9999999999.5}",
         SIG_HS256, SC_EINVAL},
        {"expired", HS256,
         "{\"sub\":\"" USER "\",\"role\":\"Customer\",\"tenant\":\"" TENANT "\",\"exp\":%EXP-1}",
         SIG_HS256, SC_EINVAL},
        {"nbf in the future", HS256, CLAIMS(",\"nbf\":99999999999"), SIG_HS256, SC_EINVAL},
        {"iat not integer", HS256, CLAIMS(",\"iat\":\"x\""), SIG_HS256, SC_EINVAL},
        {"unknown role", HS256,
         "{\"sub\":\"" USER "\",\"role\":\"root\",\"tenant\":\"" TENANT "\",\"exp\":%EXP+300}",
         SIG_HS256, SC_EINVAL},
        {"no sub", HS256, "{\"role\":\"Customer\",\"tenant\":\"" TENANT "\",\"exp\":%EXP+300}",
         SIG_HS256, SC_EINVAL},
        {"sub not a string", HS256,
         "{\"sub\":7,\"role\":\"Customer\",\"tenant\":\"" TENANT "\",\"exp\":%EXP+300}", SIG_HS256,
         SC_EINVAL},
        {"sub too long", HS256,
         "{\"sub\":\"" USER "x\",\"role\":\"Customer\",\"tenant\":\"" TENANT "\",\"exp\":%EXP+300}",
         SIG_HS256, SC_EINVAL},
        {"no tenant", HS256, "{\"sub\":\"" USER "\",\"role\":\"Customer\",\"exp\":%EXP+300}",
         SIG_HS256, SC_EINVAL},
        {"device without sid", HS256, CLAIMS(",\"typ\":\"device\""), SIG_HS256, SC_EINVAL},
        {"sid without device typ", HS256, CLAIMS(",\"sid\":\"" SESSION "\""), SIG_HS256, SC_EINVAL},
        {"unknown typ", HS256, CLAIMS(",\"typ\":\"refresh\",\"sid\":\"" SESSION "\""), SIG_HS256,
         SC_EINVAL},
        {"payload not an object", HS256, "[1,2]", SIG_HS256, SC_EINVAL},
        {"payload not JSON", HS256, "sub=1", SIG_HS256, SC_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = forge(cases[i].header, cases[i].payload, cases[i].sig);
        struct token_claims got;
        sc_code rc = jwt_verify(tok, &got);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s, want %s (%s)", cases[i].name, sc_strerror(rc),
                     sc_strerror(cases[i].want), tok);
        }
        free(tok);
    }
}

static void malformed_strings(void **state)
{
    (void)state;
    char *valid = forge(HS256, CLAIMS(""), SIG_HS256);
    char tampered[2048], extra[2048];
    snprintf(tampered, sizeof(tampered), "%s", valid);
    tampered[strlen(HS256) / 2] ^= 1; /* flip a bit in the header part */
    snprintf(extra, sizeof(extra), "%s.x", valid);
    const char *cases[] = {NULL, "", ".", "..", "abc", "a.b", "a.b.c", "a.b.c.d", tampered, extra};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct token_claims got;
        if (jwt_verify(cases[i], &got) != SC_EINVAL) {
            fail_msg("accepted %s", cases[i] ? cases[i] : "(null)");
        }
    }
    free(valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_token_round_trip),
        cmocka_unit_test(device_token_round_trip),
        cmocka_unit_test(issue_refuses_incomplete_claims),
        cmocka_unit_test(expired_issued_token_is_refused),
        cmocka_unit_test(token_signed_with_another_key_is_refused),
        cmocka_unit_test(forged_tokens),
        cmocka_unit_test(malformed_strings),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
