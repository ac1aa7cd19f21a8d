"""Schedules driven by the collection calendar (seed `collection_calendar`).

Each schedule fires daily and decides from the calendar whether today is the day: the
dates live in one reviewed file, not in cron strings. All are toggleable in the UI.
"""

from datetime import date

import dagster as dg

from orchestration.defs.jobs import annual_cycle_job, collection_status_job, open_collection_job
from orchestration.defs.resources import HomeResource


def _year_config(op: str, year: int) -> dict:
    return {"ops": {op: {"config": {"year": year}}}}


def _today(context: dg.ScheduleEvaluationContext) -> date:
    return context.scheduled_execution_time.date()


def _due(today: date, milestone: str):
    """The collection whose `milestone` (opens, deadline, publication) falls on `today`."""
    from ingestion.calendar import load_calendar

    return next((c for c in load_calendar().values() if getattr(c, milestone) == today), None)


@dg.schedule(
    job=open_collection_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="On the day a collection opens (calendar), write the templates into outbox/<year>/.",
)
def open_collection_schedule(context: dg.ScheduleEvaluationContext):
    today = _today(context)
    collection = _due(today, "opens")
    if collection is None:
        return dg.SkipReason(f"no collection opens on {today}")
    return dg.RunRequest(
        run_key=f"open-{collection.year}",
        run_config=_year_config("collection__templates", collection.year),
        tags={"collection_year": str(collection.year)},
    )


@dg.schedule(
    job=collection_status_job,
    cron_schedule="0 7 * * *",
    execution_timezone="UTC",
    description="Daily while a collection is open: who has not submitted, who has open errors.",
)
def daily_collection_status_schedule(context: dg.ScheduleEvaluationContext):
    from ingestion.calendar import load_calendar

    today = _today(context)
    running = [c for c in load_calendar().values() if c.is_open(today)]
    if not running:
        return dg.SkipReason(f"no collection open on {today}")
    return [
        dg.RunRequest(
            run_key=f"status-{c.year}-{today}",
            run_config=_year_config("quality__collection_status", c.year),
            tags={"collection_year": str(c.year)},
        )
        for c in running
    ]


@dg.schedule(
    job=annual_cycle_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    description=(
        "On a collection's publication date (calendar), run the annual cycle over every "
        "partition (one run) and publish."
    ),
)
def publication_schedule(context: dg.ScheduleEvaluationContext, home: HomeResource):
    from orchestration.defs.partitions import add_inbox_participants, every_partition_tags

    today = _today(context)
    collection = _due(today, "publication")
    if collection is None:
        return dg.SkipReason(f"no publication due on {today}")
    # files that arrived while the inbox sensor was off still get their partition
    add_inbox_participants(context.instance, home.home)
    partitions = every_partition_tags(context.instance)
    if partitions is None:
        return dg.SkipReason(f"no returns received: nothing to publish for {collection.year}")
    return dg.RunRequest(
        run_key=f"publish-{collection.year}",
        tags={"collection_year": str(collection.year), **partitions},
    )


all_schedules = [open_collection_schedule, daily_collection_status_schedule, publication_schedule]
