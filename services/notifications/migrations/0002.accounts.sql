-- What notifications knows of each account, from `accounts.state.v1`: only the newest version
-- is kept. The policy reads the billing mode and status from here when it decides.
CREATE TABLE accounts (
    account_sid       text        PRIMARY KEY,
    version           integer     NOT NULL,
    billing_mode      text        NOT NULL,
    status            text        NOT NULL,
    time_zone         text        NOT NULL,
    state_occurred_at timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
