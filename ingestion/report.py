"""The validation report a submitter gets back for every file they send.

This module writes `<submission_id>.json` under `home.reports`: what was read, every
issue with its place, and (added after the dbt build) the content findings. It is the
record; `reporting.submitter_report` renders the page for people from it
(`<submission_id>.html`), and the CLI prints it for `mhbench validate`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

from ingestion.records import Issue, ParsedReturn
from runtime.home import Home

REPORT_VERSION = 1
_MAX_SHOWN = 200  # characters of an untrusted value shown in HTML / on the console
_CHUNKS = re.compile(r"(\d+)")


def place_key(place: str) -> tuple:
    """Sort key for places: file-level first, then by sheet, column, row (naturally).

    `Data!D9` sorts before `Data!D10`; `line 2` before `line 10`.
    """
    text = (place or "").strip()
    if text.lower() in ("", "file"):
        return (0, ())
    if "!" in text:
        sheet, cell = text.split("!", 1)
        match = re.fullmatch(r"\$?([A-Za-z]+)\$?(\d+)", cell)
        if match:
            letters, row = match.groups()
            return (1, (sheet.lower(), int(row), len(letters), letters.upper()))
    parts = tuple(int(c) if c.isdigit() else c.lower() for c in _CHUNKS.split(text) if c)
    return (2, tuple((isinstance(p, int), p if isinstance(p, int) else 0, str(p)) for p in parts))


def sorted_issues(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (place_key(i.place), i.severity != "error", i.code))


def shorten(text: object, limit: int = _MAX_SHOWN) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_report(
    submission_id: str,
    original_filename: str,
    sha256: str,
    parsed: ParsedReturn,
    status: str,
    received_at: datetime,
    held: str | None = None,
) -> dict:
    """The machine-readable report (what goes into `<submission_id>.json`).

    `held` is why a file that passed validation is held (its participant-year is approved).
    """
    issues = sorted_issues(parsed.issues)
    errors = sum(1 for i in issues if i.severity == "error")
    return {
        "report_version": REPORT_VERSION,
        "submission_id": submission_id,
        "status": status,
        "held_because": held,
        "received_at": received_at.isoformat(),
        "file": {
            "original_filename": original_filename,
            "sha256": sha256,
            "format": parsed.file_format,
        },
        "participant": {
            "code": jsonable(parsed.about.get("participant_code")),
            "name": jsonable(parsed.about.get("participant_name")),
        },
        "year": parsed.collection_year,
        "about": {k: jsonable(v) for k, v in parsed.about.items()},
        "counts": {
            "errors": errors,
            "warnings": len(issues) - errors,
            "values": len(parsed.values),
        },
        "issues": [asdict(i) for i in issues],
    }


def write_report(
    home: Home,
    submission_id: str,
    original_filename: str,
    sha256: str,
    parsed: ParsedReturn,
    status: str,
    received_at: datetime,
    held: str | None = None,
) -> Path:
    """Write `<submission_id>.json` under `home.reports`; return its path.

    The page for people (`<submission_id>.html`, beside it) is rendered from this JSON by
    reporting (`reporting.submitter_report`), which the registry is handed by its caller.
    """
    report = build_report(
        submission_id, original_filename, sha256, parsed, status, received_at, held=held
    )
    json_path = report_json_path(home, submission_id)
    write_report_json(json_path, report)
    return json_path


def report_json_path(home: Home, submission_id: str) -> Path:
    return home.reports / f"{submission_id}.json"


def report_html_path(home: Home, submission_id: str) -> Path:
    return home.reports / f"{submission_id}.html"


def write_report_json(path: Path, report: dict) -> None:
    atomic_write(path, json.dumps(report, indent=2, ensure_ascii=False))


def issue_lines(parsed: ParsedReturn, filename: str | None = None) -> list[str]:
    """Plain-text lines: a summary, then one line per issue sorted by place."""
    errors = len(parsed.errors)
    warnings = len(parsed.issues) - errors
    verdict = "REJECTED" if errors else "OK"
    head = f"{filename}: " if filename else ""
    lines = [
        f"{head}{verdict}: {errors} error(s), {warnings} warning(s), "
        f"{len(parsed.values)} value(s) read"
    ]
    for i in sorted_issues(parsed.issues):
        detail = f"{i.severity.upper():7} {i.place}: {i.message}"
        if i.value:
            detail += f" (seen {shorten(i.value, 80)!r}"
            detail += f", expected {i.expected})" if i.expected else ")"
        elif i.expected:
            detail += f" (expected {i.expected})"
        lines.append(f"{detail} [{i.code}]")
    return lines
