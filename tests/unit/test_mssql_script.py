"""sqlcmd-style scripts cut into batches on GO (MSSQLDialect.run_script sends each batch)."""

from __future__ import annotations

import pytest

from bluegreen.dialects.mssql_script import Batch, split_batches
from bluegreen.errors import ConfigError


def texts(script: str) -> list[str]:
    return [b.text for b in split_batches(script)]


def test_go_on_its_own_line_separates_batches() -> None:
    script = "CREATE TABLE t (a int);\nGO\nCREATE VIEW v AS SELECT a FROM t;\nGO\n"
    assert split_batches(script) == [
        Batch("CREATE TABLE t (a int);", 1),
        Batch("CREATE VIEW v AS SELECT a FROM t;", 3),
    ]


def test_go_is_case_insensitive_and_may_be_indented_or_commented() -> None:
    script = "SELECT 1\ngo\nSELECT 2\n  Go  \nSELECT 3\n\tGO -- end of part 3\nSELECT 4"
    assert texts(script) == ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4"]


def test_a_count_repeats_the_batch() -> None:
    (insert, select) = split_batches("INSERT INTO t DEFAULT VALUES\nGO 3\nSELECT 1\ngo 1\n")
    assert (insert.text, insert.count) == ("INSERT INTO t DEFAULT VALUES", 3)
    assert (select.text, select.count) == ("SELECT 1", 1)


def test_go_zero_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError, match="line 2") as err:
        split_batches("SELECT 1\nGO 0\n")
    assert err.value.fix


def test_trailing_go_and_empty_batches_send_nothing_extra() -> None:
    assert texts("SELECT 1\nGO\n") == ["SELECT 1"]
    assert texts("SELECT 1\nGO\nGO\n\n  \nGO\n-- only a comment\n/* and a block */\nGO") == [
        "SELECT 1"
    ]
    assert texts("") == []
    assert texts("GO\n") == []


def test_go_inside_a_string_is_text() -> None:
    script = "INSERT INTO t VALUES (N'line one\nGO\nline three')\nGO\nSELECT 2"
    assert texts(script) == ["INSERT INTO t VALUES (N'line one\nGO\nline three')", "SELECT 2"]
    # an escaped quote does not end the string
    script = "SELECT 'it''s\nGO\nstill a string'\nGO\nSELECT 2"
    assert texts(script) == ["SELECT 'it''s\nGO\nstill a string'", "SELECT 2"]


def test_go_inside_comments_separates_nothing() -> None:
    script = "SELECT 1 /* a comment\nGO\n*/\nSELECT 2\nGO\nSELECT 3"
    assert texts(script) == ["SELECT 1 /* a comment\nGO\n*/\nSELECT 2", "SELECT 3"]
    # T-SQL block comments nest: the first */ does not end the outer one
    script = "/* outer /* inner */\nGO\nstill outer */ SELECT 1\nGO\nSELECT 2"
    assert texts(script) == ["/* outer /* inner */\nGO\nstill outer */ SELECT 1", "SELECT 2"]
    # a quote inside a line comment opens no string
    assert texts("SELECT 1 -- it's here\nGO\nSELECT 2") == ["SELECT 1 -- it's here", "SELECT 2"]
    # a comment marker inside a string is text
    assert texts("SELECT '/*'\nGO\nSELECT '--'\nGO\nSELECT 3") == [
        "SELECT '/*'",
        "SELECT '--'",
        "SELECT 3",
    ]


def test_go_inside_quoted_identifiers_is_a_name() -> None:
    script = 'CREATE TABLE [odd\nGO\n]]name] ("we""ird\nGO\n" int)\nGO\nSELECT 1'
    assert texts(script) == ['CREATE TABLE [odd\nGO\n]]name] ("we""ird\nGO\n" int)', "SELECT 1"]


def test_goto_and_go_with_other_text_are_tsql() -> None:
    script = "WHILE 1 = 1\nGOTO done\ndone:\nGO\nSELECT 1 AS go\ngo_away:\nGO x\nGO"
    assert texts(script) == ["WHILE 1 = 1\nGOTO done\ndone:", "SELECT 1 AS go\ngo_away:\nGO x"]


def test_windows_line_ends_and_a_byte_order_mark() -> None:
    script = "\ufeffSELECT 1\r\nGO\r\nSELECT 2\r\nGO\r\n"
    assert texts(script) == ["SELECT 1", "SELECT 2"]


def test_batches_name_their_first_line_of_code() -> None:
    script = "-- header\n\nSELECT 1\nGO\n\n/* note */\nSELECT 2\nGO 2\n"
    assert [(b.line, b.count) for b in split_batches(script)] == [(3, 1), (7, 2)]


def test_an_upgrade_script_as_sqlcmd_reads_it() -> None:
    script = """\
-- add a column and a procedure that must start its own batch
ALTER TABLE dbo.customer ADD vip bit NULL;
GO
CREATE PROCEDURE dbo.mark_vip @id int AS
BEGIN
    -- GO inside a procedure body comment
    UPDATE dbo.customer SET vip = 1 WHERE id = @id;
    PRINT 'marked
GO';
END
GO
EXEC dbo.mark_vip 1;
GO 2
"""
    batches = split_batches(script)
    assert [b.line for b in batches] == [2, 4, 12]
    assert batches[1].text.startswith("CREATE PROCEDURE") and batches[1].text.endswith("END")
    assert "PRINT 'marked\nGO';" in batches[1].text
    assert (batches[2].text, batches[2].count) == ("EXEC dbo.mark_vip 1;", 2)
