-- What each apply did to each instance: a JSON array of
-- {"address", "action", "instance_id", "outcome"}.
ALTER TABLE history ADD COLUMN changes TEXT NOT NULL DEFAULT '[]';
