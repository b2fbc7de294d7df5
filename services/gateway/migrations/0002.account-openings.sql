-- Accounts the gateway set out to open, by the Idempotency-Key of the request (a fresh key when
-- the client sent none). A row is written, with the token's hash in auth_tokens, before the
-- accounts service is asked to open `account_sid`: so no account ever exists without
-- credentials, and a retry with the same key opens that same account once and shows the same
-- token. The seed yields the token only with the pepper, and is forgotten once the retry window
-- has passed; then only the token's hash remains.
CREATE TABLE account_openings (
    idempotency_key text        PRIMARY KEY,
    request_hash    bytea       NOT NULL,
    account_sid     text        NOT NULL UNIQUE CHECK (account_sid ~ '^AC[0-9a-f]{32}$'),
    token_seed      bytea,
    opened_at       timestamptz NOT NULL
);

-- Finds the seeds to forget; only the openings of the last day keep one.
CREATE INDEX account_openings_seeded ON account_openings (opened_at) WHERE token_seed IS NOT NULL;
