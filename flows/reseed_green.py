"""Re-seed green: a fresh copy of production, a new baseline, and syncing again from there.

The remedy the "needs a re-seed" error names (a watermark older than production's change log,
a table that joined the sync late) and the step after every cutover:

- ``swap=false``: green is rebuilt from production in place (same roles);
- ``swap=true`` (after a cutover): the roles are exchanged first. The side now taking traffic
  becomes production, the old production becomes the standby and is overwritten with a copy
  of it; once done, the pair block's ``production`` is switched (and its mapping workbook
  cleared: both sides have one schema now) so the sync deployments, which load the block by
  name, sync the other way from their next run.

The pair's sync schedule is paused and its running syncs waited for before the standby is
overwritten, and the pair's sync guard is held during the re-seed. The engine's guard phase
refuses to overwrite the side the traffic switch sends writes to, or to copy a frozen
production. Each phase is a log line; the receipt is ``bluegreen-reseed-green-<pair>`` (and
``...-receipt``), the load's progress ``bluegreen-reseed-green-<pair>-progress``. On success
the sync schedule is resumed.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger, task

from blocks.pair import BlueGreenPair, Side
from blocks.switch import load_switch
from bluegreen import release as engine
from bluegreen.release import ReleasePair, ReseedReceipt
from bluegreen.release.switch import TrafficSwitch
from flows.sync_hold import rebuilding
from tasks.logs import engine_logs
from tasks.operation import load_phases, reported
from tasks.release import DB_TASK, PairContext, load_context, other_side
from tasks.retry import retry_if_transient
from tasks.schedule import API_TASK, resume_sync_schedule

Method = Literal["copy", "load"]
UNTOUCHED = frozenset({"guard", "check"})


@task(name="reseed-green", retry_condition_fn=retry_if_transient, **DB_TASK)
def run_reseed(
    ctx: PairContext,
    switch: TrafficSwitch,
    swap: bool,
    method: Method,
    clear: bool,
    dry_run: bool,
) -> ReseedReceipt:
    """The engine's re-seed, phase by phase in the log; the receipt as artifacts."""
    progress, hooks = load_phases(
        ctx.name,
        "reseed-green",
        f"re-seed ({method}) of pair {ctx.name}",
        method,
        dry_run=dry_run,
    )
    return reported(
        ctx.name,
        lambda: engine.reseed_green(
            ctx.release,
            swap=swap,
            method=method,
            switch=switch,
            clear=clear,
            on_progress=progress,
            hooks=hooks,
            dry_run=dry_run,
        ),
        show_plan=dry_run,
    )


@task(name="swap-production", retries=3, retry_delay_seconds=5, **API_TASK)
def swap_production(pair: str, production: Side) -> str:
    """Save the pair block with ``production`` as its production side (idempotent)."""
    logger = get_run_logger()
    block = BlueGreenPair.load(pair)
    if block.production == production:
        logger.info("pair block %r already has %s as production", pair, production)
        return production
    block.production = production
    if block.mapping:
        logger.warning(
            "pair block %r: the mapping workbook %s is cleared; both sides have one schema now",
            pair,
            block.mapping,
        )
        block.mapping = None
    block.save(pair, overwrite=True)
    logger.info(
        "pair block %r saved: production is %s, the sync copies it to %s",
        pair,
        production,
        other_side(production),
    )
    return production


@flow(name="bluegreen-reseed-green", flow_run_name="reseed-green-{pair}", persist_result=False)
def reseed_green(
    pair: str = "default",
    swap: bool = False,
    method: Method = "copy",
    clear: bool = True,
    switch: str | None = None,
    dry_run: bool = False,
    retries: int = 0,
    retry_delay_seconds: float = 10.0,
    wait_for_sync_seconds: float = 600.0,
) -> dict[str, Any]:
    """Rebuild the standby from production and sync it from a new baseline.

    Args:
        pair: name of the saved ``bluegreen Pair`` block.
        swap: after a cutover: the side taking traffic becomes production in the pair block
            and the old production is overwritten as the new standby.
        method: ``copy`` (a copy of production) or ``load`` (through the sync plan into the
            standby's existing tables).
        clear: a load may empty the standby's tables first.
        switch: traffic switch block, ``<block-type-slug>/<name>``; empty: the pair's Prefect
            variable ``bluegreen-<pair>-traffic``.
        dry_run: print the phases; change nothing.
        retries: attempts after a transient failure.
        retry_delay_seconds: pause before each retry.
        wait_for_sync_seconds: how long a running sync of the pair may take to finish.
    """
    logger = get_run_logger()
    with engine_logs():
        ctx = load_context(pair)
        new_pair: ReleasePair = ctx.release.swapped() if swap else ctx.release
        # the switch starts (if it must) on the side that is production after the swap
        traffic = load_switch(switch, pair=pair, initial=new_pair.blue_label)
        logger.info(
            "re-seeding: %s%s",
            new_pair.describe(),
            " (roles swapped)" if swap else "",
        )
        if dry_run:
            return run_reseed(ctx, traffic, swap, method, clear, True).as_dict()
        with rebuilding(
            pair,
            new_pair,
            timeout=wait_for_sync_seconds,
            untouched=UNTOUCHED,
            half_built=f"{new_pair.green_label} may be half-built: the sync of pair {pair!r} "
            "stays paused; fix the cause and run reseed-green again",
        ):
            receipt = run_reseed.with_options(
                retries=retries, retry_delay_seconds=retry_delay_seconds
            )(ctx, traffic, swap, method, clear, False)
        if swap:
            swap_production(pair, other_side(ctx.production))  # new_pair's production
        resume_sync_schedule(pair)
        logger.info(
            "%s is a fresh copy of %s at baseline %s; syncing resumes",
            new_pair.green_label,
            new_pair.blue_label,
            receipt.baseline,
        )
        return receipt.as_dict()
