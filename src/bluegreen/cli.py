"""The ``bluegreen`` command: tracking, sync, status, stats, verify and the demo.

Settings come from flags, then ``BLUEGREEN_*`` environment variables, then ``bluegreen.toml``
(see :mod:`bluegreen.config`). Connection strings stay SecretStr: output shows them only through
:func:`~bluegreen.dialects.redact`, and every printed error and log line is scrubbed of
passwords. A :class:`~bluegreen.errors.BlueGreenError` prints its message and fix without a
traceback and exits 2 (terminal: a human must act) or 75 (transient: retrying may succeed).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bluegreen import logsetup
from bluegreen.config import Settings, load_settings
from bluegreen.dialects import Dialect, connect, redact
from bluegreen.errors import BlueGreenError, ConfigError
from bluegreen.release.verify import TableCheck, VerifyReport, verify_pair
from bluegreen.status import PairStatus, pair_status, sync_stats
from bluegreen.sync.plan import SyncPlan, Target
from bluegreen.sync.runner import PlanBuilder, RunSummary, Syncer
from bluegreen.sync.shape import Shaper
from bluegreen.sync.state import GreenState, TableStats
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.cli")

EXIT_MISMATCH = 1
EXIT_TERMINAL = 2
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: schedulers and wrappers know it means "try again"
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="bluegreen",
    help=(
        "Keep a green copy of a production database (blue) current through change tracking, "
        "so a release can cut over with near-zero downtime."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    # typer's pretty tracebacks print local variables: they could show a connection string.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
tracking_app = typer.Typer(
    help="Turn change tracking on blue on or off, and prune its change log.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(tracking_app, name="tracking")

# ---- commands contributed by other modules ------------------------------------------------------
from bluegreen.mapping.cli import mapping_app  # noqa: E402

app.add_typer(mapping_app, name="mapping")
# --------------------------------------------------------------------------------------------------


@dataclass
class CliState:
    """Global options, shared with every command through typer's context."""

    config: Path | None = None
    verbose: int = 0


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="PATH",
            help="settings file (TOML); default ./bluegreen.toml or $BLUEGREEN_CONFIG",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option("-v", "--verbose", count=True, help="also log bluegreen's debug lines"),
    ] = 0,
) -> None:
    """Options that apply to every command."""
    ctx.obj = CliState(config=config, verbose=verbose)
    logsetup.configure(verbose)


# ---- shared plumbing ----------------------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def stdout() -> Console:
    console = Console(highlight=False, soft_wrap=True)  # soft wrap: text lines stay whole
    if not console.is_terminal:
        console.width = 160  # a pipe or a test runner: do not squeeze tables to 80 columns
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def report_error(exc: BlueGreenError) -> None:
    """Message and fix on stderr, scrubbed of secrets; no traceback."""
    kind = "transient error" if exc.transient else "error"
    err = stderr()
    err.print(Text(f"{kind}: {logsetup.scrub(exc.message)}", style="bold red"))
    if exc.fix:
        err.print(Text(f"  fix: {logsetup.scrub(exc.fix)}"))
    if exc.transient:
        err.print(Text("  (retrying may succeed: nothing was committed half-way)"))


