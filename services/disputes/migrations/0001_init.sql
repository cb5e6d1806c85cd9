-- Disputes: accounts (their partner trees, as learnt from provisioning), invoices (as learnt from
-- invoicing), issuers' working calendars, and the disputes with their deadlines and resolutions.

CREATE TABLE accounts (
    account_id        text        PRIMARY KEY,
    parent_account_id text
);

CREATE TABLE invoices (
    invoice_number text        PRIMARY KEY,
    account_id     text        NOT NULL,
    issuer         text        NOT NULL,           -- parent partner, or 'platform'
    currency       text        NOT NULL,
    total          numeric     NOT NULL,
    line_count     int         NOT NULL,
    issue_date     date        NOT NULL,
    due_date       date        NOT NULL,
    issued_at      timestamptz NOT NULL           -- the InvoiceIssued event's instant
);
CREATE INDEX invoices_account ON invoices (account_id);

-- an issuer without a row here works Monday to Friday in UTC, without holidays
CREATE TABLE calendars (
    issuer     text        PRIMARY KEY,
    time_zone  text        NOT NULL,
    holidays   date[]      NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL
);

CREATE TABLE disputes (
    dispute_id     text        PRIMARY KEY,        -- client-chosen: a second open of it is refused
    invoice_number text        NOT NULL REFERENCES invoices,
    account_id     text        NOT NULL,
    issuer         text        NOT NULL,
    currency       text        NOT NULL,
    amount         numeric     NOT NULL CHECK (amount > 0),
    reason         text        NOT NULL DEFAULT '',
    lines          int[]       NOT NULL DEFAULT '{}',
    received_at    timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    outcome        text        CHECK (outcome IN ('upheld', 'rejected')),
    credited       numeric     CHECK (credited >= 0 AND credited <= amount),
    resolved_at    timestamptz,
    late           boolean     NOT NULL DEFAULT false,
    overdue_at     timestamptz,                    -- when the overdue task announced it (once)
    CHECK ((outcome IS NULL) = (resolved_at IS NULL) AND (outcome IS NULL) = (credited IS NULL))
);
CREATE INDEX disputes_invoice ON disputes (invoice_number);
CREATE INDEX disputes_account ON disputes (account_id, received_at);
-- the overdue task's candidates: open, not announced yet, by deadline
CREATE INDEX disputes_open_due ON disputes (due_at) WHERE outcome IS NULL AND overdue_at IS NULL;
