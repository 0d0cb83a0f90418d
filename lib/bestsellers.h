/* Weekly best-sellers in Redis: sorted sets of product ids scored by units
 * sold in an ISO week (UTC), per tenant, overall and per category, plus an
 * index of the categories with sales. Postgres (product_sales_weekly) is the
 * source of truth; these sets are a cache rebuilt from it by
 * `smartcart rebuild-bestsellers`. Keys share a hash tag per tenant and
 * week, so the one script that writes them also runs on a Redis Cluster:
 *   bestsellers:{<tenant>:<YYYY-Www>}            products
 *   bestsellers:{<tenant>:<YYYY-Www>}:cats       categories (score: their best product)
 *   bestsellers:{<tenant>:<YYYY-Www>}:cat:<id>   products of one category */
#ifndef SC_BESTSELLERS_H
#define SC_BESTSELLERS_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"
#include "error.h"
#include "redis.h"

#define BESTSELLERS_WEEK_LEN 16
#define BESTSELLERS_CATS "cats"

/* The ISO week of now, UTC, as "YYYY-Www" (what Postgres's
 * to_char(.., 'IYYY-"W"IW') writes). */
void bestsellers_week_now(char week[BESTSELLERS_WEEK_LEN]);

/* Sets product's units sold in week to quantity, an absolute total (ZADD
 * GT: a total only grows, so replays and out-of-order writers never lower
 * it), in the week's set and in the set of each of its categories (a JSON
 * array of category id strings; at most 64 are used). */
sc_code bestsellers_record(const char *tenant, const char *week, const char *product,
                           long long quantity, const json_t *categories);

/* The top n members of a set of week, highest first: set NULL for products,
 * BESTSELLERS_CATS for the category index, or a category id. Free *items
 * with redis_scored_free. An absent set gives 0 items. */
sc_code bestsellers_top(const char *tenant, const char *week, const char *set, long n,
                        struct redis_scored **items, size_t *count);

/* Replaces the current week's sets of every tenant with what Postgres
 * holds; *products gets how many products were written. Needs the Redis
 * pool. */
sc_code bestsellers_rebuild(db_conn *c, size_t *products);

#endif
