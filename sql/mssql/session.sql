-- Session settings and transaction starts on SQL Server.
-- The connection runs with ODBC autocommit off: the driver then keeps the session in
-- implicit-transaction mode, so the next statement after a commit or rollback opens the
-- transaction (Microsoft: "ODBC applications should not use Transact-SQL transaction
-- statements such as BEGIN TRANSACTION"; under implicit transactions BEGIN TRANSACTION would
-- nest, and the driver's COMMIT would leave the outer level open). Setting the isolation
-- level before that first statement is therefore Microsoft's documented CT read pattern
-- (SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN; ...) in ODBC form.

-- name: setup
-- XACT_ABORT: any error rolls the whole transaction back on the server, so a failed window
-- can never leave half its statements applied in a transaction someone might still commit.
SET XACT_ABORT ON;

-- name: read_committed
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;

-- name: snapshot
SET TRANSACTION ISOLATION LEVEL SNAPSHOT;
