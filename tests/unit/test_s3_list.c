/* s3_list_parse: ListObjectsV2 answers as S3, R2 and s3rver write them.
 * Keys and tokens come back with their XML references decoded; a document
 * the sweep could misread (no key, no size, a LastModified it cannot parse,
 * a bad reference, truncated without a token) is refused as a whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define HEAD                                                                                       \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "                                 \
    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix>"          \
    "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
#define ENTRY(key, when, size)                                                                     \
    "<Contents><Key>" key "</Key><LastModified>" when "</LastModified><ETag>&quot;e&quot;"         \
    "</ETag><Size>" size "</Size><StorageClass>STANDARD</StorageClass></Contents>"

/* 2024-02-29T23:59:58Z */
#define LEAP_DAY 1709251198

static const struct {
    const char *name, *xml;
    sc_code rc;
    size_t n;
    const char *keys[3];
    size_t sizes[3];
    long long times[3];
    const char *next;
} cases[] = {
    {"two entries, last page",
     HEAD ENTRY("p/a.jpg", "2024-02-29T23:59:58.000Z", "12")
         ENTRY("p/b_thumb.webp", "2024-02-29T23:59:59Z", "0") "<IsTruncated>false</IsTruncated>"
                                                              "</ListBucketResult>",
     SC_OK,
     2,
     {"p/a.jpg", "p/b_thumb.webp"},
     {12, 0},
     {LEAP_DAY, LEAP_DAY + 1},
     NULL},
    {"references decoded, token too",
     HEAD ENTRY("p/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;", "2024-02-29T23:59:58.5Z", "7")
         ENTRY("p/caf&#233;/&#x20AC;&#x1F600;", "2024-02-29T23:59:58Z",
               "18446744073709551") "<IsTruncated>true</IsTruncated>"
                                    "<NextContinuationToken>1/a+b=&amp;"
                                    "</NextContinuationToken></ListBucketResult>",
     SC_OK,
     2,
     {"p/a&b <c> \"d\" 'e'", "p/caf\xc3\xa9/\xe2\x82\xac\xf0\x9f\x98\x80"},
     {7, 18446744073709551ull},
     {LEAP_DAY, LEAP_DAY},
     "1/a+b=&"},
    {"pretty-printed, owner inside",
     "<ListBucketResult>\n  <Contents>\n    <Key>k</Key>\n    <LastModified>2024-02-29T23:59:58Z"
     "</LastModified>\n    <Size>3</Size>\n    <Owner><ID>x</ID></Owner>\n  </Contents>\n"
     "  <KeyCount>1</KeyCount>\n</ListBucketResult>\n",
     SC_OK,
     1,
     {"k"},
     {3},
     {LEAP_DAY},
     NULL},
    {"empty listing",
     HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>",
     SC_OK,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"not a listing",
     "<Error><Code>AccessDenied</Code></Error>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"truncated without a token",
     HEAD ENTRY("k", "2024-02-29T23:59:58Z", "1") "<IsTruncated>true</IsTruncated>"
                                                  "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"entry without a date",
     HEAD "<Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"date without a zone",
     HEAD ENTRY("k", "2024-02-29T23:59:58", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"date out of range",
     HEAD ENTRY("k", "2024-13-01T00:00:00Z", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"size not a number",
     HEAD ENTRY("k", "2024-02-29T23:59:58Z", "-1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"empty key",
     HEAD ENTRY("", "2024-02-29T23:59:58Z", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"unknown entity",
     HEAD ENTRY("a&nbsp;b", "2024-02-29T23:59:58Z", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"unterminated reference",
     HEAD ENTRY("a&amp", "2024-02-29T23:59:58Z", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"reference to NUL",
     HEAD ENTRY("a&#0;b", "2024-02-29T23:59:58Z", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"reference to a surrogate",
     HEAD ENTRY("a&#xD800;b", "2024-02-29T23:59:58Z", "1") "</ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
    {"unclosed entry",
     HEAD "<Contents><Key>k</Key><Size>1</Size></ListBucketResult>",
     SC_EINVAL,
     0,
     {0},
     {0},
     {0},
     NULL},
};

static void listings_parse_as_expected(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct s3_list l;
        print_message("case: %s\n", cases[i].name);
        assert_int_equal(s3_list_parse(cases[i].xml, &l), cases[i].rc);
        assert_int_equal(l.n, cases[i].n);
        for (size_t k = 0; k < cases[i].n; k++) {
            assert_string_equal(l.objects[k].key, cases[i].keys[k]);
            assert_int_equal(l.objects[k].size, cases[i].sizes[k]);
            assert_int_equal((long long)l.objects[k].last_modified, cases[i].times[k]);
        }
        if (cases[i].next) {
            assert_non_null(l.next);
            assert_string_equal(l.next, cases[i].next);
        } else {
            assert_null(l.next);
        }
        s3_list_free(&l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(listings_parse_as_expected)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
