"""Product images and banners (seed 003 §6, §9; issue 4) end to end: ingest →
R2 staging → Kafka → media worker → the picture's final key
(images/products/<uuid>.<ext>, images/banners/<uuid>.<ext>) with its variants
beside it → the picture's row ready. Every object claim is checked on the
public URL (GET or HEAD), every row claim in SQL."""
import os
import threading
import time
import uuid

import pytest
import requests

from conftest import BASE, auth, run_cli
from extra_ingest import closed_port, extra_ingest
from test_media import PUBLIC, fetch, header, jpeg_with_exif, png, sql, vips_convert

IMAGE_KEYS = {"id", "product_id", "image_url", "is_primary", "status"}
BANNER_KEYS = {"id", "title", "image_url", "target_url", "is_active", "status", "created_at"}
VARIANTS = ("thumb", "medium")
MAGIC = {"jpg": b"\xff\xd8\xff", "png": b"\x89PNG", "webp": b"RIFF"}


@pytest.fixture
def admin_h(admin):
    return auth(admin["token"])


def make_product(h, name="Ảnh sản phẩm"):
    r = requests.post(BASE + "/products/", json={"name": name, "price": 1000}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def upload_image(h, product, data, name="photo.png", is_primary=None, base=BASE):
    form = {} if is_primary is None else {"is_primary": is_primary}
    return requests.post(base + "/products/%s/images" % product, headers=h, data=form,
                         files={"file": (name, data)}, timeout=60)


def images_of(product):
    r = requests.get(BASE + "/products/%s/images" % product)
    assert r.status_code == 200, r.text
    return r.json()["images"]


def wait_image(product, image_id, deadline_s=90):
    """Polls the product's images until image_id is no longer processing."""
    end = time.time() + deadline_s
    while time.time() < end:
        img = next(i for i in images_of(product) if i["id"] == image_id)
        if img["status"] != "processing":
            return img
        time.sleep(0.2)
    raise AssertionError("image %s still processing after %d s" % (image_id, deadline_s))


def wait_banner(banner_id, deadline_s=90):
    end = time.time() + deadline_s
    while time.time() < end:
        b = requests.get(BASE + "/banners/" + banner_id).json()
        if b["status"] != "processing":
            return b
        time.sleep(0.2)
    raise AssertionError("banner %s still processing after %d s" % (banner_id, deadline_s))


def picture_keys(purpose, subject):
    """Every R2 key the picture's asset names (staging, full size, variants)."""
    keys = sql("SELECT string_agg(k, ' ') FROM media_assets m, "
               "json_array_elements_text(media_object_keys(m)) k "
               "WHERE m.purpose = :'a0' AND m.subject_id = :'a1'", purpose, subject)
    return keys.split()


def head(key):
    return requests.head(PUBLIC + key, timeout=30).status_code


def assert_field_error(r, loc0, field, status=422):
    assert r.status_code == status, r.text
    assert r.json()["detail"][0]["loc"] == [loc0, field], r.json()


# ---- product images: upload to ready ----

INPUTS = [
    # (case, data maker, the full-size extension the input type gives)
    ("jpeg with exif and gps", lambda: jpeg_with_exif(120, 80, lambda x, y: (200, 30, 30)), "jpg"),
    ("png", lambda: png(300, 200), "png"),
    ("gif", lambda: vips_convert(png(64, 48), ".png", ".gif"), "png"),
    ("webp", lambda: vips_convert(png(64, 48), ".png", ".webp"), "webp"),
    ("heic", lambda: vips_convert(png(64, 48), ".png", ".heic"), "jpg"),
]


@pytest.mark.parametrize("case,make,ext", INPUTS, ids=[c[0] for c in INPUTS])
def test_upload_is_sanitised_at_its_announced_key(admin_h, case, make, ext):
    product = make_product(admin_h)
    r = upload_image(admin_h, product, make(), name="upload.bin")
    assert r.status_code == 201, r.text
    img = r.json()
    assert set(img) == IMAGE_KEYS
    assert img["product_id"] == product and img["is_primary"] is False
    assert img["status"] == "processing"
    key = img["image_url"][len(PUBLIC):]
    assert img["image_url"].startswith(PUBLIC + "images/products/")
    stem = key[len("images/products/"):-len("." + ext)]
    assert key.endswith("." + ext) and str(uuid.UUID(stem)) == stem, key
    assert sql("SELECT purpose || ' ' || object_key FROM media_assets WHERE subject_id = :'a0'",
               img["id"]) == "product_image " + key

    done = wait_image(product, img["id"])
    assert done == dict(img, status="ready")
    code, body = fetch(img["image_url"])
    assert code == 200 and body.startswith(MAGIC[ext]), (code, body[:16])
    assert b"Exif" not in body and b"GPS" not in body
    assert "gps" not in header(body).lower()
    for v in VARIANTS:
        code, body = fetch("%s%s_%s.webp" % (PUBLIC, key[:-len("." + ext)], v))
        assert code == 200 and body[8:12] == b"WEBP", v
    assert head("staging/" + sql("SELECT id FROM media_assets WHERE subject_id = :'a0'",
                                 img["id"])) == 404


def test_an_undecodable_image_ends_failed(admin_h):
    product = make_product(admin_h)
    jpg = vips_convert(png(300, 300), ".png", ".jpg[Q=90]")
    r = upload_image(admin_h, product, jpg[:len(jpg) // 2], name="cut.jpg")
    assert r.status_code == 201, r.text
    assert wait_image(product, r.json()["id"])["status"] == "failed"
    assert sql("SELECT status FROM media_assets WHERE subject_id = :'a0'", r.json()["id"]) == "failed"
    assert head(r.json()["image_url"][len(PUBLIC):]) == 404


def test_upload_refusals_store_nothing(admin_h, user):
    product = make_product(admin_h)
    cases = [
        # (case, product id, headers, form, file, status, check)
        ("no token", product, {}, {}, png(4, 4), 401, None),
        ("customer", product, auth(user["token"]), {}, png(4, 4), 403, None),
        ("malformed product id", "not-a-uuid", admin_h, {}, png(4, 4), 422, ("path", "product_id")),
        ("unknown product", str(uuid.uuid4()), admin_h, {}, png(4, 4), 404, "Product not found"),
        ("text file", product, admin_h, {}, b"plain text, not an image\n" * 10, 415,
         "Unsupported file type; accepted: JPEG, PNG, WebP, GIF, HEIC, AVIF"),
        ("no file", product, admin_h, {}, None, 422, ("body", "file")),
        ("is_primary not a boolean", product, admin_h, {"is_primary": "maybe"}, png(4, 4), 422,
         ("body", "is_primary")),
    ]
    for case, pid, h, form, data, status, check in cases:
        files = {"file": ("x.png", data)} if data is not None else {"other": ("x", b"x")}
        r = requests.post(BASE + "/products/%s/images" % pid, headers=h, data=form, files=files)
        assert r.status_code == status, (case, r.text)
        if isinstance(check, tuple):
            assert r.json()["detail"][0]["loc"] == list(check), case
        elif check:
            assert r.json()["detail"] == check, case
    assert images_of(product) == []
    assert requests.get(BASE + "/products/%s/images" % uuid.uuid4()).status_code == 404
    assert requests.get(BASE + "/products/nope/images").status_code == 422


def test_kafka_down_answers_503_and_leaves_no_image(admin_h):
    product = make_product(admin_h)
    with extra_ingest("ingest-images-nokafka", KAFKA_BROKERS="127.0.0.1:%d" % closed_port(),
                      KAFKA_DELIVERY_TIMEOUT_MS=1500) as ing:
        r = upload_image(admin_h, product, png(16, 16), base=ing.base)
        assert r.status_code == 503, r.text
    assert images_of(product) == []
    assert sql("SELECT count(*) FROM media_assets m WHERE m.purpose = 'product_image' AND NOT "
               "EXISTS (SELECT 1 FROM product_images i WHERE i.id = m.subject_id)") == "0"


# ---- primary images ----

def test_is_primary_flows_and_the_product_shows_its_primary(admin_h):
    product = make_product(admin_h)
    a = upload_image(admin_h, product, png(20, 20), is_primary="true").json()
    b = upload_image(admin_h, product, png(20, 20)).json()
    assert a["is_primary"] is True and b["is_primary"] is False
    c = upload_image(admin_h, product, png(20, 20), is_primary="1").json()
    assert c["is_primary"] is True
    for i in (a, b, c):
        assert wait_image(product, i["id"])["status"] == "ready"
    listed = images_of(product)
    assert [i["id"] for i in listed][0] == c["id"] and [i["is_primary"] for i in listed] == [
        True, False, False]

    r = requests.put(BASE + "/products/images/%s/set-primary" % b["id"], headers=admin_h)
    assert r.status_code == 200, r.text
    assert r.json() == dict(b, is_primary=True, status="ready")
    assert [i["id"] for i in images_of(product) if i["is_primary"]] == [b["id"]]
    got = requests.get(BASE + "/products/" + product).json()
    assert got["primary_image"] == {k: b[k] for k in ("id", "product_id", "image_url")} | {
        "is_primary": True}
    code, body = fetch(got["primary_image"]["image_url"])
    assert code == 200 and body.startswith(MAGIC["png"])
    # setting it again changes nothing
    assert requests.put(BASE + "/products/images/%s/set-primary" % b["id"],
                        headers=admin_h).json()["is_primary"] is True
    assert sql("SELECT count(*) FROM product_images WHERE product_id = :'a0' AND is_primary",
               product) == "1"


def test_set_primary_refusals(admin_h, user):
    product = make_product(admin_h)
    img = upload_image(admin_h, product, png(8, 8)).json()
    path = BASE + "/products/images/%s/set-primary"
    assert requests.put(path % img["id"]).status_code == 401
    assert requests.put(path % img["id"], headers=auth(user["token"])).status_code == 403
    r = requests.put(path % uuid.uuid4(), headers=admin_h)
    assert r.status_code == 404 and r.json()["detail"] == "Image not found"
    assert_field_error(requests.put(path % "x", headers=admin_h), "path", "image_id")


def test_concurrent_set_primary_leaves_exactly_one_primary(admin_h):
    product = make_product(admin_h)
    ids = [upload_image(admin_h, product, png(8, 8)).json()["id"] for _ in range(5)]
    for rnd in range(3):
        order = ids * 2
        barrier = threading.Barrier(len(order))
        codes = []

        def call(image_id):
            barrier.wait()
            codes.append(requests.put(BASE + "/products/images/%s/set-primary" % image_id,
                                      headers=admin_h, timeout=60).status_code)

        threads = [threading.Thread(target=call, args=(i,)) for i in order]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [200] * len(order), (rnd, codes)
        primaries = sql("SELECT string_agg(id::text, ',') FROM product_images "
                        "WHERE product_id = :'a0' AND is_primary", product).split(",")
        assert len(primaries) == 1 and primaries[0] in ids, (rnd, primaries)


# ---- deletion ----

def test_delete_image_removes_every_object_then_the_rows(admin_h, user):
    product = make_product(admin_h)
    img = upload_image(admin_h, product, png(400, 300), is_primary="true").json()
    assert wait_image(product, img["id"])["status"] == "ready"
    keys = picture_keys("product_image", img["id"])
    full = img["image_url"][len(PUBLIC):]
    assert full in keys and len([k for k in keys if k.endswith(".webp")]) == len(VARIANTS)
    assert [head(k) for k in keys if not k.startswith("staging/")] == [200] * (len(keys) - 1)

    # the asset goes with its picture, never alone through the media routes
    asset = sql("SELECT id FROM media_assets WHERE subject_id = :'a0'", img["id"])
    assert requests.delete(BASE + "/api/v1/media/" + asset, headers=admin_h).status_code == 404
    assert head(full) == 200

    url = BASE + "/products/images/" + img["id"]
    assert requests.delete(url).status_code == 401
    assert requests.delete(url, headers=auth(user["token"])).status_code == 403
    r = requests.delete(url, headers=admin_h)
    assert r.status_code == 204 and r.content == b""
    assert [head(k) for k in keys] == [404] * len(keys)
    assert images_of(product) == []
    assert sql("SELECT count(*) FROM media_assets WHERE subject_id = :'a0'", img["id"]) == "0"
    assert requests.get(BASE + "/products/" + product).json()["primary_image"] is None
    assert requests.delete(url, headers=admin_h).status_code == 404
    assert_field_error(requests.delete(BASE + "/products/images/x", headers=admin_h), "path",
                       "image_id")


def test_product_deletion_leaves_no_object_of_it(admin_h, user):
    product = make_product(admin_h)
    imgs = [upload_image(admin_h, product, png(300, 200), is_primary=p).json()
            for p in ("true", "false")]
    for i in imgs:
        assert wait_image(product, i["id"])["status"] == "ready"
    # one more still on its way when the product goes
    imgs.append(upload_image(admin_h, product, png(300, 200)).json())
    h = auth(user["token"])
    assert requests.post(BASE + "/reviews", json={"product_id": product, "rating": 5},
                         headers=h).status_code == 201
    assert requests.post(BASE + "/favorites", json={"product_id": product},
                         headers=h).status_code == 201
    keys = set()
    for i in imgs:
        full = i["image_url"][len(PUBLIC):]
        asset = sql("SELECT id FROM media_assets WHERE subject_id = :'a0'", i["id"])
        keys |= {full, "staging/" + asset} | {
            "%s_%s.webp" % (full.rsplit(".", 1)[0], v) for v in VARIANTS}
    assert len(keys) == 3 * (2 + len(VARIANTS))

    r = requests.delete(BASE + "/products/" + product, headers=admin_h)
    assert r.status_code == 204
    # the last image's job may still be in flight: the worker finds no row and
    # drops the staging object, so allow it a moment to settle
    end = time.time() + 30
    while time.time() < end and any(head(k) != 404 for k in keys):
        time.sleep(0.2)
    assert {k: head(k) for k in keys} == {k: 404 for k in keys}
    for table in ("product_images", "reviews", "favorites"):
        assert sql("SELECT count(*) FROM %s WHERE product_id = :'a0'" % table, product) == "0"
    ids = ",".join(i["id"] for i in imgs)
    assert sql("SELECT count(*) FROM media_assets WHERE subject_id = ANY "
               "(string_to_array(:'a0', ',')::uuid[])", ids) == "0"


# ---- banners ----

def upload_banner(h, data=None, **form):
    files = {"file": ("banner.png", png(320, 100) if data is None else data)}
    return requests.post(BASE + "/banners/upload", headers=h, data=form, files=files, timeout=60)


def active_ids():
    r = requests.get(BASE + "/banners/active")
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()["banners"]]


def test_banner_lifecycle(admin_h):
    r = upload_banner(admin_h, title="Khuyến mãi Tết", target_url="https://example.com/promo")
    assert r.status_code == 201, r.text
    b = r.json()
    assert set(b) == BANNER_KEYS
    assert (b["title"], b["target_url"], b["is_active"], b["status"]) == (
        "Khuyến mãi Tết", "https://example.com/promo", True, "processing")
    key = b["image_url"][len(PUBLIC):]
    assert key.startswith("images/banners/") and key.endswith(".png")
    assert str(uuid.UUID(key[len("images/banners/"):-4])) == key[len("images/banners/"):-4]

    assert wait_banner(b["id"]) == dict(b, status="ready")
    code, body = fetch(b["image_url"])
    assert code == 200 and body.startswith(MAGIC["png"])
    assert b["id"] in active_ids()
    listed = requests.get(BASE + "/banners/", headers=admin_h)
    assert listed.status_code == 200 and b["id"] in [x["id"] for x in listed.json()["banners"]]

    r = requests.patch(BASE + "/banners/" + b["id"], json={"title": "Mới", "is_active": False},
                       headers=admin_h)
    assert r.status_code == 200, r.text
    assert r.json() == dict(b, title="Mới", is_active=False, status="ready")
    assert b["id"] not in active_ids()
    r = requests.patch(BASE + "/banners/" + b["id"], json={"target_url": None}, headers=admin_h)
    assert r.json()["target_url"] is None and r.json()["title"] == "Mới"
    assert requests.get(BASE + "/banners/" + b["id"]).json() == r.json()

    keys = picture_keys("banner", b["id"])
    assert key in keys and len(keys) == 2 + len(VARIANTS)
    r = requests.delete(BASE + "/banners/" + b["id"], headers=admin_h)
    assert r.status_code == 204 and r.content == b""
    assert [head(k) for k in keys] == [404] * len(keys)
    assert requests.get(BASE + "/banners/" + b["id"]).status_code == 404
    assert sql("SELECT count(*) FROM media_assets WHERE subject_id = :'a0'", b["id"]) == "0"


def test_active_banners_are_active_and_ready(admin_h):
    tenant = sql("SELECT tenant_id FROM products WHERE id = :'a0'", make_product(admin_h))
    ids = {}
    for active, status in ((True, "processing"), (True, "failed"), (False, "ready"),
                           (True, "ready")):
        key = "images/banners/%s.png" % uuid.uuid4()
        ids[(active, status)] = sql(
            "INSERT INTO banners (tenant_id, title, object_key, image_url, is_active, status) "
            "VALUES (:'a0', 'b', :'a1', :'a2', :'a3', :'a4') RETURNING id", tenant, key,
            PUBLIC + key, active, status).splitlines()[0]
    shown = active_ids()
    assert [k for k, i in ids.items() if i in shown] == [(True, "ready")]
    listed = [b["id"] for b in requests.get(BASE + "/banners/", headers=admin_h).json()["banners"]]
    assert set(ids.values()) <= set(listed)


def test_banner_upload_defaults(admin_h):
    r = upload_banner(admin_h, title="Mặc định")
    assert r.status_code == 201, r.text
    assert r.json()["is_active"] is True and r.json()["target_url"] is None
    r = upload_banner(admin_h, title="Tắt", is_active="false", target_url="")
    assert r.json()["is_active"] is False and r.json()["target_url"] is None


BANNER_UPLOAD_REFUSALS = [
    # (case, form, file, status, loc or detail)
    ("missing title", {}, None, 422, ("body", "title")),
    ("empty title", {"title": ""}, None, 422, ("body", "title")),
    ("title over 255", {"title": "x" * 256}, None, 422, ("body", "title")),
    ("ftp target", {"title": "t", "target_url": "ftp://example.com/x"}, None, 422,
     ("body", "target_url")),
    ("relative target", {"title": "t", "target_url": "/promo"}, None, 422, ("body", "target_url")),
    ("target with a space", {"title": "t", "target_url": "https://exa mple.com"}, None, 422,
     ("body", "target_url")),
    ("target over 2048", {"title": "t", "target_url": "https://e.com/" + "a" * 2040}, None, 422,
     ("body", "target_url")),
    ("is_active not a boolean", {"title": "t", "is_active": "sometimes"}, None, 422,
     ("body", "is_active")),
    ("text file", {"title": "t"}, b"not an image at all\n" * 10, 415,
     "Unsupported file type; accepted: JPEG, PNG, WebP, GIF, HEIC, AVIF"),
]


@pytest.mark.parametrize("case,form,data,status,check", BANNER_UPLOAD_REFUSALS,
                         ids=[c[0] for c in BANNER_UPLOAD_REFUSALS])
def test_banner_upload_refusals_store_nothing(admin_h, case, form, data, status, check):
    before = sql("SELECT count(*) FROM banners")
    r = upload_banner(admin_h, data, **form)
    assert r.status_code == status, r.text
    if isinstance(check, tuple):
        assert r.json()["detail"][0]["loc"] == list(check), r.json()
    else:
        assert r.json()["detail"] == check
    assert sql("SELECT count(*) FROM banners") == before


def test_banner_access_and_unknown_ids(admin_h, user):
    b = upload_banner(admin_h, title="Quyền").json()
    url = BASE + "/banners/" + b["id"]
    customer = auth(user["token"])
    assert upload_banner({}, title="t").status_code == 401
    assert upload_banner(customer, title="t").status_code == 403
    assert requests.get(BASE + "/banners/").status_code == 401
    assert requests.get(BASE + "/banners/", headers=customer).status_code == 403
    assert requests.patch(url, json={"title": "x"}).status_code == 401
    assert requests.patch(url, json={"title": "x"}, headers=customer).status_code == 403
    assert requests.delete(url, headers=customer).status_code == 403
    assert requests.get(url).status_code == 200  # public
    unknown = BASE + "/banners/%s" % uuid.uuid4()
    for r in (requests.get(unknown), requests.patch(unknown, json={"title": "x"}, headers=admin_h),
              requests.delete(unknown, headers=admin_h)):
        assert r.status_code == 404 and r.json()["detail"] == "Banner not found"
    assert_field_error(requests.get(BASE + "/banners/nope"), "path", "banner_id")
    for body, field in (({"title": None}, "title"), ({"title": ""}, "title"),
                        ({"is_active": "yes"}, "is_active"), ({"target_url": "mailto:a@b.c"},
                                                              "target_url")):
        assert_field_error(requests.patch(url, json=body, headers=admin_h), "body", field)
    assert requests.get(url).json()["title"] == "Quyền"


# ---- demo seed ----

def test_seed_demo_gives_demo_products_a_ready_picture_once():
    for _ in range(2):
        r = run_cli("seed", "--demo")
        assert r.returncode == 0, r.stderr
    rows = sql("SELECT count(*) || ' ' || bool_and(i.is_primary AND i.status = 'ready') "
               "FROM product_images i JOIN products p ON p.id = i.product_id "
               "WHERE p.name = 'Cà phê sữa đá Highlands'")
    assert rows == "1 true"
    product = sql("SELECT id FROM products WHERE name = 'Cà phê sữa đá Highlands'")
    img = requests.get(BASE + "/products/" + product).json()["primary_image"]
    assert img["image_url"].startswith(PUBLIC + "images/products/")
    code, body = fetch(img["image_url"])
    assert code == 200 and body.startswith(MAGIC["jpg"])
    assert (header(body, "width"), header(body, "height")) == ("320", "320")
    assert int(sql("SELECT count(DISTINCT product_id) FROM product_images i JOIN products p "
                   "ON p.id = i.product_id WHERE i.object_key LIKE 'images/products/%.jpg' "
                   "AND p.name IN ('Gạo ST25', 'Coca-Cola lon', 'Rau muống')")) == 3
