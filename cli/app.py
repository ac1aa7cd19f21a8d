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
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout (xlsx: FILE.xlsx)."),
]


def _fail(headline: str, detail: str = "", code: int = 2) -> NoReturn:
    """Print an error (literal text: it may quote a file name or a SQL error) and exit."""
    output.error(headline, detail)
    raise typer.Exit(code)


def _check_output(fmt: OutputFormat, output_path: Path | None) -> None:
    """Refuse xlsx to a terminal (exit 2), before any work."""
    if output.xlsx_needs_a_file(fmt, output_path):
        _fail(output.XLSX_NEEDS_A_FILE)


def _sentence(text: str) -> str:
    """A lookup error (`no release 'x' in ...`) as a sentence: capital first, full stop."""
    return text[:1].upper() + text[1:].rstrip(".") + "."


def _instance_environment() -> Home:
    """configure_environment() for a command that opens the Dagster instance: PostgreSQL
    unreachable (or dagster.yaml unreadable), or the DuckLake catalog's, is a clear error and
    exit 2, not a traceback."""
    from orchestration.instance import (
        DagsterYamlError,
        InstanceStorageError,
        check_instance_storage,
        configure_environment,
    )
    from runtime.warehouse import WarehouseError, check

    try:
        home = configure_environment()
        check_instance_storage(Path(os.environ["DAGSTER_HOME"]))
    except (DagsterYamlError, InstanceStorageError) as exc:
        _fail("The Dagster instance cannot be opened.", str(exc))
    try:
        check(home.warehouse)  # the lake's catalog, when the warehouse is a DuckLake
    except WarehouseError as exc:
        _fail("The warehouse cannot be opened.", str(exc))
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
def run(
    draft: Annotated[
        bool,
        typer.Option(
            "--draft",
            help="Publish a draft of every accepted participant-year for review "
            "(releases/drafts/, never current) instead of a final release of the approved ones.",
        ),
    ] = False,
) -> None:
    """Run the whole annual cycle through Dagster: ingest, build, check, publish.

    A final release holds the approved participant-years only and becomes releases/current;
    `--draft` publishes every accepted one for participants to review. Exits 1 when no
    release was published.
    """
    from orchestration.dbt_worker import start_dbt_worker
    from runtime.home import DRAFT, FINAL

    home = _instance_environment()
    # dbt imports and parses now, beside the CLI's start and the ingestion, in the process
    # that then runs the dbt step's build (orchestration/dbt_worker.py).
    start_dbt_worker(home, DRAFT if draft else FINAL)

    from cli.cycle import ConsoleCycleDisplay, print_summary
    from orchestration.run_cycle import CycleStopped, run_annual_cycle

    terminal, terminal_err = output.terminal_consoles()
    try:
        outcome = run_annual_cycle(home, ConsoleCycleDisplay(terminal), draft=draft)
    except CycleStopped as stopped:
        output.error(str(stopped), console=terminal_err)
        terminal_err.file.flush()
        # The run is canceled and its slot free; leave now rather than wait for the run's
        # thread (it may sit in dbt or a pause): exit as a process stopped by that signal.
        os._exit(stopped.exit_code)
    print_summary(home, outcome, output.console)
    _leave(0 if outcome.success else 1)


def _leave(code: int) -> NoReturn:
    """End the process once a cycle is reported, without tearing the interpreter down.

    Python's teardown frees every module and object of a cycle (dagster, great_expectations,
    pandas, matplotlib): 0.7 s after a run with nothing new, 1.3 s after one that built and
    published, with nothing left to do. The atexit handlers still run first (a dbt worker
    not used is stopped, logging flushed), then the terminal's buffers are flushed. Called
    in-process (a test's CliRunner), it exits as usual."""
    import atexit
    import sys

    if getattr(sys.modules.get("__main__"), "app", None) is not app:
        raise typer.Exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


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

    from orchestration.dead_runs import ReclaimRefused, reclaim_by_hand
    from orchestration.instance import open_instance

    _instance_environment()
    with open_instance() as instance:
        try:
            reclaimed = reclaim_by_hand(instance, run_id.strip(), by.strip() or getpass.getuser())
        except ReclaimRefused as exc:
            _fail("Not reclaimed:", _sentence(str(exc)))
    output.say(("Reclaimed ", "bold"), reclaimed.describe())


