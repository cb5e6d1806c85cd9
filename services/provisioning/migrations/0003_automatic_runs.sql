-- Accounts whose billing runs are requested only by an operator (previews, replays, demos):
-- the invoicing scheduler leaves them alone.
ALTER TABLE accounts ADD COLUMN automatic_runs boolean NOT NULL DEFAULT true;
