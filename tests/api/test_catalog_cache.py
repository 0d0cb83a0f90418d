"""Stored product renders (migration 0011, product_json_cache): product reads
and search pages show a product's JSON from its stored render, so every write
that changes what a product shows must show in the very next read, whether it
goes through the API or straight to the database (as the media worker's
does), and a promotion must start and end on time. A read that rendered
before a write must not store its render after it. Search pages are kept
whole as well (migration 0018, product_page_cache), under the same rules."""
import datetime
import os
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import BASE, auth, run_cli, sql, wait_for, wait_for_lock_wait


@pytest.fixture
def h(admin):
    return auth(admin["token"])


def call(method, path, h=None, body=None, status=None):
    r = requests.request(method, BASE + path, json=body, headers=h)
    assert r.status_code == (status or {"POST": 201, "DELETE": 204}.get(method, 200)), r.text
    return r.json() if r.content else None


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# A stored page (migration 0018) of a request holding query, whose JSON is
# the answer's and whose generations and product revs are current (the time
# guard aside: the promotion edge test checks that one).
STORED_PAGE = (
    "SELECT count(*) FROM product_page_cache c, catalog_generation cg, "
    "product_render_generation rg WHERE strpos(c.key, :'a0') > 0 AND c.json::text = :'a1' "
    "AND c.catalog_gen = cg.n AND c.render_gen = rg.n AND NOT EXISTS (SELECT 1 FROM "
    "unnest(c.ids, c.revs) x(id, rev) LEFT JOIN product_json_cache j ON j.product_id = x.id "
    "WHERE j.rev IS DISTINCT FROM x.rev) AND c.ids = ARRAY(SELECT x FROM unnest(c.ids) x ORDER BY x)")


