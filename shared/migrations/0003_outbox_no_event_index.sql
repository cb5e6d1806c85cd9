-- Event ids are fresh UUIDs, and consumers deduplicate by them in their inboxes anyway: the
-- unique index on a random key cost each outbox insert a random index page (and its WAL).
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_key;
