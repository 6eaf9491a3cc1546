"""A dead connection is a transient error; the next window reconnects and converges."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pgerr

from bluegreen.dialects.postgres import PostgresDialect
from bluegreen.errors import ApplyError, TerminalError, TransientError
from bluegreen.sync.runner import Syncer
from tests.conftest import PG_URL, EnginePair
from tests.integration.helpers import assert_same, enable, watermark


@pytest.mark.postgresql
@pytest.mark.parametrize("side", ["blue", "green"])
def test_terminated_backend_is_transient_and_the_retry_converges(
    pg_pair: EnginePair, side: str
) -> None:
    pair = pg_pair
    pair.ddl("CREATE TABLE item (id INTEGER PRIMARY KEY, v INTEGER)")
    enable(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 1)")
    blue, green = pair.blue(), pair.green()
    syncer = Syncer(blue, green)
    syncer.until_caught_up()
    pair.run("blue", "INSERT INTO item VALUES (2, 2)")
    before = watermark(pair)
    victim = blue if side == "blue" else green
    pid = victim.conn.info.backend_pid
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(TransientError) as err:
        syncer.once()
    assert "postgresql" in str(err.value)
    assert watermark(pair) == before
    syncer.until_caught_up()  # reconnects
    assert victim.conn.info.backend_pid != pid
    assert_same(pair)
    blue.close()
    green.close()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (pgerr.DeadlockDetected("deadlock detected"), TransientError),
        (pgerr.SerializationFailure("could not serialize"), TransientError),
        (pgerr.LockNotAvailable("lock timeout"), TransientError),
        (pgerr.AdminShutdown("terminating connection"), TransientError),
        (pgerr.QueryCanceled("statement timeout"), TransientError),
        (psycopg.OperationalError("server closed the connection unexpectedly"), TransientError),
        (pgerr.UniqueViolation("duplicate key"), ApplyError),
        (pgerr.CheckViolation("check"), ApplyError),
        (pgerr.UndefinedTable("relation does not exist"), TerminalError),
    ],
)
def test_postgres_error_classification(exc: Exception, kind: type) -> None:
    got = PostgresDialect(None).classify(exc, "doing a thing")
    assert type(got) is kind
    assert "doing a thing" in str(got)
