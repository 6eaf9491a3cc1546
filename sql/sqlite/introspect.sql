-- Introspection on SQLite (table-valued pragmas take the table name as a bound parameter).

-- name: tables
SELECT name
FROM sqlite_schema
WHERE type = 'table'
    AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
    AND name NOT LIKE 'bluegreen\_%' ESCAPE '\'
ORDER BY name;

-- name: columns
SELECT name, type, "notnull", pk, hidden
FROM pragma_table_xinfo(?)
ORDER BY cid;

-- name: foreign_keys
SELECT id, seq, "table", "from", "to"
FROM pragma_foreign_key_list(?)
ORDER BY id, seq;

-- name: unique_indexes
-- UNIQUE constraints and unique indexes (origin 'u' or 'c'; the primary key's is 'pk'),
-- partial ones left out.
SELECT name
FROM pragma_index_list(?)
WHERE "unique" = 1 AND origin <> 'pk' AND partial = 0
ORDER BY name;

-- name: index_columns
-- An expression column has no name (NULL): such an index is left out.
SELECT name
FROM pragma_index_info(?)
ORDER BY seqno;

-- name: version
SELECT sqlite_version();
