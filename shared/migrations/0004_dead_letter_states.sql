-- Dead letters become an operator's work list: each row stays `dead` until it is redriven (sent
-- once more to the consumer that gave up on it, through the service's redrive topic) or
-- discarded, with when and by whom. A redriven message that fails again is a new row pointing
-- at the one it came from (redrive_of), so a row's delivery key includes that link.
ALTER TABLE dead_letters
    ADD COLUMN event_id   uuid,                  -- the envelope's, when the message decoded
    ADD COLUMN event_type text,
    ADD COLUMN redrive_of bigint,                -- no foreign key: a stray record may name any id
    ADD COLUMN state      text NOT NULL DEFAULT 'dead'
                          CHECK (state IN ('dead', 'redriven', 'discarded')),
    ADD COLUMN state_at   timestamptz,
    ADD COLUMN state_by   text,
    ADD COLUMN note       text,
    ADD CONSTRAINT dead_letters_state_recorded CHECK (state = 'dead' OR state_at IS NOT NULL);

-- a redelivery of the same record (offset commit lost) still records it once
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_consumer_topic_partition_offset_key;
CREATE UNIQUE INDEX dead_letters_delivery
    ON dead_letters (consumer, topic, partition, "offset", coalesce(redrive_of, 0));
CREATE INDEX dead_letters_by_state ON dead_letters (state, id);

-- extra Kafka headers for the rare outbox row that needs them (a redrive names its dead letter)
ALTER TABLE outbox ADD COLUMN headers json;
