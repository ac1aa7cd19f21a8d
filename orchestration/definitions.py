"""The Dagster code location of mhbench (workspace.yaml points here)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt import dbt_resource, mhbench_dbt_assets
from orchestration.defs.ingestion import ingest_inbox
from orchestration.defs.jobs import annual_cycle_job
from orchestration.defs.publish import release
from orchestration.defs.quality import gate_checks
from orchestration.defs.resources import HomeResource

defs = dg.Definitions(
    assets=[ingest_inbox, mhbench_dbt_assets, release],
    asset_checks=gate_checks,
    jobs=[annual_cycle_job],
    resources={
        "home": HomeResource(root=dg.EnvVar("MHBENCH_HOME")),
        "dbt": dbt_resource(),
    },
)