@app.command()
def releases(fmt: Format = OutputFormat.table, output_path: Output = None) -> None:
    """List published releases, oldest first; the current one is marked."""
    _check_output(fmt, output_path)
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
    output.print_rows(rows, fmt, output.releases_table, output_path, sheet="releases")


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help='SQL to run, e.g. "select * from marts.mart_benchmark".')
    ],
    release: Release = None,
    fmt: Format = OutputFormat.table,
    output_path: Output = None,
) -> None:
    """Run read-only SQL on a published release."""
    import duckdb

    _check_output(fmt, output_path)
    from orchestration.instance import configure_environment

    home = configure_environment()
    database = _release(home, release).database
    with duckdb.connect(str(database), read_only=True) as con:
        try:
            cursor = con.execute(sql)
            rows = Rows.of([d[0] for d in cursor.description or []], cursor.fetchall())
        except duckdb.Error as exc:
            _fail("Query failed:", str(exc), code=1)
    output.print_rows(rows, fmt, output.query_table, output_path, sheet="query")


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
    from reporting.chart_cache import ChartCache

    home = configure_environment()
    folder = _release(home, release).path
    started = time.perf_counter()
    try:
        with output.status("Drawing the charts"):
            path = write_benchmark_report(
                folder,
                participant,
                output_path,
                year=year,
                chart_cache=ChartCache(home.chart_cache),
            )
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
    output_path: Output = None,
) -> None:
    """Content validation findings of a collection year (errors first): the query log."""
    import duckdb

    _check_output(fmt, output_path)
    from orchestration.instance import configure_environment
    from reporting.findings import (
        COLUMNS,
        FINDINGS_TABLE,
        WAREHOUSE_FINDINGS_TABLE,
        findings_rows,
    )
    from runtime.warehouse import WarehouseError, connect_warehouse, warehouse_exists

    home = configure_environment()
    try:
        if warehouse:
            database = home.warehouse
            if not warehouse_exists(database):
                _fail(f"No warehouse at {database}.", "Run `mhbench run` first.")
        else:
            database = _release(home, None, hint="use --warehouse").database
        opened = (
            connect_warehouse(database, read_only=True)
            if warehouse
            else duckdb.connect(str(database), read_only=True)
        )
    except WarehouseError as exc:
        _fail("The warehouse cannot be opened.", str(exc))
    except duckdb.Error as exc:
        _fail(f"Cannot read the findings in {database}:", str(exc))
    try:
        with opened as con:
            # the warehouse: every submission's findings; a release: its participant-years'
            table = WAREHOUSE_FINDINGS_TABLE if warehouse else FINDINGS_TABLE
            records = findings_rows(con, year, participant, table=table)
    except duckdb.Error as exc:
        _fail(f"Cannot read the findings in {database}:", str(exc))
    output.print_rows(
        Rows.of_dicts(records, COLUMNS), fmt, output.findings_table, output_path, "findings"
    )


@app.command()
def export(
    participant: Annotated[str, typer.Option(help="Participant code, e.g. SE or GB-ENG.")],
    output_path: Output = None,
    release: Release = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="xlsx (default: a workbook with a README sheet), csv (one file per sheet "
            "into the --output folder), json, or table.",
        ),
    ] = OutputFormat.xlsx,
) -> None:
    """A member's own slice of a release: its values, its positions and the benchmarks."""
    from publishing.reference import flags_from_manifest
    from publishing.xlsx_export import (
        PARTICIPANT_SHEETS,
        disclosure_text,
        participant_sheets,
        release_readme,
    )

    _check_output(fmt, output_path)
    if fmt is OutputFormat.csv and output_path is None:
        _fail("A csv export writes one file per sheet: give --output FOLDER.")
    from orchestration.instance import configure_environment

    home = configure_environment()
    chosen = _release(home, release)
    code = participant.strip().upper()
    sheets = participant_sheets(chosen.database, code)
    if not sheets[0].rows and not sheets[1].rows:
        _fail(f"No values of participant {participant!r} in release {chosen.release_id}.")
    named = [(s.name, Rows(s.columns, s.rows)) for s in sheets]
    if fmt is OutputFormat.xlsx:
        thresholds = chosen.manifest.get("disclosure") or {}
        readme = release_readme(
            chosen.manifest,
            list(PARTICIPANT_SHEETS),
            {name: what for name, (what, _) in PARTICIPANT_SHEETS.items()},
            [(f.flag, f.meaning, f.description) for f in flags_from_manifest(chosen.manifest)],
            disclosure_text(thresholds["suppress_max"], thresholds["round_to"])
            if thresholds
            else "",
            participant=code,
        )
        output.write_xlsx(named, output_path, readme)
    elif fmt is OutputFormat.csv:
        output_path.mkdir(parents=True, exist_ok=True)
        for name, rows in named:
            output.print_rows(rows, fmt, output=output_path / f"{name}.csv")
    elif fmt is OutputFormat.json:
        output.print_json_to({name: rows.dicts() for name, rows in named}, output_path)
    else:
        output.print_tables([output.titled(name)(rows) for name, rows in named], output_path)
    if output_path is not None:
        output.say(
            f"{code}'s slice of release {chosen.release_id} written to ", (str(output_path), "bold")
        )


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Older release: an id, `previous` or `current`.")],
    new: Annotated[str, typer.Argument(help="Newer release: an id, `previous` or `current`.")],
    fmt: Format = OutputFormat.table,
    output_path: Output = None,
) -> None:
    """List indicator values added, removed and changed between two releases."""
    from dataclasses import astuple

    from orchestration.instance import configure_environment
    from publishing.diff import COLUMNS, diff_releases

    _check_output(fmt, output_path)
    home = configure_environment()
    try:
        changes = diff_releases(home, old, new)
    except LookupError as exc:
        _fail(_sentence(str(exc)), "See `mhbench releases`.")
    output.print_rows(
        Rows.of(COLUMNS, map(astuple, changes)), fmt, output.changes_table, output_path, "changes"
    )


