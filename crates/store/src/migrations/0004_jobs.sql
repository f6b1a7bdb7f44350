-- Typed jobs: a job is its kind and a JSON payload (campuspay_app::jobs::Job), run by the
-- runner of its queue. The payload replaces `ref_id`, which had to pack a reconciliation
-- date as yyyymmdd.
ALTER TABLE jobs ADD COLUMN payload TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'provider' CHECK (queue IN ('provider', 'local'));
-- 1 while the last run ended in an error (it will be retried); tests fail on such jobs.
ALTER TABLE jobs ADD COLUMN failed BIGINT NOT NULL DEFAULT 0 CHECK (failed IN (0, 1));

-- Jobs queued before this migration, in the payloads the mapping decodes.
UPDATE jobs SET payload = '{"attempt_id":' || CAST(ref_id AS TEXT) || '}' WHERE kind IN ('query_attempt', 'close_attempt');
UPDATE jobs SET payload = '{"order_id":' || CAST(ref_id AS TEXT) || '}', queue = 'local' WHERE kind = 'expire_order';
UPDATE jobs SET payload = '{"refund_id":' || CAST(ref_id AS TEXT) || '}' WHERE kind = 'refund';
UPDATE jobs SET payload = '{"date":"' || SUBSTR(CAST(ref_id AS TEXT), 1, 4) || '-' || SUBSTR(CAST(ref_id AS TEXT), 5, 2)
    || '-' || SUBSTR(CAST(ref_id AS TEXT), 7, 2) || '"}' WHERE kind = 'reconcile';
-- A job is pending at most once (below); older duplicates did the same work, so the first stays.
UPDATE jobs SET done_at = created_at WHERE done_at IS NULL
    AND id NOT IN (SELECT MIN(id) FROM jobs WHERE done_at IS NULL GROUP BY kind, payload);
ALTER TABLE jobs DROP COLUMN ref_id;

-- The payload is the job's key: the same job is not queued twice while one is pending.
CREATE UNIQUE INDEX jobs_pending_once ON jobs (kind, payload) WHERE done_at IS NULL;
CREATE INDEX jobs_queue_due ON jobs (queue, run_at) WHERE done_at IS NULL;
