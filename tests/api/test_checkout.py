"""Checkout with PayOS, orders, notifications and best-sellers (issue 6),
black-box: an extra ingest talks to the fake PayOS (tests/fake_payos/server.py),
whose "pay" control sends correctly signed webhooks back to that ingest; the
payment and analytics workers of conftest consume what it produces. Shopping
sessions and cart items are made with SQL, independent of the cart routes."""
import datetime
import hashlib
import hmac
import importlib.util
import os
import subprocess
import time
import uuid

import pytest
import requests

from conftest import (BASE, ROOT, STATE, auth, register, login, run_cli, sql, wait_for,
                      wait_for_lock_wait)
from extra_ingest import extra_ingest, free_port

CLIENT_ID, API_KEY = "test-client", "test-api-key"
CHECKSUM_KEY = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
FAKE = os.path.join(ROOT, "tests", "fake_payos", "server.py")
_spec = importlib.util.spec_from_file_location("fake_payos", FAKE)
fake_payos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_payos)


class Shop:
    def __init__(self, ingest, fake):
        self.base, self.fake = ingest.base, fake

    def control(self, what, **body):
        r = requests.post(self.fake + "/_control/" + what, json=body, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def checkout(self, token, session_id):
        return requests.post(self.base + "/checkout/request", json={"session_id": session_id},
                             headers=auth(token), timeout=60)

    def webhook(self, body):
        return requests.post(self.base + "/checkout/webhook/payos", json=body, timeout=30)

    def status(self, token, order_id):
        return requests.get(self.base + "/checkout/status/" + order_id, headers=auth(token))


@pytest.fixture(scope="module")
def shop():
    port = free_port()
    log = open(os.path.join(STATE, "logs", "fake-payos.log"), "ab")
    proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", str(port), "--client-id",
                             CLIENT_ID, "--api-key", API_KEY, "--checksum-key", CHECKSUM_KEY],
                            stdout=log, stderr=log)
    fake = "http://127.0.0.1:%d" % port
    try:
        wait_for("the fake PayOS", lambda: _answers(fake), timeout=10)
        with extra_ingest("ingest-checkout", PAYOS_BASE_URL=fake, PAYOS_CLIENT_ID=CLIENT_ID,
                          PAYOS_API_KEY=API_KEY, PAYOS_CHECKSUM_KEY=CHECKSUM_KEY,
                          PAYOS_TIMEOUT_MS=1000, PAYOS_RETRIES=1) as ingest:
            s = Shop(ingest, fake)
            s.control("config", webhook_url=ingest.base + "/checkout/webhook/payos")
            yield s
    finally:
        proc.terminate()
        proc.wait()


