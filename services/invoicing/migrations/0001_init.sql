-- Invoicing: accounts (as learnt from provisioning), gapless numbering per issuer, invoices,
-- billing runs, payments, surcharges and a copy of the usage records for exports.

CREATE TABLE accounts (
    account_id           text        PRIMARY KEY,
    parent_account_id    text,
    issuer               text        NOT NULL,       -- parent partner, or 'platform'
    time_zone            text        NOT NULL,
    mode                 text        NOT NULL,
    currency             text        NOT NULL,
    payment_terms_days   int         NOT NULL,
    opened_at            timestamptz NOT NULL,
    -- the last month the scheduler requested a run for (YYYY-MM); NULL: never
    last_requested_month text
);

-- one counter row per issuer, locked FOR UPDATE by the transaction that inserts the invoices:
-- a rollback undoes the increment too, so numbers have no gaps
CREATE TABLE number_sequences (
    issuer      text   PRIMARY KEY,
    last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0)
);

CREATE TABLE invoices (
    invoice_number text        PRIMARY KEY,
    issuer         text        NOT NULL,
    sequence       bigint      NOT NULL,
    account_id     text        NOT NULL,
    month          text        NOT NULL,           -- YYYY-MM of the run
    run_id         text        NOT NULL,
    currency       text        NOT NULL,
    issue_date     date        NOT NULL,
    due_date       date        NOT NULL,
    total          numeric     NOT NULL,
    lines          jsonb       NOT NULL,           -- the rated lines, exactly as on the wire
    paid_total     numeric     NOT NULL DEFAULT 0,
    surcharge_total numeric    NOT NULL DEFAULT 0,
    status         text        NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'paid', 'overdue')),
    paid_at        timestamptz,
    overdue_at     timestamptz,
    issued_at      timestamptz NOT NULL,
    source_event_id uuid       NOT NULL,
    UNIQUE (account_id, month),                    -- one invoice per account and month
    UNIQUE (issuer, sequence)
);
CREATE INDEX invoices_run ON invoices (run_id);
CREATE INDEX invoices_open_due ON invoices (due_date) WHERE status = 'issued';

-- charges that arrived before their account's AccountOpened: issued when the account arrives
CREATE TABLE pending_charges (
    event_id    uuid  PRIMARY KEY,
    account_id  text  NOT NULL,
    envelope    bytea NOT NULL
);
CREATE INDEX pending_charges_account ON pending_charges (account_id);

CREATE TABLE runs (
    run_id            text        PRIMARY KEY,
    month             text        NOT NULL,
    requested_at      timestamptz,
    requested_by      text,
    account_ids       text[],                      -- NULL: all accounts
    summary           jsonb,                       -- BillingRunRatedV1 payload, when it arrived
    summary_at        timestamptz,
    empty_accounts    int         NOT NULL DEFAULT 0   -- invoice charges without lines (no invoice)
);
CREATE INDEX runs_month ON runs (month);

CREATE TABLE payments (
    payment_id     text        PRIMARY KEY,
    invoice_number text        NOT NULL REFERENCES invoices,
    account_id     text        NOT NULL,
    amount         numeric     NOT NULL CHECK (amount > 0),
    currency       text        NOT NULL,
    method         text        NOT NULL CHECK (method IN ('bank_transfer', 'card')),
    paid_at        timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL
);
CREATE INDEX payments_account ON payments (account_id, paid_at);
CREATE INDEX payments_invoice ON payments (invoice_number);

CREATE TABLE surcharges (
    surcharge_id   text        PRIMARY KEY,
    payment_id     text        NOT NULL UNIQUE REFERENCES payments,
    invoice_number text        NOT NULL REFERENCES invoices,
    account_id     text        NOT NULL,
    currency       text        NOT NULL,
    base_amount    numeric     NOT NULL,
    rate           numeric     NOT NULL,
    amount         numeric     NOT NULL,
    charged_at     timestamptz NOT NULL
);
CREATE INDEX surcharges_account ON surcharges (account_id, charged_at);

CREATE TABLE usage_records (
    record_id   text        PRIMARY KEY,           -- unique across the platform
    account_id  text        NOT NULL,
    part_number text        NOT NULL,
    quantity    numeric     NOT NULL,
    used_at     timestamptz NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX usage_records_account ON usage_records (account_id, used_at);
