"""``bluegreen serve``: every deployment of prefect.yaml, served from one process.

A newcomer runs one command and sees the flows in the Prefect UI: if no Prefect API is
configured, a local server is started (SQLite under PREFECT_HOME, UI on 127.0.0.1:4200); the
bluegreen block types are registered; a ``default`` pair block is created from
BLUEGREEN_BLUE_URL / BLUEGREEN_GREEN_URL (or bluegreen.toml) when it does not exist yet; then
every deployment is served, schedules included, until Ctrl-C. For a real work pool, use
``prefect deploy --all`` and ``prefect worker start --pool bluegreen`` instead (see prefect.yaml).

Run it from the checkout (``python -m flows.serve``, or the ``bluegreen serve`` command, which
imports this module): flows/, tasks/ and blocks/ are top-level packages of the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
from prefect import serve
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import BlueGreenPair, DatabaseConnection, register_blocks
from blocks.database import dialect_for_url
from bluegreen.config import load_settings
from bluegreen.errors import BlueGreenError, ConfigError
from flows.deployments import PREFECT_YAML, PROJECT_ROOT, runner_deployments

DEFAULT_PAIR = "default"


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def prefect_api(host: str = "127.0.0.1", port: int = 4200, wait: float = 180.0) -> Iterator[str]:
    """The configured Prefect API, or a local server started (and stopped) for this process."""
    configured = PREFECT_API_URL.value()
    if configured:
        if not _healthy(configured):
            raise ConfigError(
                f"the Prefect API at {configured} does not answer",
                fix="start that server, or unset PREFECT_API_URL to let `bluegreen serve` "
                "start a local one",
            )
        yield configured
        return
    api_url = f"http://{host}:{port}/api"
    if _healthy(api_url):  # a local server is already running (an earlier `bluegreen serve`)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
        return
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        env={k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
        # Its own session: Ctrl-C stops the runner first (it pauses the schedules through the
        # API), and only then is the server stopped, below.
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + wait
        while not _healthy(api_url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ConfigError(
                    f"the local Prefect server did not start on {host}:{port}",
                    fix="see its output above; another program may hold the port "
                    "(use --port), or run `prefect server start` yourself",
                )
            time.sleep(0.5)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def ensure_default_pair(name: str = DEFAULT_PAIR) -> str:
    """Create the ``default`` pair block from bluegreen's settings if it is missing."""
    try:
        BlueGreenPair.load(name)
        return f"pair block {name!r} exists"
    except ValueError:
        pass
    settings = load_settings()
    if settings.blue_url is None or settings.green_url is None:
        return (
            f"no pair block {name!r} yet: create one in the UI (Blocks -> + -> bluegreen Pair), "
            "or set BLUEGREEN_BLUE_URL and BLUEGREEN_GREEN_URL and serve again"
        )
    sides = {}
    for side, url in (("blue", settings.blue_url), ("green", settings.green_url)):
        block = DatabaseConnection(
            dialect=dialect_for_url(url.get_secret_value()), connection_string=url
        )
        block.save(f"{name}-{side}", overwrite=True)
        sides[side] = block
    pair = BlueGreenPair(
        blue=sides["blue"],
        green=sides["green"],
        tables=list(settings.tables),
        batch_size=settings.batch_size,
        mapping=str(settings.mapping) if settings.mapping else None,
        stream=settings.stream,
        **({"time_budget": settings.time_budget} if settings.time_budget else {}),
    )
    pair.save(name)
    return f"created pair block {name!r}: {pair.describe()}"


def main(argv: list[str] | None = None) -> int:
    """Register the blocks and serve every deployment of prefect.yaml until interrupted."""
    parser = argparse.ArgumentParser(prog="bluegreen serve", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="local server host")
    parser.add_argument("--port", type=int, default=4200, help="local server port")
    args = parser.parse_args(argv)
    os.chdir(PROJECT_ROOT)  # entrypoints in prefect.yaml are relative to the checkout
    try:
        with prefect_api(args.host, args.port) as api_url:
            register_blocks()
            print(ensure_default_pair(), flush=True)
            deployments = runner_deployments(PREFECT_YAML)
            ui = api_url.removesuffix("/api")
            print(f"Prefect UI: {ui}  (deployments: {', '.join(d.name for d in deployments)})")
            serve(*deployments)
    except BlueGreenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
