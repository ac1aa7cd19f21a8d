"""Runs whose process died: found, marked failed, and their warehouse slot freed.

A run that is SIGKILLed, runs out of memory or is lost to a reboot stays STARTED in the
Dagster instance and keeps its `duckdb_writer` slot, so every later run would wait for
it forever. Every run records where it executes, in run tags: the host, the pid and the
pid's start time (so a pid reused by another process is not mistaken for the run). A
run of this host whose process is gone is marked failed with the reason, which also
triggers the run failure sensor (logs/run-failures.log), and its slots are freed. A run
on another host is never touched: only its own machine can tell whether it lives.

`mhbench run` reclaims before it waits on the pool; under `dagster dev` the
`dead_run_sensor` does the same on the daemon's host every 30 seconds. Slots kept by runs
that have already ended are freed too (Dagster's daemon does that after
`free_slots_after_run_end_seconds`; the CLI has no daemon).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.resources import DUCKDB_WRITER_POOL
from runtime.processes import proc_stat, process_alive, process_started

if TYPE_CHECKING:
    from dagster._utils.concurrency import ConcurrencyKeyInfo

HOST_TAG = "mhbench/host"
PID_TAG = "mhbench/pid"
PID_STARTED_TAG = "mhbench/pid_started"
# The run the pid tags were written for: a re-executed or retried run copies its parent's
# tags, and the parent's dead pid must not make the new run look dead.
PID_RUN_TAG = "mhbench/pid_run_id"
# A child process of the run that outlives it if the run is killed (the dbt subprocess).
CHILD_PID_TAG = "mhbench/child_pid"
CHILD_STARTED_TAG = "mhbench/child_pid_started"

# What a run is doing while its process lives (CANCELING: a stop was asked, not yet done).
LIVE_STATUSES = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def host_name() -> str:
    return socket.gethostname()


def _pid_tags(pid: int, pid_tag: str, started_tag: str) -> dict[str, str]:
    """`pid` and, when it can be read, its start time, under the two tag names."""
    tags = {pid_tag: str(pid)}
    started = process_started(pid)
    if started is not None:
        tags[started_tag] = started
    return tags


def process_tags(run_id: str, pid: int | None = None) -> dict[str, str]:
    """Run tags naming this process (or `pid`) on this host as the one executing `run_id`."""
    pid = os.getpid() if pid is None else pid
    return {
        HOST_TAG: host_name(),
        PID_RUN_TAG: run_id,
        **_pid_tags(pid, PID_TAG, PID_STARTED_TAG),
    }


def child_processes(pid: int) -> list[int]:
    """The live child processes of process `pid` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(entry.name)
            if fields and int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def command_line(pid: int) -> str:
    """The command line of process `pid`, words joined by spaces ('' if it is gone)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return ""
    return command.decode(errors="replace").strip()


def child_process_tags(pid: int) -> dict[str, str]:
    """Run tags naming a child process of the run (see `stop_orphan`)."""
    return _pid_tags(pid, CHILD_PID_TAG, CHILD_STARTED_TAG)


def stop_processes(processes: dict[int, str], grace_seconds: float) -> None:
    """SIGTERM the processes (pid -> start time), then SIGKILL those left after the grace.

    A process counts as gone once its pid no longer has that start time, so a pid reused
    meanwhile is never signalled again.
    """
    left = dict(processes)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_seconds
        while left and time.monotonic() < deadline:
            left = {
                pid: started for pid, started in left.items() if process_started(pid) == started
            }
            if left:
                time.sleep(0.1)
        if not left:
            return


def stop_children(grace_seconds: float) -> None:
    """Stop this process's child processes (the dbt subprocess): SIGTERM, then SIGKILL.

    Dagster's own log tails (`tail -F` under watch_orphans, which carry the step's compute
    logs and the terminal's output) are left alone: they end when this process does.
    """
    children = {}
    for pid in child_processes(os.getpid()):
        command, started = command_line(pid), process_started(pid)
        if started and not command.startswith("tail ") and "watch_orphans" not in command:
            children[pid] = started
    stop_processes(children, grace_seconds)


def dbt_target_name(run_id: str) -> str:
    """The start of the name of the dbt target folder of a run's dbt step (in
    dbt_project/target): dbt carries it in its environment (DBT_TARGET_PATH), so a run's dbt
    can be found by it (`run_processes`)."""
    return f"run-{run_id}-"


def run_processes(run_id: str) -> dict[int, str]:
    """The processes (pid -> start time) working in a target folder of run `run_id`: its dbt.

    Found in /proc by their DBT_TARGET_PATH, so that a run killed between starting dbt and
    recording its pid in the run's tags (`child_process_tags`) leaves no orphan unknown."""
    marker = f"/{dbt_target_name(run_id)}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        for variable in environ.split(b"\0"):
            if variable.startswith(b"DBT_TARGET_PATH=") and marker in variable:
                started = process_started(int(entry.name))
                if started:
                    found[int(entry.name)] = started
                break
    return found


