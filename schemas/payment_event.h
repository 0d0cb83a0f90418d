/* Codec of the `data` of a "payment.received" message, version 1
 * (schemas/payment_event.schema.json is the source of truth): one verified
 * PayOS webhook. */
#ifndef SC_PAYMENT_EVENT_H
#define SC_PAYMENT_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"
#include "schemas/envelope.h"

#define PAYMENT_EVENT_TYPE "payment.received"
#define PAYMENT_EVENT_VERSION 1
/* Envelope tenant of payment events: PayOS does not know our tenants. */
#define PAYMENT_EVENT_TENANT "00000000-0000-0000-0000-000000000000"

struct payment_event {
    long long order_code;
    long long amount;
    char reference[256];
    char code[16];
    json_t *webhook; /* the signed data object; borrowed from the decoded data */
};

/* The message of a verified webhook's data object: *out is the data (new
 * reference) and id the envelope id derived from orderCode and reference.
 * SC_EINVAL when webhook lacks an integer orderCode or amount. */
sc_code payment_event_from_webhook(json_t *webhook, json_t **out, char id[37]);

/* The whole message of a webhook's data object: the encoded envelope in
 * *payload (*len bytes; caller frees) and its Kafka key (the order code).
 * SC_EINVAL as payment_event_from_webhook. */
sc_code payment_event_message(json_t *webhook, char **payload, size_t *len, char key[24]);

/* Validates data and fills ev (ev->webhook borrowed from data). On SC_EINVAL
 * err names the offending field. */
sc_code payment_event_decode(const json_t *data, struct payment_event *ev, char *err,
                             size_t errlen);

#endif
