/* Catalog routes (seed 003 §5, §6; paths of /work/shared/ENDPOINTS.md
 * "Catalog"): products and search, categories, reviews, favorites,
 * promotions. Handlers validate input the way FastAPI with pydantic 2 does
 * (422 naming the field), then db/catalog.c answers with JSON that Postgres
 * rendered, sent on as is so prices keep their exact decimals. Reads without a
 * token see the tenant of X-Tenant-ID, else the default tenant; with a token,
 * the token's tenant. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "db/catalog.h"
#include "db/users.h"
#include "handlers.h"
#include "uuid.h"
#include "http.h"
#include "log.h"
#include "media.h"
#include "routes_catalog.h"

#define PRICE_MAX 9999999999.99 /* numeric(12, 2) */

static void reply_no_content(struct http_response *res)
{
    http_reply_raw(res, 204, NULL, NULL, 0);
}

/* A plain decimal: optional sign, digits, optional fraction. */
static int is_decimal(const char *s)
{
    if (*s == '-' || *s == '+') {
        s++;
    }
    size_t whole = strspn(s, "0123456789");
    s += whole;
    if (*s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        if (!frac) {
            return 0;
        }
        s += 1 + frac;
    }
    return whole > 0 && *s == '\0';
}

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM); Postgres checks the values. */
static int is_timestamp_tz(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(shape);
    if (strlen(s) < n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9'
                            : s[i] != shape[i] && !(shape[i] == 'T' && s[i] == ' ')) {
            return 0;
        }
    }
    s += n;
    if (*s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        if (!frac) {
            return 0;
        }
        s += 1 + frac;
    }
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        return 1;
    }
    return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 && strspn(s + 1, "0123456789") == 2 &&
           s[3] == ':' && strspn(s + 4, "0123456789") == 2;
}

/* ---- path, query and tenant ---- */

/* Optional query parameter that must be a UUID; *out NULL when absent. */
static int query_uuid(struct http_request *req, struct http_response *res, const char *name,
                      const char **out)
{
    *out = http_query(req, name);
    if (*out && !uuid_valid(*out)) {
        http_reply_field_error(res, "query", name, "Input should be a valid UUID", "uuid_parsing");
        return 0;
    }
    return 1;
}

/* Optional non-negative decimal query parameter; *out NULL when absent. */
static int query_price(struct http_request *req, struct http_response *res, const char *name,
                       const char **out)
{
    *out = http_query(req, name);
    if (!*out) {
        return 1;
    }
    if (!is_decimal(*out) || strlen(*out) > 20) {
        http_reply_field_error(res, "query", name,
                               "Input should be a valid number, unable to parse string as a number",
                               "float_parsing");
        return 0;
    }
    if (**out == '-' && strspn(*out, "-0.") != strlen(*out)) {
        http_reply_field_error(res, "query", name, "Input should be greater than or equal to 0",
                               "greater_than_equal");
        return 0;
    }
    return 1;
}

/* The tenant a public read sees (see the file comment); replies and returns
 * 0 when the token is bad, X-Tenant-ID is malformed or names no tenant.
 * With c NULL nothing is looked up: X-Tenant-ID is taken unchecked (a read
 * of an unknown tenant finds nothing, and the caller then takes the path
 * with c), and -1 says the default tenant needs a query first. */
static int read_tenant(struct http_request *req, struct http_response *res, db_conn *c,
                       char tenant[CATALOG_UUID_LEN])
{
    if (http_header(req, "Authorization")) {
        struct auth_identity id;
        if (!auth_user_or_device(req, res, &id)) {
            return 0;
        }
        snprintf(tenant, CATALOG_UUID_LEN, "%s", id.tenant_id);
        return 1;
    }
    const char *header = http_header(req, "X-Tenant-ID");
    if (header && !uuid_valid(header)) {
        http_reply_field_error(res, "header", "x-tenant-id", "Input should be a valid UUID",
                               "uuid_parsing");
        return 0;
    }
    if (!c) {
        return catalog_tenant_known(header, tenant) == SC_OK ? 1 : -1;
    }
    sc_code rc = catalog_tenant(c, header, tenant);
    if (rc == SC_ENOTFOUND) {
        http_reply_error(res, 404, "Tenant not found");
    } else if (rc != SC_OK) {
        handler_reply_failure(res, rc);
    }
    return rc == SC_OK;
}

/* ---- JSON body fields ---- */

enum field_kind { F_TEXT, F_DECIMAL, F_INT, F_UUID, F_UUIDS, F_BOOL, F_TIME, F_ENUM };

#define F_REQUIRED 0x1 /* absent → 422 missing (on create) */
#define F_NULLABLE 0x2 /* JSON null is a value */
#define F_POSITIVE 0x4 /* decimals: > 0 rather than >= 0 */

/* One field of a body: what it must be, then what was found. value is NULL
 * for absent or null (present tells which); it points into the body or into
 * owned (freed by fields_free). */
struct field {
    const char *name;
    enum field_kind kind;
    unsigned flags;
    long long min, max;         /* text: characters; int: value; decimal: max only */
    const char *const *choices; /* F_ENUM, NULL-terminated */
    int present;
    const char *value;
    char *owned;
};

