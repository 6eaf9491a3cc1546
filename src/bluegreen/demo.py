"""``bluegreen demo``: a small shop on two SQLite files, written to while it is synced.

The schema is realistic on purpose: a ``region`` dimension, a ``customer`` table that references
region and itself (``referred_by``), a ``product`` dimension and an ``orders`` fact with decimal
amounts, timestamps and unicode notes. Tracking is enabled on blue *before* any row is written,
so a green that starts empty converges from the change log alone.

By default green's schema is *not* blue's, and a mapping workbook (written into the demo folder
by the mapping package's own writer) says how they differ: ``customer.name`` is ``full_name`` on
green (N), ``orders.amount`` is a wider decimal (T), green's ``orders.synced_version`` holds the
change-tracking version of each row's last change (V), ``customer.email`` and ``phone`` live in
a second table ``customer_contact`` keyed by the customer id (S), and ``orders.status`` text is
replaced by the key of green's ``order_status`` lookup table, new statuses inserted on the way
(L). The final check compares green with blue *seen through the mapping*
(:func:`bluegreen.release.verify.verify_pair`). ``mapping=False`` runs the identity demo: both
sides have blue's schema.

The writer (:func:`run_writer`) is reusable: it takes a factory of plain DB-API connections
(autocommit mode; it issues its own ``BEGIN``/``COMMIT``), works on SQLite and PostgreSQL, and
keeps every foreign key valid: it repoints children before deleting a referenced row, and changes
a primary key once. It only knows blue's schema. The benchmark and the fault tests drive it
against their own databases.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen.dialects import Dialect, connect
from bluegreen.errors import ConfigError
from bluegreen.mapping import MappingPlanBuilder
from bluegreen.mapping.model import MappingRow
from bluegreen.mapping.workbook import write_mapping
from bluegreen.release.verify import VerifyReport, verify_pair
from bluegreen.schema import Schema
from bluegreen.status import sync_stats
from bluegreen.sync.plan import SyncPlan, build_plan
from bluegreen.sync.runner import PlanBuilder, RunSummary, Syncer

log = logging.getLogger("bluegreen.demo")

TABLES = ("region", "customer", "product", "orders")

SCHEMA = (
    """CREATE TABLE region (
        id INTEGER PRIMARY KEY,
        code VARCHAR(8) NOT NULL,
        name VARCHAR(100) NOT NULL
    )""",
    """CREATE TABLE customer (
        id INTEGER PRIMARY KEY,
        region_id INTEGER NOT NULL REFERENCES region (id),
        referred_by INTEGER REFERENCES customer (id),
        name VARCHAR(100) NOT NULL,
        email VARCHAR(200),
        phone VARCHAR(40),
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE product (
        id INTEGER PRIMARY KEY,
        sku VARCHAR(20) NOT NULL,
        name VARCHAR(200) NOT NULL,
        price DECIMAL(12, 2) NOT NULL
    )""",
    """CREATE TABLE orders (
        id INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customer (id),
        product_id INTEGER NOT NULL REFERENCES product (id),
        quantity INTEGER NOT NULL,
        amount DECIMAL(12, 2) NOT NULL,
        status VARCHAR(20) NOT NULL DEFAULT 'new',
        ordered_at TIMESTAMP NOT NULL,
        note VARCHAR(200)
    )""",
)

# Green's schema in the mapping demo: what the workbook (MAPPING_ROWS) maps blue's onto.
GREEN_SCHEMA = (
    """CREATE TABLE region (
        id INTEGER PRIMARY KEY,
        code VARCHAR(8) NOT NULL,
        name VARCHAR(100) NOT NULL
    )""",
    """CREATE TABLE customer (
        id INTEGER PRIMARY KEY,
        region_id INTEGER NOT NULL REFERENCES region (id),
        referred_by INTEGER REFERENCES customer (id),
        full_name VARCHAR(100) NOT NULL,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE customer_contact (
        id INTEGER PRIMARY KEY REFERENCES customer (id),
        email VARCHAR(200),
        phone VARCHAR(40)
    )""",
    """CREATE TABLE product (
        id INTEGER PRIMARY KEY,
        sku VARCHAR(20) NOT NULL,
        name VARCHAR(200) NOT NULL,
        price DECIMAL(12, 2) NOT NULL
    )""",
    """CREATE TABLE order_status (
        id INTEGER PRIMARY KEY,
        name VARCHAR(20) NOT NULL UNIQUE
    )""",
    """CREATE TABLE orders (
        id INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customer (id),
        product_id INTEGER NOT NULL REFERENCES product (id),
        quantity INTEGER NOT NULL,
        amount NUMERIC(14, 2) NOT NULL,
        status_id INTEGER NOT NULL REFERENCES order_status (id),
        ordered_at TIMESTAMP NOT NULL,
        note VARCHAR(200),
        synced_version BIGINT
    )""",
    # green knows a few statuses already; the sync inserts the others (policy ``insert``)
    "INSERT INTO order_status (name) VALUES ('new'), ('paid'), ('shipped')",
)

WORKBOOK = "mapping.xlsx"

# The demo workbook's rows: (blue table, blue column, operation, green table, green column,
# green type, notes); L rows get their lookup cells in mapping_rows().
_ROWS: tuple[tuple[str, str | None, str, str, str, str | None, str], ...] = (
    ("customer", "name", "N", "customer", "full_name", "VARCHAR(100)", "renamed on green"),
    ("customer", "email", "S", "customer_contact", "email", None, "split off, keyed by id"),
    ("customer", "phone", "S", "customer_contact", "phone", None, "split off, keyed by id"),
    ("orders", "amount", "T", "orders", "amount", "NUMERIC(14,2)", "widened: 12 -> 14 digits"),
    (
        "orders",
        "status",
        "L",
        "orders",
        "status_id",
        "INTEGER",
        "the key of order_status; a status green lacks is inserted",
    ),
    (
        "orders",
        None,
        "V",
        "orders",
        "synced_version",
        "BIGINT",
        "the change-tracking version of the row's last change",
    ),
)

REGIONS = (
    ("IDF", "Île-de-France"),
    ("BY", "Bayern"),
    ("KT", "関東 Kantō"),
    ("SP", "São Paulo"),
    ("ON", "Ontario"),
    ("MAL", "Małopolska"),
)
FIRST = ("Ana", "Björn", "Chloé", "Dmitri", "Eşref", "Fatima", "Günter", "Hiro", "Inès", "José")
LAST = ("Øster", "Müller", "Nakamura", "O'Brien", "Pérez", "Quist", "Rossi", "Šimek", "Tanaka")
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled", "retourné ↩")
ITEMS = ("kaffe", "thé vert", "Schokolade", "umbrella ☂", "mug", "茶碗", "cable", "notebook")
NOTES = (
    None,
    "livraison rapide",
    "gift wrap 🎁",
    "früh liefern",
    "お急ぎ",
    "call before — please",
    "",
    "fragile ✓",
)


def create_schema(conn: Any, statements: Sequence[str] = SCHEMA) -> None:
    """Create the demo tables on one database (an autocommit DB-API connection); blue's schema
    unless ``statements`` says otherwise (:data:`GREEN_SCHEMA` for the mapping demo's green)."""
    cur = conn.cursor()
    try:
        cur.execute("BEGIN")
        for stmt in statements:
            cur.execute(stmt)
        cur.execute("COMMIT")
    finally:
        cur.close()


# ---- the writer ---------------------------------------------------------------------------------
@dataclass
class WriterStats:
    """What a writer did; ``conflicts`` are integrity errors (always 0 with a single writer)."""

    transactions: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    pk_changes: int = 0
    retries: int = 0
    conflicts: int = 0
    by_table: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, table: str, n: int = 1) -> None:
        setattr(self, kind, getattr(self, kind) + n)
        self.by_table[table] = self.by_table.get(table, 0) + n


_RETRYABLE = ("locked", "busy", "deadlock", "could not serialize", "serialization failure")
_CONFLICT = ("foreign key", "unique", "constraint", "duplicate key", "violates")


class _Ids:
    """Key allocator: ``writers`` writers never hand out the same new key (stride by writer)."""

    def __init__(self, start: int, writer_id: int, writers: int) -> None:
        self.next = start + (writer_id - start) % writers
        self.stride = writers

    def take(self) -> int:
        value = self.next
        self.next += self.stride
        return value


class Writer:
    """Random FK-valid inserts, updates and deletes on the demo schema, in small transactions."""

    def __init__(
        self,
        conn: Any,
        *,
        rng: random.Random,
        paramstyle: str = "qmark",
        begin_sql: str = "BEGIN",
        writer_id: int = 0,
        writers: int = 1,
    ) -> None:
        self.conn = conn
        self.rng = rng
        self.paramstyle = paramstyle
        self.begin_sql = begin_sql
        self.stats = WriterStats()
        self.writer_id = writer_id
        self.writers = writers
        self.ids = {t: _Ids(self._max_id(t) + 1, writer_id, writers) for t in TABLES}
        self.pk_change_done = False

    # -- plumbing --
    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.paramstyle == "format" else text

    def _exec(self, sql: str, params: tuple = ()) -> int:
        cur = self.conn.cursor()
        try:
            cur.execute(self._sql(sql), params)
            return cur.rowcount
        finally:
            cur.close()

    def _one(self, sql: str, params: tuple = ()) -> Any:
        cur = self.conn.cursor()
        try:
            cur.execute(self._sql(sql), params)
            row = cur.fetchone()
            return None if row is None else row[0]
        finally:
            cur.close()

    def _max_id(self, table: str) -> int:
        return int(self._one(f"SELECT COALESCE(MAX(id), 0) FROM {table}") or 0)

    def _pick(self, table: str, where: str = "1 = 1", params: tuple = ()) -> int | None:
        return self._one(f"SELECT id FROM {table} WHERE {where} ORDER BY random() LIMIT 1", params)

    def _count(self, table: str) -> int:
        return int(self._one(f"SELECT COUNT(*) FROM {table}"))

    def _when(self) -> str:
        base = dt.datetime(2025, 1, 1) + dt.timedelta(seconds=self.rng.randrange(0, 90 * 86400))
        return base.isoformat(sep=" ")

    def _money(self, low: int = 100, high: int = 50_000) -> str:
        # text, not float: exact on PostgreSQL (numeric), and SQLite's NUMERIC affinity parses it
        return str(decimal.Decimal(self.rng.randrange(low, high)) / 100)

    def _name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def _email(self, name: str, cid: int) -> str | None:
        return f"{name.split()[0].lower()}.{cid}@example.org" if self.rng.random() < 0.8 else None

    def _phone(self) -> str | None:
        if self.rng.random() < 0.4:
            return None
        return f"+{self.rng.choice((33, 49, 81, 55, 1, 48))} {self.rng.randrange(10**8, 10**9)}"

    # -- operations (each keeps every FK valid) --
    def insert_region(self) -> None:
        code, name = self.rng.choice(REGIONS)
        rid = self.ids["region"].take()
        self._exec("INSERT INTO region (id, code, name) VALUES (?, ?, ?)", (rid, code, name))
        self.stats.count("inserts", "region")

    def update_region(self) -> None:
        rid = self._pick("region")
        if rid is not None:
            name = f"{self.rng.choice(REGIONS)[1]} {self.rng.randrange(100)}"
            self._exec("UPDATE region SET name = ? WHERE id = ?", (name, rid))
            self.stats.count("updates", "region")

    def insert_customer(self) -> None:
        region = self._pick("region")
        if region is None:
            return self.insert_region()
        referrer = self._pick("customer") if self.rng.random() < 0.5 else None
        cid = self.ids["customer"].take()
        name = self._name()
        self._exec(
            "INSERT INTO customer (id, region_id, referred_by, name, email, phone, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cid, region, referrer, name, self._email(name, cid), self._phone(), self._when()),
        )
        self.stats.count("inserts", "customer")
        return None

    def update_customer(self) -> None:
        cid = self._pick("customer")
        if cid is None:
            return
        choice = self.rng.random()
        if choice < 0.3:
            self._exec("UPDATE customer SET name = ? WHERE id = ?", (self._name(), cid))
        elif choice < 0.5:
            email = self._email(self._name(), cid)
            self._exec(
                "UPDATE customer SET email = ?, phone = ? WHERE id = ?", (email, self._phone(), cid)
            )
        elif choice < 0.7:
            region = self._pick("region")
            self._exec("UPDATE customer SET region_id = ? WHERE id = ?", (region, cid))
        else:
            other = self._pick("customer", "id <> ?", (cid,))
            self._exec("UPDATE customer SET referred_by = ? WHERE id = ?", (other, cid))
        self.stats.count("updates", "customer")

    def delete_customer(self) -> None:
        """Delete a referenced customer: its referrals and orders move to another one first."""
        if self._count("customer") < 10:
            return
        victim = self._pick("customer")
        heir = self._pick("customer", "id <> ?", (victim,))
        if victim is None or heir is None:
            return
        n = self._exec("UPDATE customer SET referred_by = NULL WHERE referred_by = ?", (victim,))
        self.stats.count("updates", "customer", max(0, n))
        n = self._exec("UPDATE orders SET customer_id = ? WHERE customer_id = ?", (heir, victim))
        self.stats.count("updates", "orders", max(0, n))
        self._exec("DELETE FROM customer WHERE id = ?", (victim,))
        self.stats.count("deletes", "customer")

    def change_customer_key(self) -> bool:
        """Move one childless customer to a new primary key (a delete plus an insert in CT)."""
        cid = self._pick(
            "customer",
            "NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.customer_id = customer.id) "
            "AND NOT EXISTS (SELECT 1 FROM customer AS r WHERE r.referred_by = customer.id)",
        )
        if cid is None:
            return False
        self._exec("UPDATE customer SET id = ? WHERE id = ?", (self.ids["customer"].take(), cid))
        self.stats.count("pk_changes", "customer")
        return True

    def insert_product(self) -> None:
        pid = self.ids["product"].take()
        self._exec(
            "INSERT INTO product (id, sku, name, price) VALUES (?, ?, ?, ?)",
            (pid, f"SKU-{pid:05d}", self.rng.choice(ITEMS), self._money()),
        )
        self.stats.count("inserts", "product")

    def update_product(self) -> None:
        pid = self._pick("product")
        if pid is not None:
            self._exec("UPDATE product SET price = ? WHERE id = ?", (self._money(), pid))
            self.stats.count("updates", "product")

    def delete_product(self) -> None:
        """Delete a referenced product after its orders moved to another product."""
        if self._count("product") < 5:
            return
        victim = self._pick("product")
        heir = self._pick("product", "id <> ?", (victim,))
        if victim is None or heir is None:
            return
        n = self._exec("UPDATE orders SET product_id = ? WHERE product_id = ?", (heir, victim))
        self.stats.count("updates", "orders", max(0, n))
        self._exec("DELETE FROM product WHERE id = ?", (victim,))
        self.stats.count("deletes", "product")

    def insert_order(self, oid: int | None = None) -> None:
        customer = self._pick("customer")
        product = self._pick("product")
        if customer is None:
            return self.insert_customer()
        if product is None:
            return self.insert_product()
        oid = oid if oid is not None else self.ids["orders"].take()
        self._exec(
            "INSERT INTO orders "
            "(id, customer_id, product_id, quantity, amount, status, ordered_at, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                oid,
                customer,
                product,
                self.rng.randrange(1, 10),
                self._money(),
                self.rng.choice(STATUSES),
                self._when(),
                self.rng.choice(NOTES),
            ),
        )
        self.stats.count("inserts", "orders")
        return None

    def update_order(self) -> None:
        oid = self._pick("orders")
        if oid is None:
            return
        choice = self.rng.random()
        if choice < 0.4:
            self._exec("UPDATE orders SET amount = ? WHERE id = ?", (self._money(), oid))
        elif choice < 0.7:
            status = self.rng.choice(STATUSES)
            self._exec("UPDATE orders SET status = ? WHERE id = ?", (status, oid))
        else:
            note = f"{self.rng.choice(NOTES) or 'note'} #{self.rng.randrange(1000)}"
            self._exec("UPDATE orders SET note = ? WHERE id = ?", (note, oid))
        self.stats.count("updates", "orders")

    def delete_order(self) -> None:
        oid = self._pick("orders")
        if oid is not None:
            self._exec("DELETE FROM orders WHERE id = ?", (oid,))
            self.stats.count("deletes", "orders")

    def reinsert_order(self) -> None:
        """Delete an order and insert a different one under the same key (CT nets it to U)."""
        oid = self._pick("orders")
        if oid is not None:
            self._exec("DELETE FROM orders WHERE id = ?", (oid,))
            self.stats.count("deletes", "orders")
            self.insert_order(oid)

    OPERATIONS: tuple[tuple[str, int], ...] = (
        ("insert_order", 30),
        ("update_order", 15),
        ("delete_order", 8),
        ("reinsert_order", 2),
        ("insert_customer", 10),
        ("update_customer", 10),
        ("delete_customer", 3),
        ("insert_product", 4),
        ("update_product", 8),
        ("delete_product", 2),
        ("insert_region", 1),
        ("update_region", 2),
    )

    # -- transactions --
    def transaction(self, operations: int) -> None:
        """One transaction of ``operations`` random operations (the first key change included
        in the fifth transaction); a lock conflict rolls back and counts a retry."""
        names = [n for n, _ in self.OPERATIONS]
        weights = [w for _, w in self.OPERATIONS]
        try:
            self._exec(self.begin_sql)
            if not self.pk_change_done and self.stats.transactions >= 4:
                self.pk_change_done = self.change_customer_key()
            for name in self.rng.choices(names, weights, k=operations):
                getattr(self, name)()
            self._exec("COMMIT")
            self.stats.transactions += 1
        except Exception as exc:
            self._rollback()
            text = str(exc).lower()
            if any(m in text for m in _RETRYABLE):
                self.stats.retries += 1
            elif self.writers > 1 and any(m in text for m in _CONFLICT):
                self.stats.conflicts += 1  # another writer moved the row we picked
            else:
                raise

    def _rollback(self) -> None:
        try:
            self._exec("ROLLBACK")
        except Exception:
            rollback = getattr(self.conn, "rollback", None)
            if rollback is not None:
                try:
                    rollback()
                except Exception:
                    pass

    def seed(
        self, regions: int = 5, customers: int = 40, products: int = 15, orders: int = 150
    ) -> None:
        """Initial rows, in a handful of transactions (all of them tracked on blue)."""
        batches: list[tuple[Callable[[], None], int]] = [
            (self.insert_region, regions),
            (self.insert_product, products),
            (self.insert_customer, customers),
            (self.insert_order, orders),
        ]
        for op, n in batches:
            self._exec(self.begin_sql)
            try:
                for _ in range(n):
                    op()
                self._exec("COMMIT")
            except BaseException:
                self._rollback()
                raise
            self.stats.transactions += 1


def run_writer(
    connect_raw: Callable[[], Any],
    *,
    seconds: float | None = None,
    stop: threading.Event | None = None,
    seed: int | None = None,
    paramstyle: str = "qmark",
    begin_sql: str = "BEGIN",
    writer_id: int = 0,
    writers: int = 1,
    max_operations: int = 5,
    pause: float = 0.005,
    max_transactions: int | None = None,
) -> WriterStats:
    """Write random FK-valid changes until ``seconds`` pass, ``stop`` is set or
    ``max_transactions`` committed; the connection comes from ``connect_raw()`` (autocommit) and
    is closed at the end. Run several with distinct ``writer_id`` (and ``writers``) at once."""
    if seconds is None and stop is None and max_transactions is None:
        raise ConfigError(
            "run_writer needs an end", fix="pass seconds=, stop= or max_transactions="
        )
    conn = connect_raw()
    try:
        writer = Writer(
            conn,
            rng=random.Random(seed),
            paramstyle=paramstyle,
            begin_sql=begin_sql,
            writer_id=writer_id,
            writers=writers,
        )
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            if stop is not None and stop.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            if max_transactions is not None and writer.stats.transactions >= max_transactions:
                break
            writer.transaction(writer.rng.randint(1, max_operations))
            if pause:
                time.sleep(pause)
        return writer.stats
    finally:
        conn.close()


def seed_rows(connect_raw: Callable[[], Any], *, seed: int | None = None, **kw: Any) -> WriterStats:
    """Seed the demo schema with initial rows through a fresh connection."""
    conn = connect_raw()
    try:
        writer = Writer(
            conn,
            rng=random.Random(seed),
            paramstyle=kw.pop("paramstyle", "qmark"),
            begin_sql=kw.pop("begin_sql", "BEGIN"),
        )
        writer.seed(**kw)
        return writer.stats
    finally:
        conn.close()


# ---- the demo ---------------------------------------------------------------------------------
def sqlite_raw(path: Path) -> Callable[[], Any]:
    """A factory of autocommit sqlite3 connections, configured like an application's."""
    import sqlite3

    def factory() -> Any:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        return conn

    return factory


_DEMO_FILES = ("blue.db", "green.db", WORKBOOK)


def prepare_folder(folder: Path) -> tuple[Path, Path]:
    """(Re)create ``folder`` for the demo; refuse to wipe a folder that holds anything else."""
    if folder.exists():
        if not folder.is_dir():
            raise ConfigError(f"{folder} exists and is not a folder", fix="pick another --dir")
        strangers = [
            p.name for p in folder.iterdir() if not any(p.name.startswith(f) for f in _DEMO_FILES)
        ]
        if strangers:
            raise ConfigError(
                f"demo folder {folder} holds files the demo did not create "
                f"({', '.join(sorted(strangers)[:5])})",
                fix="pick an empty or new folder with --dir (the demo recreates it)",
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder / "blue.db", folder / "green.db"


def mapping_rows() -> list[MappingRow]:
    """The demo workbook's rows (N, S, T, L, V), numbered as they appear in the sheet."""
    rows = []
    for i, (btable, bcol, op, gtable, gcol, gtype, notes) in enumerate(_ROWS):
        lookup: dict[str, str] = {}
        if op == "L":
            lookup = {
                "lookup_table": "order_status",
                "lookup_key": "id",
                "lookup_value": "name",
                "on_missing": "insert",
            }
        rows.append(
            MappingRow(
                row=i + 2,
                blue_table=btable,
                blue_column=bcol,
                operation=op,
                green_table=gtable,
                green_column=gcol,
                green_type=gtype,
                notes=notes,
                **lookup,
            )
        )
    return rows


def write_demo_workbook(path: Path, blue: Schema, green: Schema) -> Path:
    """Write the demo's mapping workbook with the mapping package's writer (drop-down lists
    from both live schemas), so the file the demo syncs through is one a user could edit."""
    return write_mapping(mapping_rows(), path, blue, green)


@dataclass
class DemoResult:
    """What the demo did, and the verification of green against blue (through the mapping)."""

    blue_url: str
    green_url: str
    workbook: Path | None
    plan: SyncPlan
    writer: WriterStats
    run: RunSummary
    final: RunSummary
    report: VerifyReport
    totals: dict[str, Any]
    tables: list[dict[str, Any]]


def _build(folder: Path, mapping: bool) -> tuple[Path, Path, Path | None]:
    """Both databases (green shaped like blue, or like :data:`GREEN_SCHEMA`) and the workbook."""
    blue_path, green_path = prepare_folder(folder)
    for factory, ddl in (
        (sqlite_raw(blue_path), SCHEMA),
        (sqlite_raw(green_path), GREEN_SCHEMA if mapping else SCHEMA),
    ):
        conn = factory()
        try:
            create_schema(conn, ddl)
        finally:
            conn.close()
    if not mapping:
        return blue_path, green_path, None
    with connect(f"sqlite:///{blue_path}") as blue, connect(f"sqlite:///{green_path}") as green:
        workbook = write_demo_workbook(folder / WORKBOOK, blue.introspect(), green.introspect())
    return blue_path, green_path, workbook


def run_demo(
    folder: Path,
    seconds: float = 5.0,
    interval: float = 0.2,
    seed: int | None = None,
    *,
    mapping: bool = True,
    on_plan: Callable[[SyncPlan, Path | None], None] | None = None,
) -> DemoResult:
    """Create both databases (and the workbook), track blue, write while following, catch up,
    then verify green against blue through the plan.

    ``on_plan`` sees the plan (and the workbook's path) before the writer starts, so a caller
    can show it ahead of the window lines."""
    blue_path, green_path, workbook = _build(folder, mapping)
    raw_blue = sqlite_raw(blue_path)
    blue_url, green_url = f"sqlite:///{blue_path}", f"sqlite:///{green_path}"
    with connect(blue_url) as blue, connect(green_url) as green:
        schema = blue.introspect()
        blue.enable_tracking([schema.table(t) for t in TABLES])
        log.info("tracking enabled on blue for %s", ", ".join(TABLES))
        seed_rows(raw_blue, seed=seed, begin_sql="BEGIN IMMEDIATE")

        builder: PlanBuilder | None = None
        if workbook is not None:
            builder = MappingPlanBuilder(workbook)
        syncer = Syncer(blue, green, plan_builder=builder)
        plan = syncer.prepare()
        if on_plan is not None:
            on_plan(plan, workbook)
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def write() -> None:
            try:
                outcome["stats"] = run_writer(
                    raw_blue,
                    seconds=seconds,
                    seed=None if seed is None else seed + 1,
                    begin_sql="BEGIN IMMEDIATE",
                )
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                done.set()

        thread = threading.Thread(target=write, name="bluegreen-demo-writer", daemon=True)
        thread.start()
        try:
            run = syncer.follow(interval, done)
        finally:
            done.set()
            thread.join()
        if "error" in outcome:
            raise outcome["error"]
        final = syncer.until_caught_up()
        report = verify_demo(blue, green, builder)
        stats = sync_stats(syncer.state, "demo green")
    return DemoResult(
        blue_url=blue_url,
        green_url=green_url,
        workbook=workbook,
        plan=plan,
        writer=outcome["stats"],
        run=run,
        final=final,
        report=report,
        totals=stats.totals,
        tables=stats.tables,
    )


def verify_demo(blue: Dialect, green: Dialect, builder: PlanBuilder | None) -> VerifyReport:
    """Green against blue seen through the plan: with a workbook, blue's rows are shaped by the
    sync's own shaper (casts, lookups by the value green's lookup row holds) before hashing."""
    if builder is None:
        plan = build_plan(blue.introspect(), green.introspect(), blue.tracked_tables())
        shaper = None
    else:
        plan, shaper = builder(blue, green)
    blue.rollback()
    green.rollback()
    return verify_pair(blue, green, plan, shaper)
