"""The collection cycle: templates go out, and a daily status says who is missing.

`collection/templates` writes a return template per participant into outbox/<year>/.
`quality/collection_status` lists, for a collection year, each participant's workflow state
(mart_collection_status: who has not sent a return, who has open errors, who has not signed
off, who is approved) and the open queries with their age in days (mart_queries), into
reports/collection-status-<year>.md and as asset metadata.
"""

from datetime import date

import dagster as dg

from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from reporting.markdown import markdown_table
from runtime.warehouse import connect_warehouse, warehouse_exists

TEMPLATES = dg.AssetKey(["collection", "templates"])
COLLECTION_STATUS = dg.AssetKey(["quality", "collection_status"])


class CollectionYearConfig(dg.Config):
    """Collection year; when left out, the collection running today (collection calendar)."""

    year: int | None = None


def _year(config: CollectionYearConfig) -> int:
    from ingestion.calendar import collection_for

    if config.year is not None:
        return config.year
    collection = collection_for(date.today())
    if collection is None:
        raise dg.Failure("no collection has opened yet according to the collection calendar")
    return collection.year


@dg.asset(
    key=TEMPLATES,
    group_name="collection",
    kinds={"python", "excel"},
    owners=["team:collection"],
    description="Return templates (format v1), one per participant, in outbox/<year>/.",
)
def collection_templates(
    context: dg.AssetExecutionContext, config: CollectionYearConfig, home: HomeResource
) -> dg.MaterializeResult:
    from ingestion.dictionary import load_dictionary
    from ingestion.template import write_template

    year = _year(config)
    dictionary = load_dictionary()
    outbox = home.home.outbox / str(year)
    outbox.mkdir(parents=True, exist_ok=True)
    written = []
    for code in sorted(dictionary.participants):
        path = write_template(outbox / f"{code}_{year}_return.xlsx", code, year, dictionary)
        written.append({"participant": code, "template": path.name})
    context.log.info(f"wrote {len(written)} templates into {outbox}")
    return dg.MaterializeResult(
        metadata={
            "year": year,
            "outbox": dg.MetadataValue.path(str(outbox)),
            "templates": len(written),
            "preview": dg.MetadataValue.md(markdown_table(written)),
        }
    )


def _age_days(moment, today: date) -> int | None:
    return None if moment is None else (today - moment.date()).days


def collection_status_rows(warehouse, year: int, today: date | None = None) -> dict:
    """The collection's status for `year`: one row per participant (mart_collection_status)
    and the open queries with their age in days (mart_queries).

    Before the first build there is no status mart: every participant is listed as
    not received.
    """
    import duckdb

    from ingestion.dictionary import load_dictionary
    from workflow.actions import WorkflowRefused, queries, statuses

    today = today or date.today()
    participants = load_dictionary().participants
    by_code: dict[str, dict] = {}
    open_queries: list[dict] = []
    if warehouse_exists(warehouse):
        with connect_warehouse(warehouse, read_only=True) as con:
            try:
                by_code = {r["participant_code"]: r for r in statuses(con, year)}
                open_queries = queries(con, open_only=True, year=year)
            except (WorkflowRefused, duckdb.CatalogException):
                pass  # not built with the workflow yet
    rows = []
    for code, participant in sorted(participants.items()):
        status = by_code.get(code, {})
        rows.append(
            {
                "participant": code,
                "name": participant.participant_name,
                "state": status.get("state", "not_received"),
                "submission": status.get("latest_submission_id"),
                "signed off": _who_when(status, "signed_off"),
                "approved": _who_when(status, "approved"),
                "open errors": status.get("open_errors") or 0,
                "open queries": status.get("open_queries") or 0,
                "held files": status.get("held_files") or 0,
                "note": status.get("state_note"),
            }
        )
    query_rows = [
        {
            "query": q["query_id"],
            "participant": q["participant_code"],
            "item": q["item_code"],
            "state": q["state"],
            "age (days)": _age_days(q["raised_at"], today),
            "raised by": q["raised_by"],
            "question": q["text"],
        }
        for q in open_queries
    ]
    return {"participants": rows, "open_queries": query_rows}


def _who_when(status: dict, prefix: str) -> str | None:
    holds = status.get(f"{'signed_off' if prefix == 'signed_off' else 'approved'}_submission_id")
    if not holds or holds != status.get("latest_submission_id"):
        return None
    at = status.get(f"{prefix}_at")
    return f"{status.get(f'{prefix}_by')} {at:%Y-%m-%d}" if at else status.get(f"{prefix}_by")


@dg.asset(
    key=COLLECTION_STATUS,
    deps=[dg.AssetKey(["raw", "submissions"])],
    group_name="quality",
    kinds={"python", "duckdb"},
    owners=["team:collection"],
    pool=DUCKDB_WRITER_POOL,
    description=(
        "Each participant's workflow state for the year (not received, queried, not signed "
        "off, approved...) and the open queries with their age in days."
    ),
)
def collection_status(
    context: dg.AssetExecutionContext, config: CollectionYearConfig, home: HomeResource
) -> dg.MaterializeResult:
    from ingestion.calendar import load_calendar

    paths = home.home
    year = _year(config)
    status = collection_status_rows(paths.warehouse, year)
    rows, open_queries = status["participants"], status["open_queries"]
    collection = load_calendar().get(year)
    deadline = f"deadline {collection.deadline}" if collection else "no deadline in the calendar"
    done = ("approved", "published")
    missing = [r for r in rows if r["state"] not in done]
    not_signed = [
        r["participant"]
        for r in rows
        if r["state"] in ("accepted", "queried") and not r["signed off"]
    ]
    table = markdown_table(rows, limit=len(rows))
    queries_table = (
        markdown_table(open_queries, limit=len(open_queries)) if open_queries else "None."
    )
    report = paths.reports / f"collection-status-{year}.md"
    report.write_text(
        f"# Collection {year}: status on {date.today()}\n\n"
        f"{len(rows) - len(missing)} of {len(rows)} participants approved; {deadline}.\n\n"
        f"Not signed off yet: {', '.join(not_signed) or 'none'}.\n\n{table}\n\n"
        f"## Open queries ({len(open_queries)})\n\n{queries_table}\n"
    )
    context.log.info(
        f"collection {year}: {len(missing)} participants not approved, "
        f"{len(not_signed)} not signed off, {len(open_queries)} open queries"
    )
    return dg.MaterializeResult(
        metadata={
            "year": year,
            "needs_follow_up": len(missing),
            "not_signed_off": len(not_signed),
            "open_queries": len(open_queries),
            "report": dg.MetadataValue.path(str(report)),
            "status": dg.MetadataValue.md(table),
        }
    )
