-- record ids accepted by POST /v1/usage (and published to usage.records): an id is accepted once
CREATE TABLE http_usage (
    record_id   text        PRIMARY KEY,
    account_id  text        NOT NULL,
    key_id      text        NOT NULL,  -- the API key that submitted it
    accepted_at timestamptz NOT NULL
);
