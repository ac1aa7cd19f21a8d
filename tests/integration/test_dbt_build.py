"""dbt build on a temporary DuckDB: real returns ingested, real dbt, assertions on the marts."""

from __future__ import annotations

import os

import duckdb
import pytest

from demo.sample_returns import about_block, build_rows, sample_values
from ingestion.dictionary import load_dictionary
from ingestion.registry import ingest_inbox
from ingestion.template import write_return_workbook
from runtime.home import Home
from tests.conftest import run_dbt

pytestmark = pytest.mark.xdist_group("dbt_build")

PARTICIPANTS = ("SE", "JE", "GB-ENG")
YEARS = (2022, 2023)


def _write_return(home: Home, participant: str, year: int, values: dict, name: str, mtime: float):
    dictionary = load_dictionary()
    path = home.inbox_year(year) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_return_workbook(
        path,
        about_block(participant, year, dictionary),
        build_rows(participant, year, values, dictionary),
        dictionary,
    )
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Six returns plus a resubmission of SE 2023 with more beds, ingested and built once.

    The warehouse also holds what an older one would: a `superseded` event, here saying the
    opposite of the truth (the resubmission superseded), which dbt must ignore."""
    home = Home(tmp_path_factory.mktemp("dbt") / "home").ensure()
    for participant in PARTICIPANTS:
        for year in YEARS:
            values = sample_values(participant, year)
            _write_return(
                home, participant, year, values, f"{participant}_{year}.xlsx", 1_700_000_000
            )
    resubmitted = dict(sample_values("SE", 2023))
    resubmitted["AA_BEDS"] = resubmitted["AA_BEDS"] + 100
    _write_return(home, "SE", 2023, resubmitted, "SE_2023_v2.xlsx", 1_700_100_000)
    with duckdb.connect(str(home.warehouse)) as con:
        submissions = ingest_inbox(con, home)
        (v2,) = [s for s in submissions if s.original_filename == "SE_2023_v2.xlsx"]
        con.execute(
            "insert into raw.submission_events values (?, 'superseded', now(), 'superseded by x')",
            [v2.submission_id],
        )
    run_dbt(home.root, "build", "--exclude", "test_type:unit")
    con = duckdb.connect(str(home.warehouse), read_only=True)
    yield home, con, submissions, resubmitted
    con.close()


def test_every_return_was_accepted(built):
    _, _, submissions, _ = built
    assert [s.status for s in submissions] == ["accepted"] * 7


def test_resubmission_supersedes_the_earlier_return(built):
    _, con, _, resubmitted = built
    rows = con.execute(
        "select value, source_place, submission_id from marts.fct_return_values "
        "where participant_code = 'SE' and collection_year = 2023 and item_code = 'AA_BEDS'"
    ).fetchall()
    assert len(rows) == 1
    value, place, submission_id = rows[0]
    assert value == resubmitted["AA_BEDS"]
    assert place.startswith("Data!D")
    latest = con.execute(
        "select original_filename from raw.submissions where submission_id = ?", [submission_id]
    ).fetchone()[0]
    assert latest == "SE_2023_v2.xlsx"


def test_superseded_is_derived_by_dbt_not_written_by_ingestion(built):
    _, con, submissions, _ = built
    ids = {s.original_filename: s.submission_id for s in submissions}
    # ingestion wrote no superseded event (the one there is the older warehouse's, above)
    assert con.execute(
        "select submission_id from raw.submission_events where status = 'superseded'"
    ).fetchall() == [(ids["SE_2023_v2.xlsx"],)]
    rows = con.execute(
        "select original_filename, counts, superseded_by, status from intermediate.int_submissions "
        "where participant_code = 'SE' and collection_year = 2023 order by original_filename"
    ).fetchall()
    assert rows == [
        ("SE_2023.xlsx", False, ids["SE_2023_v2.xlsx"], "superseded"),
        ("SE_2023_v2.xlsx", True, None, "counts"),
    ]
    assert con.execute(
        "select count(*) from intermediate.int_submissions where status = 'counts'"
    ).fetchone() == (6,)
    resubmissions = con.execute(
        "select participant_code, collection_year, submission_id, resubmissions "
        "from marts.mart_data_quality where resubmissions > 0"
    ).fetchall()
    assert resubmissions == [("SE", 2023, ids["SE_2023_v2.xlsx"], 1)]


def test_rate_uses_population_of_the_right_age_band(built):
    _, con, _, resubmitted = built
    dictionary = load_dictionary()
    value, numerator, denominator = con.execute(
        "select value, numerator, denominator from marts.fct_indicator_values "
        "where participant_code = 'SE' and collection_year = 2023 and indicator_code = 'AA_BEDS_PER_100K'"
    ).fetchone()
    population = dictionary.population[("SE", 2023, "18-64")]
    assert denominator == population
    assert value == pytest.approx(resubmitted["AA_BEDS"] / population * 100_000, rel=1e-12)
    assert numerator == resubmitted["AA_BEDS"]


def test_percentage_of_an_item_and_ppp_conversion(built):
    _, con, _, _ = built
    dictionary = load_dictionary()
    values = sample_values("GB-ENG", 2022)
    occupancy = con.execute(
        "select value from marts.fct_indicator_values where participant_code = 'GB-ENG' "
        "and collection_year = 2022 and indicator_code = 'AA_OCCUPANCY_EXCL_LEAVE'"
    ).fetchone()[0]
    assert occupancy == pytest.approx(values["AA_OBD"] / values["AA_ABD"] * 100, rel=1e-12)
    spend, footnote = con.execute(
        "select value, footnote from marts.fct_indicator_values where participant_code = 'GB-ENG' "
        "and collection_year = 2022 and indicator_code = 'FIN_MH_SPEND_PER_HEAD'"
    ).fetchone()
    expected = (
        values["FIN_MH_SPEND"]
        / dictionary.ppp[("GB-ENG", 2022)]
        / dictionary.population[("GB-ENG", 2022, "all")]
    )
    assert spend == pytest.approx(expected, rel=1e-12)
    assert "international $" in footnote and "Financial year starting April" in footnote


def test_small_counts_are_suppressed_and_others_rounded(built):
    _, con, _, _ = built
    rows = con.execute(
        "select r.value, r.suppressed, r.suppression_reason, i.is_person_count "
        "from marts.fct_return_values r join marts.dim_data_item i using (item_code) "
        "where r.participant_code = 'JE'"
    ).fetchall()
    suppressed = [r for r in rows if r[1]]
    assert suppressed, "Jersey has person counts of 1-7"
    assert all(
        v is None and reason == "small_count" and person for v, _, reason, person in suppressed
    )
    published_counts = [v for v, s, _, person in rows if person and not s and v is not None]
    assert published_counts and all(v % 5 == 0 for v in published_counts)


def test_benchmark_counts_participants_with_a_value(built):
    _, con, _, _ = built
    n, median = con.execute(
        "select n, median from marts.mart_benchmark where indicator_code = 'AA_BEDS_PER_100K' "
        "and collection_year = 2022"
    ).fetchone()
    values = con.execute(
        "select value from marts.fct_indicator_values where indicator_code = 'AA_BEDS_PER_100K' "
        "and collection_year = 2022 and value is not null order by value"
    ).fetchall()
    assert n == len(values) == 3
    assert median == pytest.approx(values[1][0], rel=1e-12)
