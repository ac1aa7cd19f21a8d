"""`releases/<id>/quality.html`: the gate results of a release, one self-contained page.

Rendered from the release manifest (gate checks with their Great Expectations
metadata, and the benchmark drift against the previous release). For each suite it
lists every expectation of `expectations/suites/<mart>.json` with its outcome and, for
a failed one, the sample failing values GE reported. It is the overview: the full
validation results are in the release's Great Expectations Data Docs (docs/gx/), which
it links to, page by page.
"""

from __future__ import annotations

import html
import json
from typing import Any

from expectations.check_status import CheckStatus
from expectations.runner import suite_path

QUALITY_FILE = "quality.html"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f3f3f3}.pass{color:#176c2b;font-weight:600}.fail{color:#b00020;font-weight:600}
.warn{color:#9a6700;font-weight:600}code{font-size:.85rem}h2{margin-top:2rem}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _status_class(status: str) -> str:
    return {CheckStatus.SUCCEEDED: "pass", CheckStatus.FAILED: "fail"}.get(status, "warn")


def _table(columns: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells are already escaped HTML."""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _expectation_column(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    columns = kwargs.get("column_list") or [
        kwargs[k] for k in ("column_A", "column_B") if k in kwargs
    ]
    return ",".join(columns) or None


def _suite_section(check: dict) -> str:
    name = check.get("check", "")
    mart = name.rsplit(":gx_", 1)[-1] if ":gx_" in name else None
    failures = check.get("failures") or []
    parts = []
    spec_path = suite_path(mart) if mart else None
    if spec_path is not None and spec_path.exists():
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        if spec.get("description"):
            parts.append(f"<p>{_e(spec['description'])}</p>")
        rows = []
        for expectation in spec["expectations"]:
            kwargs = expectation.get("kwargs", {})
            column = _expectation_column(kwargs)
            blocking = (expectation.get("meta") or {}).get("blocking", True)
            failed = [
                f
                for f in failures
                if f.get("expectation") == expectation["type"]
                and (f.get("column") or None) == column
            ]
            if not CheckStatus(check.get("status", CheckStatus.NOT_RUN)).decided:
                outcome = '<span class="warn">not evaluated</span>'
            elif failed:
                outcome = f'<span class="{"fail" if blocking else "warn"}">failed</span>'
            else:
                outcome = '<span class="pass">passed</span>'
            args = {k: v for k, v in kwargs.items() if k not in ("column", "column_list")}
            rows.append(
                [
                    f"<code>{_e(expectation['type'])}</code>",
                    _e(column),
                    f"<code>{_e(json.dumps(args, default=str))}</code>" if args else "",
                    "blocking" if blocking else "warning",
                    outcome,
                    "<br>".join(_e(f.get("detail")) for f in failed),
                ]
            )
        parts.append(
            _table(
                ["expectation", "column", "arguments", "kind", "outcome", "failing values"], rows
            )
        )
    elif failures:
        parts.append(
            _table(
                ["expectation", "column", "detail"],
                [
                    [_e(f.get("expectation")), _e(f.get("column")), _e(f.get("detail"))]
                    for f in failures
                ],
            )
        )
    return "".join(parts)


def _drift_section(drift: dict | None) -> str:
    if not drift:
        return "<h2>Benchmark drift</h2><p>Not computed.</p>"
    if not drift.get("previous_release"):
        return "<h2>Benchmark drift</h2><p>No previous release to compare with.</p>"
    drifting = drift.get("drifting", [])
    head = (
        f"<h2>Benchmark drift (warning, never blocks)</h2><p>Medians of "
        f"<code>mart_benchmark</code> compared with release {_e(drift['previous_release'])} "
        f"on {drift.get('compared', 0)} indicator-years: {len(drifting)} moved more than "
        f"{_e(drift.get('threshold_pct'))}%.</p>"
    )
    if not drifting:
        return head
    rows = [
        [
            _e(d["indicator_code"]),
            _e(d["collection_year"]),
            _e(d["previous_median"]),
            _e(d["median"]),
            f'<span class="warn">{_e(d["abs_pct_change"])}</span>',
        ]
        for d in drifting
    ]
    return head + _table(["indicator", "year", "previous median", "median", "abs % change"], rows)


def _link(href: str | None, text: str) -> str:
    """A link to a file of the release (a relative path), or nothing."""
    return f'<a href="{_e(href)}">{_e(text)}</a>' if href else ""


def _data_docs_intro(manifest: dict) -> str:
    index = (manifest.get("docs") or {}).get("great_expectations")
    if not index:
        return ""
    return (
        f"<p>Every validation in full, as Great Expectations reports it: "
        f"{_link(index, 'Great Expectations Data Docs')} (one page per suite validated in "
        "the run that decided this release).</p>"
    )


def render_quality_report(manifest: dict) -> str:
    """The quality report of a release as one HTML page (no external assets)."""
    checks = manifest.get("checks", [])
    summary_rows = [
        [
            _e(c.get("check")),
            "blocking" if c.get("blocking", True) else "warning",
            f'<span class="{_status_class(c.get("status", ""))}">{_e(c.get("status"))}</span>',
            _e(c.get("rows_validated")),
            _e(c.get("expectations_evaluated")),
            _e(c.get("expectations_failed")),
            _link(c.get("data_docs"), "validation"),
        ]
        for c in checks
    ]
    sections = [
        f"<h2>{_e(c.get('check'))}</h2>"
        + (
            f"<p>{_link(c['data_docs'], 'Data Docs of this validation')}</p>"
            if c.get("data_docs")
            else ""
        )
        + _suite_section(c)
        for c in checks
        if c.get("check", "").rsplit(":", 1)[-1].startswith("gx_")
    ]
    meta = _table(
        ["release", "created at", "code version", "dictionary version", "previous release"],
        [
            [
                _e(manifest.get("release_id")),
                _e(manifest.get("created_at")),
                _e(manifest.get("code_version")),
                _e(manifest.get("dictionary_version")),
                _e(manifest.get("previous_release")),
            ]
        ],
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>mhbench release {_e(manifest.get('release_id'))}: quality report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Quality report, release {_e(manifest.get('release_id'))}</h1>{meta}"
        "<h2>Publication gate</h2>"
        + _data_docs_intro(manifest)
        + _table(
            ["check", "kind", "status", "rows", "expectations", "failed", "Data Docs"],
            summary_rows,
        )
        + _drift_section(manifest.get("drift"))
        + "".join(sections)
        + "</body></html>\n"
    )
