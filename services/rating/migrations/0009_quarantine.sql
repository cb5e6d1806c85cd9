-- An account whose rating fails is set aside with its reason and the run goes on without it
-- (it is not written to account_runs, so the month stays unrated for it: a later run, such as
-- an operator's re-rate, rates it once). resolved_run: the run that rated it after all.
CREATE TABLE quarantined_accounts (
    run_id        text        NOT NULL,
    account_id    text        NOT NULL,
    month         text        NOT NULL,
    reason        text        NOT NULL,      -- the exception's class: a short, stable code
    error         text        NOT NULL,      -- its message, for the operator
    at            timestamptz NOT NULL,
    resolved_run  text,
    resolved_at   timestamptz,
    PRIMARY KEY (run_id, account_id)
);
CREATE INDEX quarantined_unresolved ON quarantined_accounts (month, account_id) WHERE resolved_at IS NULL;

-- a run that cannot be rated at all (a month outside the calendar) fails with its reason
-- instead of staying the oldest pending run forever and blocking every later one
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check CHECK (status IN ('pending', 'rated', 'failed'));
ALTER TABLE runs ADD COLUMN error text;
