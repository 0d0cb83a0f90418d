/* Unit tests of the settings table loader: defaults, parsing, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"

struct fake_env {
    const char *name;
    const char *value;
};
static const struct fake_env *fake;

static const char *fake_getenv(const char *name)
{
    for (const struct fake_env *e = fake; e && e->name; e++) {
        if (!strcmp(e->name, name)) {
            return e->value;
        }
    }
    return NULL;
}

static sc_code load(const struct fake_env *env, char *err, size_t len)
{
    fake = env;
    return config_load_from(fake_getenv, err, len);
}

static void defaults_apply_when_unset(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(load(NULL, err, sizeof(err)), SC_OK);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.s3_region, "auto");
    assert_string_equal(cfg.jwt_secret, "");
}

static void environment_overrides_defaults(void **state)
{
    (void)state;
    const struct fake_env env[] = {{"HTTP_PORT", "9999"}, {"S3_BUCKET", "b"}, {NULL, NULL}};
    char err[256] = "";
    assert_int_equal(load(env, err, sizeof(err)), SC_OK);
    assert_int_equal(cfg.http_port, 9999);
    assert_string_equal(cfg.s3_bucket, "b");
}

static void rejects_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value, *reason;
    } cases[] = {
        {"HTTP_PORT", "0", "outside"},          {"HTTP_PORT", "70000", "outside"},
        {"HTTP_PORT", "80x", "not an integer"}, {"HTTP_PORT", "", "not an integer"},
        {"DB_POOL_SIZE", "-1", "outside"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct fake_env env[] = {{cases[i].name, cases[i].value}, {NULL, NULL}};
        char err[256] = "";
        assert_int_equal(load(env, err, sizeof(err)), SC_EINVAL);
        assert_non_null(strstr(err, cases[i].name));
        assert_non_null(strstr(err, cases[i].reason));
    }
}

static void require_checks_secret_length(void **state)
{
    (void)state;
    const struct fake_env short_env[] = {{"JWT_SECRET", "short"}, {NULL, NULL}};
    const struct fake_env long_env[] = {{"JWT_SECRET", "0123456789abcdef0123456789abcdef"},
                                        {NULL, NULL}};
    char err[256] = "";
    assert_int_equal(load(short_env, err, sizeof(err)), SC_OK);
    assert_int_equal(config_require("JWT_SECRET", 32, err, sizeof(err)), SC_EINVAL);
    assert_non_null(strstr(err, "JWT_SECRET"));
    assert_int_equal(load(long_env, err, sizeof(err)), SC_OK);
    assert_int_equal(config_require("JWT_SECRET", 32, err, sizeof(err)), SC_OK);
    assert_int_equal(config_require("NO_SUCH_SETTING", 1, err, sizeof(err)), SC_EINTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply_when_unset),
        cmocka_unit_test(environment_overrides_defaults),
        cmocka_unit_test(rejects_bad_values),
        cmocka_unit_test(require_checks_secret_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
