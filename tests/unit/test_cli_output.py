"""cli/output.py and cli/cycle.py: the formats, the one CSV writer, and untrusted text.

Text from returns (values, comments, file names) is printed literally: rich markup in it
is neither interpreted nor allowed to crash the console.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli import output
from cli.app import app
from cli.cycle import ConsoleCycleDisplay, print_summary
from cli.output import OutputFormat, Rows
from ingestion.records import Issue, ParsedReturn
from orchestration.run_cycle import CycleOutcome, RejectedFile, Submissions
from runtime.home import Home

# Markup that rich would interpret: a closing tag with nothing open raises MarkupError, the
# others would restyle or turn into a hyperlink.
HOSTILE = ["[/]", "[bold]loud[/bold]", "[link=https://evil.example]click[/link]", "[red"]


def recording_console() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None, record=True)


def printed(console: Console) -> str:
    return console.export_text()


@pytest.fixture
def consoles(monkeypatch) -> tuple[Console, Console]:
    out, err = recording_console(), recording_console()
    monkeypatch.setattr(output, "console", out)
    monkeypatch.setattr(output, "err_console", err)
    return out, err


# -- formats -----------------------------------------------------------------------------


def test_the_formats_are_an_enum_of_four():
    assert [f.value for f in OutputFormat] == ["table", "csv", "json", "xlsx"]
    assert OutputFormat("csv") is OutputFormat.csv and isinstance(OutputFormat.csv, str)


def _flat(text: str) -> str:
    """Typer's error box without its frame, on one line."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize(
    "args",
    [
        ["query", "select 1"],
        ["findings", "--year", "2024"],
        ["diff", "previous", "current"],
        ["releases"],
        ["export", "--participant", "SE"],
    ],
    ids=lambda a: a[0],
)
def test_an_unknown_format_is_a_usage_error_naming_the_formats(args):
    result = CliRunner().invoke(app, [*args, "--format", "xml"])
    assert result.exit_code == 2
    message = _flat(result.stderr)
    assert "Invalid value for '--format'" in message
    assert "'xml' is not one of 'table', 'csv', 'json', 'xlsx'" in message
    assert result.stdout == ""


def test_format_names_are_case_insensitive_and_shown_in_help():
    result = CliRunner().invoke(app, ["query", "--help"])
    assert result.exit_code == 0
    assert "table|csv|json|xlsx" in result.stdout


# -- CSV: the one writer -----------------------------------------------------------------


def csv_rows(rows: Rows) -> list[list[str]]:
    buffer = io.StringIO()
    output.write_csv(rows, buffer)
    return list(csv.reader(io.StringIO(buffer.getvalue())))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_text_that_a_spreadsheet_would_run_gets_a_leading_quote(start):
    text = f'{start}HYPERLINK("https://evil.example")'
    assert csv_rows(Rows.of(["comment"], [[text]]))[1] == ["'" + text]


def test_csv_numbers_stay_numbers_and_dates_are_iso():
    rows = Rows.of(
        ["n", "x", "d", "missing", "when", "day", "at", "flag", "parts", "text"],
        [
            [
                -3,
                -2.5,
                Decimal("-1.50"),
                None,
                datetime(2024, 3, 1, 9, 30),
                date(2024, 3, 1),
                time(9, 30),
                True,
                ["=1", 2],
                "plain",
            ]
        ],
    )
    assert csv_rows(rows)[1] == [
        "-3",
        "-2.5",
        "-1.50",
        "",
        "2024-03-01T09:30:00",
        "2024-03-01",
        "09:30:00",
        "true",
        '["=1", 2]',  # a list as JSON text: starts with "[", nothing to run
        "plain",
    ]


def test_csv_header_is_formula_safe_too():
    assert csv_rows(Rows.of(["=cmd"], []))[0] == ["'=cmd"]


