-- Usage as the billing page shows it: dated in the account's time zone, aggregated per local
-- day in the same transaction as the events, per phone number for the number usage report,
-- snapshotted nightly; events for accounts usage has not seen yet wait for their state.

-- The zones that date an account's usage, from its state: a change applies from the next
-- billing month, so backfilled usage is dated in the zone its month had.
CREATE TABLE account_time_zones (
    account_sid    text        NOT NULL,
    effective_from timestamptz NOT NULL,  -- '-infinity' for the account's first zone
    time_zone      text        NOT NULL,
    first_month    text,                  -- YYYY-MM of the zone's first period; NULL for the first
    PRIMARY KEY (account_sid, effective_from)
);

-- Billing months invoicing has closed (invoices.month_closed.v1): later usage for them is late.
CREATE TABLE closed_periods (
    account_sid text        NOT NULL,
    period      text        NOT NULL,
    closed_at   timestamptz NOT NULL,
    PRIMARY KEY (account_sid, period)
);

-- NULL only for rows stored before this migration.
ALTER TABLE usage_events
    ADD COLUMN local_date date,
    ADD COLUMN period     text,
    ADD COLUMN late       boolean NOT NULL DEFAULT false;

-- Per account, period, local date and category; late usage is kept apart so a closed month's
-- figures never change.
CREATE TABLE usage_daily (
    account_sid text    NOT NULL,
    period      text    NOT NULL,
    local_date  date    NOT NULL,
    category    text    NOT NULL,
    late        boolean NOT NULL,
    quantity    numeric NOT NULL,
    events      bigint  NOT NULL,
    PRIMARY KEY (account_sid, period, local_date, category, late)
);

-- Per phone number and local date, for the number usage report (built on request).
CREATE TABLE number_usage_daily (
    account_sid    text        NOT NULL,
    period         text        NOT NULL,
    phone_number   text        NOT NULL,
    local_date     date        NOT NULL,
    number_type    text,                   -- the type the latest event of the day named, if any
    number_type_at timestamptz,            -- when that event occurred: a later one's type wins
    calls          bigint      NOT NULL,   -- call events (calls-*) naming the number
    minutes        numeric     NOT NULL,   -- their quantity
    held           boolean     NOT NULL,   -- a phone-numbers event: the number was held that day
    PRIMARY KEY (account_sid, period, phone_number, local_date)
);

-- One nightly snapshot per account and local date `through`, whoever takes it first.
CREATE TABLE usage_snapshots (
    account_sid text        NOT NULL,
    through     date        NOT NULL,  -- the snapshot covers its period's start to this day's end
    period      text        NOT NULL,
    taken_at    timestamptz NOT NULL,
    PRIMARY KEY (account_sid, through)
);
CREATE INDEX usage_snapshots_by_period ON usage_snapshots (account_sid, period, through DESC);

CREATE TABLE usage_snapshot_lines (
    account_sid text    NOT NULL,
    through     date    NOT NULL,
    category    text    NOT NULL,
    quantity    numeric NOT NULL,
    PRIMARY KEY (account_sid, through, category),
    FOREIGN KEY (account_sid, through) REFERENCES usage_snapshots ON DELETE CASCADE
);

-- Records for accounts usage has no state for yet: applied when the account's state arrives.
CREATE TABLE awaiting_account (
    account_sid      text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    record_key       bytea,
    record_value     bytea       NOT NULL,
    traceparent      text,       -- the record's trace, continued when it is applied
    parked_at        timestamptz NOT NULL,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
CREATE INDEX awaiting_account_by_account ON awaiting_account (account_sid);
