-- Kit tables every service schema has: the inbox (processed event ids) and the outbox
-- (events written with the state change, relayed to Kafka afterwards).

CREATE TABLE inbox (
    consumer     text        NOT NULL,          -- the subscriber (service + topic) that processed it
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,        -- relay order: per key, commit order of the writer
    topic       text        NOT NULL,
    key         text        NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    payload     bytea       NOT NULL,           -- the encoded envelope, exactly as published
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- a relay waits on this channel instead of polling hard
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- messages the service gave up on (also sent to its dead-letter topic), for operators
CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    consumer    text        NOT NULL,
    topic       text        NOT NULL,
    partition   int         NOT NULL,
    "offset"    bigint      NOT NULL,
    key         text,
    payload     bytea,
    error       text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, topic, partition, "offset")
);
