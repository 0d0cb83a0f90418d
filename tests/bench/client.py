"""API client for the `make bench` suites (tests/bench/*.sh): sets up what a
load run needs through the real API (users, cart devices, signed webhooks) and
measures the end-to-end latencies no HTTP load generator sees: upload (202) to
`ready` on Redis channel media.status, webhook to `completed` at
/checkout/status. Figures are printed as one "RESULT key=value ..." line.

Usage (BENCH_BASE = ingest's URL; DATABASE_URL and REDIS_URL from the stack):
  client.py token EMAIL                      register (once) and log in; prints the bearer token
  client.py carts N OUT                      N users with a cart device each; OUT: loadgen lines
                                             PATCHing each device's session
  client.py media-e2e FILE RATE SECONDS      uploads at RATE/s, 202 -> ready percentiles
  client.py media-batch FILE COUNT           COUNT uploads at once; images/s the worker makes ready
  client.py webhook-bodies N OUT             N signed webhooks (PAYOS_CHECKSUM_KEY) as loadgen lines
  client.py webhook-e2e RATE SECONDS         orders paid by webhooks at RATE/s, webhook -> completed
"""
import concurrent.futures
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import requests

BASE = os.environ.get("BENCH_BASE", "http://127.0.0.1:8080")
PASSWORD = "bench password 1"
HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "fake_payos", os.path.join(HERE, "..", "fake_payos", "server.py"))
fake_payos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_payos)

_local = threading.local()


def http():
    """One keep-alive session per thread."""
    if not hasattr(_local, "s"):
        _local.s = requests.Session()
    return _local.s


def bearer(token):
    return {"Authorization": "Bearer " + token}


def sql(query):
    out = subprocess.run(["psql", os.environ["DATABASE_URL"], "-qAtc", query], check=True,
                         capture_output=True, text=True)
    return out.stdout.split()


def token(email):
    r = http().post(BASE + "/auth/register",
                    json={"email": email, "password": PASSWORD, "full_name": "Bench"})
    if r.status_code not in (201, 409):
        raise SystemExit("register %s: %d %s" % (email, r.status_code, r.text))
    r = http().post(BASE + "/auth/login", data={"username": email, "password": PASSWORD})
    if r.status_code != 200:
        raise SystemExit("login %s: %d %s" % (email, r.status_code, r.text))
    return r.json()["access_token"]


def percentiles(values):
    v = sorted(values)
    if not v:
        return 0.0, 0.0, 0.0
    return v[int(0.50 * (len(v) - 1))], v[int(0.99 * (len(v) - 1))], v[-1]


def result(latencies_s, **extra):
    p50, p99, top = percentiles(latencies_s)
    fields = ["n=%d" % len(latencies_s), "p50_ms=%.1f" % (p50 * 1e3),
              "p99_ms=%.1f" % (p99 * 1e3), "max_ms=%.1f" % (top * 1e3)]
    fields += ["%s=%s" % kv for kv in extra.items()]
    print("RESULT " + " ".join(fields), flush=True)


def paced(rate, seconds, job, workers=32):
    """Runs job(i) at a steady rate from a pool (open loop: a slow answer does
    not delay the next start); returns the jobs' results."""
    n = int(rate * seconds)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = []
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(job, i))
        return [f.result() for f in futures]


# --- cart devices --------------------------------------------------------------

def cart_device(i, product):
    """User i's cart device: (session id, device token), through generate-qr,
    verify-qr (the phone) and check-qr with the poll secret (the device)."""
    user = token("bench-cart-%d@example.com" % i)
    qr = http().post(BASE + "/sessions/generate-qr").json()
    r = http().post(BASE + "/sessions/verify-qr", json={"token": qr["token"]},
                    headers=bearer(user))
    if r.status_code != 200:
        raise SystemExit("verify-qr: %d %s" % (r.status_code, r.text))
    dev = http().get(BASE + "/sessions/check-qr", params={"token": qr["token"]},
                     headers={"X-Poll-Secret": qr["poll_secret"]}).json()
    body = json.dumps({"items": [{"product_id": product, "quantity": 1 + i % 5}]})
    return "/sessions/%s/items\t%s\tAuthorization: Bearer %s\tContent-Type: application/json" % (
        dev["session_id"], body, dev["device_token"])


