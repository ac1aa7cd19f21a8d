"""Read the About and Data sheets of a return workbook (.xlsx), defensively.

A return comes from outside; the reader treats it as hostile:

- the zip directory is inspected before anything is decompressed: number of
  entries, declared total size, compression ratio, encrypted entries;
- only the parts needed to read About and Data are decompressed (bounded by
  their declared sizes, checked by CRC) and handed to the spreadsheet parser as
  a new, uncompressed zip, so the parser never inflates a stream we have not
  measured ourselves;
- the sheet XML is scanned for its extent before it is parsed, because the
  parser builds a dense grid: one stray cell at XFD1048576 would need billions
  of cells;
- error cells (`#DIV/0!`) and formulas without a cached value come out of the
  parser as empty cells; they are recovered from the sheet XML and marked
  (`ExcelError`, `UnevaluatedFormula`), so structure checks can name them.

The parser is python-calamine (fast, native); openpyxl (read-only) is kept as a
second engine for comparison (`scripts/bench_parse.py`).

File-level problems raise `ReadError` carrying an `Issue`; problems with one
sheet (missing, duplicated, too large) are returned in `Workbook.issues`.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree

from python_calamine import CalamineWorkbook

from ingestion.records import Issue

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200  # legitimate sheet XML compresses 5-50x
RATIO_CHECKED_ABOVE = 1024 * 1024  # tiny entries may compress well without harm
MAX_ZIP_ENTRIES = 2_000
MAX_SHEET_ROWS = 20_000  # rows of the grid, blank ones included
MAX_SHEET_CELLS = 1_000_000  # rows x columns of the grid the parser would build

SHEETS = {"about": "About", "data": "Data"}  # key (trimmed, case-folded) -> name in the template

Engine = Literal["calamine", "openpyxl"]


@dataclass(frozen=True)
class ExcelError:
    """A cell holding an Excel error value such as `#DIV/0!` or `#N/A`."""

    text: str


@dataclass(frozen=True)
class UnevaluatedFormula:
    """A formula cell saved without a computed value (e.g. written by a program)."""

    formula: str


Cell = (
    str
    | float
    | int
    | bool
    | date
    | datetime
    | time
    | timedelta
    | ExcelError
    | UnevaluatedFormula
    | None
)


@dataclass
class Sheet:
    """One sheet as a grid: rows[0] is spreadsheet row 1, rows[r][0] is column A.

    Blank cells are None or "" (the parser's choice); numbers are float or int.
    """

    name: str
    rows: list[list[Cell]]

    def cell(self, row: int, column: int) -> Cell:
        """The cell at 1-based `row` and `column` (None outside the grid)."""
        if 1 <= row <= len(self.rows):
            cells = self.rows[row - 1]
            if 1 <= column <= len(cells):
                return cells[column - 1]
        return None


@dataclass
class Workbook:
    sheet_names: list[str]
    sheets: dict[str, Sheet] = field(default_factory=dict)  # "about" / "data" when readable
    issues: list[Issue] = field(default_factory=list)


class ReadError(Exception):
    """The file cannot be read as a return workbook at all."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def column_letters(column: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """A -> 1, AA -> 27."""
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index


def _fail(code: str, value: str, expected: str, message: str) -> ReadError:
    return ReadError(Issue(code, "file", value, expected, message))


def _damaged(value: str, what: str = "") -> ReadError:
    """corrupt_workbook: the file is a zip but not a workbook anyone can read."""
    return _fail(
        "corrupt_workbook",
        value[:200],
        "an .xlsx workbook saved by Excel or LibreOffice",
        f"the workbook is damaged{what} and cannot be read — open it in Excel, save it "
        "again as .xlsx and resend it",
    )


def _password(value: str) -> ReadError:
    return _fail(
        "password_protected",
        value,
        "a workbook without a password",
        "the workbook is protected with a password — remove the password "
        "(File > Info > Protect Workbook) and resend it",
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


# --------------------------------------------------------------------------- zip


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # BadZipFile, and struct/ValueError on a damaged directory
        raise _damaged(type(exc).__name__) from exc


def _inspect_zip(archive: zipfile.ZipFile) -> None:
    """Refuse archives that would cost more to open than any return needs."""
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise _fail(
            "zip_bomb",
            f"{len(entries)} parts",
            f"at most {MAX_ZIP_ENTRIES} parts",
            "the workbook has far more internal parts than a return can have; "
            "resend the return as a plain .xlsx workbook",
        )
    total = sum(info.file_size for info in entries)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise _fail(
            "zip_bomb",
            f"{_megabytes(total)} uncompressed",
            f"at most {_megabytes(MAX_UNCOMPRESSED_BYTES)}",
            f"the workbook unpacks to {_megabytes(total)}, more than the "
            f"{_megabytes(MAX_UNCOMPRESSED_BYTES)} a return may have; remove pictures "
            "and extra sheets, or send a CSV",
        )
    for info in entries:
        if info.flag_bits & 0x1:
            raise _password(info.filename)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECKED_ABOVE and ratio > MAX_COMPRESSION_RATIO:
            raise _fail(
                "zip_bomb",
                f"{info.filename} compressed {ratio:.0f}:1",
                f"a compression ratio of at most {MAX_COMPRESSION_RATIO}:1",
                "the workbook contains a part that is compressed far more than a "
                "spreadsheet can be; it was not opened",
            )


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        # zipfile stops at the declared size (checked above) and verifies the CRC.
        return archive.read(name)
    except RuntimeError as exc:
        if isinstance(exc, NotImplementedError):  # an unknown compression method
            raise _damaged(f"{type(exc).__name__}: {exc}") from exc
        raise _password(name) from exc
    except Exception as exc:  # BadZipFile, zlib.error, EOFError ... on a damaged part
        raise _damaged(name, f" (part {name})") from exc


def _not_a_workbook(archive: zipfile.ZipFile) -> ReadError:
    names = set(archive.namelist())
    if "mimetype" in names and b"opendocument.spreadsheet" in _read_part(archive, "mimetype")[:100]:
        return _fail(
            "legacy_format",
            "OpenDocument spreadsheet (.ods)",
            "an Excel workbook (.xlsx)",
            "this is an OpenDocument spreadsheet, not an .xlsx workbook — use "
            "File > Save As and choose 'Excel 2007-365 (.xlsx)'",
        )
    kind = "a Word document" if "word/document.xml" in names else "a zip archive"
    return _fail(
        "not_xlsx",
        kind,
        "an Excel workbook (.xlsx)",
        f"the file is {kind}, not an Excel workbook — send the return as an .xlsx workbook",
    )


# --------------------------------------------------------------------------- workbook parts


def _xml(data: bytes, name: str) -> ElementTree.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _damaged(name, f" ({name} has XML declarations Excel never writes)")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise _damaged(name, f" ({name} is not valid XML)") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass(frozen=True)
class _SheetPart:
    name: str
    part: str | None  # path inside the zip; None if it is not a worksheet


def _workbook_parts(archive: zipfile.ZipFile) -> tuple[list[_SheetPart], list[str]]:
    """Sheets in workbook order, and the shared parts (styles, shared strings)."""
    workbook = _xml(_read_part(archive, "xl/workbook.xml"), "xl/workbook.xml")
    rels_name = "xl/_rels/workbook.xml.rels"
    targets: dict[str, tuple[str, str]] = {}
    if rels_name in archive.namelist():
        for rel in _xml(_read_part(archive, rels_name), rels_name).iter():
            if _local(rel.tag) != "Relationship":
                continue
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            kind = rel.get("Type", "").rsplit("/", 1)[-1]
            targets[rel.get("Id", "")] = (posixpath.normpath(path), kind)
    sheets = []
    for element in workbook.iter():
        if _local(element.tag) != "sheet":
            continue
        rel_id = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
        path, kind = targets.get(rel_id, ("", ""))
        sheets.append(_SheetPart(element.get("name", ""), path if kind == "worksheet" else None))
    shared = [path for path, kind in targets.values() if kind in ("styles", "sharedStrings")]
    return sheets, shared


# --------------------------------------------------------------------------- sheet XML scans

# Cells have r="D7" (rows r="7"). The fast patterns assume a space before attributes;
# when the XML uses other whitespace there, the general pattern is used instead.
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,7})"')
_CELL_REF_ANY_SPACE = re.compile(rb'\sr="([A-Z]{1,3})([0-9]{1,7})"')
_OTHER_SPACE_REF = (b'\tr="', b'\nr="', b'\rr="')
_OTHER_CELL_TAGS = (b"<c\t", b"<c\n", b"<c\r", b"<c/", b":c\t", b":c\n", b":c\r", b":c/")
_CONTENT_REF = re.compile(
    rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"[^>]*>\s*<(?:\w+:)?(?:v|is|f)\b'
)
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b")
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="([0-9]{1,7})"')
_SPECIAL_MARKS = (b't="e"', b"<f>", b"<f ", b"<f/>", b":f>", b":f ", b":f/>")
_CELL_MARKS = (b"<c ", b"<c>", b":c ", b":c>")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ATTR_R = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_ATTR_T = re.compile(rb'\bt="(\w+)"')
_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?v>)", re.S)


def _cell_refs(xml: bytes) -> list[tuple[bytes, bytes]]:
    if any(mark in xml for mark in _OTHER_SPACE_REF):
        return _CELL_REF_ANY_SPACE.findall(xml)
    return _CELL_REF.findall(xml)


def _cell_count(xml: bytes) -> int:
    if any(mark in xml for mark in _OTHER_CELL_TAGS):
        return len(_CELL_TAG.findall(xml))
    return sum(xml.count(mark) for mark in _CELL_MARKS)


def _extent(xml: bytes, refs: list[tuple[bytes, bytes]], cells_with_ref: int) -> tuple[int, int]:
    """Upper bound of (rows, columns) of the grid the parser builds from this sheet.

    refs: (column letters, row number) of the cells to count.
    """
    letters, numbers = zip(*refs, strict=True) if refs else ((), ())
    rows = max(map(int, numbers), default=0)
    columns = max((column_index(c.decode()) for c in set(letters)), default=0)
    if _cell_count(xml) > cells_with_ref:
        # Some cells carry no reference: they follow the previous cell and row.
        chunks = _ROW_TAG.split(xml)
        rows += len(chunks) - 1 + max((int(r) for r in _ROW_REF.findall(xml)), default=0)
        columns += max(len(_CELL_TAG.findall(chunk)) for chunk in chunks)
    return rows, columns


def _size_issue(xml: bytes, name: str) -> Issue | None:
    refs = _cell_refs(xml)
    rows, columns = _extent(xml, refs, len(refs))
    if rows <= MAX_SHEET_ROWS and rows * columns <= MAX_SHEET_CELLS:
        return None
    # Formatted but empty cells far away inflate the first bound; count only content.
    rows, columns = _extent(xml, _CONTENT_REF.findall(xml), len(refs))
    if rows > MAX_SHEET_ROWS:
        return Issue(
            "too_many_rows",
            name,
            f"{rows} rows",
            f"at most {MAX_SHEET_ROWS} rows",
            f"the {name} sheet has content down to row {rows}; a return has at most "
            f"{MAX_SHEET_ROWS} rows — delete the rows below your data",
        )
    if rows * columns > MAX_SHEET_CELLS:
        last = f"{column_letters(columns)}{rows}"
        return Issue(
            "sheet_too_large",
            name,
            f"content up to {last}",
            "the columns of the return only",
            f"the {name} sheet has content as far as cell {last}; delete the cells "
            "outside the return's columns",
        )
    return None


def _special_cells(xml: bytes) -> dict[tuple[int, int], Cell]:
    """Error cells and formulas without a cached value, by 0-based (row, column)."""
    found: dict[tuple[int, int], Cell] = {}
    if not any(mark in xml for mark in _SPECIAL_MARKS):
        return found
    for match in _CELL.finditer(xml):
        attrs, inner = match.group(1), match.group(2) or b""
        ref = _ATTR_R.search(attrs)
        if ref is None:
            continue  # cells without a reference are rare; they are read as they are
        kind = _ATTR_T.search(attrs)
        kind_text = kind.group(1) if kind else b"n"
        value = _VALUE.search(inner)
        value_text = (value.group(1) or b"") if value else b""
        position = (int(ref.group(2)) - 1, column_index(ref.group(1).decode()) - 1)
        if kind_text == b"e":
            found[position] = ExcelError(_text(value_text) or "#ERROR")
            continue
        formula = _FORMULA.search(inner)
        if formula is not None and not value_text.strip() and kind_text != b"str":
            found[position] = UnevaluatedFormula("=" + _text(formula.group(1) or b""))
    return found


def _text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- parsing


def _stored_zip(archive: zipfile.ZipFile, names: list[str], read: dict[str, bytes]) -> io.BytesIO:
    """A new uncompressed zip holding only the parts `names` (read, bounded, by us).

    read: parts already read, by name. Names are matched case-insensitively, as
    some writers spell them differently; the archive's own spelling is kept.
    """
    spelling = {name.lower(): name for name in archive.NameToInfo}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for wanted in dict.fromkeys(name.lower() for name in names):
            name = spelling.get(wanted)
            if name is not None:
                target.writestr(name, read[name] if name in read else _read_part(archive, name))
    buffer.seek(0)
    return buffer


def _parse_calamine(
    archive: zipfile.ZipFile,
    wanted: dict[str, _SheetPart],
    shared: list[str],
    read: dict[str, bytes],
) -> dict[str, list[list[Cell]]]:
    parts = [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/sharedStrings.xml",
        *shared,
        *(str(sheet.part) for sheet in wanted.values()),
    ]
    book = CalamineWorkbook.from_filelike(_stored_zip(archive, parts, read))
    try:
        return {
            key: book.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)
            for key, sheet in wanted.items()
        }
    finally:
        book.close()


def _parse_openpyxl(data: bytes, wanted: dict[str, _SheetPart]) -> dict[str, list[list[Cell]]]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return {
            key: [list(row) for row in book[sheet.name].iter_rows(min_row=1, values_only=True)]
            for key, sheet in wanted.items()
        }
    finally:
        book.close()


def _find_sheets(
    archive: zipfile.ZipFile, sheets: list[_SheetPart]
) -> tuple[dict[str, _SheetPart], list[Issue]]:
    """The About and Data worksheets (names trimmed, any case), and what is wrong."""
    found: dict[str, _SheetPart] = {}
    issues: list[Issue] = []
    for key, name in SHEETS.items():
        matches = [s for s in sheets if s.name.strip().casefold() == key]
        if not matches:
            issues.append(
                Issue(
                    "missing_sheet",
                    "file",
                    ", ".join(s.name for s in sheets),
                    f"a sheet named {name}",
                    f"the workbook has no sheet named {name} — use the template "
                    "and do not rename or delete its sheets",
                )
            )
        elif len(matches) > 1:
            issues.append(
                Issue(
                    "duplicate_sheet",
                    "file",
                    ", ".join(repr(s.name) for s in matches),
                    f"one sheet named {name}",
                    f"the workbook has {len(matches)} sheets named {name}; keep one",
                )
            )
        elif matches[0].part is None or matches[0].part not in archive.NameToInfo:
            issues.append(
                Issue(
                    "missing_sheet",
                    "file",
                    matches[0].name,
                    f"a worksheet named {name}",
                    f"the sheet {name} is not a worksheet with cells (a chart or a "
                    "damaged sheet) — use the template",
                )
            )
        else:
            found[key] = matches[0]
    return found, issues


def read_xlsx(path: Path, *, engine: Engine = "calamine") -> Workbook:
    """Read the About and Data sheets of the workbook at `path`.

    Raises ReadError for problems with the whole file (not a workbook, damaged,
    password, zip bomb); returns sheet-level problems in `Workbook.issues`.
    engine: calamine; openpyxl (read-only) is there to compare speed, it opens
    the original archive itself.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _fail(
            "file_too_large",
            _megabytes(size),
            f"at most {_megabytes(MAX_FILE_BYTES)}",
            f"the file is {_megabytes(size)}; a return is at most "
            f"{_megabytes(MAX_FILE_BYTES)} — remove pictures and extra sheets",
        )
    data = path.read_bytes()
    with _open_zip(data) as archive:
        _inspect_zip(archive)
        if "xl/workbook.xml" not in archive.NameToInfo:
            raise _not_a_workbook(archive)
        sheets, shared = _workbook_parts(archive)
        wanted, issues = _find_sheets(archive, sheets)
        book = Workbook([s.name for s in sheets], issues=issues)

        read: dict[str, bytes] = {}
        special: dict[str, dict[tuple[int, int], Cell]] = {}
        for key, sheet in list(wanted.items()):
            xml = read[str(sheet.part)] = _read_part(archive, str(sheet.part))
            problem = _size_issue(xml, SHEETS[key])
            if problem is not None:
                book.issues.append(problem)
                del wanted[key]
                continue
            special[key] = _special_cells(xml)
        if not wanted:
            return book

        try:
            if engine == "openpyxl":
                grids = _parse_openpyxl(data, wanted)
            else:
                grids = _parse_calamine(archive, wanted, shared, read)
        except ReadError:
            raise
        except Exception as exc:  # the parsers raise many kinds on damaged input
            raise _damaged(f"{type(exc).__name__}: {exc}") from exc
        except BaseException as exc:
            # A panic in the native parser surfaces as pyo3's PanicException, which
            # derives from BaseException; it means a damaged file, not a stop request.
            if type(exc).__name__ != "PanicException":
                raise
            raise _damaged(f"{type(exc).__name__}: {exc}") from exc

    for key, rows in grids.items():
        for (row, column), cell in special[key].items():
            while len(rows) <= row:
                rows.append([])
            cells = rows[row]
            if len(cells) <= column:
                cells.extend([None] * (column + 1 - len(cells)))
            cells[column] = cell
        book.sheets[key] = Sheet(wanted[key].name.strip(), rows)
    return book
