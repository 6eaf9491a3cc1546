"""Logging for the command line: window lines on stderr, and no secret ever printed.

The engine logs through the ``bluegreen`` logger hierarchy and never configures handlers (a
library must not); the CLI installs exactly one handler here. Every line, and every error the
CLI prints, passes through :func:`scrub`, which removes the passwords of URLs and ODBC strings
and any secret value registered with :func:`register_secret` -- a driver message that quotes a
connection string must not leak its password into a terminal or a CI log.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

_SECRETS: set[str] = set()
_LOCK = threading.Lock()

# scheme://user:password@host -> scheme://user:***@host
# (greedy up to the last @ before the path: an unencoded @ in a password is still covered)
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*):(?P<pw>[^\s/]*)@")
# PWD=...; / Password=...; in ODBC strings
_ODBC_PASSWORD = re.compile(r"(?i)\b(?P<key>pwd|password)\s*=\s*(?P<pw>\{[^}]*\}|[^;\s]*)")
# password=... in a libpq keyword string or a URL query
_KV_PASSWORD = re.compile(r"(?i)([?&\s]password=)[^&\s]*")
_KV_VALUE = re.compile(r"(?i)([?&\s]password=)([^&\s]*)")

HANDLER_MARK = "_bluegreen_cli"


def register_secret(value: str | None) -> None:
    """Remember the passwords inside a connection string so no output ever shows them, even
    where a driver quotes one alone. The rest of the URL stays printable (redacted)."""
    if not value:
        return
    found: list[str] = []
    m = _URL_PASSWORD.search(value)
    if m and m.group("pw"):
        found.append(m.group("pw"))
    found.extend(m.group("pw").strip("{}") for m in _ODBC_PASSWORD.finditer(value))
    found.extend(m.group(2) for m in _KV_VALUE.finditer(value))
    with _LOCK:
        _SECRETS.update(f for f in found if f)


def scrub(text: str) -> str:
    """``text`` with every password pattern and registered secret replaced by ``***``."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for s in secrets:
        if len(s) >= 3:  # a 1-2 character "secret" would shred ordinary text
            text = text.replace(s, "***")
    text = _URL_PASSWORD.sub(r"\g<head>:***@", text)
    text = _ODBC_PASSWORD.sub(lambda m: f"{m.group('key')}=***", text)
    return _KV_PASSWORD.sub(r"\1***", text)


class ScrubFilter(logging.Filter):
    """Rewrites each record's final message through :func:`scrub` (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = scrub(record.getMessage())
        record.msg = message
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at emit time (test runners swap it per call)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


class LineFormatter(logging.Formatter):
    """``HH:MM:SS message``; warnings and errors say so, debug lines name their logger."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s", "%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        if record.levelno >= logging.WARNING:
            head, _, rest = line.partition(" ")
            return f"{head} {record.levelname.lower()}: {rest}"
        if record.levelno < logging.INFO:
            head, _, rest = line.partition(" ")
            return f"{head} [{record.name}] {rest}"
        return line


def level_for(verbose: int) -> int:
    """0: windows and warnings; 1 and more: debug lines of bluegreen too."""
    return logging.DEBUG if verbose > 0 else logging.INFO


def configure(verbose: int = 0, handler: logging.Handler | None = None) -> logging.Handler:
    """Install (or replace) the CLI's one handler on the ``bluegreen`` logger."""
    logger = logging.getLogger("bluegreen")
    for old in [h for h in logger.handlers if getattr(h, HANDLER_MARK, False)]:
        logger.removeHandler(old)
    if handler is None:
        handler = StderrHandler()
        handler.setFormatter(LineFormatter())
    setattr(handler, HANDLER_MARK, True)
    handler.addFilter(ScrubFilter())
    logger.addHandler(handler)
    logger.setLevel(level_for(verbose))
    return handler