def stop_orphan(run: dg.DagsterRun, grace_seconds: float = 5.0) -> int | None:
    """Stop the child process a dead run left running (dbt holds the warehouse lock); its pid.

    Only the very processes recorded (same pid and start time) or found working for the run
    (`run_processes`) are signalled.
    """
    processes = run_processes(run.run_id)
    pid_text = run.tags.get(CHILD_PID_TAG, "")
    started = run.tags.get(CHILD_STARTED_TAG)
    if pid_text.isdigit() and started is not None and process_started(int(pid_text)) == started:
        processes[int(pid_text)] = started
    if not processes:
        return None
    stop_processes(processes, grace_seconds)
    return int(pid_text) if pid_text.isdigit() and int(pid_text) in processes else min(processes)


@dataclass(frozen=True)
class Reclaimed:
    run_id: str
    job_name: str
    reason: str
    freed_slots: int

    def describe(self) -> str:
        slots = f"; {self.freed_slots} warehouse slot(s) freed" if self.freed_slots else ""
        return f"run {self.run_id[:8]} ({self.job_name}) marked failed: {self.reason}{slots}"


def dead_reason(run: dg.DagsterRun, host: str) -> str | None:
    """Why `run` is dead (its process on this host is gone), or None if it lives or is unknown."""
    tags = run.tags
    if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
        return None
    if tags.get(PID_RUN_TAG) != run.run_id:  # copied from a parent run: says nothing of this one
        return None
    pid = int(tags[PID_TAG])
    if process_alive(pid, tags.get(PID_STARTED_TAG)):
        return None
    return f"process {pid} on host {host} is gone: killed or crashed"


def reclaim_dead_runs(instance: dg.DagsterInstance) -> list[Reclaimed]:
    """Mark failed every run of this host whose process is gone, and free its slots.

    Also frees the slots still held by runs that have ended.
    """
    host = host_name()
    reclaimed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=LIVE_STATUSES)):
        reason = dead_reason(run, host)
        if reason is None:
            continue
        stop_orphan(run)
        instance.report_run_failed(run, f"{reason}. Marked failed by mhbench.")
        reclaimed.append(Reclaimed(run.run_id, run.job_name, reason, free_slots(instance, run)))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        if holders:
            for run in instance.get_runs(filters=dg.RunsFilter(run_ids=list(holders))):
                if run.is_finished:
                    free_slots(instance, run)
    return reclaimed


def free_slots(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int:
    """Free every concurrency slot `run` holds or waits for; the number of warehouse slots."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    held = storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots
    count = sum(1 for slot in held if slot.run_id == run.run_id)
    storage.free_concurrency_slots_for_run(run.run_id)
    return count


@dataclass(frozen=True)
class SlotHolder:
    run_id: str
    job_name: str
    started: float | None  # unix time


def warehouse_holders(
    instance: dg.DagsterInstance, run_id: str, info: ConcurrencyKeyInfo | None = None
) -> list[SlotHolder]:
    """The runs other than `run_id` holding the warehouse (a slot of the writer pool).

    `info` is the pool's state when the caller has just read it.
    """
    info = info or instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL)
    others = sorted({slot.run_id for slot in info.claimed_slots} - {run_id})
    holders = []
    for other in others:
        record = instance.get_run_record_by_id(other)
        if record is None:
            holders.append(SlotHolder(other, "?", None))
        else:
            holders.append(SlotHolder(other, record.dagster_run.job_name, record.start_time))
    return holders


class ReclaimRefused(Exception):
    """A run asked to be reclaimed by hand is alive, ended, or unknown: nothing was changed."""


def reclaim_by_hand(instance: dg.DagsterInstance, run_ref: str, by: str) -> Reclaimed:
    """Mark failed and free the run `run_ref` (an id or its first 8+ characters), by hand.

    For a run the automatic reclaim cannot judge: one started by a version that did not tag
    its process, or one whose host is gone for good. Refused for a run whose process is
    known to live on this host, and for a run that has ended.
    """
    matches = [
        run
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=LIVE_STATUSES))
        if run.run_id.startswith(run_ref)
    ]
    if not matches or len(run_ref) < 8:
        raise ReclaimRefused(
            f"no starting, started or canceling run {run_ref!r} (give at least 8 characters "
            "of its id; see the Runs page of the UI)"
        )
    if len(matches) > 1:
        raise ReclaimRefused(f"{run_ref!r} names {len(matches)} runs: give more of the id")
    [run] = matches
    host, pid = run.tags.get(HOST_TAG), run.tags.get(PID_TAG, "")
    own_tags = host == host_name() and pid.isdigit() and run.tags.get(PID_RUN_TAG) == run.run_id
    if own_tags and process_alive(int(pid), run.tags.get(PID_STARTED_TAG)):
        raise ReclaimRefused(
            f"run {run.run_id[:8]} is alive: process {pid} on this host executes it. "
            "Stop it (Ctrl-C, or Terminate in the UI) instead"
        )
    stop_orphan(run)
    where = f"process {pid} on host {host}" if host else "a process of an older version"
    reason = f"reclaimed by hand by {by}: {where} no longer executes it"
    instance.report_run_failed(run, f"{reason}. Marked failed by mhbench.")
    return Reclaimed(run.run_id, run.job_name, reason, free_slots(instance, run))
