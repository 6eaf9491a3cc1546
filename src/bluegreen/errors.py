"""Errors that name the object, the place and the fix.

Every error bluegreen raises is either *transient* (a retry may succeed: lost connection,
deadlock, lock timeout) or *terminal* (retrying cannot help: an invalid mapping, a watermark
older than the change log, a constraint green refuses). The orchestration layer retries only
transient errors, so the classification lives here, once, and dialects map driver errors onto it.
"""

from __future__ import annotations


class BlueGreenError(Exception):
    """Base class: a message that says what failed, and an optional fix that says what to do."""

    transient: bool = False

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class TransientError(BlueGreenError):
    """A failure worth retrying: the same call may succeed a moment later."""

    transient = True


class TerminalError(BlueGreenError):
    """A failure no retry can cure; a human must act on the fix."""


class ConfigError(TerminalError):
    """Settings, URLs or command-line arguments that cannot work."""


class SchemaError(TerminalError):
    """A table or column that the introspected schema does not have, or a table without a key."""


class ReseedRequired(TerminalError):
    """Green's watermark is older than what blue's change log still holds for a table."""

    def __init__(self, table: str, detail: str) -> None:
        super().__init__(
            f"table {table} needs a re-seed: {detail}",
            fix=(
                "re-seed green from a copy of blue (Prefect deployment reseed-green, or "
                "`bluegreen prepare` for a first copy); green was left at its last watermark"
            ),
        )
        self.table = table


class ApplyError(TerminalError):
    """Green refused a window's rows (a constraint, a type); the window was rolled back."""


class ConcurrentSyncError(TerminalError):
    """Another sync of the same blue/green pair holds the lock."""
