/* QR rendering: the PNG is a real PNG whose size follows from the symbol's
 * modules (so every module is QR_SCALE pixels and the quiet zone is there),
 * longer text needs a larger symbol, and text beyond a QR code's capacity is
 * refused. (The API tests decode the image with zbarimg.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "qr.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the PNG signature and IHDR; returns the width (asserting a square). */
static int png_side(const unsigned char *png, size_t len)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(len > 33);
    assert_memory_equal(png, sig, 8);
    assert_memory_equal(png + 12, "IHDR", 4);
    assert_int_equal(be32(png + 16), be32(png + 20));
    return (int)be32(png + 16);
}

static void png_size_follows_the_modules(void **state)
{
    (void)state;
    static const struct {
        size_t chars;
        int min_modules;
    } cases[] = {{1, 21}, {32, 25}, {300, 57}, {1000, 97}};
    int last = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = malloc(cases[i].chars + 1);
        memset(text, 'a' + (int)i, cases[i].chars);
        text[cases[i].chars] = '\0';
        void *png = NULL;
        size_t len = 0;
        int modules = 0;
        assert_int_equal(qr_png(text, &png, &len, &modules), SC_OK);
        assert_true(modules >= cases[i].min_modules);
        assert_true(modules > last);
        assert_int_equal((modules - 17) % 4, 0); /* version v has 17 + 4v modules */
        assert_int_equal(png_side(png, len), (modules + 2 * QR_MARGIN) * QR_SCALE);
        last = modules;
        free(png);
        free(text);
    }
}

static void text_beyond_capacity_is_refused(void **state)
{
    (void)state;
    char *text = malloc(5001);
    memset(text, 'x', 5000);
    text[5000] = '\0';
    void *png = (void *)1;
    size_t len = 1;
    assert_int_equal(qr_png(text, &png, &len, NULL), SC_EINVAL);
    assert_null(png);
    assert_int_equal(len, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_size_follows_the_modules),
        cmocka_unit_test(text_beyond_capacity_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
