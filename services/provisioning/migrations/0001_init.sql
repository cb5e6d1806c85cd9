-- Provisioning: feature subscriptions (the walking skeleton; accounts and the rest follow).
CREATE TABLE subscriptions (
    subscription_id text        PRIMARY KEY,
    account_id      text        NOT NULL,
    part_number     text        NOT NULL,
    quantity        int         NOT NULL CHECK (quantity >= 1),
    customer_id     text,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX subscriptions_account ON subscriptions (account_id);
