-- Product search and reads at catalog scale (issue 4's benchmark): a search
-- ranks its matches with keys read from the row instead of trigram
-- similarity per match, keeps the ranked ids of a query in a cache that any
-- catalog write invalidates, and the promotional price walks category
-- ancestors by primary key.

-- discounted_price as in 0003, with the ancestor step written as a lookup by
-- primary key: as a join the planner hashes a scan of every category for
-- each product once any promotion is active (0.2 ms a product, 4 ms a page).
CREATE OR REPLACE VIEW product_pricing AS
SELECT p.id, p.tenant_id, p.name, p.description, p.price, p.weight_grams, p.created_at,
       p.updated_at,
       (WITH RECURSIVE cats AS (
            SELECT category_id AS id FROM product_categories WHERE product_id = p.id
            UNION
            SELECT (SELECT c.parent_id FROM categories c WHERE c.id = cats.id) FROM cats
            WHERE cats.id IS NOT NULL
        ), promos AS (
            SELECT promotion_id FROM promotion_products WHERE product_id = p.id
            UNION
            SELECT promotion_id FROM promotion_categories
            WHERE category_id IN (SELECT id FROM cats WHERE id IS NOT NULL)
        )
        SELECT min(CASE pr.discount_type
                       WHEN 'percent' THEN round(p.price * (100 - pr.value) / 100, 2)
                       ELSE greatest(p.price - pr.value, 0)
                   END)::numeric(12, 2)
        FROM promotions pr JOIN promos ON pr.id = promos.promotion_id
        WHERE pr.is_active AND pr.starts_at <= now() AND now() < pr.ends_at) AS discounted_price
FROM products p;

-- Bumped in the transaction of every write that can change which products a
-- listing finds or how it orders them, so a reader sees the generation that
-- matches the rows of its snapshot. One row: product writes are admin work.
CREATE TABLE catalog_generation (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n         bigint NOT NULL
);
INSERT INTO catalog_generation VALUES (true, 0);

-- Ranked ids of recent listings: the first 100 (the deepest page a client
-- reaches with skip + limit <= 100) and the total. Unlogged: it is rebuilt
-- from the catalog on demand. Rows of an older generation are never read.
CREATE UNLOGGED TABLE product_search_cache (
    tenant_id   uuid NOT NULL,
    key         text NOT NULL,
    generation  bigint NOT NULL,
    total       bigint NOT NULL,
    ids         uuid[] NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- A write empties the cache as well, which bounds its size by the queries
-- asked between two writes.
CREATE FUNCTION catalog_generation_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_generation SET n = n + 1;
    DELETE FROM product_search_cache;
    RETURN NULL;
END $$;
CREATE TRIGGER products_generation AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump();
CREATE TRIGGER product_categories_generation AFTER INSERT OR UPDATE OR DELETE ON product_categories
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump();
CREATE TRIGGER products_generation_truncate AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump();
CREATE TRIGGER product_categories_generation_truncate AFTER TRUNCATE ON product_categories
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump();

-- The ranked ids of one listing of tenant's products and how many there are.
-- query NULL: every product (with the filters), by name. Otherwise the
-- normalised query (no diacritics, lower case, single spaces) must occur in
-- search_doc (name and description; partial words match), ranked: the name
-- contains it, then the shorter name (the query covers more of it), then name
-- and id. Only when nothing contains it, the query may resemble a run of
-- words of the name (pg_trgm word similarity >= fuzzy, typos), ranked by
-- word similarity plus similarity, then name and id. Both conditions are
-- answered by the trigram GIN indexes of 0003.
-- depth: how many ids the caller needs (skip + limit); up to 100 the answer
-- comes from, or goes to, product_search_cache.
-- Generic plans: every statement here has the same good plan whatever the
-- query, and replanning one costs more than running it.
CREATE FUNCTION product_search(tenant uuid, query text, category uuid, min_price numeric,
                               max_price numeric, depth integer, fuzzy real,
                               OUT total bigint, OUT ids uuid[])
    LANGUAGE plpgsql VOLATILE
    SET plan_cache_mode = force_generic_plan
    AS $$
DECLARE
    q text := f_search_norm(regexp_replace(btrim(query), '\s+', ' ', 'g'));
    pattern text := '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%';
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
            SELECT p.id, p.name, p.name_norm LIKE pattern AS in_name, length(p.name_norm) AS len
            FROM products p WHERE p.tenant_id = tenant AND p.search_doc LIKE pattern
              AND (category IS NULL OR EXISTS (SELECT 1 FROM product_categories pc
                   WHERE pc.product_id = p.id AND pc.category_id = category))
              AND (min_price IS NULL OR p.price >= min_price)
              AND (max_price IS NULL OR p.price <= max_price))
        SELECT (SELECT count(*) FROM m),
               ARRAY(SELECT m.id FROM m ORDER BY m.in_name DESC, m.len, m.name, m.id LIMIT want)
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
