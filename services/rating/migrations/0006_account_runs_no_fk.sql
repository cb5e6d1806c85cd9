-- account_runs rows are written only by their run's own chunks and runs are never deleted: the
-- foreign key's per-row check was a tenth of a chunk's database time for nothing.
ALTER TABLE account_runs DROP CONSTRAINT account_runs_run_id_fkey;
