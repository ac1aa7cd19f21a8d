"""Sensors: new returns in the inbox, and failed runs written where the team watches."""

import hashlib
import json
from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.jobs import refresh_returns_job
from orchestration.defs.partitions import PARTICIPANTS
from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from runtime.warehouse import connect_warehouse, warehouse_exists


def _warehouse_in_use(instance) -> bool:
    """A run holds the warehouse, or one of its steps waits for it (the duckdb_writer pool)."""
    info = instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL)
    return bool(info.claimed_slots or info.pending_steps)


def _known_hashes(warehouse, instance) -> set[str] | None:
    """sha256 of every registered file, or None when the warehouse is busy.

    The sensor reads outside the pool, and even a read-only connection's lock makes a
    writer's connect fail (seen with two sensor runs under a separate daemon): so it does
    not open the file while any run holds the pool or waits for it, and looks again at
    the next tick. Files are never lost this way, only requested once the queue drains."""
    import duckdb

    if not warehouse_exists(warehouse):
        return set()
    if _warehouse_in_use(instance):
        return None
    try:
        with connect_warehouse(warehouse, read_only=True) as con:
            return {r[0] for r in con.execute("select file_sha256 from raw.submissions").fetchall()}
    except duckdb.Error:
        return None


# Jobs whose run ingests the inbox: while one is queued or running, new files wait for it to end
# and are then picked up together.
_INGESTING_JOBS = ("refresh_returns", "annual_cycle", "draft_release")
_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def run_key_for(sha256s: list[str]) -> str:
    """The run key of a sensor run: derived from the sorted sha256s of the files it covers, so
    the same bytes never start two runs."""
    return hashlib.sha256("\n".join(sorted(sha256s)).encode()).hexdigest()


def _run_in_flight(instance) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=_IN_FLIGHT), limit=20)
    return next((run for run in runs if run.job_name in _INGESTING_JOBS), None)


@dg.sensor(
    job=refresh_returns_job,
    minimum_interval_seconds=30,
    description=(
        "One run for every new or changed file in inbox/<year>/ (its partitions <year>|"
        "<participant>, one run for all of them): ingest, rebuild the marts, run the checks. "
        "Files that arrive while an ingesting run is queued or running are picked up together "
        "when it ends. The run key is derived from the files' sha256s, so the same bytes never "
        "start two runs. A participant's first return adds its partition."
    ),
)
def inbox_sensor(context: dg.SensorEvaluationContext, home: HomeResource):
    from ingestion.calendar import load_calendar
    from ingestion.partitions import ReturnPartition, partition_of_file
    from ingestion.registry import file_sha256, inbox_files
    from orchestration.defs.partitions import pending_partition_tags

    paths = home.home
    # cursor: path -> [mtime, size, sha256, partition key], so unchanged files are not read again
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    busy = _run_in_flight(context.instance)
    if busy is not None:
        return dg.SkipReason(
            f"run {busy.run_id[:8]} ({busy.job_name}) is {busy.status.value.lower()}: new files "
            "are picked up together when it ends"
        )
    known = _known_hashes(paths.warehouse, context.instance)
    if known is None:
        return dg.SkipReason("the warehouse is busy (a run is writing); will look again")
    calendar = load_calendar()
    participants = list(context.instance.get_dynamic_partitions(PARTICIPANTS.name))
    current, new_files = {}, {}
    for path, year in inbox_files(paths):
        stat = path.stat()
        key = str(path.relative_to(paths.inbox))
        previous = seen.get(key)
        if previous and len(previous) == 4 and previous[:2] == [stat.st_mtime, stat.st_size]:
            sha, partition = previous[2], previous[3]
        else:
            sha, partition = file_sha256(path), None
        if sha not in known and partition is None:  # read the file only when it is new
            partition = partition_of_file(path, year, calendar=calendar).key
        current[key] = [stat.st_mtime, stat.st_size, sha, partition]
        if sha not in known:
            new_files[sha] = (key, ReturnPartition.from_key(partition))
    if not new_files:
        return dg.SensorResult(skip_reason="no new file in the inbox", cursor=json.dumps(current))
    pending = {partition for _, partition in new_files.values()}
    new_participants = sorted({p.participant for p in pending} - set(participants))
    names = ", ".join(sorted(key for key, _ in new_files.values()))
    request = dg.RunRequest(
        run_key=run_key_for(list(new_files)),
        tags={
            **pending_partition_tags(participants + new_participants, pending),
            "inbox_files": names[:200],
            "inbox_file_count": str(len(new_files)),
        },
    )
    return dg.SensorResult(
        run_requests=[request],
        dynamic_partitions_requests=(
            [PARTICIPANTS.build_add_request(new_participants)] if new_participants else []
        ),
        cursor=json.dumps(current),
    )


@dg.run_failure_sensor(
    description="Appends every failed run to logs/run-failures.log under MHBENCH_HOME.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_log_sensor(context: dg.RunFailureSensorContext, home: HomeResource):
    log = home.home.root / "logs" / "run-failures.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "job": context.dagster_run.job_name,
        "run_id": context.dagster_run.run_id,
        "error": context.failure_event.message,
    }
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed every run of this host whose process is gone (killed, crashed, lost to a "
        "reboot) and frees its warehouse slot, so later runs do not wait for it forever. "
        "The failure is logged by run_failure_log_sensor."
    ),
)
def dead_run_sensor(context: dg.SensorEvaluationContext):
    from orchestration.dead_runs import reclaim_dead_runs

    reclaimed = reclaim_dead_runs(context.instance)
    for run in reclaimed:
        context.log.warning(run.describe())
    if not reclaimed:
        return dg.SkipReason("no dead runs")
    return dg.SkipReason("; ".join(run.describe() for run in reclaimed))


all_sensors = [inbox_sensor, run_failure_log_sensor, dead_run_sensor]
