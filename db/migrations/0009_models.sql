-- AI models for the cart devices (seed 003 §7) and product vectors (§8).
-- A model file is stored as uploaded (no worker transforms it) at object_key
-- (models/crop|embedding/<name>-<version>-<uuid>.<ext>); its public URL is
-- derived from the key when answering, so moving the CDN changes no row.

CREATE TABLE ai_models (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    name         text NOT NULL CONSTRAINT ai_models_name_length CHECK (length(name) BETWEEN 1 AND 255),
    version      text NOT NULL CONSTRAINT ai_models_version_length CHECK (length(version) BETWEEN 1 AND 64),
    model_type   text NOT NULL CHECK (model_type IN ('CROP', 'EMBEDDING')),
    object_key   text NOT NULL UNIQUE,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);
-- Lists and "latest" read one tenant's models of one type, newest first.
CREATE INDEX ai_models_type_idx ON ai_models (tenant_id, model_type, uploaded_at DESC, id DESC);

-- A model as the routes answer it, except that file_path holds the object
-- key: the caller turns it into the public URL.
CREATE FUNCTION ai_model_json(m ai_models) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', m.id, 'name', m.name, 'version', m.version,
                             'model_type', m.model_type, 'file_path', m.object_key,
                             'uploaded_at', rfc3339(m.uploaded_at))
$$;

-- One embedding per product, written by `smartcart import-vectors`; the
-- cart devices download them all and match camera crops against them. The
-- import keeps a tenant's vectors at one dimension (a row alone cannot).
-- Deleting the embedding model that produced a vector keeps the vector.
CREATE TABLE product_vectors (
    product_id  uuid PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    model_id    uuid REFERENCES ai_models (id) ON DELETE SET NULL,
    embedding   real[] NOT NULL CONSTRAINT product_vectors_dimension
                CHECK (array_ndims(embedding) = 1 AND cardinality(embedding) BETWEEN 1 AND 4096
                       AND array_position(embedding, NULL) IS NULL),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_vectors_model_idx ON product_vectors (model_id) WHERE model_id IS NOT NULL;
