-- Change-tracking emulation on PostgreSQL (blue side), after the PgQ "batch between two ticks"
-- idea: statement-level triggers append changed keys, stamped with the writing transaction's id,
-- to a per-table log. A window is "visible in this sync's snapshot but not in the previous
-- one", so a transaction that took its change early and committed late is never skipped.
-- The trigger functions are SECURITY DEFINER so the application's role needs no grants here.

-- name: schema
CREATE SCHEMA IF NOT EXISTS bluegreen;

-- name: registry
CREATE TABLE IF NOT EXISTS bluegreen.ct_tables (
    table_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    pk_columns text [] NOT NULL,
    enabled_xid xid8 NOT NULL,
    invalidated_xid xid8 NOT NULL,
    pruned_below xid8 NOT NULL DEFAULT '0',
    UNIQUE (schema_name, table_name)
);

-- name: truncate_function
CREATE OR REPLACE FUNCTION bluegreen.ct_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- TRUNCATE is not row-logged: every watermark taken before it must re-seed the table.
    UPDATE bluegreen.ct_tables
    SET invalidated_xid = pg_current_xact_id()
    WHERE table_id = TG_ARGV[0]::integer;
    RETURN NULL;
END
$$;

-- name: register
INSERT INTO bluegreen.ct_tables (
    schema_name, table_name, pk_columns, enabled_xid, invalidated_xid
)
VALUES (%s, %s, %s, pg_current_xact_id(), pg_current_xact_id())
RETURNING table_id;

-- name: unregister
DELETE FROM bluegreen.ct_tables WHERE table_id = %s;

-- name: tracked
SELECT table_id, schema_name, table_name
FROM bluegreen.ct_tables
ORDER BY schema_name, table_name;

-- name: has_tracking
SELECT to_regclass('bluegreen.ct_tables') IS NOT NULL;

-- name: current
SELECT
    pg_current_snapshot()::text,
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint;

-- name: validity
SELECT
    table_id,
    pg_visible_in_snapshot(invalidated_xid, %(snap)s::pg_snapshot)
    AND pruned_below <= pg_snapshot_xmin(%(snap)s::pg_snapshot) AS valid,
    invalidated_xid::text,
    pruned_below::text
FROM bluegreen.ct_tables;

-- name: validity_from_origin
SELECT
    table_id,
    invalidated_xid = enabled_xid AND pruned_below = '0'::xid8 AS valid,
    invalidated_xid::text,
    pruned_below::text
FROM bluegreen.ct_tables;

-- name: raise_pruned_below
UPDATE bluegreen.ct_tables
SET pruned_below = greatest(pruned_below, pg_snapshot_xmin(%(snap)s::pg_snapshot));
