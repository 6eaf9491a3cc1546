"""Pause for a schema change on green: stop syncing, let green change, re-check, resume.

1. ``pause-sync-schedule`` and ``wait-for-sync-idle``: the pair's sync deployments stop
   scheduling and the flow waits until no sync run of the pair is pending or running. From
   then until the re-check passes, the flow holds the pair's sync guard, so a sync started by
   hand meanwhile stops at once (Cancelled) instead of syncing into a half-changed schema.
2. ``record-schema``: green's schema is recorded in green's release table (the diff's "before").
3. The change itself, one of two ways:

   - ``migration``: the path of a SQL script (on the worker) that the flow runs on green;
   - without one, the run **pauses** for a human: the Prefect UI shows a form
     (:class:`SchemaChangeInput`: what was changed, resume yes/no) under the run's "Resume"
     button. Change green, then resume with the form.

4. ``check-schema-change``: green is re-introspected; the schema diff since step 2 and the
   re-check of the mapping are published as artifacts (``bluegreen-schema-change-<pair>``:
   the report and the diff; ``...-findings``: one row per problem with its fix).
5. If the mapping fits, the schedules this run paused are resumed and a catch-up sync runs
   (as a subflow) so green is current and its new schema recorded by a sync window.

If the mapping does **not** fit, the sync stays paused and the run pauses again: the resume
form's description lists every finding and its fix (so does the artifact and the log). Fix
green (or the mapping workbook) and resume again; the re-check runs again. This is what the UI
shows best: the run sits in **Paused**, the form says what is wrong, and the same button
continues once fixed. Final states:

- Completed: the change was accepted, syncing resumed, the catch-up sync ran;
- Failed: nobody resumed within ``pause_timeout``; the message holds the findings (if a
  re-check had failed) and the sync stays paused; the failure alert fires;
- Cancelled: resumed with ``resume = no``: the sync stays paused on purpose (run this flow
  again, or resume the sync-green deployment's schedule, once green is ready).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, pause_flow_run, task
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Cancelled, Failed, Running, State
from pydantic import Field

from bluegreen import release as engine
from bluegreen.errors import ConfigError
from bluegreen.release import SchemaChangeReport, SchemaPause
from flows.sync import sync_green
from tasks.logs import engine_logs
from tasks.operation import CHECK_TASK
from tasks.release import (
    DB_TASK,
    PairContext,
    load_context,
    publish_findings,
    release_key,
)
from tasks.retry import retry_if_transient
from tasks.schedule import (
    SchedulePause,
    pause_sync_schedule,
    restore_sync_schedule,
    sync_excluded,
    wait_for_sync_idle,
)


class SchemaChangeInput(RunInput):
    """The form shown when the run pauses for the schema change."""

    changed: str = Field(
        min_length=1,
        description="What you changed on green (kept in the run's log and artifact).",
    )
    resume: bool = Field(
        default=True,
        description=(
            "Yes: re-check the mapping against green's schema and resume syncing if it fits. "
            "No: end this run; the sync stays paused."
        ),
    )


@task(name="record-schema", **CHECK_TASK)
def record_schema(ctx: PairContext) -> SchemaPause:
    """Record green's schema: what the diff after the change starts from."""
    paused = engine.pause_for_schema_change(ctx.release)
    get_run_logger().info(
        "recorded green's schema: %s table(s), fingerprint %s", paused.tables, paused.fingerprint
    )
    return paused


@task(name="run-migration", retry_condition_fn=retry_if_transient, **DB_TASK)
def run_migration(ctx: PairContext, path: str) -> str:
    """Run the migration script on green (as one batch, through green's dialect)."""
    script = Path(path)
    try:
        text = script.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the migration script {script}: {exc}",
            fix="give the path of a .sql file readable on the worker (relative to the checkout)",
        ) from None
    green = ctx.release.connect_green()
    try:
        green.run_script(text, doing=f"run the migration script {script.name} on green")
        green.commit()
    finally:
        green.close()
    get_run_logger().info("ran the migration script %s on %s", script, ctx.standby)
    return f"migration script {script}"


@task(name="check-schema-change", **CHECK_TASK)
def check_schema(ctx: PairContext, changed: str) -> SchemaChangeReport:
    """Diff green against the recorded schema, re-check the mapping, publish both."""
    logger = get_run_logger()
    report = engine.check_schema_change(ctx.release, accept=True)
    report.extra["changed"] = changed
    key = release_key("schema-change", ctx.name)
    diff = report.diff.lines() if report.diff is not None else []
    for line in diff:
        logger.info("green's schema: %s", line)
    try:
        create_markdown_artifact(
            markdown=f"**Changed:** {changed}\n\n{report.markdown()}",
            key=key,
            description=f"schema change on green of `{ctx.name}`: "
            f"{'mapping fits' if report.ok else 'mapping BROKEN'}",
        )
    except Exception as exc:  # an artifact must never hide the check's outcome
        logger.warning("could not publish the %s artifact: %s", key, exc)
    publish_findings(
        f"{key}-findings",
        report.findings,
        "the mapping fits green's new schema"
        if report.ok
        else "### the mapping does not fit green's schema: fix each row, then resume",
    )
    if report.ok:
        logger.info("the mapping fits green's schema (%s)", report.fingerprint_after)
    else:
        for f in report.findings:
            logger.error("%s", f.line())
    return report


def findings_text(report: SchemaChangeReport) -> str:
    return "; ".join(f.line() for f in report.findings)


