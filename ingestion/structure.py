"""Structural validation of a return (layer 1 of DESIGN.md "Validation").

Takes what a reader found (`xlsx_reader.Workbook` or `csv_reader.CsvTable`) and
the dictionary, and produces a `ParsedReturn`: the About fields with their
types, one `ReturnValue` per valid data row, and an `Issue` for everything
wrong, each naming the place (`Data!D17`, `About!B3`, `line 7, column value`),
the value seen and what would have been accepted. Any error rejects the return.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from ingestion.csv_reader import CsvLine, CsvTable
from ingestion.csv_reader import place as csv_place
from ingestion.dictionary import (
    FLAGS,
    FLAGS_WITHOUT_VALUE,
    DataItem,
    Dictionary,
    Participant,
    load_flags,
)
from ingestion.numbers import EXPECTED as EXPECTED_NUMBER
from ingestion.numbers import R_CSV_HINT, NumberError, parse_number, show_number
from ingestion.records import (
    ABOUT_FIELDS,
    CSV_HEADER,
    DATA_HEADER,
    Issue,
    ParsedReturn,
    ReturnValue,
)
from ingestion.xlsx_reader import (
    Cell,
    ExcelError,
    Sheet,
    UnevaluatedFormula,
    Workbook,
    column_letters,
)

MAX_DATA_ROWS = 5_000
MAX_TEXT_CHARS = 2_000
MAX_ISSUES = 1_000
MAX_SHOWN_CHARS = 200
REQUIRED_ABOUT = ("participant_code", "collection_year", "period_start", "period_end", "currency")
YEARS = range(1990, 2101)
# What each flag means, as the messages quote it (seed flags: "NA" -> "not applicable").
FLAG_MEANINGS = {code: flag.meaning for code, flag in load_flags().items()}
EXPECTED_FLAG = "blank, or one of " + ", ".join(FLAGS)
# "NA or NK", and "NA (not applicable) or NK (not known)": the flags that say there is no value.
_NO_VALUE_FLAGS = " or ".join(FLAGS_WITHOUT_VALUE)
_NO_VALUE_FLAGS_EXPLAINED = " or ".join(f"{f} ({FLAG_MEANINGS[f]})" for f in FLAGS_WITHOUT_VALUE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_YEAR = re.compile(r"\d{4}", re.ASCII)


class _Invalid(Exception):
    """A field was rejected; the issue is already recorded."""


class Field(NamedTuple):
    """One cell (xlsx) or field (csv) as read, and where it is."""

    raw: Cell
    place: str

    @property
    def blank(self) -> bool:
        raw = self.raw
        return raw is None or (isinstance(raw, str) and not raw.strip())


class DataRow(NamedTuple):
    item_code: Field
    value: Field
    flag: Field
    comment: Field
    place: str  # ReturnValue.place: Data!D17 or line 5

    @property
    def blank(self) -> bool:
        return self.item_code.blank and self.value.blank and self.flag.blank and self.comment.blank


def show(raw: Cell) -> str:
    """A cell's content as text for a message (shortened)."""
    if raw is None:
        text = ""
    elif isinstance(raw, ExcelError):
        text = raw.text
    elif isinstance(raw, UnevaluatedFormula):
        text = raw.formula
    elif isinstance(raw, bool):
        text = "TRUE" if raw else "FALSE"
    elif isinstance(raw, int | float):
        text = show_number(float(raw))
    elif isinstance(raw, datetime):
        text = raw.date().isoformat() if raw.time() == time() else raw.isoformat(sep=" ")
    elif isinstance(raw, date | time):
        text = raw.isoformat()
    else:
        text = str(raw)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _quoted(raw: Cell) -> str:
    return f'"{show(raw)}"'


