/* /api/user-profiles (seed 001): one active profile per user, soft delete,
 * administrators (role Administrator) act on any user of their tenant, other
 * users on their own profile only; reads see every active profile of the
 * caller's tenant. Every answer, errors included, is seed 001's FSResponse
 * envelope {statusCode, success, message, data}, statusCode repeating the
 * HTTP status; a 400 carries {field: [messages]} as data. */
#include <stdio.h>
#include <strings.h>

#include "auth.h"
#include "db/user_profiles.h"
#include "db/users.h"
#include "uuid.h"

#define MSG_CREATED "Tạo hồ sơ thành công"
#define MSG_UPDATED "Cập nhật hồ sơ thành công"
#define MSG_DELETED "Xóa hồ sơ thành công"
#define MSG_FOUND "Lấy hồ sơ thành công"
#define MSG_INVALID "Dữ liệu không hợp lệ"
#define MSG_UNAUTHORIZED "Unauthorized"
#define MSG_FORBIDDEN "Không có quyền"
#define MSG_NO_PROFILE "Không tìm thấy hồ sơ"
#define MSG_NO_USER "Người dùng không tồn tại"
#define MSG_EXISTS "Hồ sơ đã tồn tại"
#define MSG_FAILED "Lỗi hệ thống"
#define MSG_UNAVAILABLE "Dịch vụ tạm thời không khả dụng"

#define ERR_REQUIRED "Trường này là bắt buộc"
#define ERR_NOT_STRING "Phải là chuỗi hoặc null"
#define ERR_NOT_UUID "Phải là UUID hợp lệ"
#define ERR_NOT_OBJECT "Nội dung phải là một đối tượng JSON"

/* data is stolen (NULL: null). */
static void fs_reply(struct http_response *res, int status, const char *message, json_t *data)
{
    http_reply_json(res, status,
                    json_pack("{s:i, s:b, s:s, s:o}", "statusCode", status, "success", status < 400,
                              "message", message, "data", data ? data : json_null()));
}

/* The answer for a failed data call; not_found names what is missing. */
static void fs_fail(struct http_response *res, sc_code rc, const char *not_found)
{
    if (rc == SC_ENOTFOUND) {
        fs_reply(res, 404, not_found, NULL);
    } else if (rc == SC_ECONFLICT) {
        fs_reply(res, 409, MSG_EXISTS, NULL);
    } else if (sc_is_transient(rc)) {
        fs_reply(res, 503, MSG_UNAVAILABLE, NULL);
    } else {
        fs_reply(res, 500, MSG_FAILED, NULL);
    }
}

static int fs_auth(struct http_request *req, struct http_response *res, struct auth_identity *who)
{
    const char *detail;
    int status = auth_request(req, AUTH_USER, who, &detail);
    if (status) {
        fs_reply(res, status, status == 401 ? MSG_UNAUTHORIZED : MSG_FORBIDDEN, NULL);
        if (status == 401) {
            http_add_header(res, "WWW-Authenticate", "Bearer");
        }
    }
    return status == 0;
}

/* Adds msg to the messages of field in errors. */
static void add_error(json_t *errors, const char *field, const char *msg)
{
    json_t *list = json_object_get(errors, field);
    if (!list) {
        json_object_set_new(errors, field, list = json_array());
    }
    json_array_append_new(list, json_string(msg));
}

/* The request's JSON object (the caller decrefs), or NULL after a 400. */
static json_t *fs_body(struct http_request *req, struct http_response *res)
{
    json_t *doc = req->body ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        fs_reply(res, 400, MSG_INVALID, json_pack("{s:[s]}", "body", ERR_NOT_OBJECT));
        return NULL;
    }
    return doc;
}

/* Member name of doc as an optional string: *out is NULL when absent or
 * null; otherwise it must be a string of at most max characters (max 0: a
 * UUID), else a message goes to errors. */
static void read_string(json_t *doc, const char *name, size_t max, const char **out, json_t *errors)
{
    json_t *v = json_object_get(doc, name);
    char msg[64];
    *out = json_is_string(v) ? json_string_value(v) : NULL;
    if (v && !json_is_null(v) && !json_is_string(v)) {
        add_error(errors, name, ERR_NOT_STRING);
    } else if (*out && max == 0 && !uuid_valid(*out)) {
        add_error(errors, name, ERR_NOT_UUID);
    } else if (*out && max && users_text_chars(*out) > max) {
        snprintf(msg, sizeof(msg), "Tối đa %zu ký tự", max);
        add_error(errors, name, msg);
    }
}

/* The writable fields of doc, with the DTO's limits. */
static void read_fields(json_t *doc, struct user_profile_fields *f, json_t *errors)
{
    read_string(doc, "fullName", 255, &f->full_name, errors);
    read_string(doc, "address", 512, &f->address, errors);
    read_string(doc, "avatar", 1024, &f->avatar, errors);
    read_string(doc, "coverImage", 1024, &f->cover_image, errors);
}

/* 1 when errors is empty; else answers 400 with them (taken either way). */
static int fs_valid(struct http_response *res, json_t *errors)
{
    if (json_object_size(errors) == 0) {
        json_decref(errors);
        return 1;
    }
    fs_reply(res, 400, MSG_INVALID, errors);
    return 0;
}

