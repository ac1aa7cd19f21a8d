"""Jobs: the annual cycle materializes the whole graph, checks included."""

import dagster as dg

ANNUAL_CYCLE = "annual_cycle"

annual_cycle_job = dg.define_asset_job(
    ANNUAL_CYCLE,
    selection=dg.AssetSelection.all(include_sources=False),
    description=(
        "Ingest the inbox, build and test the marts, run the quality gate and publish a release."
    ),
)
