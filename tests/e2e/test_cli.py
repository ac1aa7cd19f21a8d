"""The mhbench CLI as a user runs it (real subprocesses)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_mhbench

pytestmark = pytest.mark.e2e


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


@pytest.mark.xdist_group("cycle")
def test_query_and_releases_on_the_published_release(cycle):
    listing = run_mhbench(cycle.home, "releases").stdout
    current = (cycle.home / "releases" / "current").resolve().name
    assert current in listing
    completed = run_mhbench(
        cycle.home,
        "query",
        "select participant_code, count(*) as n from marts.fct_indicator_values "
        "group by 1 order by 1",
        "--format",
        "json",
    )
    rows = json.loads(completed.stdout)
    assert len(rows) == 12 and {r["participant_code"] for r in rows} >= {"GB-ENG", "JE", "SE"}
    # read-only: a write is refused, with a clear message and a non-zero exit
    refused = run_mhbench(cycle.home, "query", "drop table marts.mart_benchmark", check=False)
    assert refused.returncode == 1 and "read-only" in refused.stderr.lower()
