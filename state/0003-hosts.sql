-- Dedicated Hosts (issue 18): one row per managed host, its attributes as
-- JSON (np_host_to_json). An address is a host's or an instance's, never both
-- (np_state_put and np_state_host_put refuse the other kind's).
CREATE TABLE hosts (
    address TEXT PRIMARY KEY,
    host_id TEXT,
    data    TEXT NOT NULL
);
CREATE INDEX hosts_host_id ON hosts (host_id);
