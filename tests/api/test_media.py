"""Media uploads end to end (issue 3): ingest → R2 staging → Kafka → media worker
→ R2 final keys → Postgres → Redis status. Images are made here (PNG with zlib,
JPEG with the vips CLI, EXIF written by hand) and outputs are decoded with
vipsheader, so every size and metadata claim is checked on real bytes."""
import os
import signal
import struct
import subprocess
import tempfile
import threading
import time
import uuid
import zlib

import pytest
import requests

import conftest
from conftest import BASE, BUILD, auth, register, login, run_cli, sql
from extra_ingest import closed_port, extra_ingest

PUBLIC = os.environ.get("CLOUDFLARE_R2_PUBLIC_URL", "http://127.0.0.1:4569/smartcart/")
IMAGE_TYPES = "JPEG, PNG, WebP, GIF, HEIC, AVIF"
NO_CUSTOMER = "Hồ sơ khách hàng không tồn tại"


# ---- helpers ----

def png(width, height, pixel=None):
    """An RGB PNG whose pixels come from pixel(x, y) (default: a gradient)."""
    if pixel is None:
        def pixel(x, y):
            return (x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), 128)
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw.extend(pixel(x, y))
    return _png_file(width, height, 8, 2, zlib.compress(bytes(raw), 6))


def _png_file(width, height, depth, color_type, idat):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def huge_png(side=20000):
    """A black side×side 1-bit PNG: some 50 KB on disk, 400 megapixels decoded."""
    z = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    return _png_file(side, side, 1, 0, idat)


def vips_convert(data, src_ext, dst):
    """Converts data with the vips CLI; dst is e.g. '.jpg[Q=90]'."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in" + src_ext)
        out = os.path.join(d, "out" + dst.split("[")[0])
        open(src, "wb").write(data)
        subprocess.run(["vips", "copy", src, os.path.join(d, "out" + dst)], check=True)
        return open(out, "rb").read()


def exif_app1(orientation, with_gps=True):
    """An APP1 Exif segment (big-endian TIFF) with Orientation and a GPS IFD."""
    entries0 = [struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)]
    if with_gps:
        entries0.append(None)  # GPS pointer, filled below
    ifd0_size = 2 + 12 * len(entries0) + 4
    gps_off = 8 + ifd0_size
    if with_gps:
        entries0[1] = struct.pack(">HHII", 0x8825, 4, 1, gps_off)
    ifd0 = struct.pack(">H", len(entries0)) + b"".join(entries0) + struct.pack(">I", 0)
    gps = b""
    if with_gps:
        n = 5
        data_off = gps_off + 2 + 12 * n + 4
        lat = struct.pack(">6I", 21, 1, 1, 1, 30, 1)
        lon = struct.pack(">6I", 105, 1, 51, 1, 0, 1)
        gps_entries = [
            struct.pack(">HHI4s", 0x0000, 1, 4, bytes([2, 2, 0, 0])),
            struct.pack(">HHI4s", 0x0001, 2, 2, b"N\x00\x00\x00"),
            struct.pack(">HHII", 0x0002, 5, 3, data_off),
            struct.pack(">HHI4s", 0x0003, 2, 2, b"E\x00\x00\x00"),
            struct.pack(">HHII", 0x0004, 5, 3, data_off + len(lat)),
        ]
        gps = struct.pack(">H", n) + b"".join(gps_entries) + struct.pack(">I", 0) + lat + lon
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + gps
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def jpeg_with_exif(width, height, pixel, orientation=6):
    jpg = vips_convert(png(width, height, pixel), ".png", ".jpg[Q=90,strip]")
    assert jpg[:2] == b"\xff\xd8"
    return jpg[:2] + exif_app1(orientation) + jpg[2:]


def header(data, field=None, suffix=".bin"):
    """vipsheader of data: one field, or every field (-a) as text."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        argv = ["vipsheader"] + (["-f", field] if field else ["-a"]) + [f.name]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


def pixel_at(data, x, y):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        r = subprocess.run(["vips", "getpoint", f.name, str(x), str(y)], capture_output=True,
                           text=True, timeout=30, check=True)
        return [float(v) for v in r.stdout.split()]


