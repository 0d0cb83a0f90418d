/* payment.received v1 codec: checks exactly what
 * schemas/payment_event.schema.json states. */
#include "payment_event.h"

#include <stdio.h>
#include <string.h>

#include "uuid.h"

#define ORDER_CODE_MAX 9007199254740991LL

static sc_code fail(char *err, size_t errlen, const char *field, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s", field, why);
    }
    return SC_EINVAL;
}

sc_code payment_event_from_webhook(json_t *webhook, json_t **out, char id[37])
{
    *out = NULL;
    json_t *code = json_object_get(webhook, "orderCode");
    json_t *amount = json_object_get(webhook, "amount");
    const char *reference = json_string_value(json_object_get(webhook, "reference"));
    const char *status = json_string_value(json_object_get(webhook, "code"));
    if (!json_is_integer(code) || json_integer_value(code) < 1 ||
        json_integer_value(code) > ORDER_CODE_MAX || !json_is_integer(amount) ||
        json_integer_value(amount) < 0) {
        return SC_EINVAL;
    }
    char name[320];
    snprintf(name, sizeof(name), "payos:%lld:%.255s", (long long)json_integer_value(code),
             reference ? reference : "");
    uuid_from_name(name, id);
    *out = json_pack("{s:O,s:O,s:s,s:s,s:O}", "order_code", code, "amount", amount, "reference",
                     reference ? reference : "", "code", status ? status : "", "webhook", webhook);
    return *out ? SC_OK : SC_ENOMEM;
}

sc_code payment_event_message(json_t *webhook, char **payload, size_t *len, char key[24])
{
    struct envelope env = {0};
    json_t *data = NULL;
    char id[37];
    *payload = NULL;
    sc_code rc = payment_event_from_webhook(webhook, &data, id);
    if (rc == SC_OK) {
        rc = envelope_init(&env, PAYMENT_EVENT_TYPE, PAYMENT_EVENT_VERSION, PAYMENT_EVENT_TENANT,
                           data);
    }
    if (rc == SC_OK) {
        /* Every delivery of one transfer is one message id: the worker applies it once. */
        memcpy(env.id, id, sizeof(env.id));
        snprintf(key, 24, "%lld",
                 (long long)json_integer_value(json_object_get(webhook, "orderCode")));
        rc = envelope_encode(&env, payload, len);
    }
    envelope_clear(&env);
    return rc;
}

sc_code payment_event_decode(const json_t *data, struct payment_event *ev, char *err, size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(data)) {
        return fail(err, errlen, "data", "must be an object");
    }
    json_t *code = json_object_get(data, "order_code");
    json_t *amount = json_object_get(data, "amount");
    const char *reference = json_string_value(json_object_get(data, "reference"));
    const char *status = json_string_value(json_object_get(data, "code"));
    json_t *webhook = json_object_get(data, "webhook");
    if (!json_is_integer(code) || json_integer_value(code) < 1 ||
        json_integer_value(code) > ORDER_CODE_MAX) {
        return fail(err, errlen, "order_code", "must be an integer from 1 to 2^53-1");
    }
    if (!json_is_integer(amount) || json_integer_value(amount) < 0) {
        return fail(err, errlen, "amount", "must be a non-negative integer");
    }
    if (!reference || strlen(reference) >= sizeof(ev->reference)) {
        return fail(err, errlen, "reference", "must be a string of at most 255 bytes");
    }
    if (!status || strlen(status) >= sizeof(ev->code)) {
        return fail(err, errlen, "code", "must be a string of at most 15 bytes");
    }
    if (!json_is_object(webhook)) {
        return fail(err, errlen, "webhook", "must be an object");
    }
    ev->order_code = json_integer_value(code);
    ev->amount = json_integer_value(amount);
    snprintf(ev->reference, sizeof(ev->reference), "%s", reference);
    snprintf(ev->code, sizeof(ev->code), "%s", status);
    ev->webhook = webhook;
    return SC_OK;
}
