"""Benchmark drift: how far each median of `mart_benchmark` moved since the previous release.

A median that moves more than `DRIFT_THRESHOLD_PCT` percent is worth a second look
(a unit error in a return, a participant that dropped out) but can be real, so the
expectation is a warning: `meta.blocking` is false and it never stops a release.

The frame compared is derived from two DuckDB files, the build warehouse and the
previous release, joined on (indicator_code, collection_year): indicator-years that
exist in only one of them are new or gone, not drift. A previous median of 0 gives no
percentage (the change is left empty and not judged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expectations.runner import DataDocsSite, SuiteOutcome

DRIFT_THRESHOLD_PCT = 50.0

DRIFT_QUERY = """
select b.indicator_code, b.collection_year,
  p.median as previous_median, b.median as median,
  case
    when p.median is not distinct from b.median then 0.0
    when p.median = 0 then null
    else abs(b.median - p.median) / abs(p.median) * 100
  end as abs_pct_change
from build.marts.mart_benchmark b
join previous.marts.mart_benchmark p using (indicator_code, collection_year)
order by b.indicator_code, b.collection_year
"""


def drift_suite(threshold_pct: float = DRIFT_THRESHOLD_PCT) -> dict[str, Any]:
    """The suite (same shape as expectations/suites/*.json) run on `drift_frame`."""
    return {
        "name": "mart_benchmark_drift",
        # what the Data Docs page names as the data validated
        "data_asset": "marts.mart_benchmark vs the current release",
        "description": (
            f"Benchmark medians move at most {threshold_pct:g}% from the previous release "
            "(warning only: a large move is checked by a person, it does not block)."
        ),
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "abs_pct_change", "min_value": 0, "max_value": threshold_pct},
                "meta": {"blocking": False},
            }
        ],
    }


def drift_frame(previous_db: Path, build_db: Path):
    """Previous and current median per indicator-year, with the absolute % change."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"attach '{previous_db}' as previous (read_only)")
        con.execute(f"attach '{build_db}' as build (read_only)")
        return con.execute(DRIFT_QUERY).df()


def drifting(frame, threshold_pct: float = DRIFT_THRESHOLD_PCT) -> list[dict[str, Any]]:
    """The rows of `frame` whose median moved more than threshold_pct, largest move first."""
    moved = frame[frame["abs_pct_change"] > threshold_pct].sort_values(
        "abs_pct_change", ascending=False
    )
    return [
        {
            "indicator_code": r.indicator_code,
            "collection_year": int(r.collection_year),
            "previous_median": float(r.previous_median),
            "median": None if r.median != r.median else float(r.median),
            "abs_pct_change": round(float(r.abs_pct_change), 2),
        }
        for r in moved.itertuples()
    ]


def validate_drift(
    frame, threshold_pct: float = DRIFT_THRESHOLD_PCT, data_docs: DataDocsSite | None = None
) -> SuiteOutcome:
    """Run the drift suite with Great Expectations on `frame` (never blocking)."""
    from expectations.runner import validate_dataframe

    return validate_dataframe(
        "mart_benchmark_drift", frame, drift_suite(threshold_pct), data_docs=data_docs
    )


def drift_summary(
    previous_release_id: str | None,
    previous_db: Path | None,
    build_db: Path,
    threshold_pct: float = DRIFT_THRESHOLD_PCT,
) -> dict[str, Any]:
    """What the manifest records: the previous release, the threshold, what drifted."""
    if previous_release_id is None or previous_db is None or not previous_db.exists():
        return {
            "previous_release": None,
            "threshold_pct": threshold_pct,
            "compared": 0,
            "drifting": [],
        }
    frame = drift_frame(previous_db, build_db)
    return {
        "previous_release": previous_release_id,
        "threshold_pct": threshold_pct,
        "compared": int(frame["abs_pct_change"].notna().sum()),
        "drifting": drifting(frame, threshold_pct),
    }
