"""The publication gate: a Great Expectations suite per published mart.

Each suite is the result of a blocking asset check on its mart, so in the annual cycle the
publish asset does not run unless every suite passed. The suites run together in one step,
`publication_gate` (a multi-asset check: one read of the warehouse, one Data Docs build),
but for the marts another asset reads (OWN_STEP_MARTS), whose suites keep a step each. The
check metadata names the failed expectations with sample failing values, and links to the
validation's page in
the run's GE Data Docs (`MHBENCH_HOME/quality/gx-data-docs/<run id>/site/`), which GE
renders as the check runs, passed or failed.
"""

from functools import cache
from pathlib import Path

import dagster as dg
import yaml

from expectations.check_status import CheckStatus
from expectations.kept_validations import KeptValidations
from expectations.runner import DataDocsSite, load_suite_spec
from orchestration.dbt_manifest import DBT_PROJECT_DIR, published_marts, team_marts
from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from reporting.markdown import markdown_table
from runtime.home import Home
from runtime.pause import pause_point
from runtime.warehouse import connect_warehouse

# The marts a release publishes: the models of dbt's marts/ folder, read from its manifest.
PUBLISHED_MARTS = published_marts()
# The marts the team works from in the warehouse, never published: checked, never blocking.
TEAM_MARTS = team_marts()
# Check metadata key holding every failed expectation as JSON (read back by the release).
FAILURES_METADATA = "failures"
KEPT_VALIDATION = (
    "kept: these rows were validated against this suite before, with the same Great "
    "Expectations (expectations/kept_validations.py)"
)


# The GE Data Docs of a run's gate (orchestration/defs/data_docs.py); the release ships them.
GX_DATA_DOCS = dg.AssetKey(["quality", "gx_data_docs"])


def gate_data_docs(home: Home, run_id: str) -> DataDocsSite:
    """The Data Docs site of the gate validations of Dagster run `run_id`."""
    return DataDocsSite(home.gx_data_docs / run_id, run_name=run_id)


@cache
def dbt_vars() -> dict:
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def suite_query(mart: str, spec: dict) -> str:
    query = spec.get("query") or f"select * from marts.{mart}"
    return query.format(**dbt_vars())


def run_gate_suites(
    warehouse: Path,
    marts: list[str],
    data_docs: DataDocsSite | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    kept: KeptValidations | None = None,
) -> dict[str, dg.AssetCheckResult]:
    """Read the marts read-only (one connection, closed before GE runs), validate each with
    its suite, and describe each outcome as the result of the mart's check `gx_<mart>`.

    With `data_docs`, GE also renders the validations into that site, in one build, and
    each result links to its page (`data_docs`) and to the site's index (`data_docs_index`).
    With `kept` (the home's, expectations/kept_validations.py), rows validated before against
    the same suite take that validation's result (metadata `validated`), and new results are
    kept.
    """
    from expectations.runner import validate_dataframes

    specs = {mart: load_suite_spec(mart) for mart in marts}
    with connect_warehouse(warehouse, read_only=True) as con:
        frames = {mart: con.execute(suite_query(mart, specs[mart])).df() for mart in marts}
    outcomes = validate_dataframes(((m, frames[m], specs[m]) for m in marts), data_docs, kept)
    return {
        mart: _gate_result(mart, specs[mart], len(frames[mart]), outcome, data_docs, severity)
        for mart, outcome in zip(marts, outcomes, strict=True)
    }


def run_gate_suite(
    warehouse: Path,
    mart: str,
    data_docs: DataDocsSite | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """The check result of one mart's suite (see run_gate_suites)."""
    return run_gate_suites(warehouse, [mart], data_docs, severity)[mart]


def _gate_result(
    mart: str,
    spec: dict,
    rows: int,
    outcome,
    data_docs: DataDocsSite | None,
    severity: dg.AssetCheckSeverity,
) -> dg.AssetCheckResult:
    failures = [
        {
            "expectation": f.expectation,
            "column": f.column,
            "blocking": f.blocking,
            "detail": f.describe(),
        }
        for f in outcome.failed
    ]
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["marts", mart]),
        check_name=f"gx_{mart}",
        passed=outcome.passed,
        severity=severity,
        metadata={
            "suite": f"expectations/suites/{mart}.json",
            "rows_validated": rows,
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": len(outcome.failed),
            "validated": KEPT_VALIDATION if outcome.kept else "in this run",
            "failed_expectations": dg.MetadataValue.md(markdown_table(failures)),
            FAILURES_METADATA: dg.MetadataValue.json(failures),
            **data_docs_metadata(outcome, data_docs),
        },
        description=spec.get("description"),
    )


