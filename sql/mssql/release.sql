-- bluegreen's release key/value table on SQL Server: the database's role (production / standby),
-- the last cutover receipt, the schema snapshot taken when syncing paused for a schema change.
-- Same columns as sql/sqlite/release.sql. Every statement is idempotent; run as a whole by
-- Dialect.install_release_state.

-- name: schema
-- CREATE SCHEMA must be alone in its batch, hence the dynamic statement behind the guard.
IF SCHEMA_ID(N'bluegreen') IS NULL
    EXEC (N'CREATE SCHEMA [bluegreen]');

-- name: release
-- name is a key (nvarchar(400): within the 900-byte index key limit); value holds JSON.
IF OBJECT_ID(N'[bluegreen].[release]', N'U') IS NULL
    CREATE TABLE [bluegreen].[release] (
        name nvarchar(400) NOT NULL PRIMARY KEY,
        value nvarchar(max) NOT NULL,
        updated_at nvarchar(40) NOT NULL
    );
