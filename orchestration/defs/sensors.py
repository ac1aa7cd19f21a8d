"""Sensors: new returns in the inbox, and failed runs written where the team watches."""

import json
from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.jobs import refresh_returns_job
from orchestration.defs.resources import HomeResource


def _known_hashes(warehouse) -> set[str] | None:
    """sha256 of every registered file, or None when the warehouse is busy (a writer holds it)."""
    import duckdb

    if not warehouse.exists():
        return set()
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return {r[0] for r in con.execute("select file_sha256 from raw.submissions").fetchall()}
    except duckdb.Error:
        return None


@dg.sensor(
    job=refresh_returns_job,
    minimum_interval_seconds=30,
    description=(
        "A run per new or changed file in inbox/<year>/ (run key = the file's sha256, so the same "
        "bytes never start two runs): ingest, rebuild the marts, run the checks."
    ),
)
def inbox_sensor(context: dg.SensorEvaluationContext, home: HomeResource):
    from ingestion.registry import file_sha256, inbox_files

    paths = home.home
    # cursor: path -> [mtime, size, sha256], so unchanged files are not hashed again
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    known = _known_hashes(paths.warehouse)
    if known is None:
        return dg.SkipReason("the warehouse is busy (a run is writing); will look again")
    requests, current = [], {}
    for path, _year in inbox_files(paths):
        stat = path.stat()
        key = str(path.relative_to(paths.inbox))
        previous = seen.get(key)
        if previous and previous[0] == stat.st_mtime and previous[1] == stat.st_size:
            sha = previous[2]
        else:
            sha = file_sha256(path)
        current[key] = [stat.st_mtime, stat.st_size, sha]
        if sha not in known:
            requests.append(dg.RunRequest(run_key=sha, tags={"inbox_file": key[:200]}))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(current))


@dg.run_failure_sensor(
    description="Appends every failed run to logs/run-failures.log under MHBENCH_HOME.",
    minimum_interval_seconds=30,
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


all_sensors = [inbox_sensor, run_failure_log_sensor]
