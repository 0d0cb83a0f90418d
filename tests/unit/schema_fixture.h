/* cmocka group fixture of the message-codec tests: loads the message type's
 * JSON Schema from SCHEMA_PATH (define it before including this file); its
 * `examples` and `x-invalid-examples` are the tests' data. The tests run from
 * the repository root. */
#ifndef SC_TESTS_SCHEMA_FIXTURE_H
#define SC_TESTS_SCHEMA_FIXTURE_H

#include <jansson.h>
#include <stdio.h>

static json_t *schema;

static int load_schema(void **state)
{
    (void)state;
    json_error_t jerr;
    schema = json_load_file(SCHEMA_PATH, JSON_DECODE_ANY, &jerr);
    if (!schema) {
        fprintf(stderr, "%s: %s (run from the repository root)\n", SCHEMA_PATH, jerr.text);
        return -1;
    }
    return 0;
}

static int free_schema(void **state)
{
    (void)state;
    json_decref(schema);
    return 0;
}

#endif
