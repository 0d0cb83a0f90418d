"""/api/user-profiles (seed 001): FSResponse envelope on every answer, one
active profile per user (409), soft delete, admins act for any user of their
tenant (403 for others), length limits 255/512/1024, tenant isolation."""
import re
import threading
import uuid

import pytest
import requests

from conftest import BASE, auth
from tenancy import sql, tenant_of, user_in_new_tenant

URL = BASE + "/api/user-profiles"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIELDS = {"fullName": "Nguyễn Văn A", "address": "HCM", "avatar": "https://cdn.example/a.png",
          "coverImage": "https://cdn.example/c.png"}


def envelope(r, status, message, data=None):
    """Asserts r is the FSResponse of status and message; returns its data."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["statusCode", "success", "message", "data"], body
    assert body["statusCode"] == status and body["success"] == (status < 400), body
    assert body["message"] == message, body
    if data is not None:
        assert body["data"] == data, body
    return body["data"]


def not_found(r):
    assert r.status_code == 404 and r.json() == {
        "statusCode": 404, "success": False, "message": "Không tìm thấy hồ sơ", "data": None}


def create(token, **body):
    return requests.post(URL, json=body, headers=auth(token))


@pytest.fixture
def admin_user(admin):
    r = requests.get(BASE + "/auth/me", headers=auth(admin["token"]))
    return admin | {"id": r.json()["id"]}


def test_profile_lifecycle_with_soft_delete(user):
    h = auth(user["token"])
    not_found(requests.get(URL + "/me", headers=h))

    p = envelope(create(user["token"], **FIELDS), 201, "Tạo hồ sơ thành công")
    uuid.UUID(p["id"])
    assert p["userId"] == user["id"]
    assert {k: p[k] for k in FIELDS} == FIELDS
    assert RFC3339.match(p["createdAt"]) and p["createdBy"] == user["email"]
    assert p["lastModifiedAt"] is None and p["lastModifiedBy"] is None

    for path in ["/me", "/" + p["id"], "/by-user/" + user["id"], "/" + p["id"].upper()]:
        assert envelope(requests.get(URL + path, headers=h), 200, "Lấy hồ sơ thành công") == p

    # PUT replaces every field: the ones left out become null
    r = requests.put(URL, json={"id": p["id"], "fullName": "John Updated", "address": "HN"},
                     headers=h)
    q = envelope(r, 200, "Cập nhật hồ sơ thành công")
    assert (q["fullName"], q["address"], q["avatar"], q["coverImage"]) == (
        "John Updated", "HN", None, None)
    assert q["createdAt"] == p["createdAt"] and RFC3339.match(q["lastModifiedAt"])
    assert q["lastModifiedBy"] == user["email"]

    envelope(requests.delete(URL + "/" + p["id"], headers=h), 200, "Xóa hồ sơ thành công",
             data=None)
    assert sql("SELECT is_active::text || ' ' || (deleted_at IS NOT NULL)::text"
               " FROM user_profiles WHERE id = :'a0'", p["id"]) == "false true"
    for r in [requests.get(URL + "/me", headers=h),
              requests.get(URL + "/" + p["id"], headers=h),
              requests.get(URL + "/by-user/" + user["id"], headers=h),
              requests.delete(URL + "/" + p["id"], headers=h),
              requests.put(URL, json={"id": p["id"]}, headers=h)]:
        not_found(r)

    # a soft-deleted profile does not block a new one
    again = envelope(create(user["token"], fullName="Again"), 201, "Tạo hồ sơ thành công")
    assert again["id"] != p["id"]
    assert envelope(requests.get(URL + "/me", headers=h), 200, "Lấy hồ sơ thành công") == again


def test_second_active_profile_is_409(user):
    envelope(create(user["token"]), 201, "Tạo hồ sơ thành công")
    envelope(create(user["token"], fullName="x"), 409, "Hồ sơ đã tồn tại", data=None)
    envelope(create(user["token"], userId=user["id"]), 409, "Hồ sơ đã tồn tại")


def test_concurrent_creates_make_one_profile(user):
    statuses = []

    def post():
        statuses.append(create(user["token"]).status_code)
    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 7
    assert sql("SELECT count(*) FROM user_profiles WHERE user_id = :'a0'", user["id"]) == "1"


def test_only_admins_act_for_another_user(user, admin_user):
    other = requests.post(BASE + "/auth/register", json={
        "email": "other-%s@example.com" % uuid.uuid4().hex[:10], "password": "correct horse",
        "full_name": "Other"}).json()
    envelope(create(user["token"], userId=other["id"]), 403, "Không có quyền", data=None)
    # an admin creates, updates and deletes another user's profile
    p = envelope(create(admin_user["token"], userId=user["id"], fullName="By admin"), 201,
                 "Tạo hồ sơ thành công")
    assert p["userId"] == user["id"] and p["createdBy"] == admin_user["email"]
    envelope(create(admin_user["token"], userId=str(uuid.uuid4())), 404,
             "Người dùng không tồn tại", data=None)
    q = envelope(requests.put(URL, json={"id": p["id"], "fullName": "Fixed"},
                              headers=auth(admin_user["token"])), 200,
                 "Cập nhật hồ sơ thành công")
    assert q["lastModifiedBy"] == admin_user["email"]

    # the owner's profile is readable by others of the tenant, changeable only by owner/admin
    o = envelope(create(admin_user["token"], userId=other["id"]), 201, "Tạo hồ sơ thành công")
    h = auth(user["token"])
    envelope(requests.get(URL + "/" + o["id"], headers=h), 200, "Lấy hồ sơ thành công")
    envelope(requests.put(URL, json={"id": o["id"], "fullName": "Hijack"}, headers=h), 403,
             "Không có quyền", data=None)
    envelope(requests.delete(URL + "/" + o["id"], headers=h), 403, "Không có quyền", data=None)
    envelope(requests.delete(URL + "/" + o["id"], headers=auth(admin_user["token"])), 200,
             "Xóa hồ sơ thành công")
    # the admin's own profile, without userId
    me = envelope(create(admin_user["token"]), 201, "Tạo hồ sơ thành công")
    assert me["userId"] == admin_user["id"]


LIMITS = [("fullName", 255), ("address", 512), ("avatar", 1024), ("coverImage", 1024)]


@pytest.mark.parametrize("field,limit", LIMITS)
def test_length_limits_count_characters(user, field, limit):
    envelope(create(user["token"], **{field: "ễ" * (limit + 1)}), 400, "Dữ liệu không hợp lệ",
             data={field: ["Tối đa %d ký tự" % limit]})
    p = envelope(create(user["token"], **{field: "ễ" * limit}), 201, "Tạo hồ sơ thành công")
    r = requests.put(URL, json={"id": p["id"], field: "x" * (limit + 1)},
                     headers=auth(user["token"]))
    envelope(r, 400, "Dữ liệu không hợp lệ", data={field: ["Tối đa %d ký tự" % limit]})


@pytest.mark.parametrize("method,body,data", [
    ("POST", "[1]", {"body": ["Nội dung phải là một đối tượng JSON"]}),
    ("POST", "{not json", {"body": ["Nội dung phải là một đối tượng JSON"]}),
    ("POST", '{"fullName": 5, "address": ["x"]}',
     {"fullName": ["Phải là chuỗi hoặc null"], "address": ["Phải là chuỗi hoặc null"]}),
    ("POST", '{"userId": "nope"}', {"userId": ["Phải là UUID hợp lệ"]}),
    ("PUT", '{"fullName": "x"}', {"id": ["Trường này là bắt buộc"]}),
    ("PUT", '{"id": 12}', {"id": ["Phải là chuỗi hoặc null"]}),
    ("PUT", '{"id": "12"}', {"id": ["Phải là UUID hợp lệ"]}),
    ("PUT", "", {"body": ["Nội dung phải là một đối tượng JSON"]}),
])
def test_invalid_bodies_are_400(user, method, body, data):
    r = requests.request(method, URL, data=body, headers=auth(user["token"]) | {
        "Content-Type": "application/json"})
    envelope(r, 400, "Dữ liệu không hợp lệ", data=data)


def test_authentication_and_tenant_header_answer_in_the_envelope(user):
    for r in [requests.get(URL + "/me"),
              requests.get(URL + "/me", headers={"Authorization": "Bearer nope"}),
              requests.post(URL, json={})]:
        envelope(r, 401, "Unauthorized", data=None)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    r = requests.get(URL + "/me", headers=auth(user["token"]) | {"X-Tenant-ID": str(uuid.uuid4())})
    envelope(r, 403, "Không có quyền", data=None)
    r = requests.get(URL + "/me", headers=auth(user["token"]) | {
        "X-Tenant-ID": tenant_of(user["token"])})
    not_found(r)


@pytest.mark.parametrize("path", ["/nope", "/by-user/nope", "/" + str(uuid.uuid4()),
                                  "/by-user/" + str(uuid.uuid4())])
def test_unknown_or_malformed_ids_are_404(user, path):
    not_found(requests.get(URL + path, headers=auth(user["token"])))
    if not path.startswith("/by-user"):
        not_found(requests.delete(URL + path, headers=auth(user["token"])))


def test_tenants_do_not_see_each_other(user, admin_user):
    p = envelope(create(user["token"]), 201, "Tạo hồ sơ thành công")
    stranger = user_in_new_tenant()
    boss = user_in_new_tenant("Administrator", stranger["tenant"])
    for who in [stranger, boss]:
        h = auth(who["token"])
        not_found(requests.get(URL + "/" + p["id"], headers=h))
        not_found(requests.get(URL + "/by-user/" + user["id"], headers=h))
        not_found(requests.put(URL, json={"id": p["id"], "fullName": "x"}, headers=h))
        not_found(requests.delete(URL + "/" + p["id"], headers=h))
    # an admin of another tenant cannot create for this tenant's user, nor the reverse
    envelope(create(boss["token"], userId=user["id"]), 404, "Người dùng không tồn tại")
    envelope(create(admin_user["token"], userId=stranger["id"]), 404, "Người dùng không tồn tại")
    # and the stranger's own profile lives in its tenant
    s = envelope(create(stranger["token"]), 201, "Tạo hồ sơ thành công")
    not_found(requests.get(URL + "/" + s["id"], headers=auth(user["token"])))
    assert envelope(requests.get(URL + "/" + s["id"], headers=auth(boss["token"])), 200,
                    "Lấy hồ sơ thành công") == s
    assert sql("SELECT tenant_id FROM user_profiles WHERE id = :'a0'", s["id"]) == stranger["tenant"]
