-- Usage events as producers sent them, deduplicated by (account, event id), and what was refused.

-- One row per accepted event id of an account: the first payload is the one that counts.
CREATE TABLE usage_events (
    account_sid  text        NOT NULL,
    event_id     text        NOT NULL,
    category     text        NOT NULL,
    quantity     numeric     NOT NULL CHECK (quantity >= 0),
    occurred_at  timestamptz NOT NULL,
    phone_number text,
    number_type  text,
    attributes   jsonb       NOT NULL DEFAULT '{}',
    -- SHA-256 of the canonical payload: a repeat with the same hash is a duplicate, else a conflict.
    payload_hash text        NOT NULL,
    recorded_at  timestamptz NOT NULL,
    -- Repeats of the same payload, counted so a producer's receipt can say they were ignored.
    duplicates   integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (account_sid, event_id)
);

-- Repeats of a recorded event id with a different payload: never applied, kept for support.
CREATE TABLE usage_conflicts (
    id               bigserial   PRIMARY KEY,
    account_sid      text        NOT NULL,
    event_id         text        NOT NULL,
    payload_hash     text        NOT NULL,
    original         text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    detected_at      timestamptz NOT NULL
);
CREATE INDEX usage_conflicts_by_event ON usage_conflicts (account_sid, event_id);

-- Messages that broke the contract; account and event id only where they could be read.
CREATE TABLE usage_rejections (
    id               bigserial   PRIMARY KEY,
    account_sid      text,
    event_id         text,
    kafka_key        text,
    errors           jsonb       NOT NULL,
    original         text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    rejected_at      timestamptz NOT NULL
);
CREATE INDEX usage_rejections_by_event ON usage_rejections (account_sid, event_id);
