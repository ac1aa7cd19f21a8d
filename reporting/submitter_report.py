"""The validation report page a submitter gets back for every file they send.

`<submission_id>.html` under `home.reports`, rendered from the JSON record that ingestion
writes (`ingestion.report`): one self-contained page (inline CSS, no external assets)
with a status banner, the issues sorted by place, what to do next, and the content
validation findings once the dbt build has run. Everything in a return is untrusted text.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path

from ingestion.report import (
    REPORT_VERSION,
    atomic_write,
    jsonable,
    report_json_path,
    shorten,
    write_report_json,
)
from runtime.home import Home


def write_html(json_path: Path) -> Path:
    """Render `<submission>.html` beside its JSON record; return the page's path."""
    report = json.loads(Path(json_path).read_text(encoding="utf-8"))
    html_path = Path(json_path).with_suffix(".html")
    page = render_html(report)
    if report.get("content_findings") is not None:
        section = _findings_html(report["content_findings"]["findings"])
        marker = "<footer>"
        page = page.replace(marker, section + marker, 1) if marker in page else page + section
    atomic_write(html_path, page)
    return html_path


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
    facts_html = "".join(f"<dt>{e(str(k))}</dt><dd>{e(shorten(v))}</dd>" for k, v in facts)
    steps_html = "".join(f"<li>{e(s)}</li>" for s in _next_steps(status, errors, warnings))

    if report["issues"]:
        rows = "".join(
            "<tr>"
            f'<td class="sev-{e(str(i["severity"]))}">{e(str(i["severity"]))}</td>'
            f"<td><code>{e(shorten(i['place']))}</code></td>"
            f"<td>{e(shorten(i['message'], 1000))}</td>"
            f"<td><code>{e(shorten(i['value']))}</code></td>"
            f"<td>{e(shorten(i['expected']))}</td>"
            f"<td><code>{e(shorten(i['code']))}</code></td>"
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
        f"<title>{e(shorten(title))}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(shorten(title))}</h1>"
        f'<div class="banner {banner_class}">{e(banner)}</div>'
        f"<dl>{facts_html}</dl>"
        f"<h2>What to do next</h2><ul>{steps_html}</ul>"
        f"<h2>Issues ({errors} error(s), {warnings} warning(s))</h2>{issues_html}"
        f"<footer>mhbench validation report v{REPORT_VERSION}, format v1. "
        "Places are <code>Sheet!Cell</code> in the workbook or the line in a CSV file."
        "</footer></body></html>\n"
    )


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
            f"<td><code>{e(shorten(f.get('rule_id')))}</code></td>"
            f"<td>{e(shorten(f.get('message'), 1000))}"
            f"<br><small>{e(shorten(f.get('rule_description'), 1000))}</small></td>"
            f"<td><code>{e(shorten(f.get('items_involved')))}</code></td>"
            f"<td>{'yes' if f.get('explained') else 'no'}</td>"
            f"<td>{e(shorten(f.get('submitter_comment')))}</td>"
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
    json_path = report_json_path(home, submission_id)
    if not json_path.exists():
        return None
    report = json.loads(json_path.read_text(encoding="utf-8"))
    kept = [{k: jsonable(f.get(k)) for k in FINDING_FIELDS} for f in findings]
    errors = sum(1 for f in kept if f["severity"] == "error")
    report["content_findings"] = {
        "evaluated_at": jsonable(evaluated_at) if evaluated_at else None,
        "counts": {
            "errors": errors,
            "warnings": len(kept) - errors,
            "warnings_explained": sum(
                1 for f in kept if f["severity"] != "error" and f["explained"]
            ),
        },
        "findings": kept,
    }
    write_report_json(json_path, report)
    return write_html(json_path)
