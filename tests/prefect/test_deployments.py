"""prefect.yaml: every entrypoint loads, `prefect deploy --all` works against the test server,
the deployment's concurrency limit cancels a second run, and a process worker runs the sync."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.exceptions import ObjectNotFound
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.settings import get_current_settings
from prefect.states import Cancelled, Pending
from prefect.workers.process import ProcessWorker

from flows.deployments import PROJECT_ROOT, read_specs, runner_deployments
from flows.serve import ensure_default_pair
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, eventually, rows

POOL = "bluegreen"


def test_every_entrypoint_loads_and_is_a_bluegreen_flow():
    specs = read_specs()
    assert "sync-green" in {s["name"] for s in specs}
    for spec in specs:
        path, _, func = spec["entrypoint"].rpartition(":")
        entrypoint = f"{PROJECT_ROOT / path}:{func}"
        flow = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
        assert isinstance(flow, Flow) and flow.name.startswith("bluegreen-")
        assert spec["work_pool"]["name"] == POOL
        assert spec["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    sync = next(s for s in specs if s["name"] == "sync-green")
    assert sync["schedules"] == [{"interval": 300}]
    assert sync["parameters"]["pair"] == "default"


def test_serve_builds_and_applies_every_deployment(monkeypatch, tmp_path):
    deployments = runner_deployments()
    assert [d.name for d in deployments] == [s["name"] for s in read_specs()]
    for deployment in deployments:
        deployment_id = deployment.apply()
        with get_client(sync_client=True) as client:
            applied = client.read_deployment(deployment_id)
        assert applied.global_concurrency_limit.limit == 1
        assert applied.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    # `bluegreen serve` creates the default pair from bluegreen's settings, once
    monkeypatch.chdir(tmp_path)
    name = "serve-test-pair"
    monkeypatch.setenv("BLUEGREEN_BLUE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.setenv("BLUEGREEN_GREEN_URL", f"sqlite:///{tmp_path / 'g.db'}")
    assert ensure_default_pair(name).startswith("created pair block")
    assert ensure_default_pair(name) == f"pair block {name!r} exists"


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_API_URL": get_current_settings().api.url}
    return subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def deployed() -> dict:
    """`prefect deploy --all` from the checkout into a process work pool on the test server."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(POOL)
        except ObjectNotFound:
            client.create_work_pool(
                WorkPoolCreate(
                    name=POOL,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
    done = _cli("--no-prompt", "deploy", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    with get_client(sync_client=True) as client:
        return {
            s["name"]: client.read_deployment_by_name(f"bluegreen-sync/{s['name']}")
            for s in read_specs()
            if s["entrypoint"].startswith("flows/sync.py")
        }


def test_prefect_yaml_deploys_against_the_server(deployed):
    sync = deployed["sync-green"]
    assert sync.entrypoint == "flows/sync.py:sync_green"
    assert sync.work_pool_name == POOL
    assert sync.parameters == {"pair": "default", "retries": 3, "retry_delay_seconds": 10}
    assert [s.schedule.interval.total_seconds() for s in sync.schedules] == [300]
    assert (
        sync.global_concurrency_limit.limit,
        sync.concurrency_options.collision_strategy.value,
    ) == (
        1,
        "CANCEL_NEW",
    )
    # the worker runs the flow from this checkout
    assert sync.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}
    ]


def test_deployment_cancels_a_second_run_while_one_is_active(deployed):
    sync = deployed["sync-green"]
    with get_client(sync_client=True) as client:
        first = client.create_flow_run_from_deployment(sync.id)
        second = client.create_flow_run_from_deployment(sync.id)
        try:
            assert client.set_flow_run_state(first.id, Pending()).state.is_pending()
            client.set_flow_run_state(second.id, Pending())
            assert client.read_flow_run(second.id).state.is_cancelled()
        finally:  # end the active run: its slot must be free for the next test
            client.set_flow_run_state(first.id, Cancelled(), force=True)
            for run in (first, second):
                client.delete_flow_run(run.id)


def test_a_process_worker_runs_the_deployed_sync(deployed, sqlite_pair: EnginePair, save_pair):
    create_schema(sqlite_pair)
    add_customers(sqlite_pair, range(1, 6), orders_each=2)
    name = save_pair(sqlite_pair)
    sync = deployed["sync-green"]
    with get_client(sync_client=True) as client:
        # only our run: the schedule's own runs (pair "default") stay out of the worker's way
        client.pause_deployment(sync.id)
        for run in client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[sync.id]))
        ):
            if run.state and run.state.is_scheduled():
                client.delete_flow_run(run.id)
        run = client.create_flow_run_from_deployment(sync.id, parameters={"pair": name})
    done = _cli("worker", "start", "--pool", POOL, "--type", "process", "--run-once")
    assert done.returncode == 0, done.stdout + done.stderr

    def final():
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run.id).state
        return state if state and state.is_final() else None

    state = eventually(final, timeout=60)
    assert state is not None and state.is_completed(), (state, done.stdout, done.stderr)
    assert rows(sqlite_pair, "green") == rows(sqlite_pair, "blue")
