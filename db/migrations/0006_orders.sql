-- Checkout (issue 6, seed 003 §4, §5): orders with item snapshots, the record
-- of PayOS webhooks, user notifications, the transactional outbox the
-- payment worker drains, and per-week product sales for best-sellers.

-- PayOS orderCode: a positive integer unique per payment link. Starts high so
-- it never meets the small codes of PayOS's own test payloads (123).
CREATE SEQUENCE order_code_seq START 100000;

CREATE TABLE orders (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id       uuid REFERENCES shopping_sessions (id) ON DELETE SET NULL,
    order_code       bigint NOT NULL UNIQUE DEFAULT nextval('order_code_seq'),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'completed', 'failed')),
    total_amount     numeric(12, 2) NOT NULL CHECK (total_amount >= 0),
    -- What the PayOS link asks for: whole đồng, the total rounded up.
    payable_amount   bigint NOT NULL CHECK (payable_amount >= 0),
    paid_amount      numeric(12, 2) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    shortfall        numeric(12, 2),
    payment_link_id  text,
    checkout_url     text,
    qr_code          text,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
-- A second checkout of the same cart returns the pending order, never a twin.
CREATE UNIQUE INDEX orders_one_pending_per_session ON orders (session_id)
    WHERE status = 'pending';
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC, id);
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'pending';

-- Snapshots: the name and price charged survive product edits and deletion.
CREATE TABLE order_items (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id      uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id    uuid REFERENCES products (id) ON DELETE SET NULL,
    product_name  text NOT NULL,
    unit_price    numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    quantity      integer NOT NULL CHECK (quantity > 0)
);
CREATE INDEX order_items_order_idx ON order_items (order_id);

-- Every verified webhook the payment worker handled, known order or not,
-- with what it did (outcome). message_id is the payment event's id, derived
-- from orderCode and reference, so a redelivery cannot add a second row.
CREATE TABLE payment_events (
    id            bigserial PRIMARY KEY,
    message_id    uuid NOT NULL UNIQUE,
    order_code    bigint NOT NULL,
    order_id      uuid REFERENCES orders (id) ON DELETE SET NULL,
    amount        bigint NOT NULL,
    reference     text NOT NULL,
    payload       jsonb NOT NULL,
    signature_ok  boolean NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('completed', 'underpaid', 'not_pending',
                                                   'unknown_order', 'not_successful',
                                                   'confirm_test')),
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_events_order_idx ON payment_events (order_code);

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text NOT NULL,
    body        text NOT NULL,
    is_read     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, is_read, created_at DESC);

-- Messages a worker decided to produce, written in the transaction of its
-- effect and produced after the commit (workers/outbox.c): a crash between
-- commit and produce delays the message, never loses it.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         text NOT NULL,
    payload     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Units sold per product and ISO week (UTC), kept by the analytics worker;
-- the source the Redis best-seller sets are rebuilt from.
CREATE TABLE product_sales_weekly (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    product_id  uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    iso_year    integer NOT NULL,
    iso_week    integer NOT NULL CHECK (iso_week BETWEEN 1 AND 53),
    quantity    bigint NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (product_id, iso_year, iso_week)
);
CREATE INDEX product_sales_weekly_rank_idx
    ON product_sales_weekly (tenant_id, iso_year, iso_week, quantity DESC);
