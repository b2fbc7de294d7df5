-- Charge leases: invoicing takes one, under the account row's lock, before it charges the
-- account's card for an auto-recharge. A switch to invoiced (which takes the same lock) waits
-- until no lease is live, so no card charge can happen while the account is invoiced.
CREATE TABLE charge_leases (
    lease_id    text        PRIMARY KEY,
    account_sid text        NOT NULL REFERENCES accounts (sid),
    version     integer     NOT NULL,
    expires_at  timestamptz NOT NULL,
    released_at timestamptz
);

CREATE INDEX charge_leases_live ON charge_leases (account_sid, expires_at)
    WHERE released_at IS NULL;
