/* Envelope codec against schemas/envelope.schema.json: every entry of
 * `examples` decodes and survives an encode/decode round trip unchanged;
 * every entry of `x-invalid-examples` is refused with its field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/envelope.h"

#define SCHEMA_PATH "schemas/envelope.schema.json"

#include "schema_fixture.h"

/* Decodes the JSON text of instance into e. */
static sc_code decode_json(json_t *instance, struct envelope *e, char *err, size_t errlen)
{
    char *text = json_dumps(instance, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(text);
    sc_code rc = envelope_decode(text, strlen(text), e, err, errlen);
    free(text);
    return rc;
}

static void valid_examples_decode_and_round_trip(void **state)
{
    (void)state;
    json_t *examples = json_object_get(schema, "examples");
    assert_true(json_array_size(examples) >= 3);
    size_t i;
    json_t *ex;
    json_array_foreach(examples, i, ex)
    {
        struct envelope e;
        char err[256] = "";
        assert_int_equal(decode_json(ex, &e, err, sizeof(err)), SC_OK);
        assert_string_equal(e.id, json_string_value(json_object_get(ex, "id")));
        assert_string_equal(e.type, json_string_value(json_object_get(ex, "type")));
        assert_int_equal(e.version, json_integer_value(json_object_get(ex, "version")));
        assert_true(json_equal(e.data, json_object_get(ex, "data")));

        char *text = NULL;
        size_t len = 0;
        assert_int_equal(envelope_encode(&e, &text, &len), SC_OK);
        json_t *again = json_loadb(text, len, 0, NULL);
        assert_true(json_equal(again, ex));
        json_decref(again);
        free(text);
        envelope_clear(&e);
    }
}

static void invalid_examples_name_their_field(void **state)
{
    (void)state;
    json_t *cases = json_object_get(schema, "x-invalid-examples");
    assert_true(json_array_size(cases) >= 10);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *field = json_string_value(json_object_get(c, "field"));
        struct envelope e;
        char err[256] = "";
        assert_int_equal(decode_json(json_object_get(c, "instance"), &e, err, sizeof(err)),
                         SC_EINVAL);
        assert_null(e.data);
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s:", field);
        if (strncmp(err, prefix, strlen(prefix)) != 0) {
            fail_msg("case %zu: error \"%s\" does not name %s", i, err, field);
        }
    }
}

static void bytes_that_are_not_json_are_refused(void **state)
{
    (void)state;
    static const char *const cases[] = {"", "not json", "{\"id\":", "{}{}", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct envelope e;
        char err[256] = "";
        assert_int_equal(envelope_decode(cases[i], strlen(cases[i]), &e, err, sizeof(err)),
                         SC_EINVAL);
        assert_non_null(strstr(err, "message:"));
    }
}

static void duplicate_members_are_refused(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"3f1c2b6e-8d4a-4f7e-9a51-0c2d7e6b9f10\",\"type\":\"a.b\","
                       "\"type\":\"c.d\",\"version\":1,\"occurred_at\":\"2024-05-01T08:30:00Z\","
                       "\"tenant\":\"6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c\",\"data\":{}}";
    struct envelope e;
    char err[256] = "";
    assert_int_equal(envelope_decode(text, strlen(text), &e, err, sizeof(err)), SC_EINVAL);
}

static void broken_message_keeps_its_valid_id(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"3F1C2B6E-8D4A-4F7E-9A51-0C2D7E6B9F10\",\"type\":\"a.b\","
                       "\"version\":1,\"occurred_at\":\"yesterday\",\"tenant\":"
                       "\"6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c\",\"data\":{}}";
    struct envelope e;
    char err[256] = "";
    assert_int_equal(envelope_decode(text, strlen(text), &e, err, sizeof(err)), SC_EINVAL);
    assert_string_equal(e.id, "3f1c2b6e-8d4a-4f7e-9a51-0c2d7e6b9f10");
}

static void unknown_members_are_ignored(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"3f1c2b6e-8d4a-4f7e-9a51-0c2d7e6b9f10\",\"type\":\"a.b\","
                       "\"version\":1,\"occurred_at\":\"2024-05-01T08:30:00Z\",\"tenant\":"
                       "\"6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c\",\"data\":{},\"trace\":\"x\"}";
    struct envelope e;
    char err[256] = "";
    assert_int_equal(envelope_decode(text, strlen(text), &e, err, sizeof(err)), SC_OK);
    envelope_clear(&e);
}

static void init_makes_a_valid_message(void **state)
{
    (void)state;
    struct envelope e;
    assert_int_equal(envelope_init(&e, "selftest.effect", 1, "6C0E4B1A-2F3D-4E5A-8B7C-9D0E1F2A3B4C",
                                   json_pack("{s:i}", "seq", 7)),
                     SC_OK);
    assert_string_equal(e.tenant, "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(envelope_encode(&e, &text, &len), SC_OK);
    struct envelope back;
    char err[256] = "";
    assert_int_equal(envelope_decode(text, len, &back, err, sizeof(err)), SC_OK);
    assert_string_equal(back.id, e.id);
    assert_string_equal(back.occurred_at, e.occurred_at);
    assert_true(json_equal(back.data, e.data));
    free(text);
    envelope_clear(&back);
    envelope_clear(&e);

    struct envelope other;
    assert_int_equal(envelope_init(&other, "selftest.effect", 1,
                                   "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c", json_object()),
                     SC_OK);
    assert_string_not_equal(other.id, back.id);
    envelope_clear(&other);
}

static void init_and_encode_refuse_bad_fields(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        int version;
        const char *tenant;
        int data_is_object;
    } cases[] = {
        {"Bad Type", 1, "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c", 1},
        {"a.b", 0, "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c", 1},
        {"a.b", 1, "default", 1},
        {"a.b", 1, "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c", 0},
        {NULL, 1, "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct envelope e;
        json_t *data = cases[i].data_is_object ? json_object() : json_array();
        assert_int_equal(envelope_init(&e, cases[i].type, cases[i].version, cases[i].tenant, data),
                         SC_EINVAL);
        assert_null(e.data);
    }
    /* encode validates too: a struct filled by hand cannot slip through */
    struct envelope e;
    assert_int_equal(
        envelope_init(&e, "a.b", 1, "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c", json_object()), SC_OK);
    strcpy(e.occurred_at, "2024-05-01");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(envelope_encode(&e, &text, &len), SC_EINVAL);
    assert_null(text);
    envelope_clear(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_examples_decode_and_round_trip),
        cmocka_unit_test(invalid_examples_name_their_field),
        cmocka_unit_test(bytes_that_are_not_json_are_refused),
        cmocka_unit_test(duplicate_members_are_refused),
        cmocka_unit_test(broken_message_keeps_its_valid_id),
        cmocka_unit_test(unknown_members_are_ignored),
        cmocka_unit_test(init_makes_a_valid_message),
        cmocka_unit_test(init_and_encode_refuse_bad_fields),
    };
    return cmocka_run_group_tests(tests, load_schema, free_schema);
}
