/* User profiles data access (see user_profiles.h). */
#include "user_profiles.h"

#include <stdio.h>
#include <stdlib.h>

/* The email of user $n, who is recorded as the author of a change. */
#define ACTOR(n) "(SELECT email FROM users WHERE id = $" #n "::uuid)"

sc_code user_profile_create(db_conn *c, const char *tenant, const char *actor_id,
                            const char *user_id, const struct user_profile_fields *f, json_t **out)
{
    static const char sql[] =
        "INSERT INTO user_profiles AS p (tenant_id, user_id, full_name, address, avatar,"
        " cover_image, created_by)"
        " SELECT u.tenant_id, u.id, $4, $5, $6, $7, a.email FROM users u, users a"
        " WHERE u.id = $3::uuid AND u.tenant_id = $1::uuid"
        " AND a.id = $2::uuid AND a.tenant_id = $1::uuid"
        " RETURNING user_profile_json(p)";
    const char *params[] = {tenant,     actor_id,  user_id,       f->full_name,
                            f->address, f->avatar, f->cover_image};
    return db_query_json(c, out, sql, 7, params);
}

sc_code user_profile_owner(db_conn *c, const char *tenant, const char *id, char user_id[37])
{
    static const char sql[] = "SELECT user_id FROM user_profiles"
                              " WHERE id = $1::uuid AND tenant_id = $2::uuid AND is_active";
    const char *params[] = {id, tenant};
    char *text = NULL;
    sc_code rc = db_query_text(c, &text, sql, 2, params);
    if (rc == SC_OK) {
        snprintf(user_id, 37, "%s", text);
    }
    free(text);
    return rc;
}

sc_code user_profile_update(db_conn *c, const char *tenant, const char *actor_id, const char *id,
                            const struct user_profile_fields *f, json_t **out)
{
    static const char sql[] =
        "UPDATE user_profiles AS p SET full_name = $4, address = $5, avatar = $6,"
        " cover_image = $7, last_modified_at = now(), last_modified_by = " ACTOR(
            3) " WHERE p.id = $1::uuid AND p.tenant_id = $2::uuid AND p.is_active"
               " RETURNING user_profile_json(p)";
    const char *params[] = {id,         tenant,    actor_id,      f->full_name,
                            f->address, f->avatar, f->cover_image};
    return db_query_json(c, out, sql, 7, params);
}

sc_code user_profile_delete(db_conn *c, const char *tenant, const char *actor_id, const char *id)
{
    static const char sql[] =
        "UPDATE user_profiles SET is_active = false, deleted_at = now(),"
        " last_modified_at = now(), last_modified_by = " ACTOR(
            3) " WHERE id = $1::uuid AND tenant_id = $2::uuid AND is_active RETURNING id";
    const char *params[] = {id, tenant, actor_id};
    return db_query_text(c, NULL, sql, 3, params);
}

sc_code user_profile_get(db_conn *c, const char *tenant, const char *id, json_t **out)
{
    static const char sql[] = "SELECT user_profile_json(p) FROM user_profiles p"
                              " WHERE p.id = $1::uuid AND p.tenant_id = $2::uuid AND p.is_active";
    const char *params[] = {id, tenant};
    return db_query_json(c, out, sql, 2, params);
}

sc_code user_profile_of_user(db_conn *c, const char *tenant, const char *user_id, json_t **out)
{
    static const char sql[] =
        "SELECT user_profile_json(p) FROM user_profiles p"
        " WHERE p.user_id = $1::uuid AND p.tenant_id = $2::uuid AND p.is_active";
    const char *params[] = {user_id, tenant};
    return db_query_json(c, out, sql, 2, params);
}