def data_docs_metadata(outcome, site: DataDocsSite | None) -> dict:
    """Links to the validation's Data Docs page and the site index (or why there is none)."""
    if site is None:
        return {}
    if outcome.data_docs is None:
        return {"data_docs_error": outcome.data_docs_error or "not built"}
    return {
        "data_docs": dg.MetadataValue.path(str(outcome.data_docs)),
        "data_docs_index": dg.MetadataValue.path(str(site.index)),
    }


class DataDocsMissing(Exception):
    """A gate check of this run has no Data Docs page in this run's site."""


def gate_data_docs_pages(checks: list[dict], site_dir: Path) -> dict[str, Path]:
    """The Data Docs page of each check that ran, which must lie in `site_dir`.

    Raises DataDocsMissing when a gate (blocking) check of the run has no page there.
    """
    pages, missing = {}, []
    for check in checks:
        if not CheckStatus(check["status"]).evaluated:
            continue
        page = Path(check["data_docs"]) if check.get("data_docs") else None
        if page is not None and page.is_file() and page.resolve().is_relative_to(site_dir):
            pages[check["check"]] = page
        elif check["blocking"]:
            error = check.get("data_docs_error")
            missing.append(check["check"] + (f" ({error})" if error else ""))
    if missing:
        raise DataDocsMissing(
            f"no Data Docs page in {site_dir} for gate checks: {', '.join(missing)}"
        )
    return pages


# The published marts whose suite runs in a step of its own: a mart that an asset other than
# the release and its Data Docs reads (the submitters' feedback reads the findings), so that a
# failed suite on another mart does not hold that asset back. The other suites run in one step.
OWN_STEP_MARTS = ("mart_validation_findings",)
GATE_STEP_MARTS = tuple(m for m in PUBLISHED_MARTS if m not in OWN_STEP_MARTS)
GATE_STEP = "publication_gate"


def _gate_description(mart: str) -> str:
    return f"Great Expectations suite expectations/suites/{mart}.json (blocks the release)."


def _gate_spec(mart: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=f"gx_{mart}",
        asset=dg.AssetKey(["marts", mart]),
        blocking=True,
        description=_gate_description(mart),
    )


def _team_spec(mart: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=f"gx_{mart}",
        asset=dg.AssetKey(["marts", mart]),
        blocking=False,
        description=(
            f"Great Expectations suite expectations/suites/{mart}.json (a mart for the team, "
            "never published: it warns, it does not block the release)."
        ),
    )


def _selected(context: dg.AssetCheckExecutionContext, marts: tuple[str, ...]) -> list[str]:
    keys = context.selected_asset_check_keys
    return [m for m in marts if dg.AssetCheckKey(dg.AssetKey(["marts", m]), f"gx_{m}") in keys]


def _suites_step(
    name: str, gate: tuple[str, ...], team: tuple[str, ...], description: str
) -> dg.AssetChecksDefinition:
    """One step running the suites of the `gate` marts (blocking, rendered into the run's
    Data Docs) and of the `team` marts (warnings), each the result of its mart's check."""

    @dg.multi_asset_check(
        name=name,
        specs=[*map(_gate_spec, gate), *map(_team_spec, team)],
        can_subset=True,
        pool=DUCKDB_WRITER_POOL,
        description=description,
    )
    def _step(context: dg.AssetCheckExecutionContext, home: HomeResource):
        paths = home.home
        pause_point("gate")  # test hook, see runtime/pause.py
        kept = KeptValidations(paths.gx_validation_cache)
        if selected := _selected(context, gate):
            site = gate_data_docs(paths, context.run.run_id)
            yield from run_gate_suites(paths.warehouse, selected, site, kept=kept).values()
        if selected := _selected(context, team):
            warn = dg.AssetCheckSeverity.WARN
            yield from run_gate_suites(paths.warehouse, selected, severity=warn, kept=kept).values()
        kept.prune()

    return _step


publication_gate = _suites_step(
    GATE_STEP,
    GATE_STEP_MARTS,
    TEAM_MARTS,
    "The Great Expectations suites of the published marts (blocking: a failed one stops the "
    "release) and of the team's marts (warnings), in one step: one read of the warehouse and "
    "one Data Docs build for all of them, not a step each.",
)
# each with the step name an @asset_check on the mart would have
gate_checks = [
    publication_gate,
    *(
        _suites_step(f"marts__{mart}_gx_{mart}", (mart,), (), _gate_description(mart))
        for mart in OWN_STEP_MARTS
    ),
]
