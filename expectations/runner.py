"""Run a Great Expectations suite (JSON under expectations/suites/) on a DataFrame.

great_expectations is imported inside the functions: it costs about 2 s and must
not slow the Dagster code location or the CLI. One ephemeral context per process
(no files, no telemetry) is reused by every suite.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SUITES_DIR = Path(__file__).resolve().parent / "suites"

# Before great_expectations (and its tqdm) is imported anywhere: no telemetry, and no
# "Calculating Metrics" progress bars in run logs. tqdm reads TQDM_* at import time.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None  # the column, or the columns joined with "," for multi-column expectations
    blocking: bool
    details: dict[str, Any]

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        seen = self.details.get("partial_unexpected_list") or self.details.get("observed_value")
        return f"{self.expectation}{where}" + (f" (saw {seen})" if seen not in (None, []) else "")


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    evaluated: int
    failed: list[FailedExpectation] = field(default_factory=list)

    @property
    def blocking_failures(self) -> list[FailedExpectation]:
        return [f for f in self.failed if f.blocking]

    @property
    def passed(self) -> bool:
        """A suite passes when no blocking expectation failed (warnings are reported only)."""
        return not self.blocking_failures


def suite_path(mart: str) -> Path:
    return SUITES_DIR / f"{mart}.json"


def load_suite_spec(mart: str) -> dict[str, Any]:
    return json.loads(suite_path(mart).read_text(encoding="utf-8"))


def _context():
    # functools.cache does not lock: the warm-up thread and a check may ask at the same time
    with _CONTEXT_LOCK:
        return _cached_context()


def warm_up() -> None:
    """Import great_expectations and build the context ahead of the first validation."""
    _context()


_CONTEXT_LOCK = threading.Lock()


@cache
def _cached_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("mhbench")
    return context, source


def validate_dataframe(mart: str, df, spec: dict[str, Any] | None = None) -> SuiteOutcome:
    """Validate `df` against the suite of `mart`; returns what failed, with sample values."""
    import great_expectations as gx

    spec = spec or load_suite_spec(mart)
    context, source = _context()
    asset_name = f"{mart}_{len(source.assets)}"
    batch_definition = source.add_dataframe_asset(asset_name).add_batch_definition_whole_dataframe(
        "whole"
    )
    expectations = [
        {"type": e["type"], "kwargs": e.get("kwargs", {}), "meta": e.get("meta", {})}
        for e in spec["expectations"]
    ]
    suite = gx.ExpectationSuite(
        name=f"{spec.get('name', mart)}_{asset_name}", expectations=expectations
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format="SUMMARY")

    failed = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        failed.append(
            FailedExpectation(
                expectation=config.type,
                column=_columns(config.kwargs),
                blocking=(config.meta or {}).get("blocking", True),
                details=_jsonable(item.result or {}),
            )
        )
    return SuiteOutcome(suite=spec.get("name", mart), evaluated=len(result.results), failed=failed)


def _columns(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    columns = kwargs.get("column_list") or [
        kwargs[k] for k in ("column_A", "column_B") if k in kwargs
    ]
    return ",".join(columns) or None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
