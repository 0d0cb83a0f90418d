-- Whole search pages kept per request (issue 4's benchmark): a page hit
-- used to run product_search_cached, whose key normalises the raw query at
-- run time (unaccent, regexp: ~0.15 ms of Postgres), then read 20 stored
-- renders and aggregate them. Now a hit is one look-up of the finished page
-- by the raw request, checked by the same guards as a stored render (0011):
-- - catalog_gen: the catalog generation (0008) the page's search was made in;
-- - render_gen: the render generation (0011) its products were shown in;
-- - valid_from / valid_until: the tenant's next promotion start or end;
-- - revs: per product of the page (ids, in id order), the product_json_cache
--   rev the page's snapshot saw (0 where there was no row, as a render
--   stores it); a hit reads them again, and a product without a row then
--   makes the array differ.
-- db/catalog.c fills a page in the statement that computes it, with the
-- generations and revs of that statement's snapshot: a page made before a
-- write carries an older generation or rev than the write left, and is
-- never read (a search inside it may see a later snapshot; its answer is
-- then stored under the older generation, so never read either).

-- key: the tenant and the request as sent (catalog_product_list_key): two
-- spellings of one query are two pages, and a hit computes nothing. Only
-- pages within the searches' cached depth (skip + limit <= 100) are kept,
-- and every catalog write empties the table (below), so its size is bounded
-- by the distinct requests asked between two catalog writes; a page
-- outdated otherwise (render generation, a product's rev, time) is replaced
-- by its next fill. Unlogged: rebuilt from the catalog on demand.
CREATE UNLOGGED TABLE product_page_cache (
    key          text PRIMARY KEY,
    catalog_gen  bigint NOT NULL,
    render_gen   bigint NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_until  timestamptz,
    ids          uuid[] NOT NULL,
    revs         bigint[] NOT NULL,
    json         json NOT NULL
);

-- 0008's bump, emptying the pages with the search results.
CREATE OR REPLACE FUNCTION catalog_generation_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_generation SET n = n + 1;
    DELETE FROM product_search_cache;
    DELETE FROM product_page_cache;
    RETURN NULL;
END $$;
