"""The validation report a submitter gets back for every file they send.

Two files per submission under `home.reports`:

- `<submission_id>.json` for machines (the pipeline, the CLI, tests);
- `<submission_id>.html` for people: one self-contained page (inline CSS, no
  external assets) with a status banner, the issues sorted by place and what
  to do next.

Everything in a return is untrusted text, so every value is escaped.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.home import Home
from ingestion.records import Issue, ParsedReturn

if TYPE_CHECKING:
    from rich.console import RenderableType

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


def _shorten(text: object, limit: int = _MAX_SHOWN) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _atomic_write(path: Path, text: str) -> None:
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
) -> dict:
    """The machine-readable report (what goes into `<submission_id>.json`)."""
    issues = sorted_issues(parsed.issues)
    errors = sum(1 for i in issues if i.severity == "error")
    return {
        "report_version": REPORT_VERSION,
        "submission_id": submission_id,
        "status": status,
        "received_at": received_at.isoformat(),
        "file": {
            "original_filename": original_filename,
            "sha256": sha256,
            "format": parsed.file_format,
        },
        "participant": {
            "code": _jsonable(parsed.about.get("participant_code")),
            "name": _jsonable(parsed.about.get("participant_name")),
        },
        "year": parsed.collection_year,
        "about": {k: _jsonable(v) for k, v in parsed.about.items()},
        "counts": {
            "errors": errors,
            "warnings": len(issues) - errors,
            "values": len(parsed.values),
        },
        "issues": [asdict(i) for i in issues],
    }


def _next_steps(status: str, errors: int, warnings: int) -> list[str]:
    if status == "rejected":
        return [
            "This file was rejected as a whole: none of its values were loaded.",
            "Correct every error listed below (the place column gives the sheet and cell).",
            "Send the complete corrected file again; it will replace this one.",
            "If an error looks wrong to you, reply to the collection team with this report.",
        ]
    steps = ["Your return was accepted and will be included in the next release."]
    if warnings:
        steps += [
            f"Please review the {warnings} warning(s) below.",
            "If a value is correct, say so in the comment column; otherwise correct it "
            "and send the complete file again (a newer file replaces this one).",
        ]
    else:
        steps.append("No action is needed.")
    return steps


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;color:#1d2733;line-height:1.45}
h1{font-size:1.4rem;margin-bottom:.2rem}
.banner{padding:1rem 1.2rem;border-radius:.4rem;margin:1rem 0;font-size:1.1rem;font-weight:600}
.accepted{background:#e3f4e8;border-left:.4rem solid #2e8b57}
.rejected{background:#fbe5e5;border-left:.4rem solid #c0392b}
.warned{background:#fff4d6;border-left:.4rem solid #d4a017}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.95rem}
dt{color:#5a6775}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin-top:.5rem}
th,td{border-bottom:1px solid #d8dee6;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7}td{overflow-wrap:anywhere}
.sev-error{color:#c0392b;font-weight:600}.sev-warning{color:#9a6b00;font-weight:600}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
footer{margin-top:2rem;color:#7a8591;font-size:.8rem}
"""


