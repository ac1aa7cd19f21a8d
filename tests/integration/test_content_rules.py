"""Content validation rules end to end: crafted returns -> ingestion -> dbt build -> findings.

Six participants send clean sample returns for 2023 and crafted ones for 2024, each breaking
one kind of rule. One dbt build (module fixture) serves every assertion.
"""

from __future__ import annotations

import math
import os

import duckdb
import pytest

from demo.sample_returns import build_rows, sample_values, write_return_csv
from ingestion.dictionary import load_dictionary
from ingestion.registry import ingest_inbox
from runtime.home import Home
from tests.conftest import run_dbt

pytestmark = pytest.mark.xdist_group("content_rules")

PARTICIPANTS = ("SE", "NO", "IE", "NL", "NZ", "GB-ENG")
EARLY, LATE = 1_700_000_000, 1_700_100_000


def _set_flag(rows: list[dict], item: str, flag: str, comment: str | None = None) -> None:
    row = next(r for r in rows if r["item_code"] == item)
    row.update(value=None, flag=flag, comment=comment)


def _comment(rows: list[dict], item: str, comment: str) -> None:
    next(r for r in rows if r["item_code"] == item)["comment"] = comment


def _write(home: Home, participant: str, year: int, rows: list[dict], name: str, mtime: int):
    path = write_return_csv(home.inbox_year(year) / name, participant, year, rows)
    os.utime(path, (mtime, mtime))
    return path


def _crafted_2024(participant: str, dictionary) -> tuple[dict, list[dict]]:
    """The 2024 values and rows of a participant, broken as the module docstring says."""
    v = dict(sample_values(participant, 2024, dictionary=dictionary))
    if participant == "SE":  # comparison, error: readmissions > discharges
        v["AA_READMISSIONS_30D"] = v["AA_DISCHARGES"] * 2
    elif participant == "NO":  # total, error: in post + vacant far from funded establishment
        v["WF_VACANT_WTE"] = round(v["WF_VACANT_WTE"] + v["WF_TOTAL_WTE"] * 0.5, 1)
    elif participant == "IE":  # range on an indicator, error: occupancy 120 %
        v["AA_OBD"] = round(v["AA_ABD"] * 1.2)
    elif participant == "NL":  # year on year, warning explained by a comment
        v["AA_BEDS"] = round(v["AA_BEDS"] * 1.5, 1)
    elif participant == "GB-ENG":  # peer outlier (warning); parts > total with a missing part
        v["CR_EPISODES"] = v["CR_EPISODES"] * 10
        v["WF_NURSING_WTE"] = round(v["WF_TOTAL_WTE"] * 1.2, 1)
    rows = build_rows(participant, 2024, v, dictionary)
    if participant == "NL":
        _comment(rows, "AA_BEDS", "New hospital opened in March 2024.")
    elif participant == "NZ":  # completeness: NK without comment; NEVER_SKIP range with comment
        _set_flag(rows, "AC_CASELOAD", "NK")
        _set_flag(rows, "AA_BEDS", "NK", "Bed census not run in 2024.")
    elif participant == "GB-ENG":
        _set_flag(rows, "WF_PSYCHIATRIST_WTE", "NK", None)
    return v, rows


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("rules") / "home").ensure()
    dictionary = load_dictionary()
    crafted = {}
    for participant in PARTICIPANTS:
        base = sample_values(participant, 2023, dictionary=dictionary)
        _write(
            home,
            participant,
            2023,
            build_rows(participant, 2023, base, dictionary),
            f"{participant}_2023.csv",
            EARLY,
        )
        values, rows = _crafted_2024(participant, dictionary)
        crafted[participant] = values
        _write(home, participant, 2024, rows, f"{participant}_2024.csv", LATE)
    # SE sent an earlier 2024 file with another error; the later file supersedes it.
    early = dict(crafted["SE"])
    early["CYPC_ACCEPTED"] = early["CYPC_REFERRALS"] + 1000
    _write(home, "SE", 2024, build_rows("SE", 2024, early, dictionary), "SE_2024_v1.csv", EARLY)
    with duckdb.connect(str(home.warehouse)) as con:
        submissions = ingest_inbox(con, home)
    run_dbt(home.root, "build", "--exclude", "test_type:unit")
    con = duckdb.connect(str(home.warehouse), read_only=True)
    yield home, con, submissions, crafted
    con.close()


