"""Whether a process lives, from /proc (Linux) or the pid alone: for the reclaim of dead runs
(orchestration/dead_runs.py) and the dbt worker a dead CLI left (orchestration/dbt_worker.py);
and stopping a child process. Light to import."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), None if gone or a
    zombie (dead, waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields


def process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot); None if it is gone or a zombie."""
    fields = proc_stat(pid)
    return fields[19] if fields else None


def process_alive(pid: int, started: str | None) -> bool:
    """Whether process `pid` lives and is the same process (same start time) as recorded."""
    now_started = process_started(pid)
    if now_started is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return started is None  # no /proc: trust the pid alone
    return started is None or now_started == started


def stop_child(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM a child process still running, SIGKILL it after `grace_seconds`; reaped."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
