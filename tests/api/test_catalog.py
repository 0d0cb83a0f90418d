"""Catalog (seed 003 §5, §6): products and search, categories, reviews,
favorites, promotions, and `smartcart seed`. Every test works inside its own
categories or products, so it does not depend on what other tests created in
the shared default tenant."""
import datetime
import re
import uuid

import pytest
import requests

from conftest import BASE, auth, run_cli, sql

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PRODUCT_KEYS = {"id", "name", "description", "price", "weight_grams", "created_at", "updated_at",
                "categories", "primary_image", "average_rating", "review_count", "discounted_price"}


def iso(delta_days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=delta_days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_field_error(r, loc0, field):
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"] == [loc0, field], detail


@pytest.fixture
def admin_h(admin):
    return auth(admin["token"])


def make_category(h, name=None, parent_id=None):
    body = {"name": name or "Danh mục " + uuid.uuid4().hex[:8]}
    if parent_id:
        body["parent_id"] = parent_id
    r = requests.post(BASE + "/categories", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def make_product(h, name="Sản phẩm", price=10000, category_ids=(), **extra):
    body = {"name": name, "price": price, "category_ids": list(category_ids), **extra}
    r = requests.post(BASE + "/products/", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def get_product(pid):
    r = requests.get(BASE + "/products/" + pid)
    assert r.status_code == 200, r.text
    return r.json()


# --- products ---------------------------------------------------------------

def test_create_get_product_shape_and_exact_price(admin_h):
    cat = make_category(admin_h)
    r = requests.post(BASE + "/products/", headers=admin_h, json={
        "name": "Tên sản phẩm mới", "description": "Mô tả chi tiết về sản phẩm.", "price": 99.99,
        "weight_grams": 500, "category_ids": [cat["id"]]})
    assert r.status_code == 201, r.text
    # Exact decimal on the wire, not a double's 99.989999999999995.
    assert re.search(r'"price"\s*:\s*99\.99[,}\s]', r.text), r.text
    p = r.json()
    assert set(p) == PRODUCT_KEYS
    assert UUID_RE.match(p["id"]) and TS_RE.match(p["created_at"]) and TS_RE.match(p["updated_at"])
    assert p["name"] == "Tên sản phẩm mới" and p["weight_grams"] == 500
    assert p["categories"] == [{"id": cat["id"], "name": cat["name"], "parent_id": None}]
    assert p["primary_image"] is None and p["discounted_price"] is None
    assert p["review_count"] == 0 and p["average_rating"] is None
    assert get_product(p["id"]) == p


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "price": -1}, "price"),
    ({"name": "x", "price": 1.999}, "price"),
    ({"name": "x", "price": "10"}, "price"),
    ({"name": "x", "price": 1e12}, "price"),
    ({"name": "x" * 256, "price": 1}, "name"),
    ({"name": "", "price": 1}, "name"),
    ({"price": 1}, "name"),
    ({"name": "x"}, "price"),
    ({"name": "x", "price": 1, "weight_grams": -5}, "weight_grams"),
    ({"name": "x", "price": 1, "weight_grams": 1.5}, "weight_grams"),
    ({"name": "x", "price": 1, "category_ids": [str(uuid.uuid4())]}, "category_ids"),
    ({"name": "x", "price": 1, "category_ids": ["not-a-uuid"]}, "category_ids"),
    ({"name": "x", "price": 1, "category_ids": "abc"}, "category_ids"),
])
def test_create_product_invalid_is_422_naming_field(admin_h, body, field):
    assert_field_error(requests.post(BASE + "/products/", json=body, headers=admin_h), "body", field)


def test_name_of_255_vietnamese_characters_is_accepted(admin_h):
    name = "đ" * 255  # 510 bytes: the limit counts characters
    assert make_product(admin_h, name=name)["name"] == name


def test_product_writes_need_an_admin(user):
    body = {"name": "x", "price": 1}
    assert requests.post(BASE + "/products/", json=body).status_code == 401
    assert requests.post(BASE + "/products/", json=body, headers=auth(user["token"])).status_code == 403
    pid = str(uuid.uuid4())
    assert requests.patch(BASE + "/products/" + pid, json=body, headers=auth(user["token"])).status_code == 403
    assert requests.delete(BASE + "/products/" + pid, headers=auth(user["token"])).status_code == 403


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_product_path_ids(admin_h, method):
    r = requests.request(method, BASE + "/products/not-a-uuid", json={}, headers=admin_h)
    assert_field_error(r, "path", "product_id")
    r = requests.request(method, BASE + "/products/" + str(uuid.uuid4()), json={"price": 1},
                         headers=admin_h)
    assert r.status_code == 404 and r.json() == {"detail": "Product not found"}