# --------------------------------------------------------------------------- collection workflow

By = Annotated[str, typer.Option("--by", help="Who: your name (or the lead's, for a sign-off).")]
Participant = Annotated[
    str | None, typer.Argument(help="Participant code, e.g. SE (leave out with --all).")
]
Year = Annotated[int | None, typer.Argument(help="Collection year.")]
AllPartitions = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Every participant-year where the action is allowed (of YEAR, or every year); "
        "the others are listed with the reason.",
    ),
]


def _workflow(action, *, wait: float | None = None, read_only: bool = False):
    """Run one workflow action on the warehouse; refusals and a busy warehouse exit 2."""
    from runtime.home import Home
    from runtime.warehouse import WarehouseError
    from workflow.actions import DEFAULT_LOCK_WAIT_SECONDS, WarehouseBusy, WorkflowRefused, connect

    home = Home.from_env()
    try:
        con = connect(
            home.warehouse, wait_seconds=wait or DEFAULT_LOCK_WAIT_SECONDS, read_only=read_only
        )
    except WarehouseError as exc:
        _fail("The warehouse cannot be opened.", str(exc))
    except WorkflowRefused as exc:
        _fail(_sentence(str(exc)))
    except WarehouseBusy as exc:
        _fail(_sentence(str(exc)), _busy_detail(exc) + " Nothing was recorded; try again later.")
    try:
        return action(con)
    except WorkflowRefused as exc:
        _fail(_sentence(str(exc)), "Nothing was recorded.")
    finally:
        con.close()


def _busy_detail(exc) -> str:
    """Name the Dagster run that holds the warehouse, if one does (only on this slow path)."""
    try:
        from orchestration.dead_runs import warehouse_holders
        from orchestration.instance import configure_environment, open_instance

        configure_environment()
        holders = warehouse_holders(open_instance(), run_id="")
    except Exception:  # the instance itself may be unreadable: say what DuckDB said
        holders = []
    if holders:
        return "Held by " + ", ".join(f"run {h.run_id} ({h.job_name})" for h in holders) + "."
    return f"DuckDB says: {exc.detail}"


def _partition(participant: str | None, year: int | None) -> tuple[str, int]:
    if participant is None or year is None:
        _fail("Give a participant and a year (e.g. `SE 2024`), or --all.")
    return participant, year


def _each_partition(con, year: int | None, act) -> tuple[list[str], list[str]]:
    """`act(con, participant, year)` on every participant-year with a submission."""
    from workflow.actions import WorkflowRefused, statuses

    done, refused = [], []
    for row in statuses(con, year):
        if row["latest_submission_id"] is None:
            continue
        try:
            done.append(act(con, row["participant_code"], row["collection_year"]))
        except WorkflowRefused as exc:
            refused.append(str(exc))
    return done, refused


def _on_partitions(every: bool, participant: str | None, year: int | None, act) -> None:
    """`act(con, participant, year)` on one participant-year, or with --all on each where it is
    allowed (of YEAR, or every year), listing the others with the reason."""
    if every:
        # `--all 2024`: the one argument given is the year
        if participant is not None and year is None and participant.strip().isdigit():
            participant, year = None, int(participant)
        if participant is not None:
            _fail(f"With --all, give a year at most (e.g. `--all 2024`), not {participant!r}.")
        _report(*_workflow(lambda con: _each_partition(con, year, act)))
        return
    participant, year = _partition(participant, year)
    output.say(("done", "green"), " ", _workflow(lambda con: act(con, participant, year)))


