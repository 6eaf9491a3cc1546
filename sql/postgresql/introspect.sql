-- Introspection on PostgreSQL from pg_catalog (bluegreen's own schema excluded).

-- name: columns
SELECT
    n.nspname,
    c.relname,
    a.attname,
    format_type(a.atttypid, a.atttypmod),
    NOT a.attnotnull,
    a.attidentity <> '',
    a.attgenerated <> ''
FROM pg_attribute AS a
INNER JOIN pg_class AS c ON a.attrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
WHERE
    c.relkind IN ('r', 'p')
    AND NOT c.relispartition
    AND a.attnum > 0
    AND NOT a.attisdropped
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bluegreen')
    AND n.nspname NOT LIKE 'pg\_%'
ORDER BY n.nspname, c.relname, a.attnum;

-- name: primary_keys
SELECT n.nspname, c.relname, a.attname
FROM pg_constraint AS con
INNER JOIN pg_class AS c ON con.conrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k (attnum, ord)
INNER JOIN pg_attribute AS a ON a.attrelid = c.oid AND k.attnum = a.attnum
WHERE con.contype = 'p' AND n.nspname <> 'bluegreen'
ORDER BY n.nspname, c.relname, k.ord;

-- name: foreign_keys
SELECT
    con.conname,
    n.nspname,
    c.relname,
    rn.nspname,
    rc.relname,
    a.attname,
    ra.attname
FROM pg_constraint AS con
INNER JOIN pg_class AS c ON con.conrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
INNER JOIN pg_class AS rc ON con.confrelid = rc.oid
INNER JOIN pg_namespace AS rn ON rc.relnamespace = rn.oid
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k (att, ratt, ord)
INNER JOIN pg_attribute AS a ON a.attrelid = c.oid AND k.att = a.attnum
INNER JOIN pg_attribute AS ra ON ra.attrelid = rc.oid AND k.ratt = ra.attnum
WHERE con.contype = 'f' AND n.nspname <> 'bluegreen'
ORDER BY n.nspname, c.relname, con.conname, k.ord;

-- name: unique_keys
-- UNIQUE constraints and unique indexes other than the primary key; partial and expression
-- indexes are left out (they do not make a column set unique for every row).
SELECT n.nspname, c.relname, i.indexrelid::regclass::text, a.attname
FROM pg_index AS i
INNER JOIN pg_class AS c ON i.indrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
CROSS JOIN LATERAL unnest(i.indkey::int2 []) WITH ORDINALITY AS k (attnum, ord)
INNER JOIN pg_attribute AS a ON a.attrelid = c.oid AND k.attnum = a.attnum
WHERE
    i.indisunique
    AND NOT i.indisprimary
    AND i.indisvalid
    AND i.indpred IS NULL
    AND i.indexprs IS NULL
    AND k.ord <= i.indnkeyatts
    AND n.nspname <> 'bluegreen'
ORDER BY n.nspname, c.relname, i.indexrelid, k.ord;

-- name: version
SELECT current_setting('server_version');