static void fields_free(struct field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].owned);
        f[i].owned = NULL;
    }
}

static const char *type_message(enum field_kind kind, const char **type)
{
    switch (kind) {
    case F_TEXT:
    case F_ENUM:
        *type = "string_type";
        return "Input should be a valid string";
    case F_DECIMAL:
        *type = "decimal_type";
        return "Decimal input should be an integer, float, string or Decimal object";
    case F_INT:
        *type = "int_type";
        return "Input should be a valid integer";
    case F_UUID:
        *type = "uuid_type";
        return "UUID input should be a string, bytes or UUID object";
    case F_UUIDS:
        *type = "list_type";
        return "Input should be a valid list";
    case F_BOOL:
        *type = "bool_type";
        return "Input should be a valid boolean";
    case F_TIME:
        *type = "datetime_type";
        return "Input should be a valid datetime";
    }
    *type = "value_error";
    return "Invalid value";
}

/* Checks and converts one present, non-null value; replies 422 and returns 0
 * when it is invalid. */
static int field_value(struct field *f, json_t *v, struct http_response *res)
{
    char msg[96];
    const char *type;
    switch (f->kind) {
    case F_TEXT: {
        if (!json_is_string(v)) {
            break;
        }
        long long n = (long long)users_text_chars(json_string_value(v));
        if (n < f->min || n > f->max) {
            int shorter = n < f->min;
            long long bound = shorter ? f->min : f->max;
            snprintf(msg, sizeof(msg), "String should have at %s %lld character%s",
                     shorter ? "least" : "most", bound, bound == 1 ? "" : "s");
            http_reply_field_error(res, "body", f->name, msg,
                                   shorter ? "string_too_short" : "string_too_long");
            return 0;
        }
        f->value = json_string_value(v);
        return 1;
    }
    case F_ENUM:
        if (!json_is_string(v)) {
            break;
        }
        for (const char *const *c = f->choices; *c; c++) {
            if (!strcmp(*c, json_string_value(v))) {
                f->value = *c;
                return 1;
            }
        }
        snprintf(msg, sizeof(msg), "Input should be '%s' or '%s'", f->choices[0], f->choices[1]);
        http_reply_field_error(res, "body", f->name, msg, "enum");
        return 0;
    case F_DECIMAL: {
        if (!json_is_number(v)) {
            break;
        }
        /* The client's decimal came through a double; "%.2f" gives it back
         * exactly when it had at most 2 decimals and fits numeric(12, 2). */
        double d = json_number_value(v);
        char text[48];
        snprintf(text, sizeof(text), "%.2f", d);
        if (!isfinite(d) || fabs(d) > PRICE_MAX) {
            snprintf(msg, sizeof(msg), "Input should be less than or equal to %.2f", PRICE_MAX);
            http_reply_field_error(res, "body", f->name, msg, "less_than_equal");
            return 0;
        }
        if ((f->flags & F_POSITIVE) ? d <= 0 : d < 0) {
            http_reply_field_error(res, "body", f->name,
                                   (f->flags & F_POSITIVE)
                                       ? "Input should be greater than 0"
                                       : "Input should be greater than or equal to 0",
                                   (f->flags & F_POSITIVE) ? "greater_than" : "greater_than_equal");
            return 0;
        }
        if (strtod(text, NULL) != d) {
            http_reply_field_error(res, "body", f->name,
                                   "Decimal input should have no more than 2 decimal places",
                                   "decimal_max_places");
            return 0;
        }
        if (!(f->owned = strdup(text))) {
            handler_reply_failure(res, SC_ENOMEM);
            return 0;
        }
        f->value = f->owned;
        return 1;
    }
    case F_INT: {
        if (!json_is_integer(v)) {
            break;
        }
        long long n = json_integer_value(v);
        if (n < f->min || n > f->max) {
            int low = n < f->min;
            snprintf(msg, sizeof(msg), "Input should be %s than or equal to %lld",
                     low ? "greater" : "less", low ? f->min : f->max);
            http_reply_field_error(res, "body", f->name, msg,
                                   low ? "greater_than_equal" : "less_than_equal");
            return 0;
        }
        if (!(f->owned = malloc(24))) {
            handler_reply_failure(res, SC_ENOMEM);
            return 0;
        }
        snprintf(f->owned, 24, "%lld", n);
        f->value = f->owned;
        return 1;
    }
    case F_UUID:
        if (!json_is_string(v)) {
            break;
        }
        if (!uuid_valid(json_string_value(v))) {
            http_reply_field_error(res, "body", f->name, "Input should be a valid UUID",
                                   "uuid_parsing");
            return 0;
        }
        f->value = json_string_value(v);
        return 1;
    case F_UUIDS: {
        if (!json_is_array(v)) {
            break;
        }
        size_t n = json_array_size(v), i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item) || !uuid_valid(json_string_value(item))) {
                http_reply_field_error(res, "body", f->name,
                                       "Input should be a list of valid UUIDs", "uuid_parsing");
                return 0;
            }
        }
        /* A Postgres array literal: "{" + n × (36 + ",") + "}". */
        char *lit = malloc(n * 37 + 3);
        if (!lit) {
            handler_reply_failure(res, SC_ENOMEM);
            return 0;
        }
        char *p = lit;
        *p++ = '{';
        json_array_foreach(v, i, item)
        {
            p += sprintf(p, "%s%s", i ? "," : "", json_string_value(item));
        }
        strcpy(p, "}");
        f->owned = lit;
        f->value = lit;
        return 1;
    }
    case F_BOOL:
        if (!json_is_boolean(v)) {
            break;
        }
        f->value = json_is_true(v) ? "true" : "false";
        return 1;
    case F_TIME:
        if (!json_is_string(v)) {
            break;
        }
        if (!is_timestamp_tz(json_string_value(v))) {
            http_reply_field_error(res, "body", f->name,
                                   "Input should be a valid datetime with a time zone "
                                   "(YYYY-MM-DDTHH:MM:SSZ)",
                                   "datetime_parsing");
            return 0;
        }
        f->value = json_string_value(v);
        return 1;
    }
    const char *m = type_message(f->kind, &type);
    http_reply_field_error(res, "body", f->name, m, type);
    return 0;
}

