/* Unit tests of the router: literal and {param} segments, optional trailing
 * slash, literal-before-parameter precedence, 404 versus 405 with Allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ingest/router.h"

static const struct route routes_a[] = {
    {"GET", "/healthz", NULL, 0, 0},
    {"GET", "/products/", NULL, 0, 0},
    {"POST", "/products/", NULL, 0, 0},
    {"GET", "/products/{product_id}", NULL, 0, 0},
    {"DELETE", "/products/{product_id}", NULL, 0, 0},
    {"POST", "/products/search", NULL, 0, 0},
    {"GET", "/products/{product_id}/images/{image_id}", NULL, 0, 0},
    {"GET", "/", NULL, 0, 0},
};
static const size_t routes_a_len = sizeof(routes_a) / sizeof(routes_a[0]);
static const struct route routes_b[] = {
    {"GET", "/stores/{store_id}/banners", NULL, 0, 0},
    {"PUT", "/stores/main/banners", NULL, 0, 0},
    {"GET", "/a/{p1}/{p2}/{p3}/{p4}/{p5}", NULL, 0, 0},
};
static const size_t routes_b_len = sizeof(routes_b) / sizeof(routes_b[0]);
static const struct route_table tables[] = {{routes_a, &routes_a_len}, {routes_b, &routes_b_len}};

struct match_case {
    const char *method, *path;
    enum router_result want;
    const char *pattern; /* FOUND / 405: the pattern reported */
    const char *params;  /* FOUND: "name=value;..." */
    const char *allow;   /* 405: Allow header */
};

static const struct match_case cases[] = {
    {"GET", "/healthz", ROUTER_FOUND, "/healthz", "", NULL},
    {"GET", "/healthz/", ROUTER_FOUND, "/healthz", "", NULL},
    {"GET", "/healthzz", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "/health", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "/products/", ROUTER_FOUND, "/products/", "", NULL},
    {"GET", "/products", ROUTER_FOUND, "/products/", "", NULL},
    {"POST", "/products", ROUTER_FOUND, "/products/", "", NULL},
    {"GET", "/products//", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "//products", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "/products/42", ROUTER_FOUND, "/products/{product_id}", "product_id=42;", NULL},
    {"GET", "/products/42/", ROUTER_FOUND, "/products/{product_id}", "product_id=42;", NULL},
    {"DELETE", "/products/abc-1", ROUTER_FOUND, "/products/{product_id}", "product_id=abc-1;",
     NULL},
    {"PATCH", "/products/42", ROUTER_METHOD_NOT_ALLOWED, "/products/{product_id}", NULL,
     "GET, DELETE"},
    {"DELETE", "/products", ROUTER_METHOD_NOT_ALLOWED, "/products/", NULL, "GET, POST"},
    /* the literal wins over {product_id} for its own method only */
    {"POST", "/products/search", ROUTER_FOUND, "/products/search", "", NULL},
    {"GET", "/products/search", ROUTER_FOUND, "/products/{product_id}", "product_id=search;", NULL},
    {"PUT", "/products/search", ROUTER_METHOD_NOT_ALLOWED, "/products/search", NULL,
     "GET, DELETE, POST"},
    {"GET", "/products/7/images/9", ROUTER_FOUND, "/products/{product_id}/images/{image_id}",
     "product_id=7;image_id=9;", NULL},
    {"GET", "/products/7/images/", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "/products/7/images", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "/products/7/images/9/x", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"GET", "/", ROUTER_FOUND, "/", "", NULL},
    {"POST", "/", ROUTER_METHOD_NOT_ALLOWED, "/", NULL, "GET"},
    /* a later table's literal beats an earlier table's parameter */
    {"PUT", "/stores/main/banners", ROUTER_FOUND, "/stores/main/banners", "", NULL},
    {"GET", "/stores/main/banners", ROUTER_FOUND, "/stores/{store_id}/banners", "store_id=main;",
     NULL},
    {"POST", "/stores/x/banners", ROUTER_METHOD_NOT_ALLOWED, "/stores/{store_id}/banners", NULL,
     "GET"},
    /* more parameters than HTTP_MAX_PATH_PARAMS cannot be served */
    {"GET", "/a/1/2/3/4/5", ROUTER_NOT_FOUND, NULL, NULL, NULL},
    {"get", "/healthz", ROUTER_METHOD_NOT_ALLOWED, "/healthz", NULL, "GET"},
};

static void table_of_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct match_case *c = &cases[i];
        struct router_match m;
        enum router_result got = router_match(tables, 2, c->method, c->path, &m);
        print_message("%s %s\n", c->method, c->path);
        assert_int_equal(got, c->want);
        if (c->want == ROUTER_NOT_FOUND) {
            continue;
        }
        assert_non_null(m.pattern);
        assert_string_equal(m.pattern, c->pattern);
        if (c->want == ROUTER_METHOD_NOT_ALLOWED) {
            assert_null(m.route);
            assert_string_equal(m.allow, c->allow);
            continue;
        }
        assert_non_null(m.route);
        assert_string_equal(m.route->method, c->method);
        char params[256] = "";
        for (int p = 0; p < m.n_params; p++) {
            size_t n = strlen(params);
            snprintf(params + n, sizeof(params) - n, "%s=%s;", m.param_names[p], m.param_values[p]);
        }
        assert_string_equal(params, c->params);
    }
}

/* A parameter value longer than the match buffer is refused, not truncated. */
static void oversized_parameter_is_not_found(void **state)
{
    (void)state;
    static char path[ROUTER_BUF + 64];
    memcpy(path, "/products/", 10);
    memset(path + 10, 'x', ROUTER_BUF);
    path[10 + ROUTER_BUF] = '\0';
    struct router_match m;
    assert_int_equal(router_match(tables, 2, "GET", path, &m), ROUTER_NOT_FOUND);
    path[10 + 100] = '\0';
    assert_int_equal(router_match(tables, 2, "GET", path, &m), ROUTER_FOUND);
    assert_int_equal(strlen(m.param_values[0]), 100);
}

/* Every table the binary serves has patterns the router accepts and no
 * method+pattern twice (a duplicate would silently shadow a handler). */
static void served_tables_are_well_formed(void **state)
{
    (void)state;
    size_t n;
    const struct route_table *all = routes_all(&n);
    assert_true(n > 0);
    for (size_t t = 0; t < n; t++) {
        for (size_t i = 0; i < *all[t].len; i++) {
            const struct route *r = &all[t].routes[i];
            print_message("%s %s\n", r->method, r->pattern);
            assert_int_equal(r->pattern[0], '/');
            assert_non_null(r->handler);
            for (size_t u = t; u < n; u++) {
                for (size_t j = (u == t ? i + 1 : 0); j < *all[u].len; j++) {
                    const struct route *o = &all[u].routes[j];
                    assert_false(!strcmp(r->method, o->method) && !strcmp(r->pattern, o->pattern));
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_of_cases),
        cmocka_unit_test(oversized_parameter_is_not_found),
        cmocka_unit_test(served_tables_are_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
