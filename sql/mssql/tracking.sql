-- Native Change Tracking on SQL Server (blue side): the reference semantics bluegreen
-- reproduces on the other engines.
-- The ALTER DATABASE statements cannot run inside a transaction: MSSQLDialect runs them with
-- autocommit on. Statements naming one table (ALTER TABLE ... ENABLE CHANGE_TRACKING,
-- CHANGETABLE) are built in Python with the table's quoted name.

-- name: enable_database
-- CHANGE_RETENTION must exceed the longest time green may fall behind; a watermark older
-- than the retention makes every table's min valid version overtake it (a re-seed).
IF NOT EXISTS (
    SELECT 1 FROM sys.change_tracking_databases WHERE database_id = DB_ID()
)
    ALTER DATABASE CURRENT
    SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON);

-- name: allow_snapshot
-- The sync reads every table in ONE snapshot transaction (SET TRANSACTION ISOLATION LEVEL
-- SNAPSHOT): state 1 is ON, 3 is turning on.
IF (
    SELECT snapshot_isolation_state FROM sys.databases WHERE database_id = DB_ID()
) NOT IN (1, 3)
    ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON;

-- name: database_enabled
SELECT COUNT(*) FROM sys.change_tracking_databases WHERE database_id = DB_ID();

-- name: tracked
SELECT s.name AS schema_name, t.name AS table_name
FROM sys.change_tracking_tables AS ctt
INNER JOIN sys.tables AS t ON t.object_id = ctt.object_id
INNER JOIN sys.schemas AS s ON s.schema_id = t.schema_id
ORDER BY s.name, t.name;

-- name: current_version
-- NULL when change tracking is off for the database.
SELECT CHANGE_TRACKING_CURRENT_VERSION();

-- name: table_versions
-- For one table (its quoted two-part name, bound twice): the oldest version its change
-- information still covers, and the version at which tracking began for it. Both NULL when
-- the table is not tracked (or does not exist).
SELECT
    CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(?)) AS min_valid_version,
    (
        SELECT ctt.begin_version
        FROM sys.change_tracking_tables AS ctt
        WHERE ctt.object_id = OBJECT_ID(?)
    ) AS begin_version;
