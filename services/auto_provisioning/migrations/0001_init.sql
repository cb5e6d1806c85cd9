-- Auto-provisioning: customers' analytics flags, users by event time with their licence, account
-- time zones (for metering points) and the counts reported at each metering point.

CREATE TABLE accounts (
    account_id text PRIMARY KEY,
    time_zone  text NOT NULL DEFAULT 'UTC'
);

CREATE TABLE customers (
    customer_id     text        PRIMARY KEY,
    account_id      text        NOT NULL,
    analytics       boolean     NOT NULL DEFAULT false,
    analytics_at    timestamptz,            -- the analytics event last applied (last writer wins)
    analytics_since timestamptz
);

CREATE TABLE users (
    customer_id   text        NOT NULL,
    user_id       text        NOT NULL,
    account_id    text        NOT NULL,
    present       boolean     NOT NULL,
    voice         boolean     NOT NULL,
    last_at       timestamptz NOT NULL,     -- the event time of the state held: older events lose
    present_since timestamptz,
    licence       text,                     -- the Insights User subscription held, if any
    licence_at    timestamptz,
    seq           int         NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, user_id)
);
CREATE INDEX users_account_voice ON users (account_id) WHERE present AND voice;

-- one report per account and metering point, whoever triggers it (scheduler or request)
CREATE TABLE user_counts (
    account_id  text        NOT NULL,
    at          timestamptz NOT NULL,
    count       int         NOT NULL,
    reported_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, at)
);
