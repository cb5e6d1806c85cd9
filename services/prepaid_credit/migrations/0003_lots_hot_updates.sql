-- A midnight's usage debits update each drawn lot's `remaining`. The partial indexes on
-- `remaining > 0` made every such update a non-HOT one (a new entry in each of the lots' three
-- indexes): they now filter on `holding`, a stored copy of that test that changes only when a lot
-- is used up or expires, so a draw that leaves credits is a HOT update (with free room on the
-- page: fillfactor 70).
ALTER TABLE lots ADD COLUMN holding boolean GENERATED ALWAYS AS (remaining > 0) STORED;
DROP INDEX lots_holding;
DROP INDEX lots_expiry;
CREATE INDEX lots_holding ON lots (account_id) WHERE holding;
CREATE INDEX lots_expiry ON lots (expires_at) WHERE holding;
ALTER TABLE lots SET (fillfactor = 70);