/* Fills fields from body. creating: F_REQUIRED applies. Returns 0 after
 * replying 422 (fields already converted are freed by the caller). */
static int fields_parse(json_t *body, struct field *fields, size_t n, int creating,
                        struct http_response *res)
{
    for (size_t i = 0; i < n; i++) {
        struct field *f = &fields[i];
        json_t *v = json_object_get(body, f->name);
        f->present = v != NULL;
        f->value = NULL;
        if (!v) {
            if (creating && (f->flags & F_REQUIRED)) {
                http_reply_field_error(res, "body", f->name, "Field required", "missing");
                return 0;
            }
            continue;
        }
        if (json_is_null(v) && (f->flags & F_NULLABLE)) {
            continue;
        }
        if (!field_value(f, v, res)) {
            return 0;
        }
    }
    return 1;
}

/* ---- products ---- */

enum { P_NAME, P_DESCRIPTION, P_PRICE, P_WEIGHT, P_CATEGORIES, P_COUNT };

static void product_write(struct http_request *req, struct http_response *res, int creating)
{
    struct auth_identity who;
    struct field f[P_COUNT] = {
        [P_NAME] = {.name = "name", .kind = F_TEXT, .flags = F_REQUIRED, .min = 1, .max = 255},
        [P_DESCRIPTION] = {.name = "description",
                           .kind = F_TEXT,
                           .flags = F_NULLABLE,
                           .max = 10000},
        [P_PRICE] = {.name = "price", .kind = F_DECIMAL, .flags = F_REQUIRED},
        [P_WEIGHT] = {.name = "weight_grams", .kind = F_INT, .flags = F_NULLABLE, .max = 100000000},
        [P_CATEGORIES] = {.name = "category_ids", .kind = F_UUIDS},
    };
    const char *id = NULL;
    db_conn *c = NULL;
    char *out = NULL;
    json_t *body = NULL;
    if (!auth_admin(req, res, &who) ||
        (!creating && !(id = handler_path_uuid(req, res, "product_id"))) ||
        !(body = http_json_body(req, res)) || !fields_parse(body, f, P_COUNT, creating, res) ||
        !(c = handler_db(res))) {
        goto out;
    }
    struct catalog_product_input in = {
        .name = f[P_NAME].value,
        .description = f[P_DESCRIPTION].value,
        .set_description = f[P_DESCRIPTION].present,
        .price = f[P_PRICE].value,
        .weight_grams = f[P_WEIGHT].value,
        .set_weight_grams = f[P_WEIGHT].present,
        .category_ids = f[P_CATEGORIES].value,
    };
    if (!creating && f[P_NAME].present && !in.name) {
        http_reply_field_error(res, "body", "name", "Input should be a valid string",
                               "string_type");
        goto out;
    }
    char bad[CATALOG_UUID_LEN] = "";
    sc_code rc = catalog_product_save(c, who.tenant_id, id, &in, &out, bad);
    if (rc == SC_EFOREIGN) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Category %s does not exist", bad[0] ? bad : "");
        http_reply_field_error(res, "body", "category_ids", msg, "value_error");
        goto out;
    }
    handler_reply_text(res, rc, creating ? 201 : 200, out, "Product not found");
    out = NULL;
out:
    if (c) {
        db_release(c);
    }
    fields_free(f, P_COUNT);
    json_decref(body);
}

static void product_create(struct http_request *req, struct http_response *res)
{
    product_write(req, res, 1);
}

static void product_update(struct http_request *req, struct http_response *res)
{
    product_write(req, res, 0);
}

/* A read answered from stored answers on the read pipeline (db_read_async),
 * holding no event loop while Postgres answers; when they are missing (or
 * the read cannot tell: an unknown tenant or product, Postgres failing) the
 * request is handed to its blocking path on the offload pool. */
static void answer_stored(struct http_deferred *d, sc_code rc, const char *json, size_t len,
                          http_handler blocking)
{
    char *body = rc == SC_OK ? malloc(len + 1) : NULL;
    if (!body) {
        http_offload(d, blocking);
        return;
    }
    memcpy(body, json, len);
    body[len] = '\0';
    struct http_response res = {0};
    http_reply_raw(&res, 200, "application/json", body, len);
    http_resume(d, &res);
}

