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

-- name: version
SELECT current_setting('server_version');