def carts(n, out):
    token("bench-cart-0@example.com")
    products = sql("SELECT p.id FROM products p JOIN users u USING (tenant_id) "
                   "WHERE u.email = 'bench-cart-0@example.com' ORDER BY random() LIMIT %d" % n)
    # Registration and login hash passwords (argon2id): a few at a time.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        lines = list(pool.map(lambda i: cart_device(i, products[i % len(products)]), range(n)))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


# --- media ---------------------------------------------------------------------

class StatusWatch(threading.Thread):
    """Subscribes to Redis channel media.status and notes when each media id
    was first announced ready (monotonic clock). Speaks RESP itself: the
    bench needs nothing beyond the Python standard library and requests."""

    def __init__(self, channel="media.status"):
        super().__init__(daemon=True)
        url = urllib.parse.urlparse(os.environ["REDIS_URL"])
        self.sock = socket.create_connection((url.hostname, url.port or 6379))
        self.sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel),
                                                                    channel.encode()))
        self.stream = self.sock.makefile("rb")
        self.ready, self.failed = {}, {}
        self.cond = threading.Condition()
        self._read()  # the subscription's confirmation

    def _read(self):
        line = self.stream.readline().rstrip(b"\r\n")
        if line[:1] == b"*":
            return [self._read() for _ in range(int(line[1:]))]
        if line[:1] == b"$":
            data = self.stream.read(int(line[1:]) + 2)[:-2]
            return data
        return line[1:]

    def run(self):
        while True:
            msg = self._read()
            now = time.monotonic()
            if not isinstance(msg, list) or len(msg) != 3 or msg[0] != b"message":
                continue
            status = json.loads(msg[2])
            target = {"ready": self.ready, "failed": self.failed}.get(status.get("status"))
            if target is not None:
                with self.cond:
                    target.setdefault(status["id"], now)
                    self.cond.notify_all()

    def wait(self, ids, timeout):
        """Waits until every id is ready or failed, or timeout seconds pass."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(i in self.ready or i in self.failed for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


def upload(tok, data, name="bench.jpg"):
    """(media id, monotonic time of the 202)."""
    r = http().post(BASE + "/api/v1/media/upload/image", headers=bearer(tok),
                    files={"file": (name, data, "image/jpeg")})
    at = time.monotonic()
    if r.status_code != 202:
        raise SystemExit("upload: %d %s" % (r.status_code, r.text))
    return r.json()["id"], at


def media_warm(watch, tok, data):
    """One upload made ready: the worker has joined its group and loaded libvips."""
    mid, _ = upload(tok, data)
    if not watch.wait([mid], 60) or mid not in watch.ready:
        raise SystemExit("the media worker did not make a warm-up image ready")


def media_e2e(path, rate, seconds):
    data = open(path, "rb").read()
    tok = token("bench-media@example.com")
    watch = StatusWatch()
    watch.start()
    media_warm(watch, tok, data)
    accepted = paced(rate, seconds, lambda i: upload(tok, data), workers=16)
    done = watch.wait([m for m, _ in accepted], 180)
    lat = [max(0.0, watch.ready[m] - at) for m, at in accepted if m in watch.ready]
    # How fast the worker made them ready, from the first to the last.
    times = sorted(watch.ready[m] for m, _ in accepted if m in watch.ready)
    drain = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0
    result(lat, failed=sum(m in watch.failed for m, _ in accepted),
           unfinished=0 if done else len(accepted) - len(lat), ready_per_s="%.1f" % drain)


def media_batch(path, count):
    """Uploads count images together, then waits: images/s between the first
    202 and the last ready (the worker is the bottleneck: uploading takes a
    fraction of processing)."""
    data = open(path, "rb").read()
    tok = token("bench-media@example.com")
    watch = StatusWatch()
    watch.start()
    media_warm(watch, tok, data)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        accepted = list(pool.map(lambda i: upload(tok, data), range(count)))
    ids = [m for m, _ in accepted]
    if not watch.wait(ids, 300) or any(m in watch.failed for m in ids):
        raise SystemExit("not every image became ready")
    first = min(at for _, at in accepted)
    last = max(watch.ready[m] for m in ids)
    print("RESULT images_per_s=%.2f n=%d seconds=%.2f bytes=%d"
          % (count / (last - first), count, last - first, len(data)), flush=True)


# --- webhooks ------------------------------------------------------------------

def webhook_body(code, amount, reference):
    data = {"orderCode": code, "amount": amount, "description": "SC%d" % code,
            "accountNumber": "12345678", "reference": reference,
            "transactionDateTime": "2025-09-05 10:00:00", "currency": "VND",
            "paymentLinkId": "bench", "code": "00", "desc": "success",
            "counterAccountBankId": "", "counterAccountBankName": "", "counterAccountName": "",
            "counterAccountNumber": "", "virtualAccountName": "", "virtualAccountNumber": ""}
    return json.dumps({"code": "00", "desc": "success", "success": True, "data": data,
                       "signature": fake_payos.sign_data(data, os.environ["PAYOS_CHECKSUM_KEY"])},
                      separators=(",", ":"))


def webhook_bodies(n, out):
    """Distinct transfers for order codes no order has (nothing consumes them
    while the acceptance rate is measured)."""
    run = uuid.uuid4().hex[:8]
    with open(out, "w") as f:
        for i in range(n):
            f.write("/checkout/webhook/payos\t%s\tContent-Type: application/json\n"
                    % webhook_body(900000000 + i, 10000, "BENCH%s%d" % (run, i)))


def webhook_e2e(rate, seconds):
    tok = token("bench-payer@example.com")
    me = http().get(BASE + "/auth/me", headers=bearer(tok)).json()
    n = int(rate * seconds) + 1
    rows = sql("INSERT INTO orders (tenant_id, user_id, total_amount, payable_amount) "
               "SELECT tenant_id, id, 10000, 10000 FROM users, generate_series(1, %d) "
               "WHERE id = '%s' RETURNING id || ',' || order_code" % (n, me["id"]))
    orders = [r.split(",") for r in rows]

    def pay(i):
        order_id, code = orders[i]
        t0 = time.monotonic()
        r = http().post(BASE + "/checkout/webhook/payos", data=webhook_body(
            int(code), 10000, "BENCH-%s" % order_id), headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            raise SystemExit("webhook: %d %s" % (r.status_code, r.text))
        while time.monotonic() - t0 < 30:
            s = http().get(BASE + "/checkout/status/" + order_id, headers=bearer(tok)).json()
            if s["status"] == "completed":
                return time.monotonic() - t0
            time.sleep(0.002)
        return None

    # The first one also waits for the payment worker to join its group.
    if pay(0) is None:
        raise SystemExit("the payment worker did not complete a warm-up order")
    lat = paced(rate, seconds, lambda i: pay(i + 1))
    result([x for x in lat if x is not None], unfinished=sum(x is None for x in lat))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "token":
        print(token(args[0]))
    elif cmd == "carts":
        carts(int(args[0]), args[1])
    elif cmd == "media-e2e":
        media_e2e(args[0], float(args[1]), float(args[2]))
    elif cmd == "media-batch":
        media_batch(args[0], int(args[1]))
    elif cmd == "webhook-bodies":
        webhook_bodies(int(args[0]), args[1])
    elif cmd == "webhook-e2e":
        webhook_e2e(float(args[0]), float(args[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
