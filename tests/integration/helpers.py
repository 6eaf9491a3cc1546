"""Small helpers shared by the integration tests: enable, sync, compare."""

from __future__ import annotations

from bluegreen.sync.runner import RunSummary, Syncer
from bluegreen.verify import table_digest
from tests.conftest import EnginePair


def enable(pair: EnginePair) -> None:
    blue = pair.blue()
    blue.enable_tracking([t for t in blue.introspect().tables.values()])
    blue.close()


def sync(pair: EnginePair, **kwargs: object) -> RunSummary:
    blue, green = pair.blue(), pair.green()
    try:
        return Syncer(blue, green, **kwargs).until_caught_up()
    finally:
        blue.close()
        green.close()


def digests(pair: EnginePair, side: str) -> dict[str, tuple[int, str]]:
    db = pair.blue() if side == "blue" else pair.green()
    try:
        out = {}
        for name, table in db.introspect().tables.items():
            d = table_digest(db, name, [c.name for c in table.columns])
            out[str(name)] = (d.rows, d.digest)
        return out
    finally:
        db.close()


def assert_same(pair: EnginePair) -> None:
    """Every user table on green equals blue (row count and content hash)."""
    b, g = digests(pair, "blue"), digests(pair, "green")
    assert b.keys() == g.keys()
    for name in b:
        assert b[name] == g[name], f"{name}: blue {b[name]} != green {g[name]}"


def watermark(pair: EnginePair) -> str:
    from bluegreen.sync.state import GreenState

    green = pair.green()
    try:
        return GreenState(green).read()[0].dumps()
    finally:
        green.close()
