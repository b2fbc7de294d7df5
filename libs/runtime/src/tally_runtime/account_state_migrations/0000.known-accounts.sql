-- The projection of `accounts.state.v1` kept by the services that read account state: only the
-- newest version of each account. Not `accounts`: the accounts service owns a table of that name.
CREATE TABLE known_accounts (
    account_sid       text        PRIMARY KEY,
    version           integer     NOT NULL,
    billing_mode      text        NOT NULL,
    status            text        NOT NULL,
    time_zone         text        NOT NULL,
    state_occurred_at timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
