/* db/models.c pure parts: the R2 key of a model file and the check of a
 * product-vector import document, as tables of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "db/models.h"

#define M "3f1c2b6e-8d4a-4f7e-9a51-0c2d7e6b9f10"
#define P1 "6c0e4b1a-2f3d-4e5a-8b7c-9d0e1f2a3b4c"
#define P2 "0b7f6a2e-1c3d-4e5f-a6b7-c8d9e0f1a2b3"

/* The most bytes a key part keeps, and one more. */
#define LONG64 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
#define LONG65 LONG64 "n"

static void object_keys(void **state)
{
    (void)state;
    static const struct {
        enum model_type type;
        const char *name, *version, *filename, *key;
    } cases[] = {
        {MODEL_CROP, "MyCropModel", "1.0", "m.bin", "models/crop/MyCropModel-1.0-" M ".bin"},
        {MODEL_EMBEDDING, "MyEmbeddingModel", "1.0", "w.ONNX",
         "models/embedding/MyEmbeddingModel-1.0-" M ".onnx"},
        /* One '_' per character that is not key-safe, multi-byte ones included. */
        {MODEL_CROP, "Mô hình cắt", "v2", "a.tflite", "models/crop/M__h_nh_c_t-v2-" M ".tflite"},
        {MODEL_CROP, "a/../b?c%d", "1", "x.pt", "models/crop/a_.._b_c_d-1-" M ".pt"},
        /* The extension: the last one, letters and digits only, else bin. */
        {MODEL_CROP, "m", "1", "archive.tar.gz", "models/crop/m-1-" M ".gz"},
        {MODEL_CROP, "m", "1", "noext", "models/crop/m-1-" M ".bin"},
        {MODEL_CROP, "m", "1", "trailing.", "models/crop/m-1-" M ".bin"},
        {MODEL_CROP, "m", "1", "bad.e/x", "models/crop/m-1-" M ".bin"},
        {MODEL_CROP, "m", "1", "long.abcdefghijklmnopq", "models/crop/m-1-" M ".bin"},
        {MODEL_CROP, "m", "1", "long.abcdefghijklmnop", "models/crop/m-1-" M ".abcdefghijklmnop"},
        {MODEL_CROP, "m", "1", "", "models/crop/m-1-" M ".bin"},
        {MODEL_CROP, "m", "1", NULL, "models/crop/m-1-" M ".bin"},
        /* Each part is cut to 64 bytes. */
        {MODEL_CROP, LONG65, LONG65, "f.bin", "models/crop/" LONG64 "-" LONG64 "-" M ".bin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[MODEL_KEY_LEN];
        models_object_key(cases[i].type, cases[i].name, cases[i].version, M, cases[i].filename,
                          key);
        assert_string_equal(key, cases[i].key);
    }
}

static void validate_documents(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        sc_code rc;
        size_t count, dim;
        const char *err; /* a part of the message */
    } cases[] = {
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [0.1, -2, 3e-3]}]}", SC_OK, 1,
         3, ""},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [1, 2]},"
         " {\"product_id\": \"" P2 "\", \"embedding\": [3, 4]}]}",
         SC_OK, 2, 2, ""},
        {"{\"vectors\": []}", SC_EINVAL, 0, 0, "non-empty \"vectors\" array"},
        {"[]", SC_EINVAL, 0, 0, "non-empty \"vectors\" array"},
        {"{\"vector\": [{\"product_id\": \"" P1 "\", \"embedding\": [1]}]}", SC_EINVAL, 0, 0,
         "non-empty \"vectors\" array"},
        {"{\"vectors\": [{\"product_id\": \"p-1\", \"embedding\": [1]}]}", SC_EINVAL, 0, 0,
         "vectors[0].product_id must be a UUID"},
        {"{\"vectors\": [{\"embedding\": [1]}]}", SC_EINVAL, 0, 0,
         "vectors[0].product_id must be a UUID"},
        {"{\"vectors\": [7]}", SC_EINVAL, 0, 0, "vectors[0].product_id must be a UUID"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [1]},"
         " {\"product_id\": \"6C0E4B1A-2F3D-4E5A-8B7C-9D0E1F2A3B4C\", \"embedding\": [2]}]}",
         SC_EINVAL, 0, 0, "vectors[1]: product " P1 " appears twice"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": []}]}", SC_EINVAL, 0, 0,
         "vectors[0].embedding must be an array of 1 to 4096 numbers"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\"}]}", SC_EINVAL, 0, 0,
         "vectors[0].embedding must be an array"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [1, 2]},"
         " {\"product_id\": \"" P2 "\", \"embedding\": [3]}]}",
         SC_EINVAL, 0, 0, "vectors[1].embedding has 1 dimensions, vectors[0] has 2"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [1, \"2\"]}]}", SC_EINVAL, 0,
         0, "vectors[0].embedding[1] is not a single-precision number"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [1e39]}]}", SC_EINVAL, 0, 0,
         "vectors[0].embedding[0] is not a single-precision number"},
        {"{\"vectors\": [{\"product_id\": \"" P1 "\", \"embedding\": [null]}]}", SC_EINVAL, 0, 0,
         "vectors[0].embedding[0] is not a single-precision number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *doc = json_loads(cases[i].doc, JSON_DECODE_ANY, NULL);
        size_t count = 99, dim = 99;
        char err[256] = "";
        assert_non_null(doc);
        assert_int_equal(vectors_validate(doc, &count, &dim, err, sizeof(err)), cases[i].rc);
        if (cases[i].rc == SC_OK) {
            assert_int_equal(count, cases[i].count);
            assert_int_equal(dim, cases[i].dim);
        } else {
            assert_non_null(strstr(err, cases[i].err));
            assert_int_equal(count, 0);
        }
        json_decref(doc);
    }
}

/* The most dimensions pass, one more does not. */
static void dimension_bound(void **state)
{
    (void)state;
    for (size_t n = VECTORS_MAX_DIM; n <= VECTORS_MAX_DIM + 1; n++) {
        json_t *emb = json_array();
        for (size_t k = 0; k < n; k++) {
            json_array_append_new(emb, json_real(0.5));
        }
        json_t *doc = json_pack("{s:[{s:s,s:o}]}", "vectors", "product_id", P1, "embedding", emb);
        size_t count, dim;
        char err[256] = "";
        assert_int_equal(vectors_validate(doc, &count, &dim, err, sizeof(err)),
                         n == VECTORS_MAX_DIM ? SC_OK : SC_EINVAL);
        json_decref(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(object_keys),
        cmocka_unit_test(validate_documents),
        cmocka_unit_test(dimension_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
