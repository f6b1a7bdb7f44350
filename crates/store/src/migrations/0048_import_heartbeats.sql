-- A check running on one instance is seen by all: the instance doing it writes its figures
-- and the time every few seconds. A check whose heartbeat stopped (its server stopped) is
-- given up by any instance; one that still beats is left alone, whichever instance restarts.
ALTER TABLE imports ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE imports ADD COLUMN rows_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN rows_total BIGINT NOT NULL DEFAULT 0;
UPDATE imports SET heartbeat_at = created_at;
