-- Invoice PDFs, rendered on first request and kept: an issued invoice's money never changes,
-- so its PDF is rendered once per status it is shown in (the PDF prints the status).
CREATE TABLE invoice_pdfs (
    invoice_id  text        NOT NULL,
    status      text        NOT NULL,
    account_sid text        NOT NULL,
    pdf         bytea       NOT NULL,
    rendered_at timestamptz NOT NULL,
    PRIMARY KEY (invoice_id, status)
);
