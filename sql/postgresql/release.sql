-- bluegreen's release key/value table on PostgreSQL: the database's role (production / standby),
-- the last cutover receipt, the schema snapshot taken when syncing paused for a schema change.
-- Every statement is idempotent; run as a whole by Dialect.install_release_state.

-- name: schema
CREATE SCHEMA IF NOT EXISTS bluegreen;

-- name: release
CREATE TABLE IF NOT EXISTS bluegreen.release (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at text NOT NULL
);
