"""Compare tables by row count and an order-independent content hash.

Each row is hashed on its canonical text; the table digest is the sum of the row hashes modulo
2**256, so it does not depend on the order rows come back in (collations differ between
engines) and the rows stream through in batches (memory stays flat on big tables).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bluegreen.dialects.base import Dialect
from bluegreen.schema import TableName

_MOD = 1 << 256


def canonical(value: Any) -> str:
    """Text that is equal for equal values whatever driver produced them."""
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value():
            return str(value.quantize(decimal.Decimal(1)))
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "x" + bytes(value).hex()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def digest_rows(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """(row count, hex digest) of ``rows`` regardless of their order."""
    total = 0
    count = 0
    for row in rows:
        h = hashlib.sha256("\x1f".join(canonical(v) for v in row).encode()).digest()
        total = (total + int.from_bytes(h, "big")) % _MOD
        count += 1
    return count, f"{total:064x}"[:32]


@dataclass(frozen=True)
class TableDigest:
    table: str
    rows: int
    digest: str


def table_digest(
    db: Dialect, table: TableName, columns: Sequence[str], batch: int = 50_000
) -> TableDigest:
    """Digest of ``columns`` of ``table`` (identifiers quoted by the dialect)."""
    sql = f"SELECT {', '.join(db.quote(c) for c in columns)} FROM {db.qualify(table)}"

    def rows() -> Iterable[tuple]:
        for _, chunk in db.stream(sql, (), batch, doing=f"read {table} for verification"):
            yield from chunk

    count, digest = digest_rows(rows())
    return TableDigest(str(table), count, digest)
