"""`mhbench run`: the annual cycle, headless, through Dagster, with progress and a summary."""

from __future__ import annotations

import contextlib
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from runtime.home import Home

# The console shows progress and a summary; Dagster's own log stays in the run (UI) unless it
# is a warning or worse.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class CycleOutcome:
    run_id: str | None  # None: nothing to run
    success: bool
    checks: list[dict] = field(default_factory=list)
    release_path: Path | None = None
    failure: str | None = None
    log_path: Path | None = None


def _watch_progress(
    instance, run_id: str, total_steps: int, console: Console, stop: threading.Event
):
    """Show step progress by polling the run's event log (the run executes in this process)."""
    from dagster import DagsterEventType
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    done_types = {
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
    }
    seen: set[str] = set()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("annual cycle", total=total_steps)
        cursor, started = None, None
        while not stop.wait(0.5):
            # only the step events, and only those after the cursor: the log of a dbt step is long
            connection = instance.get_records_for_run(
                run_id, cursor=cursor, of_type={DagsterEventType.STEP_START, *done_types}
            )
            cursor = connection.cursor
            for record in connection.records:
                event = record.event_log_entry.dagster_event
                if event.event_type in done_types:
                    seen.add(event.step_key)
                else:
                    started = event.step_key
            progress.update(task, completed=len(seen), description=f"running {started or '...'}")


def _warm_up_great_expectations() -> None:
    from expectations.runner import warm_up

    warm_up()


def run_annual_cycle(home: Home, console: Console) -> CycleOutcome:
    from dagster import DagsterInstance
    from dagster._core.utils import make_new_run_id

    from orchestration.dbt_manifest import ensure_manifest
    from orchestration.defs.jobs import ANNUAL_CYCLE
    from orchestration.defs.publish import RELEASE

    with console.status("Preparing the dbt manifest and loading the Dagster definitions"):
        ensure_manifest()
        from orchestration.definitions import defs
        from orchestration.defs.partitions import add_inbox_participants, every_partition_tags

        job = defs.resolve_job_def(ANNUAL_CYCLE)
    instance = DagsterInstance.get()
    with console.status("Finding the partition (year × participant) of every file in the inbox"):
        new_participants = add_inbox_participants(instance, home)
    if new_participants:
        console.print(f"New participant partitions: {', '.join(new_participants)}")
    partitions = every_partition_tags(instance)
    if partitions is None:
        return CycleOutcome(
            None,
            False,
            failure=(
                f"No returns: the inbox ({home.inbox}) is empty and no return was ever received. "
                "Put returns in inbox/<year>/ (or run `mhbench sample`) first."
            ),
        )
    run_id = make_new_run_id()
    # great_expectations takes seconds to import; do it while ingestion and the dbt subprocess
    # run, so the first gate check does not wait for it.
    threading.Thread(target=_warm_up_great_expectations, daemon=True).start()
    log_path = home.root / "logs" / f"run-{run_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # dbt's own log lines go to the run log (and to the step logs in the UI), not the terminal.
    terminal = Console(file=sys.stdout) if console.file is sys.stdout else console
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_progress,
        args=(instance, run_id, len(job.graph.node_defs), terminal, stop),
        daemon=True,
    )
    watcher.start()
    try:
        with log_path.open("w") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                run_config=QUIET_RUN_CONFIG,
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                tags=partitions,
            )
    finally:
        stop.set()
        watcher.join()

    checks = [
        {
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "passed": evaluation.passed,
            "severity": evaluation.severity.value,
        }
        for evaluation in result.get_asset_check_evaluations()
    ]
    release_path = None
    for event in result.all_events:
        if event.is_step_materialization and event.asset_key == RELEASE:
            release_path = Path(
                event.step_materialization_data.materialization.metadata["path"].value
            )
    failure = None
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        failure = "; ".join(
            f"{e.step_key}: {e.step_failure_data.error.message.strip()}"
            for e in failed
            if e.step_failure_data
        )
    return CycleOutcome(
        run_id, result.success and release_path is not None, checks, release_path, failure, log_path
    )


def print_summary(home: Home, outcome: CycleOutcome, console: Console) -> None:
    import duckdb

    if outcome.run_id is None:
        console.print(f"[red]Nothing to run[/]: {outcome.failure}")
        return

    console.rule("Submissions")
    try:
        con = (
            duckdb.connect(str(home.warehouse), read_only=True) if home.warehouse.exists() else None
        )
    except duckdb.IOException:
        console.print(f"[yellow]The warehouse is locked by another process[/] ({home.warehouse}).")
        con = None
    if con is not None:
        with con:
            counts = dict(
                con.execute("select status, count(*) from raw.submissions group by 1").fetchall()
            )
            rejected = con.execute(
                "select original_filename, coalesce(participant_code, '?'), coalesce(collection_year::varchar, '?'), "
                "issues_json, report_path from raw.submissions where status = 'rejected' order by 1"
            ).fetchall()
        console.print(
            f"accepted: [green]{counts.get('accepted', 0)}[/]   rejected: [red]{counts.get('rejected', 0)}[/]"
        )
        import json

        for name, participant, year, issues_json, report in rejected:
            issues = [i for i in json.loads(issues_json or "[]") if i.get("severity") == "error"]
            console.print(
                f"[red]rejected[/] {name} ({participant} {year}): {len(issues)} errors, report {report}"
            )
            for issue in issues[:3]:
                console.print(f"    {issue['place']}: {issue['message']}")
            if len(issues) > 3:
                console.print(f"    ... and {len(issues) - 3} more in the report")

    console.rule("Checks")
    failed = [c for c in outcome.checks if not c["passed"]]
    console.print(f"{len(outcome.checks) - len(failed)} of {len(outcome.checks)} checks passed")
    if failed:
        table = Table("asset", "check", "severity")
        for c in failed:
            table.add_row(c["asset"], c["check"], c["severity"])
        console.print(table)

    console.rule("Release")
    if outcome.release_path:
        db = outcome.release_path / "mhbench.duckdb"
        console.print(f"[green]Published[/] {outcome.release_path}")
        console.print(f"current -> {home.current_release}")
        console.print("Query it:")
        console.print('  uv run mhbench query "select * from marts.mart_benchmark limit 10"')
        console.print(
            f"  python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True).sql('from marts.mart_benchmark'))\""
        )
    else:
        console.print("[red]No release published[/]: the previous release (if any) stays current.")
        if outcome.failure:
            console.print(outcome.failure)
    console.print(
        f"Dagster run {outcome.run_id} (see it with `make ui`); dbt log: {outcome.log_path}"
    )
