INSERT INTO installation (id) VALUES (lower(hex(randomblob(16))));
