-- Rating: the rate card, the charges it produced and the prepaid balances they draw down.

-- The price of one unit of each usage category. Money is NUMERIC, never a float.
CREATE TABLE rate_card (
    category   text          PRIMARY KEY,
    unit       text          NOT NULL,
    unit_price NUMERIC(20,6) NOT NULL CHECK (unit_price >= 0),
    currency   text          NOT NULL DEFAULT 'USD'
);

-- The default rate card (USD), a flat price per unit. Negotiated and tiered rates come later.
--   calls-inbound   0.0085 per minute
--   calls-outbound  0.0140 per minute
--   sms-inbound     0.0079 per message
--   sms-outbound    0.0079 per message
--   phone-numbers   0.0333 per number-day (one per number per day it is held)
INSERT INTO rate_card (category, unit, unit_price) VALUES
    ('calls-inbound',  'minutes',     0.0085),
    ('calls-outbound', 'minutes',     0.0140),
    ('sms-inbound',    'messages',    0.0079),
    ('sms-outbound',   'messages',    0.0079),
    ('phone-numbers',  'number-days', 0.0333);

-- One row per rated usage event. charge_id is derived from the usage event, so rating the same
-- usage again finds its row. Amounts keep full precision (micro-dollars): summing rounded
-- cents per charge would drift, so only invoices round, once, to the cent.
CREATE TABLE charges (
    charge_id         text          PRIMARY KEY,
    account_sid       text          NOT NULL,
    usage_event_id    text          NOT NULL,
    category          text          NOT NULL REFERENCES rate_card (category),
    quantity          NUMERIC(20,6) NOT NULL,
    unit_price        NUMERIC(20,6) NOT NULL,
    amount            NUMERIC(20,6) NOT NULL,
    currency          text          NOT NULL,
    usage_occurred_at timestamptz   NOT NULL,
    charged_at        timestamptz   NOT NULL
);

CREATE INDEX charges_by_account ON charges (account_sid, charged_at, charge_id);

-- The prepaid balance of each account: a new account starts at 0 and charges draw it down.
CREATE TABLE balances (
    account_sid text          PRIMARY KEY,
    balance     NUMERIC(20,6) NOT NULL,
    currency    text          NOT NULL DEFAULT 'USD',
    updated_at  timestamptz   NOT NULL
);
