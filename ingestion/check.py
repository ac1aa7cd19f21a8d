"""Check one return file: the entry point of structural validation.

    from ingestion.check import check_return
    parsed = check_return(Path("data/inbox/2024/SE.xlsx"), expected_year=2024)
    parsed.accepted, parsed.about, parsed.values, parsed.issues

`check_return` never raises because of what is in the file: every problem
becomes an `Issue`. The file is identified by its content (magic bytes), not
trusted by its name; the name is only used to pick the reader and is never used
to build another path.

This module is imported by the CLI (`mhbench validate FILE`), so it stays light:
no pandas, dagster, dbt or great_expectations behind it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ingestion.csv_reader import CsvReadError, read_csv
from ingestion.dictionary import Dictionary, load_dictionary
from ingestion.records import Issue, ParsedReturn
from ingestion.structure import MAX_DATA_ROWS, check_table, check_workbook
from ingestion.xlsx_reader import MAX_FILE_BYTES, Engine, ReadError, read_xlsx

log = logging.getLogger(__name__)

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: .xls, or an encrypted .xlsx
LEGACY_EXTENSIONS = {
    ".xls": "an Excel 97-2003 workbook (.xls)",
    ".xlsm": "a macro-enabled workbook (.xlsm)",
    ".xlsb": "a binary workbook (.xlsb)",
    ".ods": "an OpenDocument spreadsheet (.ods)",
    ".numbers": "an Apple Numbers file",
}
SAVE_AS_XLSX = "use File > Save As and choose 'Excel Workbook (*.xlsx)'"
SUPPORTED = (".xlsx", ".csv")


def _issue(code: str, value: str, expected: str, message: str) -> Issue:
    return Issue(code, "file", value, expected, message)


def _file_format(extension: str) -> str:
    if extension in SUPPORTED:
        return extension[1:]
    return extension[1:] or "unknown"


def _sniff(extension: str, head: bytes) -> Issue | None:
    """A file-level problem visible from the name and the first bytes, if any.

    An OLE2 compound file (magic D0 CF 11 E0) is either an old .xls workbook
    (a stream named Workbook or Book) or an encrypted .xlsx (EncryptionInfo).
    """
    if not head:
        return _issue("empty_file", "0 bytes", "a return", "the file is empty (0 bytes)")
    if extension in LEGACY_EXTENSIONS:
        kind = LEGACY_EXTENSIONS[extension]
        return _issue(
            "legacy_format",
            extension,
            ".xlsx or .csv",
            f"the file is {kind}; only .xlsx and .csv are accepted — {SAVE_AS_XLSX}",
        )
    if extension not in SUPPORTED:
        return _issue(
            "unsupported_extension",
            extension or "(none)",
            ".xlsx or .csv",
            f"files ending in {extension or '(no extension)'} are not accepted — send the "
            "return as .xlsx (Excel workbook) or .csv",
        )
    if head.startswith(CFB_MAGIC):
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00" not in head and (
            b"W\x00o\x00r\x00k\x00b\x00o\x00o\x00k\x00" in head or b"B\x00o\x00o\x00k\x00" in head
        ):
            return _issue(
                "legacy_format",
                "Excel 97-2003 workbook",
                "an Excel workbook (.xlsx)",
                f"the file is an old Excel 97-2003 workbook renamed to {extension} — "
                f"{SAVE_AS_XLSX}",
            )
        return _issue(
            "password_protected",
            "encrypted workbook",
            "a workbook without a password",
            "the workbook is protected with a password — remove the password "
            "(File > Info > Protect Workbook > Encrypt with Password) and send it again",
        )
    is_zip = head.startswith(ZIP_MAGIC)
    if extension == ".xlsx" and not is_zip:
        looks_like = "text" if _is_text(head) else "not a workbook"
        return _issue(
            "not_xlsx",
            looks_like,
            "an Excel workbook (.xlsx)",
            "the file is named .xlsx but is not an Excel workbook"
            + (
                " (it contains text; if it is a CSV file, name it .csv)"
                if looks_like == "text"
                else ""
            )
            + f" — {SAVE_AS_XLSX}",
        )
    if extension == ".csv" and is_zip:
        return _issue(
            "not_csv",
            "a zip archive or workbook",
            "a CSV text file",
            "the file is named .csv but is a workbook or zip archive — send the workbook "
            "as .xlsx, or save it as 'CSV UTF-8'",
        )
    return None


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head and all(b >= 9 for b in head[:512])


def check_return(
    path: Path,
    *,
    expected_year: int | None = None,
    dictionary: Dictionary | None = None,
    engine: Engine = "calamine",
) -> ParsedReturn:
    """Read and structurally validate the return at `path`.

    expected_year: the collection year of the inbox folder (`inbox/<year>/file`);
        a return for another year is an error.
    dictionary: reference data; the dbt seeds by default.
    engine: the xlsx parser (calamine; openpyxl only for comparison).
    """
    path = Path(path)
    extension = path.suffix.strip().lower()
    file_format = _file_format(extension)
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
            if head.startswith(CFB_MAGIC):  # stream names can be anywhere in the file
                head += fh.read(MAX_FILE_BYTES)
    except OSError as exc:
        return ParsedReturn(
            file_format,
            issues=[
                _issue(
                    "unreadable_file",
                    type(exc).__name__,
                    "a readable file",
                    f"the file could not be read ({exc.strerror or type(exc).__name__})",
                )
            ],
        )
    problem = _sniff(extension, head)
    if problem is not None:
        return ParsedReturn(file_format, issues=[problem])

    dictionary = dictionary if dictionary is not None else load_dictionary()
    try:
        if extension == ".csv":
            return check_table(read_csv(path, max_rows=MAX_DATA_ROWS), dictionary, expected_year)
        return check_workbook(read_xlsx(path, engine=engine), dictionary, expected_year)
    except (ReadError, CsvReadError) as exc:
        return ParsedReturn(file_format, issues=[exc.issue])
    except Exception:  # a bug of ours must reject the file, not stop the ingestion run
        log.exception("internal error while checking %s", path.name)
        return ParsedReturn(
            file_format,
            issues=[
                _issue(
                    "internal_error",
                    "",
                    "",
                    "the file could not be checked because of an internal error — "
                    "please contact the data team",
                )
            ],
        )
