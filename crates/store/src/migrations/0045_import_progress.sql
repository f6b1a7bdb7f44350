-- An upload is kept at once and checked in the background, so a big file shows its progress
-- and the page can be left: `checked_at` is set when its preview is ready, `failure` when the
-- file could not be read (the reason, in Chinese, as the office sees it).
ALTER TABLE imports ADD COLUMN checked_at BIGINT;
ALTER TABLE imports ADD COLUMN failure TEXT;
-- How many rows a commit writes, kept with the preview so that showing an import does not
-- read its payload (NULL for imports checked before this column).
ALTER TABLE imports ADD COLUMN valid_rows BIGINT;
UPDATE imports SET checked_at = created_at;
