/* order.completed v1 codec: checks exactly what
 * schemas/order_event.schema.json states. */
#include "order_event.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "uuid.h"

static sc_code fail(char *err, size_t errlen, const char *field, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s", field, why);
    }
    return SC_EINVAL;
}

static int take_uuid(const json_t *v, char out[37])
{
    const char *s = json_string_value(v);
    if (!uuid_valid(s)) {
        return 0;
    }
    for (int i = 0; i < 37; i++) {
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    return 1;
}

/* "YYYY-MM-DDTHH:MM:SS[.frac]Z": the shape the payment worker writes;
 * Postgres checks the values. */
static int is_utc_time(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           s[n - 1] == 'Z';
}

static int items_valid(const json_t *items)
{
    size_t i;
    json_t *it;
    if (!json_is_array(items)) {
        return 0;
    }
    json_array_foreach(items, i, it)
    {
        json_t *product = json_object_get(it, "product_id");
        json_t *quantity = json_object_get(it, "quantity");
        char id[37];
        if (!json_is_object(it) || !(json_is_null(product) || take_uuid(product, id)) ||
            !json_is_integer(quantity) || json_integer_value(quantity) < 1) {
            return 0;
        }
    }
    return 1;
}

sc_code order_event_decode(const json_t *data, struct order_event *ev, char *err, size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(data)) {
        return fail(err, errlen, "data", "must be an object");
    }
    if (!take_uuid(json_object_get(data, "order_id"), ev->order_id)) {
        return fail(err, errlen, "order_id", "must be a UUID string");
    }
    if (!take_uuid(json_object_get(data, "user_id"), ev->user_id)) {
        return fail(err, errlen, "user_id", "must be a UUID string");
    }
    ev->completed_at = json_string_value(json_object_get(data, "completed_at"));
    if (!is_utc_time(ev->completed_at)) {
        return fail(err, errlen, "completed_at", "must be an RFC 3339 UTC time");
    }
    ev->items = json_object_get(data, "items");
    if (!items_valid(ev->items)) {
        return fail(err, errlen, "items",
                    "must be an array of {product_id: UUID or null, quantity >= 1}");
    }
    return SC_OK;
}
