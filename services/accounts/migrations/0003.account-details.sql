-- What issue 7 adds to an account: contact details, its zone history, its billing mode's
-- terms (invoiced) or auto-recharge (pay as you go), billing preferences, and the balance
-- facts the suspension timer needs. Older rows keep NULLs / defaults.
ALTER TABLE accounts
    ADD COLUMN contact_email            text,
    ADD COLUMN webhook_url              text,
    -- Every zone the account has had or will have (ZoneSpan objects, oldest first); empty
    -- means `time_zone` has always applied.
    ADD COLUMN time_zones               jsonb       NOT NULL DEFAULT '[]',
    -- An invoiced account's agreed terms (InvoicingTerms as JSON, money as strings).
    ADD COLUMN terms                    jsonb,
    ADD COLUMN auto_recharge_enabled    boolean     NOT NULL DEFAULT false,
    ADD COLUMN auto_recharge_threshold  numeric(14, 2),
    ADD COLUMN auto_recharge_amount     numeric(14, 2),
    ADD COLUMN auto_recharge_card_token text,
    ADD COLUMN mailing_address          jsonb,
    ADD COLUMN po_number                text,
    ADD COLUMN invoice_recipients       text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN billing_address_id       text,
    -- Suspension for balance: when the balance last reached zero or below (NULL while it is
    -- positive), whether the account is suspended for that reason, and the instant of the
    -- newest balance fact applied (an older one delivered late changes nothing).
    ADD COLUMN balance_depleted_since   timestamptz,
    ADD COLUMN suspended_for_balance    boolean     NOT NULL DEFAULT false,
    ADD COLUMN balance_seen_at          timestamptz;

-- The suspension timer's scan: depleted accounts not yet suspended.
CREATE INDEX accounts_depleted ON accounts (balance_depleted_since)
    WHERE balance_depleted_since IS NOT NULL AND NOT suspended_for_balance;

-- The owner's address book: an address is stored once per owner (its id is derived from the
-- owner and its content), and `account_addresses` says which of the owner's accounts used it.
CREATE TABLE addresses (
    address_id  text        PRIMARY KEY,
    owner       text        NOT NULL,
    line1       text        NOT NULL,
    line2       text,
    city        text        NOT NULL,
    region      text,
    postal_code text        NOT NULL,
    country     text        NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX addresses_by_owner ON addresses (owner);

CREATE TABLE account_addresses (
    sid         text        NOT NULL REFERENCES accounts (sid),
    address_id  text        NOT NULL REFERENCES addresses (address_id),
    first_used  timestamptz NOT NULL,
    PRIMARY KEY (sid, address_id)
);

ALTER TABLE accounts ADD CONSTRAINT accounts_billing_address
    FOREIGN KEY (billing_address_id) REFERENCES addresses (address_id);
