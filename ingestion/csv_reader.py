"""Read a return sent as CSV (format v1): decode, find the header, split the lines.

Decisions (see also DESIGN.md, "The return"):

- Encoding: UTF-8, with or without a byte-order mark. Nothing else is guessed:
  bytes that are not UTF-8 could be Windows-1252, Latin-1, Windows-1250 or Mac
  Roman, and a wrong guess silently changes names and comments. The first line
  that is not UTF-8 is reported with the advice to save as "CSV UTF-8". UTF-16
  ("Unicode text") is recognised by its byte-order mark and reported the same way.
- Separator: comma, or semicolon (what Excel writes where the decimal separator
  is a comma), or tab. The header is fixed, so the separator is the one that
  splits the header line into the expected column names — never a guess from
  the data. Numbers with decimal commas are still rejected cell by cell.
- Columns are found by name (case and surrounding spaces ignored); extra
  columns are ignored; a line with more non-empty fields than the header is an
  error (an unquoted comma inside a comment would otherwise shift the fields).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.records import CSV_HEADER, Issue

MAX_FILE_BYTES = 20 * 1024 * 1024
SEPARATORS = (",", ";", "\t")
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
SAVE_AS_UTF8 = 'in Excel use File > Save As > "CSV UTF-8 (Comma delimited) (*.csv)"'


@dataclass(frozen=True)
class CsvLine:
    """One data line: the text of each header column, by column name."""

    line: int  # 1-based line number where the record starts
    cells: dict[str, str]


@dataclass
class CsvTable:
    separator: str = ","
    lines: list[CsvLine] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


class CsvReadError(Exception):
    """The file cannot be read as a CSV return at all."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def place(line: int, column: str | None = None) -> str:
    return f"line {line}" if column is None else f"line {line}, column {column}"


def _header_key(text: str) -> str:
    return text.strip().strip('"').strip().lower()


def _looks_like_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or ASCII text with a zero byte beside every character."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = data[:200]
    return len(head) >= 8 and (
        head[1::2].count(0) == len(head[1::2]) or head[::2].count(0) == len(head[::2])
    )


def decode(data: bytes) -> str:
    """The text of a UTF-8 CSV file (a byte-order mark is dropped), or CsvReadError."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        end = data.find(b"\n", exc.start)
        shown = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace")
        byte = data[exc.start : exc.start + 1].hex().upper()
        raise CsvReadError(
            Issue(
                "encoding",
                place(line),
                shown.strip()[:200],
                "UTF-8",
                f"line {line} is not UTF-8 text (byte 0x{byte}); the file must be saved "
                f"as UTF-8 — {SAVE_AS_UTF8}",
            )
        ) from exc


def _split_header(header_line: str, separator: str) -> list[str]:
    try:
        return next(csv.reader([header_line], delimiter=separator), [])
    except csv.Error:  # e.g. a field longer than the csv module allows
        return []


def _choose_separator(header_line: str) -> tuple[str, list[str]]:
    """The separator that splits the header into the expected names (comma if none does)."""

    def found(separator: str) -> int:
        names = _split_header(header_line, separator)
        return len({_header_key(n) for n in names} & set(CSV_HEADER))

    separator = max(SEPARATORS, key=found)  # the first, a comma, wins a tie
    return separator, _split_header(header_line, separator)


def read_csv(path: Path, *, max_rows: int) -> CsvTable:
    """Read the data lines of the CSV return at `path` (at most `max_rows`).

    Raises CsvReadError when the file as a whole cannot be read; header and line
    problems are in `CsvTable.issues`.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CsvReadError(
            Issue(
                "file_too_large",
                "file",
                f"{size / 1024 / 1024:.1f} MB",
                f"at most {MAX_FILE_BYTES // 1024 // 1024} MB",
                "the file is far larger than a return can be",
            )
        )
    data = path.read_bytes()
    if _looks_like_utf16(data):
        raise CsvReadError(
            Issue(
                "encoding",
                "file",
                "UTF-16",
                "UTF-8",
                f"the file is saved as UTF-16 ('Unicode text'); {SAVE_AS_UTF8}",
            )
        )
    if b"\x00" in data[:8192]:
        raise CsvReadError(
            Issue(
                "not_csv",
                "file",
                "binary data",
                "a CSV text file",
                "the file is not a CSV text file — send the return as CSV (UTF-8) or .xlsx",
            )
        )
    text = decode(data)
    if "\r" in text:  # Windows and old Mac line ends; line numbers count "\n"
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    table = CsvTable()
    physical = text.split("\n")
    header_index = next((i for i, line in enumerate(physical) if line.strip()), None)
    if header_index is None:
        raise CsvReadError(
            Issue("empty_file", "file", "", "a header line and data lines", "the file is empty")
        )
    header_text = physical[header_index].strip()
    separator, names = _choose_separator(header_text)
    table.separator = separator
    header_line = header_index + 1
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        columns.setdefault(_header_key(name), index)
    missing = [name for name in CSV_HEADER if name not in columns]
    if missing:
        table.issues.append(
            Issue(
                "bad_header",
                place(header_line),
                header_text[:200],
                ",".join(CSV_HEADER),
                "the header line has no column "
                + ", ".join(f'"{name}"' for name in missing)
                + "; the first line must be: "
                + ",".join(CSV_HEADER),
            )
        )
        return table

    body = text[sum(len(line) + 1 for line in physical[: header_index + 1]) :]
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=separator, strict=True)
    offset = header_line  # physical line number of the reader's line 0
    next_line = offset + 1  # where the next record starts
    try:
        for fields in reader:
            line, next_line = next_line, offset + reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue
            if len(table.lines) >= max_rows:
                table.issues.append(
                    Issue(
                        "too_many_rows",
                        place(line),
                        f"more than {max_rows} data lines",
                        f"at most {max_rows} data lines",
                        f"the file has more than {max_rows} data lines; a return has at "
                        f"most {max_rows}",
                    )
                )
                break
            extra = [f for f in fields[len(names) :] if f.strip()]
            if extra:
                table.issues.append(
                    Issue(
                        "extra_fields",
                        place(line),
                        f"{len(fields)} fields",
                        f"{len(names)} fields, as in the header",
                        f"line {line} has more fields than the header — put text that "
                        f'contains a {_SEPARATOR_NAMES[separator]} in double quotes ("...")',
                    )
                )
                continue
            cells = {
                name: (fields[columns[name]] if columns[name] < len(fields) else "")
                for name in CSV_HEADER
            }
            table.lines.append(CsvLine(line, cells))
    except csv.Error as exc:
        line = next_line
        table.issues.append(
            Issue(
                "bad_csv",
                place(line),
                str(exc)[:200],
                "fields separated by a comma, text with commas or quotes in double quotes",
                f"line {line} cannot be read as CSV ({exc}) — check the quotes on this line",
            )
        )
    return table
