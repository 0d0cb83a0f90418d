-- Two-word searches from an index of adjacent word pairs (issue 4's benchmark).
-- A query of two words "w1 w2" (exactly one space) occurs in search_doc
-- exactly where a pair "a b" of adjacent space-separated words of it
-- (f_search_pairs of 0012) holds it: a ends with w1, b starts with w2. Before,
-- product_search visited every such product for the exact total and the
-- ranking (~1.5 us a match: `gia dinh`, 19,458 matches, 30-60 ms). Now, kept
-- with 0013's word index by the same triggers, in the writer's transaction:
-- - search_pair_vocab (0012) gets ids, and new pairs are added here;
-- - search_pair_counts: per tenant and pair, how many products have it;
-- - search_pair_products: per tenant and pair, its products in ranking order
--   (where the pair stands in the name, the name's length, the name, the id).
-- The total is the pair's counter when one vocabulary pair holds the query,
-- else the distinct products of the pairs' lists (a product may have several
-- of them: "gia dinh" and "gia dinh,"), read from the index alone. The top is
-- the best of the first `want` of each list, as for one word in 0013 (a
-- list's products all rank with the same tier). Answers are exactly those of
-- 0013 (same total, same ids in the same order). Three words or more,
-- filters, and an empty word (white space around the query) keep the
-- candidates of 0012.

ALTER TABLE search_pair_vocab ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY;

CREATE TABLE search_pair_counts (
    tenant_id  uuid NOT NULL,
    pair_id    integer NOT NULL,
    products   integer NOT NULL,
    PRIMARY KEY (tenant_id, pair_id)
);
-- place as in search_word_products (0013), of the pair among the name's pairs:
-- 2 the name's first pair, 1 another pair of the name, 0 only the description
-- (or across name and description) has it. Only the key is read.
CREATE TABLE search_pair_products (
    tenant_id    uuid NOT NULL,
    pair_id      integer NOT NULL,
    place        smallint NOT NULL,
    name_length  integer NOT NULL,
    name         text NOT NULL,
    product_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, pair_id, place, name_length, name, product_id)
);

-- One pair of one product's text before (sign -1) or after (+1) a write.
CREATE TYPE search_pair_entry AS (
    tenant_id    uuid,
    product_id   uuid,
    name         text,
    name_length  integer,
    pair         text,
    place        smallint,
    sign         integer
);

-- The pair part of search_words_apply (0013), with the same changes and under
-- the same lock: new pairs join the vocabulary (the triggers of 0012 that
-- did this on every product write go), the entries of the text before go,
-- those of the text after come, the counters move by the difference. The
-- pairs are computed once: f_search_pairs is not inlined, and each statement
-- calling it paid its planning (0.25 ms).
CREATE FUNCTION search_pairs_apply(changes search_word_change[]) RETURNS void
    LANGUAGE plpgsql
    SET work_mem = '512MB'
    AS $$
DECLARE
    entries search_pair_entry[] := ARRAY(
        SELECT (c.tenant_id, c.product_id, c.name, length(c.name_norm), x.pair,
                f_search_word_place(x.pair, n), c.sign)::search_pair_entry
        FROM unnest(changes) c, f_search_pairs(c.name_norm) n,
             LATERAL (SELECT DISTINCT unnest(f_search_pairs(c.search_doc)) AS pair) x);
BEGIN
    INSERT INTO search_pair_vocab (pair)
    SELECT DISTINCT e.pair FROM unnest(entries) e
    WHERE e.sign > 0 AND NOT EXISTS (SELECT 1 FROM search_pair_vocab v WHERE v.pair = e.pair)
    ON CONFLICT DO NOTHING;

    DELETE FROM search_pair_products p
    USING unnest(entries) e JOIN search_pair_vocab v ON v.pair = e.pair
    WHERE e.sign < 0 AND p.tenant_id = e.tenant_id AND p.pair_id = v.id AND p.place = e.place
      AND p.name_length = e.name_length AND p.name = e.name AND p.product_id = e.product_id;
    -- In key order, so a bulk insert fills the index page by page.
    INSERT INTO search_pair_products (tenant_id, pair_id, place, name_length, name, product_id)
    SELECT e.tenant_id, v.id, e.place, e.name_length, e.name, e.product_id
    FROM unnest(entries) e JOIN search_pair_vocab v ON v.pair = e.pair
    WHERE e.sign > 0
    ORDER BY 1, 2, 3, 4, 5, 6;

    INSERT INTO search_pair_counts AS t (tenant_id, pair_id, products)
    SELECT e.tenant_id, v.id, sum(e.sign)
    FROM unnest(entries) e JOIN search_pair_vocab v ON v.pair = e.pair
    GROUP BY e.tenant_id, v.id
    HAVING sum(e.sign) <> 0
    ON CONFLICT (tenant_id, pair_id) DO UPDATE SET products = t.products + excluded.products;
END $$;

DROP TRIGGER products_search_pair_vocab_insert ON products;
DROP TRIGGER products_search_pair_vocab_update ON products;
DROP FUNCTION search_pair_vocab_add();

-- search_words_sync of 0013, applying the changes to both indexes.
CREATE OR REPLACE FUNCTION search_words_sync() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    changes search_word_change[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        changes := ARRAY(SELECT (n.tenant_id, n.id, n.name, n.name_norm, n.search_doc, 1)
                                    ::search_word_change FROM new_rows n);
    ELSIF TG_OP = 'DELETE' THEN
        changes := ARRAY(SELECT (o.tenant_id, o.id, o.name, o.name_norm, o.search_doc, -1)
                                    ::search_word_change FROM old_rows o);
    ELSE
        -- A write that leaves name and description alone changes nothing here.
        changes := ARRAY(
            SELECT c FROM old_rows o JOIN new_rows n ON n.id = o.id,
            LATERAL (VALUES ((o.tenant_id, o.id, o.name, o.name_norm, o.search_doc, -1)
                                 ::search_word_change),
                            ((n.tenant_id, n.id, n.name, n.name_norm, n.search_doc, 1)
                                 ::search_word_change)) x(c)
            WHERE (o.tenant_id, o.name, o.search_doc)
                  IS DISTINCT FROM (n.tenant_id, n.name, n.search_doc));
    END IF;
    IF cardinality(changes) > 0 THEN
        PERFORM search_words_apply(changes);
        PERFORM search_pairs_apply(changes);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION search_words_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE search_word_products, search_substring_counts, search_pair_products,
             search_pair_counts;
    RETURN NULL;
END $$;

SELECT search_pairs_apply(ARRAY(
    SELECT (p.tenant_id, p.id, p.name, p.name_norm, p.search_doc, 1)::search_word_change
    FROM products p));

-- product_search as in 0013_search_words (same answers, same cache), except
-- two words without filters: from the pair index (see the top of this file).
-- The vocabulary, counters and lists are read in one statement, so from one
-- snapshot.
CREATE OR REPLACE FUNCTION product_search(tenant uuid, query text, category uuid, min_price numeric,
                               max_price numeric, depth integer, fuzzy real,
                               OUT total bigint, OUT ids uuid[])
    LANGUAGE plpgsql VOLATILE
    SET plan_cache_mode = force_generic_plan
    AS $$
DECLARE
    q text := f_search_query(query);
    literal text := replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_');
    pattern text := '%' || literal || '%';
    gen bigint;
    want integer := greatest(depth, 100);
    -- Escaping adds no space: the words of the LIKE-escaped query.
    words text[] := string_to_array(literal, ' ');
    n integer := cardinality(words);
    first_pairs text[];
    last_pairs text[];
BEGIN
    -- Read before the answer is computed: an answer stored under an older
    -- generation than its snapshot's is never read, one under a newer could be.
    SELECT g.n INTO gen FROM catalog_generation g;
    SELECT c.total, c.ids INTO total, ids
    FROM product_search_cached(tenant, query, category, min_price, max_price, depth) c;
    IF ids IS NOT NULL THEN
        RETURN;
    END IF;
    IF q IS NULL THEN
        WITH m AS NOT MATERIALIZED (
            SELECT p.id, p.name FROM products p WHERE p.tenant_id = tenant
              AND (category IS NULL OR EXISTS (SELECT 1 FROM product_categories pc
                   WHERE pc.product_id = p.id AND pc.category_id = category))
              AND (min_price IS NULL OR p.price >= min_price)
              AND (max_price IS NULL OR p.price <= max_price))
        SELECT (SELECT count(*) FROM m), ARRAY(SELECT m.id FROM m ORDER BY m.name, m.id LIMIT want)
        INTO total, ids;
    ELSIF n = 2 AND words[1] <> '' AND words[2] <> '' AND category IS NULL AND min_price IS NULL
          AND max_price IS NULL THEN
        -- As the one-word step below, with pairs for words. White space
        -- around a word (an empty word) matches nearly every pair: the
        -- candidates of 0012 cost less there.
        WITH v AS MATERIALIZED (
            SELECT x.id, x.pair LIKE literal || '%' AS prefix
            FROM search_pair_vocab x WHERE x.pair LIKE pattern),
        c AS (
            SELECT p.product_id, p.name_length, p.name,
                   max(CASE WHEN p.place = 2 AND v.prefix THEN 2 ELSE least(p.place, 1) END) AS tier
            FROM v CROSS JOIN generate_series(0, 2) place
            CROSS JOIN LATERAL (
                SELECT s.place, s.name_length, s.name, s.product_id FROM search_pair_products s
                WHERE s.tenant_id = tenant AND s.pair_id = v.id AND s.place = place.place
                ORDER BY s.name_length, s.name, s.product_id LIMIT want) p
            GROUP BY p.product_id, p.name_length, p.name)
        SELECT CASE WHEN (SELECT count(*) FROM v) = 1
                    THEN coalesce((SELECT sc.products FROM search_pair_counts sc
                                   WHERE sc.tenant_id = tenant AND sc.pair_id = (SELECT v.id FROM v)), 0)
                    ELSE (SELECT count(*) FROM (SELECT DISTINCT s.product_id FROM v
                          JOIN search_pair_products s ON s.tenant_id = tenant AND s.pair_id = v.id) d)
               END,
               ARRAY(SELECT c.product_id FROM c
                     ORDER BY c.tier DESC, c.name_length, c.name, c.product_id LIMIT want)
        INTO total, ids;
    ELSIF n > 1 THEN
        -- The first word ends a word (the pattern's leading %), the last
        -- starts one; with two words both are in the one pair.
        first_pairs := ARRAY(SELECT v.pair FROM search_pair_vocab v WHERE v.pair LIKE
                             '%' || words[1] || ' ' || words[2] || CASE WHEN n = 2 THEN '%' ELSE '' END);
        last_pairs := CASE WHEN n = 2 THEN first_pairs
                           ELSE ARRAY(SELECT v.pair FROM search_pair_vocab v
                                      WHERE v.pair LIKE words[n - 1] || ' ' || words[n] || '%') END;
        WITH m AS MATERIALIZED (
            SELECT p.id, p.name, length(p.name_norm) AS len,
                   CASE WHEN p.name_norm LIKE literal || '%' THEN 2
                        WHEN p.name_norm LIKE pattern THEN 1 ELSE 0 END AS tier
            FROM products p WHERE p.tenant_id = tenant
              AND f_search_pairs(p.search_doc) && first_pairs
              AND f_search_pairs(p.search_doc) && last_pairs
              AND (p.search_doc || '') LIKE pattern
              AND (category IS NULL OR EXISTS (SELECT 1 FROM product_categories pc
                   WHERE pc.product_id = p.id AND pc.category_id = category))
              AND (min_price IS NULL OR p.price >= min_price)
              AND (max_price IS NULL OR p.price <= max_price))
        SELECT (SELECT count(*) FROM m),
               ARRAY(SELECT m.id FROM m ORDER BY m.tier DESC, m.len, m.name, m.id LIMIT want)
        INTO total, ids;
    ELSIF n = 1 AND length(q) <= 16 AND category IS NULL AND min_price IS NULL
          AND max_price IS NULL THEN
        -- Each (word, place) list ranks its products by name length, name
        -- and id; place 2 ranks as tier 2 only where the word starts with q.
        WITH v AS MATERIALIZED (
            SELECT w.id, w.word LIKE literal || '%' AS prefix
            FROM search_word_vocab w WHERE w.word LIKE pattern),
        c AS (
            SELECT p.product_id, p.name_length, p.name,
                   max(CASE WHEN p.place = 2 AND v.prefix THEN 2 ELSE least(p.place, 1) END) AS tier
            FROM v CROSS JOIN generate_series(0, 2) place
            CROSS JOIN LATERAL (
                SELECT s.place, s.name_length, s.name, s.product_id FROM search_word_products s
                WHERE s.tenant_id = tenant AND s.word_id = v.id AND s.place = place.place
                ORDER BY s.name_length, s.name, s.product_id LIMIT want) p
            GROUP BY p.product_id, p.name_length, p.name)
        SELECT coalesce((SELECT sc.products FROM search_substrings s
                         JOIN search_substring_counts sc ON sc.substring_id = s.id
                         WHERE s.sub = q AND sc.tenant_id = tenant), 0),
               ARRAY(SELECT c.product_id FROM c
                     ORDER BY c.tier DESC, c.name_length, c.name, c.product_id LIMIT want)
        INTO total, ids;
    ELSIF length(q) >= 3 THEN
        WITH m AS MATERIALIZED (
            SELECT p.id, p.name, length(p.name_norm) AS len,
                   CASE WHEN p.name_norm LIKE literal || '%' THEN 2
                        WHEN p.name_norm LIKE pattern THEN 1 ELSE 0 END AS tier
            FROM products p WHERE p.tenant_id = tenant AND p.search_doc LIKE pattern
              AND (category IS NULL OR EXISTS (SELECT 1 FROM product_categories pc
                   WHERE pc.product_id = p.id AND pc.category_id = category))
              AND (min_price IS NULL OR p.price >= min_price)
              AND (max_price IS NULL OR p.price <= max_price))
        SELECT (SELECT count(*) FROM m),
               ARRAY(SELECT m.id FROM m ORDER BY m.tier DESC, m.len, m.name, m.id LIMIT want)
        INTO total, ids;
    ELSE
        WITH m AS MATERIALIZED (
            SELECT p.id, p.name, length(p.name_norm) AS len,
                   CASE WHEN p.name_norm LIKE literal || '%' THEN 2
                        WHEN p.name_norm LIKE pattern THEN 1 ELSE 0 END AS tier
            FROM products p WHERE p.tenant_id = tenant AND (p.search_doc || '') LIKE pattern
              AND (category IS NULL OR EXISTS (SELECT 1 FROM product_categories pc
                   WHERE pc.product_id = p.id AND pc.category_id = category))
              AND (min_price IS NULL OR p.price >= min_price)
              AND (max_price IS NULL OR p.price <= max_price))
        SELECT (SELECT count(*) FROM m),
               ARRAY(SELECT m.id FROM m ORDER BY m.tier DESC, m.len, m.name, m.id LIMIT want)
        INTO total, ids;
    END IF;
    IF q IS NOT NULL AND total = 0 THEN
        -- <% reads its threshold from the setting, for this transaction.
        PERFORM set_config('pg_trgm.word_similarity_threshold', fuzzy::text, true);
        WITH m AS MATERIALIZED (
            SELECT p.id, p.name,
                   word_similarity(q, p.name_norm) + similarity(q, p.name_norm) AS rank
            FROM products p WHERE p.tenant_id = tenant AND q <% p.name_norm
              AND (category IS NULL OR EXISTS (SELECT 1 FROM product_categories pc
                   WHERE pc.product_id = p.id AND pc.category_id = category))
              AND (min_price IS NULL OR p.price >= min_price)
              AND (max_price IS NULL OR p.price <= max_price))
        SELECT (SELECT count(*) FROM m),
               ARRAY(SELECT m.id FROM m ORDER BY m.rank DESC, m.name, m.id LIMIT want)
        INTO total, ids;
    END IF;
    IF depth <= 100 THEN
        INSERT INTO product_search_cache AS c (tenant_id, key, generation, total, ids)
        VALUES (tenant, product_search_key(q, category, min_price, max_price), gen, total, ids)
        ON CONFLICT (tenant_id, key) DO UPDATE
            SET generation = excluded.generation, total = excluded.total, ids = excluded.ids
            WHERE c.generation < excluded.generation;
    END IF;
END $$;
