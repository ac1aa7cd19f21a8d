"""Everything the mhbench command prints goes through here: tables, CSV, JSON, xlsx, messages.

- Formats: `OutputFormat` is the type of every `--format` option. typer refuses any other
  value itself (exit 2, naming the allowed ones), so no command checks a format by hand.
- Rows: a command hands over `Rows` (column names and values) and the format; `print_rows`
  draws a rich table, or writes CSV, JSON or an xlsx workbook, to stdout or to `--output`.
  A command may give its own table (styles, a title); CSV, JSON and xlsx are always the
  same plain columns. xlsx is binary: it needs `--output FILE` or a redirected stdout
  (`xlsx_needs_a_file` says when a command must refuse); its cells follow
  `publishing.xlsx_export` (typed, text never a formula), the one home of those rules.
- CSV: one writer, `write_csv`. Text a spreadsheet would run as a formula gets a leading
  quote (`runtime.spreadsheet.formula_safe`, the one home of that rule); numbers stay
  numbers, so `-3` is never quoted.
- CSV and JSON: dates and times are ISO 8601 strings; missing values are empty / null.
- Untrusted text (values, comments and file names from returns, participant codes, SQL and
  lookup errors, column names of a query) reaches the console only as rich `Text`, never as
  markup: `[/]` or `[link=...]` in a return is printed as it is, and cannot crash or restyle
  the console. Every helper here takes plain strings as literal text.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runtime.spreadsheet import formula_safe

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ingestion.records import ParsedReturn


class OutputFormat(StrEnum):
    """The output formats of `--format` (a `str` Enum: typer offers its values as choices)."""

    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


FORMAT_HELP = (
    "Output format: table (for people), csv (for spreadsheets), json, or xlsx (an Excel "
    "workbook: give --output FILE.xlsx or redirect stdout)."
)
XLSX_NEEDS_A_FILE = "xlsx is a binary workbook: give --output FILE.xlsx or redirect stdout."

console = Console()
err_console = Console(stderr=True)

# A part of a message: literal text, a (text, style) pair, or a ready `Text`.
Part = str | tuple[str, str] | Text


def line(*parts: Part) -> Text:
    """One line of output from literal parts; nothing in them is read as markup."""
    return Text.assemble(*parts)


def say(*parts: Part) -> None:
    """A message line on stdout (not cut at the terminal width, so paths can be copied)."""
    console.print(line(*parts), soft_wrap=True)


def error(headline: str, detail: str = "", console: Console | None = None) -> None:
    """An error line on stderr: the headline in red, then the detail; both literal text."""
    message = line((headline, "red"))
    if detail:
        message.append(" " + detail)
    (console or err_console).print(message, soft_wrap=True)


def terminal_consoles() -> tuple[Console, Console]:
    """Consoles on the terminal's own stdout and stderr, duplicated now.

    While a step runs, Dagster points file descriptors 1 and 2 at its compute-log capture;
    what `mhbench run` shows meanwhile (progress, notes, the line of a stop) goes here.
    """
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    err = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    return Console(file=out), Console(file=err)


def status(text: str):
    """A spinner with a literal message, while something takes seconds."""
    return console.status(Text(text))


# -- values ------------------------------------------------------------------------------


def jsonable(value: object) -> object:
    """`value` as JSON can hold it: dates as ISO strings, non-finite numbers as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def csv_cell(value: object) -> object:
    """One CSV cell: empty for missing, numbers as numbers, ISO dates, formula-safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, str):
        return formula_safe(value)
    if isinstance(value, Mapping | list | tuple):
        return formula_safe(json.dumps(jsonable(value), ensure_ascii=False))
    return formula_safe(str(value))


def display(value: object) -> str:
    """A value as a table cell shows it: floats to 7 significant digits (a table is for
    reading; CSV and JSON carry every digit)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = format(value, ".7g")
        return short if "e" not in short else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# -- rows in three formats ---------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """Column names and the rows under them: what a command gives to be printed."""

    columns: tuple[str, ...]
    values: list[tuple]

    @classmethod
    def of(cls, columns: Iterable[str], values: Iterable[Sequence]) -> Rows:
        return cls(tuple(columns), [tuple(v) for v in values])

    @classmethod
    def of_dicts(cls, records: Iterable[Mapping], columns: Sequence[str]) -> Rows:
        return cls(tuple(columns), [tuple(r.get(c) for c in columns) for r in records])

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, v, strict=True)) for v in self.values]


