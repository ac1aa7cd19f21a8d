"""The benchmarking report of the sample release, opened in a real browser (headless Chromium).

The report is generated from the release the annual cycle published, for one participant,
and checked as a reader would meet it: it loads without console errors or requests
leaving the file, every indicator has its charts, the participant is highlighted,
suppressed values read "suppressed", and the print layout hides the navigation.
A screenshot is kept in the test's tmp folder and in test-output/ (git-ignored).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest

from tests.browser import Browser, chromium_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]

REPO = Path(__file__).resolve().parents[2]
TEST_OUTPUT = REPO / "test-output"
PARTICIPANT = "SE"
# Jersey's small counts are suppressed in the sample: its report shows "suppressed".
SMALL_PARTICIPANT = "JE"
MAX_SECONDS = 60  # generous for a loaded CI machine; about 6 s of CPU on the sample
MAX_BYTES = 10_000_000


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
    chromium_or_skip()
    release = _release(cycle)
    facts = _facts(release, PARTICIPANT)
    path, _ = reports[PARTICIPANT]
    with Browser.start(tmp_path) as browser:
        page = browser.new_page(1366, 900)
        page.goto(path.as_uri())
        browser.pump(0.5)

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

        header = page.evaluate("document.querySelector('header').innerText")
        assert f"Report for {facts['name']}" in header and str(facts["year"]) in header
        assert page.evaluate("document.querySelectorAll('tr.highlight').length") >= len(articles)
        assert page.evaluate("document.querySelector('#data-quality table tbody tr') !== null")

        outside = [
            url for url in page.requests if not url.startswith(("file://", "data:", "about:"))
        ]
        assert outside == [], f"the report fetched {outside}"
        assert page.console_errors == [], "\n".join(map(str, page.console_errors))

        screenshot = page.screenshot(tmp_path / "report.png")
        first_chart = page.evaluate(
            "(() => { const a = document.querySelector('article.indicator');"
            " a.scrollIntoView(); return a.id; })()"
        )
        browser.pump(0.2)
        chart_shot = page.screenshot(tmp_path / "report-indicator.png")
        assert first_chart

        # Print: navigation hidden, a page break before each section.
        page.send("Emulation.setEmulatedMedia", {"media": "print"})
        assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
        assert (
            page.evaluate("getComputedStyle(document.querySelector('section.section')).breakBefore")
            == "page"
        )
        pdf = page.print_pdf(tmp_path / "report.pdf")
        assert pdf.stat().st_size > 10_000

    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copy(screenshot, TEST_OUTPUT / "report.png")
    shutil.copy(chart_shot, TEST_OUTPUT / "report-indicator.png")


def test_suppressed_values_read_suppressed(reports, cycle, tmp_path):
    chromium_or_skip()
    facts = _facts(_release(cycle), SMALL_PARTICIPANT)
    assert facts["suppressed"] > 0, "the sample must have suppressed values for Jersey"
    path, _ = reports[SMALL_PARTICIPANT]
    with Browser.start(tmp_path) as browser:
        page = browser.new_page(1366, 900)
        page.goto(path.as_uri())
        rows = page.evaluate(
            "[...document.querySelectorAll('table.values tr.highlight')].map(tr => tr.innerText)"
        )
        suppressed = [r for r in rows if "suppressed" in r]
        assert len(suppressed) == facts["suppressed"], rows
        assert page.console_errors == [], "\n".join(map(str, page.console_errors))
        page.evaluate(
            "(() => { const s = [...document.querySelectorAll('article .status')]"
            ".find(e => e.textContent === 'suppressed'); s.closest('article').scrollIntoView(); })()"
        )
        browser.pump(0.2)
        shot = page.screenshot(tmp_path / "report-suppressed.png")
    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copy(shot, TEST_OUTPUT / "report-suppressed.png")


def test_release_report_if_published(cycle, tmp_path):
    """When the publish step writes report.html into the release, it opens cleanly too."""
    report = _release(cycle) / "report.html"
    if not report.exists():
        pytest.skip("this release has no report.html (publish does not write it yet)")
    chromium_or_skip()
    with Browser.start(tmp_path) as browser:
        page = browser.new_page()
        page.goto(report.as_uri())
        assert page.evaluate("document.querySelectorAll('article.indicator svg.chart').length") > 0
        assert page.console_errors == [], "\n".join(map(str, page.console_errors))


def test_unknown_participant_is_a_clear_error(cycle, tmp_path):
    from reporting.benchmark_report import ReportError, write_benchmark_report

    with pytest.raises(ReportError, match="unknown participant 'XX'; known: .*SE"):
        write_benchmark_report(_release(cycle), "XX", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
