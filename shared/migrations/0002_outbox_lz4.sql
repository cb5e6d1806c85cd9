-- Outbox payloads are written once and read once, soon after: lz4 compresses them at a fraction
-- of the default pglz's CPU. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not available: outbox payloads stay pglz-compressed';
END $$;