def write_csv(rows: Rows, file: IO[str]) -> None:
    """The one CSV writer of the CLI: a header row, then formula-safe cells."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in rows.columns])
    writer.writerows([csv_cell(v) for v in row] for row in rows.values)


def json_text(data: object) -> str:
    return json.dumps(jsonable(data), indent=2, ensure_ascii=False)


def print_json(data: object) -> None:
    sys.stdout.write(json_text(data) + "\n")


def print_json_to(data: object, output: Path | None) -> None:
    with _text_target(output) as file:
        file.write(json_text(data) + "\n")


def plain_table(rows: Rows, title: str | None = None) -> Table:
    """Every column as it is; numeric columns right-aligned; an empty cell for missing."""
    table = Table(title=Text(title) if title else None, header_style="bold")
    for index, name in enumerate(rows.columns):
        present = [r[index] for r in rows.values if r[index] is not None]
        numeric = bool(present) and all(
            isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in present
        )
        table.add_column(Text(name), justify="right" if numeric else "left", overflow="fold")
    for row in rows.values:
        table.add_row(*(Text(display(v)) for v in row))
    return table


def xlsx_needs_a_file(fmt: OutputFormat, output: Path | None) -> bool:
    """True when xlsx would go to a terminal: the command refuses (exit 2) before working."""
    return fmt is OutputFormat.xlsx and output is None and sys.stdout.isatty()


def write_xlsx(sheets: Sequence[tuple[str, Rows]], output: Path | None, readme=None) -> None:
    """A workbook of `sheets` (name, rows) to `output`, or to stdout as bytes."""
    from publishing.xlsx_export import Sheet, write_workbook

    tables = [Sheet(name, rows.columns, rows.values) for name, rows in sheets]
    if output is not None:
        write_workbook(output, tables, readme)
    else:
        write_workbook(sys.stdout.buffer, tables, readme)
        sys.stdout.buffer.flush()


def print_rows(
    rows: Rows,
    fmt: OutputFormat,
    table: Callable[[Rows], RenderableType] = plain_table,
    output: Path | None = None,
    sheet: str = "rows",
) -> None:
    """`rows` in the chosen format: the table on the console, CSV, JSON or xlsx on stdout,
    or any of them into `output`."""
    if fmt is OutputFormat.xlsx:
        write_xlsx([(sheet, rows)], output)
        return
    with _text_target(output) as file:
        if fmt is OutputFormat.csv:
            write_csv(rows, file)
        elif fmt is OutputFormat.json:
            file.write(json_text(rows.dicts()) + "\n")
        elif output is not None:
            Console(file=file, width=200).print(table(rows))
        else:
            console.print(table(rows))


def print_tables(tables: Sequence[RenderableType], output: Path | None = None) -> None:
    """Several tables one after another, on the console or into `output`."""
    with _text_target(output) as file:
        target = console if output is None else Console(file=file, width=200)
        for table in tables:
            target.print(table)


@contextlib.contextmanager
def _text_target(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8", newline="") as file:
        yield file


# -- the tables of the commands ----------------------------------------------------------


def titled(title: str) -> Callable[[Rows], RenderableType]:
    """The plain table of `rows`, with a title (a sheet of `mhbench export`)."""
    return lambda rows: plain_table(rows, title)


def query_table(rows: Rows) -> RenderableType:
    caption = f"{len(rows.values)} row{'s' if len(rows.values) != 1 else ''}"
    table = plain_table(rows)
    table.caption = Text(caption)
    return table


STATUS_HEADERS = {
    "participant_code": "participant",
    "collection_year": "year",
    "state": "state",
    "latest_submission_id": "submission",
    "signed_off_by": "signed off by",
    "approved_by": "approved by",
    "open_errors": "errors",
    "open_queries": "queries",
    "held_files": "held",
    "state_note": "note",
}


def status_table(rows: Rows) -> Table:
    """The collection status: the columns a person scans, under short headers (CSV and JSON
    carry every column)."""
    table = Table(header_style="bold")
    shown = [i for i, name in enumerate(rows.columns) if name in STATUS_HEADERS]
    for i in shown:
        name = rows.columns[i]
        table.add_column(
            STATUS_HEADERS[name],
            no_wrap=name in ("participant_code", "latest_submission_id", "state"),
            overflow="fold",
        )
    for row in rows.values:
        table.add_row(*(Text(display(row[i])) for i in shown))
    return table


def releases_table(rows: Rows) -> Table:
    """Published releases; `current` is a star. Ids are never cut: they are copied into
    other commands."""
    table = Table(header_style="bold")
    table.add_column("release", no_wrap=True)
    table.add_column("created at", overflow="fold")
    for name in ("submissions", "rows", "current"):
        table.add_column(name, justify="left" if name == "current" else "right")
    for r in rows.dicts():
        table.add_row(
            Text(display(r["release_id"])),
            Text(display(r["created_at"])),
            Text(display(r["submissions"])),
            Text(display(r["rows"])),
            Text("*" if r["current"] else ""),
        )
    return table


def findings_table(rows: Rows) -> Table:
    """Findings for people: errors in red, warnings in yellow, the year and counts in the
    title (the command shows one collection year)."""
    records = rows.dicts()
    errors = sum(1 for r in records if r["severity"] == "error")
    explained = sum(1 for r in records if r["severity"] != "error" and r["explained"])
    years = sorted({str(r["collection_year"]) for r in records})
    title = f"{', '.join(years)}: " if years else ""
    title += f"{errors} error(s), {len(records) - errors} warning(s) ({explained} explained)"
    table = Table(title=Text(title), header_style="bold", expand=True)
    table.add_column("participant", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", overflow="fold", ratio=3)
    table.add_column("finding", overflow="fold", ratio=6)
    table.add_column("explained", no_wrap=True)
    table.add_column("comment", overflow="fold", ratio=2, min_width=7)
    for r in records:
        style = "red" if r["severity"] == "error" else "yellow"
        table.add_row(
            Text(display(r["participant_code"])),
            Text(display(r["severity"]), style),
            Text(display(r["rule_id"]), "dim"),
            Text(display(r["message"])),
            Text("yes" if r["explained"] else ("-" if r["severity"] == "error" else "no")),
            Text(display(r["submitter_comment"])),
        )
    return table


def changes_table(rows: Rows) -> RenderableType:
    """Indicator values added, removed and changed, with the count of each."""
    records = rows.dicts()
    if not records:
        return Text("no changes in fct_indicator_values")
    table = plain_table(rows)
    counts = {k: sum(r["change"] == k for r in records) for k in ("added", "removed", "changed")}
    table.caption = Text(", ".join(f"{n} {k}" for k, n in counts.items()))
    return table


# -- `mhbench validate` ------------------------------------------------------------------


def render_text(parsed: ParsedReturn, filename: str | None = None) -> RenderableType:
    """A rich renderable for `mhbench validate FILE`: verdict line plus a table of issues."""
    from rich.console import Group

    from ingestion.report import shorten, sorted_issues

    errors = len(parsed.errors)
    warnings = len(parsed.issues) - errors
    head = f"{filename}: " if filename else ""
    if errors:
        verdict = Text(f"{head}rejected: {errors} error(s), {warnings} warning(s)", "bold red")
    elif warnings:
        verdict = Text(f"{head}accepted with {warnings} warning(s)", "bold yellow")
    else:
        verdict = Text(f"{head}accepted: no issues", "bold green")
    verdict.append(f"  ({len(parsed.values)} value(s) read)", "dim")
    if not parsed.issues:
        return verdict
    table = Table(show_lines=False, header_style="bold")
    for name in ("severity", "place", "problem", "seen", "expected", "code"):
        table.add_column(name, overflow="fold")
    for i in sorted_issues(parsed.issues):
        style = "red" if i.severity == "error" else "yellow"
        table.add_row(
            Text(i.severity, style),
            Text(i.place),
            Text(i.message),
            Text(shorten(i.value, 80)),
            Text(i.expected),
            Text(i.code, "dim"),
        )
    return Group(verdict, table)


def validation_json(parsed: ParsedReturn, filename: str) -> dict:
    """What `mhbench validate --json` prints: the verdict, the issues, and what the platform
    read: the About fields and every value read (item, value, flag, comment, place), so that
    a submitter or their tooling can compare it with what they meant to send. A value is the
    number as read (a JSON number), null when blank; a row with an error is not among them."""
    from dataclasses import asdict

    return {
        "file": filename,
        "accepted": parsed.accepted,
        "issues": [asdict(issue) for issue in parsed.issues],
        "about": dict(parsed.about),
        "values": [
            {
                "item_code": v.item_code,
                "value": v.value,
                "flag": v.flag,
                "comment": v.comment,
                "place": v.place,
            }
            for v in parsed.values
        ],
    }