def _findings(con, participant: str, year: int = 2024) -> dict[str, dict]:
    cursor = con.execute(
        "select * from marts.mart_validation_findings where participant_code = ? "
        "and collection_year = ?",
        [participant, year],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return {f"{r['rule_id']}:{r['subject_code']}": r for r in rows}


def _indicator(con, participant: str, code: str) -> tuple:
    return con.execute(
        "select value, suppressed, suppression_reason from marts.fct_indicator_values "
        "where participant_code = ? and collection_year = 2024 and indicator_code = ?",
        [participant, code],
    ).fetchone()


def _item(con, participant: str, code: str) -> tuple:
    return con.execute(
        "select value, suppressed, suppression_reason from marts.fct_return_values "
        "where participant_code = ? and collection_year = 2024 and item_code = ?",
        [participant, code],
    ).fetchone()


def test_every_return_was_accepted(built):
    _, _, submissions, _ = built
    assert len(submissions) == 2 * len(PARTICIPANTS) + 1
    assert {s.status for s in submissions} == {"accepted"}


def test_clean_returns_raise_no_errors(built):
    _, con, _, _ = built
    errors = con.execute(
        "select participant_code, rule_id, message from marts.mart_validation_findings "
        "where collection_year = 2023 and severity = 'error'"
    ).fetchall()
    assert errors == []


def test_comparison_error_quotes_values_and_suppresses_what_derives(built):
    _, con, _, crafted = built
    v = crafted["SE"]
    finding = _findings(con, "SE")["AA_READMISSIONS_LE_DISCHARGES:AA_READMISSIONS_30D"]
    assert finding["severity"] == "error" and finding["kind"] == "comparison"

    # Published: the counts rounded to 5 (half away from zero, as DuckDB's round); the
    # submitter's own text (int_validation_findings.message_exact) quotes them as submitted.
    def published(count: float) -> int:
        return int(math.floor(count / 5 + 0.5)) * 5

    assert finding["message"] == (
        f"AA_READMISSIONS_30D ({published(v['AA_READMISSIONS_30D'])}) must be <= "
        f"AA_DISCHARGES ({published(v['AA_DISCHARGES'])})"
    )
    (exact,) = con.execute(
        "select message_exact from intermediate.int_validation_findings where finding_id = ?",
        [finding["finding_id"]],
    ).fetchone()
    assert exact == (
        f"AA_READMISSIONS_30D ({v['AA_READMISSIONS_30D']:.0f}) must be <= "
        f"AA_DISCHARGES ({v['AA_DISCHARGES']:.0f})"
    )
    assert finding["items_involved"] == "AA_READMISSIONS_30D, AA_DISCHARGES"
    assert finding["blocks_release"] and not finding["explained"]
    for item in ("AA_READMISSIONS_30D", "AA_DISCHARGES"):
        assert _item(con, "SE", item) == (None, True, "validation_error")
    for indicator in ("AA_READMISSION_RATE", "AA_MEAN_LOS", "AA_FOLLOWUP_7D_RATE"):
        assert _indicator(con, "SE", indicator) == (None, True, "validation_error")
    # The rest of the return is published.
    value, suppressed, _ = _indicator(con, "SE", "AA_BEDS_PER_100K")
    assert value is not None and not suppressed
    assert _item(con, "SE", "AA_BEDS")[0] == v["AA_BEDS"]


def test_findings_only_for_the_submission_that_counts(built):
    _, con, _, _ = built
    assert not any(k.startswith("CYPC_ACCEPTED_LE_REFERRALS") for k in _findings(con, "SE"))
    stale = con.execute(
        "select count(*) from marts.mart_validation_findings f "
        "where f.submission_id not in (select submission_id from intermediate.int_latest_submissions)"
    ).fetchone()[0]
    assert stale == 0


def test_total_error(built):
    _, con, _, _ = built
    finding = _findings(con, "NO")["WF_ESTABLISHMENT_TOTAL:WF_TOTAL_WTE"]
    assert finding["kind"] == "total" and finding["severity"] == "error"
    assert "must equal WF_FUNDED_WTE" in finding["message"] and "within 1%" in finding["message"]
    assert _indicator(con, "NO", "WF_VACANCY_RATE") == (None, True, "validation_error")


def test_indicator_range_error_blocks_its_items(built):
    _, con, _, _ = built
    found = _findings(con, "IE")
    finding = found["AA_OCCUPANCY_RANGE:AA_OCCUPANCY_EXCL_LEAVE"]
    assert finding["severity"] == "error" and finding["kind"] == "range"
    assert finding["message"].startswith("AA_OCCUPANCY_EXCL_LEAVE (120")
    assert finding["items_involved"] == "AA_OBD, AA_ABD"
    assert found["AA_OBD_LE_ABD:AA_OBD"]["severity"] == "warning"
    for indicator in ("AA_OCCUPANCY_EXCL_LEAVE", "AA_LEAVE_SHARE", "AA_DELAYED_DISCHARGE_RATE"):
        assert _indicator(con, "IE", indicator) == (None, True, "validation_error")


def test_year_on_year_warning_explained_by_comment(built):
    _, con, _, crafted = built
    finding = _findings(con, "NL")["AA_BEDS_YOY:AA_BEDS"]
    assert finding["severity"] == "warning" and finding["kind"] == "year_on_year"
    assert finding["explained"] is True
    assert "New hospital opened" in finding["submitter_comment"]
    assert finding["message"].startswith("AA_BEDS changed by +5")  # x 1.5 and a mild trend
    # A warning is published with its finding.
    assert _item(con, "NL", "AA_BEDS") == (crafted["NL"]["AA_BEDS"], False, None)


def test_peer_outlier_and_skip_if_all_values_missing(built):
    _, con, _, _ = built
    found = _findings(con, "GB-ENG")
    outlier = found["CR_EPISODES_PER_100K_OUTLIER:CR_EPISODES_PER_100K"]
    assert outlier["severity"] == "warning" and "is above the range" in outlier["message"]
    assert outlier["explained"] is False
    groups = found["WF_GROUPS_LE_TOTAL:WF_PSYCHIATRIST_WTE"]
    assert groups["severity"] == "error"
    assert groups["message"].startswith("WF_PSYCHIATRIST_WTE (NK) + WF_NURSING_WTE (")
    assert _indicator(con, "GB-ENG", "WF_REGISTERED_NURSE_SHARE") == (
        None,
        True,
        "validation_error",
    )


def test_completeness_and_never_skip(built):
    _, con, _, _ = built
    found = _findings(con, "NZ")
    caseload = found["COMP_MANDATORY:AC_CASELOAD"]
    assert caseload["kind"] == "completeness" and caseload["explained"] is False
    assert "not known (NK)" in caseload["message"]
    assert found["COMP_MANDATORY:AA_BEDS"]["explained"] is True
    never = found["AA_BEDS_PRESENT:AA_BEDS"]
    assert never["message"] == "AA_BEDS (NK) must be >= 1" and never["explained"] is True
    assert "AA_BEDS_YOY:AA_BEDS" not in found  # SKIP_IF_ANY_VALUE_MISSING


def test_no_error_value_reaches_the_marts_unsuppressed(built):
    _, con, _, _ = built
    blocked = con.execute(
        "select f.submission_id, trim(t.item) from marts.mart_validation_findings f, "
        "unnest(string_split(f.items_involved, ',')) as t(item) where f.severity = 'error'"
    ).fetchall()
    assert len(blocked) >= 8
    leaked_items = con.execute(
        "select count(*) from marts.fct_return_values r join ("
        "  select f.submission_id, trim(t.item) as item_code from marts.mart_validation_findings f,"
        "  unnest(string_split(f.items_involved, ',')) as t(item) where f.severity = 'error'"
        ") e using (submission_id, item_code) where r.value is not null or not r.suppressed"
    ).fetchone()[0]
    leaked_indicators = con.execute(
        "select count(*) from marts.fct_indicator_values v "
        "join marts.dim_indicator i using (indicator_code) join ("
        "  select f.submission_id, trim(t.item) as item_code from marts.mart_validation_findings f,"
        "  unnest(string_split(f.items_involved, ',')) as t(item) where f.severity = 'error'"
        ") e on e.submission_id = v.submission_id "
        "and e.item_code in (i.numerator_item, i.denominator_item) where v.value is not null"
    ).fetchone()[0]
    assert (leaked_items, leaked_indicators) == (0, 0)
    # Benchmarks only use published values.
    n = con.execute(
        "select n from marts.mart_benchmark where indicator_code = 'AA_READMISSION_RATE' "
        "and collection_year = 2024"
    ).fetchone()[0]
    assert n == len(PARTICIPANTS) - 1


def test_data_quality(built):
    _, con, _, _ = built
    rows = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "select participant_code, collection_year, status, resubmissions, rejected_files, "
            "completeness_pct, errors_open, warnings_open, warnings_explained "
            "from marts.mart_data_quality"
        ).fetchall()
    }
    assert rows[("SE", 2024)][:4] == ("submitted", 1, 0, 100.0)
    assert rows[("SE", 2024)][4] >= 1
    nz = rows[("NZ", 2024)]
    assert nz[3] < 100.0 and nz[5] >= 1 and nz[6] >= 2  # AC_CASELOAD open; AA_BEDS explained
    assert rows[("GB-SCT", 2024)][0] == "not_submitted"
    errors = con.execute(
        "select count(*) from marts.mart_validation_findings where severity = 'error' "
        "and collection_year = 2024"
    ).fetchone()[0]
    assert sum(r[4] or 0 for k, r in rows.items() if k[1] == 2024) == errors


