"""Product search at scale (migrations 0008 to 0014): the ranked ids of a listing are
cached, so every write that changes what a listing finds must show at once;
pages past the cached depth (skip + limit > 100) agree with the cached ones;
names that start with the query rank above names that merely contain it."""
import uuid

import pytest
import requests

from conftest import BASE, auth, sql


def listing(**params):
    r = requests.get(BASE + "/products/", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def names(page):
    return [p["name"] for p in page["products"]]


@pytest.fixture
def h(admin):
    return auth(admin["token"])


def post(h, path, body, status=201):
    r = requests.post(BASE + path, json=body, headers=h)
    assert r.status_code == status, r.text
    return r.json()


def patch(h, path, body):
    r = requests.patch(BASE + path, json=body, headers=h)
    assert r.status_code == 200, r.text


def delete(h, path):
    assert requests.delete(BASE + path, headers=h).status_code == 204


# Each case: a write after a first search, then what the same search (and
# filters) must answer. {tag} is a word of this test only.
@pytest.mark.parametrize("change,query,filters,expected", [
    ("rename", "{tag} moi", {}, ["Bánh {tag} mới"]),
    ("rename-away", "{tag}", {}, []),
    ("price", "{tag}", {"min_price": 50000}, ["Bánh {tag} cũ"]),
    ("move", "{tag}", {"category": "b"}, ["Bánh {tag} cũ"]),
    ("move", "{tag}", {"category": "a"}, []),
    ("delete", "{tag}", {}, []),
    ("add", "{tag}", {}, ["Kẹo {tag}", "Bánh {tag} cũ"]),  # the shorter name first
])
def test_writes_show_in_the_next_search(h, change, query, filters, expected):
    tag = "zq" + uuid.uuid4().hex[:8]
    cats = {k: post(h, "/categories", {"name": "Tìm kiếm " + k + tag})["id"] for k in "ab"}
    p = post(h, "/products/", {"name": "Bánh %s cũ" % tag, "price": 10000,
                               "category_ids": [cats["a"]]})
    params = {"query": query.format(tag=tag)}
    if "min_price" in filters:
        params["min_price"] = filters["min_price"]
    if "category" in filters:
        params["category_id"] = cats[filters["category"]]
    listing(**params)  # cached now
    if change == "rename":
        patch(h, "/products/" + p["id"], {"name": "Bánh %s mới" % tag})
    elif change == "rename-away":
        patch(h, "/products/" + p["id"], {"name": "Bánh mới"})
    elif change == "price":
        patch(h, "/products/" + p["id"], {"price": 60000})
    elif change == "move":
        patch(h, "/products/" + p["id"], {"category_ids": [cats["b"]]})
    elif change == "delete":
        delete(h, "/products/" + p["id"])
    else:
        post(h, "/products/", {"name": "Kẹo " + tag, "price": 5000})
    page = listing(**params)
    assert names(page) == [e.format(tag=tag) for e in expected]
    assert page["total"] == len(expected)


def test_pages_past_the_cached_depth_continue_the_ranking():
    tag = "zq" + uuid.uuid4().hex[:8]
    sql("INSERT INTO products (tenant_id, name, price) SELECT t.id, 'Hàng %s ' || lpad(g::text, 3, '0'), "
        "1000 FROM tenants t, generate_series(1, 105) g WHERE t.slug = 'default'" % tag)
    first = listing(query=tag, limit=100)
    rest = listing(query=tag, skip=100, limit=10)
    assert first["total"] == rest["total"] == 105
    assert names(first) + names(rest) == ["Hàng %s %03d" % (tag, g) for g in range(1, 106)]
    assert names(listing(query=tag, skip=98, limit=4)) == names(first)[98:] + names(rest)[:2]


def test_a_name_starting_with_the_query_ranks_first(h):
    tag = "zq" + uuid.uuid4().hex[:8]
    cat = post(h, "/categories", {"name": "Xếp hạng " + tag})["id"]
    for name in ["Trà sữa tươi " + tag, "Sữa tươi ít đường " + tag, "Bánh " + tag]:
        post(h, "/products/", {"name": name, "price": 1000, "description": "sữa tươi",
                               "category_ids": [cat]})
    page = listing(query="sua tuoi", category_id=cat)
    assert names(page) == ["Sữa tươi ít đường " + tag, "Trà sữa tươi " + tag, "Bánh " + tag]


# Queries of several words take their candidates from adjacent word pairs
# (migration 0012_search_pairs): the first query word may end a word, the
# last may start one, those between are whole words; the answer is still
# exactly the substring match. Each case: query ({tag} is a word of this test
# only), the names it must find, best first.
@pytest.mark.parametrize("query,expected", [
    ("{tag} sua", ["Kẹo {tag} sữa", "Bánh {tag} sữa tươi"]),  # the shorter name first
    ("{tag} sua tuoi", ["Bánh {tag} sữa tươi"]),
    ("nh {tag} sua tu", ["Bánh {tag} sữa tươi"]),  # partial first and last words
    ("o {tag} s", ["Kẹo {tag} sữa"]),
    ("\t{tag} sua", ["Kẹo {tag} sữa", "Bánh {tag} sữa tươi"]),  # white space around: trimmed
    ("{tag}\u00a0\tsua\n", ["Kẹo {tag} sữa", "Bánh {tag} sữa tươi"]),  # any run inside: one space
    ("50% {tag}", ["Giảm 50% {tag}"]),  # % and _ are plain characters
    ("a_ {tag}x", ["Loại a_ {tag}x"]),
    ("{tag} cuoi dong", ["Kẹo {tag} sữa"]),  # across name and description
    ("{tag} cuoi", ["Kẹo {tag} sữa"]),  # only the description
    ("sua {tag}", ["Sữa {tag} sủi", "Có sữa {tag}", "Kẹo {tag} sữa"]),  # Kẹo: name, description
    ("a {tag}", ["Có sữa {tag}", "Sữa {tag} sủi", "Kẹo {tag} sữa"]),  # no name starts with it
    ("nh {tag}", ["Bánh {tag} sữa tươi"]),  # a partial first word
    ("{tag} s", ["Kẹo {tag} sữa", "Sữa {tag} sủi", "Bánh {tag} sữa tươi"]),  # two pairs
    ("% {tag}", ["Giảm 50% {tag}"]),
    ("b {tag}x", ["Loại ab {tag}x"]),
])
@pytest.mark.parametrize("filtered", [True, False])  # unfiltered two words: the pair index (0014)
def test_several_words_match_as_a_substring(h, query, expected, filtered):
    tag = "zp" + uuid.uuid4().hex[:8]
    cat = post(h, "/categories", {"name": "Cặp từ " + tag})["id"]
    for name, description in [("Bánh {tag} sữa tươi", "Bánh mềm"), ("Kẹo {tag} sữa", "{tag} cuối dòng"),
                              ("Giảm 50% {tag}", None), ("Giảm 50x {tag}", None),
                              ("Loại a_ {tag}x", None), ("Loại ab {tag}x", None),
                              ("Sữa {tag} sủi", None), ("Có sữa {tag}", None)]:
        post(h, "/products/", {"name": name.format(tag=tag), "price": 1000, "category_ids": [cat],
                               "description": description and description.format(tag=tag)})
    page = listing(query=query.format(tag=tag), **({"category_id": cat} if filtered else {}))
    assert names(page) == [e.format(tag=tag) for e in expected]
    assert page["total"] == len(expected)


# One-word queries are answered from an index of words that triggers keep in
# the writer's transaction (migration 0013_search_words): the total from
# per-substring counters, the ranking from per-word lists; two-word queries
# from an index of adjacent word pairs kept the same way (0014). Each case: a
# write after a first search for {w} less its last letter (a one-word {w}: the
# tag; a two-word one: the tag and "sữa"), then the names that search must
# find, best first: the name starts with it, then contains it (shorter name
# first), then only the description does.
@pytest.mark.parametrize("w", ["{tag}", "{tag} sữa"])
@pytest.mark.parametrize("change,expected", [
    ("none", ["{w} tươi", "Kẹo {w}", "Bánh {w} xốp", "Trà sen"]),
    ("price", ["{w} tươi", "Kẹo {w}", "Bánh {w} xốp", "Trà sen"]),
    ("insert", ["{w}", "{w} tươi", "Kẹo {w}", "Bánh {w} xốp", "Trà sen"]),
    ("rename-away", ["{w} tươi", "Bánh {w} xốp", "Trà sen"]),
    ("rename-first", ["{w} tươi", "{w} Bánh xốp", "Kẹo {w}", "Trà sen"]),
    ("describe-away", ["{w} tươi", "Kẹo {w}", "Bánh {w} xốp"]),
    ("describe-into", ["{w} tươi", "Kẹo {w}", "Bánh {w} xốp", "Trà sen", "Trà xanh"]),
    ("delete", ["Kẹo {w}", "Bánh {w} xốp", "Trà sen"]),
])
def test_writes_show_in_the_next_word_search(h, w, change, expected):
    w = w.format(tag="zw" + uuid.uuid4().hex[:8])
    ids = {}
    for name, description in [("{w} tươi", None), ("Kẹo {w}", "kẹo {w} mềm"),
                              ("Bánh {w} xốp", None), ("Trà sen", "ướp {w}"),
                              ("Trà xanh", "hương nhài")]:
        ids[name] = post(h, "/products/", {"name": name.format(w=w), "price": 1000,
                                            "description": description and description.format(w=w)})["id"]
    query = w[:-1]
    listing(query=query)  # cached now
    if change == "price":
        patch(h, "/products/" + ids["{w} tươi"], {"price": 2000})
    elif change == "insert":
        post(h, "/products/", {"name": w, "price": 1000})
    elif change == "rename-away":
        patch(h, "/products/" + ids["Kẹo {w}"], {"name": "Kẹo mềm", "description": None})
    elif change == "rename-first":
        patch(h, "/products/" + ids["Bánh {w} xốp"], {"name": "%s Bánh xốp" % w})
    elif change == "describe-away":
        patch(h, "/products/" + ids["Trà sen"], {"description": "ướp hoa sen"})
    elif change == "describe-into":
        patch(h, "/products/" + ids["Trà xanh"], {"description": "hương nhài, %s" % w.upper()})
    elif change == "delete":
        delete(h, "/products/" + ids["{w} tươi"])
    page = listing(query=query)
    assert names(page) == [e.format(w=w) for e in expected]
    assert page["total"] == len(expected)


# Each case: a query (a part of the word {tag}, which a product holds several
# times, in its name and description, or two such parts) and how many
# products it must count.
@pytest.mark.parametrize("query,total", [
    ("{tag}", 1),
    ("{mid}", 1),  # the middle of a word
    ("{tag}x,", 1),  # only in the description, with its comma
    ("{tag} {tag}", 1),  # the pairs "{tag} {tag}" and "{tag} {tag}x,"
    ("{end} {tag}", 1),  # the same, the first word partial
    ("{tag}x, {tag}", 1),
    ("{tag} {tag} {tag}", 1),
])
def test_a_product_counts_once_however_often_it_has_the_word(h, query, total):
    tag = "zv" + uuid.uuid4().hex[:8]
    post(h, "/products/", {"name": "Sữa %s %s" % (tag, tag), "price": 1000,
                           "description": "%s %sx, %s" % (tag, tag, tag)})
    page = listing(query=query.format(tag=tag, mid=tag[2:7], end=tag[3:]))
    assert page["total"] == total
    assert len(page["products"]) == total


# Short words match a large part of the catalog: the total must be exactly
# the number of products whose text contains the query, whatever the writes
# of the tests before this one did.
@pytest.mark.parametrize("query", ["a", "o", "đ", "ng", "an", "zw", "ẹo"])
def test_one_word_totals_count_every_product_containing_it(query):
    expected = sql("SELECT count(*) FROM products p JOIN tenants t ON t.id = p.tenant_id "
                   "WHERE t.slug = 'default' AND p.search_doc LIKE '%' || f_search_norm(:'a0') || '%'",
                   query)
    assert listing(query=query, limit=1)["total"] == int(expected)


@pytest.mark.parametrize("query", ["", " ", "\t", " \t\n ", "\u00a0", "\u3000\u202f"])
def test_a_blank_query_is_no_query(h, query):
    """A query of white space only lists the catalog as no query does (by
    name), instead of matching the space every two-word text holds."""
    post(h, "/products/", {"name": "Một%s" % uuid.uuid4().hex[:8], "price": 1000})  # no space
    for skip in (0, 100):
        assert listing(query=query, skip=skip, limit=100) == listing(skip=skip, limit=100)


@pytest.mark.parametrize("around", [("\t", ""), ("", "\t"), ("\u00a0", "\u00a0"), (" \n", "\u2003")])
@pytest.mark.parametrize("query", ["a", "{tag}", "sua {tag}"])
def test_white_space_around_a_query_is_trimmed(h, around, query):
    """White space of any kind before or after a query counts as none, as
    spaces did: it used to leave an empty first or last word, matched
    against nearly every word pair of the catalog (over a second per
    request with 100,000 products)."""
    tag = "zw" + uuid.uuid4().hex[:8]
    for name in ("Sữa {tag} tươi", "Kẹo sữa {tag}", "Bánh {tag}"):
        post(h, "/products/", {"name": name.format(tag=tag), "price": 1000})
    q = query.format(tag=tag)
    padded = listing(query=around[0] + q + around[1], limit=100)
    assert padded == listing(query=q, limit=100)
    if query != "a":  # the other two find this test's products only
        assert padded["total"] == {"{tag}": 3, "sua {tag}": 2}[query]