def _report(done: list[str], refused: list[str]) -> None:
    for line_ in done:
        output.say(("done", "green"), f" {line_}")
    for line_ in refused:
        output.say(("skipped", "yellow"), f" {line_}")
    output.say(f"{len(done)} recorded, {len(refused)} skipped.")


@app.command()
def signoff(
    participant: Participant = None,
    year: Year = None,
    by: By = "",
    note: Annotated[
        str | None, typer.Option(help="e.g. where the lead's confirmation came from.")
    ] = None,
    every: AllPartitions = False,
) -> None:
    """Record that the participant's lead confirmed its data (the submission that counts)."""
    from workflow.actions import signoff as act

    _on_partitions(every, participant, year, lambda c, p, y: act(c, p, y, by, note))


@app.command()
def approve(
    participant: Participant = None,
    year: Year = None,
    by: By = "",
    override: Annotated[
        str | None,
        typer.Option(help="Approve despite open errors or queries, for this written reason."),
    ] = None,
    every: AllPartitions = False,
) -> None:
    """Approve (and lock) a signed-off participant-year: it goes into the next final release.

    Needs sign-off, no open error findings and no open queries (unless --override REASON).
    """
    from workflow.actions import approve as act

    _on_partitions(every, participant, year, lambda c, p, y: act(c, p, y, by, override))


@app.command()
def reopen(
    participant: Annotated[str, typer.Argument(help="Participant code, e.g. SE.")],
    year: Annotated[int, typer.Argument(help="Collection year.")],
    by: By = "",
    reason: Annotated[str, typer.Option(help="Why it is reopened (required).")] = "",
) -> None:
    """Unlock an approved or published participant-year; files held meanwhile are released."""
    from workflow.actions import reopen as act

    output.say(
        ("done", "green"), " ", _workflow(lambda con: act(con, participant, year, by, reason))
    )


@app.command()
def ask(
    participant: Annotated[str, typer.Argument(help="Participant code, e.g. SE.")],
    year: Annotated[int, typer.Argument(help="Collection year.")],
    by: By = "",
    text: Annotated[str, typer.Option(help="The question to the submitter.")] = "",
    item: Annotated[str | None, typer.Option(help="The data item it is about, if one.")] = None,
) -> None:
    """Raise a query with a submitter; prints its id (e.g. q-17)."""
    from workflow.actions import ask as act

    query_id = _workflow(lambda con: act(con, participant, year, by, text, item=item))
    output.console.print(query_id)


@app.command()
def answer(
    query_id: Annotated[str, typer.Argument(help="The query, e.g. q-17.")],
    by: By = "",
    text: Annotated[str, typer.Option(help="The submitter's answer.")] = "",
) -> None:
    """Record a submitter's answer to a query."""
    from workflow.actions import answer as act

    output.say(("done", "green"), " ", _workflow(lambda con: act(con, query_id, by, text)))


@app.command()
def close(
    query_id: Annotated[str, typer.Argument(help="The query, e.g. q-17.")],
    by: By = "",
    note: Annotated[str | None, typer.Option(help="A closing note.")] = None,
) -> None:
    """Close a query: it no longer blocks approval."""
    from workflow.actions import close as act

    output.say(("done", "green"), " ", _workflow(lambda con: act(con, query_id, by, note)))


STATUS_COLUMNS = (
    "participant_code",
    "collection_year",
    "state",
    "latest_submission_id",
    "signed_off_by",
    "signed_off_at",
    "approved_by",
    "approved_at",
    "open_errors",
    "open_queries",
    "held_files",
    "state_note",
)


@app.command()
def status(
    year: Annotated[int | None, typer.Option(help="Collection year (default: every year).")] = None,
    fmt: Format = OutputFormat.table,
    output_path: Output = None,
) -> None:
    """The collection's status: one row per participant-year (state, latest submission,
    sign-off, approval, open errors and queries, held files)."""
    from workflow.actions import statuses

    _check_output(fmt, output_path)
    rows = _workflow(lambda con: statuses(con, year), wait=5, read_only=True)
    output.print_rows(
        Rows.of_dicts(rows, STATUS_COLUMNS), fmt, output.status_table, output_path, sheet="status"
    )


if __name__ == "__main__":
    app(prog_name="mhbench")  # `python -m cli.app` is the same command