def pause_description(ctx: PairContext, report: SchemaChangeReport | None) -> str:
    """The markdown the resume form shows: what to do now, or what to fix."""
    if report is None:
        return (
            f"### Syncing of pair `{ctx.name}` is paused\n\n"
            f"Green ({ctx.standby}) has its schema recorded. Change green's schema now, then "
            "resume this run: say what you changed; **resume = yes** re-checks the mapping and "
            "resumes syncing when it fits."
        )
    lines = [
        f"### The mapping does not fit green's schema: syncing of `{ctx.name}` stays paused",
        "",
    ]
    for f in report.findings:
        fix = f" Fix: {f.fix}" if f.fix else ""
        lines.append(f"- **{f.subject}**: {f.message}.{fix}")
    lines += [
        "",
        "Fix green (or the mapping workbook), then resume again to re-check. "
        f"The diff is in the artifact `{release_key('schema-change', ctx.name)}`.",
    ]
    return "\n".join(lines)


def fail_expired_pause(message: str) -> State[Any]:
    """Fail the run with ``message`` although its pause has expired.

    Once a pause's timeout has passed, the server turns any final state this run proposes into
    a generic "The flow was failed and never resumed." The findings are what the operator (and
    the failure alert, which quotes the state's message) needs, so the run is first moved back
    to Running by force; the Failed state returned here then lands as it is, once."""
    run_id = flow_run.id
    if run_id:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Running(message="pause expired"), force=True)
    return Failed(message=message)


def change_and_check(
    ctx: PairContext, migration: str | None, pause_timeout: int, poll_interval: int
) -> SchemaChangeReport | State[Any]:
    """Change green (script or human), re-check until the mapping fits or a human gives up."""
    logger = get_run_logger()
    report: SchemaChangeReport | None = None
    changed = run_migration(ctx, migration) if migration else ""
    while True:
        if report is not None or not migration:
            form = SchemaChangeInput.with_initial_data(description=pause_description(ctx, report))
            logger.info(
                "waiting for the schema change on green: resume this run in the UI (up to %s s)",
                pause_timeout,
            )
            try:
                answer = pause_flow_run(
                    wait_for_input=form, timeout=pause_timeout, poll_interval=poll_interval
                )
            except FlowPauseTimeout:
                why = (
                    f"the mapping does not fit green's schema: {findings_text(report)}"
                    if report is not None
                    else "nobody resumed it"
                )
                return fail_expired_pause(
                    f"schema change of pair {ctx.name!r} not accepted within "
                    f"{pause_timeout} s: {why}. The sync stays paused; fix green, then run "
                    "pause-for-schema-change again"
                )
            logger.info("resumed: %s (resume: %s)", answer.changed, answer.resume)
            if not answer.resume:
                return Cancelled(
                    message=f"resumed with resume=no ({answer.changed}): the sync of pair "
                    f"{ctx.name!r} stays paused; run pause-for-schema-change again, or resume "
                    "the sync deployment's schedule, when green is ready"
                )
            changed = answer.changed
        report = check_schema(ctx, changed)
        if report.ok:
            return report
        logger.error(
            "the mapping does not fit green's schema; the sync stays paused and this run "
            "pauses again: fix what the findings say, then resume"
        )


@flow(
    name="bluegreen-pause-for-schema-change",
    flow_run_name="schema-change-{pair}",
    persist_result=False,
)
def pause_for_schema_change(
    pair: str = "default",
    migration: str | None = None,
    pause_timeout: int = 86_400,
    poll_interval: int = 10,
    wait_for_sync_seconds: float = 600.0,
    catch_up: bool = True,
) -> dict[str, Any] | State[Any]:
    """Pause the pair's sync, change green's schema, re-check the mapping, resume.

    Args:
        pair: name of the saved ``bluegreen Pair`` block.
        migration: path of a SQL script to run on green; empty: pause for a human, who
            changes green and resumes this run from the UI's form.
        pause_timeout: seconds a pause waits to be resumed before the run fails.
        poll_interval: seconds between checks whether the run was resumed.
        wait_for_sync_seconds: how long a running sync of the pair may take to finish.
        catch_up: run a sync right after the change is accepted.
    """
    logger = get_run_logger()
    with engine_logs():
        ctx = load_context(pair)
        logger.info("pausing the sync of %s for a schema change on green", ctx.release.describe())
        schedule = SchedulePause(pair)
        pause_sync_schedule(schedule)
        recorded = False
        try:
            wait_for_sync_idle(pair, timeout=wait_for_sync_seconds)
            with sync_excluded(
                ctx.release.green_url, ctx.release.stream, timeout=wait_for_sync_seconds
            ):
                record_schema(ctx)
                recorded = True
                outcome = change_and_check(ctx, migration, pause_timeout, poll_interval)
        except BaseException:
            if not recorded:  # nothing was changed: leave the schedule as it was
                restore_sync_schedule(schedule)
            else:
                logger.error("the sync of pair %r stays paused", pair)
            raise
        if not isinstance(outcome, SchemaChangeReport):
            return outcome
        restore_sync_schedule(schedule)
        result: dict[str, Any] = {
            "pair": pair,
            "changed": outcome.extra.get("changed", ""),
            "diff": outcome.diff.lines() if outcome.diff is not None else [],
            "fingerprint": outcome.fingerprint_after,
            "report": outcome.as_dict(),
        }
        if catch_up:
            result["catch_up"] = sync_green(pair=pair)
        return result
