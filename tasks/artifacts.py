"""The run's artifacts: a table of its windows and a run summary, under stable keys.

Prefect keeps every version of a keyed artifact and the UI shows the latest, so one key per
pair and kind ("windows", "summary") gives operators a fixed place to look, with history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from prefect.artifacts import create_table_artifact

from bluegreen.sync.state import TableStats, WindowRecord
from tasks.status import Lag


def artifact_key(pair: str, kind: str) -> str:
    """``bluegreen-sync-<pair>-<kind>``: artifact keys allow only lowercase letters, digits, -."""
    slug = re.sub(r"[^a-z0-9]+", "-", pair.lower()).strip("-") or "pair"
    return f"bluegreen-sync-{slug}-{kind}"


@dataclass
class SyncReport:
    """What one sync run did, as the artifacts and the flow's return value show it."""

    pair: str
    windows: list[WindowRecord] = field(default_factory=list)
    opened: int = 0  # window tasks run, including one that found nothing new
    caught_up: bool = False
    seconds: float = 0.0
    lag: Lag | None = None
    outcome: str = "running"

    def table_totals(self) -> dict[str, TableStats]:
        out: dict[str, TableStats] = {}
        for w in self.windows:
            for name, s in w.tables.items():
                out.setdefault(name, TableStats()).add(s)
        return out

    def totals(self) -> TableStats:
        out = TableStats()
        for s in self.table_totals().values():
            out.add(s)
        return out

    def window_rows(self) -> list[dict[str, Any]]:
        rows = []
        for n, w in enumerate(self.windows, start=1):
            t = w.totals
            rows.append(
                {
                    "window": n,
                    "window_id": w.window_id,
                    "from_version": str(w.from_mark),
                    "to_version": str(w.to_mark),
                    "changed_keys": w.changes,
                    "inserts": t.inserts,
                    "updates": t.updates,
                    "deletes": t.deletes,
                    "deferred_deletes": t.deferred_deletes,
                    "read_seconds": round(w.read_seconds, 3),
                    "apply_seconds": round(w.apply_seconds, 3),
                    "total_seconds": round(w.total_seconds, 3),
                }
            )
        return rows

    def table_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "table": name,
                "inserts": s.inserts,
                "updates": s.updates,
                "deletes": s.deletes,
                "deferred_deletes": s.deferred_deletes,
            }
            for name, s in sorted(self.table_totals().items())
        ]

    def as_dict(self) -> dict[str, Any]:
        t = self.totals()
        return {
            "pair": self.pair,
            "outcome": self.outcome,
            "caught_up": self.caught_up,
            "windows": len(self.windows),
            "windows_opened": self.opened,
            "from_version": str(self.windows[0].from_mark) if self.windows else None,
            "to_version": str(self.windows[-1].to_mark) if self.windows else None,
            "inserts": t.inserts,
            "updates": t.updates,
            "deletes": t.deletes,
            "deferred_deletes": t.deferred_deletes,
            "tables": self.table_rows(),
            "seconds": round(self.seconds, 3),
            # the windows' own clocks (open to commit): the rest of the run is orchestration
            "window_seconds": round(sum(w.total_seconds for w in self.windows), 3),
            "lag": None
            if self.lag is None
            else {
                "blue_version": self.lag.blue_version,
                "green_version": self.lag.green_version,
                "versions_behind": self.lag.versions_behind,
                "pending_keys": self.lag.pending_keys,
            },
        }

    def markdown(self) -> str:
        t = self.totals()
        lines = [f"### bluegreen sync `{self.pair}`: {self.outcome}", ""]
        if self.windows:
            lines.append(
                f"- windows applied: {len(self.windows)}, versions "
                f"{self.windows[0].from_mark} -> {self.windows[-1].to_mark}"
            )
        else:
            lines.append("- windows applied: 0 (nothing new on production)")
        lines.append(
            f"- totals: {t.inserts} inserts, {t.updates} updates, "
            f"{t.deletes + t.deferred_deletes} deletes ({t.deferred_deletes} deferred)"
        )
        if self.lag is not None:
            lines.append(
                f"- lag after the run: {self.lag.versions_behind} version(s) behind "
                f"(production {self.lag.blue_version}, copy {self.lag.green_version}), "
                f"{self.lag.pending_keys} changed key(s) pending"
            )
        read = sum(w.read_seconds for w in self.windows)
        apply = sum(w.apply_seconds for w in self.windows)
        lines.append(
            f"- durations: run {self.seconds:.2f} s; windows read {read:.2f} s, apply {apply:.2f} s"
        )
        lines.append("")
        lines.append(
            "Per-table counts are below; the per-window table is under key "
            f"`{artifact_key(self.pair, 'windows')}`."
        )
        return "\n".join(lines)


def publish(report: SyncReport) -> None:
    """Create the run's two artifacts (new versions of the pair's stable keys)."""
    create_table_artifact(
        table=report.window_rows(),
        key=artifact_key(report.pair, "windows"),
        description=f"bluegreen sync `{report.pair}`: one row per applied window "
        f"({report.outcome})",
    )
    create_table_artifact(
        table=report.table_rows(),
        key=artifact_key(report.pair, "summary"),
        description=report.markdown(),
    )
