-- accounts a periodic task (invoicing's scheduler and overdue marker, auto_provisioning's
-- metering, ...) skipped because their own data made it fail: one row per task and account, the
-- last error and how often; cleared once the task succeeds for it (shared/task_failures.py)
CREATE TABLE IF NOT EXISTS task_failures (
    task        text        NOT NULL,
    account_id  text        NOT NULL,
    reason      text        NOT NULL,
    error       text        NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    failures    int         NOT NULL DEFAULT 1,
    PRIMARY KEY (task, account_id)
);
