"""Pausing for a schema change on green, and noticing one that nobody announced.

The flow pauses the sync schedule and calls :func:`pause_for_schema_change`, which records
green's schema in green's release table. The release engineer changes green's schema. The flow
then calls :func:`check_schema_change`: green is re-introspected, the diff against the recorded
schema is returned for publishing, and the mapping is re-checked against both live schemas. If
it is broken the report lists exactly what to fix (every workbook finding with its cell, or the
schema error with its fix) and the flow stays paused; if it holds, the new schema becomes the
recorded one and syncing resumes.

Unannounced changes are the job of :class:`~bluegreen.release.guard.SchemaGuard`, the plan
builder wrapper every release sync uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bluegreen.dialects.base import Dialect
from bluegreen.errors import BlueGreenError
from bluegreen.release.guard import SchemaGuard
from bluegreen.release.pair import ReleasePair, Sessions
from bluegreen.release.records import Finding, Receipt, utcnow
from bluegreen.release.store import ReleaseStore, schema_key
from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName
from bluegreen.sync.plan import SyncPlan

log = logging.getLogger("bluegreen.release")


# ---- schema as data ---------------------------------------------------------------------------
def schema_doc(schema: Schema) -> dict[str, Any]:
    """A JSON-ready description of ``schema`` (what :func:`schema_from_doc` reads back)."""
    return {
        "default_schema": schema.default_schema,
        "tables": [
            {
                "schema": t.name.schema,
                "name": t.name.name,
                "columns": [
                    [c.name, c.type, c.nullable, c.identity, c.generated] for c in t.columns
                ],
                "primary_key": list(t.primary_key),
                "foreign_keys": [
                    [
                        fk.name,
                        list(fk.columns),
                        fk.ref_table.schema,
                        fk.ref_table.name,
                        list(fk.ref_columns),
                    ]
                    for fk in t.foreign_keys
                ],
                "unique_keys": [list(u) for u in t.unique_keys],
            }
            for t in sorted(schema.tables.values(), key=lambda t: t.name)
        ],
    }


def schema_from_doc(doc: dict[str, Any]) -> Schema:
    schema = Schema(default_schema=doc.get("default_schema"))
    for t in doc.get("tables", []):
        name = TableName(t["schema"], t["name"])
        schema.tables[name] = Table(
            name=name,
            columns=tuple(
                Column(c[0], c[1], bool(c[2]), bool(c[3]), bool(c[4])) for c in t["columns"]
            ),
            primary_key=tuple(t["primary_key"]),
            foreign_keys=tuple(
                ForeignKey(f[0], tuple(f[1]), TableName(f[2], f[3]), tuple(f[4]))
                for f in t["foreign_keys"]
            ),
            unique_keys=tuple(tuple(u) for u in t.get("unique_keys", [])),
        )
    return schema


@dataclass
class SchemaDiff:
    """What changed between two schemas, one readable line per change."""

    added_tables: list[str] = field(default_factory=list)
    removed_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    removed_columns: list[str] = field(default_factory=list)
    changed_columns: list[str] = field(default_factory=list)
    key_changes: list[str] = field(default_factory=list)
    foreign_key_changes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(self.lines())

    def lines(self) -> list[str]:
        out = [f"+ table {t}" for t in self.added_tables]
        out += [f"- table {t}" for t in self.removed_tables]
        out += [f"+ column {c}" for c in self.added_columns]
        out += [f"- column {c}" for c in self.removed_columns]
        out += [f"~ column {c}" for c in self.changed_columns]
        out += [f"~ primary key {k}" for k in self.key_changes]
        out += [f"~ foreign key {k}" for k in self.foreign_key_changes]
        return out

    def markdown(self) -> str:
        if self.empty:
            return "green's schema is unchanged"
        return "```diff\n" + "\n".join(self.lines()) + "\n```"


def _col(c: Column) -> str:
    flags = [c.type, "NULL" if c.nullable else "NOT NULL"]
    if c.identity:
        flags.append("IDENTITY")
    if c.generated:
        flags.append("GENERATED")
    return " ".join(flags)


def diff_schemas(before: Schema, after: Schema) -> SchemaDiff:
    """Tables, columns (type, nullability, identity), primary and foreign keys that changed."""
    d = SchemaDiff()
    old, new = before.tables, after.tables
    d.added_tables = sorted(str(n) for n in new.keys() - old.keys())
    d.removed_tables = sorted(str(n) for n in old.keys() - new.keys())
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        acols = {c.name: c for c in a.columns}
        bcols = {c.name: c for c in b.columns}
        d.added_columns += [f"{name}.{c} {_col(bcols[c])}" for c in bcols if c not in acols]
        d.removed_columns += [f"{name}.{c} {_col(acols[c])}" for c in acols if c not in bcols]
        d.changed_columns += [
            f"{name}.{c}: {_col(acols[c])} -> {_col(bcols[c])}"
            for c in acols
            if c in bcols and _col(acols[c]) != _col(bcols[c])
        ]
        if a.primary_key != b.primary_key:
            d.key_changes.append(
                f"{name}: ({', '.join(a.primary_key)}) -> ({', '.join(b.primary_key)})"
            )

        def fks(t: Table) -> set[str]:
            return {
                f"({', '.join(fk.columns)}) -> {fk.ref_table}({', '.join(fk.ref_columns)})"
                for fk in t.foreign_keys
            }

        d.foreign_key_changes += [f"{name}: + {k}" for k in sorted(fks(b) - fks(a))]
        d.foreign_key_changes += [f"{name}: - {k}" for k in sorted(fks(a) - fks(b))]
    return d


# ---- re-checking the mapping ------------------------------------------------------------------
def mapping_findings(exc: BaseException) -> list[Finding]:
    """Every problem an error carries: each workbook finding with its cell, or the error."""
    inner = getattr(exc, "findings", None)
    if inner:
        return [
            Finding(
                getattr(f, "severity", "error"),
                getattr(f, "where", "mapping"),
                getattr(f, "message", str(f)),
                getattr(f, "fix", None),
            )
            for f in inner
        ]
    if isinstance(exc, BlueGreenError):
        return [Finding("error", type(exc).__name__, exc.message, exc.fix)]
    return [Finding("error", type(exc).__name__, str(exc))]


def recheck_plan(
    pair: ReleasePair, blue: Dialect, green: Dialect
) -> tuple[SyncPlan | None, list[Finding]]:
    """Build the sync plan from both live schemas; (plan, []) or (None, what to fix)."""
    try:
        plan, _ = pair.plan(blue, green)
    except BlueGreenError as exc:
        blue.rollback()
        green.rollback()
        return None, mapping_findings(exc)
    return plan, []


@dataclass
class SchemaPause(Receipt):
    """The schema recorded when syncing paused."""

    stream: str = ""
    fingerprint: str = ""
    tables: int = 0

    def facts(self) -> list[tuple[str, str]]:
        return [("green schema fingerprint", self.fingerprint), ("tables", str(self.tables))]


@dataclass
class SchemaChangeReport(Receipt):
    """The schema diff since the pause and the re-check of the mapping."""

    stream: str = ""
    diff: SchemaDiff | None = None
    findings: list[Finding] = field(default_factory=list)
    fingerprint_before: str | None = None
    fingerprint_after: str = ""
    plan: str = ""
    accepted: bool = False

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def facts(self) -> list[tuple[str, str]]:
        out = [
            ("fingerprint", f"{self.fingerprint_before} -> {self.fingerprint_after}"),
            ("mapping", "valid" if self.ok else f"{len(self.findings)} problem(s)"),
        ]
        out += [
            (f"{f.severity} at {f.subject}", f"{f.message} (fix: {f.fix})") for f in self.findings
        ]
        return out

    def markdown(self) -> str:
        text = super().markdown()
        diff = (
            self.diff.markdown() if self.diff is not None else "no schema was recorded at the pause"
        )
        return f"{text}\n\n### green's schema since the pause\n\n{diff}"


def pause_for_schema_change(pair: ReleasePair) -> SchemaPause:
    """Record green's schema (the flow has paused the sync schedule)."""
    receipt = SchemaPause(operation="pause-for-schema-change", stream=pair.stream)
    with Sessions().scope() as s:
        green = s.open(pair.green_url)
        schema = green.introspect()
        ReleaseStore(green).put_json(schema_key(pair.stream), schema_doc(schema))
    receipt.fingerprint = schema.fingerprint()
    receipt.tables = len(schema.tables)
    receipt.outcome = "paused"
    receipt.finished_at = utcnow()
    return receipt