/* The blocking path of a product read: renders a product without a valid
 * stored render and stores it. */
static void product_get_rendering(struct http_request *req, struct http_response *res)
{
    const char *id = handler_path_uuid(req, res, "product_id");
    char tenant[CATALOG_UUID_LEN];
    db_conn *c = id ? handler_db(res) : NULL;
    if (c && read_tenant(req, res, c, tenant)) {
        char *out = NULL;
        sc_code rc = catalog_product_render(c, tenant, id, &out);
        handler_reply_text(res, rc, 200, out, "Product not found");
    }
    db_release(c);
}

/* A product read waiting for its stored render, then for its render. */
struct product_read {
    struct http_deferred *d;
    char tenant[CATALOG_UUID_LEN];
    char id[CATALOG_UUID_LEN];
};

/* The batch's answer. Without one (no such product, or no such tenant,
 * which the batch cannot tell apart; or the batch failed) the read goes on
 * alone on the blocking path, which says which. */
static void product_rendered(void *arg, sc_code rc, const char *json, size_t len)
{
    struct product_read *r = arg;
    struct http_deferred *d = r->d;
    free(r);
    answer_stored(d, rc, json, len, product_get_rendering);
}

static void product_looked_up(void *arg, sc_code rc, const char *json, size_t len)
{
    struct product_read *r = arg;
    if (rc == SC_OK) {
        answer_stored(r->d, rc, json, len, product_get_rendering);
    } else if (catalog_product_render_async(r->tenant, r->id, product_rendered, r) == SC_OK) {
        return;
    } else {
        http_offload(r->d, product_get_rendering);
    }
    free(r);
}

static void product_get(struct http_request *req, struct http_response *res)
{
    const char *id = handler_path_uuid(req, res, "product_id");
    char tenant[CATALOG_UUID_LEN];
    int known = id ? read_tenant(req, res, NULL, tenant) : 0;
    struct product_read *r = known > 0 ? malloc(sizeof(*r)) : NULL;
    if (!r) { /* once per process (the default tenant's look-up), or out of memory */
        if (known) {
            product_get_rendering(req, res);
        }
        return;
    }
    r->d = http_defer(req);
    memcpy(r->tenant, tenant, sizeof(r->tenant));
    /* In Postgres' form (lower case): the batch answers each id by the text
     * of its row, and a path may spell a UUID in either case. */
    for (size_t i = 0; i < sizeof(r->id); i++) {
        r->id[i] = (char)tolower((unsigned char)id[i]);
    }
    if (catalog_product_get_stored(tenant, id, product_looked_up, r) != SC_OK) {
        http_offload(r->d, product_get_rendering);
        free(r);
    }
}

/* The filter of a product list from the query string (skip and limit are
 * filled in); 0 when res was answered with what is wrong. */
static int list_filter(struct http_request *req, struct http_response *res,
                       struct catalog_product_filter *f, char skip[24], char limit[24])
{
    *f = (struct catalog_product_filter){
        .query = http_query(req, "query"), .skip = skip, .limit = limit};
    if (!query_uuid(req, res, "category_id", &f->category_id) ||
        !query_price(req, res, "min_price", &f->min_price) ||
        !query_price(req, res, "max_price", &f->max_price) ||
        !handler_query_page(req, res, skip, limit)) {
        return 0;
    }
    if (f->query && users_text_chars(f->query) > 200) {
        http_reply_field_error(res, "query", "query", "String should have at most 200 characters",
                               "string_too_long");
        return 0;
    }
    if (f->query && strspn(f->query, " \t\r\n") == strlen(f->query)) {
        f->query = NULL; /* blank: no search */
    }
    return 1;
}

/* ---- one search for identical misses ----
 * After a catalog change every popular query misses the result cache at
 * once, and each of the clients asking it would search on its own: dozens
 * of identical searches contending for the pool and the CPU. The first miss
 * of a page (tenant and filter) searches; the ones that come while it does
 * wait, holding no thread, and get a copy of its answer. */

struct flight_waiter {
    struct flight_waiter *next;
    struct http_deferred *d;
};

struct search_flight {
    struct search_flight *next;
    struct http_deferred *leader; /* the request that searches */
    struct flight_waiter *waiters;
    char *key;
};

static pthread_mutex_t flights_lock = PTHREAD_MUTEX_INITIALIZER;
static struct search_flight *flights; /* the searches running: few, a list does */

/* Joins the search of key when one runs (1: d will get its answer), else
 * makes d the leader of one (0: d searches, and its handler lands the
 * flight whatever its answer). Takes key. */
static int flight_join(char *key, struct http_deferred *d)
{
    struct flight_waiter *w = malloc(sizeof(*w));
    struct search_flight *f, *fresh = NULL;
    int joined = 0;
    pthread_mutex_lock(&flights_lock);
    for (f = flights; f && strcmp(f->key, key); f = f->next) {
    }
    if (f && w) {
        *w = (struct flight_waiter){f->waiters, d};
        f->waiters = w;
        w = NULL;
        joined = 1;
    } else if (!f && (fresh = malloc(sizeof(*fresh)))) {
        *fresh = (struct search_flight){.next = flights, .leader = d, .key = key};
        flights = fresh;
        key = NULL;
    }
    pthread_mutex_unlock(&flights_lock);
    free(w);
    free(key);
    return joined;
}

