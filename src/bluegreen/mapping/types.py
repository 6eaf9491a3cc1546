"""Declared SQL types, read into families, and an honest table of which casts are safe.

The linter needs to know whether copying a blue column into a green column of another type
*widens* (every value fits), *converts* (a parse that can fail on some values: text to integer),
*narrows* (some values cannot fit: bigint to int, varchar(100) to varchar(50), decimal(10,2) to
decimal(8,2)) or *cannot work* (a date into an integer). The shaper needs the polars dtype a green
type parses into. Both come from one small reading of the declared type text.

The names are the ones PostgreSQL, SQL Server and SQLite print. Where one name means different
things on different engines (SQL Server's ``timestamp`` is a rowversion; SQLite's ``INTEGER`` is
64 bits wide), the dialect says so through ``Dialect.type_meanings``: name -> the type text to read
instead. SQLite does not enforce declared types at all; its declared types are still compared as
written, because they say what the columns are meant to hold.

Not checked: character sets (nvarchar -> varchar on SQL Server may lose characters outside the
code page), datetime fractional-second precision, and collation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

Family = Literal[
    "int",
    "decimal",
    "float",
    "text",
    "binary",
    "bool",
    "date",
    "time",
    "datetime",
    "datetimetz",
    "uuid",
    "unknown",
]
Verdict = Literal["same", "widens", "converts", "narrows", "impossible", "unchecked"]
OK_VERDICTS: frozenset[str] = frozenset({"same", "widens"})

# name -> (family, bits, unsigned)
_INTS: dict[str, tuple[int, bool]] = {
    "tinyint": (8, True),  # SQL Server: 0..255
    "smallint": (16, False),
    "int2": (16, False),
    "smallserial": (16, False),
    "int": (32, False),
    "integer": (32, False),
    "int4": (32, False),
    "mediumint": (32, False),
    "serial": (32, False),
    "bigint": (64, False),
    "int8": (64, False),
    "bigserial": (64, False),
}
_DECIMALS = {"decimal", "numeric", "dec", "number"}
_MONEY = {"money": (19, 4), "smallmoney": (10, 4)}
_FLOATS = {
    "real": 32,
    "float4": 32,
    "float": 64,
    "float8": 64,
    "double": 64,
    "double precision": 64,
}
_TEXTS = {
    "varchar",
    "character varying",
    "nvarchar",
    "national character varying",
    "char varying",
    "char",
    "character",
    "nchar",
    "national character",
    "bpchar",
    "text",
    "ntext",
    "clob",
    "string",
    "citext",
    "varchar2",
    "nvarchar2",
}
_FIXED_ONE = {"char", "character", "nchar", "national character", "bpchar"}  # no length = 1
_BINARIES = {"blob", "bytea", "varbinary", "binary", "image", "rowversion", "binary varying"}
_BOOLS = {"boolean", "bool", "bit"}
_DATETIMES = {"datetime", "datetime2", "smalldatetime", "timestamp", "timestamp without time zone"}
_DATETIMETZ = {"timestamptz", "timestamp with time zone", "datetimeoffset"}
_TIMES = {"time", "time without time zone", "timetz", "time with time zone"}
_UUIDS = {"uuid", "uniqueidentifier"}

# decimal digits an integer of a width can need (without the sign)
_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}
# exact integer bits a float's mantissa holds
_MANTISSA = {32: 24, 64: 53}
# characters a value's text form can need
_TEXT_WIDTH = {"bool": 5, "date": 10, "time": 16, "datetime": 26, "datetimetz": 32, "uuid": 36}

# a name, then optionally (arguments) and words after them: "timestamp(3) with time zone"
_SHAPE = re.compile(
    r"^(?P<base>[a-z_][a-z0-9_ ]*?)\s*(?:\((?P<args>[^)]*)\)\s*(?P<rest>[a-z ]*))?$"
)


@dataclass(frozen=True)
class SqlType:
    """A declared type read into a family with its size parameters; ``text`` is as declared."""

    family: Family
    text: str
    bits: int | None = None  # int, float
    unsigned: bool = False
    precision: int | None = None  # decimal; None = unbounded
    scale: int = 0
    length: int | None = None  # text, binary; None = unbounded

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two declarations the same type (the declared spelling does not)."""
        return (
            self.family,
            self.bits,
            self.unsigned,
            self.precision,
            self.scale,
            self.length,
            self.text if self.family == "unknown" else "",
        )

    def same_as(self, other: SqlType) -> bool:
        return self.key == other.key


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def parse_type(text: str, meanings: Mapping[str, str] | None = None) -> SqlType:
    """Read declared type ``text``; ``meanings`` re-reads engine-specific names first."""
    raw = _norm(text)
    m = _SHAPE.match(raw)
    if not m:
        return SqlType("unknown", raw)
    base = m.group("base").strip()
    args = [a.strip() for a in (m.group("args") or "").split(",") if a.strip()]
    rest = (m.group("rest") or "").strip()
    if base.endswith(" unsigned"):
        base = base.removesuffix(" unsigned")
        rest = "unsigned"
    if rest in {"with time zone", "without time zone"}:
        base = f"{base} {rest}"
        rest = ""
    meanings = {k.lower(): v for k, v in (meanings or {}).items()}
    if base in meanings:
        inner = parse_type(meanings[base])
        return SqlType(**{**inner.__dict__, "text": raw})
    unsigned = rest == "unsigned"

    def number(i: int) -> int | None:
        if len(args) > i and args[i].isdigit():
            return int(args[i])
        return None

    if base in _INTS:
        bits, uns = _INTS[base]
        return SqlType("int", raw, bits=bits, unsigned=uns or unsigned)
    if base in _DECIMALS:
        return SqlType("decimal", raw, precision=number(0), scale=number(1) or 0)
    if base in _MONEY:
        p, s = _MONEY[base]
        return SqlType("decimal", raw, precision=p, scale=s)
    if base in _FLOATS:
        bits = _FLOATS[base]
        n = number(0)
        if base == "float" and n is not None:
            bits = 32 if n <= 24 else 64
        return SqlType("float", raw, bits=bits)
    if base == "bit" and number(0) not in (None, 1):
        return SqlType("binary", raw, length=number(0))
    if base in _BOOLS:
        return SqlType("bool", raw)
    if base in _TEXTS:
        length = number(0)
        if length is None and not args and base in _FIXED_ONE:
            length = 1
        return SqlType("text", raw, length=length)
    if base in _BINARIES:
        length = 8 if base == "rowversion" else number(0)
        return SqlType("binary", raw, length=length)
    if base in _DATETIMETZ:
        return SqlType("datetimetz", raw)
    if base in _DATETIMES:
        return SqlType("datetime", raw)
    if base in _TIMES:
        return SqlType("time", raw)
    if base == "date":
        return SqlType("date", raw)
    if base in _UUIDS:
        return SqlType("uuid", raw)
    return SqlType("unknown", raw)


