"""A failing bluegreen run notifies a webhook; other runs (and cancelled ones) do not."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from pydantic import SecretStr

from flows.alerts import FAILURE_EVENTS, ensure_failure_automation, main, save_webhook_block
from flows.guard import exclusive, guard_name
from flows.sync import sync_green
from tests.conftest import EnginePair


@pytest.fixture
def webhook() -> Iterator[tuple[str, queue.Queue]]:
    """A local HTTP server on 127.0.0.1 that records every JSON body POSTed to it."""
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.put(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/bluegreen-alerts", received
    server.shutdown()
    server.server_close()


@flow(name="not-bluegreen")
def unrelated_flow() -> None:
    raise RuntimeError("an unrelated flow failed")


def test_failing_run_notifies_the_webhook(webhook, sqlite_pair: EnginePair, save_pair):
    url, received = webhook
    block_id = save_webhook_block(url, name=f"alerts-{uuid.uuid4().hex[:6]}")
    name = f"bluegreen test alert {uuid.uuid4().hex[:6]}"
    automation = ensure_failure_automation(block_id, name=name)
    try:
        # idempotent: a second call updates the same automation instead of adding one
        again = ensure_failure_automation(block_id, name=name)
        with get_client(sync_client=True) as client:
            assert [a.id for a in client.read_automations_by_name(name=name)] == [automation.id]
        assert again.id == automation.id
        assert set(automation.trigger.expect) == FAILURE_EVENTS  # no Cancelled

        # Runs that must not alert: another flow failing, a sync cancelled by the guard.
        assert unrelated_flow(return_state=True).is_failed()
        pair = save_pair(sqlite_pair)
        with exclusive(guard_name(SecretStr(sqlite_pair.green_url), "default")) as held:
            assert held
            assert sync_green(pair=pair, return_state=True).is_cancelled()

        # The run that must: a bluegreen sync that fails.
        failed = sync_green(pair=f"missing-{uuid.uuid4().hex[:6]}", return_state=True)
        assert failed.is_failed()
        run_name = failed.state_details.flow_run_id
        alert = received.get(timeout=90)
        time.sleep(3)  # anything else that was coming has arrived by now
        extra = [received.get_nowait() for _ in range(received.qsize())]
    finally:
        automation.delete()
    assert extra == []
    assert "bluegreen-sync" in alert["subject"] and "Failed" in alert["subject"]
    assert "no bluegreen Pair block named" in alert["body"]
    assert str(run_name) in alert["body"]  # the link to the run


def test_alerts_command_creates_the_automation_once(webhook, capsys):
    url, _ = webhook
    name = f"bluegreen test command {uuid.uuid4().hex[:6]}"
    assert main(["--webhook", url, "--name", name]) == 0
    assert main(["--block", "custom-webhook/bluegreen-alerts", "--name", name]) == 0
    with get_client(sync_client=True) as client:
        automations = client.read_automations_by_name(name=name)
    try:
        assert len(automations) == 1
        assert automations[0].actions[0].block_document_id is not None
    finally:
        for automation in automations:
            with get_client(sync_client=True) as client:
                client.delete_automation(automation.id)
    assert main(["--name", name]) == 2  # no target: a clear error, no automation
    assert "pass --webhook URL" in capsys.readouterr().err
