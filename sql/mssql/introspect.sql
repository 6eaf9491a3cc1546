-- Introspection on SQL Server: one query per kind of object for the whole database (a schema
-- with thousands of tables costs four round trips, not thousands). bluegreen's own schema is
-- left out. Type text is assembled in Python (MSSQLDialect.type_text) from the raw catalog
-- fields, so alias types resolve to their base type (a temp-table stage cannot use an alias
-- type defined in the user database).

-- name: tables
SELECT t.object_id, s.name AS schema_name, t.name AS table_name
FROM sys.tables AS t
INNER JOIN sys.schemas AS s ON s.schema_id = t.schema_id
WHERE t.is_ms_shipped = 0
    AND s.name <> N'bluegreen'
ORDER BY s.name, t.name;

-- name: columns
-- type_name: the built-in type (an alias type's base type); is_rowversion and
-- generated_always_type (temporal period columns) mark values the engine assigns itself.
SELECT
    c.object_id,
    c.column_id,
    c.name AS column_name,
    CASE WHEN ut.is_user_defined = 1 AND ut.is_assembly_type = 0
        THEN bt.name ELSE ut.name END AS type_name,
    c.max_length,
    c.[precision],
    c.scale,
    c.is_nullable,
    c.is_identity,
    c.is_computed,
    CASE WHEN bt.name = N'timestamp' THEN 1 ELSE 0 END AS is_rowversion,
    c.generated_always_type,
    c.collation_name
FROM sys.columns AS c
INNER JOIN sys.tables AS t ON t.object_id = c.object_id
INNER JOIN sys.schemas AS s ON s.schema_id = t.schema_id
INNER JOIN sys.types AS ut ON ut.user_type_id = c.user_type_id
LEFT JOIN sys.types AS bt ON bt.user_type_id = c.system_type_id
WHERE t.is_ms_shipped = 0
    AND s.name <> N'bluegreen'
ORDER BY c.object_id, c.column_id;

-- name: primary_keys
SELECT ic.object_id, c.name AS column_name, ic.key_ordinal
FROM sys.indexes AS i
INNER JOIN sys.index_columns AS ic
    ON ic.object_id = i.object_id AND ic.index_id = i.index_id
INNER JOIN sys.columns AS c
    ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.is_primary_key = 1
    AND ic.key_ordinal > 0
ORDER BY ic.object_id, ic.key_ordinal;

-- name: unique_keys
-- UNIQUE constraints and unique indexes other than the primary key, without filtered ones
-- (a filter makes the columns unique only among the rows it keeps).
SELECT ic.object_id, i.name AS index_name, c.name AS column_name, ic.key_ordinal
FROM sys.indexes AS i
INNER JOIN sys.index_columns AS ic
    ON ic.object_id = i.object_id AND ic.index_id = i.index_id
INNER JOIN sys.columns AS c
    ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.is_unique = 1
    AND i.is_primary_key = 0
    AND i.has_filter = 0
    AND i.is_disabled = 0
    AND ic.key_ordinal > 0
ORDER BY ic.object_id, i.name, ic.key_ordinal;

-- name: foreign_keys
SELECT
    fk.parent_object_id,
    fk.name AS fk_name,
    fkc.constraint_column_id,
    pc.name AS column_name,
    rs.name AS ref_schema,
    rt.name AS ref_table,
    rc.name AS ref_column
FROM sys.foreign_keys AS fk
INNER JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
INNER JOIN sys.columns AS pc
    ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
INNER JOIN sys.tables AS rt ON rt.object_id = fkc.referenced_object_id
INNER JOIN sys.schemas AS rs ON rs.schema_id = rt.schema_id
INNER JOIN sys.columns AS rc
    ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
ORDER BY fk.parent_object_id, fk.name, fkc.constraint_column_id;

-- name: version
SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128));

-- name: database_name
SELECT DB_NAME();

-- name: database_collation
-- String columns with another collation keep it in their type text (see type_text).
SELECT CAST(DATABASEPROPERTYEX(DB_NAME(), 'Collation') AS nvarchar(128));
