-- Uploaded media (seed 002) and customer profiles with avatars (seeds 000, 004).

CREATE TABLE media_assets (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    owner_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('image', 'video')),
    -- What the asset is for; the worker applies the purpose's effect when it is ready.
    purpose         text NOT NULL DEFAULT 'media'
                    CHECK (purpose IN ('media', 'avatar', 'product_image', 'banner')),
    subject_id      uuid,
    original_name   text NOT NULL CHECK (length(original_name) BETWEEN 1 AND 255),
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes > 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'ready', 'failed')),
    failure_reason  text CHECK (length(failure_reason) <= 1000),
    staging_key     text NOT NULL,
    object_key      text NOT NULL UNIQUE,
    width           integer CHECK (width > 0),
    height          integer CHECK (height > 0),
    variants        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'ready' OR kind = 'video' OR (width IS NOT NULL AND height IS NOT NULL)),
    CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);
CREATE INDEX media_assets_owner_idx ON media_assets (owner_id, created_at DESC, id);
CREATE INDEX media_assets_tenant_idx ON media_assets (tenant_id, created_at DESC, id);

CREATE TABLE customers (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    user_id          uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    phone            text CHECK (length(phone) <= 32),
    avatar_media_id  uuid REFERENCES media_assets (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Object keys are made of [a-z0-9/_.-] only (lib/media.c), so a public URL is
-- the base URL (CLOUDFLARE_R2_PUBLIC_URL, passed in by the caller) plus the
-- key as is. Rows store keys, never URLs: moving the CDN needs no migration.

-- {name: {url, width, height}} from the stored {name: {key, width, height}}.
CREATE FUNCTION media_variants_json(variants jsonb, public_base text) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(json_object_agg(e.name, json_build_object('url', public_base || (e.v ->> 'key'),
                                                             'width', e.v -> 'width',
                                                             'height', e.v -> 'height')
                                    ORDER BY e.name), '{}'::json)
    FROM jsonb_each(variants) AS e(name, v)
$$;

-- The public URL of the full-size object, once there is one.
CREATE FUNCTION media_url(m media_assets, public_base text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN m.status = 'ready' THEN public_base || m.object_key END
$$;

-- MediaResponse (seed 002), as every media route answers it.
CREATE FUNCTION media_json(m media_assets, public_base text) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', m.id, 'owner_id', m.owner_id, 'kind', m.kind,
                             'purpose', m.purpose, 'original_name', m.original_name,
                             'content_type', m.content_type, 'size_bytes', m.size_bytes,
                             'sha256', m.sha256, 'status', m.status,
                             'failure_reason', m.failure_reason, 'width', m.width,
                             'height', m.height, 'url', media_url(m, public_base),
                             'variants', media_variants_json(m.variants, public_base),
                             'status_url', '/api/v1/media/' || m.id || '/status',
                             'created_at', rfc3339(m.created_at),
                             'updated_at', rfc3339(m.updated_at))
$$;

-- What GET /api/v1/media/{id}/status answers and Redis caches (media:status:<id>);
-- owner and tenant let ingest check access on a cache hit without Postgres.
CREATE FUNCTION media_status_json(m media_assets, public_base text) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', m.id, 'owner_id', m.owner_id, 'tenant_id', m.tenant_id,
                             'status', m.status, 'failure_reason', m.failure_reason,
                             'url', media_url(m, public_base),
                             'variants', media_variants_json(m.variants, public_base),
                             'updated_at', rfc3339(m.updated_at))
$$;

-- Every R2 key the asset may occupy: staging, full size, variants.
CREATE FUNCTION media_object_keys(m media_assets) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT json_agg(DISTINCT k ORDER BY k)
    FROM (SELECT m.staging_key UNION ALL SELECT m.object_key
          UNION ALL SELECT e.v ->> 'key' FROM jsonb_each(m.variants) AS e(name, v)) AS s(k)
    WHERE k IS NOT NULL
$$;

-- Makes media the avatar of customer and removes the asset it replaces.
-- Returns the replaced asset's object keys (the caller deletes the objects
-- once this commits), '[]' when there was none or the customer is gone.
CREATE FUNCTION media_set_avatar(customer uuid, media uuid) RETURNS json
    LANGUAGE plpgsql AS $$
DECLARE
    old_id uuid;
    keys json;
BEGIN
    SELECT avatar_media_id INTO old_id FROM customers WHERE id = customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '[]'::json;
    END IF;
    UPDATE customers SET avatar_media_id = media, updated_at = now() WHERE id = customer;
    IF old_id IS NULL OR old_id = media THEN
        RETURN '[]'::json;
    END IF;
    DELETE FROM media_assets m WHERE m.id = old_id RETURNING media_object_keys(m) INTO keys;
    RETURN coalesce(keys, '[]'::json);
END
$$;
