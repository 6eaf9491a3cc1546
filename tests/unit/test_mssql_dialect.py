"""The SQL Server dialect without a SQL Server: connection strings, redaction, the missing ODBC
driver (through a real pyodbc.connect: unixODBC is installed, Microsoft's driver is not), error
classification with real pyodbc.Error instances, and the pure helpers behind the builders."""

from __future__ import annotations

import datetime as dt
import struct
import subprocess
import sys
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bluegreen.dialects import connect, dialect_class
from bluegreen.dialects.base import Dialect
from bluegreen.dialects.mssql import (
    DEFAULT_DRIVER,
    MSSQLDialect,
    datetimeoffset,
    describe_url,
    error_codes,
    odbc_connection_string,
    odbc_value,
    parse_odbc,
    type_text,
    unquote_list,
    validity,
)
from bluegreen.errors import ApplyError, ConfigError, TerminalError, TransientError
from bluegreen.schema import Column, Table, TableName
from bluegreen.watermark import Watermark

pyodbc = pytest.importorskip("pyodbc", reason="pyodbc needs the unixODBC library")

PASSWORD = "S3cr;et}{@:/?#%pw"
URL = (
    f"mssql://app_user:{quote(PASSWORD, safe='')}@db.example.com:1433/sales"
    "?driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes&Encrypt=yes"
)


def odbc_dict(conn_str: str) -> dict[str, str]:
    return {k.upper(): v for k, v in parse_odbc(conn_str)}


# ---- URL -> ODBC connection string ----------------------------------------------------------


def test_url_becomes_an_odbc_string() -> None:
    assert odbc_connection_string(URL) == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db.example.com,1433;DATABASE=sales;"
        "UID=app_user;PWD={S3cr;et}}{@:/?#%pw};TrustServerCertificate=yes;Encrypt=yes"
    )


def test_special_characters_in_the_password_survive() -> None:
    parts = odbc_dict(odbc_connection_string(URL))
    assert parts["PWD"] == PASSWORD
    assert parts["UID"] == "app_user"
    assert parts["SERVER"] == "db.example.com,1433"


def test_a_raw_at_sign_and_slash_in_the_password_work_too() -> None:
    parts = odbc_dict(odbc_connection_string("mssql://sa:p@ss/w:rd@host:1433/db"))
    assert parts["PWD"] == "p@ss/w:rd"
    assert parts["SERVER"] == "host,1433"
    assert parts["DATABASE"] == "db"


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
    password=st.text(max_size=30).filter(lambda s: "\x00" not in s),
)
def test_any_percent_encoded_credentials_round_trip(user: str, password: str) -> None:
    url = f"mssql://{quote(user, safe='')}:{quote(password, safe='')}@h:1433/d"
    parts = parse_odbc(odbc_connection_string(url))
    assert ("UID", user) in parts
    assert ("PWD", password) in parts


def test_port_database_and_driver_are_optional() -> None:
    assert odbc_connection_string("mssql://db.example.com") == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db.example.com"
    )
    assert odbc_dict(odbc_connection_string("mssql://u:p@h/d%20b"))["DATABASE"] == "d b"


def test_driver_and_extra_options() -> None:
    conn = odbc_connection_string(
        "mssql+pyodbc://u:p@h:14330/d?driver=ODBC%20Driver%2017%20for%20SQL%20Server"
        "&ApplicationIntent=ReadOnly&Authentication=ActiveDirectoryPassword&App=a;b"
    )
    parts = parse_odbc(conn)
    assert parts[0] == ("DRIVER", "ODBC Driver 17 for SQL Server")
    assert ("SERVER", "h,14330") in parts
    assert parts[-3:] == [
        ("ApplicationIntent", "ReadOnly"),
        ("Authentication", "ActiveDirectoryPassword"),
        ("App", "a;b"),
    ]
    assert "App={a;b}" in conn


def test_named_instance_and_ipv6_hosts() -> None:
    assert odbc_dict(odbc_connection_string("mssql://u:p@host%5CSQLEXPRESS/db"))["SERVER"] == (
        "host\\SQLEXPRESS"
    )
    assert odbc_dict(odbc_connection_string("mssql://u:p@[::1]:1444/db"))["SERVER"] == "::1,1444"


