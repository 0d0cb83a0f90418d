/* Codec of the `data` of a "cart.items_patched" message, version 1
 * (schemas/cart_command.schema.json is the source of truth): {session_id,
 * items: [{product_id, quantity}], clear?, accepted_at}. Ingest validates a
 * client's items with the same parser, so the API and the worker accept
 * exactly the same commands. */
#ifndef SC_CART_COMMAND_H
#define SC_CART_COMMAND_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"

#define CART_COMMAND_TYPE "cart.items_patched"
#define CART_COMMAND_VERSION 1
#define CART_COMMAND_MAX_ITEMS 100
#define CART_QUANTITY_MAX 99

struct cart_item_change {
    char product_id[37]; /* lower case */
    int quantity;        /* 0..CART_QUANTITY_MAX; 0 removes the product */
};

struct cart_command {
    char session_id[37]; /* lower case */
    int clear;           /* empty the cart first */
    char accepted_at[40];
    size_t n_items;
    struct cart_item_change items[CART_COMMAND_MAX_ITEMS];
};

/* Where and why an items list was refused, in pydantic 2's words: index is
 * the item's position (-1: the list itself), field "product_id", "quantity"
 * or NULL (the item as a whole); msg and type are static strings. */
struct cart_item_error {
    long index;
    const char *field;
    const char *msg;
    const char *type;
};

/* Parses a JSON items list into cmd->items / cmd->n_items (strict: a
 * quantity must be a JSON integer, not "2" or 2.0). SC_EINVAL with *e filled
 * when items breaks the schema or names a product twice. */
sc_code cart_items_parse(const json_t *items, struct cart_command *cmd, struct cart_item_error *e);

/* The data object of cmd in *out (new reference, the caller's). SC_EINVAL
 * when cmd breaks the schema. */
sc_code cart_command_encode(const struct cart_command *cmd, json_t **out);

/* Validates data and fills cmd. On SC_EINVAL err names the offending field
 * first ("data", "session_id", "items", "clear" or "accepted_at", then ':').
 * Unknown members are ignored. */
sc_code cart_command_decode(const json_t *data, struct cart_command *cmd, char *err, size_t errlen);

#endif
