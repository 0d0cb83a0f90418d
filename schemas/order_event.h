/* Codec of the `data` of an "order.completed" message, version 1
 * (schemas/order_event.schema.json is the source of truth). The payment
 * worker builds the data in SQL (it is written to the outbox there); this
 * codec checks it on both sides. */
#ifndef SC_ORDER_EVENT_H
#define SC_ORDER_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"

#define ORDER_EVENT_TYPE "order.completed"
#define ORDER_EVENT_VERSION 1

struct order_event {
    char order_id[37]; /* lower case */
    char user_id[37];
    const char *completed_at; /* borrowed from the data */
    json_t *items;            /* [{product_id|null, quantity}], borrowed */
};

/* Validates data and fills ev. On SC_EINVAL err names the offending field. */
sc_code order_event_decode(const json_t *data, struct order_event *ev, char *err, size_t errlen);

#endif