def page(**params):
    """The search page GET /products/ answers for params, asked twice: the
    first ask stores the page when it was not stored, so the second is
    answered from it (both the same); the stored page is that answer."""
    answers = [requests.get(BASE + "/products/", params=params) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert answers[0].text == answers[1].text
    assert sql(STORED_PAGE, params["query"], answers[1].text) != "0", (params, answers[1].text)
    return answers[1].json()


def shown(pid, tag):
    """The product as GET /products/{id} and as a search page show it (which
    must agree); None when it is gone."""
    r = requests.get(BASE + "/products/" + pid)
    found = [p for p in page(query=tag)["products"] if p["id"] == pid]
    if r.status_code == 404:
        assert not found
        return None
    assert r.status_code == 200, r.text
    assert found == [r.json()], (found, r.json())
    return r.json()


@pytest.fixture
def world(h, user):
    """A product in a child category, a promotion-free parent, a customer."""
    tag = "zc" + uuid.uuid4().hex[:8]
    parent = call("POST", "/categories", h, {"name": "Cha " + tag})
    child = call("POST", "/categories", h, {"name": "Con " + tag})
    p = call("POST", "/products/", h, {"name": "Bánh %s" % tag, "price": 100000,
                                        "category_ids": [child["id"]]})
    return {"tag": tag, "parent": parent, "child": child, "p": p, "h": h,
            "user": auth(user["token"])}


def promo(w, **over):
    body = {"name": "Giảm " + w["tag"], "discount_type": "percent", "value": 10,
            "starts_at": iso(time.time() - 86400), "ends_at": iso(time.time() + 86400), **over}
    return call("POST", "/promotions", w["h"], body)


def image(w, primary):
    sql("INSERT INTO product_images (product_id, object_key, image_url, is_primary) "
        "VALUES (:'a0', :'a1', 'http://x/' || :'a1', :'a2')",
        w["p"]["id"], "images/products/%s.jpg" % uuid.uuid4(), primary)


def patch_product(body):
    return lambda w: call("PATCH", "/products/" + w["p"]["id"], w["h"], body(w))


def then(first, second):
    """first(w), a read that stores the render, then second(w, first's result)."""
    def change(w):
        made = first(w)
        shown(w["p"]["id"], w["tag"])
        second(w, made)
    return change


def product_promotion(w, **over):
    return promo(w, product_ids=[w["p"]["id"]], **over)


# Each case: a write after the product was read (so its render is stored),
# then what the next read must show: (field path, value); path None: gone.
CASES = {
    "rename": (patch_product(lambda w: {"name": "Bánh %s mới" % w["tag"]}), ("name",), "Bánh {tag} mới"),
    "price": (patch_product(lambda w: {"price": 120000}), ("price",), 120000),
    "price in SQL": (lambda w: sql("UPDATE products SET price = 80000 WHERE id = :'a0'", w["p"]["id"]),
                     ("price",), 80000),
    "category links": (patch_product(lambda w: {"category_ids": [w["parent"]["id"]]}),
                       ("categories", 0, "name"), "Cha {tag}"),
    "category rename": (lambda w: call("PATCH", "/categories/" + w["child"]["id"], w["h"],
                                       {"name": "Con mới " + w["tag"]}),
                        ("categories", 0, "name"), "Con mới {tag}"),
    "category moved under a promoted parent": (
        then(lambda w: promo(w, category_ids=[w["parent"]["id"]]),
             lambda w, _: call("PATCH", "/categories/" + w["child"]["id"], w["h"],
                               {"parent_id": w["parent"]["id"]})),
        ("discounted_price",), 90000),
    "primary image": (lambda w: image(w, "true"), ("primary_image", "is_primary"), True),
    "image made primary in SQL": (
        then(lambda w: image(w, "false"),
             lambda w, _: sql("UPDATE product_images SET is_primary = true WHERE product_id = :'a0'",
                              w["p"]["id"])),
        ("primary_image", "is_primary"), True),
    "review": (lambda w: call("POST", "/reviews", w["user"], {"product_id": w["p"]["id"], "rating": 4}),
               ("average_rating",), 4),
    "review deleted": (
        then(lambda w: call("POST", "/reviews", w["user"], {"product_id": w["p"]["id"], "rating": 4}),
             lambda w, review: call("DELETE", "/reviews/" + review["id"], w["user"])),
        ("review_count",), 0),
    "promotion on the product": (product_promotion, ("discounted_price",), 90000),
    "promotion on the category": (lambda w: promo(w, value=20, category_ids=[w["child"]["id"]]),
                                  ("discounted_price",), 80000),
    "promotion value changed": (
        then(product_promotion,
             lambda w, pr: call("PATCH", "/promotions/" + pr["id"], w["h"], {"value": 30})),
        ("discounted_price",), 70000),
    "promotion deactivated": (
        then(product_promotion,
             lambda w, pr: call("PATCH", "/promotions/" + pr["id"], w["h"], {"is_active": False})),
        ("discounted_price",), None),
    "promotion deleted": (
        then(product_promotion, lambda w, pr: call("DELETE", "/promotions/" + pr["id"], w["h"])),
        ("discounted_price",), None),
    "product deleted": (lambda w: call("DELETE", "/products/" + w["p"]["id"], w["h"]), None, None),
}


def field(product, path):
    for k in path:
        product = product[k]
    return product


@pytest.mark.parametrize("case", CASES)
def test_a_write_shows_in_the_next_read(world, case):
    change, path, expected = CASES[case]
    before = shown(world["p"]["id"], world["tag"])  # stored now
    assert shown(world["p"]["id"], world["tag"]) == before
    change(world)
    after = shown(world["p"]["id"], world["tag"])
    if path is None:
        assert after is None
    else:
        if isinstance(expected, str):
            expected = expected.format(tag=world["tag"])
        assert field(after, path) == expected


@pytest.mark.parametrize("edge", ["starts", "ends"])
def test_a_promotion_starts_and_ends_on_time(world, edge):
    """The stored render holds only until the tenant's next promotion start or end."""
    edge_at = int(time.time()) + 3
    if edge == "starts":
        product_promotion(world, starts_at=iso(edge_at))
        before, after = None, 90000
    else:
        product_promotion(world, ends_at=iso(edge_at))
        before, after = 90000, None
    first = shown(world["p"]["id"], world["tag"])
    if time.time() < edge_at - 0.5:  # read (and stored) before the edge
        assert first["discounted_price"] == before
        # The stored page holds no longer than the stored render.
        assert sql("SELECT count(*) FROM product_page_cache WHERE strpos(key, :'a0') > 0 "
                   "AND valid_until <= to_timestamp(:'a1')", world["tag"], edge_at) == "1"
    wait_for("the promotion to " + edge[:-1],
             lambda: time.time() > edge_at + 0.5
             and shown(world["p"]["id"], world["tag"])["discounted_price"] == after)


def test_a_search_page_is_answered_from_the_stored_page(world):
    """A page asked again is the stored page, until a write outdates it."""
    tag = world["tag"]
    page(query=tag)
    sql("UPDATE product_page_cache SET json = '{\"total\": -1, \"products\": []}' "
        "WHERE strpos(key, :'a0') > 0", tag)
    assert call("GET", "/products/?query=" + tag)["total"] == -1
    sql("UPDATE products SET price = 90000 WHERE id = :'a0'", world["p"]["id"])
    assert [p["price"] for p in page(query=tag)["products"]] == [90000]


def kem(w):
    """A second product of the tag, ranked after the world's (a longer name)."""
    return call("POST", "/products/", w["h"], {"name": "Bánh %s kem" % w["tag"], "price": 50000})


# Each case: what to do first (its result is passed on), the requests (query
# string parameters, {tag} filled in) whose pages must show every write, and
# a write after they were stored; then each page is the one a fresh search
# shows (no stored page of the tag left) and is checked.
PAGE_CASES = {
    "second page, a product on it written in SQL": (
        kem, [{"query": "{tag}", "skip": 1, "limit": 1}],
        lambda w, q: sql("UPDATE products SET name = name || ' mới' WHERE id = :'a0'", q["id"]),
        lambda w, q, pages: [p["name"] for p in pages[0]["products"]] == ["Bánh %s kem mới" % w["tag"]]),
    "two spellings of one query": (
        lambda w: None, [{"query": "Bánh {tag}"}, {"query": "  banh   {TAG} "}],
        lambda w, _: sql("UPDATE products SET price = 70000 WHERE id = :'a0'", w["p"]["id"]),
        lambda w, _, pages: pages[0] == pages[1] and pages[0]["products"][0]["price"] == 70000),
    "a product added that now matches": (
        lambda w: None, [{"query": "{tag}", "limit": 1}],
        lambda w, _: kem(w),
        lambda w, _, pages: pages[0]["total"] == 2 and len(pages[0]["products"]) == 1),
    "a product added in SQL that now matches": (
        lambda w: None, [{"query": "{tag}"}],
        lambda w, _: sql("INSERT INTO products (tenant_id, name, price) SELECT tenant_id, "
                         "'Sữa ' || :'a0', 1000 FROM products WHERE id = :'a1'", w["tag"], w["p"]["id"]),
        lambda w, _, pages: pages[0]["total"] == 2),
    "a product on the page renamed in SQL": (
        lambda w: None, [{"query": "{tag}"}],
        lambda w, _: sql("UPDATE products SET name = 'Bánh ' || :'a0' || ' sau' WHERE id = :'a1'",
                         w["tag"], w["p"]["id"]),
        lambda w, _, pages: pages[0]["products"][0]["name"] == "Bánh %s sau" % w["tag"]),
    "a product on the page reviewed": (
        lambda w: None, [{"query": "{tag}", "min_price": 1}],
        lambda w, _: call("POST", "/reviews", w["user"], {"product_id": w["p"]["id"], "rating": 2}),
        lambda w, _, pages: pages[0]["products"][0]["review_count"] == 1),
    "a product on the page deleted": (
        kem, [{"query": "{tag}"}],
        lambda w, _: call("DELETE", "/products/" + w["p"]["id"], w["h"]),
        lambda w, q, pages: pages[0]["total"] == 1 and pages[0]["products"][0]["id"] == q["id"]),
}


@pytest.mark.parametrize("case", PAGE_CASES)
def test_a_write_shows_in_the_next_page(world, case):
    first, asked, write, check = PAGE_CASES[case]
    made = first(world)
    asks = [{k: v.format(tag=world["tag"], TAG=world["tag"].upper()) if isinstance(v, str) else v
             for k, v in params.items()} for params in asked]
    before = [page(**params) for params in asks]
    # One stored page per request: two spellings are two pages.
    assert sql("SELECT count(*) FROM product_page_cache WHERE strpos(lower(key), :'a0') > 0",
               world["tag"]) == str(len(asks))
    write(world, made)
    after = [page(**params) for params in asks]
    assert after != before
    assert check(world, made, after), after
    sql("DELETE FROM product_page_cache WHERE strpos(lower(key), :'a0') > 0", world["tag"])
    assert [page(**params) for params in asks] == after


def test_a_render_from_before_a_write_is_not_stored_after_it(world):
    """A read renders from its snapshot while a write is in flight; its store
    must lose to the write, so the read after the write shows the write."""
    pid, tag = world["p"]["id"], world["tag"]
    shown(pid, tag)
    promo(world, name="other " + tag)  # a new render generation: the next read renders
    writer = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-qtAX",
                               "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE, text=True)
    writer.stdin.write("BEGIN; UPDATE products SET name = 'Bánh %s sau' WHERE id = '%s';\n" % (tag, pid))
    writer.stdin.flush()
    wait_for("the write to be done but not committed", lambda: sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
        "AND query LIKE 'UPDATE products SET name = ''Bánh ' || :'a0' || ' sau''%'", tag) != "0")
    seen = {}
    reader = threading.Thread(target=lambda: seen.update(r=requests.get(BASE + "/products/" + pid)))
    reader.start()
    # The read rendered the old name and now waits for the write's row lock.
    wait_for_lock_wait("the read to wait for the write", "%INSERT INTO product_json_cache%")
    writer.stdin.write("COMMIT;\n")
    writer.stdin.close()
    assert writer.wait(timeout=30) == 0
    reader.join(timeout=30)
    assert seen["r"].json()["name"] == "Bánh %s" % tag  # its snapshot's answer
    assert shown(pid, tag)["name"] == "Bánh %s sau" % tag



