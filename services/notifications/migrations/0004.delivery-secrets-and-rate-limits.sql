-- Each account's webhook secret, made on first need. The customer must be shown it (to verify
-- `Tally-Signature`), so it is kept retrievable: sealed with Fernet
-- (TALLY_NOTIFICATIONS_WEBHOOK_SECRET_KEYS), never in the clear.
CREATE TABLE webhook_secrets (
    account_sid   text        PRIMARY KEY,
    sealed_secret bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The per-account rate limit: a token bucket per account and channel, locked by the claimer
-- that takes its tokens, so every replica sees the same limit.
CREATE TABLE delivery_rate_limits (
    account_sid text             NOT NULL,
    channel     text             NOT NULL,
    tokens      double precision NOT NULL,
    refilled_at timestamptz      NOT NULL,
    PRIMARY KEY (account_sid, channel)
);
