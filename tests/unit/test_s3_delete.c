/* S3's multi-object delete without a server: the request body
 * (s3_delete_many_body: quiet, keys XML-escaped, keys XML cannot carry
 * refused), the answer (s3_delete_many_parse: which keys failed and how; an
 * answer that cannot be read in full fails every key) and the Content-MD5
 * the request carries (crypto_md5_base64, RFC 1321's vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "s3.h"

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define BODY_HEAD                                                                                  \
    XML_DECL "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
#define OBJ(key) "<Object><Key>" key "</Key></Object>"
#define BODY_TAIL "</Delete>"

static void bodies_are_built_as_expected(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *keys[3];
        size_t n;
        sc_code rc;
        const char *body;
    } cases[] = {
        {"one plain key",
         {"media/t/o/a_thumb.webp"},
         1,
         SC_OK,
         BODY_HEAD OBJ("media/t/o/a_thumb.webp") BODY_TAIL},
        {"keys in their order",
         {"b", "a", "b"},
         3,
         SC_OK,
         BODY_HEAD OBJ("b") OBJ("a") OBJ("b") BODY_TAIL},
        {"markup characters escaped",
         {"a&b<c>\"d\"'e'"},
         1,
         SC_OK,
         BODY_HEAD OBJ("a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;") BODY_TAIL},
        {"UTF-8 and URL-reserved characters as they are",
         {"caf\xc3\xa9/\xe2\x82\xac a+b=c%"},
         1,
         SC_OK,
         BODY_HEAD OBJ("caf\xc3\xa9/\xe2\x82\xac a+b=c%") BODY_TAIL},
        {"no keys", {NULL}, 0, SC_EINVAL, NULL},
        {"an empty key", {"a", ""}, 2, SC_EINVAL, NULL},
        {"a NULL key", {"a", NULL}, 2, SC_EINVAL, NULL},
        {"a control character", {"a\x01z"}, 1, SC_EINVAL, NULL},
        {"a tab (S3 decodes &#9;, s3rver does not)", {"a\tz"}, 1, SC_EINVAL, NULL},
        {"a line feed", {"a\nz"}, 1, SC_EINVAL, NULL},
        {"not UTF-8", {"a\xff"}, 1, SC_EINVAL, NULL},
        {"U+FFFE (not an XML character)", {"a\xef\xbf\xbe"}, 1, SC_EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = (char *)"unset";
        size_t len = 1;
        print_message("case: %s\n", cases[i].name);
        assert_int_equal(s3_delete_many_body(cases[i].keys, cases[i].n, &body, &len), cases[i].rc);
        if (cases[i].body) {
            assert_string_equal(body, cases[i].body);
            assert_int_equal(len, strlen(cases[i].body));
        } else {
            assert_null(body);
            assert_int_equal(len, 0);
        }
        free(body);
    }
}

/* A request holds at most 1000 keys of at most 1024 bytes. */
static void body_limits(void **state)
{
    (void)state;
    static const char *keys[S3_DELETE_BATCH + 1];
    char longest[1026];
    memset(longest, 'k', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    longest[1024] = '\0';
    for (size_t i = 0; i <= S3_DELETE_BATCH; i++) {
        keys[i] = longest;
    }
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(s3_delete_many_body(keys, S3_DELETE_BATCH, &body, &len), SC_OK);
    const size_t per_key = strlen(OBJ("")) + 1024;
    assert_int_equal(len, strlen(BODY_HEAD BODY_TAIL) + S3_DELETE_BATCH * per_key);
    free(body);
    assert_int_equal(s3_delete_many_body(keys, S3_DELETE_BATCH + 1, &body, &len), SC_EINVAL);
    assert_null(body);
    longest[1024] = 'k'; /* 1025 bytes */
    assert_int_equal(s3_delete_many_body(keys, 1, &body, &len), SC_EINVAL);
    assert_null(body);
}

#define RESULT_HEAD XML_DECL "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define DELETED(key) "<Deleted><Key>" key "</Key></Deleted>"
#define ERROR(key, code)                                                                           \
    "<Error><Key>" key "</Key><Code>" code "</Code><Message>m</Message></Error>"

/* The keys every parser case asked to delete ("a" twice). */
static const char *const asked[] = {"a", "b&c", "d", "a"};
#define NASKED (sizeof(asked) / sizeof(asked[0]))

static void answers_parse_as_expected(void **state)
{
    (void)state;
    static const struct {
        const char *name, *xml;
        sc_code rc;
        sc_code results[NASKED];
    } cases[] = {
        {"quiet, nothing failed",
         RESULT_HEAD "</DeleteResult>",
         SC_OK,
         {SC_OK, SC_OK, SC_OK, SC_OK}},
        {"quiet, self-closed", XML_DECL "<DeleteResult/>", SC_OK, {SC_OK, SC_OK, SC_OK, SC_OK}},
        {"verbose (s3rver ignores Quiet)",
         RESULT_HEAD DELETED("a") DELETED("b&amp;c") DELETED("d") "</DeleteResult>",
         SC_OK,
         {SC_OK, SC_OK, SC_OK, SC_OK}},
        {"one key denied: every copy of it failed",
         RESULT_HEAD DELETED("b&amp;c") ERROR("a", "AccessDenied") "</DeleteResult>",
         SC_OK,
         {SC_EINTERNAL, SC_OK, SC_OK, SC_EINTERNAL}},
        {"transient codes, an escaped key",
         RESULT_HEAD ERROR("b&amp;c", "InternalError") ERROR("d", "SlowDown") "</DeleteResult>",
         SC_OK,
         {SC_OK, SC_EUNAVAIL, SC_EUNAVAIL, SC_OK}},
        {"service unavailable, pretty-printed",
         RESULT_HEAD "\n  <Error>\n    <Key>d</Key>\n    <Code>ServiceUnavailable</Code>\n"
                     "  </Error>\n</DeleteResult>\n",
         SC_OK,
         {SC_OK, SC_OK, SC_EUNAVAIL, SC_OK}},
        {"an absent key counts as removed",
         RESULT_HEAD ERROR("d", "NoSuchKey") "</DeleteResult>",
         SC_OK,
         {SC_OK, SC_OK, SC_OK, SC_OK}},
        {"key given with a character reference",
         RESULT_HEAD ERROR("b&#38;c", "AccessDenied") "</DeleteResult>",
         SC_OK,
         {SC_OK, SC_EINTERNAL, SC_OK, SC_OK}},
        {"not a DeleteResult",
         XML_DECL "<Error><Code>AccessDenied</Code><Message>m</Message></Error>",
         SC_EINVAL,
         {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
        {"empty answer", "", SC_EINVAL, {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
        {"error without a key",
         RESULT_HEAD "<Error><Code>AccessDenied</Code></Error></DeleteResult>",
         SC_EINVAL,
         {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
        {"error without a code",
         RESULT_HEAD "<Error><Key>a</Key></Error></DeleteResult>",
         SC_EINVAL,
         {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
        {"error not closed",
         RESULT_HEAD "<Error><Key>a</Key><Code>AccessDenied</Code>",
         SC_EINVAL,
         {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
        {"error for a key not asked for",
         RESULT_HEAD ERROR("e", "AccessDenied") "</DeleteResult>",
         SC_EINVAL,
         {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
        {"key escaped differently than asked (b&c unescaped is not XML)",
         RESULT_HEAD ERROR("b&c", "AccessDenied") "</DeleteResult>",
         SC_EINVAL,
         {SC_EINVAL, SC_EINVAL, SC_EINVAL, SC_EINVAL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_code results[NASKED];
        print_message("case: %s\n", cases[i].name);
        assert_int_equal(s3_delete_many_parse(cases[i].xml, asked, NASKED, results), cases[i].rc);
        for (size_t k = 0; k < NASKED; k++) {
            assert_int_equal(results[k], cases[i].results[k]);
        }
    }
}

static void content_md5_is_base64_of_the_digest(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *md5;
    } cases[] = {
        {"", "1B2M2Y8AsgTpgAmY7PhCfg=="},
        {"abc", "kAFQmDzST7DWlj99KOF/cg=="},
        {"The quick brown fox jumps over the lazy dog", "nhB9nTcrtoJr2B01QqQZ1g=="},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[CRYPTO_MD5_BASE64_LEN];
        assert_int_equal(crypto_md5_base64(cases[i].msg, strlen(cases[i].msg), out), SC_OK);
        assert_string_equal(out, cases[i].md5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bodies_are_built_as_expected),
        cmocka_unit_test(body_limits),
        cmocka_unit_test(answers_parse_as_expected),
        cmocka_unit_test(content_md5_is_base64_of_the_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
