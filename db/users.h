/* Users: data access for accounts (registration, login, /auth/me, the
 * create-admin command) and the syntax rules of an email address. */
#ifndef SC_USERS_H
#define SC_USERS_H

#include <jansson.h>
#include "crypto.h"
#include "db.h"

/* What login needs to check a password and issue a token. */
struct user_credentials {
    char id[37];
    char tenant_id[37];
    char role[16];
    char password_hash[CRYPTO_PWHASH_LEN];
    int is_active;
};

/* 1 when email (already trimmed) is a plausible mailbox: one @, a dot-atom
 * local part of at most 64 bytes, a domain of at least two labels with a
 * non-numeric top label, at most 254 bytes in all. UTF-8 letters are allowed
 * (internationalised addresses); quoted local parts and IP literals are not. */
int users_email_valid(const char *email);

/* Length of a UTF-8 text in characters (code points), as the API counts
 * the lengths of names and passwords. */
size_t users_text_chars(const char *s);

/* Creates a user in the tenant whose slug is cfg.default_tenant; *out is
 * {id, email, full_name} (caller owns it). SC_ECONFLICT when the email is
 * already registered in any letter case (the users_email_lower_key index
 * decides, so concurrent registrations cannot both win). */
sc_code users_create(db_conn *c, const char *email, const char *full_name,
                     const char *password_hash, const char *role, json_t **out);

/* Finds the user whose email equals email ignoring case. SC_ENOTFOUND when none. */
sc_code users_find_by_email(db_conn *c, const char *email, struct user_credentials *out);

/* The public view of one user of tenant_id: {id, email, full_name, role,
 * tenant_id, created_at}; caller owns *out. SC_ENOTFOUND when no such user. */
sc_code users_get(db_conn *c, const char *tenant_id, const char *id, json_t **out);

/* Sets the role (TOKEN_ROLE_ADMIN or TOKEN_ROLE_CUSTOMER) of user id.
 * SC_ENOTFOUND when no such user, SC_EINVAL for another role. */
sc_code users_set_role(db_conn *c, const char *id, const char *role);

#endif
