"""The Dagster code location of mhbench (workspace.yaml points here)."""

import dagster as dg

from orchestration.defs.collection import collection_status, collection_templates
from orchestration.defs.data_docs import gx_data_docs
from orchestration.defs.dbt import dbt_resource, mhbench_dbt_assets
from orchestration.defs.drift import benchmark_drift_check
from orchestration.defs.findings import findings_assets, findings_checks
from orchestration.defs.ingestion import ingest_returns
from orchestration.defs.jobs import all_jobs
from orchestration.defs.publish import release
from orchestration.defs.quality import gate_checks
from orchestration.defs.resources import HomeResource
from orchestration.defs.schedules import all_schedules
from orchestration.defs.sensors import all_sensors
from orchestration.defs.workflow import participant_years_not_approved, workflow_events_asset

defs = dg.Definitions(
    assets=[
        ingest_returns,
        mhbench_dbt_assets,
        *findings_assets,
        gx_data_docs,
        release,
        collection_templates,
        collection_status,
        workflow_events_asset,
    ],
    asset_checks=[
        *gate_checks,
        *findings_checks,
        benchmark_drift_check,
        participant_years_not_approved,
    ],
    jobs=all_jobs,
    schedules=all_schedules,
    sensors=all_sensors,
    # One process per run: the steps that touch the warehouse run one at a time anyway (pool
    # duckdb_writer, limit 1), and a process per step would load the code location and import
    # great_expectations again for each of the twelve gate checks.
    executor=dg.in_process_executor,
    resources={
        "home": HomeResource(root=dg.EnvVar("MHBENCH_HOME")),
        "dbt": dbt_resource(),
    },
)
