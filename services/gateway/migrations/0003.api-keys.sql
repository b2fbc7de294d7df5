-- API keys (`SK` + 32 hex): each authenticates as its account with `APIKeySid:secret`. Like
-- auth tokens, the secret is kept only as HMAC-SHA256(pepper, secret) and shown once. A
-- revoked key stays, with the instant it was revoked, so it never authenticates again.
CREATE TABLE api_keys (
    key_sid     text        PRIMARY KEY CHECK (key_sid ~ '^SK[0-9a-f]{32}$'),
    account_sid text        NOT NULL CHECK (account_sid ~ '^AC[0-9a-f]{32}$'),
    secret_hash bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX api_keys_by_account ON api_keys (account_sid);
