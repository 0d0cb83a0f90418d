-- The store catalog: categories, products, images, reviews, favorites,
-- promotions and banners, plus the search and JSON helpers the catalog
-- queries share. Every catalog row belongs to a tenant.

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- JIT compiles a statement whose estimated cost is high, which the generic
-- plans of the catalog listing are (a count over the tenant's products): it
-- turns a 25 ms request into 900 ms. Short OLTP statements never repay it.
-- Applies to sessions opened after this migration.
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END $$;

-- unaccent() is STABLE (it reads its dictionary through search_path), so an
-- index cannot use it. Naming the dictionary and schema makes the result
-- depend on the argument alone, which is what IMMUTABLE promises. Its rules
-- fold Vietnamese diacritics, combining marks included, and map đ/Đ to d/D.
CREATE FUNCTION f_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

-- The form both sides of a search are compared in: no diacritics, lower case.
CREATE FUNCTION f_search_norm(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.f_unaccent($1)) $$;

-- RFC 3339 UTC with a Z, as every API timestamp is rendered.
CREATE OR REPLACE FUNCTION rfc3339(timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

CREATE TABLE categories (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL CONSTRAINT categories_name_length CHECK (length(name) BETWEEN 1 AND 255),
    -- No cascade: a category with children cannot be deleted (the API answers 409).
    parent_id   uuid CONSTRAINT categories_parent_fkey REFERENCES categories (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_name_key UNIQUE NULLS NOT DISTINCT (tenant_id, parent_id, name)
);
CREATE INDEX categories_parent_idx ON categories (parent_id);

-- A parent must be in the same tenant and must not be the category itself or
-- one of its descendants. The per-tenant lock serialises tree edits, so two
-- concurrent moves cannot build a cycle together.
CREATE FUNCTION categories_check_parent() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('categories:' || NEW.tenant_id::text));
    IF NOT EXISTS (SELECT 1 FROM categories WHERE id = NEW.parent_id AND tenant_id = NEW.tenant_id) THEN
        RAISE EXCEPTION 'parent category does not exist'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'categories_parent_fkey';
    END IF;
    IF TG_OP = 'UPDATE' AND EXISTS (
        WITH RECURSIVE up AS (
            SELECT NEW.parent_id AS id
            UNION
            SELECT c.parent_id FROM categories c JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL
        )
        SELECT 1 FROM up WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'parent would make a cycle'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'categories_no_cycle';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER categories_check_parent BEFORE INSERT OR UPDATE OF parent_id ON categories
    FOR EACH ROW EXECUTE FUNCTION categories_check_parent();

CREATE TABLE products (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    name          text NOT NULL CONSTRAINT products_name_length CHECK (length(name) BETWEEN 1 AND 255),
    description   text CONSTRAINT products_description_length CHECK (length(description) <= 10000),
    price         numeric(12, 2) NOT NULL CONSTRAINT products_price_check CHECK (price >= 0),
    weight_grams  integer CONSTRAINT products_weight_grams_check CHECK (weight_grams >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- What `query` is matched against, kept by Postgres and trigram-indexed:
    -- the query must occur in search_doc (name and description), or resemble a
    -- run of words of name_norm (typos). Fuzzy matching stays on the short name
    -- because long descriptions share so many trigrams with any query that the
    -- index would hand back most of the table to recheck.
    search_doc    text GENERATED ALWAYS AS (f_search_norm(name || ' ' || coalesce(description, ''))) STORED,
    name_norm     text GENERATED ALWAYS AS (f_search_norm(name)) STORED
);
CREATE INDEX products_search_doc_trgm ON products USING gin (search_doc gin_trgm_ops);
CREATE INDEX products_name_norm_trgm ON products USING gin (name_norm gin_trgm_ops);
CREATE INDEX products_tenant_name_idx ON products (tenant_id, name, id);
CREATE INDEX products_tenant_price_idx ON products (tenant_id, price);

CREATE TABLE product_categories (
    product_id   uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    -- No cascade: a category that still has products cannot be deleted (409).
    category_id  uuid NOT NULL CONSTRAINT product_categories_category_fkey REFERENCES categories (id),
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_category_idx ON product_categories (category_id, product_id);

-- Objects live in R2 under object_key (images/products/<uuid>.<ext>); the media
-- worker fills the key and moves status on. Rows go with their product; the
-- caller removes the objects (catalog_product_delete returns their keys).
CREATE TABLE product_images (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id  uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    object_key  text NOT NULL UNIQUE,
    image_url   text NOT NULL,
    is_primary  boolean NOT NULL DEFAULT false,
    status      text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_images_product_idx ON product_images (product_id, created_at);
-- At most one primary image per product, whatever the interleaving of requests.
CREATE UNIQUE INDEX product_images_one_primary ON product_images (product_id) WHERE is_primary;

CREATE TABLE reviews (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id  uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    rating      smallint NOT NULL CONSTRAINT reviews_rating_check CHECK (rating BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '' CONSTRAINT reviews_comment_length CHECK (length(comment) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reviews_user_product_key UNIQUE (user_id, product_id)
);
CREATE INDEX reviews_product_idx ON reviews (product_id, created_at DESC);

CREATE TABLE favorites (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id  uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product_id)
);
CREATE INDEX favorites_product_idx ON favorites (product_id);

CREATE TABLE promotions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    name           text NOT NULL CONSTRAINT promotions_name_length CHECK (length(name) BETWEEN 1 AND 255),
    description    text CONSTRAINT promotions_description_length CHECK (length(description) <= 2000),
    discount_type  text NOT NULL CONSTRAINT promotions_discount_type_check
                       CHECK (discount_type IN ('percent', 'fixed')),
    value          numeric(12, 2) NOT NULL CONSTRAINT promotions_value_check
                       CHECK (value > 0 AND (discount_type <> 'percent' OR value <= 100)),
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT promotions_period_check CHECK (starts_at < ends_at)
);
CREATE INDEX promotions_tenant_active_idx ON promotions (tenant_id, ends_at) WHERE is_active;

CREATE TABLE promotion_products (
    promotion_id  uuid NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    product_id    uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    PRIMARY KEY (promotion_id, product_id)
);
CREATE INDEX promotion_products_product_idx ON promotion_products (product_id);

CREATE TABLE promotion_categories (
    promotion_id  uuid NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    category_id   uuid NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (promotion_id, category_id)
);
CREATE INDEX promotion_categories_category_idx ON promotion_categories (category_id);

CREATE TABLE banners (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    title       text NOT NULL CONSTRAINT banners_title_length CHECK (length(title) BETWEEN 1 AND 255),
    object_key  text NOT NULL UNIQUE,
    image_url   text NOT NULL,
    target_url  text CONSTRAINT banners_target_url_length CHECK (length(target_url) <= 2048),
    is_active   boolean NOT NULL DEFAULT true,
    status      text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX banners_tenant_active_idx ON banners (tenant_id, created_at DESC) WHERE is_active;

CREATE FUNCTION category_json(c categories) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', c.id, 'name', c.name, 'parent_id', c.parent_id,
                             'created_at', rfc3339(c.created_at))
$$;

-- The nested tree below parent (NULL: the roots) of one tenant, by name.
CREATE FUNCTION category_tree_json(tenant uuid, parent uuid) RETURNS json
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'parent_id', c.parent_id,
                                                       'created_at', rfc3339(c.created_at),
                                                       'children', category_tree_json(tenant, c.id))
                                     ORDER BY c.name, c.id), '[]')
            FROM categories c
            WHERE c.tenant_id = tenant
              AND ((parent IS NULL AND c.parent_id IS NULL) OR c.parent_id = parent));
END $$;

CREATE FUNCTION product_image_json(i product_images) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', i.id, 'product_id', i.product_id, 'image_url', i.image_url,
                             'is_primary', i.is_primary)
$$;

-- Products with discounted_price: the price after the best single promotion
-- that is active now and names the product, one of its categories or an
-- ancestor of one (NULL when none applies). Percentages round half away from
-- zero to the cent; nothing goes below 0. Checkout charges this price.
-- Views rather than functions: a view is inlined into the calling statement
-- and planned once with it, where a function with sub-selects is run row by
-- row; an unused column (discounted_price) costs nothing.
CREATE VIEW product_pricing AS
SELECT p.id, p.tenant_id, p.name, p.description, p.price, p.weight_grams, p.created_at,
       p.updated_at,
       (WITH RECURSIVE cats AS (
            SELECT category_id AS id FROM product_categories WHERE product_id = p.id
            UNION
            SELECT c.parent_id FROM categories c JOIN cats ON c.id = cats.id
            WHERE c.parent_id IS NOT NULL
        ), promos AS (
            SELECT promotion_id FROM promotion_products WHERE product_id = p.id
            UNION
            SELECT promotion_id FROM promotion_categories WHERE category_id IN (SELECT id FROM cats)
        )
        SELECT min(CASE pr.discount_type
                       WHEN 'percent' THEN round(p.price * (100 - pr.value) / 100, 2)
                       ELSE greatest(p.price - pr.value, 0)
                   END)::numeric(12, 2)
        FROM promotions pr JOIN promos ON pr.id = promos.promotion_id
        WHERE pr.is_active AND pr.starts_at <= now() AND now() < pr.ends_at) AS discounted_price
FROM products p;

-- A product as every catalog endpoint shows it (seed 003 §6 plus ratings and
-- the promotional price). Prices stay numeric up to the JSON text.
CREATE VIEW product_api AS
SELECT p.id, p.tenant_id, json_build_object(
        'id', p.id, 'name', p.name, 'description', p.description, 'price', p.price,
        'weight_grams', p.weight_grams,
        'created_at', rfc3339(p.created_at), 'updated_at', rfc3339(p.updated_at),
        'categories', coalesce((SELECT json_agg(json_build_object('id', c.id, 'name', c.name,
                                                                  'parent_id', c.parent_id)
                                                ORDER BY c.name, c.id)
                                FROM product_categories pc JOIN categories c ON c.id = pc.category_id
                                WHERE pc.product_id = p.id), '[]'),
        'primary_image', (SELECT product_image_json(i) FROM product_images i
                          WHERE i.product_id = p.id AND i.is_primary),
        'average_rating', (SELECT round(avg(rating), 2) FROM reviews WHERE product_id = p.id),
        'review_count', (SELECT count(*) FROM reviews WHERE product_id = p.id),
        'discounted_price', p.discounted_price) AS json
FROM product_pricing p;

-- The short form carts, favorites and sessions list.
CREATE VIEW product_summary_api AS
SELECT p.id, p.tenant_id, json_build_object(
        'id', p.id, 'name', p.name, 'price', p.price, 'discounted_price', p.discounted_price,
        'primary_image', (SELECT product_image_json(i) FROM product_images i
                          WHERE i.product_id = p.id AND i.is_primary)) AS json
FROM product_pricing p;

CREATE FUNCTION promotion_json(pr promotions) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', pr.id, 'name', pr.name, 'description', pr.description,
        'discount_type', pr.discount_type, 'value', pr.value,
        'product_ids', coalesce((SELECT json_agg(product_id ORDER BY product_id)
                                 FROM promotion_products WHERE promotion_id = pr.id), '[]'),
        'category_ids', coalesce((SELECT json_agg(category_id ORDER BY category_id)
                                  FROM promotion_categories WHERE promotion_id = pr.id), '[]'),
        'starts_at', rfc3339(pr.starts_at), 'ends_at', rfc3339(pr.ends_at),
        'is_active', pr.is_active,
        'created_at', rfc3339(pr.created_at), 'updated_at', rfc3339(pr.updated_at))
$$;

CREATE FUNCTION review_json(r reviews) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', r.id, 'product_id', r.product_id, 'user_id', r.user_id,
        'user', (SELECT json_build_object('id', u.id, 'full_name', u.full_name)
                 FROM users u WHERE u.id = r.user_id),
        'rating', r.rating, 'comment', r.comment,
        'created_at', rfc3339(r.created_at), 'updated_at', rfc3339(r.updated_at))
$$;
