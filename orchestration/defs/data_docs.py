"""`quality/gx_data_docs`: the Great Expectations Data Docs of a run's publication gate.

Each gate check has GE render its validation into the run's Data Docs site as it runs
(expectations/runner.py), so a failed check links to its page at once. This asset,
downstream of every published mart and so of their blocking checks, stands for the
complete site of a gate that passed: it verifies that every gate check of this run has
its page in the site, and records the index and the pages. Asset checks cannot carry
kinds in Dagster, so this asset is where `great_expectations` shows in the asset graph;
the release depends on it and ships the same site as `docs/gx/`.
"""

import dagster as dg

from orchestration.defs.publish import gate_results
from orchestration.defs.quality import (
    GX_DATA_DOCS,
    PUBLISHED_MARTS,
    DataDocsMissing,
    gate_data_docs,
    gate_data_docs_pages,
)
from orchestration.defs.resources import HomeResource
from orchestration.markdown import markdown_table


@dg.asset(
    key=GX_DATA_DOCS,
    deps=[dg.AssetKey(["marts", mart]) for mart in PUBLISHED_MARTS],
    group_name="quality",
    kinds={"great_expectations", "html"},
    owners=["team:data-engineering"],
    description=(
        "The Great Expectations Data Docs (HTML, rendered by GE) of every gate validation of "
        "this run: quality/gx-data-docs/<run id>/site/index.html. Materialized once every "
        "blocking gate check passed; the release ships it as docs/gx/."
    ),
)
def gx_data_docs(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    run_id = context.run.run_id
    checks = gate_results(context.instance, run_id=run_id)
    not_run = [c["check"] for c in checks if c["blocking"] and c["status"].startswith("NOT_RUN")]
    if not_run:
        raise DataDocsMissing(
            "no gate validation in this run for: "
            + ", ".join(not_run)
            + ". Materialize the Data Docs together with the gate checks."
        )
    site = gate_data_docs(home.home, run_id)
    site_dir = site.site_dir.resolve()
    pages = gate_data_docs_pages(checks, site_dir)
    if not site.index.is_file():
        raise DataDocsMissing(f"Great Expectations wrote no index page in {site_dir}")
    return dg.MaterializeResult(
        metadata={
            "index": dg.MetadataValue.path(str(site.index)),
            "validations": len(pages),
            "pages": dg.MetadataValue.md(
                markdown_table(
                    [
                        {
                            "check": c["check"],
                            "status": c["status"],
                            "page": str(pages[c["check"]].resolve().relative_to(site_dir)),
                        }
                        for c in checks
                        if c["check"] in pages
                    ],
                    limit=50,
                )
            ),
        }
    )
