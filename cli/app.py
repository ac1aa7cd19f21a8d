"""The mhbench command line: `mhbench --help`.

A thin layer over the stages: each command calls ingestion, publishing, reporting or
orchestration and hands what it gets to `cli/output.py`, which prints everything (tables,
CSV, JSON, messages). Imports of dagster, dbt, great_expectations, duckdb and pandas happen
inside the commands that need them, so `mhbench validate FILE` answers a submitter fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cli import output
from cli.output import FORMAT_HELP, OutputFormat, Rows

if TYPE_CHECKING:
    from runtime.home import Home

app = typer.Typer(
    help="mhbench: international mental health benchmarking data platform.",
    no_args_is_help=True,
    add_completion=False,
)

Format = Annotated[OutputFormat, typer.Option("--format", help=FORMAT_HELP, case_sensitive=False)]
Release = Annotated[str | None, typer.Option(help="Release id, `current` (default) or `previous`.")]


def _fail(headline: str, detail: str = "", code: int = 2) -> NoReturn:
    """Print an error (literal text: it may quote a file name or a SQL error) and exit."""
    output.error(headline, detail)
    raise typer.Exit(code)


def _sentence(text: str) -> str:
    """A lookup error (`no release 'x' in ...`) as a sentence: capital first, full stop."""
    return text[:1].upper() + text[1:].rstrip(".") + "."


def _instance_environment() -> Home:
    """configure_environment() for a command that opens the Dagster instance: PostgreSQL
    unreachable (or dagster.yaml unreadable) is a clear error and exit 2, not a traceback."""
    from orchestration.instance import (
        DagsterYamlError,
        InstanceStorageError,
        check_instance_storage,
        configure_environment,
    )

    try:
        home = configure_environment()
        check_instance_storage(Path(os.environ["DAGSTER_HOME"]))
    except (DagsterYamlError, InstanceStorageError) as exc:
        _fail("The Dagster instance cannot be opened.", str(exc))
    return home


def _release(home: Home, ref: str | None, hint: str = "see `mhbench releases`"):
    """A release (an id, `current` or `previous`), or a clear error and exit 2."""
    from publishing.store import resolve_release

    try:
        return resolve_release(home, ref or "current")
    except LookupError as exc:
        _fail(_sentence(str(exc)), f"Run `mhbench run` first, or {hint}.")


@app.command()
def sample(
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same returns.")
    ] = 2024,
    first_year: Annotated[int, typer.Option(help="First collection year.")] = 2019,
    last_year: Annotated[int, typer.Option(help="Last collection year.")] = 2024,
) -> None:
    """Write realistic sample returns for every participant into $MHBENCH_HOME/inbox/."""
    from demo.sample_returns import generate_sample
    from orchestration.instance import configure_environment

    home = configure_environment()
    with output.status("Writing sample returns"):
        summary = generate_sample(home, seed=seed, years=range(first_year, last_year + 1))
    output.say(f"Wrote {len(summary.files)} returns into ", (str(home.inbox), "bold"))
    for bad in summary.bad:
        output.say(
            (f"  deliberately bad ({bad.kind}):", "yellow"), f" {bad.path.name}: {bad.reason}"
        )


@app.command()
def template(
    participant: Annotated[str, typer.Option(help="Participant code, e.g. SE or GB-ENG.")],
    year: Annotated[int, typer.Option(help="Collection year.")],
    output_path: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the workbook.")
    ] = None,
) -> None:
    """Write a blank return workbook (format v1) for a participant and year."""
    from ingestion.dictionary import load_dictionary
    from ingestion.template import write_template

    dictionary = load_dictionary()
    code = participant.strip().upper()
    if code not in dictionary.participants:
        _fail(
            f"Unknown participant {participant!r}.",
            f"Known: {', '.join(sorted(dictionary.participants))}",
        )
    path = output_path or Path(f"{code}_{year}_return.xlsx")
    write_template(path, code, year, dictionary)
    output.say(f"Template for {code} {year} written to ", (str(path), "bold"))


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="A return (.xlsx or .csv) to check.")],
    year: Annotated[int | None, typer.Option(help="Collection year the file is sent for.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a return before sending it: same checks as the platform, nothing registered.

    Exits 1 when the return would be rejected.
    """
    from ingestion.check import check_return

    if not file.exists():
        _fail(f"No such file: {file}")
    parsed = check_return(file, expected_year=year)
    if as_json:
        output.print_json(output.validation_json(parsed, file.name))
    else:
        output.console.print(output.render_text(parsed, file.name))
    raise typer.Exit(0 if parsed.accepted else 1)


@app.command()
def run() -> None:
    """Run the whole annual cycle through Dagster: ingest, build, check, publish.

    Exits 1 when no release was published.
    """
    from cli.cycle import ConsoleCycleDisplay, print_summary
    from orchestration.run_cycle import CycleStopped, run_annual_cycle

    home = _instance_environment()
    terminal, terminal_err = output.terminal_consoles()
    try:
        outcome = run_annual_cycle(home, ConsoleCycleDisplay(terminal))
    except CycleStopped as stopped:
        output.error(str(stopped), console=terminal_err)
        terminal_err.file.flush()
        # The run is canceled and its slot free; leave now rather than wait for the run's
        # thread (it may sit in dbt or a pause): exit as a process stopped by that signal.
        os._exit(stopped.exit_code)
    print_summary(home, outcome, output.console)
    raise typer.Exit(0 if outcome.success else 1)