def upload(token, data, name="photo.jpg", kind="image", base=BASE, path=None):
    path = path or "/api/v1/media/upload/" + kind
    headers = auth(token) if token else {}
    return requests.post(base + path, headers=headers, files={"file": (name, data)}, timeout=60)


def wait_done(token, media_id, deadline_s=90):
    """Polls the status endpoint until the asset is no longer pending."""
    end = time.time() + deadline_s
    while time.time() < end:
        r = requests.get(BASE + "/api/v1/media/%s/status" % media_id, headers=auth(token))
        assert r.status_code == 200, r.text
        if r.json()["status"] != "pending":
            return r.json()
        time.sleep(0.2)
    raise AssertionError("media %s still pending after %d s" % (media_id, deadline_s))


def fetch(url):
    r = requests.get(url, timeout=30)
    return r.status_code, r.content


def object_status(key):
    return requests.head(PUBLIC + key, timeout=30).status_code


def staging_gone(media_id):
    return object_status("staging/" + media_id) == 404


@pytest.fixture
def customer():
    """A registered customer (registration creates the customer profile)."""
    u = register()
    u["token"] = login(u["email"], u["password"])
    return u


# ---- acceptance and the happy path ----

def test_image_upload_makes_every_variant_with_its_real_size(customer):
    src = png(1500, 1000)
    # a raw multipart body: clients percent-encode CR/LF in names, we must not rely on it
    body = (b'--boundary42\r\nContent-Disposition: form-data; name="file"; filename="../../secret/'
            + "ảnh".encode() + b'\t\x07\x7f.png"\r\nContent-Type: image/jpeg\r\n\r\n'
            + src + b"\r\n--boundary42--\r\n")
    r = requests.post(BASE + "/api/v1/media/upload/image", data=body, headers=dict(
        auth(customer["token"]), **{"Content-Type": "multipart/form-data; boundary=boundary42"}))
    assert r.status_code == 202, r.text
    m = r.json()
    assert m["status"] == "pending" and m["kind"] == "image" and m["purpose"] == "media"
    assert m["owner_id"] == customer["id"]
    assert m["original_name"] == "ảnh.png"
    assert m["content_type"] == "image/png" and m["size_bytes"] == len(src)
    import hashlib
    assert m["sha256"] == hashlib.sha256(src).hexdigest()
    assert m["status_url"] == "/api/v1/media/%s/status" % m["id"]
    assert m["url"] is None and m["variants"] == {}

    st = wait_done(customer["token"], m["id"])
    assert st["status"] == "ready", st
    got = requests.get(BASE + "/api/v1/media/" + m["id"], headers=auth(customer["token"])).json()
    assert (got["width"], got["height"]) == (1500, 1000)
    assert got["url"] == st["url"]
    assert got["url"].startswith(PUBLIC + "media/") and got["url"].endswith(m["id"] + ".png")
    assert set(got["variants"]) == {"thumb", "medium"}
    expected_edge = {"thumb": 256, "medium": 1024}
    for name, v in got["variants"].items():
        assert v["url"] == "%s_%s.webp" % (got["url"][:-len(".png")], name)
        code, body = fetch(v["url"])
        assert code == 200
        assert body[:4] == b"RIFF" and body[8:12] == b"WEBP"
        w, h = int(header(body, "width")), int(header(body, "height"))
        assert (w, h) == (v["width"], v["height"])
        assert max(w, h) == expected_edge[name]
        assert abs(w / h - 1.5) < 0.02
    code, body = fetch(got["url"])
    assert code == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int(header(body, "width")), int(header(body, "height"))) == (1500, 1000)
    assert staging_gone(m["id"])


