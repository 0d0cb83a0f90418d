/* The customer app of seed 004, in Django REST framework's conventions:
 * /api/customer/profile/ (phone, profile picture), /api/customer/addresses/
 * (the caller's delivery addresses, soft delete, optional proof image), and
 * GET /media/<tenant>/customers/<user_id>/<folder>/<file>, the only way to
 * reach those private objects: the owner, or an admin of the same tenant, is
 * redirected to a short-lived presigned URL; anyone else gets 404.
 *
 * Bodies are JSON, multipart/form-data or urlencoded (DRF's default
 * parsers); pictures go through the media pipeline (media_accept_upload).
 * Errors: 400 {"field": ["message", ...]} for invalid fields (all of them at
 * once), {"detail": "..."} otherwise. Tenancy: X-Tenant-ID, where sent,
 * must be the token's (403), and every query is scoped to the token's tenant
 * and user. Field rules: docs/customer.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "crypto.h"
#include "db/customers.h"
#include "db/users.h"
#include "handlers.h"
#include "media.h"
#include "media_upload.h"
#include "s3.h"
#include "uuid.h"

#define DETAIL_NOT_FOUND "Not found."
#define DETAIL_NO_CREDENTIALS "Authentication credentials were not provided."
#define DETAIL_BAD_CREDENTIALS "Incorrect authentication credentials."
#define DETAIL_FORBIDDEN "You do not have permission to perform this action."
#define DEFAULT_COUNTRY "VN"
#define FILE_NAME_MAX 80

/* ---- DRF-style answers ---- */

static int drf_auth(struct http_request *req, struct http_response *res, struct auth_identity *who)
{
    const char *detail;
    int status = auth_request(req, AUTH_USER, who, &detail);
    if (status == 401) {
        http_reply_error(res, 401,
                         http_header(req, "Authorization") ? DETAIL_BAD_CREDENTIALS
                                                           : DETAIL_NO_CREDENTIALS);
        http_add_header(res, "WWW-Authenticate", "Bearer");
    } else if (status) {
        http_reply_error(res, status, DETAIL_FORBIDDEN);
    }
    return status == 0;
}

static void add_error(json_t *errors, const char *field, const char *msg)
{
    json_t *list = json_object_get(errors, field);
    if (!list) {
        json_object_set_new(errors, field, list = json_array());
    }
    json_array_append_new(list, json_string(msg));
}

/* ---- request bodies ---- */

/* What a body may carry: its text fields (rules below) and one file. */
enum field_type { FIELD_TEXT, FIELD_PHONE, FIELD_COUNTRY, FIELD_BOOL };

struct field_rule {
    const char *name;
    int required;
    size_t max; /* characters */
    enum field_type type;
};

struct body_spec {
    const struct field_rule *rules;
    size_t n;
    const char *file; /* the file field */
};

#define RULES_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct field_rule address_rules[] = {
    {"label", 0, 50, FIELD_TEXT},       {"recipient_name", 1, 255, FIELD_TEXT},
    {"phone", 1, 32, FIELD_PHONE},      {"line1", 1, 255, FIELD_TEXT},
    {"line2", 0, 255, FIELD_TEXT},      {"ward", 0, 100, FIELD_TEXT},
    {"district", 0, 100, FIELD_TEXT},   {"city", 1, 100, FIELD_TEXT},
    {"postal_code", 0, 20, FIELD_TEXT}, {"country", 0, 2, FIELD_COUNTRY},
    {"is_default", 0, 0, FIELD_BOOL},
};
static const struct body_spec address_body = {address_rules, RULES_LEN(address_rules),
                                              "proof_image"};

static const struct field_rule profile_rules[] = {{"phone", 0, 32, FIELD_PHONE}};
static const struct body_spec profile_body = {profile_rules, RULES_LEN(profile_rules),
                                              "profile_picture"};

/* 1 when the request's Content-Type is type (parameters ignored). */
static int content_type_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return ct && !strncasecmp(ct, type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The body as a JSON object of what the client sent (the caller decrefs):
 * a JSON object as is, or a form's fields of spec as strings (the file field
 * as true when sent as text, so it can be refused). NULL after 400 or 415. */
