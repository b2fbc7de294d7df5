-- Redeliveries are absorbed by natural keys instead of an inbox keyed by Kafka position: each
-- row remembers which record it came from, so a redelivered record is recognised as such and
-- a producer's repeat is counted exactly once, however often either is delivered.

ALTER TABLE usage_events
    ADD COLUMN source_partition integer,
    ADD COLUMN source_offset    bigint,
    DROP COLUMN duplicates;

-- One row per repeat of a recorded payload (a producer's retry), by the record that carried it.
CREATE TABLE usage_duplicates (
    account_sid      text        NOT NULL,
    event_id         text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    detected_at      timestamptz NOT NULL,
    PRIMARY KEY (account_sid, event_id, source_partition, source_offset)
);

-- Dead letters carry an id derived from the record they reject (its position and bytes), so a
-- record delivered twice is kept and published once, and readers can recognise a repeat.
ALTER TABLE usage_conflicts ADD COLUMN letter_id text NOT NULL UNIQUE;
ALTER TABLE usage_rejections ADD COLUMN letter_id text NOT NULL UNIQUE;
