-- Notifications decide on their triggers (balance alerts, lifecycle facts, invoices), no longer
-- on every balance change: the old `none` rows were not decisions about any notification.
DELETE FROM decisions WHERE outcome = 'none';

ALTER TABLE decisions RENAME COLUMN source_event_id TO trigger_event_id;
ALTER TABLE decisions DROP CONSTRAINT decisions_outcome_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_outcome_check
    CHECK (outcome IN ('sent', 'suppressed', 'deferred', 'failed'));
ALTER TABLE decisions
    ADD COLUMN kind text NOT NULL DEFAULT 'recharge_reminder',
    -- The account's mode the decision was taken under; NULL while deferred on an unknown state.
    ADD COLUMN billing_mode text CHECK (billing_mode IN ('trial', 'pay_as_you_go', 'invoiced')),
    ADD COLUMN channels text[] NOT NULL DEFAULT '{}',
    -- The trigger as published, so a deferred decision can be taken again without Kafka.
    ADD COLUMN trigger_topic text NOT NULL DEFAULT '',
    ADD COLUMN trigger jsonb NOT NULL DEFAULT '{}';
ALTER TABLE decisions ALTER COLUMN kind DROP DEFAULT;

-- A deferred decision is taken again from `retry_at` on, later after each failed attempt, so
-- triggers of accounts that never become known cannot crowd out the others.
ALTER TABLE decisions
    ADD COLUMN retries integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at timestamptz;
CREATE INDEX decisions_deferred ON decisions (retry_at) WHERE outcome = 'deferred';

-- The newest state of each account, as far as notifications needs it (contacts included), and
-- how far the projection has applied each partition of `accounts.state.v1`: the read barrier
-- compares it with the partition's end offset before deciding.
CREATE TABLE account_views (
    account_sid        text    PRIMARY KEY,
    version            integer NOT NULL,
    billing_mode       text    NOT NULL,
    status             text    NOT NULL,
    time_zone          text    NOT NULL,
    contact_email      text,
    webhook_url        text,
    invoice_recipients text[]  NOT NULL DEFAULT '{}'
);

CREATE TABLE account_state_progress (
    partition   integer PRIMARY KEY,
    next_offset bigint  NOT NULL  -- every record before it has been applied
);

-- One row per message to send, written in the transaction of its 'sent' decision; delivery
-- reads and updates it (status, attempts, errors) and marks the decision 'failed' if it gives up.
CREATE TABLE deliveries (
    delivery_id     text        PRIMARY KEY,  -- derived from decision, channel and recipient
    decision_id     text        NOT NULL REFERENCES decisions (decision_id),
    account_sid     text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text        NOT NULL,
    kind            text        NOT NULL,
    subject         text        NOT NULL,
    body            jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);

CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_decision ON deliveries (decision_id);