/* Ends the flight that leader leads, if any: its waiters get copies of res. */
static void flight_land(struct http_deferred *leader, const struct http_response *res)
{
    struct search_flight **at, *f;
    pthread_mutex_lock(&flights_lock);
    for (at = &flights; leader && *at && (*at)->leader != leader; at = &(*at)->next) {
    }
    if ((f = leader ? *at : NULL)) {
        *at = f->next;
    }
    pthread_mutex_unlock(&flights_lock);
    for (struct flight_waiter *w = f ? f->waiters : NULL, *next; w; w = next) {
        struct http_response copy = {0};
        next = w->next;
        http_reply_copy(&copy, res);
        http_resume(w->d, &copy);
        free(w);
    }
    if (f) {
        free(f->key);
        free(f);
    }
}

/* The blocking path of a product list: makes the page (from the cached
 * search and stored renders where it can, else searching and rendering)
 * and stores it; the identical searches that waited for it get its answer,
 * whatever it is. */
static void product_list_searching(struct http_request *req, struct http_response *res)
{
    struct catalog_product_filter f;
    char skip[24], limit[24], tenant[CATALOG_UUID_LEN];
    db_conn *c = list_filter(req, res, &f, skip, limit) ? handler_db(res) : NULL;
    if (c && read_tenant(req, res, c, tenant)) {
        char *out = NULL;
        sc_code rc = catalog_product_list(c, tenant, &f, &out);
        handler_reply_text(res, rc, 200, out, "Not found");
    }
    db_release(c);
    flight_land(http_deferred_of(req), res);
}

/* A page read while its stored page is looked up. */
struct page_read {
    struct http_deferred *d;
    char *key; /* catalog_product_list_key */
};

static void page_looked_up(void *arg, sc_code rc, const char *json, size_t len)
{
    struct page_read *r = arg;
    struct http_deferred *d = r->d;
    char *key = r->key;
    free(r);
    if (rc == SC_OK) {
        free(key);
        answer_stored(d, rc, json, len, product_list_searching);
    } else if (!flight_join(key, d) && http_offload(d, product_list_searching) != SC_OK) {
        struct http_response busy = {0}; /* the leader got it: so do its waiters */
        http_reply_error(&busy, 503, HTTP_DETAIL_BUSY);
        flight_land(d, &busy);
        http_response_free(&busy);
    }
}

static void product_list(struct http_request *req, struct http_response *res)
{
    struct catalog_product_filter f;
    char skip[24], limit[24], tenant[CATALOG_UUID_LEN];
    int known = list_filter(req, res, &f, skip, limit) ? read_tenant(req, res, NULL, tenant) : 0;
    struct page_read *r = known > 0 ? malloc(sizeof(*r)) : NULL;
    if (r && !(r->key = catalog_product_list_key(tenant, &f))) {
        free(r);
        r = NULL;
    }
    if (!r) { /* once per process (the default tenant's look-up), or out of memory */
        if (known) {
            product_list_searching(req, res);
        }
        return;
    }
    r->d = http_defer(req);
    if (catalog_product_list_stored(r->key, page_looked_up, r) != SC_OK) {
        http_offload(r->d, product_list_searching);
        free(r->key);
        free(r);
    }
}

static void product_delete(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    db_conn *c;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "product_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    json_t *keys = NULL;
    sc_code rc = catalog_product_delete(c, who.tenant_id, id, &keys);
    db_release(c);
    if (rc != SC_OK) {
        handler_reply_text(res, rc, 0, NULL, "Product not found");
        return;
    }
    /* The rows are gone; an object left behind by a storage failure is
     * logged with its key (by s3_delete_many) for a later sweep rather than
     * failing the delete. */
    if ((rc = media_delete_objects(keys)) != SC_OK) {
        log_json(LOG_WARN, "product image objects not all removed",
                 json_pack("{s:s, s:s}", "product_id", id, "error", sc_strerror(rc)));
    }
    json_decref(keys);
    reply_no_content(res);
}

/* ---- categories ---- */

/* Reads that need only the tenant: list (which 0) or tree (1). */
static void category_read_all(struct http_request *req, struct http_response *res, int tree)
{
    char tenant[CATALOG_UUID_LEN];
    db_conn *c = handler_db(res);
    if (c && read_tenant(req, res, c, tenant)) {
        char *out = NULL;
        sc_code rc =
            tree ? catalog_category_tree(c, tenant, &out) : catalog_category_list(c, tenant, &out);
        handler_reply_text(res, rc, 200, out, "Not found");
    }
    db_release(c);
}

static void category_list(struct http_request *req, struct http_response *res)
{
    category_read_all(req, res, 0);
}

static void category_tree(struct http_request *req, struct http_response *res)
{
    category_read_all(req, res, 1);
}

