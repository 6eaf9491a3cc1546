"""Foreign-key order: which tables to upsert first and which deletes to defer.

Tables are grouped into strongly connected components of the FK graph (Tarjan), so a
self-reference or an FK cycle becomes one group instead of a crash. Groups come out parents
first: upserting in this order never inserts a child before its parent, and walking it backwards
deletes children before parents. A table that another synced table references is a *dimension*:
its deletes are deferred to the end of the window, after every child had its chance to drop or
repoint the rows that pointed at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.schema import ForeignKey, Table, TableName


@dataclass(frozen=True)
class TableGroup:
    """Tables that reference each other in a cycle (or a single table); ``cyclic`` if they do."""

    tables: tuple[TableName, ...]
    cyclic: bool
    # FKs between members of a multi-table cycle: their columns are filled in a second pass.
    cycle_edges: tuple[tuple[TableName, ForeignKey], ...] = ()


@dataclass(frozen=True)
class DependencyOrder:
    """Groups in parents-first order, plus the set of referenced (dimension) tables."""

    groups: tuple[TableGroup, ...]
    referenced: frozenset[TableName]

    @property
    def parents_first(self) -> list[TableName]:
        return [t for g in self.groups for t in g.tables]

    @property
    def children_first(self) -> list[TableName]:
        return list(reversed(self.parents_first))

    def group_of(self, name: TableName) -> TableGroup:
        for g in self.groups:
            if name in g.tables:
                return g
        raise KeyError(name)


def dependency_order(tables: list[Table]) -> DependencyOrder:
    """Order ``tables`` parents first; FKs to tables outside the list are ignored."""
    names = sorted(t.name for t in tables)
    by_name = {t.name: t for t in tables}
    parents: dict[TableName, set[TableName]] = {n: set() for n in names}
    for t in tables:
        for fk in t.foreign_keys:
            if fk.ref_table in by_name:
                parents[t.name].add(fk.ref_table)
    referenced = frozenset(
        fk.ref_table for t in tables for fk in t.foreign_keys if fk.ref_table in by_name
    )
    components = _tarjan(names, parents)  # Tarjan emits a component after all it points to
    groups: list[TableGroup] = []
    for comp in components:
        members = tuple(sorted(comp))
        member_set = set(members)
        self_loop = any(m in parents[m] for m in members)
        edges = ()
        if len(members) > 1:
            edges = tuple(
                (m, fk)
                for m in members
                for fk in by_name[m].foreign_keys
                if fk.ref_table in member_set
            )
        groups.append(TableGroup(members, cyclic=len(members) > 1 or self_loop, cycle_edges=edges))
    return DependencyOrder(tuple(groups), referenced)


def _tarjan(
    nodes: list[TableName], edges: dict[TableName, set[TableName]]
) -> list[list[TableName]]:
    """Strongly connected components, each emitted after the components it has edges to."""
    index: dict[TableName, int] = {}
    low: dict[TableName, int] = {}
    on_stack: set[TableName] = set()
    stack: list[TableName] = []
    out: list[list[TableName]] = []
    counter = 0

    for root in nodes:
        if root in index:
            continue
        # iterative DFS: (node, iterator over its successors)
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, succ = work[-1]
            advanced = False
            for nxt in succ:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                out.append(comp)
    return out
