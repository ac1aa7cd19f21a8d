"""Run a Great Expectations suite (JSON under expectations/suites/) on a DataFrame.

great_expectations is imported inside the functions: it costs about 2 s and must
not slow the Dagster code location or the CLI. One ephemeral context per process
(no files, no telemetry) is reused by every suite.

Data Docs: given a `DataDocsSite`, a validation is also stored (GE's JSON) and rendered
by GE's own site builder into that site, one site per run (a Dagster run id): the
validation page, the suite page and the site index listing every validation of the
run; the validations of a batch (`validate_dataframes`) are rendered in one build. The
site's stores are on the filesystem, so checks running in other processes add to the same
index; a file lock serialises the builds.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expectations.kept_validations import validation_key

if TYPE_CHECKING:
    from expectations.kept_validations import KeptValidations

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
    data_docs: Path | None = None  # the GE Data Docs page of this validation, when built
    data_docs_error: str | None = None  # why the page could not be built (the outcome stands)
    kept: bool = False  # the result of an earlier validation of the same rows and suite

    @property
    def blocking_failures(self) -> list[FailedExpectation]:
        return [f for f in self.failed if f.blocking]

    @property
    def passed(self) -> bool:
        """A suite passes when no blocking expectation failed (warnings are reported only)."""
        return not self.blocking_failures


@dataclass(frozen=True)
class DataDocsSite:
    """The GE Data Docs of one run's validations (`run_name`: the Dagster run id).

    `root/site/` is the HTML site GE builds (index.html, validations/, expectations/,
    static/); `root/store/` holds what it is built from, GE's validation results and
    suites as JSON.
    """

    root: Path
    run_name: str

    @property
    def site_dir(self) -> Path:
        return self.root / "site"

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def index(self) -> Path:
        return self.site_dir / "index.html"

    @property
    def lock_file(self) -> Path:
        return self.root / ".build.lock"


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
# Names of the per-validation dataframe assets in the shared context (unique across threads).
_ASSET_IDS = itertools.count()


@cache
def _cached_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("mhbench")
    return context, source


def validate_dataframe(
    mart: str,
    df,
    spec: dict[str, Any] | None = None,
    *,
    data_docs: DataDocsSite | None = None,
) -> SuiteOutcome:
    """Validate `df` against the suite of `mart`; returns what failed, with sample values.

    With `data_docs`, the validation is also rendered into that Data Docs site (the page
    is `SuiteOutcome.data_docs`). Should GE fail to write it, the outcome is still
    returned, with the reason in `data_docs_error` (a release refuses a check without
    its page, so the docs are never silently missing).
    """
    [outcome] = validate_dataframes([(mart, df, spec or load_suite_spec(mart))], data_docs)
    return outcome


def validate_dataframes(
    suites: Iterable[tuple[str, Any, dict[str, Any]]],
    data_docs: DataDocsSite | None = None,
    kept: KeptValidations | None = None,
) -> list[SuiteOutcome]:
    """Validate each `(mart, df, spec)`; with `data_docs`, GE then renders every validation
    of the batch into that site in one build: their pages, the suites' pages, the index once
    and GE's static files once (per validation, those were half a gate check's time).

    With `kept` (expectations/kept_validations.py), a frame validated before against the same
    suite takes that result (`SuiteOutcome.kept`), and every new result is kept."""
    validated = []  # (mart, spec, result, whether the result is a kept one)
    for mart, df, spec in suites:
        key = validation_key(df, spec) if kept is not None else None
        result = kept.get(key) if key is not None else None
        if result is None:
            result = _validate(mart, df, spec)
            if key is not None:
                kept.put(key, result)
            validated.append((mart, spec, result, False))
        else:
            validated.append((mart, spec, result, True))
    pages: dict[str, Path] = {}
    docs_error = None
    if data_docs is not None and validated:
        try:
            pages = write_data_docs(
                data_docs, [(mart, spec, result) for mart, spec, result, _ in validated]
            )
        except Exception as exc:  # reported with the outcomes, not lost
            docs_error = f"{type(exc).__name__}: {exc}"
    return [
        SuiteOutcome(
            suite=spec.get("name", mart),
            evaluated=len(result.results),
            failed=_failures(result),
            data_docs=pages.get(mart),
            data_docs_error=docs_error,
            kept=was_kept,
        )
        for mart, spec, result, was_kept in validated
    ]


def _validate(mart: str, df, spec: dict[str, Any]):
    """GE's validation result of `df` against the suite `spec`."""
    import great_expectations as gx

    context, source = _context()
    asset_name = f"{mart}_{next(_ASSET_IDS)}"
    batch_definition = source.add_dataframe_asset(asset_name).add_batch_definition_whole_dataframe(
        "whole"
    )
    suite = gx.ExpectationSuite(name=spec.get("name", mart), expectations=_expectations(spec))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    # BASIC first (observed values, samples of unexpected ones): the 18 suites of a cycle in
    # 1.45 s against 1.8-2.2 s with SUMMARY. A suite that failed is validated again with
    # SUMMARY, whose counts of unexpected values (a duplicated key, how often) its page shows.
    result = batch.validate(suite, result_format="BASIC")
    if not result.success:
        result = batch.validate(suite, result_format="SUMMARY")
    return result