static json_t *read_body(struct http_request *req, struct http_response *res,
                         const struct body_spec *spec)
{
    const char *ct = http_header(req, "Content-Type");
    json_error_t err;
    char detail[256];
    if (content_type_is(ct, "multipart/form-data") ||
        content_type_is(ct, "application/x-www-form-urlencoded")) {
        json_t *doc = json_object();
        for (size_t i = 0; i < spec->n; i++) {
            const char *v = http_form_value(req, spec->rules[i].name);
            if (v) {
                json_object_set_new(doc, spec->rules[i].name, json_string(v));
            }
        }
        if (http_form_value(req, spec->file)) {
            json_object_set_new(doc, spec->file, json_true());
        }
        return doc;
    }
    if (!ct && req->body_len == 0) {
        return json_object();
    }
    if (!content_type_is(ct, "application/json")) {
        snprintf(detail, sizeof(detail), "Unsupported media type \"%.160s\" in request.",
                 ct ? ct : "");
        http_reply_error(res, 415, detail);
        return NULL;
    }
    json_t *doc = json_loadb(req->body ? req->body : "", req->body_len, JSON_DECODE_ANY, &err);
    if (!doc) {
        snprintf(detail, sizeof(detail), "JSON parse error - %s", err.text);
        http_reply_error(res, 400, detail);
    } else if (!json_is_object(doc)) {
        snprintf(detail, sizeof(detail), "Invalid data. Expected a dictionary, but got %s.",
                 json_is_array(doc)    ? "list"
                 : json_is_string(doc) ? "str"
                                       : "value");
        json_decref(doc);
        doc = NULL;
        http_reply_json(res, 400, json_pack("{s:[s]}", "non_field_errors", detail));
    }
    return doc;
}

/* DRF's BooleanField: 1 true, 0 false, -1 not a boolean. */
static int parse_bool(json_t *v)
{
    static const char *const yes[] = {"true", "1", "yes", "y", "on"};
    static const char *const no[] = {"false", "0", "no", "n", "off"};
    if (json_is_boolean(v)) {
        return json_is_true(v);
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        return (int)json_integer_value(v);
    }
    for (size_t i = 0; json_is_string(v) && i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcasecmp(json_string_value(v), yes[i])) {
            return 1;
        }
        if (!strcasecmp(json_string_value(v), no[i])) {
            return 0;
        }
    }
    return -1;
}

/* s without leading and trailing white space (a new string). */
static json_t *trimmed(const char *s)
{
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1])) {
        len--;
    }
    while (len && isspace((unsigned char)*s)) {
        s++, len--;
    }
    return json_stringn(s, len);
}

/* The value of v (present in the body) under rule r, normalised, or NULL
 * with a message in errors. */
static json_t *field_value(const struct field_rule *r, json_t *v, json_t *errors)
{
    char msg[96];
    if (r->type == FIELD_BOOL) {
        int b = json_is_null(v) ? -2 : parse_bool(v);
        if (b < 0) {
            add_error(errors, r->name,
                      b == -2 ? "This field may not be null." : "Must be a valid boolean.");
            return NULL;
        }
        return json_boolean(b);
    }
    if (json_is_null(v)) {
        if (r->required || r->type == FIELD_COUNTRY) {
            add_error(errors, r->name, "This field may not be null.");
            return NULL;
        }
        return json_null();
    }
    if (!json_is_string(v)) {
        add_error(errors, r->name, "Not a valid string.");
        return NULL;
    }
    json_t *t = trimmed(json_string_value(v));
    const char *s = json_string_value(t);
    if (!*s && !r->required && r->type != FIELD_COUNTRY) {
        json_decref(t);
        return json_null(); /* blank optional text is no value */
    }
    if (!*s) {
        add_error(errors, r->name, "This field may not be blank.");
    } else if (r->type == FIELD_COUNTRY &&
               !(isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) && !s[2])) {
        add_error(errors, r->name, "Enter a two-letter country code (ISO 3166-1 alpha-2).");
    } else if (users_text_chars(s) > r->max) {
        snprintf(msg, sizeof(msg), "Ensure this field has no more than %zu characters.", r->max);
        add_error(errors, r->name, msg);
    } else if (r->type == FIELD_PHONE &&
               (strspn(s, "0123456789 +-().") != strlen(s) || !strpbrk(s, "0123456789"))) {
        add_error(errors, r->name, "Enter a valid phone number.");
    } else if (r->type == FIELD_COUNTRY) {
        char code[3] = {(char)toupper((unsigned char)s[0]), (char)toupper((unsigned char)s[1])};
        json_decref(t);
        return json_string(code);
    } else {
        return t;
    }
    json_decref(t);
    return NULL;
}

