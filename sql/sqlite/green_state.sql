-- Green's state tables on SQLite: the watermark, and one history row per applied window.
-- Created by the first sync into green; every statement is idempotent.

-- name: watermark
CREATE TABLE IF NOT EXISTS bluegreen_watermark (
    stream TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position TEXT NOT NULL,
    mapping_fingerprint TEXT,
    schema_fingerprint TEXT,
    synced_tables TEXT,
    updated_at TEXT NOT NULL
);

-- name: history
CREATE TABLE IF NOT EXISTS bluegreen_history (
    window_id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    from_version INTEGER NOT NULL,
    to_version INTEGER NOT NULL,
    from_position TEXT NOT NULL,
    to_position TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    read_seconds REAL NOT NULL,
    apply_seconds REAL NOT NULL,
    total_seconds REAL NOT NULL,
    inserts INTEGER NOT NULL,
    updates INTEGER NOT NULL,
    deletes INTEGER NOT NULL,
    deferred_deletes INTEGER NOT NULL,
    mapping_fingerprint TEXT
);

-- name: history_tables
CREATE TABLE IF NOT EXISTS bluegreen_history_tables (
    window_id INTEGER NOT NULL,
    table_name TEXT NOT NULL,
    inserts INTEGER NOT NULL,
    updates INTEGER NOT NULL,
    deletes INTEGER NOT NULL,
    deferred_deletes INTEGER NOT NULL,
    PRIMARY KEY (window_id, table_name)
);
