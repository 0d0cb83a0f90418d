-- One-word searches from an inverted index of words (issue 4's benchmark).
-- A query of one word w (no space) occurs in search_doc exactly where some
-- space-separated word of it contains w. Before, product_search visited
-- every such product for the exact total and the ranking (~1.5 us a match:
-- 50-200 ms for `xua`, found in 100,000 descriptions), and for w of one or two
-- letters scanned the table. Now, kept in the writer's transaction:
-- - search_word_vocab: every word of every product (pairs of 0012 aside,
--   words repeat: 349 for 100,000 seeded products), trigram-indexed, with
--   the ids of its substrings of up to 16 letters (search_substrings);
-- - search_substring_counts: per tenant and substring, how many products
--   have a word containing it, which is the exact total of that query;
-- - search_word_products: per tenant and word, its products in ranking
--   order (where the word stands in the name, the name's length, the name,
--   the id), so each word's best products are an index range.
-- The top of a query is the best of the tops of the words containing it: a
-- product's tier is its best over those words, and each list holds only
-- products ranking at least as high as its tier says, so a product of the
-- true top is within the first `want` of the list that gives its tier.
-- Answers are exactly those of 0012 (same total, same ids in the same order).

-- intarray for its C union of sorted integer sets, in a schema of its own so
-- its operators do not replace the built-in ones on integer[] elsewhere.
CREATE SCHEMA IF NOT EXISTS intarray;
CREATE EXTENSION IF NOT EXISTS intarray SCHEMA intarray;
CREATE AGGREGATE search_substring_union(integer[]) (
    SFUNC = intarray._int_union, STYPE = integer[], INITCOND = '{}');

-- The non-empty space-separated words of doc (a word may repeat). Not
-- STRICT, so the planner inlines it (as f_search_word_place below).
CREATE FUNCTION f_search_words(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(string_to_array(doc, ' '), '')
$$;

-- Longer one-word queries are rare and selective: they keep the trigram path.
CREATE FUNCTION f_search_substrings(word text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT ARRAY(SELECT DISTINCT substr(word, i, l)
                 FROM generate_series(1, least(length(word), 16)) l,
                      generate_series(1, length(word) - l + 1) i)
$$;

-- Words and substrings are never removed: one no product has any more
-- counts nothing and lists no product.
CREATE TABLE search_substrings (
    id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sub  text NOT NULL UNIQUE
);
CREATE TABLE search_word_vocab (
    id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    word           text NOT NULL UNIQUE,
    substring_ids  integer[] NOT NULL
);
CREATE INDEX search_word_vocab_trgm ON search_word_vocab USING gin (word gin_trgm_ops);
CREATE TABLE search_substring_counts (
    tenant_id     uuid NOT NULL,
    substring_id  integer NOT NULL,
    products      integer NOT NULL,
    PRIMARY KEY (tenant_id, substring_id)
);
-- place: 2 the name starts with the word, 1 the name has it, 0 only the
-- description does. Only the key is read (index-only scans). No foreign key:
-- its check would lock the product row, and the triggers below keep it.
CREATE TABLE search_word_products (
    tenant_id    uuid NOT NULL,
    word_id      integer NOT NULL,
    place        smallint NOT NULL,
    name_length  integer NOT NULL,
    name         text NOT NULL,
    product_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, word_id, place, name_length, name, product_id)
);

-- A product's searchable text before (sign -1) or after (+1) a write.
CREATE TYPE search_word_change AS (
    tenant_id   uuid,
    product_id  uuid,
    name        text,
    name_norm   text,
    search_doc  text,
    sign        integer
);

-- Where word stands in a product's name, given the name's words: 2 first
-- (the name starts with any query the word starts with), 1 elsewhere, 0 not
-- at all.
CREATE FUNCTION f_search_word_place(word text, name_words text[]) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN word = name_words[1] THEN 2
                WHEN word = ANY (name_words) THEN 1 ELSE 0 END::smallint
$$;

-- Applies changes to the index: the entries of the text before go, those of
-- the text after come. Set-based, so a seed of 100,000 products costs
-- seconds, not statements per product. The counters are updated under the
-- catalog_generation row lock that every product write takes first (0008's
-- statement trigger fires before these by name), so concurrent writers
-- cannot deadlock on them. work_mem: a seed's sort of its 2 million entries
-- fits in memory (a spill to disk tripled it); a single write uses little.
CREATE FUNCTION search_words_apply(changes search_word_change[]) RETURNS void
    LANGUAGE plpgsql
    SET work_mem = '512MB'
    AS $$
DECLARE
    fresh text[] := ARRAY(
        SELECT DISTINCT w FROM unnest(changes) c, unnest(f_search_words(c.search_doc)) w
        WHERE c.sign > 0 AND NOT EXISTS (SELECT 1 FROM search_word_vocab v WHERE v.word = w));
BEGIN
    INSERT INTO search_substrings (sub)
    SELECT DISTINCT unnest(f_search_substrings(w)) FROM unnest(fresh) w
    ON CONFLICT DO NOTHING;
    INSERT INTO search_word_vocab (word, substring_ids)
    SELECT w, intarray.sort(ARRAY(SELECT s.id FROM search_substrings s
                                  WHERE s.sub = ANY (f_search_substrings(w))))
    FROM unnest(fresh) w
    ON CONFLICT DO NOTHING;

    DELETE FROM search_word_products p
    USING unnest(changes) c, string_to_array(c.name_norm, ' ') n,
          unnest(f_search_words(c.search_doc)) w, search_word_vocab v
    WHERE c.sign < 0 AND v.word = w AND p.tenant_id = c.tenant_id AND p.word_id = v.id
      AND p.place = f_search_word_place(w, n) AND p.name_length = length(c.name_norm)
      AND p.name = c.name AND p.product_id = c.product_id;
    -- In key order, so a bulk insert fills the index page by page; a word
    -- repeated in a product is one entry.
    INSERT INTO search_word_products (tenant_id, word_id, place, name_length, name, product_id)
    SELECT DISTINCT c.tenant_id, v.id, f_search_word_place(w, n), length(c.name_norm), c.name,
           c.product_id
    FROM unnest(changes) c, string_to_array(c.name_norm, ' ') n,
         unnest(f_search_words(c.search_doc)) w
    JOIN search_word_vocab v ON v.word = w
    WHERE c.sign > 0
    ORDER BY 1, 2, 3, 4, 5, 6;

    -- A product counts once for a substring however many of its words hold it.
    INSERT INTO search_substring_counts AS t (tenant_id, substring_id, products)
    SELECT u.tenant_id, s, sum(u.sign)
    FROM (SELECT c.tenant_id, c.sign, search_substring_union(v.substring_ids) AS ids
          FROM unnest(changes) WITH ORDINALITY c, unnest(f_search_words(c.search_doc)) w
          JOIN search_word_vocab v ON v.word = w
          GROUP BY c.ordinality, c.tenant_id, c.sign) u, unnest(u.ids) s
    GROUP BY u.tenant_id, s
    HAVING sum(u.sign) <> 0
    ON CONFLICT (tenant_id, substring_id) DO UPDATE SET products = t.products + excluded.products;
END $$;

CREATE FUNCTION search_words_sync() RETURNS trigger
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
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER products_search_words_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_words_sync();
CREATE TRIGGER products_search_words_update AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_words_sync();
CREATE TRIGGER products_search_words_delete AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_words_sync();

CREATE FUNCTION search_words_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE search_word_products, search_substring_counts;
    RETURN NULL;
END $$;
CREATE TRIGGER products_search_words_truncate AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION search_words_truncate();

SELECT search_words_apply(ARRAY(
    SELECT (p.tenant_id, p.id, p.name, p.name_norm, p.search_doc, 1)::search_word_change
    FROM products p));

-- What a query is matched as: no diacritics, lower case, single spaces.
CREATE FUNCTION f_search_query(query text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT f_search_norm(regexp_replace(btrim(query), '\s+', ' ', 'g'))
$$;

-- The product_search_cache key of a listing (q normalised by f_search_query).
CREATE FUNCTION product_search_key(q text, category uuid, min_price numeric, max_price numeric)
    RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_array(q, category, min_price, max_price)::text
$$;

-- The cached answer of product_search for these arguments under the current
-- catalog generation, or NULLs (a miss, or depth past the cached 100). Reads
-- only, so a caller may pipeline it before deciding to call product_search.
CREATE FUNCTION product_search_cached(tenant uuid, query text, category uuid, min_price numeric,
                                      max_price numeric, depth integer,
                                      OUT total bigint, OUT ids uuid[])
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
    AS $$
BEGIN
    IF depth <= 100 THEN
        SELECT c.total, c.ids INTO total, ids
        FROM product_search_cache c, catalog_generation g
        WHERE c.tenant_id = tenant
          AND c.key = product_search_key(f_search_query(query), category, min_price, max_price)
          AND c.generation = g.n;
    END IF;
END $$;

-- product_search as in 0012_search_pairs (same answers, same cache), except
-- one word of up to 16 letters without filters: its total is the substring
-- counter, its ids the best of the word lists (see the top of this file).
-- The counter and the lists are read in one statement, so from one snapshot.
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
