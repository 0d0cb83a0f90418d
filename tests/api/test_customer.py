"""The customer app of seed 004: /api/customer/profile/, /api/customer/addresses/
and the private media route, in Django REST framework's shapes; tenant
isolation through the token and X-Tenant-ID; soft delete; pictures through
the media pipeline, reachable only by their owner (or an admin of the tenant)."""
import re
import uuid

import pytest
import requests

from conftest import BASE, auth, login, register
from tenancy import sql, tenant_of, user_in_new_tenant
from test_media import png, wait_done

PROFILE = BASE + "/api/customer/profile/"
ADDRESSES = BASE + "/api/customer/addresses/"
NOT_FOUND = {"detail": "Not found."}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HOME = {"label": "Home", "recipient_name": "Nguyễn Văn A", "phone": "+84 912 345 678",
        "line1": "12 Lê Lợi", "ward": "Bến Nghé", "district": "Quận 1", "city": "Hồ Chí Minh"}
NOT_AN_IMAGE = ("Upload a valid image. The file you uploaded was either not an image or a "
                "corrupted image.")


def address_url(a):
    return ADDRESSES + a["id"] + "/"


def new_address(token, **fields):
    r = requests.post(ADDRESSES, json=HOME | fields, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()


def private_get(token, url, **headers):
    """GET of a private media URL (relative to ingest), without following."""
    assert url.startswith("/media/"), url
    h = (auth(token) if token else {}) | headers
    return requests.get(BASE + url, headers=h, allow_redirects=False)


def fetch_private(token, url):
    """The owner's way to the bytes: 302 to a presigned URL, then the object."""
    r = private_get(token, url)
    assert r.status_code == 302, r.text
    assert "X-Amz-Signature=" in r.headers["Location"]
    assert r.headers["Cache-Control"] == "private, no-store"
    obj = requests.get(r.headers["Location"], timeout=30)
    assert obj.status_code == 200
    return obj.content


@pytest.fixture
def admin_user(admin):
    r = requests.get(BASE + "/auth/me", headers=auth(admin["token"]))
    return admin | {"id": r.json()["id"]}


# ---- profile ----

def test_profile_get_and_patch_phone(user):
    h = auth(user["token"])
    p = requests.get(PROFILE, headers=h).json()
    assert p["user_id"] == user["id"] and p["email"] == user["email"]
    assert p["phone"] is None and p["profile_picture"] is None
    assert p["profile_picture_upload"] is None and RFC3339.match(p["updated_at"])
    # JSON, multipart and urlencoded bodies all work (DRF's parsers)
    r = requests.patch(PROFILE, json={"phone": " 0912 345 678 "}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "0912 345 678", r.text
    r = requests.patch(PROFILE, files={"phone": (None, "+84 1")}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "+84 1", r.text
    r = requests.patch(PROFILE, data={"phone": "0123"}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "0123", r.text
    assert requests.get(PROFILE, headers=h).json()["phone"] == "0123"
    # an empty PATCH changes nothing; null clears the phone
    assert requests.patch(PROFILE, json={}, headers=h).json()["phone"] == "0123"
    assert requests.patch(PROFILE, json={"phone": None}, headers=h).json()["phone"] is None


@pytest.mark.parametrize("body,errors", [
    ({"phone": "1" * 33}, {"phone": ["Ensure this field has no more than 32 characters."]}),
    ({"phone": "call me"}, {"phone": ["Enter a valid phone number."]}),
    ({"phone": "+-"}, {"phone": ["Enter a valid phone number."]}),
    ({"phone": 5}, {"phone": ["Not a valid string."]}),
    ({"profile_picture": "https://x/y.png"},
     {"profile_picture": ["The submitted data was not a file. Check the encoding type on the form."]}),
])
def test_profile_patch_validation(user, body, errors):
    r = requests.patch(PROFILE, json=body, headers=auth(user["token"]))
    assert r.status_code == 400 and r.json() == errors


def test_profile_picture_is_private(user, admin_user):
    h = auth(user["token"])
    bad = requests.patch(PROFILE, files={"profile_picture": ("x.png", b"not an image")}, headers=h)
    assert bad.status_code == 400 and bad.json() == {"profile_picture": [NOT_AN_IMAGE]}
    empty = requests.patch(PROFILE, files={"profile_picture": ("x.png", b"")}, headers=h)
    assert empty.status_code == 400
    assert empty.json() == {"profile_picture": ["The submitted file is empty."]}

    src = png(48, 32)
    r = requests.patch(PROFILE, files={"profile_picture": ("me.png", src), "phone": (None, "0987")},
                       headers=h)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["phone"] == "0987" and p["profile_picture"] is None
    upload = p["profile_picture_upload"]
    assert upload["status"] == "pending" and upload["status_url"].endswith("/status")
    assert wait_done(user["token"], upload["id"])["status"] == "ready"

    p = requests.get(PROFILE, headers=h).json()
    tenant = tenant_of(user["token"])
    assert p["profile_picture"] == "/media/%s/customers/%s/profile/%s.png" % (
        tenant, user["id"], upload["id"])
    assert p["profile_picture_upload"] is None
    assert fetch_private(user["token"], p["profile_picture"])[:8] == b"\x89PNG\r\n\x1a\n"
    # the media API shows the same private URL, and its variants are private too
    m = requests.get(BASE + "/api/v1/media/" + upload["id"], headers=h).json()
    assert m["url"] == p["profile_picture"]
    assert all(v["url"].startswith("/media/%s/customers/" % tenant) for v in m["variants"].values())
    assert fetch_private(user["token"], m["variants"]["thumb"]["url"])[:4] == b"RIFF"
    # an admin of the tenant may look; another customer, another tenant or no token may not
    assert private_get(admin_user["token"], p["profile_picture"]).status_code == 302
    other = register()
    other_token = login(other["email"], other["password"])
    assert private_get(other_token, p["profile_picture"]).json() == NOT_FOUND
    assert private_get(other_token, p["profile_picture"]).status_code == 404
    stranger = user_in_new_tenant("Administrator")
    assert private_get(stranger["token"], p["profile_picture"]).status_code == 404
    r = private_get(None, p["profile_picture"])
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    r = private_get(user["token"], p["profile_picture"], **{"X-Tenant-ID": stranger["tenant"]})
    assert r.status_code == 403
    assert r.json() == {"detail": "You do not have permission to perform this action."}


@pytest.mark.parametrize("tail", ["profile/..", "profile/.hidden", "profile/A.PNG", "other/x.png",
                                  "profile/x%2Fy.png"])
def test_private_media_refuses_odd_paths(user, tail):
    path = "/media/%s/customers/%s/%s" % (tenant_of(user["token"]), user["id"], tail)
    r = requests.get(BASE + path, headers=auth(user["token"]), allow_redirects=False)
    assert r.status_code == 404


def test_profile_of_an_admin_is_404(admin):
    r = requests.get(PROFILE, headers=auth(admin["token"]))
    assert r.status_code == 404 and r.json() == NOT_FOUND
    r = requests.patch(PROFILE, json={"phone": "1"}, headers=auth(admin["token"]))
    assert r.status_code == 404 and r.json() == NOT_FOUND


# ---- addresses ----

def test_address_crud_and_soft_delete(user):
    h = auth(user["token"])
    assert requests.get(ADDRESSES, headers=h).json() == []
    a = new_address(user["token"])
    uuid.UUID(a["id"])
    assert {k: a[k] for k in HOME} == HOME
    assert (a["line2"], a["postal_code"], a["country"], a["is_default"], a["proof_image"],
            a["proof_image_upload"]) == (None, None, "VN", False, None, None)
    assert RFC3339.match(a["created_at"])
    assert requests.get(address_url(a), headers=h).json() == a
    assert requests.get(ADDRESSES, headers=h).json() == [a]

    # PUT replaces: optional fields left out are cleared, defaults come back
    r = requests.put(address_url(a), json={"recipient_name": "B", "phone": "0901", "line1": "1 A",
                                            "city": "Hà Nội", "country": "vn"}, headers=h)
    assert r.status_code == 200, r.text
    b = r.json()
    assert (b["recipient_name"], b["label"], b["ward"], b["country"]) == ("B", None, None, "VN")
    # PATCH changes only what it names, also from a multipart form
    r = requests.patch(address_url(a), files={"ward": (None, "Phường 2"),
                                              "is_default": (None, "true")}, headers=h)
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["ward"], c["is_default"], c["recipient_name"], c["city"]) == (
        "Phường 2", True, "B", "Hà Nội")

    r = requests.delete(address_url(a), headers=h)
    assert r.status_code == 204 and r.content == b""
    assert sql("SELECT is_deleted::text || ' ' || (deleted_at IS NOT NULL)::text || ' '"
               " || is_default::text FROM customer_addresses WHERE id = :'a0'", a["id"]) == \
        "true true false"
    assert requests.get(ADDRESSES, headers=h).json() == []
    for method in ["GET", "DELETE", "PUT", "PATCH"]:
        r = requests.request(method, address_url(a), json=HOME, headers=h)
        assert r.status_code == 404 and r.json() == NOT_FOUND, method


def test_one_default_address(user):
    h = auth(user["token"])
    first = new_address(user["token"], is_default=True)
    second = new_address(user["token"], label="Work", is_default="yes")
    assert second["is_default"] is True
    assert requests.get(address_url(first), headers=h).json()["is_default"] is False
    r = requests.patch(address_url(first), json={"is_default": True}, headers=h)
    assert r.json()["is_default"] is True
    listed = {a["id"]: a["is_default"] for a in requests.get(ADDRESSES, headers=h).json()}
    assert listed == {first["id"]: True, second["id"]: False}


REQUIRED = "This field is required."


@pytest.mark.parametrize("method,body,errors", [
    ("POST", {}, {"recipient_name": [REQUIRED], "phone": [REQUIRED], "line1": [REQUIRED],
                  "city": [REQUIRED]}),
    ("POST", HOME | {"recipient_name": "   "},
     {"recipient_name": ["This field may not be blank."]}),
    ("POST", HOME | {"city": None}, {"city": ["This field may not be null."]}),
    ("POST", HOME | {"label": "x" * 51, "postal_code": "1" * 21},
     {"label": ["Ensure this field has no more than 50 characters."],
      "postal_code": ["Ensure this field has no more than 20 characters."]}),
    ("POST", HOME | {"line1": "ễ" * 256}, {"line1": ["Ensure this field has no more than 255 characters."]}),
    ("POST", HOME | {"is_default": "maybe"}, {"is_default": ["Must be a valid boolean."]}),
    ("POST", HOME | {"country": "Vietnam"},
     {"country": ["Enter a two-letter country code (ISO 3166-1 alpha-2)."]}),
    ("POST", HOME | {"phone": "abc"}, {"phone": ["Enter a valid phone number."]}),
    ("POST", HOME | {"proof_image": "x"},
     {"proof_image": ["The submitted data was not a file. Check the encoding type on the form."]}),
    ("PUT", {"city": "Huế"}, {"recipient_name": [REQUIRED], "phone": [REQUIRED],
                              "line1": [REQUIRED]}),
    ("PATCH", {"phone": ""}, {"phone": ["This field may not be blank."]}),
    ("PATCH", {"ward": ["x"]}, {"ward": ["Not a valid string."]}),
])
def test_address_validation(user, method, body, errors):
    a = new_address(user["token"])
    url = ADDRESSES if method == "POST" else address_url(a)
    r = requests.request(method, url, json=body, headers=auth(user["token"]))
    assert r.status_code == 400 and r.json() == errors
    assert requests.get(address_url(a), headers=auth(user["token"])).json() == a


@pytest.mark.parametrize("body,ctype,status,answer", [
    ("{nope", "application/json", 400, None),
    ("[1, 2]", "application/json", 400,
     {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    ("hello", "text/plain", 415, {"detail": "Unsupported media type \"text/plain\" in request."}),
])
def test_address_bodies_that_are_not_objects(user, body, ctype, status, answer):
    r = requests.post(ADDRESSES, data=body,
                      headers=auth(user["token"]) | {"Content-Type": ctype})
    assert r.status_code == status, r.text
    if answer:
        assert r.json() == answer
    else:
        assert r.json()["detail"].startswith("JSON parse error - ")


def test_address_proof_image_is_private_and_replaced(user):
    h = auth(user["token"])
    bad = requests.post(ADDRESSES, data=HOME, files={"proof_image": ("p.png", b"GIF? no")},
                        headers=h)
    assert bad.status_code == 400 and bad.json() == {"proof_image": [NOT_AN_IMAGE]}
    assert requests.get(ADDRESSES, headers=h).json() == []

    r = requests.post(ADDRESSES, data=HOME, files={"proof_image": ("p.png", png(40, 40))},
                      headers=h)
    assert r.status_code == 201, r.text
    a = r.json()
    assert {k: a[k] for k in HOME} == HOME and a["proof_image"] is None
    first = a["proof_image_upload"]
    assert first["status"] == "pending"
    assert wait_done(user["token"], first["id"])["status"] == "ready"
    a = requests.get(address_url(a), headers=h).json()
    assert a["proof_image"] == "/media/%s/customers/%s/address/%s.png" % (
        tenant_of(user["token"]), user["id"], first["id"])
    assert fetch_private(user["token"], a["proof_image"])[:4] == b"\x89PNG"

    # a new proof replaces the old one once processed; the old asset is gone
    r = requests.patch(address_url(a), files={"proof_image": ("q.png", png(30, 20)),
                                              "label": (None, "Office")}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["label"] == "Office" and r.json()["proof_image"] == a["proof_image"]
    second = r.json()["proof_image_upload"]
    assert wait_done(user["token"], second["id"])["status"] == "ready"
    b = requests.get(address_url(a), headers=h).json()
    assert second["id"] in b["proof_image"] and b["proof_image_upload"] is None
    assert sql("SELECT count(*) FROM media_assets WHERE id = :'a0'", first["id"]) == "0"

    # someone else's address and its proof are invisible
    other = user_in_new_tenant(tenant=tenant_of(user["token"]))
    for method in ["GET", "PUT", "PATCH", "DELETE"]:
        r = requests.request(method, address_url(a), json=HOME, headers=auth(other["token"]))
        assert r.status_code == 404 and r.json() == NOT_FOUND, method
    r = requests.patch(address_url(a), files={"proof_image": ("q.png", png(8, 8))},
                       headers=auth(other["token"]))
    assert r.status_code == 404 and r.json() == NOT_FOUND
    assert private_get(other["token"], b["proof_image"]).status_code == 404
    assert requests.get(address_url(a), headers=h).json() == b


def test_addresses_are_tenant_scoped(user):
    h = auth(user["token"])
    a = new_address(user["token"])
    stranger = user_in_new_tenant()
    assert requests.get(ADDRESSES, headers=auth(stranger["token"])).json() == []
    r = requests.get(address_url(a), headers=auth(stranger["token"]))
    assert r.status_code == 404 and r.json() == NOT_FOUND
    # X-Tenant-ID: the token's own tenant is fine, another one is 403
    own = requests.get(ADDRESSES, headers=h | {"X-Tenant-ID": tenant_of(user["token"])})
    assert own.status_code == 200 and own.json() == [a]
    for method, url in [("GET", ADDRESSES), ("POST", ADDRESSES), ("GET", address_url(a)),
                        ("DELETE", address_url(a)), ("GET", PROFILE)]:
        r = requests.request(method, url, json=HOME, headers=h | {"X-Tenant-ID": stranger["tenant"]})
        assert r.status_code == 403, (method, url)
        assert r.json() == {"detail": "You do not have permission to perform this action."}
    assert requests.get(ADDRESSES, headers=h).json() == [a]
    # the stranger's own data lives in its tenant
    s = new_address(stranger["token"])
    assert sql("SELECT tenant_id FROM customer_addresses WHERE id = :'a0'", s["id"]) == \
        stranger["tenant"]
    assert requests.get(address_url(s), headers=h).status_code == 404


@pytest.mark.parametrize("method,url", [("GET", PROFILE), ("PATCH", PROFILE), ("GET", ADDRESSES),
                                        ("POST", ADDRESSES), ("GET", ADDRESSES + "x/"),
                                        ("DELETE", ADDRESSES + str(uuid.uuid4()) + "/")])
def test_customer_routes_need_a_token(method, url):
    r = requests.request(method, url, json={})
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    r = requests.request(method, url, json={}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json() == {"detail": "Incorrect authentication credentials."}


def test_malformed_address_id_is_404(user):
    for method in ["GET", "PUT", "PATCH", "DELETE"]:
        r = requests.request(method, ADDRESSES + "nope/", json=HOME, headers=auth(user["token"]))
        assert r.status_code == 404 and r.json() == NOT_FOUND, method
