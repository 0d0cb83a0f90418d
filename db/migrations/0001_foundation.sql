-- Tenants, users and the worker runtime's processed-message ledger.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO tenants (slug, name) VALUES ('default', 'Default store');

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%'),
    full_name      text NOT NULL DEFAULT '' CHECK (length(full_name) <= 255),
    password_hash  text NOT NULL,
    role           text NOT NULL DEFAULT 'Customer' CHECK (role IN ('Customer', 'Administrator')),
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Email is unique regardless of case: Alice@x.vn and alice@x.vn are one account.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id);

-- One row per (consumer group, message id) whose effect committed; the worker
-- runtime inserts it in the same transaction as the effect.
CREATE TABLE processed_messages (
    consumer_group  text NOT NULL,
    message_id      uuid NOT NULL,
    topic           text NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, message_id)
);
CREATE INDEX processed_messages_at_idx ON processed_messages (processed_at);

-- Messages the runtime gave up on (also produced to <topic>.dlq), for operators.
CREATE TABLE dead_letters (
    id              bigserial PRIMARY KEY,
    consumer_group  text NOT NULL,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    "offset"        bigint NOT NULL,
    message_id      text,
    error           text NOT NULL,
    attempts        integer NOT NULL,
    payload         bytea,
    created_at      timestamptz NOT NULL DEFAULT now()
);
