"""``bluegreen mapping template`` and ``bluegreen mapping check``.

Registered by the main command as ``app.add_typer(mapping_app, name="mapping")``. Settings come
the same way as for every command (flags, ``BLUEGREEN_*``, ``bluegreen.toml``); connection strings
stay SecretStr and never reach the output (errors are scrubbed before they are printed).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bluegreen import logsetup
from bluegreen.config import Settings, load_settings
from bluegreen.dialects import Dialect, connect, redact
from bluegreen.errors import BlueGreenError, ConfigError
from bluegreen.mapping.builder import check_mapping
from bluegreen.mapping.model import Finding
from bluegreen.mapping.template import write_template
from bluegreen.mapping.workbook import load_mapping

EXIT_FINDINGS = 1
EXIT_TERMINAL = 2
EXIT_TRANSIENT = 75
DEFAULT_TEMPLATE = Path("mappings/mapping.xlsx")

mapping_app = typer.Typer(
    help="Mapping workbooks: how green's schema differs from blue's (see mappings/README.md).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

BlueOpt = Annotated[
    str | None,
    typer.Option(
        "--blue", metavar="URL", help="blue connection string; default $BLUEGREEN_BLUE_URL"
    ),
]
GreenOpt = Annotated[
    str | None,
    typer.Option(
        "--green", metavar="URL", help="green connection string; default $BLUEGREEN_GREEN_URL"
    ),
]
TablesOpt = Annotated[
    list[str] | None,
    typer.Option("--table", "-t", metavar="TABLE", help="only this blue table (repeat for more)"),
]


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = 160
    return console


def _settings(ctx: typer.Context, **flags: object) -> Settings:
    root = ctx.find_root().obj
    config = getattr(root, "config", None)
    cfg = load_settings(config, **flags)
    for url in (cfg.blue_url, cfg.green_url):
        if url is not None:
            logsetup.register_secret(url.get_secret_value())
    return cfg


def _urls(cfg: Settings) -> tuple[SecretStr, SecretStr]:
    return cfg.require_urls()


@contextlib.contextmanager
def _opened(url: SecretStr) -> Iterator[Dialect]:
    db = connect(url)
    try:
        yield db
    finally:
        db.close()


def _fail(exc: BlueGreenError) -> typer.Exit:
    err = _console(stderr=True)
    kind = "transient error" if exc.transient else "error"
    err.print(Text(f"{kind}: {logsetup.scrub(exc.message)}", style="bold red"))
    if exc.fix:
        err.print(Text(f"  fix: {logsetup.scrub(exc.fix)}"))
    return typer.Exit(EXIT_TRANSIENT if exc.transient else EXIT_TERMINAL)


@mapping_app.command("template")
def template(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="PATH", help=f"workbook to write (default {DEFAULT_TEMPLATE})"
        ),
    ] = None,
    blue: BlueOpt = None,
    green: GreenOpt = None,
    tables: TablesOpt = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing workbook")] = False,
) -> None:
    """Write a workbook from the two live schemas: one row per blue column, green's counterpart
    pre-filled where the names match, drop-down lists, and a read-me sheet."""
    try:
        cfg = _settings(ctx, blue_url=blue, green_url=green, tables=tables)
        path = out or DEFAULT_TEMPLATE
        if path.exists() and not force:
            raise ConfigError(
                f"{path} already exists",
                fix="pass --force to overwrite it, or --out another path",
            )
        blue_url, green_url = _urls(cfg)
        with _opened(blue_url) as b, _opened(green_url) as g:
            mapping = write_template(
                path,
                b.introspect(),
                g.introspect(),
                tables=cfg.tables or None,
                blue_meanings=type(b).type_meanings,
                green_meanings=type(g).type_meanings,
            )
    except BlueGreenError as exc:
        raise _fail(exc) from None
    open_rows = sum(1 for r in mapping.rows if r.placeholder)
    console = _console()
    console.print(
        Text(
            f"wrote {path}: {len(mapping.rows)} blue column(s) from "
            f"{redact(blue_url.get_secret_value())} -> {redact(green_url.get_secret_value())}; "
            f"{open_rows} without a green counterpart"
        )
    )
    console.print(Text(f"next: edit it, then `bluegreen mapping check {path}`"))


@mapping_app.command("check")
def check(
    ctx: typer.Context,
    workbook: Annotated[
        Path | None,
        typer.Argument(help="the workbook (default: --mapping / mapping= in the settings)"),
    ] = None,
    blue: BlueOpt = None,
    green: GreenOpt = None,
    tables: TablesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Lint a workbook against the live schemas of blue and green and print every finding.

    Exit status: 0 valid (warnings allowed), 1 findings that stop the sync, 2 could not check."""
    try:
        cfg = _settings(ctx, blue_url=blue, green_url=green, tables=tables, mapping=workbook)
        if cfg.mapping is None:
            raise ConfigError(
                "no mapping workbook given",
                fix="pass the workbook path, --mapping, or set mapping= in bluegreen.toml",
            )
        mapping = load_mapping(cfg.mapping)
        blue_url, green_url = _urls(cfg)
        with _opened(blue_url) as b, _opened(green_url) as g:
            tracked = b.tracked_tables() or None
            compiled = check_mapping(
                mapping,
                b.introspect(),
                g.introspect(),
                tracked=tracked,
                tables=cfg.tables or None,
                blue_meanings=type(b).type_meanings,
                green_meanings=type(g).type_meanings,
            )
    except BlueGreenError as exc:
        raise _fail(exc) from None
    findings = compiled.findings
    errors = compiled.errors
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "workbook": str(cfg.mapping),
                    "fingerprint": mapping.fingerprint,
                    "valid": not errors,
                    "findings": [_finding_json(f) for f in findings],
                },
                indent=2,
            )
        )
    else:
        console = _console()
        if findings:
            console.print(findings_table(findings))
        verdict = "valid" if not errors else "INVALID: the sync refuses it"
        console.print(
            Text(
                f"{cfg.mapping}: {len(mapping.mapped)} mapped row(s), {len(errors)} error(s), "
                f"{len(findings) - len(errors)} warning(s); fingerprint {mapping.fingerprint}; "
                f"{verdict}",
                style="bold green" if not errors else "bold red",
            )
        )
    if errors:
        raise typer.Exit(EXIT_FINDINGS)


def _finding_json(f: Finding) -> dict[str, Any]:
    return {**f.model_dump(), "where": f.where}


def findings_table(findings: list[Finding]) -> Table:
    """The findings as a rich table: severity, place (sheet, cell, column), problem, fix."""
    table = Table(title="mapping findings", title_justify="left", show_lines=True)
    table.add_column("", no_wrap=True)
    table.add_column("sheet", no_wrap=True)
    table.add_column("cell", no_wrap=True)
    table.add_column("column", no_wrap=True)
    table.add_column("problem", ratio=3)
    table.add_column("fix", ratio=2)
    order = sorted(findings, key=lambda f: (f.severity != "error", f.row or 0, f.letter or ""))
    for f in order:
        cell = "" if f.row is None else f"{f.letter or ''}{f.row}"
        table.add_row(
            Text(f.severity, style="red" if f.severity == "error" else "yellow"),
            Text(f.sheet),
            Text(cell or "(no row)"),
            Text(f.column or ""),
            Text(f.message),
            Text(f.fix),
        )
    return table
