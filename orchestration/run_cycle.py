"""`mhbench run`: the annual cycle, headless, through Dagster; returns what happened.

This module runs the cycle and prints nothing itself: it reports progress to a
`CycleDisplay` (the CLI's draws a progress bar) and returns a `CycleOutcome` that the CLI
renders (`cli/cycle.py`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from runtime.home import Home

# The console shows progress and a summary; Dagster's own log stays in the run (UI) unless it
# is a warning or worse.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

# Called with (steps done, the step running now) while the run executes.
ProgressUpdate = Callable[[int, "str | None"], None]


class CycleDisplay(Protocol):
    """Where the cycle reports progress. The text it is given may name participants from the
    inbox: a display shows it as text, never as markup."""

    def status(self, text: str) -> AbstractContextManager[object]:
        """Something that takes seconds is going on."""

    def note(self, text: str) -> None:
        """A line worth keeping on screen."""

    def progress(self, total_steps: int) -> AbstractContextManager[ProgressUpdate]:
        """The run is executing: its steps are counted with the update it yields. Called from
        another thread while stdout is redirected into the run log, so a display must keep
        the terminal it had when it was made."""


class _Silent:
    def status(self, text: str) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def note(self, text: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, total_steps: int) -> Iterator[ProgressUpdate]:
        yield lambda done, step: None


@dataclass(frozen=True)
class RejectedFile:
    filename: str
    participant_code: str | None
    collection_year: int | None
    errors: list[dict]  # the error issues of the file: place, message, ...
    report_path: str | None


@dataclass(frozen=True)
class Submissions:
    """The registry after the run: submissions by status, and every rejected file."""

    counts: dict[str, int]
    rejected: list[RejectedFile]


@dataclass
class CycleOutcome:
    run_id: str | None  # None: nothing to run
    success: bool
    checks: list[dict] = field(default_factory=list)
    release_path: Path | None = None
    failure: str | None = None
    log_path: Path | None = None
    submissions: Submissions | None = None
    # why `submissions` is missing although the cycle ran (e.g. the warehouse is locked)
    submissions_note: str | None = None


def read_submissions(home: Home) -> tuple[Submissions | None, str | None]:
    """Submission counts and rejected files from the warehouse, or why they cannot be read."""
    import duckdb

    if not home.warehouse.exists():
        return None, f"No warehouse yet ({home.warehouse})."
    try:
        con = duckdb.connect(str(home.warehouse), read_only=True)
    except duckdb.IOException:
        return None, f"The warehouse is locked by another process ({home.warehouse})."
    with con:
        try:
            counts = dict(
                con.execute("select status, count(*) from raw.submissions group by 1").fetchall()
            )
            rejected = con.execute(
                "select original_filename, participant_code, collection_year, issues_json, "
                "report_path from raw.submissions where status = 'rejected' order by 1"
            ).fetchall()
        except duckdb.CatalogException:
            return None, f"No submission registered yet in {home.warehouse}."
    files = [
        RejectedFile(
            name,
            participant,
            year,
            [i for i in json.loads(issues or "[]") if i.get("severity") == "error"],
            report,
        )
        for name, participant, year, issues, report in rejected
    ]
    return Submissions(counts, files), None


def _watch_progress(
    instance, run_id: str, total_steps: int, display: CycleDisplay, stop: threading.Event
):
    """Report step progress by polling the run's event log (the run executes in this process)."""
    from dagster import DagsterEventType

    done_types = {
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
    }
    seen: set[str] = set()
    with display.progress(total_steps) as update:
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
            update(len(seen), started)


def _warm_up_great_expectations() -> None:
    from expectations.runner import warm_up

    warm_up()


def run_annual_cycle(home: Home, display: CycleDisplay | None = None) -> CycleOutcome:
    """Ingest, build, check and publish every partition in one Dagster run."""
    from dagster import DagsterInstance
    from dagster._core.utils import make_new_run_id

    from orchestration.dbt_manifest import ensure_manifest
    from orchestration.defs.jobs import ANNUAL_CYCLE
    from orchestration.defs.publish import RELEASE

    display = display or _Silent()
    with display.status("Preparing the dbt manifest and loading the Dagster definitions"):
        ensure_manifest()
        from orchestration.definitions import defs
        from orchestration.defs.partitions import add_inbox_participants, every_partition_tags

        job = defs.resolve_job_def(ANNUAL_CYCLE)
    instance = DagsterInstance.get()
    with display.status("Finding the partition (year × participant) of every file in the inbox"):
        new_participants = add_inbox_participants(instance, home)
    if new_participants:
        display.note(f"New participant partitions: {', '.join(new_participants)}")
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
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_progress,
        args=(instance, run_id, len(job.graph.node_defs), display, stop),
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
    submissions, submissions_note = read_submissions(home)
    return CycleOutcome(
        run_id,
        result.success and release_path is not None,
        checks,
        release_path,
        failure,
        log_path,
        submissions,
        submissions_note,
    )
