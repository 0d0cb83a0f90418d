-- User profiles (seed 001), customer delivery addresses with proof images
-- (seed 004), and private customer media: objects under
-- media/<tenant>/customers/ are never given a public URL; their URL is ingest's
-- checked route /media/<key>, which redirects the owner to a presigned URL.

-- Seed 001: at most one active profile per user (IsActive, DeletedAt); a
-- delete is soft. Lengths are the seed's DTO limits. created_by and
-- last_modified_by hold the acting user's email (the seed shows a login name).
CREATE TABLE user_profiles (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    full_name         text CONSTRAINT user_profiles_full_name_length CHECK (length(full_name) <= 255),
    address           text CONSTRAINT user_profiles_address_length CHECK (length(address) <= 512),
    avatar            text CONSTRAINT user_profiles_avatar_length CHECK (length(avatar) <= 1024),
    cover_image       text CONSTRAINT user_profiles_cover_image_length
                      CHECK (length(cover_image) <= 1024),
    is_active         boolean NOT NULL DEFAULT true,
    deleted_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text,
    last_modified_at  timestamptz,
    last_modified_by  text,
    CONSTRAINT user_profiles_soft_delete CHECK (is_active = (deleted_at IS NULL))
);
-- Concurrent creates for one user: one wins, the other gets 409.
CREATE UNIQUE INDEX user_profiles_one_active ON user_profiles (user_id) WHERE is_active;
CREATE INDEX user_profiles_tenant_idx ON user_profiles (tenant_id);

-- UserProfileResponseDTO (seed 001's field names, UUID values).
CREATE FUNCTION user_profile_json(p user_profiles) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', p.id, 'userId', p.user_id, 'fullName', p.full_name,
                             'address', p.address, 'avatar', p.avatar,
                             'coverImage', p.cover_image, 'createdAt', rfc3339(p.created_at),
                             'createdBy', p.created_by,
                             'lastModifiedAt', rfc3339(p.last_modified_at),
                             'lastModifiedBy', p.last_modified_by)
$$;

-- Seed 004's delivery addresses; seed 004 names no fields, these are ours
-- (docs/customer.md). A delete is soft; one default address per customer.
CREATE TABLE customer_addresses (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    customer_id     uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    label           text CHECK (length(label) <= 50),
    recipient_name  text NOT NULL CHECK (length(recipient_name) BETWEEN 1 AND 255),
    phone           text NOT NULL CHECK (length(phone) BETWEEN 1 AND 32),
    line1           text NOT NULL CHECK (length(line1) BETWEEN 1 AND 255),
    line2           text CHECK (length(line2) <= 255),
    ward            text CHECK (length(ward) <= 100),
    district        text CHECK (length(district) <= 100),
    city            text NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
    postal_code     text CHECK (length(postal_code) <= 20),
    country         text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    is_default      boolean NOT NULL DEFAULT false,
    -- The current (ready) proof image; a newer upload replaces it when ready.
    proof_media_id  uuid REFERENCES media_assets (id) ON DELETE SET NULL,
    is_deleted      boolean NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_addresses_soft_delete CHECK (is_deleted = (deleted_at IS NOT NULL)),
    CONSTRAINT customer_addresses_deleted_not_default CHECK (NOT (is_deleted AND is_default))
);
CREATE INDEX customer_addresses_customer_idx ON customer_addresses (customer_id, created_at, id)
    WHERE NOT is_deleted;
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (customer_id)
    WHERE is_default;

-- Address proofs are media too, stored under media/<tenant>/customers/<user>/address/.
ALTER TABLE media_assets DROP CONSTRAINT media_assets_purpose_check;
ALTER TABLE media_assets ADD CONSTRAINT media_assets_purpose_check
    CHECK (purpose IN ('media', 'avatar', 'product_image', 'banner', 'address_proof'));

