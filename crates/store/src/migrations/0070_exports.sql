-- Long exports the office asks for and the job runner renders (`Job::Export`): what was
-- asked (kind and parameters), by whom, how far it got, and the workbook once ready (base64,
-- so one TEXT column serves both backends, with its SHA-256). A ready file is kept until
-- `expires_at` (24 h); then `Job::ExpireExport` empties `content` and the row stays as the
-- record that it was made. Not money: these rows are updated as the work goes on.
CREATE TABLE exports (
    id {id},
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    -- stages done of `stages` (read the books, write the workbook, store it)
    stage BIGINT NOT NULL DEFAULT 0,
    stages BIGINT NOT NULL DEFAULT 3,
    -- rows in the workbook, once read
    rows_total BIGINT NOT NULL DEFAULT 0,
    file_name TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    size_bytes BIGINT NOT NULL DEFAULT 0,
    content TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    expires_at BIGINT
);
CREATE INDEX exports_by_school ON exports (school_id, id);
