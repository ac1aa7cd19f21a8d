"""diff_releases on two small releases with known differences, and how the CLI prints them
in its three formats."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import astuple

import duckdb
import pytest

from cli import output
from cli.output import OutputFormat, Rows
from publishing.diff import COLUMNS, Change, diff_releases
from publishing.store import build_release
from runtime.home import Home


@pytest.fixture
def two_releases(tmp_path) -> Home:
    home = Home(tmp_path / "home").ensure()
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_latest_submissions (submission_id varchar, "
            "participant_code varchar, collection_year integer, file_sha256 varchar)"
        )
        con.execute(
            "create table intermediate.int_release_scope (submission_id varchar, "
            "participant_code varchar, collection_year integer, state varchar)"
        )
        con.execute(
            "create table marts.fct_indicator_values as select * from (values "
            "('SE', 2023, 'BEDS', 10.0, false), ('SE', 2023, 'STAFF', 5.5, false), "
            "('NO', 2023, 'BEDS', 8.0, false), ('NO', 2023, 'STAFF', 2.0, false), "
            "('JE', 2023, 'BEDS', null, true)) "
            "t(participant_code, collection_year, indicator_code, value, suppressed)"
        )
    build_release(
        home,
        ["fct_indicator_values"],
        [],
        release_id="20240101T000000000000Z",
    )
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(
            "update marts.fct_indicator_values set value = 12.5 "
            "where participant_code = 'SE' and indicator_code = 'BEDS'"
        )
        con.execute(
            "update marts.fct_indicator_values set value = null, suppressed = true "
            "where participant_code = 'NO' and indicator_code = 'STAFF'"
        )
        con.execute(
            "delete from marts.fct_indicator_values where participant_code = 'NO' and indicator_code = 'BEDS'"
        )
        con.execute(
            "insert into marts.fct_indicator_values values ('IS', 2023, 'BEDS', 3.0, false)"
        )
    build_release(
        home,
        ["fct_indicator_values"],
        [],
        release_id="20240102T000000000000Z",
    )
    return home


EXPECTED = [
    Change("added", "IS", 2023, "BEDS", None, 3.0),
    Change("removed", "NO", 2023, "BEDS", 8.0, None),
    Change("changed", "NO", 2023, "STAFF", 2.0, None),
    Change("changed", "SE", 2023, "BEDS", 10.0, 12.5),
]


def test_diff_lists_added_removed_and_changed(two_releases):
    assert (
        diff_releases(two_releases, "20240101T000000000000Z", "20240102T000000000000Z") == EXPECTED
    )
    assert diff_releases(two_releases, "previous", "current") == EXPECTED


def test_diff_the_other_way_round_swaps_added_and_removed(two_releases):
    changes = diff_releases(two_releases, "current", "previous")
    assert {(c.change, c.participant_code, c.indicator_code, c.old, c.new) for c in changes} == {
        ("removed", "IS", "BEDS", 3.0, None),
        ("added", "NO", "BEDS", None, 8.0),
        ("changed", "NO", "STAFF", None, 2.0),
        ("changed", "SE", "BEDS", 12.5, 10.0),
    }


def test_diff_of_a_release_with_itself_is_empty(two_releases):
    assert diff_releases(two_releases, "current", "current") == []


def test_diff_of_an_unknown_release_names_the_known_ones(two_releases):
    with pytest.raises(LookupError, match="20240101T000000000000Z"):
        diff_releases(two_releases, "nope", "current")


def printed(changes: list[Change], fmt: OutputFormat, capsys, monkeypatch) -> str:
    """What `mhbench diff` prints for `changes` (the console of cli.output, wide)."""
    from rich.console import Console

    monkeypatch.setattr(output, "console", Console(width=120, color_system=None))
    output.print_rows(Rows.of(COLUMNS, map(astuple, changes)), fmt, output.changes_table)
    return capsys.readouterr().out


def test_the_columns_are_the_fields_of_a_change():
    from dataclasses import fields

    assert tuple(f.name for f in fields(Change)) == COLUMNS


def test_formats(two_releases, capsys, monkeypatch):
    changes = diff_releases(two_releases, "previous", "current")
    as_json = json.loads(printed(changes, OutputFormat.json, capsys, monkeypatch))
    assert as_json[3] == {
        "change": "changed",
        "participant_code": "SE",
        "collection_year": 2023,
        "indicator_code": "BEDS",
        "old": 10.0,
        "new": 12.5,
    }
    as_csv = printed(changes, OutputFormat.csv, capsys, monkeypatch)
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["change"], r["participant_code"], r["old"], r["new"]) for r in rows] == [
        ("added", "IS", "", "3.0"),
        ("removed", "NO", "8.0", ""),
        ("changed", "NO", "2.0", ""),
        ("changed", "SE", "10.0", "12.5"),
    ]
    table = printed(changes, OutputFormat.table, capsys, monkeypatch).splitlines()
    header = next(line for line in table if "change" in line)
    assert header.replace("┃", " ").split() == list(COLUMNS)
    assert table[-1].strip() == "1 added, 1 removed, 2 changed"
    assert printed([], OutputFormat.table, capsys, monkeypatch) == (
        "no changes in fct_indicator_values\n"
    )
    assert printed([], OutputFormat.csv, capsys, monkeypatch) == ",".join(COLUMNS) + "\n"
    assert json.loads(printed([], OutputFormat.json, capsys, monkeypatch)) == []
