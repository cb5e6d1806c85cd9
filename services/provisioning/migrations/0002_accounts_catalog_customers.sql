-- Provisioning: billing accounts, the catalogue, customers, and brands/regions/packs as
-- subscriptions with a role and their billing state.

CREATE TABLE accounts (
    account_id         text        PRIMARY KEY,
    name               text        NOT NULL DEFAULT '',
    parent_account_id  text        REFERENCES accounts (account_id),
    time_zone          text        NOT NULL,
    mode               text        NOT NULL CHECK (mode IN ('subscription', 'prepaid')),
    currency           text        NOT NULL,
    payment_terms_days int         NOT NULL CHECK (payment_terms_days >= 0),
    opened_at          timestamptz NOT NULL
);
CREATE INDEX accounts_parent ON accounts (parent_account_id);

-- the product knowledge provisioning validates against; `body` is the product as published
CREATE TABLE products (
    part_number         text  PRIMARY KEY,
    kind                text  NOT NULL CHECK (kind IN ('recurring', 'pack', 'usage')),
    termination         text  NOT NULL CHECK (termination IN ('immediate', 'end_of_month')),
    minimum_term_months int   NOT NULL DEFAULT 0,
    body                jsonb NOT NULL,
    currency            text  NOT NULL,
    updated_at          timestamptz NOT NULL
);

CREATE TABLE customers (
    customer_id    text        PRIMARY KEY,
    account_id     text        NOT NULL REFERENCES accounts (account_id),
    brand_id       text,
    region_ids     text[]      NOT NULL DEFAULT '{}',
    provisioned_at timestamptz NOT NULL,
    removed_at     timestamptz
);
CREATE INDEX customers_account ON customers (account_id);
CREATE INDEX customers_brand ON customers (brand_id) WHERE removed_at IS NULL;
CREATE INDEX customers_regions ON customers USING gin (region_ids);

-- started_at is when the subscription was created; billing_start when billing starts (a brand's
-- first commercial readiness, a region's activation); NULL while it has not
ALTER TABLE subscriptions
    ADD COLUMN role                     text    NOT NULL DEFAULT 'feature'
        CHECK (role IN ('feature', 'brand', 'region', 'pack')),
    ADD COLUMN billing_start            timestamptz,
    ADD COLUMN termination_requested_at timestamptz,
    ADD COLUMN termination_effective    date,
    ADD COLUMN clouds                   text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN brand_ids                text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN full_brand_id            text;
UPDATE subscriptions SET billing_start = started_at WHERE role = 'feature';
CREATE INDEX subscriptions_account_role ON subscriptions (account_id, role);
