"""Excel workbooks: the release workbook `releases/<id>/mhbench-<id>.xlsx`, a member's own
slice (`mhbench export`), and any rows the CLI prints as `--format xlsx`.

The rules of every workbook written here:
- numbers are number cells, booleans boolean cells, dates and times date cells (an
  instant in UTC, without a zone: Excel has none); a missing value is an empty cell;
- every text cell is a string cell, never a formula: `=1+1` or `+SUM(A1)` from a return is
  stored as that text, with no `'` added (the quote of the CSVs is not needed in a cell
  that is typed as text). Characters a workbook cannot hold (control characters) are
  written as their `\\x..` escape, so nothing is lost and the write never fails;
- a list or struct value (e.g. `peers` of `mart_lines_of_enquiry`) is flattened into text:
  items joined with `; `, a struct as its first field with the others in brackets,
  `A (1.2); B (3.4)`;
- a header row in bold, frozen, with an autofilter over the data.

The README sheet says which release it is, how to read the sheets, the flags and the
disclosure control. Only final releases have a workbook (a draft is not for circulation:
`publishing.exports.ExportSettings`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO

SHEET_NAME_MAX = 31
CELL_TEXT_MAX = 32767
# Characters an xlsx cell cannot hold (what openpyxl refuses: C0 controls but tab, LF, CR).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Sheet:
    """A sheet: its name, the column names and the rows (values as the database gave them)."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple]


@dataclass(frozen=True)
class Readme:
    """What the README sheet says."""

    title: str
    facts: list[tuple[str, str]]  # (label, value): release, date, participant...
    sheets: list[tuple[str, str]] = field(default_factory=list)  # (sheet, what it holds)
    flags: list[tuple[str, str, str]] = field(default_factory=list)  # (flag, meaning, text)
    disclosure: str = ""


# -- values -------------------------------------------------------------------------------


def flatten(value: object) -> str:
    """A list or struct as one line of text: `A (1.2); B (3.4)`."""
    if isinstance(value, dict):
        parts = [flatten(v) for v in value.values() if v is not None]
        if not parts:
            return ""
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"
    if isinstance(value, list | tuple):
        return "; ".join(flatten(v) for v in value)
    if isinstance(value, float):
        return format(value, ".6g")
    return "" if value is None else str(value)


def safe_text(text: str) -> str:
    """Text a cell can hold: control characters as escapes, cut at Excel's cell limit."""
    text = _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= CELL_TEXT_MAX else text[: CELL_TEXT_MAX - 1] + "…"


