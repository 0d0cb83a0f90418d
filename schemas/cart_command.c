/* cart.items_patched v1 codec: checks exactly what
 * schemas/cart_command.schema.json states. */
#include "cart_command.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "uuid.h"

static sc_code item_error(struct cart_item_error *e, long index, const char *field, const char *msg,
                          const char *type)
{
    *e = (struct cart_item_error){index, field, msg, type};
    return SC_EINVAL;
}

static void lower_uuid(char out[37], const char *id)
{
    for (size_t i = 0; i < 36; i++) {
        out[i] = (char)tolower((unsigned char)id[i]);
    }
    out[36] = '\0';
}

/* One item into *out, or SC_EINVAL with *e (index i). */
static sc_code parse_item(const json_t *item, long i, struct cart_item_change *out,
                          struct cart_item_error *e)
{
    if (!json_is_object(item)) {
        return item_error(e, i, NULL,
                          "Input should be a valid dictionary or object to extract fields from",
                          "model_attributes_type");
    }
    const json_t *pid = json_object_get(item, "product_id");
    const json_t *qty = json_object_get(item, "quantity");
    if (!pid) {
        return item_error(e, i, "product_id", "Field required", "missing");
    }
    if (!json_is_string(pid)) {
        return item_error(e, i, "product_id", "Input should be a valid string", "string_type");
    }
    if (!uuid_valid(json_string_value(pid))) {
        return item_error(e, i, "product_id", "Input should be a valid UUID", "uuid_parsing");
    }
    if (!qty) {
        return item_error(e, i, "quantity", "Field required", "missing");
    }
    if (!json_is_integer(qty)) {
        return item_error(e, i, "quantity", "Input should be a valid integer", "int_type");
    }
    json_int_t q = json_integer_value(qty);
    if (q < 0) {
        return item_error(e, i, "quantity", "Input should be greater than or equal to 0",
                          "greater_than_equal");
    }
    if (q > CART_QUANTITY_MAX) {
        return item_error(e, i, "quantity", "Input should be less than or equal to 99",
                          "less_than_equal");
    }
    lower_uuid(out->product_id, json_string_value(pid));
    out->quantity = (int)q;
    return SC_OK;
}

sc_code cart_items_parse(const json_t *items, struct cart_command *cmd, struct cart_item_error *e)
{
    cmd->n_items = 0;
    if (!json_is_array(items)) {
        return item_error(e, -1, NULL, "Input should be a valid list", "list_type");
    }
    size_t n = json_array_size(items);
    if (n == 0) {
        return item_error(e, -1, NULL, "List should have at least 1 item after validation, not 0",
                          "too_short");
    }
    if (n > CART_COMMAND_MAX_ITEMS) {
        return item_error(e, -1, NULL, "List should have at most 100 items after validation",
                          "too_long");
    }
    for (size_t i = 0; i < n; i++) {
        struct cart_item_change *it = &cmd->items[i];
        sc_code rc = parse_item(json_array_get(items, i), (long)i, it, e);
        if (rc != SC_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cmd->items[j].product_id, it->product_id)) {
                return item_error(e, (long)i, "product_id",
                                  "Value error, each product may appear only once", "value_error");
            }
        }
    }
    cmd->n_items = n;
    return SC_OK;
}

static sc_code fail(char *err, size_t errlen, const char *field, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s", field, why);
    }
    return SC_EINVAL;
}

sc_code cart_command_encode(const struct cart_command *cmd, json_t **out)
{
    *out = NULL;
    if (!uuid_valid(cmd->session_id) || !*cmd->accepted_at || cmd->n_items == 0 ||
        cmd->n_items > CART_COMMAND_MAX_ITEMS) {
        return SC_EINVAL;
    }
    json_t *items = json_array();
    json_t *data = json_pack("{s:s, s:o, s:s}", "session_id", cmd->session_id, "items", items,
                             "accepted_at", cmd->accepted_at);
    if (!data) {
        return SC_ENOMEM;
    }
    for (size_t i = 0; i < cmd->n_items; i++) {
        const struct cart_item_change *it = &cmd->items[i];
        if (!uuid_valid(it->product_id) || it->quantity < 0 || it->quantity > CART_QUANTITY_MAX) {
            json_decref(data);
            return SC_EINVAL;
        }
        json_array_append_new(
            items, json_pack("{s:s, s:i}", "product_id", it->product_id, "quantity", it->quantity));
    }
    if (cmd->clear) {
        json_object_set_new(data, "clear", json_true());
    }
    *out = data;
    return SC_OK;
}

sc_code cart_command_decode(const json_t *data, struct cart_command *cmd, char *err, size_t errlen)
{
    memset(cmd, 0, sizeof(*cmd));
    if (!json_is_object(data)) {
        return fail(err, errlen, "data", "must be an object");
    }
    const char *sid = json_string_value(json_object_get(data, "session_id"));
    if (!uuid_valid(sid)) {
        return fail(err, errlen, "session_id", "must be a UUID string");
    }
    lower_uuid(cmd->session_id, sid);
    struct cart_item_error e;
    if (cart_items_parse(json_object_get(data, "items"), cmd, &e) != SC_OK) {
        char why[160];
        snprintf(why, sizeof(why), "[%ld].%s: %s", e.index, e.field ? e.field : "", e.msg);
        return fail(err, errlen, "items", why);
    }
    const json_t *clear = json_object_get(data, "clear");
    if (clear && !json_is_boolean(clear)) {
        return fail(err, errlen, "clear", "must be a boolean");
    }
    cmd->clear = json_is_true(clear);
    const char *at = json_string_value(json_object_get(data, "accepted_at"));
    if (!at || !*at || strlen(at) >= sizeof(cmd->accepted_at)) {
        return fail(err, errlen, "accepted_at", "must be an RFC 3339 time string");
    }
    strcpy(cmd->accepted_at, at);
    return SC_OK;
}
