"""Settings precedence (flag > environment > TOML file) and secrets never printed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bluegreen.demo import create_schema
from bluegreen.logsetup import register_secret, scrub
from tests.cli.conftest import bg, seed
from tests.conftest import EnginePair


def status(*args: object, env: dict[str, str] | None = None) -> dict:
    result = bg(*args, "status", "--json", env=env)
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def test_flags_beat_environment_beat_toml(tmp_path: Path, sqlite_pair: EnginePair) -> None:
    pair = sqlite_pair
    for side in ("blue", "green"):
        create_schema(pair.raw(side))
    assert bg("tracking", "enable", "--db", pair.blue_url).exit_code == 0
    other = f"sqlite:///{tmp_path / 'other.db'}"
    Path("bluegreen.toml").write_text(
        f'blue_url = "{pair.blue_url}"\ngreen_url = "{other}"\nstream = "from-toml"\n'
    )
    # only the TOML file (./bluegreen.toml)
    got = status()
    assert got["blue"] == pair.blue_url and got["green"] == other
    assert got["stream"] == "from-toml"
    # the environment beats the file
    env = {"BLUEGREEN_GREEN_URL": pair.green_url, "BLUEGREEN_STREAM": "from-env"}
    got = status(env=env)
    assert got["blue"] == pair.blue_url and got["green"] == pair.green_url
    assert got["stream"] == "from-env"
    # flags beat both
    result = bg("status", "--json", "--stream", "from-flag", "--green", other, env=env)
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["stream"] == "from-flag" and got["green"] == other
    # --config names another file, and BLUEGREEN_CONFIG does too
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(
        f'blue_url = "{pair.blue_url}"\ngreen_url = "{pair.green_url}"\nstream = "elsewhere"\n'
    )
    assert status("--config", elsewhere)["stream"] == "elsewhere"
    assert status(env={"BLUEGREEN_CONFIG": str(elsewhere)})["stream"] == "elsewhere"


def test_invalid_settings_are_reported_with_their_source(tmp_path: Path) -> None:
    Path("bluegreen.toml").write_text('batch_size = 0\nblue_url = "sqlite:///b.db"\n')
    result = bg("sync", "--green", "sqlite:///g.db")
    assert result.exit_code == 2
    assert "batch_size" in result.stderr and "bluegreen.toml" in result.stderr
    Path("bluegreen.toml").write_text('colour = "blue"\n')
    result = bg("stats", "--green", "sqlite:///g.db")
    assert result.exit_code == 2 and "colour" in result.stderr
    missing = bg("--config", tmp_path / "nope.toml", "stats")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    env = bg("stats", env={"BLUEGREEN_BATCH_SIZE": "lots"})
    assert env.exit_code == 2 and "batch_size" in env.stderr


PASSWORD = "Sup3r-S3cret-pw"


def with_password(pair: EnginePair, url: str) -> str:
    """The same database, with a password in the URL (PostgreSQL: trust auth ignores it;
    SQLite: a query parameter the driver never sees)."""
    if pair.engine == "postgresql":
        return url.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)
    return f"{url}?password={PASSWORD}"


def test_a_password_never_appears_in_output_or_logs(
    shop: EnginePair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blue, green = with_password(shop, shop.blue_url), with_password(shop, shop.green_url)
    pair = ("--blue", blue, "--green", green)
    runs = [
        bg("-v", "tracking", "enable", "--db", blue),
        bg("-v", "sync", *pair, "--dry-run"),
    ]
    seed(shop)
    runs += [
        bg("-v", "sync", *pair, "--once"),
        bg("-v", "status", *pair),
        bg("-v", "status", *pair, "--json"),
        bg("-v", "stats", "--green", green, "--tables", "--json"),
        bg("-v", "verify", *pair),
        bg("-v", "tracking", "cleanup", "--db", blue, "--green", green),
        # through the environment and a settings file, too
        bg("-v", "status", env={"BLUEGREEN_BLUE_URL": blue, "BLUEGREEN_GREEN_URL": green}),
    ]
    Path("bluegreen.toml").write_text(f'blue_url = "{blue}"\ngreen_url = "{green}"\n')
    runs.append(bg("-v", "verify", "--json"))
    for result in runs:
        assert result.exit_code == 0, result.output + result.stderr
        assert PASSWORD not in result.stdout
        assert PASSWORD not in result.stderr
    assert "window origin ->" in runs[2].stderr  # the log really was captured
    assert PASSWORD not in caplog.text
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()


@pytest.mark.postgresql
def test_a_password_never_appears_in_connection_errors(pg_pair: EnginePair) -> None:
    refused = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nowhere"
    result = bg("status", "--blue", refused, "--green", refused)
    assert result.exit_code == 75  # transient: the server may come back
    assert "transient error" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    no_db = with_password(pg_pair, pg_pair.blue_url).rsplit("/", 1)[0] + "/no_such_database"
    result = bg("stats", "--green", no_db)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_scrub_removes_passwords_in_any_form() -> None:
    register_secret("mssql://sa:Pa%40ss@db:1433/app")
    text = scrub(
        "failed: mssql://sa:Pa%40ss@db:1433/app; DRIVER={ODBC};PWD={x;y};UID=sa; "
        "host=h password=hunter22 user=u; raw Pa%40ss; postgresql://u:p@ss@h/db"
    )
    for leaked in ("Pa%40ss", "x;y", "hunter22", "p@ss"):
        assert leaked not in text
    assert "mssql://sa:***@db:1433/app" in text and "UID=sa" in text