/* The value a full write (POST, PUT) gives a field the body lacks, or NULL
 * with "required" in errors. */
static json_t *field_default(const struct field_rule *r, json_t *errors)
{
    if (r->required) {
        add_error(errors, r->name, "This field is required.");
        return NULL;
    }
    return r->type == FIELD_BOOL      ? json_false()
           : r->type == FIELD_COUNTRY ? json_string(DEFAULT_COUNTRY)
                                      : json_null();
}

/* The changes doc asks for under spec, normalised (the caller decrefs):
 * every field when full, else those sent. Messages go to errors. */
static json_t *validate(const struct body_spec *spec, json_t *doc, int full, json_t *errors)
{
    json_t *changes = json_object();
    for (size_t i = 0; i < spec->n; i++) {
        const struct field_rule *r = &spec->rules[i];
        json_t *v = json_object_get(doc, r->name);
        json_t *value = v ? field_value(r, v, errors) : full ? field_default(r, errors) : NULL;
        if (value) {
            json_object_set_new(changes, r->name, value);
        }
    }
    return changes;
}

/* The picture of the body (*up) when one was sent and is a valid image;
 * else a message in errors. Not sending one is fine. */
static void check_picture(struct http_request *req, const struct body_spec *spec, json_t *doc,
                          json_t *errors, const struct http_upload **up)
{
    enum filetype type;
    switch (media_upload_check(req, spec->file, FILETYPE_KIND_IMAGE, up, &type)) {
    case UPLOAD_OK:
        return;
    case UPLOAD_MISSING:
        if (json_object_get(doc, spec->file) && !json_is_null(json_object_get(doc, spec->file))) {
            add_error(errors, spec->file,
                      "The submitted data was not a file. Check the encoding type on the form.");
        }
        break;
    case UPLOAD_EMPTY:
        add_error(errors, spec->file, "The submitted file is empty.");
        break;
    case UPLOAD_WRONG_TYPE:
        add_error(errors, spec->file,
                  "Upload a valid image. The file you uploaded was either not an image or a "
                  "corrupted image.");
        break;
    }
    *up = NULL;
}

/* Reads and validates a write's body: the normalised changes (the caller
 * decrefs) and *up, the picture or NULL. NULL after a 400 or 415. */
static json_t *read_write(struct http_request *req, struct http_response *res,
                          const struct body_spec *spec, int full, const struct http_upload **up)
{
    json_t *doc = read_body(req, res, spec);
    if (!doc) {
        return NULL;
    }
    json_t *errors = json_object();
    json_t *changes = validate(spec, doc, full, errors);
    check_picture(req, spec, doc, errors, up);
    json_decref(doc);
    if (json_object_size(errors) == 0) {
        json_decref(errors);
        return changes;
    }
    json_decref(changes);
    http_reply_json(res, 400, errors);
    return NULL;
}

/* ---- profile ---- */

static void get_profile(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char *out = NULL;
    if (!drf_auth(req, res, &who)) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? customer_profile(c, who.tenant_id, who.user_id, &out) : SC_EUNAVAIL;
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
}

/* The phone change of a PATCH; phone is absent from changes when unchanged. */
static sc_code apply_profile(db_conn *c, const char *tenant, const char *user,
                             const json_t *changes, char **out)
{
    json_t *phone = json_object_get(changes, "phone");
    return phone ? customer_set_phone(c, tenant, user, json_string_value(phone), out)
                 : customer_profile(c, tenant, user, out);
}

/* upload_target.record of a profile picture: the phone change in the
 * asset's transaction, and the profile (with the pending upload) as answer. */
static sc_code record_profile(db_conn *tx, const struct media_new *m, const void *arg,
                              char **answer)
{
    return apply_profile(tx, m->tenant_id, m->owner_id, arg, answer);
}

