-- Follows 0008_search (committed): cheaper rendering of every product and a
-- better relevance order for search.

-- rfc3339 of 0003 was IMMUTABLE around the STABLE to_char, which keeps the
-- planner from inlining it: every timestamp of every answer paid a SQL
-- function call (8 us, a fifth of rendering a product). Same result.
CREATE OR REPLACE FUNCTION rfc3339(timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE STRICT
    AS $$ SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- The ranked ids of one listing of tenant's products and how many there are.
-- query NULL: every product (with the filters), by name. Otherwise the
-- normalised query (no diacritics, lower case, single spaces) must occur in
-- search_doc (name and description; partial words match), ranked: the name
-- starts with it, else contains it, else only the description does; then
-- the shorter name (the query covers more of it: what trigram similarity
-- measured, without computing it for thousands of matches), then name and
-- id. Only when nothing contains it, the query may resemble a run of words
-- of the name (pg_trgm word similarity >= fuzzy, typos), ranked by word
-- similarity plus similarity, then name and id. Both conditions are answered
-- by the trigram GIN indexes of 0003. total is exact.
-- depth: how many ids the caller needs (skip + limit); up to 100 the answer
-- comes from, or goes to, product_search_cache.
-- Generic plans: every statement here has the same good plan whatever the
-- query, and replanning one costs more than running it.
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
    ELSE
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
        IF total = 0 THEN
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
    END IF;
    IF depth <= 100 THEN
        INSERT INTO product_search_cache AS c (tenant_id, key, generation, total, ids)
        VALUES (tenant, cache_key, gen, total, ids)
        ON CONFLICT (tenant_id, key) DO UPDATE
            SET generation = excluded.generation, total = excluded.total, ids = excluded.ids
            WHERE c.generation < excluded.generation;
    END IF;
END $$;
