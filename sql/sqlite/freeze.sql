-- Freezing a SQLite database's writes for a cutover.
-- SQLite has no read-only switch that other connections must obey, so the freeze is a marker row
-- plus one BEFORE INSERT / UPDATE / DELETE trigger per user table that aborts the statement
-- (the trigger text is built per table by SQLiteDialect.freeze_ddl). The triggers are created in
-- one BEGIN IMMEDIATE transaction, which waits for the writer that holds the lock to commit: from
-- that commit on, every write fails at once; readers (the final drain) read on. The freeze lives in
-- the file, so it survives the process that made it: a crash never leaves blue silently writable.

-- name: marker
CREATE TABLE IF NOT EXISTS bluegreen_freeze (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    frozen_at TEXT NOT NULL
);

-- name: mark
INSERT OR REPLACE INTO bluegreen_freeze (id, frozen_at) VALUES (1, ?);

-- name: has_marker
SELECT count(*)
FROM sqlite_schema
WHERE type = 'table' AND name = 'bluegreen_freeze';

-- name: marked
SELECT frozen_at FROM bluegreen_freeze WHERE id = 1;

-- name: unmark
DELETE FROM bluegreen_freeze;

-- name: guards
SELECT name, tbl_name
FROM sqlite_schema
WHERE type = 'trigger' AND name LIKE 'bluegreen\_freeze\_%' ESCAPE '\';