def test_exif_gps_is_stripped_and_orientation_6_comes_out_upright(customer):
    # Stored 200×100: left half red, right half blue. Orientation 6 means "rotate
    # 90° clockwise to display", so upright it is 100×200 with red on top.
    src = jpeg_with_exif(200, 100, lambda x, y: (255, 0, 0) if x < 100 else (0, 0, 255))
    meta = header(src, suffix=".jpg")
    assert "GPSLatitude" in meta and "orientation: 6" in meta.replace("-", ""), meta
    r = upload(customer["token"], src, name="gps.jpg")
    assert r.status_code == 202, r.text
    st = wait_done(customer["token"], r.json()["id"])
    assert st["status"] == "ready", st
    m = requests.get(BASE + "/api/v1/media/" + st["id"], headers=auth(customer["token"])).json()
    assert (m["width"], m["height"]) == (100, 200)
    urls = [m["url"]] + [v["url"] for v in m["variants"].values()]
    for url in urls:
        code, body = fetch(url)
        assert code == 200
        assert b"Exif" not in body and b"GPS" not in body, url
        meta = header(body)
        assert "gps" not in meta.lower() and "exif" not in meta.lower(), meta
        w, h = int(header(body, "width")), int(header(body, "height"))
        assert h > w, (url, w, h)
        top, bottom = pixel_at(body, w // 2, h // 8), pixel_at(body, w // 2, h * 7 // 8)
        assert top[0] > 200 and top[2] < 60, (url, top)
        assert bottom[2] > 200 and bottom[0] < 60, (url, bottom)


# UPLOAD_MEMORY_MAX_BYTES: 0 spools from the first byte, 1000 moves to the spool
# file midway, the default keeps the whole part in memory.
@pytest.mark.parametrize("memory_max", [0, 1000, None], ids=["spooled", "spilled", "in-memory"])
def test_file_part_arrives_whole_however_ingest_holds_it(customer, memory_max):
    import hashlib
    import random
    rng = random.Random(7)
    noise = [[tuple(rng.randrange(256) for _ in range(3)) for _ in range(160)] for _ in range(120)]
    src = png(160, 120, lambda x, y: noise[y][x])
    assert len(src) > 50000  # noise: many pieces of the multipart stream
    env = {} if memory_max is None else {"UPLOAD_MEMORY_MAX_BYTES": memory_max}
    with extra_ingest("ingest-media-memory", **env) as ing:
        r = upload(customer["token"], src, name="noise.png", base=ing.base)
    assert r.status_code == 202, r.text
    m = r.json()
    assert m["size_bytes"] == len(src) and m["sha256"] == hashlib.sha256(src).hexdigest()
    st = wait_done(customer["token"], m["id"])
    assert st["status"] == "ready", st
    code, body = fetch(st["url"])
    assert code == 200
    # the full size is a lossless PNG again: the pixels are the ones sent
    for x, y in [(0, 0), (159, 0), (80, 60), (3, 119), (159, 119)]:
        assert pixel_at(body, x, y) == list(noise[y][x]), (x, y)


def test_png_renamed_jpg_is_accepted_as_png(customer):
    r = upload(customer["token"], png(40, 30), name="holiday.jpg")
    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == "image/png"
    assert r.json()["original_name"] == "holiday.jpg"
    st = wait_done(customer["token"], r.json()["id"])
    assert st["status"] == "ready" and st["url"].endswith(".png")
    # never upscaled: both variants keep 40×30
    for v in st["variants"].values():
        assert (v["width"], v["height"]) == (40, 30)


# ---- refusals at the door ----

REFUSALS = [
    # (case, path kind, data, status, detail check)
    ("empty file", "image", b"", 422, lambda d: d[0]["loc"] == ["body", "file"]),
    ("text named .jpg", "image", b"just some text, not a picture\n" * 20, 415,
     lambda d: d == "Unsupported file type; accepted: " + IMAGE_TYPES),
    ("video on the image route", "image",
     struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 512, b"isom", b"mp41") + b"\0" * 64, 415,
     lambda d: d.startswith("Unsupported file type; accepted: ")),
    ("image on the video route", "video", None, 415,
     lambda d: d.startswith("Unsupported file type; accepted: MP4")),
]


