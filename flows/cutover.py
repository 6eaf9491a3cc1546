"""The cutover: freeze production, drain, verify, switch traffic to green, record a receipt.

The engine runs the phases (preflight, pre-verify, freeze, drain, verify, switch, receipt) inside
the one ``cutover`` task run (the pre-verify compares every row before the freeze, the sync still
running; the verify inside it only the keys blue changed since: see ``bluegreen.release.cutover``);
each phase is a log line as it starts and as it ends, and the receipt is published under stable
keys: ``bluegreen-cutover-<pair>`` (a table, one row per phase, with the summary as its
description) and ``bluegreen-cutover-<pair>-receipt`` (all of it, markdown and
JSON). Just before the freeze, a phase hook pauses the pair's sync schedule: the final drain is
the last sync in this direction.

A failure before the switch leaves production writable and routing unchanged (the engine
unfreezes it, routes back if the switch was reached, and says so in the receipt); the flow then
resumes the sync schedule it paused and fails with the receipt's reason and fix. After a
successful cutover the sync stays paused: the next step is ``reseed-green`` with ``swap=true``,
which makes the old production the standby copy and resumes syncing the other way
(``rollback`` undoes the cutover instead).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from blocks.switch import load_switch
from bluegreen import release as engine
from bluegreen.release import CutoverReceipt
from bluegreen.release.switch import TrafficSwitch
from flows.sync_hold import may_resume
from tasks.logs import engine_logs
from tasks.operation import reported
from tasks.release import DB_TASK, PairContext, PhaseLog, load_context
from tasks.retry import retry_if_transient
from tasks.schedule import SchedulePause, restore_sync_schedule


@task(name="cutover", retry_condition_fn=retry_if_transient, **DB_TASK)
def run_cutover(
    ctx: PairContext,
    switch: TrafficSwitch,
    schedule: SchedulePause,
    options: dict[str, Any],
    dry_run: bool,
) -> CutoverReceipt:
    """The engine's cutover; the freeze's ``before`` hook pauses the sync schedule."""
    hooks = PhaseLog("cutover", before={"freeze": schedule.pause}).hooks()
    return reported(
        ctx.name,
        lambda: engine.cutover(ctx.release, switch, hooks=hooks, dry_run=dry_run, **options),
    )


@flow(name="bluegreen-cutover", flow_run_name="cutover-{pair}", persist_result=False)
def cutover(
    pair: str = "default",
    switch: str | None = None,
    max_pending: int = 10_000,
    freeze_budget: float = 5.0,
    default_apply_rate: float = engine.DEFAULT_APPLY_RATE,
    drain_budget: float = 120.0,
    dry_run: bool = False,
    retries: int = 0,
    retry_delay_seconds: float = 30.0,
) -> dict[str, Any]:
    """Cut production traffic over from the pair's production side to its copy.

    Args:
        pair: name of the saved ``bluegreen Pair`` block.
        switch: traffic switch block, ``<block-type-slug>/<name>``; empty: the pair's Prefect
            variable ``bluegreen-<pair>-traffic``.
        max_pending: the preflight waits while more changes than this are not yet on green.
        freeze_budget: seconds the predicted write freeze (the final drain) may take.
        default_apply_rate: rows per second assumed when green has no sync history.
        drain_budget: seconds the final drain may take before the cutover gives up.
        dry_run: run the preflight only (read-only) and publish its receipt.
        retries: whole cutover attempts after a transient failure (each one freezes again).
        retry_delay_seconds: pause before each retry.
    """
    logger = get_run_logger()
    with engine_logs():
        ctx = load_context(pair)
        traffic = load_switch(switch, pair=pair, initial=ctx.production)
        logger.info(
            "cutover of %s through %s%s",
            ctx.release.describe(),
            traffic.describe(),
            " (dry run: preflight only)" if dry_run else "",
        )
        options = {
            "max_pending": max_pending,
            "freeze_budget": freeze_budget,
            "default_apply_rate": default_apply_rate,
            "drain_budget": drain_budget,
        }
        schedule = SchedulePause(pair)
        task_run = run_cutover.with_options(
            retries=retries, retry_delay_seconds=retry_delay_seconds
        )
        try:
            receipt = task_run(ctx, traffic, schedule, options, dry_run)
        except BaseException as exc:
            if may_resume(exc, ctx.production, "frozen") and schedule.paused:
                restore_sync_schedule(schedule)
                logger.info("%s keeps production; syncing resumes", ctx.production)
            raise
        if dry_run:
            if receipt.outcome != "dry-run":
                logger.warning(
                    "the preflight says not yet: %s (fix: %s)", receipt.reason, receipt.fix
                )
            return receipt.as_dict()
        logger.info(
            "traffic is on %s after a %.3f s write freeze; the sync stays paused. Next: "
            "reseed-green with swap=true makes %s the standby copy and syncs the other way "
            "(rollback undoes the cutover)",
            ctx.standby,
            receipt.freeze_seconds or 0.0,
            ctx.production,
        )
        return receipt.as_dict()
