-- A job that failed for a reason retrying does not cure (`ErrorKind::Misconfigured`: the
-- school's receipt issuer is not set up, the SMS provider refuses the template) stops: it is
-- done with `failed = 1`, and names the exception that shows it to the office. The office's
-- `retry` of that exception queues its stopped jobs again once the cause is fixed.
ALTER TABLE jobs ADD COLUMN exception_id BIGINT REFERENCES money_exceptions (id);
CREATE INDEX jobs_stopped ON jobs (exception_id) WHERE exception_id IS NOT NULL;
