"""Golden SQL: every statement each dialect builds for the fixture schema, pinned in files.

A change to a builder shows up here as a diff of tests/golden/<dialect>/<case>.sql. When the
change is intended, rewrite the files with ``uv run pytest tests/golden --update-golden`` and
review the diff like code. A dialect whose module does not import (yet) is skipped, by name.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.golden.cases import DIALECTS, GoldenDialect, build_cases

GOLDEN = Path(__file__).parent


def _collect() -> tuple[list, dict[str, dict[str, str]]]:
    params = []
    built: dict[str, dict[str, str]] = {}
    for entry in DIALECTS:
        try:
            entry.load()
        except ImportError as exc:
            params.append(
                pytest.param(
                    entry.id,
                    None,
                    id=f"{entry.id}-unavailable",
                    marks=pytest.mark.skip(reason=f"{entry.module} does not import: {exc}"),
                )
            )
            continue
        built[entry.id] = build_cases(entry)
        params.extend(
            pytest.param(entry.id, case, id=f"{entry.id}-{case}") for case in built[entry.id]
        )
    return params, built


PARAMS, BUILT = _collect()
ENTRIES: dict[str, GoldenDialect] = {e.id: e for e in DIALECTS}


def golden_path(dialect: str, case: str) -> Path:
    return GOLDEN / dialect / f"{case}.sql"


@pytest.mark.parametrize(("dialect", "case"), PARAMS)
def test_statement_matches_golden(dialect: str, case: str, update_golden: bool) -> None:
    actual = BUILT[dialect][case]
    path = golden_path(dialect, case)
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(
            f"no golden file {path.relative_to(GOLDEN.parent.parent)} for {dialect} case {case}; "
            "write it with `uv run pytest tests/golden --update-golden` and review it"
        )
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"golden/{dialect}/{case}.sql",
                tofile="built now",
            )
        )
        pytest.fail(
            f"{dialect} builds different SQL for {case}:\n{diff}\n"
            "if the change is intended: `uv run pytest tests/golden --update-golden`",
            pytrace=False,
        )


@pytest.mark.parametrize("dialect", sorted(BUILT))
def test_no_stale_golden_files(dialect: str, update_golden: bool) -> None:
    """A golden file no case produces any more is stale (a renamed or removed case)."""
    folder = GOLDEN / dialect
    stale = sorted(p for p in folder.glob("*.sql") if p.stem not in BUILT[dialect])
    if update_golden:
        for p in stale:
            p.unlink()
        return
    assert not stale, (
        f"stale golden files for {dialect}: {', '.join(p.name for p in stale)}; "
        "remove them (or run `uv run pytest tests/golden --update-golden`)"
    )


def test_every_dialect_covers_the_fixture() -> None:
    """Each dialect pins the same general cases, so a builder cannot silently drop one."""
    general = None
    for dialect, cases in BUILT.items():
        mine = {c for c in cases if c.split(".", 1)[1] in _GENERAL_KINDS or c.startswith("state.")}
        general = mine if general is None else general
        assert mine == general, f"{dialect} covers {sorted(mine ^ general)} differently"
    assert "odd.update" in (general or set())


_GENERAL_KINDS = {
    "stage_ddl",
    "insert",
    "update",
    "delete",
    "insert_nulled",
    "unlink",
    "insert_without_identity",
    "lock_watermark",
}


def test_identity_insert_is_toggled_only_where_the_dialect_needs_it() -> None:
    for dialect, cases in BUILT.items():
        toggles = ENTRIES[dialect].load().needs_identity_insert_toggle
        assert ("IDENTITY_INSERT" in cases["ticket.insert"]) == toggles, dialect
        # the identity column is left to the engine: never toggled
        assert "IDENTITY_INSERT" not in cases["ticket.insert_without_identity"], dialect
        assert "IDENTITY_INSERT" not in cases["customer.insert"], dialect