static void create_profile(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct user_profile_fields f;
    const char *user_id;
    json_t *doc, *out = NULL;
    if (!fs_auth(req, res, &who) || !(doc = fs_body(req, res))) {
        return;
    }
    json_t *errors = json_object();
    read_string(doc, "userId", 0, &user_id, errors);
    read_fields(doc, &f, errors);
    if (!fs_valid(res, errors)) {
        goto out;
    }
    if (!user_id) {
        user_id = who.user_id;
    } else if (!who.is_admin && strcasecmp(user_id, who.user_id) != 0) {
        fs_reply(res, 403, MSG_FORBIDDEN, NULL);
        goto out;
    }
    db_conn *c = db_acquire();
    sc_code rc =
        c ? user_profile_create(c, who.tenant_id, who.user_id, user_id, &f, &out) : SC_EUNAVAIL;
    db_release(c);
    if (rc == SC_OK) {
        fs_reply(res, 201, MSG_CREATED, out);
    } else {
        fs_fail(res, rc, MSG_NO_USER);
    }
out:
    json_decref(doc);
}

/* Whether who may change the active profile id (its user, or an admin):
 * SC_OK, SC_ENOTFOUND, or SC_EPERMANENT for another user's. */
static sc_code may_change(db_conn *c, const struct auth_identity *who, const char *id)
{
    char owner[37];
    sc_code rc = user_profile_owner(c, who->tenant_id, id, owner);
    if (rc == SC_OK && !who->is_admin && strcasecmp(owner, who->user_id) != 0) {
        rc = SC_EPERMANENT;
    }
    return rc;
}

/* Replies for a failed change: 403 for another user's profile. */
static void change_failed(struct http_response *res, sc_code rc)
{
    if (rc == SC_EPERMANENT) {
        fs_reply(res, 403, MSG_FORBIDDEN, NULL);
    } else {
        fs_fail(res, rc, MSG_NO_PROFILE);
    }
}

static void update_profile(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    struct user_profile_fields f;
    const char *id;
    json_t *doc, *out = NULL;
    if (!fs_auth(req, res, &who) || !(doc = fs_body(req, res))) {
        return;
    }
    json_t *errors = json_object();
    read_string(doc, "id", 0, &id, errors);
    if (!id && !json_object_get(errors, "id")) {
        add_error(errors, "id", ERR_REQUIRED);
    }
    read_fields(doc, &f, errors);
    if (fs_valid(res, errors)) {
        db_conn *c = db_acquire();
        sc_code rc = c ? may_change(c, &who, id) : SC_EUNAVAIL;
        if (rc == SC_OK) {
            rc = user_profile_update(c, who.tenant_id, who.user_id, id, &f, &out);
        }
        db_release(c);
        if (rc == SC_OK) {
            fs_reply(res, 200, MSG_UPDATED, out);
        } else {
            change_failed(res, rc);
        }
    }
    json_decref(doc);
}

/* The path parameter name when it is a UUID; else NULL after a 404 (no
 * profile can have that id). */
static const char *fs_path_id(struct http_request *req, struct http_response *res, const char *name)
{
    const char *id = http_param(req, name);
    if (!uuid_valid(id)) {
        fs_reply(res, 404, MSG_NO_PROFILE, NULL);
        return NULL;
    }
    return id;
}

static void delete_profile(struct http_request *req, struct http_response *res)
{
    struct auth_identity who;
    const char *id;
    if (!fs_auth(req, res, &who) || !(id = fs_path_id(req, res, "id"))) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = c ? may_change(c, &who, id) : SC_EUNAVAIL;
    if (rc == SC_OK) {
        rc = user_profile_delete(c, who.tenant_id, who.user_id, id);
    }
    db_release(c);
    if (rc == SC_OK) {
        fs_reply(res, 200, MSG_DELETED, NULL);
    } else {
        change_failed(res, rc);
    }
}

/* The three reads: by profile id, by user id (by_user), or the caller's own
 * (param NULL). */
static void read_profile(struct http_request *req, struct http_response *res, const char *param,
                         int by_user)
{
    struct auth_identity who;
    const char *id;
    json_t *out = NULL;
    if (!fs_auth(req, res, &who)) {
        return;
    }
    if (!param) {
        id = who.user_id;
    } else if (!(id = fs_path_id(req, res, param))) {
        return;
    }
    db_conn *c = db_acquire();
    sc_code rc = !c        ? SC_EUNAVAIL
                 : by_user ? user_profile_of_user(c, who.tenant_id, id, &out)
                           : user_profile_get(c, who.tenant_id, id, &out);
    db_release(c);
    if (rc == SC_OK) {
        fs_reply(res, 200, MSG_FOUND, out);
    } else {
        fs_fail(res, rc, MSG_NO_PROFILE);
    }
}

static void get_profile(struct http_request *req, struct http_response *res)
{
    read_profile(req, res, "id", 0);
}

static void get_profile_by_user(struct http_request *req, struct http_response *res)
{
    read_profile(req, res, "userId", 1);
}

static void get_my_profile(struct http_request *req, struct http_response *res)
{
    read_profile(req, res, NULL, 1);
}

/* clang-format off */
const struct route profile_routes[] = {
    {"POST", "/api/user-profiles", create_profile, 0, 0, NULL},
    {"PUT", "/api/user-profiles", update_profile, 0, 0, NULL},
    {"GET", "/api/user-profiles/me", get_my_profile, 0, 0, NULL},
    {"GET", "/api/user-profiles/by-user/{userId}", get_profile_by_user, 0, 0, NULL},
    {"GET", "/api/user-profiles/{id}", get_profile, 0, 0, NULL},
    {"DELETE", "/api/user-profiles/{id}", delete_profile, 0, 0, NULL},
};
/* clang-format on */
const size_t profile_routes_len = sizeof(profile_routes) / sizeof(profile_routes[0]);