def test_raw_odbc_strings_pass_through() -> None:
    raw = "DRIVER={ODBC Driver 18 for SQL Server};SERVER=tcp:h,1433;DATABASE=d;UID=u;PWD={a;b}"
    assert odbc_connection_string(raw) == raw
    assert odbc_connection_string("odbc://" + raw) == raw
    assert dialect_class(raw) is MSSQLDialect


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mssql://u:p@:1433/db", "no host"),
        ("mssql://u:p@host:14x3/db", "is not a number"),
        ("mssql://u:p@host/db?PWD=other", "repeats a part"),
        ("postgresql://u@h/db", "not an mssql:// URL"),
    ],
)
def test_bad_urls_are_config_errors(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        odbc_connection_string(url)
    assert err.value.fix


def test_odbc_values_are_braced_when_needed() -> None:
    assert odbc_value("plain") == "plain"
    assert odbc_value("a;b") == "{a;b}"
    assert odbc_value("x}y") == "{x}}y}"
    assert odbc_value(" edge") == "{ edge}"
    assert odbc_value("pw", always_brace=True) == "{pw}"
    assert parse_odbc("A={x}}y;z};B=2") == [("A", "x}y;z"), ("B", "2")]


# ---- redaction ----------------------------------------------------------------------------------


def test_describe_never_shows_credentials() -> None:
    d = MSSQLDialect(None, SecretStr(URL))
    assert d.describe() == "mssql://db.example.com:1433/sales"
    raw = "DRIVER={X};SERVER=h;DATABASE=d;UID=u;PWD={p;SERVER=evil}"
    assert describe_url(raw) == "SERVER=h;DATABASE=d"
    assert "evil" not in MSSQLDialect(None, SecretStr(raw)).describe()


def test_error_messages_scrub_the_password() -> None:
    d = MSSQLDialect(None, SecretStr(URL))
    exc = pyodbc.ProgrammingError("42000", f"[42000] echo {PASSWORD} (102) (SQLExecDirectW)")
    err = d.classify(exc, "a statement")
    assert PASSWORD not in str(err)
    assert "***" in str(err)


# ---- the missing ODBC driver, through a real pyodbc.connect -------------------------------------


def _connect_error(url: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        MSSQLDialect.connect(SecretStr(url))
    return err.value


def test_a_missing_named_driver_is_a_config_error_that_names_it() -> None:
    err = _connect_error(
        f"mssql://sa:{quote(PASSWORD, safe='')}@127.0.0.1:1/db?driver=No+Such+Driver+99"
    )
    text = str(err)
    assert "'No Such Driver 99' is not installed" in text
    assert "db" in text and "127.0.0.1:1" in text
    assert "Microsoft ODBC Driver 18" in (err.fix or "")
    assert "driver=" in (err.fix or "")
    assert PASSWORD not in text
    assert err.__cause__ is None  # the driver's exception is not chained into tracebacks


@pytest.mark.skipif(
    DEFAULT_DRIVER in pyodbc.drivers(), reason=f"{DEFAULT_DRIVER} is installed on this machine"
)
def test_the_default_driver_missing_through_the_registry() -> None:
    with pytest.raises(ConfigError) as err:
        connect(SecretStr(f"mssql://sa:{quote(PASSWORD, safe='')}@127.0.0.1:1/db"))
    assert f"'{DEFAULT_DRIVER}' is not installed" in str(err.value)
    assert PASSWORD not in str(err.value)


def test_a_raw_odbc_string_with_a_missing_driver() -> None:
    err = _connect_error("DRIVER={Nope Driver};SERVER=127.0.0.1,1;DATABASE=d;UID=u;PWD={hunter22}")
    assert "'Nope Driver' is not installed" in str(err)
    assert "hunter22" not in str(err)


# ---- error classification -----------------------------------------------------------------------


def _msg(state: str, text: str, native: int, fn: str = "SQLExecDirectW") -> str:
    return (
        f"[{state}] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]{text} ({native}) ({fn})"
    )


D = MSSQLDialect(None, SecretStr("mssql://u:pw@h:1433/db"))


@pytest.mark.parametrize(
    "exc",
    [
        pyodbc.OperationalError("08S01", _msg("08S01", "Communication link failure", 10054)),
        pyodbc.OperationalError(
            "08001", _msg("08001", "TCP Provider: timeout", 258, "SQLDriverConnect")
        ),
        pyodbc.Error("08003", _msg("08003", "Connection not open", 0)),
        pyodbc.Error("08004", _msg("08004", "Server rejected the connection", 0)),
        pyodbc.Error("08007", _msg("08007", "Connection failure during transaction", 0)),
        pyodbc.OperationalError(
            "HYT00", "[HYT00] [Microsoft][ODBC Driver 18]Query timeout expired (0) (SQLExecDirectW)"
        ),
        pyodbc.OperationalError(
            "HYT01", "[HYT01] Connection timeout expired (0) (SQLDriverConnect)"
        ),
        pyodbc.Error("40001", _msg("40001", "Transaction (Process ID 52) was deadlocked", 1205)),
        pyodbc.Error("HY000", _msg("HY000", "deadlock victim; rerun the transaction", 1205)),
        pyodbc.Error("HY000", _msg("HY000", "Lock request time out period exceeded.", 1222)),
        pyodbc.Error(
            "HY000", _msg("HY000", "Database 'x' on server 'y' is not currently available.", 40613)
        ),
        pyodbc.Error("42000", _msg("42000", "The service is currently busy.", 40501)),
        pyodbc.Error("42000", _msg("42000", "The service has encountered an error", 40197)),
        pyodbc.Error(
            "42000",
            _msg(
                "42000",
                'Cannot open database "db" requested by the login.',
                4060,
                "SQLDriverConnect",
            ),
        ),
        pyodbc.Error("HY000", _msg("HY000", "elastic pool limit", 49918)),
        pyodbc.Error("HY000", _msg("HY000", "elastic pool limit", 49919)),
        pyodbc.Error("HY000", _msg("HY000", "elastic pool limit", 49920)),
    ],
    ids=lambda e: f"{e.args[0]}",
)
def test_transient_errors(exc: Exception) -> None:
    err = D.classify(exc, "read changes of dbo.t")
    assert isinstance(err, TransientError)
    assert err.transient
    assert "read changes of dbo.t" in str(err) and "mssql://h:1433/db" in str(err)
    assert err.fix


def test_integrity_violations_are_apply_errors() -> None:
    exc = pyodbc.IntegrityError(
        "23000", _msg("23000", "Violation of PRIMARY KEY constraint 'pk_t'.", 2627)
    )
    err = D.classify(exc, "insert into green table dbo.t")
    assert isinstance(err, ApplyError)
    assert not err.transient
    assert "pk_t" in str(err)


@pytest.mark.parametrize(
    "exc",
    [
        pyodbc.ProgrammingError("42S02", _msg("42S02", "Invalid object name 'dbo.nope'.", 208)),
        # a number in parentheses inside the text is not the native error number
        pyodbc.Error("22003", _msg("22003", "value (1205) is out of range", 8115)),
        ValueError("not a driver error"),
    ],
)
def test_everything_else_is_terminal(exc: Exception) -> None:
    err = D.classify(exc, "a statement")
    assert type(err) is TerminalError
    assert not err.transient


def test_snapshot_not_allowed_says_how_to_fix_it() -> None:
    exc = pyodbc.Error(
        "HY000", _msg("HY000", "Snapshot isolation transaction failed accessing database", 3952)
    )
    err = D.classify(exc, "begin snapshot read")
    assert type(err) is TerminalError
    assert "ALLOW_SNAPSHOT_ISOLATION" in (err.fix or "")


def test_native_numbers_of_every_diagnostic_record() -> None:
    exc = pyodbc.Error(
        "01000",
        _msg("01000", "first (12) thing", 3621) + "; " + "[40001] second record (1205)",
    )
    assert error_codes(exc) == ("01000", [3621, 1205])
    assert isinstance(D.classify(exc, "x"), TransientError)
    assert error_codes(ValueError("x")) == (None, [])


def test_errors_block_translates_driver_errors() -> None:
    exc = pyodbc.OperationalError("08S01", _msg("08S01", "Communication link failure", 10054))
    with pytest.raises(TransientError) as err, D.errors("apply window"):
        raise exc
    assert err.value.__cause__ is exc


# ---- pure helpers and builders ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("nvarchar", 100, 0, 0), "nvarchar(50)"),
        (("nvarchar", -1, 0, 0), "nvarchar(max)"),
        (("nchar", 20, 0, 0), "nchar(10)"),
        (("varchar", 30, 0, 0), "varchar(30)"),
        (("varbinary", -1, 0, 0), "varbinary(max)"),
        (("binary", 16, 0, 0), "binary(16)"),
        (("decimal", 9, 12, 2), "decimal(12,2)"),
        (("NUMERIC", 5, 9, 0), "numeric(9,0)"),
        (("datetime2", 8, 27, 7), "datetime2(7)"),
        (("datetimeoffset", 10, 34, 7), "datetimeoffset(7)"),
        (("time", 5, 16, 3), "time(3)"),
        (("int", 4, 10, 0), "int"),
        (("uniqueidentifier", 16, 0, 0), "uniqueidentifier"),
        (("float", 8, 53, 0), "float"),
    ],
)
def test_type_text(args: tuple, text: str) -> None:
    assert type_text(*args) == text


