"""The collection workflow in Dagster: one job per action, launched from the UI with a form.

Each job wraps the same transition as the CLI (workflow/actions.py): the launchpad's config
form asks for the participant, the year, who (`by`) and the text; a refused transition fails
the run with the workflow's own message, and nothing is written. The event log
`raw/workflow_events` is an asset of its own, materialized by every action; dbt reads it
(`mart_collection_status`, `mart_queries`).

Also here: a WARN check on the release that names the participant-years a final release left
out because they are not approved.
"""

import dagster as dg
from pydantic import Field

from orchestration.defs.publish import RELEASE
from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from reporting.markdown import markdown_table
from runtime.warehouse import connect_warehouse

WORKFLOW_EVENTS = dg.AssetKey(["raw", "workflow_events"])
COLLECTION_STATUS_MART = dg.AssetKey(["marts", "mart_collection_status"])

workflow_events_asset = dg.AssetSpec(
    WORKFLOW_EVENTS,
    group_name="ingestion",
    kinds={"duckdb"},
    owners=["team:collection"],
    description=(
        "The collection workflow's append-only event log: sign-offs, approvals, reopens and "
        "queries, with who, when, why, OS user and host. Written by the workflow jobs and the "
        "`mhbench signoff/approve/reopen/ask/answer/close` commands."
    ),
)


class PartitionActionConfig(dg.Config):
    participant: str = Field(description="Participant code, e.g. SE or GB-WLS.")
    year: int = Field(description="Collection year.")
    by: str = Field(description="Who: your name (or the lead's, for a sign-off).")


class SignoffConfig(PartitionActionConfig):
    text: str = Field(default="", description="Note: e.g. where the confirmation came from.")


class ApproveConfig(PartitionActionConfig):
    text: str = Field(
        default="",
        description="Override reason: approve despite open errors or queries (blank: no override).",
    )


class ReopenConfig(PartitionActionConfig):
    text: str = Field(description="Why it is reopened (required).")


class AskConfig(PartitionActionConfig):
    text: str = Field(description="The question to the submitter.")
    item: str = Field(default="", description="Data item the query is about (optional).")


class QueryActionConfig(dg.Config):
    query_id: str = Field(description="The query, e.g. q-17.")
    by: str = Field(description="Who.")
    text: str = Field(default="", description="The answer (answer) or a note (close).")


def _act(context: dg.OpExecutionContext, home: HomeResource, action) -> str:
    from workflow.actions import WarehouseBusy, WorkflowRefused, connect

    try:
        con = connect(home.home.warehouse)
    except (WorkflowRefused, WarehouseBusy) as exc:
        raise dg.Failure(description=str(exc)) from None
    try:
        done = action(con)
    except WorkflowRefused as exc:
        raise dg.Failure(description=f"refused: {exc}. Nothing was recorded.") from None
    finally:
        con.close()
    context.log.info(done)
    context.log_event(dg.AssetMaterialization(asset_key=WORKFLOW_EVENTS, metadata={"action": done}))
    return done


@dg.op(pool=DUCKDB_WRITER_POOL)
def record_signoff(context: dg.OpExecutionContext, config: SignoffConfig, home: HomeResource):
    from workflow.actions import signoff

    _act(
        context,
        home,
        lambda con: signoff(con, config.participant, config.year, config.by, config.text),
    )


@dg.op(pool=DUCKDB_WRITER_POOL)
def record_approval(context: dg.OpExecutionContext, config: ApproveConfig, home: HomeResource):
    from workflow.actions import approve

    _act(
        context,
        home,
        lambda con: approve(
            con, config.participant, config.year, config.by, config.text.strip() or None
        ),
    )


@dg.op(pool=DUCKDB_WRITER_POOL)
def record_reopen(context: dg.OpExecutionContext, config: ReopenConfig, home: HomeResource):
    from workflow.actions import reopen

    _act(
        context,
        home,
        lambda con: reopen(con, config.participant, config.year, config.by, config.text),
    )


@dg.op(pool=DUCKDB_WRITER_POOL)
def record_query(context: dg.OpExecutionContext, config: AskConfig, home: HomeResource):
    from workflow.actions import ask

    def raise_query(con) -> str:
        query_id = ask(
            con,
            config.participant,
            config.year,
            config.by,
            config.text,
            item=config.item.strip() or None,
        )
        return f"{query_id} raised on {config.participant.upper()} {config.year} by {config.by}"

    _act(context, home, raise_query)


@dg.op(pool=DUCKDB_WRITER_POOL)
def record_answer(context: dg.OpExecutionContext, config: QueryActionConfig, home: HomeResource):
    from workflow.actions import answer

    _act(context, home, lambda con: answer(con, config.query_id, config.by, config.text))


@dg.op(pool=DUCKDB_WRITER_POOL)
def record_close(context: dg.OpExecutionContext, config: QueryActionConfig, home: HomeResource):
    from workflow.actions import close

    _act(context, home, lambda con: close(con, config.query_id, config.by, config.text))


def _job(name: str, op, description: str) -> dg.JobDefinition:
    @dg.job(name=name, description=description, tags={"mhbench/workflow": name})
    def action_job():
        op()

    return action_job


workflow_jobs = [
    _job("signoff", record_signoff, "Record the participant's lead signing off its submission."),
    _job(
        "approve",
        record_approval,
        "Approve (and lock) a signed-off participant-year with no open errors or queries.",
    ),
    _job("reopen", record_reopen, "Unlock an approved or published participant-year."),
    _job("ask", record_query, "Raise a query with a submitter."),
    _job("answer", record_answer, "Record a submitter's answer to a query."),
    _job("close", record_close, "Close a query."),
]


@dg.asset_check(
    asset=RELEASE,
    name="participant_years_not_approved",
    description=(
        "WARN: the participant-years a final release leaves out because they are not approved "
        "(their states), so nobody mistakes a partial release for a complete one."
    ),
    blocking=False,
)
def participant_years_not_approved(home: HomeResource) -> dg.AssetCheckResult:
    from workflow.actions import statuses

    with connect_warehouse(home.home.warehouse, read_only=True) as con:
        rows = statuses(con)
    left_out = [
        {
            "participant": r["participant_code"],
            "year": r["collection_year"],
            "state": r["state"],
            "note": r["state_note"],
        }
        for r in rows
        if r["state"] not in ("approved", "published") and r["latest_submission_id"]
    ]
    return dg.AssetCheckResult(
        passed=not left_out,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "not_approved": len(left_out),
            "approved": sum(1 for r in rows if r["state"] in ("approved", "published")),
            "left_out": dg.MetadataValue.md(markdown_table(left_out, limit=100)),
        },
    )


def collection_status_preview(warehouse) -> dg.MetadataValue:
    """mart_collection_status as a markdown table (the latest year first), for the UI."""
    from workflow.actions import statuses

    with connect_warehouse(warehouse, read_only=True) as con:
        rows = statuses(con)
    rows.sort(key=lambda r: (-r["collection_year"], r["participant_code"]))
    shown = [
        {
            "participant": r["participant_code"],
            "year": r["collection_year"],
            "state": r["state"],
            "submission": r["latest_submission_id"],
            "signed off by": r["signed_off_by"],
            "approved by": r["approved_by"],
            "open errors": r["open_errors"],
            "open queries": r["open_queries"],
            "held": r["held_files"],
            "note": r["state_note"],
        }
        for r in rows
    ]
    return dg.MetadataValue.md(markdown_table(shown, limit=100))
