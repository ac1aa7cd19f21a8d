"""Jobs: the annual cycle, and the smaller jobs that schedules and sensors start."""

import dagster as dg

from orchestration.defs.collection import COLLECTION_STATUS, TEMPLATES
from orchestration.defs.resources import DRAFT, RELEASE_KIND_TAG
from orchestration.defs.workflow import workflow_jobs

ANNUAL_CYCLE = "annual_cycle"
DRAFT_RELEASE = "draft_release"

_COLLECTION_ONLY = dg.AssetSelection.assets(TEMPLATES, COLLECTION_STATUS)
_PUBLISH = dg.AssetSelection.groups("publish")

annual_cycle_job = dg.define_asset_job(
    ANNUAL_CYCLE,
    selection=dg.AssetSelection.all() - _COLLECTION_ONLY,
    description=(
        "Ingest the inbox, build and test the marts, run the quality gate and publish a final "
        "release of the approved participant-years."
    ),
)

draft_release_job = dg.define_asset_job(
    DRAFT_RELEASE,
    selection=dg.AssetSelection.all() - _COLLECTION_ONLY,
    tags={RELEASE_KIND_TAG: DRAFT},
    description=(
        "The annual cycle publishing a draft release of every accepted participant-year, for "
        "participants to review before sign-off: releases/drafts/<id>/, watermarked, never "
        "current, with a draft pack per participant in outbox/<year>/drafts/."
    ),
)

refresh_returns_job = dg.define_asset_job(
    "refresh_returns",
    selection=dg.AssetSelection.all() - _COLLECTION_ONLY - _PUBLISH,
    description=(
        "Ingest new returns, rebuild the marts and run the checks (findings for submitters); "
        "publishes nothing. Started by the inbox sensor."
    ),
)

open_collection_job = dg.define_asset_job(
    "open_collection",
    selection=dg.AssetSelection.assets(TEMPLATES),
    description="Write a return template per participant into outbox/<year>/.",
)

collection_status_job = dg.define_asset_job(
    "collection_status",
    selection=dg.AssetSelection.assets(COLLECTION_STATUS),
    description="Who has not submitted, who has open errors (reports/collection-status-<year>.md).",
)

all_jobs = [
    annual_cycle_job,
    draft_release_job,
    refresh_returns_job,
    open_collection_job,
    collection_status_job,
    *workflow_jobs,
]
