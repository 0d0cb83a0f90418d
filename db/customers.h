/* Customer profiles and delivery addresses of seed 004: data access for
 * ingest/routes_customer.c. Postgres renders every answer
 * (customer_profile_json, customer_address_json of migration 0010) as JSON
 * text in *out (malloc'd, the caller frees). Calls are scoped to the
 * customer of (tenant, user_id): another customer's address, or one that is
 * soft-deleted, is SC_ENOTFOUND, as is a user without a customer profile
 * (administrators). Ids must be UUIDs (the caller checks).
 *
 * Address writes take `changes`, a JSON object text of the fields to set
 * (already validated: only address fields; is_default a boolean, the others
 * strings or null). They run inside a transaction that first called
 * customer_lock, so one customer's writes queue (one default address). */
#ifndef SC_DB_CUSTOMERS_H
#define SC_DB_CUSTOMERS_H

#include "db.h"

/* The customer profile of user_id. */
sc_code customer_profile(db_conn *c, const char *tenant, const char *user_id, char **out);

/* Sets the phone (NULL clears it), then renders the profile. */
sc_code customer_set_phone(db_conn *c, const char *tenant, const char *user_id, const char *phone,
                           char **out);

/* In the open transaction tx: locks the customer of user_id (FOR UPDATE) and
 * gives its id. */
sc_code customer_lock(db_conn *tx, const char *tenant, const char *user_id, char customer_id[37]);

/* A JSON array of the customer's addresses that are not deleted, oldest first. */
sc_code customer_address_list(db_conn *c, const char *tenant, const char *user_id, char **out);

sc_code customer_address_get(db_conn *c, const char *tenant, const char *user_id, const char *id,
                             char **out);

/* After customer_lock: creates address id (chosen by the caller, so an
 * upload can name it as its subject) of customer_id from changes, which
 * holds every field. */
sc_code customer_address_create(db_conn *tx, const char *customer_id, const char *id,
                                const char *changes, char **out);

/* After customer_lock: sets the fields in changes on address id. */
sc_code customer_address_update(db_conn *tx, const char *customer_id, const char *id,
                                const char *changes, char **out);

/* Soft delete: is_deleted, deleted_at now, no longer the default. */
sc_code customer_address_delete(db_conn *c, const char *tenant, const char *user_id,
                                const char *id);

/* Removes address id for good: one created with an upload that could not be
 * enqueued (no access check). */
sc_code customer_address_remove(db_conn *c, const char *id);

#endif
