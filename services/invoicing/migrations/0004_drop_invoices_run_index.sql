-- A run's status is read from run_invoices now; nothing looks invoices up by run any more, and
-- the index cost every issued invoice one more index insertion.
DROP INDEX invoices_run;