def cell_value(value: object) -> object:
    """A value as an xlsx cell holds it: a number, bool, naive datetime/date, text or None."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date | time):
        return value
    if isinstance(value, dict | list | tuple):
        return safe_text(flatten(value))
    return safe_text(str(value))


# -- writing ------------------------------------------------------------------------------

# XlsxWriter: text is never turned into a formula, a number or a link; instants lose their
# zone (already UTC). `constant_memory` streams each row to disk as it is written.
WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
    "remove_timezone": True,
}


class _Formats:
    def __init__(self, wb) -> None:
        self.bold = wb.add_format({"bold": True})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.datetime = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.date = wb.add_format({"num_format": "yyyy-mm-dd"})
        self.time = wb.add_format({"num_format": "hh:mm:ss"})


def _write(ws, row: int, col: int, value: object, formats: _Formats, fmt=None) -> None:
    """One cell, typed by its value: text always as a string cell (write_string)."""
    value = cell_value(value)
    if value is None:
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, str):
        ws.write_string(row, col, value, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value, fmt or formats.datetime)
    elif isinstance(value, date):
        ws.write_datetime(row, col, value, fmt or formats.date)
    else:  # time
        ws.write_datetime(row, col, value, fmt or formats.time)


def _sheet_names(names: Iterable[str]) -> list[str]:
    """Names Excel accepts: at most 31 characters, none of []:*?/\\, no edge `'`, unique."""
    seen: set[str] = {"readme"}
    out = []
    for name in names:
        base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'")[:SHEET_NAME_MAX] or "sheet"
        candidate, n = base, 2
        while candidate.lower() in seen:
            suffix = f"~{n}"
            candidate, n = base[: SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _width(values: Sequence[object]) -> float:
    longest = max((len(str(cell_value(v) or "")) for v in values), default=0)
    return min(max(longest + 2, 8), 60)


def readme_rows(readme: Readme) -> list[tuple[str, str, str]]:
    """The README sheet as (style, column A, column B) rows; style is a `_Formats` name."""
    rows: list[tuple[str, str, str]] = [("title", readme.title, ""), ("", "", "")]
    rows += [("bold", label, value) for label, value in readme.facts]
    if readme.sheets:
        rows += [("", "", ""), ("title", "How to read", "")]
        rows.append(
            (
                "",
                "Every sheet",
                "One table per sheet: the header row is frozen and filtered; numbers are "
                "numbers, an empty cell is a missing value, text is text (never a formula). "
                "Lists (e.g. peers) are written as `A (1.2); B (3.4)`.",
            )
        )
        rows += [("bold", name, what) for name, what in readme.sheets]
    if readme.flags:
        rows += [("", "", ""), ("title", "Flags", "")]
        rows += [("bold", flag, f"{meaning}: {text}") for flag, meaning, text in readme.flags]
    if readme.disclosure:
        rows += [("", "", ""), ("title", "Disclosure control", ""), ("", "", readme.disclosure)]
    return rows


def _write_readme(wb, formats: _Formats, readme: Readme) -> None:
    ws = wb.add_worksheet("README")
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 110, formats.wrap)
    for r, (style, a, b) in enumerate(readme_rows(readme)):
        if a:
            _write(ws, r, 0, a, formats, getattr(formats, style) if style else None)
        if b:
            _write(ws, r, 1, b, formats, formats.wrap)


def _write_table(wb, formats: _Formats, name: str, sheet: Sheet) -> None:
    ws = wb.add_worksheet(name)
    sample = sheet.rows[:200]
    for index, column in enumerate(sheet.columns):
        ws.set_column(index, index, _width([column, *(r[index] for r in sample)]))
    ws.freeze_panes(1, 0)
    if sheet.columns:
        ws.autofilter(0, 0, len(sheet.rows), len(sheet.columns) - 1)
    for c, column in enumerate(sheet.columns):
        _write(ws, 0, c, column, formats, formats.bold)
    for r, row in enumerate(sheet.rows, start=1):
        for c, value in enumerate(row):
            _write(ws, r, c, value, formats)


def write_workbook(
    target: Path | IO[bytes], sheets: Sequence[Sheet], readme: Readme | None
) -> None:
    """Write a workbook: the README sheet (if any), then one sheet per table."""
    import xlsxwriter

    options = dict(WORKBOOK_OPTIONS)
    if not isinstance(target, str | Path):
        options["in_memory"] = True
    wb = xlsxwriter.Workbook(target if not isinstance(target, Path) else str(target), options)
    formats = _Formats(wb)
    if readme is not None:
        _write_readme(wb, formats, readme)
    for name, sheet in zip(_sheet_names(s.name for s in sheets), sheets, strict=True):
        _write_table(wb, formats, name, sheet)
    wb.close()


# -- what goes in ---------------------------------------------------------------------------


def read_sheet(con, sql: str, name: str, params: Sequence = ()) -> Sheet:
    cursor = con.execute(sql, list(params))
    return Sheet(name, tuple(d[0] for d in cursor.description), cursor.fetchall())


def disclosure_text(suppress_max: int, round_to: int) -> str:
    return (
        f"Person and event counts of 1 to {suppress_max} are suppressed (an empty value, "
        f"`suppressed` true); other such counts are rounded to the nearest {round_to}. An "
        "indicator whose numerator or denominator is a suppressed count is suppressed. "
        "Rates, percentages and changes are computed from the published (rounded) counts, "
        "so no exact small count can be worked back out. Beds, WTE, days and money are "
        "never suppressed."
    )


def release_workbook_name(release_id: str) -> str:
    return f"mhbench-{release_id}.xlsx"


def write_release_workbook(release_db: Path, path: Path, marts: Sequence[str], readme: Readme):
    """The release workbook: the README sheet, then every published mart, whole."""
    import duckdb

    with duckdb.connect(str(release_db), read_only=True) as con:
        sheets = [read_sheet(con, f"select * from marts.{m}", m) for m in marts]
    write_workbook(path, sheets, readme)


# A member's own slice (`mhbench export --participant P`): sheet name -> (what, SQL).
PARTICIPANT_SHEETS = {
    "values": (
        "Its indicator values (fct_indicator_values).",
        "select * from marts.fct_indicator_values where participant_code = $p order by all",
    ),
    "positions": (
        "Its position among all participants (mart_participant_position).",
        "select * from marts.mart_participant_position where participant_code = $p order by all",
    ),
    "benchmarks": (
        "The benchmarks over all participants (mart_benchmark).",
        "select * from marts.mart_benchmark order by all",
    ),
    "peer_benchmarks": (
        "The benchmarks of its peer group (mart_benchmark_peer_group).",
        "select * from marts.mart_benchmark_peer_group where peer_group = "
        "(select peer_group from marts.dim_participant where participant_code = $p) "
        "order by all",
    ),
}


def participant_sheets(release_db: Path, participant: str) -> list[Sheet]:
    import duckdb

    with duckdb.connect(str(release_db), read_only=True) as con:
        return [
            read_sheet(con, sql.replace("$p", "?"), name, [participant] * sql.count("$p"))
            for name, (_, sql) in PARTICIPANT_SHEETS.items()
        ]


def release_readme(
    manifest: dict,
    marts: Sequence[str],
    descriptions: dict[str, str],
    flags: list[tuple[str, str, str]],
    disclosure: str,
    *,
    participant: str | None = None,
) -> Readme:
    facts = [
        ("Release", str(manifest["release_id"])),
        ("Published at (UTC)", str(manifest["created_at"])),
        ("Code version", str(manifest.get("code_version") or "")),
        ("Dictionary version", str(manifest.get("dictionary_version") or "")),
        ("Participant-years", str(len(manifest.get("submissions", [])))),
    ]
    if participant:
        facts.insert(1, ("Participant", participant))
    return Readme(
        title=f"mhbench release {manifest['release_id']}"
        + (f": {participant}'s slice" if participant else ""),
        facts=facts,
        sheets=[(m, descriptions.get(m, "")) for m in marts],
        flags=flags,
        disclosure=disclosure,
    )
