-- Change-tracking emulation on SQLite (blue side).
-- One writer at a time means the order in which triggers bump the clock is the commit order,
-- so a window is simply (last version, current version] of the clock read in the sync's
-- read transaction (WAL mode gives that transaction a snapshot).

-- name: clock
CREATE TABLE IF NOT EXISTS bluegreen_ct_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);

-- name: clock_row
INSERT OR IGNORE INTO bluegreen_ct_clock (id, version) VALUES (1, 0);

-- name: registry
CREATE TABLE IF NOT EXISTS bluegreen_ct_tables (
    table_id INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL UNIQUE,
    pk_columns TEXT NOT NULL,
    enabled_version INTEGER NOT NULL,
    min_valid_version INTEGER NOT NULL
);

-- name: current_version
SELECT version FROM bluegreen_ct_clock WHERE id = 1;

-- name: tracked
SELECT table_id, table_name, pk_columns, enabled_version, min_valid_version
FROM bluegreen_ct_tables
ORDER BY table_name;

-- name: tick
-- Enabling a table moves the clock, so every watermark taken before it is older than the
-- table's min valid version: rows written before tracking began force a re-seed, not a gap.
UPDATE bluegreen_ct_clock SET version = version + 1 WHERE id = 1;

-- name: register
INSERT INTO bluegreen_ct_tables (table_name, pk_columns, enabled_version, min_valid_version)
SELECT ?, ?, version, version FROM bluegreen_ct_clock WHERE id = 1;

-- name: unregister
DELETE FROM bluegreen_ct_tables WHERE table_id = ?;

-- name: raise_min_valid
UPDATE bluegreen_ct_tables SET min_valid_version = max(min_valid_version, ?);
