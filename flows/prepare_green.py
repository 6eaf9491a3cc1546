"""Prepare green: check production, create the copy, record its baseline, start syncing.

The steps a release engineer triggers once per pair (or again to start over):

1. ``check-blue``: change tracking and primary keys of every table to sync, on production.
   The findings (each with its fix) are a table artifact, ``bluegreen-blue-check-<pair>``;
   a finding that blocks the sync fails the run here, before anything is touched.
2. ``check-routing``: the traffic switch must not send writes to the side about to be
   overwritten (after a cutover, the re-seed flow is the one to run). The pair's Prefect
   variable switch is created here, naming production, so applications can read it.
3. The sync schedule of the pair is paused while green is rebuilt, and the pair's sync guard
   held (no sync may write into a green being replaced).
4. ``prepare-green``: the engine copies production (``copy``) or loads green's existing tables
   through the sync plan (``load``; progress artifact ``bluegreen-prepare-green-<pair>-progress``),
   installs green's state, records the baseline watermark and replays the overlap. Each phase
   is a log line as it starts and ends; the receipt is an artifact
   (``bluegreen-prepare-green-<pair>``, and ``...-receipt`` for the whole of it).
5. ``resume-sync-schedule``: the pair's sync deployments (``sync-green`` syncs the pair
   ``default``) are resumed. Run outside such a deployment, there is none: the log says so.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger, task

from blocks.switch import PrefectVariableSwitch, load_switch
from bluegreen import release as engine
from bluegreen.errors import BlueGreenError
from bluegreen.release import BlueCheck, GateFailed, PrepareReceipt
from bluegreen.release.switch import TrafficSwitch
from flows.sync_hold import rebuilding
from tasks.logs import engine_logs
from tasks.operation import CHECK_TASK, load_phases, reported
from tasks.release import DB_TASK, PairContext, load_context, publish_findings, release_key
from tasks.retry import retry_if_transient
from tasks.schedule import resume_sync_schedule

Method = Literal["copy", "load"]
UNTOUCHED = frozenset({"check", "guard"})
"""Phases whose failure leaves green as it was (the schedule is then resumed again)."""


@task(name="check-blue", **CHECK_TASK)
def check_blue(ctx: PairContext, enable: bool) -> BlueCheck:
    """Tracking and primary keys on production; the findings become an artifact."""
    logger = get_run_logger()
    blue = ctx.release.connect_blue()
    try:
        result = engine.check_blue(blue, ctx.release.tables, enable=enable)
    finally:
        blue.close()
    rows = list(result.findings)
    rows += [
        engine.Finding("info", f"table {t}", "change tracking is on")
        for t in result.tracked
        if t not in result.enabled
    ]
    rows += [
        engine.Finding("info", f"table {t}", "change tracking enabled now") for t in result.enabled
    ]
    publish_findings(
        release_key("blue-check", ctx.name),
        rows,
        f"### production ({ctx.production}) of pair `{ctx.name}`: "
        f"{'ready' if result.ok else 'NOT ready'}\n\n{result.summary()}",
    )
    for f in result.findings:
        logger.error("%s", f.line())
    if not result.ok:
        raise GateFailed(
            f"production ({ctx.production}) is not ready for change tracking: {result.summary()}",
            fix="fix each finding (artifact "
            f"{release_key('blue-check', ctx.name)}), or run with enable_tracking=true",
        )
    logger.info("%s", result.summary())
    return result


def check_not_routed_to(switch: TrafficSwitch, side: str, *, remedy: str) -> str | None:
    """The side the switch names; a GateFailed when it is ``side`` (about to be overwritten)."""
    active = switch.active()
    if active == side:
        raise GateFailed(
            f"{switch.describe()} sends traffic to {side}, the side this run would overwrite",
            fix=remedy,
        )
    return active


@task(name="check-routing", **CHECK_TASK)
def check_routing(ctx: PairContext, switch: TrafficSwitch, initialise: bool) -> str | None:
    """Traffic must not go to the side being prepared; the default switch starts on production."""
    logger = get_run_logger()
    active = check_not_routed_to(
        switch,
        ctx.standby,
        remedy="after a cutover, run reseed-green with swap=true; otherwise point the switch "
        f"at {ctx.production}",
    )
    if initialise and isinstance(switch, PrefectVariableSwitch) and switch.stored() is None:
        switch.ensure()
        logger.info("created %s naming %s", switch.describe(), ctx.production)
        return ctx.production
    logger.info("%s: traffic on %s", switch.describe(), active or "unknown (cannot tell)")
    return active


def _source_tables(ctx: PairContext) -> int | None:
    """How many production tables a load reads (the progress artifact's denominator)."""
    blue = ctx.release.connect_blue()
    try:
        green = ctx.release.connect_green()
        try:
            plan, _ = ctx.release.plan(blue, green)
            return len(plan.sources)
        finally:
            green.close()
    except BlueGreenError:  # the engine's create phase reports it, in the receipt
        return None
    finally:
        blue.close()


@task(name="prepare-green", retry_condition_fn=retry_if_transient, **DB_TASK)
def run_prepare(
    ctx: PairContext,
    method: Method,
    replace: bool,
    clear: bool,
    enable_tracking: bool,
    dry_run: bool,
) -> PrepareReceipt:
    """The engine's prepare, phase by phase in the log; the receipt as artifacts."""
    progress, hooks = load_phases(
        ctx.name,
        "prepare-green",
        f"{method} of {ctx.release.describe()}",
        method,
        dry_run=dry_run,
        tables=lambda: _source_tables(ctx) if method == "load" else None,
    )
    return reported(
        ctx.name,
        lambda: engine.prepare_green(
            ctx.release,
            method=method,
            replace=replace,
            clear=clear,
            enable_tracking=enable_tracking,
            on_progress=progress,
            hooks=hooks,
            dry_run=dry_run,
        ),
        show_plan=dry_run,
    )


@flow(name="bluegreen-prepare-green", flow_run_name="prepare-green-{pair}", persist_result=False)
def prepare_green(
    pair: str = "default",
    method: Method = "copy",
    replace: bool = False,
    clear: bool = False,
    enable_tracking: bool = False,
    switch: str | None = None,
    dry_run: bool = False,
    retries: int = 0,
    retry_delay_seconds: float = 10.0,
    wait_for_sync_seconds: float = 600.0,
) -> dict[str, Any]:
    """Create green from production, record its baseline and start syncing it.

    Args:
        pair: name of the saved ``bluegreen Pair`` block.
        method: ``copy`` copies production over green (PostgreSQL: both on one server, and
            production is locked out for the copy); ``load`` fills green's existing, empty
            tables through the sync plan (mapping workbook included), in batches.
        replace: a copy may overwrite an existing green database.
        clear: a load may empty green's tables first.
        enable_tracking: turn change tracking on where production lacks it.
        switch: traffic switch block, ``<block-type-slug>/<name>``; empty: the pair's Prefect
            variable ``bluegreen-<pair>-traffic`` (created here, naming production).
        dry_run: check production and print the plan; change nothing.
        retries: attempts after a transient error (lost connection, deadlock).
        retry_delay_seconds: pause before each retry.
        wait_for_sync_seconds: how long a running sync of the pair may take to finish.
    """
    logger = get_run_logger()
    with engine_logs():
        ctx = load_context(pair)
        traffic = load_switch(switch, pair=pair, initial=ctx.production)
        logger.info(
            "preparing %s by %s%s", ctx.release.describe(), method, " (dry run)" if dry_run else ""
        )
        check_blue(ctx, enable_tracking and not dry_run)
        check_routing(ctx, traffic, initialise=not dry_run)
        if dry_run:
            return run_prepare(ctx, method, replace, clear, False, True).as_dict()
        with rebuilding(
            pair,
            ctx.release,
            timeout=wait_for_sync_seconds,
            untouched=UNTOUCHED,
            half_built=f"green of pair {pair!r} may be half-built: its sync stays paused; fix "
            "the cause and run prepare-green again",
        ):
            receipt = run_prepare.with_options(
                retries=retries, retry_delay_seconds=retry_delay_seconds
            )(ctx, method, replace, clear, enable_tracking, False)
        resume_sync_schedule(pair)
        logger.info(
            "green is ready at baseline %s and syncing from %s",
            receipt.baseline,
            ctx.production,
        )
        return receipt.as_dict()