def _answers(url):
    try:
        return requests.get(url + "/_control/creates", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def admin_h(admin):
    return auth(admin["token"])


def make_category(h):
    r = requests.post(BASE + "/categories", json={"name": "Danh mục " + uuid.uuid4().hex[:8]},
                      headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def make_product(h, price, category_ids=()):
    r = requests.post(BASE + "/products/", json={"name": "Hàng " + uuid.uuid4().hex[:8],
                                                  "price": price,
                                                  "category_ids": list(category_ids)}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def make_cart(user, items):
    """A shopping session of user holding items [(product, quantity)], by SQL."""
    sid = sql("INSERT INTO shopping_sessions (tenant_id, user_id) SELECT tenant_id, id FROM users "
              "WHERE id = '%s' RETURNING id" % user["id"])
    for product, qty in items:
        sql("INSERT INTO cart_items (session_id, product_id, quantity) VALUES ('%s', '%s', %d)"
            % (sid, product["id"], qty))
    return sid


def new_user():
    u = register()
    u["token"] = login(u["email"], u["password"])
    return u


@pytest.fixture
def cart(admin_h):
    """A user with an active session of two products (15000 x2, 20000 x1)."""
    cat = make_category(admin_h)
    products = [make_product(admin_h, 15000, [cat["id"]]), make_product(admin_h, 20000)]
    u = new_user()
    sid = make_cart(u, [(products[0], 2), (products[1], 1)])
    return {"user": u, "session": sid, "products": products, "category": cat}


def order_code(order_id):
    return int(sql("SELECT order_code FROM orders WHERE id = '%s'" % order_id))


def webhook_body(data, key=CHECKSUM_KEY):
    return {"code": "00", "desc": "success", "success": True, "data": data,
            "signature": fake_payos.sign_data(data, key)}


def payment_data(code, amount, reference="FT0001"):
    return {"orderCode": code, "amount": amount, "description": "SC%d" % code,
            "accountNumber": "12345678", "reference": reference,
            "transactionDateTime": "2025-09-05 10:00:00", "currency": "VND",
            "paymentLinkId": "x", "code": "00", "desc": "success", "counterAccountBankId": "",
            "counterAccountBankName": "", "counterAccountName": "", "counterAccountNumber": "",
            "virtualAccountName": "", "virtualAccountNumber": ""}


def wait_status(shop, token, order_id, status):
    def done():
        r = shop.status(token, order_id)
        assert r.status_code == 200, r.text
        return r.json()["status"] == status
    wait_for("order %s %s" % (order_id, status), done)


def redis_cli(*args):
    return subprocess.run(["redis-cli", "-u", os.environ["REDIS_URL"], *args], check=True,
                          capture_output=True, text=True).stdout.strip()


# --- the whole store flow ----------------------------------------------------

def test_full_flow_checkout_pay_complete_bestsellers(shop, cart, admin_h):
    u, sid = cart["user"], cart["session"]
    # A 10% promotion on the first product: checkout charges the promotional price.
    now = datetime.datetime.now(datetime.timezone.utc)
    r = requests.post(BASE + "/promotions", headers=admin_h, json={
        "name": "Giảm 10%", "discount_type": "percent", "value": 10,
        "product_ids": [cart["products"][0]["id"]],
        "starts_at": (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert r.status_code == 201, r.text

    r = shop.checkout(u["token"], sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"order_id", "payment_qr_url", "checkout_url", "qr_code"}
    order_id = body["order_id"]
    assert body["payment_qr_url"] == body["checkout_url"]
    assert body["checkout_url"].startswith("https://pay.payos.vn/web/")
    assert body["qr_code"]
    assert sql("SELECT total_amount FROM orders WHERE id = '%s'" % order_id) == "47000.00"
    # The fake checked our signature: the link exists with the server's total.
    created = requests.get(shop.fake + "/_control/creates").json()[-1]
    assert created["amount"] == 47000 and created["orderCode"] == order_code(order_id)

    # A second request for the same cart returns the same pending order.
    again = shop.checkout(u["token"], sid)
    assert again.status_code == 200 and again.json() == body
    assert shop.status(u["token"], order_id).json() == {"order_id": order_id, "status": "pending"}

    paid = shop.control("pay", order_code=order_code(order_id))
    assert paid["statuses"] == [200]
    wait_status(shop, u["token"], order_id, "completed")
    assert sql("SELECT status FROM shopping_sessions WHERE id = '%s'" % sid) == "checked_out"

    orders = requests.get(BASE + "/orders", headers=auth(u["token"])).json()
    assert [o["id"] for o in orders] == [order_id]
    o = requests.get(BASE + "/orders/" + order_id, headers=auth(u["token"])).json()
    assert o["status"] == "completed" and o["total_amount"] == 47000 and o["paid_amount"] == 47000
    assert sorted((i["product_name"], i["unit_price"], i["quantity"]) for i in o["items"]) == sorted(
        [(cart["products"][0]["name"], 13500, 2), (cart["products"][1]["name"], 20000, 1)])

    notes = requests.get(BASE + "/notifications", headers=auth(u["token"])).json()
    assert len(notes) == 1 and notes[0]["title"] == "Payment received" and not notes[0]["is_read"]
    r = requests.post(BASE + "/notifications/%s/read" % notes[0]["id"], headers=auth(u["token"]))
    assert r.status_code == 200 and r.json()["is_read"] is True

    # Snapshots survive the product's deletion.
    assert requests.delete(BASE + "/products/" + cart["products"][1]["id"],
                           headers=admin_h).status_code == 204
    o = requests.get(BASE + "/orders/" + order_id, headers=auth(u["token"])).json()
    assert any(i["product_id"] is None and i["quantity"] == 1 for i in o["items"])

    pid = cart["products"][0]["id"]

    def sold():
        rows = requests.get(BASE + "/products/best-sellers?limit=100").json()
        return next((x for x in rows if x["id"] == pid), None)
    best = wait_for("best-sellers", sold)
    assert best == {"id": pid, "name": cart["products"][0]["name"], "price": 15000,
                    "total_quantity_sold": 2}
    by_cat = requests.get(BASE + "/products/best-sellers-by-category", headers=auth(u["token"]))
    assert by_cat.status_code == 200
    mine = [c for c in by_cat.json() if c["id"] == cart["category"]["id"]]
    assert mine and [p["id"] for p in mine[0]["products"]] == [pid]
    assert set(mine[0]["products"][0]) == {"id", "name", "price", "total_quantity_sold",
                                           "primary_image"}
    assert requests.get(BASE + "/products/best-sellers-by-category").status_code == 401

    # Redis is a cache: the same answers from Postgres, then a rebuild refills it
    # with exactly what Postgres ranks (ties included).
    def by_category():
        r = requests.get(BASE + "/products/best-sellers-by-category", headers=auth(u["token"]))
        assert r.status_code == 200, r.text
        return r.json()
    keys = redis_cli("--scan", "--pattern", "bestsellers:*").split()
    assert keys
    redis_cli("DEL", *keys)
    assert sold() == best
    from_postgres = by_category()
    assert [c for c in from_postgres if c["id"] == cart["category"]["id"]] == mine
    week_list = requests.get(BASE + "/products/best-sellers?limit=100").json()
    r = run_cli("rebuild-bestsellers")
    assert r.returncode == 0, r.stderr
    assert redis_cli("--scan", "--pattern", "bestsellers:*").split()
    assert by_category() == from_postgres
    assert requests.get(BASE + "/products/best-sellers?limit=100").json() == week_list


def test_a_product_deleted_while_its_order_is_counted_leaves_the_rest_counted(shop, cart):
    """The analytics worker counts an order while an admin deletes one of its
    products: the deletion is held open until the worker waits on it, then
    commits. The other product is counted; the order is not dead-lettered."""
    u, sid = cart["user"], cart["session"]
    kept, gone = cart["products"][0]["id"], cart["products"][1]["id"]
    r = shop.checkout(u["token"], sid)
    assert r.status_code == 200, r.text
    order_id = r.json()["order_id"]
    deleter = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-qtAX", "-v", "ON_ERROR_STOP=1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        deleter.stdin.write("BEGIN;\nDELETE FROM products WHERE id = '%s';\n"
                            "SELECT 'held';\n" % gone)
        deleter.stdin.flush()
        assert deleter.stdout.readline().strip() == "held"
        assert shop.control("pay", order_code=order_code(order_id))["statuses"] == [200]
        wait_status(shop, u["token"], order_id, "completed")
        wait_for_lock_wait("the analytics worker waiting on the deletion",
                           "%product_sales_weekly%")
        deleter.stdin.write("COMMIT;\n")
        deleter.stdin.close()
        assert deleter.wait(timeout=30) == 0
    finally:
        if deleter.poll() is None:
            deleter.kill()
    wait_for("the kept product counted", lambda: sql(
        "SELECT coalesce(sum(quantity), 0) FROM product_sales_weekly WHERE product_id = :'a0'",
        kept) == "2")
    assert sql("SELECT count(*) FROM product_sales_weekly WHERE product_id = :'a0'", gone) == "0"
    assert sql("SELECT count(*) FROM dead_letters WHERE consumer_group = 'smartcart.analytics' "
               "AND convert_from(payload, 'UTF8') LIKE '%' || :'a0' || '%'", order_id) == "0"


# --- webhooks ------------------------------------------------------------------

def _tampered_amount(data):
    body = webhook_body(data)
    body["data"]["amount"] += 1
    return body


def _no_signature(data):
    body = webhook_body(data)
    del body["signature"]
    return body


def _empty_signature(data):
    return dict(webhook_body(data), signature="")


@pytest.mark.parametrize("make", [
    _tampered_amount,
    lambda d: webhook_body(d, key="0" * 64),  # wrong key
    _no_signature,
    _empty_signature,
    lambda d: {"signature": webhook_body(d)["signature"]},  # no data
], ids=["tampered-amount", "wrong-key", "missing-signature", "empty-signature", "no-data"])
def test_bad_webhooks_are_refused_and_change_nothing(shop, cart, make):
    r = shop.checkout(cart["user"]["token"], cart["session"])
    order_id = r.json()["order_id"]
    code = order_code(order_id)
    r = shop.webhook(make(payment_data(code, 50000, "BAD" + uuid.uuid4().hex[:8])))
    assert r.status_code == 400, r.text
    raw = requests.post(shop.base + "/checkout/webhook/payos", data=b"not json",
                        headers={"Content-Type": "application/json"})
    assert raw.status_code == 400
    # A valid webhook sent afterwards is applied: the refused one never reached the queue.
    assert shop.control("pay", order_code=code)["statuses"] == [200]
    wait_status(shop, cart["user"]["token"], order_id, "completed")
    assert sql("SELECT count(*) FROM payment_events WHERE order_code = %d" % code) == "1"
    assert sql("SELECT paid_amount FROM orders WHERE id = '%s'" % order_id) == "50000.00"


def test_ten_deliveries_have_one_effect(shop, cart):
    u = cart["user"]
    order_id = shop.checkout(u["token"], cart["session"]).json()["order_id"]
    code = order_code(order_id)
    statuses = shop.control("pay", order_code=code, duplicates=10)["statuses"]
    assert statuses == [200] * 10
    wait_status(shop, u["token"], order_id, "completed")
    pid = cart["products"][0]["id"]
    wait_for("analytics", lambda: sql("SELECT quantity FROM product_sales_weekly "
                                      "WHERE product_id = '%s'" % pid) == "2")
    # Give stray duplicates time to (wrongly) land before counting effects.
    time.sleep(2)
    assert sql("SELECT count(*) FROM payment_events WHERE order_code = %d" % code) == "1"
    assert sql("SELECT paid_amount FROM orders WHERE id = '%s'" % order_id) == "50000.00"
    assert sql("SELECT count(*) FROM notifications WHERE user_id = '%s'" % u["id"]) == "1"
    assert sql("SELECT quantity FROM product_sales_weekly WHERE product_id = '%s'" % pid) == "2"


def test_unknown_order_is_recorded_and_dead_lettered(shop):
    code = 900000000 + int(uuid.uuid4().int % 1000000)
    r = shop.webhook(webhook_body(payment_data(code, 1000)))
    assert r.status_code == 200 and r.json() == {"status": "success"}
    wait_for("the record", lambda: sql("SELECT outcome FROM payment_events WHERE order_code = %d"
                                       % code) == "unknown_order")
    wait_for("the dead letter", lambda: sql(
        "SELECT count(*) FROM dead_letters WHERE consumer_group = 'smartcart.payment' "
        "AND error LIKE '%%no order with order code %d%%'" % code) == "1")


def test_confirm_webhook_payload_gets_2xx_and_changes_nothing(shop):
    """PayOS's "confirm webhook" test payload: the docs' example data."""
    data = payment_data(123, 3000, "TF230204212323")
    data.update(description="VQRIO123", paymentLinkId="124c33293c43417ab7879e14c8d9eb18",
                desc="Thành công", transactionDateTime="2023-02-04 18:25:00")
    before = sql("SELECT count(*) || '/' || coalesce(sum(paid_amount), 0) FROM orders")
    r = shop.webhook(webhook_body(data))
    assert r.status_code == 200 and r.json() == {"status": "success"}
    wait_for("the record", lambda: sql("SELECT outcome FROM payment_events WHERE order_code = 123")
             == "confirm_test")
    assert sql("SELECT count(*) FROM dead_letters WHERE error LIKE '%order code 123'") == "0"
    assert sql("SELECT count(*) || '/' || coalesce(sum(paid_amount), 0) FROM orders") == before


def test_underpayment_stays_pending_until_covered(shop, cart):
    u = cart["user"]
    order_id = shop.checkout(u["token"], cart["session"]).json()["order_id"]
    code = order_code(order_id)
    assert shop.control("pay", order_code=code, amount=40000)["statuses"] == [200]
    wait_for("the shortfall", lambda: sql("SELECT shortfall FROM orders WHERE id = '%s'"
                                          % order_id) == "10000.00")
    assert shop.status(u["token"], order_id).json()["status"] == "pending"
    assert sql("SELECT status FROM shopping_sessions WHERE id = '%s'" % cart["session"]) == "active"
    notes = requests.get(BASE + "/notifications", headers=auth(u["token"])).json()
    assert [n["title"] for n in notes] == ["Payment incomplete"]
    # The second request for the cart still answers the same, payable order.
    assert shop.checkout(u["token"], cart["session"]).json()["order_id"] == order_id
    assert shop.control("pay", order_code=code, amount=10000)["statuses"] == [200]
    wait_status(shop, u["token"], order_id, "completed")
    assert sql("SELECT paid_amount || '/' || coalesce(shortfall::text, 'none') FROM orders "
               "WHERE id = '%s'" % order_id) == "50000.00/none"


# --- creating the payment link -------------------------------------------------

def test_payos_down_at_checkout_leaves_no_payable_order(shop, cart):
    u, sid = cart["user"], cart["session"]
    shop.control("next-create", mode="5xx", count=2)  # the try and its one retry
    r = shop.checkout(u["token"], sid)
    assert r.status_code == 503, r.text
    assert "payment provider" in r.json()["detail"]
    failed = sql("SELECT id FROM orders WHERE session_id = '%s'" % sid)
    assert sql("SELECT status FROM orders WHERE id = '%s'" % failed) == "failed"
    assert shop.status(u["token"], failed).json()["status"] == "failed"
    # Once PayOS answers again, checkout makes a new order with a new code.
    r = shop.checkout(u["token"], sid)
    assert r.status_code == 200, r.text
    assert r.json()["order_id"] != failed
    assert order_code(r.json()["order_id"]) != order_code(failed)


@pytest.mark.parametrize("mode", ["timeout", "231"])
def test_existing_link_is_read_back(shop, cart, mode):
    """A create whose answer was lost (timeout) is retried with the same
    orderCode; PayOS's "231" is resolved by reading the existing link."""
    u = cart["user"]
    n = len(requests.get(shop.fake + "/_control/creates").json())
    shop.control("next-create", mode=mode, delay_s=2)
    r = shop.checkout(u["token"], cart["session"])
    assert r.status_code == 200, r.text
    body = r.json()
    creates = requests.get(shop.fake + "/_control/creates").json()[n:]
    code = order_code(body["order_id"])
    assert [c["orderCode"] for c in creates] == [code] * (2 if mode == "timeout" else 1)
    link = sql("SELECT payment_link_id FROM orders WHERE id = '%s'" % body["order_id"])
    assert body["checkout_url"] == "https://pay.payos.vn/web/" + link
    assert body["qr_code"] is None
    assert shop.control("pay", order_code=code)["statuses"] == [200]
    wait_status(shop, u["token"], body["order_id"], "completed")


def test_reconciler_settles_missed_webhooks_and_fails_dead_links(shop, cart, admin_h):
    u = cart["user"]
    missed = shop.checkout(u["token"], cart["session"]).json()["order_id"]
    other = new_user()
    sid = make_cart(other, [(cart["products"][1], 1)])
    dead = shop.checkout(other["token"], sid).json()["order_id"]
    assert shop.control("pay", order_code=order_code(missed), deliver=False)["statuses"] == []
    r = requests.post(shop.fake + "/v2/payment-requests/%d/cancel" % order_code(dead),
                      json={"cancellationReason": "test"},
                      headers={"x-client-id": CLIENT_ID, "x-api-key": API_KEY})
    assert r.json()["data"]["status"] == "CANCELLED"
    assert shop.status(u["token"], missed).json()["status"] == "pending"
    env = {"PAYOS_BASE_URL": shop.fake, "PAYOS_CLIENT_ID": CLIENT_ID, "PAYOS_API_KEY": API_KEY,
           "PAYOS_CHECKSUM_KEY": CHECKSUM_KEY, "PAYOS_RECONCILE_AFTER_S": "0"}
    for _ in range(2):  # a second pass replays the same transfer: no second effect
        r = run_cli("reconcile-payments", env=env)
        assert r.returncode == 0, r.stderr
    wait_status(shop, u["token"], missed, "completed")
    wait_status(shop, other["token"], dead, "failed")
    code = order_code(missed)
    wait_for("the replay's record", lambda: sql(
        "SELECT count(*) FROM payment_events WHERE order_code = %d" % code) == "1")
    assert sql("SELECT paid_amount FROM orders WHERE id = '%s'" % missed) == "50000.00"


# --- refusals -------------------------------------------------------------------

def test_checkout_refusals(shop, cart, admin_h):
    u = cart["user"]
    other = new_user()
    empty = make_cart(other, [])
    cases = [
        (u["token"], empty, 404),                 # someone else's session
        (u["token"], str(uuid.uuid4()), 404),     # no such session
        (other["token"], empty, 422),             # empty cart
        (other["token"], "not-a-uuid", 422),
    ]
    for token, sid, status in cases:
        r = shop.checkout(token, sid)
        assert r.status_code == status, (sid, r.text)
    assert requests.post(shop.base + "/checkout/request", json={"session_id": empty}).status_code == 401
    sql("UPDATE shopping_sessions SET status = 'expired' WHERE id = '%s'" % cart["session"])
    assert shop.checkout(u["token"], cart["session"]).status_code == 409


def test_orders_and_statuses_are_private(shop, cart):
    u = cart["user"]
    order_id = shop.checkout(u["token"], cart["session"]).json()["order_id"]
    other = new_user()
    h = auth(other["token"])
    assert shop.status(other["token"], order_id).status_code == 404
    assert requests.get(BASE + "/orders/" + order_id, headers=h).status_code == 404
    assert requests.get(BASE + "/orders", headers=h).json() == []
    nid = sql("INSERT INTO notifications (tenant_id, user_id, title, body) SELECT tenant_id, id, "
              "'t', 'b' FROM users WHERE id = '%s' RETURNING id" % u["id"])
    assert requests.post(BASE + "/notifications/%s/read" % nid, headers=h).status_code == 404
    assert requests.get(BASE + "/orders?limit=0", headers=auth(u["token"])).status_code == 422
    assert requests.get(BASE + "/checkout/status/nope", headers=auth(u["token"])).status_code == 422
