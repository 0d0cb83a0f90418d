/* PayOS signatures: the webhook example of PayOS's documentation, tampering
 * and key changes, the value rules (null, numbers, key order) and the
 * payment-link request signature (expected values computed independently
 * with Python's hmac module). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "payos.h"

#define DOCS_KEY "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
#define DOCS_SIGNATURE "412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"

/* The data of the documentation's webhook example, keys deliberately unsorted. */
static json_t *docs_data(void)
{
    json_t *d = json_pack("{s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "orderCode", 123, "amount",
                          3000, "description", "VQRIO123", "accountNumber", "12345678", "reference",
                          "TF230204212323", "transactionDateTime", "2023-02-04 18:25:00",
                          "currency", "VND", "paymentLinkId", "124c33293c43417ab7879e14c8d9eb18",
                          "code", "00", "desc", "Thành công");
    static const char *const empty[] = {"counterAccountBankId", "counterAccountBankName",
                                        "counterAccountName",   "counterAccountNumber",
                                        "virtualAccountName",   "virtualAccountNumber"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        json_object_set_new(d, empty[i], json_string(""));
    }
    return d;
}

static void docs_example_matches(void **state)
{
    (void)state;
    json_t *d = docs_data();
    char sig[65];
    assert_int_equal(payos_data_signature(d, DOCS_KEY, sig), SC_OK);
    assert_string_equal(sig, DOCS_SIGNATURE);
    assert_true(payos_signature_ok(d, DOCS_SIGNATURE, DOCS_KEY));
    json_decref(d);
}

/* Each change of the data, the key or the signature must fail verification. */
static void tampering_fails(void **state)
{
    (void)state;
    static const char *const fields[] = {"amount", "orderCode", "reference", "extra"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *d = docs_data();
        json_object_set_new(d, fields[i], json_integer(1));
        assert_false(payos_signature_ok(d, DOCS_SIGNATURE, DOCS_KEY));
        json_decref(d);
    }
    json_t *d = docs_data();
    assert_false(payos_signature_ok(d, DOCS_SIGNATURE, "wrong key"));
    assert_false(payos_signature_ok(d, NULL, DOCS_KEY));
    assert_false(payos_signature_ok(d, "", DOCS_KEY));
    assert_false(payos_signature_ok(
        d, "412E915D2871504ED31BE63C8F62A149A4410D34C4C42AFFC9006EF9917EAA03", DOCS_KEY));
    json_t *not_object = json_array();
    char sig[65];
    assert_int_equal(payos_data_signature(not_object, DOCS_KEY, sig), SC_EINVAL);
    assert_false(payos_signature_ok(not_object, DOCS_SIGNATURE, DOCS_KEY));
    json_decref(not_object);
    json_decref(d);
}

/* null is empty, numbers are decimal, strings raw (no URL-encoding), keys sorted. */
static void value_rules(void **state)
{
    (void)state;
    json_t *d = json_pack("{s:s,s:n,s:i,s:i}", "c", "x y&z", "b", "a", 1, "n", -5);
    char sig[65];
    assert_int_equal(payos_data_signature(d, DOCS_KEY, sig), SC_OK);
    /* HMAC of "a=1&b=&c=x y&z&n=-5" */
    assert_string_equal(sig, "55ee8aa647986536437663ddb074cbe5df1e0915d51e1b1f296e97953fafe0c5");
    json_decref(d);
}

static void request_signature(void **state)
{
    (void)state;
    static const struct {
        struct payos_create_request r;
        const char *expected;
    } cases[] = {
        {{100001, 2000, "SC100001", "https://example.com/return", "https://example.com/cancel"},
         "4b9909fae4f351ad9f31fa067773b0781e1dcfd2f0f54f4c20ba896a802dfa2b"},
        {{9007199254740991LL, 35000, "Thanh toán đơn", "http://127.0.0.1:8080/checkout/return",
          "http://127.0.0.1:8080/checkout/cancel?x=1&y=2"},
         "b0b21a0745818eaec944fd0b325dfc2119ad520df7993828ba43995b4e0ae09a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sig[65];
        payos_request_signature(&cases[i].r, DOCS_KEY, sig);
        assert_string_equal(sig, cases[i].expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docs_example_matches),
        cmocka_unit_test(tampering_fails),
        cmocka_unit_test(value_rules),
        cmocka_unit_test(request_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
