-- when rating stored each usage record (the row's insert, just before its transaction commits):
-- ingestion latency is stored_at - received_at. Added without a default and then given one, so
-- existing rows stay NULL and the table is not rewritten.
ALTER TABLE usage_records ADD COLUMN stored_at timestamptz;
ALTER TABLE usage_records ALTER COLUMN stored_at SET DEFAULT clock_timestamp();
