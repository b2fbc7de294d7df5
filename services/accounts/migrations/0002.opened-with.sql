-- The hash of the request that opened each account. A caller may name the SID of the account
-- it opens (the gateway does, so that a retry opens the same account): the same SID asked for
-- again with the same request finds that account, with another request it is a conflict.
-- NULL for accounts opened before it was kept.
ALTER TABLE accounts ADD COLUMN opened_with bytea;
