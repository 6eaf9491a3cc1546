-- Freezing blue's writes for the cutover (allowed on Azure SQL Database too). ROLLBACK
-- IMMEDIATE ends other sessions' open transactions so the switch takes about a second;
-- change tracking functions stay readable on a READ_ONLY database, so the final drain works.
-- CURRENT is the database this connection uses (never a name pasted into SQL). Neither
-- statement may run inside a transaction: MSSQLDialect runs them with autocommit on.

-- name: freeze
ALTER DATABASE CURRENT SET READ_ONLY WITH ROLLBACK IMMEDIATE;

-- name: unfreeze
ALTER DATABASE CURRENT SET READ_WRITE WITH ROLLBACK IMMEDIATE;

-- name: is_read_only
SELECT CAST(DATABASEPROPERTYEX(DB_NAME(), 'Updateability') AS nvarchar(20));
