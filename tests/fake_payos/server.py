"""A fake PayOS merchant API for the tests (Python stdlib only; run with
/usr/bin/python3). It does what PayOS does with our requests -- checks
x-client-id, x-api-key and the request signature exactly, keeps payment
links by orderCode, signs its answers -- and it can "pay" a link by sending a
correctly signed webhook to the configured URL.

    server.py --port P --client-id C --api-key K --checksum-key S

PayOS endpoints: POST /v2/payment-requests, GET /v2/payment-requests/{id}
(orderCode or paymentLinkId), POST /v2/payment-requests/{id}/cancel.

Control endpoints (tests only; JSON bodies):
  POST /_control/config {"webhook_url": "..."}
  POST /_control/next-create {"mode": "timeout"|"5xx"|"231", "count": 1, "delay_s": 3}
       the next `count` creates: sleep delay_s then create the link and
       answer (the client has given up by then: a lost answer); answer 503
       without creating; create the link but answer "231".
  POST /_control/pay {"order_code": N, "amount": A (default: the link's),
       "duplicates": 1, "reference": "...", "deliver": true} -> {"statuses": [...], "body": webhook}
       Duplicates are sent concurrently; deliver false records the transfer
       but loses its webhook (for the reconciler).
  GET  /_control/creates  -> every create request received, in order
  POST /_control/reset
"""
import argparse
import hashlib
import hmac
import json
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def value_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(v)


