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

-- name: version
SELECT sqlite_version();
