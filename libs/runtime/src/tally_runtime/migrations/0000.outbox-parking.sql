-- The exactly-once plumbing every service shares: events waiting to be published, and records
-- that could not be applied. There is no inbox: each handler absorbs redeliveries by its
-- data's natural keys, which a recreated topic or a reset broker cannot fool.

-- Events written in the same transaction as the state change they describe; a relay publishes
-- them to Kafka (at least once), in id order, and deletes them. No trigger: the relay is woken
-- in process after each commit and polls for the rest, so no commit takes NOTIFY's global lock.
CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,
    topic       text        NOT NULL,
    key         text        NOT NULL,
    payload     bytea       NOT NULL,
    -- The W3C trace context of the work that caused the event (NULL when it had none).
    traceparent text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Records whose handling failed for a reason no retry could fix, kept with their original bytes
-- and position so the partition moves on and an operator can inspect and replay them.
CREATE TABLE parked_records (
    id             bigserial   PRIMARY KEY,
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    kafka_offset   bigint      NOT NULL,
    key            bytea,
    value          bytea       NOT NULL,
    -- SHA-256 of the value: with the position it tells a redelivery from a new record that
    -- landed at the same position of a recreated topic.
    value_sha256   text        NOT NULL,
    error          text        NOT NULL,
    attempts       integer     NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz,
    UNIQUE (topic, partition, kafka_offset, value_sha256)
);
