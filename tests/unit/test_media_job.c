/* media.uploaded v1 codec against schemas/media_job.schema.json: every entry
 * of `examples` decodes and re-encodes to the same id; every entry of
 * `x-invalid-examples` is refused with its field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schemas/media_job.h"

#define SCHEMA_PATH "schemas/media_job.schema.json"

#include "schema_fixture.h"

static void examples_round_trip(void **state)
{
    (void)state;
    json_t *examples = json_object_get(schema, "examples");
    assert_true(json_array_size(examples) >= 2);
    size_t i;
    json_t *ex;
    json_array_foreach(examples, i, ex)
    {
        struct media_job job, again;
        char err[128] = "";
        json_t *data = NULL;
        assert_int_equal(media_job_decode(ex, &job, err, sizeof(err)), SC_OK);
        const char *id = json_string_value(json_object_get(ex, "media_id"));
        assert_int_equal(strcasecmp(job.media_id, id), 0);
        for (const char *p = job.media_id; *p; p++) {
            assert_false(*p >= 'A' && *p <= 'F'); /* normalised to lower case */
        }
        assert_int_equal(media_job_encode(&job, &data), SC_OK);
        assert_int_equal(media_job_decode(data, &again, err, sizeof(err)), SC_OK);
        assert_string_equal(again.media_id, job.media_id);
        json_decref(data);
    }
}

static void invalid_examples_name_their_field(void **state)
{
    (void)state;
    json_t *invalid = json_object_get(schema, "x-invalid-examples");
    assert_true(json_array_size(invalid) >= 5);
    size_t i;
    json_t *ex;
    json_array_foreach(invalid, i, ex)
    {
        struct media_job job;
        char err[128] = "";
        const char *field = json_string_value(json_object_get(ex, "field"));
        assert_int_equal(media_job_decode(json_object_get(ex, "instance"), &job, err, sizeof(err)),
                         SC_EINVAL);
        assert_int_equal(strncmp(err, field, strlen(field)), 0);
        assert_int_equal(err[strlen(field)], ':');
    }
}

static void encode_refuses_a_bad_id(void **state)
{
    (void)state;
    struct media_job job = {"not-a-uuid"};
    json_t *data = (json_t *)1;
    assert_int_equal(media_job_encode(&job, &data), SC_EINVAL);
    assert_null(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(examples_round_trip),
        cmocka_unit_test(invalid_examples_name_their_field),
        cmocka_unit_test(encode_refuses_a_bad_id),
    };
    return cmocka_run_group_tests(tests, load_schema, free_schema);
}