class Checker:
    """Collects issues for one return; the check_* functions below drive it."""

    def __init__(self, dictionary: Dictionary, expected_year: int | None) -> None:
        self.expected_year = expected_year
        self.items: dict[str, DataItem] = {c.upper(): i for c, i in dictionary.items.items()}
        self.participants: dict[str, Participant] = {
            c.upper(): p for c, p in dictionary.participants.items()
        }
        self.issues: list[Issue] = []
        # True for a `;`-separated CSV, where a comma marks decimals (ingestion/numbers.py).
        self.decimal_comma = False

    # ------------------------------------------------------------------ recording

    def add(
        self,
        code: str,
        place: str,
        value: str,
        expected: str,
        message: str,
        severity: str = "error",
    ) -> None:
        if len(self.issues) == MAX_ISSUES:
            self.issues.append(
                Issue(
                    "too_many_issues",
                    "file",
                    f"more than {MAX_ISSUES}",
                    "a return close to the template",
                    f"more than {MAX_ISSUES} problems; only the first {MAX_ISSUES} are listed",
                )
            )
        if len(self.issues) > MAX_ISSUES:
            return
        self.issues.append(Issue(code, place, value, expected, message, severity))

    def invalid(self, code: str, field: Field, expected: str, message: str) -> _Invalid:
        self.add(code, field.place, show(field.raw), expected, message)
        return _Invalid()

    # ------------------------------------------------------------------ cell types

    def _special(self, field: Field) -> None:
        raw = field.raw
        if isinstance(raw, ExcelError):
            raise self.invalid(
                "excel_error",
                field,
                "a value",
                f"{_quoted(raw)} is an Excel error — correct the formula or type the value",
            )
        if isinstance(raw, UnevaluatedFormula):
            raise self.invalid(
                "formula_without_value",
                field,
                "a value",
                f"the cell holds the formula {raw.formula} but no calculated value — open the "
                "file in Excel, let it calculate and save it again, or type the value",
            )

    def text(self, field: Field, *, limit: int = MAX_TEXT_CHARS) -> str:
        """The cell as trimmed text ("" if blank); never evaluated, kept verbatim."""
        self._special(field)
        raw = field.raw
        if raw is None:
            return ""
        text = raw.strip() if isinstance(raw, str) else show(raw)
        if len(text) > limit:
            raise self.invalid(
                "text_too_long",
                field,
                f"at most {limit} characters",
                f"the text is {len(text)} characters long; at most {limit} are accepted",
            )
        return text

    def number(self, field: Field) -> float | None:
        """The value of a data cell: a non-negative finite number, or None if blank."""
        self._special(field)
        raw = field.raw
        if field.blank:
            return None
        if isinstance(raw, bool):
            raise self.invalid(
                "not_a_number",
                field,
                EXPECTED_NUMBER,
                f"{show(raw)} is a true/false value, not a number",
            )
        if isinstance(raw, date | time | timedelta):
            raise self.invalid(
                "not_a_number",
                field,
                EXPECTED_NUMBER,
                f"the cell is formatted as a date or time ({show(raw)}) — format it as a number",
            )
        if isinstance(raw, int | float):
            value = float(raw)
            if not math.isfinite(value):
                raise self.invalid(
                    "non_finite", field, EXPECTED_NUMBER, "the value is not a finite number"
                )
        else:
            try:
                value = parse_number(str(raw), decimal_comma=self.decimal_comma)
            except NumberError as exc:
                reason = f"{_quoted(raw)} {exc.reason}"
                raise self.invalid(exc.code, field, EXPECTED_NUMBER, reason) from None
        if value < 0:
            raise self.invalid(
                "negative_value",
                field,
                "zero or a positive number",
                f"{_quoted(raw)} is negative — counts, beds, days, staff and money cannot be "
                "negative",
            )
        return value + 0.0

    def year(self, field: Field) -> int:
        self._special(field)
        raw = field.raw
        year: int | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            if math.isfinite(raw) and raw == int(raw):
                year = int(raw)
        elif isinstance(raw, str) and _YEAR.fullmatch(raw.strip()):
            year = int(raw.strip())
        if year is None or year not in YEARS:
            raise self.invalid(
                "bad_year",
                field,
                "a year such as 2024",
                f"{_quoted(raw)} is not a collection year — expected a year such as 2024",
            )
        return year

    def date(self, field: Field) -> date:
        self._special(field)
        raw = field.raw
        if isinstance(raw, datetime):
            if raw.time() == time():
                return raw.date()
        elif isinstance(raw, date):
            return raw
        elif isinstance(raw, str) and _ISO_DATE.fullmatch(raw.strip()):
            try:
                return date.fromisoformat(raw.strip())
            except ValueError:
                pass
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            why = "is a number, not a date — format the cell as a date or type"
        else:
            why = "is not a date — type the date as year-month-day,"
        raise self.invalid(
            "bad_date", field, "a date such as 2024-01-31", f"{_quoted(raw)} {why} e.g. 2024-01-31"
        )

    # ------------------------------------------------------------------ participant

    def participant(self, field: Field) -> str:
        code = self.text(field).upper()
        if not code:
            raise self.invalid(
                "missing_participant",
                field,
                "the participant code, e.g. SE or GB-ENG",
                "the participant code is blank",
            )
        if code not in self.participants:
            raise self.invalid(
                "unknown_participant",
                field,
                "a participant code from the dictionary, e.g. SE or GB-ENG",
                f"{_quoted(field.raw)} is not a known participant code",
            )
        return code

    def check_expected_year(self, field: Field, year: int) -> None:
        if self.expected_year is not None and year != self.expected_year:
            self.add(
                "year_mismatch",
                field.place,
                str(year),
                str(self.expected_year),
                f"the return is for {year}, but it was submitted for the {self.expected_year} "
                f"collection — correct the year or submit it for {year}",
            )

    # ------------------------------------------------------------------ data rows

    def rows(self, rows: Iterator[DataRow], *, sheet_place: str) -> list[ReturnValue]:
        """Check data rows; return the values of the valid ones."""
        filled: list[DataRow] = []
        for row in rows:
            if row.blank:
                continue
            if len(filled) == MAX_DATA_ROWS:
                self.add(
                    "too_many_rows",
                    row.item_code.place,
                    f"more than {MAX_DATA_ROWS} rows",
                    f"at most {MAX_DATA_ROWS} data rows",
                    f"the return has more than {MAX_DATA_ROWS} data rows; the rest were not read",
                )
                break
            filled.append(row)
        values: list[ReturnValue] = []
        seen: dict[str, str] = {}  # item code -> place of its first row
        for row in filled:
            value = self.row(row, seen)
            if value is not None:
                values.append(value)
        for code, item in self.items.items():
            if item.mandatory and code not in seen:
                self.add(
                    "missing_mandatory_item",
                    sheet_place,
                    code,
                    f"a row for {code}",
                    f"the mandatory item {code} ({item.item_name}) has no row — add it, with "
                    "a value or with the flag NA or NK",
                )
        return values

    def row(self, row: DataRow, seen: dict[str, str]) -> ReturnValue | None:
        ok = True
        item: DataItem | None = None
        code = ""
        try:
            code = self.text(row.item_code).upper()
            if not code:
                raise self.invalid(
                    "missing_item_code",
                    row.item_code,
                    "an item code from the template",
                    "the row has a value, flag or comment but no item code",
                )
            item = self.items.get(code)
            if item is None:
                raise self.invalid(
                    "unknown_item_code",
                    row.item_code,
                    "an item code from the template",
                    f"{_quoted(row.item_code.raw)} is not an item code of the dictionary",
                )
        except _Invalid:
            ok = False
        if code:
            first = seen.setdefault(code, row.item_code.place)
            if first != row.item_code.place:
                ok = False
                self.add(
                    "duplicate_item",
                    row.item_code.place,
                    code,
                    "one row per item",
                    f"the item {code} appears twice: {first} and {row.item_code.place} — "
                    "keep one row",
                )

        value: float | None = None
        flag: str | None = None
        comment: str | None = None
        fields_ok = True
        try:
            value = self.number(row.value)
        except _Invalid:
            fields_ok = False
        try:
            flag = self.text(row.flag).upper() or None
            if flag is not None and flag not in FLAGS:
                raise self.invalid(
                    "unknown_flag",
                    row.flag,
                    EXPECTED_FLAG,
                    f"{_quoted(row.flag.raw)} is not a flag — use {', '.join(FLAGS)} "
                    "or leave it blank",
                )
        except _Invalid:
            fields_ok = False
            flag = None
        try:
            comment = self.text(row.comment) or None
        except _Invalid:
            fields_ok = False

        if fields_ok:
            fields_ok = self._flag_rules(row, item, value, flag, comment)
        if ok and fields_ok:
            return ReturnValue(code, value, flag, comment, row.place)
        return None

    def _flag_rules(
        self,
        row: DataRow,
        item: DataItem | None,
        value: float | None,
        flag: str | None,
        comment: str | None,
    ) -> bool:
        if flag in FLAGS_WITHOUT_VALUE and value is not None:
            self.add(
                "value_with_na_flag",
                row.value.place,
                show(row.value.raw),
                f"a blank value with the flag {flag}",
                f"the flag {flag} ({FLAG_MEANINGS[flag]}) means there is no value — "
                f"clear the value or remove the flag",
            )
            return False
        if flag is not None and flag not in FLAGS_WITHOUT_VALUE and value is None:
            self.add(
                "missing_value_for_flag",
                row.value.place,
                "",
                f"a value with the flag {flag}",
                f"the flag {flag} ({FLAG_MEANINGS[flag]}) needs a value — enter it, or use "
                f"{_NO_VALUE_FLAGS} if there is none",
            )
            return False
        if flag is None and value is None and item is not None and item.mandatory:
            self.add(
                "missing_mandatory_value",
                row.value.place,
                "",
                f"a value, or the flag {_NO_VALUE_FLAGS}",
                f"{item.item_code} is mandatory and has no value — enter it (0 if there "
                f"were none), or set the flag {_NO_VALUE_FLAGS_EXPLAINED}",
            )
            return False
        if flag == "D" and not comment:
            self.add(
                "d_flag_without_comment",
                row.comment.place,
                "",
                "a comment explaining the difference",
                f"the flag D ({FLAG_MEANINGS['D']}) needs a comment saying how the definition "
                "differs",
                severity="warning",
            )
        return True


