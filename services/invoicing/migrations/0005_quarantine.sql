-- Containment: what invoicing set aside instead of dead-lettering it or retrying it forever.

-- a rated charge whose invoice could not be issued (a due date past the calendar, any failure of
-- that one account): kept whole with its reason, the run reconciles counting it, and an
-- operator re-invoices it once fixed (resolved_invoice: the invoice that finally came of it).
-- Charges that waited for an unknown account too long land here as well (reason
-- pending_charge_expired).
CREATE TABLE quarantined_charges (
    run_id           text        NOT NULL,
    account_id       text        NOT NULL,
    month            text        NOT NULL,
    currency         text        NOT NULL,
    total            numeric     NOT NULL,
    reason           text        NOT NULL,
    error            text        NOT NULL,
    envelope         bytea       NOT NULL,       -- the AccountChargesRatedV1 envelope, as received
    at               timestamptz NOT NULL,
    resolved_invoice text,
    resolved_at      timestamptz,
    PRIMARY KEY (run_id, account_id)
);
CREATE INDEX quarantined_charges_open ON quarantined_charges (account_id, month) WHERE resolved_at IS NULL;

-- when a charge started waiting for its account: it expires after BILLING_PENDING_CHARGES_TTL_HOURS
ALTER TABLE pending_charges ADD COLUMN parked_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX pending_charges_parked ON pending_charges (parked_at);