def test_type_text_keeps_a_collation_other_than_the_databases() -> None:
    db = "SQL_Latin1_General_CP1_CI_AS"
    assert type_text("varchar", 20, 0, 0, db, db) == "varchar(20)"
    assert type_text("varchar", 20, 0, 0, "Latin1_General_CS_AS", db) == (
        "varchar(20) COLLATE Latin1_General_CS_AS"
    )
    assert type_text("varchar", 20, 0, 0, "bad name; DROP", db) == "varchar(20)"


def test_stage_types_are_nullable_and_collate_like_the_database() -> None:
    d = MSSQLDialect(None)
    assert d.stage_type(Column("a", "int", nullable=False, identity=True)) == "int NULL"
    assert d.stage_type(Column("b", "nvarchar(50)")) == "nvarchar(50) COLLATE DATABASE_DEFAULT NULL"
    assert d.stage_type(Column("c", "varchar(20) COLLATE Latin1_General_CS_AS")) == (
        "varchar(20) COLLATE Latin1_General_CS_AS NULL"
    )
    assert d.stage_name(3) == "#bg_stage_3"


def test_quoting_doubles_closing_brackets() -> None:
    d = MSSQLDialect(None)
    assert d.quote('we"ird ]col') == '[we"ird ]]col]'
    assert d.qualify(TableName("s]x", "t")) == "[s]]x].[t]"
    assert d.own("watermark") == "[bluegreen].[watermark]"
    assert unquote_list("[a], [b]]c], [d[e] rest", 0) == ["a", "b]c", "d[e"]


