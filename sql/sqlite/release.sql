-- bluegreen's release key/value table on SQLite: the database's role (production / standby),
-- the last cutover receipt, the schema snapshot taken when syncing paused for a schema change.
-- Every statement is idempotent; run as a whole by Dialect.install_release_state.

-- name: release
CREATE TABLE IF NOT EXISTS bluegreen_release (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
