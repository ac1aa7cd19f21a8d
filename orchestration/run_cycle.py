"""`mhbench run`: the annual cycle, headless, through Dagster; returns what happened.

This module runs the cycle and prints nothing itself: it reports progress to a
`CycleDisplay` (the CLI's draws a progress bar) and returns a `CycleOutcome` that the CLI
renders (`cli/cycle.py`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from runtime.home import Home
from runtime.warehouse import connect_warehouse, warehouse_exists

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
    kind: str = "final"  # or draft (DESIGN.md, "Release kinds")
    # the fingerprint equalled the latest release's: "release <id>" (nothing built or published)
    unchanged_since: str | None = None


def read_submissions(home: Home) -> tuple[Submissions | None, str | None]:
    """Submission counts and rejected files from the warehouse, or why they cannot be read."""
    import duckdb

    if not warehouse_exists(home.warehouse):
        return None, f"No warehouse yet ({home.warehouse})."
    try:
        con = connect_warehouse(home.warehouse, read_only=True)
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


class _RunWatch:
    """What the run is doing, read from its event log and the pool while it executes."""

    def __init__(self, instance, run_id: str) -> None:
        self.instance = instance
        self.run_id = run_id
        self.current_step: str | None = None
        self.done: set[str] = set()
        self._cursor = None
        # Since when no step runs (monotonic; None while one does): the only time the run can
        # be waiting for the warehouse, since a step starts once it holds its pool's slot.
        self.idle_since: float | None = None

    def poll_steps(self) -> None:
        """Read the step events since the last poll (only those: a dbt step's log is long)."""
        from dagster import DagsterEventType

        done_types = {
            DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.STEP_SKIPPED,
        }
        connection = self.instance.get_records_for_run(
            self.run_id, cursor=self._cursor, of_type={DagsterEventType.STEP_START, *done_types}
        )
        self._cursor = connection.cursor
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            if event.event_type in done_types:
                self.done.add(event.step_key)
            else:
                self.current_step = event.step_key
        if self.current_step is not None and self.current_step not in self.done:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = time.monotonic()

    def idle_for(self) -> float:
        """How long no step has run (0 while one runs)."""
        since = self.idle_since
        return 0.0 if since is None else time.monotonic() - since

    def waiting_for(self) -> list:
        """The runs holding the warehouse while this run waits for it (empty when not waiting)."""
        from orchestration.dead_runs import warehouse_holders
        from orchestration.defs.resources import DUCKDB_WRITER_POOL

        info = self.instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL)
        if not any(
            step.run_id == self.run_id and step.assigned_timestamp is None
            for step in info.pending_steps
        ):
            return []
        return warehouse_holders(self.instance, self.run_id, info)

    @property
    def stage(self) -> str:
        return f"running {self.current_step}" if self.current_step else "starting"


def _watch_progress(watch: _RunWatch, total_steps: int, display: CycleDisplay, stop) -> None:
    """Report step progress by polling the run's event log (the run executes in this process)."""
    with display.progress(total_steps) as update:
        while not stop.wait(0.5):
            watch.poll_steps()
            update(len(watch.done), watch.current_step)


# How long a run waits on the pool before the display says who holds the warehouse.
WAIT_NOTICE_SECONDS = 3.0


class CycleStopped(Exception):
    """The run was stopped by a signal: canceled, its slot freed, its dbt stopped."""

    def __init__(self, signal_name: str, stage: str, run_id: str | None, current: str) -> None:
        self.signal_name = signal_name
        self.stage = stage
        self.run_id = run_id
        what = (
            f"run {run_id[:8]} canceled, its warehouse slot freed"
            if run_id
            else "no run had started yet"
        )
        super().__init__(f"Stopped by {signal_name} while {stage}: {what}; {current}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report a process ended by a signal."""
        import signal

        return 128 + int(getattr(signal, self.signal_name))


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[str]]:
    """SIGINT and SIGTERM noted (not raised) while the run executes in its thread."""
    import signal

    received: list[str] = []

    def note(signum, frame) -> None:
        received.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _cancel(instance, run_id: str, signal_name: str, stage: str) -> None:
    """Mark the run canceled (if it has not ended) and free its slots."""
    from orchestration.dead_runs import free_slots, stop_children

    stop_children(grace_seconds=3.0)
    run = instance.get_run_by_id(run_id)
    if run is None:
        return
    if not run.is_finished:
        instance.report_run_canceled(run, f"Stopped by {signal_name} while {stage}.")
    free_slots(instance, run)


def _current_release(home: Home) -> str | None:
    """The id of the release `current` points at (None without one)."""
    from publishing.store import current_release

    current = current_release(home)
    return current.release_id if current else None


def _waiting_note(holders) -> str:
    from datetime import datetime

    described = []
    for holder in holders:
        started = (
            datetime.fromtimestamp(holder.started).strftime("%Y-%m-%d %H:%M:%S")
            if holder.started
            else "at an unknown time"
        )
        described.append(f"run {holder.run_id[:8]} ({holder.job_name}, started {started})")
    return (
        f"waiting for the warehouse: {', '.join(described)} holds it "
        f"(if that run is dead, `mhbench reclaim {holders[0].run_id[:8]}` frees it)"
    )


def run_annual_cycle(
    home: Home, display: CycleDisplay | None = None, *, draft: bool = False
) -> CycleOutcome:
    """Ingest, build, check and publish every partition in one Dagster run.

    A final release by default (approved participant-years only); with `draft`, a draft
    release of every accepted participant-year (the draft_release job).

    SIGINT and SIGTERM are noted from the start: before the run exists they stop the
    preparation at its next step; once it runs they cancel it (raising CycleStopped).
    """
    with _stop_signals() as received:
        return _run_annual_cycle(home, display or _Silent(), received, draft)


