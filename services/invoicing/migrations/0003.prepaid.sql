-- Prepaid balances: top-ups, the trial credit, and each account's low-balance threshold.
-- A balance is the sum of its entries: the trial credit, plus top-ups, less charges.

-- Each account's low-balance threshold, from its newest state (its auto-recharge threshold);
-- an account without a row has the default, 10.00. At or below it (and above 0) a balance
-- is low.
CREATE TABLE low_balance_thresholds (
    account_sid           text          PRIMARY KEY,
    low_balance_threshold NUMERIC(20,6) NOT NULL,
    version               integer       NOT NULL
);

-- One row per top-up that was charged and credited. top_up_id is the caller's idempotency
-- key: a repeat finds its row. The request is kept as a fingerprint (account, amount, card),
-- never the card token itself, so a repeat with another body can be told apart.
CREATE TABLE top_ups (
    top_up_id           text          PRIMARY KEY,
    account_sid         text          NOT NULL,
    amount              NUMERIC(20,2) NOT NULL CHECK (amount > 0),
    currency            text          NOT NULL DEFAULT 'USD',
    request_fingerprint text          NOT NULL,
    provider_reference  text,
    -- The balance right after the top-up: a repeat answers with the first answer.
    balance_after       NUMERIC(20,6) NOT NULL,
    created_at          timestamptz   NOT NULL
);

CREATE INDEX top_ups_by_account ON top_ups (account_sid, created_at);

-- The trial credit, once per account: the key keeps a replayed account state from
-- crediting it again.
CREATE TABLE trial_credits (
    account_sid text          PRIMARY KEY,
    amount      NUMERIC(20,2) NOT NULL,
    credited_at timestamptz   NOT NULL
);
