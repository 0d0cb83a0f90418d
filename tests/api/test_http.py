"""The HTTP core: routing errors, FastAPI-style error bodies, X-Request-ID and
the access log, size limits (headers, declared and chunked bodies), slow
clients, and graceful shutdown with a request in flight."""
import json
import os
import re
import select
import signal
import socket
import time
import uuid

import pytest
import requests

from conftest import BASE, STATE
from extra_ingest import extra_ingest

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PORT = int(BASE.rsplit(":", 1)[1])
JSON_ROUTE = "/auth/register"  # any route that reads a JSON body
MAX_JSON = int(os.environ.get("HTTP_MAX_JSON_BYTES", "1048576"))


def raw_exchange(data, port=PORT, timeout=10):
    """Sends data on a fresh connection and returns all bytes the server
    sends until it closes (or stops answering for timeout seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_until_closed(s, timeout)


def read_until_closed(s, timeout=10):
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    except socket.timeout:
        return out


def status_of(response_bytes):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", response_bytes)
    return int(m.group(1)) if m else None


def json_of(response_bytes):
    return json.loads(response_bytes.split(b"\r\n\r\n", 1)[1])


@pytest.mark.parametrize("method,path,status,detail,allow", [
    ("GET", "/no/such/path", 404, "Not Found", None),
    ("POST", "/no/such/path", 404, "Not Found", None),
    ("GET", "/healthzz", 404, "Not Found", None),
    ("POST", "/healthz", 405, "Method Not Allowed", "GET"),
    ("DELETE", "/metrics", 405, "Method Not Allowed", "GET"),
    ("GET", "/auth/register", 405, "Method Not Allowed", "POST"),
    ("GET", "/healthz/", 200, None, None),  # trailing slash optional
])
def test_routing(method, path, status, detail, allow):
    r = requests.request(method, BASE + path)
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json"
    if detail:
        assert r.json() == {"detail": detail}
    assert r.headers.get("Allow") == allow


@pytest.mark.parametrize("sent,echoed", [
    ("abc-123", True),
    ("A.b_C-9." * 8, True),  # 64 characters
    ("x" * 65, False),
    ("has space", False),
    ("semi;colon", False),
    ("", False),
    (None, False),
])
def test_request_id_echoed_or_generated(sent, echoed):
    headers = {} if sent is None else {"X-Request-ID": sent}
    r = requests.get(BASE + "/healthz", headers=headers)
    rid = r.headers["X-Request-ID"]
    if echoed:
        assert rid == sent
    else:
        assert UUID4_RE.match(rid), rid


def test_generated_request_ids_differ():
    ids = {requests.get(BASE + "/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def access_lines(log_path, request_id):
    lines = []
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            if entry.get("request_id") == request_id and entry.get("msg") == "request":
                lines.append(entry)
    return lines


def test_access_log_line_carries_the_request_id():
    rid = "access-" + uuid.uuid4().hex
    path = "/no-such-%s" % uuid.uuid4().hex
    r = requests.get(BASE + path, headers={"X-Request-ID": rid})
    assert r.status_code == 404
    log = os.path.join(STATE, "logs", "ingest.log")
    deadline = time.time() + 10
    while not access_lines(log, rid) and time.time() < deadline:
        time.sleep(0.05)  # the line is written once the response is sent
    [entry] = access_lines(log, rid)
    assert entry["method"] == "GET"
    assert entry["path"] == path
    assert entry["route"] == "unmatched"
    assert entry["status"] == 404
    assert entry["bytes"] == len(r.content)
    assert entry["remote"] == "127.0.0.1"
    assert entry["duration_ms"] >= 0


@pytest.mark.parametrize("body,type_,msg", [
    (b'{"email":', "json_invalid", "JSON decode error"),
    (b"not json", "json_invalid", "JSON decode error"),
    (b"[1, 2]", "model_attributes_type",
     "Input should be a valid dictionary or object to extract fields from"),
    (b'"text"', "model_attributes_type",
     "Input should be a valid dictionary or object to extract fields from"),
    (b"", "missing", "Field required"),
])
def test_invalid_json_body_is_422(body, type_, msg):
    r = requests.post(BASE + JSON_ROUTE, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    [err] = r.json()["detail"]
    assert err["loc"] == ["body"]
    assert err["type"] == type_
    assert err["msg"] == msg


def test_declared_length_over_the_limit_is_413_before_the_body():
    # No body follows the headers: the answer must not wait for it.
    out = raw_exchange(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % (JSON_ROUTE.encode(), MAX_JSON + 1))
    assert status_of(out) == 413, out
    assert json_of(out) == {"detail": "Request body too large"}


def test_declared_length_at_the_limit_is_read():
    body = b" " * (MAX_JSON - 2) + b"[]"
    r = requests.post(BASE + JSON_ROUTE, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422  # read and parsed: not an object
    assert r.json()["detail"][0]["type"] == "model_attributes_type"


def test_chunked_body_growing_over_the_limit_is_413():
    def chunks():
        for _ in range(MAX_JSON // 65536 + 2):
            yield b" " * 65536

    r = requests.post(BASE + JSON_ROUTE, data=chunks(),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"detail": "Request body too large"}


# Query arguments reach Postgres as text, which must be UTF-8: a value or a
# name that is not is a 422 naming it (was a 500 from Postgres).
@pytest.mark.parametrize("path,field", [
    ("/products/?query=%FF", "query"),
    ("/products/?query=a%C3", "query"),  # truncated
    ("/products/?query=%C0%AF", "query"),  # overlong
    ("/products/?query=%ED%A0%80", "query"),  # a surrogate
    ("/categories?x=%F4%90%80%80", "x"),  # past U+10FFFF
    ("/products/?%FF=1", ""),  # the name itself: not shown
])
def test_a_query_argument_that_is_not_utf8_is_422(path, field):
    r = requests.get(BASE + path)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [{"loc": ["query", field], "msg": "Input should be a valid UTF-8 string",
                                   "type": "string_unicode"}]


def test_utf8_query_arguments_pass():
    r = requests.get(BASE + "/products/", params={"query": "c\u00e0 ph\u00ea \u00a0\U0001F600"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("header_bytes,status", [(4096, 200), (64 * 1024, 431)])
def test_header_size_limit(header_bytes, status):
    out = raw_exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"X-Padding: " + b"p" * header_bytes + b"\r\n\r\n")
    assert status_of(out) == status, out[:200]


def test_idle_client_is_cut_off():
    with extra_ingest("ingest-idle", HTTP_IDLE_TIMEOUT_S=1) as ingest:
        with ingest.connect() as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a request, then silence
            assert read_until_closed(s, timeout=20) == b""  # closed, no answer
        # the server still serves others
        assert requests.get(ingest.base + "/healthz").status_code == 200


def test_body_slower_than_the_request_timeout_is_408():
    with extra_ingest("ingest-slowbody", HTTP_REQUEST_TIMEOUT_S=1,
                      HTTP_IDLE_TIMEOUT_S=30) as ingest:
        with ingest.connect() as s:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 64\r\n\r\n{" % JSON_ROUTE.encode())
            # one byte every 0.3 s: never idle, but the whole body would take 19 s
            for _ in range(63):
                if select.select([s], [], [], 0.3)[0]:
                    break
                s.sendall(b" ")
            out = read_until_closed(s)
        assert status_of(out) == 408, out
        assert json_of(out) == {"detail": "Request Timeout"}


def in_flight(base):
    text = requests.get(base + "/metrics").text
    return int(float(re.search(r"^smartcart_http_in_flight (\S+)$", text, re.M).group(1)))


def test_sigterm_lets_the_request_in_flight_finish():
    with extra_ingest("ingest-shutdown") as ingest:
        s = ingest.connect()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 12\r\n\r\n{\"email\"" % JSON_ROUTE.encode())  # 8 of 12
        # in flight once the server has read the headers (the scrape counts itself too)
        deadline = time.time() + 10
        while in_flight(ingest.base) < 2:
            assert time.time() < deadline, "the request never became in flight"
            time.sleep(0.05)
        ingest.proc.send_signal(signal.SIGTERM)
        # new connections are refused once it has stopped accepting
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", ingest.port), timeout=1).close()
            except (ConnectionRefusedError, ConnectionResetError):
                break  # reset: it reached the backlog as the listener closed, unserved
            assert time.time() < deadline, "still accepting after SIGTERM"
            time.sleep(0.05)
        s.sendall(b": 1}")  # the rest of the body: the request completes
        out = read_until_closed(s)
        s.close()
        assert status_of(out) == 422, out  # {"email": 1} is no valid registration
        assert "detail" in json_of(out)
        assert ingest.proc.wait(timeout=30) == 0
