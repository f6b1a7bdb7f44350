-- One random id per database, made with it: what tells this database from another made later
-- at the same place (the provider simulator keeps one journal of trades per database).
CREATE TABLE installation (
    id TEXT NOT NULL PRIMARY KEY
);
