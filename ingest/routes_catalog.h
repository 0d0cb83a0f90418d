/* What the catalog routes share with the catalog picture routes
 * (routes_catalog_images.c): the tenant a public read sees. */
#ifndef SC_INGEST_ROUTES_CATALOG_H
#define SC_INGEST_ROUTES_CATALOG_H

#include "db/catalog.h"
#include "http.h"

/* The tenant a read sees: the token's when one is sent, else X-Tenant-ID's,
 * else the default tenant. Replies (401/403/404/422) and returns 0 otherwise. */
int catalog_read_tenant(struct http_request *req, struct http_response *res, db_conn *c,
                        char tenant[CATALOG_UUID_LEN]);

#endif
