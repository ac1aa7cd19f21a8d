"""Every command with `--format`, in every format, on the session's release (real
subprocesses): csv, xlsx and table say what json says; xlsx cells are typed and text is
never a formula; xlsx is refused on a terminal; an unknown format is a usage error (exit 2,
tests/e2e/test_cli.py). And `mhbench export --participant P`, a member's own slice.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import date, datetime

import openpyxl
import pytest

from tests.conftest import REPO, mhbench_env, run_mhbench
from tests.e2e.test_cli import (
    FORMATS,
    as_csv_text,
    direct,
    parse_csv,
    release_db,
    same_records,
    table_rows,
    xlsx_records,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]

COMMANDS = {
    "query": [
        "query",
        "select participant_code as p, submitted_at as at, deadline as d, on_time as ok, "
        "completeness_pct as pct from marts.mart_data_quality where collection_year = 2023",
    ],
    "findings": ["findings", "--year", "2022"],
    "releases": ["releases"],
    "diff": ["diff", "current", "current"],
    "status": ["status", "--year", "2024"],
}
SHEETS = {
    "query": "query",
    "findings": "findings",
    "releases": "releases",
    "diff": "changes",
    "status": "status",
}
EXPORT_SHEETS = ["values", "positions", "benchmarks", "peer_benchmarks"]


def as_json(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_in_every_format_says_what_json_says(cycle, tmp_path, command, fmt):
    args = COMMANDS[command]
    expected = json.loads(run_mhbench(cycle.home, *args, "--format", "json").stdout)
    if command != "diff":
        assert expected, f"{command} should have rows on the sample release"
    if fmt == "json":
        target = tmp_path / "out.json"
        run_mhbench(cycle.home, *args, "--format", "json", "-o", str(target))
        assert json.loads(target.read_text()) == expected
    elif fmt == "csv":
        got = parse_csv(run_mhbench(cycle.home, *args, "--format", "csv").stdout)
        assert got == [
            {k: as_csv_text(v) if not isinstance(v, str) else _csv_text(v) for k, v in r.items()}
            for r in expected
        ]
    elif fmt == "xlsx":
        target = tmp_path / "out.xlsx"
        done = run_mhbench(cycle.home, *args, "--format", "xlsx", "-o", str(target))
        assert done.stdout == ""
        got = xlsx_records(target, SHEETS[command])
        assert same_records(
            [{k: as_json(v) for k, v in r.items()} for r in got],
            [{k: _xlsx_json(v) for k, v in r.items()} for r in expected],
        )
    else:
        text = run_mhbench(cycle.home, *args, "--format", "table").stdout
        if command == "diff":
            assert text == "no changes in fct_indicator_values\n"
        else:
            assert len(table_rows(text, sep=" ")) == len(expected)


def _csv_text(value: str) -> str:
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def _xlsx_json(value: object) -> object:
    """What an xlsx cell gives back for a JSON value (see `same_records`)."""
    return value


def test_xlsx_of_a_query_is_typed_and_its_text_never_a_formula(cycle, tmp_path):
    sql = (
        "select '=1+1' as f, '+SUM(A1)' as g, '-3' as t, -3 as n, 2.5 as x, true as b, "
        "date '2024-03-31' as d, null as missing"
    )
    target = tmp_path / "q.xlsx"
    run_mhbench(cycle.home, "query", sql, "--format", "xlsx", "-o", str(target))
    ws = openpyxl.load_workbook(target)["query"]
    cells = list(ws.iter_rows(min_row=2, max_row=2))[0]
    assert [c.value for c in cells] == [
        "=1+1",
        "+SUM(A1)",
        "-3",
        -3,
        2.5,
        True,
        datetime(2024, 3, 31),
        None,
    ]
    assert [c.data_type for c in cells[:6]] == ["s", "s", "s", "n", "n", "b"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H2"


def test_xlsx_goes_to_a_redirected_stdout_and_is_refused_on_a_terminal(cycle, tmp_path):
    command = [sys.executable, "-m", "cli.app", "query", "select 42 as answer", "--format", "xlsx"]
    env = mhbench_env(cycle.home)
    piped = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    (tmp_path / "piped.xlsx").write_bytes(piped.stdout)
    assert xlsx_records(tmp_path / "piped.xlsx", "query") == [{"answer": 42}]

    leader, follower = pty.openpty()
    try:
        on_tty = subprocess.run(
            command, cwd=REPO, env=env, stdout=follower, stderr=subprocess.PIPE, timeout=300
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert on_tty.returncode == 2
    assert b"xlsx is a binary workbook: give --output FILE.xlsx" in on_tty.stderr


def test_export_xlsx_is_the_participants_slice_with_a_readme(cycle, tmp_path):
    target = tmp_path / "se.xlsx"
    done = run_mhbench(cycle.home, "export", "--participant", "se", "-o", str(target))
    assert str(target) in done.stdout
    wb = openpyxl.load_workbook(target, read_only=True)
    assert wb.sheetnames == ["README", *EXPORT_SHEETS]
    readme = [c for row in wb["README"].iter_rows(values_only=True) for c in row if c]
    release = (cycle.home / "releases" / "current").resolve().name
    assert "Participant" in readme and "SE" in readme and release in readme
    assert "Disclosure control" in readme and "Flags" in readme
    assert any("Person and event counts of 1 to 7 are suppressed" in c for c in readme)
    assert "DRAFT — not for circulation" not in readme

    database = release_db(cycle.home)
    values = direct(
        database,
        "select * from marts.fct_indicator_values where participant_code = 'SE' order by all",
    )
    assert same_records(xlsx_records(target, "values"), values) and values
    positions = xlsx_records(target, "positions")
    assert {r["participant_code"] for r in positions} == {"SE"}
    assert len(positions) == len(
        direct(
            database, "select 1 from marts.mart_participant_position where participant_code = 'SE'"
        )
    )
    assert same_records(
        xlsx_records(target, "benchmarks"),
        direct(database, "select * from marts.mart_benchmark order by all"),
    )
    (group,) = {r["peer_group"] for r in xlsx_records(target, "peer_benchmarks")}
    assert direct(
        database, "select peer_group from marts.dim_participant where participant_code = 'SE'"
    ) == [{"peer_group": group}]


def test_export_in_the_other_formats(cycle, tmp_path):
    as_json = json.loads(
        run_mhbench(cycle.home, "export", "--participant", "SE", "--format", "json").stdout
    )
    assert list(as_json) == EXPORT_SHEETS
    assert {r["participant_code"] for r in as_json["values"]} == {"SE"}

    folder = tmp_path / "se"
    run_mhbench(cycle.home, "export", "--participant", "SE", "--format", "csv", "-o", str(folder))
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.csv" for s in EXPORT_SHEETS)
    for sheet in EXPORT_SHEETS:
        assert len(parse_csv((folder / f"{sheet}.csv").read_text())) == len(as_json[sheet])

    table = run_mhbench(cycle.home, "export", "--participant", "SE", "--format", "table").stdout
    for sheet in EXPORT_SHEETS:
        assert sheet in table

    no_folder = run_mhbench(
        cycle.home, "export", "--participant", "SE", "--format", "csv", check=False
    )
    assert no_folder.returncode == 2 and "give --output FOLDER" in no_folder.stderr
    unknown = run_mhbench(
        cycle.home, "export", "--participant", "XX", "-o", str(tmp_path / "x.xlsx"), check=False
    )
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("No values of participant 'XX' in release ")
    assert not (tmp_path / "x.xlsx").exists()
