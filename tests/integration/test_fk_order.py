"""Foreign keys on green: parents first, children first for deletes, dimension deletes deferred."""

from __future__ import annotations

from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, enable, sync


def test_fact_and_its_dimension_row_deleted_in_one_window(pair: EnginePair) -> None:
    pair.ddl(
        f"CREATE TABLE region (id INTEGER PRIMARY KEY, name {pair.t('text')})",
        "CREATE TABLE sale (id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL "
        "REFERENCES region (id), amount INTEGER)",
    )
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO region VALUES (1, 'n')",
        "INSERT INTO region VALUES (2, 's')",
        "INSERT INTO sale VALUES (10, 1, 5)",
        "INSERT INTO sale VALUES (11, 2, 6)",
        "INSERT INTO sale VALUES (12, 2, 7)",
    )
    sync(pair)
    # in one window: a fact row goes, another is repointed, then their dimension row goes;
    # and a new dimension row arrives with a fact that needs it
    pair.run(
        "blue",
        "DELETE FROM sale WHERE id = 11",
        "UPDATE sale SET region_id = 1 WHERE id = 12",
        "DELETE FROM region WHERE id = 2",
        "INSERT INTO region VALUES (3, 'e')",
        "INSERT INTO sale VALUES (13, 3, 8)",
    )
    s = sync(pair)
    t = s.table_totals()
    region = next(v for k, v in t.items() if k.endswith("region"))
    sale = next(v for k, v in t.items() if k.endswith("sale"))
    assert (region.inserts, region.deferred_deletes, region.deletes) == (1, 1, 0)
    assert (sale.inserts, sale.updates, sale.deletes) == (1, 1, 1)
    assert s.totals.deferred_deletes == 1
    assert_same(pair)


def test_self_referencing_table(pair: EnginePair) -> None:
    pair.ddl(
        "CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp (id), "
        f"name {pair.t('text')})"
    )
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO emp VALUES (1, NULL, 'ceo')",
        "INSERT INTO emp VALUES (2, 1, 'vp')",
        "INSERT INTO emp VALUES (3, 2, 'eng')",
    )
    sync(pair)
    # a new boss arrives and an existing row is repointed to it in the same window; a middle
    # manager leaves after the reports are repointed; a whole new chain arrives at once
    pair.run(
        "blue",
        "INSERT INTO emp VALUES (4, 1, 'new vp')",
        "UPDATE emp SET boss = 4 WHERE id = 3",
        "DELETE FROM emp WHERE id = 2",
        "INSERT INTO emp VALUES (5, NULL, 'x')",
        "INSERT INTO emp VALUES (6, 5, 'y')",
        "INSERT INTO emp VALUES (7, 6, 'z')",
        "UPDATE emp SET boss = 7 WHERE id = 5",
    )
    sync(pair)
    assert_same(pair)
    # delete a whole chain (rows pointing at each other) in one window
    pair.run("blue", "UPDATE emp SET boss = NULL WHERE id = 5", "DELETE FROM emp WHERE id >= 5")
    sync(pair)
    assert_same(pair)


def test_foreign_key_cycle_between_two_tables(pair: EnginePair) -> None:
    pair.ddl(
        "CREATE TABLE dept (id INTEGER PRIMARY KEY, manager_id INTEGER)",
        "CREATE TABLE person (id INTEGER PRIMARY KEY, dept_id INTEGER REFERENCES dept (id))",
        *(
            [
                "ALTER TABLE dept ADD CONSTRAINT fk_mgr "
                "FOREIGN KEY (manager_id) REFERENCES person (id)"
            ]
            if pair.engine != "sqlite"
            else []
        ),
    )
    if pair.engine == "sqlite":  # SQLite cannot add a constraint later: rebuild dept with it
        for side in ("blue", "green"):
            pair.run(
                side,
                "DROP TABLE person",
                "DROP TABLE dept",
                "CREATE TABLE dept (id INTEGER PRIMARY KEY, "
                "manager_id INTEGER REFERENCES person (id))",
                "CREATE TABLE person (id INTEGER PRIMARY KEY, "
                "dept_id INTEGER REFERENCES dept (id))",
            )
    enable(pair)
    # a department and its manager arrive together (each references the other)
    pair.run(
        "blue",
        "INSERT INTO dept VALUES (1, NULL)",
        "INSERT INTO person VALUES (10, 1)",
        "UPDATE dept SET manager_id = 10 WHERE id = 1",
        "INSERT INTO dept VALUES (2, NULL)",
        "INSERT INTO person VALUES (20, 2)",
        "UPDATE dept SET manager_id = 20 WHERE id = 2",
    )
    blue, green = pair.blue(), pair.green()
    from bluegreen.sync.runner import Syncer

    plan = Syncer(blue, green).prepare()
    assert any(s.second_pass for s in plan.steps), plan.describe()
    blue.close()
    green.close()
    s = sync(pair)
    assert s.totals.inserts == 4
    assert_same(pair)
    # and leave together: both rows of a pair that reference each other are deleted
    pair.run(
        "blue",
        "UPDATE dept SET manager_id = NULL WHERE id = 2",
        "DELETE FROM person WHERE id = 20",
        "DELETE FROM dept WHERE id = 2",
    )
    s = sync(pair)
    assert s.totals.deferred_deletes == 2
    assert_same(pair)
