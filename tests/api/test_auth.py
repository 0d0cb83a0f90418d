"""Auth (seed 003 §2): register, login, /auth/me, token checks, tenancy,
create-admin. Tokens are forged here with hmac/base64 only, independent of
the C code, to prove the server refuses every bad one."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import time
import uuid

import pytest
import requests

from conftest import BASE, auth, login, register, run_cli, unique_email

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BAD_LOGIN = {"detail": "Incorrect email or password"}
BAD_TOKEN = {"detail": "Could not validate credentials"}
SECRET = os.environ.get("JWT_SECRET", "").encode()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token):
    return json.loads(unb64(token.split(".")[1]))


def forge(header, claims, key=SECRET, digest=hashlib.sha256):
    """A JWT with the given header and claims, signed with key (None: no signature)."""
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = "" if key is None else b64(hmac.new(key, signing.encode(), digest).digest())
    return signing + "." + sig


def register_raw(body):
    return requests.post(BASE + "/auth/register", json=body)


def body_for(**over):
    body = {"full_name": "Trần Thị B", "email": unique_email(), "password": "long enough"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def assert_field_error(r, field, type_=None):
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    assert detail[0]["loc"] == ["body", field], detail
    if type_:
        assert detail[0]["type"] == type_, detail


# --- register -------------------------------------------------------------

def test_register_login_me_happy_path():
    email = unique_email("Happy")
    r = register_raw({"full_name": "Nguyễn Văn A", "email": "  " + email + " ", "password": "correct horse"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "email", "full_name"}
    assert UUID_RE.match(created["id"])
    assert created["email"] == email  # trimmed, case kept
    assert created["full_name"] == "Nguyễn Văn A"

    token = login(email.upper(), "correct horse")  # login ignores the email's case
    r = requests.get(BASE + "/auth/me", headers=auth(token))
    assert r.status_code == 200, r.text
    me = r.json()
    assert set(me) == {"id", "email", "full_name", "role", "tenant_id", "created_at"}
    assert me["id"] == created["id"] and me["email"] == email
    assert me["role"] == "Customer"
    assert UUID_RE.match(me["tenant_id"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", me["created_at"]), me

    header = json.loads(unb64(token.split(".")[0]))
    claims = claims_of(token)
    assert header["alg"] == "HS256"
    assert claims["sub"] == created["id"]
    assert claims["role"] == "Customer"
    assert claims["tenant"] == me["tenant_id"]
    assert claims["exp"] - claims["iat"] == int(os.environ.get("JWT_TTL_S", "3600"))
    assert "sid" not in claims and "typ" not in claims


def test_login_response_shape(user):
    r = requests.post(BASE + "/auth/login", data={"username": user["email"], "password": user["password"]})
    assert r.status_code == 200
    assert r.json()["token_type"] == "bearer"
    assert set(r.json()) == {"access_token", "token_type"}


def test_duplicate_email_in_any_case_is_409():
    u = register()
    for email in (u["email"], u["email"].upper(), " " + u["email"].title() + " "):
        r = register_raw(body_for(email=email))
        assert r.status_code == 409, (email, r.text)
        assert r.json() == {"detail": "Email already registered"}


def test_concurrent_registrations_of_one_email_one_wins():
    email = unique_email("race")
    variants = [email, email.upper(), email.title(), email, email.upper(), email]
    with concurrent.futures.ThreadPoolExecutor(len(variants)) as pool:
        codes = sorted(pool.map(lambda e: register_raw(body_for(email=e)).status_code, variants))
    assert codes == [201] + [409] * (len(variants) - 1)


@pytest.mark.parametrize("email", [
    "", "plain", "@example.com", "a@", "a@b", "a@b.", "a@.b.com", "a@b..com", "a..b@x.com",
    ".a@x.com", "a.@x.com", "a b@x.com", "a@b c.com", "a@@b.com", "a@b@c.com", "a@-b.com",
    "a@1.2.3.4", '"q"@x.com', "a@b_c.com", "x" * 65 + "@example.com", "   ",
])
def test_bad_email_is_422(email):
    r = register_raw(body_for(email=email))
    assert_field_error(r, "email", "value_error")
    assert r.json()["detail"][0]["msg"] == "value is not a valid email address"


@pytest.mark.parametrize("password,status", [
    ("short12", 422),          # 7 characters
    ("exactly8", 201),
    ("ễễễễễễễ", 422),          # 7 characters, 21 bytes: length counts characters
    ("ễễễễễễễễ", 201),
    ("p" * 256, 201),
    ("p" * 257, 422),
])
def test_password_length(password, status):
    r = register_raw(body_for(password=password))
    assert r.status_code == status, r.text
    if status == 422:
        assert_field_error(r, "password")
        assert r.json()["detail"][0]["type"] in ("string_too_short", "string_too_long")


def test_full_name_length():
    assert register_raw(body_for(full_name="n" * 255)).status_code == 201
    assert_field_error(register_raw(body_for(full_name="n" * 256)), "full_name", "string_too_long")


@pytest.mark.parametrize("missing", ["full_name", "email", "password"])
def test_missing_field_is_422(missing):
    assert_field_error(register_raw(body_for(**{missing: ...})), missing, "missing")


@pytest.mark.parametrize("field,value", [
    ("email", 5), ("email", None), ("password", 12345678), ("password", ["x" * 8]),
    ("full_name", {"a": 1}), ("full_name", True),
])
def test_wrong_type_is_422(field, value):
    assert_field_error(register_raw(body_for(**{field: value})), field, "string_type")


@pytest.mark.parametrize("data", ["not json", "[1, 2]", ""])
def test_body_not_an_object_is_422(data):
    r = requests.post(BASE + "/auth/register", data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text


# --- login ----------------------------------------------------------------

def test_wrong_password_and_unknown_email_look_the_same(user):
    wrong = requests.post(BASE + "/auth/login", data={"username": user["email"], "password": "wrong password"})
    unknown = requests.post(BASE + "/auth/login",
                            data={"username": unique_email("nobody"), "password": user["password"]})
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.json() == BAD_LOGIN
        assert r.headers.get("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize("data,field", [
    ({"password": "whatever1"}, "username"),
    ({"username": "a@b.co"}, "password"),
    ({"username": "a@b.co", "password": ""}, "password"),
    ({}, "username"),
])
def test_login_missing_field_is_422(data, field):
    assert_field_error(requests.post(BASE + "/auth/login", data=data), field, "missing")


def test_login_with_json_body_is_422(user):
    r = requests.post(BASE + "/auth/login", json={"username": user["email"], "password": user["password"]})
    assert r.status_code == 422, r.text


# --- /auth/me and token checks ---------------------------------------------

def _bad_tokens(user):
    """(name, Authorization header value or None) pairs that must all get 401."""
    claims = claims_of(user["token"])
    live = dict(claims, exp=int(time.time()) + 600)
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    hs256 = {"alg": "HS256", "typ": "JWT"}
    tampered = user["token"].split(".")
    tampered[1] = b64(json.dumps(dict(claims, role="Administrator")).encode())
    return [
        ("no header", None),
        ("scheme only", "Bearer"),
        ("garbage", "Bearer garbage"),
        ("three garbage parts", "Bearer a.b.c"),
        ("basic scheme", "Basic " + base64.b64encode(b"user:pass").decode()),
        ("token without scheme", user["token"]),
        ("other key", "Bearer " + forge(hs256, live, key=b"another-secret-of-at-least-32-bytes!!")),
        ("expired", "Bearer " + forge(hs256, dict(claims, exp=int(time.time()) - 1))),
        ("alg none", "Bearer " + forge({"alg": "none", "typ": "JWT"}, live, key=None)),
        ("alg none with signature", "Bearer " + forge({"alg": "none"}, live)),
        ("HS512", "Bearer " + forge({"alg": "HS512", "typ": "JWT"}, live, digest=hashlib.sha512)),
        ("missing exp", "Bearer " + forge(hs256, no_exp)),
        ("exp as string", "Bearer " + forge(hs256, dict(claims, exp=str(live["exp"])))),
        ("role changed, old signature", "Bearer " + ".".join(tampered)),
        ("user that does not exist", "Bearer " + forge(hs256, dict(live, sub=str(uuid.uuid4())))),
    ]


def test_control_forged_token_is_accepted(user):
    """The forger is right: a token it signs with the real key and valid claims works."""
    assert SECRET, "JWT_SECRET must be exported by tests/run.sh"
    claims = dict(claims_of(user["token"]), exp=int(time.time()) + 600)
    token = forge({"alg": "HS256", "typ": "JWT"}, claims)
    assert requests.get(BASE + "/auth/me", headers=auth(token)).status_code == 200


def test_bad_tokens_are_401(user):
    failures = []
    for name, value in _bad_tokens(user):
        headers = {} if value is None else {"Authorization": value}
        r = requests.get(BASE + "/auth/me", headers=headers)
        if (r.status_code, r.headers.get("WWW-Authenticate")) != (401, "Bearer") or r.json() != BAD_TOKEN:
            failures.append((name, r.status_code, r.text))
    assert not failures, failures


def test_tenant_header(user):
    tenant = claims_of(user["token"])["tenant"]
    ok = requests.get(BASE + "/auth/me", headers=auth(user["token"]) | {"X-Tenant-ID": tenant})
    assert ok.status_code == 200 and ok.json()["tenant_id"] == tenant
    for other in (str(uuid.uuid4()), "", "default"):
        r = requests.get(BASE + "/auth/me", headers=auth(user["token"]) | {"X-Tenant-ID": other})
        assert r.status_code == 403, (other, r.text)
        assert "detail" in r.json()


def test_device_token_cannot_use_user_routes(user):
    claims = dict(claims_of(user["token"]), exp=int(time.time()) + 600, typ="device",
                  sid=str(uuid.uuid4()))
    r = requests.get(BASE + "/auth/me", headers=auth(forge({"alg": "HS256", "typ": "JWT"}, claims)))
    assert r.status_code == 403, r.text


# --- administrators ---------------------------------------------------------

def test_admin_fixture_is_administrator(admin):
    r = requests.get(BASE + "/auth/me", headers=auth(admin["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "Administrator"
    assert claims_of(admin["token"])["role"] == "Administrator"


def test_create_admin_promotes_existing_user():
    u = register()
    r = run_cli("create-admin", u["email"].upper(), env={"SMARTCART_ADMIN_PASSWORD": ""})
    assert r.returncode == 0, r.stderr
    token = login(u["email"], u["password"])  # password unchanged
    assert requests.get(BASE + "/auth/me", headers=auth(token)).json()["role"] == "Administrator"


def test_create_admin_reads_password_from_stdin():
    email = unique_email("stdin-admin")
    r = run_cli("create-admin", email, env={"SMARTCART_ADMIN_PASSWORD": ""}, input="piped password\n")
    assert r.returncode == 0, r.stderr
    assert claims_of(login(email, "piped password"))["role"] == "Administrator"


@pytest.mark.parametrize("args,password", [
    (["create-admin", "not-an-email"], "long enough pw"),
    (["create-admin"], "long enough pw"),
    (["create-admin", "short-pw@example.com"], "short"),
])
def test_create_admin_refuses_bad_input(args, password):
    r = run_cli(*args, env={"SMARTCART_ADMIN_PASSWORD": password}, input="")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
