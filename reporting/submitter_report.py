"""The validation report page a submitter gets back for every file they send.

`<submission_id>.html` under `home.reports`, rendered from the JSON record that ingestion
writes (`ingestion.report`): one self-contained page (inline CSS, no external assets)
with a status banner, the issues sorted by place, what to do next, and the content
validation findings once the dbt build has run. Everything in a return is untrusted text:
the page is the template `templates/submitter_report.html`, whose engine escapes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from ingestion.report import (
    REPORT_VERSION,
    atomic_write,
    jsonable,
    report_json_path,
    write_report_json,
)
from reporting.templating import render
from runtime.home import Home


def write_html(json_path: Path) -> Path:
    """Render `<submission>.html` beside its JSON record; return the page's path."""
    report = json.loads(Path(json_path).read_text(encoding="utf-8"))
    html_path = Path(json_path).with_suffix(".html")
    atomic_write(html_path, render_html(report))
    return html_path


def _next_steps(status: str, errors: int, warnings: int, held: str | None) -> list[str]:
    if status == "held":
        return [
            f"This file passed validation but is held: {held}",
            "It is kept, and nothing in it is lost. It will be used only if the collection "
            "team reopens this participant-year; until then the approved return stands.",
            "If this file corrects the approved return, ask the collection team to reopen it.",
        ]
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


def render_html(report: dict) -> str:
    """The people's page for a report dict from `build_report`.

    With the record's `content_findings` (added by `append_findings` once the dbt build has
    run), the page has a 'Content validation' section before its footer.
    """
    status = str(report["status"])
    counts = report["counts"]
    errors, warnings = int(counts["errors"]), int(counts["warnings"])
    if status == "held":
        banner_class, banner = "warned", "Held: this participant-year is already approved"
    elif status == "rejected":
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
    content = report.get("content_findings")
    return render(
        "submitter_report.html",
        title=f"Validation report: {report['file']['original_filename']}",
        banner_class=banner_class,
        banner=banner,
        facts=facts,
        steps=_next_steps(status, errors, warnings, report.get("held_because")),
        errors=errors,
        warnings=warnings,
        issues=[
            {k: issue[k] for k in ("severity", "place", "message", "value", "expected", "code")}
            for issue in report["issues"]
        ],
        content=None if content is None else _content_findings(content["findings"]),
        queries=report.get("open_queries"),
        report_version=REPORT_VERSION,
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


def _content_findings(findings: list[dict]) -> dict:
    """What the 'Content validation' section shows: counts, banner, next steps, findings."""
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
    shown = sorted(findings, key=lambda f: (f.get("severity") != "error", f.get("rule_id")))
    return {
        "errors": errors,
        "warnings": warnings,
        "banner_class": banner_class,
        "banner": banner,
        "steps": steps,
        "findings": [{k: f.get(k) for k in FINDING_FIELDS} for f in shown],
    }


QUERY_FIELDS = ("query_id", "item_code", "raised_by", "raised_at", "text", "state", "answers")


def append_findings(
    home: Home,
    submission_id: str,
    findings: list[dict],
    evaluated_at: datetime | None = None,
    queries: list[dict] | None = None,
) -> Path | None:
    """Add the content validation findings of a submission to its report (JSON and HTML).

    The JSON gains `content_findings` (counts and one entry per finding, FINDING_FIELDS);
    the HTML is rendered again from the JSON with a 'Content validation' section before the
    footer. Calling it again replaces the previous findings. `queries` are the open queries
    of the participant-year (`mart_queries`), listed beside the findings. Returns the HTML
    path, or None when the submission has no report.
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
    if queries is not None:
        report["open_queries"] = [
            {k: jsonable(q.get(k)) if k != "answers" else _answers(q.get(k)) for k in QUERY_FIELDS}
            for q in queries
        ]
    write_report_json(json_path, report)
    return write_html(json_path)


def _answers(answers: list[dict] | None) -> list[dict]:
    return [{k: jsonable(v) for k, v in answer.items()} for answer in answers or []]