static void patch_profile(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const struct http_upload *up = NULL;
    json_t *changes;
    char customer[37], *out = NULL;
    if (!drf_auth(req, res, &who) || !(changes = read_write(req, res, &profile_body, 0, &up))) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = !c   ? SC_EUNAVAIL
                 : up ? media_customer_of_user(c, who.tenant_id, who.user_id, customer)
                      : apply_profile(c, who.tenant_id, who.user_id, changes, &out);
    db_release(c);
    if (rc != SC_OK || !up) {
        handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
    } else {
        /* The picture becomes the avatar when the media worker is done. */
        const struct upload_target t = {.kind = FILETYPE_KIND_IMAGE,
                                        .field = profile_body.file,
                                        .purpose = "avatar",
                                        .owner = who.user_id,
                                        .subject = customer,
                                        .status = 200,
                                        .record = record_profile,
                                        .arg = changes,
                                        .not_found = DETAIL_NOT_FOUND};
        media_accept_upload(req, res, &who, &t);
    }
    json_decref(changes);
}

/* ---- addresses ---- */

struct address_write {
    const char *tenant, *user, *id;
    const char *changes; /* JSON text */
    int create;
};

/* The write in the open transaction tx; the address in *out. */
static sc_code write_address_tx(db_conn *tx, const struct address_write *w, char **out)
{
    char customer[37];
    sc_code rc = customer_lock(tx, w->tenant, w->user, customer);
    if (rc != SC_OK) {
        return rc;
    }
    return w->create ? customer_address_create(tx, customer, w->id, w->changes, out)
                     : customer_address_update(tx, customer, w->id, w->changes, out);
}

/* upload_target.record of a proof image: the address written in the
 * asset's transaction. */
static sc_code record_address(db_conn *tx, const struct media_new *m, const void *arg,
                              char **answer)
{
    (void)m;
    return write_address_tx(tx, arg, answer);
}

/* upload_target.forget of a new address whose proof could not be enqueued. */
static sc_code forget_address(db_conn *c, const char *id)
{
    return customer_address_remove(c, id);
}

static sc_code write_address(const struct address_write *w, char **out)
{
    db_conn *c = db_acquire();
    if (!c) {
        return SC_EUNAVAIL;
    }
    sc_code rc = db_begin(c);
    if (rc == SC_OK && (rc = write_address_tx(c, w, out)) == SC_OK) {
        rc = db_commit(c);
    }
    if (rc != SC_OK) {
        db_rollback(c);
        free(*out);
        *out = NULL;
    }
    db_release(c);
    return rc;
}

/* POST (id NULL), PUT (full) and PATCH. */
static void save_address(struct http_request *req, struct http_response *res, const char *param,
                         int full)
{
    struct auth_identity who;
    const struct http_upload *up = NULL;
    char new_id[CRYPTO_UUID_LEN], *text = NULL, *out = NULL;
    const char *id = param ? http_param(req, param) : NULL;
    json_t *changes;
    if (!drf_auth(req, res, &who)) {
        return;
    }
    if (param && !uuid_valid(id)) {
        http_reply_error(res, 404, DETAIL_NOT_FOUND);
        return;
    }
    if (!(changes = read_write(req, res, &address_body, full, &up))) {
        return;
    }
    if (!id) {
        crypto_uuid_v4(new_id);
        id = new_id;
    }
    const struct address_write w = {who.tenant_id, who.user_id, id,
                                    text = json_dumps(changes, JSON_COMPACT), !param};
    const int status = param ? 200 : 201;
    if (!text) {
        handler_reply_failure(res, SC_ENOMEM);
    } else if (up) {
        /* The proof becomes the address's when the media worker is done. */
        const struct upload_target t = {.kind = FILETYPE_KIND_IMAGE,
                                        .field = address_body.file,
                                        .purpose = "address_proof",
                                        .owner = who.user_id,
                                        .subject = id,
                                        .status = status,
                                        .record = record_address,
                                        .forget = param ? NULL : forget_address,
                                        .arg = &w,
                                        .not_found = DETAIL_NOT_FOUND};
        media_accept_upload(req, res, &who, &t);
    } else {
        sc_code rc = write_address(&w, &out);
        handler_reply_text(res, rc, status, out, DETAIL_NOT_FOUND);
    }
    free(text);
    json_decref(changes);
}

static void create_address(struct http_request *req, struct http_response *res)
{
    save_address(req, res, NULL, 1);
}

static void replace_address(struct http_request *req, struct http_response *res)
{
    save_address(req, res, "id", 1);
}

