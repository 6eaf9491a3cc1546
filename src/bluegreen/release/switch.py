"""Traffic switches: where the application sends its writes, and how a cutover moves them.

A switch holds one *side* name (a label such as ``blue`` or ``green``: what the switch calls a
database). Applications read :meth:`TrafficSwitch.active` before a transaction and write to that
side; a cutover calls :meth:`TrafficSwitch.point_to` exactly once, while the old side is frozen,
so at no moment can both sides take writes through the switch.

Engine implementations need nothing but the standard library:

- :class:`FileSwitch`: a JSON file, replaced atomically (the embedded default and the tests);
- :class:`WebhookSwitch`: POSTs ``{"side": ...}`` to a URL (a traffic manager or DNS API),
  optionally reading the active side back with a GET;
- :class:`CommandSwitch`: runs a command with the side as its last argument (no shell).

The Prefect-variable switch lives with the flows (blocks/), which may not be imported here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from bluegreen.dialects import redact
from bluegreen.errors import ConfigError, TerminalError, TransientError
from bluegreen.release.records import utcnow

_SIDE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SwitchError(TerminalError):
    """The switch refused the change (or answered something it should not)."""


@runtime_checkable
class TrafficSwitch(Protocol):
    """Where writes go: ``active()`` (None when the switch cannot tell) and ``point_to``."""

    def active(self) -> str | None: ...

    def point_to(self, side: str) -> None: ...

    def describe(self) -> str: ...


def check_side(side: str) -> str:
    """A side name is a short label (it may become a command argument or a JSON value)."""
    if not isinstance(side, str) or not _SIDE.match(side):
        raise ConfigError(
            f"invalid side name {side!r} for a traffic switch",
            fix="use letters, digits, '.', '_' or '-' (up to 64 characters), e.g. blue / green",
        )
    return side


class FileSwitch:
    """The active side in a JSON file: ``{"active": side, "updated_at": ..., "previous": ...}``.

    Writes go to a temporary file in the same folder and replace the old one atomically, so a
    reader sees either the old side or the new one, never a torn file."""

    def __init__(self, path: str | Path, *, initial: str | None = None) -> None:
        self.path = Path(path)
        self.initial = check_side(initial) if initial is not None else None

    def describe(self) -> str:
        return f"file switch {self.path}"

    def active(self) -> str | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self.initial
        except (OSError, json.JSONDecodeError) as exc:
            raise SwitchError(
                f"cannot read the file switch {self.path}: {exc}",
                fix='restore the file (it holds {"active": "<side>"}) or point it again',
            ) from exc
        side = data.get("active") if isinstance(data, dict) else None
        return str(side) if side is not None else None

    def point_to(self, side: str) -> None:
        check_side(side)
        previous = self.active()
        doc = {"active": side, "updated_at": utcnow(), "previous": previous}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".switch-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with_suppressed_remove(tmp)
            raise


def with_suppressed_remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class WebhookSwitch:
    """POST ``{"side": side, "sender": "bluegreen"}`` to ``url``; a 2xx answer means done.

    ``read_url`` (optional) answers a GET with JSON holding the active side under ``key``;
    without it, ``active()`` only knows the side this object last pointed to. Header values
    are secrets (an API token): they are sent, never logged or recorded."""

    def __init__(
        self,
        url: str | SecretStr,
        *,
        read_url: str | SecretStr | None = None,
        headers: Mapping[str, str | SecretStr] | None = None,
        key: str = "side",
        timeout: float = 10.0,
    ) -> None:
        self.url = url if isinstance(url, SecretStr) else SecretStr(url)
        self.read_url = (
            read_url if isinstance(read_url, SecretStr) or read_url is None else SecretStr(read_url)
        )
        self.headers = {
            k: v if isinstance(v, SecretStr) else SecretStr(v) for k, v in (headers or {}).items()
        }
        self.key = key
        self.timeout = timeout
        self._last: str | None = None

    def describe(self) -> str:
        return f"webhook switch {redact(self.url.get_secret_value())}"

    def _request(self, url: SecretStr, body: bytes | None) -> bytes:
        req = urllib.request.Request(
            url.get_secret_value(),
            data=body,
            method="POST" if body is not None else "GET",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **{k: v.get_secret_value() for k, v in self.headers.items()},
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            text = exc.read()[:300].decode("utf-8", "replace")
            cls = TransientError if exc.code >= 500 or exc.code == 429 else SwitchError
            raise cls(
                f"{self.describe()} answered HTTP {exc.code}: {text}",
                fix="check the traffic manager's status and the token; nothing was switched",
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientError(
                f"{self.describe()} could not be reached: {exc}",
                fix="check that the endpoint is up and reachable from this worker",
            ) from None

    def active(self) -> str | None:
        if self.read_url is None:
            return self._last
        raw = self._request(self.read_url, None)
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SwitchError(
                f"{self.describe()}: the read URL did not answer JSON: {raw[:100]!r}",
                fix=f"make it answer {{{self.key!r}: <side>}}",
            ) from exc
        side = data.get(self.key) if isinstance(data, dict) else None
        return str(side) if side is not None else None

    def point_to(self, side: str) -> None:
        check_side(side)
        self._request(self.url, json.dumps({self.key: side, "sender": "bluegreen"}).encode())
        self._last = side


class CommandSwitch:
    """Run ``argv + [side]`` (no shell) to switch; exit code 0 means done.

    ``query`` (optional) is a command whose standard output (stripped) is the active side;
    without it, ``active()`` only knows the side this object last pointed to."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        query: Sequence[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        if not argv:
            raise ConfigError("a command switch needs a command", fix="give argv, e.g. ['switch']")
        self.argv = list(argv)
        self.query = list(query) if query else None
        self.timeout = timeout
        self._last: str | None = None

    def describe(self) -> str:
        return f"command switch {Path(self.argv[0]).name}"

    def _run(self, argv: list[str]) -> str:
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as exc:
            raise SwitchError(
                f"{self.describe()}: command not found: {exc}",
                fix="give the command's full path",
            ) from None
        except subprocess.TimeoutExpired:
            raise TransientError(
                f"{self.describe()}: no answer within {self.timeout:g} s",
                fix="check what the command waits for; nothing is known to be switched",
            ) from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-300:]
            raise SwitchError(
                f"{self.describe()} exited with {done.returncode}: {tail}",
                fix="run the command by hand to see why; nothing is known to be switched",
            )
        return done.stdout

    def active(self) -> str | None:
        if self.query is None:
            return self._last
        out = self._run(self.query).strip()
        return out.splitlines()[-1].strip() if out else None

    def point_to(self, side: str) -> None:
        check_side(side)
        self._run([*self.argv, side])
        self._last = side
