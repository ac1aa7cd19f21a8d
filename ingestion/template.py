"""Write return workbooks in format v1 (see DESIGN.md, "The return").

Two entry points share one writer:

- `write_template` gives a participant a blank return for a collection year:
  About prefilled from the dictionary, one Data row per item, instructions.
- `write_return_workbook` writes a filled-in return (the sample generator and
  the tests use it to produce what a submitter would send).

Output is byte-for-byte reproducible: document properties and the zip entry
timestamps are fixed, so the same input always gives the same sha256.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ingestion.dictionary import (
    FLAGS,
    FLAGS_WITHOUT_VALUE,
    MUST_BE_BLANK,
    DataItem,
    Dictionary,
    load_dictionary,
    load_flags,
)
from ingestion.records import ABOUT_FIELDS, DATA_HEADER
from runtime.spreadsheet import FORMULA_START

TEMPLATE_VERSION = "1"
FIXED_TIMESTAMP = datetime(2024, 1, 1, 0, 0, 0)
DATE_FORMAT = "yyyy-mm-dd"
DEFINITIONS_HEADER = (
    "item_code",
    "section",
    "item_name",
    "unit",
    "age_band",
    "mandatory",
    "definition",
)
FLAG_LEGEND_HEADER = ("flag", "meaning", "value", "notes")
# Excel would read a text starting with one of these as a formula.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_FIELDS = ("period_start", "period_end")
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color="DDE4EE", end_color="DDE4EE")
_TITLE = Font(bold=True, size=14)


def flag_legend() -> list[tuple[str, str, str, str]]:
    """The flag table of the Instructions sheet: a blank flag, then every flag of the seed."""
    rows = [("(blank)", "normal", "required", "")]
    for code, flag in load_flags().items():
        value = "must be blank" if flag.value_rule == MUST_BE_BLANK else "required"
        rows.append((code, flag.meaning, value, flag.description))
    return rows


def fiscal_period(year: int, start_month: int) -> tuple[date, date]:
    """First and last day of the reporting period that starts in `year`.

    >>> fiscal_period(2023, 1)
    (datetime.date(2023, 1, 1), datetime.date(2023, 12, 31))
    >>> fiscal_period(2023, 4)
    (datetime.date(2023, 4, 1), datetime.date(2024, 3, 31))
    """
    if not 1 <= start_month <= 12:
        raise ValueError(f"fiscal year start month must be 1..12, got {start_month}")
    start = date(year, start_month, 1)
    end = date(year + 1, start_month, 1) - timedelta(days=1)
    return start, end


# --------------------------------------------------------------------------- cells


def _set(ws: Worksheet, row: int, column: int, value: object) -> None:
    """Write one cell; text is always stored as text, never as a formula."""
    cell = ws.cell(row=row, column=column)
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = str(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_START):  # the one rule: runtime/spreadsheet.py
            cell.quotePrefix = True


def _about_value(name: str, value: object) -> object:
    """Normalise well-formed About values (ISO dates, numeric year); keep the rest verbatim."""
    if name in _DATE_FIELDS and isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return value
    if name == "collection_year" and isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _header(ws: Worksheet, names: Iterable[str], widths: Iterable[int]) -> None:
    for column, (name, width) in enumerate(zip(names, widths, strict=True), start=1):
        _set(ws, 1, column, name)
        cell = ws.cell(row=1, column=column)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        ws.column_dimensions[get_column_letter(column)].width = width
    ws.freeze_panes = "A2"


# --------------------------------------------------------------------------- sheets


def _about_sheet(wb: Workbook, about: dict) -> None:
    ws = wb.create_sheet("About")
    names = list(ABOUT_FIELDS) + [k for k in about if k not in ABOUT_FIELDS]
    for row, name in enumerate(names, start=1):
        _set(ws, row, 1, name)
        ws.cell(row=row, column=1).font = _BOLD
        _set(ws, row, 2, _about_value(name, about.get(name)))
        ws.cell(row=row, column=2).alignment = Alignment(horizontal="left")
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 48


def _data_sheet(wb: Workbook, rows: list[dict], dictionary: Dictionary) -> None:
    ws = wb.create_sheet("Data")
    _header(ws, DATA_HEADER, (16, 60, 10, 14, 8, 60))
    for r, row in enumerate(rows, start=2):
        code = row.get("item_code")
        item = dictionary.items.get(str(code)) if code is not None else None
        _set(ws, r, 1, code)
        _set(ws, r, 2, item.item_name if item else row.get("item_name"))
        _set(ws, r, 3, item.unit if item else row.get("unit"))
        _set(ws, r, 4, row.get("value"))
        _set(ws, r, 5, row.get("flag"))
        _set(ws, r, 6, row.get("comment"))
    last = max(len(rows) + 1, 2)
    flags = DataValidation(
        type="list",
        formula1='"' + ",".join(FLAGS) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Unknown flag",
        error=f"Use one of {', '.join(FLAGS)}, or leave the flag blank.",
        promptTitle="Flag",
        prompt=(
            f"Blank = normal. {'/'.join(FLAGS_WITHOUT_VALUE)}: leave value blank. "
            f"{', '.join(f for f in FLAGS if f not in FLAGS_WITHOUT_VALUE)}: value required."
        ),
        showInputMessage=True,
    )
    flags.add(f"E2:E{last}")
    ws.add_data_validation(flags)


def _definitions_sheet(wb: Workbook, dictionary: Dictionary) -> None:
    ws = wb.create_sheet("Definitions")
    _header(ws, DEFINITIONS_HEADER, (16, 18, 60, 10, 10, 11, 80))
    for r, item in enumerate(sorted_items(dictionary), start=2):
        values = (
            item.item_code,
            item.section,
            item.item_name,
            item.unit,
            item.age_band,
            "yes" if item.mandatory else "no",
            item.definition,
        )
        for column, value in enumerate(values, start=1):
            _set(ws, r, column, value)
        ws.cell(row=r, column=7).alignment = Alignment(wrap_text=True, vertical="top")


def _instructions_sheet(wb: Workbook, participant_name: str, year: int) -> None:
    ws = wb.create_sheet("Instructions", 0)
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 16
    ws.column_dimensions["D"].width = 80
    _set(ws, 1, 1, f"Mental health benchmarking return {year}: {participant_name}")
    ws.cell(row=1, column=1).font = _TITLE
    lines = (
        "1. Check the About sheet: participant, collection year, period and currency.",
        "2. On the Data sheet, enter one value per row in the value column.",
        "   Do not change item_code; item_name and unit are for your information.",
        "3. A true zero is 0 with no flag. It is not the same as NA or NK.",
        "4. If a value is missing or special, set a flag (drop-down) and explain in comment.",
        "5. The Definitions sheet says what each item counts.",
        "6. Send the workbook back as .xlsx; do not rename or remove sheets.",
    )
    for r, line in enumerate(lines, start=3):
        _set(ws, r, 1, line)
    top = 3 + len(lines) + 1
    for column, name in enumerate(FLAG_LEGEND_HEADER, start=1):
        _set(ws, top, column, name)
        ws.cell(row=top, column=column).font = _BOLD
        ws.cell(row=top, column=column).fill = _HEADER_FILL
    for r, legend in enumerate(flag_legend(), start=top + 1):
        for column, value in enumerate(legend, start=1):
            _set(ws, r, column, value)
        ws.cell(row=r, column=4).alignment = Alignment(wrap_text=True, vertical="top")


def sorted_items(dictionary: Dictionary) -> list[DataItem]:
    """Dictionary items in template order: by section, then item code."""
    return sorted(dictionary.items.values(), key=lambda i: (i.section, i.item_code))


# --------------------------------------------------------------------------- saving


def _workbook() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "mhbench"
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    wb.properties.lastModifiedBy = "mhbench"
    return wb


def _save(wb: Workbook, path: Path) -> Path:
    """Save reproducibly (fixed properties and zip timestamps), atomically."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        # ExcelWriter directly: openpyxl's save_workbook stamps `modified` with now().
        ExcelWriter(wb, archive).save()
    fixed = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as source,
        zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(fixed.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- public


def write_return_workbook(
    path: Path,
    about: dict,
    rows: list[dict],
    dictionary: Dictionary | None = None,
) -> Path:
    """Write a filled-in return (format v1) to `path` and return the path.

    about: values for the ABOUT_FIELDS (missing ones are left blank; extra keys are
        written after them). Dates (date objects or ISO strings) become date cells,
        a numeric collection_year an int; anything else is written verbatim as text,
        so deliberately broken returns can be produced too.
    rows: one dict per Data row with item_code, value (int/float/None, or text),
        flag and comment (str/None). item_name and unit come from the dictionary.
    """
    dictionary = dictionary if dictionary is not None else load_dictionary()
    wb = _workbook()
    _about_sheet(wb, about)
    _data_sheet(wb, rows, dictionary)
    _definitions_sheet(wb, dictionary)
    wb.active = 0
    return _save(wb, path)


def template_about(participant_code: str, year: int, dictionary: Dictionary) -> dict:
    """The About block of a blank template for one participant and collection year."""
    try:
        participant = dictionary.participants[participant_code]
    except KeyError:
        known = ", ".join(sorted(dictionary.participants)) or "none"
        raise KeyError(f"unknown participant {participant_code!r} (known: {known})") from None
    start, end = fiscal_period(year, participant.fiscal_year_start_month)
    return {
        "participant_code": participant.participant_code,
        "participant_name": participant.participant_name,
        "collection_year": year,
        "period_start": start,
        "period_end": end,
        "currency": participant.currency,
        "template_version": TEMPLATE_VERSION,
        "coverage_note": None,
    }


def write_template(
    path: Path,
    participant_code: str,
    year: int,
    dictionary: Dictionary | None = None,
) -> Path:
    """Write the blank return template for a participant and collection year."""
    dictionary = dictionary if dictionary is not None else load_dictionary()
    about = template_about(participant_code, year, dictionary)
    rows = [
        {"item_code": item.item_code, "value": None, "flag": None, "comment": None}
        for item in sorted_items(dictionary)
    ]
    wb = _workbook()
    _about_sheet(wb, about)
    _data_sheet(wb, rows, dictionary)
    _definitions_sheet(wb, dictionary)
    _instructions_sheet(wb, str(about["participant_name"]), year)
    wb.active = 0
    return _save(wb, path)