@dataclass(frozen=True)
class CastCheck:
    """The verdict on copying values of one type into another, and why."""

    verdict: Verdict
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS


def _int_fits_int(src: SqlType, dst: SqlType) -> bool:
    assert src.bits is not None and dst.bits is not None
    if src.unsigned and not dst.unsigned:
        return dst.bits > src.bits
    if not src.unsigned and dst.unsigned:
        return False
    return dst.bits >= src.bits


def _text_fits(need: int | None, dst: SqlType) -> bool:
    return dst.length is None or (need is not None and need <= dst.length)


def compare(src: SqlType, dst: SqlType) -> CastCheck:
    """May every value of ``src`` be written into ``dst``? (see the module docstring)."""
    a, b = src.family, dst.family
    what = f"{src.text} -> {dst.text}"
    if src.same_as(dst):
        return CastCheck("same")
    if a == "unknown" or b == "unknown":
        return CastCheck("unchecked", f"{what}: bluegreen does not know this type; not checked")
    narrows = CastCheck("narrows", f"{what}: some values do not fit")
    widens = CastCheck("widens")
    if a == b == "int":
        return widens if _int_fits_int(src, dst) else narrows
    if a == "int" and b == "decimal":
        need = _INT_DIGITS[src.bits or 64]
        ok = dst.precision is None or dst.precision - dst.scale >= need
        return widens if ok else narrows
    if a == "int" and b == "float":
        return widens if (src.bits or 64) - 1 <= _MANTISSA[dst.bits or 64] else narrows
    if a == "int" and b == "text":
        return widens if _text_fits(_INT_DIGITS[src.bits or 64] + 1, dst) else narrows
    if a == "decimal" and b == "decimal":
        if dst.precision is None:
            return widens
        if src.precision is None:
            return narrows
        ok = dst.scale >= src.scale and dst.precision - dst.scale >= src.precision - src.scale
        return widens if ok else narrows
    if a == "decimal" and b == "int":
        digits = _INT_DIGITS[dst.bits or 64] - (0 if dst.unsigned else 1)
        ok = src.precision is not None and src.scale == 0 and src.precision <= digits
        return widens if ok else narrows
    if a == "decimal" and b == "float":
        ok = src.precision is not None and src.precision <= (15 if dst.bits == 64 else 6)
        return widens if ok else narrows
    if a == "decimal" and b == "text":
        need = None if src.precision is None else src.precision + 2
        return widens if _text_fits(need, dst) else narrows
    if a == b == "float":
        return widens if (dst.bits or 64) >= (src.bits or 64) else narrows
    if a == "float" and b in {"int", "decimal"}:
        return CastCheck("narrows", f"{what}: fractions and the float range do not fit")
    if a == "float" and b == "text":
        return widens if _text_fits(24, dst) else narrows
    if a == b == "text":
        if dst.length is None or (src.length is not None and src.length <= dst.length):
            return widens
        return CastCheck("narrows", f"{what}: longer values do not fit")
    if a == "text" and b in {"int", "decimal", "float", "bool", "date", "time", "datetime"}:
        return CastCheck(
            "converts",
            f"{what}: each value is parsed; a value that does not parse stops the window",
        )
    if a == "text" and b in {"uuid", "datetimetz"}:
        return CastCheck("converts", f"{what}: each value is converted by green's database")
    if a == b == "binary":
        if dst.length is None or (src.length is not None and src.length <= dst.length):
            return widens
        return CastCheck("narrows", f"{what}: longer values do not fit")
    if a == "bool" and b == "int":
        return widens
    if a == "bool" and b == "decimal":
        return widens if dst.precision is None or dst.precision - dst.scale >= 1 else narrows
    if a == "date" and b in {"datetime", "datetimetz"}:
        return widens
    if a == "datetime" and b == "date":
        return CastCheck("narrows", f"{what}: the time of day is lost")
    if {a, b} == {"datetime", "datetimetz"}:
        return CastCheck("narrows", f"{what}: the time zone is invented or lost")
    if a in _TEXT_WIDTH and b == "text":
        return widens if _text_fits(_TEXT_WIDTH[a], dst) else narrows
    return CastCheck("impossible", f"{what}: no value of the one is a value of the other")


