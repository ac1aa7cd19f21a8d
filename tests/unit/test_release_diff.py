"""diff_releases on two small releases with known differences, and its three formats."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest

from publishing.diff import Change, diff_releases, format_changes
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
    assert format_changes([], "table") == "no changes in fct_indicator_values"


def test_diff_of_an_unknown_release_names_the_known_ones(two_releases):
    with pytest.raises(LookupError, match="20240101T000000000000Z"):
        diff_releases(two_releases, "nope", "current")


def test_formats(two_releases):
    changes = diff_releases(two_releases, "previous", "current")
    as_json = json.loads(format_changes(changes, "json"))
    assert as_json[3] == {
        "change": "changed",
        "participant_code": "SE",
        "collection_year": 2023,
        "indicator_code": "BEDS",
        "old": 10.0,
        "new": 12.5,
    }
    rows = list(csv.DictReader(io.StringIO(format_changes(changes, "csv"))))
    assert [(r["change"], r["participant_code"], r["old"], r["new"]) for r in rows] == [
        ("added", "IS", "", "3"),
        ("removed", "NO", "8", ""),
        ("changed", "NO", "2", ""),
        ("changed", "SE", "10", "12.5"),
    ]
    table = format_changes(changes, "table").splitlines()
    assert table[0].split() == [
        "change",
        "participant_code",
        "collection_year",
        "indicator_code",
        "old",
        "new",
    ]
    assert table[-1] == "1 added, 1 removed, 2 changed"
    with pytest.raises(ValueError, match="unknown format"):
        format_changes(changes, "xml")
