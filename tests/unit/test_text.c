/* Unit tests of the UTF-8 checks: well-formed text of every sequence length,
 * every way a byte string fails to be UTF-8, and the encoder's round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "text.h"

static const struct {
    const char *what;
    const char *text;
    int valid;
    unsigned int first_cp; /* of a valid text's first sequence */
    size_t first_len;
} cases[] = {
    {"empty", "", 1, 0, 0},
    {"ascii", "ca phe", 1, 'c', 1},
    {"two bytes", "\xC3\xA0 la", 1, 0xE0, 2},
    {"three bytes (Vietnamese)",
     "\xE1\xBB\xAF"
     "a",
     1, 0x1EEF, 3},
    {"four bytes", "\xF0\x9F\x98\x80", 1, 0x1F600, 4},
    {"C1 control is UTF-8", "\xC2\x85", 1, 0x85, 2},
    {"no-break space",
     "\xC2\xA0"
     "a",
     1, 0xA0, 2},
    {"stray continuation byte", "\x80", 0, 0, 0},
    {"lone 0xFF", "\xFF", 0, 0, 0},
    {"truncated two bytes at the end", "a\xC3", 0, 'a', 1},
    {"truncated three bytes", "\xE1\xBB", 0, 0, 0},
    {"lead byte followed by ascii",
     "\xC3"
     "a",
     0, 0, 0},
    {"overlong slash", "\xC0\xAF", 0, 0, 0},
    {"overlong three bytes", "\xE0\x80\xAF", 0, 0, 0},
    {"surrogate", "\xED\xA0\x80", 0, 0, 0},
    {"past U+10FFFF", "\xF4\x90\x80\x80", 0, 0, 0},
    {"five-byte lead", "\xF8\x88\x80\x80\x80", 0, 0, 0},
    {"invalid after valid text",
     "s\xE1\xBB\xAF"
     "a\xFF",
     0, 's', 1},
};

static void checks_every_case(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (text_utf8_valid(cases[i].text) != cases[i].valid) {
            fail_msg("%s: valid should be %d", cases[i].what, cases[i].valid);
        }
        unsigned int cp = 0;
        size_t n = text_utf8_seq((const unsigned char *)cases[i].text, &cp);
        if (cases[i].first_len && (n != cases[i].first_len || cp != cases[i].first_cp)) {
            fail_msg("%s: first sequence %zu bytes U+%04X, want %zu bytes U+%04X", cases[i].what, n,
                     cp, cases[i].first_len, cases[i].first_cp);
        }
        if (!cases[i].first_len && cases[i].text[0] && n != 0) {
            fail_msg("%s: a sequence of %zu bytes where there is none", cases[i].what, n);
        }
    }
}

/* Every code point text_utf8_put writes reads back as itself, in the
 * length text_utf8_seq gives; what it refuses it leaves unwritten. */
static void writes_what_it_reads(void **state)
{
    (void)state;
    static const unsigned long ok[] = {0x1,    0x7F,   0x80,    0x7FF,   0x800,
                                       0x1EEF, 0xFFFF, 0x10000, 0x10FFFF};
    static const unsigned long refused[] = {0x0, 0xD800, 0xDFFF, 0x110000};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char buf[5] = {0};
        size_t n = text_utf8_put(ok[i], buf);
        unsigned int cp = 0;
        if (n == 0 || text_utf8_seq((const unsigned char *)buf, &cp) != n || cp != ok[i] ||
            strlen(buf) != n) {
            fail_msg("U+%04lX: wrote %zu bytes, read back U+%04X", ok[i], n, cp);
        }
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char buf[5] = {0};
        if (text_utf8_put(refused[i], buf) != 0 || buf[0] != 0) {
            fail_msg("U+%04lX should be refused", refused[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_every_case),
        cmocka_unit_test(writes_what_it_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
