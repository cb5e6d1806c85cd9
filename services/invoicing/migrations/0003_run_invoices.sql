-- Invoice lines are stored as written (json, not jsonb): they are only ever read back whole, and
-- jsonb's parse on every insert was the largest single cost of issuing an invoice. lz4 where
-- the server has it.
ALTER TABLE invoices ALTER COLUMN lines TYPE json USING lines::json;
DO $$
BEGIN
    ALTER TABLE invoices ALTER COLUMN lines SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not available: invoice lines stay pglz-compressed';
END $$;

-- What each run has issued so far, per currency, kept with the invoices in the same transaction:
-- a run's status is read from here instead of aggregating its (possibly 100,000) invoices.
CREATE TABLE run_invoices (
    run_id   text    NOT NULL,
    currency text    NOT NULL,
    invoices int     NOT NULL,
    total    numeric NOT NULL,
    PRIMARY KEY (run_id, currency)
);
INSERT INTO run_invoices (run_id, currency, invoices, total)
SELECT run_id, currency, count(*), sum(total) FROM invoices GROUP BY run_id, currency;
