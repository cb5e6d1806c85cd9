-- prepaid_credit: accounts (as learnt from provisioning) with their credit state, vouchers,
-- lots, the append-only ledger and the lot draws of each debit.

CREATE TABLE accounts (
    account_id            text        PRIMARY KEY,
    parent_account_id     text,
    time_zone             text        NOT NULL,
    mode                  text        NOT NULL,
    currency              text        NOT NULL,
    low_balance_threshold numeric     NOT NULL DEFAULT 0,
    opened_at             timestamptz NOT NULL,
    -- the credit state besides the lots (the domain's CreditState): kept with the account row,
    -- which every use case locks first, so one account's steps never interleave
    balance               numeric     NOT NULL DEFAULT 0 CHECK (balance >= 0),  -- the sum of its lots
    shortfall             numeric     NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    next_seq              bigint      NOT NULL DEFAULT 1,
    exhausted_armed       boolean     NOT NULL DEFAULT true,
    first_redeemed_at     timestamptz,
    -- the last local midnight whose usage debit rating sent (NULL: none yet): expiries and run
    -- debits at an instant wait until the usage of the midnight before it is in
    usage_through         timestamptz
);
CREATE INDEX accounts_parent ON accounts (parent_account_id);

CREATE TABLE vouchers (
    code          text        PRIMARY KEY,
    batch_id      text        NOT NULL,
    issuer        text,                              -- the partner that issued it; NULL: the operator
    credits       numeric     NOT NULL CHECK (credits > 0),
    lifetime_days int         NOT NULL CHECK (lifetime_days >= 1),
    issued_at     timestamptz NOT NULL,
    redeemed_by   text,
    redeemed_at   timestamptz
);
CREATE INDEX vouchers_batch ON vouchers (batch_id);
CREATE INDEX vouchers_issuer ON vouchers (issuer, issued_at);

-- a lot is named by its voucher's code: a code redeems once, ever
CREATE TABLE lots (
    lot         text        PRIMARY KEY,
    account_id  text        NOT NULL,
    credits     numeric     NOT NULL,
    remaining   numeric     NOT NULL CHECK (remaining >= 0),
    redeemed_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    seq         bigint      NOT NULL              -- its `redeemed` entry: equal expiries draw the older first
);
-- the lots that still hold credits: each account's state, and the expiry task's candidates
CREATE INDEX lots_holding ON lots (account_id) WHERE remaining > 0;
CREATE INDEX lots_expiry ON lots (expires_at) WHERE remaining > 0;

-- append-only: rows are inserted, never updated or deleted
CREATE TABLE entries (
    account_id text        NOT NULL,
    sequence   bigint      NOT NULL,
    at         timestamptz NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('redeemed', 'usage', 'recurring', 'expired',
                                                    'shortfall_settled')),
    change     numeric     NOT NULL,                 -- signed: what the balance moved by
    balance    numeric     NOT NULL CHECK (balance >= 0),
    shortfall  numeric     NOT NULL DEFAULT 0,       -- a debit's part that could not be drawn
    -- what it was for: a voucher code (redeemed, shortfall_settled), a lot (expired), a line
    -- (usage: usage:<midnight>:<part>:<month>; recurring: recurring:<subscription or part>:<from>:<to>)
    ref        text        NOT NULL,
    detail     jsonb,
    PRIMARY KEY (account_id, sequence)
);
-- a usage or recurring line is debited once, however often its charges are delivered
CREATE UNIQUE INDEX entries_debited_once ON entries (account_id, ref) WHERE kind IN ('usage', 'recurring');

-- which lots each debit drew from: any balance explained lot by lot
CREATE TABLE draws (
    account_id text    NOT NULL,
    sequence   bigint  NOT NULL,
    lot        text    NOT NULL,
    amount     numeric NOT NULL CHECK (amount > 0),
    PRIMARY KEY (account_id, sequence, lot)
);

-- a run's prepaid charges that came before the account's usage debit of the midnight before
-- the run: applied once that usage is in (section 8's order of steps)
CREATE TABLE waiting_charges (
    event_id    uuid        PRIMARY KEY,
    account_id  text        NOT NULL,
    ready_after timestamptz NOT NULL,                -- the usage midnight they wait for
    at          timestamptz NOT NULL,                -- the run's instant: their entries' instant
    envelope    bytea       NOT NULL
);
CREATE INDEX waiting_charges_account ON waiting_charges (account_id, ready_after);

-- mode switches (section 8): the mode from `effective_at` on (accounts.mode before the first);
-- a redemption at t is refused `not_prepaid` when the mode in force at t is not prepaid
CREATE TABLE mode_changes (
    account_id   text        NOT NULL,
    effective_at timestamptz NOT NULL,
    mode         text        NOT NULL,
    PRIMARY KEY (account_id, effective_at)
);
