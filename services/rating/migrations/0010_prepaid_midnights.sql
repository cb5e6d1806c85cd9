-- Prepaid accounts' daily usage debits: the next local midnight whose debit rating publishes
-- (one event per account and midnight, empty or not: prepaid_credit's usage watermark), up to
-- `ends_at` (a switch to subscription mode: its instant's midnight is the last prepaid one).
CREATE TABLE prepaid_midnights (
    account_id    text        PRIMARY KEY,
    next_midnight timestamptz NOT NULL,
    ends_at       timestamptz
);
CREATE INDEX prepaid_midnights_due ON prepaid_midnights (next_midnight);

-- prepaid accounts known before this table: their first midnight after opening
INSERT INTO prepaid_midnights (account_id, next_midnight)
SELECT account_id, (date_trunc('day', opened_at AT TIME ZONE time_zone) + interval '1 day') AT TIME ZONE time_zone
FROM accounts WHERE mode = 'prepaid'
ON CONFLICT DO NOTHING;

-- mode switches (section 8): the mode from `effective_at` (a metering point) on; a run settles
-- in the mode in force at its metering point (accounts.mode before the first switch)
CREATE TABLE mode_changes (
    account_id   text        NOT NULL,
    effective_at timestamptz NOT NULL,
    mode         text        NOT NULL CHECK (mode IN ('subscription', 'prepaid')),
    PRIMARY KEY (account_id, effective_at)
);
