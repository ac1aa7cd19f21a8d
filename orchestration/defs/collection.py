"""The collection cycle: templates go out, and a daily status says who is missing.

`collection/templates` writes a return template per participant into outbox/<year>/.
`quality/collection_status` lists, for a collection year, who has not sent an accepted
return, who only sent rejected files and who has open errors, into
reports/collection-status-<year>.md and as asset metadata.
"""

from datetime import date

import dagster as dg

from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from reporting.markdown import markdown_table

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


def collection_status_rows(warehouse, year: int) -> list[dict]:
    """One row per participant: what has been received for `year` and what is open."""
    import duckdb

    from ingestion.dictionary import load_dictionary

    participants = load_dictionary().participants
    received: dict[str, dict] = {}
    open_errors: dict[str, int] = {}
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for code, accepted, rejected, last in con.execute(
                "select participant_code, count(*) filter (status = 'accepted'), "
                "count(*) filter (status = 'rejected'), max(received_at) "
                "from raw.submissions where collection_year = ? group by 1",
                [year],
            ).fetchall():
                received[code] = {"accepted": accepted, "rejected": rejected, "last": last}
            has_findings = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'marts' and table_name = 'mart_validation_findings'"
            ).fetchone()[0]
            if has_findings:
                open_errors = dict(
                    con.execute(
                        "select participant_code, count(*) from marts.mart_validation_findings "
                        "where collection_year = ? and severity = 'error' group by 1",
                        [year],
                    ).fetchall()
                )
    rows = []
    for code, participant in sorted(participants.items()):
        got = received.get(code, {"accepted": 0, "rejected": 0, "last": None})
        if got["accepted"]:
            state = "open errors" if open_errors.get(code) else "received"
        elif got["rejected"]:
            state = "rejected only"
        else:
            state = "not submitted"
        rows.append(
            {
                "participant": code,
                "name": participant.participant_name,
                "state": state,
                "accepted files": got["accepted"],
                "rejected files": got["rejected"],
                "open errors": open_errors.get(code, 0),
                "last received": got["last"],
            }
        )
    return rows


@dg.asset(
    key=COLLECTION_STATUS,
    deps=[dg.AssetKey(["raw", "submissions"])],
    group_name="quality",
    kinds={"python", "duckdb"},
    owners=["team:collection"],
    pool=DUCKDB_WRITER_POOL,
    description="Who has not submitted, who has only rejected files, who has open errors.",
)
def collection_status(
    context: dg.AssetExecutionContext, config: CollectionYearConfig, home: HomeResource
) -> dg.MaterializeResult:
    from ingestion.calendar import load_calendar

    paths = home.home
    year = _year(config)
    rows = collection_status_rows(paths.warehouse, year)
    collection = load_calendar().get(year)
    deadline = f"deadline {collection.deadline}" if collection else "no deadline in the calendar"
    missing = [r for r in rows if r["state"] != "received"]
    table = markdown_table(rows, limit=len(rows))
    report = paths.reports / f"collection-status-{year}.md"
    report.write_text(
        f"# Collection {year}: status on {date.today()}\n\n"
        f"{len(rows) - len(missing)} of {len(rows)} participants received without open errors; "
        f"{deadline}.\n\n{table}\n"
    )
    context.log.info(f"collection {year}: {len(missing)} participants need follow-up")
    return dg.MaterializeResult(
        metadata={
            "year": year,
            "needs_follow_up": len(missing),
            "report": dg.MetadataValue.path(str(report)),
            "status": dg.MetadataValue.md(table),
        }
    )