def _not_stopped(received: list[str], stage: str) -> None:
    """Raise CycleStopped if a signal came while `stage` (no run started yet)."""
    if received:
        raise CycleStopped(received[0], stage, None, "the current release is unchanged")


def _run_annual_cycle(
    home: Home, display: CycleDisplay, received: list[str], draft: bool = False
) -> CycleOutcome:
    from dagster._core.utils import make_new_run_id

    from orchestration.dbt_manifest import ensure_manifest
    from orchestration.defs.dbt import UNCHANGED_TAG, WARM_UP_TAG
    from orchestration.defs.ingestion import INGESTED
    from orchestration.defs.jobs import ANNUAL_CYCLE, DRAFT_RELEASE
    from orchestration.defs.publish import RELEASE
    from orchestration.instance import open_instance

    with display.status("Preparing the dbt manifest and loading the Dagster definitions"):
        ensure_manifest()
        from orchestration.definitions import defs
        from orchestration.defs.partitions import (
            PARTICIPANTS,
            add_inbox_participants,
            every_partition_tags,
            pending_partition_tags,
            scan_inbox,
        )

        job = defs.resolve_job_def(DRAFT_RELEASE if draft else ANNUAL_CYCLE)
    instance = open_instance()
    # A run killed earlier would hold the warehouse for good: fail it and free its slot first.
    from orchestration.dead_runs import process_tags, reclaim_dead_runs

    _not_stopped(received, "loading the definitions")
    for dead in reclaim_dead_runs(instance):
        display.note(f"Reclaimed {dead.describe()}")
    _not_stopped(received, "reclaiming dead runs")
    with display.status("Finding the partition (year × participant) of every file in the inbox"):
        scan = scan_inbox(home)
        new_participants = add_inbox_participants(instance, home, scan)
    if new_participants:
        display.note(f"New participant partitions: {', '.join(new_participants)}")
    _not_stopped(received, "finding the partitions")
    if every_partition_tags(instance) is None:
        return CycleOutcome(
            None,
            False,
            failure=(
                f"No returns: the inbox ({home.inbox}) is empty and no return was ever received. "
                "Put returns in inbox/<year>/ (or run `mhbench sample`) first."
            ),
        )
    # Only the partitions with a file not registered yet are ingested; with none, the run
    # leaves ingestion out (the dbt step still decides whether anything changed).
    pending = {partition for partition, registered in scan.values() if not registered}
    if pending:
        partitions = pending_partition_tags(
            instance.get_dynamic_partitions(PARTICIPANTS.name), pending
        )
    else:
        partitions = {}
        job = job.get_subset(asset_selection=set(job.asset_layer.selected_asset_keys) - INGESTED)
    run_id = make_new_run_id()
    log_path = home.root / "logs" / f"run-{run_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # dbt's own log lines go to the run log (and to the step logs in the UI), not the terminal.
    # The run executes in a thread of its own, so that this (main) thread keeps the signals:
    # Ctrl-C or SIGTERM cancels the run at any point, even while it waits for the warehouse.
    watch = _RunWatch(instance, run_id)
    current_before = _current_release(home)
    outcome: dict = {}

    def execute() -> None:
        try:
            outcome["result"] = job.execute_in_process(
                run_config=QUIET_RUN_CONFIG,
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                # the run executes in this process: the dbt step imports great_expectations
                # in a thread while dbt builds, if it builds (WARM_UP_TAG)
                tags={**job.tags, **partitions, **process_tags(run_id), WARM_UP_TAG: "1"},
            )
        except BaseException as exc:  # reported below, in the main thread
            outcome["error"] = exc

    # Dagster warns that a skipped gate check "emitted no result" when the dbt step built
    # nothing (unchanged): the release is skipped too, and it refuses on its own unless every
    # gate check passed in the run, so the warning only misleads here.
    logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_progress,
        args=(watch, len(job.graph.node_defs), display, stop),
        daemon=True,
    )
    worker = threading.Thread(target=execute, name=f"run-{run_id[:8]}", daemon=True)
    try:
        with log_path.open("w") as log, contextlib.redirect_stdout(log):
            watcher.start()
            worker.start()
            told, next_look = None, 0.0
            while worker.is_alive():
                worker.join(0.2)
                if received:
                    stage = watch.stage if not told else "waiting for the warehouse"
                    _cancel(instance, run_id, received[0], stage)
                    now = _current_release(home)
                    current = (
                        "the current release is unchanged"
                        if now == current_before
                        else f"releases/current is the complete release {now}"
                    )
                    raise CycleStopped(received[0], stage, run_id, current)
                # asked only while no step runs (the pool's state is read from the instance:
                # asked once a second through a whole run, it was read for nothing)
                if watch.idle_for() > WAIT_NOTICE_SECONDS and next_look <= time.monotonic():
                    next_look = time.monotonic() + 1.0
                    try:
                        holders = watch.waiting_for()
                    except Exception:  # the instance is busy: say it at the next look
                        holders = []
                    key = tuple(h.run_id for h in holders)
                    if holders and key != told:
                        display.note(_waiting_note(holders))
                    told = key or None
    finally:
        stop.set()
        watcher.join(1)
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]

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
    run = instance.get_run_by_id(run_id)
    unchanged_since = run.tags.get(UNCHANGED_TAG) if run else None
    return CycleOutcome(
        run_id,
        result.success and (release_path is not None or unchanged_since is not None),
        checks,
        release_path,
        failure,
        log_path,
        submissions,
        submissions_note,
        kind="draft" if draft else "final",
        unchanged_since=unchanged_since,
    )