def test_gate_suites_pass(built):
    from orchestration.defs.quality import run_gate_suite

    home, _, _, _ = built
    for mart in ("mart_validation_findings", "mart_data_quality", "fct_return_values"):
        result = run_gate_suite(home.warehouse, mart)
        assert result.passed, (mart, result.metadata["failed_expectations"])


def test_query_log_and_submitter_report(built):
    import io
    import json

    from cli.output import Rows, findings_table, json_text, write_csv
    from reporting.findings import COLUMNS, findings_rows
    from reporting.submitter_report import append_findings

    home, con, submissions, _ = built
    rows = findings_rows(con, 2024, "se")
    assert rows and rows[0]["severity"] == "error"
    assert {r["participant_code"] for r in findings_rows(con, 2024)} >= {"SE", "NO", "IE"}
    # printed as `mhbench findings` prints them (cli/output.py)
    printed = Rows.of_dicts(rows, COLUMNS)
    assert json.loads(json_text(printed.dicts()))[0]["rule_id"] == rows[0]["rule_id"]
    csv_text = io.StringIO()
    write_csv(printed, csv_text)
    assert csv_text.getvalue().splitlines()[0].startswith("participant_code,collection_year")
    assert findings_table(printed).row_count == len(rows)
    current = rows[0]["submission_id"]
    html_path = append_findings(home, current, rows)
    report = json.loads(html_path.with_suffix(".json").read_text())
    assert report["content_findings"]["counts"]["errors"] >= 1
    assert "AA_READMISSIONS_30D" in html_path.read_text()
