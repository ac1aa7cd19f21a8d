"""The mhbench command line: `mhbench --help`.

Imports of dagster, dbt and great_expectations happen inside the commands that need
them, so `mhbench validate FILE` answers a submitter in well under a second or two.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="mhbench: international mental health benchmarking data platform.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _release_folder(home, ref: str | None, hint: str = "see `mhbench releases`") -> Path:
    """The folder of a release (an id, `current` or `previous`), or a clear error and exit 2."""
    from publishing.store import resolve_release

    try:
        return resolve_release(home, ref or "current").path
    except LookupError as exc:
        err_console.print(f"[red]{exc}.[/] Run `mhbench run` first, or {hint}.")
        raise typer.Exit(2) from exc


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
    with console.status("Writing sample returns"):
        summary = generate_sample(home, seed=seed, years=range(first_year, last_year + 1))
    console.print(f"Wrote {len(summary.files)} returns into [bold]{home.inbox}[/]")
    for bad in summary.bad:
        console.print(f"  [yellow]deliberately bad ({bad.kind}):[/] {bad.path.name}: {bad.reason}")


@app.command()
def template(
    participant: Annotated[str, typer.Option(help="Participant code, e.g. SE or GB-ENG.")],
    year: Annotated[int, typer.Option(help="Collection year.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the workbook.")
    ] = None,
) -> None:
    """Write a blank return workbook (format v1) for a participant and year."""
    from ingestion.dictionary import load_dictionary
    from ingestion.template import write_template

    dictionary = load_dictionary()
    code = participant.strip().upper()
    if code not in dictionary.participants:
        known = ", ".join(sorted(dictionary.participants))
        err_console.print(f"[red]Unknown participant {participant!r}.[/] Known: {known}")
        raise typer.Exit(2)
    output = output or Path(f"{code}_{year}_return.xlsx")
    write_template(output, code, year, dictionary)
    console.print(f"Template for {code} {year} written to [bold]{output}[/]")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="A return (.xlsx or .csv) to check.")],
    year: Annotated[int | None, typer.Option(help="Collection year the file is sent for.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a return before sending it: same checks as the platform, nothing registered.

    Exits 1 when the return would be rejected.
    """
    from cli.output import render_text
    from ingestion.check import check_return

    if not file.exists():
        err_console.print(f"[red]No such file: {file}[/]")
        raise typer.Exit(2)
    parsed = check_return(file, expected_year=year)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "file": file.name,
                    "accepted": parsed.accepted,
                    "issues": [issue.__dict__ for issue in parsed.issues],
                },
                indent=2,
            )
        )
    else:
        console.print(render_text(parsed, file.name))
    raise typer.Exit(0 if parsed.accepted else 1)


@app.command()
def run() -> None:
    """Run the whole annual cycle through Dagster: ingest, build, check, publish."""
    from orchestration.instance import configure_environment
    from orchestration.run_cycle import print_summary, run_annual_cycle

    home = configure_environment()
    outcome = run_annual_cycle(home, console)
    print_summary(home, outcome, console)
    raise typer.Exit(0 if outcome.success else 1)


@app.command()
def releases() -> None:
    """List published releases, newest last; the current one is marked."""
    from orchestration.instance import configure_environment
    from publishing.store import current_release, list_releases

    home = configure_environment()
    current = current_release(home)
    table = Table()
    table.add_column("release", no_wrap=True)  # ids are copied into other commands: never cut
    for name in ("created at", "submissions", "rows", "current"):
        table.add_column(name)
    for rel in list_releases(home):
        table.add_row(
            rel.release_id,
            rel.manifest.get("created_at", ""),
            str(len(rel.manifest.get("submissions", []))),
            str(sum(rel.manifest.get("marts", {}).values())),
            "*" if current and current.release_id == rel.release_id else "",
        )
    console.print(table)


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help='SQL to run, e.g. "select * from marts.mart_benchmark".')
    ],
    release: Annotated[
        str | None, typer.Option(help="Release id, `current` (default) or `previous`.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Run read-only SQL on a published release."""
    import duckdb

    from orchestration.instance import configure_environment
    from publishing.store import RELEASE_DB

    home = configure_environment()
    database = _release_folder(home, release) / RELEASE_DB
    with duckdb.connect(str(database), read_only=True) as con:
        try:
            cursor = con.execute(sql)
        except duckdb.Error as exc:
            err_console.print(f"[red]Query failed:[/] {exc}")
            raise typer.Exit(1) from exc
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    if fmt == "json":
        typer.echo(
            json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2)
        )
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*columns)
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        console.print(table)


@app.command()
def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the HTML report.")],
    release: Annotated[
        str | None, typer.Option(help="Release id, `current` (default) or `previous`.")
    ] = None,
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
    folder = _release_folder(home, release)
    started = time.perf_counter()
    try:
        with console.status("Drawing the charts"):
            path = write_benchmark_report(folder, participant, output, year=year)
    except ReportError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(
        f"Report written to [bold]{path}[/] "
        f"({path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s)"
    )


@app.command()
def findings(
    year: Annotated[int, typer.Option(help="Collection year.")],
    participant: Annotated[str | None, typer.Option(help="Participant code, e.g. SE.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    warehouse: Annotated[
        bool,
        typer.Option("--warehouse", help="Read the build warehouse, not the current release."),
    ] = False,
) -> None:
    """Content validation findings of a collection year (errors first): the query log."""
    import duckdb

    from orchestration.instance import configure_environment
    from publishing.store import RELEASE_DB
    from reporting.findings import FORMATS, findings_rows, render

    if fmt not in FORMATS:
        err_console.print(f"[red]Unknown format {fmt!r}.[/] Use one of: {', '.join(FORMATS)}")
        raise typer.Exit(2)
    home = configure_environment()
    database = (
        home.warehouse
        if warehouse
        else _release_folder(home, None, hint="use --warehouse") / RELEASE_DB
    )
    with duckdb.connect(str(database), read_only=True) as con:
        rows = findings_rows(con, year, participant.strip().upper() if participant else None)
    out = render(rows, fmt)
    if fmt == "table":
        console.print(out)
    else:
        typer.echo(out, nl=False)


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Older release: an id, `previous` or `current`.")],
    new: Annotated[str, typer.Argument(help="Newer release: an id, `previous` or `current`.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """List indicator values added, removed and changed between two releases."""
    from orchestration.instance import configure_environment
    from publishing.diff import FORMATS, diff_releases, format_changes

    if fmt not in FORMATS:
        err_console.print(f"[red]Unknown format {fmt!r}.[/] Use one of: {', '.join(FORMATS)}")
        raise typer.Exit(2)
    home = configure_environment()
    try:
        changes = diff_releases(home, old, new)
    except LookupError as exc:
        err_console.print(f"[red]{exc}[/] See `mhbench releases`.")
        raise typer.Exit(2) from exc
    typer.echo(format_changes(changes, fmt))


if __name__ == "__main__":
    app()