def test_patch_is_partial_and_category_ids_replace(admin_h):
    a, b = make_category(admin_h), make_category(admin_h)
    p = make_product(admin_h, name="Bánh quy bơ", price=50, category_ids=[a["id"]],
                     description="Hộp thiếc", weight_grams=1000)
    r = requests.patch(BASE + "/products/" + p["id"], json={"price": 120.5}, headers=admin_h)
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["price"] == 120.5 and q["name"] == "Bánh quy bơ" and q["description"] == "Hộp thiếc"
    assert [c["id"] for c in q["categories"]] == [a["id"]] and q["updated_at"] >= p["updated_at"]
    r = requests.patch(BASE + "/products/" + p["id"], headers=admin_h,
                       json={"name": "Bánh quy dừa", "category_ids": [b["id"]], "description": None})
    q = r.json()
    assert q["name"] == "Bánh quy dừa" and q["description"] is None and q["weight_grams"] == 1000
    assert [c["id"] for c in q["categories"]] == [b["id"]]
    assert_field_error(requests.patch(BASE + "/products/" + p["id"], json={"name": None},
                                      headers=admin_h), "body", "name")
    assert_field_error(requests.patch(BASE + "/products/" + p["id"], json={"price": -3},
                                      headers=admin_h), "body", "price")
    assert get_product(p["id"])["price"] == 120.5


def test_delete_product_removes_reviews_favorites_images(admin_h, user):
    p = make_product(admin_h, name="Sắp xoá")
    h = auth(user["token"])
    assert requests.post(BASE + "/reviews", json={"product_id": p["id"], "rating": 4}, headers=h).status_code == 201
    assert requests.post(BASE + "/favorites", json={"product_id": p["id"]}, headers=h).status_code == 201
    sql("INSERT INTO product_images (product_id, object_key, image_url, is_primary) VALUES "
        "('%s', 'images/products/%s.jpg', 'http://x/y.jpg', true)" % (p["id"], uuid.uuid4()))
    assert get_product(p["id"])["primary_image"]["is_primary"] is True

    r = requests.delete(BASE + "/products/" + p["id"], headers=admin_h)
    assert r.status_code == 204 and r.content == b""
    assert requests.get(BASE + "/products/" + p["id"]).status_code == 404
    for table in ("reviews", "favorites", "product_images", "product_categories"):
        assert sql("SELECT count(*) FROM %s WHERE product_id = '%s'" % (table, p["id"])) == "0"
    assert all(f["product_id"] != p["id"] for f in requests.get(BASE + "/favorites", headers=h).json()["favorites"])
    assert requests.delete(BASE + "/products/" + p["id"], headers=admin_h).status_code == 404


def test_one_primary_image_per_product_is_enforced_by_the_database(admin_h):
    p = make_product(admin_h)
    insert = ("INSERT INTO product_images (product_id, object_key, image_url, is_primary) VALUES "
              "('%s', 'images/products/%s.jpg', 'u', true)")
    sql(insert % (p["id"], uuid.uuid4()))
    with pytest.raises(AssertionError, match="product_images_one_primary"):
        sql(insert % (p["id"], uuid.uuid4()))


# --- listing and search -----------------------------------------------------

def listing(**params):
    r = requests.get(BASE + "/products/", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_filters_and_pagination(admin_h):
    cat = make_category(admin_h)
    prices = [5000, 12000.5, 25000, 99000, 150000]
    ids = [make_product(admin_h, name="Hàng %d" % i, price=v, category_ids=[cat["id"]])["id"]
           for i, v in enumerate(prices)]
    page = listing(category_id=cat["id"])
    assert page["total"] == 5 and [p["id"] for p in page["products"]] == ids  # by name
    page = listing(category_id=cat["id"], skip=1, limit=2)
    assert page["total"] == 5 and [p["id"] for p in page["products"]] == ids[1:3]
    page = listing(category_id=cat["id"], min_price=12000.5, max_price="99000")
    assert [p["price"] for p in page["products"]] == [12000.5, 25000, 99000]
    assert listing(category_id=str(uuid.uuid4()))["total"] == 0


@pytest.mark.parametrize("params,field", [
    ({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"limit": "ten"}, "limit"),
    ({"skip": -1}, "skip"), ({"min_price": "abc"}, "min_price"), ({"max_price": "-5"}, "max_price"),
    ({"category_id": "nope"}, "category_id"),
    ({"query": "a" * 201}, "query"), ({"query": "ữ" * 201}, "query"),
])
def test_list_invalid_query_is_422(params, field):
    assert_field_error(requests.get(BASE + "/products/", params=params), "query", field)


@pytest.mark.parametrize("query", ["a" * 200, "ữ" * 200, "sữa " * 50])
def test_a_query_of_200_characters_is_searched(query):
    """The limit counts characters, not bytes: 200 Vietnamese letters are
    up to 600 bytes."""
    r = requests.get(BASE + "/products/", params={"query": query})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"total", "products"}


