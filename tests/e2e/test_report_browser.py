"""The benchmarking report of the sample release, opened in a real browser (headless Chromium,
driven by Playwright: tests/e2e/playwright_pages.py).

The report is generated from the release the annual cycle published, for one participant,
and checked as a reader would meet it: it loads without console errors or requests
leaving the file, every indicator has its charts, the participant is highlighted,
suppressed values read "suppressed", and the print layout hides the navigation.
A screenshot is kept in the test's tmp folder and in test-output/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from tests.e2e.playwright_pages import assert_clean, guarded_browser, guarded_page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]

REPO = Path(__file__).resolve().parents[2]
TEST_OUTPUT = REPO / "test-output"
PARTICIPANT = "SE"
# Jersey's small counts are suppressed in the sample: its report shows "suppressed".
SMALL_PARTICIPANT = "JE"
MAX_SECONDS = 60  # generous for a loaded CI machine; about 6 s of CPU on the sample
MAX_BYTES = 10_000_000
# dbt-docs' page asks for two URLs its own templates never filled in, files that do not
# exist: `{{ getIcon(item.type, 'on') }}` (Angular) and `${require('./assets/favicons/...')}`
# (webpack). The only errors tolerated, by those URLs.
DBT_DOCS_ICON_TEMPLATE = re.compile(
    r"/docs/dbt/(%7B%7B%20getIcon\(item\.type,%20'(on|off)'\)%20%7D%7D"
    r"|\$%7Brequire\('\./assets/favicons/[\w.]+'\)%7D)"
)


def _release(cycle) -> Path:
    release = cycle.home / "releases" / "current"
    assert (release / "mhbench.duckdb").exists(), cycle.run_output
    return release.resolve()


def _facts(release: Path, participant: str) -> dict:
    with duckdb.connect(str(release / "mhbench.duckdb"), read_only=True) as con:
        year = con.execute(
            "select max(collection_year) from marts.fct_indicator_values where value is not null"
        ).fetchone()[0]
        return {
            "year": year,
            "indicators": [
                r[0]
                for r in con.execute(
                    "select indicator_code from marts.dim_indicator order by 1"
                ).fetchall()
            ],
            "name": con.execute(
                "select participant_name from marts.dim_participant where participant_code = ?",
                [participant],
            ).fetchone()[0],
            "with_value": con.execute(
                "select count(*) from marts.fct_indicator_values "
                "where participant_code = ? and collection_year = ? and value is not null",
                [participant, year],
            ).fetchone()[0],
            "suppressed": con.execute(
                "select count(*) from marts.fct_indicator_values "
                "where participant_code = ? and collection_year = ? and suppressed",
                [participant, year],
            ).fetchone()[0],
        }


@pytest.fixture(scope="module")
def reports(cycle, tmp_path_factory) -> dict[str, tuple[Path, float]]:
    from reporting.benchmark_report import write_benchmark_report

    folder = tmp_path_factory.mktemp("report")
    made = {}
    for participant in (PARTICIPANT, SMALL_PARTICIPANT):
        started = time.perf_counter()
        path = write_benchmark_report(
            _release(cycle), participant, folder / f"report-{participant}.html"
        )
        made[participant] = (path, time.perf_counter() - started)
    return made


def test_report_is_self_contained_and_reasonable(reports):
    path, seconds = reports[PARTICIPANT]
    html = path.read_text(encoding="utf-8")
    assert seconds < MAX_SECONDS, f"report took {seconds:.1f}s"
    assert path.stat().st_size < MAX_BYTES, f"report is {path.stat().st_size / 1e6:.1f} MB"
    lowered = html.lower()
    for external in ("<script src", "<link ", "http://", "https://", "@import", "url(http"):
        # The only namespace URIs allowed are those inside inline SVG.
        rest = lowered.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
        )
        assert external not in rest, f"report refers to something outside itself: {external}"


def test_report_renders_in_chromium(reports, cycle, tmp_path):
    release = _release(cycle)
    facts = _facts(release, PARTICIPANT)
    path, _ = reports[PARTICIPANT]
    with guarded_browser() as browser:
        page = guarded_page(browser, 1366, 900)
        page.goto(path.as_uri(), wait_until="load")

        articles = page.evaluate(
            "[...document.querySelectorAll('article.indicator')].map(a => ({"
            "  code: a.dataset.indicator,"
            "  positions: a.querySelectorAll('svg.chart-position').length,"
            "  trends: a.querySelectorAll('svg.chart-trend').length,"
            "  width: a.querySelector('svg.chart-position')?.getBoundingClientRect().width || 0,"
            "  names: [...a.querySelectorAll('svg.chart-position text')].map(t => t.textContent.trim()),"
            "  highlighted: a.querySelectorAll('svg.chart-position [id$=\"-highlight\"]').length,"
            "}))"
        )
        assert sorted(a["code"] for a in articles) == facts["indicators"]
        for article in articles:
            assert article["positions"] == 1 and article["trends"] == 1, article["code"]
            assert article["width"] > 250, f"{article['code']}: chart not laid out"
            assert facts["name"] in article["names"], f"{article['code']}: {facts['name']} missing"
        assert sum(a["highlighted"] for a in articles) == facts["with_value"]

        header = page.locator("header").inner_text()
        assert f"Report for {facts['name']}" in header and str(facts["year"]) in header
        assert page.locator("tr.highlight").count() >= len(articles)
        assert page.locator("#data-quality table tbody tr").count() > 0
        assert_clean(page)

        screenshot = page.screenshot(path=tmp_path / "report.png")
        first = page.locator("article.indicator").first
        first.scroll_into_view_if_needed()
        assert first.get_attribute("id")
        page.screenshot(path=tmp_path / "report-indicator.png")

        # Print: navigation hidden, a page break before each section.
        page.emulate_media(media="print")
        assert page.locator("nav").evaluate("n => getComputedStyle(n).display") == "none"
        assert (
            page.locator("section.section").first.evaluate("s => getComputedStyle(s).breakBefore")
            == "page"
        )
        page.pdf(path=tmp_path / "report.pdf")
        assert (tmp_path / "report.pdf").stat().st_size > 10_000
        assert screenshot

    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "report.png", TEST_OUTPUT / "report.png")
    shutil.copy(tmp_path / "report-indicator.png", TEST_OUTPUT / "report-indicator.png")


def test_suppressed_values_read_suppressed(reports, cycle, tmp_path):
    facts = _facts(_release(cycle), SMALL_PARTICIPANT)
    assert facts["suppressed"] > 0, "the sample must have suppressed values for Jersey"
    path, _ = reports[SMALL_PARTICIPANT]
    with guarded_browser() as browser:
        page = guarded_page(browser, 1366, 900)
        page.goto(path.as_uri(), wait_until="load")
        rows = page.locator("table.values tr.highlight").all_inner_texts()
        suppressed = [r for r in rows if "suppressed" in r]
        assert len(suppressed) == facts["suppressed"], rows
        page.locator("article .status", has_text="suppressed").first.scroll_into_view_if_needed()
        page.screenshot(path=tmp_path / "report-suppressed.png")
        assert_clean(page)
    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "report-suppressed.png", TEST_OUTPUT / "report-suppressed.png")


def test_release_report_and_quality_page_open_cleanly(cycle):
    """The pages the publish step writes into the release: the report and the quality page."""
    release = _release(cycle)
    with guarded_browser() as browser:
        page = guarded_page(browser)
        page.goto((release / "report.html").as_uri(), wait_until="load")
        assert page.locator("article.indicator svg.chart").count() > 0
        assert_clean(page)

        quality = guarded_page(browser)
        quality.goto((release / "quality.html").as_uri(), wait_until="load")
        text = quality.locator("body").inner_text()
        assert release.name in text
        # one row per gate check of the manifest, each named on the page
        checks = json.loads((release / "manifest.json").read_text())["checks"]
        assert checks
        for check in checks:
            assert check["check"].split(":")[1] in text, check["check"]
        assert_clean(quality)


def test_release_dbt_docs_open_without_the_network(cycle):
    """The static dbt docs of the release: a mart's page with its columns, nothing fetched
    from outside."""
    release = _release(cycle)
    docs = release / "docs" / "dbt" / "index.html"
    with guarded_browser() as browser:
        page = guarded_page(browser, 1600, 1000)
        page.goto(f"{docs.as_uri()}#!/model/model.mhbench.fct_indicator_values", wait_until="load")
        page.wait_for_function(
            "document.body.innerText.includes('build.marts.fct_indicator_values')",
            timeout=60_000,
        )
        text = page.locator("body").inner_text()
        for column in ("participant_code", "suppressed", "footnote"):
            assert column in text, column
        assert "mart_benchmark" in text  # the project tree lists the other marts
        page.errors[:] = [e for e in page.errors if not DBT_DOCS_ICON_TEMPLATE.search(e)]
        assert_clean(page)


def test_unknown_participant_is_a_clear_error(cycle, tmp_path):
    from reporting.benchmark_report import ReportError, write_benchmark_report

    with pytest.raises(ReportError, match="unknown participant 'XX'; known: .*SE"):
        write_benchmark_report(_release(cycle), "XX", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
