"""Publish: the release asset, downstream of every published mart.

In the annual cycle the gate checks are blocking, so this asset only runs when every
suite passed. It also refuses on its own when the latest evaluation of any gate check
is not a success (e.g. when someone materializes it alone after a failed run), so a
failed suite can never be bypassed: the previous release stays current.
"""

import dagster as dg

from orchestration.defs.quality import PUBLISHED_MARTS
from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from orchestration.markdown import markdown_table

RELEASE = dg.AssetKey(["publish", "release"])
GATE_CHECK_KEYS = [
    dg.AssetCheckKey(dg.AssetKey(["marts", mart]), f"gx_{mart}") for mart in PUBLISHED_MARTS
]


class GateNotPassed(Exception):
    """A blocking quality check did not pass: nothing is published."""


def gate_results(instance: dg.DagsterInstance) -> list[dict]:
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(GATE_CHECK_KEYS)
    results = []
    for key in GATE_CHECK_KEYS:
        record = latest.get(key)
        results.append(
            {
                "check": f"{key.asset_key.to_user_string()}:{key.name}",
                "status": record.status.value if record else "NOT_RUN",
                "run_id": record.run_id if record else None,
            }
        )
    return results


@dg.asset(
    key=RELEASE,
    deps=[dg.AssetKey(["marts", mart]) for mart in PUBLISHED_MARTS],
    group_name="publish",
    kinds={"python", "duckdb", "parquet"},
    owners=["team:data-engineering"],
    pool=DUCKDB_WRITER_POOL,
    description=(
        "An immutable release folder (DuckDB, Parquet, CSV, manifest) of the marts, published only "
        "when every gate check passed; releases/current then points at it."
    ),
)
def release(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    import duckdb

    from ingestion.registry import mark_published
    from orchestration.publishing import build_release

    checks = gate_results(context.instance)
    not_passed = [c for c in checks if c["status"] != "SUCCEEDED"]
    if not_passed:
        raise GateNotPassed(
            "not publishing: gate checks not passed: "
            + ", ".join(f"{c['check']} ({c['status']})" for c in not_passed)
        )
    paths = home.home
    published = build_release(paths, list(PUBLISHED_MARTS), checks)
    with duckdb.connect(str(paths.warehouse)) as con:
        mark_published(
            con,
            [s["submission_id"] for s in published.manifest["submissions"]],
            published.release_id,
        )
    context.log.info(f"published release {published.release_id} at {published.path}")
    return dg.MaterializeResult(
        metadata={
            "release_id": published.release_id,
            "path": dg.MetadataValue.path(str(published.path)),
            "database": dg.MetadataValue.path(str(published.database)),
            "manifest": dg.MetadataValue.path(str(published.path / "manifest.json")),
            "submissions": len(published.manifest["submissions"]),
            "row_counts": dg.MetadataValue.md(
                markdown_table(
                    [{"mart": m, "rows": n} for m, n in published.manifest["marts"].items()]
                )
            ),
        }
    )
