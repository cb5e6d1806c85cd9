-- Rating: accounts, catalogue, the facts a run needs, what was billed, and runs.

CREATE TABLE accounts (
    account_id         text        PRIMARY KEY,
    parent_account_id  text,
    time_zone          text        NOT NULL,
    mode               text        NOT NULL CHECK (mode IN ('subscription', 'prepaid')),
    currency           text        NOT NULL,
    payment_terms_days int         NOT NULL,
    opened_at          timestamptz NOT NULL
);

-- the catalogue as provisioning published it: one row per product and currency
CREATE TABLE products (
    currency    text  NOT NULL,
    part_number text  NOT NULL,
    product     jsonb NOT NULL,
    PRIMARY KEY (currency, part_number)
);

ALTER TABLE subscriptions
    ADD COLUMN kind                     text NOT NULL DEFAULT 'feature'
        CHECK (kind IN ('feature', 'brand', 'region', 'pack')),
    ADD COLUMN full_brand_id            text,          -- packs onboarded with a Full Brand
    ADD COLUMN termination_requested_at timestamptz,
    ADD COLUMN termination_effective    date;          -- local date the termination takes effect

CREATE TABLE user_counts (
    account_id text        NOT NULL,
    at         timestamptz NOT NULL,
    count      int         NOT NULL CHECK (count >= 0),
    event_id   uuid        NOT NULL,
    PRIMARY KEY (account_id, at, event_id)
);

-- usage records, each rated once: rated_month is set by the run that billed it
CREATE TABLE usage_records (
    record_id   text        PRIMARY KEY,
    account_id  text        NOT NULL,
    part_number text        NOT NULL,
    quantity    numeric     NOT NULL CHECK (quantity > 0),
    used_at     timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    rated_month text
);
CREATE INDEX usage_unrated ON usage_records (account_id) WHERE rated_month IS NULL;

-- the ledger: first day not yet billed per subscription, units billed per product and month
CREATE TABLE billed_through (
    subscription_id text PRIMARY KEY,
    through         date NOT NULL
);
CREATE TABLE usage_units (
    account_id  text    NOT NULL,
    part_number text    NOT NULL,
    usage_month date    NOT NULL,
    units       numeric NOT NULL,
    PRIMARY KEY (account_id, part_number, usage_month)
);

-- runs: a request, then chunks of accounts rated in their own transactions, then the summary
CREATE TABLE runs (
    run_id       text        PRIMARY KEY,
    month        text        NOT NULL,
    requested_at timestamptz NOT NULL,
    account_ids  text[],                             -- NULL: every account
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rated')),
    request_event_id uuid    NOT NULL,
    rated_at     timestamptz
);
CREATE INDEX runs_pending ON runs (requested_at) WHERE status = 'pending';

-- each account is rated once per month, by exactly one run (the business key behind the inbox)
CREATE TABLE account_runs (
    account_id text    NOT NULL,
    month      text    NOT NULL,
    run_id     text    NOT NULL REFERENCES runs,
    settlement text    NOT NULL,
    currency   text    NOT NULL,
    lines      int     NOT NULL,
    total      numeric NOT NULL,
    PRIMARY KEY (account_id, month)
);
CREATE INDEX account_runs_run ON account_runs (run_id);
