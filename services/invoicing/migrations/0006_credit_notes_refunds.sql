-- Money after the invoice (BILLING_RULES sections 7 and 9): open disputed amounts, credit notes,
-- refunds of overpayment, and the card surcharge's settings per issuer.

-- running sums kept with the invoice (moved in the transaction that adds the row they sum), so
-- the amounts of section 7 are read from one row: credited = its credit notes, refunded = its
-- refunds (paid = paid_total - refunded_total), disputed_open = the amounts of its open disputes
ALTER TABLE invoices
    ADD COLUMN credited_total numeric NOT NULL DEFAULT 0,
    ADD COLUMN refunded_total numeric NOT NULL DEFAULT 0,
    ADD COLUMN disputed_open  numeric NOT NULL DEFAULT 0;

-- the disputes invoicing learnt of from disputes.events: opened holds `amount` back from the
-- invoice's overdue amount, resolved releases it (the dispute id is the natural key: a
-- redelivered or replayed event changes nothing)
CREATE TABLE dispute_holds (
    dispute_id     text        PRIMARY KEY,
    invoice_number text        NOT NULL REFERENCES invoices,
    amount         numeric     NOT NULL CHECK (amount > 0),
    received_at    timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    outcome        text        CHECK (outcome IN ('upheld', 'rejected')),
    credited       numeric,
    resolved_at    timestamptz
);
CREATE INDEX dispute_holds_invoice ON dispute_holds (invoice_number);

-- credit notes have their own gapless numbers per issuer (<ISSUER>-CN-000001), locked like
-- invoice numbers: the counter row is held until the credit note commits
CREATE TABLE credit_note_sequences (
    issuer      text   PRIMARY KEY,
    last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0)
);

CREATE TABLE credit_notes (
    credit_note_number text        PRIMARY KEY,
    issuer             text        NOT NULL,
    sequence           bigint      NOT NULL,
    dispute_id         text        NOT NULL UNIQUE,    -- one credit note per dispute, however often resolved
    invoice_number     text        NOT NULL REFERENCES invoices,
    account_id         text        NOT NULL,
    currency           text        NOT NULL,
    amount             numeric     NOT NULL CHECK (amount > 0),
    issued_at          timestamptz NOT NULL,           -- the resolution instant
    source_event_id    uuid        NOT NULL,
    UNIQUE (issuer, sequence)
);
CREATE INDEX credit_notes_account ON credit_notes (account_id, issued_at);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_number);

-- a refund of what an invoice was paid beyond what it owes after a credit note; due within 24
-- hours of the resolution; paid out when an operator records it; overdue_at once it was late
CREATE TABLE refunds (
    refund_id      text        PRIMARY KEY,            -- RF-<dispute id>
    dispute_id     text        NOT NULL UNIQUE,        -- at most one refund per resolution
    invoice_number text        NOT NULL REFERENCES invoices,
    account_id     text        NOT NULL,
    currency       text        NOT NULL,
    amount         numeric     NOT NULL CHECK (amount > 0),
    issued_at      timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    paid_out_at    timestamptz,
    payout_reference text,
    overdue_at     timestamptz
);
CREATE INDEX refunds_account ON refunds (account_id, issued_at);
CREATE INDEX refunds_invoice ON refunds (invoice_number);
CREATE INDEX refunds_unpaid_due ON refunds (due_at) WHERE paid_out_at IS NULL AND overdue_at IS NULL;

-- the card surcharge of one issuer; an issuer without a row has the policy's defaults
CREATE TABLE surcharge_settings (
    issuer     text        PRIMARY KEY,
    threshold  numeric     NOT NULL CHECK (threshold >= 0),
    rate       numeric     NOT NULL CHECK (rate >= 0 AND rate < 1),
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL
);