# --------------------------------------------------------------------------- xlsx


def _key(text: Cell) -> str:
    """A header or About field name as typed, normalised for matching."""
    return re.sub(r"[\s_]+", "_", text.strip().lower()) if isinstance(text, str) else ""


def _about(checker: Checker, sheet: Sheet | None, parsed: ParsedReturn) -> None:
    if sheet is None:
        return
    fields: dict[str, Field] = {}
    for r, cells in enumerate(sheet.rows, start=1):
        key = _key(cells[0]) if cells else ""
        if key not in ABOUT_FIELDS:
            continue
        if key in fields:
            checker.add(
                "duplicate_about_field",
                f"{sheet.name}!A{r}",
                key,
                f"one row for {key}",
                f"{key} appears twice on the {sheet.name} sheet: {fields[key].place} and "
                f"{sheet.name}!B{r} — keep one",
            )
            continue
        fields[key] = Field(sheet.cell(r, 2), f"{sheet.name}!B{r}")

    about: dict[str, object] = {}
    for key in ABOUT_FIELDS:
        field = fields.get(key)
        if field is None or field.blank:
            if key in REQUIRED_ABOUT:
                checker.add(
                    "missing_about_field",
                    sheet.name if field is None else field.place,
                    "",
                    f"{key} in column A with its value in column B",
                    f"the {sheet.name} sheet has no {key}"
                    if field is None
                    else f"{key} is blank — fill it in",
                )
            continue
        try:
            if key == "participant_code":
                about[key] = checker.participant(field)
            elif key == "collection_year":
                about[key] = checker.year(field)
                checker.check_expected_year(field, about[key])  # type: ignore[arg-type]
            elif key in ("period_start", "period_end"):
                about[key] = checker.date(field)
            elif key == "currency":
                about[key] = checker.text(field).upper()
            else:
                about[key] = checker.text(field)
        except _Invalid:
            continue

    start, end = about.get("period_start"), about.get("period_end")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        checker.add(
            "period_end_before_start",
            fields["period_end"].place,
            end.isoformat(),
            f"a date on or after {start.isoformat()}",
            f"period_end {end.isoformat()} is before period_start {start.isoformat()}",
        )
    participant = checker.participants.get(str(about.get("participant_code", "")))
    currency = about.get("currency")
    if participant is not None and currency and currency != participant.currency.upper():
        checker.add(
            "currency_mismatch",
            fields["currency"].place,
            str(currency),
            participant.currency,
            f"{participant.participant_name} reports in {participant.currency}, not "
            f"{currency} — give all money in {participant.currency}",
        )
    parsed.about.update(about)