def test_identity_insert_toggles_only_when_the_identity_column_is_written() -> None:
    d = MSSQLDialect(None)
    t = Table(
        TableName("dbo", "t"),
        (Column("id]x", "int", nullable=False, identity=True), Column("v", "int")),
        ("id]x",),
    )
    with_id = d.insert_sql(t, "#bg_stage_0", ["id]x", "v"], ["id]x"])
    without = d.insert_sql(t, "#bg_stage_0", ["v"], ["id]x"])
    assert d.insert_statements(t, with_id) == [
        "SET IDENTITY_INSERT [dbo].[t] ON",
        with_id,
        "SET IDENTITY_INSERT [dbo].[t] OFF",
    ]
    assert d.insert_statements(t, without) == [without]


def test_validity_against_min_valid_version() -> None:
    name = TableName("dbo", "orders")
    ok = validity(name, Watermark(120), min_valid=100, begin=10)
    assert ok.valid and not ok.detail
    bad = validity(name, Watermark(90), min_valid=100, begin=10)
    assert not bad.valid
    assert "90" in bad.detail and "100" in bad.detail
    assert validity(name, Watermark(100), 100, 10).valid
    assert not validity(name, Watermark(5), None, None).valid
    assert validity(name, Watermark.start(), min_valid=10, begin=10).valid
    cleaned = validity(name, Watermark.start(), min_valid=40, begin=10)
    assert not cleaned.valid and "40" in cleaned.detail and "10" in cleaned.detail


def test_cleanup_is_change_trackings_own_job() -> None:
    with pytest.raises(TerminalError, match="cleans up its own"):
        MSSQLDialect(None).cleanup_changes(Watermark(5))


def test_capability_flags() -> None:
    flags = MSSQLDialect
    assert (flags.name, flags.default_schema, flags.paramstyle) == ("mssql", "dbo", "qmark")
    assert flags.supports_schemas and flags.truncate_invalidates
    assert flags.needs_identity_insert_toggle
    assert not flags.update_from_alias and not flags.delete_alias
    assert not flags.emulated_tracking
    assert flags.stage_prefix.startswith("#")
    assert issubclass(flags, Dialect)


def test_datetimeoffset_converter_keeps_every_digit_and_the_offset() -> None:
    raw = struct.pack("<6hI2h", 2024, 2, 29, 23, 59, 58, 123456700, -5, -30)
    assert datetimeoffset(raw) == "2024-02-29 23:59:58.1234567 -05:30"
    raw = struct.pack("<6hI2h", 1, 1, 1, 0, 0, 0, 0, 14, 0)
    assert datetimeoffset(raw) == "0001-01-01 00:00:00.0000000 +14:00"
    text = datetimeoffset(struct.pack("<6hI2h", 2024, 7, 1, 8, 0, 0, 500_000_000, 0, 45))
    assert dt.datetime.fromisoformat(text.replace(" +", "+")) == dt.datetime(
        2024, 7, 1, 8, 0, 0, 500_000, tzinfo=dt.timezone(dt.timedelta(minutes=45))
    )


def test_importing_the_dialect_does_not_import_pyodbc() -> None:
    code = (
        "import sys, bluegreen.dialects.mssql as m; "
        "m.odbc_connection_string('mssql://u:p@h/d'); "
        "assert 'pyodbc' not in sys.modules, 'pyodbc imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_lost_connection_is_not_alive_any_more() -> None:
    token = object()  # stands for an open pyodbc connection: only its identity matters here
    d = MSSQLDialect(token, SecretStr("mssql://u:pw@h/db"))
    assert d.is_alive()
    d.classify(pyodbc.Error("42S02", _msg("42S02", "Invalid object name", 208)), "x")
    assert d.is_alive()
    d.classify(pyodbc.OperationalError("08S01", _msg("08S01", "link failure", 10054)), "x")
    assert not d.is_alive()
    d.conn = object()  # what ensure_connected() swaps in
    assert d.is_alive()
