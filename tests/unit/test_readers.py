"""Reading returns: good files parse to exact values, odd-but-valid layouts are
tolerated, and no input makes the check raise."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.check import check_return
from ingestion.csv_reader import read_csv
from ingestion.dictionary import Dictionary
from ingestion.records import ReturnValue
from ingestion.template import template_about, write_return_workbook
from ingestion.xlsx_reader import (
    ExcelError,
    UnevaluatedFormula,
    column_index,
    column_letters,
    read_xlsx,
)

ENGINES = ("calamine", "openpyxl")


def _text(cell: openpyxl.cell.Cell, value: str) -> None:
    """Store text as text, even when it starts with `=` (openpyxl would make a formula)."""
    cell.value = value
    cell.data_type = "s"


def odd_but_valid_workbook(path: Path) -> Path:
    """A valid return laid out unlike the template, in every way the format allows.

    Sheet names in other case and with spaces, an extra sheet first, About with a
    title row and fields in another order, Data with a blank row, an extra
    column, codes in lower case with spaces, numbers as text, a formula with its
    cached value, and comments that look like formulas.
    """
    book = openpyxl.Workbook()
    book.active.title = "Read me"
    about = book.create_sheet("about ")
    about["A1"] = "Mental health benchmarking return"
    about_rows = [
        ("Collection Year", 2024),
        ("participant_code", " se "),
        ("period_start", date(2024, 1, 1)),
        ("period_end", "2024-12-31"),
        ("currency", "sek"),
        ("participant_name", "Sweden"),
        ("template_version", "1"),
    ]
    for r, (name, value) in enumerate(about_rows, start=3):
        about.cell(r, 1, name)
        about.cell(r, 2, value)
    about.cell(10, 1, "coverage_note")
    _text(about.cell(10, 2), "=all regions except Gotland")

    data = book.create_sheet("DATA")
    header = ("item_code", "item_name", "unit", "value", "flag", "comment", "our notes")
    for c, name in enumerate(header, start=1):
        data.cell(1, c, name)
    rows = {
        2: ("beds_total  ", "Beds", "beds", 120, None, "+44 20 7946 0000"),
        4: ("ADM_TOTAL", "Admissions", "count", " 1,234 ", "e", "-estimated "),
        5: ("Spend_Total", "Spend", "currency", None, " na", "@finance"),
        6: ("STAFF_WTE", "Staff", "WTE", "=300+10.5", None, None),
    }
    for r, values in rows.items():
        for c, value in enumerate(values, start=1):
            if isinstance(value, str) and c == 6:
                _text(data.cell(r, c), value)
            else:
                data.cell(r, c, value)
    data.cell(2, 7, "checked by Anna")
    book.save(path)
    # Give the formula a cached value, as Excel does when it saves.
    with zipfile.ZipFile(path) as source:
        parts = {i.filename: source.read(i) for i in source.infolist()}
    sheet = "xl/worksheets/sheet3.xml"
    parts[sheet], n = re.subn(
        rb'<c r="D6"[^>]*>.*?</c>', b'<c r="D6"><f>300+10.5</f><v>310.5</v></c>', parts[sheet]
    )
    assert n == 1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, part in parts.items():
            target.writestr(name, part)
    return path


EXPECTED_VALUES = [
    ReturnValue("BEDS_TOTAL", 120.0, None, "+44 20 7946 0000", "DATA!D2"),
    ReturnValue("ADM_TOTAL", 1234.0, "E", "-estimated", "DATA!D4"),
    ReturnValue("SPEND_TOTAL", None, "NA", "@finance", "DATA!D5"),
    ReturnValue("STAFF_WTE", 310.5, None, None, "DATA!D6"),
]
EXPECTED_ABOUT = {
    "participant_code": "SE",
    "participant_name": "Sweden",
    "collection_year": 2024,
    "period_start": date(2024, 1, 1),
    "period_end": date(2024, 12, 31),
    "currency": "SEK",
    "template_version": "1",
    "coverage_note": "=all regions except Gotland",
}


@pytest.mark.parametrize("engine", ENGINES)
def test_odd_but_valid_workbook_parses_exactly(
    engine: str, tmp_path: Path, dictionary: Dictionary
) -> None:
    path = odd_but_valid_workbook(tmp_path / "return.xlsx")
    parsed = check_return(path, expected_year=2024, dictionary=dictionary, engine=engine)
    assert parsed.issues == []
    assert parsed.file_format == "xlsx"
    assert parsed.about == EXPECTED_ABOUT
    assert parsed.values == EXPECTED_VALUES


@pytest.mark.parametrize("engine", ENGINES)
def test_template_written_return_parses_exactly(
    engine: str, tmp_path: Path, dictionary: Dictionary
) -> None:
    about = template_about("GB-ENG", 2023, dictionary)
    rows = [
        {"item_code": "ADM_TOTAL", "value": 0, "flag": None, "comment": "=1+1"},
        {"item_code": "BEDS_TOTAL", "value": 1234.5, "flag": "P", "comment": None},
        {"item_code": "SPEND_TOTAL", "value": None, "flag": "NK", "comment": "not collected"},
        {"item_code": "STAFF_WTE", "value": "2,500.25", "flag": "D", "comment": "incl. agency"},
    ]
    path = write_return_workbook(tmp_path / "return.xlsx", about, rows, dictionary)
    parsed = check_return(path, expected_year=2023, dictionary=dictionary, engine=engine)
    assert parsed.issues == []
    assert parsed.about["period_start"] == date(2023, 4, 1)
    assert parsed.about["period_end"] == date(2024, 3, 31)
    assert parsed.participant_code == "GB-ENG"
    assert parsed.collection_year == 2023
    assert parsed.values == [
        ReturnValue("ADM_TOTAL", 0.0, None, "=1+1", "Data!D2"),
        ReturnValue("BEDS_TOTAL", 1234.5, "P", None, "Data!D3"),
        ReturnValue("SPEND_TOTAL", None, "NK", "not collected", "Data!D4"),
        ReturnValue("STAFF_WTE", 2500.25, "D", "incl. agency", "Data!D5"),
    ]


@pytest.mark.parametrize(
    "name", ["retour été 2024 (final).xlsx", "..xlsx", "a..b .XLSX", "return . v2.xlsx"]
)
def test_odd_file_names_simply_work(name: str, tmp_path: Path, dictionary: Dictionary) -> None:
    path = odd_but_valid_workbook(tmp_path / name)
    parsed = check_return(path, expected_year=2024, dictionary=dictionary)
    assert parsed.accepted, parsed.issues
    assert parsed.values == EXPECTED_VALUES


def test_about_is_read_by_field_name_so_places_follow_the_rows(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    path = odd_but_valid_workbook(tmp_path / "return.xlsx")
    parsed = check_return(path, expected_year=2025, dictionary=dictionary)
    assert [(i.code, i.place, i.value, i.expected) for i in parsed.issues] == [
        ("year_mismatch", "about!B3", "2024", "2025")
    ]


def test_reader_marks_error_cells_and_unevaluated_formulas(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    about = book.active
    about.title = "About"
    about["A1"] = "participant_code"
    about["B1"] = "=LEFT(C1, 2)"
    data = book.create_sheet("Data")
    data.append(["item_code", "item_name", "unit", "value", "flag", "comment"])
    data.append(["A", None, None, "#N/A", None, None])
    data.append(["B", None, None, "=SUM(D2:D2)", None, None])
    data["AA30"] = 1  # a stray cell far from the rest
    path = tmp_path / "cells.xlsx"
    book.save(path)

    read = read_xlsx(path)
    assert read.issues == []
    assert read.sheet_names == ["About", "Data"]
    assert read.sheets["about"].cell(1, 2) == UnevaluatedFormula("=LEFT(C1, 2)")
    sheet = read.sheets["data"]
    assert sheet.cell(2, 4) == ExcelError("#N/A")
    assert sheet.cell(3, 4) == UnevaluatedFormula("=SUM(D2:D2)")
    assert sheet.cell(30, 27) == 1
    assert sheet.cell(31, 1) is None and sheet.cell(1, 99) is None


@pytest.mark.parametrize(("column", "letters"), [(1, "A"), (26, "Z"), (27, "AA"), (16384, "XFD")])
def test_column_letters(column: int, letters: str) -> None:
    assert column_letters(column) == letters
    assert column_index(letters) == column


# --------------------------------------------------------------------------- csv

CSV_HEADER_LINE = "participant_code,collection_year,item_code,value,flag,comment"


def test_csv_with_bom_crlf_and_quoted_comments_parses_exactly(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    text = (
        CSV_HEADER_LINE + "\r\n"
        "se,2024,beds_total,120,,\r\n"
        '"SE",2024, ADM_TOTAL ,"1,234",e,"estimated, from ""Q1-Q3""\r\nsee note"\r\n'
        "\r\n"
        "SE,2024,SPEND_TOTAL,,NA,=cmd|' /C calc'!A0\r\n"
        "SE,2024,STAFF_WTE,0.5,,\r\n"
    )
    path = tmp_path / "return.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    parsed = check_return(path, expected_year=2024, dictionary=dictionary)
    assert parsed.issues == []
    assert parsed.file_format == "csv"
    assert parsed.about == {"participant_code": "SE", "collection_year": 2024}
    assert parsed.values == [
        ReturnValue("BEDS_TOTAL", 120.0, None, None, "line 2"),
        ReturnValue("ADM_TOTAL", 1234.0, "E", 'estimated, from "Q1-Q3"\nsee note', "line 3"),
        ReturnValue("SPEND_TOTAL", None, "NA", "=cmd|' /C calc'!A0", "line 6"),
        ReturnValue("STAFF_WTE", 0.5, None, None, "line 7"),
    ]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_csv_other_separators_are_detected_from_the_header(
    separator: str, tmp_path: Path, dictionary: Dictionary
) -> None:
    lines = [
        CSV_HEADER_LINE.split(","),
        ["SE", "2024", "BEDS_TOTAL", "120", "", "beds, all wards"],
        ["SE", "2024", "ADM_TOTAL", "3400.5", "", ""],
    ]
    path = tmp_path / "return.csv"
    path.write_text("".join(separator.join(f) + "\n" for f in lines), encoding="utf-8")
    parsed = check_return(path, expected_year=2024, dictionary=dictionary)
    assert parsed.issues == []
    assert [(v.item_code, v.value, v.comment) for v in parsed.values] == [
        ("BEDS_TOTAL", 120.0, "beds, all wards"),
        ("ADM_TOTAL", 3400.5, None),
    ]
    assert read_csv(path, max_rows=10).separator == separator


def test_csv_header_by_name_in_any_order_with_extra_columns(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    path = tmp_path / "return.csv"
    path.write_text(
        " Item_Code ,VALUE,flag,comment,participant_code,collection_year,source\n"
        "BEDS_TOTAL,120,,,SE,2024,ledger\n"
        "ADM_TOTAL,5,,,SE,2024,\n",
        encoding="utf-8",
    )
    parsed = check_return(path, expected_year=2024, dictionary=dictionary)
    assert parsed.issues == []
    assert [(v.item_code, v.value, v.place) for v in parsed.values] == [
        ("BEDS_TOTAL", 120.0, "line 2"),
        ("ADM_TOTAL", 5.0, "line 3"),
    ]


def test_csv_not_utf8_names_line_and_byte(tmp_path: Path, dictionary: Dictionary) -> None:
    path = tmp_path / "return.csv"
    path.write_bytes(
        (CSV_HEADER_LINE + "\nSE,2024,BEDS_TOTAL,1,,\nSE,2024,ADM_TOTAL,2,,Malmö\n").encode(
            "latin-1"
        )
    )
    (issue,) = check_return(path, expected_year=2024, dictionary=dictionary).issues
    assert (issue.code, issue.place, issue.value) == (
        "encoding",
        "line 3",
        "SE,2024,ADM_TOTAL,2,,Malm�",
    )
    assert "0xF6" in issue.message and "CSV UTF-8" in issue.message


# --------------------------------------------------------------------------- robustness


def _never_raises(path: Path, dictionary: Dictionary) -> None:
    parsed = check_return(path, expected_year=2024, dictionary=dictionary)
    assert all(i.code != "internal_error" for i in parsed.issues), parsed.issues
    if not parsed.accepted:
        assert parsed.errors and all(i.message and i.place for i in parsed.errors)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600), extension=st.sampled_from([".xlsx", ".csv"]))
def test_random_bytes_never_raise(
    data: bytes, extension: str, tmp_path: Path, dictionary: Dictionary
) -> None:
    path = tmp_path / f"fuzz{extension}"
    path.write_bytes(data)
    _never_raises(path, dictionary)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_workbooks_never_raise(
    data: st.DataObject, tmp_path: Path, dictionary: Dictionary
) -> None:
    good = tmp_path / "good.xlsx"
    if not good.exists():
        odd_but_valid_workbook(good)
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(raw))
    _never_raises(path, dictionary)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(alphabet=st.sampled_from(list(',;"\n\r\tSE2024BEDS_TOTAL1.5-NAé= ')), max_size=300)
)
def test_random_csv_text_never_raises(text: str, tmp_path: Path, dictionary: Dictionary) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text(CSV_HEADER_LINE + "\n" + text, encoding="utf-8")
    _never_raises(path, dictionary)


def test_missing_file_is_an_issue_not_an_exception(tmp_path: Path, dictionary: Dictionary) -> None:
    parsed = check_return(tmp_path / "gone.xlsx", dictionary=dictionary)
    assert [(i.code, i.place) for i in parsed.issues] == [("unreadable_file", "file")]


def test_importing_the_check_stays_light() -> None:
    code = (
        "import sys, ingestion.check\n"
        "heavy = {'pandas', 'dagster', 'dbt', 'great_expectations', 'openpyxl', 'duckdb'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "[]"
