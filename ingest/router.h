/* Path routing for ingest: patterns with {param} segments matched against a
 * request path, pure (no HTTP library types) so it is unit-tested alone.
 * Rules: a segment is literal or {name} (one non-empty segment); one trailing
 * slash is optional on both sides ("/products/" serves "/products" too, as
 * FastAPI clients call both); where several patterns match, a literal segment
 * beats a parameter at the first place they differ, then the earlier route
 * wins; a path whose patterns all lack the method is 405 with their methods. */
#ifndef SC_ROUTER_H
#define SC_ROUTER_H

#include <stddef.h>

#include "http.h"

/* One feature's routes (routes.c lists them all). len is a pointer because
 * the table's length is only known to the file that defines it. */
struct route_table {
    const struct route *routes;
    const size_t *len;
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

#define ROUTER_BUF 2048

struct router_match {
    const struct route *route; /* ROUTER_FOUND */
    const char *pattern;       /* FOUND and METHOD_NOT_ALLOWED: the pattern that matched */
    char allow[96];            /* METHOD_NOT_ALLOWED: "GET, POST" */
    int n_params;
    const char *param_names[HTTP_MAX_PATH_PARAMS];
    const char *param_values[HTTP_MAX_PATH_PARAMS];
    char buf[ROUTER_BUF]; /* the strings above point here */
};

/* Finds the route for method and path (no query string) in tables. Parameter
 * names and values are copied into m->buf; a path whose parameters do not fit
 * is ROUTER_NOT_FOUND. */
enum router_result router_match(const struct route_table *tables, size_t ntables,
                                const char *method, const char *path, struct router_match *m);

/* Every route table of ingest (routes.c). */
const struct route_table *routes_all(size_t *ntables);

#endif
