"""The sync plan: which blue tables feed which green tables, and the apply steps, as data.

Building the plan needs only the two introspected schemas (and, later, the mapping workbook); no
rows are read. Executing it is the window's job. ``bluegreen sync --dry-run`` prints this plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from bluegreen.errors import ConfigError, SchemaError
from bluegreen.graph import DependencyOrder, dependency_order
from bluegreen.schema import Column, Schema, Table, TableName

Phase = Literal["dimensions", "facts", "deferred_deletes"]
LookupPolicy = Literal["error", "insert", "null"]
Action = Literal["insert", "update", "delete", "unlink"]
PHASES: tuple[Phase, ...] = ("dimensions", "facts", "deferred_deletes")


@dataclass(frozen=True)
class Lookup:
    """An L column: the green column gets ``key`` of the ``table`` row whose ``value`` equals the
    blue value. The value waits in the extra stage column ``stage_column`` until the window
    resolves it with one set-based join on green; ``on_missing`` says what a value without a
    row does (stop the window, insert a lookup row, or leave NULL)."""

    table: Table
    key: str
    value: str
    stage_column: str
    on_missing: LookupPolicy = "error"

    @property
    def stage_def(self) -> Column:
        """The stage column holding the value: typed like the lookup table's value column."""
        col = self.table.column(self.value)
        return replace(col, name=self.stage_column, nullable=True, identity=False, generated=False)


@dataclass(frozen=True)
class ColumnSource:
    """Where a green column's value comes from: a blue column, or the window's version.

    A mapping workbook adds ``cast`` (the green type the value is cast to before staging),
    ``lookup`` (an L column) and ``origin`` (the workbook cell, for error messages)."""

    green: str
    blue: str | None = None  # None with version=True
    version: bool = False
    cast: str | None = None
    lookup: Lookup | None = None
    origin: str | None = None


@dataclass(frozen=True)
class Target:
    """One green table fed by one blue table; ``index`` names its staging table."""

    index: int
    green: Table
    sources: tuple[ColumnSource, ...]
    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(s.green for s in self.sources)

    @property
    def lookups(self) -> tuple[ColumnSource, ...]:
        return tuple(s for s in self.sources if s.lookup is not None)

    @property
    def load_columns(self) -> tuple[str, ...]:
        """The columns a shaped frame fills: the green columns, then each lookup's value."""
        return self.columns + tuple(s.lookup.stage_column for s in self.lookups if s.lookup)

    @property
    def stage_columns(self) -> tuple[Column, ...]:
        extra = tuple(s.lookup.stage_def for s in self.lookups if s.lookup)
        return tuple(self.green.column(c) for c in self.columns) + extra


@dataclass(frozen=True)
class Source:
    """One tracked blue table and the green tables its rows land in."""

    blue: Table
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Step:
    """One set-based statement (or pair) run against one green table in the apply."""

    phase: Phase
    action: Action
    target: int
    table: TableName
    nulled: tuple[str, ...] = ()  # columns written as NULL (insert) or cleared (unlink)
    second_pass: bool = False  # an FK cycle's update that also fills the rows just inserted

    def describe(self) -> str:
        extra = f" (with {', '.join(self.nulled)} NULL)" if self.nulled else ""
        if self.second_pass:
            extra += " (second pass: fills the cycle's foreign keys)"
        return f"{self.phase:<17} {self.action:<7} {self.table}{extra}"


@dataclass(frozen=True)
class SyncPlan:
    """Everything a window needs to know before it reads a row."""

    sources: tuple[Source, ...]
    order: DependencyOrder
    steps: tuple[Step, ...]
    skipped: tuple[str, ...] = ()
    mapping_fingerprint: str | None = None
    green_fingerprint: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def targets(self) -> list[Target]:
        return [t for s in self.sources for t in s.targets]

    def streamed(self, source: Source) -> bool:
        """Whether ``source``'s rows are applied batch by batch while they are read.

        True when every green table it feeds takes only fact steps: nothing references it and
        it is in no FK cycle, so no other table's apply needs this table's whole window staged
        at once. Its batches then go read -> stage -> apply with a stage the size of one batch,
        which keeps every statement small however large the backlog; the other tables are
        staged whole first (their order needs it)."""
        return all(
            t.green.name not in self.order.referenced
            and len(self.order.group_of(t.green.name).tables) == 1
            for t in source.targets
        )

    def is_streamed(self, target_index: int) -> bool:
        """Whether the target with ``target_index`` belongs to a streamed source."""
        return any(
            self.streamed(s)
            for s in self.sources
            if any(t.index == target_index for t in s.targets)
        )

    def target(self, index: int) -> Target:
        return self.targets[index]

    def describe(self) -> str:
        lines = ["sources:"]
        for s in self.sources:
            for t in s.targets:
                cols = ", ".join(_describe_source(c) for c in t.sources)
                lines.append(f"  {s.blue.name} -> {t.green.name} [{cols}]")
        for name in self.skipped:
            lines.append(f"  skipped: {name}")
        lines.append("apply steps (one green transaction, then the watermark):")
        lines.extend(
            f"  {i + 1:>3}. {step.describe()}"
            + ("  [batch by batch, while reading]" if self.is_streamed(step.target) else "")
            for i, step in enumerate(self.steps)
        )
        return "\n".join(lines)