static void update_address(struct http_request *req, struct http_response *res)
{
    save_address(req, res, "id", 0);
}

static void list_addresses(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    char *out = NULL;
    if (!drf_auth(req, res, &who)) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? customer_address_list(c, who.tenant_id, who.user_id, &out) : SC_EUNAVAIL;
    db_release(c);
    handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
}

/* GET (or DELETE when delete) of one address. */
static void one_address(struct http_request *req, struct http_response *res, int delete)
{
    struct auth_identity who;
    char *out = NULL;
    const char *id = http_param(req, "id");
    if (!drf_auth(req, res, &who)) {
        return;
    }
    db_conn *c = uuid_valid(id) ? db_acquire() : NULL;
    sc_code rc = !uuid_valid(id) ? SC_ENOTFOUND
                 : !c            ? SC_EUNAVAIL
                 : delete        ? customer_address_delete(c, who.tenant_id, who.user_id, id)
                                 : customer_address_get(c, who.tenant_id, who.user_id, id, &out);
    db_release(c);
    if (rc == SC_OK && delete) {
        http_reply_raw(res, 204, NULL, NULL, 0);
    } else {
        handler_reply_text(res, rc, 200, out, DETAIL_NOT_FOUND);
    }
}

static void get_address(struct http_request *req, struct http_response *res)
{
    one_address(req, res, 0);
}

static void delete_address(struct http_request *req, struct http_response *res)
{
    one_address(req, res, 1);
}

/* ---- private media ---- */

/* 1 when name can be the last segment of a private key ([a-z0-9._-], not
 * starting with a dot). */
static int file_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= FILE_NAME_MAX && name[0] != '.' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Checks who asks, then redirects to a presigned URL of the object. The
 * object itself is not looked up: the presigned URL of a missing key
 * answers 404 from storage, and whoever passed the check may know that. */
static void get_private_media(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *tenant = http_param(req, "tenant"), *user = http_param(req, "user_id");
    const char *folder = http_param(req, "folder"), *file = http_param(req, "file");
    char key[MEDIA_KEY_LEN];
    if (!drf_auth(req, res, &who)) {
        return;
    }
    if (!uuid_valid(tenant) || !uuid_valid(user) || strcasecmp(tenant, who.tenant_id) != 0 ||
        (!who.is_admin && strcasecmp(user, who.user_id) != 0) ||
        (strcmp(folder, "profile") != 0 && strcmp(folder, "address") != 0) || !file_name_ok(file)) {
        http_reply_error(res, 404, DETAIL_NOT_FOUND);
        return;
    }
    snprintf(key, sizeof(key), "media/%s/" MEDIA_PRIVATE_DIR "/%s/%s/%s", tenant, user, folder,
             file);
    for (char *p = key; *p; p++) {
        *p = (char)tolower((unsigned char)*p); /* keys are lower case (lib/media.c) */
    }
    char *url = s3_presign_get(key, (int)cfg.private_media_url_ttl_s);
    if (!url) {
        handler_reply_failure(res, SC_ENOMEM);
        return;
    }
    http_reply_raw(res, 302, NULL, NULL, 0);
    http_add_header(res, "Location", url);
    http_add_header(res, "Cache-Control", "private, no-store");
    free(url);
}

/* clang-format off */
const struct route customer_routes[] = {
    {"GET", "/api/customer/profile/", get_profile, 0, 0, NULL},
    {"PATCH", "/api/customer/profile/", patch_profile, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"GET", "/api/customer/addresses/", list_addresses, 0, 0, NULL},
    {"POST", "/api/customer/addresses/", create_address, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"GET", "/api/customer/addresses/{id}/", get_address, 0, 0, NULL},
    {"PUT", "/api/customer/addresses/{id}/", replace_address, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"PATCH", "/api/customer/addresses/{id}/", update_address, 0, ROUTE_MULTIPART, &cfg.image_max_bytes},
    {"DELETE", "/api/customer/addresses/{id}/", delete_address, 0, 0, NULL},
    {"GET", "/media/{tenant}/customers/{user_id}/{folder}/{file}", get_private_media, 0, 0, NULL},
};
/* clang-format on */
const size_t customer_routes_len = sizeof(customer_routes) / sizeof(customer_routes[0]);
