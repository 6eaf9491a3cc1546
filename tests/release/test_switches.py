"""The engine's traffic switches: a file, a webhook (a real HTTP server on 127.0.0.1), a command."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bluegreen.errors import ConfigError, TransientError
from bluegreen.release import CommandSwitch, FileSwitch, SwitchError, TrafficSwitch, WebhookSwitch


def test_file_switch_round_trip_and_history(tmp_path: Path) -> None:
    s = FileSwitch(tmp_path / "sub" / "switch.json", initial="blue")
    assert isinstance(s, TrafficSwitch)
    assert s.active() == "blue"  # no file yet: the initial side
    s.point_to("green")
    assert s.active() == "green"
    doc = json.loads((tmp_path / "sub" / "switch.json").read_text())
    assert doc["active"] == "green" and doc["previous"] == "blue" and doc["updated_at"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["switch.json"]  # no temp leftovers
    with pytest.raises(ConfigError):
        s.point_to("green; rm -rf /")


def test_file_switch_readers_never_see_a_torn_file(tmp_path: Path) -> None:
    s = FileSwitch(tmp_path / "switch.json")
    s.point_to("blue")
    seen: set[str | None] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(s.active())

    t = threading.Thread(target=read)
    t.start()
    for i in range(60):
        s.point_to("green" if i % 2 else "blue")
    stop.set()
    t.join()
    assert seen <= {"blue", "green"}


class _Traffic(BaseHTTPRequestHandler):
    side = "blue"
    fail_with = 0
    seen: list[dict] = []
    tokens: list[str | None] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        type(self).tokens.append(self.headers.get("Authorization"))
        if type(self).fail_with:
            self.send_response(type(self).fail_with)
            self.end_headers()
            self.wfile.write(b"nope")
            return
        type(self).side = body["side"]
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        payload = json.dumps({"side": type(self).side}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def traffic() -> Iterator[str]:
    _Traffic.side, _Traffic.fail_with, _Traffic.seen, _Traffic.tokens = "blue", 0, [], []
    server = HTTPServer(("127.0.0.1", 0), _Traffic)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}/route"
    server.shutdown()
    server.server_close()


def test_webhook_switch_posts_and_reads_back(traffic: str) -> None:
    s = WebhookSwitch(traffic, read_url=traffic, headers={"Authorization": "Bearer t0ken"})
    assert s.active() == "blue"
    s.point_to("green")
    assert s.active() == "green"
    assert _Traffic.seen == [{"side": "green", "sender": "bluegreen"}]
    assert _Traffic.tokens == ["Bearer t0ken"]
    assert "t0ken" not in s.describe() and "127.0.0.1" in s.describe()


def test_webhook_switch_without_read_url_knows_only_its_last_side(traffic: str) -> None:
    s = WebhookSwitch(traffic)
    assert s.active() is None
    s.point_to("green")
    assert s.active() == "green"


def test_webhook_errors_are_classified(traffic: str) -> None:
    s = WebhookSwitch(traffic, read_url=traffic)
    _Traffic.fail_with = 503
    with pytest.raises(TransientError, match="HTTP 503"):
        s.point_to("green")
    _Traffic.fail_with = 403
    with pytest.raises(SwitchError, match="HTTP 403"):
        s.point_to("green")
    assert s.active() == "blue"
    with pytest.raises(TransientError, match="could not be reached"):
        WebhookSwitch("http://127.0.0.1:9/none", timeout=1).point_to("green")


def test_command_switch_runs_the_command_with_the_side(tmp_path: Path) -> None:
    state = tmp_path / "side.txt"
    state.write_text("blue")
    write = f"import sys; open({str(state)!r}, 'w').write(sys.argv[1])"
    read = f"print(open({str(state)!r}).read())"
    s = CommandSwitch([sys.executable, "-c", write], query=[sys.executable, "-c", read])
    assert s.active() == "blue"
    s.point_to("green")
    assert state.read_text() == "green" and s.active() == "green"
    failing = CommandSwitch([sys.executable, "-c", "import sys; sys.exit('no route')"])
    with pytest.raises(SwitchError, match="no route"):
        failing.point_to("green")
    assert failing.active() is None
    with pytest.raises(SwitchError, match="not found"):
        CommandSwitch([str(tmp_path / "missing")]).point_to("green")