@pytest.mark.parametrize("case,kind,data,status,check", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refused_uploads_store_nothing(customer, case, kind, data, status, check):
    data = png(8, 8) if data is None else data
    r = upload(customer["token"], data, name="x.jpg", kind=kind)
    assert r.status_code == status, r.text
    assert check(r.json()["detail"]), r.json()
    assert sql("SELECT count(*) FROM media_assets WHERE owner_id = :'a0'", customer["id"]) == "0"


def test_missing_file_part_is_422(customer):
    r = requests.post(BASE + "/api/v1/media/upload/image", headers=auth(customer["token"]),
                      files={"other": ("a.png", png(4, 4))})
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["loc"] == ["body", "file"] and d["type"] == "missing"


def test_unauthenticated_upload_is_401():
    r = upload(None, png(4, 4))
    assert r.status_code == 401
    assert r.headers.get("WWW-Authenticate") == "Bearer"


def test_over_the_cap_is_413_and_nothing_is_stored(customer):
    with extra_ingest("ingest-media-cap", IMAGE_MAX_BYTES=2000) as ing:
        big = png(200, 200)
        assert len(big) > 2000
        before = sql("SELECT count(*) FROM media_assets")
        r = upload(customer["token"], big, base=ing.base)
        assert r.status_code == 413
        assert r.json()["detail"] == "File too large: the limit is 2000 bytes"
        # declared over the cap: refused before any of the body is sent
        with ing.connect() as s:
            s.sendall(("POST /api/v1/media/upload/image HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\n"
                       "Content-Type: multipart/form-data; boundary=bb\r\n"
                       "Content-Length: 1000000000\r\n\r\n" % customer["token"]).encode())
            assert s.recv(4096).startswith(b"HTTP/1.1 413")
        assert sql("SELECT count(*) FROM media_assets") == before


BAD_BOUNDARY = ("Malformed multipart/form-data: the Content-Type needs a boundary of 2 to 70 "
                "characters")


def form(boundary, data):
    return (('--%s\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
             'Content-Type: image/png\r\n\r\n' % boundary).encode() + data
            + ("\r\n--%s--\r\n" % boundary).encode())


# libmicrohttpd's parser needs a boundary of 2 characters or more (RFC 2046
# allows 1): a form it cannot split is refused as such, on the routes that
# take only forms and on those that take JSON or a form alike, instead of
# "Field required" or a JSON parse error.
@pytest.mark.parametrize("path", ["/api/v1/media/upload/image", "/media/customers/me/avatar",
                                  "/api/customer/addresses/"])
@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=b",
                                          "multipart/form-data; boundary==",
                                          "Multipart/Form-Data; boundary=x",
                                          "multipart/form-data"])
def test_a_boundary_the_parser_cannot_use_is_400(customer, path, content_type):
    boundary = content_type.partition("boundary=")[2] or "b"
    before = sql("SELECT count(*) FROM media_assets WHERE owner_id = :'a0'", customer["id"])
    r = requests.post(BASE + path, data=form(boundary, png(8, 8)), headers=dict(
        auth(customer["token"]), **{"Content-Type": content_type}))
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": BAD_BOUNDARY}
    assert sql("SELECT count(*) FROM media_assets WHERE owner_id = :'a0'", customer["id"]) == before


def test_a_two_character_boundary_is_enough(customer):
    src = png(8, 8)
    r = requests.post(BASE + "/api/v1/media/upload/image", data=form("bb", src), headers=dict(
        auth(customer["token"]), **{"Content-Type": "multipart/form-data; boundary=bb"}))
    assert r.status_code == 202, r.text
    assert r.json()["size_bytes"] == len(src)


def test_kafka_down_answers_503_and_leaves_nothing(customer):
    ids = sql("SELECT count(*) FROM media_assets WHERE owner_id = :'a0'", customer["id"])
    assert ids == "0"
    with extra_ingest("ingest-media-nokafka", KAFKA_BROKERS="127.0.0.1:%d" % closed_port(),
                      KAFKA_DELIVERY_TIMEOUT_MS=1500) as ing:
        r = upload(customer["token"], png(16, 16), base=ing.base)
        assert r.status_code == 503, r.text
        assert "detail" in r.json()
    assert sql("SELECT count(*) FROM media_assets WHERE owner_id = :'a0'", customer["id"]) == "0"
    # the staging object is gone too: find its id in that ingest's log
    log = open(os.path.join(conftest.STATE, "logs", "ingest-media-nokafka.log")).read()
    import re
    undone = re.findall(r'"msg":"media job not enqueued; upload undone","media_id":"([0-9a-f-]{36})"', log)
    assert undone, "the ingest log names no undone upload"
    assert staging_gone(undone[-1])
    assert requests.get(BASE + "/api/v1/media/%s/status" % undone[-1],
                        headers=auth(customer["token"])).status_code == 404


