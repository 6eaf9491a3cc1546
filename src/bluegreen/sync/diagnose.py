"""Which staged row made green refuse a window: found from the stage, set-based.

A refused apply step says *that* green refused (a green-only CHECK, UNIQUE, NOT NULL or FK), but
a driver rarely says *which* row: SQLite's "CHECK constraint failed" has no key at all, and
PostgreSQL's UNIQUE detail names the unique column, not the row's key. A release engineer needs
the key to compare the row on blue and green, so after the step fails the window rolls back to
the savepoint taken just before it (the stage and the earlier steps are intact) and re-runs the
step on ever smaller slices of the stage, in key order, each inside its own savepoint:

1. the shortest key-ordered prefix of the staged rows that still fails ends at the *offending*
   row (for a single bad row, that row; for two staged rows that collide on a green-only UNIQUE,
   the later of the two);
2. when that row passes alone, the latest start of a failing slice ending there is the row it
   collides with.

A slice is selected without copying rows: every staged row outside it gets its ``__bg_present``
flag moved out of the range the apply statements read (+10), and the probe's savepoint undoes
that. Each probe is a handful of set-based statements; a window of n rows needs about
2·log2(n) probes. The search is bounded in time and never raises: it only adds to a message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from bluegreen.dialects.base import PRESENT, Dialect
from bluegreen.errors import ApplyError

log = logging.getLogger("bluegreen.sync")

PROBE = "bg_probe"
# added to the flag of staged rows outside a probe's slice: no apply statement reads >= 10
_PARKED = 10
_MAX_VALUE = 60


def describe_key(columns: Sequence[str], values: Sequence[Any]) -> str:
    """``(id)=(3)`` or ``(a, b)=(1, x)``, as PostgreSQL writes a key; long values cut."""
    shown = []
    for v in values:
        text = "NULL" if v is None else str(v)
        shown.append(text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "...")
    return f"({', '.join(columns)})=({', '.join(shown)})"


class Culprit:
    """The offending row's key, and the row of the same window it collides with (if any)."""

    def __init__(self, key: tuple[Any, ...], partner: tuple[Any, ...] | None) -> None:
        self.key = key
        self.partner = partner

    def describe(self, columns: Sequence[str]) -> str:
        text = f"offending row key {describe_key(columns, self.key)}"
        if self.partner is not None:
            text += (
                f" (refused only together with the window's row key "
                f"{describe_key(columns, self.partner)})"
            )
        return text


def find_culprit(
    green: Dialect,
    stage: str,
    key: Sequence[str],
    deletes: bool,
    run_step: Callable[[], None],
    budget: float = 30.0,
) -> Culprit | None:
    """The staged row ``run_step`` refuses (see the module docstring), or None when it cannot be
    found within ``budget`` seconds or the failure does not repeat on the rows alone.

    ``deletes``: the step reads the rows staged as absent on blue (delete, unlink); otherwise
    the rows present on blue (insert, update). Runs inside the window's green transaction, which
    must be usable (rolled back to the savepoint before the failed step)."""
    try:
        return _Search(green, stage, key, deletes, run_step, budget).run()
    except Exception as exc:  # a diagnosis must never hide the error it explains
        log.debug("could not find the offending row in %s: %s", stage, exc)
        with contextlib.suppress(Exception):
            green.rollback_to_savepoint(PROBE)
        return None


class _Search:
    def __init__(
        self,
        green: Dialect,
        stage: str,
        key: Sequence[str],
        deletes: bool,
        run_step: Callable[[], None],
        budget: float,
    ) -> None:
        self.db = green
        self.stage = stage
        self.key = list(key)
        self.flag = green.quote(PRESENT)
        self.cond = f"{self.flag} = 0" if deletes else f"{self.flag} <> 0"
        self.run_step = run_step
        self.deadline = time.monotonic() + budget
        self.keys: list[tuple[Any, ...]] = []

    def run(self) -> Culprit | None:
        cols = ", ".join(self.db.quote(k) for k in self.key)
        self.keys = [
            tuple(r)
            for r in self.db.query(
                f"SELECT {cols} FROM {self.stage} WHERE {self.cond} ORDER BY {cols}",
                doing=f"list the keys staged in {self.stage}",
            )
        ]
        n = len(self.keys)
        if n == 0 or not self.fails(0, n):
            return None
        # 1. the shortest failing prefix [0, hi)
        lo, hi = 1, n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.fails(0, mid):
                hi = mid
            else:
                lo = mid + 1
        end = hi
        if end == 1 or self.fails(end - 1, end):
            return Culprit(self.keys[end - 1], None)
        # 2. the latest start of a failing slice ending at the offending row
        lo, hi = 0, end - 2
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.fails(mid, end):
                lo = mid
            else:
                hi = mid - 1
        return Culprit(self.keys[end - 1], self.keys[lo])

    def fails(self, lo: int, hi: int) -> bool:
        """Does the step fail with only the staged rows ``keys[lo:hi]`` in play?"""
        if time.monotonic() > self.deadline:
            raise TimeoutError("out of time")
        db = self.db
        db.savepoint(PROBE)
        try:
            if hi < len(self.keys):
                self._park(self.keys[hi - 1], after=True)
            if lo > 0:
                self._park(self.keys[lo], after=False)
            try:
                self.run_step()
            except ApplyError:
                return True
            return False
        finally:
            db.rollback_to_savepoint(PROBE)
            db.release_savepoint(PROBE)

    def _park(self, bound: tuple[Any, ...], after: bool) -> None:
        """Move the flag of every staged row after (or before) ``bound`` out of reach."""
        op = ">" if after else "<"
        ph = self.db.placeholder()
        terms, params = [], []
        for i, col in enumerate(self.key):
            same = [f"{self.db.quote(c)} = {ph}" for c in self.key[:i]]
            terms.append("(" + " AND ".join([*same, f"{self.db.quote(col)} {op} {ph}"]) + ")")
            params.extend([*bound[:i], bound[i]])
        self.db.execute(
            f"UPDATE {self.stage} SET {self.flag} = {self.flag} + {_PARKED} "
            f"WHERE {' OR '.join(terms)}",
            params,
            doing=f"narrow {self.stage} to a slice",
        )