SEARCH_PRODUCTS = [
    ("Cà phê sữa đá", "Cà phê phin pha sữa đặc"),
    ("Cà phê đen", "Rang xay nguyên chất"),
    ("Sữa tươi Vinamilk", "Sữa tươi tiệt trùng 1 lít"),
    ("Bánh mì thịt", "Bánh mì kẹp thịt nguội"),
    ("Đường trắng Biên Hòa", "Đường tinh luyện"),
    ("Nước mắm Phú Quốc", "Nước mắm cá cơm"),
    ("Trà đào", "Trà túi lọc"),
    ("Kẹo trái cây", "Hương trà đào"),
    ("Muối hồng B", None),
    ("Muối hồng A", None),
]


@pytest.fixture(scope="module")
def search_category():
    """The search fixtures, alone in a category of their own."""
    from conftest import login, run_cli as cli, unique_email
    email = unique_email("search-admin")
    assert cli("create-admin", email, env={"SMARTCART_ADMIN_PASSWORD": "admin password 1"}).returncode == 0
    h = auth(login(email, "admin password 1"))
    cat = make_category(h)
    for name, description in SEARCH_PRODUCTS:
        make_product(h, name=name, description=description, category_ids=[cat["id"]])
    return cat["id"]


@pytest.mark.parametrize("query,expected", [
    ("ca phe sua", ["Cà phê sữa đá"]),                      # no diacritics
    ("CÀ PHÊ SỮA", ["Cà phê sữa đá"]),                       # any case
    ("ca phe", ["Cà phê đen", "Cà phê sữa đá"]),             # closer name first
    ("duong", ["Đường trắng Biên Hòa"]),                     # đ matches d
    ("Đường", ["Đường trắng Biên Hòa"]),
    ("ĐƯỜNG TRẮNG", ["Đường trắng Biên Hòa"]),
    ("bahn mi", ["Bánh mì thịt"]),                           # typo
    ("vinamlik", ["Sữa tươi Vinamilk"]),                     # typo
    ("ban", ["Bánh mì thịt"]),                               # partial word
    ("vinam", ["Sữa tươi Vinamilk"]),                        # prefix
    ("tiet trung", ["Sữa tươi Vinamilk"]),                   # description
    ("tra dao", ["Trà đào", "Kẹo trái cây"]),                # name match above description match
    ("muoi hong", ["Muối hồng A", "Muối hồng B"]),           # equal relevance: by name
    ("  nuoc   mam  ", ["Nước mắm Phú Quốc"]),               # spacing
    ("xyzzy", []),
    ("100%", []),                                            # LIKE metacharacters are literal
])
def test_search_quality(search_category, query, expected):
    page = listing(query=query, category_id=search_category)
    names = [p["name"] for p in page["products"]]
    assert names == expected, (query, names)
    assert page["total"] == len(expected)


def test_search_combines_with_price_and_paging(search_category):
    page = listing(query="ca phe", category_id=search_category, limit=1, skip=1)
    assert page["total"] == 2 and [p["name"] for p in page["products"]] == ["Cà phê sữa đá"]
    assert listing(query="ca phe", category_id=search_category, min_price=10001)["total"] == 0


def test_search_uses_the_trigram_indexes():
    plan = sql("SET enable_seqscan = off; EXPLAIN SELECT id FROM products WHERE "
               "search_doc LIKE '%ca phe%' OR 'ca phe' <% name_norm")
    assert "products_search_doc_trgm" in plan and "products_name_norm_trgm" in plan, plan


# --- categories -------------------------------------------------------------