def sign_data(data, key):
    """PayOS's signature of a data object: sorted key=value joined with &."""
    text = "&".join("%s=%s" % (k, value_text(data[k])) for k in sorted(data))
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign_request(body, key):
    text = "amount=%s&cancelUrl=%s&description=%s&orderCode=%s&returnUrl=%s" % (
        body.get("amount"), body.get("cancelUrl"), body.get("description"),
        body.get("orderCode"), body.get("returnUrl"))
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.links = {}  # orderCode -> link
        self.modes = []  # queued behaviours of the next creates
        self.creates = []
        self.webhook_url = getattr(self, "webhook_url", None)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc):
        body = json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def payos(self, code, desc, data=None):
        doc = {"code": code, "desc": desc, "data": data}
        if data is not None:
            doc["signature"] = sign_data(data, self.state.args.checksum_key)
        self.reply(200, doc)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def authorised(self):
        a = self.state.args
        if (self.headers.get("x-client-id") != a.client_id
                or self.headers.get("x-api-key") != a.api_key):
            self.reply(401, {"code": "401", "desc": "Unauthorized", "data": None})
            return False
        return True

    def link_info(self, link):
        paid = sum(t["amount"] for t in link["transactions"])
        return {"id": link["paymentLinkId"], "orderCode": link["orderCode"],
                "amount": link["amount"], "amountPaid": paid,
                "amountRemaining": max(link["amount"] - paid, 0), "status": link["status"],
                "createdAt": link["createdAt"], "transactions": link["transactions"],
                "canceledAt": link.get("canceledAt"),
                "cancellationReason": link.get("cancellationReason")}

    def find(self, ident):
        for link in self.state.links.values():
            if str(link["orderCode"]) == ident or link["paymentLinkId"] == ident:
                return link
        return None

    # ---- PayOS API ----

    def create(self):
        st, b = self.state, self.body()
        if not self.authorised():
            return
        if not isinstance(b, dict):
            return self.payos("20", "Invalid JSON")
        with st.lock:
            st.creates.append(b)
            mode = st.modes.pop(0) if st.modes else None
        required = ("orderCode", "amount", "description", "cancelUrl", "returnUrl", "signature")
        if any(k not in b for k in required) or not isinstance(b["orderCode"], int) \
                or not isinstance(b["amount"], int) or b["amount"] <= 0:
            return self.payos("20", "Thông tin truyền lên không đúng")
        if not hmac.compare_digest(sign_request(b, st.args.checksum_key), str(b["signature"])):
            return self.payos("201", "Chữ ký không hợp lệ")
        if mode and mode["mode"] == "5xx":
            return self.reply(503, {"code": "503", "desc": "Service unavailable", "data": None})
        with st.lock:
            if b["orderCode"] in st.links:
                return self.payos("231", "Đơn thanh toán đã tồn tại")
            link_id = uuid.uuid4().hex
            st.links[b["orderCode"]] = {
                "paymentLinkId": link_id, "orderCode": b["orderCode"], "amount": b["amount"],
                "description": b["description"], "status": "PENDING", "transactions": [],
                "createdAt": datetime.now(timezone.utc).isoformat()}
        if mode and mode["mode"] == "timeout":
            time.sleep(mode.get("delay_s", 3))
        if mode and mode["mode"] == "231":
            return self.payos("231", "Đơn thanh toán đã tồn tại")
        data = {"bin": "970422", "accountNumber": "12345678", "accountName": "SMARTCART",
                "amount": b["amount"], "description": b["description"],
                "orderCode": b["orderCode"], "currency": "VND", "paymentLinkId": link_id,
                "status": "PENDING", "expiredAt": None,
                "checkoutUrl": "https://pay.payos.vn/web/" + link_id,
                "qrCode": "00020101021238570010A000000727012700069704220113VQR%d" % b["orderCode"]}
        self.payos("00", "success", data)

    def read(self, ident):
        if not self.authorised():
            return
        with self.state.lock:
            link = self.find(ident)
            info = self.link_info(link) if link else None
        if not info:
            return self.payos("101", "Không tìm thấy đơn thanh toán")
        self.payos("00", "success", info)

    def cancel(self, ident):
        b = self.body() or {}
        if not self.authorised():
            return
        with self.state.lock:
            link = self.find(ident)
            if link and link["status"] in ("PENDING", "PROCESSING"):
                link["status"] = "CANCELLED"
                link["canceledAt"] = datetime.now(timezone.utc).isoformat()
                link["cancellationReason"] = b.get("cancellationReason")
            info = self.link_info(link) if link else None
        if not info:
            return self.payos("101", "Không tìm thấy đơn thanh toán")
        self.payos("00", "success", info)

    # ---- control ----

    def pay(self):
        st, b = self.state, self.body() or {}
        with st.lock:
            link = st.links.get(b.get("order_code"))
            if not link:
                return self.reply(404, {"error": "no link for that order code"})
            amount = b.get("amount", link["amount"])
            data = {"orderCode": link["orderCode"], "amount": amount,
                    "description": link["description"], "accountNumber": "12345678",
                    "reference": b.get("reference") or "FT" + uuid.uuid4().hex[:12].upper(),
                    "transactionDateTime": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                    "currency": "VND", "paymentLinkId": link["paymentLinkId"],
                    "code": "00", "desc": "success", "counterAccountBankId": "",
                    "counterAccountBankName": "", "counterAccountName": "",
                    "counterAccountNumber": "", "virtualAccountName": "",
                    "virtualAccountNumber": ""}
            link["transactions"].append({"reference": data["reference"], "amount": amount,
                                         "transactionDateTime": data["transactionDateTime"]})
            paid = sum(t["amount"] for t in link["transactions"])
            link["status"] = "PAID" if paid >= link["amount"] else "UNDERPAID"
            url = st.webhook_url
        body = {"code": "00", "desc": "success", "success": True, "data": data,
                "signature": sign_data(data, st.args.checksum_key)}
        statuses = [None] * (int(b.get("duplicates", 1)) if b.get("deliver", True) else 0)

        def send(i):
            req = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    statuses[i] = r.status
            except urllib.error.HTTPError as e:
                statuses[i] = e.code
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(statuses))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.reply(200, {"statuses": statuses, "body": body})

    def control(self, what):
        st, b = self.state, self.body() or {}
        with st.lock:
            if what == "config":
                st.webhook_url = b.get("webhook_url")
            elif what == "next-create":
                st.modes.extend([dict(b)] * int(b.get("count", 1)))
            elif what == "reset":
                st.reset()
            else:
                return self.reply(404, {"error": "unknown control"})
        self.reply(200, {"ok": True})

    def do_POST(self):
        parts = self.path.strip("/").split("/")
        if self.path == "/v2/payment-requests":
            return self.create()
        if len(parts) == 4 and parts[:2] == ["v2", "payment-requests"] and parts[3] == "cancel":
            return self.cancel(parts[2])
        if self.path == "/_control/pay":
            return self.pay()
        if parts[0] == "_control" and len(parts) == 2:
            return self.control(parts[1])
        self.reply(404, {"code": "404", "desc": "Not found", "data": None})

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["v2", "payment-requests"]:
            return self.read(parts[2])
        if self.path == "/_control/creates":
            with self.state.lock:
                return self.reply(200, list(self.state.creates))
        self.reply(404, {"code": "404", "desc": "Not found", "data": None})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--api-key", required=True)
    p.add_argument("--checksum-key", required=True)
    args = p.parse_args()
    Handler.state = State(args)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