def render_html(report: dict) -> str:
    """The people's page for a report dict from `build_report`."""
    e = html.escape
    status = str(report["status"])
    counts = report["counts"]
    errors, warnings = int(counts["errors"]), int(counts["warnings"])
    if status == "rejected":
        banner_class, banner = "rejected", f"Rejected: {errors} error(s) must be corrected"
    elif warnings:
        banner_class, banner = "warned", f"Accepted with {warnings} warning(s)"
    else:
        banner_class, banner = "accepted", "Accepted: no issues found"

    participant = report["participant"]
    who = " ".join(str(p) for p in (participant.get("code"), participant.get("name")) if p)
    facts = [
        ("File", report["file"]["original_filename"]),
        ("Participant", who or "(not stated)"),
        ("Collection year", report["year"] if report["year"] is not None else "(not stated)"),
        ("Received", report["received_at"]),
        ("Submission", report["submission_id"]),
        ("SHA-256", report["file"]["sha256"]),
        ("Values read", counts["values"]),
    ]
    facts_html = "".join(f"<dt>{e(str(k))}</dt><dd>{e(_shorten(v))}</dd>" for k, v in facts)
    steps_html = "".join(f"<li>{e(s)}</li>" for s in _next_steps(status, errors, warnings))

    if report["issues"]:
        rows = "".join(
            "<tr>"
            f'<td class="sev-{e(str(i["severity"]))}">{e(str(i["severity"]))}</td>'
            f"<td><code>{e(_shorten(i['place']))}</code></td>"
            f"<td>{e(_shorten(i['message'], 1000))}</td>"
            f"<td><code>{e(_shorten(i['value']))}</code></td>"
            f"<td>{e(_shorten(i['expected']))}</td>"
            f"<td><code>{e(_shorten(i['code']))}</code></td>"
            "</tr>"
            for i in report["issues"]
        )
        issues_html = (
            "<table><thead><tr><th>Severity</th><th>Place</th><th>Problem</th>"
            "<th>Value seen</th><th>Expected</th><th>Code</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        issues_html = "<p>No issues.</p>"

    title = f"Validation report: {report['file']['original_filename']}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(_shorten(title))}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(_shorten(title))}</h1>"
        f'<div class="banner {banner_class}">{e(banner)}</div>'
        f"<dl>{facts_html}</dl>"
        f"<h2>What to do next</h2><ul>{steps_html}</ul>"
        f"<h2>Issues ({errors} error(s), {warnings} warning(s))</h2>{issues_html}"
        f"<footer>mhbench validation report v{REPORT_VERSION}, format v1. "
        "Places are <code>Sheet!Cell</code> in the workbook or the line in a CSV file."
        "</footer></body></html>\n"
    )


def write_report(
    home: Home,
    submission_id: str,
    original_filename: str,
    sha256: str,
    parsed: ParsedReturn,
    status: str,
    received_at: datetime,
) -> Path:
    """Write `<submission_id>.json` and `.html` under `home.reports`; return the HTML path."""
    report = build_report(submission_id, original_filename, sha256, parsed, status, received_at)
    base = home.reports / submission_id
    _atomic_write(base.with_suffix(".json"), json.dumps(report, indent=2, ensure_ascii=False))
    html_path = base.with_suffix(".html")
    _atomic_write(html_path, render_html(report))
    return html_path


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
            detail += f" (seen {_shorten(i.value, 80)!r}"
            detail += f", expected {i.expected})" if i.expected else ")"
        elif i.expected:
            detail += f" (expected {i.expected})"
        lines.append(f"{detail} [{i.code}]")
    return lines


