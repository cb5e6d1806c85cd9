-- A run is planned once into chunks of account ids, (after_id, through_id] in id order, which
-- workers (tasks of one process, or replicas) claim with SKIP LOCKED and rate in parallel, each
-- in one transaction that also marks the chunk done. A crash leaves the chunk pending: the next
-- claim rates it. (0007 drops the one-worker design's runs.cursor.)
ALTER TABLE runs ADD COLUMN planned boolean NOT NULL DEFAULT false;

CREATE TABLE run_chunks (
    run_id     text NOT NULL REFERENCES runs,
    seq        int  NOT NULL,
    after_id   text,                 -- exclusive lower bound; NULL: from the first account
    through_id text,                 -- inclusive upper bound; NULL: to the last account
    accounts   int,                  -- rated by the chunk, once done
    done_at    timestamptz,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX run_chunks_pending ON run_chunks (run_id, seq) WHERE done_at IS NULL;