def get_at_once(asks):
    """GETs every (path, headers) of asks from a thread each, all at once;
    returns their (status, body) in the same order."""
    answers = [None] * len(asks)

    def ask(i):
        r = requests.get(BASE + asks[i][0], headers=asks[i][1])
        answers[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def tenant_cases(world):
    """(headers, whose catalog they name) for the public reads: "mine" (the
    product's tenant), "other" (a tenant without it), or an error status and
    detail."""
    default = sql("SELECT id FROM tenants WHERE slug = 'default'")
    other = sql("INSERT INTO tenants (slug, name) VALUES (:'a0', 'Other store') RETURNING id",
                "t-" + uuid.uuid4().hex[:12])
    return [
        ({}, "mine"),
        ({"X-Tenant-ID": default}, "mine"),
        ({"X-Tenant-ID": default.upper()}, "mine"),
        (world["user"], "mine"),
        ({"X-Tenant-ID": other}, "other"),
        ({"X-Tenant-ID": str(uuid.uuid4())}, (404, {"detail": "Tenant not found"})),
        ({"X-Tenant-ID": "not-a-uuid"}, (422, None)),
        ({"Authorization": "Bearer not-a-token"},
         (401, {"detail": "Could not validate credentials"})),
    ]


def same_answers(path, headers, pid):
    """The answers to path, asked twice after a write to the product (which
    leaves it without a stored render) and twice more: all equal. Returns
    (status, body)."""
    answers = []
    for _ in range(2):
        sql("UPDATE products SET price = price WHERE id = :'a0'", pid)
        for _ in range(2):
            r = requests.get(BASE + path, headers=headers)
            answers.append((r.status_code, r.json()))
    assert all(a == answers[0] for a in answers), (path, headers, answers)
    return answers[0]


def test_a_product_read_answers_the_same_whatever_path_it_takes(world):
    """A product read is answered from the stored render through the read
    pipeline when it can, else on the blocking path that renders: the first
    read after a write takes the second, the next one the first. Both give
    the same answer for every way of naming the tenant, and the same 404s
    for an unknown product or tenant."""
    pid = world["p"]["id"]
    for headers, whose in tenant_cases(world):
        status, body = same_answers("/products/" + pid, headers, pid)
        if whose == "mine":
            assert status == 200 and body["id"] == pid and body["name"] == world["p"]["name"]
        elif whose == "other":
            assert (status, body) == (404, {"detail": "Product not found"})
        else:
            assert status == whose[0] and (whose[1] is None or body == whose[1]), (headers, body)
    assert same_answers("/products/" + str(uuid.uuid4()), {}, pid) == \
        (404, {"detail": "Product not found"})


def test_a_search_page_answers_the_same_whatever_path_it_takes(world):
    """A search page is answered from the cached result and the stored renders
    through the read pipeline when both are there, else on the blocking path
    that searches and renders. Both give the same page for every way of
    naming the tenant, past the cached depth (skip + limit > 100) too."""
    pid = world["p"]["id"]
    for headers, whose in tenant_cases(world):
        for query, want in (("?query=" + world["tag"], [pid]),
                            ("?query=" + world["tag"] + "&skip=100&limit=5", [])):
            status, body = same_answers("/products/" + query, headers, pid)
            if whose in ("mine", "other"):
                ids = want if whose == "mine" else []
                assert status == 200, body
                assert body["total"] == (1 if whose == "mine" else 0)
                assert [p["id"] for p in body["products"]] == ids
            else:
                assert status == whose[0] and (whose[1] is None or body == whose[1]), (headers, body)


def test_reads_missing_at_once_are_rendered_together_each_its_own(world):
    """After a change that outdates every stored render, reads that miss at
    the same time are rendered in one batch (one statement per tenant): each
    gets its own product, the same JSON a lone read renders; a product of
    another tenant or none at all asked among them is a 404; and the renders
    are stored for the next reads."""
    h, tag = world["h"], world["tag"]
    promo(world, category_ids=[world["child"]["id"]], value=25)
    ids = [world["p"]["id"]] + [
        call("POST", "/products/", h, {"name": "Kẹo %s %d" % (tag, i), "price": 1000 + i,
                                        "category_ids": [world["child"]["id"]]})["id"]
        for i in range(11)]
    alone = {pid: call("GET", "/products/" + pid) for pid in ids}
    other = sql("INSERT INTO tenants (slug, name) VALUES (:'a0', 'Other store') RETURNING id",
                "t-" + uuid.uuid4().hex[:12])
    asks = [(pid, {}) for pid in ids] * 2 + [(ids[0], {"X-Tenant-ID": other}),
                                             (str(uuid.uuid4()), {})]
    for _ in range(3):
        sql("UPDATE product_render_generation SET n = n + 1")
        answers = get_at_once([("/products/" + pid, headers) for pid, headers in asks])
        for (pid, headers), answer in zip(asks, answers):
            if headers or pid not in alone:
                assert answer == (404, {"detail": "Product not found"}), (pid, headers, answer)
            else:
                assert answer == (200, alone[pid]), (pid, answer)
                assert answer[1]["discounted_price"] == answer[1]["price"] * 0.75
        assert sql("SELECT count(*) FROM product_json_cache c JOIN product_render_generation g "
                   "ON c.generation = g.n WHERE c.product_id = ANY(:'a0'::uuid[])",
                   "{%s}" % ",".join(ids)) == str(len(ids))


MISSING_RENDERS = (
    "SELECT count(*) FROM products p WHERE NOT EXISTS (SELECT 1 FROM product_json_cache c "
    "JOIN product_render_generation g ON c.generation = g.n WHERE c.product_id = p.id "
    "AND c.json IS NOT NULL AND c.valid_from <= now() "
    "AND (c.valid_until IS NULL OR now() < c.valid_until))")


def test_render_products_stores_every_missing_render(world):
    """`smartcart render-products` after a change that outdates every stored
    render stores each product's render, the one product_api renders, so
    the reads after it find them; run again, it has nothing to do."""
    promo(world, category_ids=[world["child"]["id"]], value=20)
    missing = int(sql(MISSING_RENDERS))
    assert missing >= 1
    r = run_cli("render-products")
    assert (r.returncode, r.stdout.strip()) == (0, "rendered %d products" % missing), r.stderr
    assert sql(MISSING_RENDERS) == "0"
    assert sql("SELECT count(*) FROM product_json_cache c JOIN product_api a ON a.id = c.product_id "
               "WHERE c.json::text IS DISTINCT FROM a.json::text") == "0"
    assert call("GET", "/products/" + world["p"]["id"])["discounted_price"] == 80000
    r = run_cli("render-products")
    assert (r.returncode, r.stdout.strip()) == (0, "rendered 0 products"), r.stderr


def test_identical_searches_at_once_share_one_answer(world):
    """Identical searches that miss the cached answers at the same time (a
    popular query after a catalog change) are searched once and the others
    wait for that answer: each of them gets the whole page, the same one."""
    pid, tag = world["p"]["id"], world["tag"]
    for _ in range(3):
        sql("UPDATE products SET price = price WHERE id = :'a0'", pid)
        answers = get_at_once([("/products/?query=" + tag, {})] * 24)
        assert all(a == answers[0] for a in answers), answers
        status, page = answers[0]
        assert status == 200 and page["total"] == 1
        assert [p["id"] for p in page["products"]] == [pid]
