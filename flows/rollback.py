"""Roll a cutover back: traffic returns to the old production, which takes writes again.

Run it for the pair as the cutover saw it (the pair block is unchanged until a re-seed swaps
it): the engine finds the cutover's receipt on green, freezes green, counts the writes green
took after the switch, points traffic back at production, unfreezes production, and releases
green (tracking dropped, marked standby). Each phase is a log line as it starts and ends; the
receipt is published under ``bluegreen-rollback-<pair>`` (and ``...-receipt``).

Afterwards: when green took no writes after the switch, it still equals production as of the
freeze, so the sync schedule is resumed. When it did, those rows are on green only (the
receipt counts them per table): the sync stays paused and green must be re-seeded from
production (``reseed-green``, ``swap=false``) before the next cutover.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from blocks.switch import load_switch
from bluegreen import release as engine
from bluegreen.release import RollbackReceipt
from bluegreen.release.switch import TrafficSwitch
from tasks.logs import engine_logs
from tasks.operation import reported
from tasks.release import DB_TASK, PairContext, PhaseLog, load_context
from tasks.retry import retry_if_transient
from tasks.schedule import resume_sync_schedule


@task(name="rollback", retry_condition_fn=retry_if_transient, **DB_TASK)
def run_rollback(ctx: PairContext, switch: TrafficSwitch, dry_run: bool) -> RollbackReceipt:
    """The engine's rollback, phase by phase in the log; the receipt as artifacts."""
    return reported(
        ctx.name,
        lambda: engine.rollback(
            ctx.release, switch, hooks=PhaseLog("rollback").hooks(), dry_run=dry_run
        ),
        show_plan=dry_run,
    )


@flow(name="bluegreen-rollback", flow_run_name="rollback-{pair}", persist_result=False)
def rollback(
    pair: str = "default",
    switch: str | None = None,
    dry_run: bool = False,
    retries: int = 0,
    retry_delay_seconds: float = 30.0,
) -> dict[str, Any]:
    """Send traffic back to the pair's production side after a cutover to its copy.

    Args:
        pair: name of the saved ``bluegreen Pair`` block (as it was for the cutover).
        switch: traffic switch block, ``<block-type-slug>/<name>``; empty: the pair's Prefect
            variable ``bluegreen-<pair>-traffic``.
        dry_run: print the phases; change nothing.
        retries: attempts after a transient failure.
        retry_delay_seconds: pause before each retry.
    """
    logger = get_run_logger()
    with engine_logs():
        ctx = load_context(pair)
        traffic = load_switch(switch, pair=pair, initial=ctx.production)
        logger.info(
            "rolling back the cutover %s through %s", ctx.release.describe(), traffic.describe()
        )
        receipt = run_rollback.with_options(
            retries=retries, retry_delay_seconds=retry_delay_seconds
        )(ctx, traffic, dry_run)
        if dry_run:
            return receipt.as_dict()
        if receipt.green_baseline is None:
            logger.warning(
                "the writes %s took after the switch could not be counted (no cutover receipt "
                "on it): the sync stays paused; re-seed it (reseed-green, swap=false) to be sure",
                ctx.standby,
            )
        elif receipt.writes_on_green_total:
            logger.warning(
                "%s took %s changed row(s) after the switch that %s lacks: the sync stays "
                "paused; run reseed-green (swap=false) before the next cutover",
                ctx.standby,
                receipt.writes_on_green_total,
                ctx.production,
            )
        else:
            logger.info(
                "%s took no writes after the switch: it still matches %s; syncing resumes",
                ctx.standby,
                ctx.production,
            )
            resume_sync_schedule(pair)
        return receipt.as_dict()
