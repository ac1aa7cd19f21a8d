"""The mhbench CLI as a user runs it (real subprocesses).

Every command with `--format` is run in each format, and what it prints is parsed and
compared with a direct DuckDB query of the release; an unknown format is a usage error
(exit 2) naming the allowed ones. Untrusted text (`[/]` in a value, `=` at the start of a
comment) comes out literally on the console and formula-safe in CSV.

The tests marked `cycle` reuse the session's one annual cycle (`cycle`, tests/conftest.py)
and only read its home; `two_releases` copies its release into a home of its own.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_mhbench

pytestmark = pytest.mark.e2e

FORMATS = ("table", "csv", "json", "xlsx")
FINDINGS_COLUMNS = (
    "participant_code",
    "collection_year",
    "severity",
    "rule_id",
    "kind",
    "message",
    "items_involved",
    "values_involved",
    "explained",
    "submitter_comment",
    "submission_id",
    "finding_id",
    "rule_description",
)
DIFF_COLUMNS = ("change", "participant_code", "collection_year", "indicator_code", "old", "new")


# -- expectations, computed here, not by the code under test ------------------------------


def as_json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def as_csv_text(value: object) -> str:
    """What a CSV cell must read for `value` (release values: no formula-like text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def direct(database: Path, sql: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def parse_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def table_rows(text: str, sep: str = "") -> list[list[str]]:
    """The body rows of a rich table, each cell whole again: a line whose first cell is
    empty continues the row above (at 80 columns a long code is folded, `sep=""`, and
    words are wrapped, `sep=" "`)."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if rows and not cells[0]:
            rows[-1] = [sep.join(filter(None, pair)) for pair in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return rows


def flat(text: str) -> str:
    """Text without rich's box frame, on one line (typer's error box wraps at 80)."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def xlsx_records(path: Path, sheet: str) -> list[dict]:
    """A sheet of a workbook as records (header row = keys); an empty cell is None."""
    import openpyxl

    rows = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def same_records(got: list[dict], want: list[dict]) -> bool:
    """Records equal as an xlsx cell keeps them: a float to 16 significant digits
    (XlsxWriter), a whole float may read back as an int, an instant (a day fraction) to
    the millisecond; `want` may give instants as ISO strings (JSON)."""

    def same(a, b) -> bool:
        if isinstance(b, float) and isinstance(a, int | float) and not isinstance(a, bool):
            return math.isclose(a, b, rel_tol=1e-15)
        if isinstance(a, datetime) and isinstance(b, str | datetime):
            b = datetime.fromisoformat(b) if isinstance(b, str) else b
            return abs((a - b.replace(tzinfo=None)).total_seconds()) < 0.001
        if isinstance(a, str) and isinstance(b, str) and a != b:
            try:  # the JSON of a row gives an instant as text; the sheet as a datetime
                return same(datetime.fromisoformat(a), b)
            except ValueError:
                return False
        return a == b

    return len(got) == len(want) and all(
        g.keys() == w.keys() and all(same(g[k], w[k]) for k in w)
        for g, w in zip(got, want, strict=True)
    )


def release_db(home: Path) -> Path:
    return home / "releases" / "current" / "mhbench.duckdb"


# -- without a cycle: validate, template, formats, formula safety -------------------------


def test_template_then_validate_reports_the_blank_mandatory_cells(tmp_path):
    home = tmp_path / "home"
    out = tmp_path / "SE_2025.xlsx"
    run_mhbench(home, "template", "--participant", "se", "--year", "2025", "-o", str(out))
    assert out.exists()
    completed = run_mhbench(home, "validate", str(out), "--year", "2025", "--json", check=False)
    assert completed.returncode == 1, "a blank template is not an acceptable return"
    report = json.loads(completed.stdout)
    assert not report["accepted"]
    codes = {issue["code"] for issue in report["issues"]}
    assert codes == {"missing_mandatory_value"}
    assert all(issue["place"].startswith("Data!D") for issue in report["issues"])
    assert not (home / "warehouse" / "build.duckdb").exists(), "validate registers nothing"


def test_template_for_unknown_participant_is_a_clear_error(tmp_path):
    completed = run_mhbench(
        tmp_path / "home", "template", "--participant", "XX", "--year", "2025", check=False
    )
    assert completed.returncode == 2
    assert "Unknown participant 'XX'" in completed.stderr and "GB-ENG" in completed.stderr


def test_validate_accepts_a_good_return(tmp_path):
    from demo.sample_returns import generate_sample
    from runtime.home import Home

    home = Home(tmp_path / "home").ensure()
    summary = generate_sample(home, participants=["SE"], years=range(2024, 2025), include_bad=False)
    completed = run_mhbench(home.root, "validate", str(summary.files[0]), "--year", "2024")
    assert "accepted" in completed.stdout


def test_validate_prints_markup_in_a_value_literally(tmp_path):
    """A value cell holding `[/]` (rich's closing tag) is reported, not interpreted."""
    from demo.sample_returns import build_rows, sample_values, write_return_csv
    from ingestion.dictionary import load_dictionary
    from runtime.home import Home

    home = Home(tmp_path / "home").ensure()
    dictionary = load_dictionary()
    rows = build_rows("SE", 2024, sample_values("SE", 2024, dictionary=dictionary), dictionary)
    hostile = next(i for i, row in enumerate(rows) if row["value"] is not None)
    rows[hostile]["value"] = "[/]"
    path = write_return_csv(home.inbox_year(2024) / "SE_2024.csv", "SE", 2024, rows)

    completed = run_mhbench(home.root, "validate", str(path), "--year", "2024", check=False)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "MarkupError" not in completed.stderr and completed.stderr == ""
    assert "SE_2024.csv: rejected: 1 error(s)" in completed.stdout
    ((severity, place, problem, seen, _, code),) = table_rows(completed.stdout, sep=" ")
    assert (severity, place, seen, code) == (
        "error",
        f"line {hostile + 2}, column value",
        "[/]",
        "not_a_number",
    )
    assert problem.startswith('"[/]" is not a number')

    as_json = run_mhbench(home.root, "validate", str(path), "--json", check=False)
    assert as_json.returncode == 1
    (issue,) = json.loads(as_json.stdout)["issues"]
    assert issue["value"] == "[/]" and issue["place"] == f"line {hostile + 2}, column value"


def test_validate_json_lists_every_value_read_with_its_place(tmp_path):
    """What the platform read, value by value, as a submitter's tooling compares it: the
    sample's CSV return for SE 2024, every item with the number as read, flag, comment and
    line; a row rejected (R's 1e+05) is an issue and not among the values."""
    from demo.sample_returns import build_rows, sample_values, write_return_csv
    from ingestion.dictionary import load_dictionary

    dictionary = load_dictionary()
    rows = build_rows("SE", 2024, sample_values("SE", 2024, dictionary=dictionary), dictionary)
    path = write_return_csv(tmp_path / "SE_2024.csv", "SE", 2024, rows)
    completed = run_mhbench(tmp_path / "home", "validate", str(path), "--json", check=False)
    report = json.loads(completed.stdout)
    assert report["accepted"], report["issues"]
    assert report["about"]["participant_code"] == "SE"
    assert report["about"]["collection_year"] == 2024
    expected = [
        {
            "item_code": row["item_code"],
            "value": None if row["value"] is None else float(row["value"]),
            "flag": row["flag"],
            "comment": row["comment"] or None,
            "place": f"line {line}",
        }
        for line, row in enumerate(rows, start=2)
    ]
    assert report["values"] == expected

    first = next(i for i, row in enumerate(rows) if row["value"] is not None)
    rows[first]["value"] = "1e+05"
    write_return_csv(path, "SE", 2024, rows)
    completed = run_mhbench(tmp_path / "home", "validate", str(path), "--json", check=False)
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    (issue,) = report["issues"]
    assert (issue["code"], issue["place"]) == (
        "scientific_notation",
        f"line {first + 2}, column value",
    )
    assert rows[first]["item_code"] not in {v["item_code"] for v in report["values"]}
    assert len(report["values"]) == len(rows) - 1


def test_validate_of_a_missing_file_names_it(tmp_path):
    missing = tmp_path / "[/]nope.csv"
    completed = run_mhbench(tmp_path / "home", "validate", str(missing), check=False)
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"No such file: {missing}"


@pytest.mark.parametrize(
    "args",
    [
        ["query", "select 1"],
        ["findings", "--year", "2024"],
        ["diff", "previous", "current"],
        ["releases"],
        ["export", "--participant", "SE"],
    ],
    ids=lambda args: args[0],
)
def test_an_unknown_format_is_a_usage_error_naming_the_formats(tmp_path, args):
    completed = run_mhbench(tmp_path / "home", *args, "--format", "xml", check=False)
    assert completed.returncode == 2
    assert completed.stdout == ""
    message = flat(completed.stderr)
    assert f"Usage: mhbench {args[0]}" in message
    assert "Invalid value for '--format'" in message
    assert "'xml' is not one of 'table', 'csv', 'json', 'xlsx'" in message


def test_help_of_every_command_reads_well(tmp_path):
    main = run_mhbench(tmp_path / "home", "--help").stdout
    commands = ("sample", "template", "validate", "run", "releases", "query", "report")
    for command in (*commands, "findings", "diff", "export"):
        assert command in main
        page = flat(run_mhbench(tmp_path / "home", command, "--help").stdout)
        assert f"Usage: mhbench {command}" in page
        if command in ("query", "findings", "diff", "releases"):
            assert "--format" in page and "table|csv|json|xlsx" in page
            assert (
                "Output format: table (for people), csv (for spreadsheets), json, or xlsx" in page
            )
        if command == "export":
            assert "--participant" in page and "table|csv|json|xlsx" in page


def test_commands_on_a_home_without_a_release_say_what_to_do(tmp_path):
    for args in (["query", "select 1"], ["findings", "--year", "2024"], ["diff", "a", "b"]):
        completed = run_mhbench(tmp_path / "home", *args, check=False)
        assert completed.returncode == 2, args
        assert completed.stderr.startswith("No current release in ") or completed.stderr.startswith(
            "No release 'a' in "
        ), completed.stderr
        assert "Traceback" not in completed.stderr
    releases = run_mhbench(tmp_path / "home", "releases", "--format", "json")
    assert json.loads(releases.stdout) == []


@pytest.fixture
def warehouse_with_hostile_findings(tmp_path) -> Path:
    """A build warehouse whose one finding carries a formula and markup (from a return)."""
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    with duckdb.connect(str(home / "warehouse" / "build.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.mart_validation_findings (participant_code varchar, "
            "collection_year integer, severity varchar, rule_id varchar, kind varchar, "
            "message varchar, items_involved varchar, values_involved varchar, "
            "explained boolean, submitter_comment varchar, submission_id varchar, "
            "finding_id varchar, rule_description varchar, subject_code varchar)"
        )
        con.execute(
            "insert into marts.mart_validation_findings values "
            "('SE', 2025, 'warning', 'BEDS_HIGH', 'range', '[/] is high', 'BEDS', '-5', true, "
            "'=HYPERLINK(\"https://evil.example\",\"see\")', 's1', 's1:BEDS_HIGH', '+x', 'BEDS')"
        )
        # `--warehouse` reads the team's view: every finding (int_validation_findings)
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_validation_findings as "
            "select * from marts.mart_validation_findings"
        )
    return home


def test_findings_csv_is_formula_safe_and_table_prints_markup(warehouse_with_hostile_findings):
    home = warehouse_with_hostile_findings
    args = ("findings", "--year", "2025", "--warehouse")
    (row,) = parse_csv(run_mhbench(home, *args, "--format", "csv").stdout)
    assert row["submitter_comment"] == '\'=HYPERLINK("https://evil.example","see")'
    assert row["rule_description"] == "'+x"
    assert row["values_involved"] == "'-5"  # text, even when it looks like a number
    assert row["explained"] == "true" and row["message"] == "[/] is high"
    (record,) = json.loads(run_mhbench(home, *args, "--format", "json").stdout)
    assert record["submitter_comment"].startswith("=HYPERLINK")  # JSON is data: as it is
    table = run_mhbench(home, *args).stdout
    assert "2025: 0 error(s), 1 warning(s) (1 explained)" in table
    assert "[/] is high" in table


def test_findings_without_a_warehouse_say_so(tmp_path):
    completed = run_mhbench(
        tmp_path / "home", "findings", "--year", "2024", "--warehouse", check=False
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("No warehouse at ")
    assert "Run `mhbench run` first." in completed.stderr


# -- on the session's annual cycle --------------------------------------------------------


@pytest.mark.xdist_group("cycle")
def test_run_summary_lists_the_submissions_and_the_release(cycle):
    out = cycle.run_output
    structural = [b for b in cycle.sample.bad if b.kind == "structural"]
    accepted = len(cycle.sample.files) - len(structural)
    assert f"accepted: {accepted}   rejected: {len(structural)}" in out
    for bad in structural:
        assert re.search(
            rf"^rejected {re.escape(bad.path.name)} \(.+\): \d+ errors?, report ", out, re.M
        )
    release = (cycle.home / "releases" / "current").resolve()
    assert f"Published {release}\n" in out
    # the command to copy is on one line, not cut at 80 columns
    assert f"duckdb.connect('{release}/mhbench.duckdb', read_only=True)" in out


QUALITY_SQL = (
    "select q.participant_code, q.collection_year, q.submitted_at, q.deadline, q.on_time, "
    "v.indicator_code, v.value, v.suppressed, v.footnote "
    "from marts.mart_data_quality q join marts.fct_indicator_values v "
    "using (participant_code, collection_year) "
    "where q.collection_year >= 2023 and (v.suppressed or q.participant_code = 'SE') "
    "order by all"
)


@pytest.mark.xdist_group("cycle")
def test_query_json_and_csv_are_the_release_data(cycle):
    expected = direct(release_db(cycle.home), QUALITY_SQL)
    assert any(r["value"] is None for r in expected), "the query should include suppressed values"
    assert any(isinstance(r["submitted_at"], datetime) for r in expected)

    as_json = json.loads(run_mhbench(cycle.home, "query", QUALITY_SQL, "--format", "json").stdout)
    assert as_json == [{k: as_json_value(v) for k, v in r.items()} for r in expected]

    text = run_mhbench(cycle.home, "query", QUALITY_SQL, "--format", "csv").stdout
    assert text.splitlines()[0] == ",".join(expected[0])
    got = parse_csv(text)
    assert got == [{k: as_csv_text(v) for k, v in r.items()} for r in expected]
    # every number reads back exactly
    for row, want in zip(got, expected, strict=True):
        if want["value"] is not None:
            assert math.isclose(float(row["value"]), want["value"], rel_tol=0, abs_tol=0)


@pytest.mark.xdist_group("cycle")
def test_query_table_shows_the_release_data(cycle):
    sql = (
        "select participant_code, count(*) as n from marts.fct_indicator_values "
        "group by 1 order by 1"
    )
    expected = direct(release_db(cycle.home), sql)
    text = run_mhbench(cycle.home, "query", sql).stdout
    assert table_rows(text) == [[r["participant_code"], str(r["n"])] for r in expected]
    assert f"{len(expected)} rows" in text
    assert len(expected) == 12 and {r["participant_code"] for r in expected} >= {"GB-ENG", "JE"}


@pytest.mark.xdist_group("cycle")
def test_query_csv_is_formula_safe(cycle):
    sql = "select '=1+1' as x, '@SUM(A1)' as y, -3 as n, '-3' as t, 'plain' as z"
    completed = run_mhbench(cycle.home, "query", sql, "--format", "csv")
    assert completed.stdout == "x,y,n,t,z\n'=1+1,'@SUM(A1),-3,'-3,plain\n"
    as_json = json.loads(run_mhbench(cycle.home, "query", sql, "--format", "json").stdout)
    assert as_json == [{"x": "=1+1", "y": "@SUM(A1)", "n": -3, "t": "-3", "z": "plain"}]


@pytest.mark.xdist_group("cycle")
def test_query_errors_are_printed_literally(cycle):
    # read-only: a write is refused, with a clear message and a non-zero exit
    refused = run_mhbench(cycle.home, "query", "drop table marts.mart_benchmark", check=False)
    assert refused.returncode == 1 and "read-only" in refused.stderr.lower()
    assert refused.stderr.startswith("Query failed: ")
    # a SQL error quoting markup does not crash the console
    broken = run_mhbench(cycle.home, "query", "select [/] from [bold]", check=False)
    assert broken.returncode == 1 and broken.stdout == ""
    assert broken.stderr.startswith("Query failed: ") and "[/]" in broken.stderr
    assert "Traceback" not in broken.stderr
    unknown = run_mhbench(cycle.home, "query", "select 1", "--release", "[/]", check=False)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("No release '[/]' in ")


@pytest.mark.xdist_group("cycle")
def test_findings_in_every_format_are_the_release_findings(cycle):
    expected = direct(
        release_db(cycle.home),
        f"select {', '.join(FINDINGS_COLUMNS)} from marts.mart_validation_findings "
        "where collection_year = 2022",
    )
    # the content error's participant-year is not approved: the release leaves its findings out
    assert expected and not any(r["severity"] == "error" for r in expected)
    by_id = {r["finding_id"]: r for r in expected}

    as_json = json.loads(
        run_mhbench(cycle.home, "findings", "--year", "2022", "--format", "json").stdout
    )
    assert sorted(as_json, key=lambda r: r["finding_id"]) == [
        {k: as_json_value(v) for k, v in by_id[i].items()} for i in sorted(by_id)
    ]
    # errors first, within each participant
    for participant in {r["participant_code"] for r in as_json}:
        severities = [r["severity"] for r in as_json if r["participant_code"] == participant]
        assert severities == sorted(severities, key=lambda s: s != "error")

    text = run_mhbench(cycle.home, "findings", "--year", "2022", "--format", "csv").stdout
    assert text.splitlines()[0] == ",".join(FINDINGS_COLUMNS)
    got = parse_csv(text)
    assert sorted(got, key=lambda r: r["finding_id"]) == [
        {k: as_csv_text(v) for k, v in by_id[i].items()} for i in sorted(by_id)
    ]

    someone = sorted({r["participant_code"] for r in as_json})[0]
    one = json.loads(
        run_mhbench(
            cycle.home,
            "findings",
            "--year",
            "2022",
            "--participant",
            someone.lower(),
            "--format",
            "json",
        ).stdout
    )
    assert one == [r for r in as_json if r["participant_code"] == someone] and one

    table = run_mhbench(cycle.home, "findings", "--year", "2022").stdout
    errors = sum(r["severity"] == "error" for r in expected)
    explained = sum(r["severity"] != "error" and r["explained"] for r in expected)
    assert (
        f"2022: {errors} error(s), {len(expected) - errors} warning(s) ({explained} explained)"
        in table
    )
    first_cells = [row[0] for row in table_rows(table)]
    assert sorted(first_cells) == sorted(r["participant_code"] for r in expected)


@pytest.mark.xdist_group("cycle")
def test_releases_in_every_format_are_the_manifests(cycle):
    current = (cycle.home / "releases" / "current").resolve()
    manifest = json.loads((current / "manifest.json").read_text())
    expected = {
        "release_id": current.name,
        "created_at": manifest["created_at"],
        "submissions": len(manifest["submissions"]),
        "rows": sum(manifest["marts"].values()),
        "current": True,
    }
    as_json = json.loads(run_mhbench(cycle.home, "releases", "--format", "json").stdout)
    assert as_json == [expected]
    as_csv = parse_csv(run_mhbench(cycle.home, "releases", "--format", "csv").stdout)
    assert as_csv == [{k: as_csv_text(v) for k, v in expected.items()}]
    (row,) = table_rows(run_mhbench(cycle.home, "releases").stdout)
    assert row == [
        current.name,
        manifest["created_at"],
        str(expected["submissions"]),
        str(expected["rows"]),
        "*",
    ]


NEW_RELEASE = "29991231T000000000000Z"


@pytest.fixture
def two_releases(cycle, tmp_path) -> tuple[Path, str]:
    """A home of its own with the cycle's release and a later one made from it by hand:
    one value changed, one suppressed, one row removed, one added. Returns (home, old id)."""
    source = (cycle.home / "releases" / "current").resolve()
    home = tmp_path / "home"
    releases = home / "releases"
    for release_id in (source.name, NEW_RELEASE):
        (releases / release_id).mkdir(parents=True)
        shutil.copy2(source / "mhbench.duckdb", releases / release_id / "mhbench.duckdb")
        manifest = json.loads((source / "manifest.json").read_text())
        if release_id == NEW_RELEASE:
            manifest.update(release_id=NEW_RELEASE, previous_release=source.name)
        (releases / release_id / "manifest.json").write_text(json.dumps(manifest))
    (releases / "current").symlink_to(NEW_RELEASE, target_is_directory=True)
    with duckdb.connect(str(releases / NEW_RELEASE / "mhbench.duckdb")) as con:
        key = "participant_code = 'SE' and collection_year = 2024"
        codes = [
            r[0]
            for r in con.execute(
                f"select indicator_code from marts.fct_indicator_values where {key} "
                "and value is not null order by 1 limit 3"
            ).fetchall()
        ]
        con.execute(
            f"update marts.fct_indicator_values set value = value * 2 "
            f"where {key} and indicator_code = ?",
            [codes[0]],
        )
        con.execute(
            f"update marts.fct_indicator_values set value = null, suppressed = true "
            f"where {key} and indicator_code = ?",
            [codes[1]],
        )
        con.execute(
            f"delete from marts.fct_indicator_values where {key} and indicator_code = ?", [codes[2]]
        )
        con.execute(
            "insert into marts.fct_indicator_values (participant_code, collection_year, "
            "indicator_code, value, suppressed) values ('SE', 2025, ?, 1.5, false)",
            [codes[0]],
        )
    return home, source.name


def expected_changes(home: Path, old: str, new: str) -> list[dict]:
    """The diff, worked out in Python from both release databases."""
    sql = "select participant_code, collection_year, indicator_code, value from marts.fct_indicator_values"

    def values(release: str) -> dict[tuple, float | None]:
        rows = direct(home / "releases" / release / "mhbench.duckdb", sql)
        return {
            (r["participant_code"], r["collection_year"], r["indicator_code"]): r["value"]
            for r in rows
        }

    before, after = values(old), values(new)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            kind = "added"
        elif key not in after:
            kind = "removed"
        elif before[key] != after[key]:
            kind = "changed"
        else:
            continue
        changes.append(
            dict(zip(DIFF_COLUMNS, (kind, *key, before.get(key), after.get(key)), strict=True))
        )
    return changes


@pytest.mark.xdist_group("cycle")
def test_diff_in_every_format_is_the_difference_of_the_releases(two_releases):
    home, old = two_releases
    expected = expected_changes(home, old, NEW_RELEASE)
    assert [c["change"] for c in expected].count("changed") == 2 and len(expected) == 4

    as_json = json.loads(
        run_mhbench(home, "diff", "previous", "current", "--format", "json").stdout
    )
    assert as_json == expected
    as_csv = parse_csv(run_mhbench(home, "diff", old, NEW_RELEASE, "--format", "csv").stdout)
    assert as_csv == [{k: as_csv_text(v) for k, v in c.items()} for c in expected]
    workbook = home / "diff.xlsx"
    run_mhbench(home, "diff", old, NEW_RELEASE, "--format", "xlsx", "-o", str(workbook))
    assert same_records(xlsx_records(workbook, "changes"), expected)

    table = run_mhbench(home, "diff", "previous", "current").stdout
    rows = table_rows(table)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (c["change"], c["participant_code"], str(c["collection_year"]), c["indicator_code"])
        for c in expected
    ]
    assert "1 added, 1 removed, 2 changed" in table

    same = run_mhbench(home, "diff", "current", "current")
    assert same.stdout == "no changes in fct_indicator_values\n"
    assert run_mhbench(home, "diff", "current", "current", "--format", "csv").stdout == (
        ",".join(DIFF_COLUMNS) + "\n"
    )
    unknown = run_mhbench(home, "diff", "nope", "current", check=False)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("No release 'nope' in ") and old in unknown.stderr
    assert "See `mhbench releases`." in unknown.stderr