-- The URL of an object key: private keys (media/<tenant>/customers/...) get
-- ingest's checked route, every other key the public base.
CREATE FUNCTION media_key_url(key text, public_base text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key LIKE 'media/%/customers/%' THEN '/' ELSE public_base END || key
$$;

CREATE OR REPLACE FUNCTION media_variants_json(variants jsonb, public_base text) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(json_object_agg(e.name, json_build_object('url', media_key_url(e.v ->> 'key',
                                                                                   public_base),
                                                             'width', e.v -> 'width',
                                                             'height', e.v -> 'height')
                                    ORDER BY e.name), '{}'::json)
    FROM jsonb_each(variants) AS e(name, v)
$$;

CREATE OR REPLACE FUNCTION media_url(m media_assets, public_base text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN m.status = 'ready' THEN media_key_url(m.object_key, public_base) END
$$;

-- Makes media the current asset of a row (column col of table tbl, row id)
-- and deletes the asset it replaces; returns that asset's object keys for
-- the caller to delete once this commits ('[]' when none or the row is gone).
CREATE FUNCTION media_replace(tbl regclass, col name, row_id uuid, media uuid) RETURNS json
    LANGUAGE plpgsql AS $$
DECLARE
    old_id uuid;
    keys json;
BEGIN
    EXECUTE format('SELECT %I FROM %s WHERE id = $1 FOR UPDATE', col, tbl) INTO old_id USING row_id;
    EXECUTE format('UPDATE %s SET %I = $2, updated_at = now() WHERE id = $1', tbl, col)
        USING row_id, media;
    IF old_id IS NULL OR old_id = media THEN
        RETURN '[]'::json;
    END IF;
    DELETE FROM media_assets m WHERE m.id = old_id RETURNING media_object_keys(m) INTO keys;
    RETURN coalesce(keys, '[]'::json);
END
$$;

CREATE OR REPLACE FUNCTION media_set_avatar(customer uuid, media uuid) RETURNS json
    LANGUAGE sql AS $$
    SELECT media_replace('customers', 'avatar_media_id', customer, media)
$$;

-- What a ready asset of purpose does to its subject (the media worker calls
-- it in the transaction that marks the asset ready): the keys to delete.
CREATE FUNCTION media_attach(purpose text, subject uuid, media uuid) RETURNS json
    LANGUAGE sql AS $$
    SELECT CASE purpose
               WHEN 'avatar' THEN media_set_avatar(subject, media)
               WHEN 'address_proof' THEN media_replace('customer_addresses', 'proof_media_id',
                                                       subject, media)
               ELSE '[]'::json
           END
$$;

-- The newest upload for subject that is not (yet) its current asset, pending
-- or failed: what a client polls after sending a new picture; NULL when none.
CREATE FUNCTION media_upload_json(purpose text, subject uuid, current_id uuid) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', m.id, 'status', m.status, 'failure_reason', m.failure_reason,
                             'status_url', '/api/v1/media/' || m.id || '/status')
    FROM media_assets m
    WHERE m.purpose = media_upload_json.purpose AND m.subject_id = subject
      AND m.status <> 'ready' AND m.id IS DISTINCT FROM current_id
      AND m.created_at >= coalesce((SELECT c.created_at FROM media_assets c WHERE c.id = current_id),
                                   '-infinity')
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT 1
$$;

-- The customer profile of seed 004 (GET/PATCH /api/customer/profile/).
CREATE FUNCTION customer_profile_json(cu customers, public_base text) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', cu.id, 'user_id', cu.user_id, 'email', u.email, 'full_name', u.full_name,
        'phone', cu.phone,
        'profile_picture', (SELECT media_url(m, public_base) FROM media_assets m
                            WHERE m.id = cu.avatar_media_id),
        'profile_picture_upload', media_upload_json('avatar', cu.id, cu.avatar_media_id),
        'created_at', rfc3339(cu.created_at), 'updated_at', rfc3339(cu.updated_at))
    FROM users u WHERE u.id = cu.user_id
$$;

CREATE FUNCTION customer_address_json(a customer_addresses, public_base text) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', a.id, 'label', a.label, 'recipient_name', a.recipient_name, 'phone', a.phone,
        'line1', a.line1, 'line2', a.line2, 'ward', a.ward, 'district', a.district,
        'city', a.city, 'postal_code', a.postal_code, 'country', a.country,
        'is_default', a.is_default,
        'proof_image', (SELECT media_url(m, public_base) FROM media_assets m
                        WHERE m.id = a.proof_media_id),
        'proof_image_upload', media_upload_json('address_proof', a.id, a.proof_media_id),
        'created_at', rfc3339(a.created_at), 'updated_at', rfc3339(a.updated_at))
$$;
