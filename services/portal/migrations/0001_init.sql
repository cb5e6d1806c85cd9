-- Portal users (each acts through one partner API key, kept encrypted) and their sessions.
CREATE TABLE users (
    user_id         text        PRIMARY KEY,
    -- stored lower-cased: one account per address whatever its case
    email           text        NOT NULL UNIQUE CHECK (email = lower(email)),
    account_id      text        NOT NULL,
    -- partner: a partner's user (sees its tree); administrator: a customer account's (sees that account)
    kind            text        NOT NULL CHECK (kind IN ('partner', 'administrator')),
    password_hash   text        NOT NULL,
    api_key_id      text        NOT NULL,
    -- the API key's token, Fernet-encrypted with the portal's secret key (never stored in clear)
    api_token       bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    disabled_at     timestamptz
);

-- A signed-in browser: only the SHA-256 of the session token is kept, so a copy of this table
-- signs nobody in; signing out deletes the row.
CREATE TABLE sessions (
    token_hash      text        PRIMARY KEY,
    user_id         text        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
