"""Ingestion: every file in the inbox becomes a registered submission.

The raw tables are partitioned by collection year × participant (partitions.py); a run
ingests the inbox files of its partitions (one partition when the inbox sensor starts it,
all of them in the annual cycle). New files are parsed, structurally validated, archived
by sha256 and registered as accepted or rejected (ingestion/registry.py); files already
registered are skipped by hash, so re-running is idempotent. A file that passes validation for
an approved participant-year is registered as held (the collection workflow's lock). A bad file is a rejected
submission and a failed (warning) check with the path of its report, never a crashed run.
"""

import dagster as dg

from orchestration.defs.partitions import RETURN_PARTITIONS
from orchestration.defs.resources import HomeResource, ingestion_pool
from reporting.markdown import markdown_table
from runtime.pause import pause_point
from runtime.warehouse import connect_warehouse, partition_locks, retry_lake_conflicts

SUBMISSIONS = dg.AssetKey(["raw", "submissions"])
RETURN_VALUES = dg.AssetKey(["raw", "return_values"])
SUBMISSION_EVENTS = dg.AssetKey(["raw", "submission_events"])
INGESTED = frozenset({SUBMISSIONS, RETURN_VALUES, SUBMISSION_EVENTS})

_KINDS = {"python", "duckdb"}
_OWNERS = ["team:data-engineering"]


def ensure_raw_tables(con, log) -> None:
    """The raw tables, and the workflow's event log migrated (logged when it was created)."""
    from ingestion.registry import ensure_schema
    from workflow.events import ensure_workflow_schema

    # on a new lake another run may be creating them at this moment: tried again
    retry_lake_conflicts(con, lambda: ensure_schema(con))
    migrated = retry_lake_conflicts(con, lambda: ensure_workflow_schema(con))
    if migrated:
        log.info(
            f"workflow events created: {migrated} sign-off/approval event(s) recorded by "
            "`migration` for the participant-years already published"
        )


@dg.multi_asset(
    name="ingest_returns",
    specs=[
        dg.AssetSpec(
            SUBMISSIONS,
            group_name="ingestion",
            kinds=_KINDS,
            owners=_OWNERS,
            partitions_def=RETURN_PARTITIONS,
            description="Every file received (accepted or rejected), keyed by sha256, with issues.",
        ),
        dg.AssetSpec(
            RETURN_VALUES,
            group_name="ingestion",
            kinds=_KINDS,
            owners=_OWNERS,
            partitions_def=RETURN_PARTITIONS,
            description="Values of accepted submissions with their place in the file.",
        ),
        dg.AssetSpec(
            SUBMISSION_EVENTS,
            group_name="ingestion",
            kinds=_KINDS,
            owners=_OWNERS,
            partitions_def=RETURN_PARTITIONS,
            description=(
                "Status history: received, accepted, rejected, published (homes made before "
                "dbt decided which submission counts also hold superseded events)."
            ),
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "new_files_accepted",
            asset=SUBMISSIONS,
            description="Every file received in this run passed structural validation.",
        )
    ],
    pool=ingestion_pool(),
    # a backfill of many partitions is one run: one pass over the inbox, one dbt build after
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ingest_returns(context: dg.AssetExecutionContext, home: HomeResource):
    from ingestion.partitions import ReturnPartition
    from ingestion.registry import ingest_inbox as ingest
    from reporting.submitter_report import write_html
    from workflow.actions import lock_check

    paths = home.home
    partitions = {ReturnPartition.from_key(key) for key in context.partition_keys}
    context.log.info(
        f"ingesting the inbox files of {len(partitions)} partition(s): "
        + ", ".join(p.key for p in sorted(partitions)[:20])
        + (" ..." if len(partitions) > 20 else "")
    )

    def log_file(path, submission) -> None:
        if submission.is_new:
            pause_point("ingest-registered")  # test hook, see runtime/pause.py
        context.log.info(
            f"{path.name}: {submission.status} as {submission.submission_id}"
            + (f" ({submission.error_count} errors)" if submission.error_count else "")
        )

    # on DuckLake a partition's runs take turns here; different partitions write at once
    with partition_locks(context.partition_keys), connect_warehouse(paths.warehouse) as con:
        ensure_raw_tables(con, context.log)
        # A file for an approved (locked) participant-year is registered as held.
        submissions = ingest(
            con,
            paths,
            on_file=log_file,
            partitions=partitions,
            render_report=write_html,
            locked=lock_check(con),
        )
        ids = [s.submission_id for s in submissions]
        totals = con.execute(
            "select status, count(*) from raw.submissions where list_contains(?, submission_id) "
            "group by status order by status",
            [ids],
        ).fetchall()
        n_values = con.execute(
            "select count(*) from raw.return_values where list_contains(?, submission_id)", [ids]
        ).fetchone()[0]
        n_events = con.execute(
            "select count(*) from raw.submission_events where list_contains(?, submission_id)",
            [ids],
        ).fetchone()[0]

    new = [s for s in submissions if s.is_new]
    rejected = [s for s in new if s.status == "rejected"]
    held = [s for s in new if s.status == "held"]
    for s in held:
        context.log.warning(
            f"{s.original_filename}: held, {s.participant_code} {s.collection_year} is approved "
            "(locked); it is used only after `mhbench reopen`"
        )
    rows = [
        {
            "file": s.original_filename,
            "submission": s.submission_id,
            "participant": s.participant_code or "?",
            "year": s.collection_year or "?",
            "status": s.status,
            "errors": s.error_count,
        }
        for s in new
    ]
    yield dg.MaterializeResult(
        asset_key=SUBMISSIONS,
        metadata={
            "partitions": len(partitions),
            "files": len(submissions),
            "new_files": len(new),
            "new_rejected": len(rejected),
            "new_held": len(held),
            **{f"files_{status}": count for status, count in totals},
            "new_submissions": dg.MetadataValue.md(markdown_table(rows, limit=50)),
        },
    )
    yield dg.MaterializeResult(asset_key=RETURN_VALUES, metadata={"dagster/row_count": n_values})
    yield dg.MaterializeResult(
        asset_key=SUBMISSION_EVENTS, metadata={"dagster/row_count": n_events}
    )
    yield dg.AssetCheckResult(
        check_name="new_files_accepted",
        asset_key=SUBMISSIONS,
        passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected": len(rejected),
            "new_files": len(new),
            # one row per file received in this run (a sensor run may cover several)
            "files": dg.MetadataValue.md(
                markdown_table(
                    [{**row, "report": s.report_path} for row, s in zip(rows, new, strict=True)],
                    limit=100,
                )
            ),
            "reports": dg.MetadataValue.md(
                markdown_table(
                    [
                        {
                            "file": s.original_filename,
                            "first issue": s.issues[0].message if s.issues else "",
                            "report": s.report_path,
                        }
                        for s in rejected
                    ],
                    limit=50,
                )
            ),
        },
    )