def _failures(result) -> list[FailedExpectation]:
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
    return failed


def _expectations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": e["type"], "kwargs": e.get("kwargs", {}), "meta": e.get("meta", {})}
        for e in spec["expectations"]
    ]


# ------------------------------------------------------------------------------ Data Docs

DATA_DOCS_SITE_NAME = "mhbench_gate"
_GX_VIEW = {"module_name": "expectations.gx_views", "class_name": "PageView"}
_DOCS_LOCK = threading.Lock()


def _docs_context(site: DataDocsSite):
    """An ephemeral context whose stores and Data Docs site are the files of `site`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

    def on_disk(store_class: str, folder: str) -> dict[str, Any]:
        return {
            "class_name": store_class,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site.store_dir / folder),
            },
        }

    def in_memory(store_class: str) -> dict[str, Any]:
        return {"class_name": store_class, "store_backend": {"class_name": "InMemoryStoreBackend"}}

    config = DataContextConfig(
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        stores={
            "expectations_store": on_disk("ExpectationsStore", "expectations"),
            "validation_results_store": on_disk("ValidationResultsStore", "validations"),
            "checkpoint_store": in_memory("CheckpointStore"),
            "validation_definition_store": in_memory("ValidationDefinitionStore"),
        },
        data_docs_sites={
            DATA_DOCS_SITE_NAME: {
                "class_name": "SiteBuilder",
                # no "how to" buttons, tutorial links or walkthrough modal in our pages
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(site.site_dir),
                },
                # GE's section builders and views; the views keep their compiled templates.
                "site_section_builders": {
                    "expectations": {"view": _GX_VIEW},
                    "validations": {"view": _GX_VIEW},
                    "profiling": "None",  # no profiling runs here
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "view": {**_GX_VIEW, "class_name": "IndexPageView"},
                },
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    # A filesystem expectations store gives the context a random id, which GE's pages append
    # to the URL of the logo they load from GE's web assets bucket: send none.
    context.variables.data_context_id = None
    return context


@contextlib.contextmanager
def _site_lock(site: DataDocsSite):
    """One build of a site at a time: threads of this process, then other processes."""
    site.root.mkdir(parents=True, exist_ok=True)
    with _DOCS_LOCK, site.lock_file.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def write_data_docs(
    site: DataDocsSite, validations: list[tuple[str, dict[str, Any], Any]]
) -> dict[str, Path]:
    """Store each `(mart, spec, result)` (a GE suite validation result) in `site` and let GE
    render them, in one build.

    GE writes each validation page, each suite page and the site index (every validation
    stored in the site, whichever process ran it). Returns each mart's validation page.
    """
    import datetime

    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    stored = []
    for mart, spec, result in validations:
        suite_name = spec.get("name", mart)
        run_id = RunIdentifier(run_name=site.run_name, run_time=datetime.datetime.now(datetime.UTC))
        # What GE's ValidationDefinition.run records, plus the table validated as the data
        # asset (the suite's "data_asset", by default the mart).
        result.meta["run_id"] = run_id
        result.meta["validation_time"] = run_id.run_time
        result.meta["batch_spec"] = {
            **(result.meta.get("batch_spec") or {}),
            "data_asset_name": spec.get("data_asset", f"marts.{mart}"),
        }
        suite_key = ExpectationSuiteIdentifier(name=suite_name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_key, run_id=run_id, batch_identifier=mart
        )
        suite = gx.ExpectationSuite(
            name=suite_name, expectations=_expectations(spec), notes=spec.get("description")
        )
        stored.append((mart, suite_name, key, suite_key, suite, result))
    pages = {}
    with _site_lock(site):
        context = _docs_context(site)
        for _, _, key, _, suite, result in stored:
            context.validation_results_store.set(key, result)
            context.suites.add_or_update(suite)
        identifiers = [i for _, _, key, suite_key, _, _ in stored for i in (key, suite_key)]
        context.build_data_docs(site_names=[DATA_DOCS_SITE_NAME], resource_identifiers=identifiers)
        for mart, suite_name, key, _, _, _ in stored:
            url = context.get_docs_sites_urls(
                resource_identifier=key, site_name=DATA_DOCS_SITE_NAME, only_if_exists=True
            )[0]["site_url"]
            page = _path_from_url(url)
            if page is None or not page.is_file():
                raise RuntimeError(
                    f"Great Expectations did not write the Data Docs page of {suite_name}"
                )
            pages[mart] = page
    return pages


def _path_from_url(url: str | None) -> Path | None:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    if not url:
        return None
    parsed = urlparse(url)
    return Path(url2pathname(parsed.path)) if parsed.scheme == "file" else None


def _columns(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    columns = kwargs.get("column_list") or [
        kwargs[k] for k in ("column_A", "column_B") if k in kwargs
    ]
    return ",".join(columns) or None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
