-- Prepaid accounts' daily usage debits: the next local midnight whose debit rating publishes
-- (one event per account and midnight, empty or not: prepaid_credit's usage watermark).
CREATE TABLE prepaid_midnights (
    account_id    text        PRIMARY KEY,
    next_midnight timestamptz NOT NULL
);
CREATE INDEX prepaid_midnights_due ON prepaid_midnights (next_midnight);

-- prepaid accounts known before this table: their first midnight after opening
INSERT INTO prepaid_midnights (account_id, next_midnight)
SELECT account_id, (date_trunc('day', opened_at AT TIME ZONE time_zone) + interval '1 day') AT TIME ZONE time_zone
FROM accounts WHERE mode = 'prepaid'
ON CONFLICT DO NOTHING;