@app.command()
def reclaim(
    run_id: Annotated[str, typer.Argument(help="The run: its id, or its first 8 characters.")],
    by: Annotated[str, typer.Option(help="Who reclaims it (recorded in the run's log).")] = "",
) -> None:
    """Mark failed a run whose process is gone and free its warehouse slot, by hand.

    `mhbench run` and the dead_run_sensor do this by themselves for runs of this version;
    this is for a run they cannot judge (started by an older version, or on a machine that
    is gone). A run whose process is known to live is refused.
    """
    import getpass

    from dagster import DagsterInstance

    from orchestration.dead_runs import ReclaimRefused, reclaim_by_hand

    _instance_environment()
    with DagsterInstance.get() as instance:
        try:
            reclaimed = reclaim_by_hand(instance, run_id.strip(), by.strip() or getpass.getuser())
        except ReclaimRefused as exc:
            _fail("Not reclaimed:", _sentence(str(exc)))
    output.say(("Reclaimed ", "bold"), reclaimed.describe())


@app.command()
def releases(fmt: Format = OutputFormat.table) -> None:
    """List published releases, oldest first; the current one is marked."""
    from orchestration.instance import configure_environment
    from publishing.store import current_release, list_releases

    home = configure_environment()
    current = current_release(home)
    rows = Rows.of(
        ("release_id", "created_at", "submissions", "rows", "current"),
        (
            (
                rel.release_id,
                rel.manifest.get("created_at"),
                len(rel.manifest.get("submissions", [])),
                sum(rel.manifest.get("marts", {}).values()),
                current is not None and current.release_id == rel.release_id,
            )
            for rel in list_releases(home)
        ),
    )
    output.print_rows(rows, fmt, output.releases_table)


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help='SQL to run, e.g. "select * from marts.mart_benchmark".')
    ],
    release: Release = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Run read-only SQL on a published release."""
    import duckdb

    from orchestration.instance import configure_environment

    home = configure_environment()
    database = _release(home, release).database
    with duckdb.connect(str(database), read_only=True) as con:
        try:
            cursor = con.execute(sql)
            rows = Rows.of([d[0] for d in cursor.description or []], cursor.fetchall())
        except duckdb.Error as exc:
            _fail("Query failed:", str(exc), code=1)
    output.print_rows(rows, fmt, output.query_table)


@app.command()
def report(
    output_path: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the HTML report.")
    ],
    release: Release = None,
    participant: Annotated[
        str | None, typer.Option(help="Participant to highlight, e.g. SE or GB-ENG.")
    ] = None,
    year: Annotated[
        int | None, typer.Option(help="Collection year (default: the latest published).")
    ] = None,
) -> None:
    """Write the benchmarking report of a release: one self-contained HTML file."""
    import time

    from orchestration.instance import configure_environment
    from reporting.benchmark_report import ReportError, write_benchmark_report

    home = configure_environment()
    folder = _release(home, release).path
    started = time.perf_counter()
    try:
        with output.status("Drawing the charts"):
            path = write_benchmark_report(folder, participant, output_path, year=year)
    except ReportError as exc:
        _fail(_sentence(str(exc)))
    output.say(
        "Report written to ",
        (str(path), "bold"),
        f" ({path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s)",
    )


@app.command()
def findings(
    year: Annotated[int, typer.Option(help="Collection year.")],
    participant: Annotated[str | None, typer.Option(help="Participant code, e.g. SE.")] = None,
    fmt: Format = OutputFormat.table,
    warehouse: Annotated[
        bool,
        typer.Option("--warehouse", help="Read the build warehouse, not the current release."),
    ] = False,
) -> None:
    """Content validation findings of a collection year (errors first): the query log."""
    import duckdb

    from orchestration.instance import configure_environment
    from reporting.findings import COLUMNS, findings_rows

    home = configure_environment()
    if warehouse:
        database = home.warehouse
        if not database.exists():
            _fail(f"No warehouse at {database}.", "Run `mhbench run` first.")
    else:
        database = _release(home, None, hint="use --warehouse").database
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            records = findings_rows(con, year, participant)
    except duckdb.Error as exc:
        _fail(f"Cannot read the findings in {database}:", str(exc))
    output.print_rows(Rows.of_dicts(records, COLUMNS), fmt, output.findings_table)


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Older release: an id, `previous` or `current`.")],
    new: Annotated[str, typer.Argument(help="Newer release: an id, `previous` or `current`.")],
    fmt: Format = OutputFormat.table,
) -> None:
    """List indicator values added, removed and changed between two releases."""
    from dataclasses import astuple

    from orchestration.instance import configure_environment
    from publishing.diff import COLUMNS, diff_releases

    home = configure_environment()
    try:
        changes = diff_releases(home, old, new)
    except LookupError as exc:
        _fail(_sentence(str(exc)), "See `mhbench releases`.")
    output.print_rows(Rows.of(COLUMNS, map(astuple, changes)), fmt, output.changes_table)


if __name__ == "__main__":
    app(prog_name="mhbench")  # `python -m cli.app` is the same command
