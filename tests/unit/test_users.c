/* Unit tests of the pure rules of db/users: email syntax and text length.
 * The data access is exercised by the API tests against the real database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "db/users.h"

static void email_rules(void **state)
{
    (void)state;
    static char long_local[80], long_label[80];
    memset(long_local, 'a', 65);
    strcpy(long_local + 65, "@example.com"); /* local part of 65 bytes */
    memset(long_label, 'b', 64);
    strcpy(long_label + 64, ".com");
    char max_local[80];
    memset(max_local, 'a', 64);
    strcpy(max_local + 64, "@example.com");
    const struct {
        const char *email;
        int valid;
    } cases[] = {
        {"a@b.co", 1},
        {"first.last+tag@sub.example.com", 1},
        {"User.Name@Example.COM", 1},
        {"o'brien@example.ie", 1},
        {"x@xn--80ak6aa92e.com", 1},
        {"nguyễn@ví-dụ.vn", 1},
        {"a_b-c@my-host.example", 1},
        {max_local, 1},
        {"", 0},
        {"plain", 0},
        {"@example.com", 0},
        {"a@", 0},
        {"a@b", 0},
        {"a@b.", 0},
        {"a@.b.com", 0},
        {"a@b..com", 0},
        {"a..b@x.com", 0},
        {".a@x.com", 0},
        {"a.@x.com", 0},
        {"a b@x.com", 0},
        {"a@b c.com", 0},
        {"a@@b.com", 0},
        {"a@b@c.com", 0},
        {"a@-b.com", 0},
        {"a@b-.com", 0},
        {"a@1.2.3.4", 0},
        {"a@[127.0.0.1]", 0},
        {"\"a\"@x.com", 0},
        {"a@b_c.com", 0},
        {"a\t@x.com", 0},
        {"a(b)@x.com", 0},
        {long_local, 0},
        {long_label, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (users_email_valid(cases[i].email) != cases[i].valid) {
            fail_msg("'%s' should be %s", cases[i].email, cases[i].valid ? "valid" : "invalid");
        }
    }
}

static void text_length_counts_characters(void **state)
{
    (void)state;
    assert_int_equal(users_text_chars(""), 0);
    assert_int_equal(users_text_chars("abc"), 3);
    assert_int_equal(users_text_chars("Nguyễn"), 6); /* ễ is 3 bytes */
    assert_int_equal(users_text_chars("日本語"), 3); /* 9 bytes */
    assert_int_equal(users_text_chars("😀x"), 2);     /* a 4-byte sequence */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(email_rules),
        cmocka_unit_test(text_length_counts_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
