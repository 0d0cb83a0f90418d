"""Cart devices (seed 003 §3 and the debug API): QR login, shopping sessions,
cart updates through Kafka and the cart worker, idle expiry, and a cart worker
killed mid-burst. The last tests run a second cart worker on a topic of its
own (same consumer group), so they sit at the end of the module and wait for
the shared worker to answer again before leaving."""
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests

from conftest import BASE, BUILD, _start, _stop, auth, login, register, sql, wait_for
from extra_ingest import extra_ingest

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SESSION_KEYS = {"id", "user_id", "status", "created_at", "version", "items"}
ITEM_KEYS = {"id", "product_id", "quantity", "added_at", "product"}


def new_user():
    u = register()
    u["token"] = login(u["email"], u["password"])
    u["h"] = auth(u["token"])
    return u


@pytest.fixture(scope="module")
def admin_h():
    email = "cart-admin-%s@example.com" % uuid.uuid4().hex[:10]
    r = subprocess.run([os.path.join(BUILD, "smartcart"), "create-admin", email],
                       env=dict(os.environ, SMARTCART_ADMIN_PASSWORD="admin password 1"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return auth(login(email, "admin password 1"))


@pytest.fixture(scope="module")
def products(admin_h):
    out = []
    for i in range(4):
        r = requests.post(BASE + "/products/", headers=admin_h,
                          json={"name": "Giỏ %d %s" % (i, uuid.uuid4().hex[:6]),
                                "price": 12000.5 + i})
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    sql("INSERT INTO product_images (product_id, object_key, image_url, is_primary, status) "
        "VALUES ('%s', 'images/products/%s.jpg', 'http://cdn/p0.jpg', true, 'ready')"
        % (out[0], uuid.uuid4()))
    return out


def generate(base=BASE):
    r = requests.post(base + "/sessions/generate-qr")
    assert r.status_code == 200, r.text
    return r.json()


def check(token, secret=None, base=BASE):
    headers = {"X-Poll-Secret": secret} if secret is not None else {}
    return requests.get(base + "/sessions/check-qr", params={"token": token}, headers=headers)


def verify(user, token, base=BASE):
    return requests.post(base + "/sessions/verify-qr", json={"token": token}, headers=user["h"])


def device_login(user, base=BASE):
    """generate → verify → check with the secret: (session_id, device headers)."""
    qr = generate(base)
    assert verify(user, qr["token"], base).status_code == 200
    body = check(qr["token"], qr["poll_secret"], base).json()
    return body["session_id"], auth(body["device_token"])


def patch(sid, h, items, base=BASE):
    return requests.patch(base + "/sessions/%s/items" % sid, json={"items": items}, headers=h)


def get_session(sid, h, base=BASE):
    r = requests.get(base + "/sessions/" + sid, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def quantities(session):
    return {i["product_id"]: i["quantity"] for i in session["items"]}


def apply(state, items):
    for it in items:
        if it["quantity"]:
            state[it["product_id"]] = it["quantity"]
        else:
            state.pop(it["product_id"], None)


def zbar_text(png):
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(png)
        f.flush()
        out = subprocess.run(["zbarimg", "--raw", "-q", f.name], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_device_flow_end_to_end(products):
    phone = new_user()
    qr = generate()
    assert TOKEN_RE.match(qr["token"]) and TS_RE.match(qr["expires_at"])
    assert len(qr["poll_secret"]) >= 32 and qr["poll_secret"] != qr["token"]

    png = requests.get(BASE + "/sessions/qr/%s.png" % qr["token"])
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert zbar_text(png.content) == qr["token"]

    r = check(qr["token"])
    assert r.status_code == 200 and r.json() == {"status": "pending", "user": None}

    r = verify(phone, qr["token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "authenticated"
    assert body["user"] == {"id": phone["id"], "email": phone["email"],
                            "full_name": phone["full_name"]}
    sid = body["session_id"]

    # Without the poll secret: who, never a credential.
    r = check(qr["token"])
    assert r.json() == {"status": "authenticated", "user": body["user"]}
    assert check(qr["token"], "not the secret").status_code == 403
    r = check(qr["token"], qr["poll_secret"])
    assert r.status_code == 200
    dev = r.json()
    assert dev["status"] == "authenticated" and dev["session_id"] == sid
    device_h = auth(dev["device_token"])
    # A used code is no longer shown.
    assert requests.get(BASE + "/sessions/qr/%s.png" % qr["token"]).status_code == 404

    s = get_session(sid, device_h)
    assert set(s) == SESSION_KEYS and s["id"] == sid and s["user_id"] == phone["id"]
    assert s["status"] == "active" and s["items"] == [] and TS_RE.match(s["created_at"])
    v0 = s["version"]

    # Phone and device patch at the same time; each command sets the shared
    # product to its own value and its side's product to a counter.
    shared, mine = products[0], {"phone": products[1], "device": products[2]}
    sent, lock = [], threading.Lock()

    def run(side, h, base_qty):
        for i in range(6):
            items = [{"product_id": shared, "quantity": base_qty + i},
                     {"product_id": mine[side], "quantity": (i + 1) % 4}]
            r = patch(sid, h, items)
            with lock:
                sent.append((r, items))

    threads = [threading.Thread(target=run, args=("phone", phone["h"], 10)),
               threading.Thread(target=run, args=("device", device_h, 50))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 for r, _ in sent), [(r.status_code, r.text) for r, _ in sent]
    versions = sorted(int(r.headers["X-Cart-Version"]) for r, _ in sent)
    assert versions == list(range(v0 + 1, v0 + 1 + len(sent)))
    for r, _ in sent:
        assert r.json()["version"] >= int(r.headers["X-Cart-Version"])

    expected = {}
    for r, items in sorted(sent, key=lambda x: int(x[0].headers["X-Cart-Version"])):
        apply(expected, items)
    final = get_session(sid, phone["h"])
    assert final == get_session(sid, device_h)
    assert final["version"] == v0 + len(sent) and quantities(final) == expected
    item = next(i for i in final["items"] if i["product_id"] == shared)
    assert set(item) == ITEM_KEYS and TS_RE.match(item["added_at"])
    assert item["product"]["id"] == shared and item["product"]["price"] == 12000.5
    assert item["product"]["primary_image"]["image_url"] == "http://cdn/p0.jpg"
    assert item["product"]["primary_image"]["is_primary"] is True


def test_quantity_zero_removes_and_snapshot_survives_redis_flush(products):
    user = new_user()
    sid, device_h = device_login(user)
    r = patch(sid, device_h, [{"product_id": products[1], "quantity": 3},
                              {"product_id": products[2], "quantity": 1}])
    assert r.status_code == 200 and quantities(r.json()) == {products[1]: 3, products[2]: 1}
    r = patch(sid, user["h"], [{"product_id": products[1], "quantity": 0}])
    assert r.status_code == 200 and quantities(r.json()) == {products[2]: 1}
    version = r.json()["version"]
    # The snapshot is a cache: without it the session is rebuilt from Postgres.
    subprocess.run(["redis-cli", "-p", os.environ["STACK_REDIS_PORT"], "DEL",
                    "cart:snapshot:" + sid], check=True, capture_output=True)
    again = get_session(sid, user["h"])
    assert again["version"] == version and quantities(again) == {products[2]: 1}


def test_verify_errors():
    phone, other = new_user(), new_user()
    qr = generate()
    assert requests.post(BASE + "/sessions/verify-qr", json={"token": qr["token"]}).status_code == 401
    assert verify(phone, qr["token"]).status_code == 200
    assert verify(phone, qr["token"]).status_code == 409
    assert verify(other, qr["token"]).status_code == 409
    unknown = "A" * 32
    assert verify(phone, unknown).status_code == 404
    assert verify(phone, "bad token").status_code == 404
    assert check(unknown).status_code == 404
    assert requests.get(BASE + "/sessions/check-qr").status_code == 422
    assert requests.get(BASE + "/sessions/qr/%s.png" % unknown).status_code == 404
    assert requests.get(BASE + "/sessions/qr/%s" % qr["token"]).status_code == 404
    r = requests.post(BASE + "/sessions/verify-qr", json={}, headers=phone["h"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "token"]
    # A device token is not a user's: it cannot approve another device.
    _, device_h = device_login(other)
    r = requests.post(BASE + "/sessions/verify-qr", json={"token": generate()["token"]},
                      headers=device_h)
    assert r.status_code == 403


def test_one_user_reuses_the_active_session():
    phone = new_user()
    first, _ = device_login(phone)
    second, _ = device_login(phone)
    assert first == second


def test_two_phones_race_one_token():
    for _ in range(5):
        phones = [new_user(), new_user()]
        qr = generate()
        barrier = threading.Barrier(2)
        codes = []

        def go(p):
            barrier.wait()
            codes.append(verify(p, qr["token"]).status_code)

        threads = [threading.Thread(target=go, args=(p,)) for p in phones]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 409]


def test_expired_then_forgotten_qr():
    with extra_ingest("ingest-qr-ttl", QR_TTL_S=1, QR_EXPIRED_KEEP_S=2) as ing:
        phone = new_user()
        qr = generate(ing.base)
        wait_for("the token to expire",
                 lambda: check(qr["token"], base=ing.base).json()["status"] == "expired")
        r = verify(phone, qr["token"], ing.base)
        assert r.status_code == 410, r.text
        assert requests.get(ing.base + "/sessions/qr/%s.png" % qr["token"]).status_code == 404
        wait_for("the token to be forgotten",
                 lambda: check(qr["token"], base=ing.base).status_code == 404)
        assert verify(phone, qr["token"], ing.base).status_code == 404


@pytest.mark.parametrize("items,loc,kind", [
    ([{"product_id": "P1", "quantity": 100}], ["body", "items", 0, "quantity"], "less_than_equal"),
    ([{"product_id": "P1", "quantity": -1}], ["body", "items", 0, "quantity"], "greater_than_equal"),
    ([{"product_id": "P1", "quantity": "2"}], ["body", "items", 0, "quantity"], "int_type"),
    ([{"product_id": "P1", "quantity": 1.5}], ["body", "items", 0, "quantity"], "int_type"),
    ([{"product_id": "P1"}], ["body", "items", 0, "quantity"], "missing"),
    ([{"product_id": "nope", "quantity": 1}], ["body", "items", 0, "product_id"], "uuid_parsing"),
    ([{"product_id": "P1", "quantity": 1}, {"product_id": "UNKNOWN", "quantity": 1}],
     ["body", "items", 1, "product_id"], "value_error"),
    ([{"product_id": "P1", "quantity": 1}, {"product_id": "P1", "quantity": 2}],
     ["body", "items", 1, "product_id"], "value_error"),
    ([], ["body", "items"], "too_short"),
    (None, ["body", "items"], "missing"),
])
def test_patch_validation_is_422(products, items, loc, kind):
    user = new_user()
    sid, device_h = device_login(user)
    if items is not None:
        names = {"P1": products[1], "UNKNOWN": str(uuid.uuid4())}
        items = [dict(it, product_id=names.get(it.get("product_id"), it.get("product_id")))
                 for it in items]
    body = {} if items is None else {"items": items}
    r = requests.patch(BASE + "/sessions/%s/items" % sid, json=body, headers=device_h)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc and r.json()["detail"][0]["type"] == kind
    assert get_session(sid, device_h)["version"] == 0


def test_foreign_and_unknown_sessions_are_404(products):
    owner, stranger = new_user(), new_user()
    sid, device_h = device_login(owner)
    other_sid, other_device_h = device_login(stranger)
    items = [{"product_id": products[1], "quantity": 1}]
    for h in (stranger["h"], other_device_h):
        assert requests.get(BASE + "/sessions/" + sid, headers=h).status_code == 404
        assert patch(sid, h, items).status_code == 404
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        assert requests.get(BASE + "/sessions/" + bad, headers=owner["h"]).status_code == 404
        assert patch(bad, owner["h"], items).status_code == 404
    assert requests.get(BASE + "/sessions/" + sid).status_code == 401
    assert get_session(sid, device_h)["version"] == 0


def test_checked_out_session_refuses_changes(products):
    user = new_user()
    sid, device_h = device_login(user)
    assert patch(sid, device_h, [{"product_id": products[1], "quantity": 2}]).status_code == 200
    sql("UPDATE shopping_sessions SET status = 'checked_out' WHERE id = '%s'" % sid)
    r = patch(sid, device_h, [{"product_id": products[1], "quantity": 5}])
    assert r.status_code == 409, r.text
    # The next login opens a new session.
    sid2, _ = device_login(user)
    assert sid2 != sid


def test_debug_route_is_off_by_default_and_prepares_a_cart_when_on(products):
    user = new_user()
    assert requests.post(BASE + "/debug/prepare-cart", headers=user["h"]).status_code == 404
    with extra_ingest("ingest-debug", DEBUG_ROUTES="true") as ing:
        assert requests.post(ing.base + "/debug/prepare-cart").status_code == 401
        sid, _ = device_login(user)
        assert patch(sid, user["h"], [{"product_id": products[1], "quantity": 4},
                                      {"product_id": products[2], "quantity": 2}]).status_code == 200
        r = requests.post(ing.base + "/debug/prepare-cart", headers=user["h"])
        assert r.status_code == 200, r.text
        assert r.json() == {"message": "Giỏ hàng đã sẵn sàng để checkout."}
        s = get_session(sid, user["h"])
        assert len(s["items"]) == 1 and s["items"][0]["quantity"] == 1


# ---- a second cart worker on its own topic (keep these last) ----

@pytest.fixture(scope="module")
def side():
    """An ingest and a cart worker on a private topic, sweeping every second;
    the ingest answers 202 at once. The worker's consumer group is its own too:
    joining and leaving the shared worker's group would make that group
    rebalance, and the mock broker has been seen to leave the shared worker
    without partitions for minutes afterwards."""
    side_id = "side-" + uuid.uuid4().hex[:8]
    env = {"KAFKA_TOPIC_CART": "smartcart.cart." + side_id, "KAFKA_GROUP_PREFIX": side_id,
           "CART_SWEEP_INTERVAL_S": "1"}
    state = {"env": env,
             "worker": _start("worker-cart-side",
                              [os.path.join(BUILD, "smartcart-worker"), "cart"], env)}
    # No wait for the worker: the burst piles up in Kafka and the kill lands
    # in the middle of the worker's backlog.
    with extra_ingest("ingest-cart-side", CART_PATCH_WAIT_MS=0, **env) as ing:
        state["ingest"] = ing
        yield state
    _stop(state["worker"], "worker-cart-side")


def test_sigkill_mid_burst_applies_every_accepted_command_once_in_order(products, side):
    base = side["ingest"].base
    user = new_user()
    sid, device_h = device_login(user, base)
    v0 = get_session(sid, device_h, base)["version"]
    accepted = []

    def burst(first, n):
        for i in range(first, first + n):
            items = [{"product_id": products[i % 3], "quantity": i % 99 + 1}]
            if i % 7 == 6:
                items.append({"product_id": products[3], "quantity": 0 if i % 2 else 9})
            r = patch(sid, device_h, items, base)
            assert r.status_code in (200, 202), r.text
            accepted.append((r.headers["X-Message-Id"], items))

    # The fresh side worker is still joining its group while the burst piles
    # up; it is killed as soon as it has begun to work through it.
    burst(0, 80)
    deadline = time.time() + 60
    while get_session(sid, device_h, base)["version"] == v0:
        assert time.time() < deadline, "the side worker never started"
    side["worker"].send_signal(signal.SIGKILL)
    side["worker"].wait()
    burst(80, 20)
    side["worker"] = _start("worker-cart-side", [os.path.join(BUILD, "smartcart-worker"), "cart"],
                            side["env"])
    final = wait_for("every command to be applied",
                     lambda: (lambda s: s if s["version"] == v0 + len(accepted) else None)(
                         get_session(sid, device_h, base)), timeout=90)
    expected = {}
    for _, items in accepted:
        apply(expected, items)
    assert quantities(final) == expected
    ids = ",".join("'%s'" % m for m, _ in accepted)
    assert sql("SELECT count(*) FROM processed_messages WHERE consumer_group = '%s.cart' "
               "AND message_id IN (%s)" % (side["env"]["KAFKA_GROUP_PREFIX"], ids)) == str(len(accepted))
    assert sql("SELECT count(*) FROM dead_letters WHERE message_id IN (%s)" % ids) == "0"


def test_idle_sessions_are_expired_by_the_worker(products, side):
    base = side["ingest"].base
    user = new_user()
    sid, device_h = device_login(user, base)
    sql("UPDATE shopping_sessions SET last_activity_at = now() - interval '2 hours' "
        "WHERE id = '%s'" % sid)
    wait_for("the sweep to expire the session",
             lambda: get_session(sid, device_h, base)["status"] == "expired")
    r = patch(sid, device_h, [{"product_id": products[1], "quantity": 2}], base)
    assert r.status_code == 409, r.text
