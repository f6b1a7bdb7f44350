-- Announcements are scheduled (published_at may be later than now) and expire; who wrote
-- them is kept. Students see one from its publication until its expiry.
ALTER TABLE announcements ADD COLUMN expires_at BIGINT;
ALTER TABLE announcements ADD COLUMN staff_id BIGINT REFERENCES staff (id);
ALTER TABLE announcements ADD COLUMN updated_at BIGINT;
