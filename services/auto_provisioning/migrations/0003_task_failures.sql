-- accounts the metering task skipped because their data made it fail (a time zone zoneinfo does
-- not know): one row per task and account, the last error and how often; cleared once it succeeds
CREATE TABLE task_failures (
    task        text        NOT NULL,
    account_id  text        NOT NULL,
    reason      text        NOT NULL,
    error       text        NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    failures    int         NOT NULL DEFAULT 1,
    PRIMARY KEY (task, account_id)
);
