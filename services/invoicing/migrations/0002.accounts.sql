-- What invoicing knows of each account, from `accounts.state.v1`: only the newest version is
-- kept. Billing mode and time zone decide, in later changes, whether usage draws down a
-- balance or accumulates into an invoice, and in which zone a billing month runs.
CREATE TABLE accounts (
    account_sid       text        PRIMARY KEY,
    version           integer     NOT NULL,
    billing_mode      text        NOT NULL,
    status            text        NOT NULL,
    time_zone         text        NOT NULL,
    state_occurred_at timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