class FailingS3:
    """A stand-in S3 endpoint whose PUTs fail with 500, but only once the
    upload's row is in Postgres (it waits for it, up to a bound): the staging
    PUT then fails after the row was written, whatever the timing. It records
    every request as (method, path, row seen); DELETEs succeed."""

    def __init__(self):
        import http.server
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                media_id = self.path.rsplit("/", 1)[-1]
                try:
                    seen = conftest.wait_for("the pending row", lambda: sql(
                        "SELECT status FROM media_assets WHERE id::text = :'a0'", media_id),
                        timeout=10)
                except AssertionError:
                    seen = None
                calls.append(("PUT", self.path, seen))
                self._answer(500)

            def do_DELETE(self):
                calls.append(("DELETE", self.path, None))
                self._answer(204)

            def do_HEAD(self):
                self._answer(200)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("path", ["/api/v1/media/upload/image", "/media/customers/me/avatar"])
def test_staging_put_failing_after_the_row_leaves_nothing(customer, path):
    cid = customer_id_of(customer["id"])
    with FailingS3() as s3, extra_ingest("ingest-media-s3fails", S3_ENDPOINT=s3.url) as ing:
        r = upload(customer["token"], png(16, 16), base=ing.base, path=path)
        assert r.status_code == 503, r.text
        bucket = os.environ.get("S3_BUCKET", "smartcart")
        puts = [c for c in s3.calls if c[0] == "PUT"]
        assert len(puts) == 1 and puts[0][1].startswith("/%s/staging/" % bucket), s3.calls
        assert puts[0][2] == "pending", "the row was not written before the PUT failed"
        # the row is removed and the staging key deleted (it holds nothing, but
        # a PUT that failed on the way might have)
        assert ("DELETE", puts[0][1], None) in s3.calls, s3.calls
    media_id = puts[0][1].rsplit("/", 1)[-1]
    assert sql("SELECT count(*) FROM media_assets WHERE owner_id = :'a0'", customer["id"]) == "0"
    assert sql("SELECT coalesce(avatar_media_id::text, '') FROM customers WHERE id = :'a0'",
               cid) == ""
    # nor is a pending status left in Redis
    assert requests.get(BASE + "/api/v1/media/%s/status" % media_id,
                        headers=auth(customer["token"])).status_code == 404


# ---- refusals by the worker ----

def test_decompression_bomb_fails_from_the_header(customer):
    bomb = huge_png()
    assert len(bomb) < 100_000
    r = upload(customer["token"], bomb, name="bomb.png")
    assert r.status_code == 202, r.text
    st = wait_done(customer["token"], r.json()["id"])
    assert st["status"] == "failed"
    assert "megapixels" in st["failure_reason"] and "20000x20000" in st["failure_reason"]
    assert st["url"] is None
    assert staging_gone(st["id"])


def test_truncated_jpeg_fails_with_a_reason(customer):
    jpg = vips_convert(png(300, 200), ".png", ".jpg[Q=90]")
    r = upload(customer["token"], jpg[: len(jpg) * 6 // 10], name="cut.jpg")
    assert r.status_code == 202, r.text
    st = wait_done(customer["token"], r.json()["id"])
    assert st["status"] == "failed" and st["failure_reason"], st
    assert staging_gone(st["id"])
    listed = requests.get(BASE + "/api/v1/media/", headers=auth(customer["token"])).json()
    assert [m["status"] for m in listed if m["id"] == st["id"]] == ["failed"]


# ---- videos ----

MP4 = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 512, b"isom", b"mp41") + \
    struct.pack(">I4s", 8 + 4000, b"mdat") + os.urandom(4000)
_EBML = bytes([0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01, 0x42, 0x82, 0x84]) + b"webm"
WEBM = b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(_EBML)]) + _EBML + os.urandom(3000)


@pytest.mark.parametrize("data,ext,mime", [(MP4, "mp4", "video/mp4"), (WEBM, "webm", "video/webm")],
                         ids=["mp4", "webm"])
def test_video_reaches_its_final_key(customer, data, ext, mime):
    r = upload(customer["token"], data, name="clip." + ext, kind="video")
    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == mime and r.json()["kind"] == "video"
    st = wait_done(customer["token"], r.json()["id"])
    assert st["status"] == "ready", st
    tenant = sql("SELECT tenant_id FROM users WHERE id = :'a0'", customer["id"])
    assert st["url"] == "%smedia/%s/%s/%s.%s" % (PUBLIC, tenant, customer["id"], st["id"], ext)
    assert fetch(st["url"]) == (200, data)
    assert staging_gone(st["id"])


