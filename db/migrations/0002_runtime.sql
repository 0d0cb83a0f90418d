-- Tables of the worker runtime's self-test role (smartcart-worker selftest),
-- which the integration tests drive to prove exactly-once effects.

-- One row per applied effect. Deliberately no unique key on message_id: a
-- second effect of one message must show up as a second row, not an error.
CREATE TABLE selftest_effects (
    id          bigserial PRIMARY KEY,
    message_id  uuid NOT NULL,
    seq         bigint NOT NULL,
    worker_pid  integer NOT NULL,
    confirmed   boolean NOT NULL DEFAULT false, -- set by the after-commit hook
    applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX selftest_effects_message_idx ON selftest_effects (message_id);

-- Attempts per message, counted outside the effect's transaction (which a
-- failing attempt rolls back), so retries stay visible.
CREATE TABLE selftest_attempts (
    message_id  uuid PRIMARY KEY,
    attempts    integer NOT NULL CHECK (attempts > 0)
);
