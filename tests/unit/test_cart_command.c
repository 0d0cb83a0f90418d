/* cart.items_patched v1 codec against schemas/cart_command.schema.json: every
 * entry of `examples` decodes and re-encodes to the same command; every
 * entry of `x-invalid-examples` is refused with its field named; the items
 * parser ingest uses names the item, field and pydantic type of each error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schemas/cart_command.h"

#define SCHEMA_PATH "schemas/cart_command.schema.json"

#include "schema_fixture.h"

static void assert_same_command(const struct cart_command *a, const struct cart_command *b)
{
    assert_string_equal(a->session_id, b->session_id);
    assert_string_equal(a->accepted_at, b->accepted_at);
    assert_int_equal(a->clear, b->clear);
    assert_int_equal(a->n_items, b->n_items);
    for (size_t i = 0; i < a->n_items; i++) {
        assert_string_equal(a->items[i].product_id, b->items[i].product_id);
        assert_int_equal(a->items[i].quantity, b->items[i].quantity);
    }
}

static void examples_round_trip(void **state)
{
    (void)state;
    json_t *examples = json_object_get(schema, "examples");
    assert_true(json_array_size(examples) >= 2);
    size_t i;
    json_t *ex;
    json_array_foreach(examples, i, ex)
    {
        struct cart_command cmd, again;
        char err[160] = "";
        json_t *data = NULL;
        assert_int_equal(cart_command_decode(ex, &cmd, err, sizeof(err)), SC_OK);
        assert_int_equal(
            strcasecmp(cmd.session_id, json_string_value(json_object_get(ex, "session_id"))), 0);
        assert_int_equal(cmd.n_items, json_array_size(json_object_get(ex, "items")));
        assert_int_equal(cmd.clear, json_is_true(json_object_get(ex, "clear")));
        for (const char *p = cmd.items[0].product_id; *p; p++) {
            assert_false(*p >= 'A' && *p <= 'F'); /* normalised to lower case */
        }
        assert_int_equal(cart_command_encode(&cmd, &data), SC_OK);
        assert_int_equal(cart_command_decode(data, &again, err, sizeof(err)), SC_OK);
        assert_same_command(&cmd, &again);
        json_decref(data);
    }
}

static void invalid_examples_name_their_field(void **state)
{
    (void)state;
    json_t *invalid = json_object_get(schema, "x-invalid-examples");
    assert_true(json_array_size(invalid) >= 10);
    size_t i;
    json_t *ex;
    json_array_foreach(invalid, i, ex)
    {
        struct cart_command cmd;
        char err[160] = "";
        const char *field = json_string_value(json_object_get(ex, "field"));
        assert_int_equal(
            cart_command_decode(json_object_get(ex, "instance"), &cmd, err, sizeof(err)),
            SC_EINVAL);
        assert_int_equal(strncmp(err, field, strlen(field)), 0);
        assert_int_equal(err[strlen(field)], ':');
    }
}

#define P1 "3f1c2b6e-8d4a-4f7e-9a51-0c2d7e6b9f10"
#define P2 "7a9e0c31-5b2d-4c8e-8f61-2d3c4b5a6978"

static void items_errors_name_item_field_and_type(void **state)
{
    (void)state;
    static const struct {
        const char *items;
        long index;
        const char *field; /* NULL: the item or the list */
        const char *type;
    } cases[] = {
        {"{}", -1, NULL, "list_type"},
        {"[]", -1, NULL, "too_short"},
        {"[1]", 0, NULL, "model_attributes_type"},
        {"[{\"quantity\": 1}]", 0, "product_id", "missing"},
        {"[{\"product_id\": 5, \"quantity\": 1}]", 0, "product_id", "string_type"},
        {"[{\"product_id\": \"abc\", \"quantity\": 1}]", 0, "product_id", "uuid_parsing"},
        {"[{\"product_id\": \"" P1 "\"}]", 0, "quantity", "missing"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": \"2\"}]", 0, "quantity", "int_type"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": 2.0}]", 0, "quantity", "int_type"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": true}]", 0, "quantity", "int_type"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": -1}]", 0, "quantity", "greater_than_equal"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": 100}]", 0, "quantity", "less_than_equal"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": 1}, {\"product_id\": \"" P2
         "\", \"quantity\": 100}]",
         1, "quantity", "less_than_equal"},
        {"[{\"product_id\": \"" P1 "\", \"quantity\": 1}, {\"product_id\": \"" P1
         "\", \"quantity\": 0}]",
         1, "product_id", "value_error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cart_command cmd;
        struct cart_item_error e;
        json_t *items = json_loads(cases[i].items, JSON_DECODE_ANY, NULL);
        assert_non_null(items);
        assert_int_equal(cart_items_parse(items, &cmd, &e), SC_EINVAL);
        assert_int_equal(e.index, cases[i].index);
        if (cases[i].field) {
            assert_string_equal(e.field, cases[i].field);
        } else {
            assert_null(e.field);
        }
        assert_string_equal(e.type, cases[i].type);
        assert_non_null(e.msg);
        json_decref(items);
    }
}

static void items_at_the_bounds_are_accepted(void **state)
{
    (void)state;
    json_t *items = json_array();
    char id[37];
    for (int i = 0; i < CART_COMMAND_MAX_ITEMS; i++) {
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
        json_array_append_new(items, json_pack("{s:s, s:i}", "product_id", id, "quantity",
                                               i % 2 ? CART_QUANTITY_MAX : 0));
    }
    struct cart_command cmd;
    struct cart_item_error e;
    assert_int_equal(cart_items_parse(items, &cmd, &e), SC_OK);
    assert_int_equal(cmd.n_items, CART_COMMAND_MAX_ITEMS);
    assert_int_equal(cmd.items[1].quantity, CART_QUANTITY_MAX);
    json_array_append_new(items, json_pack("{s:s, s:i}", "product_id", P1, "quantity", 1));
    assert_int_equal(cart_items_parse(items, &cmd, &e), SC_EINVAL);
    assert_string_equal(e.type, "too_long");
    json_decref(items);
}

static void encode_refuses_a_bad_command(void **state)
{
    (void)state;
    struct cart_command cmd = {.session_id = "not-a-uuid", .accepted_at = "2025-01-01T00:00:00Z"};
    json_t *data = (json_t *)1;
    assert_int_equal(cart_command_encode(&cmd, &data), SC_EINVAL);
    assert_null(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(examples_round_trip),
        cmocka_unit_test(invalid_examples_name_their_field),
        cmocka_unit_test(items_errors_name_item_field_and_type),
        cmocka_unit_test(items_at_the_bounds_are_accepted),
        cmocka_unit_test(encode_refuses_a_bad_command),
    };
    return cmocka_run_group_tests(tests, load_schema, free_schema);
}
