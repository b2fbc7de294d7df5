-- Charges are rated a batch at a time, several at one instant: the order they were rated in
-- breaks the tie, so "newest first" lists them in the order their usage came.
ALTER TABLE charges ADD COLUMN rated_order bigint GENERATED ALWAYS AS IDENTITY;
DROP INDEX charges_by_account;
CREATE INDEX charges_by_account ON charges (account_sid, charged_at, rated_order);
