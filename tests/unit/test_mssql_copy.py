"""SQL Server's release methods without a SQL Server: the URL settings, the copy's file plan,
the Azure copy's progress rules, error fixes, and the real pyodbc path up to the missing driver.
The statements themselves are golden-tested (tests/golden/mssql/release.*) and parsed by
sqlfluff; tests/integration/test_mssql_release_live.py runs them on a real server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from bluegreen import sqlfiles
from bluegreen.dialects.base import Dialect
from bluegreen.dialects.mssql import MSSQLDialect
from bluegreen.dialects.mssql_copy import (
    AZURE_SQL_DATABASE,
    MANAGED_INSTANCE,
    BackupFile,
    CopyProgress,
    Server,
    backup_file,
    choose_method,
    copy_finished,
    copy_settings,
    file_stem,
    join_path,
    plan_moves,
    target_name,
)
from bluegreen.dialects.mssql_odbc import (
    database_of,
    odbc_connection_string,
    parse_odbc,
    settings_of,
    with_database,
)
from bluegreen.errors import ConfigError, TerminalError

PASSWORD = "S3cr;et}{@:/?#%pw"
URL = (
    f"mssql://sa:{quote(PASSWORD, safe='')}@db.example.com:1433/sales"
    "?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes"
    "&bluegreen_backup_dir=%5C%5Cfiles%5Csql&bluegreen_copy=backup"
)
RAW = (
    "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db,1433;DATABASE=sales;UID=sa;"
    "PWD={p;w};bluegreen_data_dir={/var/opt/mssql/data};Encrypt=yes"
)


# ---- settings travel with the URL, never to the driver ----------------------------------------


def test_settings_are_read_from_an_mssql_url_and_kept_from_odbc() -> None:
    assert settings_of(URL) == {"backup_dir": "\\\\files\\sql", "copy": "backup"}
    conn = odbc_connection_string(URL)
    assert "bluegreen" not in conn.lower()
    assert conn.endswith("PWD={S3cr;et}}{@:/?#%pw};Encrypt=yes")


def test_settings_are_read_from_a_raw_odbc_string_and_kept_from_odbc() -> None:
    assert settings_of(RAW) == {"data_dir": "/var/opt/mssql/data"}
    assert settings_of("odbc://" + RAW) == {"data_dir": "/var/opt/mssql/data"}
    parts = parse_odbc(odbc_connection_string(RAW))
    assert [k for k, _ in parts] == ["DRIVER", "SERVER", "DATABASE", "UID", "PWD", "Encrypt"]
    assert ("PWD", "p;w") in parts
    plain = "DRIVER={X};SERVER=h;DATABASE=d"
    assert odbc_connection_string(plain) == plain  # nothing to take out: passed through as is


def test_an_unknown_setting_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="bluegreen_backupdir") as err:
        settings_of("mssql://u:p@h/db?bluegreen_backupdir=/x")
    assert "bluegreen_backup_dir" in (err.value.fix or "")
    assert "p@h" not in str(err.value)


def test_with_database_points_at_another_database_and_keeps_the_settings() -> None:
    master = with_database(URL, "master")
    parts = dict((k.upper(), v) for k, v in parse_odbc(master))
    assert parts["DATABASE"] == "master" and parts["SERVER"] == "db.example.com,1433"
    assert parts["PWD"] == PASSWORD
    assert settings_of(master) == settings_of(URL)
    assert database_of(master) == "master"
    odd = with_database(RAW, "we;ird}db")
    assert database_of(odd) == "we;ird}db"
    assert settings_of(odd) == {"data_dir": "/var/opt/mssql/data"}
    assert database_of(URL) == "sales" and database_of("mssql://u:p@h") is None


def test_copy_settings_take_the_target_first_then_the_source() -> None:
    s = copy_settings(
        "mssql://h/blue?bluegreen_backup_dir=/b&bluegreen_data_dir=/from-blue",
        "mssql://h/green?bluegreen_data_dir=/from-green&bluegreen_copy_timeout=90",
    )
    assert (s.method, s.backup_dir, s.data_dir, s.log_dir, s.timeout) == (
        "auto",
        "/b",
        "/from-green",
        None,
        90.0,
    )


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("bluegreen_copy=rsync", "not a copy method"),
        ("bluegreen_copy_timeout=soon", "not a positive number"),
        ("bluegreen_copy_timeout=0", "not a positive number"),
    ],
)
def test_bad_copy_settings_are_config_errors(query: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        copy_settings("mssql://h/blue", f"mssql://h/green?{query}")
    assert err.value.fix


# ---- which copy, on which server --------------------------------------------------------------

BOX = Server(3, "sqlbox", "/var/opt/mssql/data/", "/var/opt/mssql/log/", None)
AZURE = Server(AZURE_SQL_DATABASE, "myserver")


def test_the_method_follows_the_engine_edition() -> None:
    assert choose_method("auto", BOX) == "backup"
    assert choose_method("auto", AZURE) == "copy_of"
    assert choose_method("backup", BOX) == "backup"
    assert choose_method("copy_of", AZURE) == "copy_of"
    for setting, server in (("backup", AZURE), ("copy_of", BOX)):
        with pytest.raises(ConfigError, match=server.name) as err:
            choose_method(setting, server)
        assert "bluegreen_copy" in (err.value.fix or "")
    with pytest.raises(ConfigError, match="Managed Instance") as err:
        choose_method("auto", Server(MANAGED_INSTANCE, "mi"))
    assert "by hand" in (err.value.fix or "")


def test_servers_compare_by_name_ignoring_case() -> None:
    assert BOX.same_as(Server(2, "SQLBOX")) and not BOX.same_as(AZURE)


@pytest.mark.parametrize("name", ["master", "TempDB", "model", "msdb"])
def test_a_system_database_is_never_a_target(name: str) -> None:
    with pytest.raises(ConfigError, match="system database"):
        target_name(f"mssql://u:p@h/{name}")


def test_a_target_must_name_its_database() -> None:
    with pytest.raises(ConfigError, match="names no database") as err:
        target_name("mssql://u:secret@h:1433")
    assert "secret" not in str(err.value)
    assert target_name(RAW) == "sales"


# ---- the backup file and the copy's files -----------------------------------------------------


def test_paths_use_the_folders_own_separator() -> None:
    assert join_path("/var/opt/mssql/data/", "x.mdf") == "/var/opt/mssql/data/x.mdf"
    assert join_path("/var/opt/mssql/data", "x.mdf") == "/var/opt/mssql/data/x.mdf"
    assert join_path("C:\\Data", "x.mdf") == "C:\\Data\\x.mdf"
    assert join_path("C:\\Data\\", "x.mdf") == "C:\\Data\\x.mdf"
    assert join_path("\\\\files\\sql", "x.bak") == "\\\\files\\sql\\x.bak"


def test_file_stems_are_safe_and_never_shared() -> None:
    assert file_stem("bg_green-2.db") == "bg_green-2.db"
    odd = file_stem('bg]green "db"/../x')
    assert odd.startswith("bg_green__db__.._x_") and "/" not in odd and '"' not in odd
    assert file_stem("a b") != file_stem("a_b") and file_stem("a b") != file_stem("a/b")
    assert file_stem("..") != ".." and not file_stem("..").startswith(".")
    assert len(file_stem("x" * 128 + "?")) <= 89


def test_the_backup_file_names_both_databases() -> None:
    assert backup_file("/var/backups", "shop", "shop_green") == (
        "/var/backups/bluegreen_shop_to_shop_green.bak"
    )


def test_every_file_of_the_backup_moves_to_a_new_path() -> None:
    rows = [
        ("shop_log", "/data/shop_log.ldf", "L", "NULL", 0, 0, 2),
        ("shop", "/data/shop.mdf", "D", "PRIMARY", 0, 0, 1),
        ("shop_archive", "/data/shop_archive.ndf", "D", "ARCHIVE", 0, 0, 3),
        ("shop_fs", "/data/shop_fs", "S", "FS", 0, 0, 65537),
    ]
    files = [BackupFile.from_row(r) for r in rows]
    moves = plan_moves(files, "shop green", "/data/", "/logs")
    stem = file_stem("shop green")
    assert moves == [
        ("shop", f"/data/{stem}_1.mdf"),
        ("shop_log", f"/logs/{stem}_2.ldf"),
        ("shop_archive", f"/data/{stem}_3.ndf"),
        ("shop_fs", f"/data/{stem}_65537"),
    ]
    assert not {p for _, p in moves} & {r[1] for r in rows}


def test_the_restore_binds_a_pair_per_moved_file() -> None:
    d = MSSQLDialect(None)
    for moves in (1, 2, 5):
        for replace in (False, True):
            sql = d.restore_sql(moves, replace=replace)
            assert sql.count("?") == 2 + 2 * moves
            assert sql.endswith("REPLACE, RECOVERY" if replace else "TO ?, RECOVERY")
    assert d.restore_statements("x", 1, True, False) == [d.restore_sql(1, replace=True)]
    assert d.restore_statements("x]y", 1, True, True)[0] == (
        "ALTER DATABASE [x]]y] SET SINGLE_USER WITH ROLLBACK IMMEDIATE"
    )


def test_names_and_paths_are_bound_in_backup_and_restore() -> None:
    backup = sqlfiles.statement("mssql", "copy", "backup")
    assert backup.endswith("BACKUP DATABASE ? TO DISK = ? WITH COPY_ONLY, FORMAT, INIT")
    assert sqlfiles.statement("mssql", "copy", "file_list").endswith("FROM DISK = ?")
    assert sqlfiles.statement("mssql", "copy", "database_state").count("?") == 1
    assert sqlfiles.statement("mssql", "copy", "copy_progress").count("?") == 1


# ---- an Azure SQL copy's progress -------------------------------------------------------------

WHAT = "the copy of database [shop] on s to [shop_green] on s"


def test_a_copy_is_done_when_online() -> None:
    assert copy_finished(CopyProgress.from_rows([("ONLINE", None, None, None)]), WHAT, 1, 60)
    running = CopyProgress.from_rows([("COPYING", 42.5, 0, None)])
    assert running.percent == 42.5
    assert not copy_finished(running, WHAT, 1, 60)


def test_a_failed_copy_says_why() -> None:
    failed = CopyProgress.from_rows([("COPYING", 10.0, 40857, "Elastic pool is full")])
    with pytest.raises(TerminalError, match="40857: Elastic pool is full") as err:
        copy_finished(failed, WHAT, 1, 60)
    assert "[shop_green]" in str(err.value) and err.value.fix
    with pytest.raises(TerminalError, match="SUSPECT"):
        copy_finished(CopyProgress("SUSPECT"), WHAT, 1, 60)


def test_a_copy_that_vanished_failed_after_the_grace_period() -> None:
    gone = CopyProgress.from_rows([])
    assert gone == CopyProgress()
    assert not copy_finished(gone, WHAT, 5, 60)  # not listed yet
    with pytest.raises(TerminalError, match="not on the server any more"):
        copy_finished(gone, WHAT, 61, 60)


# ---- the dialect: flags, methods, errors --------------------------------------------------------


def test_the_release_methods_are_sql_servers_own() -> None:
    for method in ("copy_database", "drop_database", "database_exists", "run_script"):
        assert getattr(MSSQLDialect, method) != getattr(Dialect, method), method
    assert MSSQLDialect.copy_keeps_watermark is False
    assert MSSQLDialect.copy_blocks_source is False
    assert MSSQLDialect.copy_poll_seconds > 0


def test_copy_database_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="needs a dialect opened from a URL"):
        MSSQLDialect(None).copy_database(SecretStr("mssql://u:p@h/green"))


@pytest.fixture
def pyodbc() -> Any:
    return pytest.importorskip("pyodbc", reason="pyodbc needs the unixODBC library")


def _msg(text: str, native: int) -> str:
    return f"[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]{text} ({native})"


@pytest.mark.parametrize(
    ("native", "text", "fix"),
    [
        (3201, "Cannot open backup device '/x/b.bak'. Operating system error 5", "backup_dir"),
        (5133, 'Directory lookup for the file "/nope/g_1.mdf" failed', "bluegreen_data_dir"),
        (1834, "The file '/d/g_1.mdf' cannot be overwritten", "bluegreen_data_dir"),
        (3101, "Exclusive access could not be obtained", "sessions"),
        (262, "CREATE DATABASE permission denied in database 'master'", "dbcreator"),
        (1801, "Database 'g' already exists", "replace=True"),
    ],
)
def test_copy_errors_carry_their_fix(pyodbc: Any, native: int, text: str, fix: str) -> None:
    d = MSSQLDialect(None, SecretStr("mssql://u:pw@h:1433/master"))
    err = d.classify(pyodbc.Error("42000", _msg(text, native)), "copy [shop] to [shop_green]")
    assert type(err) is TerminalError
    assert "copy [shop] to [shop_green]" in str(err) and text in str(err)
    assert fix in (err.fix or "")


@pytest.mark.parametrize("call", ["exists", "drop"])
def test_a_missing_driver_is_reported_for_the_master_connection(pyodbc: Any, call: str) -> None:
    url = SecretStr(
        f"mssql://sa:{quote(PASSWORD, safe='')}@127.0.0.1:1/shop_green?driver=No+Such+Driver"
    )
    with pytest.raises(ConfigError) as err:
        if call == "exists":
            MSSQLDialect.database_exists(url)
        else:
            MSSQLDialect.drop_database(url)
    text = str(err.value)
    assert "'No Such Driver' is not installed" in text and "DATABASE=master" in text
    assert "opens master" in text
    assert PASSWORD not in text


def test_importing_the_release_modules_does_not_import_pyodbc() -> None:
    code = (
        "import sys, bluegreen.dialects.mssql_copy, bluegreen.dialects.mssql_script, "
        "bluegreen.dialects.mssql as m; "
        "m.MSSQLDialect(None).restore_sql(2, replace=True); "
        "assert 'pyodbc' not in sys.modules, 'pyodbc imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
