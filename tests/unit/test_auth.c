/* Unit tests of the authentication decision (ingest/auth.c auth_check):
 * which token may reach which kind of route, and the tenancy rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ingest/auth.h"
#include "jwt_token.h"

#define USER "0b5e7a52-1c41-4a8e-9d1e-6d3f0c2b9a10"
#define TENANT "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define TENANT_UPPER "7C9E6679-7425-40DE-944B-E07FC1F90AE7"
#define OTHER_TENANT "2d1f8a3e-5b6c-4d7e-8f90-a1b2c3d4e5f6"
#define SESSION "f47ac10b-58cc-4372-a567-0e02b2c3d479"

static char customer[1024], admin[1024], device[1024], expired[1024];

/* "Bearer <token>" for claims. */
static void bearer(char *out, const char *role, const char *sid, int ttl)
{
    struct token_claims c = {.sub = USER, .tenant = TENANT};
    snprintf(c.role, sizeof(c.role), "%s", role);
    snprintf(c.sid, sizeof(c.sid), "%s", sid);
    char *tok = NULL;
    assert_int_equal(jwt_issue(&c, ttl, &tok), SC_OK);
    snprintf(out, 1024, "Bearer %s", tok);
    free(tok);
}

static int setup(void **state)
{
    (void)state;
    cfg.jwt_secret = "test-secret-of-at-least-32-bytes-0123456789";
    bearer(customer, TOKEN_ROLE_CUSTOMER, "", 600);
    bearer(admin, TOKEN_ROLE_ADMIN, "", 600);
    bearer(device, TOKEN_ROLE_CUSTOMER, SESSION, 600);
    bearer(expired, TOKEN_ROLE_ADMIN, "", -1);
    return 0;
}

static void decisions(void **state)
{
    (void)state;
    char lower_scheme[1100], no_scheme[1100];
    snprintf(lower_scheme, sizeof(lower_scheme), "bearer %s", customer + 7);
    snprintf(no_scheme, sizeof(no_scheme), "%s", customer + 7);
    const struct {
        const char *name;
        const char *authorization;
        const char *tenant;
        enum auth_need need;
        int status;
    } cases[] = {
        {"customer on user route", customer, NULL, AUTH_USER, 0},
        {"customer, scheme in lower case", lower_scheme, NULL, AUTH_USER, 0},
        {"customer, own tenant", customer, TENANT, AUTH_USER, 0},
        {"customer, own tenant upper case", customer, TENANT_UPPER, AUTH_USER, 0},
        {"customer, other tenant", customer, OTHER_TENANT, AUTH_USER, 403},
        {"customer, empty tenant header", customer, "", AUTH_USER, 403},
        {"customer on admin route", customer, NULL, AUTH_ADMIN, 403},
        {"admin on admin route", admin, NULL, AUTH_ADMIN, 0},
        {"admin, other tenant", admin, OTHER_TENANT, AUTH_ADMIN, 403},
        {"admin on user route", admin, NULL, AUTH_USER, 0},
        {"device on user route", device, NULL, AUTH_USER, 403},
        {"device on admin route", device, NULL, AUTH_ADMIN, 403},
        {"device on device route", device, NULL, AUTH_USER_OR_DEVICE, 0},
        {"customer on device route", customer, NULL, AUTH_USER_OR_DEVICE, 0},
        {"device, other tenant", device, OTHER_TENANT, AUTH_USER_OR_DEVICE, 403},
        {"expired admin", expired, NULL, AUTH_ADMIN, 401},
        {"no header", NULL, NULL, AUTH_USER, 401},
        {"no header, tenant sent", NULL, TENANT, AUTH_USER, 401},
        {"scheme only", "Bearer", NULL, AUTH_USER, 401},
        {"scheme and space", "Bearer ", NULL, AUTH_USER, 401},
        {"token without scheme", no_scheme, NULL, AUTH_USER, 401},
        {"basic scheme", "Basic dXNlcjpwYXNz", NULL, AUTH_USER, 401},
        {"garbage token", "Bearer garbage", NULL, AUTH_USER, 401},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct auth_identity id;
        const char *detail = NULL;
        int status =
            auth_check(cases[i].authorization, cases[i].tenant, cases[i].need, &id, &detail);
        if (status != cases[i].status) {
            fail_msg("%s: got %d, want %d", cases[i].name, status, cases[i].status);
        }
        if (status) {
            assert_non_null(detail);
            assert_string_equal(id.user_id, "");
        }
    }
}

static void identity_of_tokens(void **state)
{
    (void)state;
    struct auth_identity id;
    const char *detail;
    assert_int_equal(auth_check(admin, NULL, AUTH_ADMIN, &id, &detail), 0);
    assert_string_equal(id.user_id, USER);
    assert_string_equal(id.tenant_id, TENANT);
    assert_string_equal(id.role, TOKEN_ROLE_ADMIN);
    assert_true(id.is_admin);
    assert_false(id.is_device);
    assert_string_equal(id.session_id, "");

    assert_int_equal(auth_check(device, NULL, AUTH_USER_OR_DEVICE, &id, &detail), 0);
    assert_true(id.is_device);
    assert_false(id.is_admin);
    assert_string_equal(id.session_id, SESSION);

    assert_int_equal(auth_check(customer, NULL, AUTH_ADMIN, &id, &detail), 403);
    assert_string_equal(detail, AUTH_DETAIL_FORBIDDEN);
    assert_int_equal(auth_check(customer, OTHER_TENANT, AUTH_USER, &id, &detail), 403);
    assert_string_equal(detail, AUTH_DETAIL_TENANT);
    assert_int_equal(auth_check("Bearer x", NULL, AUTH_USER, &id, &detail), 401);
    assert_string_equal(detail, AUTH_DETAIL_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decisions),
        cmocka_unit_test(identity_of_tokens),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
