-- A decision's id is derived from the event it is about (`decision_id_for`), so the primary key
-- already allows one decision per event: the second unique index only cost every insert.
ALTER TABLE decisions DROP CONSTRAINT decisions_source_event_id_key;

-- Decisions are taken a batch at a time, several at one instant: the order they were taken in
-- breaks the tie, so "newest first" lists them in the order their events came.
ALTER TABLE decisions ADD COLUMN taken_order bigint GENERATED ALWAYS AS IDENTITY;
DROP INDEX decisions_by_account;
CREATE INDEX decisions_by_account ON decisions (account_sid, decided_at DESC, taken_order DESC);
