/* User profiles of seed 001: data access for ingest/routes_profiles.c.
 * Postgres renders a profile as UserProfileResponseDTO (user_profile_json of
 * migration 0010); *out is the caller's (json_decref). Every call is scoped
 * to one tenant: a profile or user of another tenant is SC_ENOTFOUND, as is a
 * soft-deleted profile. Ids must be UUIDs (the caller checks). */
#ifndef SC_DB_USER_PROFILES_H
#define SC_DB_USER_PROFILES_H

#include <jansson.h>
#include "db.h"

/* The writable fields; NULL is SQL NULL. */
struct user_profile_fields {
    const char *full_name, *address, *avatar, *cover_image;
};

/* Creates the active profile of user_id in tenant, recorded as made by
 * actor_id. SC_ENOTFOUND when either user is not in tenant, SC_ECONFLICT when
 * user_id already has an active profile. */
sc_code user_profile_create(db_conn *c, const char *tenant, const char *actor_id,
                            const char *user_id, const struct user_profile_fields *f, json_t **out);

/* The user of the active profile id, into user_id. */
sc_code user_profile_owner(db_conn *c, const char *tenant, const char *id, char user_id[37]);

/* Replaces every field of the active profile id, recorded as changed by actor_id. */
sc_code user_profile_update(db_conn *c, const char *tenant, const char *actor_id, const char *id,
                            const struct user_profile_fields *f, json_t **out);

/* Soft-deletes the active profile id (is_active false, deleted_at now). */
sc_code user_profile_delete(db_conn *c, const char *tenant, const char *actor_id, const char *id);

/* The active profile id. */
sc_code user_profile_get(db_conn *c, const char *tenant, const char *id, json_t **out);

/* The active profile of user_id. */
sc_code user_profile_of_user(db_conn *c, const char *tenant, const char *user_id, json_t **out);

#endif