def guarded(fn: F) -> F:
    """Turn bluegreen errors into a message and an exit code (2 terminal, 75 transient)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BlueGreenError as exc:
            report_error(exc)
            raise typer.Exit(EXIT_TRANSIENT if exc.transient else EXIT_TERMINAL) from None
        except KeyboardInterrupt:
            stderr().print("interrupted: green stays at its last committed watermark")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def settings(ctx: typer.Context, **flags: object) -> Settings:
    """Flags over environment over the TOML file; registers the URLs as secrets to scrub."""
    state: CliState = ctx.obj or CliState()
    loaded = load_settings(state.config, **flags)
    for url in (loaded.blue_url, loaded.green_url):
        if url is not None:
            logsetup.register_secret(url.get_secret_value())
    return loaded


def pair_settings(
    ctx: typer.Context,
    blue: str | None,
    green: str | None,
    table: list[str] | None,
    stream: str | None,
    mapping: Path | None,
    **flags: object,
) -> tuple[Settings, SecretStr, SecretStr]:
    """The settings of a command that reads both sides, and both connection strings (required)."""
    cfg = settings(
        ctx,
        blue_url=blue,
        green_url=green,
        tables=table,
        stream=stream,
        mapping=mapping,
        **flags,
    )
    return (cfg, *cfg.require_urls())


def need(url: SecretStr | None, side: str, flag: str, env: str, key: str) -> SecretStr:
    if url is None:
        raise ConfigError(
            f"no {side} connection string",
            fix=f"pass {flag}, set {env}, or write {key} in bluegreen.toml",
        )
    return url


def shown(url: SecretStr) -> str:
    """A connection string safe to print."""
    return redact(url.get_secret_value())


@contextlib.contextmanager
def opened(url: SecretStr) -> Iterator[Dialect]:
    """A dialect connection that is closed however the command ends."""
    logsetup.register_secret(url.get_secret_value())
    db = connect(url)
    try:
        yield db
    finally:
        db.close()


def plan_builder(cfg: Settings) -> PlanBuilder | None:
    """The plan from the mapping workbook when one is configured; None syncs same-named tables."""
    if cfg.mapping is None:
        return None
    from bluegreen.mapping import MappingPlanBuilder  # openpyxl only when a workbook is used

    # its stale() makes the runner rebuild the plan when the workbook file changes; E forces it
    return MappingPlanBuilder(cfg.mapping, tables=cfg.tables or None)


def make_syncer(blue: Dialect, green: Dialect, cfg: Settings) -> Syncer:
    return Syncer(
        blue,
        green,
        tables=cfg.tables or None,
        batch_size=cfg.batch_size,
        stream=cfg.stream,
        plan_builder=plan_builder(cfg),
    )


def require_tables(plan: SyncPlan, blue: SecretStr, green: SecretStr) -> None:
    """Refuse an empty plan: a sync would move green's watermark past changes it never applied
    (tables added later would miss them), and a verify would prove nothing."""
    if plan.targets:
        return
    skipped = "; ".join(plan.skipped) or "blue has no tracked table"
    raise ConfigError(
        f"nothing to sync from {shown(blue)} to {shown(green)}: {skipped}",
        fix="enable tracking on blue (`bluegreen tracking enable`), create the tables in green, "
        "or check --table and the connection strings",
    )


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def kv_table(rows: list[tuple[str, str]], title: str | None = None) -> Table:
    table = Table(show_header=False, title=title, title_justify="left", box=None)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, Text(v))
    return table


# ---- option types -------------------------------------------------------------------------------
def unset(*names: str, metavar: str, help: str, **more: Any) -> Any:
    """An option whose default comes from the settings (so typer shows none)."""
    return typer.Option(*names, metavar=metavar, help=help, show_default=False, **more)


def table_option(help: str) -> Any:
    """``--table/-t TABLE``, repeatable."""
    return unset("--table", "-t", metavar="TABLE", help=help)


BlueOpt = Annotated[
    str | None,
    unset(
        "--blue",
        metavar="URL",
        help="blue (production) connection string; default $BLUEGREEN_BLUE_URL or blue_url",
    ),
]
GreenOpt = Annotated[
    str | None,
    unset(
        "--green",
        metavar="URL",
        help="green (copy) connection string; default $BLUEGREEN_GREEN_URL or green_url",
    ),
]
TablesOpt = Annotated[
    list[str] | None,
    table_option(
        "only this blue table (repeat for more); default: every tracked table green also has"
    ),
]
StreamOpt = Annotated[
    str | None,
    unset("--stream", metavar="NAME", help="watermark name on green (default 'default')"),
]
MappingOpt = Annotated[
    Path | None,
    unset("--mapping", metavar="PATH", help="mapping workbook (.xlsx)", dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


# ---- tracking -----------------------------------------------------------------------------------
DbOpt = Annotated[
    str | None,
    unset(
        "--db",
        metavar="URL",
        help="the database to change (blue); default $BLUEGREEN_BLUE_URL or blue_url",
    ),
]


def db_url(ctx: typer.Context, db: str | None, **flags: object) -> tuple[Settings, SecretStr]:
    """The settings and the database a tracking command changes (--db, else blue's)."""
    cfg = settings(ctx, blue_url=db, **flags)
    return cfg, need(cfg.blue_url, "database", "--db", "BLUEGREEN_BLUE_URL", "blue_url")


@tracking_app.command("enable")
@guarded
def tracking_enable(
    ctx: typer.Context,
    db: DbOpt = None,
    table: Annotated[
        list[str] | None,
        table_option("track this table (repeat for more); default: every table with a primary key"),
    ] = None,
) -> None:
    """Turn change tracking on for the database and its tables (idempotent).

    Enable it before the rows a green must receive are written: a green that starts empty
    converges from the change log alone. Rows that existed before come to green by a copy
    (re-seed), not through tracking. Tables without a primary key cannot be tracked: without
    --table they are listed and left out; named with --table they are an error.
    """
    _, url = db_url(ctx, db)
    out = stdout()
    with opened(url) as d:
        schema = d.introspect()
        if table:
            chosen = [schema.table(t) for t in table]
            for t in chosen:
                d.require_primary_key(t)
        else:
            chosen = [t for _, t in sorted(schema.tables.items()) if t.primary_key]
            for name, t in sorted(schema.tables.items()):
                if not t.primary_key:
                    log.warning("not tracked: table %s has no primary key", name)
        if not chosen:
            raise ConfigError(
                f"{shown(url)} has no table with a primary key to track",
                fix="create the tables (with primary keys) first, or check the connection string",
            )
        newly = set(d.enable_tracking(chosen))
        version = d.current_watermark()
        d.rollback()
    result = Table(title=f"change tracking on {shown(url)}", title_justify="left")
    result.add_column("table")
    result.add_column("tracking")
    for t in chosen:
        result.add_row(Text(str(t.name)), "enabled now" if t.name in newly else "already on")
    out.print(result)
    out.print(f"current version: {version.version}")


@tracking_app.command("disable")
@guarded
def tracking_disable(
    ctx: typer.Context,
    db: DbOpt = None,
    table: Annotated[
        list[str] | None,
        table_option("stop tracking this table (repeat); default: every tracked table"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Turn change tracking off and drop the tables' change logs.

    Every green synced from these tables loses its source of changes: it must be re-seeded
    after tracking is enabled again.
    """
    _, url = db_url(ctx, db)
    with opened(url) as d:
        tracked = d.tracked_tables()
        if table:
            schema = d.introspect()
            names = [schema.table(t).name for t in table]
        else:
            names = list(tracked)
        names = [n for n in names if n in set(tracked)]
        if not names:
            stdout().print("nothing to disable: no such table is tracked")
            return
        listed = ", ".join(str(n) for n in names)
        if not yes and not typer.confirm(
            f"stop tracking {listed} on {shown(url)} and drop their change logs?"
        ):
            raise typer.Exit(1)
        d.disable_tracking(names)
    stdout().print(Text(f"tracking disabled: {listed}"))


@tracking_app.command("cleanup")
@guarded
def tracking_cleanup(
    ctx: typer.Context,
    before: Annotated[
        int | None,
        unset(
            "--before",
            metavar="VERSION",
            help="drop change-log rows at or below this version; default: the green's watermark",
            min=0,
        ),
    ] = None,
    db: DbOpt = None,
    green: Annotated[
        str | None,
        unset(
            "--green",
            metavar="URL",
            help="the green to protect: nothing it still needs is dropped "
            "(default $BLUEGREEN_GREEN_URL or green_url, if set)",
        ),
    ] = None,
    stream: StreamOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="prune past the green's watermark all the same")
    ] = False,
) -> None:
    """Prune blue's change log: drop the rows no watermark at or after --before needs.

    A green whose watermark is older than --before can no longer be synced (it must be
    re-seeded), so when a green is known (--green or the settings) its watermark is read
    first: without --before the log is pruned up to it, and a --before past it is refused
    unless --force. Engines whose watermark is more than a number (PostgreSQL's snapshot)
    prune only up to a green's watermark.
    """
    cfg, url = db_url(ctx, db, green_url=green, stream=stream)
    protected: Watermark | None = None
    if cfg.green_url is not None:
        with opened(cfg.green_url) as g:
            state = GreenState(g, cfg.stream)
            protected = state.read()[0] if state.installed() else Watermark.start()
            g.rollback()
        where = f"green {shown(cfg.green_url)} (stream {cfg.stream!r})"
        if protected.origin and not force:
            raise ConfigError(
                f"{where} was never synced: it still needs the whole change log",
                fix="sync green first, or pass --force with --before (then re-seed that green)",
            )
        if before is not None and before > protected.version and not force:
            raise ConfigError(
                f"{where} is at watermark {protected}: dropping changes up to version {before} "
                "would leave it unable to sync",
                fix="sync green first, lower --before to at most its watermark, or pass --force "
                "(that green must then be re-seeded)",
            )
    if before is None and (protected is None or protected.origin):
        raise ConfigError(
            "no version to prune up to",
            fix="pass --before VERSION, or --green URL to prune up to that green's watermark",
        )
    with opened(url) as d:
        if protected is not None and (before is None or before == protected.version):
            mark = protected  # the full watermark, engine position included
        elif d.watermark_has_position:
            raise ConfigError(
                f"{d.describe()} cannot prune up to a bare version number: its watermark is "
                "more than a number",
                fix="leave out --before and pass --green URL: the log is pruned up to that "
                "green's watermark",
            )
        else:
            mark = Watermark(version=before or 0)
        removed = d.cleanup_changes(mark)
    stdout().print(f"removed {removed} change-log row(s) up to version {mark}")


# ---- sync ---------------------------------------------------------------------------------------
@app.command("sync")
@guarded
def sync(
    ctx: typer.Context,
    blue: BlueOpt = None,
    green: GreenOpt = None,
    table: TablesOpt = None,
    once: Annotated[bool, typer.Option("--once", help="apply one window and stop")] = False,
    until_caught_up: Annotated[
        bool,
        typer.Option(
            "--until-caught-up",
            help="apply windows until green has what blue had at the start (the default)",
        ),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="keep syncing every --interval seconds until stopped (keys on a terminal)",
        ),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="seconds between windows with --follow (default 5)"),
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option("--time-budget", help="stop starting windows after this many seconds"),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="rows per read batch (default 50000)")
    ] = None,
    stream: StreamOpt = None,
    mapping: MappingOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="print the plan (tables, apply steps) and change nothing"),
    ] = False,
) -> None:
    """Bring green up to date with blue's tracked changes, one atomic window at a time.

    The first sync into a green creates its state tables (idempotent) and then syncs every
    tracked blue table that green also has. Each window logs one line on stderr. With --follow
    on a terminal, single keys act: X exit (after the current window, printing the totals),
    E reload the workbook, T per-table statistics, S totals, P pause, R resume; off a terminal,
    Ctrl-C or SIGTERM exits after the current window.
    """
    state: CliState = ctx.obj or CliState()
    chosen = (("--once", once), ("--until-caught-up", until_caught_up), ("--follow", follow))
    modes = [name for name, on in chosen if on]
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(modes)} cannot be combined", fix="choose one sync mode")
    cfg, blue_url, green_url = pair_settings(
        ctx,
        blue,
        green,
        table,
        stream,
        mapping,
        interval=interval,
        time_budget=time_budget,
        batch_size=batch_size,
    )
    out = stdout()
    with opened(blue_url) as b, opened(green_url) as g:
        syncer = make_syncer(b, g, cfg)
        if dry_run:
            plan = syncer.prepare(install=False)
            out.print(Text(f"plan for {shown(blue_url)} -> {shown(green_url)}"))
            out.print(Text(plan.describe()))
            out.print("dry run: nothing was written")
            return
        require_tables(syncer.prepare(install=False), blue_url, green_url)
        log.info("sync %s -> %s (stream %s)", shown(blue_url), shown(green_url), cfg.stream)
        if follow:
            from bluegreen import cli_follow

            summary = cli_follow.follow(
                syncer, cfg.interval, verbose=state.verbose, time_budget=cfg.time_budget
            )
            print_totals(out, summary)
            return
        if once:
            summary = RunSummary()
            record = syncer.once()
            if record is not None:
                summary.windows.append(record)
                summary.seconds = record.total_seconds
            out.print(record.summary() if record else "blue has nothing new: green is current")
            return
        summary = syncer.until_caught_up(time_budget=cfg.time_budget)
        out.print(summary.summary())


def print_totals(out: Console, summary: RunSummary) -> None:
    """The session's totals, then the per-table statistics."""
    from bluegreen.cli_follow import per_table, totals_table

    out.print(totals_table(summary, "totals"))
    if summary.windows:
        out.print(per_table(summary.table_totals(), "per table"))


# ---- status, stats, verify ----------------------------------------------------------------------
@app.command("status")
@guarded
def status(
    ctx: typer.Context,
    blue: BlueOpt = None,
    green: GreenOpt = None,
    table: TablesOpt = None,
    stream: StreamOpt = None,
    mapping: MappingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show how far green is behind blue. Read-only.

    Green's watermark, blue's current version, the lag in versions and in pending changes
    (changed keys not yet synced, per synced table), and green's last applied window.
    """
    cfg, blue_url, green_url = pair_settings(ctx, blue, green, table, stream, mapping)
    with opened(blue_url) as b, opened(green_url) as g:
        st = pair_status(make_syncer(b, g, cfg))
    if as_json:
        head = {"blue": shown(blue_url), "green": shown(green_url), "stream": cfg.stream}
        echo_json({**head, **st.as_dict()})
        return
    print_status(stdout(), st, shown(blue_url), shown(green_url), cfg.stream)


def print_status(out: Console, st: PairStatus, blue: str, green: str, stream: str) -> None:
    lag = "everything since tracking began" if st.lag_versions is None else str(st.lag_versions)
    rows = [
        ("blue", blue),
        ("green", green),
        ("stream", stream),
        ("watermark", str(st.watermark) + ("" if st.installed else " (green never synced)")),
        ("blue version", str(st.blue_version.version)),
        ("lag (versions)", lag),
        ("pending changes", f"{st.pending_changes} in {len(st.pending)} table(s)"),
    ]
    w = st.last_window
    if w:
        deletes = int(w["deletes"]) + int(w["deferred_deletes"])
        rows.append(
            (
                "last window",
                f"#{w['window_id']} {w['from_version']} -> {w['to_version']} at "
                f"{w['finished_at']}: {w['inserts']} inserts, {w['updates']} updates, "
                f"{deletes} ({w['deferred_deletes']}) deletes in {float(w['total_seconds']):.2f} s",
            )
        )
    else:
        rows.append(("last window", "none yet"))
    out.print(kv_table(rows))
    if st.pending:
        table = Table(title="pending changes", title_justify="left")
        table.add_column("table")
        table.add_column("changed keys", justify="right")
        for name, n in sorted(st.pending.items()):
            table.add_row(Text(name), str(n))
        out.print(table)
    for line in st.skipped:
        out.print(Text(f"not synced: {line}"))


@app.command("stats")
@guarded
def stats(
    ctx: typer.Context,
    green: GreenOpt = None,
    stream: StreamOpt = None,
    tables: Annotated[
        bool, typer.Option("--tables", help="also show the totals of every table")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show what the syncs into green did, from green's own history. Read-only.

    Windows, inserts, updates, deletes (deferred deletes on referenced tables are counted in
    and shown apart) and time spent; --tables adds the same per table.
    """
    cfg = settings(ctx, green_url=green, stream=stream)
    url = need(cfg.green_url, "green", "--green", "BLUEGREEN_GREEN_URL", "green_url")
    with opened(url) as g:
        result = sync_stats(GreenState(g, cfg.stream), shown(url))
    if as_json:
        echo_json(result.as_dict() if tables else {"totals": result.totals})
        return
    out = stdout()
    print_history_totals(out, result.totals, f"syncs into {shown(url)} (stream {cfg.stream})")
    if tables:
        print_history_tables(out, result.tables)


def print_history_totals(out: Console, t: dict[str, Any], title: str) -> None:
    table = Table(title=title, title_justify="left")
    columns = ("windows", "inserts", "updates", "deletes", "(deferred)", "seconds", "first", "last")
    for col in columns:
        table.add_column(col, justify="right")
    deletes = int(t["deletes"]) + int(t["deferred_deletes"])
    table.add_row(
        str(t["windows"]),
        str(t["inserts"]),
        str(t["updates"]),
        str(deletes),
        str(t["deferred_deletes"]),
        f"{float(t['seconds']):.2f}",
        Text(str(t["first_started_at"] or "-")),
        Text(str(t["last_finished_at"] or "-")),
    )
    out.print(table)


def print_history_tables(out: Console, rows: list[dict[str, Any]]) -> None:
    per = {
        r["table"]: TableStats(
            int(r["inserts"] or 0),
            int(r["updates"] or 0),
            int(r["deletes"] or 0),
            int(r["deferred_deletes"] or 0),
        )
        for r in rows
    }
    from bluegreen.cli_follow import per_table

    out.print(per_table(per, "per table"))


@app.command("verify")
@guarded
def verify(
    ctx: typer.Context,
    blue: BlueOpt = None,
    green: GreenOpt = None,
    table: TablesOpt = None,
    stream: StreamOpt = None,
    mapping: MappingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare row counts and content hashes of every green table with blue's, through the plan.

    Read-only; exits 1 when any table differs. With a mapping workbook blue is seen *through*
    it: renamed and split columns compare with their blue source, a cast column compares with
    blue's value cast by the sync's own shaper, a lookup column compares blue's value with the
    value green's lookup row holds; only version columns are not compared. Each side is read
    in one snapshot; if blue has changes green has not applied yet, a difference may be just
    those: sync (or freeze blue) and verify again.
    """
    cfg, blue_url, green_url = pair_settings(ctx, blue, green, table, stream, mapping)
    with opened(blue_url) as b, opened(green_url) as g:
        builder = plan_builder(cfg)
        shaper: Shaper | None = None
        if builder is None:
            plan = make_syncer(b, g, cfg).prepare(install=False)
        else:
            plan, shaper = builder(b, g)
        b.rollback()
        g.rollback()
        require_tables(plan, blue_url, green_url)
        report = verify_pair(b, g, plan, shaper, stream=cfg.stream, batch_size=cfg.batch_size)
    if as_json:
        echo_json(verification_dict(report, plan))
    else:
        print_verification(stdout(), report, plan)
    if not report.ok:
        raise typer.Exit(EXIT_MISMATCH)


def _checked(report: VerifyReport, plan: SyncPlan) -> list[tuple[TableCheck, Target]]:
    """Each check with the plan target it verified (verify_pair checks them in plan order)."""
    return list(zip(report.tables, plan.targets, strict=True))


def _what(check: TableCheck, target: Target) -> dict[str, list[str]]:
    """Which green columns were compared, and how: renamed, cast, looked up, left out."""
    compared = set(check.columns)
    return {
        "compared": list(check.columns),
        "renamed": [
            f"{s.green}<-{s.blue}"
            for s in target.sources
            if s.green in compared and s.blue != s.green and s.lookup is None
        ],
        "casts": [s.green for s in target.sources if s.green in compared and s.cast],
        "lookups": list(check.lookups),
        "not_compared": [s.green for s in target.sources if s.green not in compared],
    }


def verification_dict(report: VerifyReport, plan: SyncPlan) -> dict[str, Any]:
    """The verification as JSON-ready data (one entry per green table)."""
    tables = []
    for c, target in _checked(report, plan):
        tables.append(
            {
                "blue_table": c.blue_table,
                "green_table": c.green_table,
                "blue": {"table": c.blue_table, "rows": c.blue_rows, "digest": c.blue_digest},
                "green": {"table": c.green_table, "rows": c.green_rows, "digest": c.green_digest},
                "matches": c.matches,
                "through_mapping": c.through_shaper,
                **_what(c, target),
            }
        )
    mark = report.green_watermark
    return {
        "ok": report.ok,
        "mapping_fingerprint": plan.mapping_fingerprint,
        "watermark": None if mark is None else str(mark),
        "blue_version": None if report.blue_version is None else report.blue_version.version,
        "seconds": round(report.seconds, 3),
        "tables": tables,
    }


def _how_compared(check: TableCheck, target: Target) -> list[str]:
    """The columns not compared as plain same-named copies, each with how it was compared."""
    compared = set(check.columns)
    out = []
    for s in target.sources:
        if s.green not in compared:
            why = "the window's version, blue has none" if s.version else "no blue value"
            out.append(f"{s.green} not compared ({why})")
        elif s.lookup is not None:
            out.append(f"{s.green} as {s.lookup.table.name}.{s.lookup.value} = blue {s.blue}")
        elif s.cast:
            out.append(f"{s.green} = blue {s.blue} cast to {s.cast}")
        elif s.blue != s.green:
            out.append(f"{s.green} = blue {s.blue}")
    return out


def print_verification(out: Console, report: VerifyReport, plan: SyncPlan) -> None:
    """One line per green table (``blue -> green`` when the names differ): rows and hashes on
    both sides, how many columns were compared, whether it matches; then, per table, the
    columns compared through a rename, a cast or a lookup, and those not compared."""
    through = " through the mapping" if plan.mapping_fingerprint else ""
    table = Table(title=f"blue vs green{through}", title_justify="left")
    table.add_column("table")
    table.add_column("blue rows", justify="right")
    table.add_column("green rows", justify="right")
    table.add_column("blue hash")
    table.add_column("green hash")
    table.add_column("columns", justify="right")
    table.add_column("")
    checked = _checked(report, plan)
    for c, target in checked:
        name = (
            c.green_table if c.blue_table == c.green_table else f"{c.blue_table} -> {c.green_table}"
        )
        n, total = len(c.columns), len(target.sources)
        table.add_row(
            Text(name),
            str(c.blue_rows),
            str(c.green_rows),
            c.blue_digest[:16],
            c.green_digest[:16],
            str(n) if n == total else f"{n} of {total}",
            Text("ok", style="green") if c.matches else Text("MISMATCH", style="bold red"),
        )
    out.print(table)
    for c, target in checked:
        how = _how_compared(c, target)
        if how:
            out.print(Text(f"  {c.green_table}: {'; '.join(how)}"))
    mark, version = report.green_watermark, report.blue_version
    shown_mark = "never synced" if mark is None else str(mark)
    out.print(
        Text(
            f"blue version {'-' if version is None else version.version}, "
            f"green watermark {shown_mark}"
        )
    )
    bad = report.mismatches
    if not bad:
        done = f"green equals blue{through} ({len(report.tables)} table(s))"
        out.print(Text(done, style="green"))
        return
    names = ", ".join(c.green_table for c in bad)
    out.print(Text(f"{len(bad)} table(s) differ: {names}", style="bold red"))
    if mark is None or mark.origin or version is None or mark.version != version.version:
        out.print(
            Text(
                "blue has changes green has not applied yet: run `bluegreen sync` (or freeze "
                "blue) and verify again before treating this as damage"
            )
        )


# ---- serve --------------------------------------------------------------------------------------
def _checkout_root(start: Path) -> Path:
    """The bluegreen checkout holding prefect.yaml and flows/, searched upwards from ``start``."""
    for folder in (start, *start.parents):
        if (folder / "prefect.yaml").is_file() and (folder / "flows" / "serve.py").is_file():
            return folder
    raise ConfigError(
        f"no bluegreen checkout (prefect.yaml and flows/) at or above {start}",
        fix="run `bluegreen serve` from the bluegreen repository, where prefect.yaml lives",
    )


@app.command("serve")
@guarded
def serve(
    host: Annotated[str, typer.Option(help="host of the local Prefect server")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the local Prefect server")] = 4200,
) -> None:
    """Register the Prefect blocks and serve every deployment of prefect.yaml from this process.

    Starts a local Prefect server (SQLite) when none answers at HOST:PORT, creates the
    `default` pair block from BLUEGREEN_BLUE_URL / BLUEGREEN_GREEN_URL when it is missing and
    they are set (else create it in the UI), and serves sync-green on its schedule plus the
    on-demand release flows; open the printed UI address to trigger them. Ctrl-C stops.
    """
    import importlib
    import sys

    root = _checkout_root(Path.cwd())
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # flows/ and blocks/ live in the checkout, not the package
    flows_serve = importlib.import_module("flows.serve")  # imports Prefect only here
    raise typer.Exit(flows_serve.main(["--host", host, "--port", str(port)]))


# ---- demo ---------------------------------------------------------------------------------------
@app.command("demo")
@guarded
def demo(
    folder: Annotated[
        Path,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="folder for blue.db, green.db and mapping.xlsx (recreated)",
            file_okay=False,
        ),
    ] = Path("demo"),
    seconds: Annotated[
        float, typer.Option("--seconds", help="how long the writer writes", min=0.1)
    ] = 5.0,
    interval: Annotated[
        float, typer.Option("--interval", help="seconds between follow windows", min=0.01)
    ] = 0.2,
    seed: Annotated[
        int | None, typer.Option("--seed", help="random seed (repeatable runs)", show_default=False)
    ] = None,
    mapping: Annotated[
        bool,
        typer.Option(
            "--mapping/--no-mapping",
            help="green differs from blue through a mapping workbook (--no-mapping: same schema)",
        ),
    ] = True,
) -> None:
    """Sync a small shop on two SQLite files while it is written to, then prove green = blue.

    Creates --dir with blue.db (regions, customers that refer each other, products, orders)
    and an empty green.db, enables tracking on blue, writes random inserts, updates and
    deletes for --seconds while syncing every --interval, catches up, prints the statistics
    and compares rows and a content hash per green table. Exits 1 if they differ.

    By default green's schema differs and --dir/mapping.xlsx maps blue onto it: customer.name
    renamed to full_name (N), orders.amount widened (T), orders.synced_version (V),
    customer.email/phone split into customer_contact (S), orders.status replaced by the key of
    order_status (L); the comparison sees blue through the mapping.
    """
    from bluegreen.demo import run_demo

    out = stdout()
    files = "blue.db -> green.db" + (" through mapping.xlsx" if mapping else "")
    out.print(Text(f"demo in {folder}/: {files}, writing for {seconds:g} s"))

    def show_plan(plan: SyncPlan, workbook: Path | None) -> None:
        if workbook is not None:
            out.print(Text(f"mapping workbook: {workbook} (edit it and run `bluegreen sync`)"))
        out.print(Text(plan.describe()))

    result = run_demo(
        folder, seconds=seconds, interval=interval, seed=seed, mapping=mapping, on_plan=show_plan
    )
    w = result.writer
    out.print(
        Text(
            f"writer: {w.transactions} transactions, {w.inserts} inserts, {w.updates} updates, "
            f"{w.deletes} deletes, {w.pk_changes} primary-key change(s)"
        )
    )
    run = result.run
    t = run.totals
    applied = len([x for x in run.windows if x.changes])
    out.print(
        Text(
            f"while writing: {applied} window(s): {t.inserts} inserts, {t.updates} updates, "
            f"{t.deletes + t.deferred_deletes} ({t.deferred_deletes}) deletes"
        )
    )
    out.print(Text(f"final catch-up: {result.final.summary()}"))
    print_history_totals(out, result.totals, "sync statistics (green's history)")
    print_history_tables(out, result.tables)
    print_verification(out, result.report, result.plan)
    if not result.report.ok:
        raise typer.Exit(EXIT_MISMATCH)
    extra = f" --mapping {result.workbook}" if result.workbook is not None else ""
    out.print(
        Text(
            f"try: bluegreen verify --blue {result.blue_url} --green {result.green_url}{extra}",
            style="dim",
        )
    )


def main() -> None:
    """Console-script entry point."""
    app(prog_name="bluegreen")


if __name__ == "__main__":  # pragma: no cover
    main()
