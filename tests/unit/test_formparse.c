/* Unit tests of the x-www-form-urlencoded parser: decoding, odd pairs,
 * malformed escapes kept literally, NUL bytes refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ingest/formparse.h"

struct form_case {
    const char *body;
    sc_code want;
    const char *fields; /* "name=value|..." of every parsed pair, in order */
};

static const struct form_case cases[] = {
    {"", SC_OK, ""},
    {"username=a%40b.com&password=correct+horse", SC_OK,
     "username=a@b.com|password=correct horse|"},
    {"a=1&&b=2&", SC_OK, "a=1|b=2|"},
    {"flag&x=", SC_OK, "flag=|x=|"},
    {"=v", SC_OK, "=v|"},
    {"k=a=b", SC_OK, "k=a=b|"},
    {"p=%E1%BB%85%20x", SC_OK, "p=\xe1\xbb\x85 x|"},
    {"p=%2B%2b%26%3D", SC_OK, "p=++&=|"},
    {"p=100%&q=%zz&r=%4", SC_OK, "p=100%|q=%zz|r=%4|"},
    {"p=%4", SC_OK, "p=%4|"},
    {"%61%62=%63", SC_OK, "ab=c|"},
    {"p=a%00b", SC_EINVAL, ""},
    {"%00=x", SC_EINVAL, ""},
};

static void table_of_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct form_case *c = &cases[i];
        struct form f;
        print_message("%s\n", c->body);
        assert_int_equal(form_parse(c->body, strlen(c->body), &f), c->want);
        char got[256] = "";
        for (size_t k = 0; k < f.n; k++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof(got) - n, "%s=%s|", f.fields[k].name, f.fields[k].value);
        }
        assert_string_equal(got, c->fields);
        form_free(&f);
    }
}

static void get_returns_first_value(void **state)
{
    (void)state;
    const char body[] = "a=1&b=2&a=3";
    struct form f;
    assert_int_equal(form_parse(body, strlen(body), &f), SC_OK);
    assert_string_equal(form_get(&f, "a"), "1");
    assert_string_equal(form_get(&f, "b"), "2");
    assert_null(form_get(&f, "c"));
    assert_null(form_get(&f, "A"));
    form_free(&f);
}

/* The body need not be NUL-terminated: only len bytes are read. */
static void reads_only_len_bytes(void **state)
{
    (void)state;
    const char body[] = "a=12&b=34";
    struct form f;
    assert_int_equal(form_parse(body, 3, &f), SC_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(form_get(&f, "a"), "1");
    form_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_of_cases),
        cmocka_unit_test(get_returns_first_value),
        cmocka_unit_test(reads_only_len_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
