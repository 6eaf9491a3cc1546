-- Cutover statements on PostgreSQL: freezing a database's writes, and moving green's sequences.
--
-- The freeze is `ALTER DATABASE <db> SET default_transaction_read_only = on` (built by
-- PostgresDialect, which quotes the name): it applies to sessions that start afterwards, so every
-- other session of the database is then terminated (its open transaction rolls back; its pool
-- reconnects into a read-only session). Unfreezing resets the setting and terminates the sessions
-- born during the freeze, which would otherwise stay read-only for life. A session may still run
-- `SET default_transaction_read_only = off` or `BEGIN READ WRITE` by itself: the freeze stops
-- applications, not someone set on writing. Terminating needs pg_signal_backend (or superuser)
-- and ALTER DATABASE needs the database's owner.

-- name: database
SELECT current_database();

-- name: frozen_setting
SELECT coalesce(bool_or(cfg = 'default_transaction_read_only=on'), false)
FROM pg_db_role_setting AS s
CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
WHERE
    s.setrole = 0
    AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database());

-- name: terminate_others
SELECT pid, pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE
    datname = current_database()
    AND pid <> pg_backend_pid()
    AND backend_type = 'client backend';

-- name: still_running
SELECT count(*)
FROM pg_stat_activity
WHERE pid = any(%(pids)s::int []);

-- name: open_writers
-- Other sessions holding a transaction id: they wrote something and have not finished.
SELECT count(*)
FROM pg_stat_activity
WHERE
    datname = current_database()
    AND pid <> pg_backend_pid()
    AND backend_xid IS NOT NULL;

-- name: probe
-- Run in a fresh session inside a transaction that is rolled back: a frozen database refuses it.
CREATE TEMPORARY TABLE bluegreen_freeze_probe (x integer);

-- name: serial_columns
-- Every user column that owns a sequence (serial or identity), with that sequence.
SELECT
    n.nspname,
    c.relname,
    a.attname,
    pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname)
FROM pg_attribute AS a
INNER JOIN pg_class AS c ON a.attrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
WHERE
    c.relkind IN ('r', 'p')
    AND a.attnum > 0
    AND NOT a.attisdropped
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bluegreen')
    AND n.nspname NOT LIKE 'pg\_%'
    AND pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname)
    IS NOT NULL
ORDER BY n.nspname, c.relname, a.attnum;

-- name: database_exists
SELECT count(*) FROM pg_database WHERE datname = %s;

-- name: terminate_database
SELECT pg_terminate_backend(pid)
FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid();