def test_category_crud_tree_and_flat_list(admin_h):
    root = make_category(admin_h, "Đồ uống " + uuid.uuid4().hex[:6])
    child = make_category(admin_h, "Cà phê", parent_id=root["id"])
    leaf = make_category(admin_h, "Cà phê hạt", parent_id=child["id"])
    assert set(root) == {"id", "name", "parent_id", "created_at"} and child["parent_id"] == root["id"]
    r = requests.get(BASE + "/categories/" + child["id"])
    assert r.status_code == 200 and r.json() == child
    flat = requests.get(BASE + "/categories").json()["categories"]
    assert {root["id"], child["id"], leaf["id"]} <= {c["id"] for c in flat}
    tree = requests.get(BASE + "/categories/tree").json()["categories"]
    node = next(c for c in tree if c["id"] == root["id"])
    assert [c["id"] for c in node["children"]] == [child["id"]]
    assert [c["id"] for c in node["children"][0]["children"]] == [leaf["id"]]
    assert node["children"][0]["children"][0]["children"] == []

    r = requests.patch(BASE + "/categories/" + leaf["id"], json={"name": "Cà phê bột", "parent_id": None},
                       headers=admin_h)
    assert r.status_code == 200 and r.json()["name"] == "Cà phê bột" and r.json()["parent_id"] is None
    r = requests.patch(BASE + "/categories/" + leaf["id"], json={"parent_id": child["id"]}, headers=admin_h)
    assert r.status_code == 200 and r.json()["parent_id"] == child["id"] and r.json()["name"] == "Cà phê bột"


def test_category_cycles_are_422(admin_h):
    a = make_category(admin_h)
    b = make_category(admin_h, parent_id=a["id"])
    c = make_category(admin_h, parent_id=b["id"])
    for target, parent in ((a, c), (a, b), (b, b)):
        r = requests.patch(BASE + "/categories/" + target["id"], json={"parent_id": parent["id"]}, headers=admin_h)
        assert_field_error(r, "body", "parent_id")
    assert requests.get(BASE + "/categories/" + a["id"]).json()["parent_id"] is None


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"), ({"name": "x" * 256}, "name"), ({}, "name"),
    ({"name": "x", "parent_id": str(uuid.uuid4())}, "parent_id"),
    ({"name": "x", "parent_id": "bad"}, "parent_id"),
])
def test_category_invalid_is_422(admin_h, body, field):
    assert_field_error(requests.post(BASE + "/categories", json=body, headers=admin_h), "body", field)


def test_category_delete_rules(admin_h, user):
    parent = make_category(admin_h)
    child = make_category(admin_h, parent_id=parent["id"])
    r = requests.delete(BASE + "/categories/" + parent["id"], headers=admin_h)
    assert r.status_code == 409 and "child" in r.json()["detail"]
    p = make_product(admin_h, category_ids=[child["id"]])
    r = requests.delete(BASE + "/categories/" + child["id"], headers=admin_h)
    assert r.status_code == 409 and "products" in r.json()["detail"]
    assert requests.delete(BASE + "/categories/" + child["id"], headers=auth(user["token"])).status_code == 403
    requests.patch(BASE + "/products/" + p["id"], json={"category_ids": []}, headers=admin_h)
    assert requests.delete(BASE + "/categories/" + child["id"], headers=admin_h).status_code == 204
    assert requests.delete(BASE + "/categories/" + parent["id"], headers=admin_h).status_code == 204
    assert requests.get(BASE + "/categories/" + parent["id"]).status_code == 404
    assert_field_error(requests.get(BASE + "/categories/42"), "path", "category_id")


def test_duplicate_sibling_name_is_409(admin_h):
    name = "Trùng " + uuid.uuid4().hex[:6]
    make_category(admin_h, name)
    assert requests.post(BASE + "/categories", json={"name": name}, headers=admin_h).status_code == 409


# --- reviews ----------------------------------------------------------------

def test_reviews_upsert_list_average_and_delete(admin_h, user, admin):
    p = make_product(admin_h)
    h = auth(user["token"])
    r = requests.post(BASE + "/reviews", json={"product_id": p["id"], "rating": 2, "comment": "Tạm được"}, headers=h)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["rating"] == 2 and first["user_id"] == user["id"] and first["comment"] == "Tạm được"
    r = requests.post(BASE + "/reviews", json={"product_id": p["id"], "rating": 5}, headers=h)
    assert r.status_code == 200 and r.json()["id"] == first["id"] and r.json()["rating"] == 5
    r = requests.post(BASE + "/reviews", json={"product_id": p["id"], "rating": 4}, headers=admin_h)
    assert r.status_code == 201
    admin_review = r.json()

    page = requests.get(BASE + "/reviews", params={"product_id": p["id"]}).json()
    assert page["review_count"] == 2 and page["average_rating"] == 4.5 and len(page["reviews"]) == 2
    assert len(requests.get(BASE + "/reviews", params={"product_id": p["id"], "limit": 1}).json()["reviews"]) == 1
    prod = get_product(p["id"])
    assert prod["review_count"] == 2 and prod["average_rating"] == 4.5

    assert requests.delete(BASE + "/reviews/" + admin_review["id"], headers=h).status_code == 403
    assert requests.delete(BASE + "/reviews/" + first["id"], headers=admin_h).status_code == 204  # admin: any
    assert requests.delete(BASE + "/reviews/" + admin_review["id"], headers=admin_h).status_code == 204
    assert requests.delete(BASE + "/reviews/" + first["id"], headers=h).status_code == 404
    assert get_product(p["id"])["review_count"] == 0


