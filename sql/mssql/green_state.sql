-- Green's state tables on SQL Server: the watermark, and one history row per applied window.
-- Same columns as sql/sqlite/green_state.sql. Every statement is idempotent (guarded by
-- SCHEMA_ID / OBJECT_ID), so installing twice, or into a green that has them, changes nothing.
-- Times are ISO 8601 text, as GreenState writes them (and as pyodbc reads them back without
-- the datetimeoffset converter it lacks).

-- name: schema
-- CREATE SCHEMA must be alone in its batch, hence the dynamic statement behind the guard.
IF SCHEMA_ID(N'bluegreen') IS NULL
    EXEC (N'CREATE SCHEMA [bluegreen]');

-- name: watermark
IF OBJECT_ID(N'[bluegreen].[watermark]', N'U') IS NULL
    CREATE TABLE [bluegreen].[watermark] (
        stream nvarchar(100) NOT NULL PRIMARY KEY,
        version bigint NOT NULL,
        position nvarchar(max) NOT NULL,
        mapping_fingerprint nvarchar(128) NULL,
        schema_fingerprint nvarchar(128) NULL,
        synced_tables nvarchar(max) NULL,
        updated_at nvarchar(40) NOT NULL
    );

-- name: history
IF OBJECT_ID(N'[bluegreen].[history]', N'U') IS NULL
    CREATE TABLE [bluegreen].[history] (
        window_id bigint NOT NULL PRIMARY KEY,
        stream nvarchar(100) NOT NULL,
        from_version bigint NOT NULL,
        to_version bigint NOT NULL,
        from_position nvarchar(max) NOT NULL,
        to_position nvarchar(max) NOT NULL,
        started_at nvarchar(40) NOT NULL,
        finished_at nvarchar(40) NOT NULL,
        read_seconds float NOT NULL,
        apply_seconds float NOT NULL,
        total_seconds float NOT NULL,
        inserts bigint NOT NULL,
        updates bigint NOT NULL,
        deletes bigint NOT NULL,
        deferred_deletes bigint NOT NULL,
        mapping_fingerprint nvarchar(128) NULL
    );

-- name: history_tables
-- table_name is "schema.table": two sysname (nvarchar(128)) parts and a dot fit in 300.
IF OBJECT_ID(N'[bluegreen].[history_tables]', N'U') IS NULL
    CREATE TABLE [bluegreen].[history_tables] (
        window_id bigint NOT NULL,
        table_name nvarchar(300) NOT NULL,
        inserts bigint NOT NULL,
        updates bigint NOT NULL,
        deletes bigint NOT NULL,
        deferred_deletes bigint NOT NULL,
        PRIMARY KEY (window_id, table_name)
    );
