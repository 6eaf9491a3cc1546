-- Green's state tables on PostgreSQL, in schema bluegreen: the watermark, and one history row per
-- applied window. Created by the first sync into green; every statement is idempotent.

-- name: schema
CREATE SCHEMA IF NOT EXISTS bluegreen;

-- name: watermark
CREATE TABLE IF NOT EXISTS bluegreen.watermark (
    stream text PRIMARY KEY,
    version bigint NOT NULL,
    position text NOT NULL,
    mapping_fingerprint text,
    schema_fingerprint text,
    synced_tables text,
    updated_at text NOT NULL
);

-- name: history
CREATE TABLE IF NOT EXISTS bluegreen.history (
    window_id bigint PRIMARY KEY,
    stream text NOT NULL,
    from_version bigint NOT NULL,
    to_version bigint NOT NULL,
    from_position text NOT NULL,
    to_position text NOT NULL,
    started_at text NOT NULL,
    finished_at text NOT NULL,
    read_seconds double precision NOT NULL,
    apply_seconds double precision NOT NULL,
    total_seconds double precision NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    deferred_deletes bigint NOT NULL,
    mapping_fingerprint text
);

-- name: history_tables
CREATE TABLE IF NOT EXISTS bluegreen.history_tables (
    window_id bigint NOT NULL,
    table_name text NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    deferred_deletes bigint NOT NULL,
    PRIMARY KEY (window_id, table_name)
);
