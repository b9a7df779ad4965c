-- nestplan state, schema version 1. Applied when PRAGMA user_version is 0.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per managed instance; the attributes as JSON (see src/util/json.c).
CREATE TABLE resources (
    address     TEXT PRIMARY KEY,
    instance_id TEXT,
    generation  INTEGER NOT NULL DEFAULT 0,
    data        TEXT NOT NULL
);
CREATE INDEX resources_instance_id ON resources (instance_id);
-- DescribeInstanceTypes answers, cached with the time they were fetched.
CREATE TABLE catalog (
    name       TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);
-- Every mutating call of apply, written before and after the call.
CREATE TABLE journal (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT,
    address      TEXT NOT NULL,
    step         TEXT NOT NULL,
    instance_id  TEXT,
    client_token TEXT,
    status       TEXT NOT NULL,          -- started | done | failed | resumed
    detail       TEXT,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX journal_open ON journal (status);
CREATE TABLE history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT,
    command    TEXT NOT NULL,
    user       TEXT,
    host       TEXT,
    at         INTEGER NOT NULL,
    added      INTEGER NOT NULL DEFAULT 0,
    changed    INTEGER NOT NULL DEFAULT 0,
    destroyed  INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    outcome    TEXT NOT NULL,
    serial     INTEGER
);
CREATE TABLE lock (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    id      TEXT NOT NULL,
    user    TEXT,
    host    TEXT,
    pid     INTEGER,
    command TEXT,
    since   INTEGER NOT NULL
);