@pytest.mark.parametrize("body,field", [
    ({"rating": 0}, "rating"), ({"rating": 6}, "rating"), ({"rating": "5"}, "rating"),
    ({"rating": 3, "comment": "x" * 2001}, "comment"), ({}, "rating"),
])
def test_review_invalid_is_422(admin_h, user, body, field):
    p = make_product(admin_h)
    r = requests.post(BASE + "/reviews", json={"product_id": p["id"], **body}, headers=auth(user["token"]))
    assert_field_error(r, "body", field)


def test_review_errors(user):
    h = auth(user["token"])
    assert requests.post(BASE + "/reviews", json={"product_id": str(uuid.uuid4()), "rating": 3}).status_code == 401
    assert requests.post(BASE + "/reviews", json={"product_id": str(uuid.uuid4()), "rating": 3}, headers=h).status_code == 404
    assert_field_error(requests.get(BASE + "/reviews"), "query", "product_id")
    assert requests.get(BASE + "/reviews", params={"product_id": str(uuid.uuid4())}).status_code == 404
    assert_field_error(requests.delete(BASE + "/reviews/x", headers=h), "path", "review_id")


# --- favorites --------------------------------------------------------------

def test_favorites_are_idempotent_and_listed_with_summaries(admin_h, user):
    p = make_product(admin_h, name="Trà xanh", price=35000)
    h = auth(user["token"])
    r = requests.post(BASE + "/favorites", json={"product_id": p["id"]}, headers=h)
    assert r.status_code == 201 and r.json()["product_id"] == p["id"]
    r = requests.post(BASE + "/favorites", json={"product_id": p["id"]}, headers=h)
    assert r.status_code == 200
    favs = requests.get(BASE + "/favorites", headers=h).json()["favorites"]
    assert len(favs) == 1 and favs[0]["product"] == {
        "id": p["id"], "name": "Trà xanh", "price": 35000, "discounted_price": None, "primary_image": None}
    assert requests.delete(BASE + "/favorites/" + p["id"], headers=h).status_code == 204
    assert requests.delete(BASE + "/favorites/" + p["id"], headers=h).status_code == 204
    assert requests.get(BASE + "/favorites", headers=h).json()["favorites"] == []


def test_favorite_errors(user):
    h = auth(user["token"])
    assert requests.get(BASE + "/favorites").status_code == 401
    assert requests.post(BASE + "/favorites", json={"product_id": str(uuid.uuid4())}, headers=h).status_code == 404
    assert_field_error(requests.post(BASE + "/favorites", json={"product_id": "x"}, headers=h), "body", "product_id")
    assert_field_error(requests.delete(BASE + "/favorites/x", headers=h), "path", "product_id")


# --- promotions -------------------------------------------------------------

def promo(h, **over):
    body = {"name": "Khuyến mãi", "discount_type": "percent", "value": 10, "starts_at": iso(-1),
            "ends_at": iso(1), **over}
    return requests.post(BASE + "/promotions", json=body, headers=h)


