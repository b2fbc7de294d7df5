-- A decision's id is derived from the event it is about (`decision_id_for`), so the primary key
-- already allows one decision per event: the second unique index only cost every insert.
ALTER TABLE decisions DROP CONSTRAINT decisions_source_event_id_key;
