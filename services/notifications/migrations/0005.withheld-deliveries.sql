-- A delivery of a prepaid-only kind is withheld, not sent, when the accounts service says the
-- account is invoiced right before sending (a switch committed after the decision); its
-- decision becomes 'suppressed' with the reason.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'delivered', 'failed', 'withheld'));
