-- Statements the office uploads by hand where a provider's API is unavailable: the file as
-- it came (base64, so one TEXT column serves both backends), its hash, who brought it, and the
-- reconciliation run read from it. Kept as evidence; never updated.
CREATE TABLE statement_imports (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    provider TEXT NOT NULL,
    day TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content TEXT NOT NULL,
    reconciliation_id BIGINT NOT NULL REFERENCES reconciliations (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX statement_imports_by_day ON statement_imports (school_id, day, provider);

-- 1: the run read a file the office uploaded (statement_imports), not the provider's API.
ALTER TABLE reconciliations ADD COLUMN imported BIGINT NOT NULL DEFAULT 0;
