-- Rendered product JSON kept per product (issue 4's benchmark): rendering a
-- product through product_api costs ~45 us of Postgres CPU (one sub-plan per
-- table it shows), reading it back from here a primary-key probe. Filled on
-- read by db/catalog.c (the first read after a change renders and stores);
-- never served stale, by three guards a read checks:
-- - rev: every write to the product's own rows (products, product_categories,
--   product_images, reviews) bumps it and clears json in the writer's
--   transaction. A reader stores its render only where rev is still the one
--   its snapshot saw, so a render from before a write never lands after it.
--   The writer creates the row when there is none: that row (or its lock,
--   while the writer runs) is what a slower reader's insert collides with.
--   Deleting a product leaves its row as a tombstone for the same reason.
-- - generation: writes that can change many products at once (category names
--   and parents, promotions and their links) bump product_render_generation;
--   a stored render counts only in the generation it was made in.
-- - valid_from / valid_until: discounted_price depends on the time. A render
--   made at valid_from holds until the tenant's next promotion start or end.

CREATE TABLE product_render_generation (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n         bigint NOT NULL
);
INSERT INTO product_render_generation VALUES (true, 0);

-- Unlogged: a crash empties it, which loses nothing (an absent row is a
-- miss, and writers recreate rows). json NULL: invalidated, not yet rendered.
-- No foreign key: its check would lock the product row, a WAL record that
-- makes every filling read wait for a WAL flush at commit.
CREATE UNLOGGED TABLE product_json_cache (
    product_id   uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    rev          bigint NOT NULL,
    generation   bigint,
    valid_from   timestamptz,
    valid_until  timestamptz,
    json         json
) WITH (fillfactor = 50);

-- A write to one product's rows: bump rev and clear the render. For the rows
-- of other tables only while the product exists (in the cascade of its
-- deletion it is gone, and its own trigger left the tombstone).
CREATE FUNCTION product_json_cache_touch() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    new_id uuid;
    old_id uuid;
BEGIN
    IF TG_TABLE_NAME = 'products' AND TG_OP = 'DELETE' THEN
        INSERT INTO product_json_cache AS c (product_id, tenant_id, rev)
        VALUES (OLD.id, OLD.tenant_id, 1)
        ON CONFLICT (product_id) DO UPDATE SET rev = c.rev + 1, json = NULL;
        RETURN NULL;
    ELSIF TG_TABLE_NAME = 'products' THEN
        new_id := NEW.id;
    ELSE
        IF TG_OP <> 'DELETE' THEN
            new_id := NEW.product_id;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            old_id := OLD.product_id;
        END IF;
    END IF;
    INSERT INTO product_json_cache AS c (product_id, tenant_id, rev)
    SELECT p.id, p.tenant_id, 1 FROM products p WHERE p.id IN (new_id, old_id)
    ON CONFLICT (product_id) DO UPDATE SET rev = c.rev + 1, json = NULL;
    RETURN NULL;
END $$;
-- A new product has no render yet.
CREATE TRIGGER products_json_cache AFTER UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION product_json_cache_touch();
CREATE TRIGGER product_categories_json_cache AFTER INSERT OR UPDATE OR DELETE ON product_categories
    FOR EACH ROW EXECUTE FUNCTION product_json_cache_touch();
CREATE TRIGGER product_images_json_cache AFTER INSERT OR UPDATE OR DELETE ON product_images
    FOR EACH ROW EXECUTE FUNCTION product_json_cache_touch();
CREATE TRIGGER reviews_json_cache AFTER INSERT OR UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION product_json_cache_touch();

-- Writes that reach many products (a category's name or parent, a promotion
-- and its links) and TRUNCATE (which fires no row trigger) start a new
-- generation. A new category has no products yet, so its insert does not.
CREATE FUNCTION product_render_generation_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE product_render_generation SET n = n + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER categories_render_generation AFTER UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER promotions_render_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON promotions
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER promotion_products_render_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON promotion_products
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER promotion_categories_render_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON promotion_categories
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER products_render_generation AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER product_categories_render_generation AFTER TRUNCATE ON product_categories
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER product_images_render_generation AFTER TRUNCATE ON product_images
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
CREATE TRIGGER reviews_render_generation AFTER TRUNCATE ON reviews
    FOR EACH STATEMENT EXECUTE FUNCTION product_render_generation_bump();
