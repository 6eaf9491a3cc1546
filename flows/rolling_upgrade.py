"""The rolling upgrade: the method without change tracking, to compare the cutover against.

Production is made read-only, copied to a *stage* database, the upgrade script runs on the
stage, row counts are compared, and traffic is switched to the stage. Production is read-only
for all of it (copy + upgrade + verify): the receipt's ``freeze_seconds`` measures that window
the same way the cutover measures its freeze, so the two methods compare on one database.

- the stage is a saved ``bluegreen Database Connection`` block (``stage``), on the same engine
  as production; it is named ``stage_label`` to the traffic switch;
- ``upgrade_script`` is the path of a SQL file on the worker (relative to the checkout);
- the pair's sync schedule is paused first (production is frozen and then retired) and resumed
  again only if the upgrade stops before the switch: the engine then unfreezes production and
  drops the stage, and routing is unchanged;
- after the switch, production is the stage, which is outside the pair: save a new pair block
  with the stage as production (its old production stays read-only for a rollback by hand).

Each phase is a log line; the receipt is ``bluegreen-rolling-upgrade-<pair>`` (and
``...-receipt``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from blocks.database import DatabaseConnection
from blocks.switch import load_switch
from bluegreen import release as engine
from bluegreen.errors import ConfigError
from bluegreen.release import RollingReceipt
from bluegreen.release.switch import TrafficSwitch
from flows.sync_hold import may_resume
from tasks.logs import engine_logs
from tasks.operation import reported
from tasks.release import DB_TASK, PairContext, PhaseLog, load_context
from tasks.retry import retry_if_transient
from tasks.schedule import SchedulePause, pause_sync_schedule, restore_sync_schedule


def load_stage(name: str) -> DatabaseConnection:
    try:
        return DatabaseConnection.load(name)
    except ValueError as exc:
        raise ConfigError(
            f"no bluegreen Database Connection block named {name!r}: {exc}",
            fix="create it in the UI (Blocks -> + -> bluegreen Database Connection): the "
            "database the upgraded copy of production is made in",
        ) from None


@task(name="rolling-upgrade", retry_condition_fn=retry_if_transient, **DB_TASK)
def run_rolling(
    ctx: PairContext,
    stage: DatabaseConnection,
    stage_label: str,
    switch: TrafficSwitch,
    script: Path,
    replace_stage: bool,
    dry_run: bool,
) -> RollingReceipt:
    """The engine's rolling upgrade, phase by phase in the log; the receipt as artifacts."""
    return reported(
        ctx.name,
        lambda: engine.rolling_upgrade(
            ctx.release.blue_url,
            stage.url(),
            switch,
            script,
            blue_label=ctx.production,
            stage_label=stage_label,
            replace_stage=replace_stage,
            hooks=PhaseLog("rolling-upgrade").hooks(),
            dry_run=dry_run,
        ),
        show_plan=dry_run,
    )


@flow(
    name="bluegreen-rolling-upgrade", flow_run_name="rolling-upgrade-{pair}", persist_result=False
)
def rolling_upgrade(
    upgrade_script: str,
    stage: str,
    pair: str = "default",
    stage_label: str = "stage",
    replace_stage: bool = False,
    switch: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Upgrade a copy of production while production is read-only, then switch to it.

    Args:
        upgrade_script: path of the SQL upgrade script on the worker.
        stage: name of the ``bluegreen Database Connection`` block to build the stage in.
        pair: name of the saved ``bluegreen Pair`` block (its production side is upgraded).
        stage_label: the traffic switch's name for the stage.
        replace_stage: the stage database may exist already and is overwritten.
        switch: traffic switch block, ``<block-type-slug>/<name>``; empty: the pair's Prefect
            variable ``bluegreen-<pair>-traffic``.
        dry_run: print the phases; change nothing.
    """
    logger = get_run_logger()
    with engine_logs():
        ctx = load_context(pair)
        target = load_stage(stage)
        traffic = load_switch(switch, pair=pair, initial=ctx.production)
        logger.info(
            "rolling upgrade of %s (%s) into %s (%s) with %s, through %s",
            ctx.production,
            ctx.block.source().describe(),
            stage_label,
            target.describe(),
            upgrade_script,
            traffic.describe(),
        )
        args = (ctx, target, stage_label, traffic, Path(upgrade_script), replace_stage)
        if dry_run:
            return run_rolling(*args, True).as_dict()
        schedule = SchedulePause(pair)
        pause_sync_schedule(schedule)
        try:
            receipt = run_rolling(*args, False)
        except BaseException as exc:
            if may_resume(exc, ctx.production, "read-only"):
                restore_sync_schedule(schedule)
            raise
        logger.info(
            "traffic is on %s after %.3f s read-only; %s stays read-only and the sync of pair "
            "%r stays paused: save a pair block with %s as production to sync from it",
            stage_label,
            receipt.freeze_seconds or 0.0,
            ctx.production,
            pair,
            stage_label,
        )
        return receipt.as_dict()
