-- Search candidates from adjacent word pairs (issue 4's benchmark). The
-- trigram index of search_doc knows words, not their order: for a query of
-- several words it hands back every product having words like them anywhere
-- ('goi xuat': 28,000 products say "gói" and "xuất xứ", 42 say "gói xuất"),
-- and for a word of one or two letters no trigram at all, so the whole table
-- (0.1-0.4 s a query). A query of several words occurs in search_doc only
-- across adjacent words: its first word ends a word, those between are
-- words, its last starts a word. So the adjacent word pairs of each
-- product's search_doc ("gói xuất" → 'goi xuat') are GIN-indexed (an
-- expression index: a stored column would make every heap visit of a
-- search cost more); search_pair_vocab holds every
-- pair (few: pairs repeat across products), trigram-indexed, so the pairs a
-- query's first two and last two words can be are found there, then the
-- products having them. The LIKE on search_doc still decides: what matches,
-- the ranking and total are exactly as before; only the candidates are fewer.

-- The pairs of adjacent space-separated words of doc ('a b c' → {'a b','b c'}).
-- search_doc always holds a space (name || ' ' || description), so every
-- word is in some pair.
CREATE FUNCTION f_search_pairs(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT array_agg(w[i] || ' ' || w[i + 1])
    FROM (SELECT string_to_array(doc, ' ') AS w) s, generate_series(1, cardinality(w) - 1) i
$$;

CREATE INDEX products_search_pairs ON products USING gin (f_search_pairs(search_doc));

-- Pairs are never removed: a pair no product has any more adds no candidate.
CREATE TABLE search_pair_vocab (pair text PRIMARY KEY);
CREATE INDEX search_pair_vocab_trgm ON search_pair_vocab USING gin (pair gin_trgm_ops);
INSERT INTO search_pair_vocab SELECT DISTINCT unnest(f_search_pairs(search_doc)) FROM products;

-- In the transaction of the write, so a search after it knows its pairs.
CREATE FUNCTION search_pair_vocab_add() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_pair_vocab SELECT DISTINCT unnest(f_search_pairs(search_doc)) FROM changed
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER products_search_pair_vocab_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION search_pair_vocab_add();
CREATE TRIGGER products_search_pair_vocab_update AFTER UPDATE ON products
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION search_pair_vocab_add();

-- product_search as in 0008_search_rank (same answers, same cache), but the
-- substring step picks its candidates by the query's shape:
-- - several words: products having a pair the first two words can be and
--   one the last two can be (for two words, one and the same);
-- - one word of three letters or more: the trigram index, as before;
-- - one or two letters: no trigram, so no index narrows it, and a seq scan
--   costs less than a bitmap of the whole table.
-- The LIKE on search_doc is written on search_doc || '' where the trigram
-- index must not join the bitmap. Generic plans: every statement here has
-- the same good plan whatever the query, and replanning one costs more than
-- running it.
CREATE OR REPLACE FUNCTION product_search(tenant uuid, query text, category uuid, min_price numeric,
                               max_price numeric, depth integer, fuzzy real,
                               OUT total bigint, OUT ids uuid[])
    LANGUAGE plpgsql VOLATILE
    SET plan_cache_mode = force_generic_plan
    AS $$
DECLARE
    q text := f_search_norm(regexp_replace(btrim(query), '\s+', ' ', 'g'));
    literal text := replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_');
    pattern text := '%' || literal || '%';
    cache_key text := json_build_array(q, category, min_price, max_price)::text;
    gen bigint;
    want integer := greatest(depth, 100);
    -- Escaping adds no space: the words of the LIKE-escaped query.
    words text[] := string_to_array(literal, ' ');
    n integer := cardinality(words);
    first_pairs text[];
    last_pairs text[];
BEGIN
    SELECT g.n INTO gen FROM catalog_generation g;
    IF depth <= 100 THEN
        SELECT c.total, c.ids INTO total, ids FROM product_search_cache c
        WHERE c.tenant_id = tenant AND c.key = cache_key AND c.generation = gen;
        IF FOUND THEN
            RETURN;
        END IF;
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
        VALUES (tenant, cache_key, gen, total, ids)
        ON CONFLICT (tenant_id, key) DO UPDATE
            SET generation = excluded.generation, total = excluded.total, ids = excluded.ids
            WHERE c.generation < excluded.generation;
    END IF;
END $$;