static void category_get(struct http_request *req, struct http_response *res)
{
    const char *id = handler_path_uuid(req, res, "category_id");
    char tenant[CATALOG_UUID_LEN];
    db_conn *c = id ? handler_db(res) : NULL;
    if (c && read_tenant(req, res, c, tenant)) {
        char *out = NULL;
        sc_code rc = catalog_category_get(c, tenant, id, &out);
        handler_reply_text(res, rc, 200, out, "Category not found");
    }
    db_release(c);
}

static void category_write(struct http_request *req, struct http_response *res, int creating)
{
    struct auth_identity who;
    struct field f[] = {
        {.name = "name", .kind = F_TEXT, .flags = F_REQUIRED, .min = 1, .max = 255},
        {.name = "parent_id", .kind = F_UUID, .flags = F_NULLABLE},
    };
    const char *id = NULL;
    db_conn *c = NULL;
    json_t *body = NULL;
    if (!auth_admin(req, res, &who) ||
        (!creating && !(id = handler_path_uuid(req, res, "category_id"))) ||
        !(body = http_json_body(req, res)) || !fields_parse(body, f, 2, creating, res)) {
        goto out;
    }
    if (!creating && f[0].present && !f[0].value) {
        http_reply_field_error(res, "body", "name", "Input should be a valid string",
                               "string_type");
        goto out;
    }
    if (!(c = handler_db(res))) {
        goto out;
    }
    char *out = NULL;
    sc_code rc =
        catalog_category_save(c, who.tenant_id, id, f[0].value, f[1].present, f[1].value, &out);
    if (rc == SC_EFOREIGN) {
        http_reply_field_error(res, "body", "parent_id", "Parent category does not exist",
                               "value_error");
    } else if (rc == SC_EINVAL && !strcmp(db_error_constraint(c), "categories_no_cycle")) {
        http_reply_field_error(res, "body", "parent_id",
                               "A category cannot be its own ancestor (the parent would make a "
                               "cycle)",
                               "value_error");
    } else if (rc == SC_ECONFLICT) {
        http_reply_error(res, 409, "A category with this name already exists under this parent");
    } else {
        handler_reply_text(res, rc, creating ? 201 : 200, out, "Category not found");
        out = NULL;
    }
    free(out);
out:
    db_release(c);
    fields_free(f, 2);
    json_decref(body);
}

static void category_create(struct http_request *req, struct http_response *res)
{
    category_write(req, res, 1);
}

static void category_update(struct http_request *req, struct http_response *res)
{
    category_write(req, res, 0);
}

static void category_delete(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id, *reason = NULL;
    db_conn *c;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "category_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    sc_code rc = catalog_category_delete(c, who.tenant_id, id, &reason);
    db_release(c);
    if (rc == SC_ECONFLICT) {
        http_reply_error(res, 409, reason);
    } else if (rc == SC_OK) {
        reply_no_content(res);
    } else {
        handler_reply_text(res, rc, 0, NULL, "Category not found");
    }
}

/* ---- reviews ---- */

static void review_create(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct field f[] = {
        {.name = "product_id", .kind = F_UUID, .flags = F_REQUIRED},
        {.name = "rating", .kind = F_INT, .flags = F_REQUIRED, .min = 1, .max = 5},
        {.name = "comment", .kind = F_TEXT, .flags = F_NULLABLE, .max = 2000},
    };
    db_conn *c = NULL;
    json_t *body = NULL;
    if (auth_user(req, res, &who) && (body = http_json_body(req, res)) &&
        fields_parse(body, f, 3, 1, res) && (c = handler_db(res))) {
        char *out = NULL;
        int created = 0;
        sc_code rc = catalog_review_upsert(c, who.tenant_id, who.user_id, f[0].value, f[1].value,
                                           f[2].value, &out, &created);
        handler_reply_text(res, rc, created ? 201 : 200, out, "Product not found");
    }
    db_release(c);
    fields_free(f, 3);
    json_decref(body);
}

static void review_list(struct http_request *req, struct http_response *res)
{
    const char *product = http_query(req, "product_id");
    char skip[24], limit[24], tenant[CATALOG_UUID_LEN];
    if (!product) {
        http_reply_field_error(res, "query", "product_id", "Field required", "missing");
        return;
    }
    if (!query_uuid(req, res, "product_id", &product) ||
        !handler_query_page(req, res, skip, limit)) {
        return;
    }
    db_conn *c = handler_db(res);
    if (c && read_tenant(req, res, c, tenant)) {
        char *out = NULL;
        sc_code rc = catalog_review_list(c, tenant, product, skip, limit, &out);
        handler_reply_text(res, rc, 200, out, "Product not found");
    }
    db_release(c);
}

