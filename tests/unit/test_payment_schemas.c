/* payment.received and order.completed codecs against their schemas: every
 * entry of `examples` decodes, every entry of `x-invalid-examples` is
 * refused with its field named; a webhook's message id depends only on its
 * order code and reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "schemas/order_event.h"
#include "schemas/payment_event.h"
#include "uuid.h"

static sc_code decode_payment(const json_t *data, char *err, size_t errlen)
{
    struct payment_event ev;
    return payment_event_decode(data, &ev, err, errlen);
}

static sc_code decode_order(const json_t *data, char *err, size_t errlen)
{
    struct order_event ev;
    return order_event_decode(data, &ev, err, errlen);
}

static const struct {
    const char *path;
    sc_code (*decode)(const json_t *data, char *err, size_t errlen);
} schemas[] = {
    {"schemas/payment_event.schema.json", decode_payment},
    {"schemas/order_event.schema.json", decode_order},
};

static void schema_examples(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof(schemas) / sizeof(schemas[0]); s++) {
        json_error_t jerr;
        json_t *schema = json_load_file(schemas[s].path, 0, &jerr);
        assert_non_null(schema); /* run from the repository root */
        size_t i;
        json_t *ex;
        char err[160];
        json_array_foreach(json_object_get(schema, "examples"), i, ex)
        {
            assert_int_equal(schemas[s].decode(ex, err, sizeof(err)), SC_OK);
        }
        json_t *invalid = json_object_get(schema, "x-invalid-examples");
        assert_true(json_array_size(invalid) >= 5);
        json_array_foreach(invalid, i, ex)
        {
            const char *field = json_string_value(json_object_get(ex, "field"));
            err[0] = '\0';
            assert_int_equal(schemas[s].decode(json_object_get(ex, "instance"), err, sizeof(err)),
                             SC_EINVAL);
            assert_int_equal(strncmp(err, field, strlen(field)), 0);
            assert_int_equal(err[strlen(field)], ':');
        }
        json_decref(schema);
    }
}

/* Duplicated deliveries share one id; another transfer of the order does not. */
static void webhook_ids_are_derived(void **state)
{
    (void)state;
    static const char *const webhooks[] = {
        "{\"orderCode\":100001,\"amount\":2000,\"reference\":\"FT1\",\"code\":\"00\"}",
        "{\"orderCode\":100001,\"amount\":2000,\"reference\":\"FT1\",\"code\":\"00\",\"x\":1}",
        "{\"orderCode\":100001,\"amount\":2000,\"reference\":\"FT2\",\"code\":\"00\"}",
        "{\"orderCode\":100002,\"amount\":2000,\"reference\":\"FT1\",\"code\":\"00\"}",
    };
    char ids[4][37];
    for (size_t i = 0; i < 4; i++) {
        json_t *w = json_loads(webhooks[i], 0, NULL), *data = NULL;
        assert_int_equal(payment_event_from_webhook(w, &data, ids[i]), SC_OK);
        assert_true(uuid_valid(ids[i]));
        assert_int_equal(ids[i][14], '8');
        assert_non_null(strchr("89ab", ids[i][19]));
        struct payment_event ev;
        assert_int_equal(payment_event_decode(data, &ev, NULL, 0), SC_OK);
        assert_int_equal(ev.order_code, i == 3 ? 100002 : 100001);
        json_decref(data);
        json_decref(w);
    }
    assert_string_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[0], ids[2]);
    assert_string_not_equal(ids[0], ids[3]);

    static const char *const bad[] = {"{\"amount\":1}", "{\"orderCode\":\"1\",\"amount\":1}",
                                      "{\"orderCode\":1,\"amount\":-1}", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *w = json_loads(bad[i], 0, NULL), *data = NULL;
        char id[37];
        assert_int_equal(payment_event_from_webhook(w, &data, id), SC_EINVAL);
        assert_null(data);
        json_decref(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_examples),
        cmocka_unit_test(webhook_ids_are_derived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