# ---- reads, visibility and delete ----

def test_listing_reading_visibility_and_delete(customer, admin):
    other = register()
    other["token"] = login(other["email"], other["password"])
    a = upload(customer["token"], png(300, 200), name="a.png").json()
    v = upload(customer["token"], MP4, name="v.mp4", kind="video").json()
    wait_done(customer["token"], a["id"])
    wait_done(customer["token"], v["id"])
    h = auth(customer["token"])

    listed = requests.get(BASE + "/api/v1/media/", headers=h).json()
    assert [m["id"] for m in listed] == [v["id"], a["id"]]  # newest first
    only = requests.get(BASE + "/api/v1/media/?kind=image", headers=h).json()
    assert [m["id"] for m in only] == [a["id"]]
    page = requests.get(BASE + "/api/v1/media/?skip=1&limit=1", headers=h).json()
    assert [m["id"] for m in page] == [a["id"]]
    for q in ["limit=101", "limit=0", "skip=-1", "kind=audio", "limit=x"]:
        assert requests.get(BASE + "/api/v1/media/?" + q, headers=h).status_code == 422, q

    # another user: not listed, and every route answers 404 as for an unknown id
    oh = auth(other["token"])
    assert requests.get(BASE + "/api/v1/media/", headers=oh).json() == []
    for path in ["/api/v1/media/%s", "/api/v1/media/%s/status"]:
        for mid in [a["id"], str(uuid.uuid4()), "not-a-uuid"]:
            assert requests.get(BASE + path % mid, headers=oh).status_code == 404
    assert requests.delete(BASE + "/api/v1/media/" + a["id"], headers=oh).status_code == 404
    assert requests.get(BASE + "/api/v1/media/" + a["id"], headers=h).status_code == 200
    # the administrator of the tenant sees it
    ah = auth(admin["token"])
    assert requests.get(BASE + "/api/v1/media/" + a["id"], headers=ah).json()["id"] == a["id"]
    assert a["id"] in [m["id"] for m in requests.get(BASE + "/api/v1/media/?limit=100", headers=ah).json()]

    full = requests.get(BASE + "/api/v1/media/" + a["id"], headers=h).json()
    urls = [full["url"]] + [x["url"] for x in full["variants"].values()]
    assert all(requests.head(u).status_code == 200 for u in urls)
    assert requests.delete(BASE + "/api/v1/media/" + a["id"], headers=h).status_code == 204
    assert all(requests.head(u).status_code == 404 for u in urls)
    assert requests.get(BASE + "/api/v1/media/" + a["id"], headers=h).status_code == 404
    assert requests.get(BASE + "/api/v1/media/%s/status" % a["id"], headers=h).status_code == 404
    assert requests.delete(BASE + "/api/v1/media/" + a["id"], headers=h).status_code == 404
    assert sql("SELECT count(*) FROM media_assets WHERE id = :'a0'", a["id"]) == "0"


def test_status_comes_from_redis_then_postgres(customer):
    r = upload(customer["token"], png(20, 20)).json()
    st = wait_done(customer["token"], r["id"])
    redis_port = os.environ["STACK_REDIS_PORT"]
    cached = subprocess.run(["redis-cli", "-p", redis_port, "GET", "media:status:" + r["id"]],
                            capture_output=True, text=True).stdout
    assert '"status":"ready"' in cached.replace(" ", "")
    subprocess.run(["redis-cli", "-p", redis_port, "DEL", "media:status:" + r["id"]], check=True)
    again = requests.get(BASE + "/api/v1/media/%s/status" % r["id"], headers=auth(customer["token"]))
    assert again.status_code == 200 and again.json() == st


# ---- avatars (seed 000) ----

def customer_id_of(user_id):
    return sql("SELECT id FROM customers WHERE user_id = :'a0'", user_id)


