"""A corpus of bad returns, built by code: each is rejected with one exact issue.

Every case builds its file from scratch (the project's template writer for a
good workbook, then one change with openpyxl or on the raw bytes), checks it,
and asserts the issue code and the place it names, e.g. `Data!D2`.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from ingestion.check import check_return
from ingestion.dictionary import Dictionary
from ingestion.template import template_about, write_return_workbook

YEAR = 2024
GOOD_CSV = (
    "participant_code,collection_year,item_code,value,flag,comment\n"
    "SE,2024,BEDS_TOTAL,120,,\n"
    "SE,2024,ADM_TOTAL,3400,E,estimated from three quarters\n"
    "SE,2024,SPEND_TOTAL,,NA,\n"
)


# --------------------------------------------------------------------------- builders

Build = Callable[[Path, Dictionary], Path]


def good_rows() -> list[dict]:
    """Data rows 2..5 of the good workbook."""
    return [
        {"item_code": "BEDS_TOTAL", "value": 120, "flag": None, "comment": None},
        {"item_code": "ADM_TOTAL", "value": 3400, "flag": "E", "comment": "estimated"},
        {"item_code": "SPEND_TOTAL", "value": None, "flag": "NA", "comment": None},
        {"item_code": "STAFF_WTE", "value": 310.5, "flag": None, "comment": None},
    ]


def workbook(
    about: dict | None = None, rows: dict[int, dict] | None = None, name: str = "return.xlsx"
) -> Build:
    """A return written by the template writer; `about`/`rows` change the good one.

    rows maps a Data row number (2 = first data row) to the fields to change.
    """

    def build(tmp: Path, d: Dictionary) -> Path:
        data = good_rows()
        for number, change in (rows or {}).items():
            while len(data) < number - 1:
                data.append({"item_code": None, "value": None, "flag": None, "comment": None})
            data[number - 2] = {**data[number - 2], **change}
        return write_return_workbook(
            tmp / name, {**template_about("SE", YEAR, d), **(about or {})}, data, d
        )

    return build


def edited(base: Build, edit: Callable[[openpyxl.Workbook], None]) -> Build:
    """The base workbook, changed with openpyxl (which writes cells as given)."""

    def build(tmp: Path, d: Dictionary) -> Path:
        path = base(tmp, d)
        book = openpyxl.load_workbook(path)
        edit(book)
        book.save(path)
        return path

    return build


def cell(sheet: str, ref: str, value: object) -> Build:
    def edit(book: openpyxl.Workbook) -> None:
        book[sheet][ref] = value

    return edited(workbook(), edit)


def number_cell(sheet: str, ref: str, value: float) -> Build:
    """A number in General format (the template formats About dates as dates)."""

    def edit(book: openpyxl.Workbook) -> None:
        book[sheet][ref] = value
        book[sheet][ref].number_format = "General"

    return edited(workbook(), edit)


def sheet_xml(base: Build, sheet: str, change: Callable[[bytes], bytes]) -> Build:
    """The base workbook with the XML of one sheet rewritten."""

    def build(tmp: Path, d: Dictionary) -> Path:
        path = base(tmp, d)
        with zipfile.ZipFile(path) as source:
            book = source.read("xl/workbook.xml").decode()
            names = re.findall(r'<sheet [^>]*name="([^"]+)"', book)
            part = f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"
            parts = {i.filename: source.read(i) for i in source.infolist()}
        parts[part] = change(parts[part])
        rewrite(path, parts)
        return path

    return build


def rewrite(path: Path, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def replace_cell(ref: str, xml: str) -> Callable[[bytes], bytes]:
    pattern = re.compile(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', re.S)

    def change(data: bytes) -> bytes:
        assert pattern.search(data), ref
        return pattern.sub(xml.encode(), data, count=1)

    return change


def append_row(row_xml: str) -> Callable[[bytes], bytes]:
    return lambda data: data.replace(b"</sheetData>", row_xml.encode() + b"</sheetData>")


def raw(data: bytes, name: str) -> Build:
    def build(tmp: Path, d: Dictionary) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return build


def text_file(text: str, name: str = "return.csv", encoding: str = "utf-8") -> Build:
    return raw(text.encode(encoding), name)


def zip_of(members: dict[str, bytes], name: str = "return.xlsx") -> Build:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return raw(buffer.getvalue(), name)


def declared_size(base: Build, size: int) -> Build:
    """The base workbook with the central directory claiming `size` bytes for one part."""

    def build(tmp: Path, d: Dictionary) -> Path:
        path = base(tmp, d)
        data = bytearray(path.read_bytes())
        central = data.index(b"PK\x01\x02")  # first central directory entry
        struct.pack_into("<I", data, central + 24, size)  # uncompressed size
        path.write_bytes(bytes(data))
        return path

    return build


def cfb(stream_name: str) -> bytes:
    """An OLE2 compound file header with one directory entry name in it."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    return header + stream_name.encode("utf-16-le") + bytes(1024)