def render_text(parsed: ParsedReturn, filename: str | None = None) -> RenderableType:
    """A rich renderable for `mhbench validate FILE`: verdict line plus a table of issues."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    errors = len(parsed.errors)
    warnings = len(parsed.issues) - errors
    head = f"{filename}: " if filename else ""
    if errors:
        verdict = Text(f"{head}rejected: {errors} error(s), {warnings} warning(s)", "bold red")
    elif warnings:
        verdict = Text(f"{head}accepted with {warnings} warning(s)", "bold yellow")
    else:
        verdict = Text(f"{head}accepted: no issues", "bold green")
    verdict.append(f"  ({len(parsed.values)} value(s) read)", "dim")
    if not parsed.issues:
        return verdict
    table = Table(show_lines=False, header_style="bold")
    for name in ("severity", "place", "problem", "seen", "expected", "code"):
        table.add_column(name, overflow="fold")
    for i in sorted_issues(parsed.issues):
        style = "red" if i.severity == "error" else "yellow"
        # Text objects, not strings: untrusted values must not be read as rich markup.
        table.add_row(
            Text(i.severity, style),
            Text(i.place),
            Text(i.message),
            Text(_shorten(i.value, 80)),
            Text(i.expected),
            Text(i.code, "dim"),
        )
    return Group(verdict, table)


# --------------------------------------------------------------------------- content findings

FINDING_FIELDS = (
    "rule_id",
    "severity",
    "kind",
    "message",
    "items_involved",
    "values_involved",
    "explained",
    "submitter_comment",
    "rule_description",
)


def _findings_html(findings: list[dict]) -> str:
    """The 'Content validation' section of the HTML report (values escaped)."""
    e = html.escape
    errors = sum(1 for f in findings if f.get("severity") == "error")
    warnings = len(findings) - errors
    explained = sum(1 for f in findings if f.get("severity") != "error" and f.get("explained"))
    if errors:
        banner_class = "rejected"
        banner = (
            f"Content validation: {errors} error(s) keep the values involved out of the "
            "release until a corrected return arrives"
        )
    elif warnings:
        banner_class = "warned"
        banner = f"Content validation: {warnings} warning(s), {explained} explained by a comment"
    else:
        banner_class, banner = "accepted", "Content validation: all rules passed"
    steps = []
    if errors:
        steps.append(
            "Correct the values named in each error and send the complete file again; "
            "a newer file replaces this one."
        )
    if warnings - explained:
        steps.append(
            "For each unexplained warning, correct the value or explain it in the comment "
            "column of an item involved."
        )
    steps_html = "".join(f"<li>{e(s)}</li>" for s in steps)
    if findings:
        rows = "".join(
            "<tr>"
            f'<td class="sev-{e(str(f.get("severity")))}">{e(str(f.get("severity")))}</td>'
            f"<td><code>{e(_shorten(f.get('rule_id')))}</code></td>"
            f"<td>{e(_shorten(f.get('message'), 1000))}"
            f"<br><small>{e(_shorten(f.get('rule_description'), 1000))}</small></td>"
            f"<td><code>{e(_shorten(f.get('items_involved')))}</code></td>"
            f"<td>{'yes' if f.get('explained') else 'no'}</td>"
            f"<td>{e(_shorten(f.get('submitter_comment')))}</td>"
            "</tr>"
            for f in sorted(
                findings, key=lambda f: (f.get("severity") != "error", f.get("rule_id"))
            )
        )
        table = (
            "<table><thead><tr><th>Severity</th><th>Rule</th><th>Finding</th><th>Items</th>"
            "<th>Explained</th><th>Your comment</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        table = "<p>No findings.</p>"
    return (
        '<section id="content-validation">'
        f"<h2>Content validation ({errors} error(s), {warnings} warning(s))</h2>"
        f'<div class="banner {banner_class}">{e(banner)}</div>'
        + (f"<ul>{steps_html}</ul>" if steps_html else "")
        + f"{table}</section>"
    )


def append_findings(
    home: Home, submission_id: str, findings: list[dict], evaluated_at: datetime | None = None
) -> Path | None:
    """Add the content validation findings of a submission to its report (JSON and HTML).

    The JSON gains `content_findings` (counts and one entry per finding, FINDING_FIELDS);
    the HTML is rendered again from the JSON with a 'Content validation' section before the
    footer. Calling it again replaces the previous findings. Returns the HTML path, or None
    when the submission has no report.
    """
    base = home.reports / submission_id
    json_path = base.with_suffix(".json")
    if not json_path.exists():
        return None
    report = json.loads(json_path.read_text(encoding="utf-8"))
    kept = [{k: _jsonable(f.get(k)) for k in FINDING_FIELDS} for f in findings]
    errors = sum(1 for f in kept if f["severity"] == "error")
    report["content_findings"] = {
        "evaluated_at": _jsonable(evaluated_at) if evaluated_at else None,
        "counts": {
            "errors": errors,
            "warnings": len(kept) - errors,
            "warnings_explained": sum(
                1 for f in kept if f["severity"] != "error" and f["explained"]
            ),
        },
        "findings": kept,
    }
    _atomic_write(json_path, json.dumps(report, indent=2, ensure_ascii=False))
    page = render_html(report)
    section = _findings_html(kept)
    marker = "<footer>"
    page = page.replace(marker, section + marker, 1) if marker in page else page + section
    html_path = base.with_suffix(".html")
    _atomic_write(html_path, page)
    return html_path
