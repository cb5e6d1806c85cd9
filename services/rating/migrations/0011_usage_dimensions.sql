-- Usage records' optional report dimensions (UsageRecordedV1, issue 13): null in older records.
-- `group` and `user` are SQL keywords: stored as user_group and user_id.
ALTER TABLE usage_records
    ADD COLUMN direction  text CHECK (direction IN ('inbound', 'outbound')),
    ADD COLUMN user_group text,
    ADD COLUMN user_id    text,
    ADD COLUMN number     text;

-- usage reports read one account's records over a period of days: a range scan per account
CREATE INDEX usage_by_account_time ON usage_records (account_id, used_at);
