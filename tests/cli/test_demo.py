"""``bluegreen demo`` end to end, and its writer driven against both engines."""

from __future__ import annotations

import threading
from pathlib import Path

from bluegreen.demo import run_writer
from tests.cli.conftest import SEEDED, begin_sql, bg, count, paramstyle, seed
from tests.conftest import EnginePair


def test_demo_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = bg("demo", "--dir", folder, "--seconds", 2, "--seed", 11)
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert "green equals blue (4 table(s))" in out
    assert "1 primary-key change(s)" in out
    for table in SEEDED:
        assert table in out
    assert "MISMATCH" not in out
    # one log line per window on stderr, in the original tool's shape
    windows = [line for line in result.stderr.splitlines() if " window " in line]
    assert len(windows) >= 2
    assert any(" inserts, " in w and " updates, " in w and ") deletes in " in w for w in windows)
    assert (folder / "blue.db").is_file() and (folder / "green.db").is_file()
    # the files are left for the user to explore: status and verify agree
    urls = (
        "--blue",
        f"sqlite:///{folder / 'blue.db'}",
        "--green",
        f"sqlite:///{folder / 'green.db'}",
    )
    assert bg("verify", *urls).exit_code == 0
    # and a second run recreates the folder it made
    again = bg("demo", "--dir", folder, "--seconds", 0.3)
    assert again.exit_code == 0, again.output + again.stderr


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("do not delete")
    result = bg("demo", "--dir", folder, "--seconds", 0.2)
    assert result.exit_code == 2
    assert "thesis.tex" in result.stderr
    assert (folder / "thesis.tex").read_text() == "do not delete"


def test_writer_keeps_foreign_keys_valid_while_the_cli_syncs(shop: EnginePair) -> None:
    """The reusable writer on SQLite and PostgreSQL, synced concurrently through the CLI."""
    assert bg("tracking", "enable", "--db", shop.blue_url).exit_code == 0
    seed(shop)
    urls = ("--blue", shop.blue_url, "--green", shop.green_url)
    done = threading.Event()
    outcome: dict = {}

    def write() -> None:
        try:
            outcome["stats"] = run_writer(
                lambda: shop.raw("blue"),
                seconds=1.5,
                seed=3,
                paramstyle=paramstyle(shop),
                begin_sql=begin_sql(shop),
                pause=0.002,
            )
        except BaseException as exc:  # surfaced below
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    syncs = 0
    while not done.is_set():
        result = bg("sync", *urls, "--once")
        assert result.exit_code == 0, result.output + result.stderr
        syncs += 1
    thread.join()
    assert "error" not in outcome, outcome.get("error")
    stats = outcome["stats"]
    assert stats.transactions > 20 and stats.conflicts == 0
    assert stats.inserts and stats.updates and stats.deletes and stats.pk_changes == 1
    assert syncs >= 2
    final = bg("sync", *urls, "--until-caught-up")
    assert final.exit_code == 0
    verify = bg("verify", *urls)
    assert verify.exit_code == 0, verify.output
    assert count(shop, "green", "orders") == count(shop, "blue", "orders")