def test_print_rows_csv_goes_to_stdout(capsys, consoles):
    output.print_rows(Rows.of(["x"], [["=1+1"], [None]]), OutputFormat.csv)
    assert capsys.readouterr().out == 'x\n\'=1+1\n""\n'


# -- JSON --------------------------------------------------------------------------------


def test_json_dates_are_iso_and_non_finite_numbers_null(capsys, consoles):
    rows = Rows.of(
        ["d", "t", "dec", "int_dec", "nan", "nested", "text"],
        [
            [
                date(2024, 1, 2),
                datetime(2024, 1, 2, 3, 4, 5),
                Decimal("1.25"),
                Decimal("12"),
                float("nan"),
                {"a": [date(2020, 1, 1)]},
                "=1+1",
            ]
        ],
    )
    output.print_rows(rows, OutputFormat.json)
    assert json.loads(capsys.readouterr().out) == [
        {
            "d": "2024-01-02",
            "t": "2024-01-02T03:04:05",
            "dec": 1.25,
            "int_dec": 12,
            "nan": None,
            "nested": {"a": ["2020-01-01"]},
            "text": "=1+1",  # JSON is data, not a spreadsheet: text stays as it is
        }
    ]


# -- untrusted text on the console -------------------------------------------------------


def test_tables_print_markup_in_values_and_column_names_literally(consoles):
    out, _ = consoles
    rows = Rows.of(["[bold]name", "value"], [[h, 1] for h in HOSTILE])
    output.print_rows(rows, OutputFormat.table, output.query_table)
    text = printed(out)
    assert "[bold]name" in text
    for h in HOSTILE:
        assert h in text
    assert "4 rows" in text


def test_error_lines_print_markup_literally(consoles):
    _, err = consoles
    output.error("Query failed:", 'Parser Error: syntax error at or near "[/]" [bold]x')
    output.error(f"No such file: {HOSTILE[2]}")
    assert printed(err).splitlines() == [
        'Query failed: Parser Error: syntax error at or near "[/]" [bold]x',
        "No such file: [link=https://evil.example]click[/link]",
    ]


def test_say_takes_literal_parts(consoles):
    out, _ = consoles
    output.say("Wrote 3 returns into ", ("/tmp/[/]inbox", "bold"))
    assert printed(out) == "Wrote 3 returns into /tmp/[/]inbox\n"


def test_findings_table_with_hostile_message_and_comment(consoles):
    out, _ = consoles
    from reporting.findings import COLUMNS

    record = dict.fromkeys(COLUMNS)
    record.update(
        participant_code="SE",
        collection_year=2024,
        severity="warning",
        rule_id="R1",
        message="[/] is high",
        explained=True,
        submitter_comment="[link=x]see[/]",
    )
    output.print_rows(Rows.of_dicts([record], COLUMNS), OutputFormat.table, output.findings_table)
    text = printed(out)
    assert "2024: 0 error(s), 1 warning(s) (1 explained)" in text
    assert "[/] is high" in text
    assert "│ [link=x]see[/] " in text


def test_changes_table_counts_each_kind_and_says_when_nothing_changed(consoles):
    out, _ = consoles
    columns = ("change", "participant_code", "collection_year", "indicator_code", "old", "new")
    output.print_rows(Rows.of(columns, []), OutputFormat.table, output.changes_table)
    assert printed(out) == "no changes in fct_indicator_values\n"
    rows = Rows.of(
        columns,
        [("added", "IS", 2023, "BEDS", None, 3.0), ("changed", "SE", 2023, "BEDS", 10.0, 12.5)],
    )
    output.print_rows(rows, OutputFormat.table, output.changes_table)
    assert "1 added, 0 removed, 1 changed" in printed(out)


