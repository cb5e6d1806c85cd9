-- Rating: subscription timelines as learnt from provisioning events.
CREATE TABLE subscriptions (
    subscription_id text        PRIMARY KEY,
    account_id      text        NOT NULL,
    part_number     text        NOT NULL,
    quantity        int         NOT NULL,
    customer_id     text,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    source_event_id uuid        NOT NULL
);
CREATE INDEX subscriptions_account ON subscriptions (account_id);
