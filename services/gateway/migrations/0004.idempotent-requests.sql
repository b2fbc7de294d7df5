-- The first response to each creating or money-moving POST sent with an Idempotency-Key, by
-- caller (`scope`: the account SID, or `ops`) and key, so that a repeat with the same body gets
-- that response again and one with another body a 409. A row without `status` is a request
-- still under way (a concurrent repeat is a 409); a request that ended in a 5xx leaves no row,
-- so its retry runs again. The body is encrypted (it may hold a secret shown once, such as an
-- API key's), and rows go once the retry window has passed.
CREATE TABLE idempotent_requests (
    scope           text        NOT NULL,
    idempotency_key text        NOT NULL,
    fingerprint     bytea       NOT NULL,
    claimed_at      timestamptz NOT NULL,
    status          integer,
    media_type      text,
    sealed_body     bytea,
    PRIMARY KEY (scope, idempotency_key)
);

CREATE INDEX idempotent_requests_by_age ON idempotent_requests (claimed_at);
