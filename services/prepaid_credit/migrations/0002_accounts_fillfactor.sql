-- A midnight's usage debits update every prepaid account's row: free room on its page lets
-- PostgreSQL update the row in place (a HOT update: no new primary-key entry, less to vacuum).
ALTER TABLE accounts SET (fillfactor = 70);
