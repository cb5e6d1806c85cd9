-- Each account's parent, from provisioning.account.opened: a partner's API key reaches its own
-- account and those below it (shared/auth.py), decided on this schema's own copy.
ALTER TABLE accounts ADD COLUMN parent_account_id text;
CREATE INDEX accounts_parent ON accounts (parent_account_id);