static void review_delete(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    db_conn *c;
    if (!auth_user(req, res, &who) || !(id = handler_path_uuid(req, res, "review_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    int forbidden = 0;
    sc_code rc =
        catalog_review_delete(c, who.tenant_id, id, who.is_admin ? NULL : who.user_id, &forbidden);
    db_release(c);
    if (rc == SC_OK && forbidden) {
        http_reply_error(res, 403, AUTH_DETAIL_FORBIDDEN);
    } else if (rc == SC_OK) {
        reply_no_content(res);
    } else {
        handler_reply_text(res, rc, 0, NULL, "Review not found");
    }
}

/* ---- favorites ---- */

static void favorite_add(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct field f[] = {{.name = "product_id", .kind = F_UUID, .flags = F_REQUIRED}};
    db_conn *c = NULL;
    json_t *body = NULL;
    if (auth_user(req, res, &who) && (body = http_json_body(req, res)) &&
        fields_parse(body, f, 1, 1, res) && (c = handler_db(res))) {
        char *out = NULL;
        int created = 0;
        sc_code rc =
            catalog_favorite_add(c, who.tenant_id, who.user_id, f[0].value, &out, &created);
        handler_reply_text(res, rc, created ? 201 : 200, out, "Product not found");
    }
    db_release(c);
    fields_free(f, 1);
    json_decref(body);
}

static void favorite_remove(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    db_conn *c;
    if (!auth_user(req, res, &who) || !(id = handler_path_uuid(req, res, "product_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    sc_code rc = catalog_favorite_remove(c, who.user_id, id);
    db_release(c);
    if (rc == SC_OK) {
        reply_no_content(res);
    } else {
        handler_reply_failure(res, rc);
    }
}

static void favorite_list(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    db_conn *c;
    if (!auth_user(req, res, &who) || !(c = handler_db(res))) {
        return;
    }
    char *out = NULL;
    sc_code rc = catalog_favorite_list(c, who.tenant_id, who.user_id, &out);
    db_release(c);
    handler_reply_text(res, rc, 200, out, "Not found");
}

/* ---- promotions ---- */

static const char *const discount_types[] = {"percent", "fixed", NULL};

enum {
    PR_NAME,
    PR_DESCRIPTION,
    PR_TYPE,
    PR_VALUE,
    PR_STARTS,
    PR_ENDS,
    PR_ACTIVE,
    PR_PRODUCTS,
    PR_CATEGORIES,
    PR_COUNT
};

/* Maps a constraint the database enforced to the field it is about. */
static const char *promotion_field_of(const char *constraint, const char **msg)
{
    if (!strcmp(constraint, "promotions_period_check")) {
        *msg = "ends_at must be after starts_at";
        return "ends_at";
    }
    if (!strcmp(constraint, "promotions_value_check")) {
        *msg = "A percent discount must be greater than 0 and at most 100";
        return "value";
    }
    *msg = "Invalid value";
    return NULL;
}

static void promotion_write(struct http_request *req, struct http_response *res, int creating)
{
    struct auth_identity who;
    struct field f[PR_COUNT] = {
        [PR_NAME] = {.name = "name", .kind = F_TEXT, .flags = F_REQUIRED, .min = 1, .max = 255},
        [PR_DESCRIPTION] = {.name = "description",
                            .kind = F_TEXT,
                            .flags = F_NULLABLE,
                            .max = 2000},
        [PR_TYPE] = {.name = "discount_type",
                     .kind = F_ENUM,
                     .flags = F_REQUIRED,
                     .choices = discount_types},
        [PR_VALUE] = {.name = "value", .kind = F_DECIMAL, .flags = F_REQUIRED | F_POSITIVE},
        [PR_STARTS] = {.name = "starts_at", .kind = F_TIME, .flags = F_REQUIRED},
        [PR_ENDS] = {.name = "ends_at", .kind = F_TIME, .flags = F_REQUIRED},
        [PR_ACTIVE] = {.name = "is_active", .kind = F_BOOL},
        [PR_PRODUCTS] = {.name = "product_ids", .kind = F_UUIDS},
        [PR_CATEGORIES] = {.name = "category_ids", .kind = F_UUIDS},
    };
    const char *id = NULL;
    db_conn *c = NULL;
    json_t *body = NULL;
    if (!auth_admin(req, res, &who) ||
        (!creating && !(id = handler_path_uuid(req, res, "promotion_id"))) ||
        !(body = http_json_body(req, res)) || !fields_parse(body, f, PR_COUNT, creating, res)) {
        goto out;
    }
    for (int i = 0; i < PR_COUNT; i++) {
        /* Only description may be null; an explicit null elsewhere is a type error. */
        if (i != PR_DESCRIPTION && f[i].present && !f[i].value) {
            const char *type, *msg = type_message(f[i].kind, &type);
            http_reply_field_error(res, "body", f[i].name, msg, type);
            goto out;
        }
    }
    if (f[PR_TYPE].value && !strcmp(f[PR_TYPE].value, "percent") && f[PR_VALUE].value &&
        strtod(f[PR_VALUE].value, NULL) > 100) {
        http_reply_field_error(res, "body", "value", "A percent discount must be at most 100",
                               "less_than_equal");
        goto out;
    }
    if (!(c = handler_db(res))) {
        goto out;
    }
    struct catalog_promotion_input in = {
        .name = f[PR_NAME].value,
        .description = f[PR_DESCRIPTION].value,
        .set_description = f[PR_DESCRIPTION].present,
        .discount_type = f[PR_TYPE].value,
        .value = f[PR_VALUE].value,
        .starts_at = f[PR_STARTS].value,
        .ends_at = f[PR_ENDS].value,
        .is_active = f[PR_ACTIVE].value,
        .product_ids = f[PR_PRODUCTS].value,
        .category_ids = f[PR_CATEGORIES].value,
    };
    char *out = NULL, bad[CATALOG_UUID_LEN] = "";
    const char *bad_field = NULL, *msg;
    sc_code rc = catalog_promotion_save(c, who.tenant_id, id, &in, &out, &bad_field, bad);
    if (rc == SC_EFOREIGN) {
        char text[96];
        snprintf(text, sizeof(text), "%s %s does not exist",
                 bad_field && !strcmp(bad_field, "product_ids") ? "Product" : "Category", bad);
        http_reply_field_error(res, "body", bad_field ? bad_field : "product_ids", text,
                               "value_error");
    } else if (rc == SC_EINVAL) {
        const char *field = promotion_field_of(db_error_constraint(c), &msg);
        http_reply_field_error(res, "body", field ? field : "starts_at", msg, "value_error");
    } else {
        handler_reply_text(res, rc, creating ? 201 : 200, out, "Promotion not found");
        out = NULL;
    }
    free(out);
out:
    db_release(c);
    fields_free(f, PR_COUNT);
    json_decref(body);
}

static void promotion_create(struct http_request *req, struct http_response *res)
{
    promotion_write(req, res, 1);
}

static void promotion_update(struct http_request *req, struct http_response *res)
{
    promotion_write(req, res, 0);
}

static void promotion_get(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    db_conn *c;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "promotion_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    char *out = NULL;
    sc_code rc = catalog_promotion_get(c, who.tenant_id, id, &out);
    db_release(c);
    handler_reply_text(res, rc, 200, out, "Promotion not found");
}

static void promotion_list(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    db_conn *c;
    if (!auth_admin(req, res, &who) || !(c = handler_db(res))) {
        return;
    }
    char *out = NULL;
    sc_code rc = catalog_promotion_list(c, who.tenant_id, 0, &out);
    db_release(c);
    handler_reply_text(res, rc, 200, out, "Not found");
}

static void promotion_active(struct http_request *req, struct http_response *res)
{
    char tenant[CATALOG_UUID_LEN];
    db_conn *c = handler_db(res);
    if (c && read_tenant(req, res, c, tenant)) {
        char *out = NULL;
        sc_code rc = catalog_promotion_list(c, tenant, 1, &out);
        handler_reply_text(res, rc, 200, out, "Not found");
    }
    db_release(c);
}

static void promotion_delete(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    db_conn *c;
    if (!auth_admin(req, res, &who) || !(id = handler_path_uuid(req, res, "promotion_id")) ||
        !(c = handler_db(res))) {
        return;
    }
    sc_code rc = catalog_promotion_delete(c, who.tenant_id, id);
    db_release(c);
    if (rc == SC_OK) {
        reply_no_content(res);
    } else {
        handler_reply_text(res, rc, 0, NULL, "Promotion not found");
    }
}

int catalog_read_tenant(struct http_request *req, struct http_response *res, db_conn *c,
                        char tenant[CATALOG_UUID_LEN])
{
    return read_tenant(req, res, c, tenant);
}

const struct route catalog_routes[] = {
    {.method = "POST", .pattern = "/products", .handler = product_create},
    {.method = "GET", .pattern = "/products", .handler = product_list},
    {.method = "GET", .pattern = "/products/{product_id}", .handler = product_get},
    {.method = "PATCH", .pattern = "/products/{product_id}", .handler = product_update},
    {.method = "DELETE",
     .pattern = "/products/{product_id}",
     .handler = product_delete,
     .flags = ROUTE_OFFLOAD}, /* deletes its R2 objects */
    {.method = "GET", .pattern = "/categories", .handler = category_list},
    {.method = "GET", .pattern = "/categories/tree", .handler = category_tree},
    {.method = "POST", .pattern = "/categories", .handler = category_create},
    {.method = "GET", .pattern = "/categories/{category_id}", .handler = category_get},
    {.method = "PATCH", .pattern = "/categories/{category_id}", .handler = category_update},
    {.method = "DELETE", .pattern = "/categories/{category_id}", .handler = category_delete},
    {.method = "POST", .pattern = "/reviews", .handler = review_create},
    {.method = "GET", .pattern = "/reviews", .handler = review_list},
    {.method = "DELETE", .pattern = "/reviews/{review_id}", .handler = review_delete},
    {.method = "POST", .pattern = "/favorites", .handler = favorite_add},
    {.method = "GET", .pattern = "/favorites", .handler = favorite_list},
    {.method = "DELETE", .pattern = "/favorites/{product_id}", .handler = favorite_remove},
    {.method = "GET", .pattern = "/promotions/active", .handler = promotion_active},
    {.method = "GET", .pattern = "/promotions", .handler = promotion_list},
    {.method = "POST", .pattern = "/promotions", .handler = promotion_create},
    {.method = "GET", .pattern = "/promotions/{promotion_id}", .handler = promotion_get},
    {.method = "PATCH", .pattern = "/promotions/{promotion_id}", .handler = promotion_update},
    {.method = "DELETE", .pattern = "/promotions/{promotion_id}", .handler = promotion_delete},
};
const size_t catalog_routes_len = sizeof(catalog_routes) / sizeof(catalog_routes[0]);