def test_avatar_flows_replace_the_old_avatar(customer, admin):
    cid = customer_id_of(customer["id"])
    assert cid, "registration creates the customer profile"
    # the administrator sets it first
    r = upload(admin["token"], png(64, 64), path="/media/customers/%s/avatar" % cid)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["purpose"] == "avatar" and first["owner_id"] == customer["id"]
    st = wait_done(admin["token"], first["id"])
    assert st["status"] == "ready"
    # avatars are private: their URL is ingest's checked route /<key> (test_customer.py)
    assert st["url"].startswith("/media/") and not st["url"].startswith(PUBLIC)
    assert "/customers/%s/profile/%s" % (customer["id"], first["id"]) in st["url"]
    assert sql("SELECT avatar_media_id FROM customers WHERE id = :'a0'", cid) == first["id"]
    old_keys = [u[1:] for u in [st["url"]] + [v["url"] for v in st["variants"].values()]]

    # then the customer replaces it
    r = upload(customer["token"], png(80, 80), path="/media/customers/me/avatar")
    assert r.status_code == 200, r.text
    second = wait_done(customer["token"], r.json()["id"])
    assert second["status"] == "ready"
    assert sql("SELECT avatar_media_id FROM customers WHERE id = :'a0'", cid) == second["id"]
    assert sql("SELECT count(*) FROM media_assets WHERE id = :'a0'", first["id"]) == "0"
    assert all(object_status(k) == 404 for k in old_keys)
    assert object_status(second["url"][1:]) == 200


def test_avatar_without_a_customer_profile_is_404(admin, customer):
    r = upload(admin["token"], png(8, 8), path="/media/customers/me/avatar")
    assert r.status_code == 404 and r.json() == {"detail": NO_CUSTOMER}
    for cid in [str(uuid.uuid4()), "nope"]:
        r = upload(admin["token"], png(8, 8), path="/media/customers/%s/avatar" % cid)
        assert r.status_code == 404 and r.json() == {"detail": NO_CUSTOMER}
    # only administrators pick the customer
    cid = customer_id_of(customer["id"])
    r = upload(customer["token"], png(8, 8), path="/media/customers/%s/avatar" % cid)
    assert r.status_code == 403
    r = upload(customer["token"], b"not an image", path="/media/customers/me/avatar")
    assert r.status_code == 415


# ---- crash safety ----

def start_worker(name, **env):
    return conftest._start(name, [os.path.join(BUILD, "smartcart-worker"), "media"], env)


def processed_by(name):
    """How many messages the worker logging to logs/<name>.log has processed."""
    path = os.path.join(conftest.STATE, "logs", name + ".log")
    with open(path, errors="replace") as f:
        return sum('"msg":"message processed"' in line for line in f)


def test_sigkill_mid_burst_every_upload_ready_exactly_once(customer):
    group_done = "SELECT count(*) FROM processed_messages WHERE consumer_group = 'smartcart.media'"
    before = int(sql(group_done))
    dead_before = sql("SELECT count(*) FROM dead_letters")
    log = os.path.join(conftest.STATE, "logs", "worker-media-victim.log")
    if os.path.exists(log):
        os.remove(log)
    victim = start_worker("worker-media-victim", LOG_LEVEL="debug")
    time.sleep(8)  # let it join the group and take partitions
    src = vips_convert(png(1200, 900), ".png", ".jpg[Q=90]")
    ids = []

    def send(i):
        r = upload(customer["token"], src, name="burst%d.jpg" % i)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    # killed right after it finished its first job of the burst, so it holds more
    end = time.time() + 60
    while time.time() < end and processed_by("worker-media-victim") == 0:
        time.sleep(0.01)
    assert processed_by("worker-media-victim") > 0, "the victim never got a job"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for t in threads:
        t.join()
    assert len(ids) == 20
    successor = start_worker("worker-media-successor")
    try:
        for mid in ids:
            st = wait_done(customer["token"], mid, deadline_s=120)
            assert st["status"] == "ready", st
    finally:
        conftest._stop(successor, "worker-media-successor")
    rows = sql("SELECT count(*), count(*) FILTER (WHERE status = 'ready'),"
               " sum((SELECT count(*) FROM jsonb_object_keys(variants)))"
               " FROM media_assets WHERE id = ANY(string_to_array(:'a0', ',')::uuid[])",
               ",".join(ids))
    assert rows == "20|20|40"
    assert int(sql(group_done)) - before == 20
    assert sql("SELECT count(*) FROM dead_letters") == dead_before
    for mid in ids:
        assert staging_gone(mid)