def _data(checker: Checker, sheet: Sheet | None, parsed: ParsedReturn) -> None:
    if sheet is None:
        return
    header = sheet.rows[0] if sheet.rows else []
    columns: dict[str, int] = {}
    for c, raw in enumerate(header, start=1):
        columns.setdefault(_key(raw), c)
    claimed = {c for name, c in columns.items() if name in DATA_HEADER}
    for position, name in enumerate(DATA_HEADER, start=1):
        if name in columns:
            continue
        seen = sheet.cell(1, position)
        checker.add(
            "bad_header",
            f"{sheet.name}!{column_letters(position)}1",
            show(seen),
            name,
            f'the header cell should be "{name}", not {_quoted(seen)}'
            if not Field(seen, "").blank
            else f'the first row has no "{name}" column; the header must be '
            + " | ".join(DATA_HEADER),
        )
        if _key(seen) not in DATA_HEADER and position not in claimed:
            # Renamed in place: still read the column, so the other problems show too.
            columns[name] = position
    needed = ("item_code", "value", "flag", "comment")
    if any(name not in columns for name in needed):
        return
    where = [
        (columns[name] - 1, f"{sheet.name}!{column_letters(columns[name])}") for name in needed
    ]

    def rows() -> Iterator[DataRow]:
        for r, cells in enumerate(sheet.rows[1:], start=2):
            width, number = len(cells), str(r)
            fields = [Field(cells[i] if i < width else None, at + number) for i, at in where]
            yield DataRow(*fields, fields[1].place)

    parsed.values.extend(checker.rows(rows(), sheet_place=sheet.name))


