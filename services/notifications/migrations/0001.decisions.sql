-- Every notification decision is kept, whatever its outcome, so support can see what was sent
-- and what was held back, and why.
CREATE TABLE decisions (
    decision_id     text        PRIMARY KEY,
    -- The event that asked for a decision. One decision per event, so a replay decides nothing.
    source_event_id text        NOT NULL UNIQUE,
    account_sid     text        NOT NULL,
    event_type      text        NOT NULL,
    outcome         text        NOT NULL
        CHECK (outcome IN ('sent', 'suppressed', 'deferred', 'failed', 'none')),
    reason          text        NOT NULL,
    decided_at      timestamptz NOT NULL
);

CREATE INDEX decisions_by_account ON decisions (account_sid, decided_at DESC, decision_id DESC);
