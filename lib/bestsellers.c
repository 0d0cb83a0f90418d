/* Weekly best-seller sets in Redis (see bestsellers.h). */
#include "bestsellers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TTL_S (5 * 7 * 24 * 3600) /* a week's sets outlive it by a month */
#define MAX_CATEGORIES 64

/* KEYS: products, cats, cat:<id>...; ARGV: product, quantity, ttl, <id>... */
static const char record_script[] = "redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1]) "
                                    "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
                                    "for i = 3, #KEYS do "
                                    "  redis.call('ZADD', KEYS[i], 'GT', ARGV[2], ARGV[1]) "
                                    "  redis.call('EXPIRE', KEYS[i], ARGV[3]) "
                                    "  redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[i + 1]) "
                                    "end "
                                    "redis.call('EXPIRE', KEYS[2], ARGV[3]) "
                                    "return 1";

void bestsellers_week_now(char week[BESTSELLERS_WEEK_LEN])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(week, BESTSELLERS_WEEK_LEN, "%G-W%V", &tm);
}

/* The key of set (NULL, BESTSELLERS_CATS or a category id) of week; caller frees. */
static char *key_of(const char *tenant, const char *week, const char *set)
{
    char *key = NULL;
    int n = !set ? asprintf(&key, "bestsellers:{%s:%s}", tenant, week)
            : !strcmp(set, BESTSELLERS_CATS)
                ? asprintf(&key, "bestsellers:{%s:%s}:%s", tenant, week, set)
                : asprintf(&key, "bestsellers:{%s:%s}:cat:%s", tenant, week, set);
    return n < 0 ? NULL : key;
}

sc_code bestsellers_record(const char *tenant, const char *week, const char *product,
                           long long quantity, const json_t *categories)
{
    size_t ncat = json_array_size(categories);
    if (ncat > MAX_CATEGORIES) {
        ncat = MAX_CATEGORIES;
    }
    /* keys: 2 + ncat; args: 3 + ncat */
    const char *argv[2 * MAX_CATEGORIES + 5];
    char *owned[MAX_CATEGORIES + 2] = {0};
    char qty[24], ttl[24];
    char *result = NULL;
    sc_code rc = SC_ENOMEM;
    snprintf(qty, sizeof(qty), "%lld", quantity);
    snprintf(ttl, sizeof(ttl), "%d", TTL_S);
    size_t k = 0;
    if (!(owned[0] = key_of(tenant, week, NULL)) ||
        !(owned[1] = key_of(tenant, week, BESTSELLERS_CATS))) {
        goto out;
    }
    argv[k++] = owned[0];
    argv[k++] = owned[1];
    for (size_t i = 0; i < ncat; i++) {
        const char *cat = json_string_value(json_array_get(categories, i));
        if (!cat || !(owned[2 + i] = key_of(tenant, week, cat))) {
            rc = cat ? SC_ENOMEM : SC_EINVAL;
            goto out;
        }
        argv[k++] = owned[2 + i];
    }
    argv[k++] = product;
    argv[k++] = qty;
    argv[k++] = ttl;
    for (size_t i = 0; i < ncat; i++) {
        argv[k++] = json_string_value(json_array_get(categories, i));
    }
    rc = redis_eval(record_script, (int)(2 + ncat), argv, (int)k, &result);
out:
    free(result);
    for (size_t i = 0; i < ncat + 2; i++) {
        free(owned[i]);
    }
    return rc;
}

sc_code bestsellers_top(const char *tenant, const char *week, const char *set, long n,
                        struct redis_scored **items, size_t *count)
{
    *items = NULL;
    *count = 0;
    char *key = key_of(tenant, week, set);
    sc_code rc = key ? redis_zrevrange_withscores(key, 0, n - 1, items, count) : SC_ENOMEM;
    free(key);
    return rc;
}

/* Deletes the current week's sets of every tenant's categories and products. */
static sc_code clear_week(db_conn *c, const char *week)
{
    db_rows *rows = NULL;
    sc_code rc = db_exec(c, &rows,
                         "SELECT t.id, NULL::uuid FROM tenants t "
                         "UNION ALL SELECT tenant_id, id FROM categories",
                         0, NULL);
    for (int i = 0; rc == SC_OK && i < db_nrows(rows); i++) {
        const char *cat = db_value(rows, i, 1);
        for (int pass = 0; pass < (cat ? 1 : 2) && rc == SC_OK; pass++) {
            char *key = key_of(db_value(rows, i, 0), week,
                               cat    ? cat
                               : pass ? BESTSELLERS_CATS
                                      : NULL);
            rc = key ? redis_del(key) : SC_ENOMEM;
            free(key);
        }
    }
    db_rows_free(rows);
    return rc;
}

sc_code bestsellers_rebuild(db_conn *c, size_t *products)
{
    char week[BESTSELLERS_WEEK_LEN];
    bestsellers_week_now(week);
    *products = 0;
    json_t *rows = NULL, *row;
    const char *p[] = {week};
    size_t i;
    sc_code rc = clear_week(c, week);
    if (rc == SC_OK) {
        rc = db_query_json(
            c, &rows,
            "SELECT coalesce(json_agg(json_build_object('tenant', w.tenant_id, 'product', "
            "w.product_id, 'quantity', w.quantity, 'categories', coalesce((SELECT "
            "json_agg(pc.category_id) FROM product_categories pc WHERE pc.product_id = "
            "w.product_id), '[]'))), '[]') FROM product_sales_weekly w "
            "WHERE to_char(w.iso_year, 'FM0000') || '-W' || to_char(w.iso_week, 'FM00') = $1",
            1, p);
    }
    json_array_foreach(rows, i, row)
    {
        if (rc != SC_OK) {
            break;
        }
        rc = bestsellers_record(json_string_value(json_object_get(row, "tenant")), week,
                                json_string_value(json_object_get(row, "product")),
                                json_integer_value(json_object_get(row, "quantity")),
                                json_object_get(row, "categories"));
        *products += rc == SC_OK;
    }
    json_decref(rows);
    return rc;
}
