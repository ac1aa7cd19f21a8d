"""`quality/gx_data_docs`: the Great Expectations Data Docs of a run's publication gate.

Each gate check has GE render its validation into the run's Data Docs site as it runs
(expectations/runner.py), so a failed check links to its page at once. This asset,
downstream of every published mart and so of their blocking checks, stands for the
complete site of a gate that passed: it verifies that every gate check of this run has
its page in the site, and records the index and the pages. Asset checks cannot carry
kinds in Dagster, so this asset is where `great_expectations` shows in the asset graph;
the release depends on it and ships the same site as `docs/gx/`.
"""

import shutil
from pathlib import Path

import dagster as dg

from expectations.check_status import CheckStatus
from orchestration.defs.publish import gate_results
from orchestration.defs.quality import (
    GX_DATA_DOCS,
    PUBLISHED_MARTS,
    DataDocsMissing,
    gate_data_docs,
    gate_data_docs_pages,
)
from orchestration.defs.resources import HomeResource
from reporting.markdown import markdown_table

# Each run's working site is ~5 MB (GE copies its static folder into every site) and the inbox
# sensor starts a run per file: keep the sites of the latest runs only. Releases keep their own.
KEEP_RUN_SITES = 20


def prune_run_sites(
    root: Path, keep: int = KEEP_RUN_SITES, current: str | None = None
) -> list[str]:
    """Delete all but the `keep` newest run sites under `root` (never `current`); names removed."""
    if not root.is_dir():
        return []
    sites = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name != current),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    removed = sites[max(keep - (current is not None), 0) :]
    for site in removed:
        shutil.rmtree(site, ignore_errors=True)
    return [p.name for p in removed]


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
    not_run = [
        c["check"] for c in checks if c["blocking"] and not CheckStatus(c["status"]).evaluated
    ]
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
    pruned = prune_run_sites(home.home.gx_data_docs, current=run_id)
    if pruned:
        context.log.info(
            f"removed the Data Docs of {len(pruned)} older runs (kept {KEEP_RUN_SITES})"
        )
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
