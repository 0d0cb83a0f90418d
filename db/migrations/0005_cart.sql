-- Shopping sessions of cart devices (seed 003 §3) and their items. The cart
-- worker is the only writer of items; `version` counts applied commands so
-- ingest and devices can tell which snapshot they hold.

CREATE TABLE shopping_sessions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'checked_out', 'expired')),
    version           bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    last_activity_at  timestamptz NOT NULL DEFAULT now()
);
-- At most one active session per user: verify-qr reuses it.
CREATE UNIQUE INDEX shopping_sessions_one_active ON shopping_sessions (user_id)
    WHERE status = 'active';
CREATE INDEX shopping_sessions_activity_idx ON shopping_sessions (last_activity_at)
    WHERE status = 'active';

CREATE TABLE cart_items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id  uuid NOT NULL REFERENCES shopping_sessions (id) ON DELETE CASCADE,
    product_id  uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, product_id)
);

-- A session as GET /sessions/{id} and the cart snapshot show it (seed 003 §3),
-- plus `version`, so a client can tell which state it holds. Items in the
-- order they were first added; each product in its short catalog form.
CREATE FUNCTION shopping_session_json(sid uuid) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', s.id, 'user_id', s.user_id, 'status', s.status,
        'created_at', rfc3339(s.created_at), 'version', s.version,
        'items', coalesce((SELECT json_agg(json_build_object(
                                   'id', ci.id, 'product_id', ci.product_id,
                                   'quantity', ci.quantity, 'added_at', rfc3339(ci.added_at),
                                   'product', ps.json)
                               ORDER BY ci.added_at, ci.id)
                           FROM cart_items ci JOIN product_summary_api ps ON ps.id = ci.product_id
                           WHERE ci.session_id = s.id), '[]'))
    FROM shopping_sessions s WHERE s.id = sid
$$;
