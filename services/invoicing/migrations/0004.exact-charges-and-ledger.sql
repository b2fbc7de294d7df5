-- Exact charges (CONTRACTS.md §2), the prepaid ledger, threshold crossings, auto-recharge and
-- credit exposure. Rows written before this migration keep working: their charges have no
-- period (NULL) and count as prepaid; each balance gets an `opening` ledger entry equal to it.

-- The public price list (informative: rating prices from tally_invoicing.pricing).
UPDATE rate_card SET unit_price = 0.0400 WHERE category = 'phone-numbers';

-- A charge = price(month's quantity after it) - price(before it), exact to 12 places.
ALTER TABLE charges
    ALTER COLUMN amount TYPE NUMERIC(30,12),
    ADD COLUMN period     text,
    ADD COLUMN local_date date,
    ADD COLUMN late       boolean NOT NULL DEFAULT false,
    -- Drawn from the prepaid balance when rated (trial, pay as you go); false for invoiced
    -- accounts, whose usage accumulates into the invoice.
    ADD COLUMN prepaid    boolean NOT NULL DEFAULT true;

CREATE INDEX charges_by_period ON charges (account_sid, period, category);

-- The running quantity (and its exact price) of each account's category in each period, kept
-- in the batch's transaction: the next charge is priced from it, so a month's charges add up
-- to the price of the month's total whatever the order of its events.
CREATE TABLE period_quantities (
    account_sid text           NOT NULL,
    period      text           NOT NULL,
    category    text           NOT NULL,
    quantity    NUMERIC(30,6)  NOT NULL,
    amount      NUMERIC(30,12) NOT NULL,
    PRIMARY KEY (account_sid, period, category)
);

-- Each account's prepaid ledger: the balance is the sum of its entries. entry_id is the
-- natural id of what caused it (trial_credit:<sid>, top_up:<id>, charge:<charge id>,
-- recharge:<id>, freeze:<sid>:v<version>), so an entry is written once however often its cause
-- is applied.
CREATE TABLE ledger_entries (
    entry_id      text           PRIMARY KEY,
    account_sid   text           NOT NULL,
    kind          text           NOT NULL
        CHECK (kind IN ('opening', 'trial_credit', 'top_up', 'drawdown', 'recharge', 'freeze')),
    amount        NUMERIC(30,12) NOT NULL,
    balance_after NUMERIC(30,12) NOT NULL,
    created_at    timestamptz    NOT NULL,
    entry_order   bigint         GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX ledger_entries_by_account ON ledger_entries (account_sid, entry_order);

INSERT INTO ledger_entries (entry_id, account_sid, kind, amount, balance_after, created_at)
SELECT 'opening:' || account_sid, account_sid, 'opening', balance, balance, updated_at
FROM balances;

-- The balance row is the running total of the ledger, and the row every money movement of an
-- account locks first: invoicing's view of the account's mode lives on it, so a batch that
-- reads the mode and draws down is serialized with the state that switches it to invoiced.
ALTER TABLE balances
    ALTER COLUMN balance TYPE NUMERIC(30,12),
    ADD COLUMN mode_version       integer       NOT NULL DEFAULT 0,
    ADD COLUMN billing_mode       text,
    ADD COLUMN time_zone          text,
    ADD COLUMN rates              jsonb,
    ADD COLUMN credit_limit       NUMERIC(20,2),
    ADD COLUMN threshold          NUMERIC(20,2),
    ADD COLUMN auto_recharge      boolean       NOT NULL DEFAULT false,
    ADD COLUMN recharge_amount    NUMERIC(20,2),
    -- The last crossing alerted (ok, low, depleted): a crossing is published once.
    ADD COLUMN alerted            text          NOT NULL DEFAULT 'ok',
    -- The highest share of the credit limit alerted (0, 80, 100); re-armed below it.
    ADD COLUMN exposure_alerted   integer       NOT NULL DEFAULT 0;

-- A balance frozen on the switch to invoiced: the remainder (positive: a credit; negative:
-- owed) becomes an adjustment line of the next invoice, which sets invoiced_in.
CREATE TABLE frozen_balances (
    freeze_id   text           PRIMARY KEY,
    account_sid text           NOT NULL,
    remainder   NUMERIC(30,12) NOT NULL,
    frozen_at   timestamptz    NOT NULL,
    invoiced_in text
);

CREATE INDEX frozen_balances_open ON frozen_balances (account_sid) WHERE invoiced_in IS NULL;

-- Auto-recharges: recorded pending in the transaction that crossed the threshold, executed
-- after its commit (a card processor may hang; never inside a consumer's transaction).
CREATE TABLE recharges (
    recharge_id   text          PRIMARY KEY,
    account_sid   text          NOT NULL,
    amount        NUMERIC(20,2) NOT NULL CHECK (amount > 0),
    state         text          NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'charged', 'declined', 'skipped')),
    reason        text,
    provider_reference text,
    created_at    timestamptz   NOT NULL,
    settled_at    timestamptz
);

CREATE INDEX recharges_pending ON recharges (created_at) WHERE state = 'pending';

-- At most one pending recharge per account: a low and a depleted crossing in a row ask once.
CREATE UNIQUE INDEX recharges_one_pending ON recharges (account_sid) WHERE state = 'pending';
