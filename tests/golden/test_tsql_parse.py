"""Every T-SQL statement bluegreen sends parses with sqlfluff (dialect tsql).

No SQL Server runs here, so this is the syntax check of the mssql dialect: each golden case and
each named statement of sql/mssql/*.sql is parsed once, and must leave no unparsable segment.

Two rewrites happen here, in the test, never in the product SQL:
- ``?`` placeholders become ``@p1``, ``@p2``... (sqlfluff's tsql grammar has no ``?``);
- a bracket identifier holding ``]]`` (an escaped ``]``) or ``[`` becomes the equivalent
  double-quoted identifier: sqlfluff's tsql lexer ends ``[...]`` at the first ``]``.

sqlfluff's tsql grammar also lacks a few clauses (listed in :data:`GAPS`): Change Tracking's,
and the release copies' (BACKUP, RESTORE FILELISTONLY, RESTORE ... MOVE with variables, Azure's
CREATE DATABASE ... AS COPY OF). For those statements the test checks that the statement still
fails exactly there (so the entry is removed once sqlfluff learns the clause) and that the
statement with that clause replaced by a sibling sqlfluff knows parses cleanly (so everything
around the clause is still checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlfluff.core import FluffConfig, Linter

from bluegreen import sqlfiles
from tests.golden.test_golden_sql import BUILT


@dataclass(frozen=True)
class Gap:
    """A T-SQL clause sqlfluff cannot parse yet, and a sibling it can, to check the rest."""

    clause: re.Pattern[str]
    sibling: str
    reason: str


GAPS = (
    Gap(
        re.compile(r"ENABLE CHANGE_TRACKING WITH \(TRACK_COLUMNS_UPDATED = ON\)"),
        "ENABLE TRIGGER ALL",
        "sqlfluff's ALTER TABLE grammar has no ENABLE CHANGE_TRACKING clause",
    ),
    Gap(
        re.compile(r"DISABLE CHANGE_TRACKING"),
        "DISABLE TRIGGER ALL",
        "sqlfluff's ALTER TABLE grammar has no DISABLE CHANGE_TRACKING clause",
    ),
    Gap(
        re.compile(r"SET CHANGE_TRACKING = ON \(CHANGE_RETENTION = \d+ DAYS, AUTO_CLEANUP = ON\)"),
        "SET CHANGE_TRACKING = ON",
        "sqlfluff's ALTER DATABASE ... SET takes `option = ON` but not its option list",
    ),
    # The release flows' copies (sql/mssql/copy.sql and MSSQLDialect.restore_statements /
    # copy_of_sql). BACKUP and RESTORE FILELISTONLY are missing whole: their sibling is the
    # RESTORE DATABASE form with the same operands, which at least checks those.
    Gap(
        re.compile(r"BACKUP DATABASE (@p\d+) TO DISK = (@p\d+) WITH COPY_ONLY, FORMAT, INIT"),
        r"RESTORE DATABASE \1 FROM DISK = \2 WITH CHECKSUM",
        "sqlfluff's tsql grammar has no BACKUP statement",
    ),
    Gap(
        re.compile(r"RESTORE FILELISTONLY FROM DISK = (@p\d+)"),
        r"RESTORE DATABASE [file_list] FROM DISK = \1",
        "sqlfluff's RESTORE grammar has DATABASE only, not FILELISTONLY",
    ),
    Gap(
        re.compile(r"MOVE @p\d+ TO @p\d+"),
        "MOVE 'logical' TO 'path'",
        "sqlfluff's RESTORE ... MOVE takes string literals only, not variables",
    ),
    Gap(
        re.compile(r' AS COPY OF (?:(?:\[(?:[^\]]|\]\])*\]|"(?:[^"]|"")*")\.?)+'),
        " COLLATE Latin1_General_CI_AS",
        "sqlfluff's CREATE DATABASE has no AS COPY OF clause (Azure SQL Database)",
    ),
)

# one scan over the text: string literals, comments, [identifiers], "identifiers", ? marks
_TOKEN = re.compile(
    r"(?P<str>N?'(?:[^']|'')*')"
    r"|(?P<line>--[^\n]*)"
    r"|(?P<block>/\*.*?\*/)"
    r"|(?P<bracket>\[(?:[^\]]|\]\])*\])"
    r"|(?P<dquote>\"(?:[^\"]|\"\")*\")"
    r"|(?P<mark>\?)",
    re.DOTALL,
)


def normalize(sql: str) -> str:
    """``?`` -> ``@pN``; ``[a]]b]`` -> ``"a]b"`` (same identifier, a form sqlfluff lexes)."""
    count = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal count
        if m.group("mark"):
            count += 1
            return f"@p{count}"
        text = m.group(0)
        if m.group("bracket"):
            inner = text[1:-1].replace("]]", "]")
            if "]" in inner or "[" in inner:
                return '"' + inner.replace('"', '""') + '"'
        return text

    return _TOKEN.sub(sub, sql)


@pytest.fixture(scope="module")
def linter() -> Linter:
    return Linter(config=FluffConfig(overrides={"dialect": "tsql"}))


def problems(linter: Linter, sql: str) -> list[str]:
    """Unparsable segments and parse errors of ``sql`` (empty when it parses cleanly)."""
    parsed = linter.parse_string(sql if sql.rstrip().endswith(";") else sql + ";\n")
    if parsed.tree is None:
        return ["sqlfluff produced no parse tree"]
    found = [f"unparsable: {seg.raw!r}" for seg in parsed.tree.recursive_crawl("unparsable")]
    found.extend(str(v.desc()) for v in parsed.violations)
    return found


def _statements() -> list:
    params = []
    for case, text in sorted(BUILT.get("mssql", {}).items()):
        params.append(pytest.param(text, id=f"golden-{case}"))
    for path in sorted((sqlfiles.sql_root() / "mssql").glob("*.sql")):
        for name, stmt in sqlfiles.load("mssql", path.stem).items():
            params.append(pytest.param(stmt + ";\n", id=f"{path.stem}.sql-{name}"))
    return params


STATEMENTS = _statements()


def test_there_is_something_to_check() -> None:
    files = {p.stem for p in (sqlfiles.sql_root() / "mssql").glob("*.sql")}
    assert {"green_state", "introspect", "tracking", "freeze", "session", "copy"} <= files
    assert len(STATEMENTS) > 60


@pytest.mark.parametrize("sql", STATEMENTS)
def test_parses_as_tsql(linter: Linter, sql: str) -> None:
    text = normalize(sql)
    gaps = [g for g in GAPS if g.clause.search(text)]
    found = problems(linter, text)
    if not gaps:
        assert not found, f"sqlfluff (tsql) cannot parse:\n{text}\n" + "\n".join(found)
        return
    # Still a gap in sqlfluff? Then it must fail, and only at the clause it lacks.
    assert found, (
        f"sqlfluff now parses {gaps[0].clause.pattern!r}: remove it from GAPS ({gaps[0].reason})"
    )
    probe = text
    for g in gaps:
        probe = g.clause.sub(g.sibling, probe)
    rest = problems(linter, probe)
    assert not rest, (
        f"apart from the clause sqlfluff lacks, sqlfluff (tsql) cannot parse:\n{probe}\n"
        + "\n".join(rest)
    )


def test_the_check_catches_broken_sql(linter: Linter) -> None:
    """The parse check can fail: a broken statement and an unescaped ] are both flagged."""
    assert problems(linter, "SELECT a FROM WHERE b = @p1")
    assert problems(linter, "UPDATE g SET [a]b] = 1 FROM [dbo].[t] AS g")
    assert not problems(linter, normalize("UPDATE g SET [a]]b] = ? FROM [dbo].[t] AS g"))


def test_normalize_leaves_strings_and_plain_identifiers_alone() -> None:
    sql = "SELECT '?', N'it''s ?', [x?], [a]]b], \"q\" FROM t WHERE a = ? AND b = ? -- ?"
    assert normalize(sql) == (
        "SELECT '?', N'it''s ?', [x?], \"a]b\", \"q\" FROM t WHERE a = @p1 AND b = @p2 -- ?"
    )


def test_sql_root_is_the_checkout() -> None:
    assert (sqlfiles.sql_root() / "mssql").is_dir()
    assert Path(sqlfiles.sql_root()).name == "sql"
