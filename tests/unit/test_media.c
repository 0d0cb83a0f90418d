/* lib/media.c pure parts: the R2 key layout and the cleaning of original
 * file names, as tables of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "media.h"

#define T "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c"
#define U "0b7f6a2e-1c3d-4e5f-a6b7-c8d9e0f1a2b3"
#define M "3f1c2b6e-8d4a-4f7e-9a51-0c2d7e6b9f10"

static void base_keys(void **state)
{
    (void)state;
    static const struct {
        const char *purpose, *tenant, *owner, *media;
        sc_code rc;
        const char *key;
    } cases[] = {
        {"media", T, U, M, SC_OK, "media/" T "/" U "/" M},
        {"avatar", T, U, M, SC_OK, "media/" T "/customers/" U "/profile/" M},
        {"address_proof", T, U, M, SC_OK, "media/" T "/customers/" U "/address/" M},
        {"media", T, U, "3F1C2B6E-8D4A-4F7E-9A51-0C2D7E6B9F10", SC_OK, "media/" T "/" U "/" M},
        {"product_image", T, U, M, SC_OK, "images/products/" M},
        {"banner", T, U, M, SC_OK, "images/banners/" M},
        {"banner", T, U, "3F1C2B6E-8D4A-4F7E-9A51-0C2D7E6B9F10", SC_OK, "images/banners/" M},
        {"product", T, U, M, SC_EINVAL, ""},
        {NULL, T, U, M, SC_EINVAL, ""},
        {"media", "default", U, M, SC_EINVAL, ""},
        {"media", T, "../../x", M, SC_EINVAL, ""},
        {"media", T, U, "", SC_EINVAL, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[MEDIA_KEY_LEN];
        assert_int_equal(
            media_base_key(cases[i].purpose, cases[i].tenant, cases[i].owner, cases[i].media, key),
            cases[i].rc);
        assert_string_equal(key, cases[i].key);
    }
}

static void object_keys(void **state)
{
    (void)state;
    char key[MEDIA_KEY_LEN];
    media_staging_key(M, key);
    assert_string_equal(key, "staging/" M);
    media_object_key("media/a/b/c", NULL, "jpg", key);
    assert_string_equal(key, "media/a/b/c.jpg");
    media_object_key("media/a/b/c", "thumb", "webp", key);
    assert_string_equal(key, "media/a/b/c_thumb.webp");
}

static void clean_names(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"photo.jpg", "photo.jpg"},
        {"C:\\Users\\an\\ảnh đẹp.png", "ảnh đẹp.png"},
        {"../../etc/passwd", "passwd"},
        {"dir/", "upload"},
        {"", "upload"},
        {NULL, "upload"},
        {"..", "upload"},
        {"a\r\nb\tc\x7f.jpg", "abc.jpg"},
        {"bad\xff\xfeutf8.jpg", "badutf8.jpg"},
        {"overlong\xc0\xaf.jpg", "overlong.jpg"},
        {"c1\xc2\x85.jpg", "c1.jpg"},
        {"\x01\x02", "upload"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[MEDIA_NAME_LEN];
        media_clean_name(cases[i].in, out);
        assert_string_equal(out, cases[i].out);
    }
}

/* 300 characters of 3 bytes each keep the first 255 characters, whole. */
static void long_names_are_cut_by_characters(void **state)
{
    (void)state;
    char in[300 * 3 + 1], out[MEDIA_NAME_LEN];
    for (int i = 0; i < 300; i++) {
        memcpy(in + 3 * i, "\xe1\xba\xa3", 3); /* ả */
    }
    in[900] = '\0';
    media_clean_name(in, out);
    assert_int_equal(strlen(out), 255 * 3);
    assert_memory_equal(out, in, 255 * 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_keys),
        cmocka_unit_test(object_keys),
        cmocka_unit_test(clean_names),
        cmocka_unit_test(long_names_are_cut_by_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
