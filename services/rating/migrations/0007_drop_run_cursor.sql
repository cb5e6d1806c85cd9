-- Runs are rated in planned chunks (0005): the one-worker cursor is not read or written any more.
ALTER TABLE runs DROP COLUMN cursor;
