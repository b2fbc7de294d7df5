-- Month close: invoices with their lines, the periods they closed, payments, and the account
-- state an invoice is written from (kind, terms, billing preferences, zone history).

-- The newest state of each account as invoicing closes months with it: the whole
-- `accounts.state.v1` document, so the close reads mode, terms, preferences and zones at once.
CREATE TABLE account_profiles (
    account_sid text        PRIMARY KEY,
    version     integer     NOT NULL,
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- One invoice per account and month, whatever the number of workers closing it: the id is
-- derived from (account, month), and (account, month) and (account, period) are unique too.
-- Money columns never change once issued (trigger below); status and payments do.
CREATE TABLE invoices (
    invoice_id      text          PRIMARY KEY,
    account_sid     text          NOT NULL,
    month           text          NOT NULL,
    period          text          NOT NULL,
    time_zone       text          NOT NULL,
    period_start    timestamptz   NOT NULL,
    period_end      timestamptz   NOT NULL,
    billing_mode    text          NOT NULL,
    status          text          NOT NULL DEFAULT 'issued'
        CHECK (status IN ('issued', 'paid', 'overdue', 'void')),
    issued_at       timestamptz   NOT NULL,
    currency        text          NOT NULL DEFAULT 'USD',
    subtotal        NUMERIC(20,2) NOT NULL,
    total           NUMERIC(20,2) NOT NULL,
    prepaid_applied NUMERIC(20,2) NOT NULL,
    amount_due      NUMERIC(20,2) NOT NULL CHECK (amount_due >= 0),
    no_balance_due  boolean       NOT NULL,
    due_date        date,
    po_number       text,
    billing_address jsonb,
    recipients      text[]        NOT NULL DEFAULT '{}',
    paid_amount     NUMERIC(20,2) NOT NULL DEFAULT 0,
    paid_at         timestamptz,
    overdue_at      timestamptz,
    UNIQUE (account_sid, month),
    UNIQUE (account_sid, period)
);

CREATE INDEX invoices_by_month ON invoices (month, account_sid);
CREATE INDEX invoices_awaiting_payment ON invoices (due_date)
    WHERE status = 'issued' AND NOT no_balance_due AND amount_due > 0;

CREATE TABLE invoice_lines (
    invoice_id  text          NOT NULL REFERENCES invoices (invoice_id),
    line_no     integer       NOT NULL,
    kind        text          NOT NULL CHECK (kind IN ('usage', 'discount', 'adjustment')),
    category    text,
    description text          NOT NULL,
    quantity    NUMERIC(30,6),
    unit        text,
    unit_price  NUMERIC(30,12),
    amount      NUMERIC(20,2) NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);

-- An issued invoice is immutable: its lines never change, nor its money, period or kind;
-- only its status, payments and overdue mark move. Corrections go on the next invoice.
CREATE FUNCTION invoice_lines_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'issued invoices are immutable: invoice lines cannot be changed';
END $$;

CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_immutable();

CREATE FUNCTION invoices_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'issued invoices are immutable: an invoice cannot be deleted';
    END IF;
    IF (NEW.account_sid, NEW.month, NEW.period, NEW.time_zone, NEW.billing_mode, NEW.issued_at,
        NEW.subtotal, NEW.total, NEW.prepaid_applied, NEW.amount_due, NEW.no_balance_due,
        NEW.due_date, NEW.po_number, NEW.billing_address, NEW.recipients)
       IS DISTINCT FROM
       (OLD.account_sid, OLD.month, OLD.period, OLD.time_zone, OLD.billing_mode, OLD.issued_at,
        OLD.subtotal, OLD.total, OLD.prepaid_applied, OLD.amount_due, OLD.no_balance_due,
        OLD.due_date, OLD.po_number, OLD.billing_address, OLD.recipients) THEN
        RAISE EXCEPTION 'issued invoices are immutable: only status and payments may change';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_immutable();

-- Periods invoicing has closed: usage rated for them later is late (an adjustment).
CREATE TABLE closed_periods (
    account_sid text        NOT NULL,
    period      text        NOT NULL,
    closed_at   timestamptz NOT NULL,
    invoice_id  text,
    PRIMARY KEY (account_sid, period)
);

-- Payments received against invoices; the reference is the idempotency key.
CREATE TABLE invoice_payments (
    reference   text          PRIMARY KEY,
    invoice_id  text          NOT NULL REFERENCES invoices (invoice_id),
    amount      NUMERIC(20,2) NOT NULL CHECK (amount > 0),
    received_at timestamptz   NOT NULL
);

CREATE INDEX invoice_payments_by_invoice ON invoice_payments (invoice_id);

-- A late charge is adjusted on exactly one later invoice: the one that sets adjusted_in.
ALTER TABLE charges ADD COLUMN adjusted_in text;

CREATE INDEX charges_late_unadjusted ON charges (account_sid)
    WHERE late AND adjusted_in IS NULL;

-- The accounts with usage in a month, in SID order: the close walks them in chunks.
CREATE INDEX period_quantities_by_month ON period_quantities (left(period, 7), account_sid);
