"""The report pages are Jinja2 templates: escaped by the engine, strict, one shared stylesheet.

The benchmark report is rendered from a small hand-made release (every mart it reads, two
participants, one indicator over two years), so escaping and the refusal of a release
without its marts are checked without a dbt build.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from jinja2 import UndefinedError

from reporting.benchmark_report import ReportError, render_benchmark_report
from reporting.charts import Chart
from reporting.quality_report import render_quality_report
from reporting.submitter_report import render_html
from reporting.templating import STYLESHEET, TEMPLATES, environment

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
SQL_HOSTILE = HOSTILE.replace("'", "''")  # as a SQL string literal


def test_environment_escapes_is_strict_and_blanks_none():
    env = environment()
    assert env.from_string("{{ x }}").render(x=HOSTILE) == ESCAPED
    assert env.from_string("[{{ x }}]").render(x=None) == "[]"
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing }}").render()
    with pytest.raises(UndefinedError):
        env.from_string("{{ row.missing }}").render(row={"present": 1})
    assert env.from_string("{{ v|number }} {{ w|number }}").render(v=1234.5, w=None) == "1,234 "


def test_chart_label_is_escaped_and_only_the_svg_is_markup():
    chart_macro = environment().get_template("_macros.html").module.chart
    chart = Chart(
        attributes='viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg"',  # a plain str
        content="<text>Sweden &amp; co</text>",
        css_class="chart-position",
        label=f'Beds "{HOSTILE}"',
    )
    # Plain strings are escaped: only the Markup that charts.py makes of matplotlib's SVG is not.
    assert "&lt;text&gt;" in str(chart_macro(chart))
    from markupsafe import Markup

    chart = Chart(Markup(chart.attributes), Markup(chart.content), chart.css_class, chart.label)
    svg = str(chart_macro(chart))
    assert svg.startswith('<svg viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg" ')
    assert f'aria-label="Beds &#34;{ESCAPED}&#34;"' in svg
    assert "<text>Sweden &amp; co</text></svg>" in svg


def test_nothing_else_is_marked_safe_and_nothing_is_escaped_by_hand():
    for template in [*TEMPLATES.glob("*.html"), *(REPO / "publishing" / "templates").glob("*")]:
        text = template.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", ""), template
        assert "autoescape false" not in text, template
    for module in [*(REPO / "reporting").glob("*.py"), *(REPO / "publishing").glob("*.py")]:
        text = module.read_text(encoding="utf-8")
        assert "html.escape" not in text and "from html import" not in text, module
        if module.name != "charts.py":
            assert "Markup(" not in text, module


def _style(page: str) -> str:
    return re.search(r"<style>\n?(.*?)\n?</style>", page, re.S).group(1)


def test_every_report_page_inlines_the_one_stylesheet(tmp_path):
    css = STYLESHEET.read_text(encoding="utf-8")
    release = make_release(tmp_path / "release")
    pages = {
        "benchmark": render_benchmark_report(release, manifest=MANIFEST),
        "quality": render_quality_report(MANIFEST),
        "submitter": render_html(SUBMITTER_REPORT),
    }
    for name, page in pages.items():
        assert _style(page).strip() == css.strip(), f"{name}: the stylesheet is not inlined as is"
        assert f'<body class="{name}">' in page
        assert "<link" not in page and "src=" not in page and "@import" not in page


MANIFEST = {
    "release_id": "20260101T000000000000Z",
    "created_at": "2026-01-01T00:00:00+00:00",
    "code_version": "abc",
    "dictionary_version": "def",
    "checks": [],
}
SUBMITTER_REPORT = {
    "status": "accepted",
    "counts": {"errors": 0, "warnings": 0, "values": 1},
    "participant": {"code": "SE", "name": HOSTILE},
    "year": 2024,
    "received_at": "2026-01-01T00:00:00",
    "submission_id": "s1",
    "file": {"original_filename": f"{HOSTILE}.xlsx", "sha256": "a" * 64},
    "issues": [],
}


def make_release(folder: Path, leave_out: str | None = None) -> Path:
    """A release folder whose DuckDB holds every mart the report reads (but `leave_out`)."""
    folder.mkdir(parents=True)
    tables = {
        "dim_participant": (
            f"select * from (values ('SE', 'Sweden {SQL_HOSTILE}', 'x'), "
            "('NO', 'Norway', 'x')) t(participant_code, participant_name, peer_group)"
        ),
        "dim_indicator": (
            "select 'AA_BEDS' as indicator_code, 'adult_acute' as section, "
            "'Beds <per> 100,000' as indicator_name, 'per 100,000' as unit_label, "
            "true as higher_is_better, 'Beds & more' as definition"
        ),
        "fct_indicator_values": (
            "select * from (values "
            "('AA_BEDS', 2023, 'SE', 10.0::double, null, false, null, null), "
            "('AA_BEDS', 2024, 'SE', 12.5, 'E,B', false, null, 'Coverage: <b>all</b> & more'), "
            "('AA_BEDS', 2023, 'NO', 20.0, null, false, null, null), "
            "('AA_BEDS', 2024, 'NO', null::double, null, true, null, null)) "
            "t(indicator_code, collection_year, participant_code, value, flags, suppressed, "
            "null_reason, footnote)"
        ),
        "mart_benchmark": (
            "select indicator_code, collection_year, n, min::double as min, p25::double as p25, "
            "median::double as median, p75::double as p75, max::double as max from (values "
            "('AA_BEDS', 2023, 2, 10.0, 12.5, 15.0, 17.5, 20.0), "
            "('AA_BEDS', 2024, 1, 12.5, 12.5, 12.5, 12.5, 12.5)) "
            "t(indicator_code, collection_year, n, min, p25, median, p75, max)"
        ),
        "mart_participant_position": (
            "select 'SE' as participant_code, 2024 as collection_year, "
            "'AA_BEDS' as indicator_code, 1 as rank, 1 as n, 1 as quartile"
        ),
        "mart_trends": (
            "select 'SE' as participant_code, 'AA_BEDS' as indicator_code, "
            "2024 as collection_year, true as break_in_series, 25.0::double as change_pct"
        ),
        "mart_data_quality": (
            "select * from (values ('SE', 2024, 100.0::double, true), ('NO', 2024, 50.0, false)) "
            "t(participant_code, collection_year, completeness_pct, on_time)"
        ),
        "mart_validation_findings": (
            "select 'SE' as participant_code, 2024 as collection_year, 'warning' as severity, "
            "'AA_BEDS_YOY' as rule_id, 'AA_BEDS changed by +25%' as message, "
            f"'{SQL_HOSTILE}' as submitter_comment, 's1' as submission_id"
        ),
    }
    with duckdb.connect(str(folder / "mhbench.duckdb")) as con:
        con.execute("create schema marts")
        for name, sql in tables.items():
            if name != leave_out:
                con.execute(f"create table marts.{name} as {sql}")
    return folder


def test_benchmark_report_escapes_what_participants_wrote(tmp_path):
    page = render_benchmark_report(make_release(tmp_path / "r"), "se", manifest=MANIFEST)
    assert "<script>" not in page and "<b>all" not in page
    assert f"<strong>Sweden {ESCAPED}</strong> (SE)" in page
    assert "Beds &lt;per&gt; 100,000" in page and "Beds &amp; more" in page
    assert "<li>Coverage: &lt;b&gt;all&lt;/b&gt; &amp; more</li>" in page  # a footnote
    assert f"<td>{ESCAPED}</td>" in page  # the submitter's comment on a finding
    assert '<abbr title="estimated">E</abbr>, <abbr title="break in series">B</abbr>' in page
    assert "◇ break in series" in page and "+25.0%" in page  # from mart_trends
    assert '<span class="q q1">highest quartile</span>' in page  # from mart_participant_position
    assert '<span class="status">suppressed</span>' in page
    # The charts are inline SVG, labelled with the escaped indicator name.
    assert page.count('<svg xmlns:xlink="http://www.w3.org/1999/xlink"') == 2
    assert 'aria-label="Beds &lt;per&gt; 100,000 2024, participants by value"' in page


@pytest.mark.parametrize(
    "mart",
    ["mart_participant_position", "mart_trends", "mart_data_quality", "mart_validation_findings"],
)
def test_benchmark_report_refuses_a_release_without_a_mart_it_reads(tmp_path, mart):
    release = make_release(tmp_path / "r", leave_out=mart)
    with pytest.raises(ReportError, match=f"lacks {mart}"):
        render_benchmark_report(release, manifest=MANIFEST)


def test_reports_of_several_participants_read_once_equal_each_ones_own_report(tmp_path):
    import json

    from reporting.benchmark_report import write_participant_reports

    release = make_release(tmp_path / "r")
    (release / "manifest.json").write_text(json.dumps(MANIFEST))
    outputs = {"SE": tmp_path / "se.html", "NO": tmp_path / "no.html"}

    assert write_participant_reports(release, outputs, charts=False) == list(outputs.values())

    generator = re.compile(r'<meta name="generator"[^>]*>')  # holds the time it took
    for code, path in outputs.items():
        alone = render_benchmark_report(release, code, charts=False)
        assert generator.sub("", path.read_text()) == generator.sub("", alone), code
    # each has its own findings: SE's warning is not in Norway's pack
    assert "AA_BEDS changed by +25%" in outputs["SE"].read_text()
    assert "AA_BEDS changed by +25%" not in outputs["NO"].read_text()
    assert "<strong>Norway</strong> (NO)" in outputs["NO"].read_text()
    with pytest.raises(ReportError, match="unknown participant 'XX'"):
        write_participant_reports(release, {"XX": tmp_path / "xx.html"})
