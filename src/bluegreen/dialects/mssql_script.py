"""T-SQL scripts split into batches on ``GO``, the way sqlcmd and SSMS read them.

``GO`` is not T-SQL: it is the client tools' batch separator, and the server rejects it. Many
statements must also start a batch of their own (CREATE PROCEDURE / VIEW / TRIGGER / FUNCTION,
CREATE SCHEMA), so an upgrade script written for sqlcmd only runs when it is cut where sqlcmd
cuts it:

- a separator is a line holding only ``GO`` (any case), optionally a repeat count (``GO 3``
  runs the batch three times) and a trailing ``--`` comment, with any whitespace around;
- ``GO`` inside a string literal, a ``[bracketed]`` or ``"quoted"`` identifier, or a comment
  (``--`` to the line end, or ``/* ... */``, which nests in T-SQL) separates nothing;
- ``GOTO label`` and ``GO`` followed by other text are T-SQL, not separators;
- a batch with nothing but whitespace and comments is not sent.

Pure text work, no driver: unit-tested in tests/unit/test_mssql_script.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bluegreen.errors import ConfigError

_GO = re.compile(r"^[ \t]*go(?:[ \t]+(\d+))?[ \t]*(?:--.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Batch:
    """One batch of a script: its text, the 1-based line of its first code, how often it runs."""

    text: str
    line: int
    count: int = 1


@dataclass
class _Scan:
    """Where the scanner is between lines: inside a string, an identifier or a comment."""

    quote: str | None = None  # "'", "]" or '"': the character that closes the open token
    depth: int = 0  # nesting depth of /* ... */ comments

    @property
    def clear(self) -> bool:
        return self.quote is None and self.depth == 0

    def line(self, text: str) -> bool:
        """Advance over one line; True when it holds code (anything outside comments)."""
        code = False
        i, n = 0, len(text)
        while i < n:
            ch, two = text[i], text[i : i + 2]
            if self.depth:
                if two == "/*":
                    self.depth += 1
                    i += 2
                elif two == "*/":
                    self.depth -= 1
                    i += 2
                else:
                    i += 1
            elif self.quote is not None:
                code = True
                if ch == self.quote:
                    if text.startswith(self.quote * 2, i):  # '' ]] "" escape the closer
                        i += 2
                        continue
                    self.quote = None
                i += 1
            elif two == "--":
                break
            elif two == "/*":
                self.depth = 1
                i += 2
            else:
                if ch in "'[\"":
                    self.quote = "]" if ch == "[" else ch
                if not ch.isspace():
                    code = True
                i += 1
        return code


def split_batches(script: str) -> list[Batch]:
    """The batches of ``script`` in order (see the module docstring for the rules)."""
    batches: list[Batch] = []
    scan = _Scan()
    lines: list[str] = []
    start, has_code = 0, False
    for number, raw in enumerate(script.lstrip("\ufeff").splitlines(keepends=True), start=1):
        bare = raw.rstrip("\r\n")
        separator = _GO.match(bare) if scan.clear else None
        if separator is None:
            if scan.line(bare) and not has_code:
                start, has_code = number, True  # errors name the batch's first line of code
            lines.append(raw)
            continue
        count = int(separator.group(1) or 1)
        if count < 1:
            raise ConfigError(
                f"line {number} of the script: {bare.strip()!r} repeats its batch {count} times",
                fix="write GO alone, or GO n with n of at least 1",
            )
        if has_code:
            batches.append(Batch("".join(lines).rstrip(), start, count))
        lines, has_code = [], False
    if has_code:
        batches.append(Batch("".join(lines).rstrip(), start))
    return batches