def _describe_source(c: ColumnSource) -> str:
    text = c.green if c.blue == c.green else f"{c.green}<-{c.blue or 'VERSION'}"
    if c.cast:
        text += f"::{c.cast}"
    if c.lookup:
        text += f" (lookup {c.lookup.table.name}.{c.lookup.key} by {c.lookup.value})"
    return text


def identity_sources(blue: Table, green: Table) -> tuple[ColumnSource, ...]:
    """Same column names on both sides; a blue column green lacks is an error that names it."""
    out = []
    for col in blue.writable_columns:
        if not green.has_column(col.name):
            raise SchemaError(
                f"column {col.name!r} of blue table {blue.name} does not exist in green table "
                f"{green.name}",
                fix=f"add {col.name!r} to green's {green.name}, or map it in a mapping workbook",
            )
        gcol = green.column(col.name)
        if gcol.generated:
            continue
        out.append(ColumnSource(green=gcol.name, blue=col.name))
    return tuple(out)


def build_plan(
    blue: Schema,
    green: Schema,
    tracked: list[TableName],
    tables: list[str] | None = None,
) -> SyncPlan:
    """The identity plan: every tracked blue table green also has (or just ``tables``)."""
    tracked_set = set(tracked)
    skipped: list[str] = []
    chosen: list[Table] = []
    if tables:
        for text in tables:
            t = blue.table(text)
            if t.name not in tracked_set:
                raise ConfigError(
                    f"table {t.name} is not tracked on blue",
                    fix=f"run `bluegreen tracking enable --db <blue url> --table {t.name}`",
                )
            chosen.append(t)
    else:
        chosen = [blue.tables[n] for n in sorted(tracked_set) if n in blue.tables]
    pairs: list[tuple[Table, Table]] = []
    for b in chosen:
        g = green.find(b.name) or green.find(b.name.name)
        if g is None:
            if tables:
                raise SchemaError(
                    f"table {b.name} does not exist in green",
                    fix=f"create {b.name} in green (prepare-green does), or map it in a workbook",
                )
            skipped.append(f"{b.name} (green has no such table)")
            continue
        if tuple(k.lower() for k in g.primary_key) != tuple(k.lower() for k in b.primary_key):
            raise SchemaError(
                f"green table {g.name} has primary key ({', '.join(g.primary_key)}) but blue table "
                f"{b.name} has ({', '.join(b.primary_key)})",
                fix="give both the same primary key, or map the table in a mapping workbook",
            )
        pairs.append((b, g))
    sources = []
    for i, (b, g) in enumerate(pairs):
        target = Target(index=i, green=g, sources=identity_sources(b, g), key=g.primary_key)
        sources.append(Source(blue=b, targets=(target,)))
    return assemble(sources, green, skipped)


def assemble(
    sources: list[Source],
    green: Schema,
    skipped: list[str] | None = None,
    mapping_fingerprint: str | None = None,
) -> SyncPlan:
    """Order the targets by green's foreign keys and lay out the apply steps."""
    targets = [t for s in sources for t in s.targets]
    by_table = {t.green.name: t for t in targets}
    order = dependency_order([t.green for t in targets])
    steps: list[Step] = []

    def cycle_columns(name: TableName) -> tuple[str, ...]:
        group = order.group_of(name)
        table = by_table[name].green
        cols = {
            c
            for owner, fk in group.cycle_edges
            if owner == name
            for c in fk.columns
            if table.column(c).nullable and c in by_table[name].columns
        }
        return tuple(sorted(cols))

    for group in order.groups:
        dims = [n for n in group.tables if n in order.referenced]
        if not dims:
            continue
        multi = len(group.tables) > 1
        # Update before insert: the UPDATE can touch only rows green has, the INSERT then adds
        # the keys green lacks (see Dialect.insert_sql). A cycle inserts first (a multi-table
        # one with its FK columns NULL; a self-reference whole, checked at the statement's
        # end), so that updated rows can point at new ones; its second pass then updates every
        # staged row, the new ones included.
        for n in dims:
            i = by_table[n].index
            if not group.cyclic:
                steps.append(Step("dimensions", "update", i, n))
            steps.append(Step("dimensions", "insert", i, n, cycle_columns(n) if multi else ()))
            if group.cyclic and not multi:
                steps.append(Step("dimensions", "update", i, n, second_pass=True))
        if multi:  # second pass: every row exists now, so the cycle's FKs can be filled in
            steps.extend(
                Step("dimensions", "update", by_table[n].index, n, second_pass=True) for n in dims
            )
    for group in order.groups:
        for n in group.tables:
            if n in order.referenced:
                continue
            t = by_table[n].index
            steps.append(Step("facts", "delete", t, n))
            steps.append(Step("facts", "update", t, n))
            steps.append(Step("facts", "insert", t, n))
    for group in reversed(order.groups):
        dims = [n for n in group.tables if n in order.referenced]
        if len(group.tables) > 1:
            for n in dims:
                cols = cycle_columns(n)
                if cols:
                    steps.append(Step("deferred_deletes", "unlink", by_table[n].index, n, cols))
        steps.extend(Step("deferred_deletes", "delete", by_table[n].index, n) for n in dims)
    return SyncPlan(
        sources=tuple(sources),
        order=order,
        steps=tuple(steps),
        skipped=tuple(skipped or ()),
        mapping_fingerprint=mapping_fingerprint,
        green_fingerprint=green.fingerprint([t.green.name for t in targets]),
    )
