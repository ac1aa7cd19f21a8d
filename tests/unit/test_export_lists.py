"""List columns in a release: CSV flattens them into one cell, Parquet and DuckDB keep them."""

from __future__ import annotations

import csv

import duckdb
import pytest

from publishing.store import build_release
from reporting.release_pages import release_page_writer
from runtime.home import Home

QUALITY_ONLY = release_page_writer(benchmark_report=False)
PEER = (
    "struct(participant_code varchar, participant_name varchar, value double, rank integer, "
    "n integer, quartile integer, same_peer_group boolean)"
)
PASSED = [{"check": "marts/mart_enquiries:gx", "status": "SUCCEEDED", "blocking": True}]


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home").ensure()
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_latest_submissions as select 's1' as submission_id, "
            f"'SE' as participant_code, 2023 as collection_year, '{'a' * 64}' as file_sha256"
        )
        con.execute(
            "create table intermediate.int_release_scope as select submission_id, "
            "participant_code, collection_year, 'approved' as state "
            "from intermediate.int_latest_submissions"
        )
        con.execute(
            f"create table marts.mart_enquiries (participant_code varchar, caveats varchar[], "
            f"peers {PEER}[])"
        )
        con.execute(
            "insert into marts.mart_enquiries values "
            "('SE', ['=HYPERLINK(\"x\")', 'Coverage: excludes private hospitals'], "
            " [{'participant_code': 'NO', 'participant_name': 'Norway', 'value': 12.34, "
            "   'rank': 1, 'n': 12, 'quartile': 1, 'same_peer_group': true}, "
            "  {'participant_code': 'GB-SCT', 'participant_name': 'Scotland', 'value': 11.9, "
            "   'rank': 2, 'n': 12, 'quartile': 1, 'same_peer_group': false}, "
            "  {'participant_code': 'NZ', 'participant_name': 'New Zealand', 'value': 0.0345, "
            "   'rank': 3, 'n': 12, 'quartile': 1, 'same_peer_group': false}]), "
            "('NO', [], [])"
        )
    return home


def test_csv_flattens_peers_and_caveats_parquet_and_duckdb_keep_lists(home):
    release = build_release(home, ["mart_enquiries"], PASSED, pages=QUALITY_ONLY)
    with (release.path / "csv" / "mart_enquiries.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["participant_code"]: r for r in csv.DictReader(fh)}
    assert rows["SE"]["peers"] == "NO (12.3); GB-SCT (11.9); NZ (0.035)"
    # Flattened text obeys the formula rule like any other text.
    assert rows["SE"]["caveats"] == '\'=HYPERLINK("x"); Coverage: excludes private hospitals'
    assert rows["NO"]["peers"] == "" and rows["NO"]["caveats"] == ""

    with duckdb.connect() as con:
        parquet = con.execute(
            "select peers[2].participant_code, peers[2].value, len(caveats) from "
            f"read_parquet('{release.path / 'parquet' / 'mart_enquiries.parquet'}') "
            "where participant_code = 'SE'"
        ).fetchone()
        assert parquet == ("GB-SCT", 11.9, 2)
    with duckdb.connect(str(release.path / "mhbench.duckdb"), read_only=True) as con:
        kept = con.execute(
            "select peers[1].participant_code, peers[1].rank, caveats[1] "
            "from marts.mart_enquiries where participant_code = 'SE'"
        ).fetchone()
        assert kept == ("NO", 1, '=HYPERLINK("x")')
