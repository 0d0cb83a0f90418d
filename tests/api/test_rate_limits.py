"""Rate limits (docs/configuration.md: AUTH_RATE_PER_MIN, LOGIN_FAILURES_MAX,
QR_GENERATE_PER_MIN, HTTP_TRUSTED_PROXIES): each on an ingest of its own
with small limits. Counters live in Redis per minute (or per
LOGIN_FAILURE_WINDOW_S) and are shared by every ingest of the stack, so each
test speaks as client addresses of its own (X-Forwarded-For behind one
trusted proxy) or accounts of its own."""
import time
import uuid

import pytest
import requests

from conftest import register, unique_email
from extra_ingest import closed_port, extra_ingest

BAD_LOGIN = {"detail": "Incorrect email or password"}


@pytest.fixture(autouse=True)
def whole_window():
    """Windows start on the minute: a test begun in its last seconds would see
    its counts reset half-way."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def fresh_address():
    return "198.51.100.%d, 10.0.%d.%d" % tuple(uuid.uuid4().bytes[:3])


def assert_limited(r, window_s=60):
    """429, and Retry-After is when the window ends: within window_s."""
    assert r.status_code == 429, r.text
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= window_s, r.headers
    assert r.json() == {"detail": "Too many requests; try again in %d seconds" % wait}, r.text


def login_as(base, email, password, address=None):
    headers = {"X-Forwarded-For": address} if address else {}
    return requests.post(base + "/auth/login", data={"username": email, "password": password},
                         headers=headers)


@pytest.mark.parametrize("path, request_once", [
    ("/auth/login", lambda base, headers: requests.post(
        base + "/auth/login", data={"username": unique_email(), "password": "whatever1"},
        headers=headers)),
    ("/auth/register", lambda base, headers: requests.post(
        base + "/auth/register", json={"email": "not an email", "password": "x",
                                       "full_name": "A"}, headers=headers)),
    ("/sessions/generate-qr", lambda base, headers: requests.post(
        base + "/sessions/generate-qr", headers=headers)),
])
def test_each_address_gets_its_own_budget_per_minute(path, request_once):
    with extra_ingest("ingest-rate-" + path.strip("/").replace("/", "-"), HTTP_TRUSTED_PROXIES=1,
                      AUTH_RATE_PER_MIN=3, QR_GENERATE_PER_MIN=3) as ing:
        first, second = fresh_address(), fresh_address()
        # The client is the entry the trusted proxy appended (the last one):
        # what the client itself wrote before it does not matter.
        codes = [request_once(ing.base, {"X-Forwarded-For": "203.0.113.%d, %s" % (i, first)})
                 for i in range(3)]
        assert all(r.status_code != 429 for r in codes), [r.text for r in codes]
        assert_limited(request_once(ing.base, {"X-Forwarded-For": first}))
        assert request_once(ing.base, {"X-Forwarded-For": second}).status_code != 429


def test_login_and_register_count_apart():
    with extra_ingest("ingest-rate-apart", HTTP_TRUSTED_PROXIES=1, AUTH_RATE_PER_MIN=2) as ing:
        address = fresh_address()
        for _ in range(2):
            assert login_as(ing.base, unique_email(), "whatever1", address).status_code == 401
        assert_limited(login_as(ing.base, unique_email(), "whatever1", address))
        r = requests.post(ing.base + "/auth/register", headers={"X-Forwarded-For": address},
                          json={"email": unique_email(), "password": "long enough",
                                "full_name": "Lê Văn C"})
        assert r.status_code == 201, r.text


def test_forwarded_for_is_ignored_without_a_trusted_proxy():
    """A client could write any X-Forwarded-For: by default the TCP peer
    (here 127.0.0.1, whatever the other tests spent of its budget) counts."""
    with extra_ingest("ingest-rate-peer", AUTH_RATE_PER_MIN=3) as ing:
        codes = [login_as(ing.base, unique_email(), "whatever1", fresh_address()).status_code
                 for _ in range(4)]
        assert codes[-1] == 429, codes


def test_failed_logins_lock_the_account_not_others():
    user, other = register(), register()
    with extra_ingest("ingest-rate-failures", HTTP_TRUSTED_PROXIES=1, LOGIN_FAILURES_MAX=2,
                      LOGIN_FAILURE_WINDOW_S=600) as ing:
        for _ in range(2):
            r = login_as(ing.base, user["email"], "wrong password", fresh_address())
            assert (r.status_code, r.json()) == (401, BAD_LOGIN), r.text
        # From any address, in any letter case, even with the right password.
        assert_limited(login_as(ing.base, user["email"].upper(), user["password"], fresh_address()),
                       600)
        assert_limited(login_as(ing.base, user["email"], user["password"], fresh_address()), 600)
        r = login_as(ing.base, other["email"], other["password"], fresh_address())
        assert r.status_code == 200, r.text


def test_successful_logins_do_not_count_as_failures():
    user = register()
    with extra_ingest("ingest-rate-success", HTTP_TRUSTED_PROXIES=1, LOGIN_FAILURES_MAX=1) as ing:
        for _ in range(3):
            assert login_as(ing.base, user["email"], user["password"],
                            fresh_address()).status_code == 200


def test_redis_away_lets_logins_through():
    """An outage of the limits' store must not lock every user out."""
    user = register()
    with extra_ingest("ingest-rate-noredis", REDIS_URL="redis://127.0.0.1:%d/0" % closed_port(),
                      AUTH_RATE_PER_MIN=1, LOGIN_FAILURES_MAX=1) as ing:
        for _ in range(2):
            assert login_as(ing.base, user["email"], user["password"]).status_code == 200
