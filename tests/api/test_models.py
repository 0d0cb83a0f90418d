"""AI models (seed 003 §7) and product vectors (§8) end to end: uploads go
straight to their final R2 key (models/<crop|embedding>/<name>-<version>-<uuid>.<ext>)
with a row in Postgres; reads are public per store; vectors are loaded with
`smartcart import-vectors` and downloaded as product_vectors.json. Every
object claim is checked on the public URL, every row claim in SQL."""
import hashlib
import json
import os
import re
import tempfile
import uuid

import pytest
import requests

from conftest import BASE, auth, run_cli
from extra_ingest import extra_ingest
from test_media import PUBLIC, sql

MODEL_KEYS = {"id", "name", "version", "model_type", "file_path", "uploaded_at"}
TYPES = [("crop", "CROP"), ("embedding", "EMBEDDING")]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ATTACHMENT = 'attachment; filename="product_vectors.json"'


@pytest.fixture
def admin_h(admin):
    return auth(admin["token"])


def upload(h, folder, name="MyModel", version="1.0", data=None, filename="model.bin", base=BASE):
    form = {k: v for k, v in (("name", name), ("version", version)) if v is not None}
    files = {"file": (filename, os.urandom(3000) if data is None else data)}
    return requests.post("%s/models/%s" % (base, folder), headers=h, data=form,
                         files=files if data is not False else None, timeout=60)


def model_rows(where="true", *args):
    return int(sql("SELECT count(*) FROM ai_models WHERE " + where, *args))


def new_tenant():
    return sql("INSERT INTO tenants (slug, name) VALUES (:'a0', 'Other store') RETURNING id",
               "store-" + uuid.uuid4().hex[:12]).splitlines()[0]


def object_status(url):
    return requests.get(url, timeout=30).status_code


# ---- upload ----

@pytest.mark.parametrize("folder,kind", TYPES)
def test_upload_stores_the_file_at_its_key(admin_h, folder, kind):
    data = os.urandom(50000)
    r = upload(admin_h, folder, name="My%sModel" % kind.title(), version="2.1-rc_1",
               data=data, filename="weights.ONNX")
    assert r.status_code == 200, r.text
    m = r.json()
    assert set(m) == MODEL_KEYS
    assert (m["name"], m["version"], m["model_type"]) == ("My%sModel" % kind.title(), "2.1-rc_1",
                                                          kind)
    assert str(uuid.UUID(m["id"])) == m["id"]
    assert RFC3339.match(m["uploaded_at"]), m["uploaded_at"]
    key = "models/%s/My%sModel-2.1-rc_1-%s.onnx" % (folder, kind.title(), m["id"])
    assert m["file_path"] == PUBLIC + key
    got = requests.get(m["file_path"], timeout=30)
    assert got.status_code == 200 and got.content == data
    assert sql("SELECT model_type || ' ' || object_key || ' ' || size_bytes || ' ' || sha256 "
               "FROM ai_models WHERE id = :'a0'", m["id"]) == \
        "%s %s %d %s" % (kind, key, len(data), hashlib.sha256(data).hexdigest())


def test_a_name_outside_the_key_alphabet_is_kept_and_slugged(admin_h):
    r = upload(admin_h, "crop", name="Mô hình cắt ảnh", version="1", filename="noext")
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["name"] == "Mô hình cắt ảnh"
    assert m["file_path"] == PUBLIC + "models/crop/M__h_nh_c_t__nh-1-%s.bin" % m["id"]
    assert object_status(m["file_path"]) == 200


REFUSALS = [
    # (case, form fields (None: absent), file (None: random bytes, False: no part), status, loc field)
    ("no name", {"name": None}, None, 422, "name"),
    ("empty name", {"name": ""}, None, 422, "name"),
    ("no version", {"version": None}, None, 422, "version"),
    ("empty version", {"version": ""}, None, 422, "version"),
    ("no file", {}, False, 422, "file"),
    ("empty file", {}, b"", 422, "file"),
    ("name over 255", {"name": "n" * 256}, None, 422, "name"),
    ("version over 64", {"version": "1" * 65}, None, 422, "version"),
    ("name with a slash", {"name": "../evil"}, None, 422, "name"),
    ("name with a control character", {"name": "a\x01b"}, None, 422, "name"),
    ("version with a space", {"version": "1 0"}, None, 422, "version"),
    ("version with a slash", {"version": "1/../../x"}, None, 422, "version"),
]


