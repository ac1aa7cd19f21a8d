"""GE Data Docs of the gate: real Great Expectations, a hand-made DuckDB mart, no mocks.

A gate validation writes its page, the suite page and the site index, and the check's
metadata links to the page; validations written concurrently all end up in the index.
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.quality import (
    DataDocsMissing,
    gate_data_docs,
    gate_data_docs_pages,
    run_gate_suite,
    run_gate_suites,
)
from runtime.home import Home

BENCHMARK_COLUMNS = "indicator_code, collection_year, n, min, p25, median, p75, max, mean"
# IND_A twice for 2023 (the key is not unique) and IND_B with n = 0: two failed expectations.
BAD_ROWS = """
    ('IND_A', 2023, 3, 1.0, 2.0, 3.0, 4.0, 5.0, 3.0),
    ('IND_A', 2023, 3, 1.0, 2.0, 3.0, 4.0, 5.0, 3.0),
    ('IND_B', 2023, 0, 1.0, 2.0, 3.0, 4.0, 5.0, 3.0)
"""
YEARS = """
    (2023, date '2024-03-01', date '2024-06-30', date '2024-11-15'),
    (2024, date '2025-03-01', date '2025-06-30', date '2025-11-15')
"""


def _text(html_page: Path) -> str:
    """The visible text of a page (scripts and styles dropped, whitespace collapsed)."""
    html = html_page.read_text(encoding="utf-8")
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def home(tmp_path) -> Home:
    return gate_warehouse(tmp_path)


def gate_warehouse(tmp_path: Path) -> Home:
    """A home whose warehouse holds mart_benchmark (failing two expectations) and dim_year."""
    home = Home(tmp_path / "home").ensure()
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            f"create table marts.mart_benchmark as select * from (values {BAD_ROWS}) "
            f"t({BENCHMARK_COLUMNS})"
        )
        con.execute(
            f"create table marts.dim_year as select * from (values {YEARS}) "
            "t(collection_year, opens, deadline, publication)"
        )
    return home


def test_failed_validation_has_its_data_docs_page_linked_from_the_check(home):
    site = gate_data_docs(home, "run-failed")
    result = run_gate_suite(home.warehouse, "mart_benchmark", site)

    assert not result.passed
    # The outcome parsing is unchanged: failed expectations with sample values.
    failed = result.metadata["failed_expectations"].value
    assert "expect_compound_columns_to_be_unique" in failed and "IND_A" in failed
    assert "expect_column_values_to_be_between" in failed

    page = Path(result.metadata["data_docs"].value)
    index = Path(result.metadata["data_docs_index"].value)
    assert page.is_file() and index == site.index and index.is_file()
    assert page.is_relative_to(site.site_dir / "validations" / "mart_benchmark" / "run-failed")
    assert page.name == "mart_benchmark.html"
    # Written by GE: its page template, the suite, the asset, the failures and their values.
    html = page.read_text(encoding="utf-8")
    assert "Data documentation compiled by Great Expectations" in html
    text = _text(page)
    assert "Expectation Suite: mart_benchmark" in text
    assert "Data asset: marts.mart_benchmark" in text
    assert "Status: Failed" in text
    assert "Unsuccessful Expectations 2" in text
    assert "Values for given compound columns must be unique together" in text
    assert "IND_A 2023" in text  # the duplicated key, as GE lists unexpected values
    assert "values must be greater than or equal to 1" in text
    assert "Run Name run-failed" in text
    # The suite page it links to, and the index that lists it.
    assert 'href="../../../../expectations/mart_benchmark.html"' in html
    assert (site.site_dir / "expectations" / "mart_benchmark.html").is_file()
    assert page.relative_to(site.site_dir).as_posix() in index.read_text(encoding="utf-8")
    # GE's stores, from which the site is built, are outside the site.
    assert list((site.store_dir / "validations" / "mart_benchmark").rglob("*.json"))
    assert not list(site.site_dir.rglob("*.json"))


def test_suites_validated_together_each_get_their_page_in_one_site_build(home):
    # The gate step validates its marts as one batch: one read, one Data Docs build.
    site = gate_data_docs(home, "run-batch")
    results = run_gate_suites(home.warehouse, ["mart_benchmark", "dim_year"], site)

    assert [r.check_name for r in results.values()] == ["gx_mart_benchmark", "gx_dim_year"]
    assert not results["mart_benchmark"].passed and results["dim_year"].passed
    assert results["mart_benchmark"].metadata["rows_validated"].value == 3
    assert results["dim_year"].metadata["rows_validated"].value == 2
    index = site.index.read_text(encoding="utf-8")
    for mart, result in results.items():
        page = Path(result.metadata["data_docs"].value)
        assert page.name == f"{mart}.html" and page.is_relative_to(site.site_dir)
        assert f"Expectation Suite: {mart}" in _text(page)
        assert page.relative_to(site.site_dir).as_posix() in index
        assert (site.site_dir / "expectations" / f"{mart}.html").is_file()
    assert "Status: Failed" in _text(Path(results["mart_benchmark"].metadata["data_docs"].value))
    assert "Status: Succeeded" in _text(Path(results["dim_year"].metadata["data_docs"].value))


def test_a_passing_validation_is_documented_too(home):
    site = gate_data_docs(home, "run-passed")
    result = run_gate_suite(home.warehouse, "dim_year", site)
    assert result.passed
    text = _text(Path(result.metadata["data_docs"].value))
    assert "Expectation Suite: dim_year" in text and "Status: Succeeded" in text


def test_a_data_docs_failure_keeps_the_outcome_and_says_why(home):
    site = gate_data_docs(home, "run-broken")
    site.root.parent.mkdir(parents=True)
    site.root.write_text("a file where the site's folder should be")
    result = run_gate_suite(home.warehouse, "mart_benchmark", site)
    assert not result.passed
    assert "expect_compound_columns_to_be_unique" in result.metadata["failed_expectations"].value
    assert "data_docs" not in result.metadata
    assert "Error" in result.metadata["data_docs_error"].value


def test_a_release_needs_every_gate_page_in_its_runs_site(home):
    site = gate_data_docs(home, "run-1")
    result = run_gate_suite(home.warehouse, "dim_year", site)
    page = result.metadata["data_docs"].value
    other = run_gate_suite(home.warehouse, "dim_year", gate_data_docs(home, "run-2"))

    def check(name, data_docs, blocking=True, **extra):
        outcome = {"status": "SUCCEEDED", "blocking": blocking}
        return {"check": name, "data_docs": data_docs, **outcome, **extra}

    site_dir = site.site_dir.resolve()
    assert gate_data_docs_pages([check("a", page)], site_dir) == {"a": Path(page)}
    # A warning check without a page does not hold the release; a gate check does, and a
    # page of another run's site does not count.
    assert gate_data_docs_pages([check("a", page), check("w", None, False)], site_dir)
    with pytest.raises(DataDocsMissing, match=r"b, c \(OSError: disk full\)$"):
        gate_data_docs_pages(
            [
                check("a", page),
                check("b", other.metadata["data_docs"].value),
                check("c", None, data_docs_error="OSError: disk full"),
            ],
            site_dir,
        )


def test_without_a_site_no_data_docs_are_written(home):
    result = run_gate_suite(home.warehouse, "dim_year")
    assert result.passed and "data_docs" not in result.metadata
    assert not home.gx_data_docs.exists()


OTHER_PROCESS = """
import sys
from pathlib import Path
from runtime.home import Home
from orchestration.defs.quality import (
    DataDocsMissing,
    gate_data_docs,
    gate_data_docs_pages,
    run_gate_suite,
)
home = Home(Path(sys.argv[1]))
for mart in ("dim_year", "mart_benchmark"):
    print(run_gate_suite(home.warehouse, mart, gate_data_docs(home, "run-parallel")).metadata["data_docs"].value)
"""


def test_concurrent_validations_of_one_run_are_all_in_its_index(home):
    """Checks of one run in parallel, in threads and in another process (as Dagster's
    multiprocess executor runs them): every page is written and indexed once.

    The site's stores are files and each build reads them under a file lock, so a build
    never drops a validation that another thread or process stored.
    """
    site = gate_data_docs(home, "run-parallel")
    other_process = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(home.root)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    marts = ["mart_benchmark", "dim_year"] * 3
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda mart: run_gate_suite(home.warehouse, mart, site), marts))
    out, _ = other_process.communicate(timeout=300)
    assert other_process.returncode == 0
    assert [r.passed for r in results] == [False, True] * 3
    pages = {Path(r.metadata["data_docs"].value) for r in results} | {
        Path(line) for line in out.split()
    }
    assert len(pages) == len(marts) + 2 and all(p.is_file() for p in pages)
    index = site.index.read_text(encoding="utf-8")
    for page in pages:
        assert index.count(page.relative_to(site.site_dir).as_posix()) == 1
    # Another run has its own site: nothing of this run in it.
    other = gate_data_docs(home, "run-other")
    run_gate_suite(home.warehouse, "dim_year", other)
    assert "run-parallel" not in other.index.read_text(encoding="utf-8")
