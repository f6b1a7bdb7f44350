INSERT INTO installation (id) VALUES (md5(random()::text || clock_timestamp()::text));
