/* Customer profiles and addresses data access (see customers.h). Every
 * statement takes the public URL base so Postgres renders media URLs. */
#include "customers.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"

/* The customer of user $2 in tenant $1. */
#define CUSTOMER_OF "(SELECT id FROM customers WHERE user_id = $2::uuid AND tenant_id = $1::uuid)"

sc_code customer_profile(db_conn *c, const char *tenant, const char *user_id, char **out)
{
    static const char sql[] = "SELECT customer_profile_json(cu, $3)::text FROM customers cu"
                              " WHERE cu.user_id = $2::uuid AND cu.tenant_id = $1::uuid";
    const char *params[] = {tenant, user_id, cfg.public_url};
    return db_query_text(c, out, sql, 3, params);
}

sc_code customer_set_phone(db_conn *c, const char *tenant, const char *user_id, const char *phone,
                           char **out)
{
    static const char sql[] = "UPDATE customers cu SET phone = $3, updated_at = now()"
                              " WHERE cu.user_id = $2::uuid AND cu.tenant_id = $1::uuid"
                              " RETURNING customer_profile_json(cu, $4)::text";
    const char *params[] = {tenant, user_id, phone, cfg.public_url};
    return db_query_text(c, out, sql, 4, params);
}

sc_code customer_lock(db_conn *tx, const char *tenant, const char *user_id, char customer_id[37])
{
    static const char sql[] =
        "SELECT id FROM customers WHERE user_id = $2::uuid AND tenant_id = $1::uuid FOR UPDATE";
    const char *params[] = {tenant, user_id};
    char *text = NULL;
    sc_code rc = db_query_text(tx, &text, sql, 2, params);
    if (rc == SC_OK) {
        snprintf(customer_id, 37, "%s", text);
    }
    free(text);
    return rc;
}

sc_code customer_address_list(db_conn *c, const char *tenant, const char *user_id, char **out)
{
    static const char sql[] =
        "SELECT coalesce(json_agg(customer_address_json(a, $3) ORDER BY a.created_at, a.id),"
        " '[]')::text FROM customer_addresses a"
        " WHERE a.customer_id = " CUSTOMER_OF " AND NOT a.is_deleted";
    const char *params[] = {tenant, user_id, cfg.public_url};
    return db_query_text(c, out, sql, 3, params);
}

sc_code customer_address_get(db_conn *c, const char *tenant, const char *user_id, const char *id,
                             char **out)
{
    static const char sql[] =
        "SELECT customer_address_json(a, $4)::text FROM customer_addresses a"
        " WHERE a.id = $3::uuid AND a.customer_id = " CUSTOMER_OF " AND NOT a.is_deleted";
    const char *params[] = {tenant, user_id, id, cfg.public_url};
    return db_query_text(c, out, sql, 4, params);
}

/* A new default address takes over from the customer's other addresses. */
static sc_code clear_other_defaults(db_conn *tx, const char *customer_id, const char *id,
                                    const char *changes)
{
    static const char sql[] = "UPDATE customer_addresses SET is_default = false, updated_at = now()"
                              " WHERE customer_id = $1::uuid AND is_default AND id <> $2::uuid"
                              " AND coalesce(($3::jsonb ->> 'is_default')::boolean, false)";
    const char *params[] = {customer_id, id, changes};
    return db_exec(tx, NULL, sql, 3, params);
}

/* The writable columns, in the order both writes list them. */
#define FIELDS                                                                                     \
    "label, recipient_name, phone, line1, line2, ward, district, city, postal_code, country,"      \
    " is_default"
#define R_FIELDS                                                                                   \
    "r.label, r.recipient_name, r.phone, r.line1, r.line2, r.ward, r.district, r.city,"            \
    " r.postal_code, r.country, r.is_default"

sc_code customer_address_create(db_conn *tx, const char *customer_id, const char *id,
                                const char *changes, char **out)
{
    static const char sql[] =
        "INSERT INTO customer_addresses AS a (id, tenant_id, customer_id, " FIELDS ")"
        " SELECT $2::uuid, cu.tenant_id, cu.id, " R_FIELDS
        " FROM customers cu, jsonb_populate_record(NULL::customer_addresses, $3::jsonb) r"
        " WHERE cu.id = $1::uuid RETURNING customer_address_json(a, $4)::text";
    const char *params[] = {customer_id, id, changes, cfg.public_url};
    sc_code rc = clear_other_defaults(tx, customer_id, id, changes);
    return rc == SC_OK ? db_query_text(tx, out, sql, 4, params) : rc;
}

sc_code customer_address_update(db_conn *tx, const char *customer_id, const char *id,
                                const char *changes, char **out)
{
    /* jsonb_populate_record keeps the row's value of every field changes lacks. */
    static const char sql[] =
        "UPDATE customer_addresses AS a SET (" FIELDS ", updated_at) = (SELECT " R_FIELDS
        ", now() FROM jsonb_populate_record(a, $3::jsonb) r)"
        " WHERE a.id = $2::uuid AND a.customer_id = $1::uuid AND NOT a.is_deleted"
        " RETURNING customer_address_json(a, $4)::text";
    const char *params[] = {customer_id, id, changes, cfg.public_url};
    sc_code rc = clear_other_defaults(tx, customer_id, id, changes);
    return rc == SC_OK ? db_query_text(tx, out, sql, 4, params) : rc;
}

sc_code customer_address_delete(db_conn *c, const char *tenant, const char *user_id, const char *id)
{
    static const char sql[] =
        "UPDATE customer_addresses SET is_deleted = true, deleted_at = now(), is_default = false,"
        " updated_at = now() WHERE id = $3::uuid AND customer_id = " CUSTOMER_OF
        " AND NOT is_deleted RETURNING id";
    const char *params[] = {tenant, user_id, id};
    return db_query_text(c, NULL, sql, 3, params);
}

sc_code customer_address_remove(db_conn *c, const char *id)
{
    const char *params[] = {id};
    return db_exec(c, NULL, "DELETE FROM customer_addresses WHERE id = $1::uuid", 1, params);
}
