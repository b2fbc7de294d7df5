-- Each account's auth token, kept only as HMAC-SHA256(pepper, token): a leaked table (or
-- backup) without the pepper proves nothing, and the token itself is shown once, at creation.
CREATE TABLE auth_tokens (
    account_sid text        PRIMARY KEY CHECK (account_sid ~ '^AC[0-9a-f]{32}$'),
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
