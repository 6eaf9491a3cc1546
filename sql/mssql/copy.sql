-- Copying, checking and dropping whole databases for the release flows (copy_database,
-- database_exists, drop_database). Every statement here runs on the server's master database,
-- with autocommit on: BACKUP, RESTORE, CREATE DATABASE and DROP DATABASE may not run inside a
-- transaction. Names and paths are bound parameters (BACKUP and RESTORE accept variables for
-- both); the statements that need a database name where T-SQL takes no variable (CREATE /
-- ALTER / DROP DATABASE) are built in MSSQLDialect with the name quoted by quote().

-- name: server
-- EngineEdition 5 is Azure SQL Database (copied with CREATE DATABASE ... AS COPY OF), 8 is
-- Azure SQL Managed Instance (no BACKUP TO DISK), anything else is SQL Server (BACKUP /
-- RESTORE). The default paths are NULL on Azure; InstanceDefaultBackupPath exists from
-- SQL Server 2019 on (NULL before: the data path is used instead).
SELECT
    CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition,
    CAST(@@SERVERNAME AS nvarchar(256)) AS server_name,
    CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(4000)) AS data_path,
    CAST(SERVERPROPERTY('InstanceDefaultLogPath') AS nvarchar(4000)) AS log_path,
    CAST(SERVERPROPERTY('InstanceDefaultBackupPath') AS nvarchar(4000)) AS backup_path;

-- name: database_state
-- No row: the database does not exist. ONLINE, RESTORING, RECOVERING, RECOVERY_PENDING,
-- SUSPECT, EMERGENCY, OFFLINE, COPYING (an Azure SQL copy in progress).
SELECT d.state_desc
FROM sys.databases AS d
WHERE d.name = ?;

-- name: backup
-- A copy-only full backup leaves the source's backup chain (its differential base) alone.
-- The file is bluegreen's own (one per source and target pair, overwritten by the next copy):
-- FORMAT writes a new media header, so a leftover file made with other media options
-- (compression, block size) never blocks the copy.
BACKUP DATABASE ? TO DISK = ? WITH COPY_ONLY, FORMAT, INIT;

-- name: file_list
-- One row per file in the backup: LogicalName, PhysicalName, Type (D data, L log, S
-- FILESTREAM, F full-text catalog), FileGroupName, Size, MaxSize, FileId, ...
RESTORE FILELISTONLY FROM DISK = ?;

-- name: copy_progress
-- An Azure SQL copy (CREATE DATABASE ... AS COPY OF) runs on after the statement returns: the
-- copy is COPYING until it turns ONLINE, and its sys.dm_database_copies row (in master; gone
-- once the copy is ONLINE) carries the progress and any error.
SELECT
    d.state_desc,
    c.percent_complete,
    c.error_code,
    c.error_desc
FROM sys.databases AS d
LEFT JOIN sys.dm_database_copies AS c ON c.database_id = d.database_id
WHERE d.name = ?;