def test_validate_report_prints_a_markup_value_literally(consoles):
    out, _ = consoles
    parsed = ParsedReturn(
        file_format="csv",
        issues=[
            Issue(
                "not_a_number", "line 2, column value", "[/]", "a number", '"[/]" is not a number'
            )
        ],
    )
    out.print(output.render_text(parsed, "[bold]SE_2024.csv"))
    text = printed(out)
    assert text.startswith("[bold]SE_2024.csv: rejected: 1 error(s), 0 warning(s)")
    assert '"[/]" is not a number' in text and "│ [/]" in text


# -- `mhbench run`: progress and summary -------------------------------------------------


def hostile_outcome(tmp_path: Path) -> CycleOutcome:
    return CycleOutcome(
        run_id="run-1",
        success=False,
        checks=[
            {"asset": "raw/submissions", "check": "[/]check", "passed": False, "severity": "WARN"},
            {"asset": "marts/x", "check": "ok", "passed": True, "severity": "ERROR"},
        ],
        release_path=None,
        failure="publish: value [/] broke [bold]it",
        log_path=tmp_path / "logs" / "run-1.log",
        submissions=Submissions(
            {"accepted": 2, "rejected": 1},
            [
                RejectedFile(
                    "[/]evil[bold].csv",
                    "[red]",
                    2024,
                    [
                        {"place": "line 2, column value", "message": '"[/]" is not a number'},
                        {"place": "[b]", "message": "[link=https://evil.example]x[/link]"},
                        {"place": "line 4", "message": "third"},
                        {"place": "line 5", "message": "fourth"},
                    ],
                    "reports/abc.html",
                ),
                RejectedFile("one.csv", None, None, [{"place": "file", "message": "empty"}], None),
            ],
        ),
    )


def test_the_run_summary_prints_untrusted_text_exactly(tmp_path):
    console = recording_console()
    home = Home(tmp_path)
    print_summary(home, hostile_outcome(tmp_path), console)
    lines = [line.rstrip() for line in printed(console).splitlines()]
    expected = [
        "accepted: 2   rejected: 1",
        "rejected [/]evil[bold].csv ([red] 2024): 4 errors, report reports/abc.html",
        '    line 2, column value: "[/]" is not a number',
        "    [b]: [link=https://evil.example]x[/link]",
        "    line 4: third",
        "    ... and 1 more in the report",
        "rejected one.csv (? ?): 1 error",
        "    file: empty",
        "1 of 2 checks passed",
        "No release published: the previous release (if any) stays current.",
        "publish: value [/] broke [bold]it",
        f"Dagster run run-1 (see it with `make ui`); dbt log: {tmp_path}/logs/run-1.log",
    ]
    for want in expected:
        assert want in lines, (want, lines)
    assert "line 5" not in printed(console)
    assert any("[/]check" in line and "WARN" in line for line in lines)


def test_the_run_summary_of_a_release_and_of_nothing_to_run(tmp_path):
    home = Home(tmp_path / "[/]home")
    release = home.releases / "20240101T000000000000Z"
    console = recording_console()
    outcome = CycleOutcome("run-2", True, [], release, None, tmp_path / "run.log")
    outcome.submissions_note = "The warehouse is locked by another process ([/])."
    print_summary(home, outcome, console)
    text = printed(console)
    assert f"Published {release}\n" in text
    assert "The warehouse is locked by another process ([/])." in text
    assert f"duckdb.connect('{release}/mhbench.duckdb', read_only=True)" in text

    console = recording_console()
    print_summary(home, CycleOutcome(None, False, failure=f"No returns: {home.inbox}"), console)
    assert printed(console) == f"Nothing to run: No returns: {home.inbox}\n"


def test_the_progress_display_shows_step_names_as_text():
    console = recording_console()
    display = ConsoleCycleDisplay(console)
    with display.status("Finding [/] partitions"):
        pass
    display.note("New participant partitions: [/], [bold]XX")
    with display.progress(3) as update:
        update(1, "[/]step")
        update(3, None)
    assert "New participant partitions: [/], [bold]XX" in console.file.getvalue()
