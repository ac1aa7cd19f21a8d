"""The publication gate: a Great Expectations suite per published mart.

Each suite runs in a blocking asset check on its mart, so in the annual cycle the
publish asset does not run unless every suite passed. The check metadata names the
failed expectations with sample failing values, and links to the validation's page in
the run's GE Data Docs (`MHBENCH_HOME/quality/gx-data-docs/<run id>/site/`), which GE
renders as the check runs, passed or failed.
"""

from functools import cache
from pathlib import Path

import dagster as dg
import yaml

from expectations.check_status import CheckStatus
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


def run_gate_suite(
    warehouse: Path,
    mart: str,
    data_docs: DataDocsSite | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """Read the mart read-only, validate it with its suite, and describe the outcome.

    With `data_docs`, GE also renders the validation into that site and the metadata
    links to its page (`data_docs`) and to the site's index (`data_docs_index`).
    """
    from expectations.runner import validate_dataframe

    spec = load_suite_spec(mart)
    with connect_warehouse(warehouse, read_only=True) as con:
        df = con.execute(suite_query(mart, spec)).df()
    outcome = validate_dataframe(mart, df, spec, data_docs=data_docs)
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
        passed=outcome.passed,
        severity=severity,
        metadata={
            "suite": f"expectations/suites/{mart}.json",
            "rows_validated": len(df),
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": len(outcome.failed),
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


def _gate_check(mart: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["marts", mart]),
        name=f"gx_{mart}",
        blocking=True,
        pool=DUCKDB_WRITER_POOL,
        description=f"Great Expectations suite expectations/suites/{mart}.json (blocks the release).",
    )
    def _check(context: dg.AssetCheckExecutionContext, home: HomeResource) -> dg.AssetCheckResult:
        paths = home.home
        pause_point("gate")  # test hook, see runtime/pause.py
        return run_gate_suite(paths.warehouse, mart, gate_data_docs(paths, context.run.run_id))

    return _check


gate_checks = [_gate_check(mart) for mart in PUBLISHED_MARTS]


def _team_mart_check(mart: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["marts", mart]),
        name=f"gx_{mart}",
        blocking=False,
        pool=DUCKDB_WRITER_POOL,
        description=(
            f"Great Expectations suite expectations/suites/{mart}.json (a mart for the team, "
            "never published: it warns, it does not block the release)."
        ),
    )
    def _check(home: HomeResource) -> dg.AssetCheckResult:
        return run_gate_suite(home.home.warehouse, mart, severity=dg.AssetCheckSeverity.WARN)

    return _check


team_mart_checks = [_team_mart_check(mart) for mart in TEAM_MARTS]
