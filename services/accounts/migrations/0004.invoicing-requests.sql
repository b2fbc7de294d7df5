-- Invoicing requests: one row per request, its whole current state. The steps taken
-- (`history`) and the information asked of the customer are JSON arrays written with the
-- row, under its lock.
CREATE TABLE invoicing_requests (
    request_id             text           PRIMARY KEY CHECK (request_id ~ '^IR[0-9a-f]{32}$'),
    account_sid            text           NOT NULL REFERENCES accounts (sid),
    contact_email          text           NOT NULL,
    committed_annual_spend numeric(14, 2) NOT NULL CHECK (committed_annual_spend >= 12000.00),
    state                  text           NOT NULL
        CHECK (state IN ('pricing', 'credit_check', 'approved', 'declined', 'activated')),
    -- The agreed pricing (after the Pricing step): unit prices by category as decimal strings.
    rates                  jsonb,
    discount_percent       numeric(5, 2),
    net_terms_days         integer,
    -- The decision: approved with a credit limit, or declined with a reason.
    approved               boolean,
    credit_limit           numeric(14, 2),
    decline_reason         text,
    decided_by             text,
    decided_at             timestamptz,
    history                jsonb          NOT NULL,
    information_requests   jsonb          NOT NULL DEFAULT '[]',
    -- A create retried with the same Idempotency-Key finds this request, if the body matches.
    idempotency_key        text           UNIQUE,
    created_with           bytea          NOT NULL,
    created_at             timestamptz    NOT NULL,
    updated_at             timestamptz    NOT NULL
);

CREATE INDEX invoicing_requests_by_account ON invoicing_requests (account_sid);
CREATE INDEX invoicing_requests_by_state ON invoicing_requests (state, created_at);
-- One open request per account at a time: a second one would be the same conversation twice.
CREATE UNIQUE INDEX invoicing_requests_one_open_per_account ON invoicing_requests (account_sid)
    WHERE state IN ('pricing', 'credit_check', 'approved');

-- Credit-check data, sealed with the first of TALLY_ACCOUNTS_CREDIT_CHECK_KEYS (Fernet): this
-- table never holds it in clear.
CREATE TABLE credit_checks (
    request_id  text        PRIMARY KEY REFERENCES invoicing_requests (request_id),
    sealed      bytea       NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Every read of credit-check data: who (the ops key's fingerprint and the name given), when,
-- which request. Written in the transaction that reads the data, so no read goes unrecorded.
CREATE TABLE credit_check_reads (
    read_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id  text        NOT NULL REFERENCES invoicing_requests (request_id),
    caller      text        NOT NULL,
    read_by     text,
    read_at     timestamptz NOT NULL
);
CREATE INDEX credit_check_reads_by_request ON credit_check_reads (request_id, read_at);
