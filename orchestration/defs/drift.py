"""Benchmark drift: a non-blocking check comparing mart_benchmark with the current release.

A median that moved more than the threshold (expectations/drift.py) since the release
analysts are reading now is a warning for a person to look at; it never stops the
release. The metadata lists the indicator-years that moved.
"""

import dagster as dg

from orchestration.defs.quality import data_docs_metadata, gate_data_docs
from orchestration.defs.resources import HomeResource
from reporting.markdown import markdown_table

DRIFT_CHECK_NAME = "gx_mart_benchmark_drift"
DRIFT_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey(["marts", "mart_benchmark"]), DRIFT_CHECK_NAME)


def run_drift_check(
    paths, threshold_pct: float | None = None, data_docs=None
) -> dg.AssetCheckResult:
    """Validate the drift frame (build vs current release) with its GE suite.

    With `data_docs` (an expectations.runner.DataDocsSite), GE renders the validation there.
    """
    from expectations.drift import (
        DRIFT_THRESHOLD_PCT,
        drift_frame,
        drift_suite,
        drifting,
        validate_drift,
    )
    from publishing.store import current_release

    threshold = DRIFT_THRESHOLD_PCT if threshold_pct is None else threshold_pct
    description = drift_suite(threshold)["description"]
    previous = current_release(paths)
    if previous is None:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"previous_release": "none", "threshold_pct": threshold},
            description="No previous release to compare with.",
        )
    frame = drift_frame(previous.database, paths.warehouse)
    outcome = validate_drift(frame, threshold, data_docs=data_docs)
    moved = drifting(frame, threshold)
    return dg.AssetCheckResult(
        passed=not outcome.failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "previous_release": previous.release_id,
            "threshold_pct": threshold,
            "medians_compared": int(frame["abs_pct_change"].notna().sum()),
            "medians_drifting": len(moved),
            "expectations_failed": len(outcome.failed),
            "failed_expectations": dg.MetadataValue.md(
                markdown_table(
                    [
                        {"expectation": f.expectation, "column": f.column, "detail": f.describe()}
                        for f in outcome.failed
                    ]
                )
            ),
            "drifting_indicators": dg.MetadataValue.md(markdown_table(moved, limit=50)),
            **data_docs_metadata(outcome, data_docs),
        },
        description=description,
    )


@dg.asset_check(
    asset=dg.AssetKey(["marts", "mart_benchmark"]),
    name=DRIFT_CHECK_NAME,
    blocking=False,
    description=(
        "Benchmark medians compared with the current release: a move of more than 50% is a "
        "warning (expectations/drift.py), never blocking."
    ),
)
def benchmark_drift_check(
    context: dg.AssetCheckExecutionContext, home: HomeResource
) -> dg.AssetCheckResult:
    paths = home.home
    return run_drift_check(paths, data_docs=gate_data_docs(paths, context.run.run_id))
