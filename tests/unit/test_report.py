"""Validation reports: JSON content, HTML escaping, ordering, console rendering."""

from __future__ import annotations

import json
from datetime import date, datetime

from rich.console import Console

from cli.output import render_text
from ingestion.records import Issue, ParsedReturn, ReturnValue
from ingestion.report import issue_lines, place_key
from ingestion.report import write_report as write_report_json
from reporting.submitter_report import write_html
from runtime.home import Home

HOSTILE = "<script>alert('x')</script>"


def write_report(home, *args):
    """The JSON record as ingestion writes it, then the page for people rendered from it."""
    return write_html(write_report_json(home, *args))


def parsed_with_issues() -> ParsedReturn:
    return ParsedReturn(
        file_format="xlsx",
        about={
            "participant_code": "SE",
            "participant_name": "Sweden & <Co>",
            "collection_year": 2023,
            "period_start": date(2023, 1, 1),
        },
        values=[ReturnValue("BED_ADULT", 12.0, None, None, "Data!D2")],
        issues=[
            Issue("not_a_number", "Data!D17", HOSTILE, "a number", "Value is not a number"),
            Issue("high", "Data!D9", "99999", "<= 5000", "Value is high", severity="warning"),
            Issue("missing_sheet", "file", "", "sheet Data", "[bold]Sheet Data is missing"),
            Issue("bad_date", "About!B4", "31/12/2023", "YYYY-MM-DD", "Not an ISO date"),
        ],
    )


def test_place_key_orders_naturally():
    places = ["Data!D17", "Data!D9", "file", "About!B4", "Data!AA9", "line 10", "line 2"]
    assert sorted(places, key=place_key) == [
        "file",
        "About!B4",
        "Data!D9",
        "Data!AA9",
        "Data!D17",
        "line 2",
        "line 10",
    ]


def test_write_report_json(tmp_path):
    home = Home(tmp_path).ensure()
    received = datetime(2024, 3, 1, 9, 30)
    html_path = write_report(
        home,
        "abcdef0123456789",
        "SE 2023.xlsx",
        "ab" * 32,
        parsed_with_issues(),
        "rejected",
        received,
    )
    assert html_path == home.reports / "abcdef0123456789.html"
    report = json.loads((home.reports / "abcdef0123456789.json").read_text(encoding="utf-8"))

    assert report["submission_id"] == "abcdef0123456789"
    assert report["status"] == "rejected"
    assert report["received_at"] == "2024-03-01T09:30:00"
    assert report["file"] == {
        "original_filename": "SE 2023.xlsx",
        "sha256": "ab" * 32,
        "format": "xlsx",
    }
    assert report["participant"] == {"code": "SE", "name": "Sweden & <Co>"}
    assert report["year"] == 2023
    assert report["about"]["period_start"] == "2023-01-01"
    assert report["counts"] == {"errors": 3, "warnings": 1, "values": 1}
    assert [i["place"] for i in report["issues"]] == ["file", "About!B4", "Data!D9", "Data!D17"]
    assert report["issues"][3] == {
        "code": "not_a_number",
        "place": "Data!D17",
        "value": HOSTILE,
        "expected": "a number",
        "message": "Value is not a number",
        "severity": "error",
    }


def test_write_report_html_escapes_untrusted_values(tmp_path):
    home = Home(tmp_path).ensure()
    parsed = parsed_with_issues()
    path = write_report(
        home, "0000111122223333", f"{HOSTILE}.xlsx", "cd" * 32, parsed, "rejected", datetime.now()
    )
    page = path.read_text(encoding="utf-8")

    assert "<script" not in page
    # Escaped by the template engine (Jinja2 writes ' as &#39;).
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Sweden &amp; &lt;Co&gt;" in page
    assert "Rejected: 3 error(s) must be corrected" in page
    assert "Data!D17" in page and "Value is not a number" in page
    # self-contained: no external stylesheets, scripts or images
    assert "<link" not in page and "src=" not in page and "http" not in page.split("</style>")[1]
    # issues appear sorted by place
    assert page.index("About!B4") < page.index("Data!D9") < page.index("Data!D17")


def test_html_banner_for_accepted(tmp_path):
    home = Home(tmp_path).ensure()
    clean = ParsedReturn(
        file_format="csv", about={"participant_code": "NO", "collection_year": 2023}
    )
    page = write_report(
        home, "1" * 16, "NO.csv", "ef" * 32, clean, "accepted", datetime(2024, 1, 1)
    ).read_text(encoding="utf-8")
    assert "Accepted: no issues found" in page
    assert "No action is needed." in page


def test_render_text_and_lines():
    parsed = parsed_with_issues()
    lines = issue_lines(parsed, "SE.xlsx")
    assert lines[0] == "SE.xlsx: REJECTED: 3 error(s), 1 warning(s), 1 value(s) read"
    assert lines[1].startswith("ERROR   file: [bold]Sheet Data is missing")
    assert lines[-1].startswith("ERROR   Data!D17: Value is not a number")
    assert HOSTILE in lines[-1]

    console = Console(record=True, width=200, color_system=None)
    console.print(render_text(parsed, "SE.xlsx"))
    out = console.export_text()
    assert "SE.xlsx: rejected: 3 error(s), 1 warning(s)" in out
    assert "[bold]Sheet Data is missing" in out  # not interpreted as markup
    assert "Data!D17" in out and "not_a_number" in out
    assert out.index("About!B4") < out.index("Data!D9") < out.index("Data!D17")

    console = Console(record=True, width=120, color_system=None)
    console.print(render_text(ParsedReturn(file_format="csv")))
    assert "accepted: no issues" in console.export_text()


def test_content_findings_section_is_part_of_the_page(tmp_path):
    from reporting.submitter_report import append_findings

    home = Home(tmp_path).ensure()
    clean = ParsedReturn(
        file_format="csv", about={"participant_code": "NO", "collection_year": 2023}
    )
    page = write_report(
        home, "2" * 16, "NO.csv", "ef" * 32, clean, "accepted", datetime(2024, 1, 1)
    ).read_text(encoding="utf-8")
    assert 'id="content-validation"' not in page  # no dbt build yet

    finding = {
        "rule_id": "AA_BEDS_YOY",
        "severity": "warning",
        "kind": "year_on_year",
        "message": "AA_BEDS changed by +50%",
        "items_involved": "AA_BEDS",
        "values_involved": "120",
        "explained": True,
        "submitter_comment": HOSTILE,
        "rule_description": "Beds & <places> year on year",
    }
    error = {**finding, "rule_id": "AA_RANGE", "severity": "error", "explained": False}
    path = append_findings(home, "2" * 16, [finding, error])
    page = path.read_text(encoding="utf-8")
    section = page[page.index('<section id="content-validation">') : page.index("</section>")]
    assert page.index("</section>") < page.index("<footer>")
    assert "Content validation (1 error(s), 1 warning(s))" in section
    assert "1 error(s) keep the values involved out of the release" in section
    assert section.index("AA_RANGE") < section.index("AA_BEDS_YOY")  # errors first
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in section
    assert "Beds &amp; &lt;places&gt; year on year" in section

    # Findings again (all corrected): the section is replaced, not added.
    page = append_findings(home, "2" * 16, []).read_text(encoding="utf-8")
    assert page.count('id="content-validation"') == 1
    assert "Content validation: all rules passed" in page and "No findings." in page
