"""`releases/<id>/quality.html`: the gate results of a release, one self-contained page.

Rendered from the release manifest (gate checks with their Great Expectations
metadata, and the benchmark drift against the previous release). For each suite it
lists every expectation of `expectations/suites/<mart>.json` with its outcome and, for
a failed one, the sample failing values GE reported. It is the overview: the full
validation results are in the release's Great Expectations Data Docs (docs/gx/), which
it links to, page by page. The page is the template `templates/quality_report.html`.
"""

from __future__ import annotations

import json

from expectations.check_status import CheckStatus
from expectations.runner import suite_path
from reporting.templating import render, watermark_for

QUALITY_FILE = "quality.html"


def _status_class(status: str) -> str:
    return {CheckStatus.SUCCEEDED: "pass", CheckStatus.FAILED: "fail"}.get(status, "warn")


def _expectation_column(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    columns = kwargs.get("column_list") or [
        kwargs[k] for k in ("column_A", "column_B") if k in kwargs
    ]
    return ",".join(columns) or None


def _suite(check: dict) -> dict:
    """A gate check of a GE suite: each expectation of the suite and its outcome."""
    name = check.get("check", "")
    mart = name.rsplit(":gx_", 1)[-1] if ":gx_" in name else None
    failures = check.get("failures") or []
    suite = {
        "check": check.get("check"),
        "data_docs": check.get("data_docs"),
        "description": None,
        "expectations": None,  # the suite's file is not there: only the failures GE reported
        "failures": [
            {
                "expectation": f.get("expectation"),
                "column": f.get("column"),
                "detail": f.get("detail"),
            }
            for f in failures
        ],
    }
    spec_path = suite_path(mart) if mart else None
    if spec_path is None or not spec_path.exists():
        return suite
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    suite["description"] = spec.get("description")
    decided = CheckStatus(check.get("status", CheckStatus.NOT_RUN)).decided
    expectations = []
    for expectation in spec["expectations"]:
        kwargs = expectation.get("kwargs", {})
        column = _expectation_column(kwargs)
        blocking = (expectation.get("meta") or {}).get("blocking", True)
        failed = [
            f
            for f in failures
            if f.get("expectation") == expectation["type"] and (f.get("column") or None) == column
        ]
        if not decided:
            outcome, outcome_class = "not evaluated", "warn"
        elif failed:
            outcome, outcome_class = "failed", "fail" if blocking else "warn"
        else:
            outcome, outcome_class = "passed", "pass"
        args = {k: v for k, v in kwargs.items() if k not in ("column", "column_list")}
        expectations.append(
            {
                "type": expectation["type"],
                "column": column,
                "arguments": json.dumps(args, default=str) if args else "",
                "kind": "blocking" if blocking else "warning",
                "outcome": outcome,
                "outcome_class": outcome_class,
                "failing": [f.get("detail") for f in failed],
            }
        )
    suite["expectations"] = expectations
    return suite


def _drift(drift: dict | None) -> dict | None:
    if not drift:
        return None
    return {
        "previous_release": drift.get("previous_release"),
        "compared": drift.get("compared", 0),
        "threshold_pct": drift.get("threshold_pct"),
        "drifting": drift.get("drifting", []),
    }


def render_quality_report(manifest: dict) -> str:
    """The quality report of a release as one HTML page (no external assets)."""
    checks = manifest.get("checks", [])
    return render(
        "quality_report.html",
        watermark=watermark_for(manifest),
        release={
            k: manifest.get(k)
            for k in (
                "release_id",
                "created_at",
                "code_version",
                "dictionary_version",
                "previous_release",
            )
        },
        data_docs_index=(manifest.get("docs") or {}).get("great_expectations"),
        checks=[
            {
                "name": c.get("check"),
                "kind": "blocking" if c.get("blocking", True) else "warning",
                "status": c.get("status"),
                "status_class": _status_class(c.get("status", "")),
                "rows_validated": c.get("rows_validated"),
                "expectations_evaluated": c.get("expectations_evaluated"),
                "expectations_failed": c.get("expectations_failed"),
                "data_docs": c.get("data_docs"),
            }
            for c in checks
        ],
        drift=_drift(manifest.get("drift")),
        suites=[
            _suite(c) for c in checks if c.get("check", "").rsplit(":", 1)[-1].startswith("gx_")
        ],
    )
