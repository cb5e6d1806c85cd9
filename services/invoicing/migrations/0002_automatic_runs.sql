-- Accounts opened with automatic_runs = false (previews, replays, demos) are never scheduled:
-- only an operator's request bills them.
ALTER TABLE accounts ADD COLUMN automatic_runs boolean NOT NULL DEFAULT true;