def delete_about_row(row: int) -> Build:
    return edited(workbook(), lambda book: book["About"].delete_rows(row))


def delete_data_column(column: int) -> Build:
    return edited(workbook(), lambda book: book["Data"].delete_cols(column))


def many_rows(count: int) -> Build:
    def edit(book: openpyxl.Workbook) -> None:
        sheet = book["Data"]
        for r in range(6, 6 + count):
            sheet.cell(r, 1, f"X{r}")
            sheet.cell(r, 4, 1)

    return edited(workbook(), edit)


def csv_lines(count: int) -> Build:
    lines = [GOOD_CSV.splitlines()[0]]
    lines += [f"SE,2024,BEDS_TOTAL,{i},," for i in range(count)]
    return text_file("\n".join(lines) + "\n")


def csv_with(line: str, number: int = 2) -> Build:
    """GOOD_CSV with line `number` replaced."""
    lines = GOOD_CSV.splitlines()
    lines[number - 1] = line
    return text_file("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    code: str
    place: str
    expected_year: int | None = YEAR


CORPUS = [
    # ---- the file itself
    Case("empty xlsx", raw(b"", "return.xlsx"), "empty_file", "file"),
    Case("empty csv", raw(b"", "return.csv"), "empty_file", "file"),
    Case("csv text named xlsx", text_file(GOOD_CSV, "return.xlsx"), "not_xlsx", "file"),
    Case("zip without workbook", zip_of({"readme.txt": b"hello"}), "not_xlsx", "file"),
    Case("word document", zip_of({"word/document.xml": b"<w/>"}), "not_xlsx", "file"),
    Case("encrypted xlsx", raw(cfb("EncryptionInfo"), "return.xlsx"), "password_protected", "file"),
    Case("xls renamed xlsx", raw(cfb("Workbook"), "return.xlsx"), "legacy_format", "file"),
    Case("xls", workbook(name="return.xls"), "legacy_format", "file"),
    Case("xlsm", workbook(name="return.xlsm"), "legacy_format", "file"),
    Case("ods", raw(b"PK\x03\x04rest", "return.ods"), "legacy_format", "file"),
    Case(
        "ods renamed xlsx",
        zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),
        "legacy_format",
        "file",
    ),
    Case("pdf", raw(b"%PDF-1.4", "return.pdf"), "unsupported_extension", "file"),
    Case("no extension", raw(b"abc", "return"), "unsupported_extension", "file"),
    Case(
        "zip magic then garbage",
        raw(b"PK\x03\x04" + bytes(200), "r.xlsx"),
        "corrupt_workbook",
        "file",
    ),
    Case(
        "truncated workbook",
        lambda tmp, d: raw(workbook()(tmp, d).read_bytes()[:3000], "cut.xlsx")(tmp, d),
        "corrupt_workbook",
        "file",
    ),
    Case("workbook named csv", workbook(name="return.csv"), "not_csv", "file"),
    # ---- hostile input
    Case("declared 60 MB", declared_size(workbook(), 60 * 1024 * 1024), "zip_bomb", "file"),
    Case(
        "compression ratio",
        zip_of({"xl/workbook.xml": b"<workbook/>", "xl/media/a.bin": bytes(3 * 1024 * 1024)}),
        "zip_bomb",
        "file",
    ),
    Case("5,001 data rows", many_rows(4997), "too_many_rows", "Data!A5002"),
    Case(
        "cell at row 1,000,000",
        sheet_xml(
            workbook(),
            "Data",
            append_row(
                '<row r="1000000"><c r="A1000000" t="inlineStr"><is><t>x</t></is></c></row>'
            ),
        ),
        "too_many_rows",
        "Data",
    ),
    Case(
        "cell at XFD100",
        sheet_xml(workbook(), "Data", append_row('<row r="100"><c r="XFD100"><v>1</v></c></row>')),
        "sheet_too_large",
        "Data",
    ),
    Case(
        "far cell behind a tab",
        sheet_xml(
            workbook(), "Data", append_row('<row r="99"><c\tr="XFD1048576"><v>1</v></c></row>')
        ),
        "too_many_rows",
        "Data",
    ),
    Case(
        "rows without reference",
        sheet_xml(workbook(), "Data", append_row("<row/>" * 30000 + "<row><c><v>1</v></c></row>")),
        "too_many_rows",
        "Data",
    ),
    Case(
        "comment too long",
        workbook(rows={2: {"comment": "x" * 2001}}),
        "text_too_long",
        "Data!F2",
    ),
    Case(
        "coverage note too long",
        workbook(about={"coverage_note": "y" * 5000}),
        "text_too_long",
        "About!B8",
    ),
    # ---- sheets and header
    Case(
        "no Data sheet",
        edited(workbook(), lambda book: book.remove(book["Data"])),
        "missing_sheet",
        "file",
    ),
    Case(
        "About renamed",
        edited(workbook(), lambda book: setattr(book["About"], "title", "Info")),
        "missing_sheet",
        "file",
    ),
    Case(
        "two Data sheets",
        edited(workbook(), lambda book: book.create_sheet(" data ")),
        "duplicate_sheet",
        "file",
    ),
    Case("About without currency row", delete_about_row(6), "missing_about_field", "About"),
    Case("currency blank", workbook(about={"currency": None}), "missing_about_field", "About!B6"),
    Case("value header renamed", cell("Data", "D1", "Value (number)"), "bad_header", "Data!D1"),
    Case("comment column deleted", delete_data_column(6), "bad_header", "Data!F1"),
    # ---- codes
    Case(
        "unknown item",
        workbook(rows={3: {"item_code": "ADM_TOTL"}}),
        "unknown_item_code",
        "Data!A3",
    ),
    Case(
        "duplicate item",
        workbook(rows={5: {"item_code": "beds_total"}}),
        "duplicate_item",
        "Data!A5",
    ),
    Case(
        "value without item code",
        workbook(rows={7: {"value": 5}}),
        "missing_item_code",
        "Data!A7",
    ),
    Case(
        "mandatory item missing",
        edited(workbook(), lambda book: book["Data"].delete_rows(3)),
        "missing_mandatory_item",
        "Data",
    ),
    Case(
        "unknown participant",
        workbook(about={"participant_code": "XX"}),
        "unknown_participant",
        "About!B1",
    ),
    Case(
        "year differs from folder",
        workbook(about={"collection_year": 2023}),
        "year_mismatch",
        "About!B3",
    ),
    Case("year as text", workbook(about={"collection_year": "2024/25"}), "bad_year", "About!B3"),
    Case("unknown flag", workbook(rows={2: {"flag": "X"}}), "unknown_flag", "Data!E2"),
    Case("value with NA", workbook(rows={4: {"value": 5}}), "value_with_na_flag", "Data!D4"),
    Case(
        "value with nk",
        workbook(rows={2: {"flag": "nk"}}),
        "value_with_na_flag",
        "Data!D2",
    ),
    Case(
        "mandatory blank", workbook(rows={2: {"value": None}}), "missing_mandatory_value", "Data!D2"
    ),
    Case(
        "E without value", workbook(rows={3: {"value": None}}), "missing_value_for_flag", "Data!D3"
    ),
    # ---- content types
    Case("decimal comma", workbook(rows={2: {"value": "12,5"}}), "ambiguous_number", "Data!D2"),
    Case(
        "european thousands",
        workbook(rows={2: {"value": "1.234,5"}}),
        "ambiguous_number",
        "Data!D2",
    ),
    Case(
        "comma two decimals", workbook(rows={2: {"value": "1,23"}}), "ambiguous_number", "Data!D2"
    ),
    Case("percent", workbook(rows={2: {"value": "12%"}}), "percent_sign", "Data!D2"),
    Case("pound sign", workbook(rows={2: {"value": "£ 12"}}), "currency_symbol", "Data!D2"),
    Case("dollar sign", workbook(rows={2: {"value": "$5"}}), "currency_symbol", "Data!D2"),
    Case("euro after", workbook(rows={2: {"value": "12 €"}}), "currency_symbol", "Data!D2"),
    Case("words", workbook(rows={2: {"value": "about 120"}}), "not_a_number", "Data!D2"),
    Case("boolean", cell("Data", "D2", True), "not_a_number", "Data!D2"),
    Case("date as value", cell("Data", "D2", date(2024, 1, 2)), "not_a_number", "Data!D2"),
    Case("div by zero", cell("Data", "D2", "#DIV/0!"), "excel_error", "Data!D2"),
    Case("not available", cell("Data", "D3", "#N/A"), "excel_error", "Data!D3"),
    Case("value error", cell("Data", "D2", "#VALUE!"), "excel_error", "Data!D2"),
    Case(
        "formula with cached error",
        sheet_xml(
            workbook(), "Data", replace_cell("D2", '<c r="D2" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
        ),
        "excel_error",
        "Data!D2",
    ),
    Case(
        "formula never calculated",
        cell("Data", "D2", "=100+20"),
        "formula_without_value",
        "Data!D2",
    ),
    Case(
        "About formula never calculated",
        cell("About", "B3", "=YEAR(TODAY())"),
        "formula_without_value",
        "About!B3",
    ),
    Case("negative number", workbook(rows={2: {"value": -5}}), "negative_value", "Data!D2"),
    Case("negative text", workbook(rows={5: {"value": "-0.5"}}), "negative_value", "Data!D5"),
    Case("infinity text", workbook(rows={2: {"value": "inf"}}), "non_finite", "Data!D2"),
    Case("nan text", workbook(rows={2: {"value": "NaN"}}), "non_finite", "Data!D2"),
    Case("date not ISO", workbook(about={"period_start": "31/12/2024"}), "bad_date", "About!B4"),
    Case("date impossible", workbook(about={"period_end": "2024-02-30"}), "bad_date", "About!B5"),
    Case("date as number", number_cell("About", "B4", 45292), "bad_date", "About!B4"),
    Case(
        "period reversed",
        workbook(about={"period_start": "2024-12-31", "period_end": "2024-01-01"}),
        "period_end_before_start",
        "About!B5",
    ),
    Case("wrong currency", workbook(about={"currency": "EUR"}), "currency_mismatch", "About!B6"),
    # ---- csv
    Case(
        "csv in Windows-1252",
        text_file(GOOD_CSV.replace("three", "tr\u00e9s"), encoding="cp1252"),
        "encoding",
        "line 3",
    ),
    Case("csv in UTF-16", text_file(GOOD_CSV, encoding="utf-16"), "encoding", "file"),
    Case(
        "csv header renamed",
        text_file(GOOD_CSV.replace(",value,", ",amount,")),
        "bad_header",
        "line 1",
    ),
    Case(
        "csv other participant",
        csv_with("NO,2024,ADM_TOTAL,3,,", 3),
        "participant_mismatch",
        "line 3, column participant_code",
    ),
    Case(
        "csv other year",
        csv_with("SE,2023,ADM_TOTAL,3,,", 3),
        "year_mismatch",
        "line 3, column collection_year",
    ),
    Case(
        "csv year vs folder",
        text_file(GOOD_CSV.replace("2024", "2025")),
        "year_mismatch",
        "line 2, column collection_year",
    ),
    Case(
        "csv unknown participant",
        text_file(GOOD_CSV.replace("SE,", "XX,")),
        "unknown_participant",
        "line 2, column participant_code",
    ),
    Case(
        "csv unquoted comma",
        csv_with("SE,2024,BEDS_TOTAL,120,,beds, all wards"),
        "extra_fields",
        "line 2",
    ),
    Case("csv unterminated quote", csv_with('SE,2024,BEDS_TOTAL,120,,"open'), "bad_csv", "line 2"),
    Case("csv 5,001 lines", csv_lines(5001), "too_many_rows", "line 5002"),
    Case(
        "csv semicolon decimal comma",
        text_file(GOOD_CSV.replace(",", ";").replace(";120;", ";12,5;")),
        "ambiguous_number",
        "line 2, column value",
    ),
    Case("csv inf", csv_with("SE,2024,BEDS_TOTAL,inf,,"), "non_finite", "line 2, column value"),
    Case(
        "csv flag lower unknown",
        csv_with("SE,2024,BEDS_TOTAL,1,x,"),
        "unknown_flag",
        "line 2, column flag",
    ),
    Case("csv header only", text_file(GOOD_CSV.splitlines()[0] + "\n"), "no_data", "file"),
    # ---- numbers exactly as written (Excel's and R's CSV)
    Case(
        "csv excel e-notation",
        csv_with("SE,2024,BEDS_TOTAL,2.12842E+11,,"),
        "scientific_notation",
        "line 2, column value",
    ),
    Case(
        "csv lower e-notation",
        csv_with("SE,2024,BEDS_TOTAL,1.5e3,,"),
        "scientific_notation",
        "line 2, column value",
    ),
    Case(
        "csv r e-notation",
        csv_with("SE,2024,BEDS_TOTAL,1e+05,,"),
        "scientific_notation",
        "line 2, column value",
    ),
    Case(
        "csv r NA in empty value",
        csv_with('"SE",2024,"SPEND_TOTAL",NA,NA,NA', number=4),
        "r_missing_value",
        "line 4, column value",
    ),
    Case(
        "csv r NA in the flag column",
        csv_with('"SE",2024,"BEDS_TOTAL",120,NA,NA'),
        "r_missing_value",
        "line 2, column flag",
    ),
    Case(
        "csv r NA flag beside a value",
        csv_with("SE,2024,BEDS_TOTAL,120,NA,"),
        "r_missing_value",
        "line 2, column flag",
    ),
    Case(
        "csv semicolon thousands comma",
        text_file(GOOD_CSV.replace(",", ";").replace(";3400;", ";3,400;")),
        "ambiguous_number",
        "line 3, column value",
    ),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_return_is_rejected_with_its_issue(
    case: Case, tmp_path: Path, dictionary: Dictionary
) -> None:
    path = case.build(tmp_path, dictionary)
    parsed = check_return(path, expected_year=case.expected_year, dictionary=dictionary)
    assert not parsed.accepted
    found = [(i.code, i.place) for i in parsed.errors]
    assert (case.code, case.place) in found, found
    issue = next(i for i in parsed.errors if (i.code, i.place) == (case.code, case.place))
    assert issue.message and issue.expected is not None


def test_corpus_is_large_and_every_case_builds_its_own_file() -> None:
    assert len(CORPUS) >= 30
    assert len({c.id for c in CORPUS}) == len(CORPUS)


def test_good_workbook_is_accepted(tmp_path: Path, dictionary: Dictionary) -> None:
    """The baseline every case above changes in one place."""
    parsed = check_return(
        workbook()(tmp_path, dictionary), expected_year=YEAR, dictionary=dictionary
    )
    assert parsed.issues == []
    assert parsed.accepted


def test_good_csv_is_accepted(tmp_path: Path, dictionary: Dictionary) -> None:
    parsed = check_return(
        text_file(GOOD_CSV)(tmp_path, dictionary), expected_year=YEAR, dictionary=dictionary
    )
    assert parsed.issues == []


def test_messages_name_the_value_and_what_to_do(tmp_path: Path, dictionary: Dictionary) -> None:
    path = workbook(rows={2: {"value": "12,5"}})(tmp_path, dictionary)
    (issue,) = check_return(path, expected_year=YEAR, dictionary=dictionary).issues
    assert issue.value == "12,5"
    assert issue.message == '"12,5" is ambiguous — use a point for decimals (12.5)'


# What each reading rule says, with its place. Messages of the issue's cases in full.
SCIENTIFIC = (
    "is in scientific notation, so digits may have been lost: Excel rounds a General-format "
    "number to 6 digits when it saves a CSV (212841898000 becomes 2.12842E+11) — format the "
    "column as Number before saving as CSV, or send the workbook (.xlsx); from R, set "
    'options(scipen = 999) and write the file with write.csv(..., na = "")'
)


@pytest.mark.parametrize("text", ["2.12842E+11", "1.5e3", "1e+05", "2E-2"])
def test_csv_scientific_notation_is_rejected_saying_how_to_send_it_exactly(
    text: str, tmp_path: Path, dictionary: Dictionary
) -> None:
    path = csv_with(f"SE,2024,BEDS_TOTAL,{text},,")(tmp_path, dictionary)
    parsed = check_return(path, expected_year=YEAR, dictionary=dictionary)
    (issue,) = parsed.errors
    assert (issue.code, issue.place, issue.value) == (
        "scientific_notation",
        "line 2, column value",
        text,
    )
    assert issue.message == f'"{text}" {SCIENTIFIC}'
    assert "BEDS_TOTAL" not in {v.item_code for v in parsed.values}


def test_workbook_number_cell_is_read_exactly_whatever_its_text_form(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    """A number cell is a real number: Excel shows 212841898000 as 2.12842E+11 in a General
    column, but the cell holds every digit, and so does the value read."""
    path = number_cell("Data", "D2", 212841898000.0)(tmp_path, dictionary)
    parsed = check_return(path, expected_year=YEAR, dictionary=dictionary)
    assert parsed.errors == []
    assert next(v.value for v in parsed.values if v.item_code == "BEDS_TOTAL") == 212841898000.0


def test_csv_written_by_r_is_rejected_with_the_r_hint(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    """What R's write.csv writes by default: quoted text, NA in every empty cell (the flag
    column too, where NA would mean not applicable) and 1e+05 for 100000."""
    text = (
        '"participant_code","collection_year","item_code","value","flag","comment"\n'
        '"SE",2024,"BEDS_TOTAL",120,NA,NA\n'
        '"SE",2024,"ADM_TOTAL",1e+05,"E","estimated"\n'
        '"SE",2024,"SPEND_TOTAL",NA,"NA",NA\n'
    )
    parsed = check_return(
        text_file(text)(tmp_path, dictionary), expected_year=YEAR, dictionary=dictionary
    )
    found = {(i.code, i.place) for i in parsed.errors}
    assert {
        ("r_missing_value", "line 2, column flag"),
        ("r_missing_value", "line 2, column comment"),
        ("scientific_notation", "line 3, column value"),
        ("r_missing_value", "line 4, column value"),
        ("r_missing_value", "line 4, column flag"),
        ("r_missing_value", "line 4, column comment"),
    } <= found, found
    r_issue = next(i for i in parsed.errors if i.code == "r_missing_value")
    assert 'write.csv(..., na = "")' in r_issue.message
    assert "options(scipen = 999)" in r_issue.message
    assert not parsed.accepted


def test_csv_na_flag_of_a_platform_return_is_not_mistaken_for_r(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    """The platform's NA (a blank value with the flag NA) alone does not make a file R's."""
    parsed = check_return(
        text_file(GOOD_CSV)(tmp_path, dictionary), expected_year=YEAR, dictionary=dictionary
    )
    assert parsed.issues == []
    assert ("SPEND_TOTAL", None, "NA") in {(v.item_code, v.value, v.flag) for v in parsed.values}


@pytest.mark.parametrize(
    ("value", "point"),
    [("5173,8", "5173.8"), ("12,5", "12.5"), ("3,400", "3.400"), ("1,234,5", None)],
)
def test_semicolon_csv_decimal_comma_advice_is_to_use_a_point(
    value: str, point: str | None, tmp_path: Path, dictionary: Dictionary
) -> None:
    """In a ;-separated file a comma marks decimals: the message says to use a point, and never
    to delete the comma (5173,8 without its comma is ten times too big)."""
    text = GOOD_CSV.replace(",", ";").replace(";120;", f";{value};")
    parsed = check_return(
        text_file(text)(tmp_path, dictionary), expected_year=YEAR, dictionary=dictionary
    )
    (issue,) = parsed.errors
    assert (issue.code, issue.place) == ("ambiguous_number", "line 2, column value")
    assert "use a point for decimals" in issue.message
    assert "remove" not in issue.message and value.replace(",", "") not in issue.message
    if point:
        assert f"({point})" in issue.message


def test_d_flag_without_comment_is_a_warning_only(tmp_path: Path, dictionary: Dictionary) -> None:
    path = workbook(rows={2: {"flag": "D"}})(tmp_path, dictionary)
    parsed = check_return(path, expected_year=YEAR, dictionary=dictionary)
    assert parsed.accepted
    assert [(i.code, i.place, i.severity) for i in parsed.issues] == [
        ("d_flag_without_comment", "Data!F2", "warning")
    ]
    assert parsed.values[0].flag == "D"


def test_flag_messages_quote_what_the_flag_means(tmp_path: Path, dictionary: Dictionary) -> None:
    """The meanings come from seed flags; the texts a submitter reads are written out here."""
    path = workbook(
        rows={
            2: {"value": None},  # mandatory, no value, no flag
            3: {"value": None},  # E without a value
            4: {"value": 5},  # NA with a value
            5: {"flag": "D"},  # D without a comment
        }
    )(tmp_path, dictionary)
    messages = {i.code: i.message for i in check_return(path, dictionary=dictionary).issues}
    assert messages == {
        "missing_mandatory_value": (
            "BEDS_TOTAL is mandatory and has no value — enter it (0 if there were none), "
            "or set the flag NA (not applicable) or NK (not known)"
        ),
        "missing_value_for_flag": (
            "the flag E (estimated) needs a value — enter it, or use NA or NK if there is none"
        ),
        "value_with_na_flag": (
            "the flag NA (not applicable) means there is no value — "
            "clear the value or remove the flag"
        ),
        "d_flag_without_comment": (
            "the flag D (definition differs from the dictionary) needs a comment saying how "
            "the definition differs"
        ),
    }


def test_one_issue_per_problem_and_all_problems_reported(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    path = workbook(
        about={"currency": "EUR"},
        rows={2: {"value": "12,5"}, 3: {"flag": "Q"}, 5: {"value": -1}},
    )(tmp_path, dictionary)
    parsed = check_return(path, expected_year=YEAR, dictionary=dictionary)
    assert sorted((i.code, i.place) for i in parsed.issues) == [
        ("ambiguous_number", "Data!D2"),
        ("currency_mismatch", "About!B6"),
        ("negative_value", "Data!D5"),
        ("unknown_flag", "Data!E3"),
    ]
    # Rows without problems are still read; the return as a whole is rejected.
    assert [v.item_code for v in parsed.values] == ["SPEND_TOTAL"]
    assert not parsed.accepted


def test_duplicate_item_names_both_places(tmp_path: Path, dictionary: Dictionary) -> None:
    path = workbook(rows={5: {"item_code": "beds_total"}})(tmp_path, dictionary)
    issues = check_return(path, expected_year=YEAR, dictionary=dictionary).issues
    (duplicate,) = [i for i in issues if i.code == "duplicate_item"]
    assert "Data!A2" in duplicate.message and "Data!A5" in duplicate.message


def test_without_expected_year_any_year_is_fine(tmp_path: Path, dictionary: Dictionary) -> None:
    path = workbook(about={"collection_year": 2019})(tmp_path, dictionary)
    parsed = check_return(path, expected_year=None, dictionary=dictionary)
    assert parsed.accepted
    assert parsed.collection_year == 2019


def test_renamed_header_column_is_still_read(tmp_path: Path, dictionary: Dictionary) -> None:
    """A header renamed in place is an error, and the column's cells are still checked."""

    def edit(book: openpyxl.Workbook) -> None:
        book["Data"]["D1"] = "amount"
        book["Data"]["D3"] = "n/a"

    parsed = check_return(edited(workbook(), edit)(tmp_path, dictionary), dictionary=dictionary)
    assert [(i.code, i.place, i.value) for i in parsed.issues] == [
        ("bad_header", "Data!D1", "amount"),
        ("not_a_number", "Data!D3", "n/a"),
    ]
    assert "NA (not applicable) or NK (not known)" in parsed.issues[1].message


def test_formatted_empty_cells_far_away_are_harmless(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    build = sheet_xml(
        workbook(), "Data", append_row('<row r="900000"><c r="A900000" s="1"/></row>')
    )
    parsed = check_return(build(tmp_path, dictionary), expected_year=YEAR, dictionary=dictionary)
    assert parsed.issues == []
    assert len(parsed.values) == 4