def check_workbook(
    book: Workbook, dictionary: Dictionary, expected_year: int | None = None
) -> ParsedReturn:
    """Validate the About and Data sheets read from an .xlsx return."""
    parsed = ParsedReturn(file_format="xlsx")
    checker = Checker(dictionary, expected_year)
    checker.issues.extend(book.issues)
    _about(checker, book.sheets.get("about"), parsed)
    _data(checker, book.sheets.get("data"), parsed)
    parsed.issues.extend(checker.issues)
    return parsed


# --------------------------------------------------------------------------- csv


def check_table(
    table: CsvTable, dictionary: Dictionary, expected_year: int | None = None
) -> ParsedReturn:
    """Validate the lines read from a CSV return."""
    parsed = ParsedReturn(file_format="csv")
    checker = Checker(dictionary, expected_year)
    checker.decimal_comma = table.separator == ";"
    checker.issues.extend(table.issues)
    lines = _without_r_missing_values(checker, table)
    participant: str | None = None
    year: int | None = None
    first_line: int | None = None
    rows: list[DataRow] = []
    for line in lines:
        fields = {name: Field(line.cells[name], csv_place(line.line, name)) for name in CSV_HEADER}
        if first_line is None:
            first_line = line.line
            try:
                participant = checker.participant(fields["participant_code"])
            except _Invalid:
                participant = None
            try:
                year = checker.year(fields["collection_year"])
                checker.check_expected_year(fields["collection_year"], year)
            except _Invalid:
                year = None
        else:
            _same_on_every_line(checker, fields, participant, year, first_line)
        rows.append(
            DataRow(
                fields["item_code"],
                fields["value"],
                fields["flag"],
                fields["comment"],
                csv_place(line.line),
            )
        )
    if not table.lines and not table.issues:
        checker.add("no_data", "file", "", "one line per data item", "the file has no data lines")
    if participant is not None:
        parsed.about["participant_code"] = participant
    if year is not None:
        parsed.about["collection_year"] = year
    if table.lines:
        parsed.values.extend(checker.rows(iter(rows), sheet_place="file"))
    parsed.issues.extend(checker.issues)
    return parsed


R_NA_COLUMNS = ("value", "flag", "comment")


def _written_by_r(table: CsvTable) -> bool:
    """Whether the file has R's NA for empty cells: "NA" as a value or a comment, or the flag NA
    beside a value (the platform's NA, not applicable, always comes with a blank value)."""
    for line in table.lines:
        value, flag = line.cells["value"].strip(), line.cells["flag"].strip()
        if "NA" in (value, line.cells["comment"].strip()):
            return True
        if flag == "NA" and value:
            return True
    return False


def _without_r_missing_values(checker: Checker, table: CsvTable) -> list[CsvLine]:
    """R's write.csv writes NA in every empty cell unless told `na = ""`. In the flag column
    that is the platform's flag NA (not applicable), so in a file written that way no NA can be
    read as meant: each is an error, with the R hint, and is then read as empty (so the same
    cell is not reported twice). The lines to check, without those NA."""
    if not _written_by_r(table):
        return table.lines
    lines = []
    for line in table.lines:
        cells = dict(line.cells)
        for column in R_NA_COLUMNS:
            if cells[column].strip() != "NA":
                continue
            checker.add(
                "r_missing_value",
                csv_place(line.line, column),
                "NA",
                "an empty cell (and NA in the flag column only for a service that does not exist)",
                '"NA" looks like R\'s mark for an empty cell: this file has NA where cells '
                "should be empty, and in the flag column it would mean not applicable — "
                f"{R_CSV_HINT}",
            )
            cells[column] = ""
        lines.append(CsvLine(line.line, cells))
    return lines


def _same_on_every_line(
    checker: Checker,
    fields: dict[str, Field],
    participant: str | None,
    year: int | None,
    first_line: int,
) -> None:
    code_field, year_field = fields["participant_code"], fields["collection_year"]
    code = str(code_field.raw).strip().upper()
    if participant is not None and code != participant:
        checker.add(
            "participant_mismatch",
            code_field.place,
            show(code_field.raw),
            participant,
            f"every line must be for the same participant: line {first_line} says "
            f"{participant}, this line {_quoted(code_field.raw)}",
        )
    if year is not None and str(year_field.raw).strip() != str(year):
        checker.add(
            "year_mismatch",
            year_field.place,
            show(year_field.raw),
            str(year),
            f"every line must be for the same year: line {first_line} says {year}, "
            f"this line {_quoted(year_field.raw)}",
        )