def test_promotion_crud_and_active(admin_h, user):
    p = make_product(admin_h)
    r = promo(admin_h, product_ids=[p["id"]], description="Giảm giá")
    assert r.status_code == 201, r.text
    pr = r.json()
    assert pr["product_ids"] == [p["id"]] and pr["value"] == 10 and pr["is_active"] is True
    assert requests.get(BASE + "/promotions/" + pr["id"], headers=admin_h).json() == pr
    assert any(x["id"] == pr["id"] for x in requests.get(BASE + "/promotions", headers=admin_h).json()["promotions"])
    assert any(x["id"] == pr["id"] for x in requests.get(BASE + "/promotions/active").json()["promotions"])

    r = requests.patch(BASE + "/promotions/" + pr["id"], json={"is_active": False, "value": 15}, headers=admin_h)
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["value"] == 15
    assert r.json()["name"] == "Khuyến mãi"
    assert all(x["id"] != pr["id"] for x in requests.get(BASE + "/promotions/active").json()["promotions"])
    expired = promo(admin_h, starts_at=iso(-3), ends_at=iso(-2)).json()
    assert all(x["id"] != expired["id"] for x in requests.get(BASE + "/promotions/active").json()["promotions"])

    assert requests.get(BASE + "/promotions", headers=auth(user["token"])).status_code == 403
    assert requests.post(BASE + "/promotions", json={}, headers=auth(user["token"])).status_code == 403
    assert requests.delete(BASE + "/promotions/" + pr["id"], headers=admin_h).status_code == 204
    assert requests.get(BASE + "/promotions/" + pr["id"], headers=admin_h).status_code == 404


@pytest.mark.parametrize("over,field", [
    ({"value": 150}, "value"), ({"value": 0}, "value"), ({"value": -5, "discount_type": "fixed"}, "value"),
    ({"discount_type": "bogo"}, "discount_type"), ({"ends_at": iso(-2)}, "ends_at"),
    ({"starts_at": "tomorrow"}, "starts_at"), ({"product_ids": [str(uuid.uuid4())]}, "product_ids"),
    ({"category_ids": [str(uuid.uuid4())]}, "category_ids"), ({"name": ""}, "name"),
])
def test_promotion_invalid_is_422(admin_h, over, field):
    assert_field_error(promo(admin_h, **over), "body", field)


def test_discounted_price_is_the_best_active_promotion(admin_h):
    parent = make_category(admin_h)
    child = make_category(admin_h, parent_id=parent["id"])
    p = make_product(admin_h, price=100000, category_ids=[child["id"]])
    cheap = make_product(admin_h, price=3000)
    assert get_product(p["id"])["discounted_price"] is None
    assert promo(admin_h, value=10, product_ids=[p["id"]]).status_code == 201
    assert get_product(p["id"])["discounted_price"] == 90000
    # On an ancestor category, and better: it wins.
    assert promo(admin_h, discount_type="fixed", value=25000.5, category_ids=[parent["id"]]).status_code == 201
    assert get_product(p["id"])["discounted_price"] == 74999.5
    # Better still but inactive or in the future: ignored.
    assert promo(admin_h, value=90, product_ids=[p["id"]], is_active=False).status_code == 201
    assert promo(admin_h, value=90, product_ids=[p["id"]], starts_at=iso(1), ends_at=iso(2)).status_code == 201
    assert get_product(p["id"])["discounted_price"] == 74999.5
    # Never below zero; percentages round to the cent.
    assert promo(admin_h, discount_type="fixed", value=5000, product_ids=[cheap["id"]]).status_code == 201
    assert get_product(cheap["id"])["discounted_price"] == 0
    odd = make_product(admin_h, price=0.05)
    assert promo(admin_h, value=50, product_ids=[odd["id"]]).status_code == 201
    assert get_product(odd["id"])["discounted_price"] == 0.03


# --- seeding ----------------------------------------------------------------

def test_seed_demo_is_idempotent():
    assert run_cli("seed", "--demo").returncode == 0
    count = sql("SELECT count(*) FROM products WHERE name = 'Cà phê sữa đá Highlands'")
    cats = sql("SELECT count(*) FROM categories")
    assert run_cli("seed", "--demo").returncode == 0
    assert count == "1" and sql("SELECT count(*) FROM products WHERE name = 'Cà phê sữa đá Highlands'") == "1"
    assert sql("SELECT count(*) FROM categories") == cats
    assert int(sql("SELECT count(*) FROM products p JOIN product_categories pc ON pc.product_id = p.id "
                   "JOIN categories c ON c.id = pc.category_id WHERE c.name = 'Cà phê'")) >= 4


def test_seed_products_generates_a_catalog():
    before = int(sql("SELECT count(*) FROM products"))
    r = run_cli("seed", "--products", "300")
    assert r.returncode == 0, r.stderr
    assert int(sql("SELECT count(*) FROM products")) == before + 300
    assert sql("SELECT count(*) FROM products p WHERE NOT EXISTS "
               "(SELECT 1 FROM product_categories pc WHERE pc.product_id = p.id) "
               "AND p.name LIKE '%g'") == "0"
    assert run_cli("seed", "--products", "0").returncode == 2
