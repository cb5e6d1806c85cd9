-- Usage records and user counts that name an account (or, for usage, a product of the account's
-- currency) rating does not know: held here, never among the facts a run reads, until the
-- account's opening or the catalogue arrives (the race between provisioning.events and the
-- other topics), or rejected on platform.rejections when they have waited too long.
CREATE TABLE pending_facts (
    event_id    uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('usage', 'user_count')),
    account_id  text        NOT NULL,
    part_number text,
    envelope    bytea       NOT NULL,  -- the message as it arrived, applied or rejected later
    held_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_facts_account ON pending_facts (account_id);
CREATE INDEX pending_facts_held_at ON pending_facts (held_at);
