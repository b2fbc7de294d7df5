-- Accounts: one row per account, its whole current state; `version` grows by one per change
-- and is the version of the AccountState event written to the outbox with that change.
CREATE TABLE accounts (
    sid                     text        PRIMARY KEY CHECK (sid ~ '^AC[0-9a-f]{32}$'),
    owner                   text        NOT NULL CHECK (char_length(owner) BETWEEN 1 AND 128),
    friendly_name           text        NOT NULL,
    time_zone               text        NOT NULL,
    status                  text        NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    billing_mode            text        NOT NULL
                                        CHECK (billing_mode IN ('trial', 'pay_as_you_go', 'invoiced')),
    flex                    boolean     NOT NULL DEFAULT false,
    multi_account_invoicing boolean     NOT NULL DEFAULT false,
    reseller                boolean     NOT NULL DEFAULT false,
    nonprofit_org           boolean     NOT NULL DEFAULT false,
    version                 integer     NOT NULL CHECK (version >= 1),
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);

-- An owner's accounts are its "associated accounts" (upgrade eligibility, previous addresses).
CREATE INDEX accounts_by_owner ON accounts (owner);
