"""Engine-native SQL kept as files: ``sql/<dialect>/<file>.sql``, one named statement per block.

A block starts with a ``-- name: <statement>`` line and runs to the next one, so each file reads
as plain SQL (and sqlfluff can parse it) while the code asks for statements by name.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$", re.MULTILINE)


def sql_root() -> Path:
    """The ``sql/`` folder: inside the installed package, or at the top of a source checkout."""
    packaged = Path(__file__).parent / "sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sql"


@cache
def load(dialect: str, file: str) -> dict[str, str]:
    """All named statements of ``sql/<dialect>/<file>.sql``, in file order."""
    text = (sql_root() / dialect / f"{file}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        stmt = body.strip()
        if stmt.endswith(";"):
            stmt = stmt[:-1].rstrip()
        statements[name] = stmt
    return statements


def statement(dialect: str, file: str, name: str) -> str:
    """One named statement; KeyError names the file when it is missing."""
    try:
        return load(dialect, file)[name]
    except KeyError:
        raise KeyError(f"no statement {name!r} in sql/{dialect}/{file}.sql") from None
