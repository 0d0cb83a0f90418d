/* Every route table ingest serves. A feature adds its table with one line in
 * ROUTE_TABLES; its file defines `const struct route NAME[]` and
 * `const size_t NAME_len`. The order only breaks ties between identical
 * patterns (see router.h). */
#include "router.h"

/* clang-format off */
#define ROUTE_TABLES(X) \
    X(ops_routes) \
    X(auth_routes) \
    X(catalog_routes) \
    X(catalog_image_routes) \
    X(media_routes) \
    X(session_routes) \
    X(checkout_routes) \
    X(profile_routes) \
    X(customer_routes) \
    X(model_routes) \
    X(docs_routes)
/* clang-format on */

#define DECLARE_TABLE(name)                                                                        \
    extern const struct route name[];                                                              \
    extern const size_t name##_len;
ROUTE_TABLES(DECLARE_TABLE)

#define TABLE_ENTRY(name) {name, &name##_len},
static const struct route_table tables[] = {ROUTE_TABLES(TABLE_ENTRY)};

const struct route_table *routes_all(size_t *ntables)
{
    *ntables = sizeof(tables) / sizeof(tables[0]);
    return tables;
}
