"""Traffic switch blocks: the Prefect-variable switch, and the webhook / command blocks that
convert to the engine's switches (secrets masked when saved)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.variables import Variable

from blocks import BlueGreenPair, DatabaseConnection
from blocks.switch import (
    CommandSwitchBlock,
    PrefectVariableSwitch,
    VariableSwitchBlock,
    WebhookSwitchBlock,
    default_variable,
    load_switch,
    register_switch_blocks,
)
from bluegreen.errors import ConfigError
from bluegreen.release import CommandSwitch, SwitchError, TrafficSwitch, WebhookSwitch

TOKEN = "Bearer s3cret-t0ken"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_variable_switch_starts_on_production_and_moves():
    pair = _name("pair")
    switch = load_switch(None, pair=pair, initial="blue")
    assert isinstance(switch, PrefectVariableSwitch) and isinstance(switch, TrafficSwitch)
    assert switch.variable == default_variable(pair) == f"bluegreen-{pair}-traffic"
    assert switch.active() == "blue" and switch.stored() is None  # assumed, not written
    assert switch.ensure() == "blue"
    assert Variable.get(switch.variable) == "blue"
    switch.point_to("green")
    assert Variable.get(switch.variable) == "green"
    # a new process (or the application) reads what the variable says, not the initial side
    assert PrefectVariableSwitch(switch.variable, initial="blue").active() == "green"
    assert switch.ensure() == "green"  # ensure never overwrites
    with pytest.raises(ConfigError):
        switch.point_to("green; rm -rf /")
    Variable.set(switch.variable, 3, overwrite=True)
    with pytest.raises(SwitchError, match="not a side name"):
        switch.active()
    with pytest.raises(ConfigError, match="invalid Prefect variable name"):
        PrefectVariableSwitch("Not A Name")


def test_variable_switch_block_names_another_variable():
    name = _name("switch")
    variable = _name("app-routing")
    VariableSwitchBlock(variable=variable, initial="green").save(name)
    switch = load_switch(f"bluegreen-variable-switch/{name}", pair="ignored", initial="blue")
    assert isinstance(switch, PrefectVariableSwitch)
    assert (switch.variable, switch.active()) == (variable, "green")


@pytest.fixture
def traffic_manager() -> Iterator[tuple[str, list]]:
    """A local HTTP endpoint: POST sets the side, GET reads it; records the headers."""
    seen: list[dict] = []
    state = {"side": "blue"}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"auth": self.headers.get("Authorization"), "body": body})
            state["side"] = body["side"]
            self.send_response(204)
            self.end_headers()

        def do_GET(self) -> None:
            data = json.dumps(state).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/traffic", seen
    server.shutdown()
    server.server_close()


def test_webhook_block_converts_and_keeps_its_secrets(traffic_manager):
    url, seen = traffic_manager
    name = _name("lb")
    WebhookSwitchBlock(url=url, read_url=url, headers={"Authorization": TOKEN}).save(name)
    with get_client(sync_client=True) as client:
        doc = client.read_block_document_by_name(
            name, "bluegreen-webhook-switch", include_secrets=False
        )
    assert TOKEN not in str(doc.data) and url not in str(doc.data)

    switch = load_switch(f"bluegreen-webhook-switch/{name}", pair="p", initial="blue")
    assert isinstance(switch, WebhookSwitch)
    assert switch.active() == "blue"
    switch.point_to("green")
    assert switch.active() == "green"
    assert seen == [{"auth": TOKEN, "body": {"side": "green", "sender": "bluegreen"}}]
    assert TOKEN not in switch.describe()


def test_command_block_converts(tmp_path: Path):
    routing = tmp_path / "side"
    name = _name("cmd")
    CommandSwitchBlock(
        command=["sh", "-c", f'echo "$0" > "{routing}"'], query=["cat", str(routing)]
    ).save(name)
    switch = load_switch(f"bluegreen-command-switch/{name}", pair="p", initial="blue")
    assert isinstance(switch, CommandSwitch)
    switch.point_to("green")
    assert switch.active() == "green" and routing.read_text() == "green\n"


def test_bad_switch_references_name_the_fix():
    with pytest.raises(ConfigError, match="<block-type-slug>/<block-name>"):
        load_switch("just-a-name", pair="p", initial="blue")
    with pytest.raises(ConfigError, match="not found"):
        load_switch(f"bluegreen-webhook-switch/{_name('missing')}", pair="p", initial="blue")
    pair = _name("pair")
    BlueGreenPair(
        blue=DatabaseConnection(dialect="sqlite", connection_string="sqlite:///b.db"),
        green=DatabaseConnection(dialect="sqlite", connection_string="sqlite:///g.db"),
    ).save(pair)
    with pytest.raises(ConfigError, match="is not a traffic switch"):
        load_switch(f"bluegreen-pair/{pair}", pair=pair, initial="blue")
    assert register_switch_blocks() == [
        "bluegreen-variable-switch",
        "bluegreen-webhook-switch",
        "bluegreen-command-switch",
    ]