@pytest.mark.parametrize("case,fields,data,status,field", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_invalid_uploads_are_422_and_store_nothing(admin_h, case, fields, data, status, field):
    before = model_rows()
    args = {"name": "M", "version": "1"} | fields
    r = upload(admin_h, "crop", name=args["name"], version=args["version"], data=data)
    assert r.status_code == status, r.text
    assert r.json()["detail"][0]["loc"] == ["body", field], r.json()
    assert model_rows() == before


def test_name_of_255_characters_is_accepted(admin_h):
    r = upload(admin_h, "embedding", name="ả" * 255, version="v" * 64)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "ả" * 255


@pytest.mark.parametrize("folder", ["crop", "embedding"])
def test_only_administrators_upload(user, folder):
    before = model_rows()
    r = upload({}, folder)
    assert r.status_code == 401 and r.headers.get("WWW-Authenticate") == "Bearer"
    assert upload(auth(user["token"]), folder).status_code == 403
    assert model_rows() == before


def test_over_the_cap_is_413_and_nothing_is_stored(admin_h):
    with extra_ingest("ingest-model-cap", MODEL_MAX_BYTES=1000) as ing:
        before = model_rows()
        r = upload(admin_h, "crop", data=os.urandom(1001), base=ing.base)
        assert r.status_code == 413
        assert r.json()["detail"] == "File too large: the limit is 1000 bytes"
        assert model_rows() == before
        r = upload(admin_h, "crop", data=os.urandom(1000), base=ing.base)
        assert r.status_code == 200, r.text
        assert model_rows() == before + 1


def test_a_row_that_cannot_be_inserted_takes_its_object_with_it(admin_h):
    """A trigger refuses one name: the answer is 500, and a bucket listing by
    the name's key prefix finds no object left behind."""
    name = "refused-" + uuid.uuid4().hex[:8]
    sql("CREATE OR REPLACE FUNCTION test_refuse_model() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.name LIKE 'refused-%' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$; "
        "DROP TRIGGER IF EXISTS test_refuse_model ON ai_models; "
        "CREATE TRIGGER test_refuse_model BEFORE INSERT ON ai_models "
        "FOR EACH ROW EXECUTE FUNCTION test_refuse_model();")
    try:
        r = upload(admin_h, "crop", name=name)
        assert r.status_code == 500, r.text
        assert r.json() == {"detail": "Internal server error"}
    finally:
        sql("DROP TRIGGER test_refuse_model ON ai_models; DROP FUNCTION test_refuse_model();")
    listing = requests.get(PUBLIC, params={"prefix": "models/crop/" + name}, timeout=30)
    assert listing.status_code == 200, listing.text
    assert "<Key>" not in listing.text, listing.text
    # the listing does find an object that exists
    ok = upload(admin_h, "crop", name=name.replace("refused", "kept"))
    assert ok.status_code == 200
    listing = requests.get(PUBLIC, params={"prefix": "models/crop/" + name.replace("refused",
                                                                                   "kept")})
    assert "<Key>models/crop/" in listing.text, listing.text


# ---- reads ----

@pytest.mark.parametrize("folder,kind", TYPES)
def test_list_and_latest_are_newest_first(admin_h, folder, kind):
    ids = []
    for v in ("1", "2", "3"):
        r = upload(admin_h, folder, name="ordered", version=v)
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    r = requests.get(BASE + "/models/" + folder)
    assert r.status_code == 200
    models = r.json()["models"]
    assert set(r.json()) == {"models"}
    assert all(set(m) == MODEL_KEYS and m["model_type"] == kind for m in models)
    mine = [m["id"] for m in models if m["id"] in ids]
    assert mine == ids[::-1]
    assert models == sorted(models, key=lambda m: m["uploaded_at"], reverse=True)
    latest = requests.get(BASE + "/models/latest/" + folder)
    assert latest.status_code == 200
    assert latest.json() == models[0] and latest.json()["id"] == ids[-1]
    # the other type's list does not show them
    other = "embedding" if folder == "crop" else "crop"
    assert not {m["id"] for m in requests.get(BASE + "/models/" + other).json()["models"]} & set(ids)


def test_a_store_sees_only_its_models(admin_h):
    r = upload(admin_h, "crop")
    assert r.status_code == 200
    tenant = new_tenant()
    h = {"X-Tenant-ID": tenant}
    for folder in ("crop", "embedding"):
        r = requests.get(BASE + "/models/latest/" + folder, headers=h)
        assert r.status_code == 404 and r.json() == {"detail": "Model not found"}
        assert requests.get(BASE + "/models/" + folder, headers=h).json() == {"models": []}
    mid = upload(admin_h, "embedding").json()["id"]
    r = requests.get(BASE + "/models/%s/download" % mid, headers=h, allow_redirects=False)
    assert r.status_code == 404 and r.json() == {"detail": "Model not found"}
    r = requests.get(BASE + "/models/crop", headers={"X-Tenant-ID": str(uuid.uuid4())})
    assert r.status_code == 404 and r.json() == {"detail": "Tenant not found"}
    assert requests.get(BASE + "/models/crop", headers={"X-Tenant-ID": "x"}).status_code == 422


def test_download_redirects_to_the_same_bytes(admin_h):
    data = os.urandom(20000)
    m = upload(admin_h, "embedding", data=data, filename="e.tflite").json()
    r = requests.get(BASE + "/models/%s/download" % m["id"], allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == m["file_path"]
    followed = requests.get(BASE + "/models/%s/download" % m["id"], timeout=30)
    assert followed.status_code == 200
    assert hashlib.sha256(followed.content).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("path,status", [
    ("/models/%s/download" % uuid.uuid4(), 404),
    ("/models/not-a-uuid/download", 422),
])
def test_download_of_no_model(path, status):
    r = requests.get(BASE + path, allow_redirects=False)
    assert r.status_code == status, r.text
    if status == 404:
        assert r.json() == {"detail": "Model not found"}
    else:
        assert r.json()["detail"][0]["loc"] == ["path", "model_id"]


# ---- delete ----

def test_delete_removes_the_object_and_the_row(admin_h, user):
    m = upload(admin_h, "crop").json()
    url = BASE + "/models/" + m["id"]
    assert requests.delete(url).status_code == 401
    assert requests.delete(url, headers=auth(user["token"])).status_code == 403
    assert object_status(m["file_path"]) == 200
    r = requests.delete(url, headers=admin_h)
    assert r.status_code == 204 and r.content == b""
    assert object_status(m["file_path"]) == 404
    assert model_rows("id = :'a0'", m["id"]) == 0
    assert requests.delete(url, headers=admin_h).json() == {"detail": "Model not found"}
    assert requests.get(url + "/download", allow_redirects=False).status_code == 404
    assert m["id"] not in [x["id"] for x in requests.get(BASE + "/models/crop").json()["models"]]
    r = requests.delete(BASE + "/models/not-a-uuid", headers=admin_h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "model_id"]


# ---- vectors ----

def make_product(h, name="Vector product"):
    r = requests.post(BASE + "/products/", json={"name": name, "price": 1000}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def import_vectors(doc, *flags):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    try:
        return run_cli("import-vectors", *flags, f.name)
    finally:
        os.unlink(f.name)


def vectors(headers=None):
    r = requests.get(BASE + "/vectors/download", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Disposition"] == ATTACHMENT
    assert r.headers["Content-Type"].startswith("application/json")
    return {v["product_id"]: v["embedding"] for v in r.json()["vectors"]}


def last_updated(headers=None):
    r = requests.get(BASE + "/vectors/last-updated", headers=headers)
    assert r.status_code == 200 and set(r.json()) == {"last_updated"}
    return r.json()["last_updated"]


def test_imported_vectors_are_downloaded(admin_h):
    a, b = make_product(admin_h), make_product(admin_h)
    # exactly representable in single precision, so they come back equal
    doc = {"vectors": [{"product_id": a, "embedding": [0.5, -1.25, 3, 0]},
                       {"product_id": b.upper(), "embedding": [1e-3, 2.5, -0.0625, 1]}]}
    r = import_vectors(doc, "--replace")
    assert r.returncode == 0, r.stderr
    assert "imported 2 product vectors" in r.stdout
    got = vectors()
    assert got[a] == [0.5, -1.25, 3, 0]
    assert got[b] == [0.001, 2.5, -0.0625, 1]
    stamp = last_updated()
    assert RFC3339_MS.match(stamp), stamp
    assert stamp == sql("SELECT to_char(max(created_at) AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM product_vectors")
    # an upsert replaces the embedding and moves last-updated on
    assert import_vectors({"vectors": [{"product_id": a, "embedding": [1, 1, 1, 1]}]}).returncode == 0
    assert vectors()[a] == [1, 1, 1, 1]
    assert last_updated() >= stamp
    assert sql("SELECT count(*) FROM product_vectors WHERE product_id = :'a0'", a) == "1"
    # a deleted product takes its vector with it
    assert requests.delete(BASE + "/products/" + b, headers=admin_h).status_code == 204
    assert b not in vectors()


def test_a_store_without_vectors(admin_h):
    h = {"X-Tenant-ID": new_tenant()}
    assert vectors(h) == {}
    assert last_updated(h) is None


CLI_REFUSALS = [
    # (case, document maker (product ids a, b), flags, message)
    ("dimensions differ in the file",
     lambda a, b: {"vectors": [{"product_id": a, "embedding": [1, 2, 3, 4]},
                               {"product_id": b, "embedding": [1, 2]}]},
     [], "vectors[1].embedding has 2 dimensions, vectors[0] has 4"),
    ("unknown product",
     lambda a, b: {"vectors": [{"product_id": a, "embedding": [1, 2, 3, 4]},
                               {"product_id": "00000000-0000-4000-8000-000000000001",
                                "embedding": [1, 2, 3, 4]}]},
     [], "product 00000000-0000-4000-8000-000000000001 does not exist"),
    ("a product twice",
     lambda a, b: {"vectors": [{"product_id": a, "embedding": [1, 2, 3, 4]},
                               {"product_id": a, "embedding": [1, 2, 3, 4]}]},
     [], "appears twice"),
    ("not the stored dimension",
     lambda a, b: {"vectors": [{"product_id": b, "embedding": [1, 2, 3]}]},
     [], "would have mixed dimensions; import with --replace"),
    ("not JSON", lambda a, b: "{\"vectors\": [", [], "import-vectors: "),
    ("a model that is not an embedding model",
     lambda a, b: {"vectors": [{"product_id": b, "embedding": [1, 2, 3, 4]}]},
     ["--model", "CROP"], "is not an EMBEDDING model"),
]


@pytest.mark.parametrize("case,make,flags,message", CLI_REFUSALS, ids=[c[0] for c in CLI_REFUSALS])
def test_import_refusals_change_nothing(admin_h, case, make, flags, message):
    a, b = make_product(admin_h), make_product(admin_h)
    assert import_vectors({"vectors": [{"product_id": a, "embedding": [9, 9, 9, 9]}]},
                          "--replace").returncode == 0
    if flags == ["--model", "CROP"]:
        flags = ["--model", upload(admin_h, "crop").json()["id"]]
    before = sql("SELECT md5(string_agg(product_id || embedding::text || created_at, ',' "
                 "ORDER BY product_id)) FROM product_vectors")
    r = import_vectors(make(a, b), *flags)
    assert r.returncode == 1, r.stdout
    assert message in r.stderr, r.stderr
    assert sql("SELECT md5(string_agg(product_id || embedding::text || created_at, ',' "
               "ORDER BY product_id)) FROM product_vectors") == before


def test_replace_swaps_the_dimension_and_model_is_recorded(admin_h):
    a, b = make_product(admin_h), make_product(admin_h)
    assert import_vectors({"vectors": [{"product_id": a, "embedding": [1, 2]}]},
                          "--replace").returncode == 0
    model = upload(admin_h, "embedding").json()["id"]
    r = import_vectors({"vectors": [{"product_id": b, "embedding": [1, 2, 3]}]},
                       "--replace", "--model", model)
    assert r.returncode == 0, r.stderr
    got = vectors()
    assert got == {b: [1, 2, 3]}  # a's vector (other dimension) went with --replace
    assert sql("SELECT model_id FROM product_vectors WHERE product_id = :'a0'", b) == model
    # deleting the model keeps the vector
    assert requests.delete(BASE + "/models/" + model, headers=admin_h).status_code == 204
    assert vectors() == {b: [1, 2, 3]}
    assert sql("SELECT model_id IS NULL FROM product_vectors WHERE product_id = :'a0'", b) == "t"


def test_import_usage():
    r = run_cli("import-vectors")
    assert r.returncode == 2 and "usage: smartcart import-vectors" in r.stderr
