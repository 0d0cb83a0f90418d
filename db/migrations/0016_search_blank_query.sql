-- A query of white space only (`query=%09`, `query=%20`, `query=`) is no
-- query: the product list unfiltered, by name. Before, f_search_query made it
-- a single space (or nothing), which every text of two words holds:
-- product_search took 0012's candidates over every word pair of the catalog
-- and ranked every product, 35-80 s of Postgres with 100,000 products, so
-- one request could hold a core that long. A query with a word in it is
-- matched as before, its spaces included.
CREATE OR REPLACE FUNCTION f_search_query(query text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT CASE WHEN query ~ '^\s*$' THEN NULL
                ELSE f_search_norm(regexp_replace(btrim(query), '\s+', ' ', 'g')) END
$$;