def check_schema_change(pair: ReleasePair, *, accept: bool = True) -> SchemaChangeReport:
    """Diff green's schema against the one recorded at the pause and re-check the mapping.

    ``accept``: when the mapping holds, record the new schema (the next pause diffs from it).
    The report's ``ok`` says whether syncing may resume; its findings say what to fix."""
    report = SchemaChangeReport(operation="schema-change-check", stream=pair.stream)
    with Sessions().scope() as s:
        blue = s.open(pair.blue_url)
        green = s.open(pair.green_url)
        store = ReleaseStore(green)
        now = green.introspect()
        green.rollback()
        stored = store.get_json(schema_key(pair.stream))
        if stored is not None:
            before = schema_from_doc(stored)
            report.diff = diff_schemas(before, now)
            report.fingerprint_before = before.fingerprint()
        report.fingerprint_after = now.fingerprint()
        plan, report.findings = recheck_plan(pair, blue, green)
        if plan is not None:
            report.plan = plan.describe()
            if accept:
                store.put_json(schema_key(pair.stream), schema_doc(now))
                report.accepted = True
    report.outcome = "resumed" if report.ok else "paused"
    if not report.ok:
        report.reason = "the mapping does not fit green's schema: " + "; ".join(
            f.message for f in report.findings
        )
        report.fix = "; ".join(f"{f.subject}: {f.fix}" for f in report.findings if f.fix) or None
    report.finished_at = utcnow()
    return report


__all__ = [
    "SchemaChangeReport",
    "SchemaDiff",
    "SchemaGuard",
    "SchemaPause",
    "check_schema_change",
    "diff_schemas",
    "pause_for_schema_change",
    "schema_doc",
    "schema_from_doc",
]