_NUMERIC = {"int", "decimal", "float"}


def comparable(a: SqlType, b: SqlType) -> bool:
    """May values of ``a`` be compared with values of ``b`` (a lookup's match by value)?

    Unlike a copy, a comparison needs no room: a blue value longer than the lookup column simply
    matches no row. Unknown types are given the benefit of the doubt."""
    if "unknown" in (a.family, b.family) or a.family == b.family:
        return True
    if a.family in _NUMERIC and b.family in _NUMERIC:
        return True
    return {a.family, b.family} <= {"date", "datetime"}


def polars_dtype(t: SqlType) -> pl.DataType | None:
    """The polars dtype a value of green type ``t`` is cast to (None: passed through as is)."""
    if t.family == "int":
        if t.unsigned and t.bits == 8:
            return pl.UInt8()
        return {8: pl.Int8(), 16: pl.Int16(), 32: pl.Int32()}.get(t.bits or 64, pl.Int64())
    if t.family == "decimal":
        precision = min(t.precision or 38, 38)
        return pl.Decimal(precision, min(t.scale, precision))
    if t.family == "float":
        return pl.Float32() if t.bits == 32 else pl.Float64()
    if t.family == "text":
        return pl.String()
    if t.family == "bool":
        return pl.Boolean()
    if t.family == "date":
        return pl.Date()
    if t.family == "time":
        return pl.Time()
    if t.family == "datetime":
        return pl.Datetime("us")
    if t.family == "binary":
        return pl.Binary()
    return None  # uuid, datetimetz, unknown: green's database converts
